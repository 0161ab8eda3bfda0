//! The answer to a blocked message: ICAP 200 carrying an HTTP 403 block page that names the
//! rules (never the matched data), with the headers ICAP clients read: `X-Infection-Found`,
//! `X-Violations-Found` (draft-stecher-icap-subid), `X-Response-Info` and the incident id.

use bytes::Bytes;
use icap::server::Reply;
use icap_proto::{Headers, HttpResponseHead};
use inspect::Verdict;

/// The ICAP header that carries the incident id.
pub const INCIDENT_HEADER: &str = "X-Incident-ID";

/// Every ICAP header a block answer may carry, announced in OPTIONS as `X-Allow-Out`: e2guardian
/// shows the threat of `X-Infection-Found` on its block page only when it is announced.
pub const ANSWER_HEADERS: [&str; 4] =
    ["X-Infection-Found", "X-Violations-Found", "X-Response-Info", INCIDENT_HEADER];

/// Builds the block answer.
/// `incident_id` is `None` when the incident could not be recorded anywhere.
pub fn block_reply(verdict: &Verdict, incident_id: Option<&str>, file_name: Option<&str>) -> Reply {
    let threats = verdict.threat_names();
    let threats = if threats.is_empty() { vec!["policy".to_string()] } else { threats };
    let mut headers = Headers::new();
    let first = header_safe(&threats[0]);
    headers.append("X-Infection-Found", format!("Type=2; Resolution=2; Threat={first};"));
    // draft-stecher-icap-subid: count, then per violation: file name, threat, problem id,
    // resolution (2 = blocked), as folded lines.
    let file = header_safe(file_name.unwrap_or("-"));
    let mut violations = threats.len().to_string();
    for threat in &threats {
        violations.push_str(&format!("\r\n\t{file}\r\n\t{}\r\n\t0\r\n\t2", header_safe(threat)));
    }
    headers.append("X-Violations-Found", violations);
    headers.append("X-Response-Info", "Blocked");
    if let Some(id) = incident_id {
        headers.append(INCIDENT_HEADER, id.to_string());
    }
    let body = page(&threats, incident_id);
    let mut http = Headers::new();
    http.append("Content-Type", "text/html; charset=utf-8");
    http.append("Content-Length", body.len().to_string());
    http.append("Cache-Control", "no-store");
    http.append("Connection", "close");
    Reply {
        headers,
        http_request: None,
        http_response: Some(HttpResponseHead::new(403, "Forbidden", http)),
        body: Some(Bytes::from(body)),
    }
}

/// Keeps a value to printable ASCII without separators that would break the header.
fn header_safe(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_graphic() && c != ';' { c } else { '_' }).take(120).collect()
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn page(threats: &[String], incident_id: Option<&str>) -> String {
    let items: String = threats.iter().map(|t| format!("<li>{}</li>", escape_html(t))).collect();
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Blocked by data-loss prevention</title></head>\n\
         <body><h1>Blocked by data-loss prevention</h1>\n\
         <p>This transfer was blocked because its content matched the organisation's data-loss prevention policy:</p>\n\
         <ul>{items}</ul>\n<p>{}Contact your security team if you believe this is a mistake.</p>\n\
         </body></html>\n",
        incident_id.map_or(String::new(), |id| format!("Incident: <code>{}</code>. ", escape_html(id)))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_header_of_a_block_answer_is_announced() {
        let verdict =
            Verdict { decision: inspect::Decision::Block, ..Verdict::exempt(&inspect::Policy::builtin()) };
        let reply = block_reply(&verdict, Some("inc-1"), Some("a.txt"));
        let names: Vec<&str> = reply.headers.iter().map(|(name, _)| name).collect();
        assert_eq!(names.len(), ANSWER_HEADERS.len());
        for name in names {
            assert!(
                ANSWER_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name)),
                "{name} is not in X-Allow-Out"
            );
        }
    }
}
