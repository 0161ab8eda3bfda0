//! multipart/form-data as a stream: part bodies flow into child nodes as they arrive, so an
//! upload of any size is scanned without holding it. Only parts with a transfer encoding
//! (base64, quoted-printable; rare in forms) are collected and decoded at their end.

use memchr::memmem;

use super::mime::{decode_body, parse_headers};
use super::{Ctx, Member, Node, TextNode};
use crate::identify::{multipart_boundary, Charset, Markup};
use crate::limits::LimitKind;

/// Largest header block of one part.
const MAX_PART_HEADERS: usize = 64 * 1024;

#[derive(Debug)]
enum State {
    /// Before the first delimiter: scanned as text, in case the boundary is wrong.
    Preamble(Box<TextNode>),
    /// Right after a delimiter: `--` ends the body, a line end starts a part.
    AfterDelimiter,
    Headers,
    Body {
        child: Box<Node>,
        encoded: Option<(String, Vec<u8>)>,
    },
    End,
}

/// A streaming multipart parser.
#[derive(Debug)]
pub(crate) struct MultipartNode {
    m: Member,
    /// `\r\n--boundary`; the body is read as if preceded by `\r\n`, so the first delimiter
    /// needs no special case.
    delim: Vec<u8>,
    buf: Vec<u8>,
    state: State,
    parts: u32,
    /// Whether `buf` still starts with the `\r\n` put in front of the body.
    fresh: bool,
}

impl MultipartNode {
    pub fn new(m: Member, boundary: &str) -> Self {
        let mut delim = b"\r\n--".to_vec();
        delim.extend_from_slice(boundary.as_bytes());
        let pre = TextNode::new(m.child("preamble"), Charset::Bytes, Markup::Plain);
        Self { m, delim, buf: b"\r\n".to_vec(), state: State::Preamble(Box::new(pre)), parts: 0, fresh: true }
    }

    pub fn write(&mut self, cx: &mut Ctx<'_>, data: &[u8]) {
        self.buf.extend_from_slice(data);
        self.step(cx, false);
    }

    pub fn finish(&mut self, cx: &mut Ctx<'_>) {
        self.step(cx, true);
        match std::mem::replace(&mut self.state, State::End) {
            State::Preamble(mut t) => {
                // No delimiter at all: the whole body was scanned as text.
                t.write(cx, &self.buf);
                t.finish(cx);
            }
            State::Body { mut child, encoded, .. } => end_part(cx, &mut child, encoded),
            _ => {}
        }
        self.buf.clear();
    }

    fn step(&mut self, cx: &mut Ctx<'_>, last: bool) {
        let dl = self.delim.len();
        loop {
            if cx.stopped() {
                self.buf.clear();
                return;
            }
            match &mut self.state {
                State::End => {
                    self.buf.clear();
                    return;
                }
                State::Preamble(t) => match memmem::find(&self.buf, &self.delim) {
                    Some(p) => {
                        let skip = if self.fresh { 2.min(p) } else { 0 };
                        let pre = self.buf[skip..p].to_vec();
                        if pre.iter().any(|b| !b.is_ascii_whitespace()) {
                            t.write(cx, &pre);
                        }
                        t.finish(cx);
                        self.buf.drain(..p + dl);
                        self.state = State::AfterDelimiter;
                    }
                    None => {
                        if last {
                            return;
                        }
                        // Keep the text for a possible fallback scan, up to a bound.
                        if self.buf.len() > 1 << 20 {
                            let keep = self.buf.len() - dl;
                            t.write(cx, &self.buf[..keep]);
                            self.buf.drain(..keep);
                            self.fresh = false;
                        }
                        return;
                    }
                },
                State::AfterDelimiter => {
                    if self.buf.len() < 2 {
                        return;
                    }
                    if self.buf.starts_with(b"--") {
                        self.state = State::End;
                        continue;
                    }
                    match memchr::memchr(b'\n', &self.buf) {
                        Some(n) => {
                            self.buf.drain(..=n);
                            self.state = State::Headers;
                        }
                        None if self.buf.len() > 1024 => {
                            cx.corrupt(&self.m.path, "multipart delimiter line too long");
                            self.state = State::End;
                        }
                        None => return,
                    }
                }
                State::Headers => {
                    let end = if self.buf.starts_with(b"\r\n") {
                        Some((0, 2))
                    } else if self.buf.starts_with(b"\n") {
                        Some((0, 1))
                    } else {
                        let crlf = memmem::find(&self.buf, b"\r\n\r\n").map(|i| (i, i + 4));
                        let lf = memmem::find(&self.buf, b"\n\n").map(|i| (i, i + 2));
                        match (crlf, lf) {
                            (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
                            (a, b) => a.or(b),
                        }
                    };
                    let Some((h_end, b_start)) = end else {
                        if self.buf.len() > MAX_PART_HEADERS {
                            cx.corrupt(&self.m.path, "multipart part headers too long");
                            self.state = State::End;
                            continue;
                        }
                        return;
                    };
                    let h = parse_headers(&self.buf[..h_end]);
                    self.buf.drain(..b_start);
                    self.parts += 1;
                    let label = h.label(self.parts);
                    let m = self.m.child(&label);
                    if !cx.st.budget.add_member(&m.path) {
                        continue;
                    }
                    let ct = h.content_type.filter(|c| multipart_boundary(c).is_some());
                    let encoded = h
                        .encoding
                        .filter(|e| e == "base64" || e == "quoted-printable")
                        .map(|e| (e, Vec::new()));
                    self.state = State::Body { child: Box::new(Node::new(m, ct)), encoded };
                }
                State::Body { child, encoded, .. } => {
                    let (take, found) = match memmem::find(&self.buf, &self.delim) {
                        Some(p) => (p, true),
                        None if last => return,
                        None => (self.buf.len().saturating_sub(dl - 1), false),
                    };
                    let piece = &self.buf[..take];
                    match encoded {
                        Some((_, v)) => {
                            if (v.len() + piece.len()) as u64 > cx.st.budget.limits.max_buffered_bytes {
                                cx.st.budget.limit(LimitKind::MaxBufferedBytes, &self.m.path);
                                return;
                            }
                            v.extend_from_slice(piece);
                        }
                        None => child.write(cx, piece),
                    }
                    if !found {
                        self.buf.drain(..take);
                        return;
                    }
                    self.buf.drain(..take + dl);
                    if let State::Body { mut child, encoded, .. } =
                        std::mem::replace(&mut self.state, State::AfterDelimiter)
                    {
                        end_part(cx, &mut child, encoded);
                    }
                }
            }
        }
    }
}

/// Decodes a collected part, if it was encoded, and ends its node.
fn end_part(cx: &mut Ctx<'_>, child: &mut Node, encoded: Option<(String, Vec<u8>)>) {
    if let Some((enc, v)) = encoded {
        let decoded = decode_body(&v, Some(&enc));
        child.write(cx, &decoded);
    }
    child.finish(cx);
}
