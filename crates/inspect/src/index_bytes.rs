//! What the EDM and fingerprint index files share: little-endian reads that answer 0 past
//! the end (every offset is checked at load, so a 0 never stands for real data), the
//! 64-bit mixer, and the one-word Bloom filter both put before their sorted entries.

/// The `u32` at `i`, or 0 when `b` is too short.
pub(crate) fn u32_at(b: &[u8], i: usize) -> u32 {
    b.get(i..i + 4).and_then(|s| s.try_into().ok()).map_or(0, u32::from_le_bytes)
}

/// The `u64` at `i`, or 0 when `b` is too short.
pub(crate) fn u64_at(b: &[u8], i: usize) -> u64 {
    b.get(i..i + 8).and_then(|s| s.try_into().ok()).map_or(0, u64::from_le_bytes)
}

/// MurmurHash3's 64-bit finaliser: every input bit moves every output bit.
#[inline]
pub(crate) fn fmix(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^ (k >> 33)
}

/// The filter word and the three bits a 64-bit key sets in it.
#[inline]
pub(crate) fn bloom_bits(key: u64, mask: u64) -> (u64, u64) {
    let h = fmix(key ^ 0xb10f_b10f_b10f_b10f);
    let word = (h >> 18) & mask;
    let bits = (1u64 << (h & 63)) | (1u64 << ((h >> 6) & 63)) | (1u64 << ((h >> 12) & 63));
    (word, bits)
}
