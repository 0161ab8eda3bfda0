// A CEF reader written from the specification, to read what dlpgate sends back (shared by
// the SIEM integration test and the formatter's unit test, which includes this file).

use std::collections::HashMap;

/// A CEF line read back as the specification says: header fields split at unescaped `|`,
/// extension keys found as `key=` after a space, values unescaped.
pub fn parse_cef(line: &str) -> (Vec<String>, HashMap<String, String>) {
    let body = &line[line.find("CEF:").unwrap() + 4..];
    let mut header = Vec::new();
    let mut field = String::new();
    let mut chars = body.chars();
    while header.len() < 7 {
        match chars.next().unwrap() {
            '\\' => field.push(chars.next().unwrap()),
            '|' => header.push(std::mem::take(&mut field)),
            c => field.push(c),
        }
    }
    let rest: String = chars.collect();
    let bytes = rest.as_bytes();
    let mut starts = Vec::new();
    for (k, _) in rest.match_indices('=') {
        let escaped = rest[..k].bytes().rev().take_while(|&b| b == b'\\').count() % 2 == 1;
        if escaped {
            continue;
        }
        let key_start = rest[..k].rfind(' ').map_or(0, |s| s + 1);
        if rest[key_start..k].bytes().all(|b| b.is_ascii_alphanumeric())
            && (key_start == 0 || bytes[key_start - 1] == b' ')
        {
            starts.push((key_start, k));
        }
    }
    let mut ext = HashMap::new();
    for (n, &(ks, eq)) in starts.iter().enumerate() {
        let end = starts.get(n + 1).map_or(rest.len(), |&(next, _)| next.saturating_sub(1));
        let mut v = String::new();
        let mut cs = rest[eq + 1..end].chars();
        while let Some(c) = cs.next() {
            if c == '\\' {
                match cs.next() {
                    Some('n') => v.push('\n'),
                    Some('r') => v.push('\r'),
                    Some(o) => v.push(o),
                    None => {}
                }
            } else {
                v.push(c);
            }
        }
        ext.insert(rest[ks..eq].to_string(), v);
    }
    (header, ext)
}
