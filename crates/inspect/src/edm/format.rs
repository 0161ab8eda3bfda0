//! The index file: a fixed header, then sections the scan reads in place from a memory map.
//!
//! ```text
//! header   160 bytes (below)
//! rows     per row: record number u32, line u32, then one u32 tag per column (0: empty)
//! dir      2^dir_bits + 1 u32: index of the first entry whose hash's top bits are >= i
//! entries  (primary hash u64, row u32), sorted by hash then row
//! bloom    2^bloom_log2 u64 words: a blocked Bloom filter of primary tags, 3 bits each
//! meta     JSON: columns (name, kind, primary, shape), counts, source
//! ```
//!
//! Header: magic `DLPGEDM1`, format version u32, header length u32, key check [8], build
//! id [16], columns u32, rows u32, entries u64, dir_bits u32, bloom_log2 u32, then the
//! offsets and lengths of rows, dir, entries, bloom and meta as u64 pairs, then the file
//! length. Integers are little-endian. Every offset is checked against the file at load; a
//! damaged file gives wrong answers or a load error, never a read out of bounds.

use crate::index_bytes::{u32_at, u64_at, Prefilter};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::keyed::EdmKey;
use super::token::Kind;

/// The first bytes of every index file.
pub const MAGIC: &[u8; 8] = b"DLPGEDM1";
/// The layout version this code reads and writes.
/// Version 2: accents and other combining marks no longer count in the forms (version 1
/// indexes hashed `José` and `Jose\u{301}` apart).
pub const FORMAT_VERSION: u32 = 2;
/// Bytes of the header.
pub const HEADER_BYTES: usize = 160;
/// Bytes of one primary-table entry.
pub const ENTRY_BYTES: usize = 12;

/// The bytes of a loaded index: a memory map, or a `Vec` in tests.
pub type IndexBytes = Arc<dyn AsRef<[u8]> + Send + Sync>;

/// What a column is, as the index records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    /// The header's name for it.
    pub name: String,
    /// How its values are normalised.
    pub kind: Kind,
    /// Whether its values start a match.
    pub primary: bool,
    /// Fewest tokens of a non-empty value.
    pub min_tokens: u8,
    /// Most tokens of a non-empty value.
    pub max_tokens: u8,
    /// Shortest normal form, in bytes.
    pub min_len: u16,
    /// Longest normal form, in bytes.
    pub max_len: u16,
    /// Fewest ASCII digits of a normal form. With the three below, what lets a scan pass
    /// over a token that no value can be (a 10-digit phone number where the ids are two
    /// letters and eight digits) without hashing it. Indexes written before these were
    /// recorded read as "any".
    #[serde(default)]
    pub min_digits: u16,
    /// Most ASCII digits of a normal form.
    #[serde(default = "any_count")]
    pub max_digits: u16,
    /// Fewest ASCII letters of a normal form.
    #[serde(default)]
    pub min_letters: u16,
    /// Most ASCII letters of a normal form.
    #[serde(default = "any_count")]
    pub max_letters: u16,
}

/// The most digits or letters of a column whose index did not record them: any number.
fn any_count() -> u16 {
    u16::MAX
}

impl Column {
    /// A column with no value seen yet.
    pub fn new(name: String, kind: Kind, primary: bool) -> Self {
        Self {
            name,
            kind,
            primary,
            min_tokens: u8::MAX,
            max_tokens: 0,
            min_len: u16::MAX,
            max_len: 0,
            min_digits: u16::MAX,
            max_digits: 0,
            min_letters: u16::MAX,
            max_letters: 0,
        }
    }

    /// Widens the shape to take a value of `tokens` tokens and normal form `form`.
    pub(crate) fn widen(&mut self, tokens: usize, form: &[u8]) {
        let count = |n: usize| u16::try_from(n).unwrap_or(u16::MAX);
        let t = u8::try_from(tokens).unwrap_or(u8::MAX);
        let l = count(form.len());
        let digits = count(form.iter().filter(|b| b.is_ascii_digit()).count());
        let letters = count(form.iter().filter(|b| b.is_ascii_alphabetic()).count());
        self.min_tokens = self.min_tokens.min(t);
        self.max_tokens = self.max_tokens.max(t);
        self.min_len = self.min_len.min(l);
        self.max_len = self.max_len.max(l);
        self.min_digits = self.min_digits.min(digits);
        self.max_digits = self.max_digits.max(digits);
        self.min_letters = self.min_letters.min(letters);
        self.max_letters = self.max_letters.max(letters);
    }

    /// Whether any value was seen.
    pub fn has_values(&self) -> bool {
        self.max_tokens > 0
    }
}

/// The index's description, stored as JSON at its end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// The index name.
    pub name: String,
    /// The columns, in file order.
    pub columns: Vec<Column>,
    /// Data records read.
    pub records: u64,
    /// Rows indexed.
    pub rows: u64,
    /// Rows refused (wrong field count, empty primaries, duplicates, not UTF-8).
    pub bad_rows: u64,
    /// Cells that can never be found (too many tokens, too long).
    pub unmatchable_cells: u64,
    /// The file it was built from (its name only).
    pub source: String,
    /// When it was built (Unix seconds).
    pub built_at: u64,
    /// The key file, when it is not the one beside the index's name in the data directory.
    #[serde(default)]
    pub key_file: Option<String>,
}

/// Why an index cannot be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// Not an index file.
    #[error("not a dlpgate EDM index")]
    NotAnIndex,
    /// An index of another format version.
    #[error("an EDM index of format version {0}; this build reads version {FORMAT_VERSION}: build it again with `dlpgate edm index`")]
    OtherVersion(u32),
    /// The key does not belong to the index.
    #[error("the key does not belong to this index (key check failed)")]
    WrongKey,
    /// A section lies outside the file or sizes disagree.
    #[error("damaged index: {0}")]
    Damaged(String),
}

/// Offsets of the header's fields.
pub(crate) mod at {
    pub const VERSION: usize = 8;
    pub const HEADER_LEN: usize = 12;
    pub const KEY_CHECK: usize = 16;
    pub const BUILD_ID: usize = 24;
    pub const COLUMNS: usize = 40;
    pub const ROWS: usize = 44;
    pub const ENTRIES: usize = 48;
    pub const DIR_BITS: usize = 56;
    pub const BLOOM_LOG2: usize = 60;
    /// Five (offset, length) pairs: rows, dir, entries, bloom, meta.
    pub const SECTIONS: usize = 64;
    pub const FILE_LEN: usize = 144;
}

/// A loaded index: its sections read in place.
#[derive(Clone)]
pub struct EdmIndex {
    bytes: IndexBytes,
    key: EdmKey,
    meta: Meta,
    build_id: [u8; 16],
    columns: usize,
    rows: usize,
    row_bytes: usize,
    entries: usize,
    dir_bits: u32,
    bloom_mask: u64,
    rows_at: usize,
    dir_at: usize,
    entries_at: usize,
    bloom_at: usize,
}

impl std::fmt::Debug for EdmIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EdmIndex").field("name", &self.meta.name).field("rows", &self.rows).finish()
    }
}

/// Checks the header and gives the five sections' (offset, length), each inside the file.
fn sections(b: &[u8]) -> Result<[(usize, usize); 5], FormatError> {
    if b.len() < HEADER_BYTES || &b[..8] != MAGIC {
        return Err(FormatError::NotAnIndex);
    }
    let version = u32_at(b, at::VERSION);
    if version != FORMAT_VERSION {
        return Err(FormatError::OtherVersion(version));
    }
    if u32_at(b, at::HEADER_LEN) as usize != HEADER_BYTES {
        return Err(FormatError::NotAnIndex);
    }
    let damaged = |what: &str| FormatError::Damaged(what.to_string());
    if u64_at(b, at::FILE_LEN) != b.len() as u64 {
        return Err(damaged("its length is not the one it was written with (truncated?)"));
    }
    let mut out = [(0usize, 0usize); 5];
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

impl EdmIndex {
    /// Checks the layout of `bytes` and the key; nothing is copied.
    pub fn open(bytes: IndexBytes, key: EdmKey) -> Result<Self, FormatError> {
        let b: &[u8] = (*bytes).as_ref();
        let [(rows_at, rows_len), (dir_at, dir_len), (entries_at, entries_len), (bloom_at, bloom_len), _] =
            sections(b)?;
        if b[at::KEY_CHECK..at::KEY_CHECK + 8] != key.check() {
            return Err(FormatError::WrongKey);
        }
        let damaged = |what: &str| FormatError::Damaged(what.to_string());
        let meta = Self::peek_meta(b)?;
        let columns = u32_at(b, at::COLUMNS) as usize;
        let rows = u32_at(b, at::ROWS) as usize;
        let entries = u64_at(b, at::ENTRIES);
        let dir_bits = u32_at(b, at::DIR_BITS);
        let bloom_log2 = u32_at(b, at::BLOOM_LOG2);
        if columns == 0 || columns > super::MAX_COLUMNS || meta.columns.len() != columns {
            return Err(damaged("column count"));
        }
        let row_bytes = 8 + 4 * columns;
        if rows.checked_mul(row_bytes) != Some(rows_len) {
            return Err(damaged("row table size"));
        }
        if !(1..=31).contains(&dir_bits) || dir_len != ((1usize << dir_bits) + 1) * 4 {
            return Err(damaged("directory size"));
        }
        if entries > u64::from(u32::MAX) || entries as usize * ENTRY_BYTES != entries_len {
            return Err(damaged("primary table size"));
        }
        if bloom_log2 > 40 || bloom_len != 8usize << bloom_log2 {
            return Err(damaged("filter size"));
        }
        let mut build_id = [0u8; 16];
        build_id.copy_from_slice(&b[at::BUILD_ID..at::BUILD_ID + 16]);
        Ok(Self {
            key,
            meta,
            build_id,
            columns,
            rows,
            row_bytes,
            entries: entries as usize,
            dir_bits,
            bloom_mask: (1u64 << bloom_log2) - 1,
            rows_at,
            dir_at,
            entries_at,
            bloom_at,
            bytes,
        })
    }

    /// The description of an index file, read without its key (to list indexes and find
    /// their key files).
    pub fn peek_meta(b: &[u8]) -> Result<Meta, FormatError> {
        let [.., (meta_at, meta_len)] = sections(b)?;
        serde_json::from_slice(&b[meta_at..meta_at + meta_len])
            .map_err(|e| FormatError::Damaged(format!("its description: {e}")))
    }

    /// The description: name, columns, counts.
    pub fn meta(&self) -> &Meta {
        &self.meta
    }

    /// Random bytes chosen at build: a rebuilt index has new ones (policies put them in
    /// their version, so a rebuilt index changes the ISTag).
    pub fn build_id(&self) -> [u8; 16] {
        self.build_id
    }

    /// The key.
    pub(crate) fn key(&self) -> &EdmKey {
        &self.key
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    fn b(&self) -> &[u8] {
        (*self.bytes).as_ref()
    }

    /// The prefilter, to ask about many keys at once.
    pub(crate) fn prefilter(&self) -> Prefilter<'_> {
        Prefilter::new(self.b().get(self.bloom_at..).unwrap_or_default(), self.bloom_mask)
    }

    /// The rows whose primary hash is `hash`, at most `limit` of them.
    pub(crate) fn rows_of(&self, hash: u64, limit: usize, out: &mut Vec<u32>) {
        let b = self.b();
        let bucket = (hash >> (64 - self.dir_bits)) as usize;
        let lo = (u32_at(b, self.dir_at + 4 * bucket) as usize).min(self.entries);
        let hi = (u32_at(b, self.dir_at + 4 * (bucket + 1)) as usize).min(self.entries);
        for i in lo..hi {
            let at = self.entries_at + i * ENTRY_BYTES;
            let h = u64_at(b, at);
            if h == hash {
                out.push(u32_at(b, at + 8));
                if out.len() >= limit {
                    return;
                }
            } else if h > hash {
                return;
            }
        }
    }

    /// Row `row`'s record number, line and cell tags.
    pub(crate) fn row(&self, row: u32) -> Option<RowView<'_>> {
        let row = row as usize;
        if row >= self.rows {
            return None;
        }
        let at = self.rows_at + row * self.row_bytes;
        let b = self.b().get(at..at + self.row_bytes)?;
        Some(RowView { bytes: b })
    }

    /// Number of columns.
    pub fn columns(&self) -> usize {
        self.columns
    }
}

/// One row of the row table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RowView<'a> {
    bytes: &'a [u8],
}

impl RowView<'_> {
    /// The data record number (1-based, the header not counted).
    pub fn record(&self) -> u32 {
        u32_at(self.bytes, 0)
    }
    /// The line the record starts on.
    pub fn line(&self) -> u32 {
        u32_at(self.bytes, 4)
    }
    /// The 32-bit tag of column `c` (0: empty).
    pub fn tag(&self, c: usize) -> u32 {
        u32_at(self.bytes, 8 + 4 * c)
    }
}
