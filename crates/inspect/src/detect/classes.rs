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

/// `WORD` is an ASCII letter or digit, as the digit scan's word boundary (`_` is none:
/// `card_4111111111111111` is a name holding a card).
pub(super) const CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_alphanumeric() {
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

/// The classes a run is judged by (the bytes before it, the byte after it), for every byte
/// of a block. The bulk test may keep a run too many, never one too few: `sep` and `blank`
/// take in every line break byte (tab to carriage return) in one range compare.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct BlockClasses {
    /// ASCII letters and `_` (a digit never comes before a run's first digit).
    pub word: u64,
    pub letter: u64,
    pub plus: u64,
    /// What can join groups of digits: a space, dash, dot, tab or line break.
    pub sep: u64,
    /// What [`separator_at`](super::numeric) reads as a one-byte separator: a space, dash,
    /// dot or tab.
    pub join: u64,
    /// A space, tab or line break.
    pub blank: u64,
    pub close_paren: u64,
}

impl BlockClasses {
    /// The classes of bytes `n..` of the block, as bits `0..`: what the next block, `n`
    /// bytes on, knows of its first bytes.
    pub fn shifted(self, n: u32) -> Self {
        Self {
            word: self.word >> n,
            letter: self.letter >> n,
            plus: self.plus >> n,
            sep: self.sep >> n,
            join: self.join >> n,
            blank: self.blank >> n,
            close_paren: self.close_paren >> n,
        }
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
    use crate::sse2::{in_range, splat};
    use safe_arch::{bitor_m128i, cmp_eq_mask_i8_m128i, load_unaligned_m128i, m128i, move_mask_i8_m128i};

    use super::BlockClasses;

    #[inline(always)]
    fn bits(v: m128i) -> u64 {
        // The sixteen lane signs are the low 16 bits.
        u64::from(move_mask_i8_m128i(v) as u16)
    }

    #[inline(always)]
    fn lanes(block: &[u8; 64]) -> impl Iterator<Item = m128i> + '_ {
        block.as_chunks::<16>().0.iter().map(load_unaligned_m128i)
    }

    /// The digits of lanes `FIRST..4` (bytes `16 * FIRST..64`).
    #[inline(always)]
    pub fn digits<const FIRST: usize>(block: &[u8; 64]) -> u64 {
        lanes(block).enumerate().skip(FIRST).fold(0, |m, (k, v)| m | bits(in_range(v, b'0', 9)) << (16 * k))
    }

    #[inline(always)]
    fn is(v: m128i, b: u8) -> m128i {
        cmp_eq_mask_i8_m128i(v, splat(b))
    }

    /// Bit `j` (`j < 48`): `buf[at + j - 1] == buf[at + j + 4]`.
    #[inline(always)]
    pub fn same_around_four(before: &[u8; 48], after: &[u8; 48]) -> u64 {
        let (a, b) = (before.as_chunks::<16>().0, after.as_chunks::<16>().0);
        a.iter().zip(b).enumerate().fold(0, |m, (k, (x, y))| {
            m | bits(cmp_eq_mask_i8_m128i(load_unaligned_m128i(x), load_unaligned_m128i(y))) << (16 * k)
        })
    }

    /// The classes of lanes `FIRST..4`, added to `c`.
    #[inline(always)]
    pub fn classes<const FIRST: usize>(block: &[u8; 64], mut c: BlockClasses) -> BlockClasses {
        for (k, v) in lanes(block).enumerate().skip(FIRST) {
            let at = |mask: m128i| bits(mask) << (16 * k);
            // Setting bit 5 folds `A-Z` onto `a-z` and no other byte into them.
            let letter = in_range(bitor_m128i(v, splat(0x20)), b'a', 25);
            let breaks = in_range(v, b'\t', 4);
            let blank = bitor_m128i(breaks, is(v, b' '));
            c.word |= at(letter);
            c.letter |= at(letter);
            c.plus |= at(is(v, b'+'));
            let join =
                bitor_m128i(bitor_m128i(is(v, b' '), is(v, b'\t')), bitor_m128i(is(v, b'-'), is(v, b'.')));
            c.sep |= at(bitor_m128i(blank, join));
            c.join |= at(join);
            c.blank |= at(blank);
            c.close_paren |= at(is(v, b')'));
        }
        c
    }
}

/// Bit `j` set when byte `j` of the block is an ASCII digit, for the bytes of lanes
/// `FIRST..4` (`16 * FIRST..64`; the others are 0).
#[inline(always)]
pub(super) fn digits<const FIRST: usize>(block: &[u8; 64]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        sse2::digits::<FIRST>(block)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        block
            .as_chunks::<8>()
            .0
            .iter()
            .enumerate()
            .skip(2 * FIRST)
            .fold(0, |m, (k, w)| m | digit_mask8(u64::from_le_bytes(*w)) << (8 * k))
    }
}

/// The classes of the block's bytes in lanes `FIRST..4` (`16 * FIRST..64`), added to
/// `known` (the classes of the bytes before them, from the block before).
#[inline(always)]
pub(super) fn classes<const FIRST: usize>(block: &[u8; 64], known: BlockClasses) -> BlockClasses {
    #[cfg(target_arch = "x86_64")]
    {
        sse2::classes::<FIRST>(block, known)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        table_classes(block, 16 * FIRST, known)
    }
}

/// Bit `j` (`j < 48`) set when the bytes on either side of a group of four digits at
/// `at + j` are the same (`buf[at + j - 1] == buf[at + j + 4]`): a group that continues one
/// before it with the separator after it. 0 without the 52 bytes from `at - 1`.
#[inline(always)]
pub(super) fn same_around_four(buf: &[u8], at: usize) -> u64 {
    let before =
        at.checked_sub(1).and_then(|s| buf.get(s..s + 48)).and_then(|s| <&[u8; 48]>::try_from(s).ok());
    let after = buf.get(at + 4..at + 52).and_then(|s| <&[u8; 48]>::try_from(s).ok());
    let (Some(before), Some(after)) = (before, after) else {
        return 0;
    };
    #[cfg(target_arch = "x86_64")]
    {
        sse2::same_around_four(before, after)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        before.iter().zip(after).enumerate().fold(0, |m, (j, (x, y))| m | u64::from(x == y) << j)
    }
}

/// [`classes`] from the table, a byte at a time from `first`: the portable reading, and
/// the reference the vector one is tested against.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn table_classes(block: &[u8; 64], first: usize, mut c: BlockClasses) -> BlockClasses {
    for (j, &b) in block.iter().enumerate().skip(first) {
        let class = CLASS[usize::from(b)];
        let breaks = matches!(b, b'\t'..=b'\r');
        c.word |= u64::from(class & WORD != 0 && !b.is_ascii_digit()) << j;
        c.letter |= u64::from(class & LETTER != 0) << j;
        c.plus |= u64::from(class & PLUS != 0) << j;
        c.sep |= u64::from(breaks || matches!(b, b' ' | b'-' | b'.')) << j;
        c.join |= u64::from(matches!(b, b' ' | b'-' | b'.' | b'\t')) << j;
        c.blank |= u64::from(breaks || b == b' ') << j;
        c.close_paren |= u64::from(b == b')') << j;
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

    fn first_lane(c: BlockClasses) -> BlockClasses {
        let low = |x: u64| x & 0xFFFF;
        BlockClasses {
            word: low(c.word),
            letter: low(c.letter),
            plus: low(c.plus),
            sep: low(c.sep),
            join: low(c.join),
            blank: low(c.blank),
            close_paren: low(c.close_paren),
        }
    }

    #[test]
    fn the_masks_agree_with_the_table_for_every_byte_value() {
        let mut blocks: Vec<[u8; 64]> = (0..4u8).map(|k| std::array::from_fn(|j| k * 64 + j as u8)).collect();
        blocks.extend((0..200).map(block_of));
        for block in &blocks {
            let want_digits =
                block.iter().enumerate().fold(0u64, |m, (j, b)| m | u64::from(b.is_ascii_digit()) << j);
            assert_eq!(digits::<0>(block), want_digits, "{block:?}");
            assert_eq!(digits::<1>(block), want_digits & !0xFFFF, "{block:?}");
            let all = classes::<0>(block, BlockClasses::default());
            assert_eq!(all, table_classes(block, 0, BlockClasses::default()), "{block:?}");
            // The last three lanes, the first lane's classes known from elsewhere.
            let carried = first_lane(all);
            assert_eq!(classes::<1>(block, carried), all, "{block:?}");
        }
        // The bytes around a group of four, against the byte loop.
        let bytes: Vec<u8> = blocks.iter().flatten().map(|b| b % 4).collect();
        for at in [0, 1, 17, 100, bytes.len() - 52, bytes.len() - 51] {
            let want = if at == 0 || at + 52 > bytes.len() {
                0
            } else {
                (0..48).fold(0u64, |m, j| m | u64::from(bytes[at + j - 1] == bytes[at + j + 4]) << j)
            };
            assert_eq!(same_around_four(&bytes, at), want, "{at}");
        }
        // A block 48 bytes on knows its first lane from the one before.
        for pair in blocks.windows(2) {
            let bytes: Vec<u8> = pair[0].iter().chain(&pair[1][..48]).copied().collect();
            let (a, b) =
                (<&[u8; 64]>::try_from(&bytes[..64]).unwrap(), <&[u8; 64]>::try_from(&bytes[48..]).unwrap());
            let before = classes::<0>(a, BlockClasses::default()).shifted(48);
            assert_eq!(before, first_lane(classes::<0>(b, BlockClasses::default())));
        }
    }
}
