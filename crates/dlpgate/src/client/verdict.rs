//! Reading an ICAP server's answer into a verdict: `allow`, `block` or `error`, with the
//! rules, a reason and the incident id. A [`Profile`] says how a given server answers.

use icap::client::ClientResponse;
use icap_proto::Headers;
use serde::{Deserialize, Serialize};

/// Longest rule name kept from a header (longer ones are cut).
pub const MAX_RULE_LEN: usize = 120;
/// Most rules kept from one answer.
pub const MAX_RULES: usize = 32;
/// Longest reason kept from a header.
pub const MAX_REASON_LEN: usize = 300;

/// How to read a server's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// Any ICAP DLP or antivirus: allow on 204 or an unmodified 200; block on modified content
    /// or an encapsulated HTTP 4xx/5xx; X-Infection-Found, X-Violations-Found, X-Virus-ID,
    /// X-Response-Info and X-Blocked-Reason are read when present.
    #[default]
    Generic,
    /// Symantec DLP: the block page comes back as HTTP 200 with a modified body; an answer
    /// whose body is unchanged (headers added) allows.
    Symantec,
    /// dlpgate's own answer: the generic rules plus its incident id header.
    Dlpgate,
}

impl Profile {
    /// `generic`, `symantec` or `dlpgate`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Generic => "generic",
            Self::Symantec => "symantec",
            Self::Dlpgate => "dlpgate",
        }
    }
}

/// What was decided about one file: the server's verdict, or why there is none. (Not
/// `inspect::Decision`, the engine's own verdict on content it scanned.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScanVerdict {
    /// The server allowed it.
    Allow,
    /// The server blocked it.
    Block,
    /// No server could judge it.
    Error,
    /// Not sent: not a regular file (`dlpgate scan` skips FIFOs, sockets and devices).
    Skipped,
}

impl ScanVerdict {
    /// `allow`, `block`, `error` or `skipped`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Block => "block",
            Self::Error => "error",
            Self::Skipped => "skipped",
        }
    }
}

/// A verdict with what the server said about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerVerdict {
    /// allow, block or error.
    pub decision: ScanVerdict,
    /// Rule or threat names the server gave.
    pub rules: Vec<String>,
    /// Why, in a few words.
    pub reason: Option<String>,
    /// The server's incident id, when it gives one.
    pub incident_id: Option<String>,
}

/// What the reader needs besides the answer itself.
#[derive(Debug, Clone, Copy)]
pub struct Sent<'a> {
    /// SHA-256 of the body that was sent (the whole file).
    pub sha256: &'a [u8],
    /// SHA-256 of the answer's body, when the answer had one.
    pub answer_sha256: Option<&'a [u8]>,
}

/// Reads `response` with `profile`.
pub fn read(profile: Profile, response: &ClientResponse, sent: Sent<'_>) -> ServerVerdict {
    let mut rules = header_rules(&response.headers);
    let incident_id = incident_id(&response.headers);
    let reason_header = header_reason(&response.headers);
    let http_status = response.http_response.as_ref().map(|h| h.status());
    let says_blocked = !rules.is_empty()
        || response.headers.get("x-response-info").is_some_and(|v| v.trim().eq_ignore_ascii_case("blocked"))
        || response.headers.contains("x-blocked-reason");
    let body_changed = match sent.answer_sha256 {
        Some(answer) => answer != sent.sha256,
        None => false,
    };
    let block_reason: Option<String> = if response.unmodified && !says_blocked {
        None
    } else if let Some(status @ 400..=599) = http_status {
        Some(format!("HTTP {status} in the answer"))
    } else if says_blocked {
        Some("the server reported a violation".to_string())
    } else {
        match profile {
            // A Symantec block page: an HTTP 200 response whose body is not what was sent.
            Profile::Symantec if body_changed => Some("block page (modified body)".to_string()),
            Profile::Symantec => None,
            Profile::Generic | Profile::Dlpgate if !response.unmodified => {
                Some("the server modified the content".to_string())
            }
            Profile::Generic | Profile::Dlpgate => None,
        }
    };
    match block_reason {
        None => {
            ServerVerdict { decision: ScanVerdict::Allow, rules: Vec::new(), reason: None, incident_id: None }
        }
        Some(fallback) => {
            rules.truncate(MAX_RULES);
            ServerVerdict {
                decision: ScanVerdict::Block,
                rules,
                reason: Some(reason_header.unwrap_or(fallback)),
                incident_id: if profile == Profile::Dlpgate || incident_id.is_some() {
                    incident_id
                } else {
                    None
                },
            }
        }
    }
}

/// Rule and threat names from X-Infection-Found (`Threat=`), X-Violations-Found
/// (draft-stecher-icap-subid: count, then name / threat / id / resolution per violation) and
/// X-Virus-ID.
pub fn header_rules(headers: &Headers) -> Vec<String> {
    let mut rules: Vec<String> = Vec::new();
    let mut push = |name: &str| {
        let name = clean(name, MAX_RULE_LEN);
        if !name.is_empty() && name != "-" && !rules.contains(&name) && rules.len() < MAX_RULES {
            rules.push(name);
        }
    };
    for value in headers.get_all("x-infection-found") {
        let value = String::from_utf8_lossy(value);
        for part in value.split(';') {
            if let Some(threat) = part.trim().strip_prefix("Threat=") {
                push(threat);
            }
        }
    }
    for value in headers.get_all("x-violations-found") {
        let value = String::from_utf8_lossy(value);
        let lines: Vec<&str> = value.split(['\r', '\n']).map(str::trim).filter(|l| !l.is_empty()).collect();
        // count, then groups of four: file name, threat, problem id, resolution.
        for group in lines.get(1..).unwrap_or_default().chunks(4) {
            if let Some(threat) = group.get(1) {
                push(threat);
            }
        }
    }
    for value in headers.get_all("x-virus-id") {
        push(&String::from_utf8_lossy(value));
    }
    rules
}

/// The reason a server gave in X-Blocked-Reason or X-Response-Desc.
fn header_reason(headers: &Headers) -> Option<String> {
    ["x-blocked-reason", "x-response-desc"]
        .iter()
        .find_map(|h| headers.get(h))
        .map(|v| clean(v, MAX_REASON_LEN))
        .filter(|v| !v.is_empty())
}

/// The incident id dlpgate (and some DLP servers) return, in `X-Incident-ID`. Read by name
/// as the other vendors' headers are: the client side knows servers by what they send.
fn incident_id(headers: &Headers) -> Option<String> {
    headers.get("x-incident-id").map(|v| clean(v, MAX_RULE_LEN)).filter(|v| !v.is_empty())
}

/// Printable text only, cut to `max` characters.
fn clean(s: &str, max: usize) -> String {
    s.trim().chars().filter(|c| !c.is_control()).take(max).collect::<String>().trim().to_string()
}

#[cfg(test)]
mod tests {
    use icap_proto::HttpResponseHead;

    use super::*;

    fn response(status: u16, unmodified: bool, headers: Headers, http: Option<u16>) -> ClientResponse {
        ClientResponse {
            status,
            headers,
            http_request: None,
            http_response: http.map(|s| HttpResponseHead::new(s, "X", Headers::new())),
            body_len: 0,
            unmodified,
            sent_len: 0,
            sent_sha256: [0; 32],
            server: "127.0.0.1:1344".into(),
        }
    }

    const A: &[u8] = &[1; 32];
    const B: &[u8] = &[2; 32];

    #[test]
    fn allow_on_204_and_unmodified() {
        let sent = Sent { sha256: A, answer_sha256: None };
        for profile in [Profile::Generic, Profile::Symantec, Profile::Dlpgate] {
            let v = read(profile, &response(204, true, Headers::new(), None), sent);
            assert_eq!(v.decision, ScanVerdict::Allow);
        }
    }

    #[test]
    fn dlpgate_block_with_rules_and_incident() {
        let mut h = Headers::new();
        h.append("X-Infection-Found", "Type=2; Resolution=2; Threat=credit-card;");
        h.append(
            "X-Violations-Found",
            "2\r\n\tf.txt\r\n\tcredit-card\r\n\t0\r\n\t2\r\n\tf.txt\r\n\taws-key\r\n\t0\r\n\t2",
        );
        h.append("X-Response-Info", "Blocked");
        h.append("X-Incident-ID", "0193-abc");
        let v = read(
            Profile::Dlpgate,
            &response(200, false, h, Some(403)),
            Sent { sha256: A, answer_sha256: Some(B) },
        );
        assert_eq!(v.decision, ScanVerdict::Block);
        assert_eq!(v.rules, vec!["credit-card".to_string(), "aws-key".to_string()]);
        assert_eq!(v.incident_id.as_deref(), Some("0193-abc"));
    }

    #[test]
    fn generic_blocks_modified_and_4xx() {
        let sent = Sent { sha256: A, answer_sha256: Some(B) };
        assert_eq!(
            read(Profile::Generic, &response(200, false, Headers::new(), None), sent).decision,
            ScanVerdict::Block
        );
        let v = read(Profile::Generic, &response(200, false, Headers::new(), Some(403)), sent);
        assert_eq!(v.reason.as_deref(), Some("HTTP 403 in the answer"));
    }

    #[test]
    fn symantec_reads_body_change() {
        // Headers changed, body identical: allowed.
        let same = Sent { sha256: A, answer_sha256: Some(A) };
        assert_eq!(
            read(Profile::Symantec, &response(200, false, Headers::new(), Some(200)), same).decision,
            ScanVerdict::Allow
        );
        let changed = Sent { sha256: A, answer_sha256: Some(B) };
        assert_eq!(
            read(Profile::Symantec, &response(200, false, Headers::new(), Some(200)), changed).decision,
            ScanVerdict::Block
        );
        // The generic profile blocks any modification.
        assert_eq!(
            read(Profile::Generic, &response(200, false, Headers::new(), Some(200)), same).decision,
            ScanVerdict::Block
        );
    }

    #[test]
    fn virus_id_and_reason() {
        let mut h = Headers::new();
        h.append("X-Virus-ID", "EICAR-Test-File");
        h.append("X-Blocked-Reason", "virus\u{1}found");
        let v = read(
            Profile::Generic,
            &response(200, false, h, Some(403)),
            Sent { sha256: A, answer_sha256: Some(B) },
        );
        assert_eq!(v.rules, vec!["EICAR-Test-File".to_string()]);
        assert_eq!(v.reason.as_deref(), Some("virusfound"));
    }
}
