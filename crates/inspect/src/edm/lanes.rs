//! Tokens of content read from byte-class masks of 64-byte blocks: bit `j` of a mask answers
//! for byte `j`, a token's start and end are found with `trailing_zeros`, and its letters and
//! digits are counted from the masks. The tokens are those of [`super::token`]; reading them
//! a byte at a time (a table load and a branch per byte, where a token ends being what a
//! branch predictor cannot guess) was a quarter of the EDM rule's time on customer-like text.
//!
//! On x86-64 the masks are SSE2 compares (through `safe_arch`, as the workspace denies
//! `unsafe`); elsewhere a table lookup per byte.

use super::token::{CLASS, WORD};
#[cfg(any(test, not(target_arch = "x86_64")))]
use super::token::{CONNECTOR, DIGIT, HIGH};

/// Bytes of one block of masks: one bit per byte in a `u64`.
const LANES: usize = 64;

/// The class masks of one block.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Masks {
    /// Word bytes: ASCII letters and digits, and bytes from 0x80 up.
    word: u64,
    /// Connectors (`.` `-` `_` `@` `+` `'` `/`).
    conn: u64,
    /// ASCII digits.
    digit: u64,
    /// ASCII letters and digits.
    alnum: u64,
    /// Bytes from 0x80 up.
    high: u64,
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn masks(block: &[u8; LANES]) -> Masks {
    use crate::sse2::{in_range, splat};
    use safe_arch::{bitor_m128i, cmp_eq_mask_i8_m128i, load_unaligned_m128i, move_mask_i8_m128i};
    let mut m = Masks::default();
    for (k, lane) in block.as_chunks::<16>().0.iter().enumerate() {
        let v = load_unaligned_m128i(lane);
        let digit = in_range(v, b'0', 9);
        let alnum = bitor_m128i(bitor_m128i(digit, in_range(v, b'A', 25)), in_range(v, b'a', 25));
        // `-` `.` `/` are adjacent (0x2d-0x2f).
        let conn = bitor_m128i(
            bitor_m128i(in_range(v, b'-', 2), cmp_eq_mask_i8_m128i(v, splat(b'_'))),
            bitor_m128i(
                cmp_eq_mask_i8_m128i(v, splat(b'@')),
                bitor_m128i(cmp_eq_mask_i8_m128i(v, splat(b'+')), cmp_eq_mask_i8_m128i(v, splat(b'\''))),
            ),
        );
        let bits = |x| u64::from(move_mask_i8_m128i(x) as u16) << (16 * k);
        m.digit |= bits(digit);
        m.alnum |= bits(alnum);
        m.conn |= bits(conn);
        m.high |= bits(v);
    }
    m.word = m.alnum | m.high;
    m
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn masks(block: &[u8; LANES]) -> Masks {
    let mut m = Masks::default();
    for (j, &b) in block.iter().enumerate() {
        let c = CLASS[usize::from(b)];
        m.word |= u64::from(c & WORD != 0) << j;
        m.conn |= u64::from(c & CONNECTOR != 0) << j;
        m.digit |= u64::from(c & DIGIT != 0) << j;
        m.alnum |= u64::from(c & super::token::ALNUM != 0) << j;
        m.high |= u64::from(c & HIGH != 0) << j;
    }
    m
}

/// The set bits of `x` within `range`, whose popcount is `len`: most tokens are all letters
/// and digits or hold no digit, so the popcount (a dozen instructions on baseline x86-64,
/// which has no POPCNT) is left for the others.
#[inline(always)]
fn ones(x: u64, range: u64, len: usize) -> usize {
    let x = x & range;
    if x == 0 {
        0
    } else if x == range {
        len
    } else {
        x.count_ones() as usize
    }
}

/// Calls `push(start, end, digits, alnum, ascii)` for each token of `buf` starting in
/// `from..to`, in order, reading `buf` as if it began at `from` (a token that started before
/// is the caller's to skip). A token may end past `to`; it ends at `buf.len()` at the latest.
#[inline]
pub(super) fn walk(
    buf: &[u8],
    from: usize,
    to: usize,
    mut push: impl FnMut(usize, usize, usize, usize, bool),
) {
    let n = buf.len();
    let mut base = from;
    // Bit 0: whether the byte before `base` is a word byte, is in a token (none at `from`).
    let (mut prev_word, mut prev_tok) = (0u64, 0u64);
    // The token still open at the end of the last block: start, digits, alnum, high bytes.
    let mut open: Option<(usize, usize, usize, bool)> = None;
    while base < n && (base < to || open.is_some()) {
        let m = match buf.get(base..base + LANES).and_then(|b| <&[u8; LANES]>::try_from(b).ok()) {
            Some(block) => masks(block),
            None => {
                let mut block = [0u8; LANES];
                let tail = &buf[base..];
                block[..tail.len()].copy_from_slice(tail);
                masks(&block)
            }
        };
        let next_word = buf.get(base + LANES).map_or(0, |&b| u64::from(CLASS[usize::from(b)] & WORD != 0));
        let w = m.word;
        // A connector is in a token between two word bytes.
        let tok = w | (m.conn & ((w << 1) | prev_word) & ((w >> 1) | (next_word << 63)));
        let not_tok = !tok;
        let mut starts = tok & !((tok << 1) | prev_tok);
        if let Some((s, digits, alnum, high)) = open.take() {
            let e = not_tok.trailing_zeros() as usize;
            let range = if e == LANES { !0 } else { (1u64 << e) - 1 };
            let digits = digits + ones(m.digit, range, e);
            let alnum = alnum + ones(m.alnum, range, e);
            let high = high || m.high & range != 0;
            if e == LANES {
                open = Some((s, digits, alnum, high));
            } else {
                push(s, base + e, digits, alnum, !high);
            }
        }
        while starts != 0 {
            let k = starts.trailing_zeros() as usize;
            if base + k >= to {
                return;
            }
            starts &= starts - 1;
            let e = (not_tok & (!0u64 << k)).trailing_zeros() as usize;
            let range = (!0u64 << k) & if e == LANES { !0 } else { (1u64 << e) - 1 };
            let digits = ones(m.digit, range, e - k);
            let alnum = ones(m.alnum, range, e - k);
            let high = m.high & range != 0;
            if e == LANES {
                open = Some((base + k, digits, alnum, high));
            } else {
                push(base + k, base + e, digits, alnum, !high);
            }
        }
        prev_word = w >> 63;
        prev_tok = tok >> 63;
        base += LANES;
    }
    if let Some((s, digits, alnum, high)) = open {
        push(s, n, digits, alnum, !high);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_match_the_byte_classes() {
        let mut block = [0u8; LANES];
        for start in (0..256).step_by(LANES) {
            for (j, b) in block.iter_mut().enumerate() {
                *b = (start + j) as u8;
            }
            let m = masks(&block);
            for (j, &b) in block.iter().enumerate() {
                let c = CLASS[usize::from(b)];
                let bit = |x: u64| x >> j & 1 == 1;
                assert_eq!(bit(m.word), c & WORD != 0, "byte {b:#x}");
                assert_eq!(bit(m.conn), c & CONNECTOR != 0, "byte {b:#x}");
                assert_eq!(bit(m.digit), c & DIGIT != 0, "byte {b:#x}");
                assert_eq!(bit(m.alnum), c & super::super::token::ALNUM != 0, "byte {b:#x}");
                assert_eq!(bit(m.high), c & HIGH != 0, "byte {b:#x}");
            }
        }
    }
}
