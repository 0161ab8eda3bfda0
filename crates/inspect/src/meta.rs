//! Text that travels with an object rather than in it: the request URL's path and query,
//! file names from `Content-Disposition`. A GET has no body, yet its query string can carry
//! a card number; a file name can carry an SSN.
//!
//! Each [`MetaText`] of a [`ScanContext`](crate::ScanContext) is scanned before the body as
//! a member of its own, named by its label in parentheses (`(url)`, `(filename)`), with the
//! same detectors, limits and masking. What is stored about a request (its URL, its file
//! name) is masked with [`masked_url`] and [`masked_name`] when its text matched.

use serde::{Deserialize, Serialize};

/// One piece of text to scan besides the body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetaText {
    /// What the text is: the evidence member path is `(label)`.
    pub label: String,
    /// The text, decoded.
    pub text: String,
}

impl MetaText {
    /// The path and query of `url`, as [`url_text`] decodes them, labelled `url`.
    pub fn url(url: &str) -> Self {
        Self { label: "url".to_string(), text: url_text(url) }
    }

    /// A file name (already decoded), labelled `filename`.
    pub fn filename(name: &str) -> Self {
        Self { label: "filename".to_string(), text: name.to_string() }
    }

    /// Header fields of an upload's HTTP request (one `name: value` a line, percent-escapes
    /// decoded in a second reading of each value), and the URL's authority (user
    /// information and host), labelled `headers`.
    pub fn headers<'a>(fields: impl Iterator<Item = (&'a str, &'a [u8])>, url: Option<&str>) -> Self {
        let mut text = String::new();
        if let Some(authority) = url.and_then(url_authority) {
            text.push_str(authority);
            text.push('\n');
        }
        for (name, value) in fields {
            let value = String::from_utf8_lossy(value);
            text.push_str(name);
            text.push_str(": ");
            text.push_str(&value);
            text.push('\n');
            if value.contains('%') {
                text.push_str(&percent_decode(&value, true));
                text.push('\n');
            }
        }
        Self { label: "headers".to_string(), text }
    }

    /// The member path of this text in evidence.
    pub fn member(&self) -> String {
        format!("({})", self.label)
    }
}

/// The authority of an absolute URL (`user:pass@host:port`), if it has one.
fn url_authority(url: &str) -> Option<&str> {
    let start = url.find("://")? + 3;
    let end = path_start(url);
    (end > start).then(|| &url[start..end])
}

/// Where the path of `url` starts (after `scheme://authority`, for absolute URLs).
fn path_start(url: &str) -> usize {
    match url.find("://") {
        Some(s) if url[..s].bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)) => {
            let rest = s + 3;
            url[rest..].find(['/', '?', '#']).map_or(url.len(), |p| rest + p)
        }
        _ => 0,
    }
}

/// The path and query string of `url`, percent-decoded (`+` as a space in the query), one
/// parameter per line so that values of different parameters never run together; the
/// fragment is left out (clients do not send it). Invalid UTF-8 is replaced.
pub fn url_text(url: &str) -> String {
    let rest = &url[path_start(url)..];
    let rest = rest.split('#').next().unwrap_or_default();
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    let mut out = percent_decode(path, false);
    if let Some(q) = query {
        out.push('?');
        for (i, param) in q.split(['&', ';']).enumerate() {
            if i > 0 {
                out.push('\n');
            }
            out.push_str(&percent_decode(param, true));
        }
    }
    out
}

/// `%XX` escapes decoded; in a query, `+` is a space.
pub fn percent_decode(s: &str, plus_is_space: bool) -> String {
    let b = s.as_bytes();
    // Most paths and names hold no escape: then the text is its own decoding.
    if !b.iter().any(|&c| c == b'%' || (plus_is_space && c == b'+')) {
        return s.to_string();
    }
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (b.get(i + 1).and_then(|&c| hex(c)), b.get(i + 2).and_then(|&c| hex(c))) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 3;
                        continue;
                    }
                    _ => out.push(b'%'),
                }
            }
            b'+' if plus_is_space => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `url` for storage when its text matched: every query value and every path segment that
/// holds a digit or an `@` replaced by `***` (scheme, host, words of the path and parameter
/// names stay, for context); the fragment dropped.
pub fn masked_url(url: &str) -> String {
    let start = path_start(url);
    let (origin, rest) = url.split_at(start);
    let rest = rest.split('#').next().unwrap_or_default();
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    // The authority: user information dropped, host labels holding a digit masked.
    let mut out = match origin.find("://") {
        Some(s) => {
            let host = &origin[s + 3..];
            let (user, host) = match host.rsplit_once('@') {
                Some((_, h)) => ("***@", h),
                None => ("", host),
            };
            let labels: Vec<&str> = host
                .split('.')
                .map(|l| if l.chars().any(|c| c.is_ascii_digit()) { "***" } else { l })
                .collect();
            format!("{}{user}{}", &origin[..s + 3], labels.join("."))
        }
        None => origin.to_string(),
    };
    let segments: Vec<String> = path
        .split('/')
        .map(|seg| {
            let decoded = percent_decode(seg, false);
            if decoded.chars().any(|c| c.is_ascii_digit() || c == '@') {
                "***".to_string()
            } else {
                seg.to_string()
            }
        })
        .collect();
    out.push_str(&segments.join("/"));
    if let Some(q) = query {
        out.push('?');
        let params: Vec<String> = q
            .split('&')
            .map(|p| match p.split_once('=') {
                Some((k, _)) => format!("{k}=***"),
                None => "***".to_string(),
            })
            .collect();
        out.push_str(&params.join("&"));
    }
    out
}

/// A file name for storage when it matched: its stem replaced by `***`, the extension kept.
pub fn masked_name(name: &str) -> String {
    match name.rsplit_once('.') {
        Some((stem, ext))
            if !stem.is_empty() && ext.len() <= 8 && ext.chars().all(|c| c.is_ascii_alphanumeric()) =>
        {
            format!("***.{ext}")
        }
        _ => "***".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_text_decodes_path_and_query() {
        assert_eq!(
            url_text("http://shop.example/pay/4111%201111?card=4111+1111+1111+1111&x=a%26b#frag"),
            "/pay/4111 1111?card=4111 1111 1111 1111\nx=a&b"
        );
        assert_eq!(url_text("/upload?ssn=123-45-6789"), "/upload?ssn=123-45-6789");
        assert_eq!(url_text("http://h"), "");
        assert_eq!(url_text("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("%E2%82%AC", false), "€");
        assert_eq!(percent_decode("a+b/c", false), "a+b/c");
        assert_eq!(percent_decode("a+b/c", true), "a b/c");
        assert_eq!(percent_decode("plain/näme", true), "plain/näme");
    }

    #[test]
    fn stored_forms_hide_values() {
        assert_eq!(
            masked_url("http://shop.example/orders/4111111111111111/view?card=4111+1111&lang=en#x"),
            "http://shop.example/orders/***/view?card=***&lang=***"
        );
        assert_eq!(masked_url("/a%40b/c?x"), "/***/c?***");
        assert_eq!(masked_url("http://4111-1111-1111-1111.x.example/"), "http://***.x.example/");
        assert_eq!(masked_url("http://u:4111111111111111@x.example:8080/a"), "http://***@x.***/a");
        let h = MetaText::headers([("X-Card", &b"a%20b"[..])].into_iter(), Some("http://u@h.example/p?q"));
        assert_eq!(h.text, "u@h.example\nX-Card: a%20b\na b\n");
        assert_eq!(masked_name("ssn-123-45-6789.pdf"), "***.pdf");
        assert_eq!(masked_name("123-45-6789"), "***");
    }
}
