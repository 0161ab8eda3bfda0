//! The console's tables next to the incidents: accounts, the audit log, triage, and the
//! per-rule index the incident list filters by, in the same store as the incidents (the
//! SQLite file of the data directory, or the shared PostgreSQL database).
//!
//! The incident table is written by `dlpgate serve` ([`crate::store`]); the console only adds
//! indexes and a trigger to it. SQLite is synchronous: its calls run on a blocking thread.

pub mod accounts;
mod postgres;
pub mod query;
pub mod search;
pub mod sessions;
pub mod status;

use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use rusqlite::Connection;

use crate::console::auth::Role;

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
CREATE INDEX IF NOT EXISTS incidents_sha256 ON incidents (sha256);
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

/// The console's database.
#[derive(Debug, Clone)]
pub struct ConsoleDb {
    backend: Backend,
}

#[derive(Debug, Clone)]
enum Backend {
    /// One SQLite connection, used from blocking threads.
    Sqlite(Arc<Mutex<Connection>>),
    /// A connection pool.
    Postgres(Arc<postgres::PgConsole>),
}

impl ConsoleDb {
    /// Opens the store the incidents are in (the SQLite file of `data_dir`, created private
    /// as `serve` does, or the PostgreSQL `store_url`) and adds the console's tables and
    /// indexes when missing. Call inside a tokio runtime.
    pub async fn open(data_dir: &Path, store_url: Option<&str>) -> anyhow::Result<Self> {
        match store_url {
            None => {
                let data_dir = data_dir.to_path_buf();
                let conn = tokio::task::spawn_blocking(move || open_sqlite(&data_dir))
                    .await
                    .context("opening the console database")??;
                let conn = Arc::new(Mutex::new(conn));
                // New incidents go into the search index while the console runs (and before
                // each search): the server's insert does not index them.
                let weak = Arc::downgrade(&conn);
                tokio::spawn(async move {
                    let mut tick = tokio::time::interval(search::CATCH_UP_EVERY);
                    loop {
                        tick.tick().await;
                        let Some(conn) = weak.upgrade() else { return };
                        let done = tokio::task::spawn_blocking(move || {
                            search::sqlite_catch_up(&conn.lock().unwrap_or_else(|p| p.into_inner()))
                        })
                        .await;
                        if let Ok(Err(e)) = done {
                            tracing::warn!(error = %e, "console: indexing new incidents for search failed; retrying");
                        }
                    }
                });
                Ok(Self { backend: Backend::Sqlite(conn) })
            }
            Some(url) => {
                // The incident table first, made as `serve` makes it.
                let (dir, owned) = (data_dir.to_path_buf(), url.to_string());
                let settings = crate::store::PostgresSettings::default();
                tokio::task::spawn_blocking(move || {
                    crate::store::open_store(&dir, Some(&owned), &settings).map(drop)
                })
                .await
                .context("opening the incident store")??;
                Ok(Self { backend: Backend::Postgres(Arc::new(postgres::PgConsole::open(url).await?)) })
            }
        }
    }

    /// Adds an account and audits it (`actor` made the change); false when the name is taken.
    pub async fn add_user(&self, name: &str, role: Role, hash: &str, actor: &str) -> anyhow::Result<bool> {
        match &self.backend {
            Backend::Postgres(pg) => pg.add_user(name, role, hash, actor).await,
            Backend::Sqlite(_) => {
                let (name, hash, actor) = (name.to_string(), hash.to_string(), actor.to_string());
                self.call(move |c| {
                    let tx = c.unchecked_transaction()?;
                    let added = accounts::add_user(&tx, &name, role, &hash)?;
                    if added {
                        accounts::audit(&tx, &actor, "user_add", Some(&name), Some(role.as_str()))?;
                    }
                    tx.commit()?;
                    Ok(added)
                })
                .await
            }
        }
    }

    /// Removes an account and audits it; false when there was none.
    pub async fn remove_user(&self, name: &str, actor: &str) -> anyhow::Result<bool> {
        match &self.backend {
            Backend::Postgres(pg) => pg.remove_user(name, actor).await,
            Backend::Sqlite(_) => {
                let (name, actor) = (name.to_string(), actor.to_string());
                self.call(move |c| {
                    let tx = c.unchecked_transaction()?;
                    let removed = accounts::remove_user(&tx, &name)?;
                    if removed {
                        accounts::audit(&tx, &actor, "user_remove", Some(&name), None)?;
                    }
                    tx.commit()?;
                    Ok(removed)
                })
                .await
            }
        }
    }

    /// One account.
    pub async fn user(&self, name: &str) -> anyhow::Result<Option<UserRow>> {
        match &self.backend {
            Backend::Postgres(pg) => Ok(pg.users(Some(name)).await?.into_iter().next()),
            Backend::Sqlite(_) => {
                let name = name.to_string();
                self.call(move |c| accounts::user(c, &name)).await
            }
        }
    }

    /// Every account, by name.
    pub async fn users(&self) -> anyhow::Result<Vec<UserRow>> {
        match &self.backend {
            Backend::Postgres(pg) => pg.users(None).await,
            Backend::Sqlite(_) => self.call(accounts::users).await,
        }
    }

    /// Appends to the audit log.
    pub async fn audit(
        &self,
        actor: &str,
        action: &str,
        target: Option<&str>,
        detail: Option<&str>,
    ) -> anyhow::Result<()> {
        match &self.backend {
            Backend::Postgres(pg) => pg.audit(actor, action, target, detail).await,
            Backend::Sqlite(_) => {
                let (actor, action) = (actor.to_string(), action.to_string());
                let (target, detail) = (target.map(str::to_string), detail.map(str::to_string));
                self.call(move |c| accounts::audit(c, &actor, &action, target.as_deref(), detail.as_deref()))
                    .await
            }
        }
    }

    /// The newest `limit` audit entries, optionally about one target.
    pub async fn audit_log(&self, target: Option<&str>, limit: usize) -> anyhow::Result<Vec<AuditEntry>> {
        match &self.backend {
            Backend::Postgres(pg) => pg.audit_log(target, limit).await,
            Backend::Sqlite(_) => {
                let target = target.map(str::to_string);
                self.call(move |c| accounts::audit_log(c, target.as_deref(), limit)).await
            }
        }
    }

    /// An incident's triage (none: new).
    pub async fn triage(&self, incident: &str) -> anyhow::Result<Option<Triage>> {
        match &self.backend {
            Backend::Postgres(pg) => pg.triage(incident).await,
            Backend::Sqlite(_) => {
                let incident = incident.to_string();
                self.call(move |c| accounts::triage(c, &incident)).await
            }
        }
    }

    /// Sets an incident's triage and audits it, in one transaction.
    pub async fn set_triage(
        &self,
        incident: &str,
        status: TriageStatus,
        note: &str,
        by: &str,
    ) -> anyhow::Result<()> {
        match &self.backend {
            Backend::Postgres(pg) => pg.set_triage(incident, status, note, by).await,
            Backend::Sqlite(_) => {
                let (incident, note, by) = (incident.to_string(), note.to_string(), by.to_string());
                self.call(move |c| accounts::set_triage(c, &incident, status, &note, &by)).await
            }
        }
    }

    /// One page of the incident list.
    pub async fn incidents(&self, q: IncidentQuery) -> anyhow::Result<Page> {
        match &self.backend {
            Backend::Postgres(pg) => pg.incidents(&q).await,
            Backend::Sqlite(_) => self.call(move |c| query::incidents(c, &q)).await,
        }
    }

    /// The dashboard's counts since `since_ms`.
    pub async fn dashboard(&self, since_ms: i64, top: usize) -> anyhow::Result<DashboardCounts> {
        match &self.backend {
            Backend::Postgres(pg) => pg.dashboard(since_ms, top).await,
            Backend::Sqlite(_) => self.call(move |c| query::dashboard(c, since_ms, top)).await,
        }
    }

    /// The store's size and the SIEM sinks' cursors (`sqlite_path`: the SQLite file).
    pub async fn store_state(&self, sqlite_path: std::path::PathBuf) -> anyhow::Result<status::StoreState> {
        match &self.backend {
            Backend::Postgres(pg) => pg.store_state().await,
            Backend::Sqlite(_) => self.call(move |c| status::sqlite(c, &sqlite_path)).await,
        }
    }

    /// Saves a new session (by the hash of its cookie) and drops ended ones.
    pub async fn save_session(
        &self,
        hash: &str,
        user: &crate::console::auth::CurrentUser,
        lifetime: std::time::Duration,
        idle: std::time::Duration,
    ) -> anyhow::Result<()> {
        let ms = |d: std::time::Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        let (lifetime, idle, now) = (ms(lifetime), ms(idle), now_ms());
        match &self.backend {
            Backend::Postgres(pg) => pg.save_session(hash, &user.name, &user.csrf, now, lifetime, idle).await,
            Backend::Sqlite(_) => {
                let (hash, name, csrf) = (hash.to_string(), user.name.clone(), user.csrf.clone());
                self.call(move |c| sessions::save(c, &hash, &name, &csrf, now, lifetime, idle)).await
            }
        }
    }

    /// The session stored under `hash`, with its account's role now.
    pub async fn load_session(&self, hash: &str) -> anyhow::Result<Option<sessions::StoredSession>> {
        match &self.backend {
            Backend::Postgres(pg) => pg.load_session(hash).await,
            Backend::Sqlite(_) => {
                let hash = hash.to_string();
                self.call(move |c| sessions::load(c, &hash)).await
            }
        }
    }

    /// Records a session's activity; false when the store no longer holds it.
    pub async fn touch_session(&self, hash: &str) -> anyhow::Result<bool> {
        let now = now_ms();
        match &self.backend {
            Backend::Postgres(pg) => pg.touch_session(hash, now).await,
            Backend::Sqlite(_) => {
                let hash = hash.to_string();
                self.call(move |c| sessions::touch(c, &hash, now)).await
            }
        }
    }

    /// Ends a stored session.
    pub async fn delete_session(&self, hash: &str) -> anyhow::Result<()> {
        match &self.backend {
            Backend::Postgres(pg) => pg.delete_session(hash).await,
            Backend::Sqlite(_) => {
                let hash = hash.to_string();
                self.call(move |c| sessions::delete(c, &hash)).await
            }
        }
    }

    /// Runs `op` on the SQLite connection, on a blocking thread.
    async fn call<T: Send + 'static>(
        &self,
        op: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let Backend::Sqlite(conn) = &self.backend else {
            anyhow::bail!("not a SQLite store");
        };
        let conn = conn.clone();
        tokio::task::spawn_blocking(move || {
            let conn = conn.lock().unwrap_or_else(|p| p.into_inner());
            op(&conn)
        })
        .await
        .context("console database task")?
        .context("console database")
    }
}

/// Opens the SQLite file of `data_dir` with the console's tables, indexes and rule index.
fn open_sqlite(data_dir: &Path) -> anyhow::Result<Connection> {
    let path = data_dir.join(crate::store::SQLITE_FILE);
    // Creates the file with the store's modes and its incident table.
    drop(crate::store::SqliteStore::open(&path, true)?);
    let conn = Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE)
        .with_context(|| format!("opening {}", path.display()))?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.execute_batch(SCHEMA).context("creating the console tables")?;
    conn.execute_batch(sessions::SCHEMA).context("creating the console's session table")?;
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
    build_search_index(&conn)?;
    Ok(conn)
}

/// Adds the full-text search table, its backfill and its triggers ([`search::SQLITE_FTS`])
/// when missing, in one transaction (no insert falls between backfill and trigger; checked
/// again inside it, as another process may be opening the same file). On an existing store the
/// backfill reads every incident once (docs/BENCHMARKS.md has the time at 1,000,000).
fn build_search_index(conn: &Connection) -> anyhow::Result<()> {
    conn.execute_batch("BEGIN IMMEDIATE").context("locking the store")?;
    let built = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name = ?1",
            [search::SQLITE_FTS_DONE],
            |r| r.get::<_, i64>(0),
        )
        .and_then(|found| {
            if found == 0 {
                tracing::info!("building the incident search index (once)");
                conn.execute_batch(search::SQLITE_FTS)
            } else {
                Ok(())
            }
        });
    let end = if built.is_ok() { "COMMIT" } else { "ROLLBACK" };
    conn.execute_batch(end).context("building the incident search index")?;
    built.context("building the incident search index")?;
    // The backfill, or what was recorded while no console ran.
    search::sqlite_catch_up(conn).context("indexing the incidents for search")?;
    Ok(())
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    crate::store::to_millis(std::time::SystemTime::now())
}
