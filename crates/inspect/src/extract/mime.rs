//! MIME: multipart bodies (form uploads, e-mail parts) and e-mail messages, with base64 and
//! quoted-printable transfer encodings decoded.

use std::borrow::Cow;

use base64::Engine as _;

use super::coverage::{sanitize, scan_name};
use super::{scan_member_bytes, Ctx, Member, TextNode};
use crate::identify::{multipart_boundary, multipart_first_line, Charset, Markup};

/// Headers of one part, the few that matter.
#[derive(Debug, Default)]
pub(crate) struct Headers {
    pub content_type: Option<String>,
    pub encoding: Option<String>,
    pub name: Option<String>,
    pub filename: Option<String>,
}

impl Headers {
    /// The name a part goes by in member paths.
    pub fn label(&self, index: u32) -> String {
        self.filename
            .clone()
            .filter(|f| !f.is_empty())
            .or_else(|| self.name.clone())
            .unwrap_or_else(|| format!("part{index}"))
    }
}

/// Splits a header block from its body at the first empty line.
pub(crate) fn split_head(data: &[u8]) -> (&[u8], &[u8]) {
    let crlf = memchr::memmem::find(data, b"\r\n\r\n").map(|i| (i, i + 4));
    let lf = memchr::memmem::find(data, b"\n\n").map(|i| (i, i + 2));
    let at = match (crlf, lf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    };
    match at {
        Some((h, b)) => (&data[..h], &data[b..]),
        None => (data, &[]),
    }
}

/// Parses a header block (folded lines joined).
pub(crate) fn parse_headers(head: &[u8]) -> Headers {
    let text = String::from_utf8_lossy(head);
    let mut lines: Vec<String> = Vec::new();
    for line in text.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = lines.last_mut() {
                last.push(' ');
                last.push_str(line.trim());
                continue;
            }
        }
        lines.push(line.to_string());
    }
    let mut h = Headers::default();
    for line in lines {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let v = v.trim().to_string();
        match k.trim().to_ascii_lowercase().as_str() {
            "content-type" => h.content_type = Some(v),
            "content-transfer-encoding" => h.encoding = Some(v.to_ascii_lowercase()),
            "content-disposition" => {
                h.name = param(&v, "name");
                h.filename = param(&v, "filename");
            }
            _ => {}
        }
    }
    h
}

/// A `key="value"` or `key=value` parameter of a header value; an RFC 2231 `key*=` form
/// (`utf-8''%34%31...`) is decoded, and so are RFC 2047 encoded words.
fn param(v: &str, key: &str) -> Option<String> {
    let mut plain = None;
    for p in v.split(';').skip(1) {
        let Some((k, val)) = p.split_once('=') else { continue };
        let k = k.trim();
        let val = val.trim();
        if k.eq_ignore_ascii_case(key) {
            let val = val.strip_prefix('"').and_then(|x| x.strip_suffix('"')).unwrap_or(val);
            plain = Some(String::from_utf8_lossy(&encoded_words(val.as_bytes())).into_owned());
        } else if k.len() == key.len() + 1 && k.ends_with('*') && k[..key.len()].eq_ignore_ascii_case(key) {
            // charset'language'percent-encoded
            let enc = val.splitn(3, '\'').nth(2).unwrap_or(val);
            return Some(String::from_utf8_lossy(&percent_decode(enc.as_bytes())).into_owned());
        }
    }
    plain
}

fn percent_decode(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match (s[i], s.get(i + 1), s.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => {
                out.push((hex_val(h) << 4) | hex_val(l));
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// Undoes a transfer encoding; unknown encodings pass unchanged (not copied). What it
/// allocates is at most [`decode_cost`].
pub(crate) fn decode_body<'a>(body: &'a [u8], encoding: Option<&str>) -> Cow<'a, [u8]> {
    match encoding {
        Some("base64") | Some("quoted-printable") => match decode_copy(body, encoding) {
            Some(decoded) => Cow::Owned(decoded),
            // Not base64 after all: the text as it is.
            None => Cow::Borrowed(body),
        },
        _ => Cow::Borrowed(body),
    }
}

/// The most [`decode_body`] allocates for `len` bytes at once: base64 keeps the text without
/// whitespace and its decoded bytes, quoted-printable one copy.
pub(crate) fn decode_cost(len: usize, encoding: Option<&str>) -> u64 {
    match encoding {
        Some("base64") => len as u64 + (len as u64).div_ceil(4) * 3,
        Some("quoted-printable") => len as u64,
        _ => 0,
    }
}

/// Scans a part's body, decoded, as a member; the copies decoding makes are held while they
/// exist.
fn scan_decoded(cx: &mut Ctx<'_>, body: &[u8], encoding: Option<&str>, m: Member, ct: Option<String>) {
    let cost = decode_cost(body.len(), encoding);
    if !cx.st.budget.hold(cost, &m.path) {
        return;
    }
    let decoded = decode_body(body, encoding);
    // Files uuencoded inline in a mail body, or sent as `x-uuencode`.
    let uu_parent = super::uu::holds_block(&decoded).then(|| m.clone());
    scan_member_bytes(cx, &decoded, m, ct);
    if let Some(parent) = uu_parent {
        super::uu::scan_blocks(cx, &decoded, &parent);
    }
    drop(decoded);
    cx.st.budget.release(cost);
}

/// Writes a header block to `t` with its encoded words decoded; the copy is held while it
/// exists (a part without an empty line is all head).
fn write_head(cx: &mut Ctx<'_>, t: &mut TextNode, head: &[u8], m: &Member) {
    if !cx.st.budget.hold(head.len() as u64, &m.path) {
        return;
    }
    t.write(cx, &encoded_words(head));
    cx.st.budget.release(head.len() as u64);
}

/// The decoded copy; `None` when base64 does not decode.
fn decode_copy(body: &[u8], encoding: Option<&str>) -> Option<Vec<u8>> {
    match encoding {
        Some("base64") => {
            let mut clean = Vec::with_capacity(body.len());
            clean.extend(body.iter().copied().filter(|b| !b.is_ascii_whitespace()));
            let engine = base64::engine::GeneralPurpose::new(
                &base64::alphabet::STANDARD,
                base64::engine::GeneralPurposeConfig::new()
                    .with_decode_allow_trailing_bits(true)
                    .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
            );
            engine.decode(&clean).ok()
        }
        _ => Some(quoted_printable(body)),
    }
}

/// Header text with RFC 2047 encoded words (`=?utf-8?B?...?=`, `=?...?Q?...?=`) decoded.
pub(crate) fn encoded_words(head: &[u8]) -> Vec<u8> {
    encoded_words_counted(head, &mut 0)
}

/// [`encoded_words`], adding the bytes its searches examine to `work`.
fn encoded_words_counted(head: &[u8], work: &mut usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(head.len());
    let mut ends = Ends { head, last: None };
    // Where the last encoded word ended, in `out` and in `head`.
    let mut last_word: Option<(usize, usize)> = None;
    let mut i = 0;
    while i < head.len() {
        if head[i..].starts_with(b"=?") {
            if let Some(w) = encoded_word(head, i + 2, &mut ends, work) {
                // White space between two encoded words is not text (RFC 2047, 6.2): a
                // value split over words, and the header folded between them, reads whole.
                if let Some((o, h)) =
                    last_word.filter(|&(_, h)| head[h..i].iter().all(u8::is_ascii_whitespace))
                {
                    *work += i - h;
                    out.truncate(o);
                }
                out.extend_from_slice(&w.0);
                i += 2 + w.1;
                last_word = Some((out.len(), i));
                continue;
            }
        }
        out.push(head[i]);
        i += 1;
    }
    out
}

/// The `?=` that close encoded words, found in one pass over a head: each opening asks for
/// the first one after its text starts, and openings come in order, so the searches together
/// cover the head once (searching 1 KiB after every opening was 200 times its length).
struct Ends<'a> {
    head: &'a [u8],
    /// The last search: where it started and the `?=` it found (`None`: none after it).
    last: Option<(usize, Option<usize>)>,
}

impl Ends<'_> {
    /// The first `?=` at or after `from`.
    fn at_or_after(&mut self, from: usize, work: &mut usize) -> Option<usize> {
        match self.last {
            // The first one after where the last search began is past `from`: it is the
            // first after `from` too (or there is none).
            Some((began, found)) if began <= from && found.is_none_or(|e| e >= from) => found,
            _ => {
                let rest = self.head.get(from..)?;
                let found = memchr::memmem::find(rest, b"?=");
                *work += found.map_or(rest.len(), |e| e + 2);
                let found = found.map(|e| from + e);
                self.last = Some((from, found));
                found
            }
        }
    }
}

/// Decodes `charset?E?text?=` starting at `at` (after `=?`); returns the bytes and the
/// length consumed. A word is at most 1 KiB long.
fn encoded_word(head: &[u8], at: usize, ends: &mut Ends<'_>, work: &mut usize) -> Option<(Vec<u8>, usize)> {
    let s = &head[at..];
    let limit = &s[..s.len().min(1024)];
    let q1 = memchr::memchr(b'?', limit);
    *work += q1.map_or(limit.len(), |q| q + 1);
    let q1 = q1?;
    let enc = *limit.get(q1 + 1)?;
    if limit.get(q1 + 2) != Some(&b'?') {
        return None;
    }
    let start = q1 + 3;
    let end = ends.at_or_after(at + start, work)?.checked_sub(at)?;
    if end + 2 > limit.len() {
        return None;
    }
    let text = &limit[start..end];
    let decoded = match enc.to_ascii_uppercase() {
        b'B' => decode_copy(text, Some("base64")).unwrap_or_else(|| text.to_vec()),
        b'Q' => {
            let t: Vec<u8> = text.iter().map(|&b| if b == b'_' { b' ' } else { b }).collect();
            quoted_printable(&t)
        }
        _ => return None,
    };
    Some((decoded, end + 2))
}

/// Quoted-printable: `=XX` escapes and `=` soft line breaks.
pub(crate) fn quoted_printable(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        let b = body[i];
        if b != b'=' {
            out.push(b);
            i += 1;
            continue;
        }
        match (body.get(i + 1), body.get(i + 2)) {
            (Some(b'\r'), Some(b'\n')) => i += 3,
            (Some(b'\n'), _) => i += 2,
            (Some(&h), Some(&l)) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => {
                let v = (hex_val(h) << 4) | hex_val(l);
                out.push(v);
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

fn hex_val(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        _ => b.to_ascii_uppercase().wrapping_sub(b'A') + 10,
    }
}

/// Scans each part of a multipart body. A wrong or missing boundary falls back to the one
/// on the body's first line, and failing that to scanning the body as text.
pub(crate) fn scan_multipart(cx: &mut Ctx<'_>, data: &[u8], boundary: &str, m: &Member) {
    let mut delim = format!("--{boundary}").into_bytes();
    if memchr::memmem::find(data, &delim).is_none() {
        match multipart_first_line(data) {
            Some(b) => delim = format!("--{b}").into_bytes(),
            None => {
                let mut t = TextNode::new(m.clone(), Charset::Bytes, Markup::Plain);
                t.write(cx, data);
                t.finish(cx);
                return;
            }
        }
    }
    let finder = memchr::memmem::Finder::new(&delim);
    // Found one after another, never collected: a one-character boundary can occur every few
    // bytes.
    let mut positions = finder.find_iter(data).peekable();
    // The preamble (before the first delimiter) is text too.
    if let Some(&first) = positions.peek() {
        if first > 0 && data[..first].iter().any(|b| !b.is_ascii_whitespace()) {
            scan_member_bytes(cx, &data[..first], m.child("preamble"), Some("text/plain".into()));
        }
    }
    // Part headers (file names included) are text.
    let mut headers = TextNode::new(m.child("(headers)"), Charset::Bytes, Markup::Plain);
    for k in 0usize.. {
        let Some(p) = positions.next() else { break };
        if cx.stopped() {
            return;
        }
        let start = p + delim.len();
        if data[start..].starts_with(b"--") {
            // The epilogue: whatever follows the closing delimiter.
            let epilogue = &data[start + 2..];
            let epilogue =
                epilogue.strip_prefix(b"\r\n").or_else(|| epilogue.strip_prefix(b"\n")).unwrap_or(epilogue);
            if epilogue.iter().any(|b| !b.is_ascii_whitespace()) {
                scan_member_bytes(cx, epilogue, m.child("(epilogue)"), None);
            }
            break;
        }
        let end = positions.peek().copied().unwrap_or(data.len());
        let mut part = &data[start..end];
        // Line end after the delimiter; CRLF before the next one belongs to it.
        part = part.strip_prefix(b"\r\n").or_else(|| part.strip_prefix(b"\n")).unwrap_or(part);
        part = part.strip_suffix(b"\r\n").or_else(|| part.strip_suffix(b"\n")).unwrap_or(part);
        let (head, body) = split_head(part);
        let before = cx.st.hits.total();
        write_head(cx, &mut headers, head, m);
        headers.write(cx, b"\n");
        let h = parse_headers(head);
        let mut label = h.label(k as u32 + 1);
        if memchr::memmem::find(head, label.as_bytes()).is_none() {
            label = scan_name(cx, m, &label, k as u64 + 1);
        }
        if cx.st.hits.total() > before {
            label = format!("(part {}, name withheld)", k + 1);
        }
        let ct = h.content_type.filter(|c| multipart_boundary(c).is_some());
        scan_decoded(cx, body, h.encoding.as_deref(), m.child(&sanitize(&label)), ct);
    }
    headers.finish(cx);
}

/// Scans an e-mail: its headers as text, then its body (multipart or single part).
pub(crate) fn scan_email(cx: &mut Ctx<'_>, data: &[u8], m: &Member) {
    let (head, body) = split_head(data);
    let mut t = TextNode::new(m.child("headers"), Charset::Bytes, Markup::Plain);
    write_head(cx, &mut t, head, m);
    t.finish(cx);
    let h = parse_headers(head);
    match h.content_type.as_deref().and_then(multipart_boundary) {
        Some(b) => {
            if m.depth + 1 >= cx.st.budget.limits.max_depth {
                cx.st.budget.limit(crate::limits::LimitKind::MaxDepth, &m.path);
                return;
            }
            scan_multipart(cx, body, &b, &m.child("body"))
        }
        None => scan_decoded(cx, body, h.encoding.as_deref(), m.child("body"), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qp_decodes() {
        assert_eq!(quoted_printable(b"a=3D1=\r\nb =41"), b"a=1b A");
    }

    #[test]
    fn white_space_between_encoded_words_is_dropped() {
        assert_eq!(
            encoded_words(b"Subject: =?utf-8?q?4111_1111?=\r\n =?utf-8?Q?_1111_1111?= x =?utf-8?q?y?=  z"),
            b"Subject: 4111 1111 1111 1111 x y  z"
        );
    }

    #[test]
    fn encoded_header_words() {
        assert_eq!(
            encoded_words(b"Subject: =?utf-8?B?U1NOIDEyMy00NS02Nzg5?= and =?ISO-8859-1?Q?caf=E9_ok?="),
            b"Subject: SSN 123-45-6789 and caf\xe9 ok"
        );
    }

    /// `=?c?B?` openings that never close: each one's search for `?=` must not cover the
    /// 1 KiB window again (200 times the head's length).
    #[test]
    fn unclosed_encoded_words_are_searched_in_linear_work() {
        let head = b"=?c?B?xx".repeat(12_500);
        let mut work = 0;
        assert_eq!(encoded_words_counted(&head, &mut work), head);
        assert!(work <= 4 * head.len(), "{work} bytes examined for {}", head.len());
        // Closed words still decode, after junk too (the last opening takes the first `?=`
        // within 1 KiB, as it did; the space between the two words is not text).
        let mut head = b"=?c?B?xx".repeat(300);
        head.extend_from_slice(b"?= =?utf-8?B?U1NOIDEyMy00NS02Nzg5?=");
        let mut work = 0;
        assert!(encoded_words_counted(&head, &mut work).ends_with(b"SSN 123-45-6789"));
    }

    #[test]
    fn params() {
        assert_eq!(
            param("form-data; name=\"f\"; filename=\"a b.txt\"", "filename").as_deref(),
            Some("a b.txt")
        );
        assert_eq!(param("form-data; name=f", "name").as_deref(), Some("f"));
        assert_eq!(
            param("attachment; filename*=UTF-8''%34%31%31%31.txt; filename=\"x\"", "filename").as_deref(),
            Some("4111.txt")
        );
        assert_eq!(
            param("attachment; filename=\"=?utf-8?B?YS50eHQ=?=\"", "filename").as_deref(),
            Some("a.txt")
        );
    }
}
