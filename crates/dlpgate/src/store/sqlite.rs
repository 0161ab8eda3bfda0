//! SQLite in WAL mode with `synchronous = FULL`: an incident is on disk when `record` returns,
//! so it survives a kill -9 right after the block answer.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};

use super::model::{to_millis, Incident, IncidentFilter};
use super::row::{schema, IncidentRow, ADDED_COLUMNS, COLUMNS};
use super::{IncidentStore, StoreError};

/// The table.
pub(super) const TABLE: &str = "incidents";

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
            private_files(path).map_err(|e| open_error(&e))?;
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
        conn.execute_batch(&schema(TABLE)).map_err(|e| open_error(&e))?;
        for (column, kind) in ADDED_COLUMNS {
            if conn.prepare(&format!("SELECT {column} FROM {TABLE} LIMIT 0")).is_err() {
                conn.execute_batch(&format!("ALTER TABLE {TABLE} ADD COLUMN {column} {kind}"))
                    .map_err(|e| open_error(&e))?;
            }
        }
        Ok(Self { conn: Mutex::new(conn) })
    }

    pub(super) fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The data directory (0700) and the database file (0600) before SQLite opens it: SQLite
/// gives its `-wal`, `-shm` and `-journal` files the mode of the database file, so they are
/// 0600 too. (Setting the umask instead would change it for every thread of the process.)
/// Files an earlier version left with looser modes are tightened; what was changed, or
/// could not be, is logged.
fn private_files(path: &Path) -> std::io::Result<()> {
    let mut notes = match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => crate::fsat::ensure_private_dir(dir)?,
        None => Vec::new(),
    };
    notes.extend(crate::fsat::ensure_private_file(path)?);
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut companion = path.as_os_str().to_os_string();
        companion.push(suffix);
        if std::path::Path::new(&companion).exists() {
            notes.extend(crate::fsat::ensure_private_file(std::path::Path::new(&companion))?);
        }
    }
    for note in notes {
        tracing::warn!("{note}");
    }
    Ok(())
}

fn query_error(e: impl std::fmt::Display) -> StoreError {
    StoreError::Query(e.to_string())
}

/// A row of [`COLUMNS`] read back (its JSON columns are parsed by the caller).
pub(super) fn read_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<IncidentRow> {
    Ok(IncidentRow {
        id: row.get(0)?,
        time_ms: row.get(1)?,
        service: row.get(2)?,
        method: row.get(3)?,
        client_addr: row.get(4)?,
        tls_subject: row.get(5)?,
        user: row.get(6)?,
        groups_json: row.get(7)?,
        url: row.get(8)?,
        file_name: row.get(9)?,
        content_type: row.get(10)?,
        size: row.get(11)?,
        sha256: row.get(12)?,
        rules_json: row.get(13)?,
        counts_json: row.get(14)?,
        evidence_json: row.get(15)?,
        action: row.get(16)?,
        reason: row.get(17)?,
        severity: row.get(18)?,
        policy_version: row.get(19)?,
        claimed_json: row.get(20)?,
    })
}

/// Inserts one incident; one the table already has (by id) is left as it is.
fn insert(conn: &Connection, i: &Incident) -> Result<(), StoreError> {
    let r = IncidentRow::from_incident(i)?;
    conn.prepare_cached(&format!(
        "INSERT INTO {TABLE} ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21) \
         ON CONFLICT (id) DO NOTHING"
    ))
    .and_then(|mut insert| {
        insert.execute(params![
            r.id,
            r.time_ms,
            r.service,
            r.method,
            r.client_addr,
            r.tls_subject,
            r.user,
            r.groups_json,
            r.url,
            r.file_name,
            r.content_type,
            r.size,
            r.sha256,
            r.rules_json,
            r.counts_json,
            r.evidence_json,
            r.action,
            r.reason,
            r.severity,
            r.policy_version,
            r.claimed_json,
        ])
    })
    .map_err(query_error)?;
    Ok(())
}

impl IncidentStore for SqliteStore {
    fn record(&self, i: &Incident) -> Result<(), StoreError> {
        insert(&self.conn(), i)
    }

    fn record_many(&self, incidents: &[Incident]) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(query_error)?;
        for i in incidents {
            insert(&tx, i)?;
        }
        tx.commit().map_err(query_error)
    }

    fn list(&self, filter: &IncidentFilter) -> Result<Vec<Incident>, StoreError> {
        let conn = self.conn();
        let since = filter.since.map_or(i64::MIN, to_millis);
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {COLUMNS} FROM {TABLE} WHERE time_ms >= ?1 ORDER BY time_ms DESC, id DESC"
            ))
            .map_err(query_error)?;
        let rows = stmt.query_map(params![since], read_row).map_err(query_error)?;
        filter.collect(rows.map(|row| row.map_err(query_error)?.into_incident()))
    }

    fn get(&self, id: &str) -> Result<Option<Incident>, StoreError> {
        let conn = self.conn();
        conn.query_row(&format!("SELECT {COLUMNS} FROM {TABLE} WHERE id = ?1"), params![id], read_row)
            .optional()
            .map_err(query_error)?
            .map(IncidentRow::into_incident)
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::model::sample_incident;

    fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("incidents.db"), true).unwrap();
        (dir, store)
    }

    #[test]
    fn recording_the_same_incident_twice_keeps_one_row() {
        // A journal replay may bring an incident the store already has (its write timed out
        // but went through): that is no error, and the first copy stays.
        let (_dir, store) = store();
        let first = sample_incident("inc-1");
        store.record(&first).unwrap();
        let mut again = first.clone();
        again.action = "monitor".to_string();
        store.record(&again).unwrap();
        let all = store.list(&IncidentFilter::default()).unwrap();
        assert_eq!(all, vec![first]);
    }

    #[test]
    fn commits_reach_the_disk_before_record_returns() {
        // WAL with synchronous=FULL syncs the WAL on every commit: durable across a kill -9
        // and a power loss. (NORMAL would only survive the kill -9.)
        let (_dir, store) = store();
        let conn = store.conn();
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        let sync: i64 = conn.query_row("PRAGMA synchronous", [], |r| r.get(0)).unwrap();
        assert_eq!((mode.as_str(), sync), ("wal", 2));
    }
}
