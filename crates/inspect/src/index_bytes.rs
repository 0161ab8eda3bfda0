//! What the EDM and fingerprint index files share: little-endian reads that answer 0 past
//! the end (every offset is checked at load, so a 0 never stands for real data), the
//! 64-bit mixer, and the one-word Bloom filter both put before their sorted entries
//! ([`Prefilter`]).

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

/// How many keys ahead [`Prefilter::retain`] asks for the filter's words.
const PREFETCH_AHEAD: usize = 16;

/// The one-word Bloom filter of an index, read in place.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Prefilter<'a> {
    words: &'a [u8],
    mask: u64,
}

impl<'a> Prefilter<'a> {
    /// The filter in `words` (little-endian `u64`s), `mask + 1` of them; a word past the end
    /// of `words` reads 0.
    pub(crate) fn new(words: &'a [u8], mask: u64) -> Self {
        Self { words, mask }
    }

    /// Whether the filter may hold `key`.
    #[inline]
    pub(crate) fn may_hold(&self, key: u64) -> bool {
        let (word, bits) = bloom_bits(key, self.mask);
        u64_at(self.words, 8 * word as usize) & bits == bits
    }

    /// Keeps the items whose key the filter may hold, in order. The filter is far larger
    /// than any cache: its words are asked for a few items ahead, so their loads overlap
    /// instead of each waiting for memory in turn.
    pub(crate) fn retain<T: Copy>(&self, items: &mut Vec<T>, key: impl Fn(&T) -> u64) {
        for item in items.iter().take(PREFETCH_AHEAD) {
            self.prefetch(key(item));
        }
        let mut kept = 0;
        for i in 0..items.len() {
            if let Some(ahead) = items.get(i + PREFETCH_AHEAD) {
                self.prefetch(key(ahead));
            }
            let item = items[i];
            if self.may_hold(key(&item)) {
                items[kept] = item;
                kept += 1;
            }
        }
        items.truncate(kept);
    }

    #[inline]
    fn prefetch(&self, key: u64) {
        #[cfg(target_arch = "x86_64")]
        {
            let (word, _) = bloom_bits(key, self.mask);
            if let Some(byte) = self.words.get(8 * word as usize) {
                safe_arch::prefetch_t0(byte);
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = key;
    }
}
