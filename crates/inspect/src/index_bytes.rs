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

    /// Whether the filter may hold `key` (what [`retain`](Self::retain) keeps).
    #[cfg(test)]
    pub(crate) fn may_hold(&self, key: u64) -> bool {
        let (word, bits) = bloom_bits(key, self.mask);
        u64_at(self.words, 8 * word as usize) & bits == bits
    }

    /// Keeps the items whose key the filter may hold, in order. The filter is far larger
    /// than any cache: its words are asked for a few items ahead, so their loads overlap
    /// instead of each waiting for memory in turn.
    pub(crate) fn retain<T: Copy>(&self, items: &mut Vec<T>, key: impl Fn(&T) -> u64) {
        // Each key's word and bits are computed once, when its word is asked for, and kept
        // in a ring until its turn.
        let mut ring = [(0u64, 0u64); PREFETCH_AHEAD];
        let probe = |item: &T| {
            let (word, bits) = bloom_bits(key(item), self.mask);
            self.prefetch_word(word);
            (word, bits)
        };
        for (slot, item) in ring.iter_mut().zip(items.iter()) {
            *slot = probe(item);
        }
        let mut kept = 0;
        for i in 0..items.len() {
            let (word, bits) = ring[i % PREFETCH_AHEAD];
            if let Some(ahead) = items.get(i + PREFETCH_AHEAD) {
                ring[i % PREFETCH_AHEAD] = probe(ahead);
            }
            if u64_at(self.words, 8 * word as usize) & bits == bits {
                items[kept] = items[i];
                kept += 1;
            }
        }
        items.truncate(kept);
    }

    #[inline]
    fn prefetch_word(&self, word: u64) {
        #[cfg(target_arch = "x86_64")]
        if let Some(byte) = self.words.get(8 * word as usize) {
            safe_arch::prefetch_t0(byte);
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = word;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `retain` keeps, in order, exactly the items `may_hold` passes, for lists shorter and
    /// longer than the read-ahead.
    #[test]
    fn retain_keeps_what_may_hold_passes() {
        let mask = 63;
        let mut words = vec![0u8; 8 * (mask as usize + 1)];
        for key in (0..200u64).map(|k| k * 3) {
            let (word, bits) = bloom_bits(key, mask);
            let at = 8 * word as usize;
            let w = u64_at(&words, at) | bits;
            words[at..at + 8].copy_from_slice(&w.to_le_bytes());
        }
        let filter = Prefilter::new(&words, mask);
        for len in 0..3 * PREFETCH_AHEAD + 3 {
            let items: Vec<u64> = (0..len as u64).map(|k| k * 7 % 601).collect();
            let want: Vec<u64> = items.iter().copied().filter(|&k| filter.may_hold(k)).collect();
            assert!(len < 40 || (!want.is_empty() && want.len() < items.len()), "a test that cannot fail");
            let mut got = items.clone();
            filter.retain(&mut got, |&k| k);
            assert_eq!(got, want, "{len} items");
        }
    }
}
