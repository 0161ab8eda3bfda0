//! Masking of matched values: the clear value never leaves the detector.

/// Masks a matched value for evidence, by detector name.
///
/// Numbers keep their first and last four digits (`4111********1111`), an SSN its last four,
/// tokens their public prefix, e-mail its domain; anything else keeps at most a quarter.
pub fn mask(detector: &str, value: &[u8]) -> String {
    let text = String::from_utf8_lossy(value);
    match detector {
        "credit_card" | "iban" => {
            let d: Vec<char> = text.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
            if d.len() < 12 {
                return "*".repeat(d.len());
            }
            let mut s: String = d[..4].iter().collect();
            s.push_str(&"*".repeat(d.len() - 8));
            s.extend(&d[d.len() - 4..]);
            s
        }
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
