//! A PDF inside another object's bytes (appended to text, or in the middle of binary data),
//! past the first KiB where identification would have chosen the PDF parser. Its raw bytes
//! are the host's text, but the text in its compressed streams, fonts and object streams is
//! only read by the PDF parser: without this, one KiB of text in front of a PDF hid every
//! compressed page.
//!
//! A PDF needs random access, so the probe keeps its bytes (held against the object's
//! buffering limit and the process's memory budget) and reads them when the host ends. It
//! opens only on a header followed by an indirect object (`1 0 obj`) within
//! [`VALIDATE_WITHIN`] bytes, so a `%PDF-1.4` quoted in a log opens nothing. It does not end
//! at `%%EOF`: a reader follows the cross-reference table at the end, and an `%%EOF` (or
//! anything else) planted in a stream must not cut the objects after it off; so bytes after
//! the PDF are read twice, as the host's text and as the PDF's.

use super::{pdf, Ctx, Member};
use crate::identify::FileType;

/// Bytes after the start of `%PDF-` in which an indirect object must begin for a header to
/// open a probe. Writers put the first object right after the header and its binary
/// comment line; one KiB leaves room for any header comment seen in practice.
pub(super) const VALIDATE_WITHIN: usize = 1024;

/// What a probe that saw a PDF header is doing.
#[derive(Debug)]
pub(super) enum PdfProbe {
    /// The header and what follows it, until an indirect object shows it is a PDF.
    Head(Vec<u8>),
    /// A PDF being kept until the host ends, and what it holds of the budget.
    Body {
        buf: Vec<u8>,
        held: u64,
    },
    Done,
}

impl PdfProbe {
    pub fn new() -> Self {
        PdfProbe::Head(Vec::new())
    }

    /// Takes the host's next bytes; false once it turned out not to be a PDF, or a limit
    /// stopped the object.
    pub fn write(&mut self, cx: &mut Ctx<'_>, m: &Member, data: &[u8]) -> bool {
        let mut data = data;
        if let PdfProbe::Head(h) = self {
            let take = (VALIDATE_WITHIN - h.len()).min(data.len());
            h.extend_from_slice(&data[..take]);
            data = &data[take..];
            if !has_indirect_object(h) {
                // Not a PDF once the window is full; wait for more otherwise.
                return h.len() < VALIDATE_WITHIN;
            }
            if !cx.st.budget.add_member(&m.path) {
                return false;
            }
            // Policies that act on file types see the PDF, as at the head of an object.
            cx.st.types.insert(FileType::Pdf);
            let head = std::mem::take(h);
            *self = PdfProbe::Body { buf: Vec::new(), held: 0 };
            if !self.keep(cx, m, &head) {
                return false;
            }
        }
        self.keep(cx, m, data)
    }

    /// The host ended: a validated PDF is read.
    pub fn finish(&mut self, cx: &mut Ctx<'_>, m: &Member) {
        if let PdfProbe::Body { buf, .. } = self {
            if !cx.stopped() {
                pdf::scan_pdf(cx, buf, m);
            }
        }
        self.give_back(cx);
    }

    /// Keeps `data`; false (the object stopped at a limit) when the budget has no room.
    fn keep(&mut self, cx: &mut Ctx<'_>, m: &Member, data: &[u8]) -> bool {
        let PdfProbe::Body { buf, held } = self else { return false };
        if data.is_empty() {
            return true;
        }
        if cx.st.budget.grow(buf, data.len(), held, &m.path) {
            buf.extend_from_slice(data);
            return true;
        }
        self.give_back(cx);
        false
    }

    fn give_back(&mut self, cx: &mut Ctx<'_>) {
        if let PdfProbe::Body { held, .. } = std::mem::replace(self, PdfProbe::Done) {
            cx.st.budget.release(held);
        }
    }
}

/// Whether `h` (from `%PDF-` on) holds an indirect object's start, `N G obj` followed by a
/// delimiter, past the header.
fn has_indirect_object(h: &[u8]) -> bool {
    memchr::memmem::find_iter(h, b"obj").any(|at| {
        let after = h.get(at + 3).is_some_and(|&b| is_white(b) || b"<[(/%".contains(&b));
        after && at >= 8 && object_number_before(&h[..at])
    })
}

/// Whether `s` ends in `N G ` (numbers separated and followed by white space), standing
/// after white space or at its start.
fn object_number_before(s: &[u8]) -> bool {
    let mut i = s.len();
    for _ in 0..2 {
        let white = i;
        while i > 0 && is_white(s[i - 1]) {
            i -= 1;
        }
        let digits = i;
        while i > 0 && s[i - 1].is_ascii_digit() {
            i -= 1;
        }
        if white == digits || digits == i {
            return false;
        }
    }
    i == 0 || is_white(s[i - 1])
}

/// PDF white space.
fn is_white(b: u8) -> bool {
    matches!(b, 0 | b'\t' | b'\n' | 0x0C | b'\r' | b' ')
}
