//! Stream filters (section 7.4): Flate (zlib or raw deflate) and LZW with their predictors,
//! RunLength, ASCIIHex, ASCII85, in chains. Every stage's output counts against the
//! decompressed-bytes, ratio, buffered-bytes and CPU limits.
//!
//! What no filter accounts for is kept for a raw scan: bytes after a filter's end-of-data
//! (a reader ignores them, an exfiltration need not), and the data in front of an image
//! codec or an unknown filter (an attacker can label text as an image).

use std::borrow::Cow;

use flate2::{Decompress, FlushDecompress, Status};

use super::lexer::is_white;
use super::lzw::{self, End};
use super::object::{Dict, Obj};
use crate::extract::{Ctx, Member};
use crate::limits::LimitKind;

/// Longest filter chain decoded; the data of a longer one is scanned as it is after these.
const MAX_FILTERS: usize = 8;
/// Output between two checks of the limits.
const CHECK_EVERY: usize = 256 * 1024;

/// One entry of a stream's `/Filter`, with its `/DecodeParms`.
#[derive(Debug, Clone)]
pub(super) struct Filter {
    pub name: Vec<u8>,
    pub parms: Option<Dict>,
}

/// A stream after its filters.
#[derive(Debug)]
pub(super) struct Decoded<'a> {
    pub data: Cow<'a, [u8]>,
    /// True when `data` is not the end of the chain: an image codec, an unknown filter, or
    /// a chain too long stopped decoding. Such data is scanned raw, never interpreted.
    pub undecoded: bool,
    /// Bytes after some filter's end of data.
    pub leftovers: Vec<Cow<'a, [u8]>>,
    /// A `/Crypt` filter other than `/Identity`.
    pub crypt: bool,
    /// What the decoded `data` holds of the budget (the process memory account included):
    /// the caller gives it back with [`Decoded::release`] once it is done with the data.
    pub held: u64,
}

impl<'a> Decoded<'a> {
    /// Data behind a crypt filter that cannot be applied: scanned raw.
    pub fn crypt(raw: &'a [u8]) -> Self {
        Decoded { data: Cow::Borrowed(raw), undecoded: false, leftovers: Vec::new(), crypt: true, held: 0 }
    }

    /// Gives back what the decoded data held; call when it is no longer needed.
    pub fn release(self, cx: &mut Ctx<'_>) {
        cx.st.budget.release(self.held);
    }
}

/// The filters of a stream dictionary, indirect names and parameters already resolved.
pub(super) fn filters_of(filter: Option<&Obj>, parms: Option<&Obj>) -> Vec<Filter> {
    let names: Vec<Vec<u8>> = match filter {
        Some(Obj::Name(n)) => vec![n.clone()],
        Some(Obj::Array(a)) => a.iter().filter_map(|o| o.name().map(<[u8]>::to_vec)).collect(),
        _ => Vec::new(),
    };
    let parms: Vec<Option<Dict>> = match parms {
        Some(Obj::Dict(d)) => vec![Some(d.clone())],
        Some(Obj::Array(a)) => a.iter().map(|o| o.dict().cloned()).collect(),
        _ => Vec::new(),
    };
    names
        .into_iter()
        .enumerate()
        .map(|(i, name)| Filter { name, parms: parms.get(i).cloned().flatten() })
        .collect()
}

/// Runs `raw` through `filters`; `held` is what `raw` already holds of the budget (a
/// decrypted copy), given back with the data. `None` when a limit stopped the scan.
pub(super) fn decode<'a>(
    cx: &mut Ctx<'_>,
    m: &Member,
    raw: Cow<'a, [u8]>,
    held: u64,
    filters: &[Filter],
) -> Option<Decoded<'a>> {
    let mut out = Decoded { data: raw, undecoded: false, leftovers: Vec::new(), crypt: false, held };
    if filters.is_empty() {
        return Some(out);
    }
    if !cx.st.budget.add_member(&m.path) {
        cx.st.budget.release(out.held);
        return None;
    }
    for (i, f) in filters.iter().enumerate() {
        if i == MAX_FILTERS {
            out.undecoded = true;
            break;
        }
        let input: &[u8] = &out.data;
        let mut produced = Vec::new();
        let mut guard = Guard { input_len: input.len() as u64, counted: 0, held: 0 };
        let mut more = |len: usize| guard.allow(cx, m, len);
        let (end, used) = match f.name.as_slice() {
            b"FlateDecode" | b"Fl" => inflate(input, &mut produced, &mut more),
            b"LZWDecode" | b"LZW" => {
                let ec = f.parms.as_ref().and_then(|p| p.get(b"EarlyChange")).and_then(Obj::num) != Some(0.0);
                lzw::lzw(input, ec, &mut produced, &mut more)
            }
            b"RunLengthDecode" | b"RL" => lzw::run_length(input, &mut produced, &mut more),
            b"ASCIIHexDecode" | b"AHx" => ascii_hex(input, &mut produced),
            b"ASCII85Decode" | b"A85" => ascii85(input, &mut produced),
            b"Crypt" => {
                let name = f.parms.as_ref().and_then(|p| p.get(b"Name")).and_then(Obj::name);
                if name.is_none_or(|n| n == b"Identity") {
                    continue;
                }
                out.crypt = true;
                return Some(out);
            }
            // Image codecs and names we do not know: what came before them is scanned raw.
            _ => {
                out.undecoded = true;
                return Some(out);
            }
        };
        if end == End::Stopped || !guard.allow(cx, m, produced.len()) {
            cx.st.budget.release(guard.held + out.held);
            return None;
        }
        if let Some(p) = &f.parms {
            if matches!(f.name.as_slice(), b"FlateDecode" | b"Fl" | b"LZWDecode" | b"LZW") {
                produced = predict(produced, p);
            }
        }
        let rest = &input[used.min(input.len())..];
        if rest.iter().any(|&b| !is_white(b)) {
            let rest = match &out.data {
                Cow::Borrowed(raw) => Cow::Borrowed(&raw[used.min(raw.len())..]),
                Cow::Owned(_) => Cow::Owned(rest.to_vec()),
            };
            out.leftovers.push(rest);
        }
        out.data = Cow::Owned(produced);
        // The stage before is dropped: what it held goes back.
        cx.st.budget.release(out.held);
        out.held = guard.held;
    }
    Some(out)
}

/// Counts a stage's output against the limits as it grows, and holds it against the
/// budget (the process memory account included) in steps that double, so a stream that
/// inflates to many megabytes is charged before it is made, not after.
struct Guard {
    input_len: u64,
    counted: usize,
    /// What this stage's output holds of the budget.
    held: u64,
}

impl Guard {
    fn allow(&mut self, cx: &mut Ctx<'_>, m: &Member, len: usize) -> bool {
        let new = len.saturating_sub(self.counted);
        self.counted = self.counted.max(len);
        let b = &mut cx.st.budget;
        if len as u64 > b.limits.max_buffered_bytes {
            b.limit(LimitKind::MaxBufferedBytes, &m.path);
            return false;
        }
        if len as u64 > self.held {
            let want = (len as u64).max(self.held.saturating_mul(2)).max(HOLD_STEP);
            let more = want - self.held;
            if !b.hold(more, &m.path) {
                return false;
            }
            self.held = want;
        }
        b.add_decompressed(new as u64, &m.path)
            && b.check_ratio(len as u64, self.input_len, &m.path)
            && b.check_time(&m.path)
    }
}

/// The smallest step a stage's output is held in.
const HOLD_STEP: u64 = 64 * 1024;

/// zlib, or raw deflate from writers that leave the header out.
fn inflate(input: &[u8], out: &mut Vec<u8>, more: &mut dyn FnMut(usize) -> bool) -> (End, usize) {
    let zlib = input.len() >= 2
        && input[0] & 0x0f == 8
        && (u16::from(input[0]) << 8 | u16::from(input[1])) % 31 == 0;
    let mut z = Decompress::new(zlib);
    let mut buf = vec![0u8; 64 * 1024];
    let mut checked = 0;
    loop {
        let used = (z.total_in() as usize).min(input.len());
        let (in0, out0) = (z.total_in(), z.total_out());
        let r = z.decompress(&input[used..], &mut buf, FlushDecompress::None);
        let made = ((z.total_out() - out0) as usize).min(buf.len());
        out.extend_from_slice(&buf[..made]);
        let used = (z.total_in() as usize).min(input.len());
        if out.len() >= checked + CHECK_EVERY {
            checked = out.len();
            if !more(out.len()) {
                return (End::Stopped, used);
            }
        }
        match r {
            Ok(Status::StreamEnd) => return (End::Marker, used),
            // What inflated before the damage stays; the rest is scanned raw.
            Err(_) => return (End::Corrupt, used),
            Ok(_) if z.total_in() == in0 && made == 0 => return (End::Truncated, used),
            Ok(_) => {}
        }
    }
}

fn ascii_hex(input: &[u8], out: &mut Vec<u8>) -> (End, usize) {
    let end = memchr::memchr(b'>', input);
    let body = &input[..end.unwrap_or(input.len())];
    // Anything but hex digits and white space ends the data early.
    let valid = body.iter().position(|&b| !b.is_ascii_hexdigit() && !is_white(b));
    match valid {
        Some(bad) => {
            super::lexer::decode_hex(&body[..bad], out);
            (End::Corrupt, bad)
        }
        None => {
            super::lexer::decode_hex(body, out);
            match end {
                Some(e) => (End::Marker, e + 1),
                None => (End::Truncated, input.len()),
            }
        }
    }
}

fn ascii85(input: &[u8], out: &mut Vec<u8>) -> (End, usize) {
    let mut group = [0u32; 5];
    let mut n = 0;
    let start = if input.starts_with(b"<~") { 2 } else { 0 };
    let mut end = (End::Truncated, input.len());
    for (i, &b) in input.iter().enumerate().skip(start) {
        match b {
            b'~' => {
                let after = if input.get(i + 1) == Some(&b'>') { i + 2 } else { i + 1 };
                end = (End::Marker, after);
                break;
            }
            b'z' if n == 0 => out.extend_from_slice(&[0; 4]),
            b'!'..=b'u' => {
                group[n] = u32::from(b - b'!');
                n += 1;
                if n == 5 {
                    let v = group.iter().fold(0u32, |a, &g| a.wrapping_mul(85).wrapping_add(g));
                    out.extend_from_slice(&v.to_be_bytes());
                    n = 0;
                }
            }
            b if is_white(b) => {}
            _ => {
                end = (End::Corrupt, i);
                break;
            }
        }
    }
    if n > 1 {
        for g in group.iter_mut().skip(n) {
            *g = 84;
        }
        let v = group.iter().fold(0u32, |a, &g| a.wrapping_mul(85).wrapping_add(g));
        out.extend_from_slice(&v.to_be_bytes()[..n - 1]);
    }
    end
}

/// Undoes a PNG (10 and up) or TIFF (2) predictor.
fn predict(data: Vec<u8>, parms: &Dict) -> Vec<u8> {
    let int = |k: &[u8], default: usize| {
        parms.get(k).and_then(Obj::num).filter(|v| *v >= 1.0 && *v < 1e9).map_or(default, |v| v as usize)
    };
    let predictor = int(b"Predictor", 1);
    if predictor < 2 {
        return data;
    }
    let colors = int(b"Colors", 1).min(32);
    let bpc = int(b"BitsPerComponent", 8).min(16);
    let columns = int(b"Columns", 1);
    // A row is never longer than the data: huge parameters cannot make a huge buffer.
    let row = (columns.saturating_mul(colors).saturating_mul(bpc).div_ceil(8)).clamp(1, data.len().max(1));
    let bpp = (colors * bpc).div_ceil(8).max(1);
    if predictor == 2 {
        let mut data = data;
        if bpc == 8 {
            for line in data.chunks_mut(row) {
                for i in bpp..line.len() {
                    line[i] = line[i].wrapping_add(line[i - bpp]);
                }
            }
        }
        return data;
    }
    let mut out = Vec::with_capacity(data.len());
    let mut prev = vec![0u8; row];
    for chunk in data.chunks(row + 1) {
        let (&kind, bytes) = match chunk.split_first() {
            Some(x) => x,
            None => break,
        };
        let mut cur = bytes.to_vec();
        for i in 0..cur.len() {
            let left = if i >= bpp { cur[i - bpp] } else { 0 };
            let up = prev[i];
            let up_left = if i >= bpp { prev[i - bpp] } else { 0 };
            cur[i] = match kind {
                1 => cur[i].wrapping_add(left),
                2 => cur[i].wrapping_add(up),
                3 => cur[i].wrapping_add(((u16::from(left) + u16::from(up)) / 2) as u8),
                4 => cur[i].wrapping_add(paeth(left, up, up_left)),
                _ => cur[i],
            };
        }
        out.extend_from_slice(&cur);
        prev[..cur.len()].copy_from_slice(&cur);
    }
    out
}

fn paeth(a: u8, b: u8, c: u8) -> u8 {
    let p = i16::from(a) + i16::from(b) - i16::from(c);
    let (pa, pb, pc) = ((p - i16::from(a)).abs(), (p - i16::from(b)).abs(), (p - i16::from(c)).abs());
    if pa <= pb && pa <= pc {
        a
    } else if pb <= pc {
        b
    } else {
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::pdfkit;

    fn run(f: fn(&[u8], &mut Vec<u8>) -> (End, usize), input: &[u8]) -> (Vec<u8>, End, usize) {
        let mut out = Vec::new();
        let (e, n) = f(input, &mut out);
        (out, e, n)
    }

    #[test]
    fn ascii_filters() {
        assert_eq!(run(ascii_hex, b"48 65 6C6c6F>tail"), (b"Hello".to_vec(), End::Marker, 13));
        assert_eq!(run(ascii85, b"<~87cURD]i,\"Ebo80~>"), (b"Hello World!".to_vec(), End::Marker, 19));
        let text = b"card 4111 1111 1111 1111 and more\0\0\0\0 text";
        assert_eq!(run(ascii85, &pdfkit::ascii85(text)).0, text);
        assert_eq!(run(ascii_hex, &pdfkit::ascii_hex(text)).0, text);
        // A byte no filter knows ends the data there; the rest is a leftover.
        assert_eq!(run(ascii_hex, b"4142 zz 43>"), (b"AB".to_vec(), End::Corrupt, 5));
    }

    #[test]
    fn png_up_predictor() {
        let text = b"The quick brown fox jumps over the lazy dog 4111 1111 1111 1111".repeat(3);
        let packed = pdfkit::flate_png_up(&text, 16);
        let mut out = Vec::new();
        let (end, _) = inflate(&packed, &mut out, &mut |_| true);
        assert_eq!(end, End::Marker);
        let parms =
            Dict(vec![(b"Predictor".to_vec(), Obj::Num(12.0)), (b"Columns".to_vec(), Obj::Num(16.0))]);
        let out = predict(out, &parms);
        assert_eq!(&out[..text.len()], &text[..]);
        // Absurd parameters make no absurd buffers.
        let huge = Dict(vec![(b"Predictor".to_vec(), Obj::Num(15.0)), (b"Columns".to_vec(), Obj::Num(1e8))]);
        assert!(predict(vec![1, 2, 3], &huge).len() <= 3);
    }

    #[test]
    fn inflate_reports_what_it_used() {
        let mut body = pdfkit::flate(b"hello");
        let n = body.len();
        body.extend_from_slice(b"TAIL");
        let mut out = Vec::new();
        assert_eq!(inflate(&body, &mut out, &mut |_| true), (End::Marker, n));
        assert_eq!(out, b"hello");
    }
}
