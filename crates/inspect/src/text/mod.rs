//! Streaming text filters, each a small state machine that takes any chunking of its input
//! and appends its output to a `Vec`, so the text of a member is scanned as it arrives:
//!
//! - [`Wide`]: UTF-16 and UTF-32 to UTF-8 (and UTF-7, legacy CJK, EBCDIC; [`crate::charsets`]: text
//!   in the charset a label names); [`Utf16Anywhere`]: UTF-16 text inside
//!   other text or binary data.
//! - [`Markup`]: HTML and XML to text (hidden elements apart, `hidden`); [`Json`]: JSON
//!   string contents with escapes decoded; [`Unfold`]: vCard, iCalendar and LDIF lines
//!   unfolded.
//! - [`Normalizer`]: what every member's text goes through last: escapes (percent, `\u`,
//!   quoted-printable, form bodies), character references, and the Unicode fold of
//!   `unicode` (digits of every script, spaces, dashes, invisible characters).
//!   Around escapes that may eat a value's digits (`%4111 ...`), the raw text is also
//!   handed on (`unescaped`), to be read again by a fold-only normaliser.
//! - [`Blobs`]: base64 blobs in the normalised text, decoded for the member's node to open
//!   as child objects.

mod b64_lanes;
mod blobs;
mod chars;
mod entities;
mod hidden;
mod json;
mod markup;
mod normalize;
mod sniff;
mod unescaped;
mod unfold;
pub(crate) mod unicode;
mod wide;

pub(crate) use blobs::{Blobs, Piece};
pub(crate) use json::Json;
pub(crate) use markup::Markup;
pub(crate) use normalize::{Normalizer, Options};
pub(crate) use unfold::Unfold;
pub(crate) use wide::{Utf16Anywhere, Wide, WideEdges};

/// The UTF-16 decoder is the [`Wide`] decoder (kept under its old name for the PDF reader).
pub(crate) type Utf16 = Wide;
