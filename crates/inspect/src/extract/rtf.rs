//! RTF to text: control words dropped (paragraph and cell breaks kept as line breaks),
//! hex and Unicode escapes decoded, non-text destinations (fonts, colours, pictures,
//! `\*` groups) skipped.

/// Destinations whose content is not document text.
const SKIP: &[&[u8]] = &[
    b"fonttbl",
    b"colortbl",
    b"stylesheet",
    b"pict",
    b"themedata",
    b"colorschememapping",
    b"datastore",
    b"xmlnstbl",
    b"listtable",
    b"listoverridetable",
    b"rsidtbl",
    b"generator",
    b"latentstyles",
    b"filetbl",
    b"revtbl",
    b"objdata",
];

/// Appends the text of an RTF document to `out`.
pub(crate) fn to_text(data: &[u8], out: &mut Vec<u8>) {
    // One flag per open group: whether its content is skipped. Depth is capped so a hostile
    // file cannot grow the stack without bound; deeper groups inherit their parent's flag.
    let mut skip: Vec<bool> = vec![false];
    let mut extra_depth = 0usize;
    let mut uc_skip = 0usize;
    let mut i = 0;
    let current = |s: &Vec<bool>| s.last().copied().unwrap_or(false);
    while i < data.len() {
        let b = data[i];
        match b {
            b'{' => {
                i += 1;
                if skip.len() < 1024 {
                    let mut s = current(&skip);
                    if data.get(i..i + 2) == Some(b"\\*") {
                        s = true;
                    }
                    skip.push(s);
                } else {
                    extra_depth += 1;
                }
            }
            b'}' => {
                i += 1;
                if extra_depth > 0 {
                    extra_depth -= 1;
                } else if skip.len() > 1 {
                    skip.pop();
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
                    if SKIP.contains(&word) {
                        if let Some(last) = skip.last_mut() {
                            *last = true;
                        }
                        continue;
                    }
                    if current(&skip) {
                        continue;
                    }
                    match word {
                        b"par" | b"line" | b"row" | b"sect" | b"page" | b"cell" => out.push(b'\n'),
                        b"tab" => out.push(b'\t'),
                        b"uc" => uc_skip = arg.unwrap_or(1).clamp(0, 8) as usize,
                        b"u" => {
                            let v = arg.unwrap_or(0);
                            let v = if v < 0 { v + 65536 } else { v };
                            let ch = u32::try_from(v).ok().and_then(char::from_u32).unwrap_or('\u{FFFD}');
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
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
                    if current(&skip) {
                        continue;
                    }
                    if let Some(v) = h
                        .and_then(|h| std::str::from_utf8(h).ok())
                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                    {
                        out.push(v);
                    }
                } else {
                    i += 1;
                    if current(&skip) {
                        continue;
                    }
                    match c {
                        b'~' => out.push(b' '),
                        b'_' => out.push(b'-'),
                        b'\\' | b'{' | b'}' => out.push(c),
                        b'\n' | b'\r' => out.push(b'\n'),
                        _ => {}
                    }
                }
            }
            b'\r' | b'\n' => i += 1,
            _ => {
                i += 1;
                if !current(&skip) {
                    out.push(b);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtf_text() {
        let mut out = Vec::new();
        to_text(
            br"{\rtf1\ansi{\fonttbl{\f0 Arial;}}{\*\generator x;}\f0 Card \b 4111 1111\b0  1111 1111\par SSN\'3a 123-45-6789\u8364?}",
            &mut out,
        );
        let s = String::from_utf8(out).unwrap();
        assert!(s.contains("Card 4111 1111 1111 1111\n"), "{s:?}");
        assert!(s.contains("SSN: 123-45-6789€"), "{s:?}");
        assert!(!s.contains("Arial"), "{s:?}");
    }
}
