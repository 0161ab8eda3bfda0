//! Streaming text filters: UTF-16 to UTF-8, markup to text, JSON escapes to text.
//!
//! Each filter is a small state machine that takes any chunking of its input and appends
//! its output to a `Vec`, so the text of a member can be scanned as it arrives.

use crate::identify::Charset;

/// UTF-16 (LE or BE) to UTF-8, carrying an odd byte and a high surrogate between chunks.
#[derive(Debug)]
pub(crate) struct Utf16 {
    big_endian: bool,
    odd: Option<u8>,
    high: Option<u16>,
}

impl Utf16 {
    pub fn new(charset: Charset) -> Self {
        Self { big_endian: charset == Charset::Utf16Be, odd: None, high: None }
    }

    pub fn push(&mut self, data: &[u8], out: &mut Vec<u8>) {
        let mut i = 0;
        if let Some(o) = self.odd.take() {
            match data.first() {
                Some(&b) => {
                    self.unit(self.pair(o, b), out);
                    i = 1;
                }
                None => {
                    self.odd = Some(o);
                    return;
                }
            }
        }
        while i + 1 < data.len() {
            let u = self.pair(data[i], data[i + 1]);
            self.unit(u, out);
            i += 2;
        }
        if i < data.len() {
            self.odd = Some(data[i]);
        }
    }

    fn pair(&self, a: u8, b: u8) -> u16 {
        if self.big_endian {
            u16::from_be_bytes([a, b])
        } else {
            u16::from_le_bytes([a, b])
        }
    }

    fn unit(&mut self, u: u16, out: &mut Vec<u8>) {
        if (0xD800..0xDC00).contains(&u) {
            self.high = Some(u);
            return;
        }
        let c = if (0xDC00..0xE000).contains(&u) {
            match self.high.take() {
                Some(h) => {
                    char::from_u32(0x10000 + ((u32::from(h) - 0xD800) << 10) + (u32::from(u) - 0xDC00))
                }
                None => None,
            }
        } else {
            self.high = None;
            char::from_u32(u32::from(u))
        };
        let c = c.unwrap_or('\u{FFFD}');
        if c.is_ascii() {
            out.push(c as u8);
        } else {
            let mut b = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
        }
    }
}

/// Local names of tags that do not separate words: runs and formatting in office XML,
/// inline elements in HTML. Every other tag becomes a line break.
const INLINE_TAGS: &[&[u8]] = &[
    b"r",
    b"t",
    b"rpr",
    b"b",
    b"i",
    b"u",
    b"sz",
    b"szcs",
    b"color",
    b"rfonts",
    b"lang",
    b"prooferr",
    b"bookmarkstart",
    b"bookmarkend",
    b"noproof",
    b"vertalign",
    b"highlight",
    b"lastrenderedpagebreak",
    b"span",
    b"a",
    b"em",
    b"strong",
    b"font",
    b"code",
    b"small",
    b"big",
    b"abbr",
    b"mark",
    b"sub",
    b"sup",
    b"ins",
    b"del",
    b"rpr",
    b"spacing",
    b"kern",
    b"w",
    b"position",
    b"bcs",
    b"ics",
    b"rstyle",
    b"smarttag",
    b"softhyphen",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    Text,
    /// After `<`: collecting the name.
    Name,
    /// Inside a tag after its name.
    Attrs,
    /// Inside a quoted attribute value (its text is emitted).
    Quote(u8),
    /// Inside `<!-- -->` (emitted: comments can hold data too).
    Comment,
    /// Inside `<![CDATA[ ]]>`.
    Cdata,
    /// After `&`: collecting an entity.
    Entity,
}

/// HTML/XML to text: tags removed (block tags become line breaks), attribute values and
/// comments kept, character entities decoded.
#[derive(Debug)]
pub(crate) struct Markup {
    state: Tag,
    /// The state to return to after an entity.
    after_entity: Tag,
    name: Vec<u8>,
    /// Whether the open tag is inline: its attribute values are formatting, not text.
    inline: bool,
    entity: Vec<u8>,
    /// Closing bytes (`-` in a comment, `]` in CDATA) held back, at most two.
    held: u8,
}

impl Markup {
    pub fn new() -> Self {
        Self {
            state: Tag::Text,
            after_entity: Tag::Text,
            name: Vec::new(),
            inline: false,
            entity: Vec::new(),
            held: 0,
        }
    }

    pub fn push(&mut self, data: &[u8], out: &mut Vec<u8>) {
        // Text, attribute lists and quoted values are skimmed with memchr; only the bytes
        // that change state go through the state machine.
        let mut i = 0;
        while i < data.len() {
            let rest = &data[i..];
            let hit = match self.state {
                Tag::Text => {
                    let k = memchr::memchr2(b'<', b'&', rest);
                    out.extend_from_slice(&rest[..k.unwrap_or(rest.len())]);
                    k
                }
                Tag::Attrs => memchr::memchr3(b'>', b'"', b'\'', rest),
                Tag::Quote(q) if self.inline => memchr::memchr(q, rest),
                Tag::Quote(q) => {
                    let k = memchr::memchr2(q, b'&', rest);
                    out.extend_from_slice(&rest[..k.unwrap_or(rest.len())]);
                    k
                }
                _ => Some(0),
            };
            match hit {
                Some(k) => {
                    self.byte(rest[k], out);
                    i += k + 1;
                }
                None => return,
            }
        }
    }

    fn byte(&mut self, b: u8, out: &mut Vec<u8>) {
        match self.state {
            Tag::Text => match b {
                b'<' => {
                    self.state = Tag::Name;
                    self.name.clear();
                }
                b'&' => {
                    self.after_entity = Tag::Text;
                    self.state = Tag::Entity;
                    self.entity.clear();
                }
                _ => out.push(b),
            },
            Tag::Name => {
                if self.name.as_slice() == b"!--" {
                    self.state = Tag::Comment;
                    self.held = 0;
                    out.push(b'\n');
                    self.byte(b, out);
                    return;
                }
                if self.name.as_slice() == b"![CDATA[" {
                    self.state = Tag::Cdata;
                    self.held = 0;
                    self.byte(b, out);
                    return;
                }
                match b {
                    b'>' => self.end_tag(out),
                    b' ' | b'\t' | b'\r' | b'\n' | b'/'
                        if !self.name.is_empty() && !self.name.starts_with(b"!") =>
                    {
                        self.state = Tag::Attrs;
                        self.inline = is_inline(&self.name);
                    }
                    _ => {
                        if self.name.len() < 64 {
                            self.name.push(b);
                        }
                    }
                }
            }
            Tag::Attrs => match b {
                b'>' => self.end_tag(out),
                b'"' | b'\'' => {
                    self.state = Tag::Quote(b);
                    if !self.inline {
                        out.push(b'\n');
                    }
                }
                _ => {}
            },
            Tag::Quote(q) => {
                if b == q {
                    self.state = Tag::Attrs;
                    if !self.inline {
                        out.push(b'\n');
                    }
                } else if self.inline {
                    // Formatting attributes of runs: not text.
                } else if b == b'&' {
                    self.after_entity = Tag::Quote(q);
                    self.state = Tag::Entity;
                    self.entity.clear();
                } else {
                    out.push(b);
                }
            }
            Tag::Comment | Tag::Cdata => {
                // The `--` (or `]]`) that may end the section is held back until the next byte
                // says whether it does: taking it back out of `out` later would miss the bytes
                // an earlier piece already emitted.
                let (close, end) =
                    if self.state == Tag::Comment { (b'-', &b"\n"[..]) } else { (b']', &b""[..]) };
                if b == b'>' && self.held == 2 {
                    out.extend_from_slice(end);
                    self.held = 0;
                    self.state = Tag::Text;
                } else if b == close && self.held < 2 {
                    self.held += 1;
                } else if b == close {
                    out.push(close);
                } else {
                    out.extend(std::iter::repeat_n(close, usize::from(self.held)));
                    self.held = 0;
                    out.push(b);
                }
            }
            Tag::Entity => {
                if b == b';' {
                    decode_entity(&self.entity, out);
                    self.state = self.after_entity;
                } else if (b.is_ascii_alphanumeric() || b == b'#') && self.entity.len() < 10 {
                    self.entity.push(b);
                } else {
                    out.push(b'&');
                    out.extend_from_slice(&self.entity);
                    self.state = self.after_entity;
                    self.byte(b, out);
                }
            }
        }
    }

    fn end_tag(&mut self, out: &mut Vec<u8>) {
        self.state = Tag::Text;
        let local = local_name(&self.name);
        if local.eq_ignore_ascii_case(b"tab") || local.eq_ignore_ascii_case(b"s") {
            out.push(b' ');
        } else if !is_inline(&self.name) {
            out.push(b'\n');
        }
    }
}

/// The local name of a tag (`/w:t/` -> `t`).
fn local_name(name: &[u8]) -> &[u8] {
    let name = name.strip_prefix(b"/").unwrap_or(name);
    let name = name.strip_suffix(b"/").unwrap_or(name);
    match name.iter().rposition(|&c| c == b':') {
        Some(k) => &name[k + 1..],
        None => name,
    }
}

fn is_inline(name: &[u8]) -> bool {
    let local = local_name(name);
    INLINE_TAGS.iter().any(|t| t.eq_ignore_ascii_case(local))
}

fn decode_entity(name: &[u8], out: &mut Vec<u8>) {
    let c = match name {
        b"amp" => Some('&'),
        b"lt" => Some('<'),
        b"gt" => Some('>'),
        b"quot" => Some('"'),
        b"apos" => Some('\''),
        b"nbsp" => Some(' '),
        _ => name.strip_prefix(b"#").and_then(|n| {
            let (digits, radix) = match n.strip_prefix(b"x").or_else(|| n.strip_prefix(b"X")) {
                Some(h) => (h, 16),
                None => (n, 10),
            };
            std::str::from_utf8(digits)
                .ok()
                .and_then(|s| u32::from_str_radix(s, radix).ok())
                .and_then(char::from_u32)
        }),
    };
    match c {
        Some(c) => {
            let c = if c == '\u{a0}' { ' ' } else { c };
            let mut b = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
        }
        None => {
            out.push(b'&');
            out.extend_from_slice(name);
            out.push(b';');
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JsonState {
    Out,
    Str,
    Esc,
    Unicode { n: u8, acc: u16 },
}

/// JSON to text: string contents with escapes decoded, each string on its own line;
/// everything outside strings (numbers included) kept as it is.
#[derive(Debug)]
pub(crate) struct Json {
    state: JsonState,
    high: Option<u16>,
}

impl Json {
    pub fn new() -> Self {
        Self { state: JsonState::Out, high: None }
    }

    pub fn push(&mut self, data: &[u8], out: &mut Vec<u8>) {
        for &b in data {
            match self.state {
                JsonState::Out => {
                    if b == b'"' {
                        self.state = JsonState::Str;
                        out.push(b'\n');
                    } else {
                        out.push(b);
                    }
                }
                JsonState::Str => match b {
                    b'"' => {
                        self.state = JsonState::Out;
                        out.push(b'\n');
                    }
                    b'\\' => self.state = JsonState::Esc,
                    _ => out.push(b),
                },
                JsonState::Esc => {
                    self.state = JsonState::Str;
                    match b {
                        b'n' | b'r' => out.push(b'\n'),
                        b't' => out.push(b'\t'),
                        b'b' | b'f' => out.push(b' '),
                        b'u' => self.state = JsonState::Unicode { n: 0, acc: 0 },
                        _ => out.push(b),
                    }
                }
                JsonState::Unicode { n, acc } => {
                    let Some(v) = (b as char).to_digit(16) else {
                        self.state = JsonState::Str;
                        out.push(b);
                        continue;
                    };
                    let acc = (acc << 4) | v as u16;
                    if n < 3 {
                        self.state = JsonState::Unicode { n: n + 1, acc };
                        continue;
                    }
                    self.state = JsonState::Str;
                    self.unit(acc, out);
                }
            }
        }
    }

    fn unit(&mut self, u: u16, out: &mut Vec<u8>) {
        if (0xD800..0xDC00).contains(&u) {
            self.high = Some(u);
            return;
        }
        let c = match (self.high.take(), u) {
            (Some(h), 0xDC00..=0xDFFF) => {
                char::from_u32(0x10000 + ((u32::from(h) - 0xD800) << 10) + (u32::from(u) - 0xDC00))
            }
            _ => char::from_u32(u32::from(u)),
        }
        .unwrap_or('\u{FFFD}');
        let mut b = [0u8; 4];
        out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
    }
}

#[cfg(test)]
mod tests {
    /// Markup text of `data` fed in pieces of `size` bytes.
    fn markup_in_pieces(data: &[u8], size: usize) -> Vec<u8> {
        let (mut markup, mut text, mut out) = (Markup::new(), Vec::new(), Vec::new());
        for piece in data.chunks(size) {
            out.clear();
            markup.push(piece, &mut out);
            text.extend_from_slice(&out);
        }
        text
    }

    #[test]
    fn comment_and_cdata_ends_split_anywhere_give_the_same_text() {
        // Found by the extract_bytewise fuzz target: the `--` or `]]` before `>` was taken back
        // from the current piece's output, so a piece boundary inside `-->` left it in the text.
        let html = b"a<!-- card 4111 1111 1111 1111 -- x --->b<![CDATA[ssn 123-45-6789]]]>c<!---->d";
        let whole = markup_in_pieces(html, html.len());
        assert_eq!(whole, b"a\n card 4111 1111 1111 1111 -- x -\nbssn 123-45-6789]c\n\nd");
        for size in 1..html.len() {
            assert_eq!(markup_in_pieces(html, size), whole, "pieces of {size} bytes");
        }
    }

    use super::*;

    fn markup(chunks: &[&[u8]]) -> String {
        let mut m = Markup::new();
        let mut out = Vec::new();
        for c in chunks {
            m.push(c, &mut out);
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn markup_strips_tags_and_joins_runs() {
        let s = markup(&[b"<w:p><w:r><w:t>4111</w:t></w:r><w:r><w:t>1111</w:t></w:r></w:p><w:p>x</w:p>"]);
        assert!(s.contains("41111111"), "{s:?}");
        assert!(s.contains("1111\n"), "{s:?}");
        let s = markup(&[b"<p>a &amp; b &#52;&#x31;</p><!-- secret --><input value=\"v&lt;1\">"]);
        assert!(s.contains("a & b 41"), "{s:?}");
        assert!(s.contains(" secret "), "{s:?}");
        assert!(s.contains("v<1"), "{s:?}");
        let s = markup(&[b"<a><![CDATA[x<y]]></a>"]);
        assert!(s.contains("x<y"), "{s:?}");
    }

    #[test]
    fn json_unescapes() {
        let mut j = Json::new();
        let mut out = Vec::new();
        for b in br#"{"a":"SSN\n123\u002d45-6789","n":4111111111111111,"e":"\ud83d\ude00"}"# {
            j.push(&[*b], &mut out);
        }
        let s = String::from_utf8(out).unwrap();
        assert!(s.contains("SSN\n123-45-6789"), "{s:?}");
        assert!(s.contains(":4111111111111111,"), "{s:?}");
        assert!(s.contains('\u{1F600}'), "{s:?}");
    }

    #[test]
    fn utf16_runs_in_binary() {
        let mut bin = vec![0xD0u8, 0xCF, 1, 2, 3];
        bin.push(0);
        bin.extend("ab".encode_utf16().flat_map(u16::to_le_bytes));
        bin.extend([0xFF, 0xFF]);
        bin.extend("SSN 123-45-6789".encode_utf16().flat_map(u16::to_le_bytes));
        bin.extend([0x01, 0x02]);
        for split in 0..bin.len() {
            let mut r = Utf16Runs::default();
            let mut out = Vec::new();
            r.push(&bin[..split], &mut out);
            r.push(&bin[split..], &mut out);
            assert_eq!(String::from_utf8(out).unwrap(), "SSN 123-45-6789\n");
        }
    }

    #[test]
    fn utf16_any_split() {
        let text = "card 4111 😀";
        let le: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
        for split in 0..le.len() {
            let mut d = Utf16::new(Charset::Utf16Le);
            let mut out = Vec::new();
            d.push(&le[..split], &mut out);
            d.push(&le[split..], &mut out);
            assert_eq!(String::from_utf8(out).unwrap(), text);
        }
    }
}

/// Runs of UTF-16LE ASCII (`c\0c\0...`, four characters or more) in binary data, as in the
/// streams of legacy Office files. Each run ends with a line break.
#[derive(Debug, Default)]
pub(crate) struct Utf16Runs {
    odd: Option<u8>,
    run: Vec<u8>,
}

/// Characters a run needs before it is text.
const MIN_RUN: usize = 4;

impl Utf16Runs {
    pub fn push(&mut self, data: &[u8], out: &mut Vec<u8>) {
        let mut i = 0;
        if let Some(lo) = self.odd.take() {
            match data.first() {
                Some(&hi) => {
                    self.unit(lo, hi, out);
                    i = 1;
                }
                None => {
                    self.odd = Some(lo);
                    return;
                }
            }
        }
        while i + 1 < data.len() {
            self.unit(data[i], data[i + 1], out);
            i += 2;
        }
        if i < data.len() {
            self.odd = Some(data[i]);
        }
    }

    fn unit(&mut self, lo: u8, hi: u8, out: &mut Vec<u8>) {
        if hi == 0 && (lo.is_ascii_graphic() || lo == b' ' || lo == b'\t') {
            if self.run.len() < MIN_RUN {
                self.run.push(lo);
                if self.run.len() == MIN_RUN {
                    out.extend_from_slice(&self.run);
                }
            } else {
                out.push(lo);
            }
        } else {
            if self.run.len() >= MIN_RUN {
                out.push(b'\n');
            }
            self.run.clear();
        }
    }
}
