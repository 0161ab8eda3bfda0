//! Which of 16 bytes are base64 characters (of either alphabet), as a bit mask: the blob
//! skim measures the run around a window that passed with these instead of a byte at a
//! time (ids and UUIDs in CSV rows pass windows every few rows, and a loop whose length
//! varies with the text mispredicts its exit).

/// Bit `j` set when `bytes[j]` is `A-Z`, `a-z`, `0-9`, `+`, `/`, `-` or `_`.
#[inline(always)]
pub(super) fn b64_mask16(bytes: &[u8; 16]) -> u32 {
    #[cfg(target_arch = "x86_64")]
    {
        sse2::b64_mask16(bytes)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        bytes.iter().enumerate().fold(0, |m, (j, &b)| m | u32::from(is_b64_char(b)) << j)
    }
}

/// The byte-wise definition the mask is tested against.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn is_b64_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_')
}

#[cfg(target_arch = "x86_64")]
mod sse2 {
    use crate::sse2::{in_range, splat};
    use safe_arch::{
        bitand_m128i, bitor_m128i, cmp_eq_mask_i8_m128i, load_unaligned_m128i, move_mask_i8_m128i,
    };

    #[inline(always)]
    pub fn b64_mask16(bytes: &[u8; 16]) -> u32 {
        let v = load_unaligned_m128i(bytes);
        // Setting bit 5 folds `A-Z` onto `a-z` and no other byte into them; `+` and `/`
        // differ in one bit (0x04), which no other pair of these does.
        let letter = in_range(bitor_m128i(v, splat(0x20)), b'a', 25);
        let digit = in_range(v, b'0', 9);
        let plus_slash = cmp_eq_mask_i8_m128i(bitand_m128i(v, splat(0xFB)), splat(b'+'));
        let dash_low =
            bitor_m128i(cmp_eq_mask_i8_m128i(v, splat(b'-')), cmp_eq_mask_i8_m128i(v, splat(b'_')));
        let any = bitor_m128i(bitor_m128i(letter, digit), bitor_m128i(plus_slash, dash_low));
        move_mask_i8_m128i(any) as u32 & 0xFFFF
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mask_agrees_with_the_definition_for_every_byte_value() {
        for first in (0..=255u8).step_by(16) {
            let bytes: [u8; 16] = std::array::from_fn(|j| first.wrapping_add(j as u8));
            let want = bytes.iter().enumerate().fold(0u32, |m, (j, &b)| m | u32::from(is_b64_char(b)) << j);
            assert_eq!(b64_mask16(&bytes), want, "{bytes:?}");
        }
    }
}
