//! Content inspection engine for dlpgate: decode, extract, detect, decide.
//!
//! The engine is pure and synchronous; it never touches a socket or a file of its own. The
//! server hands it bodies (in chunks, or as a seekable reader) with a [`ScanContext`], and
//! gets a [`Verdict`] back: allow, monitor or block, the rules that matched, counts per
//! detector and masked evidence with member paths and offsets.
//!
//! ```
//! use std::sync::Arc;
//! use inspect::{Engine, Limits, Policy, ScanContext};
//!
//! let engine = Engine::new(Arc::new(Policy::builtin()), Limits::default());
//! let mut scanner = engine.scanner(ScanContext::default());
//! scanner.feed(b"card: 4111 1111 ");
//! scanner.feed(b"1111 1111\n");
//! let verdict = scanner.finish();
//! assert!(verdict.is_block());
//! assert_eq!(verdict.evidence[0].masked, "4111********1111");
//! ```
//!
//! # In a server
//!
//! ```
//! use std::sync::Arc;
//! use inspect::{Engine, Limits, Method, Policy, PreviewDecision, ScanContext};
//!
//! // Once, at start-up (and again on reload): the policy version goes into the ISTag.
//! let engine = Engine::new(Arc::new(Policy::builtin()), Limits::default());
//! let istag = engine.policy().version().to_string();
//! # assert_eq!(istag.len(), 16);
//!
//! // Per ICAP request.
//! let ctx = ScanContext {
//!     method: Method::Reqmod,
//!     content_type: Some("text/plain".into()),
//!     user: Some("alice".into()),
//!     groups: vec!["finance".into()],
//!     ..ScanContext::default()
//! };
//! let preview = b"quarterly numbers, ";
//! if engine.preview(&ctx, preview) == PreviewDecision::Exempt {
//!     // Answer 204 without reading the rest.
//! }
//! let mut scanner = engine.scanner(ctx);
//! scanner.feed(preview);
//! scanner.feed(b"and the SSN 123-45-6789");
//! let verdict = scanner.finish();
//! assert!(verdict.is_block());
//! assert_eq!(verdict.threat_names(), ["us-ssn"]);
//! assert_eq!(verdict.evidence[0].masked, "***-**-6789");
//! // `Verdict` is `Serialize`: incidents and `--json` output store it as it is.
//! let json = serde_json::to_string(&verdict).unwrap();
//! assert!(!json.contains("123-45-6789"));
//! ```
//!
//! # Layout
//!
//! The split follows ripgrep's matcher / searcher / sink:
//!
//! - [`engine`]: the entry points, [`Engine`] and its per-object [`Scanner`].
//! - `extract`: the searcher. A tree of push nodes turning bytes into one text stream per
//!   member: sniff, then text, decoders, tar, multipart, image/media walkers and raw binary
//!   as streams; zip, 7z, PDF (`extract/pdf/`: structure, filters, content and layout, fonts
//!   and CMaps, syntax), e-mail, RTF, uuencoded files (`extract::uu`, also inline in mail)
//!   and OLE2 compound files from a bounded buffer or in place. `extract::office` reads office documents where their text hides: OOXML and
//!   OpenDocument parts with an office-aware XML reader, and doc, xls, ppt and msg streams
//!   with their own parsers. Every byte is accounted for (`extract::coverage`): what no
//!   parser consumed is scanned as text or as a sniffed member of its own. A member's text
//!   goes through `extract::text_node` (filters, normaliser, base64 blobs, UTF-16 runs, the
//!   tags markup keeps aside). Containers inside text or binary data (a zip, gzip, bzip2,
//!   xz, zstd, 7z or PDF after a text head) are found by their signatures
//!   (`extract::signatures`) and opened by probes (`extract::probe`, `extract::embedded_pdf`).
//! - `decode`: gzip (multi-member), deflate, brotli, bzip2, xz, zstd, lz4, lzma and lzip
//!   push decoders with bounded output and bounded windows.
//! - `charsets`: streaming decoders for any charset label (a leaf: `identify` reads UTF-7
//!   with it, `text` and `extract` read labelled text).
//! - `ebcdic`: EBCDIC text, known and decoded (a leaf: `identify` tells it, `text` reads it).
//! - [`identify`]: content types by magic bytes and structure, and the charset of text
//!   (byte order marks, UTF-16 and UTF-32 without one, legacy CJK encodings, EBCDIC).
//! - `index_bytes`: what the EDM and fingerprint index files share (little-endian reads,
//!   the mixer, the one-word Bloom filter).
//! - `sse2`: the byte-range test every SIMD class mask is built from.
//! - `text`: streaming filters: UTF-16 and UTF-32 (and UTF-16 runs inside other bytes, and
//!   the ends of UTF-16 read both ways), legacy CJK encodings, markup (with what is not text kept aside, and the
//!   text of hidden elements apart: `text::hidden`), JSON, and the normaliser every
//!   member's text goes through before detection (escapes, character references, digits
//!   of every script, Unicode spaces and dashes, invisible characters and combining marks,
//!   Windows-1252).
//! - [`detect`]: the matchers: built-in types, custom regexes, dictionaries, over a bounded
//!   rolling window; its `Found` sink masks values as they are reported.
//! - [`edm`]: Exact Data Match: rows of the organisation's own tables found in content, from
//!   an index of keyed hashes the caller maps and hands to the policy; its builder, too.
//! - [`fingerprint`]: document fingerprints: protected documents found whole or in excerpts,
//!   in any format, from an index of winnowed shingle hashes the caller maps and hands to
//!   the policy; its builder, and the text of a document read by the engine's extraction.
//! - [`mask`]: how values are masked.
//! - [`meta`]: text besides the body (the request URL, file names), scanned first.
//! - [`verdict`]: counts, evidence and the rule decision.
//! - [`policy`]: the TOML policy format, validation with line numbers, the default policy.
//! - [`limits`]: every limit with its named default, the per-object budget, and the
//!   [`MemoryAccount`] a server charges held objects to.
//! - `testkit` (feature `testkit`): a labelled corpus for tests of this crate and the server,
//!   and office documents with text in each hiding place (`testkit::office`, `testkit::ole`,
//!   `testkit::legacy`).

mod charsets;
mod decode;
pub mod detect;
mod ebcdic;
pub mod edm;
pub mod engine;
mod extract;
pub mod fingerprint;
pub mod identify;
mod index_bytes;
pub mod limits;
pub mod mask;
pub mod meta;
pub mod policy;
#[cfg(target_arch = "x86_64")]
mod sse2;
#[cfg(feature = "testkit")]
pub mod testkit;
mod text;
pub mod verdict;

pub use detect::Evidence;
pub use detect::{Builtin, Confidence};
pub use engine::{Engine, PreviewDecision, ScanContext, Scanner};
pub use identify::FileType;
pub use limits::{CouldNotScan, LimitKind, Limits, MemoryAccount};
pub use meta::MetaText;
pub use policy::{
    Action, EdmRule, FingerprintRule, IndexResolver, Method, Policy, PolicyError, Rule, Scope, Severity,
    DEFAULT_POLICY_TOML,
};
pub use verdict::{Decision, RuleMatch, Verdict};
