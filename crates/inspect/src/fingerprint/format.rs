//! The index file: a fixed header, then sections the scan reads in place from a memory map.
//!
//! ```text
//! header   192 bytes (below)
//! docs     per document, 56 bytes: sha256 [32], size u64, fingerprints u32, name offset
//!          u32, name length u32, span u32 (the words its fingerprints cover: what shares are of)
//! names    the documents' names, UTF-8, one after the other
//! exact    (first 8 bytes of the sha256 as u64, document u32), sorted: exact copies
//! dir      2^dir_bits + 1 u32: index of the first entry whose fingerprint's top bits are >= i
//! entries  (fingerprint's low 32 bits u32, document u32, position u32), sorted by top bits,
//!          low bits, document
//! bloom    2^bloom_log2 u64 words: a blocked Bloom filter of the fingerprints, 3 bits each
//! meta     JSON: name, counts, options
//! ```
//!
//! Header: magic `DLPGFPI1`, format version u32, header length u32, build id [16],
//! documents u32, shingle words u32, window u32, dir_bits u32, bloom_log2 u32, reserved u32,
//! entries u64, largest document size u64, then the offsets and lengths of the seven
//! sections as u64 pairs, then the file length. Integers are little-endian. Every offset is
//! checked at load; a damaged file gives wrong answers or a load error, never a read out of
//! bounds.

use crate::index_bytes::{u32_at, u64_at, Prefilter};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// The first bytes of every index file.
pub const MAGIC: &[u8; 8] = b"DLPGFPI1";
/// The layout version this code reads and writes (it covers the text normalisation too).
pub const FORMAT_VERSION: u32 = 2;
/// Bytes of the header.
pub const HEADER_BYTES: usize = 192;
/// Bytes of one document record.
pub const DOC_BYTES: usize = 56;
/// Bytes of one exact-copy entry.
pub const EXACT_BYTES: usize = 12;
/// Bytes of one fingerprint entry.
pub const ENTRY_BYTES: usize = 12;
/// Sections, in header order.
pub(crate) const SECTIONS: usize = 7;
/// Largest directory (2^26 buckets of 4 bytes).
pub(crate) const MAX_DIR_BITS: u32 = 26;

/// The bytes of a loaded index: a memory map, or a `Vec` in tests.
pub type IndexBytes = Arc<dyn AsRef<[u8]> + Send + Sync>;

/// The index's description, stored as JSON at its end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// The index name.
    pub name: String,
    /// Documents indexed.
    pub documents: u64,
    /// Fingerprint entries (fingerprint, document) kept.
    pub entries: u64,
    /// Distinct fingerprints dropped because more documents than the cap share them.
    pub dropped_common: u64,
    /// Distinct fingerprints dropped because an excluded (template) document has them.
    pub dropped_excluded: u64,
    /// Template documents subtracted.
    pub excluded_documents: u64,
    /// The document-frequency cap used.
    pub max_doc_frequency: u32,
    /// When it was built (Unix seconds).
    pub built_at: u64,
}

/// Why an index cannot be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// Not an index file, or a version or shingling this build does not read.
    #[error("not a dlpgate fingerprint index (or a format version this build does not read)")]
    NotAnIndex,
    /// A section lies outside the file or sizes disagree.
    #[error("damaged fingerprint index: {0}")]
    Damaged(String),
}

/// Offsets of the header's fields.
pub(crate) mod at {
    pub const VERSION: usize = 8;
    pub const HEADER_LEN: usize = 12;
    pub const BUILD_ID: usize = 16;
    pub const DOCUMENTS: usize = 32;
    pub const SHINGLE_WORDS: usize = 36;
    pub const WINDOW: usize = 40;
    pub const DIR_BITS: usize = 44;
    pub const BLOOM_LOG2: usize = 48;
    pub const ENTRIES: usize = 56;
    pub const MAX_DOC_SIZE: usize = 64;
    /// Seven (offset, length) pairs: docs, names, exact, dir, entries, bloom, meta.
    pub const SECTIONS: usize = 72;
    pub const FILE_LEN: usize = 184;
}

/// One protected document, as the index describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// Its name (a path relative to what was added).
    pub name: String,
    /// Size of the file, in bytes.
    pub size: u64,
    /// SHA-256 of the file.
    pub sha256: [u8; 32],
    /// Its fingerprints in the index (after common and template ones were dropped).
    pub fingerprints: u32,
    /// The words of its text that its fingerprints in the index cover (template and
    /// common passages left out): what shares are of.
    pub span: u32,
}

/// A loaded index: its sections read in place.
#[derive(Clone)]
pub struct FingerprintIndex {
    bytes: IndexBytes,
    meta: Meta,
    build_id: [u8; 16],
    documents: usize,
    entries: usize,
    dir_bits: u32,
    bloom_mask: u64,
    max_doc_size: u64,
    docs_at: usize,
    names: (usize, usize),
    exact: (usize, usize),
    dir_at: usize,
    entries_at: usize,
    bloom_at: usize,
}

impl std::fmt::Debug for FingerprintIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FingerprintIndex")
            .field("name", &self.meta.name)
            .field("documents", &self.documents)
            .finish()
    }
}

/// Checks the header and gives the sections' (offset, length), each inside the file.
fn sections(b: &[u8]) -> Result<[(usize, usize); SECTIONS], FormatError> {
    if b.len() < HEADER_BYTES
        || &b[..8] != MAGIC
        || u32_at(b, at::VERSION) != FORMAT_VERSION
        || u32_at(b, at::HEADER_LEN) as usize != HEADER_BYTES
        || u32_at(b, at::SHINGLE_WORDS) as usize != super::SHINGLE_WORDS
        || u32_at(b, at::WINDOW) as usize != super::WINDOW
    {
        return Err(FormatError::NotAnIndex);
    }
    let damaged = |what: &str| FormatError::Damaged(what.to_string());
    if u64_at(b, at::FILE_LEN) != b.len() as u64 {
        return Err(damaged("its length is not the one it was written with (truncated?)"));
    }
    let mut out = [(0usize, 0usize); SECTIONS];
    for (k, o) in out.iter_mut().enumerate() {
        let off = u64_at(b, at::SECTIONS + 16 * k);
        let len = u64_at(b, at::SECTIONS + 16 * k + 8);
        let end = off.checked_add(len).ok_or_else(|| damaged("section overflow"))?;
        if off < HEADER_BYTES as u64 || end > b.len() as u64 {
            return Err(damaged("a section lies outside the file"));
        }
        *o = (off as usize, len as usize);
    }
    Ok(out)
}

impl FingerprintIndex {
    /// Checks the layout of `bytes`; nothing is copied.
    pub fn open(bytes: IndexBytes) -> Result<Self, FormatError> {
        let b: &[u8] = (*bytes).as_ref();
        let [(docs_at, docs_len), names, exact, (dir_at, dir_len), (entries_at, entries_len), (bloom_at, bloom_len), _] =
            sections(b)?;
        let damaged = |what: &str| FormatError::Damaged(what.to_string());
        let meta = Self::peek_meta(b)?;
        let documents = u32_at(b, at::DOCUMENTS) as usize;
        let entries = u64_at(b, at::ENTRIES);
        let dir_bits = u32_at(b, at::DIR_BITS);
        let bloom_log2 = u32_at(b, at::BLOOM_LOG2);
        if documents > super::MAX_DOCUMENTS || documents.checked_mul(DOC_BYTES) != Some(docs_len) {
            return Err(damaged("document table size"));
        }
        if exact.1 != documents * EXACT_BYTES {
            return Err(damaged("exact-copy table size"));
        }
        if !(1..=MAX_DIR_BITS).contains(&dir_bits) || dir_len != ((1usize << dir_bits) + 1) * 4 {
            return Err(damaged("directory size"));
        }
        if entries > u64::from(u32::MAX) || entries as usize * ENTRY_BYTES != entries_len {
            return Err(damaged("fingerprint table size"));
        }
        if bloom_log2 > 40 || bloom_len != 8usize << bloom_log2 {
            return Err(damaged("filter size"));
        }
        let mut build_id = [0u8; 16];
        build_id.copy_from_slice(&b[at::BUILD_ID..at::BUILD_ID + 16]);
        Ok(Self {
            meta,
            build_id,
            documents,
            entries: entries as usize,
            dir_bits,
            bloom_mask: (1u64 << bloom_log2) - 1,
            max_doc_size: u64_at(b, at::MAX_DOC_SIZE),
            docs_at,
            names,
            exact,
            dir_at,
            entries_at,
            bloom_at,
            bytes,
        })
    }

    /// The description of an index file, read without checking the rest.
    pub fn peek_meta(b: &[u8]) -> Result<Meta, FormatError> {
        let [.., (meta_at, meta_len)] = sections(b)?;
        serde_json::from_slice(&b[meta_at..meta_at + meta_len])
            .map_err(|e| FormatError::Damaged(format!("its description: {e}")))
    }

    /// The description: name, counts.
    pub fn meta(&self) -> &Meta {
        &self.meta
    }

    /// Random bytes chosen at build: a rebuilt index has new ones (policies put them in
    /// their version, so a rebuilt index changes the ISTag).
    pub fn build_id(&self) -> [u8; 16] {
        self.build_id
    }

    /// Number of documents.
    pub fn documents(&self) -> usize {
        self.documents
    }

    /// Number of fingerprint entries.
    pub fn entries(&self) -> usize {
        self.entries
    }

    /// The largest document's size: objects larger than this cannot be exact copies.
    pub fn max_doc_size(&self) -> u64 {
        self.max_doc_size
    }

    fn b(&self) -> &[u8] {
        (*self.bytes).as_ref()
    }

    /// Document `doc`.
    pub fn document(&self, doc: u32) -> Option<Document> {
        let at = self.docs_at + (doc as usize).checked_mul(DOC_BYTES)?;
        if doc as usize >= self.documents {
            return None;
        }
        let b = self.b();
        let rec = b.get(at..at + DOC_BYTES)?;
        let mut sha256 = [0u8; 32];
        sha256.copy_from_slice(&rec[..32]);
        let off = u32_at(rec, 44) as usize;
        let len = u32_at(rec, 48) as usize;
        let name = if off.checked_add(len).is_some_and(|e| e <= self.names.1) {
            String::from_utf8_lossy(&b[self.names.0 + off..self.names.0 + off + len]).into_owned()
        } else {
            String::from("?")
        };
        Some(Document {
            name,
            size: u64_at(rec, 32),
            sha256,
            fingerprints: u32_at(rec, 40),
            span: u32_at(rec, 52),
        })
    }

    /// The fingerprint count of `doc`, without its name.
    #[inline]
    pub(crate) fn fingerprints_of(&self, doc: u32) -> u32 {
        if doc as usize >= self.documents {
            return 0;
        }
        u32_at(self.b(), self.docs_at + doc as usize * DOC_BYTES + 40)
    }

    /// The span of `doc` in words.
    #[inline]
    pub(crate) fn span_of(&self, doc: u32) -> u32 {
        if doc as usize >= self.documents {
            return 0;
        }
        u32_at(self.b(), self.docs_at + doc as usize * DOC_BYTES + 52)
    }

    /// The documents whose file is `sha256` and `size` bytes long.
    pub fn exact(&self, sha256: &[u8; 32], size: u64, out: &mut Vec<u32>) {
        let b = self.b();
        let prefix = u64::from_le_bytes([
            sha256[0], sha256[1], sha256[2], sha256[3], sha256[4], sha256[5], sha256[6], sha256[7],
        ]);
        let n = self.exact.1 / EXACT_BYTES;
        let key = |i: usize| u64_at(b, self.exact.0 + i * EXACT_BYTES);
        let (mut lo, mut hi) = (0, n);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if key(mid) < prefix {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        while lo < n && key(lo) == prefix {
            let doc = u32_at(b, self.exact.0 + lo * EXACT_BYTES + 8);
            if self.document(doc).is_some_and(|d| d.sha256 == *sha256 && d.size == size) {
                out.push(doc);
            }
            lo += 1;
        }
    }

    /// The prefilter, to ask about many keys at once.
    pub(crate) fn prefilter(&self) -> Prefilter<'_> {
        Prefilter::new(self.b().get(self.bloom_at..).unwrap_or_default(), self.bloom_mask)
    }

    /// The entries of fingerprint `fp`: a range of entry numbers (empty when absent).
    pub(crate) fn postings(&self, fp: u64) -> std::ops::Range<usize> {
        let b = self.b();
        let bucket = (fp >> (64 - self.dir_bits)) as usize;
        let mut lo = (u32_at(b, self.dir_at + 4 * bucket) as usize).min(self.entries);
        let mut hi = (u32_at(b, self.dir_at + 4 * (bucket + 1)) as usize).min(self.entries).max(lo);
        let low = fp as u32;
        let key = |i: usize| u32_at(b, self.entries_at + i * ENTRY_BYTES);
        // Binary search for the first entry >= low, then the run of equal ones.
        let end = hi;
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if key(mid) < low {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let mut e = lo;
        while e < end && key(e) == low {
            e += 1;
        }
        lo..e
    }

    /// The document of entry `i`.
    #[inline]
    pub(crate) fn entry_doc(&self, i: usize) -> u32 {
        u32_at(self.b(), self.entries_at + i * ENTRY_BYTES + 4)
    }

    /// The position in its document of entry `i`'s fingerprint.
    #[inline]
    pub(crate) fn entry_at(&self, i: usize) -> u32 {
        u32_at(self.b(), self.entries_at + i * ENTRY_BYTES + 8)
    }
}
