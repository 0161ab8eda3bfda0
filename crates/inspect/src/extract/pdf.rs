//! PDF text: every stream is found by its `stream`/`endstream` keywords (the xref table is
//! not trusted, so a broken one does not matter), Flate streams are inflated within the
//! limits, and the strings shown by text operators are extracted. Embedded files are
//! scanned as members.

use memchr::memmem;

use super::pdf_fonts::{self, CMap, Fonts};
use super::{scan_member_bytes, Ctx, Member, TextNode};
use crate::decode::{Decoder, Format};
use crate::identify::{Charset, Markup};
use crate::limits::LimitKind;

/// One stream: its object number (when its header was found), dictionary and raw bytes.
struct Stream<'a> {
    obj: Option<u32>,
    dict: &'a [u8],
    raw: &'a [u8],
}

/// Every `stream ... endstream` in the file, found by keyword.
fn streams(data: &[u8]) -> impl Iterator<Item = Stream<'_>> {
    let finder = memmem::Finder::new(b"stream");
    let end_finder = memmem::Finder::new(b"endstream");
    let mut pos = 0;
    std::iter::from_fn(move || loop {
        let k = finder.find(&data[pos..])?;
        let at = pos + k;
        pos = at + 6;
        if at >= 3 && &data[at - 3..at] == b"end" {
            continue;
        }
        // The stream keyword is followed by CRLF or LF.
        let body_start = match data.get(at + 6..at + 8) {
            Some([b'\r', b'\n']) => at + 8,
            Some([b'\n', _]) | Some([b'\r', _]) => at + 7,
            _ => continue,
        };
        let dict_from = at.saturating_sub(4096);
        let (dict, obj) = match memmem::rfind(&data[dict_from..at], b"obj") {
            Some(o) => (&data[dict_from + o..at], pdf_fonts::object_number(data, dict_from + o)),
            None => (&data[dict_from..at], None),
        };
        let body_end = end_finder.find(&data[body_start..]).map(|e| body_start + e).unwrap_or(data.len());
        pos = body_end.max(pos);
        return Some(Stream { obj, dict, raw: &data[body_start..body_end] });
    })
}

/// A stream's decoded content, or `None` for images and filters that are not text.
fn content<'a>(cx: &mut Ctx<'_>, s: &Stream<'a>, m: &Member) -> Option<std::borrow::Cow<'a, [u8]>> {
    use std::borrow::Cow;
    let dict = s.dict;
    if has(dict, b"/Image") || has(dict, b"/XObject") && !has(dict, b"/Form") {
        return None;
    }
    let mut data: Cow<'a, [u8]> = Cow::Borrowed(s.raw);
    for f in filters(dict) {
        data = Cow::Owned(match f.as_slice() {
            b"FlateDecode" | b"Fl" => inflate(cx, &data, m)?,
            b"ASCIIHexDecode" | b"AHx" => ascii_hex(&data),
            b"ASCII85Decode" | b"A85" => ascii85(&data),
            // LZW, RunLength and the image codecs: not text we can read.
            _ => return None,
        });
    }
    Some(data)
}

/// The names in a stream's `/Filter` entry, in the order they apply.
fn filters(dict: &[u8]) -> Vec<Vec<u8>> {
    let Some(p) = memmem::find(dict, b"/Filter") else {
        return Vec::new();
    };
    let rest = &dict[p + 7..];
    let rest = &rest[rest.iter().take_while(|b| b.is_ascii_whitespace()).count()..];
    let list = if rest.first() == Some(&b'[') {
        &rest[1..rest.iter().position(|&b| b == b']').unwrap_or(rest.len())]
    } else {
        let end = rest.iter().skip(1).position(|&b| b == b'/' || b == b'>' || b.is_ascii_whitespace());
        &rest[..end.map(|e| e + 1).unwrap_or(rest.len())]
    };
    list.split(|&b| b == b'/')
        .map(|n| n.iter().copied().filter(|b| b.is_ascii_alphanumeric()).collect::<Vec<u8>>())
        .filter(|n| !n.is_empty())
        .take(8)
        .collect()
}

fn ascii_hex(d: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(d.len() / 2);
    let mut hi: Option<u8> = None;
    for &b in d {
        if b == b'>' {
            break;
        }
        let Some(v) = (b as char).to_digit(16) else { continue };
        match hi.take() {
            Some(h) => out.push(h << 4 | v as u8),
            None => hi = Some(v as u8),
        }
    }
    if let Some(h) = hi {
        out.push(h << 4);
    }
    out
}

fn ascii85(d: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(d.len() * 4 / 5);
    let mut group = [0u32; 5];
    let mut n = 0;
    let body = d.strip_prefix(b"<~").unwrap_or(d);
    for &b in body {
        match b {
            b'~' => break,
            b'z' if n == 0 => out.extend_from_slice(&[0; 4]),
            b'!'..=b'u' => {
                group[n] = u32::from(b - b'!');
                n += 1;
                if n == 5 {
                    let v = group.iter().fold(0u32, |a, &g| a.wrapping_mul(85).wrapping_add(g));
                    out.extend_from_slice(&v.to_be_bytes());
                    n = 0;
                }
            }
            _ => {}
        }
    }
    if n > 1 {
        for g in group.iter_mut().skip(n) {
            *g = 84;
        }
        let v = group.iter().fold(0u32, |a, &g| a.wrapping_mul(85).wrapping_add(g));
        out.extend_from_slice(&v.to_be_bytes()[..n - 1]);
    }
    out
}

pub(crate) fn scan_pdf(cx: &mut Ctx<'_>, data: &[u8], m: &Member) {
    if is_encrypted(data) {
        cx.encrypted(&m.path);
        return;
    }
    // Fonts with ToUnicode maps first: content streams may come before them.
    let mut fonts = Fonts::index(data);
    let wanted = fonts.cmap_objects();
    if !wanted.is_empty() {
        for s in streams(data) {
            if cx.stopped() {
                return;
            }
            if let Some(obj) = s.obj.filter(|o| wanted.contains(o)) {
                if let Some(c) = content(cx, &s, m) {
                    fonts.cmaps.insert(obj, CMap::parse(&c));
                }
            }
        }
    }
    let mut text = TextNode::new(m.clone(), Charset::Bytes, Markup::Plain);
    let mut out = Vec::new();
    let mut embedded = 0;
    for s in streams(data) {
        if cx.stopped() {
            return;
        }
        if s.obj.is_some_and(|o| wanted.contains(&o)) {
            continue;
        }
        let Some(c) = content(cx, &s, m) else {
            continue;
        };
        if has(s.dict, b"/EmbeddedFile") {
            embedded += 1;
            scan_member_bytes(cx, &c, m.child(&format!("embedded{embedded}")), None);
            continue;
        }
        out.clear();
        text_operators(&c, &fonts, &mut out);
        if !out.is_empty() {
            out.push(b'\n');
            text.write(cx, &out);
        }
    }
    text.finish(cx);
}

fn has(hay: &[u8], needle: &[u8]) -> bool {
    memmem::find(hay, needle).is_some()
}

fn is_encrypted(data: &[u8]) -> bool {
    memmem::find_iter(data, b"/Encrypt")
        .any(|i| data.get(i + 8).is_some_and(|&b| b.is_ascii_whitespace() || b == b'<' || b.is_ascii_digit()))
}

/// Inflates one stream (zlib, or raw deflate), counting its output against the limits.
fn inflate(cx: &mut Ctx<'_>, raw: &[u8], m: &Member) -> Option<Vec<u8>> {
    if !cx.st.budget.add_member(&m.path) {
        return None;
    }
    let mut dec = Decoder::new(Format::Deflate);
    let mut out = Vec::new();
    let limit = cx.st.budget.limits.max_buffered_bytes;
    let mut stop = false;
    let r = dec.push(raw, &mut |piece| {
        let b = &mut cx.st.budget;
        if !b.add_decompressed(piece.len() as u64, &m.path)
            || !b.check_ratio((out.len() + piece.len()) as u64, raw.len() as u64, &m.path)
            || !b.check_time(&m.path)
        {
            stop = true;
            return false;
        }
        if (out.len() + piece.len()) as u64 > limit {
            b.limit(LimitKind::MaxBufferedBytes, &m.path);
            stop = true;
            return false;
        }
        out.extend_from_slice(piece);
        true
    });
    if stop {
        return None;
    }
    // A damaged stream still yields what inflated before the damage.
    if r.is_err() && out.is_empty() {
        return None;
    }
    Some(out)
}

/// Appends the strings shown by `Tj`, `TJ`, `'` and `"`; positioning operators become
/// line breaks, wide `TJ` gaps spaces.
pub(crate) fn text_operators(c: &[u8], fonts: &Fonts, out: &mut Vec<u8>) {
    let mut i = 0;
    let mut in_text = false;
    let mut last_name: &[u8] = &[];
    let mut cmap: Option<&CMap> = None;
    let mut shown = Vec::new();
    while i < c.len() {
        match c[i] {
            b'(' if in_text => {
                shown.clear();
                i = literal(c, i + 1, &mut shown);
                match cmap {
                    Some(m) => m.decode(&shown, out),
                    None => out.extend_from_slice(&shown),
                }
            }
            b'<' if in_text && c.get(i + 1) != Some(&b'<') => {
                shown.clear();
                i = hex_string(c, i + 1, &mut shown, cmap.is_none());
                match cmap {
                    Some(m) => m.decode(&shown, out),
                    None => out.extend_from_slice(&shown),
                }
            }
            b'/' => {
                let s = i + 1;
                i = s;
                while i < c.len() && !c[i].is_ascii_whitespace() && !b"/<>[]()".contains(&c[i]) {
                    i += 1;
                }
                last_name = &c[s..i];
            }
            b'%' => {
                while i < c.len() && c[i] != b'\n' && c[i] != b'\r' {
                    i += 1;
                }
            }
            b'-' if in_text => {
                // A large negative number inside a TJ array is a word gap.
                let s = i + 1;
                let mut e = s;
                while e < c.len() && (c[e].is_ascii_digit() || c[e] == b'.') {
                    e += 1;
                }
                let n: f64 = std::str::from_utf8(&c[s..e]).ok().and_then(|t| t.parse().ok()).unwrap_or(0.0);
                if n > 200.0 {
                    out.push(b' ');
                }
                i = e.max(i + 1);
            }
            b if b.is_ascii_alphabetic() || b == b'\'' || b == b'"' || b == b'*' => {
                let s = i;
                while i < c.len()
                    && (c[i].is_ascii_alphabetic() || c[i] == b'*' || c[i] == b'\'' || c[i] == b'"')
                {
                    i += 1;
                }
                match &c[s..i] {
                    b"BT" => in_text = true,
                    b"ET" => {
                        in_text = false;
                        out.push(b'\n');
                    }
                    b"Td" | b"TD" | b"T*" | b"Tm" | b"'" | b"\"" => out.push(b'\n'),
                    b"Tf" => cmap = fonts.by_name(last_name),
                    _ => {}
                }
            }
            _ => i += 1,
        }
    }
}

/// A `( ... )` string with nesting and escapes; returns the index after it.
fn literal(c: &[u8], mut i: usize, out: &mut Vec<u8>) -> usize {
    let mut depth = 1;
    while i < c.len() {
        let b = c[i];
        i += 1;
        match b {
            b'\\' => {
                let Some(&e) = c.get(i) else { break };
                i += 1;
                match e {
                    b'n' | b'r' => out.push(b'\n'),
                    b't' => out.push(b'\t'),
                    b'b' | b'f' => out.push(b' '),
                    b'\r' | b'\n' => {
                        if e == b'\r' && c.get(i) == Some(&b'\n') {
                            i += 1;
                        }
                    }
                    b'0'..=b'7' => {
                        let mut v = u32::from(e - b'0');
                        for _ in 0..2 {
                            match c.get(i) {
                                Some(&d) if (b'0'..=b'7').contains(&d) => {
                                    v = v * 8 + u32::from(d - b'0');
                                    i += 1;
                                }
                                _ => break,
                            }
                        }
                        out.push((v & 0xff) as u8);
                    }
                    _ => out.push(e),
                }
            }
            b'(' => {
                depth += 1;
                out.push(b);
            }
            b')' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
                out.push(b);
            }
            _ => out.push(b),
        }
    }
    i
}

/// A `< ... >` hex string; UTF-16BE (with BOM or zero high bytes) is decoded.
/// With `as_text`, UTF-16BE (a BOM, or zero high bytes) is decoded; without, the raw
/// bytes are kept for a font's CMap.
fn hex_string(c: &[u8], mut i: usize, out: &mut Vec<u8>, as_text: bool) -> usize {
    let mut bytes = Vec::new();
    let mut hi: Option<u8> = None;
    while i < c.len() && c[i] != b'>' {
        let b = c[i];
        i += 1;
        let v = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => continue,
        };
        match hi.take() {
            Some(h) => bytes.push(h << 4 | v),
            None => hi = Some(v),
        }
    }
    if let Some(h) = hi {
        bytes.push(h << 4);
    }
    if !as_text {
        out.extend_from_slice(&bytes);
        return i + 1;
    }
    let body = bytes.strip_prefix(&[0xFE, 0xFF]).unwrap_or(&bytes);
    let utf16 = body.len() >= 2 && body.len() % 2 == 0 && body.iter().step_by(2).all(|&b| b == 0)
        || bytes.starts_with(&[0xFE, 0xFF]);
    if utf16 {
        let mut d = crate::text::Utf16::new(Charset::Utf16Be);
        d.push(body, out);
    } else {
        out.extend_from_slice(&bytes);
    }
    i + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_chains() {
        assert_eq!(
            filters(b"<< /Length 5 /Filter [/ASCII85Decode /FlateDecode] >>"),
            [b"ASCII85Decode".to_vec(), b"FlateDecode".to_vec()]
        );
        assert_eq!(filters(b"<< /Filter /FlateDecode /Length 5 >>"), [b"FlateDecode".to_vec()]);
        assert_eq!(filters(b"<< /Filter/AHx>>"), [b"AHx".to_vec()]);
        assert_eq!(ascii_hex(b"48 65 6C6c6F>"), b"Hello");
        assert_eq!(ascii85(b"<~87cURD]i,\"Ebo80~>"), b"Hello World!");
    }

    #[test]
    fn operators() {
        let mut out = Vec::new();
        text_operators(
            b"BT /F1 12 Tf 72 712 Td (Card: 4111 1111 1111 1111) Tj T* [(SS)-10(N 123-45-)-10(6789)] TJ <0031> Tj ET",
            &Fonts::default(),
            &mut out,
        );
        let s = String::from_utf8(out).unwrap();
        assert!(s.contains("Card: 4111 1111 1111 1111"), "{s:?}");
        assert!(s.contains("SSN 123-45-6789"), "{s:?}");
        assert!(s.contains('1'), "{s:?}");
    }
}
