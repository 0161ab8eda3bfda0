//! Whole objects written out in base 16, 32, 64 or 85, a line at a time: `xxd -p` (60 hex
//! digits a line), Python's `.hex()` (one line), `base64 -w N` for widths below the 64
//! characters a base64 blob inside text needs (`text::blobs` finds those), `base32`,
//! ascii85 (`<~...~>` of Adobe and `btoa`, Python's `a85encode`) and Python's `b85encode`.
//! Such an object is read as what it encodes, as a receiver runs `xxd -r -p`, `base64 -d`
//! or `base32 -d` on it. A short title line or two in front of it (`-- dump --`) is read
//! as text.
//!
//! An object is taken as one only from its head ([`head_format`]): lines of one width made
//! of one alphabet's characters, whose first KiB decodes to text or to a known format. A
//! list of numbers, ids or hashes, one a line, decodes to neither and stays text. The
//! alphabets added after hex and base64 (and mixed-case hex, and an object behind a title)
//! match far more lists, so their decoded head must be sure text ([`sure_text`]).

use super::{DecodeError, Out};

/// Shortest line (or single-line object) read as an encoding, in characters.
const MIN_WIDTH: usize = 16;
/// Longest line width looked at in a head.
const MAX_WIDTH: usize = 4096;
/// Characters of the head decoded to judge what they encode.
const TRIAL_CHARS: usize = 1024;
/// Fewest characters of hex, base32 or base85 in a head for it to be read as one: 16
/// decoded bytes at least, enough for [`sure_text`] to tell text from chance.
const MIN_CHARS: usize = 32;
/// Title lines skipped in front of an encoded object (a title and a blank line).
const MAX_TITLE_LINES: usize = 2;
/// Longest title line skipped, in bytes (with its line end).
const MAX_TITLE: usize = 80;

/// The width from which base64 lines are blobs that `text::blobs` finds inside any text
/// (its `MIN_BLOB`; `decode` does not depend on `text`).
const BLOB_WIDTH: usize = 64;

/// Decoded bytes handed on at once.
const OUT_PIECE: usize = 4096;

/// The punctuation of Python's `b85encode` alphabet (RFC 1924's, as git uses), after the
/// digits and letters.
const B85_PUNCT: &[u8; 23] = b"!#$%&()*+-;<=>?@^_`{|}~";

/// Which alphabet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Radix {
    Hex,
    Base64,
    /// RFC 4648 base32 (capitals and `2`-`7`).
    Base32,
    /// Ascii85 (`!` to `u`, `z` for four zero bytes).
    Ascii85,
    /// Python's `b85encode` (RFC 1924's alphabet).
    Base85,
}

/// An encoded object: its alphabet, and the bytes in front of it read as text (title lines,
/// Adobe's `<~`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Encoded {
    pub radix: Radix,
    pub skip: u16,
}

/// The value of `c` in `radix` (base64: either alphabet), or `None`.
fn value(radix: Radix, c: u8) -> Option<u32> {
    let v = match (radix, c) {
        (Radix::Hex, b'0'..=b'9') => c - b'0',
        (Radix::Hex, b'a'..=b'f') => c - b'a' + 10,
        (Radix::Hex, b'A'..=b'F') => c - b'A' + 10,
        (Radix::Base64, b'A'..=b'Z') => c - b'A',
        (Radix::Base64, b'a'..=b'z') => c - b'a' + 26,
        (Radix::Base64, b'0'..=b'9') => c - b'0' + 52,
        (Radix::Base64, b'+' | b'-') => 62,
        (Radix::Base64, b'/' | b'_') => 63,
        (Radix::Base32, b'A'..=b'Z') => c - b'A',
        (Radix::Base32, b'2'..=b'7') => c - b'2' + 26,
        (Radix::Ascii85, b'!'..=b'u') => c - b'!',
        (Radix::Base85, b'0'..=b'9') => c - b'0',
        (Radix::Base85, b'A'..=b'Z') => c - b'A' + 10,
        (Radix::Base85, b'a'..=b'z') => c - b'a' + 36,
        (Radix::Base85, _) => 62 + u8::try_from(B85_PUNCT.iter().position(|&p| p == c)?).ok()?,
        _ => return None,
    };
    Some(u32::from(v))
}

impl Radix {
    /// Characters a group, and bits a character (0: base 85, 4 bytes in 5 characters).
    fn group(self) -> (u8, u32) {
        match self {
            Radix::Hex => (2, 4),
            Radix::Base64 => (4, 6),
            Radix::Base32 => (8, 5),
            Radix::Ascii85 | Radix::Base85 => (5, 0),
        }
    }

    /// Whether `=` pads this alphabet's last group.
    fn padded(self) -> bool {
        matches!(self, Radix::Base64 | Radix::Base32)
    }
}

/// A streaming decoder: whitespace between characters is skipped; base64 and base32 end at
/// `=` padding; any other byte ends the encoded text, and what follows is trailing data.
#[derive(Debug)]
pub(crate) struct RadixDecoder {
    radix: Radix,
    acc: u64,
    n: u8,
    /// After `=`: only more padding and whitespace belong to the stream.
    padded: bool,
    /// Bytes still to hand on as text before the encoded text starts.
    skip: usize,
    out: Vec<u8>,
}

impl RadixDecoder {
    pub fn new(e: Encoded) -> Self {
        Self {
            radix: e.radix,
            acc: 0,
            n: 0,
            padded: false,
            skip: usize::from(e.skip),
            out: Vec::with_capacity(OUT_PIECE),
        }
    }

    /// Decodes `input`; `Some(k)` when the encoded text ended at `input[k]`.
    pub fn push(&mut self, input: &[u8], emit: &mut dyn FnMut(Out<'_>) -> bool) -> Option<usize> {
        let base = self.skip.min(input.len());
        if base > 0 {
            self.skip -= base;
            if !emit(Out::Meta(&input[..base])) {
                return None;
            }
        }
        let (per, bits) = self.radix.group();
        let mut ended = None;
        for (k, &c) in input[base..].iter().enumerate() {
            if matches!(c, b' ' | b'\t' | b'\r' | b'\n') {
                continue;
            }
            if self.radix.padded() && c == b'=' {
                self.padded = true;
                continue;
            }
            if self.radix == Radix::Ascii85 && c == b'z' && self.n == 0 && !self.padded {
                self.out.extend_from_slice(&[0; 4]);
                continue;
            }
            let v = match value(self.radix, c) {
                Some(v) if !self.padded => v,
                _ => {
                    ended = Some(base + k);
                    break;
                }
            };
            self.acc =
                if bits == 0 { self.acc * 85 + u64::from(v) } else { (self.acc << bits) | u64::from(v) };
            self.n += 1;
            if self.n == per {
                if !self.group_out() {
                    ended = Some(base + k);
                    break;
                }
                if self.out.len() >= OUT_PIECE && !self.flush(emit) {
                    return None;
                }
            }
        }
        if ended.is_some() {
            self.tail();
        }
        self.flush(emit);
        ended
    }

    /// Hands on a whole group's bytes; false for a base-85 group above 2^32 (no encoder
    /// writes one: the text ends there).
    fn group_out(&mut self) -> bool {
        let (per, bits) = self.radix.group();
        let acc = std::mem::take(&mut self.acc);
        self.n = 0;
        if bits == 0 {
            let Ok(v) = u32::try_from(acc) else { return false };
            self.out.extend_from_slice(&v.to_be_bytes());
        } else {
            let n = usize::from(per) * bits as usize / 8;
            self.out.extend_from_slice(&acc.to_be_bytes()[8 - n..]);
        }
        true
    }

    /// Ends the input: a last partial group gives its whole bytes.
    pub fn finish(&mut self, emit: &mut dyn FnMut(Out<'_>) -> bool) -> Result<(), DecodeError> {
        self.tail();
        self.flush(emit);
        Ok(())
    }

    fn tail(&mut self) {
        let (per, bits) = self.radix.group();
        let n = u32::from(self.n);
        if n > 0 && bits == 0 {
            // Base 85: padded with the highest digit; n characters give n - 1 bytes.
            let mut acc = self.acc;
            for _ in n..u32::from(per) {
                acc = acc * 85 + 84;
            }
            if let Ok(v) = u32::try_from(acc) {
                let keep = (n as usize).saturating_sub(1);
                self.out.extend_from_slice(&v.to_be_bytes()[..keep]);
            }
        } else if n > 0 {
            let whole = (n * bits / 8) as usize;
            let v = self.acc >> (n * bits % 8);
            self.out.extend_from_slice(&v.to_be_bytes()[8 - whole..]);
        }
        (self.acc, self.n) = (0, 0);
    }

    fn flush(&mut self, emit: &mut dyn FnMut(Out<'_>) -> bool) -> bool {
        if self.out.is_empty() {
            return true;
        }
        let go = emit(Out::Data(&self.out));
        self.out.clear();
        go
    }
}

/// Whether `head`, the first bytes of an object (after identification found no other
/// format), is a whole object written in one of the alphabets, maybe behind a title line
/// or two of at most [`MAX_TITLE`] bytes, and which. Base64 lines of [`BLOB_WIDTH`]
/// characters or more are left to the text's blob finder.
pub(crate) fn head_format(head: &[u8]) -> Option<Encoded> {
    let mut at = 0;
    for _ in 0..=MAX_TITLE_LINES {
        let rest = &head[at..];
        if let Some(e) = body_format(rest, at > 0) {
            return Some(Encoded { radix: e.radix, skip: e.skip + u16::try_from(at).ok()? });
        }
        at += memchr::memchr(b'\n', &rest[..rest.len().min(MAX_TITLE)])? + 1;
    }
    None
}

/// Which alphabets the characters seen so far fit.
#[derive(Debug, Clone, Copy)]
struct Seen {
    hex: bool,
    b64: bool,
    b32: bool,
    a85: bool,
    b85: bool,
    upper: bool,
    lower: bool,
    digit: bool,
    /// Base64's two alphabets: 1 for `+/`, 2 for `-_`, 0 before either.
    alphabet: u8,
}

impl Seen {
    fn new(adobe: bool) -> Self {
        let any = !adobe;
        Self {
            hex: any,
            b64: any,
            b32: any,
            a85: true,
            b85: any,
            upper: false,
            lower: false,
            digit: false,
            alphabet: 0,
        }
    }

    fn any(&self) -> bool {
        self.hex || self.b64 || self.b32 || self.a85 || self.b85
    }

    /// Notes one character; false for one of no alphabet (a space, a control).
    fn see(&mut self, c: u8) -> bool {
        match c {
            b'0' | b'1' | b'8' | b'9' => {
                self.digit = true;
                self.b32 = false;
            }
            b'2'..=b'7' => self.digit = true,
            b'a'..=b'z' => {
                self.lower = true;
                self.b32 = false;
                self.hex &= c <= b'f';
                self.a85 &= c <= b'u' || c == b'z';
            }
            b'A'..=b'Z' => {
                self.upper = true;
                self.hex &= c <= b'F';
            }
            b'+' | b'/' | b'-' | b'_' => {
                (self.hex, self.b32) = (false, false);
                self.b85 &= c != b'/';
                let class = if matches!(c, b'+' | b'/') { 1 } else { 2 };
                if self.alphabet != 0 && self.alphabet != class {
                    self.b64 = false;
                }
                self.alphabet = class;
            }
            b'!'..=b'~' => {
                (self.hex, self.b64, self.b32) = (false, false, false);
                self.a85 &= c <= b'u';
                self.b85 &= B85_PUNCT.contains(&c);
            }
            _ => return false,
        }
        true
    }
}

/// Whether `head` starts with a whole encoded object (`titled`: behind title lines).
fn body_format(head: &[u8], titled: bool) -> Option<Encoded> {
    // Ascii85 as Adobe and `btoa` write it: `<~` in front, `~>` at the end.
    let adobe = head.starts_with(b"<~");
    let start = if adobe { 2 } else { 0 };
    // Most heads are turned away by their first word: a space or a control before the
    // first line ends.
    let first_end = head.iter().position(|&b| !b.is_ascii_graphic()).unwrap_or(head.len());
    if first_end < MIN_WIDTH || !matches!(head.get(first_end), None | Some(b'\r' | b'\n')) {
        return None;
    }
    // Lines of one width; the last may be shorter (the object's end) or cut off by the
    // head's end. One line alone is the whole head.
    let mut width = None;
    let mut chars = 0usize;
    let mut ended = false;
    let mut padded = false;
    let mut lines = head.split(|&b| b == b'\n').peekable();
    let mut seen = Seen::new(adobe);
    let mut first = true;
    while let Some(line) = lines.next() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let last = lines.peek().is_none();
        if line.is_empty() && (last || lines.peek().is_some_and(|l| l.is_empty() || *l == b"\r")) {
            ended = true;
            continue;
        }
        if ended {
            return None;
        }
        let mut body = if first { &line[start..] } else { line };
        first = false;
        if adobe {
            if let Some(b) = body.strip_suffix(b"~>") {
                body = b;
                ended = true;
            }
        }
        // `=` padding ends the last line of base64 and base32 (in base 85 it is a digit).
        if padded {
            (seen.hex, seen.b64, seen.b32) = (false, false, false);
        }
        // (In base 85 they are digits; a line of them alone is no object's.)
        let unpadded = body.iter().rposition(|&c| c != b'=').map_or(&body[..0], |k| &body[..=k]);
        let pad = body.len() - unpadded.len();
        padded = pad > 0;
        seen.hex &= pad == 0;
        seen.b64 &= pad <= 2;
        seen.b32 &= pad <= 6;
        if !unpadded.iter().all(|&c| seen.see(c)) || !seen.any() {
            return None;
        }
        chars += body.len();
        match width {
            // One line cut off by the head's end (`.hex()` of a whole file): any width.
            None if last => {
                width = Some(line.len().min(MAX_WIDTH));
            }
            None => width = Some(line.len()),
            Some(w) if line.len() == w => {}
            // A shorter line ends the object (or the head cut it off).
            Some(w) if line.len() < w => ended = true,
            Some(_) => return None,
        }
    }
    let width = width?;
    if !(MIN_WIDTH..=MAX_WIDTH).contains(&width) {
        return None;
    }
    let s = seen;
    // Hex: a letter at all (a list of numbers is no hex dump); in one case, what decodes to
    // text is enough, in both it must be sure text. Base32: capitals.
    let candidates = [
        (s.hex && (s.upper || s.lower) && chars >= MIN_CHARS, Radix::Hex, titled || (s.upper && s.lower)),
        (s.b64 && !s.hex && width < BLOB_WIDTH && s.upper && s.lower && s.digit, Radix::Base64, titled),
        (s.b32 && s.upper, Radix::Base32, true),
        (s.a85, Radix::Ascii85, true),
        (s.b85, Radix::Base85, true),
    ];
    let take = head.len().min(TRIAL_CHARS);
    candidates.into_iter().filter(|c| c.0).find_map(|(_, radix, sure)| {
        let e = Encoded { radix, skip: if adobe { 2 } else { 0 } };
        let mut trial = Vec::new();
        let mut d = RadixDecoder::new(Encoded { radix, skip: 0 });
        d.push(&head[start..take.max(start)], &mut |o| {
            if let Out::Data(b) = o {
                trial.extend_from_slice(b);
            }
            true
        });
        let text = if sure { sure_text(&trial) } else { textual(&trial) };
        (text || known_magic(&trial)).then_some(e)
    })
}

/// Fewest decoded bytes [`sure_text`] judges.
const SURE_MIN: usize = 16;

/// Whether decoded bytes are text beyond chance: [`textual`], at least [`SURE_MIN`] of
/// them, and UTF-8 or seven in eight printable ASCII. Random bytes are neither.
fn sure_text(b: &[u8]) -> bool {
    let utf8 = match std::str::from_utf8(b) {
        Ok(_) => true,
        // Cut off in a character by the trial's end.
        Err(e) => e.error_len().is_none(),
    };
    let ascii = b.iter().filter(|&&c| matches!(c, b' '..=b'~' | b'\t' | b'\n' | b'\r')).count();
    b.len() >= SURE_MIN && textual(b) && (utf8 || ascii * 8 >= b.len() * 7)
}

/// Whether decoded bytes read as text (UTF-8 or a single-byte code page): at most one in
/// fifty is a control code other than a line end, tab or form feed. Random bytes hold one in
/// eight.
fn textual(b: &[u8]) -> bool {
    let controls =
        b.iter().filter(|&&c| (c < 0x20 && !matches!(c, b'\t' | b'\n' | b'\r' | 0x0C)) || c == 0x7F).count();
    b.len() >= 8 && controls * 50 <= b.len()
}

/// Whether the trial decoding of an object's head is something people encode or compress:
/// text beyond chance ([`sure_text`]) or a format the engine opens. Raw deflate is judged
/// the same way.
pub(crate) fn decodes_to_content(b: &[u8]) -> bool {
    sure_text(b) || known_magic(b)
}

/// Whether decoded bytes start like a format the engine opens.
fn known_magic(b: &[u8]) -> bool {
    const MAGICS: [&[u8]; 10] = [
        b"PK\x03\x04",
        b"%PDF-",
        b"\x1f\x8b\x08",
        b"BZh",
        b"7z\xBC\xAF\x27\x1C",
        b"\xFD7zXZ\x00",
        b"\x28\xB5\x2F\xFD",
        b"\xD0\xCF\x11\xE0",
        b"{\\rtf",
        b"\x04\x22\x4D\x18",
    ];
    MAGICS.iter().any(|m| b.starts_with(m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    fn wrap(s: &str, width: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for line in s.as_bytes().chunks(width) {
            out.extend_from_slice(line);
            out.push(b'\n');
        }
        out
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    fn e(radix: Radix) -> Encoded {
        Encoded { radix, skip: 0 }
    }

    fn decode_all(e: Encoded, input: &[u8], chunk: usize) -> (Vec<u8>, Option<usize>) {
        let mut d = RadixDecoder::new(e);
        let mut out = Vec::new();
        let mut ended = None;
        for (k, piece) in input.chunks(chunk).enumerate() {
            if let Some(e) = d.push(piece, &mut |o| {
                if let Out::Data(b) = o {
                    out.extend_from_slice(b);
                }
                true
            }) {
                ended = Some(k * chunk + e);
                break;
            }
        }
        d.finish(&mut |o| {
            if let Out::Data(b) = o {
                out.extend_from_slice(b);
            }
            true
        })
        .ok();
        (out, ended)
    }

    const TEXT: &str = "Quarterly notes. Card number 4111 1111 1111 1111, expiry 12/28.\nThanks, J.\n";

    #[test]
    fn wrapped_hex_and_base64_heads_are_known_and_decode() {
        let b64 = base64::engine::general_purpose::STANDARD.encode(TEXT.repeat(20));
        for width in [16, 40, 48, 57, 60] {
            let w = wrap(&b64, width);
            assert_eq!(head_format(&w), Some(e(Radix::Base64)), "{width}");
            for chunk in [1, 7, 4096] {
                assert_eq!(decode_all(e(Radix::Base64), &w, chunk).0, TEXT.repeat(20).as_bytes());
            }
        }
        let h = hex(TEXT.repeat(20).as_bytes());
        for w in [wrap(&h, 60), wrap(&h, 32), h.clone().into_bytes(), h.to_uppercase().into_bytes()] {
            assert_eq!(head_format(&w), Some(e(Radix::Hex)));
            for chunk in [1, 7, 4096] {
                assert_eq!(decode_all(e(Radix::Hex), &w, chunk).0, TEXT.repeat(20).as_bytes());
            }
        }
        // A zip in hex.
        let zip = [&b"PK\x03\x04"[..], &[0u8; 60]].concat();
        assert_eq!(head_format(hex(&zip).as_bytes()), Some(e(Radix::Hex)));
    }

    #[test]
    fn lists_hashes_prose_and_wide_base64_are_not() {
        let cards = "4111111111111111\n".repeat(30);
        let hashes: String =
            (0..30).map(|k| format!("{:064x}\n", 0x9e3779b97f4a7c15u64.wrapping_mul(k + 1))).collect();
        let sha_like: String = (0..30u64)
            .map(|k| format!("{:016x}{:016x}\n", k.wrapping_mul(0x2545F4914F6CDD1D), k ^ 0xdead_beef_cafe))
            .collect();
        let wide = wrap(&base64::engine::general_purpose::STANDARD.encode(TEXT.repeat(20)), 76);
        for text in
            [cards.as_bytes(), hashes.as_bytes(), sha_like.as_bytes(), &wide, TEXT.as_bytes(), b"", b"abc"]
        {
            assert_eq!(head_format(text), None, "{:?}", String::from_utf8_lossy(&text[..text.len().min(80)]));
        }
    }

    #[test]
    fn what_follows_the_encoding_is_trailing() {
        let mut w = wrap(&hex(TEXT.as_bytes()), 60);
        w.extend_from_slice(b"plain tail 4111 1111 1111 1111\n");
        let (out, ended) = decode_all(e(Radix::Hex), &w, 4096);
        assert_eq!(out, TEXT.as_bytes());
        assert_eq!(&w[ended.expect("ends")..], b"plain tail 4111 1111 1111 1111\n");
        let mut b = wrap(&base64::engine::general_purpose::STANDARD.encode(b"hello world!!"), 40);
        b.extend_from_slice(b"more");
        let (out, ended) = decode_all(e(Radix::Base64), &b, 3);
        assert_eq!(out, b"hello world!!");
        assert_eq!(&b[ended.expect("ends")..], b"more");
    }

    #[test]
    fn base32_and_base85_decode_as_their_tools_write() {
        let hello = b"hello world, 4111 1111";
        for (radix, enc) in [
            (Radix::Base32, &b"NBSWY3DPEB3W64TMMQWCANBRGEYSAMJRGEYQ===="[..]),
            (Radix::Ascii85, b"BOu!rD]j7BEbo8;+>bf-0d&2*0ei"),
            (Radix::Base85, b"Xk~0{Zy<MXa%^NQAT%*CF(5H9F);"),
        ] {
            for chunk in [1, 3, 4096] {
                assert_eq!(decode_all(e(radix), enc, chunk).0, hello, "{radix:?} {chunk}");
            }
        }
        // `z`: four zero bytes; `~>` ends Adobe's framing, `<~` is read as text.
        assert_eq!(decode_all(e(Radix::Ascii85), b"z@:E^", 2).0, b"\0\0\0\0abc");
        let mut d = RadixDecoder::new(Encoded { radix: Radix::Ascii85, skip: 2 });
        let (mut data, mut meta) = (Vec::new(), Vec::new());
        let end = d.push(b"<~@:E^~>tail", &mut |o| {
            match o {
                Out::Data(b) => data.extend_from_slice(b),
                Out::Meta(b) => meta.extend_from_slice(b),
                _ => {}
            }
            true
        });
        assert_eq!((data.as_slice(), meta.as_slice(), end), (&b"abc"[..], &b"<~"[..], Some(6)));
    }

    #[test]
    fn new_alphabets_titles_and_mixed_case_are_known() {
        let text = TEXT.repeat(20);
        let b64 = base64::engine::general_purpose::STANDARD.encode(&text);
        let titled = [&b"-- dump --\n"[..], &wrap(&hex(text.as_bytes()), 60)].concat();
        assert_eq!(head_format(&titled), Some(Encoded { radix: Radix::Hex, skip: 11 }));
        let titled = [&b"Attachment:\n\n"[..], &wrap(&b64, 40)].concat();
        assert_eq!(head_format(&titled), Some(Encoded { radix: Radix::Base64, skip: 13 }));
        let mixed = "4a6F686e20446f6520313233\n".repeat(10);
        assert_eq!(head_format(mixed.as_bytes()).map(|e| e.radix), Some(Radix::Hex));
        let adobe = b"<~BOu!rD]j7BEbo8;+>bf-0d&2*0ei~>";
        assert_eq!(head_format(adobe), Some(Encoded { radix: Radix::Ascii85, skip: 2 }));
    }

    #[test]
    fn capital_ids_hashes_and_words_stay_text() {
        // Ids in base32's alphabet, capital hex hashes, capital words, a title before
        // a list of numbers, a long prose line before a dump (no title).
        let ids: String = (0..40u64)
            .map(|k| {
                let v = k.wrapping_mul(0x9E37_79B9_7F4A_7C15);
                (0..16)
                    .map(|i| char::from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"[((v >> (i * 4)) & 31) as usize]))
                    .collect::<String>()
                    + "\n"
            })
            .collect();
        let hashes: String =
            (0..30).map(|k| format!("{:064X}\n", 0x9e3779b97f4a7c15u64.wrapping_mul(k + 1))).collect();
        let words = "CONFIDENTIALITYAGREEMENTS\n".repeat(20);
        let numbers = [&b"Totals\n"[..], &"12345678901234567890\n".repeat(10).into_bytes()].concat();
        let long_title = [&[b'x'; 100][..], b"\n", &wrap(&hex(TEXT.as_bytes()), 60)].concat();
        for text in [ids.as_bytes(), hashes.as_bytes(), words.as_bytes(), &numbers, &long_title] {
            assert_eq!(head_format(text), None, "{:?}", String::from_utf8_lossy(&text[..text.len().min(80)]));
        }
    }
}
