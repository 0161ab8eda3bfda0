//! Text in a charset its label names (a MIME part's `charset=`, an RFC 2047 encoded word, a
//! vCard 2.1 `CHARSET=`), decoded to UTF-8: every encoding `encoding_rs` knows, and the
//! seven-bit ones it does not decode: UTF-7 (RFC 2152), HZ (RFC 1843) and ISO-2022-KR
//! (RFC 1557), with UTF-16 and UTF-32 by their byte order mark (big endian without one).
//! Each decoder is streaming: it takes any chunking and carries a partial character.

use encoding_rs::Encoding;

/// What a charset label names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Label {
    /// ASCII-compatible bytes read as they are (UTF-8, US-ASCII, Latin-1, Windows-1252:
    /// what the normaliser reads bytes as anyway).
    AsIs,
    Encoding(&'static Encoding),
    Utf7,
    Hz,
    Iso2022Kr,
    /// UTF-16 without its byte order named: by the byte order mark, big endian without one.
    Utf16,
    /// UTF-32: `Some(big)` when the label names the order, else by the byte order mark.
    Utf32(Option<bool>),
}

impl Label {
    /// The charset a label names; `None` for a label no decoder knows.
    pub fn of(label: &[u8]) -> Option<Label> {
        let label = trim_ascii(label);
        if label.len() > 64 {
            return None;
        }
        let lower: Vec<u8> = label.iter().map(u8::to_ascii_lowercase).collect();
        let l = lower.as_slice();
        let strip = |s: &[u8]| s.iter().filter(|b| **b != b'-' && **b != b'_').copied().collect::<Vec<u8>>();
        let bare = strip(l);
        match bare.as_slice() {
            b"utf7" | b"unicode11utf7" | b"csunicode11utf7" | b"xunicode20utf7" => return Some(Label::Utf7),
            b"hzgb2312" | b"hz" => return Some(Label::Hz),
            b"iso2022kr" | b"csiso2022kr" => return Some(Label::Iso2022Kr),
            b"utf16" | b"ucs2" | b"iso10646ucs2" | b"csunicode" => return Some(Label::Utf16),
            b"utf32" | b"ucs4" | b"iso10646ucs4" => return Some(Label::Utf32(None)),
            b"utf32be" => return Some(Label::Utf32(Some(true))),
            b"utf32le" => return Some(Label::Utf32(Some(false))),
            b"utf8" | b"usascii" | b"ascii" => return Some(Label::AsIs),
            _ => {}
        }
        let e = Encoding::for_label_no_replacement(l)?;
        if e == encoding_rs::UTF_8 || e == encoding_rs::WINDOWS_1252 {
            return Some(Label::AsIs);
        }
        Some(Label::Encoding(e))
    }

    /// Whether text in this charset reads differently from its bytes.
    pub fn transforms(self) -> bool {
        self != Label::AsIs
    }
}

fn trim_ascii(s: &[u8]) -> &[u8] {
    let s = &s[s.iter().take_while(|b| b.is_ascii_whitespace() || **b == b'"').count()..];
    let end = s.len() - s.iter().rev().take_while(|b| b.is_ascii_whitespace() || **b == b'"').count();
    &s[..end]
}

/// A streaming decoder for one [`Label`].
#[derive(Debug)]
pub(crate) enum Decoder {
    AsIs,
    Rs(Box<encoding_rs::Decoder>),
    Utf7(Utf7),
    Shift(Box<Shift7>),
    /// UTF-16 or UTF-32 waiting for its first bytes (a byte order mark) to be told.
    Unicode {
        unit: usize,
        big: Option<bool>,
        head: Vec<u8>,
        inner: Option<Box<Decoder>>,
    },
    Utf32 {
        big: bool,
        part: [u8; 4],
        have: usize,
    },
}

impl Decoder {
    pub fn new(label: Label) -> Decoder {
        match label {
            Label::AsIs => Decoder::AsIs,
            Label::Encoding(e) => Decoder::Rs(Box::new(e.new_decoder_with_bom_removal())),
            Label::Utf7 => Decoder::Utf7(Utf7::default()),
            Label::Hz => Decoder::Shift(Box::new(Shift7::new(Shift7Kind::Hz))),
            Label::Iso2022Kr => Decoder::Shift(Box::new(Shift7::new(Shift7Kind::Iso2022Kr))),
            Label::Utf16 => Decoder::Unicode { unit: 2, big: None, head: Vec::new(), inner: None },
            Label::Utf32(big) => Decoder::Unicode { unit: 4, big, head: Vec::new(), inner: None },
        }
    }

    pub fn push(&mut self, data: &[u8], out: &mut Vec<u8>) {
        self.run(data, false, out);
    }

    pub fn finish(&mut self, out: &mut Vec<u8>) {
        self.run(&[], true, out);
    }

    fn run(&mut self, data: &[u8], last: bool, out: &mut Vec<u8>) {
        match self {
            Decoder::AsIs => out.extend_from_slice(data),
            Decoder::Rs(d) => rs_push(d, data, last, out),
            Decoder::Utf7(u) => {
                u.push(data, out);
                if last {
                    u.finish(out);
                }
            }
            Decoder::Shift(s) => {
                s.push(data, out);
                if last {
                    s.finish(out);
                }
            }
            Decoder::Unicode { unit, big, head, inner } => {
                if let Some(d) = inner {
                    return d.run(data, last, out);
                }
                let take = (*unit - head.len()).min(data.len());
                head.extend_from_slice(&data[..take]);
                if head.len() < *unit && !last {
                    return;
                }
                let (order, bom) = match (*unit, head.as_slice()) {
                    (4, [0, 0, 0xFE, 0xFF]) => (true, true),
                    (4, [0xFF, 0xFE, 0, 0]) => (false, true),
                    (2, [0xFE, 0xFF]) => (true, true),
                    (2, [0xFF, 0xFE]) => (false, true),
                    _ => (big.unwrap_or(true), false),
                };
                let mut d = if *unit == 2 {
                    let e = if order { encoding_rs::UTF_16BE } else { encoding_rs::UTF_16LE };
                    Decoder::Rs(Box::new(e.new_decoder_without_bom_handling()))
                } else {
                    Decoder::Utf32 { big: order, part: [0; 4], have: 0 }
                };
                let first = std::mem::take(head);
                if !bom {
                    d.run(&first, false, out);
                }
                d.run(&data[take..], last, out);
                *inner = Some(Box::new(d));
            }
            Decoder::Utf32 { big, part, have } => {
                for &b in data {
                    if let Some(slot) = part.get_mut(*have) {
                        *slot = b;
                    }
                    *have += 1;
                    if *have == 4 {
                        *have = 0;
                        let v = if *big { u32::from_be_bytes(*part) } else { u32::from_le_bytes(*part) };
                        push_char(char::from_u32(v).unwrap_or('\u{FFFD}'), out);
                    }
                }
                if last && *have > 0 {
                    *have = 0;
                    push_char('\u{FFFD}', out);
                }
            }
        }
    }
}

/// Decodes all of `data` in a charset to UTF-8.
pub(crate) fn decode_all(label: Label, data: &[u8], out: &mut Vec<u8>) {
    let mut d = Decoder::new(label);
    d.push(data, out);
    d.finish(out);
}

fn rs_push(d: &mut encoding_rs::Decoder, data: &[u8], last: bool, out: &mut Vec<u8>) {
    let start = out.len();
    let room = d.max_utf8_buffer_length(data.len()).unwrap_or(data.len().saturating_mul(3) + 16);
    out.resize(start + room, 0);
    let (_, _, written, _) = d.decode_to_utf8(data, &mut out[start..], last);
    out.truncate(start + written);
}

fn push_char(c: char, out: &mut Vec<u8>) {
    let mut b = [0u8; 4];
    out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
}

/// UTF-7 (RFC 2152): ASCII as it is, `+` opening a run of modified base64 (UTF-16 code
/// units, no padding) that any character outside base64 closes (a `-` closing it is
/// dropped); `+-` is `+`.
#[derive(Debug, Default)]
pub(crate) struct Utf7 {
    /// In a base64 run.
    shifted: bool,
    /// Right after the `+`: a `-` here makes `+`.
    opened: bool,
    bits: u32,
    nbits: u8,
    high: Option<u16>,
}

impl Utf7 {
    pub fn push(&mut self, data: &[u8], out: &mut Vec<u8>) {
        let mut i = 0;
        while i < data.len() {
            if !self.shifted {
                // Plain ASCII up to the next `+`, at once.
                let k = memchr::memchr(b'+', &data[i..]).map_or(data.len(), |k| i + k);
                out.extend_from_slice(&data[i..k]);
                if k < data.len() {
                    self.shifted = true;
                    self.opened = true;
                    self.bits = 0;
                    self.nbits = 0;
                }
                i = k + 1;
                continue;
            }
            let b = data[i];
            i += 1;
            match b64_value(b) {
                Some(v) => {
                    self.opened = false;
                    self.bits = (self.bits << 6) | u32::from(v);
                    self.nbits += 6;
                    if self.nbits >= 16 {
                        self.nbits -= 16;
                        let unit = (self.bits >> self.nbits) as u16;
                        self.bits &= (1 << self.nbits) - 1;
                        self.unit(unit, out);
                    }
                }
                None => {
                    if self.opened && b == b'-' {
                        out.push(b'+');
                    } else {
                        self.close(out);
                        if b != b'-' {
                            out.push(b);
                        }
                    }
                    self.shifted = false;
                    self.opened = false;
                }
            }
        }
    }

    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.shifted {
            self.close(out);
        }
        self.shifted = false;
    }

    fn close(&mut self, out: &mut Vec<u8>) {
        if self.high.take().is_some() {
            push_char('\u{FFFD}', out);
        }
        self.bits = 0;
        self.nbits = 0;
    }

    fn unit(&mut self, u: u16, out: &mut Vec<u8>) {
        let c = match u {
            0xD800..=0xDBFF => {
                if self.high.replace(u).is_some() {
                    push_char('\u{FFFD}', out);
                }
                return;
            }
            0xDC00..=0xDFFF => self.high.take().and_then(|h| {
                char::from_u32(0x10000 + ((u32::from(h) - 0xD800) << 10) + (u32::from(u) - 0xDC00))
            }),
            _ => {
                if self.high.take().is_some() {
                    push_char('\u{FFFD}', out);
                }
                char::from_u32(u32::from(u))
            }
        };
        push_char(c.unwrap_or('\u{FFFD}'), out);
    }
}

fn b64_value(b: u8) -> Option<u8> {
    match b {
        b'A'..=b'Z' => Some(b - b'A'),
        b'a'..=b'z' => Some(b - b'a' + 26),
        b'0'..=b'9' => Some(b - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shift7Kind {
    /// `~{` to GB2312, `~}` back to ASCII, `~~` a tilde, `~` and a line break nothing.
    Hz,
    /// `ESC $ ) C` once, then SO to KS X 1001, SI back to ASCII.
    Iso2022Kr,
}

/// Seven-bit text that shifts into a double-byte set: HZ (RFC 1843) and ISO-2022-KR
/// (RFC 1557). The double-byte characters are the EUC bytes with their high bit cleared,
/// so each is given to an EUC decoder (GBK, EUC-KR) with the bit set again.
#[derive(Debug)]
pub(crate) struct Shift7 {
    kind: Shift7Kind,
    /// In the double-byte set.
    double: bool,
    /// HZ: a `~` waits for the byte after it. ISO-2022-KR: bytes of an escape sequence.
    pending: u8,
    euc: Box<encoding_rs::Decoder>,
    /// Double-byte set bytes, high bit set, waiting to be decoded.
    run: Vec<u8>,
}

impl Shift7 {
    pub fn new(kind: Shift7Kind) -> Self {
        let e = match kind {
            Shift7Kind::Hz => encoding_rs::GBK,
            Shift7Kind::Iso2022Kr => encoding_rs::EUC_KR,
        };
        Self {
            kind,
            double: false,
            pending: 0,
            euc: Box::new(e.new_decoder_without_bom_handling()),
            run: Vec::new(),
        }
    }

    pub fn push(&mut self, data: &[u8], out: &mut Vec<u8>) {
        for &b in data {
            match self.kind {
                Shift7Kind::Hz => self.hz(b, out),
                Shift7Kind::Iso2022Kr => self.kr(b, out),
            }
        }
        self.flush(false, out);
    }

    pub fn finish(&mut self, out: &mut Vec<u8>) {
        self.flush(true, out);
    }

    /// Decodes the double-byte characters gathered (all of them when `last`, else up to a
    /// lead byte waiting for its pair).
    fn flush(&mut self, last: bool, out: &mut Vec<u8>) {
        if !self.run.is_empty() || last {
            let run = std::mem::take(&mut self.run);
            rs_push(&mut self.euc, &run, last, out);
            self.run = run;
            self.run.clear();
        }
    }

    /// Back to ASCII (shift in): a lead byte left alone is no character.
    fn shift_in(&mut self, out: &mut Vec<u8>) {
        self.flush(false, out);
        *self.euc = self.euc.encoding().new_decoder_without_bom_handling();
        self.double = false;
    }

    fn byte(&mut self, b: u8, out: &mut Vec<u8>) {
        if self.double && (0x21..=0x7E).contains(&b) {
            self.run.push(b | 0x80);
        } else {
            if self.double {
                self.flush(false, out);
            }
            out.push(b);
        }
    }

    fn hz(&mut self, b: u8, out: &mut Vec<u8>) {
        if self.pending == b'~' {
            self.pending = 0;
            match b {
                b'~' => self.byte(b'~', out),
                b'{' => {
                    self.flush(false, out);
                    self.double = true;
                }
                b'}' => self.shift_in(out),
                b'\n' => {}
                _ => {
                    self.byte(b'~', out);
                    self.byte(b, out);
                }
            }
        } else if b == b'~' {
            self.pending = b'~';
        } else {
            if b == b'\n' && self.double {
                // A line ends the double-byte set (RFC 1843 keeps lines in ASCII).
                self.shift_in(out);
            }
            self.byte(b, out);
        }
    }

    fn kr(&mut self, b: u8, out: &mut Vec<u8>) {
        // `ESC $ ) C` designates KS X 1001: nothing to print.
        match (self.pending, b) {
            (0, 0x1B) => self.pending = 1,
            (1, b'$') => self.pending = 2,
            (2, b')') => self.pending = 3,
            (3, b'C') => self.pending = 0,
            (p, _) if p > 0 => {
                // Not the designation: what was held is text.
                self.pending = 0;
                for held in [0x1B, b'$', b')'].into_iter().take(usize::from(p)) {
                    self.byte(held, out);
                }
                self.kr(b, out);
            }
            (_, 0x0E) => {
                self.flush(false, out);
                self.double = true;
            }
            (_, 0x0F) => self.shift_in(out),
            _ => {
                if b == b'\n' && self.double {
                    self.shift_in(out);
                }
                self.byte(b, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(label: &str, data: &[u8]) -> String {
        let l = Label::of(label.as_bytes()).expect("label");
        let mut whole = Vec::new();
        decode_all(l, data, &mut whole);
        // Any chunking reads the same.
        for chunk in [1, 2, 3, 5] {
            let mut d = Decoder::new(l);
            let mut out = Vec::new();
            for c in data.chunks(chunk) {
                d.push(c, &mut out);
            }
            d.finish(&mut out);
            assert_eq!(out, whole, "{label} in chunks of {chunk}");
        }
        String::from_utf8(whole).expect("utf-8")
    }

    #[test]
    fn utf7() {
        assert_eq!(dec("UTF-7", b"Card +ADQAMQAxADE- 1111 a+-b +ZeVnLIqe-."), "Card 4111 1111 a+b 日本語.");
        assert_eq!(dec("utf-7", b"+/v8-x +2D3eAA-"), "\u{feff}x 😀");
        // A run that ends the text, or a stray `+`, costs nothing else.
        assert_eq!(dec("utf-7", b"a+AD"), "a");
        assert_eq!(dec("utf-7", b"a+!b"), "a!b");
    }

    #[test]
    fn hz_and_iso_2022_kr() {
        assert_eq!(dec("HZ-GB-2312", b"~{#4#1~} ~~x~\ny"), "４１ ~xy");
        assert_eq!(dec("iso-2022-kr", b"\x1b$)C\x0e#4#1\x0f 1 \x1b$x"), "４１ 1 \x1b$x");
        assert_eq!(dec("iso-2022-kr", b"\x1b$)C\x0e9x\x0fa"), "번a");
    }

    #[test]
    fn utf16_and_utf32_by_byte_order_mark() {
        assert_eq!(dec("utf-16", b"\xff\xfe4\x001\x00"), "41");
        assert_eq!(dec("UTF-16", b"\x004\x001"), "41");
        assert_eq!(dec("utf-16le", b"4\x001\x00"), "41");
        assert_eq!(dec("utf-32", b"\0\0\0\x34\0\0\0\x31"), "41");
        assert_eq!(dec("utf-32", b"\xff\xfe\0\0\x34\0\0\0"), "4");
        assert_eq!(dec("utf-32le", b"\x34\0\0\0\x31\0\0"), "4\u{fffd}");
        assert_eq!(dec("utf-16", b"4"), "\u{fffd}");
    }

    #[test]
    fn labels() {
        assert_eq!(Label::of(b"utf-8"), Some(Label::AsIs));
        assert_eq!(Label::of(b"\"ISO-8859-1\""), Some(Label::AsIs));
        assert_eq!(Label::of(b"x-nonsense"), None);
        assert_eq!(Label::of(b"ISO-2022-JP"), Some(Label::Encoding(encoding_rs::ISO_2022_JP)));
        assert_eq!(dec("shift_jis", b"\x82\x53"), "４");
        assert_eq!(dec("koi8-r", b"\xc1"), "а");
    }
}
