//! Wide encodings to UTF-8: UTF-16 (LE or BE) and UTF-32 (LE or BE) text, and runs of
//! UTF-16LE text inside binary data; legacy CJK encodings and EBCDIC, which the text node
//! decodes through the same filter.

use crate::identify::Charset;

/// UTF-16 or UTF-32 (LE or BE) to UTF-8, carrying a partial code unit and a high
/// surrogate between chunks. What is not a character becomes U+FFFD.
#[derive(Debug)]
pub(crate) struct Wide {
    charset: Charset,
    part: [u8; 4],
    have: usize,
    high: Option<u16>,
    /// Stray bytes still to pass over before the first unit.
    skip: usize,
    /// The high byte of the last UTF-16 unit.
    last_high: u8,
    /// For a legacy CJK encoding: its decoder (which carries a partial character).
    legacy: Option<Box<encoding_rs::Decoder>>,
    /// For UTF-7: its decoder.
    utf7: Option<Box<crate::charsets::Utf7>>,
}

impl Wide {
    pub fn new(charset: Charset) -> Self {
        let skip = charset.skip();
        let legacy = match charset {
            Charset::Legacy(l) => Some(Box::new(l.encoding().new_decoder_without_bom_handling())),
            _ => None,
        };
        let utf7 = (charset == Charset::Utf7).then(Box::default);
        Self { charset, part: [0; 4], have: 0, high: None, skip, last_high: 0, legacy, utf7 }
    }

    /// Whether it decodes UTF-16 or UTF-32 (whose ASCII characters are not ASCII bytes), not
    /// a legacy encoding.
    pub fn is_wide(&self) -> bool {
        self.charset.is_wide()
    }

    /// Decodes `data` with a legacy decoder, what is no character as U+FFFD.
    fn legacy_push(decoder: &mut encoding_rs::Decoder, data: &[u8], last: bool, out: &mut Vec<u8>) {
        let start = out.len();
        // Room for the worst case, so the decoder always takes all of `data`.
        let room = decoder.max_utf8_buffer_length(data.len()).unwrap_or(data.len().saturating_mul(3) + 16);
        out.resize(start + room, 0);
        let (_, _, written, _) = decoder.decode_to_utf8(data, &mut out[start..], last);
        out.truncate(start + written);
    }

    fn unit_len(&self) -> usize {
        match self.charset {
            Charset::Utf32Le | Charset::Utf32Be | Charset::Utf32LeAfter(_) | Charset::Utf32BeAfter(_) => 4,
            _ => 2,
        }
    }

    pub fn push(&mut self, mut data: &[u8], out: &mut Vec<u8>) {
        if self.charset == Charset::Ebcdic {
            crate::ebcdic::decode(data, out);
            return;
        }
        if let Some(d) = &mut self.legacy {
            Self::legacy_push(d, data, false, out);
            return;
        }
        if let Some(u) = &mut self.utf7 {
            u.push(data, out);
            return;
        }
        if self.skip > 0 {
            let k = self.skip.min(data.len());
            self.skip -= k;
            data = &data[k..];
        }
        let size = self.unit_len();
        if self.have > 0 {
            let take = (size - self.have).min(data.len());
            self.part[self.have..self.have + take].copy_from_slice(&data[..take]);
            self.have += take;
            data = &data[take..];
            if self.have < size {
                return;
            }
            self.have = 0;
            let part = self.part;
            self.unit(&part[..size], out);
        }
        let mut units = data.chunks_exact(size);
        for u in &mut units {
            self.unit(u, out);
        }
        let rest = units.remainder();
        self.part[..rest.len()].copy_from_slice(rest);
        self.have = rest.len();
    }

    /// Ends the text. One byte left over from UTF-16 is the low byte of a last character
    /// whose high byte is taken to be the one before's: big-endian text after one stray
    /// byte, read as little-endian (its characters all ASCII, or all full-width), ends so.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if let Some(d) = &mut self.legacy {
            Self::legacy_push(d, &[], true, out);
            return;
        }
        if let Some(u) = &mut self.utf7 {
            u.finish(out);
            return;
        }
        let size = self.unit_len();
        if size == 2 && self.have == 1 {
            let (lo, hi) = (self.part[0], self.last_high);
            let unit = if matches!(self.charset, Charset::Utf16Be | Charset::Utf16BeOdd) {
                [hi, lo]
            } else {
                [lo, hi]
            };
            self.unit(&unit, out);
        }
        self.have = 0;
    }

    fn unit(&mut self, u: &[u8], out: &mut Vec<u8>) {
        let c = match (self.charset, u) {
            (Charset::Utf32Le | Charset::Utf32LeAfter(_), &[a, b, c, d]) => {
                self.high = None;
                char::from_u32(u32::from_le_bytes([a, b, c, d]))
            }
            (Charset::Utf32Be | Charset::Utf32BeAfter(_), &[a, b, c, d]) => {
                self.high = None;
                char::from_u32(u32::from_be_bytes([a, b, c, d]))
            }
            (Charset::Utf16Be | Charset::Utf16BeOdd, &[a, b]) => {
                self.last_high = a;
                match self.utf16(u16::from_be_bytes([a, b])) {
                    Some(c) => c,
                    None => return,
                }
            }
            (_, &[a, b]) => {
                self.last_high = b;
                match self.utf16(u16::from_le_bytes([a, b])) {
                    Some(c) => c,
                    None => return,
                }
            }
            _ => None,
        };
        let c = c.unwrap_or('\u{FFFD}');
        if c.is_ascii() {
            out.push(c as u8);
        } else {
            let mut b = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
        }
    }

    /// A UTF-16 code unit: `None` while a high surrogate waits for its low half.
    fn utf16(&mut self, u: u16) -> Option<Option<char>> {
        if (0xD800..0xDC00).contains(&u) {
            self.high = Some(u);
            return None;
        }
        Some(if (0xDC00..0xE000).contains(&u) {
            self.high.take().and_then(|h| {
                char::from_u32(0x10000 + ((u32::from(h) - 0xD800) << 10) + (u32::from(u) - 0xDC00))
            })
        } else {
            self.high = None;
            char::from_u32(u32::from(u))
        })
    }
}

/// Bytes kept at each end of UTF-16 text for [`WideEdges`]: twice a grouped IBAN
/// (42 characters) and a stray byte, so that a value at the very end still lies whole
/// inside once the reading is cut back to a safe place ([`safe_end`]).
const EDGE: usize = 192;

/// The ends of UTF-16 text read the other way. Big-endian text after one stray byte is,
/// byte for byte, little-endian text from the first byte when its characters are all ASCII
/// or all full-width (and the same the other way round): which one was meant cannot be
/// told, and the readings differ only at the ends, where the stray byte is glued to the
/// first character or the last one is lost. So the first [`EDGE`] bytes are also read with
/// the other alignment, and the last [`EDGE`] without a byte left over at the end.
///
/// A reading of part of the text is cut where it cannot have split a value: cutting
/// `4111111111111112` after nine digits would make an SSN of a decoy.
#[derive(Debug)]
pub(crate) struct WideEdges {
    charset: Charset,
    head: Vec<u8>,
    tail: Vec<u8>,
    seen: u64,
}

impl WideEdges {
    /// For UTF-16 text only.
    pub fn new(charset: Charset) -> Option<Self> {
        matches!(charset, Charset::Utf16Le | Charset::Utf16Be | Charset::Utf16LeOdd | Charset::Utf16BeOdd)
            .then(|| Self { charset, head: Vec::new(), tail: Vec::new(), seen: 0 })
    }

    pub fn push(&mut self, data: &[u8]) {
        self.seen += data.len() as u64;
        let take = (EDGE - self.head.len()).min(data.len());
        self.head.extend_from_slice(&data[..take]);
        let keep = &data[data.len().saturating_sub(EDGE)..];
        if self.tail.len() + keep.len() > 2 * EDGE {
            self.tail.drain(..self.tail.len() + keep.len() - EDGE);
        }
        self.tail.extend_from_slice(keep);
    }

    /// The two other readings, as UTF-8, a line break after each.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        let other = match self.charset {
            Charset::Utf16Le => Charset::Utf16BeOdd,
            Charset::Utf16Be => Charset::Utf16LeOdd,
            Charset::Utf16LeOdd => Charset::Utf16Be,
            _ => Charset::Utf16Le,
        };
        let whole = self.seen <= EDGE as u64;
        let mut w = Wide::new(other);
        let mut head = Vec::new();
        w.push(&self.head, &mut head);
        if whole {
            w.finish(&mut head);
        } else {
            head.truncate(safe_end(&head));
        }
        out.extend_from_slice(&head);
        out.push(b'\n');
        let tail = &self.tail[self.tail.len().saturating_sub(EDGE)..];
        let skip = u64::from(matches!(self.charset, Charset::Utf16LeOdd | Charset::Utf16BeOdd));
        let start = self.seen - tail.len() as u64;
        let tail = if start >= skip && (start - skip).is_multiple_of(2) {
            tail
        } else {
            tail.get(1..).unwrap_or_default()
        };
        let order = match self.charset {
            Charset::Utf16Be | Charset::Utf16BeOdd => Charset::Utf16Be,
            _ => Charset::Utf16Le,
        };
        // No `finish`: a byte left over is dropped.
        let mut reading = Vec::new();
        Wide::new(order).push(tail, &mut reading);
        let from = if start <= skip { 0 } else { safe_start(&reading) };
        out.extend_from_slice(&reading[from..]);
        out.push(b'\n');
    }
}

/// Where a piece of text may be cut without splitting a value: just after a blank whose
/// neighbours are both ASCII and not digits. Values hold no such blank inside (their groups
/// are digits, or letters next to digits), and characters outside ASCII may be digits of
/// another script.
fn is_safe_cut(text: &[u8], blank: usize) -> bool {
    let plain = |b: u8| b.is_ascii() && !b.is_ascii_digit();
    blank > 0
        && matches!(text[blank], b' ' | b'\t' | b'\r' | b'\n')
        && text.get(blank + 1).is_some_and(|&b| plain(b))
        && plain(text[blank - 1])
}

/// The length of the longest prefix of `text` that ends at a safe cut (0 when none).
fn safe_end(text: &[u8]) -> usize {
    (1..text.len()).rev().find(|&i| is_safe_cut(text, i)).map_or(0, |i| i + 1)
}

/// Where the longest suffix of `text` that starts at a safe cut begins (the end when none).
fn safe_start(text: &[u8]) -> usize {
    (1..text.len()).find(|&i| is_safe_cut(text, i)).map_or(text.len(), |i| i + 1)
}

/// Characters a run needs before it is text.
const MIN_RUN: usize = 4;

/// UTF-16 text (ASCII characters) inside a stream of another kind, ASCII text or binary
/// data, at any offset and in either byte order: a run of bytes that alternate between a
/// character and a zero byte, read as its characters. Reading units of two bytes from the
/// start of the stream would miss text at an odd offset, and big-endian text read as
/// little-endian one byte later would lose its last character; the alternation has neither
/// problem. A run must hold [`MIN_RUN`] characters; each ends with a line break. Writes
/// without a zero byte cost a `memchr` once no run is open.
#[derive(Debug, Default)]
pub(crate) struct Utf16Anywhere {
    prev: Prev,
    /// Whether the previous character byte is already in the run.
    taken: bool,
    open: bool,
    run: Vec<u8>,
}

/// The byte before the next one, as the alternation sees it.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Prev {
    #[default]
    Other,
    Zero,
    Char(u8),
}

impl Utf16Anywhere {
    /// Reads `data`; `zero_free` says the caller already knows it holds no zero byte.
    pub fn push(&mut self, data: &[u8], zero_free: bool, out: &mut Vec<u8>) {
        if !zero_free && memchr::memchr(0, data).is_some() {
            for &b in data {
                self.byte(b, out);
            }
            return;
        }
        // Without a zero byte a run ends within two bytes, and none starts.
        let slow = data.len().min(2);
        for &b in &data[..slow] {
            self.byte(b, out);
        }
        if let Some(&last) = data[slow..].last() {
            self.prev = if is_char(last) { Prev::Char(last) } else { Prev::Other };
            self.taken = false;
        }
    }

    fn byte(&mut self, b: u8, out: &mut Vec<u8>) {
        match (b, self.prev) {
            (0, Prev::Char(c)) => {
                if !self.taken {
                    self.start();
                    self.char(c, out);
                }
                self.prev = Prev::Zero;
            }
            (0, _) => {
                self.end(out);
                self.prev = Prev::Zero;
            }
            (b, Prev::Zero) if is_char(b) => {
                if !self.open {
                    self.start();
                }
                self.char(b, out);
                self.prev = Prev::Char(b);
                self.taken = true;
            }
            (b, _) => {
                self.end(out);
                self.prev = if is_char(b) { Prev::Char(b) } else { Prev::Other };
                self.taken = false;
            }
        }
    }

    fn start(&mut self) {
        self.open = true;
        self.run.clear();
    }

    fn char(&mut self, c: u8, out: &mut Vec<u8>) {
        if self.run.len() < MIN_RUN {
            self.run.push(c);
            if self.run.len() == MIN_RUN {
                out.extend_from_slice(&self.run);
            }
        } else {
            out.push(c);
        }
    }

    fn end(&mut self, out: &mut Vec<u8>) {
        if self.open && self.run.len() >= MIN_RUN {
            out.push(b'\n');
        }
        self.open = false;
        self.run.clear();
    }
}

/// A byte that can be a character of a run: printable ASCII, tab and line breaks.
fn is_char(b: u8) -> bool {
    b.is_ascii_graphic() || matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_at_either_alignment_any_split() {
        let le: Vec<u8> = "card 4111 1111".encode_utf16().flat_map(u16::to_le_bytes).collect();
        let be: Vec<u8> = "ssn 123-45-6789".encode_utf16().flat_map(u16::to_be_bytes).collect();
        for lead in 0..3 {
            let mut data = vec![b'x'; lead];
            data.extend_from_slice(b"ascii text ");
            data.extend_from_slice(&le);
            data.extend_from_slice(&[0xFF, 0xFE, 0xFD]);
            data.extend_from_slice(&be);
            data.extend_from_slice(b" more ascii");
            let read = |cuts: &[usize]| {
                let mut r = Utf16Anywhere::default();
                let mut out = Vec::new();
                let mut from = 0;
                for &c in cuts.iter().chain([&data.len()]) {
                    r.push(&data[from..c], false, &mut out);
                    from = c;
                }
                String::from_utf8(out).unwrap()
            };
            let whole = read(&[]);
            assert_eq!(whole, "card 4111 1111\nssn 123-45-6789\n");
            for i in 0..=data.len() {
                assert_eq!(read(&[i]), whole, "lead {lead}, split at {i}");
                for j in i..=data.len() {
                    assert_eq!(read(&[i, j]), whole, "lead {lead}, split at {i} and {j}");
                }
            }
        }
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
            let mut r = Utf16Anywhere::default();
            let mut out = Vec::new();
            r.push(&bin[..split], false, &mut out);
            r.push(&bin[split..], false, &mut out);
            assert_eq!(String::from_utf8(out).unwrap(), "SSN 123-45-6789\n");
        }
    }

    #[test]
    fn wide_encodings_any_split() {
        let text = "card 4111 😀 ４";
        let encodings: [(Charset, Vec<u8>); 4] = [
            (Charset::Utf16Le, text.encode_utf16().flat_map(u16::to_le_bytes).collect()),
            (Charset::Utf16Be, text.encode_utf16().flat_map(u16::to_be_bytes).collect()),
            (Charset::Utf32Le, text.chars().flat_map(|c| (c as u32).to_le_bytes()).collect()),
            (Charset::Utf32Be, text.chars().flat_map(|c| (c as u32).to_be_bytes()).collect()),
        ];
        for (charset, bytes) in encodings {
            for split in 0..bytes.len() {
                for split2 in split..bytes.len() {
                    let mut d = Wide::new(charset);
                    let mut out = Vec::new();
                    d.push(&bytes[..split], &mut out);
                    d.push(&bytes[split..split2], &mut out);
                    d.push(&bytes[split2..], &mut out);
                    assert_eq!(String::from_utf8(out).unwrap(), text, "{charset:?}");
                }
            }
        }
        let mut d = Wide::new(Charset::Utf32Le);
        let mut out = Vec::new();
        d.push(&[0, 0, 0x11, 0, 0, 0xD8, 0, 0], &mut out);
        assert_eq!(String::from_utf8(out).unwrap(), "\u{FFFD}\u{FFFD}");
    }

    /// The other readings of a long text's ends never hold a number cut short.
    #[test]
    fn edge_readings_cut_between_words() {
        let filler = "the the the ".repeat(20);
        let text = format!("order 4111111111111112 the {filler} end 4111111111111112");
        for lead in [0usize, 1] {
            let pad = "x ".repeat(lead * 43);
            let t = format!("{pad}{text}");
            let mut bytes: Vec<u8> = t.encode_utf16().flat_map(u16::to_be_bytes).collect();
            bytes.insert(0, b'7');
            let mut e = WideEdges::new(Charset::Utf16BeOdd).unwrap();
            e.push(&bytes);
            let mut out = Vec::new();
            e.finish(&mut out);
            let out = String::from_utf8(out).unwrap();
            for run in out.split(|c: char| !c.is_ascii_digit()).filter(|r| !r.is_empty()) {
                assert!(run.len() == 16 || run.len() == 1, "{run:?} in {out:?}");
            }
            assert!(out.contains("end 4111111111111112\n"), "{out:?}");
        }
        assert_eq!(safe_end(b"the order 4111111111"), 4);
        assert_eq!(safe_end(b"41111"), 0);
        assert_eq!(safe_start(b"111112, the end"), 8);
    }
}
