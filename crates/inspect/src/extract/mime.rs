//! MIME: multipart bodies (form uploads, e-mail parts) and e-mail messages, with base64 and
//! quoted-printable transfer encodings decoded.

use std::borrow::Cow;

use super::coverage::{sanitize, scan_name};
use super::{scan_member_bytes, Ctx, Member, Node, TextNode};
use crate::charsets::{self, Label};
use crate::identify::{multipart_boundary, multipart_first_line, Charset, Kind, Markup};

/// Headers of one part, the few that matter.
#[derive(Debug, Default)]
pub(crate) struct Headers {
    pub content_type: Option<String>,
    pub encoding: Option<String>,
    pub name: Option<String>,
    pub filename: Option<String>,
    /// The `name` parameter of the Content-Type (a name when the disposition has none).
    pub type_name: Option<String>,
    /// The charset a text part's Content-Type names.
    pub charset: Option<String>,
}

impl Headers {
    /// The name a part goes by in member paths.
    pub fn label(&self, index: u32) -> String {
        self.filename
            .clone()
            .filter(|f| !f.is_empty())
            .or_else(|| self.name.clone())
            .or_else(|| self.type_name.clone())
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
    let lines = unfolded_lines(head);
    let mut h = Headers::default();
    for line in lines {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let v = v.trim().to_string();
        match k.trim().to_ascii_lowercase().as_str() {
            "content-type" => {
                h.type_name = param(&v, "name");
                let essence = v.split(';').next().unwrap_or("").trim();
                if essence.is_empty() || essence.get(..5).is_some_and(|t| t.eq_ignore_ascii_case("text/")) {
                    h.charset = param(&v, "charset");
                }
                h.content_type = Some(v);
            }
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

/// The parameters of a header value (after its first `;`), split at the `;` outside quoted
/// strings.
fn split_params(v: &str) -> impl Iterator<Item = &str> {
    let mut quoted = false;
    let mut escaped = false;
    v.split(move |c: char| {
        if escaped {
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        }
        c == ';' && !quoted
    })
    .skip(1)
}

/// A parameter's value without its quotes (and their backslash escapes).
fn unquote(val: &str) -> Cow<'_, str> {
    match val.strip_prefix('"').and_then(|x| x.strip_suffix('"')) {
        Some(inner) if inner.contains('\\') => {
            let mut out = String::with_capacity(inner.len());
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                out.push(if c == '\\' { chars.next().unwrap_or(c) } else { c });
            }
            Cow::Owned(out)
        }
        Some(inner) => Cow::Borrowed(inner),
        None => Cow::Borrowed(val),
    }
}

/// Most sections of one RFC 2231 parameter joined.
const MAX_SECTIONS: usize = 256;

/// A `key="value"` or `key=value` parameter of a header value, with RFC 2047 encoded words
/// decoded; RFC 2231 forms come first: `key*=charset'language'percent-encoded`, and a
/// value continued over sections (`key*0="4111 1111"; key*1=" 1111 1111"`, a section
/// `key*N*=` percent-encoded, in the charset the first names), joined in order.
fn param(v: &str, key: &str) -> Option<String> {
    let mut plain = None;
    let mut sections: Vec<(u32, bool, Cow<'_, str>)> = Vec::new();
    for p in split_params(v) {
        let Some((k, val)) = p.split_once('=') else { continue };
        let k = k.trim();
        let Some(rest) =
            k.get(..key.len()).filter(|h| h.eq_ignore_ascii_case(key)).and_then(|_| k.get(key.len()..))
        else {
            continue;
        };
        let val = unquote(val.trim());
        if rest.is_empty() {
            plain = Some(String::from_utf8_lossy(&encoded_words(val.as_bytes())).into_owned());
            continue;
        }
        let Some(sec) = rest.strip_prefix('*') else { continue };
        if sec.is_empty() {
            return Some(extended_value(&[(true, val)]));
        }
        let (num, encoded) = match sec.strip_suffix('*') {
            Some(n) => (n, true),
            None => (sec, false),
        };
        if let Ok(n) = num.parse::<u32>() {
            if num.len() <= 4 && sections.len() < MAX_SECTIONS {
                sections.push((n, encoded, val));
            }
        }
    }
    if sections.is_empty() {
        return plain;
    }
    sections.sort_by_key(|s| s.0);
    let parts: Vec<(bool, Cow<'_, str>)> = sections.into_iter().map(|(_, e, v)| (e, v)).collect();
    Some(extended_value(&parts))
}

/// The value of RFC 2231 sections joined: the percent-encoded ones decoded, the charset
/// the first names (`charset'language'...`) applied to the whole.
fn extended_value(parts: &[(bool, Cow<'_, str>)]) -> String {
    let mut bytes = Vec::new();
    let mut charset = None;
    for (k, (encoded, val)) in parts.iter().enumerate() {
        let mut val: &str = val;
        if *encoded {
            if k == 0 {
                let mut pieces = val.splitn(3, '\'');
                if let (Some(c), Some(_), Some(rest)) = (pieces.next(), pieces.next(), pieces.next()) {
                    charset = Some(c);
                    val = rest;
                }
            }
            bytes.extend_from_slice(&percent_decode(val.as_bytes()));
        } else {
            bytes.extend_from_slice(val.as_bytes());
        }
    }
    // Bytes that are no UTF-8 read as Windows-1252 (Latin-1), as the normaliser reads them.
    match String::from_utf8(in_charset(charset.map(str::as_bytes), bytes)) {
        Ok(s) => s,
        Err(e) => encoding_rs::WINDOWS_1252.decode_without_bom_handling(e.as_bytes()).0.into_owned(),
    }
}

/// Bytes in the charset a label names, as UTF-8; as they are for UTF-8, Latin-1 and a label
/// no decoder knows.
fn in_charset(label: Option<&[u8]>, bytes: Vec<u8>) -> Vec<u8> {
    match label.and_then(Label::of).filter(|l| l.transforms()) {
        Some(l) => {
            let mut out = Vec::with_capacity(bytes.len());
            charsets::decode_all(l, &bytes, &mut out);
            out
        }
        None => bytes,
    }
}

/// The RFC 2231 parameters of one header value (`key*=`, `key*0=` ...), each decoded and
/// joined, a line apiece: a value split over sections reads whole.
fn extended_params(v: &str, out: &mut Vec<u8>) {
    let mut keys: Vec<&str> = Vec::new();
    for p in split_params(v) {
        let Some((k, _)) = p.split_once('=') else { continue };
        let Some((key, _)) = k.trim().split_once('*') else { continue };
        if keys.len() < 32 && !keys.iter().any(|x| x.eq_ignore_ascii_case(key)) {
            keys.push(key);
        }
    }
    for key in keys {
        if let Some(value) = param(v, key) {
            out.extend_from_slice(value.as_bytes());
            out.push(b'\n');
        }
    }
}

/// A header block as text: encoded words decoded, and after it, when the block holds RFC
/// 2231 parameters, their values joined and decoded, a line each.
pub(crate) fn head_text(head: &[u8]) -> Vec<u8> {
    let mut text = encoded_words(head);
    if memchr::memchr(b'*', head).is_none() {
        return text;
    }
    let mut extra = Vec::new();
    for line in unfolded_lines(head) {
        if line.contains('*') {
            if let Some((_, v)) = line.split_once(':') {
                extended_params(v, &mut extra);
            }
        }
    }
    if !extra.is_empty() {
        text.push(b'\n');
        text.append(&mut extra);
    }
    text
}

/// The lines of a header block, folded lines joined.
fn unfolded_lines(head: &[u8]) -> Vec<String> {
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
    lines
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
/// allocates is at most [`decode_cost`]. Also says whether base64 held bytes outside its
/// alphabet (left out).
pub(crate) fn decode_body_junk<'a>(body: &'a [u8], encoding: Option<&str>) -> (Cow<'a, [u8]>, bool) {
    match encoding {
        Some("base64") => {
            let (decoded, junk) = base64_lenient(body);
            (Cow::Owned(decoded), junk)
        }
        Some("quoted-printable") => (Cow::Owned(quoted_printable(body)), false),
        _ => (Cow::Borrowed(body), false),
    }
}

/// The most [`decode_body_junk`] allocates for `len` bytes at once: base64 its decoded bytes,
/// quoted-printable one copy.
pub(crate) fn decode_cost(len: usize, encoding: Option<&str>) -> u64 {
    match encoding {
        Some("base64") => (len as u64).div_ceil(4) * 3 + 3,
        Some("quoted-printable") => len as u64,
        _ => 0,
    }
}

/// Scans a part's body, decoded, as a member; the copies decoding makes are held while they
/// exist. Base64 with bytes outside its alphabet (which a decoder leaves out, as RFC 2045
/// says) is also read as it is written, `(as written)`; a text part in a charset that reads
/// differently from its bytes is also read in that charset ([`scan_in_charset`]).
fn scan_decoded(cx: &mut Ctx<'_>, body: &[u8], h: &Headers, m: Member, ct: Option<String>) {
    let encoding = h.encoding.as_deref();
    let cost = decode_cost(body.len(), encoding);
    if !cx.st.budget.hold(cost, &m.path) {
        return;
    }
    let (decoded, junk) = decode_body_junk(body, encoding);
    // Files uuencoded inline in a mail body, or sent as `x-uuencode`.
    let uu_parent = super::uu::holds_block(&decoded).then(|| m.clone());
    scan_member_bytes(cx, &decoded, m.clone(), ct);
    if let Some(parent) = &uu_parent {
        super::uu::scan_blocks(cx, &decoded, parent);
    }
    scan_in_charset(cx, &decoded, h.charset.as_deref(), &m);
    drop(decoded);
    cx.st.budget.release(cost);
    if junk {
        scan_member_bytes(cx, body, m.child("(as written)"), None);
    }
}

/// Reads a text part in the charset its Content-Type names (`charset=`), as its reader
/// shows it: UTF-7, UTF-16, ISO-2022-KR, HZ, Shift_JIS, KOI8-R ... (see [`charsets`]), as
/// a member of its own, `(charset NAME)`, when that reads differently from the bytes (which
/// were read already: a label proves nothing), decoded as it is scanned. Text in ASCII with
/// none of the charset's shifts reads the same and costs one pass over its bytes.
pub(crate) fn scan_in_charset(cx: &mut Ctx<'_>, body: &[u8], charset: Option<&str>, m: &Member) {
    let Some(name) = charset else { return };
    let Some(label) = Label::of(name.as_bytes()).filter(|l| l.transforms()) else { return };
    let same = match label {
        Label::Utf7 => memchr::memchr(b'+', body).is_none(),
        Label::Hz => memchr::memchr(b'~', body).is_none(),
        Label::Iso2022Kr => memchr::memchr(0x0E, body).is_none(),
        Label::Encoding(e) if e.is_ascii_compatible() || e == encoding_rs::ISO_2022_JP => {
            body.is_ascii() && memchr::memchr(0x1B, body).is_none()
        }
        _ => false,
    };
    if same || read_so_already(body, label) || cx.stopped() {
        return;
    }
    let name: String =
        name.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_')).take(40).collect();
    let member = m.child(&format!("(charset {name})"));
    if !cx.st.budget.add_member(&member.path) || !cx.st.budget.check_time(&member.path) {
        return;
    }
    // Decoded a slice at a time into the member's node: memory stays small whatever the
    // part's size.
    let mut node = Node::new(member, None);
    let mut decoder = charsets::Decoder::new(label);
    let mut text = Vec::new();
    for piece in body.chunks(64 * 1024) {
        text.clear();
        decoder.push(piece, &mut text);
        node.write(cx, &text);
        if cx.stopped() {
            return;
        }
    }
    text.clear();
    decoder.finish(&mut text);
    node.write(cx, &text);
    node.finish(cx);
}

/// Whether the bytes, as identification reads them, are read in the charset `label` names
/// already: Japanese mail in ISO-2022-JP, text in a legacy CJK encoding it guessed, UTF-16
/// by its byte order mark (a second reading would count every value twice).
fn read_so_already(body: &[u8], label: Label) -> bool {
    let head = &body[..body.len().min(crate::identify::SNIFF_LEN)];
    let charset = match crate::identify::identify(head, None) {
        Kind::Text(c, _) | Kind::Uuencoded(c, _) => c,
        _ => return false,
    };
    match (charset, label) {
        (Charset::Legacy(l), Label::Encoding(e)) => {
            l.encoding() == e || (l.encoding() == encoding_rs::GB18030 && e == encoding_rs::GBK)
        }
        (Charset::Utf16Le, Label::Utf16) => head.starts_with(&[0xFF, 0xFE]),
        (Charset::Utf16Be, Label::Utf16) => head.starts_with(&[0xFE, 0xFF]),
        (Charset::Utf16Le, Label::Encoding(e)) => e == encoding_rs::UTF_16LE,
        (Charset::Utf16Be, Label::Encoding(e)) => e == encoding_rs::UTF_16BE,
        (Charset::Utf7, Label::Utf7) => true,
        _ => false,
    }
}

/// Writes a header block to `t` with its encoded words decoded (and RFC 2231 parameters
/// joined, [`head_text`]); the copy, about twice the head at most (a word in a charset of
/// two bytes per character grows by half), is held while it exists (a part without an
/// empty line is all head).
fn write_head(cx: &mut Ctx<'_>, t: &mut TextNode, head: &[u8], m: &Member) {
    let cost = 2 * head.len() as u64;
    if !cx.st.budget.hold(cost, &m.path) {
        return;
    }
    t.write(cx, &head_text(head));
    cx.st.budget.release(cost);
}

/// Base64 as RFC 2045 (6.8) has it read: every byte outside the alphabet left out (line
/// breaks, and any other), `=` ending a group of four (so that bodies padded piece by piece
/// decode whole), bits short of a byte dropped. Returns the bytes and whether bytes other
/// than white space and padding were left out.
pub(crate) fn base64_lenient(body: &[u8]) -> (Vec<u8>, bool) {
    let mut out = Vec::with_capacity(body.len() / 4 * 3 + 3);
    let (mut bits, mut n, mut junk) = (0u32, 0u8, false);
    for &b in body {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => {
                // The end of a group: its whole bytes are out already.
                bits = 0;
                n = 0;
                continue;
            }
            _ => {
                junk |= !b.is_ascii_whitespace();
                continue;
            }
        };
        bits = (bits << 6) | u32::from(v);
        n += 1;
        match n {
            2 => out.push((bits >> 4) as u8),
            3 => out.push((bits >> 2) as u8),
            4 => {
                out.push(bits as u8);
                bits = 0;
                n = 0;
            }
            _ => {}
        }
    }
    (out, junk)
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

/// Decodes `charset?E?text?=` starting at `at` (after `=?`) to UTF-8 when its charset is
/// one [`charsets`] decodes (ISO-2022-JP, UTF-7, UTF-16, Shift_JIS ...); returns the bytes
/// and the length consumed. A word is at most 1 KiB long.
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
        b'B' => base64_lenient(text).0,
        b'Q' => {
            let t: Vec<u8> = text.iter().map(|&b| if b == b'_' { b' ' } else { b }).collect();
            quoted_printable(&t)
        }
        _ => return None,
    };
    // The charset (an RFC 2231 language after a `*` aside): UTF-8, Latin-1 and unknown
    // charsets as they are, any other decoded to UTF-8.
    let charset = &limit[..q1];
    let charset = &charset[..memchr::memchr(b'*', charset).unwrap_or(charset.len())];
    Some((in_charset(Some(charset), decoded), end + 2))
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
        let ct = h.content_type.clone().filter(|c| multipart_boundary(c).is_some());
        scan_decoded(cx, body, &h, m.child(&sanitize(&label)), ct);
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
        None => scan_decoded(cx, body, &h, m.child("body"), None),
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
    fn base64_skips_what_is_not_base64() {
        assert_eq!(base64_lenient(b"QUJD\r\nREVG"), (b"ABCDEF".to_vec(), false));
        assert_eq!(base64_lenient(b"!!Q.U.J.D"), (b"ABC".to_vec(), true));
        // Pieces padded one by one, and a last group short of four.
        assert_eq!(base64_lenient(b"QQ==QkM=RA"), (b"ABCD".to_vec(), false));
    }

    #[test]
    fn encoded_words_in_their_charset() {
        assert_eq!(
            encoded_words(
                b"=?ISO-2022-JP?B?GyRCIzQjMRsoQg==?= =?UTF-7?Q?+ADQ-?= =?utf-16?B?AEE=?= =?x?Q?=41?="
            ),
            "４１4AA".as_bytes()
        );
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
        // RFC 2231 continuations, in order whatever order they come in, encoded or not, in the
        // first section's charset; a `;` in a quoted string is no separator.
        assert_eq!(
            param("attachment; filename*1=\" 1111.txt\"; filename*0=\"4111\"; x=1", "filename").as_deref(),
            Some("4111 1111.txt")
        );
        assert_eq!(
            param("a; name*0*=iso-8859-1'de'caf%E9; name*1*=%20%34; name*2=\"1;1\"", "name").as_deref(),
            Some("café 41;1")
        );
        let mut extra = Vec::new();
        extended_params(" text/plain; x-a*0=\"41\"; x-a*1=\"11\"; b*=utf-7''+ADQ-", &mut extra);
        assert_eq!(extra, b"4111\n4\n");
    }
}
