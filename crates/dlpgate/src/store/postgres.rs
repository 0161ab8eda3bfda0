//! PostgreSQL, for several servers sharing one incident store. The same schema and behaviour as
//! SQLite; a broken connection is re-opened once per call.

use std::sync::Mutex;

use postgres::{Client, NoTls, Row};

use super::model::{from_millis, to_millis, EvidenceRecord, Incident, IncidentFilter};
use super::{IncidentStore, StoreError};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS dlpgate_incidents (
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
    policy_version TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS dlpgate_incidents_time ON dlpgate_incidents (time_ms);
";

const COLUMNS: &str = "id, time_ms, service, method, client_addr, tls_subject, user_name, groups_json, url, \
     file_name, content_type, size, sha256, rules_json, counts_json, evidence_json, action, reason, severity, \
     policy_version";

/// The PostgreSQL store.
pub struct PostgresStore {
    url: String,
    shown: String,
    /// `None` after a failed reconnect: the next call tries again.
    client: Mutex<Option<Client>>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").field("url", &self.shown).finish_non_exhaustive()
    }
}

impl Drop for PostgresStore {
    /// The sync client owns a small tokio runtime, which must not be dropped on an async worker
    /// (where the server's last handle to the store usually goes away): drop it on a thread.
    fn drop(&mut self) {
        let client = self.client.get_mut().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(client) = client {
            let _ = std::thread::spawn(move || drop(client)).join();
        }
    }
}

impl PostgresStore {
    /// Connects and creates the table when missing. Blocking: call it off async workers.
    pub fn open(url: &str, shown: String) -> Result<Self, StoreError> {
        let store = Self { url: url.to_string(), shown, client: Mutex::new(None) };
        let mut client = store.connect()?;
        client.batch_execute(SCHEMA).map_err(|e| store.open_error(&e))?;
        *store.client.lock().unwrap_or_else(|p| p.into_inner()) = Some(client);
        Ok(store)
    }

    fn connect(&self) -> Result<Client, StoreError> {
        Client::connect(&self.url, NoTls).map_err(|e| self.open_error(&e))
    }

    fn open_error(&self, e: &postgres::Error) -> StoreError {
        StoreError::Open { what: self.shown.clone(), detail: e.to_string() }
    }

    /// Runs `f` on the connection. A connection that is gone (a database restart) is opened
    /// again and `f` runs once more; `f` must therefore be idempotent.
    fn with_client<T>(&self, f: impl Fn(&mut Client) -> Result<T, postgres::Error>) -> Result<T, StoreError> {
        let mut slot = self.client.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(client) = slot.as_mut().filter(|c| !c.is_closed()) {
            match f(client) {
                Ok(v) => return Ok(v),
                Err(e) if !client.is_closed() => return Err(StoreError::Query(e.to_string())),
                Err(_) => {}
            }
        }
        *slot = None;
        let client = slot.insert(self.connect()?);
        f(client).map_err(|e| StoreError::Query(e.to_string()))
    }
}

fn json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Query(e.to_string()))
}

fn parse<T: serde::de::DeserializeOwned>(row: &Row, i: usize) -> Result<T, StoreError> {
    let text: String = row.try_get(i).map_err(|e| StoreError::Query(e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| StoreError::Query(format!("column {i}: {e}")))
}

fn to_incident(row: &Row) -> Result<Incident, StoreError> {
    let get = |i: usize| -> Result<Option<String>, StoreError> {
        row.try_get(i).map_err(|e| StoreError::Query(e.to_string()))
    };
    let req = |i: usize| -> Result<String, StoreError> {
        row.try_get(i).map_err(|e| StoreError::Query(e.to_string()))
    };
    let num = |i: usize| -> Result<i64, StoreError> {
        row.try_get(i).map_err(|e| StoreError::Query(e.to_string()))
    };
    let evidence: Vec<EvidenceRecord> = parse(row, 15)?;
    Ok(Incident {
        id: req(0)?,
        time: from_millis(num(1)?),
        service: req(2)?,
        method: req(3)?,
        client_addr: get(4)?,
        tls_subject: get(5)?,
        user: get(6)?,
        groups: parse(row, 7)?,
        url: get(8)?,
        file_name: get(9)?,
        content_type: get(10)?,
        size: u64::try_from(num(11)?).unwrap_or(0),
        sha256: req(12)?,
        rules: parse(row, 13)?,
        counts: parse(row, 14)?,
        evidence,
        action: req(16)?,
        reason: get(17)?,
        severity: get(18)?,
        policy_version: req(19)?,
    })
}

impl IncidentStore for PostgresStore {
    fn record(&self, i: &Incident) -> Result<(), StoreError> {
        let (groups, rules, counts, evidence) =
            (json(&i.groups)?, json(&i.rules)?, json(&i.counts)?, json(&i.evidence)?);
        let time = to_millis(i.time);
        let size = i64::try_from(i.size).unwrap_or(i64::MAX);
        let sql = format!(
            "INSERT INTO dlpgate_incidents ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20) \
             ON CONFLICT (id) DO NOTHING"
        );
        self.with_client(|c| {
            c.execute(
                sql.as_str(),
                &[
                    &i.id,
                    &time,
                    &i.service,
                    &i.method,
                    &i.client_addr,
                    &i.tls_subject,
                    &i.user,
                    &groups,
                    &i.url,
                    &i.file_name,
                    &i.content_type,
                    &size,
                    &i.sha256,
                    &rules,
                    &counts,
                    &evidence,
                    &i.action,
                    &i.reason,
                    &i.severity,
                    &i.policy_version,
                ],
            )
        })?;
        Ok(())
    }

    fn list(&self, filter: &IncidentFilter) -> Result<Vec<Incident>, StoreError> {
        let since = filter.since.map_or(i64::MIN, to_millis);
        let sql = format!(
            "SELECT {COLUMNS} FROM dlpgate_incidents WHERE time_ms >= $1 ORDER BY time_ms DESC, id DESC"
        );
        let rows = self.with_client(|c| c.query(sql.as_str(), &[&since]))?;
        filter.collect(rows.iter().map(to_incident))
    }

    fn get(&self, id: &str) -> Result<Option<Incident>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM dlpgate_incidents WHERE id = $1");
        let rows = self.with_client(|c| c.query(sql.as_str(), &[&id]))?;
        rows.first().map(to_incident).transpose()
    }
}
