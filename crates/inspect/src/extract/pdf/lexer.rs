//! PDF tokens (ISO 32000-1 section 7.2) over a byte slice, without allocating: a token is a
//! kind and a span; strings and names are decoded on demand into a caller's buffer.
//!
//! The lexer never fails: bytes that fit no token come back as [`Tok::Stray`], an unclosed
//! string ends at the end of the input, so every byte belongs to exactly one token or to
//! the white space between them.

/// PDF white space.
pub(super) fn is_white(b: u8) -> bool {
    matches!(b, 0 | 9 | 10 | 12 | 13 | 32)
}

/// PDF delimiters.
pub(super) fn is_delim(b: u8) -> bool {
    matches!(b, b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%')
}

fn is_regular(b: u8) -> bool {
    !is_white(b) && !is_delim(b)
}

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tok {
    Number,
    /// `/Name`, the span includes the slash.
    Name,
    /// `( ... )`.
    Literal,
    /// `< ... >`.
    Hex,
    DictOpen,
    DictClose,
    ArrayOpen,
    ArrayClose,
    BraceOpen,
    BraceClose,
    /// Operators, `obj`, `R`, `true`, ... : any run of regular characters that is no number.
    Keyword,
    /// `%` to the end of the line.
    Comment,
    /// A delimiter out of place (`)` or a single `>`).
    Stray,
}

/// A token: its kind, its span, and for strings the span of their body.
#[derive(Debug, Clone, Copy)]
pub(super) struct Token {
    pub kind: Tok,
    pub start: usize,
    pub end: usize,
    /// For strings: the bytes between the delimiters.
    pub body: (usize, usize),
}

/// Tokens of `data` from `pos` on.
#[derive(Debug, Clone)]
pub(super) struct Lexer<'a> {
    pub data: &'a [u8],
    pub pos: usize,
}

impl<'a> Lexer<'a> {
    pub fn new(data: &'a [u8], pos: usize) -> Self {
        Self { data, pos }
    }

    /// The bytes of a token.
    pub fn bytes(&self, t: &Token) -> &'a [u8] {
        &self.data[t.start..t.end]
    }

    /// Skips white space; the position of the next token (or the end).
    pub fn skip_white(&mut self) -> usize {
        while self.pos < self.data.len() && is_white(self.data[self.pos]) {
            self.pos += 1;
        }
        self.pos
    }

    pub fn next_token(&mut self) -> Option<Token> {
        let d = self.data;
        let start = self.skip_white();
        let &b = d.get(start)?;
        let tok = |kind, end| Token { kind, start, end, body: (start, end) };
        let t = match b {
            b'%' => {
                let e = memchr::memchr2(b'\n', b'\r', &d[start..]).map_or(d.len(), |e| start + e);
                tok(Tok::Comment, e)
            }
            b'(' => {
                let (body_end, end) = literal_end(d, start + 1);
                Token { kind: Tok::Literal, start, end, body: (start + 1, body_end) }
            }
            b'<' if d.get(start + 1) == Some(&b'<') => tok(Tok::DictOpen, start + 2),
            b'<' => {
                let body_end = memchr::memchr(b'>', &d[start + 1..]).map_or(d.len(), |e| start + 1 + e);
                let end = (body_end + 1).min(d.len());
                Token { kind: Tok::Hex, start, end, body: (start + 1, body_end) }
            }
            b'>' if d.get(start + 1) == Some(&b'>') => tok(Tok::DictClose, start + 2),
            b'[' => tok(Tok::ArrayOpen, start + 1),
            b']' => tok(Tok::ArrayClose, start + 1),
            b'{' => tok(Tok::BraceOpen, start + 1),
            b'}' => tok(Tok::BraceClose, start + 1),
            b'>' | b')' => tok(Tok::Stray, start + 1),
            b'/' => {
                let mut e = start + 1;
                while e < d.len() && is_regular(d[e]) {
                    e += 1;
                }
                tok(Tok::Name, e)
            }
            _ => {
                let mut e = start;
                while e < d.len() && is_regular(d[e]) {
                    e += 1;
                }
                let kind = if is_number(&d[start..e]) { Tok::Number } else { Tok::Keyword };
                tok(kind, e)
            }
        };
        self.pos = t.end;
        Some(t)
    }

    /// The next token without consuming it.
    pub fn peek(&self) -> Option<Token> {
        self.clone().next_token()
    }
}

/// Where a literal string whose body starts at `i` ends: (end of body, end of token).
fn literal_end(d: &[u8], mut i: usize) -> (usize, usize) {
    let mut depth = 1u32;
    while i < d.len() {
        // Skip to the next byte that matters.
        match memchr::memchr3(b'(', b')', b'\\', &d[i..]) {
            None => return (d.len(), d.len()),
            Some(k) => i += k,
        }
        match d[i] {
            b'\\' => i += 2,
            b'(' => {
                depth += 1;
                i += 1;
            }
            _ => {
                depth -= 1;
                if depth == 0 {
                    return (i, i + 1);
                }
                i += 1;
            }
        }
    }
    (d.len(), d.len())
}

/// `[+-]?(digits[.digits]|.digits)`, as PDF writes numbers (`-.5`, `12.`, `+3`).
pub(super) fn is_number(s: &[u8]) -> bool {
    let s = s.strip_prefix(b"+").or_else(|| s.strip_prefix(b"-")).unwrap_or(s);
    let mut digits = 0;
    let mut dots = 0;
    for &b in s {
        match b {
            b'0'..=b'9' => digits += 1,
            b'.' => dots += 1,
            _ => return false,
        }
    }
    digits > 0 && dots <= 1
}

/// The value of a number token (0 for anything unreadable; never NaN or infinite). Short
/// decimals, nearly all of them, are read without the general parser.
pub(super) fn number(s: &[u8]) -> f64 {
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.len() <= 15 {
        let (mut v, mut scale, mut dot, mut ok) = (0u64, 1u64, false, !digits.is_empty());
        for &b in digits {
            match b {
                b'0'..=b'9' => {
                    v = v * 10 + u64::from(b - b'0');
                    if dot {
                        scale *= 10;
                    }
                }
                b'.' if !dot => dot = true,
                _ => ok = false,
            }
        }
        if ok {
            let v = v as f64 / scale as f64;
            return if neg { -v } else { v };
        }
    }
    let v: f64 = std::str::from_utf8(s).ok().and_then(|t| t.parse().ok()).unwrap_or(0.0);
    if v.is_finite() {
        v
    } else {
        0.0
    }
}

/// Appends the bytes of a literal string body, escapes decoded.
pub(super) fn decode_literal(body: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < body.len() {
        let b = body[i];
        i += 1;
        if b == b'\r' {
            // An unescaped end of line is a line feed, whatever its form.
            if body.get(i) == Some(&b'\n') {
                i += 1;
            }
            out.push(b'\n');
            continue;
        }
        if b != b'\\' {
            out.push(b);
            continue;
        }
        let Some(&e) = body.get(i) else { break };
        i += 1;
        match e {
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'\r' => {
                if body.get(i) == Some(&b'\n') {
                    i += 1;
                }
            }
            b'\n' => {}
            b'0'..=b'7' => {
                let mut v = u32::from(e - b'0');
                for _ in 0..2 {
                    match body.get(i) {
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
}

/// Appends the bytes of a hex string body (white space and stray characters ignored, an odd
/// last digit padded with 0).
pub(super) fn decode_hex(body: &[u8], out: &mut Vec<u8>) {
    let mut hi: Option<u8> = None;
    for &b in body {
        let v = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => continue,
        };
        match hi.take() {
            Some(h) => out.push(h << 4 | v),
            None => hi = Some(v),
        }
    }
    if let Some(h) = hi {
        out.push(h << 4);
    }
}

/// Appends a name without its slash, `#xx` escapes decoded.
pub(super) fn decode_name(name: &[u8], out: &mut Vec<u8>) {
    let name = name.strip_prefix(b"/").unwrap_or(name);
    let mut i = 0;
    while i < name.len() {
        if name[i] == b'#' {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(h), Some(l)) =
                (name.get(i + 1).and_then(|&b| hex(b)), name.get(i + 2).and_then(|&b| hex(b)))
            {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(name[i]);
        i += 1;
    }
}

/// The bytes of a string token (literal or hex), decoded, appended to `out`.
pub(super) fn decode_string(data: &[u8], t: &Token, out: &mut Vec<u8>) {
    let body = &data[t.body.0..t.body.1];
    if t.kind == Tok::Hex {
        decode_hex(body, out);
    } else {
        decode_literal(body, out);
    }
}

/// Text of a PDF text string (section 7.9.2): UTF-16BE with a byte order mark (or UTF-16LE
/// with its mark, which some writers use), UTF-8 with its mark, otherwise the bytes as they
/// are (PDFDocEncoding agrees with ASCII).
pub(super) fn text_string(bytes: &[u8], out: &mut Vec<u8>) {
    use crate::identify::Charset;
    if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        crate::text::Utf16::new(Charset::Utf16Be).push(rest, out);
    } else if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        crate::text::Utf16::new(Charset::Utf16Le).push(rest, out);
    } else {
        out.extend_from_slice(bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(s: &[u8]) -> Vec<(Tok, String)> {
        let mut l = Lexer::new(s, 0);
        std::iter::from_fn(|| l.next_token())
            .map(|t| (t.kind, String::from_utf8_lossy(&s[t.start..t.end]).into_owned()))
            .collect()
    }

    #[test]
    fn tokens() {
        let k = kinds(b"1 0 obj<</A(x(y)\\))/B<4142>/C[-.5 +3 1.2.3]>>% c\nstream");
        let names: Vec<&str> = k.iter().map(|(_, s)| s.as_str()).collect();
        assert_eq!(
            names,
            [
                "1",
                "0",
                "obj",
                "<<",
                "/A",
                "(x(y)\\))",
                "/B",
                "<4142>",
                "/C",
                "[",
                "-.5",
                "+3",
                "1.2.3",
                "]",
                ">>",
                "% c",
                "stream"
            ]
        );
        assert_eq!(k[10].0, Tok::Number);
        assert_eq!(k[12].0, Tok::Keyword);
        assert_eq!(kinds(b"(open")[0].1, "(open");
        assert_eq!(kinds(b") >")[0].0, Tok::Stray);
    }

    #[test]
    fn numbers() {
        for (s, v) in [
            ("12", 12.0),
            ("-3.25", -3.25),
            ("+.5", 0.5),
            ("7.", 7.0),
            ("-", 0.0),
            ("123456789012345678", 1.2345678901234568e17),
        ] {
            assert_eq!(number(s.as_bytes()), v, "{s}");
        }
    }

    #[test]
    fn strings_decode() {
        let mut out = Vec::new();
        decode_literal(b"a\\(b\\)\\061\\62\\\nc\\n", &mut out);
        assert_eq!(out, b"a(b)12c\n");
        out.clear();
        decode_hex(b"41 42\n4", &mut out);
        assert_eq!(out, b"AB@");
        out.clear();
        decode_name(b"/A#20B#zz", &mut out);
        assert_eq!(out, b"A B#zz");
        out.clear();
        text_string(&[0xFE, 0xFF, 0, b'h', 0, b'i'], &mut out);
        assert_eq!(out, b"hi");
    }
}
