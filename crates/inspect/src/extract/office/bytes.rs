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

/// Appends UTF-16LE code units as UTF-8 (lone surrogates become U+FFFD; NUL ends nothing
/// and is dropped, as are other C0 controls except tab and line breaks, which become a
/// separator).
pub(super) fn utf16le_to_utf8(units: &[u8], out: &mut Vec<u8>) {
    let iter = units.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]]));
    for c in char::decode_utf16(iter) {
        push_char(c.unwrap_or('\u{FFFD}'), out);
    }
}

/// Appends 8-bit text in Windows-1252 (the code page of Office's "compressed" text and of
/// most ANSI properties) as UTF-8.
pub(super) fn cp1252_to_utf8(bytes: &[u8], out: &mut Vec<u8>) {
    for &b in bytes {
        if b.is_ascii() {
            push_char(char::from(b), out);
        } else {
            push_char(cp1252(b), out);
        }
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
