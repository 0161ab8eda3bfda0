//! Word bytes of a 64-byte block as bit masks: bit `j` answers for byte `j`. The shingler
//! walks a block's words from these masks, one step per word, instead of a branch per
//! byte (where words start and end is what a branch predictor cannot guess).
//!
//! On x86-64 each mask is three SSE2 range compares per 16 bytes (through `safe_arch`, as
//! the workspace denies `unsafe`); elsewhere a table lookup per byte.

/// The masks of one block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Masks {
    /// ASCII letters and digits.
    pub word: u64,
    /// Bytes from 0x80 up (the block needs the UTF-8 path).
    pub high: u64,
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(super) fn masks(block: &[u8; 64]) -> Masks {
    use crate::sse2::in_range;
    use safe_arch::{bitor_m128i, load_unaligned_m128i, move_mask_i8_m128i};
    let mut m = Masks { word: 0, high: 0 };
    for (k, lane) in block.as_chunks::<16>().0.iter().enumerate() {
        let v = load_unaligned_m128i(lane);
        let word =
            bitor_m128i(bitor_m128i(in_range(v, b'0', 9), in_range(v, b'A', 25)), in_range(v, b'a', 25));
        m.word |= u64::from(move_mask_i8_m128i(word) as u16) << (16 * k);
        m.high |= u64::from(move_mask_i8_m128i(v) as u16) << (16 * k);
    }
    m
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
pub(super) fn masks(block: &[u8; 64]) -> Masks {
    let mut m = Masks { word: 0, high: 0 };
    for (j, &b) in block.iter().enumerate() {
        m.word |= u64::from(b.is_ascii_alphanumeric()) << j;
        m.high |= u64::from(b >= 0x80) << j;
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_match_the_byte_classes() {
        let mut block = [0u8; 64];
        for start in (0..256).step_by(64) {
            for (j, b) in block.iter_mut().enumerate() {
                *b = (start + j) as u8;
            }
            let m = masks(&block);
            for (j, &b) in block.iter().enumerate() {
                assert_eq!(m.word >> j & 1 == 1, b.is_ascii_alphanumeric(), "byte {b:#x}");
                assert_eq!(m.high >> j & 1 == 1, b >= 0x80, "byte {b:#x}");
            }
        }
    }
}
