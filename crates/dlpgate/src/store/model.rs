//! What an incident holds, and how to ask for some.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::Serialize;

/// One DLP incident: a block, or a monitored match. Evidence is masked before it gets here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Incident {
    /// Unique, sortable by time.
    pub id: String,
    /// When it happened.
    #[serde(serialize_with = "rfc3339")]
    pub time: SystemTime,
    /// ICAP service name.
    pub service: String,
    /// `REQMOD` or `RESPMOD`.
    pub method: String,
    /// `X-Client-IP`, else the peer address.
    pub client_addr: Option<String>,
    /// Subject of the verified client certificate, under TLS.
    pub tls_subject: Option<String>,
    /// `X-Authenticated-User`.
    pub user: Option<String>,
    /// `X-Authenticated-Groups`.
    pub groups: Vec<String>,
    /// Identity headers from a client not trusted to send them (`--trust-identity-from`):
    /// what it claimed, never used for rule scoping.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub claimed: Option<ClaimedIdentity>,
    /// URL from the encapsulated request.
    pub url: Option<String>,
    /// File name (Content-Disposition, or the URL's last segment).
    pub file_name: Option<String>,
    /// HTTP Content-Type.
    pub content_type: Option<String>,
    /// Body size in bytes, as received.
    pub size: u64,
    /// SHA-256 of the body as received, hex.
    pub sha256: String,
    /// Rules that matched.
    pub rules: Vec<String>,
    /// Matches per detector.
    pub counts: BTreeMap<String, u64>,
    /// Masked evidence with locations.
    pub evidence: Vec<EvidenceRecord>,
    /// `block`, `monitor` or `allow`.
    pub action: String,
    /// Why, for could-not-scan outcomes.
    pub reason: Option<String>,
    /// Highest severity among the rules.
    pub severity: Option<String>,
    /// Version of the policy that decided.
    pub policy_version: String,
}

/// Identity headers a client sent without being trusted to: kept as it claimed them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ClaimedIdentity {
    /// `X-Authenticated-User`.
    #[serde(rename = "claimed_user", default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// `X-Authenticated-Groups`.
    #[serde(rename = "claimed_groups", default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// `X-Client-IP`.
    #[serde(rename = "claimed_client_ip", default, skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
}

/// One piece of masked evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct EvidenceRecord {
    /// Detector name.
    pub detector: String,
    /// The masked value (never the clear value).
    pub masked: String,
    /// Member path and offset.
    pub location: String,
}

/// Which incidents to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IncidentFilter {
    /// At or after this time.
    pub since: Option<SystemTime>,
    /// With this rule among its rules.
    pub rule: Option<String>,
    /// With this action.
    pub action: Option<String>,
    /// From this client address.
    pub client: Option<String>,
    /// From this user.
    pub user: Option<String>,
    /// At most this many, newest first.
    pub limit: Option<usize>,
}

impl IncidentFilter {
    /// Keeps the incidents (newest first) that pass the filter, up to its limit.
    pub fn collect(
        &self,
        newest_first: impl IntoIterator<Item = Result<Incident, super::StoreError>>,
    ) -> Result<Vec<Incident>, super::StoreError> {
        let mut out = Vec::new();
        for incident in newest_first {
            let incident = incident?;
            if self.matches(&incident) {
                out.push(incident);
                if self.limit.is_some_and(|l| out.len() >= l) {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// True when `incident` passes every condition but the limit.
    pub fn matches(&self, incident: &Incident) -> bool {
        self.since.is_none_or(|t| incident.time >= t)
            && self.rule.as_ref().is_none_or(|r| incident.rules.iter().any(|x| x == r))
            && self.action.as_ref().is_none_or(|a| incident.action == *a)
            && self.client.as_ref().is_none_or(|c| incident.client_addr.as_deref() == Some(c.as_str()))
            && self.user.as_ref().is_none_or(|u| incident.user.as_deref() == Some(u.as_str()))
    }
}

/// RFC 3339 UTC with milliseconds.
pub fn format_time(time: SystemTime) -> String {
    let t = time::OffsetDateTime::from(time);
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    t.format(&format).unwrap_or_else(|_| t.unix_timestamp().to_string())
}

fn rfc3339<S: serde::Serializer>(time: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_time(*time))
}

/// Milliseconds since the Unix epoch (how the stores keep time).
pub fn to_millis(time: SystemTime) -> i64 {
    time.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The inverse of [`to_millis`].
pub fn from_millis(ms: i64) -> SystemTime {
    std::time::UNIX_EPOCH + std::time::Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// An incident for the store's own tests: masked evidence, every field set.
#[cfg(test)]
pub fn sample_incident(id: &str) -> Incident {
    Incident {
        id: id.to_string(),
        time: from_millis(1_764_000_000_123),
        service: "reqmod".to_string(),
        method: "REQMOD".to_string(),
        client_addr: Some("192.0.2.7".to_string()),
        tls_subject: None,
        user: Some("alice".to_string()),
        groups: vec!["finance".to_string()],
        claimed: Some(ClaimedIdentity {
            user: Some("mallory".to_string()),
            groups: Vec::new(),
            client_ip: None,
        }),
        url: Some("http://upload.test/q3.xlsx".to_string()),
        file_name: Some("q3.xlsx".to_string()),
        content_type: Some("text/plain".to_string()),
        size: 42,
        sha256: "00".repeat(32),
        rules: vec!["credit-card".to_string()],
        counts: BTreeMap::from([("credit_card".to_string(), 1)]),
        evidence: vec![EvidenceRecord {
            detector: "credit_card".to_string(),
            masked: "4111********1111".to_string(),
            location: "offset 5".to_string(),
        }],
        action: "block".to_string(),
        reason: None,
        severity: Some("high".to_string()),
        policy_version: "v1".to_string(),
    }
}
