//! The incident as both SQL stores keep it: one table layout, plain columns, and the lists and
//! maps as JSON text. Each store only moves these columns in and out of its own driver.

use super::model::{from_millis, to_millis, Incident};
use super::StoreError;

/// The columns, in the order every statement uses.
pub const COLUMNS: &str = "id, time_ms, service, method, client_addr, tls_subject, user_name, groups_json, url, \
     file_name, content_type, size, sha256, rules_json, counts_json, evidence_json, action, reason, severity, \
     policy_version, claimed_json";

/// Columns added after the first release, with their types: a store opening an older table
/// adds the ones it lacks.
pub const ADDED_COLUMNS: &[(&str, &str)] = &[("claimed_json", "TEXT")];

/// The table and its time index. `BIGINT` is a 64-bit integer in PostgreSQL and has integer
/// affinity in SQLite, so one text serves both.
pub fn schema(table: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {table} (
    id TEXT PRIMARY KEY,
    time_ms BIGINT NOT NULL,
    service TEXT NOT NULL,
    method TEXT NOT NULL,
    client_addr TEXT,
    tls_subject TEXT,
    user_name TEXT,
    groups_json TEXT NOT NULL,
    url TEXT,
    file_name TEXT,
    content_type TEXT,
    size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    rules_json TEXT NOT NULL,
    counts_json TEXT NOT NULL,
    evidence_json TEXT NOT NULL,
    action TEXT NOT NULL,
    reason TEXT,
    severity TEXT,
    policy_version TEXT NOT NULL,
    claimed_json TEXT
);
CREATE INDEX IF NOT EXISTS {table}_time ON {table} (time_ms);
"
    )
}

/// One row, field for field in [`COLUMNS`] order.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct IncidentRow {
    pub id: String,
    pub time_ms: i64,
    pub service: String,
    pub method: String,
    pub client_addr: Option<String>,
    pub tls_subject: Option<String>,
    pub user: Option<String>,
    pub groups_json: String,
    pub url: Option<String>,
    pub file_name: Option<String>,
    pub content_type: Option<String>,
    pub size: i64,
    pub sha256: String,
    pub rules_json: String,
    pub counts_json: String,
    pub evidence_json: String,
    pub action: String,
    pub reason: Option<String>,
    pub severity: Option<String>,
    pub policy_version: String,
    /// Added later: journal records written before it have none.
    #[serde(default)]
    pub claimed_json: Option<String>,
}

fn json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Query(e.to_string()))
}

fn parse<T: serde::de::DeserializeOwned>(text: &str, column: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Query(format!("column {column}: {e}")))
}

impl IncidentRow {
    /// The row that stores `i`.
    pub fn from_incident(i: &Incident) -> Result<Self, StoreError> {
        Ok(Self {
            id: i.id.clone(),
            time_ms: to_millis(i.time),
            service: i.service.clone(),
            method: i.method.clone(),
            client_addr: i.client_addr.clone(),
            tls_subject: i.tls_subject.clone(),
            user: i.user.clone(),
            groups_json: json(&i.groups)?,
            url: i.url.clone(),
            file_name: i.file_name.clone(),
            content_type: i.content_type.clone(),
            size: i64::try_from(i.size).unwrap_or(i64::MAX),
            sha256: i.sha256.clone(),
            rules_json: json(&i.rules)?,
            counts_json: json(&i.counts)?,
            evidence_json: json(&i.evidence)?,
            action: i.action.clone(),
            reason: i.reason.clone(),
            severity: i.severity.clone(),
            policy_version: i.policy_version.clone(),
            claimed_json: i.claimed.as_ref().map(json).transpose()?,
        })
    }

    /// The incident this row stores; a JSON column that does not parse is an error.
    pub fn into_incident(self) -> Result<Incident, StoreError> {
        Ok(Incident {
            id: self.id,
            time: from_millis(self.time_ms),
            service: self.service,
            method: self.method,
            client_addr: self.client_addr,
            tls_subject: self.tls_subject,
            user: self.user,
            groups: parse(&self.groups_json, "groups_json")?,
            url: self.url,
            file_name: self.file_name,
            content_type: self.content_type,
            size: u64::try_from(self.size).unwrap_or(0),
            sha256: self.sha256,
            rules: parse(&self.rules_json, "rules_json")?,
            counts: parse(&self.counts_json, "counts_json")?,
            evidence: parse(&self.evidence_json, "evidence_json")?,
            action: self.action,
            reason: self.reason,
            severity: self.severity,
            policy_version: self.policy_version,
            claimed: self.claimed_json.as_deref().map(|t| parse(t, "claimed_json")).transpose()?,
        })
    }
}
