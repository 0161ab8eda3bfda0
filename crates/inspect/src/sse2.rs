//! The two SSE2 steps every byte-class mask in the engine is built from (the digit scan's
//! classes, the base64 lanes of the blob skim, the word masks of fingerprints): a byte
//! broadcast to 16 lanes, and a range test done with one subtraction and one unsigned
//! minimum, as SSE2 has no unsigned compare.

use safe_arch::{cmp_eq_mask_i8_m128i, m128i, min_u8_m128i, set_splat_i8_m128i, sub_i8_m128i};

/// `b` in all 16 lanes.
#[inline(always)]
pub(crate) fn splat(b: u8) -> m128i {
    set_splat_i8_m128i(i8::from_ne_bytes([b]))
}

/// Lanes holding a byte in `lo..=lo + span`, as all ones.
#[inline(always)]
pub(crate) fn in_range(v: m128i, lo: u8, span: u8) -> m128i {
    let x = sub_i8_m128i(v, splat(lo));
    cmp_eq_mask_i8_m128i(min_u8_m128i(x, splat(span)), x)
}
