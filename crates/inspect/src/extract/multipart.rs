//! multipart/form-data as a stream: part bodies flow into child nodes as they arrive, so an
//! upload of any size is scanned without holding it. Only parts with a transfer encoding
//! (base64, quoted-printable; rare in forms) are collected and decoded at their end.
//! The preamble, delimiter lines and part headers (file names included) are text; the
//! epilogue after the closing delimiter is a member of its own.

use memchr::memmem;

use super::coverage::{sanitize, scan_name};
use super::mime::{decode_body_junk, decode_cost, head_text, parse_headers, scan_in_charset};
use super::{scan_member_bytes, Ctx, Member, Node, TextNode};
use crate::charsets::Label;
use crate::identify::{multipart_boundary, Charset, Markup};
use crate::limits::LimitKind;

/// Largest header block of one part.
const MAX_PART_HEADERS: usize = 64 * 1024;

#[derive(Debug)]
enum State {
    /// Before the first delimiter: scanned as text (it is also the whole body when the
    /// boundary is wrong).
    Preamble,
    /// Right after a delimiter: `--` ends the body, a line end starts a part; anything else
    /// on the delimiter line is scanned as text.
    AfterDelimiter,
    Headers,
    Body {
        child: Box<Node>,
        /// A part with a transfer encoding, collected to be decoded at its end: the
        /// encoding, the bytes, and what they hold of the budget.
        encoded: Option<(String, Vec<u8>, u64)>,
        /// The part's member, and the charset of a text part whose charset reads differently
        /// from its bytes (such a part is collected too, to be read in it at its end).
        part: Member,
        charset: Option<String>,
    },
    /// After the closing delimiter: the epilogue, a member of its own.
    Epilogue(Box<Node>),
}

/// A streaming multipart parser. Every byte of the body is scanned: preamble, delimiter
/// lines and part headers as text, part bodies as their own members, the epilogue as a
/// sniffed member. Each search resumes where the last one stopped, so the work is linear in
/// the input however it is chunked.
#[derive(Debug)]
pub(crate) struct MultipartNode {
    m: Member,
    /// `\r\n--boundary`; the body is read as if preceded by `\r\n`, so the first delimiter
    /// needs no special case.
    delim: Vec<u8>,
    buf: Vec<u8>,
    /// Bytes of `buf` already searched for what the current state waits for.
    searched: usize,
    state: State,
    parts: u32,
    /// Whether `buf` still starts with the `\r\n` put in front of the body.
    fresh: bool,
    /// Preamble, delimiter lines and part headers.
    text: TextNode,
    /// Bytes examined by searches so far (tests check that it stays linear).
    work: u64,
}

impl MultipartNode {
    pub fn new(m: Member, boundary: &str) -> Self {
        let mut delim = b"\r\n--".to_vec();
        delim.extend_from_slice(boundary.as_bytes());
        let text = TextNode::new(m.child("(preamble and headers)"), Charset::Bytes, Markup::Plain);
        Self {
            m,
            delim,
            buf: b"\r\n".to_vec(),
            searched: 0,
            state: State::Preamble,
            parts: 0,
            fresh: true,
            text,
            work: 0,
        }
    }

    pub fn write(&mut self, cx: &mut Ctx<'_>, data: &[u8]) {
        if let State::Epilogue(e) = &mut self.state {
            e.write(cx, data);
            return;
        }
        self.buf.extend_from_slice(data);
        self.step(cx, false);
    }

    pub fn finish(&mut self, cx: &mut Ctx<'_>) {
        self.step(cx, true);
        if cx.stopped() {
            return;
        }
        match std::mem::replace(&mut self.state, State::Preamble) {
            State::Preamble => {
                // No delimiter at all: the whole body was text.
                let skip = if self.fresh { 2.min(self.buf.len()) } else { 0 };
                self.text.write(cx, &self.buf[skip..]);
            }
            State::Body { mut child, encoded, part, charset } => {
                end_part(cx, &self.m, &mut child, encoded, &part, charset.as_deref())
            }
            State::Epilogue(mut e) => e.finish(cx),
            // A body cut inside a delimiter line or a part's headers: scan what is there.
            State::AfterDelimiter | State::Headers => self.text.write(cx, &self.buf),
        }
        self.buf.clear();
        self.text.finish(cx);
    }

    fn step(&mut self, cx: &mut Ctx<'_>, last: bool) {
        let dl = self.delim.len();
        loop {
            if cx.stopped() {
                self.buf.clear();
                return;
            }
            match &mut self.state {
                State::Epilogue(e) => {
                    let rest = std::mem::take(&mut self.buf);
                    e.write(cx, &rest);
                    return;
                }
                State::Preamble => {
                    match find_from(&self.buf, &self.delim, &mut self.searched, &mut self.work) {
                        Some(p) => {
                            let skip = if self.fresh { 2.min(p) } else { 0 };
                            self.text.write(cx, &self.buf[skip..p]);
                            // The next text written here is not contiguous with this.
                            self.text.write(cx, b"\n");
                            self.consume(p + dl);
                            self.state = State::AfterDelimiter;
                        }
                        None => {
                            if last {
                                return;
                            }
                            // Scan all but what could start a delimiter.
                            let keep_from = self.buf.len().saturating_sub(dl - 1);
                            if keep_from > 2 {
                                let skip = if self.fresh { 2 } else { 0 };
                                self.text.write(cx, &self.buf[skip..keep_from]);
                                self.consume(keep_from);
                                self.fresh = false;
                            }
                            return;
                        }
                    }
                }
                State::AfterDelimiter => {
                    if self.buf.len() < 2 {
                        return;
                    }
                    if self.buf.starts_with(b"--") {
                        // The line end of the close delimiter, then the epilogue.
                        let eol = match self.buf.get(2..4) {
                            Some(b"\r\n") => 4,
                            Some([b'\n', _]) => 3,
                            Some(_) => 2,
                            None if last => self.buf.len(),
                            None => return,
                        };
                        let e = self.m.child("(epilogue)");
                        if !cx.st.budget.add_member(&e.path) {
                            return;
                        }
                        self.consume(eol);
                        self.state = State::Epilogue(Box::new(Node::new(e, None)));
                        continue;
                    }
                    match memchr::memchr(b'\n', &self.buf) {
                        Some(n) => {
                            // Transport padding is whitespace; anything else is text.
                            if self.buf[..n].iter().any(|b| !b.is_ascii_whitespace()) {
                                self.text.write(cx, &self.buf[..=n]);
                            }
                            self.consume(n + 1);
                            self.state = State::Headers;
                        }
                        None if self.buf.len() > 1024 => {
                            cx.corrupt(&self.m.path, "multipart delimiter line too long");
                            return;
                        }
                        None => return,
                    }
                }
                State::Headers => {
                    let Some((h_end, b_start)) = headers_end(&self.buf, &mut self.searched, &mut self.work)
                    else {
                        if self.buf.len() > MAX_PART_HEADERS {
                            cx.corrupt(&self.m.path, "multipart part headers too long");
                        }
                        return;
                    };
                    let head = self.buf[..h_end].to_vec();
                    self.consume(b_start);
                    self.start_part(cx, &head);
                }
                State::Body { child, encoded, .. } => {
                    let (take, found) =
                        match find_from(&self.buf, &self.delim, &mut self.searched, &mut self.work) {
                            Some(p) => (p, true),
                            None if last => return,
                            None => (self.buf.len().saturating_sub(dl - 1), false),
                        };
                    let piece = &self.buf[..take];
                    match encoded {
                        Some((_, v, held)) => {
                            if (v.len() + piece.len()) as u64 > cx.st.budget.limits.max_buffered_bytes {
                                cx.st.budget.limit(LimitKind::MaxBufferedBytes, &self.m.path);
                                return;
                            }
                            if !cx.st.budget.grow(v, piece.len(), held, &self.m.path) {
                                return;
                            }
                            v.extend_from_slice(piece);
                        }
                        None => child.write(cx, piece),
                    }
                    if !found {
                        self.consume(take);
                        return;
                    }
                    self.consume(take + dl);
                    if let State::Body { mut child, encoded, part, charset } =
                        std::mem::replace(&mut self.state, State::AfterDelimiter)
                    {
                        end_part(cx, &self.m, &mut child, encoded, &part, charset.as_deref());
                    }
                }
            }
        }
    }

    /// Drops the first `n` bytes of the buffer; the next search starts over.
    fn consume(&mut self, n: usize) {
        self.buf.drain(..n.min(self.buf.len()));
        self.searched = 0;
        self.fresh = false;
    }

    /// Scans a part's header block as text and opens the part's node.
    fn start_part(&mut self, cx: &mut Ctx<'_>, head: &[u8]) {
        self.parts += 1;
        let before = cx.st.hits.total();
        self.text.write(cx, &head_text(head));
        self.text.write(cx, b"\n");
        let h = parse_headers(head);
        let mut label = h.label(self.parts);
        // A name the header text did not show as it is (RFC 2231 or 2047 encoded) is
        // scanned decoded.
        if memmem::find(head, label.as_bytes()).is_none() {
            label = scan_name(cx, &self.m, &label, u64::from(self.parts));
        }
        if cx.st.hits.total() > before {
            label = format!("(part {}, name withheld)", self.parts);
        }
        let m = self.m.child(&sanitize(&label));
        if !cx.st.budget.add_member(&m.path) {
            return;
        }
        let ct = h.content_type.filter(|c| multipart_boundary(c).is_some());
        let charset = h.charset.filter(|c| Label::of(c.as_bytes()).is_some_and(Label::transforms));
        let encoded = h
            .encoding
            .filter(|e| e == "base64" || e == "quoted-printable")
            .or_else(|| charset.as_ref().map(|_| "8bit".to_string()))
            .map(|e| (e, Vec::new(), 0));
        self.state = State::Body { child: Box::new(Node::new(m.clone(), ct)), encoded, part: m, charset };
    }
}

/// Finds `needle` in `buf`, resuming after what `searched` says was already searched
/// without a match (and moving it on when there is none).
fn find_from(buf: &[u8], needle: &[u8], searched: &mut usize, work: &mut u64) -> Option<usize> {
    let from = searched.saturating_sub(needle.len() - 1).min(buf.len());
    *work += (buf.len() - from) as u64;
    match memmem::find(&buf[from..], needle) {
        Some(p) => Some(from + p),
        None => {
            *searched = buf.len();
            None
        }
    }
}

/// The end of a header block at the start of `buf`: (end of the headers, start of the
/// body), resuming the search where it stopped.
fn headers_end(buf: &[u8], searched: &mut usize, work: &mut u64) -> Option<(usize, usize)> {
    if buf.starts_with(b"\r\n") {
        return Some((0, 2));
    }
    if buf.starts_with(b"\n") {
        return Some((0, 1));
    }
    let from = searched.saturating_sub(3).min(buf.len());
    *work += (buf.len() - from) as u64;
    let mut at = from;
    while let Some(i) = memchr::memchr(b'\n', &buf[at..]) {
        let nl = at + i;
        if buf.get(nl + 1) == Some(&b'\n') {
            return Some((nl, nl + 2));
        }
        if buf.get(nl + 1..nl + 3) == Some(b"\r\n") {
            let end = if nl > 0 && buf[nl - 1] == b'\r' { nl - 1 } else { nl };
            return Some((end, nl + 3));
        }
        at = nl + 1;
    }
    *searched = buf.len();
    None
}

/// Decodes a collected part, if it was encoded (holding the decoded copy while it exists),
/// and ends its node; a text part is read in its charset too, base64 with bytes outside
/// its alphabet as it is written too (see `mime::scan_decoded`).
fn end_part(
    cx: &mut Ctx<'_>,
    m: &Member,
    child: &mut Node,
    encoded: Option<(String, Vec<u8>, u64)>,
    part: &Member,
    charset: Option<&str>,
) {
    let Some((enc, v, held)) = encoded else {
        return child.finish(cx);
    };
    let cost = decode_cost(v.len(), Some(&enc));
    let mut junk = false;
    if cx.st.budget.hold(cost, &m.path) {
        let (decoded, j) = decode_body_junk(&v, Some(&enc));
        junk = j;
        child.write(cx, &decoded);
        child.finish(cx);
        scan_in_charset(cx, &decoded, charset, part);
        drop(decoded);
        cx.st.budget.release(cost);
    } else {
        child.finish(cx);
    }
    if junk {
        scan_member_bytes(cx, &v, part.child("(as written)"), None);
    }
    drop(v);
    cx.st.budget.release(held);
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::detect::Hits;
    use crate::extract::State as ScanState;
    use crate::limits::{Budget, Limits};
    use crate::policy::Policy;

    /// Feeds `body` in pieces of `chunk` bytes; returns the search work and the matches.
    fn feed(body: &[u8], chunk: usize) -> (u64, u64) {
        let policy = Policy::builtin();
        let mut st = ScanState {
            hits: Hits::new(10),
            budget: Budget::new(Limits::default(), None),
            types: BTreeSet::new(),
            text_bytes: 0,
            prints: None,
        };
        let mut cx = Ctx { set: &policy.detectors, exempt: &[], st: &mut st };
        let mut node = MultipartNode::new(Member { path: String::new(), depth: 0 }, "XyZ");
        for c in body.chunks(chunk) {
            node.write(&mut cx, c);
        }
        node.finish(&mut cx);
        let work = node.work;
        (work, st.hits.total())
    }

    #[test]
    fn searches_are_linear_whatever_the_chunking() {
        let mut body = b"lorem ipsum ".repeat(90_000);
        body.extend_from_slice(b" ssn 123-45-6789\r\n--XyZ\r\nContent-Disposition: form-data; name=\"f\"");
        body.extend(std::iter::repeat_n(b'h', 60 << 10));
        body.extend_from_slice(b"\r\n\r\nbody\r\n--XyZ--\r\nepilogue 4111 1111 1111 1111");
        for chunk in [4096, 7, 1] {
            let (work, hits) = feed(&body, chunk);
            assert_eq!(hits, 2, "chunk {chunk}");
            // Each byte is searched a bounded number of times: once, plus the carried-over
            // tail (a delimiter's length) at each call. The old code searched the whole
            // held preamble again at each call: about 1 MiB times 1 MiB with 1-byte chunks.
            let bound = (b"\r\n--XyZ".len() as u64 + 2) * body.len() as u64;
            assert!(work < bound, "chunk {chunk}: {work} for {}", body.len());
        }
    }
}
