//! PDF fixtures for the PDF extractor's tests and fuzz seeds: an object writer, the stream
//! filters PDF uses (LZW, RunLength, ASCIIHex, ASCII85, Flate with a PNG predictor), and one
//! builder per construct that hides text from a naive extractor ([`pdf_case`]).
//!
//! Every builder takes the text as lines and puts it in the file only through its construct,
//! so a test that finds a value proves the construct is read.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write as _;

/// Writes numbered objects, a cross-reference table and a trailer.
#[derive(Debug, Default)]
pub struct PdfWriter {
    objects: Vec<Option<Vec<u8>>>,
    /// Bytes before `%PDF-`.
    pub prefix: Vec<u8>,
}

impl PdfWriter {
    /// An empty document.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reserves an object number, to be [`set`](Self::set) later.
    pub fn reserve(&mut self) -> u32 {
        self.objects.push(None);
        self.objects.len() as u32
    }

    /// Sets the body of object `n` (the bytes between `n 0 obj` and `endobj`).
    pub fn set(&mut self, n: u32, body: impl AsRef<[u8]>) {
        self.objects[n as usize - 1] = Some(body.as_ref().to_vec());
    }

    /// Adds an object; returns its number.
    pub fn add(&mut self, body: impl AsRef<[u8]>) -> u32 {
        let n = self.reserve();
        self.set(n, body);
        n
    }

    /// Adds a stream object: `dict` holds the entries besides `/Length`.
    pub fn add_stream(&mut self, dict: &str, data: &[u8]) -> u32 {
        self.add(stream_object(dict, data))
    }

    /// The file: header, objects, xref table and a trailer with `trailer` entries
    /// (`/Root 1 0 R ...`).
    pub fn finish(&self, trailer: &str) -> Vec<u8> {
        let mut out = self.prefix.clone();
        let base = out.len();
        out.extend_from_slice(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n");
        let mut offsets = Vec::new();
        for (i, o) in self.objects.iter().enumerate() {
            // A reserved object never set is left out (it lives in an object stream).
            let Some(o) = o else {
                offsets.push(None);
                continue;
            };
            offsets.push(Some(out.len() - base));
            out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
            out.extend_from_slice(o);
            out.extend_from_slice(b"\nendobj\n");
        }
        let xref = out.len() - base;
        out.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", offsets.len() + 1).as_bytes());
        for off in offsets {
            match off {
                Some(off) => out.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes()),
                None => out.extend_from_slice(b"0000000000 00001 f \n"),
            }
        }
        out.extend_from_slice(
            format!("trailer\n<< /Size {} {trailer} >>\nstartxref\n{xref}\n%%EOF\n", self.objects.len() + 1)
                .as_bytes(),
        );
        out
    }
}

/// `<< dict /Length n >> stream ... endstream`.
pub fn stream_object(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut o = format!("<< {dict} /Length {} >>\nstream\n", data.len()).into_bytes();
    o.extend_from_slice(data);
    o.extend_from_slice(b"\nendstream");
    o
}

/// zlib (FlateDecode) of `data`.
pub fn flate(data: &[u8]) -> Vec<u8> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = z.write_all(data);
    z.finish().expect("building a test fixture")
}

/// FlateDecode with `/Predictor 12 /Columns columns`: every row filtered with PNG "Up".
pub fn flate_png_up(data: &[u8], columns: usize) -> Vec<u8> {
    let mut rows = Vec::new();
    let mut prev = vec![0u8; columns];
    for chunk in data.chunks(columns) {
        let mut row = chunk.to_vec();
        row.resize(columns, 0);
        rows.push(2u8);
        rows.extend(row.iter().zip(&prev).map(|(a, b)| a.wrapping_sub(*b)));
        prev = row;
    }
    flate(&rows)
}

/// LZWDecode of `data`; `early_change` is the `/EarlyChange` parameter (1 by default).
pub fn lzw(data: &[u8], early_change: bool) -> Vec<u8> {
    let ec = u32::from(early_change);
    let mut bits = BitWriter::default();
    let mut dict: HashMap<(u32, u8), u32> = HashMap::new();
    let mut next = 258u32;
    // The code width the decoder uses once it knows `known` entries.
    let width = |known: u32| {
        let mut w = 9;
        while w < 12 && known + ec >= 1 << w {
            w += 1;
        }
        w
    };
    bits.put(256, 9);
    let mut w: Option<u32> = None;
    // Codes written since the last clear: the first one adds no entry in the decoder.
    let mut written = 0u32;
    for &b in data {
        let Some(cur) = w else {
            w = Some(u32::from(b));
            continue;
        };
        if let Some(&code) = dict.get(&(cur, b)) {
            w = Some(code);
            continue;
        }
        bits.put(cur, width(if written == 0 { 258 } else { next - 1 }));
        written += 1;
        dict.insert((cur, b), next);
        next += 1;
        w = Some(u32::from(b));
        if next >= 4000 {
            bits.put(256, width(next - 1));
            dict.clear();
            next = 258;
            written = 0;
        }
    }
    if let Some(cur) = w {
        bits.put(cur, width(if written == 0 { 258 } else { next - 1 }));
        written += 1;
    }
    bits.put(257, width(if written <= 1 { 258 } else { next }));
    bits.finish()
}

#[derive(Default)]
struct BitWriter {
    out: Vec<u8>,
    acc: u32,
    n: u32,
}

impl BitWriter {
    fn put(&mut self, code: u32, width: u32) {
        self.acc = (self.acc << width) | code;
        self.n += width;
        while self.n >= 8 {
            self.n -= 8;
            self.out.push((self.acc >> self.n) as u8);
        }
        self.acc &= (1 << self.n) - 1;
    }

    fn finish(mut self) -> Vec<u8> {
        if self.n > 0 {
            self.out.push((self.acc << (8 - self.n)) as u8);
        }
        self.out
    }
}

/// RunLengthDecode of `data`: repeats of three or more bytes as runs, the rest literal.
pub fn run_length(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut lit: Vec<u8> = Vec::new();
    let flush = |lit: &mut Vec<u8>, out: &mut Vec<u8>| {
        for c in lit.chunks(128) {
            out.push((c.len() - 1) as u8);
            out.extend_from_slice(c);
        }
        lit.clear();
    };
    let mut i = 0;
    while i < data.len() {
        let run = data[i..].iter().take(128).take_while(|&&b| b == data[i]).count();
        if run >= 3 {
            flush(&mut lit, &mut out);
            out.push((257 - run) as u8);
            out.push(data[i]);
            i += run;
        } else {
            lit.push(data[i]);
            i += 1;
        }
    }
    flush(&mut lit, &mut out);
    out.push(128);
    out
}

/// ASCIIHexDecode of `data`, in lines of 64 digits.
pub fn ascii_hex(data: &[u8]) -> Vec<u8> {
    let mut s = String::new();
    for (i, b) in data.iter().enumerate() {
        if i > 0 && i % 32 == 0 {
            s.push('\n');
        }
        let _ = write!(s, "{b:02x}");
    }
    s.push('>');
    s.into_bytes()
}

/// ASCII85Decode of `data`, with the `~>` end marker.
pub fn ascii85(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in data.chunks(4) {
        let mut b = [0u8; 4];
        b[..chunk.len()].copy_from_slice(chunk);
        let v = u32::from_be_bytes(b);
        if v == 0 && chunk.len() == 4 {
            out.push(b'z');
            continue;
        }
        let mut digits = [0u8; 5];
        let mut x = v;
        for d in digits.iter_mut().rev() {
            *d = (x % 85) as u8 + b'!';
            x /= 85;
        }
        out.extend_from_slice(&digits[..chunk.len() + 1]);
    }
    out.extend_from_slice(b"~>");
    out
}

/// A literal string `( ... )` with the characters PDF needs escaped.
pub fn literal(s: &str) -> String {
    let mut o = String::from("(");
    for c in s.chars() {
        match c {
            '(' | ')' | '\\' => {
                o.push('\\');
                o.push(c);
            }
            '\n' => o.push_str("\\n"),
            c => o.push(c),
        }
    }
    o.push(')');
    o
}

/// A hex string of the UTF-16BE encoding of `s`, with its byte order mark.
pub fn utf16_hex(s: &str) -> String {
    let mut o = String::from("<FEFF");
    for u in s.encode_utf16() {
        let _ = write!(o, "{u:04X}");
    }
    o.push('>');
    o
}

mod bombs;
mod cases;
mod fonts;

pub use bombs::*;
pub use cases::*;
