//! RTF to text: control words dropped (paragraph and cell breaks kept as line breaks),
//! hex and Unicode escapes decoded.
//!
//! Nothing is dropped unseen: destinations that are not document text (font and style
//! tables, `\*` groups such as comments or generator names) go to a second text stream,
//! and binary destinations (pictures, embedded objects, data stores, written as hex or
//! `\bin` bytes) are decoded into blobs, each scanned as a member of its own.

use crate::limits::Budget;

/// Destinations whose content is not document text but is still text someone wrote.
const ASIDE: &[&[u8]] = &[
    b"fonttbl",
    b"colortbl",
    b"stylesheet",
    b"xmlnstbl",
    b"listtable",
    b"listoverridetable",
    b"rsidtbl",
    b"generator",
    b"latentstyles",
    b"filetbl",
    b"revtbl",
];

/// Destinations holding binary data as hex digits (or `\bin`).
const BINARY: &[&[u8]] = &[b"pict", b"objdata", b"datastore", b"themedata", b"colorschememapping"];

/// Largest number of open groups tracked; deeper groups share their parent's destination.
const MAX_GROUPS: usize = 1024;

/// Where the content of a group goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dest {
    Text,
    Aside,
    /// Into the blob with this index.
    Binary(usize),
}

/// What an RTF document holds.
#[derive(Debug, Default)]
pub(crate) struct Extracted {
    /// The document text.
    pub text: Vec<u8>,
    /// The text of other destinations.
    pub aside: Vec<u8>,
    /// Binary destinations, decoded.
    pub blobs: Vec<Vec<u8>>,
    /// What the buffers above hold of the budget ([`Budget::release`] it with them).
    pub held: u64,
}

/// Input bytes between two CPU-time checks.
const TIME_CHECK_BYTES: usize = 1 << 20;

impl Extracted {
    /// Appends to a destination, growing its buffer within the budget; false when it has no
    /// room (the budget is then stopped).
    fn push(&mut self, b: &mut Budget, member: &str, dest: Dest, bytes: &[u8]) -> bool {
        let held = &mut self.held;
        match dest {
            Dest::Text => {
                b.grow(&mut self.text, bytes.len(), held, member) && {
                    self.text.extend_from_slice(bytes);
                    true
                }
            }
            Dest::Aside => {
                b.grow(&mut self.aside, bytes.len(), held, member) && {
                    self.aside.extend_from_slice(bytes);
                    true
                }
            }
            Dest::Binary(k) => {
                // Text inside a binary destination is hex digits; anything else is ignored
                // (whitespace between the digits).
                let Some(blob) = self.blobs.get_mut(k) else { return true };
                if !b.grow(blob, bytes.len(), held, member) {
                    return false;
                }
                blob.extend(bytes.iter().filter_map(|&c| hex_digit(c)));
                true
            }
        }
    }

    /// Appends raw bytes (`\bin`, `\'hh`) to blob `k` as nibbles.
    fn push_raw(&mut self, b: &mut Budget, member: &str, k: usize, raw: &[u8]) -> bool {
        let Some(blob) = self.blobs.get_mut(k) else { return true };
        if !b.grow(blob, 2 * raw.len(), &mut self.held, member) {
            return false;
        }
        blob.extend(raw.iter().flat_map(|&v| [v >> 4, v & 15]));
        true
    }
}

/// Extracts an RTF document. Its buffers grow within `b` (held, see [`Extracted::held`]),
/// and the CPU budget is checked as it goes; when either stops the scan, what was extracted
/// so far is returned.
pub(crate) fn extract(data: &[u8], b: &mut Budget, member: &str) -> Extracted {
    let mut x = Extracted::default();
    let mut next_check = TIME_CHECK_BYTES;
    let mut dests: Vec<Dest> = vec![Dest::Text];
    // Hex digits arrive one at a time: blobs hold nibbles until the end, then are packed.
    let mut extra_depth = 0usize;
    let mut uc_skip = 0usize;
    let mut i = 0;
    let current = |s: &Vec<Dest>| s.last().copied().unwrap_or(Dest::Text);
    while i < data.len() {
        if b.is_stopped() {
            break;
        }
        if i >= next_check {
            next_check = i + TIME_CHECK_BYTES;
            if !b.check_time(member) {
                break;
            }
        }
        let c0 = data[i];
        let dest = current(&dests);
        match c0 {
            b'{' => {
                i += 1;
                if dests.len() < MAX_GROUPS {
                    // `{\*\...}`: an optional destination, text of its own (inside a binary
                    // destination too: its letters are no hex digits of the data).
                    let d = if data.get(i..i + 2) == Some(b"\\*") { Dest::Aside } else { dest };
                    dests.push(d);
                } else {
                    extra_depth += 1;
                }
            }
            b'}' => {
                i += 1;
                if extra_depth > 0 {
                    extra_depth -= 1;
                } else if dests.len() > 1 {
                    dests.pop();
                }
            }
            b'\\' => {
                i += 1;
                let Some(&c) = data.get(i) else { break };
                if c.is_ascii_alphabetic() {
                    let s = i;
                    while i < data.len() && data[i].is_ascii_alphabetic() && i - s < 32 {
                        i += 1;
                    }
                    let word = &data[s..i];
                    let ns = i;
                    if data.get(i) == Some(&b'-') {
                        i += 1;
                    }
                    while i < data.len() && data[i].is_ascii_digit() && i - ns < 11 {
                        i += 1;
                    }
                    let arg: Option<i64> =
                        std::str::from_utf8(&data[ns..i]).ok().and_then(|t| t.parse().ok());
                    if data.get(i) == Some(&b' ') {
                        i += 1;
                    }
                    if word == b"bin" {
                        // Raw bytes follow.
                        let n = usize::try_from(arg.unwrap_or(0)).unwrap_or(0).min(data.len() - i);
                        let raw = &data[i..i + n];
                        match dest {
                            Dest::Binary(k) => x.push_raw(b, member, k, raw),
                            d => x.push(b, member, d, raw),
                        };
                        i += n;
                        continue;
                    }
                    if BINARY.contains(&word) {
                        if x.blobs.len() == x.blobs.capacity() {
                            // The list of blobs grows within the budget too: `\pict` is
                            // five bytes, a blob's entry 24.
                            let more = x.blobs.capacity().max(4);
                            let cost = (more * std::mem::size_of::<Vec<u8>>()) as u64;
                            if !b.hold(cost, member) {
                                break;
                            }
                            x.held += cost;
                            x.blobs.reserve_exact(more);
                        }
                        x.blobs.push(Vec::new());
                        if let Some(last) = dests.last_mut() {
                            *last = Dest::Binary(x.blobs.len() - 1);
                        }
                        continue;
                    }
                    if ASIDE.contains(&word) {
                        if let Some(last) = dests.last_mut() {
                            if *last == Dest::Text {
                                *last = Dest::Aside;
                            }
                        }
                        continue;
                    }
                    match word {
                        b"par" | b"line" | b"row" | b"sect" | b"page" | b"cell" => {
                            x.push(b, member, dest, b"\n");
                        }
                        b"tab" => {
                            x.push(b, member, dest, b"\t");
                        }
                        b"uc" => uc_skip = arg.unwrap_or(1).clamp(0, 8) as usize,
                        b"u" => {
                            let v = arg.unwrap_or(0);
                            let v = if v < 0 { v + 65536 } else { v };
                            let ch = u32::try_from(v).ok().and_then(char::from_u32).unwrap_or('\u{FFFD}');
                            let mut buf = [0u8; 4];
                            x.push(b, member, dest, ch.encode_utf8(&mut buf).as_bytes());
                            // Skip the fallback characters that follow.
                            let mut n = uc_skip.max(1);
                            while n > 0 && i < data.len() {
                                if data[i] == b'\\' && data.get(i + 1) == Some(&b'\'') {
                                    i += 4;
                                } else {
                                    i += 1;
                                }
                                n -= 1;
                            }
                        }
                        _ => {}
                    }
                } else if c == b'\'' {
                    let h = data.get(i + 1..i + 3);
                    i += 3;
                    if let Some(v) = h
                        .and_then(|h| std::str::from_utf8(h).ok())
                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                    {
                        match dest {
                            Dest::Binary(k) => x.push_raw(b, member, k, &[v]),
                            d => x.push(b, member, d, &[v]),
                        };
                    }
                } else {
                    i += 1;
                    let text: &[u8] = match c {
                        b'~' => b" ",
                        b'_' => b"-",
                        b'\\' | b'{' | b'}' => std::slice::from_ref(&data[i - 1]),
                        b'\n' | b'\r' => b"\n",
                        _ => b"",
                    };
                    x.push(b, member, dest, text);
                }
            }
            b'\r' | b'\n' => i += 1,
            _ => {
                // A run of plain characters.
                let run = data[i..].iter().position(|&c| matches!(c, b'{' | b'}' | b'\\' | b'\r' | b'\n'));
                let end = run.map_or(data.len(), |r| i + r);
                x.push(b, member, dest, &data[i..end]);
                i = end;
            }
        }
    }
    // Blobs hold nibbles: pack them into bytes, in place.
    for blob in &mut x.blobs {
        let n = blob.len() / 2;
        for j in 0..n {
            blob[j] = blob[2 * j] << 4 | blob[2 * j + 1];
        }
        blob.truncate(n);
    }
    x.blobs.retain(|b| !b.is_empty());
    x
}

fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::Limits;

    fn extract_all(data: &[u8]) -> Extracted {
        extract(data, &mut Budget::new(Limits::default(), None), "")
    }

    #[test]
    fn rtf_text() {
        let x = extract_all(
            br"{\rtf1\ansi{\fonttbl{\f0 Arial;}}{\*\generator x;}\f0 Card \b 4111 1111\b0  1111 1111\par SSN\'3a 123-45-6789\u8364?}",
        );
        let s = String::from_utf8(x.text).unwrap();
        assert!(s.contains("Card 4111 1111 1111 1111\n"), "{s:?}");
        assert!(s.contains("SSN: 123-45-6789€"), "{s:?}");
        assert!(!s.contains("Arial"), "{s:?}");
        let aside = String::from_utf8(x.aside).unwrap();
        assert!(aside.contains("Arial") && aside.contains("x;"), "{aside:?}");
    }

    #[test]
    fn binary_destinations_are_decoded() {
        let x = extract_all(br"{\rtf1 text{\*\objdata 48656c6c6f 20 776f726c64}{\pict\bin3 abc}}");
        assert_eq!(x.blobs, vec![b"Hello world".to_vec(), b"abc".to_vec()]);
    }
}
