//! Byte classes for the digit scan, as bit masks over a 64-byte block: bit `j` answers for
//! byte `j`. Number-dense text has a run of digits every few bytes, so the scan judges a
//! block's runs by these masks all at once rather than byte by byte.
//!
//! On x86-64 each class is four SSE2 compares and `movemask`s (through `safe_arch`, as the
//! workspace denies `unsafe`): 4 MiB of ledger CSV took 10 M instructions to build its digit
//! masks eight bytes a step (SWAR) and 7 M to look up the byte before each refused run.
//! Elsewhere the same masks come from SWAR and a table.

/// Classes of the byte before a run, from one table load ([`CLASS`]).
pub(super) const WORD: u8 = 1;
/// A letter of either case: IBAN country codes are written in lower case too.
pub(super) const LETTER: u8 = 2;
pub(super) const PLUS: u8 = 4;
pub(super) const DOT: u8 = 8;
pub(super) const COMMA: u8 = 16;

/// `WORD` is an ASCII letter, digit or `_`, as the detectors' word boundary.
pub(super) const CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_alphanumeric() || c == b'_' {
            t[b] |= WORD;
        }
        if c.is_ascii_alphabetic() {
            t[b] |= LETTER;
        }
        if c == b'+' {
            t[b] |= PLUS;
        }
        if c == b'.' {
            t[b] |= DOT;
        }
        if c == b',' {
            t[b] |= COMMA;
        }
        b += 1;
    }
    t
};

/// The classes a run is judged by (the byte before it, the byte after it), for every byte
/// of a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct BlockClasses {
    /// ASCII letters, digits and `_`.
    pub word: u64,
    pub letter: u64,
    pub plus: u64,
    pub space: u64,
    pub dash: u64,
    pub dot: u64,
    pub close_paren: u64,
    /// Tab, line feed, vertical tab, form feed and carriage return (one range compare; the
    /// bulk test may keep a run too many, never one too few).
    pub breaks: u64,
}

impl BlockClasses {
    fn empty(digits: u64) -> Self {
        Self { word: digits, letter: 0, plus: 0, space: 0, dash: 0, dot: 0, close_paren: 0, breaks: 0 }
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// Bit `j` set when byte `j` of the little-endian word is an ASCII digit (SWAR: exact per
/// byte, no carries between bytes).
#[inline]
pub(super) fn digit_mask8(x: u64) -> u64 {
    let low = x & (ONES * 127);
    let t = (ONES * (127 + 0x3A) - low) & !x & (low + ONES * (127 - 0x2F)) & HIGH;
    // Gather the eight flag bits into one byte.
    ((t >> 7).wrapping_mul(0x0102_0408_1020_4080)) >> 56
}

#[cfg(target_arch = "x86_64")]
mod sse2 {
    use safe_arch::{
        bitor_m128i, cmp_eq_mask_i8_m128i, load_unaligned_m128i, m128i, min_u8_m128i, move_mask_i8_m128i,
        set_splat_i8_m128i, sub_i8_m128i,
    };

    use super::BlockClasses;

    fn splat(b: u8) -> m128i {
        set_splat_i8_m128i(i8::from_ne_bytes([b]))
    }

    /// Lanes holding a byte in `lo..=lo + span`, as all ones.
    #[inline(always)]
    fn in_range(v: m128i, lo: u8, span: u8) -> m128i {
        let x = sub_i8_m128i(v, splat(lo));
        cmp_eq_mask_i8_m128i(min_u8_m128i(x, splat(span)), x)
    }

    #[inline(always)]
    fn bits(v: m128i) -> u64 {
        // The sixteen lane signs are the low 16 bits.
        u64::from(move_mask_i8_m128i(v) as u16)
    }

    #[inline(always)]
    fn lanes(block: &[u8; 64]) -> impl Iterator<Item = m128i> + '_ {
        block.as_chunks::<16>().0.iter().map(load_unaligned_m128i)
    }

    #[inline(always)]
    pub fn digits(block: &[u8; 64]) -> u64 {
        lanes(block).enumerate().fold(0, |m, (k, v)| m | bits(in_range(v, b'0', 9)) << (16 * k))
    }

    #[inline(always)]
    fn is(v: m128i, b: u8) -> m128i {
        cmp_eq_mask_i8_m128i(v, splat(b))
    }

    #[inline(always)]
    pub fn classes(block: &[u8; 64], digits: u64) -> BlockClasses {
        let mut c = BlockClasses::empty(digits);
        for (k, v) in lanes(block).enumerate() {
            let at = |mask: m128i| bits(mask) << (16 * k);
            // Setting bit 5 folds `A-Z` onto `a-z` and no other byte into them.
            let letter = in_range(bitor_m128i(v, splat(0x20)), b'a', 25);
            c.word |= at(bitor_m128i(letter, is(v, b'_')));
            c.letter |= at(letter);
            c.plus |= at(is(v, b'+'));
            c.space |= at(is(v, b' '));
            c.dash |= at(is(v, b'-'));
            c.dot |= at(is(v, b'.'));
            c.close_paren |= at(is(v, b')'));
            c.breaks |= at(in_range(v, b'\t', 4));
        }
        c
    }
}

/// Bit `j` set when byte `j` of the block is an ASCII digit.
#[inline(always)]
pub(super) fn digits(block: &[u8; 64]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        sse2::digits(block)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        block
            .as_chunks::<8>()
            .0
            .iter()
            .enumerate()
            .fold(0, |m, (k, w)| m | digit_mask8(u64::from_le_bytes(*w)) << (8 * k))
    }
}

/// The block's bytes of each class; `digits` is its [`digits`] mask.
#[inline(always)]
pub(super) fn classes(block: &[u8; 64], digits: u64) -> BlockClasses {
    #[cfg(target_arch = "x86_64")]
    {
        sse2::classes(block, digits)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        table_classes(block, digits)
    }
}

/// [`classes`] from the table, a byte at a time: the portable reading, and the reference
/// the vector one is tested against.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn table_classes(block: &[u8; 64], digits: u64) -> BlockClasses {
    let mut c = BlockClasses::empty(digits);
    for (j, &b) in block.iter().enumerate() {
        let class = CLASS[usize::from(b)];
        c.word |= u64::from(class & WORD != 0) << j;
        c.letter |= u64::from(class & LETTER != 0) << j;
        c.plus |= u64::from(class & PLUS != 0) << j;
        c.space |= u64::from(b == b' ') << j;
        c.dash |= u64::from(b == b'-') << j;
        c.dot |= u64::from(b == b'.') << j;
        c.close_paren |= u64::from(b == b')') << j;
        c.breaks |= u64::from(matches!(b, b'\t'..=b'\r')) << j;
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_of(seed: u64) -> [u8; 64] {
        let mut b = [0u8; 64];
        let mut x = seed;
        for byte in &mut b {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            *byte = (x >> 56) as u8;
        }
        b
    }

    #[test]
    fn the_masks_agree_with_the_table_for_every_byte_value() {
        let mut blocks: Vec<[u8; 64]> = (0..4u8).map(|k| std::array::from_fn(|j| k * 64 + j as u8)).collect();
        blocks.extend((0..200).map(block_of));
        for block in &blocks {
            let want_digits =
                block.iter().enumerate().fold(0u64, |m, (j, b)| m | u64::from(b.is_ascii_digit()) << j);
            assert_eq!(digits(block), want_digits, "{block:?}");
            assert_eq!(classes(block, want_digits), table_classes(block, want_digits), "{block:?}");
        }
    }
}
