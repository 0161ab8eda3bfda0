//! Masking of matched values: the clear value never leaves the detector.

/// Masks a matched value for evidence, by detector name.
///
/// Numbers keep their first and last four digits (`4111********1111`), an SSN its last four,
/// tokens their public prefix, e-mail its domain; anything else keeps at most a quarter.
pub fn mask(detector: &str, value: &[u8]) -> String {
    if matches!(detector, "credit_card" | "iban") {
        // By bytes: a multi-byte or invalid UTF-8 sequence holds no ASCII letter or digit,
        // so this keeps what reading the text as characters would (an incident's first
        // evidence records are masked on the request path, up to 50 of them).
        let d: Vec<u8> = value.iter().copied().filter(u8::is_ascii_alphanumeric).collect();
        if d.len() < 12 {
            return "*".repeat(d.len());
        }
        let mut s = String::with_capacity(d.len());
        s.extend(d[..4].iter().map(|&b| char::from(b)));
        s.extend(std::iter::repeat_n('*', d.len() - 8));
        s.extend(d[d.len() - 4..].iter().map(|&b| char::from(b)));
        return s;
    }
    let text = String::from_utf8_lossy(value);
    match detector {
        "us_ssn" => {
            let d: Vec<char> = text.chars().filter(char::is_ascii_digit).collect();
            let last: String = d.iter().skip(d.len().saturating_sub(4)).collect();
            format!("***-**-{last}")
        }
        "phone" => {
            let d: Vec<char> = text.chars().filter(char::is_ascii_digit).collect();
            let keep = d.len().saturating_sub(2);
            let mut s = "*".repeat(keep);
            s.extend(&d[keep..]);
            s
        }
        "email" => match text.split_once('@') {
            Some((local, domain)) => {
                let first: String = local.chars().take(1).collect();
                format!("{first}***@{domain}")
            }
            None => generic(&text),
        },
        // The header line of a PEM block names the key type; it is not secret.
        "private_key" => text.into_owned(),
        "aws_access_key" | "google_api_key" | "npm_token" => prefix(&text, 4),
        "github_token" => prefix(&text, if text.starts_with("github_pat_") { 11 } else { 4 }),
        "slack_token" | "glpat" | "gitlab_token" => prefix(&text, 6),
        "stripe_key" => prefix(&text, 8),
        "jwt" => prefix(&text, 3),
        _ => generic(&text),
    }
}

fn prefix(text: &str, n: usize) -> String {
    let head: String = text.chars().take(n).collect();
    let rest = text.chars().count().saturating_sub(n);
    format!("{head}{}", "*".repeat(rest.min(16)))
}

fn generic(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let n = chars.len();
    let keep = (n / 4).min(4);
    if keep == 0 {
        return "*".repeat(n.min(16));
    }
    let mut s: String = chars[..keep].iter().collect();
    s.push_str(&"*".repeat((n - 2 * keep).min(16)));
    s.extend(&chars[n - keep..]);
    s
}

/// The form in which values are compared with exclusion lists: separators (space, dash,
/// dot) removed, ASCII upper case.
pub fn normalize(value: &[u8]) -> String {
    value
        .iter()
        .filter(|b| !matches!(b, b' ' | b'-' | b'.' | b'\t'))
        .map(|b| b.to_ascii_uppercase() as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The card and IBAN mask read as characters, as it was written before it read bytes.
    fn by_chars(value: &[u8]) -> String {
        let d: Vec<char> =
            String::from_utf8_lossy(value).chars().filter(|c| c.is_ascii_alphanumeric()).collect();
        if d.len() < 12 {
            return "*".repeat(d.len());
        }
        let mut s: String = d[..4].iter().collect();
        s.push_str(&"*".repeat(d.len() - 8));
        s.extend(&d[d.len() - 4..]);
        s
    }

    #[test]
    fn cards_and_ibans_are_masked_by_bytes_as_by_characters() {
        let values: [&[u8]; 8] = [
            b"4111 1111 1111 1111",
            b"4111-1111-1111-1111",
            b"41111111111",
            b"",
            "４１１１ 1111 1111 1111 1111".as_bytes(),
            b"\xff4111\xfe1111\x801111\xc31111",
            "DE89 3704 0044 0532 0130 00 é".as_bytes(),
            b"4\xe2\x80\x8b111 1111 1111 1111",
        ];
        for v in values {
            for detector in ["credit_card", "iban"] {
                assert_eq!(mask(detector, v), by_chars(v), "{v:?}");
            }
        }
    }

    #[test]
    fn masks_never_show_the_middle() {
        assert_eq!(mask("credit_card", b"4111 1111 1111 1111"), "4111********1111");
        assert_eq!(mask("us_ssn", b"123-45-6789"), "***-**-6789");
        assert_eq!(mask("iban", b"DE89 3704 0044 0532 0130 00"), "DE89**************3000");
        assert_eq!(mask("aws_access_key", b"AKIAIOSFODNN7EXAMPLE"), "AKIA****************");
        assert_eq!(mask("email", b"jane.doe@example.com"), "j***@example.com");
        assert_eq!(mask("phone", b"555-123-4567"), "********67");
        assert_eq!(mask("custom", b"EMP-123456"), "EM******56");
    }
}
