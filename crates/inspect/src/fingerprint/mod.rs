//! Document fingerprints (indexed document matching): find the organisation's protected
//! documents, whole or in excerpts, in content, whatever its format, line breaks, case or
//! punctuation.
//!
//! - `shingle`: words, [`SHINGLE_WORDS`]-word shingles and winnowing ([`Shingler`]);
//!   `words`: the word bytes of a 64-byte block as a bit mask, for its fast path.
//! - `format`: the index file ([`FingerprintIndex`]), read in place from a memory map.
//! - `build`: the [`Builder`], documents in, index out, in bounded memory.
//! - `documents`: the per-document records kept beside an index so that documents can be
//!   added and removed without the originals ([`DocumentRecord`]).
//! - `matcher`: the per-object state a scan keeps (`ObjectPrints`): fingerprints found in
//!   any of the object's text streams, looked up in the policy's indexes, and the share of
//!   each protected document found when the object ends.
//! - `member_copy`: the digests of the object's members, so a document inside an archive,
//!   a compressed stream or an attachment is an exact copy too.
//!
//! The engine never opens an index itself: the caller maps the file and hands
//! [`FingerprintIndex`] to the policy (`Policy::from_toml_str_with_indexes`). The text of a
//! protected document comes from the engine's own extraction
//! ([`Engine::fingerprint_reader`](crate::Engine::fingerprint_reader)), so a document and a
//! copy of it in another format are read the same way.

mod build;
mod documents;
mod format;
mod matcher;
mod member_copy;
mod shingle;
mod words;

pub use build::{BuildError, BuildOptions, Builder, Report, SHARDS};
pub use documents::{read_records, write_magic, write_record, DocumentRecord, RecordError, MAX_NAME_BYTES};
pub use format::{Document, FingerprintIndex, FormatError, IndexBytes, Meta, FORMAT_VERSION};
pub use matcher::{Collected, Print};
pub(crate) use matcher::{FingerprintSpec, ObjectPrints};
pub(crate) use member_copy::MemberHash;
pub use member_copy::MAX_MEMBER_DIGESTS;
pub use shingle::{fingerprints_of_text, position, Shingler, POSITION_BITS};

/// Words in a shingle. Six words is a short clause: long enough that shared phrases of
/// ordinary language ("in accordance with the terms of") rarely make a whole shingle, short
/// enough that an edited word spoils only six shingles.
pub const SHINGLE_WORDS: usize = 6;
/// Shingles in a winnowing window. The fingerprints kept are about `2 / (WINDOW + 1)` of
/// the shingles (one every 6.5 words), and any run of `WINDOW + SHINGLE_WORDS - 1` = 17
/// words shared with a protected document holds at least one of its fingerprints.
pub const WINDOW: usize = 12;
/// Default cap on the documents one fingerprint may belong to: a passage found in more
/// protected documents than this is template text, and says little about which leaked.
pub const DEFAULT_MAX_DOC_FREQUENCY: u32 = 64;
/// Most fingerprints kept per document; a longer document keeps the least hashes, a
/// uniform sample, so shares stay unbiased.
pub const MAX_FINGERPRINTS_PER_DOCUMENT: usize = 65_536;
/// Most documents in one index (document numbers are 32-bit).
pub const MAX_DOCUMENTS: usize = 16_000_000;
/// Most distinct index fingerprints tracked per scanned object in a hash set; past it the
/// object's matches go to a bitmap of the index's entries (one bit each), so memory stays
/// bounded by the index's size and no match is forgotten.
pub const MAX_TRACKED_FINGERPRINTS: usize = 65_536;
/// Fewest fingerprints of a document that must be found for a share to count (an exact
/// copy counts whatever its size): one shared 17-word run is not a leak of a short note.
pub const MIN_MATCHED_FINGERPRINTS: u32 = 3;
/// Fingerprints of a document at most this many shingles apart, both found, are taken for
/// one run of shared text: two windows and a shingle, the most an edited word can part them.
pub const MERGE_GAP: u32 = 2 * WINDOW as u32 + SHINGLE_WORDS as u32;
/// Most positions of found fingerprints kept per scanned object (4 bytes each); past it,
/// shares are estimated from counts.
pub const MAX_TRACKED_POSITIONS: usize = 1 << 22;
/// Fingerprints looked up together (independent loads the processor overlaps).
pub(crate) const LOOKUP_BATCH: usize = 1024;

#[cfg(test)]
mod tests;
