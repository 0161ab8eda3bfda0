//! PostgreSQL, for several servers sharing one incident store. The same schema and behaviour as
//! SQLite. A pool of connections (deadpool) on a small runtime of its own, TLS as the URL asks
//! ([`super::pg_url`]), and a deadline on every call: the server abandons a statement past
//! `statement_timeout`, and the client gives up a little later even when the server does
//! not answer at all (a hung host), dropping that connection. A connection found closed (a
//! database restart) is replaced and the call made once more; every call is idempotent.

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use tokio::time::{timeout_at, Instant};
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use super::model::{to_millis, Incident, IncidentFilter};
use super::pg_tls::MakeRustls;
use super::pg_url::{parse, PostgresSettings};
use super::row::{schema, IncidentRow, ADDED_COLUMNS, COLUMNS};
use super::{IncidentStore, StoreError};

/// The table: prefixed, since a shared database may hold other applications' tables.
pub(super) const TABLE: &str = "dlpgate_incidents";
/// The advisory lock key every dlpgate schema change holds ("dlpgate" in ASCII), so that
/// servers starting at once create tables one after the other.
pub(crate) const SCHEMA_LOCK: i64 = 0x0064_6c70_6761_7465;
/// Values per row in [`COLUMNS`].
const WIDTH: usize = 21;

/// The PostgreSQL store.
pub struct PostgresStore {
    shown: String,
    /// `None` only while dropping.
    runtime: Option<tokio::runtime::Runtime>,
    pool: Pool,
    pub(super) deadline: Duration,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").field("url", &self.shown).finish_non_exhaustive()
    }
}

impl Drop for PostgresStore {
    /// The runtime must not be dropped on an async worker (where the server's last handle to
    /// the store usually goes away): it is shut down without waiting.
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl PostgresStore {
    /// Connects and creates the table when missing. Blocking: call it off async workers.
    pub fn open(url: &str, shown: String, settings: &PostgresSettings) -> Result<Self, StoreError> {
        let store = Self::connect(url, shown.clone(), settings)?;
        let mut ddl = schema(TABLE);
        for (column, kind) in ADDED_COLUMNS {
            ddl.push_str(&format!("ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS {column} {kind};\n"));
        }
        store
            .create_schema(&ddl, settings.connect_timeout + settings.statement_timeout)
            .map_err(|e| StoreError::Open { what: shown, detail: e.to_string() })?;
        Ok(store)
    }

    /// The pool, without touching any table (connections open on first use).
    pub(super) fn connect(url: &str, shown: String, settings: &PostgresSettings) -> Result<Self, StoreError> {
        let open_error = |detail: String| StoreError::Open { what: shown.clone(), detail };
        let (mut config, tls) = parse(url, settings).map_err(open_error)?;
        if config.get_tcp_user_timeout().is_none() {
            // A host that vanished mid-write is noticed in seconds, not hours.
            config.tcp_user_timeout(Duration::from_secs(30));
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("dlpgate-postgres")
            .enable_all()
            .build()
            .map_err(|e| open_error(e.to_string()))?;
        let manager = Manager::from_config(
            config,
            MakeRustls::new(tls),
            ManagerConfig { recycling_method: RecyclingMethod::Fast },
        );
        let pool = {
            let _inside = runtime.enter();
            Pool::builder(manager)
                .max_size(settings.pool_size.max(1))
                .runtime(Runtime::Tokio1)
                .wait_timeout(Some(settings.statement_timeout))
                .create_timeout(Some(settings.connect_timeout))
                .recycle_timeout(Some(settings.statement_timeout))
                .build()
                .map_err(|e| open_error(e.to_string()))?
        };
        // The server abandons a statement at statement_timeout and says so; the client waits a
        // little longer, for that answer, before it gives up on a server that says nothing.
        let deadline =
            settings.statement_timeout + (settings.statement_timeout / 4).min(Duration::from_secs(1));
        Ok(Self { shown, runtime: Some(runtime), pool, deadline })
    }

    /// Runs schema statements (`CREATE ... IF NOT EXISTS`, `ALTER ... IF NOT EXISTS`) as one
    /// transaction under [`SCHEMA_LOCK`]. `IF NOT EXISTS` alone does not survive a twin running
    /// at the same moment (the loser fails on the catalog's unique index): servers started
    /// together on an empty database take turns instead. The statements go as one simple
    /// query, which PostgreSQL runs as one implicit transaction: the lock is held to its end,
    /// and a failure rolls it all back, leaving the connection clean.
    pub(crate) fn create_schema(&self, ddl: &str, within: Duration) -> Result<(), StoreError> {
        // "already exists, skipping" notices are no news.
        let locked = format!(
            "SET LOCAL client_min_messages = warning;\nSELECT pg_advisory_xact_lock({SCHEMA_LOCK});\n{ddl}"
        );
        self.call(within, async |c| c.batch_execute(&locked).await)
    }

    /// Runs `op` on a pooled connection within the deadline. A connection that turns out to be
    /// closed (a database restart) is dropped and `op` runs once more on a new one.
    pub(super) fn call<T>(
        &self,
        within: Duration,
        op: impl AsyncFn(&tokio_postgres::Client) -> Result<T, tokio_postgres::Error>,
    ) -> Result<T, StoreError> {
        let Some(runtime) = &self.runtime else {
            return Err(StoreError::Query("the store is closing".to_string()));
        };
        let timed_out =
            || StoreError::Query(format!("PostgreSQL: no answer within {} ms", within.as_millis()));
        runtime.block_on(async {
            let deadline = Instant::now() + within;
            let mut retried = false;
            loop {
                let client = match timeout_at(deadline, self.pool.get()).await {
                    Ok(Ok(client)) => client,
                    Ok(Err(e)) => return Err(StoreError::Query(format!("PostgreSQL: {}", with_causes(&e)))),
                    Err(_) => return Err(timed_out()),
                };
                match timeout_at(deadline, op(&client)).await {
                    Ok(Ok(value)) => return Ok(value),
                    Ok(Err(e)) if client.is_closed() && !retried => {
                        tracing::debug!(error = %with_causes(&e), "PostgreSQL connection closed; retrying on a new one");
                        drop(Object::take(client));
                        retried = true;
                    }
                    Ok(Err(e)) => return Err(StoreError::Query(format!("PostgreSQL: {}", with_causes(&e)))),
                    Err(_) => {
                        // The connection may never answer again: keep it out of the pool.
                        drop(Object::take(client));
                        return Err(timed_out());
                    }
                }
            }
        })
    }

    /// One multi-row insert: one statement, one round trip, atomic.
    fn insert(&self, incidents: &[Incident]) -> Result<(), StoreError> {
        if incidents.is_empty() {
            return Ok(());
        }
        let rows = incidents.iter().map(IncidentRow::from_incident).collect::<Result<Vec<_>, _>>()?;
        let values: Vec<String> = (0..rows.len())
            .map(|r| {
                let params: Vec<String> = (1..=WIDTH).map(|c| format!("${}", r * WIDTH + c)).collect();
                format!("({})", params.join(", "))
            })
            .collect();
        let sql = format!(
            "INSERT INTO {TABLE} ({COLUMNS}) VALUES {} ON CONFLICT (id) DO NOTHING",
            values.join(", ")
        );
        let mut params: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(rows.len() * WIDTH);
        for r in &rows {
            params.extend_from_slice(&[
                &r.id,
                &r.time_ms,
                &r.service,
                &r.method,
                &r.client_addr,
                &r.tls_subject,
                &r.user,
                &r.groups_json,
                &r.url,
                &r.file_name,
                &r.content_type,
                &r.size,
                &r.sha256,
                &r.rules_json,
                &r.counts_json,
                &r.evidence_json,
                &r.action,
                &r.reason,
                &r.severity,
                &r.policy_version,
                &r.claimed_json,
            ]);
        }
        self.call(self.deadline, async |c| c.execute(sql.as_str(), &params).await)?;
        Ok(())
    }
}

/// An error and its causes: tokio-postgres and deadpool keep the reason (the server's message,
/// the TLS alert, the refused connection) in the source chain, not in the top message.
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.ends_with(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = c.source();
    }
    text
}

/// A row of [`COLUMNS`] read back.
pub(super) fn to_incident(row: &Row) -> Result<Incident, StoreError> {
    fn get<'a, T: tokio_postgres::types::FromSql<'a>>(row: &'a Row, i: usize) -> Result<T, StoreError> {
        row.try_get(i).map_err(|e| StoreError::Query(e.to_string()))
    }
    IncidentRow {
        id: get(row, 0)?,
        time_ms: get(row, 1)?,
        service: get(row, 2)?,
        method: get(row, 3)?,
        client_addr: get(row, 4)?,
        tls_subject: get(row, 5)?,
        user: get(row, 6)?,
        groups_json: get(row, 7)?,
        url: get(row, 8)?,
        file_name: get(row, 9)?,
        content_type: get(row, 10)?,
        size: get(row, 11)?,
        sha256: get(row, 12)?,
        rules_json: get(row, 13)?,
        counts_json: get(row, 14)?,
        evidence_json: get(row, 15)?,
        action: get(row, 16)?,
        reason: get(row, 17)?,
        severity: get(row, 18)?,
        policy_version: get(row, 19)?,
        claimed_json: get(row, 20)?,
    }
    .into_incident()
}

impl IncidentStore for PostgresStore {
    fn record(&self, i: &Incident) -> Result<(), StoreError> {
        self.insert(std::slice::from_ref(i))
    }

    fn record_many(&self, incidents: &[Incident]) -> Result<(), StoreError> {
        // 21 parameters a row; PostgreSQL takes at most 65535 in one statement.
        incidents.chunks(1024).try_for_each(|chunk| self.insert(chunk))
    }

    fn list(&self, filter: &IncidentFilter) -> Result<Vec<Incident>, StoreError> {
        let since = filter.since.map_or(i64::MIN, to_millis);
        let sql = format!("SELECT {COLUMNS} FROM {TABLE} WHERE time_ms >= $1 ORDER BY time_ms DESC, id DESC");
        let rows = self.call(self.deadline, async |c| c.query(sql.as_str(), &[&since]).await)?;
        filter.collect(rows.iter().map(to_incident))
    }

    fn get(&self, id: &str) -> Result<Option<Incident>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM {TABLE} WHERE id = $1");
        let rows = self.call(self.deadline, async |c| c.query(sql.as_str(), &[&id]).await)?;
        rows.first().map(to_incident).transpose()
    }
}
