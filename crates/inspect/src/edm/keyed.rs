//! The keyed hashes of an index: nothing in an index file can be computed without its key.
//!
//! From the index's 32-byte secret key, four subkeys are derived with HMAC-SHA256:
//!
//! - the **primary hash**: HMAC-SHA256(kind byte || normal form), first 8 bytes. The sorted
//!   primary table holds these. A scan computes one only when the prefilter lets a
//!   candidate through.
//! - two **SipHash-1-3 keys** (text and number forms): a text n-gram's tag is a fixed mix of
//!   the SipHash of each of its tokens (each token is hashed once, however many n-grams it
//!   is in); a number form's tag is the SipHash of the whole form. Tags fill the prefilter
//!   (a blocked Bloom filter over primary values) and, cut to 32 bits, the per-row table of
//!   cells that corroborate a primary.
//! - the **key check**: 8 bytes stored in the index, so a wrong key is refused at load rather
//!   than matching nothing.
//!
//! SipHash is a pseudo-random function under its 128-bit key (Aumasson and Bernstein, 2012):
//! without the key, a tag says nothing of its value, and tags of guessed values cannot be
//! computed. The mix of per-token PRF outputs adds no structure an attacker can use, since
//! the outputs themselves are unknown to them.

use crate::index_bytes::fmix;
use hmac::{KeyInit, Mac};
use sha2::Sha256;
use siphasher::sip::SipHasher13;

use super::token::Kind;

type HmacSha256 = hmac::Hmac<Sha256>;

/// Bytes of an index key.
pub const KEY_BYTES: usize = 32;

/// An index's secret key and what derives from it.
#[derive(Clone)]
pub struct EdmKey {
    primary: HmacSha256,
    sip_text: SipHasher13,
    sip_number: SipHasher13,
    check: [u8; 8],
}

impl std::fmt::Debug for EdmKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EdmKey(..)")
    }
}

impl EdmKey {
    /// The key from its 32 secret bytes.
    pub fn new(secret: &[u8; KEY_BYTES]) -> Self {
        let derive = |label: &[u8]| -> [u8; 32] {
            let mut mac = match HmacSha256::new_from_slice(secret) {
                Ok(m) => m,
                // HMAC takes keys of any length.
                Err(_) => unreachable!("HMAC accepts a 32-byte key"),
            };
            mac.update(label);
            mac.finalize().into_bytes().into()
        };
        let primary_key = derive(b"dlpgate-edm/1 primary");
        let primary = match HmacSha256::new_from_slice(&primary_key) {
            Ok(m) => m,
            Err(_) => unreachable!("HMAC accepts a 32-byte key"),
        };
        let sip = |label: &[u8]| {
            let k = derive(label);
            SipHasher13::new_with_key(&k[..16].try_into().unwrap_or([0; 16]))
        };
        let check_full = derive(b"dlpgate-edm/1 key check");
        let mut check = [0u8; 8];
        check.copy_from_slice(&check_full[..8]);
        Self {
            primary,
            sip_text: sip(b"dlpgate-edm/1 sip text"),
            sip_number: sip(b"dlpgate-edm/1 sip number"),
            check,
        }
    }

    /// The 8 bytes an index stores to recognise its key.
    pub fn check(&self) -> [u8; 8] {
        self.check
    }

    /// The primary-table hash of a normal form.
    pub fn primary(&self, kind: Kind, form: &[u8]) -> u64 {
        let mut mac = self.primary.clone();
        mac.update(&[kind.tag()]);
        mac.update(form);
        let out = mac.finalize().into_bytes();
        let mut first = [0u8; 8];
        first.copy_from_slice(&out[..8]);
        u64::from_le_bytes(first)
    }

    /// The SipHash of one token's text form.
    #[inline]
    pub(crate) fn token(&self, text_form: &[u8]) -> u64 {
        self.sip_text.hash(text_form)
    }

    /// The tag of a number form.
    #[inline]
    pub(crate) fn number_tag(&self, form: &[u8]) -> u64 {
        fmix(self.sip_number.hash(form) ^ 0x6e75_6d62_6572)
    }
}

/// The tag of a text n-gram from its tokens' SipHashes, in order.
#[inline]
pub(crate) fn text_tag(token_hashes: &[u64]) -> u64 {
    let mut g = 0x7465_7874_u64 ^ (token_hashes.len() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    for &h in token_hashes {
        g = (g.rotate_left(23) ^ h).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    fmix(g)
}

/// A cell's 32-bit tag in the row table: never 0, which means an empty cell.
#[inline]
pub(crate) fn cell_tag(tag: u64) -> u32 {
    let t = (tag >> 32) as u32;
    if t == 0 {
        1
    } else {
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_separate_everything() {
        let a = EdmKey::new(&[1; 32]);
        let b = EdmKey::new(&[2; 32]);
        assert_ne!(a.check(), b.check());
        assert_ne!(a.primary(Kind::Text, b"jane"), b.primary(Kind::Text, b"jane"));
        assert_ne!(a.primary(Kind::Text, b"123"), a.primary(Kind::Number, b"123"));
        assert_ne!(a.token(b"jane"), b.token(b"jane"));
        assert_ne!(
            text_tag(&[a.token(b"jane"), a.token(b"doe")]),
            text_tag(&[a.token(b"doe"), a.token(b"jane")])
        );
        assert_eq!(a.primary(Kind::Text, b"jane"), EdmKey::new(&[1; 32]).primary(Kind::Text, b"jane"));
    }
}
