//! The normaliser's second stage: bytes to the characters detection sees. HTML character
//! references are decoded, UTF-8 is decoded and each character folded (digits of every
//! script, spaces, dashes, invisible characters), and bytes that are not UTF-8 are read as
//! Windows-1252.

use super::entities::{self, MAX_NAME};
use super::unicode::{fold, fold_cp1252, Folded};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chars {
    Idle,
    /// Inside a UTF-8 sequence of `need` bytes.
    Utf8 {
        bytes: [u8; 4],
        len: u8,
        need: u8,
    },
    /// After `&`.
    Amp,
    /// After `&#`.
    Hash,
    /// Decimal digits of a numeric reference.
    Dec(u32),
    /// After `&#x` (the `x` as written).
    HexStart(u8),
    /// Hex digits of a numeric reference.
    Hex(u32),
    /// Letters and digits of a named reference.
    Name {
        buf: [u8; MAX_NAME],
        len: u8,
    },
    /// After a reference to `%` (`&#37;`, `&percnt;`) of `len` bytes, with the first hex
    /// digit of the percent escape it may begin once read: a browser turns `&#37;34` in a
    /// link into `%34`, and the server decodes that.
    RefPct {
        first: Option<u8>,
        len: u8,
    },
}

/// The second stage's state.
#[derive(Debug)]
pub(super) struct CharStage {
    state: Chars,
    /// Whether character references are decoded.
    refs: bool,
    /// Raw bytes of the numeric reference being read (`&#` and its digits), saturating,
    /// and of its introducer (`&#` or `&#x`).
    ref_len: u8,
    ref_intro: u8,
    /// The byte just pushed ended a numeric reference no encoder writes (unterminated, past
    /// the last character, or standing for a letter or digit): its length and its
    /// introducer's (see `unescaped`).
    pub odd_reference: Option<(usize, usize)>,
}

impl CharStage {
    pub fn new(refs: bool) -> Self {
        Self { state: Chars::Idle, refs, ref_len: 0, ref_intro: 2, odd_reference: None }
    }

    pub fn is_idle(&self) -> bool {
        self.state == Chars::Idle
    }

    /// Ends the text: what is unfinished is written out as it was (a numeric reference
    /// without its `;` is complete).
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        match std::mem::replace(&mut self.state, Chars::Idle) {
            Chars::Idle => {}
            Chars::Utf8 { bytes, len, .. } => bytes[..usize::from(len)].iter().for_each(|&b| latin1(b, out)),
            Chars::Amp => out.push(b'&'),
            Chars::Hash => out.extend_from_slice(b"&#"),
            Chars::Dec(v) | Chars::Hex(v) => emit_char(entities::numeric(v), out),
            Chars::HexStart(x) => out.extend_from_slice(&[b'&', b'#', x]),
            Chars::Name { buf, len } => named_reference(&buf[..usize::from(len)], false, out),
            Chars::RefPct { first, .. } => {
                out.push(b'%');
                out.extend(first);
            }
        }
    }

    /// The next byte.
    pub fn push(&mut self, b: u8, out: &mut Vec<u8>) {
        match self.state {
            Chars::Idle => match b {
                b'&' if self.refs => self.state = Chars::Amp,
                0..=0x7F => out.push(b),
                0xC2..=0xDF => self.state = Chars::Utf8 { bytes: [b, 0, 0, 0], len: 1, need: 2 },
                0xE0..=0xEF => self.state = Chars::Utf8 { bytes: [b, 0, 0, 0], len: 1, need: 3 },
                0xF0..=0xF4 => self.state = Chars::Utf8 { bytes: [b, 0, 0, 0], len: 1, need: 4 },
                _ => latin1(b, out),
            },
            Chars::Utf8 { mut bytes, len, need } => {
                let lead = bytes[0];
                let ok = match (len, lead) {
                    (1, 0xE0) => (0xA0..=0xBF).contains(&b),
                    (1, 0xED) => (0x80..=0x9F).contains(&b),
                    (1, 0xF0) => (0x90..=0xBF).contains(&b),
                    (1, 0xF4) => (0x80..=0x8F).contains(&b),
                    _ => (0x80..=0xBF).contains(&b),
                };
                if !ok {
                    // Not UTF-8: the bytes so far are Windows-1252 characters.
                    self.state = Chars::Idle;
                    bytes[..usize::from(len)].iter().for_each(|&x| latin1(x, out));
                    self.push(b, out);
                    return;
                }
                bytes[usize::from(len)] = b;
                let len = len + 1;
                if len < need {
                    self.state = Chars::Utf8 { bytes, len, need };
                    return;
                }
                self.state = Chars::Idle;
                let seq = &bytes[..usize::from(len)];
                let c = std::str::from_utf8(seq).ok().and_then(|s| s.chars().next());
                match c.map(|c| fold(c as u32)) {
                    Some(Folded::Ascii(a)) => out.push(a),
                    Some(Folded::Drop) => {}
                    _ => out.extend_from_slice(seq),
                }
            }
            Chars::Amp => match b {
                b'#' => self.state = Chars::Hash,
                _ if b.is_ascii_alphabetic() => {
                    let mut buf = [0u8; MAX_NAME];
                    buf[0] = b;
                    self.state = Chars::Name { buf, len: 1 };
                }
                _ => {
                    self.state = Chars::Idle;
                    out.push(b'&');
                    self.push(b, out);
                }
            },
            Chars::Hash => match b {
                b'x' | b'X' => self.state = Chars::HexStart(b),
                b'0'..=b'9' => {
                    (self.ref_len, self.ref_intro) = (3, 2);
                    self.state = Chars::Dec(u32::from(b - b'0'));
                }
                _ => {
                    self.state = Chars::Idle;
                    out.extend_from_slice(b"&#");
                    self.push(b, out);
                }
            },
            Chars::Dec(v) => match b {
                b'0'..=b'9' => {
                    self.ref_len = self.ref_len.saturating_add(1);
                    self.state = Chars::Dec(entities::push_digit(v, 10, u32::from(b - b'0')));
                }
                _ => self.end_numeric(v, b, out),
            },
            Chars::HexStart(x) => {
                if b.is_ascii_hexdigit() {
                    (self.ref_len, self.ref_intro) = (4, 3);
                    self.state = Chars::Hex(u32::from(hex(b)));
                } else {
                    self.state = Chars::Idle;
                    out.extend_from_slice(&[b'&', b'#', x]);
                    self.push(b, out);
                }
            }
            Chars::Hex(v) => {
                if b.is_ascii_hexdigit() {
                    self.ref_len = self.ref_len.saturating_add(1);
                    self.state = Chars::Hex(entities::push_digit(v, 16, u32::from(hex(b))));
                } else {
                    self.end_numeric(v, b, out);
                }
            }
            Chars::RefPct { first, len } => match first {
                None if b.is_ascii_hexdigit() => self.state = Chars::RefPct { first: Some(b), len },
                Some(h) if b.is_ascii_hexdigit() => {
                    self.state = Chars::Idle;
                    let x = (hex(h) << 4) | hex(b);
                    if x.is_ascii_alphanumeric() || (h.is_ascii_alphabetic() && b.is_ascii_alphabetic()) {
                        // `&#37;4111 1111 ...` reads `%4111 1111 ...` in a browser.
                        self.odd_reference = Some((usize::from(len) + 2, usize::from(len)));
                    }
                    self.push(x, out);
                }
                _ => {
                    self.state = Chars::Idle;
                    out.push(b'%');
                    out.extend(first);
                    self.push(b, out);
                }
            },
            Chars::Name { mut buf, len } => {
                let n = usize::from(len);
                if b.is_ascii_alphanumeric() && n < MAX_NAME {
                    buf[n] = b;
                    self.state = Chars::Name { buf, len: len + 1 };
                    return;
                }
                self.state = Chars::Idle;
                if b == b';' {
                    if entities::named(&buf[..n], true) == Some(u32::from(b'%')) {
                        self.state = Chars::RefPct { first: None, len: len.saturating_add(2) };
                    } else {
                        named_reference(&buf[..n], true, out);
                    }
                } else {
                    named_reference(&buf[..n], false, out);
                    self.push(b, out);
                }
            }
        }
    }

    /// A numeric reference ends at `b`: a `;` belongs to it, anything else comes after it.
    fn end_numeric(&mut self, value: u32, b: u8, out: &mut Vec<u8>) {
        self.state = Chars::Idle;
        if b != b';' || value > 0x10FFFF || char::from_u32(value).is_some_and(|c| c.is_ascii_alphanumeric()) {
            self.odd_reference = Some((usize::from(self.ref_len) + 1, usize::from(self.ref_intro)));
        }
        if value == u32::from(b'%') {
            let len = self.ref_len.saturating_add(u8::from(b == b';'));
            self.state = Chars::RefPct { first: None, len };
        } else {
            emit_char(entities::numeric(value), out);
        }
        if b != b';' {
            self.push(b, out);
        }
    }
}

/// A named reference, decoded when known, else written out as it was.
fn named_reference(name: &[u8], terminated: bool, out: &mut Vec<u8>) {
    match entities::named(name, terminated).and_then(char::from_u32) {
        Some(c) => emit_char(c, out),
        None => {
            out.push(b'&');
            out.extend_from_slice(name);
            if terminated {
                out.push(b';');
            }
        }
    }
}

/// A decoded character, folded. Characters from references are final: `&amp;` gives a `&`
/// that starts nothing.
fn emit_char(c: char, out: &mut Vec<u8>) {
    match fold(c as u32) {
        Folded::Ascii(a) => out.push(a),
        Folded::Drop => {}
        Folded::Keep => {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
    }
}

/// A byte that is not part of UTF-8, read as Windows-1252: folded when the character
/// folds, else kept as it is.
fn latin1(b: u8, out: &mut Vec<u8>) {
    match fold_cp1252(b) {
        Folded::Ascii(a) => out.push(a),
        Folded::Drop => {}
        Folded::Keep => out.push(b),
    }
}

pub(super) fn hex(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        b'A'..=b'F' => b - b'A' + 10,
        _ => 0,
    }
}
