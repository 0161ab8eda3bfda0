//! SQLite in WAL mode with `synchronous = FULL`: an incident is on disk when `record` returns,
//! so it survives a kill -9 right after the block answer.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};

use super::model::{from_millis, to_millis, EvidenceRecord, Incident, IncidentFilter};
use super::{IncidentStore, StoreError};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS incidents (
    id TEXT PRIMARY KEY,
    time_ms INTEGER NOT NULL,
    service TEXT NOT NULL,
    method TEXT NOT NULL,
    client_addr TEXT,
    tls_subject TEXT,
    user_name TEXT,
    groups_json TEXT NOT NULL,
    url TEXT,
    file_name TEXT,
    content_type TEXT,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    rules_json TEXT NOT NULL,
    counts_json TEXT NOT NULL,
    evidence_json TEXT NOT NULL,
    action TEXT NOT NULL,
    reason TEXT,
    severity TEXT,
    policy_version TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS incidents_time ON incidents (time_ms);
";

/// The SQLite store.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

impl SqliteStore {
    /// Opens (and with `create`, creates) the database file.
    pub fn open(path: &Path, create: bool) -> Result<Self, StoreError> {
        let open_error = |e: &dyn std::fmt::Display| StoreError::Open {
            what: path.display().to_string(),
            detail: e.to_string(),
        };
        if create {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| open_error(&e))?;
            }
        }
        let flags = if create {
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_CREATE
        } else {
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE
        };
        let conn = Connection::open_with_flags(path, flags).map_err(|e| open_error(&e))?;
        conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(|e| open_error(&e))?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(|e| open_error(&e))?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(|e| open_error(&e))?;
        conn.execute_batch(SCHEMA).map_err(|e| open_error(&e))?;
        Ok(Self { conn: Mutex::new(conn) })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn query_error(e: impl std::fmt::Display) -> StoreError {
    StoreError::Query(e.to_string())
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(query_error)
}

/// A JSON column.
fn json_column<T: serde::de::DeserializeOwned>(row: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<T> {
    let text: String = row.get(i)?;
    serde_json::from_str(&text)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e)))
}

fn row_to_incident(row: &rusqlite::Row<'_>) -> rusqlite::Result<Incident> {
    let evidence: Vec<EvidenceRecord> = json_column(row, 15)?;
    Ok(Incident {
        id: row.get(0)?,
        time: from_millis(row.get(1)?),
        service: row.get(2)?,
        method: row.get(3)?,
        client_addr: row.get(4)?,
        tls_subject: row.get(5)?,
        user: row.get(6)?,
        groups: json_column(row, 7)?,
        url: row.get(8)?,
        file_name: row.get(9)?,
        content_type: row.get(10)?,
        size: u64::try_from(row.get::<_, i64>(11)?).unwrap_or(0),
        sha256: row.get(12)?,
        rules: json_column(row, 13)?,
        counts: json_column(row, 14)?,
        evidence,
        action: row.get(16)?,
        reason: row.get(17)?,
        severity: row.get(18)?,
        policy_version: row.get(19)?,
    })
}

const COLUMNS: &str = "id, time_ms, service, method, client_addr, tls_subject, user_name, groups_json, url, \
     file_name, content_type, size, sha256, rules_json, counts_json, evidence_json, action, reason, severity, \
     policy_version";

impl IncidentStore for SqliteStore {
    fn record(&self, i: &Incident) -> Result<(), StoreError> {
        let conn = self.conn();
        conn.execute(
            &format!("INSERT INTO incidents ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)"),
            params![
                i.id,
                to_millis(i.time),
                i.service,
                i.method,
                i.client_addr,
                i.tls_subject,
                i.user,
                to_json(&i.groups)?,
                i.url,
                i.file_name,
                i.content_type,
                i64::try_from(i.size).unwrap_or(i64::MAX),
                i.sha256,
                to_json(&i.rules)?,
                to_json(&i.counts)?,
                to_json(&i.evidence)?,
                i.action,
                i.reason,
                i.severity,
                i.policy_version,
            ],
        )
        .map_err(query_error)?;
        Ok(())
    }

    fn list(&self, filter: &IncidentFilter) -> Result<Vec<Incident>, StoreError> {
        let conn = self.conn();
        let since = filter.since.map_or(i64::MIN, to_millis);
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {COLUMNS} FROM incidents WHERE time_ms >= ?1 ORDER BY time_ms DESC, id DESC"
            ))
            .map_err(query_error)?;
        let rows = stmt.query_map(params![since], row_to_incident).map_err(query_error)?;
        filter.collect(rows.map(|row| row.map_err(query_error)))
    }

    fn get(&self, id: &str) -> Result<Option<Incident>, StoreError> {
        let conn = self.conn();
        conn.query_row(
            &format!("SELECT {COLUMNS} FROM incidents WHERE id = ?1"),
            params![id],
            row_to_incident,
        )
        .optional()
        .map_err(query_error)
    }
}
