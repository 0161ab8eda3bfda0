//! ArcSight Common Event Format, version 0 (Micro Focus, "Implementing ArcSight CEF", rev. 25):
//! `CEF:0|dlpgate|dlpgate|VERSION|CLASS|NAME|SEVERITY|key=value ...`.
//!
//! Escaping follows the specification: in the header, `\` and `|` take a backslash; in
//! extension values, `\` and `=` take one and line breaks are written `\n` and `\r`. Header
//! fields are single-line, so a line break there becomes a space.

use crate::store::{to_millis, Incident};

/// One incident as a CEF line (without a syslog prefix or line break).
pub fn cef(i: &Incident) -> String {
    let class = if i.reason.is_some() { "could-not-scan".to_string() } else { format!("dlp-{}", i.action) };
    let name = if i.rules.is_empty() {
        format!("DLP {}", i.action)
    } else {
        format!("DLP {}: {}", i.action, i.rules.join(", "))
    };
    let mut line = format!(
        "CEF:0|dlpgate|dlpgate|{}|{}|{}|{}|",
        header(super::VERSION),
        header(&class),
        header(&name),
        super::severity(i)
    );
    let mut ext: Vec<(&str, String)> = vec![
        ("act", i.action.clone()),
        ("outcome", super::outcome(i).to_string()),
        ("externalId", i.id.clone()),
        ("rt", to_millis(i.time).to_string()),
        // The ICAP method (REQMOD for uploads, RESPMOD for downloads): the encapsulated HTTP
        // method is not kept in the incident.
        ("requestMethod", i.method.clone()),
        ("fsize", i.size.to_string()),
        ("fileHash", i.sha256.clone()),
        ("cs1Label", "rules".to_string()),
        ("cs1", i.rules.join(",")),
        ("cs2Label", "policyVersion".to_string()),
        ("cs2", i.policy_version.clone()),
        ("cs3Label", "icapService".to_string()),
        ("cs3", i.service.clone()),
    ];
    let optional = [
        ("src", super::source_ip(i).map(|a| a.to_string())),
        ("suser", i.user.clone()),
        ("request", i.url.clone()),
        ("fname", i.file_name.clone()),
        ("fileType", i.content_type.clone()),
        ("reason", i.reason.clone()),
    ];
    ext.extend(optional.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))));
    if !i.evidence.is_empty() {
        ext.push(("cs4Label", "evidence".to_string()));
        ext.push(("cs4", super::evidence_line(i)));
    }
    if let Some(subject) = &i.tls_subject {
        ext.push(("cs5Label", "tlsClientSubject".to_string()));
        ext.push(("cs5", subject.clone()));
    }
    let ext: Vec<String> = ext.into_iter().map(|(k, v)| format!("{k}={}", value(&v))).collect();
    line.push_str(&ext.join(" "));
    line
}

/// A header field: `\` and `|` escaped, line breaks as spaces.
fn header(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '|' => out.push_str("\\|"),
            '\r' | '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// An extension value: `\` and `=` escaped, line breaks as `\n` and `\r`.
fn value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '=' => out.push_str("\\="),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The specification-based reader the SIEM integration test uses too.
    mod reader {
        include!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/cef.rs"));
    }

    #[test]
    fn every_special_character_parses_back() {
        let i = crate::siem::sample::incident();
        let line = cef(&i);
        assert!(!line.contains('\n'), "{line}");
        let (h, ext) = reader::parse_cef(&line);
        assert_eq!(h[..3], ["0", "dlpgate", "dlpgate"]);
        assert_eq!(h[4], "dlp-block");
        assert_eq!(h[5], "DLP block: credit-card, us-ssn");
        assert_eq!(h[6], "8");
        assert_eq!(ext["fname"], i.file_name.clone().unwrap());
        assert_eq!(ext["request"], i.url.clone().unwrap());
        assert_eq!(ext["suser"], "jane=doe\\ops");
        assert_eq!(ext["src"], "192.0.2.7");
        assert_eq!(ext["act"], "block");
        assert_eq!(ext["outcome"], "blocked");
        assert_eq!(ext["externalId"], i.id);
        assert_eq!(ext["rt"], "1765000000123");
        assert_eq!(ext["cs1"], "credit-card,us-ssn");
        assert_eq!(ext["cs2"], "3f2a9c");
        assert_eq!(ext["fsize"], "4096");
        assert_eq!(ext["cs4"], "credit_card 4111********1111 @ q3.xlsx/xl/sharedStrings.xml@120");
    }

    #[test]
    fn header_fields_escape_pipes_and_backslashes() {
        assert_eq!(header("a|b\\c\nd"), "a\\|b\\\\c d");
        assert_eq!(value("a=b\\c\nd\re|f"), "a\\=b\\\\c\\nd\\re|f");
    }
}
