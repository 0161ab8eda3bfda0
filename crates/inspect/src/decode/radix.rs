//! Whole objects written out in base 16 or base 64, a line at a time: `xxd -p` (60 hex
//! digits a line), Python's `.hex()` (one line), `base64 -w N` for widths below the 64
//! characters a base64 blob inside text needs (`text::blobs` finds those). Such an object
//! is read as what it encodes, as a receiver runs `xxd -r -p` or `base64 -d` on it.
//!
//! An object is taken as one only from its head ([`head_format`]): lines of one width made
//! of one alphabet's characters, whose first KiB decodes to text or to a known format. A
//! list of numbers or hashes, one a line, decodes to neither and stays text.

use super::{DecodeError, Format, Out};

/// Shortest line (or single-line object) read as an encoding, in characters.
const MIN_WIDTH: usize = 16;
/// Longest line width looked at in a head.
const MAX_WIDTH: usize = 4096;
/// Characters of the head decoded to judge what they encode.
const TRIAL_CHARS: usize = 1024;

/// The width from which base64 lines are blobs that `text::blobs` finds inside any text
/// (its `MIN_BLOB`; `decode` does not depend on `text`).
const BLOB_WIDTH: usize = 64;

/// Decoded bytes handed on at once.
const OUT_PIECE: usize = 4096;

/// Which alphabet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Radix {
    Hex,
    Base64,
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
        _ => return None,
    };
    Some(u32::from(v))
}

/// A streaming decoder: whitespace between characters is skipped; base64 ends at `=`
/// padding; any other byte ends the encoded text, and what follows is trailing data.
#[derive(Debug)]
pub(crate) struct RadixDecoder {
    radix: Radix,
    acc: u32,
    n: u8,
    /// After `=`: only more padding and whitespace belong to the stream.
    padded: bool,
    out: Vec<u8>,
}

impl RadixDecoder {
    pub fn new(radix: Radix) -> Self {
        Self { radix, acc: 0, n: 0, padded: false, out: Vec::with_capacity(OUT_PIECE) }
    }

    /// Decodes `input`; `Some(k)` when the encoded text ended at `input[k]`.
    pub fn push(&mut self, input: &[u8], emit: &mut dyn FnMut(Out<'_>) -> bool) -> Option<usize> {
        let (bits, per) = match self.radix {
            Radix::Hex => (4, 2),
            Radix::Base64 => (6, 4),
        };
        let mut ended = None;
        for (k, &c) in input.iter().enumerate() {
            if matches!(c, b' ' | b'\t' | b'\r' | b'\n') {
                continue;
            }
            if self.radix == Radix::Base64 && c == b'=' {
                self.padded = true;
                continue;
            }
            let v = match value(self.radix, c) {
                Some(v) if !self.padded => v,
                _ => {
                    ended = Some(k);
                    break;
                }
            };
            self.acc = (self.acc << bits) | v;
            self.n += 1;
            if self.n == per {
                let bytes = self.acc.to_be_bytes();
                self.out.extend_from_slice(if per == 2 { &bytes[3..] } else { &bytes[1..] });
                (self.acc, self.n) = (0, 0);
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

    /// Ends the input: a last partial base64 group gives its whole bytes.
    pub fn finish(&mut self, emit: &mut dyn FnMut(Out<'_>) -> bool) -> Result<(), DecodeError> {
        self.tail();
        self.flush(emit);
        Ok(())
    }

    fn tail(&mut self) {
        if self.radix == Radix::Base64 {
            match self.n {
                2 => self.out.push((self.acc >> 4) as u8),
                3 => self.out.extend_from_slice(&((self.acc >> 2) as u16).to_be_bytes()),
                _ => {}
            }
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
/// format), is a whole object written in hex or base64, and which. Base64 lines of
/// [`BLOB_WIDTH`] characters or more are left to the text's blob finder.
pub(crate) fn head_format(head: &[u8]) -> Option<Format> {
    // Most heads are turned away by their first word: a byte of no alphabet before the
    // first line ends.
    let first_end =
        head.iter().position(|&b| value(Radix::Base64, b).is_none() && b != b'=').unwrap_or(head.len());
    if first_end < MIN_WIDTH || !matches!(head.get(first_end), None | Some(b'\r' | b'\n')) {
        return None;
    }
    // Lines of one width; the last may be shorter (the object's end) or cut off by the
    // head's end. One line alone is the whole head.
    let mut width = None;
    let mut chars = 0usize;
    let mut ended = false;
    let mut lines = head.split(|&b| b == b'\n').peekable();
    let (mut hex, mut b64, mut upper, mut lower, mut digit) = (true, true, false, false, false);
    let mut alphabet = 0u8;
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
        // Base64 padding ends the last line.
        let body = line.strip_suffix(b"==").or_else(|| line.strip_suffix(b"=")).unwrap_or(line);
        for &c in body {
            let class = match c {
                b'0'..=b'9' => {
                    digit = true;
                    0
                }
                b'a'..=b'f' => {
                    lower = true;
                    0
                }
                b'A'..=b'F' => {
                    upper = true;
                    0
                }
                b'g'..=b'z' => {
                    lower = true;
                    hex = false;
                    0
                }
                b'G'..=b'Z' => {
                    upper = true;
                    hex = false;
                    0
                }
                b'+' | b'/' => 1,
                b'-' | b'_' => 2,
                _ => return None,
            };
            if class != 0 {
                hex = false;
                if alphabet != 0 && alphabet != class {
                    b64 = false;
                }
                alphabet = class;
            }
        }
        chars += body.len();
        let padded = body.len() != line.len();
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
        if padded {
            ended = true;
        }
    }
    let width = width?;
    if !(MIN_WIDTH..=MAX_WIDTH).contains(&width) {
        return None;
    }
    // Hex: one case of letters, and a letter at all (a list of numbers is no hex dump).
    let radix = if hex && (upper != lower) && chars >= 32 {
        Radix::Hex
    } else if b64 && !hex && width < BLOB_WIDTH && upper && lower && digit {
        Radix::Base64
    } else {
        return None;
    };
    let mut trial = Vec::new();
    let mut d = RadixDecoder::new(radix);
    let take = head.len().min(TRIAL_CHARS);
    d.push(&head[..take], &mut |o| {
        if let Out::Data(b) = o {
            trial.extend_from_slice(b);
        }
        true
    });
    (textual(&trial) || known_magic(&trial)).then_some(match radix {
        Radix::Hex => Format::Hex,
        Radix::Base64 => Format::Base64,
    })
}

/// Whether decoded bytes read as text (UTF-8 or a single-byte code page): at most one in
/// fifty is a control code other than a line end, tab or form feed. Random bytes hold one in
/// eight.
fn textual(b: &[u8]) -> bool {
    let controls =
        b.iter().filter(|&&c| (c < 0x20 && !matches!(c, b'\t' | b'\n' | b'\r' | 0x0C)) || c == 0x7F).count();
    b.len() >= 8 && controls * 50 <= b.len()
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

    fn decode_all(radix: Radix, input: &[u8], chunk: usize) -> (Vec<u8>, Option<usize>) {
        let mut d = RadixDecoder::new(radix);
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
            assert_eq!(head_format(&w), Some(Format::Base64), "{width}");
            for chunk in [1, 7, 4096] {
                assert_eq!(decode_all(Radix::Base64, &w, chunk).0, TEXT.repeat(20).as_bytes());
            }
        }
        let h = hex(TEXT.repeat(20).as_bytes());
        for w in [wrap(&h, 60), wrap(&h, 32), h.clone().into_bytes(), h.to_uppercase().into_bytes()] {
            assert_eq!(head_format(&w), Some(Format::Hex));
            for chunk in [1, 7, 4096] {
                assert_eq!(decode_all(Radix::Hex, &w, chunk).0, TEXT.repeat(20).as_bytes());
            }
        }
        // A zip in hex.
        let zip = [&b"PK\x03\x04"[..], &[0u8; 60]].concat();
        assert_eq!(head_format(hex(&zip).as_bytes()), Some(Format::Hex));
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
        let mixed_case_hex = "4a6F686e20446f6520313233\n".repeat(10);
        for text in [
            cards.as_bytes(),
            hashes.as_bytes(),
            sha_like.as_bytes(),
            &wide,
            mixed_case_hex.as_bytes(),
            TEXT.as_bytes(),
            b"",
            b"abc",
        ] {
            assert_eq!(head_format(text), None, "{:?}", String::from_utf8_lossy(&text[..text.len().min(80)]));
        }
    }

    #[test]
    fn what_follows_the_encoding_is_trailing() {
        let mut w = wrap(&hex(TEXT.as_bytes()), 60);
        w.extend_from_slice(b"plain tail 4111 1111 1111 1111\n");
        let (out, ended) = decode_all(Radix::Hex, &w, 4096);
        assert_eq!(out, TEXT.as_bytes());
        assert_eq!(&w[ended.expect("ends")..], b"plain tail 4111 1111 1111 1111\n");
        let mut b = wrap(&base64::engine::general_purpose::STANDARD.encode(b"hello world!!"), 40);
        b.extend_from_slice(b"more");
        let (out, ended) = decode_all(Radix::Base64, &b, 3);
        assert_eq!(out, b"hello world!!");
        assert_eq!(&b[ended.expect("ends")..], b"more");
    }
}
