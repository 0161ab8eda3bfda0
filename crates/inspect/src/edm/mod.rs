//! Exact Data Match: find rows of an organisation's own table (customers, employees) in
//! content, from an index that holds no value of the table, only keyed hashes.
//!
//! - `token`: tokens and the normal forms of cells and content ([`Kind`]).
//! - `keyed`: the keyed hashes ([`EdmKey`]): HMAC-SHA256 for the primary table, SipHash for
//!   the prefilter and the row tags.
//! - `format`: the index file ([`EdmIndex`]), read in place from a memory map.
//! - `build`: the [`Builder`], rows in, index out, in bounded memory.
//! - `lanes`: content's tokens read from SSE2 byte-class masks.
//! - `matcher`: the stream matcher the detection stream runs for each `edm` rule.
//!
//! The engine never opens an index itself: the caller maps the file and the key and hands
//! [`EdmIndex`] to the policy (`Policy::from_toml_str_with`).

mod build;
mod format;
mod keyed;
mod lanes;
mod matcher;
mod token;

pub use build::{
    BadRow, BuildError, BuildOptions, Builder, Report, DEFAULT_MAX_BAD_FRACTION, KIND_SAMPLE_ROWS,
    MAX_REPORTED_LINES, NUMBER_COLUMN_SHARE, SHARDS,
};
pub use format::{Column, EdmIndex, FormatError, IndexBytes, Meta, FORMAT_VERSION};
pub use keyed::{EdmKey, KEY_BYTES};
pub(crate) use matcher::{EdmSpec, EdmStream, Sink};
pub use token::{Cell, Kind, MAX_PHONE_DIGITS, MAX_PHONE_TOKENS, PHONE_DIGITS};

/// Most tokens in a value that can be found ("1 Main Street" is three).
pub const MAX_NGRAM_TOKENS: usize = 5;
/// Longest token that can be part of a value, in bytes.
pub const MAX_TOKEN_BYTES: usize = 128;
/// Longest normal form of a value, in bytes.
pub const MAX_FORM_BYTES: usize = 512;
/// Most bytes of content one value may span, separators included.
pub const MAX_NGRAM_SPAN: usize = 768;
/// Most columns of a table.
pub const MAX_COLUMNS: usize = 64;
/// Most rows of an index (row numbers are 32-bit).
pub const MAX_ROWS: u64 = u32::MAX as u64 - 1;
/// Rows checked for one primary value; a value shared by more rows is a poor primary.
pub const MAX_ROWS_PER_VALUE: usize = 256;
/// Largest `proximity` a rule may ask for, in bytes.
pub const MAX_PROXIMITY: usize = 64 * 1024;
/// Default `proximity`: bytes around the primary where the other fields must lie.
pub const DEFAULT_PROXIMITY: usize = 300;
/// Default `min_fields`: fields of one row, the primary counted.
pub const DEFAULT_MIN_FIELDS: usize = 2;
/// Cap on the directory's size (2^26 buckets of 4 bytes).
pub(crate) const MAX_DIR_BITS: u32 = 26;

#[cfg(test)]
mod tests;
