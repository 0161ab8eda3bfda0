//! Property sets (`\x05SummaryInformation`, `\x05DocumentSummaryInformation` and any other
//! `\x05` stream): titles, subjects, authors, keywords, comments, company, manager,
//! category, the titles of parts, hyperlink bases, and user-defined properties with their
//! names (the dictionary). Strings become text, numbers and dates are skipped, blobs and
//! thumbnails are scanned raw. A stream that does not parse, or holds a type not listed
//! here, is scanned raw as a whole (its strings are contiguous, so nothing is lost but
//! non-ASCII characters).

use super::bytes::{cp1252_to_utf8, u16_at, u32_at, utf16le_to_utf8};
use super::ole::Outcome;
use super::{RawSink, Sink};
use crate::extract::{Ctx, Member};

/// Property sets per stream, properties per set, and elements per vector read.
const MAX_SETS: usize = 16;
const MAX_ITEMS: usize = 1 << 16;

const VT_LPSTR: u32 = 0x1E;
const VT_LPWSTR: u32 = 0x1F;
const VT_BSTR: u32 = 0x08;
const VT_VARIANT: u32 = 0x0C;
const VT_BLOB: u32 = 0x41;
const VT_CF: u32 = 0x47;
const VT_VECTOR: u32 = 0x1000;
const CP_UTF16: u16 = 1200;
const CP_UTF8: u16 = 65001;

/// Scans one property-set stream.
pub(super) fn scan(cx: &mut Ctx<'_>, m: &Member, data: &[u8]) -> Outcome {
    let mut p = Parsed::new(data.len());
    if p.stream(data).is_some() {
        let mut sink = Sink::new(m);
        sink.push(cx, &p.text);
        sink.finish(cx);
        let mut raw = RawSink::new(m);
        for (start, end) in p.blobs {
            raw.blob(cx, &data[start..end]);
        }
        raw.finish(cx);
    } else {
        let mut raw = RawSink::new(m);
        raw.push(cx, data);
        raw.finish(cx);
    }
    Outcome::Done
}

struct Parsed {
    /// Strings, one per line.
    text: Vec<u8>,
    /// Byte ranges of blobs.
    blobs: Vec<(usize, usize)>,
    codepage: u16,
    /// Bytes read by values and dictionaries so far, and the most allowed: offsets may point
    /// many properties at one value, which would read (and keep the text of) its bytes once
    /// per property.
    read: usize,
    max_read: usize,
}

/// Reads per byte of a stream before it is taken for one whose properties share values
/// (scanned raw instead, every byte once). Two sets may describe the same properties, and
/// a vector's items are read again as values.
const READS_PER_BYTE: usize = 4;

impl Parsed {
    /// A parse of a stream of `len` bytes.
    fn new(len: usize) -> Self {
        let max_read = len.saturating_mul(READS_PER_BYTE).saturating_add(4096);
        Self { text: Vec::new(), blobs: Vec::new(), codepage: 0, read: 0, max_read }
    }

    /// Counts the bytes of a value or dictionary read (at least 4 each, for the entry);
    /// `None` past [`READS_PER_BYTE`] per byte of the stream.
    fn count(&mut self, from: usize, to: usize) -> Option<()> {
        self.read = self.read.saturating_add(to.saturating_sub(from)).saturating_add(4);
        (self.read <= self.max_read).then_some(())
    }

    fn stream(&mut self, d: &[u8]) -> Option<()> {
        if u16_at(d, 0)? != 0xFFFE {
            return None;
        }
        let sets = u32_at(d, 24)? as usize;
        if sets > MAX_SETS {
            return None;
        }
        for k in 0..sets {
            let off = u32_at(d, 28 + 20 * k + 16)? as usize;
            self.set(d, off)?;
        }
        Some(())
    }

    fn set(&mut self, d: &[u8], off: usize) -> Option<()> {
        let size = u32_at(d, off)? as usize;
        let set = d.get(off..off.checked_add(size)?)?;
        let count = u32_at(set, 4)? as usize;
        if count > MAX_ITEMS || count > set.len() / 8 {
            return None;
        }
        let entry = |j: usize| Some((u32_at(set, 8 + 8 * j)?, u32_at(set, 12 + 8 * j)? as usize));
        // The code page (property 1) says how 8-bit strings and dictionary names read.
        self.codepage = 0;
        for j in 0..count {
            let (id, at) = entry(j)?;
            if id == 1 {
                self.codepage = u16_at(set, at.checked_add(4)?)?;
            }
        }
        for j in 0..count {
            let (id, at) = entry(j)?;
            if id == 0 {
                self.dictionary(set, at)?;
            } else {
                let ty = u32_at(set, at)?;
                self.value(set, at + 4, ty & 0xFFFF, off)?;
            }
        }
        Some(())
    }

    /// User-defined property names.
    fn dictionary(&mut self, s: &[u8], mut at: usize) -> Option<()> {
        let n = u32_at(s, at)? as usize;
        if n > MAX_ITEMS {
            return None;
        }
        at += 4;
        for _ in 0..n {
            let from = at;
            let cch = u32_at(s, at + 4)? as usize;
            at += 8;
            if self.codepage == CP_UTF16 {
                let bytes = s.get(at..at.checked_add(cch.checked_mul(2)?)?)?;
                utf16le_to_utf8(bytes, &mut self.text);
                at += bytes.len().next_multiple_of(4);
            } else {
                let bytes = s.get(at..at.checked_add(cch)?)?;
                self.ansi(bytes);
                at += bytes.len();
            }
            self.text.push(b'\n');
            self.count(from, at)?;
        }
        Some(())
    }

    /// A typed value at `at`; returns the offset after it. `base` turns offsets within the
    /// set into offsets in the stream (for blobs).
    fn value(&mut self, s: &[u8], at: usize, ty: u32, base: usize) -> Option<usize> {
        let end = self.value_at(s, at, ty, base)?;
        self.count(at, end)?;
        Some(end)
    }

    fn value_at(&mut self, s: &[u8], at: usize, ty: u32, base: usize) -> Option<usize> {
        let fixed = match ty {
            0 | 1 => Some(0),
            0x02 | 0x12 | 0x0B | 0x10 | 0x11 => Some(4),
            0x03 | 0x04 | 0x0A | 0x13 | 0x16 | 0x17 => Some(4),
            0x05 | 0x06 | 0x07 | 0x14 | 0x15 | 0x40 => Some(8),
            0x48 => Some(16),
            _ => None,
        };
        if let Some(n) = fixed {
            s.get(at..at.checked_add(n)?)?;
            return Some(at + n);
        }
        match ty {
            VT_LPSTR | VT_BSTR => {
                let len = u32_at(s, at)? as usize;
                let bytes = s.get(at + 4..(at + 4).checked_add(len)?)?;
                if self.codepage == CP_UTF16 {
                    utf16le_to_utf8(bytes, &mut self.text);
                } else {
                    self.ansi(bytes);
                }
                self.text.push(b'\n');
                Some((at + 4 + len).next_multiple_of(4))
            }
            VT_LPWSTR => {
                let cch = u32_at(s, at)? as usize;
                let bytes = s.get(at + 4..(at + 4).checked_add(cch.checked_mul(2)?)?)?;
                utf16le_to_utf8(bytes, &mut self.text);
                self.text.push(b'\n');
                Some((at + 4 + bytes.len()).next_multiple_of(4))
            }
            VT_BLOB | VT_CF => {
                let len = u32_at(s, at)? as usize;
                let end = (at + 4).checked_add(len)?;
                s.get(at + 4..end)?;
                self.blobs.push((base + at + 4, base + end));
                Some(end.next_multiple_of(4))
            }
            t if t & VT_VECTOR != 0 => {
                let n = u32_at(s, at)? as usize;
                if n > MAX_ITEMS {
                    return None;
                }
                let inner = t & !VT_VECTOR;
                let mut at = at + 4;
                for _ in 0..n {
                    at = if inner == VT_VARIANT {
                        let ty = u32_at(s, at)? & 0xFFFF;
                        if ty & VT_VECTOR != 0 {
                            return None;
                        }
                        self.value(s, at + 4, ty, base)?
                    } else if inner & VT_VECTOR != 0 {
                        return None;
                    } else {
                        self.value(s, at, inner, base)?
                    };
                }
                Some(at)
            }
            _ => None,
        }
    }

    fn ansi(&mut self, bytes: &[u8]) {
        let end = memchr::memchr(0, bytes).unwrap_or(bytes.len());
        let bytes = &bytes[..end];
        if self.codepage == CP_UTF8 {
            self.text.extend_from_slice(bytes);
        } else {
            cp1252_to_utf8(bytes, &mut self.text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A SummaryInformation stream with a title (LPSTR) and a user-defined property set
    /// with a dictionary and an LPWSTR value.
    pub(crate) fn sample() -> Vec<u8> {
        let mut set1 = Vec::new();
        let props1: Vec<(u32, Vec<u8>)> = vec![
            (1, [2u32.to_le_bytes(), 1252u32.to_le_bytes()].concat()),
            (2, {
                let s = b"card 4111 1111 1111 1111\0";
                let mut v = [VT_LPSTR.to_le_bytes(), (s.len() as u32).to_le_bytes()].concat();
                v.extend_from_slice(s);
                v.resize(v.len().next_multiple_of(4), 0);
                v
            }),
            (0x40, [0x40u32.to_le_bytes().to_vec(), vec![1; 8]].concat()),
        ];
        build_set(&mut set1, &props1);
        let mut set2 = Vec::new();
        let name = b"Secret ref\0";
        let mut dict = [1u32.to_le_bytes(), 2u32.to_le_bytes(), (name.len() as u32).to_le_bytes()].concat();
        dict.extend_from_slice(name);
        dict.resize(dict.len().next_multiple_of(4), 0);
        let w: Vec<u8> = "ssn 123-45-6789".encode_utf16().flat_map(u16::to_le_bytes).collect();
        let mut val = [VT_LPWSTR.to_le_bytes(), ((w.len() / 2) as u32).to_le_bytes()].concat();
        val.extend_from_slice(&w);
        val.resize(val.len().next_multiple_of(4), 0);
        build_set(&mut set2, &[(0, dict), (2, val)]);
        let mut out = vec![0xFE, 0xFF, 0, 0, 6, 2, 0, 0];
        out.extend_from_slice(&[0u8; 16]);
        out.extend_from_slice(&2u32.to_le_bytes());
        let first = 28 + 40;
        out.extend_from_slice(&[1u8; 16]);
        out.extend_from_slice(&(first as u32).to_le_bytes());
        out.extend_from_slice(&[2u8; 16]);
        out.extend_from_slice(&((first + set1.len()) as u32).to_le_bytes());
        out.extend_from_slice(&set1);
        out.extend_from_slice(&set2);
        out
    }

    fn build_set(out: &mut Vec<u8>, props: &[(u32, Vec<u8>)]) {
        let head = 8 + 8 * props.len();
        let size = head + props.iter().map(|p| p.1.len()).sum::<usize>();
        out.extend_from_slice(&(size as u32).to_le_bytes());
        out.extend_from_slice(&(props.len() as u32).to_le_bytes());
        let mut at = head;
        for (id, v) in props {
            out.extend_from_slice(&id.to_le_bytes());
            out.extend_from_slice(&(at as u32).to_le_bytes());
            at += v.len();
        }
        for (_, v) in props {
            out.extend_from_slice(v);
        }
    }

    /// One stream whose every property points at the same long string: each byte would be
    /// read (and its text kept) once per property, quadratic in the stream's size.
    #[test]
    fn properties_sharing_one_value_are_read_in_linear_work() {
        let (entries, len) = (4096usize, 16usize << 10);
        let head = 8 + 8 * entries;
        let mut set = Vec::new();
        set.extend_from_slice(&((head + 8 + len) as u32).to_le_bytes());
        set.extend_from_slice(&(entries as u32).to_le_bytes());
        for id in 0..entries as u32 {
            set.extend_from_slice(&(id + 2).to_le_bytes());
            set.extend_from_slice(&(head as u32).to_le_bytes());
        }
        set.extend_from_slice(&VT_LPSTR.to_le_bytes());
        set.extend_from_slice(&(len as u32).to_le_bytes());
        set.extend(std::iter::repeat_n(b'a', len));
        let mut data = vec![0u8; 48];
        data[..2].copy_from_slice(&[0xFE, 0xFF]);
        data[24..28].copy_from_slice(&1u32.to_le_bytes());
        data[44..48].copy_from_slice(&48u32.to_le_bytes());
        data.extend_from_slice(&set);
        let mut p = Parsed::new(data.len());
        // Refused as a property set (the stream is then scanned raw, every byte once).
        assert!(p.stream(&data).is_none());
        assert!(p.text.len() <= 16 * data.len(), "{} bytes of text from {}", p.text.len(), data.len());
    }

    #[test]
    fn strings_and_names_of_both_sets() {
        let data = sample();
        let mut p = Parsed::new(data.len());
        assert!(p.stream(&data).is_some());
        let text = String::from_utf8(p.text).unwrap();
        assert!(text.contains("card 4111 1111 1111 1111\n"), "{text:?}");
        assert!(text.contains("Secret ref\n"), "{text:?}");
        assert!(text.contains("ssn 123-45-6789\n"), "{text:?}");
        // Any truncation parses or fails, never panics.
        for cut in 0..data.len() {
            let mut p = Parsed::new(data.len());
            let _ = p.stream(&data[..cut]);
        }
    }
}
