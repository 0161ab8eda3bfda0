//! RFC 5424 syslog messages with the incident as structured data:
//! `<PRI>1 TIMESTAMP HOST dlpgate - incident [dlpgate@32473 id="..." ...] BOM message`.
//!
//! The SD-ID uses 32473, the private enterprise number RFC 5612 reserves for documentation
//! and examples, until dlpgate has one of its own. PARAM-VALUEs escape `"`, `\` and `]` with a
//! backslash (RFC 5424 section 6.3.3), and control characters become spaces; the free-text
//! message follows a UTF-8 BOM.

use crate::store::{format_time, Incident};

/// The structured data's SD-ID.
pub const SD_ID: &str = "dlpgate@32473";
/// Facility 13, log audit.
const FACILITY: u8 = 13;

/// One incident as an RFC 5424 message (without framing or line break).
pub fn rfc5424(i: &Incident, hostname: &str) -> String {
    let mut sd = format!("[{SD_ID}");
    let mut param = |name: &str, v: &str| {
        sd.push_str(&format!(" {name}=\"{}\"", escape(v)));
    };
    param("id", &i.id);
    param("action", &i.action);
    param("rules", &i.rules.join(","));
    param("severity", &super::severity(i).to_string());
    param("service", &i.service);
    param("method", &i.method);
    param("size", &i.size.to_string());
    param("sha256", &i.sha256);
    param("policyVersion", &i.policy_version);
    for (name, v) in [
        ("src", super::source_ip(i).map(|a| a.to_string())),
        ("user", i.user.clone()),
        ("url", i.url.clone()),
        ("file", i.file_name.clone()),
        ("reason", i.reason.clone()),
    ] {
        if let Some(v) = v {
            param(name, &v);
        }
    }
    if !i.evidence.is_empty() {
        param("evidence", &super::evidence_line(i));
    }
    sd.push(']');
    let what = i.file_name.as_deref().or(i.url.as_deref()).unwrap_or("a request");
    let text = format!("{} {}", super::outcome(i), what).replace(['\r', '\n'], " ");
    format!("{} {sd} \u{feff}{text}", header(i, hostname))
}

/// An RFC 5424 message whose text is `text` (a CEF line, an ECS document), without
/// structured data: what syslog sinks send in the `cef` and `json` formats. Line breaks in
/// `text` become spaces.
pub fn rfc5424_carrying(i: &Incident, hostname: &str, text: &str) -> String {
    format!("{} - {}", header(i, hostname), text.replace(['\r', '\n'], " "))
}

/// `<PRI>1 TIMESTAMP HOST dlpgate - incident`: PRI from the incident's severity and action.
fn header(i: &Incident, hostname: &str) -> String {
    // Warning for blocks, notice for monitored, informational otherwise; critical rules are
    // critical (2).
    let level = match (i.severity.as_deref(), i.action.as_str()) {
        (Some("critical"), _) => 2,
        (_, "block") => 4,
        (_, "monitor") => 5,
        _ => 6,
    };
    let host = if hostname.is_empty() { "-" } else { hostname };
    format!("<{}>1 {} {host} dlpgate - incident", FACILITY * 8 + level, format_time(i.time))
}

/// A PARAM-VALUE: `"`, `\` and `]` escaped; control characters (a line break in a file
/// name) become spaces, so that a message is one line for receivers that split on them.
fn escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(if c.is_control() { ' ' } else { c });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SD-PARAMs read back by RFC 5424's grammar: name="value" with `\"`, `\\`, `\]`.
    fn params(msg: &str) -> Vec<(String, String)> {
        let start = msg.find(&format!("[{SD_ID}")).unwrap() + SD_ID.len() + 1;
        let mut out = Vec::new();
        let mut cs = msg[start..].chars().peekable();
        loop {
            match cs.next() {
                Some(' ') => {}
                Some(']') | None => break,
                Some(c) => {
                    let mut name = c.to_string();
                    for c in cs.by_ref() {
                        if c == '=' {
                            break;
                        }
                        name.push(c);
                    }
                    assert_eq!(cs.next(), Some('"'));
                    let mut v = String::new();
                    while let Some(c) = cs.next() {
                        match c {
                            '\\' => v.push(cs.next().unwrap()),
                            '"' => break,
                            c => v.push(c),
                        }
                    }
                    out.push((name, v));
                }
            }
        }
        out
    }

    #[test]
    fn structured_data_parses_back() {
        let i = crate::siem::sample::incident();
        let m = rfc5424(&i, "node1");
        assert!(
            m.starts_with("<108>1 2025-12-06T05:46:40.123Z node1 dlpgate - incident [dlpgate@32473 "),
            "{m}"
        );
        assert!(!m.contains('\n'));
        let p = params(&m);
        let get = |n: &str| p.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone()).unwrap();
        assert_eq!(get("file"), i.file_name.clone().unwrap().replace('\n', " "));
        assert_eq!(get("url"), i.url.clone().unwrap());
        assert_eq!(get("action"), "block");
        assert_eq!(get("src"), "192.0.2.7");
        assert!(m.ends_with("\u{feff}blocked q3 = \"plan\"|v2\\final] next.xlsx"), "{m}");
    }
}
