//! Reading untrusted binary structures: little-endian integers that are `None` past the
//! end, and the two text encodings of legacy Office (UTF-16LE and Windows-1252) to UTF-8.

/// Little-endian readers over untrusted bytes: `None` past the end, never a panic.
pub(super) fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([s[0], s[1]]))
}

pub(super) fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// Appends UTF-16LE code units as UTF-8: NUL is dropped, other controls (tabs, line
/// breaks) become a line break, lone surrogates U+FFFD. Printable ASCII, the common case,
/// is copied without decoding.
pub(super) fn utf16le_to_utf8(units: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i + 1 < units.len() {
        let (lo, hi) = (units[i], units[i + 1]);
        if hi == 0 && (0x20..0x7F).contains(&lo) {
            out.push(lo);
            i += 2;
            continue;
        }
        // A non-ASCII stretch: decode up to the next printable ASCII unit.
        let start = i;
        while i + 1 < units.len() && !(units[i + 1] == 0 && (0x20..0x7F).contains(&units[i])) {
            i += 2;
        }
        let iter = units[start..i].chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]]));
        for c in char::decode_utf16(iter) {
            push_char(c.unwrap_or('\u{FFFD}'), out);
        }
    }
}

/// The length of the leading run of printable ASCII (0x20..0x7F), eight bytes at a time.
pub(super) fn printable_prefix(b: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut i = 0;
    while let Some(w) = b.get(i..i + 8) {
        let x = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
        // A high bit, a byte below 0x20, or a byte equal to 0x7F.
        let del = x ^ (ONES * 0x7F);
        let bad = (x | (x.wrapping_sub(ONES * 0x20) & !x) | (del.wrapping_sub(ONES) & !del)) & HIGH;
        if bad != 0 {
            break;
        }
        i += 8;
    }
    i + b[i..].iter().position(|&c| !(0x20..0x7F).contains(&c)).unwrap_or(b.len() - i)
}

/// Appends 8-bit text in Windows-1252 (the code page of Office's "compressed" text and of
/// most ANSI properties) as UTF-8, controls as [`utf16le_to_utf8`] reads them.
pub(super) fn cp1252_to_utf8(bytes: &[u8], out: &mut Vec<u8>) {
    let mut rest = bytes;
    while !rest.is_empty() {
        let plain = printable_prefix(rest);
        out.extend_from_slice(&rest[..plain]);
        let Some(&b) = rest.get(plain) else { break };
        push_char(if b.is_ascii() { char::from(b) } else { cp1252(b) }, out);
        rest = &rest[plain + 1..];
    }
}

fn cp1252(b: u8) -> char {
    const HIGH: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8D}', 'Ž', '\u{8F}',
        '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9D}', 'ž', 'Ÿ',
    ];
    match b {
        0x80..=0x9F => HIGH[usize::from(b - 0x80)],
        _ => char::from(b),
    }
}

/// One character of extracted text: no-break spaces read as spaces, controls as separators.
fn push_char(c: char, out: &mut Vec<u8>) {
    match c {
        '\u{0}' => {}
        '\t' | '\n' | '\r' | '\u{b}' | '\u{c}' => out.push(b'\n'),
        c if c.is_control() => out.push(b'\n'),
        '\u{a0}' => out.push(b' '),
        c => {
            let mut b = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_prefix_matches_the_plain_definition() {
        for b in 0..=255u8 {
            for at in 0..20 {
                let mut v = vec![b'a'; 20];
                v[at] = b;
                let plain = v.iter().position(|&c| !(0x20..0x7F).contains(&c)).unwrap_or(v.len());
                assert_eq!(printable_prefix(&v), plain, "byte {b:#x} at {at}");
            }
        }
    }

    #[test]
    fn conversions_match_the_plain_definition() {
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        for len in [0usize, 1, 2, 3, 17, 64, 301] {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    if x.is_multiple_of(3) {
                        (x >> 8) as u8
                    } else {
                        b'a' + (x >> 8) as u8 % 26
                    }
                })
                .collect();
            let mut fast = Vec::new();
            cp1252_to_utf8(&bytes, &mut fast);
            let mut plain = Vec::new();
            for &b in &bytes {
                push_char(if b.is_ascii() { char::from(b) } else { cp1252(b) }, &mut plain);
            }
            assert_eq!(fast, plain);
            let mut fast = Vec::new();
            utf16le_to_utf8(&bytes, &mut fast);
            let mut plain = Vec::new();
            let iter = bytes.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]]));
            for c in char::decode_utf16(iter) {
                push_char(c.unwrap_or('\u{FFFD}'), &mut plain);
            }
            assert_eq!(fast, plain, "{bytes:?}");
        }
    }
}
