//! The LZW and RunLength stream filters (sections 7.4.4 and 7.4.5), decoding into a
//! growing buffer that the caller's guard may stop at any point.

/// How a decoder ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum End {
    /// At its end-of-data marker; `consumed` input bytes were read.
    Marker,
    /// The input ran out first.
    Truncated,
    /// Bad input: decoding stopped there.
    Corrupt,
    /// The guard refused more output (a limit was reached).
    Stopped,
}

/// Largest LZW table (12-bit codes).
const TABLE: usize = 4096;
const CLEAR: u16 = 256;
const EOD: u16 = 257;

/// One table entry: the code of its prefix, its last byte, its length.
#[derive(Clone, Copy, Default)]
struct Entry {
    prefix: u16,
    last: u8,
    len: u16,
}

/// Decodes LZW (`early_change` as the `/EarlyChange` parameter) into `out`; `more(len)` is
/// asked as the output grows and stops decoding when it answers false. Returns how it
/// ended and the input bytes consumed.
pub(super) fn lzw(
    input: &[u8],
    early_change: bool,
    out: &mut Vec<u8>,
    more: &mut dyn FnMut(usize) -> bool,
) -> (End, usize) {
    let ec = u32::from(early_change);
    let mut table = vec![Entry::default(); TABLE];
    for (i, e) in table.iter_mut().enumerate().take(256) {
        *e = Entry { prefix: u16::MAX, last: i as u8, len: 1 };
    }
    let mut next = 258usize;
    let mut width = 9u32;
    let mut prev: Option<u16> = None;
    let (mut acc, mut nbits, mut pos) = (0u32, 0u32, 0usize);
    let mut scratch = Vec::with_capacity(TABLE);
    let mut checked = out.len();
    loop {
        while nbits < width {
            let Some(&b) = input.get(pos) else { return (End::Truncated, pos) };
            acc = (acc << 8) | u32::from(b);
            nbits += 8;
            pos += 1;
        }
        nbits -= width;
        let code = ((acc >> nbits) & ((1 << width) - 1)) as u16;
        acc &= (1 << nbits) - 1;
        match code {
            CLEAR => {
                next = 258;
                width = 9;
                prev = None;
                continue;
            }
            EOD => return (End::Marker, pos),
            _ => {}
        }
        let c = usize::from(code);
        // The string for `code`: known, or (the KwKwK case) the previous string plus its
        // own first byte.
        let first = if c < next && !(256..258).contains(&c) {
            emit(&table, code, &mut scratch);
            out.extend_from_slice(&scratch);
            scratch[0]
        } else if c == next && prev.is_some() {
            let p = prev.unwrap_or(0);
            emit(&table, p, &mut scratch);
            let f = scratch[0];
            out.extend_from_slice(&scratch);
            out.push(f);
            f
        } else {
            return (End::Corrupt, pos);
        };
        if let Some(p) = prev {
            if next < TABLE {
                let len = table[usize::from(p)].len.saturating_add(1);
                table[next] = Entry { prefix: p, last: first, len };
                next += 1;
                if width < 12 && next as u32 + ec >= 1 << width {
                    width += 1;
                }
            }
        }
        prev = Some(code);
        if out.len() >= checked + 64 * 1024 {
            checked = out.len();
            if !more(out.len()) {
                return (End::Stopped, pos);
            }
        }
    }
}

/// The bytes of `code`, first to last, into `scratch`.
fn emit(table: &[Entry], code: u16, scratch: &mut Vec<u8>) {
    let len = usize::from(table[usize::from(code)].len);
    scratch.clear();
    scratch.resize(len, 0);
    let mut c = code;
    for slot in scratch.iter_mut().rev() {
        let e = table[usize::from(c)];
        *slot = e.last;
        c = e.prefix;
        if c == u16::MAX {
            break;
        }
    }
}

/// Decodes RunLength into `out`, like [`lzw`].
pub(super) fn run_length(
    input: &[u8],
    out: &mut Vec<u8>,
    more: &mut dyn FnMut(usize) -> bool,
) -> (End, usize) {
    let mut pos = 0;
    let mut checked = out.len();
    loop {
        let Some(&n) = input.get(pos) else { return (End::Truncated, pos) };
        pos += 1;
        match n {
            128 => return (End::Marker, pos),
            0..=127 => {
                let len = usize::from(n) + 1;
                let end = (pos + len).min(input.len());
                out.extend_from_slice(&input[pos..end]);
                pos = end;
            }
            _ => {
                let Some(&b) = input.get(pos) else { return (End::Truncated, pos) };
                pos += 1;
                out.resize(out.len() + 257 - usize::from(n), b);
            }
        }
        if out.len() >= checked + 64 * 1024 {
            checked = out.len();
            if !more(out.len()) {
                return (End::Stopped, pos);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::pdfkit;

    fn unlzw(data: &[u8], ec: bool) -> (Vec<u8>, End, usize) {
        let mut out = Vec::new();
        let (end, used) = lzw(data, ec, &mut out, &mut |_| true);
        (out, end, used)
    }

    #[test]
    fn lzw_round_trips_both_early_changes() {
        let text: Vec<u8> = (0..60_000u32).flat_map(|i| format!("{} ", i % 977).into_bytes()).collect();
        for ec in [true, false] {
            let packed = pdfkit::lzw(&text, ec);
            let (out, end, used) = unlzw(&packed, ec);
            assert_eq!(end, End::Marker);
            assert_eq!(used, packed.len());
            assert_eq!(out, text, "early change {ec}");
        }
        // The example of section 7.4.4.2: 45 45 45 45 45 65 45 45 45 66.
        let (out, end, _) = unlzw(&[0x80, 0x0B, 0x60, 0x50, 0x22, 0x0C, 0x0C, 0x85, 0x01], true);
        assert_eq!(out, [45, 45, 45, 45, 45, 65, 45, 45, 45, 66]);
        assert_eq!(end, End::Marker);
    }

    #[test]
    fn lzw_garbage_ends_without_panic() {
        for seed in 0..50u64 {
            let junk = crate::testkit::noise(500, seed);
            let _ = unlzw(&junk, seed % 2 == 0);
        }
        let (_, end, _) = unlzw(&[0xFF, 0xFF, 0xFF], true);
        assert_eq!(end, End::Corrupt);
    }

    #[test]
    fn run_length_round_trips() {
        let text = b"aaaaaaaaaabcdefffffffffffffffffffffffffffffffffffffffffffffffffg".repeat(50);
        let packed = pdfkit::run_length(&text);
        let mut out = Vec::new();
        assert_eq!(run_length(&packed, &mut out, &mut |_| true), (End::Marker, packed.len()));
        assert_eq!(out, text);
    }
}
