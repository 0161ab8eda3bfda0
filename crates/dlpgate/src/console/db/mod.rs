//! The console's tables next to the incidents: accounts, the audit log, triage, and the
//! per-rule index the incident list filters by, in the same SQLite file as the incidents.
//!
//! The incident table is written by `dlpgate serve` ([`crate::store`]); the console only adds
//! indexes and a trigger to it. SQLite is synchronous: every call runs on a blocking thread.

pub mod accounts;
pub mod query;

use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use rusqlite::Connection;

pub use accounts::{AuditEntry, Triage, TriageStatus, UserRow};
pub use query::{DashboardCounts, IncidentQuery, IncidentSummary, Page, PAGE_SIZE};

/// The console's own tables, and the indexes the incident list needs (each filter of the list
/// has one, so that a page is found from an index whatever the table's size).
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS console_users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS console_audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    time_ms BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT,
    detail TEXT
);
CREATE INDEX IF NOT EXISTS console_audit_target ON console_audit (target, seq);
CREATE TABLE IF NOT EXISTS console_triage (
    incident_id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    note TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_ms BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS incidents_time_id ON incidents (time_ms, id);
CREATE INDEX IF NOT EXISTS incidents_action_time ON incidents (action, time_ms, id);
CREATE INDEX IF NOT EXISTS incidents_user_time ON incidents (user_name, time_ms, id);
CREATE INDEX IF NOT EXISTS incidents_client_time ON incidents (client_addr, time_ms, id);
CREATE INDEX IF NOT EXISTS incidents_service_time ON incidents (service, time_ms, id);
";

/// One row per (rule, incident): the rules are a JSON list in the incident row, which no
/// index can serve. A trigger fills it on every insert, whoever inserts; a row whose JSON does
/// not parse adds nothing rather than failing the insert.
const RULE_INDEX: &str = "
CREATE TABLE console_incident_rules (
    rule TEXT NOT NULL,
    time_ms BIGINT NOT NULL,
    incident_id TEXT NOT NULL,
    PRIMARY KEY (rule, time_ms, incident_id)
) WITHOUT ROWID;
CREATE INDEX console_incident_rules_time ON console_incident_rules (time_ms);
INSERT OR IGNORE INTO console_incident_rules (rule, time_ms, incident_id)
    SELECT j.value, i.time_ms, i.id FROM incidents i,
        json_each(CASE WHEN json_valid(i.rules_json) THEN i.rules_json ELSE '[]' END) j;
CREATE TRIGGER console_incident_rules_fill AFTER INSERT ON incidents BEGIN
    INSERT OR IGNORE INTO console_incident_rules (rule, time_ms, incident_id)
        SELECT value, NEW.time_ms, NEW.id
        FROM json_each(CASE WHEN json_valid(NEW.rules_json) THEN NEW.rules_json ELSE '[]' END);
END;
";

/// The console's database: one SQLite connection, used from blocking threads.
#[derive(Debug, Clone)]
pub struct ConsoleDb {
    conn: Arc<Mutex<Connection>>,
}

impl ConsoleDb {
    /// Opens the SQLite store of `data_dir` (creating it, private, as `serve` does) and adds
    /// the console's tables and indexes when missing.
    pub fn open(data_dir: &Path, store_url: Option<&str>) -> anyhow::Result<Self> {
        if store_url.is_some() {
            anyhow::bail!(
                "the console keeps its accounts next to the incidents and works with the SQLite store \
                 of --data-dir only for now: --store is not supported by the console yet"
            );
        }
        let path = data_dir.join(crate::store::SQLITE_FILE);
        // Creates the file with the store's modes and its incident table.
        drop(crate::store::SqliteStore::open(&path, true)?);
        let conn = Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE)
            .with_context(|| format!("opening {}", path.display()))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.execute_batch(SCHEMA).context("creating the console tables")?;
        // Table, backfill and trigger in one transaction, so that no insert falls between
        // them; checked again inside it, as another process may be opening the same file.
        conn.execute_batch("BEGIN IMMEDIATE").context("locking the store")?;
        let built = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name = 'console_incident_rules_fill'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .and_then(|found| if found == 0 { conn.execute_batch(RULE_INDEX) } else { Ok(()) });
        let end = if built.is_ok() { "COMMIT" } else { "ROLLBACK" };
        conn.execute_batch(end).context("building the per-rule incident index")?;
        built.context("building the per-rule incident index")?;
        Ok(Self { conn: Arc::new(Mutex::new(conn)) })
    }

    /// Runs `op` on the connection, on a blocking thread.
    pub async fn call<T: Send + 'static>(
        &self,
        op: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let conn = conn.lock().unwrap_or_else(|p| p.into_inner());
            op(&conn)
        })
        .await
        .context("console database task")?
        .context("console database")
    }

    /// Runs `op` on the connection on this thread (command-line use).
    pub fn call_blocking<T>(&self, op: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> anyhow::Result<T> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        op(&conn).context("console database")
    }
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    crate::store::to_millis(std::time::SystemTime::now())
}
