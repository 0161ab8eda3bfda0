//! The Standard security handler (ISO 32000-2 section 7.6.4) opened with the empty user
//! password, as every reader opens an "owner password only" PDF without asking: RC4 of 40
//! to 128 bits (V1/V2, R2/R3), crypt filters (V4 R4: RC4 or AES-128) and AES-256 (V5,
//! R5 and R6).
//!
//! A document that needs a password, or uses another handler (certificates), is not
//! opened: it stays could-not-scan. The key is checked against `/U` before anything is
//! decrypted, so a wrong guess never turns ciphertext into text.

use aes::cipher::block_padding::NoPadding;
use aes::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use md5::{Digest, Md5};
use sha2::{Sha256, Sha384, Sha512};

use super::object::{Dict, Obj};

/// The padding string of algorithm 2 (the empty password padded is all of it).
const PAD: [u8; 32] = [
    0x28, 0xBF, 0x4E, 0x5E, 0x4E, 0x75, 0x8A, 0x41, 0x64, 0x00, 0x4E, 0x56, 0xFF, 0xFA, 0x01, 0x08, 0x2E,
    0x2E, 0x00, 0xB6, 0xD0, 0x68, 0x3E, 0x80, 0x2F, 0x0C, 0xA9, 0xFE, 0x64, 0x53, 0x69, 0x7A,
];

/// How a class of data (strings, streams, embedded files, one named crypt filter) is
/// encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Method {
    /// Not encrypted.
    Identity,
    Rc4,
    /// AES-128-CBC, the first 16 bytes the IV.
    Aes128,
    /// AES-256-CBC with the file key itself.
    Aes256,
}

/// Why a document was not opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Locked {
    /// The empty user password does not open it.
    Password,
    /// Another security handler, an unknown version or a malformed dictionary.
    Unsupported,
}

/// Why encrypted data could not be decrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CryptError {
    /// AES data that is not an IV and whole blocks.
    Length,
    /// AES data whose last block is not PKCS#7 padding.
    Padding,
}

impl std::fmt::Display for CryptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CryptError::Length => "AES-encrypted data that is not whole blocks",
            CryptError::Padding => {
                "AES-encrypted data whose padding is wrong (not encrypted with the document's key)"
            }
        })
    }
}

/// An opened document's keys and methods.
#[derive(Debug, Clone)]
pub(super) struct Security {
    key: Vec<u8>,
    /// R5 and R6 use the file key as it is; earlier revisions derive one per object.
    per_object: bool,
    pub strings: Method,
    pub streams: Method,
    /// Embedded file streams (`/EFF`).
    pub files: Method,
    /// `/CF` entries by name, for a stream's own `/Crypt` filter.
    named: Vec<(Vec<u8>, Method)>,
    /// False when the document's XMP metadata stream is left in clear.
    pub encrypt_metadata: bool,
}

impl Security {
    /// Opens the document whose `/Encrypt` dictionary is `enc` and whose first `/ID` string
    /// is `id0`, with the empty user password.
    pub fn open(enc: &Dict, id0: &[u8]) -> Result<Security, Locked> {
        if !enc.is(b"Filter", b"Standard") {
            return Err(Locked::Unsupported);
        }
        let int = |k: &[u8]| enc.get(k).and_then(Obj::num).filter(|n| n.fract() == 0.0 && n.abs() < 1e10);
        let (v, r) = (int(b"V").unwrap_or(0.0) as i64, int(b"R").unwrap_or(0.0) as i64);
        let string = |k: &[u8]| match enc.get(k) {
            Some(Obj::Str(s)) => Some(s.clone()),
            _ => None,
        };
        let (Some(o), Some(u)) = (string(b"O"), string(b"U")) else { return Err(Locked::Unsupported) };
        let encrypt_metadata = !matches!(enc.get(b"EncryptMetadata"), Some(Obj::Bool(false)));
        let (key, per_object) = match r {
            2..=4 => {
                let p = int(b"P").unwrap_or(0.0) as i64 as i32;
                let len = match (r, int(b"Length")) {
                    (2, _) => 5,
                    (_, Some(bits)) if (40.0..=128.0).contains(&bits) && bits % 8.0 == 0.0 => {
                        bits as usize / 8
                    }
                    (3, _) => 5,
                    _ => 16,
                };
                let key = rc4_file_key(&o, p, id0, r, len, encrypt_metadata).ok_or(Locked::Unsupported)?;
                if !user_key_opens(&key, &u, id0, r) {
                    return Err(Locked::Password);
                }
                (key, true)
            }
            5 | 6 => (aes256_file_key(enc, &u, r)?, false),
            _ => return Err(Locked::Unsupported),
        };
        let mut sec = Security {
            key,
            per_object,
            strings: Method::Rc4,
            streams: Method::Rc4,
            files: Method::Rc4,
            named: Vec::new(),
            encrypt_metadata,
        };
        match v {
            1 | 2 => {}
            4 | 5 => {
                if let Some(Obj::Dict(cf)) = enc.get(b"CF") {
                    for (name, f) in &cf.0 {
                        let m = match f.dict().and_then(|f| f.get(b"CFM")).and_then(Obj::name) {
                            Some(b"V2") => Method::Rc4,
                            Some(b"AESV2") => Method::Aes128,
                            Some(b"AESV3") => Method::Aes256,
                            // `/None` hands the data to a handler we do not have.
                            _ => return Err(Locked::Unsupported),
                        };
                        sec.named.push((name.clone(), m));
                    }
                }
                let pick = |k: &[u8], default: Option<Method>| match enc.get(k).and_then(Obj::name) {
                    None => default.ok_or(Locked::Unsupported),
                    Some(name) => sec.method_named(name).ok_or(Locked::Unsupported),
                };
                let streams = pick(b"StmF", Some(Method::Identity))?;
                let strings = pick(b"StrF", Some(Method::Identity))?;
                let files = pick(b"EFF", Some(streams))?;
                (sec.streams, sec.strings, sec.files) = (streams, strings, files);
            }
            _ => return Err(Locked::Unsupported),
        }
        Ok(sec)
    }

    /// Whether each object has a key of its own (R2 to R4), made from its number.
    pub fn per_object(&self) -> bool {
        self.per_object
    }

    /// The method of the crypt filter called `name` (`/Identity` included).
    pub fn method_named(&self, name: &[u8]) -> Option<Method> {
        if name == b"Identity" {
            return Some(Method::Identity);
        }
        self.named.iter().find(|(n, _)| n == name).map(|(_, m)| *m)
    }

    /// Decrypts data of object `num` generation `gen` encrypted with `method`.
    pub fn decrypt(&self, method: Method, num: u32, gen: u32, data: &[u8]) -> Result<Vec<u8>, CryptError> {
        let key = match method {
            Method::Identity => return Ok(data.to_vec()),
            _ if !self.per_object => self.key.clone(),
            _ => {
                let mut h = Md5::new();
                h.update(&self.key);
                h.update(&num.to_le_bytes()[..3]);
                h.update(&gen.to_le_bytes()[..2]);
                if method != Method::Rc4 {
                    h.update(b"sAlT");
                }
                let n = (self.key.len() + 5).min(16);
                h.finalize()[..n].to_vec()
            }
        };
        match method {
            Method::Rc4 => Ok(rc4(&key, data)),
            Method::Aes128 | Method::Aes256 => aes_cbc_decrypt(&key, data),
            Method::Identity => Ok(data.to_vec()),
        }
    }
}

/// Algorithm 2: the file key from the empty password, `/O`, `/P` and the first `/ID`.
fn rc4_file_key(o: &[u8], p: i32, id0: &[u8], r: i64, len: usize, encrypt_metadata: bool) -> Option<Vec<u8>> {
    let mut h = Md5::new();
    h.update(PAD);
    h.update(o.get(..32)?);
    h.update(p.to_le_bytes());
    h.update(id0);
    if r >= 4 && !encrypt_metadata {
        h.update([0xff; 4]);
    }
    let mut hash = h.finalize().to_vec();
    if r >= 3 {
        for _ in 0..50 {
            hash = Md5::digest(&hash[..len]).to_vec();
        }
    }
    hash.truncate(len);
    Some(hash)
}

/// Algorithms 4 and 5: whether `key` is the one the empty user password makes.
fn user_key_opens(key: &[u8], u: &[u8], id0: &[u8], r: i64) -> bool {
    if r == 2 {
        return u.len() >= 32 && rc4(key, &PAD) == u[..32];
    }
    let mut h = Md5::new();
    h.update(PAD);
    h.update(id0);
    let mut x = rc4(key, &h.finalize());
    for i in 1..=19u8 {
        let k: Vec<u8> = key.iter().map(|b| b ^ i).collect();
        x = rc4(&k, &x);
    }
    u.len() >= 16 && x[..] == u[..16]
}

/// Algorithms 2.A and 11: the file key of an R5 or R6 document, if the empty user
/// password opens it (`/U` is hash, validation salt, key salt; `/UE` the wrapped key).
fn aes256_file_key(enc: &Dict, u: &[u8], r: i64) -> Result<Vec<u8>, Locked> {
    let Some(Obj::Str(ue)) = enc.get(b"UE") else { return Err(Locked::Unsupported) };
    if u.len() < 48 || ue.len() < 32 {
        return Err(Locked::Unsupported);
    }
    let (hash, validation, key_salt) = (&u[..32], &u[32..40], &u[40..48]);
    if hash_2b(r, validation) != hash {
        return Err(Locked::Password);
    }
    let wrapping = hash_2b(r, key_salt);
    let mut key = ue[..32].to_vec();
    let dec = cbc::Decryptor::<aes::Aes256>::new_from_slices(&wrapping, &[0; 16])
        .map_err(|_| Locked::Unsupported)?;
    dec.decrypt_padded::<NoPadding>(&mut key).map_err(|_| Locked::Unsupported)?;
    Ok(key)
}

/// The hash of the empty password with `salt` (no user key data: this is the user
/// password): SHA-256 for R5, algorithm 2.B for R6.
fn hash_2b(r: i64, salt: &[u8]) -> Vec<u8> {
    let mut k = Sha256::new().chain_update(salt).finalize().to_vec();
    if r == 5 {
        return k;
    }
    // Algorithm 2.B with an empty password and no user key data: K1 is K repeated 64
    // times. At least 64 rounds, then until the last byte of E is at most round - 32
    // (a byte: at most 256 + 32 rounds).
    let mut round = 0u32;
    loop {
        let mut e = k.repeat(64);
        let Ok(enc) = cbc::Encryptor::<aes::Aes128>::new_from_slices(&k[..16], &k[16..32]) else {
            return k;
        };
        let len = e.len();
        if enc.encrypt_padded::<NoPadding>(&mut e, len).is_err() {
            return k;
        }
        let sum: u32 = e[..16].iter().map(|&b| u32::from(b)).sum();
        k = match sum % 3 {
            0 => Sha256::digest(&e).to_vec(),
            1 => Sha384::digest(&e).to_vec(),
            _ => Sha512::digest(&e).to_vec(),
        };
        round += 1;
        let last = e.last().copied().map_or(0, u32::from);
        if round >= 64 && last + 32 <= round {
            break;
        }
    }
    k.truncate(32);
    k
}

/// AES-CBC with the IV in front and PKCS#7 padding at the end. Empty data (and an IV
/// alone) decrypt to nothing.
fn aes_cbc_decrypt(key: &[u8], data: &[u8]) -> Result<Vec<u8>, CryptError> {
    if data.len() <= 16 {
        return if data.is_empty() || data.len() == 16 { Ok(Vec::new()) } else { Err(CryptError::Length) };
    }
    let (iv, body) = data.split_at(16);
    if body.len() % 16 != 0 {
        return Err(CryptError::Length);
    }
    let mut buf = body.to_vec();
    let done = match key.len() {
        16 => cbc::Decryptor::<aes::Aes128>::new_from_slices(key, iv)
            .map(|d| d.decrypt_padded::<NoPadding>(&mut buf).is_ok()),
        _ => cbc::Decryptor::<aes::Aes256>::new_from_slices(key, iv)
            .map(|d| d.decrypt_padded::<NoPadding>(&mut buf).is_ok()),
    };
    if done != Ok(true) {
        return Err(CryptError::Length);
    }
    let pad = buf.last().copied().map_or(0, usize::from);
    if !(1..=16).contains(&pad) || buf[buf.len() - pad..].iter().any(|&b| usize::from(b) != pad) {
        return Err(CryptError::Padding);
    }
    buf.truncate(buf.len() - pad);
    Ok(buf)
}

/// RC4 (a stream cipher: encrypting and decrypting are the same).
fn rc4(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut s: [u8; 256] = std::array::from_fn(|i| i as u8);
    if !key.is_empty() {
        let mut j = 0u8;
        for i in 0..256 {
            j = j.wrapping_add(s[i]).wrapping_add(key[i % key.len()]);
            s.swap(i, usize::from(j));
        }
    }
    let (mut i, mut j) = (0u8, 0u8);
    data.iter()
        .map(|&b| {
            i = i.wrapping_add(1);
            j = j.wrapping_add(s[usize::from(i)]);
            s.swap(usize::from(i), usize::from(j));
            b ^ s[usize::from(s[usize::from(i)].wrapping_add(s[usize::from(j)]))]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rc4_matches_the_published_vectors() {
        // From the RC4 test vectors in RFC 6229's source and Wikipedia.
        assert_eq!(rc4(b"Key", b"Plaintext"), [0xBB, 0xF3, 0x16, 0xE8, 0xD9, 0x40, 0xAF, 0x0A, 0xD3]);
        assert_eq!(rc4(b"Wiki", b"pedia"), [0x10, 0x21, 0xBF, 0x04, 0x20]);
    }

    #[test]
    fn aes_rejects_bad_lengths_and_padding() {
        let key = [7u8; 16];
        assert_eq!(aes_cbc_decrypt(&key, &[0; 20]), Err(CryptError::Length));
        assert_eq!(aes_cbc_decrypt(&key, &[0; 5]), Err(CryptError::Length));
        assert_eq!(aes_cbc_decrypt(&key, &[]), Ok(Vec::new()));
        // Zeros decrypt to bytes that are almost never valid padding.
        let mut block = [0u8; 32];
        let enc = cbc::Encryptor::<aes::Aes128>::new_from_slices(&key, &[0; 16]).unwrap();
        let mut msg = *b"4111 1111 1111 1111\x0d\x0d\x0d\x0d\x0d\x0d\x0d\x0d\x0d\x0d\x0d\x0d\x0d";
        enc.encrypt_padded::<NoPadding>(&mut msg, 32).unwrap();
        block.copy_from_slice(&msg);
        let mut data = vec![0u8; 16];
        data.extend_from_slice(&block);
        assert_eq!(aes_cbc_decrypt(&key, &data).unwrap(), b"4111 1111 1111 1111");
        let last = data.len() - 1;
        data[last] ^= 1;
        assert_eq!(aes_cbc_decrypt(&key, &data), Err(CryptError::Padding));
    }
}
