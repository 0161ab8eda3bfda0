//! Office documents, read by parsers that know where their text hides.
//!
//! - OOXML (docx, xlsx, pptx) and OpenDocument (odt, ods, odp) are zip packages:
//!   [`scan_part`] reads every XML part with the office-aware XML reader (`xml`), which joins
//!   text split across runs and keeps paragraphs, cells and tabs apart; other members (media,
//!   embedded objects) go through the generic pipeline.
//! - Legacy binary Office (doc, xls, ppt) and Outlook msg are OLE2 compound files:
//!   [`scan_cfb`] walks the storage tree and hands each known stream to its parser (`doc`,
//!   `xls`, `ppt`, `msg`, `props`).
//!
//! The accounting principle: every byte is inspected as text, or accounted for by a parser
//! that extracted it, or the object is could-not-scan. What a parser does not understand
//! (unknown streams, records, unallocated sectors) is scanned as raw bytes plus UTF-16 runs
//! ([`RawSink`]); a structure that cannot be followed (a broken sector chain, record framing,
//! piece table or compressed RTF) makes the object could-not-scan `Corrupt` after everything
//! readable was scanned, so damaging a file can never make text pass unseen.

mod bytes;
mod chpx;
mod doc;
mod literals;
mod lzfu;
mod msg;
mod numfmt;
mod ole;
mod package;
mod ppt;
mod props;
mod slack;
mod xls;
mod xml;

use super::{Ctx, Member, Node, TextNode};
use crate::identify::{identify, Charset, FileType, Kind, Markup, SNIFF_LEN};

pub(crate) use ole::scan_cfb;
pub(crate) use package::{package_dialect, scan_part};

/// Text batched before it goes to the detectors: parsers produce many small pieces (one per
/// XML run, record or property), and one detector call per piece would cost more than the
/// parsing.
const SINK_BATCH: usize = 64 * 1024;

/// One detection stream of extracted text. Pieces pushed back to back are scanned as one
/// text; [`Sink::sep`] puts a line break between two pieces that must not join.
#[derive(Debug)]
pub(super) struct Sink {
    m: Member,
    node: Option<TextNode>,
    buf: Vec<u8>,
    /// A separator is owed before the next piece (separators are written lazily, so that
    /// runs of empty elements cost nothing).
    pending_sep: bool,
    /// Whether anything was written since the last separator.
    dirty: bool,
}

impl Sink {
    pub fn new(m: &Member) -> Self {
        Self { m: m.clone(), node: None, buf: Vec::new(), pending_sep: false, dirty: false }
    }

    pub fn push(&mut self, cx: &mut Ctx<'_>, piece: &[u8]) {
        if piece.is_empty() {
            return;
        }
        if self.pending_sep {
            self.buf.push(b'\n');
            self.pending_sep = false;
        }
        self.buf.extend_from_slice(piece);
        self.dirty = true;
        if self.buf.len() >= SINK_BATCH {
            self.flush(cx);
        }
    }

    /// Ends the current piece: what comes next is a different paragraph, cell or value.
    pub fn sep(&mut self) {
        if self.dirty {
            self.pending_sep = true;
            self.dirty = false;
        }
    }

    /// One complete value (an attribute, a property): pushed, then separated.
    pub fn value(&mut self, cx: &mut Ctx<'_>, piece: &[u8]) {
        self.sep();
        self.push(cx, piece);
        self.sep();
    }

    fn flush(&mut self, cx: &mut Ctx<'_>) {
        if self.buf.is_empty() {
            return;
        }
        let node =
            self.node.get_or_insert_with(|| TextNode::new(self.m.clone(), Charset::Bytes, Markup::Plain));
        node.write(cx, &self.buf);
        self.buf.clear();
    }

    pub fn finish(&mut self, cx: &mut Ctx<'_>) {
        self.flush(cx);
        if let Some(mut node) = self.node.take() {
            node.finish(cx);
        }
    }
}

/// Bytes no parser accounted for, scanned as they are and for UTF-16LE runs, like an
/// unknown binary. [`RawSink::boundary`] keeps two unrelated blobs from joining.
#[derive(Debug)]
pub(super) struct RawSink {
    node: TextNode,
    /// Bytes written since the last boundary (its parity keeps UTF-16 aligned per blob).
    written: u64,
}

impl RawSink {
    pub fn new(m: &Member) -> Self {
        let mut node = TextNode::new(m.clone(), Charset::Bytes, Markup::Plain);
        node.read_utf16_runs();
        Self { node, written: 0 }
    }

    pub fn push(&mut self, cx: &mut Ctx<'_>, data: &[u8]) {
        self.node.write(cx, data);
        self.written += data.len() as u64;
    }

    /// Ends a blob: a byte that is neither text nor part of a UTF-16 character (two when
    /// the blob had an even length, so the next blob starts UTF-16 aligned).
    pub fn boundary(&mut self, cx: &mut Ctx<'_>) {
        if self.written == 0 {
            return;
        }
        let sep: &[u8] = if self.written % 2 == 1 { &[0xFF] } else { &[0xFF, 0xFF] };
        self.node.write(cx, sep);
        self.written = 0;
    }

    /// One blob, boundaries on both sides.
    pub fn blob(&mut self, cx: &mut Ctx<'_>, data: &[u8]) {
        self.push(cx, data);
        self.boundary(cx);
    }

    pub fn finish(&mut self, cx: &mut Ctx<'_>) {
        self.node.finish(cx);
    }
}

/// Bytes held in memory that no office parser knows (a CFB stream, an embedded file):
/// containers and documents go through the generic pipeline, anything else is scanned as
/// raw bytes plus UTF-16 runs.
pub(super) fn scan_opaque(cx: &mut Ctx<'_>, data: &[u8], m: Member) {
    if !cx.st.budget.add_member(&m.path) || !cx.st.budget.check_time(&m.path) {
        return;
    }
    let kind = identify(&data[..data.len().min(SNIFF_LEN)], None);
    if kind == Kind::Raw(FileType::Binary) {
        cx.st.types.insert(FileType::Binary);
        if cx.exempt.contains(&FileType::Binary) {
            return;
        }
        let mut raw = RawSink::new(&m);
        raw.push(cx, data);
        raw.finish(cx);
        return;
    }
    let mut node = Node::new(m, None);
    node.write(cx, data);
    node.finish(cx);
}

/// Counts `n` more bytes produced for member `m` (`produced` so far, from `compressed`
/// input): false once a limit stops the scan.
pub(super) fn meter(cx: &mut Ctx<'_>, m: &Member, n: usize, produced: u64, compressed: Option<u64>) -> bool {
    let b = &mut cx.st.budget;
    b.add_decompressed(n as u64, &m.path)
        && compressed.is_none_or(|c| b.check_ratio(produced, c, &m.path))
        && b.check_time(&m.path)
}

/// Member names from a file go into evidence and logs: printable and short.
pub(super) fn clean_name(name: &str) -> String {
    name.chars().map(|c| if c.is_control() { '?' } else { c }).take(256).collect()
}
