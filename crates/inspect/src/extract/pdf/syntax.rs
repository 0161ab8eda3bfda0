//! The syntax between stream bodies as text. Outside objects (a prefix before `%PDF-`,
//! anything after `%%EOF`, junk between objects) bytes are scanned as they are. Inside
//! objects and trailers, strings are decoded (escapes, hex, UTF-16 with its mark), names
//! lose their `#xx` escapes, and numbers in arrays (widths, boxes, matrices) go one per
//! line so that they never line up into a value. Cross-reference tables are parsed and
//! left out: their `0000012345 00000 n` entries are offsets, not data.

use std::ops::Range;

use memchr::memmem;

use super::crypt::Security;
use super::doc::{text_like, Header};
use super::lexer::{decode_name, decode_string, is_white, text_string, Lexer, Tok};

/// How the strings of an encrypted document's objects are decrypted.
pub(super) struct StringKeys<'s> {
    pub sec: &'s Security,
    /// Objects whose strings are in clear (the `/Encrypt` dictionary, cross-reference
    /// streams).
    pub clear: &'s [u32],
}

/// The key of one object's strings.
#[derive(Clone, Copy)]
struct ObjectKey<'s> {
    sec: &'s Security,
    num: u32,
    gen: u32,
}

/// Appends the text of `data[range]`; `headers` are the object headers in the file
/// (sorted); `keys` decrypt the strings of an encrypted document's objects.
pub(super) fn gap_text(
    data: &[u8],
    range: Range<usize>,
    headers: &[Header],
    keys: Option<&StringKeys<'_>>,
    out: &mut Vec<u8>,
) {
    let first = headers.partition_point(|h| h.start < range.start);
    let mut hs = headers[first..].iter().take_while(|h| h.start < range.end).peekable();
    let mut pos = range.start;
    while pos < range.end {
        let Some(h) = hs.next() else {
            outside(data, pos..range.end, out);
            break;
        };
        if h.start < pos {
            continue;
        }
        outside(data, pos..h.start, out);
        let object_end = hs.peek().map_or(range.end, |n| n.start.min(range.end));
        let key = keys.filter(|k| !k.clear.contains(&h.num)).map(|k| ObjectKey {
            sec: k.sec,
            num: h.num,
            gen: h.gen,
        });
        pos = inside(data, h.start..object_end, key, out);
    }
}

/// The text of objects packed in an object stream.
pub(super) fn packed_text(data: &[u8], out: &mut Vec<u8>) {
    inside(data, 0..data.len(), None, out);
}

/// Bytes outside any object: as they are, but for cross-reference tables (left out) and
/// trailer dictionaries (read as object syntax).
fn outside(data: &[u8], range: Range<usize>, out: &mut Vec<u8>) {
    let mut pos = range.start;
    // Where each keyword next occurs, found again only once `pos` has passed it.
    let (mut xref, mut trailer): (Option<Option<usize>>, Option<Option<usize>>) = (None, None);
    while pos < range.end {
        let next = |cached: &mut Option<Option<usize>>, word: &[u8]| {
            if cached.is_none_or(|c| c.is_some_and(|at| at < pos)) {
                *cached = Some(keyword(data, pos..range.end, word));
            }
            cached.flatten()
        };
        let (x, t) = (next(&mut xref, b"xref"), next(&mut trailer, b"trailer"));
        let at = match (x, t) {
            (Some(x), Some(t)) => x.min(t),
            (Some(x), None) => x,
            (None, Some(t)) => t,
            (None, None) => {
                out.extend_from_slice(&data[pos..range.end]);
                return;
            }
        };
        out.extend_from_slice(&data[pos..at]);
        if Some(at) == x {
            pos = skip_xref_table(data, at + 4, range.end);
        } else {
            out.extend_from_slice(b"trailer");
            pos = trailer_dict(data, at + 7..range.end, out);
        }
        pos = pos.max(at + 1);
    }
}

/// The first `word` in `data[range]` that stands alone (not `startxref`, not inside a name).
fn keyword(data: &[u8], range: Range<usize>, word: &[u8]) -> Option<usize> {
    let hay = &data[range.clone()];
    memmem::find_iter(hay, word)
        .find(|&k| {
            let before = (range.start + k).checked_sub(1).map(|i| data[i]);
            let after = hay.get(k + word.len()).copied();
            before.is_none_or(|b| is_white(b) || b == b'>')
                && after.is_none_or(|b| is_white(b) || b == b'<' || b == b'%')
        })
        .map(|k| range.start + k)
}

/// Skips the subsections of a cross-reference table starting at `pos`; returns where the
/// table ends (at the first thing that is not a subsection line or a 20-byte entry).
fn skip_xref_table(data: &[u8], mut pos: usize, end: usize) -> usize {
    loop {
        let mut p = pos;
        while p < end && is_white(data[p]) {
            p += 1;
        }
        if let Some(n) = xref_entry(&data[p..end]) {
            pos = p + n;
            continue;
        }
        // A subsection line counts only when an entry follows it (or it is empty).
        let Some((n, count)) = subsection(&data[p..end]) else { return pos };
        let mut q = p + n;
        while q < end && is_white(data[q]) {
            q += 1;
        }
        if count > 0 && xref_entry(&data[q..end]).is_none() {
            return pos;
        }
        pos = p + n;
    }
}

/// `nnnnnnnnnn ggggg n` and its end of line: the entry's length.
fn xref_entry(d: &[u8]) -> Option<usize> {
    let e = d.get(..18)?;
    let ok = e[..10].iter().all(u8::is_ascii_digit)
        && e[10] == b' '
        && e[11..16].iter().all(u8::is_ascii_digit)
        && e[16] == b' '
        && matches!(e[17], b'n' | b'f');
    if !ok {
        return None;
    }
    let tail = d.get(18..20).unwrap_or(&d[18..]);
    Some(18 + tail.iter().take_while(|&&b| is_white(b)).count())
}

/// `first count` and the end of its line: (length, count).
fn subsection(d: &[u8]) -> Option<(usize, u64)> {
    let a = d.iter().take_while(|b| b.is_ascii_digit()).count();
    if a == 0 || a > 10 || d.get(a) != Some(&b' ') {
        return None;
    }
    let b = d[a + 1..].iter().take_while(|b| b.is_ascii_digit()).count();
    let mut e = a + 1 + b;
    while d.get(e) == Some(&b' ') {
        e += 1;
    }
    if b == 0 || b > 10 || !matches!(d.get(e), Some(b'\n' | b'\r')) {
        return None;
    }
    let count = std::str::from_utf8(&d[a + 1..a + 1 + b]).ok()?.parse().ok()?;
    Some((e, count))
}

/// A trailer's dictionary as object syntax; returns where it ended.
fn trailer_dict(data: &[u8], range: Range<usize>, out: &mut Vec<u8>) -> usize {
    let mut lex = Lexer::new(&data[..range.end], range.start);
    let Some(t) = lex.next_token() else { return range.end };
    if t.kind != Tok::DictOpen {
        return range.start;
    }
    let mut depth = 0u32;
    let mut lex = Lexer::new(&data[..range.end], range.start);
    let mut end = range.end;
    while let Some(t) = lex.peek() {
        match t.kind {
            Tok::DictOpen => depth += 1,
            Tok::DictClose => {
                depth -= 1;
                if depth == 0 {
                    end = t.end;
                    break;
                }
            }
            _ => {}
        }
        lex.next_token();
    }
    inside(data, range.start..end, None, out);
    end
}

/// Object syntax in `range`, up to and including `endobj` (or `%%EOF`); returns where it
/// stopped. Strings are decrypted with `key` when there is one.
fn inside(data: &[u8], range: Range<usize>, key: Option<ObjectKey<'_>>, out: &mut Vec<u8>) -> usize {
    let mut lex = Lexer::new(&data[..range.end], range.start);
    let mut last = range.start;
    let mut arrays = 0u32;
    let mut buf = Vec::new();
    while let Some(t) = lex.next_token() {
        out.extend_from_slice(&data[last..t.start]);
        last = t.end;
        let bytes = lex.bytes(&t);
        match t.kind {
            Tok::Literal | Tok::Hex => {
                buf.clear();
                decode_string(data, &t, &mut buf);
                out.push(b' ');
                match key.map(|k| k.sec.decrypt(k.sec.strings, k.num, k.gen, &buf)) {
                    Some(Ok(clear)) => {
                        text_string(&clear, out);
                        // A string in clear in an encrypted document: readers show it
                        // garbled, but it is there (ciphertext is never all text).
                        if text_like(&buf) {
                            out.push(b' ');
                            text_string(&buf, out);
                        }
                    }
                    _ => text_string(&buf, out),
                }
                // `<4111 1111 ...>` reads as digits to a person: keep them too. (Real hex
                // strings have no spaces inside, so identifiers never qualify.)
                let body = &data[t.body.0..t.body.1];
                if t.kind == Tok::Hex
                    && body.iter().any(|&b| is_white(b))
                    && body.iter().any(u8::is_ascii_digit)
                    && body.iter().all(|&b| b.is_ascii_digit() || is_white(b))
                {
                    out.push(b' ');
                    out.extend_from_slice(body);
                }
                out.push(b' ');
            }
            Tok::Name => {
                out.push(b'/');
                decode_name(bytes, out);
            }
            Tok::ArrayOpen => {
                arrays += 1;
                out.push(b'[');
            }
            Tok::ArrayClose => {
                arrays = arrays.saturating_sub(1);
                out.push(b']');
            }
            Tok::Number if arrays > 0 => {
                out.extend_from_slice(bytes);
                out.push(b'\n');
            }
            Tok::Keyword if bytes == b"endobj" => {
                out.extend_from_slice(bytes);
                return t.end;
            }
            Tok::Comment if bytes.starts_with(b"%%EOF") => {
                out.extend_from_slice(bytes);
                return t.end;
            }
            _ => out.extend_from_slice(bytes),
        }
    }
    out.extend_from_slice(&data[last..range.end]);
    range.end
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(data: &[u8]) -> String {
        let raw = {
            let mut h = Vec::new();
            for (i, w) in data.windows(5).enumerate() {
                if w == b"0 obj" {
                    let s = data[..i]
                        .iter()
                        .rposition(|b| !b.is_ascii_digit() && *b != b' ')
                        .map_or(0, |p| p + 1);
                    h.push(Header { num: 1, gen: 0, start: s, value: i + 5 });
                }
            }
            h
        };
        let mut out = Vec::new();
        gap_text(data, 0..data.len(), &raw, None, &mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn strings_are_decoded_and_xref_tables_dropped() {
        let t = text(b"id,card\n1,(4111)\n%PDF-1.4\n1 0 obj\n<< /T (\\0614 1) /U <FEFF00410042> /W [1000 1000 1000 1000] /H <4111 1111> >>\nendobj\n(after)\nxref\n0 2\n0000000000 65535 f \n0000000015 00000 n \ntrailer\n<< /Size 2 /ID [<a1b2> <c3d4>] >>\nstartxref\n1234\n%%EOF\nlate 4111");
        assert!(t.contains("1,(4111)"), "{t}");
        assert!(t.contains(" 14 1 "), "{t}");
        assert!(t.contains(" AB "), "{t}");
        assert!(t.contains("1000\n 1000\n"), "{t}");
        assert!(t.contains("4111 1111"), "{t}");
        assert!(t.contains("(after)"), "{t}");
        assert!(!t.contains("0000000015"), "{t}");
        assert!(t.contains("trailer"), "{t}");
        assert!(t.contains("late 4111"), "{t}");
    }

    #[test]
    fn xref_parsing_stops_at_anything_else() {
        assert_eq!(xref_entry(b"0000000015 00000 n \nx"), Some(20));
        assert_eq!(xref_entry(b"0000000015 00000 n\n"), Some(19));
        assert_eq!(xref_entry(b"4111 1111 1111 1111"), None);
        assert_eq!(subsection(b"0 6\n"), Some((3, 6)));
        assert_eq!(subsection(b"4111 1111 1111"), None);
        let mut out = Vec::new();
        outside(b"xref\n4111 1111\n1111 1111\n", 0..25, &mut out);
        assert!(String::from_utf8_lossy(&out).contains("4111 1111"));
    }
}
