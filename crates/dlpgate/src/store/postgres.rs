//! PostgreSQL, for several servers sharing one incident store. The same schema and behaviour as
//! SQLite; a broken connection is re-opened once per call.

use std::sync::Mutex;

use postgres::{Client, NoTls, Row};

use super::model::{to_millis, Incident, IncidentFilter};
use super::row::{schema, IncidentRow, ADDED_COLUMNS, COLUMNS};
use super::{IncidentStore, StoreError};

/// The table: prefixed, since a shared database may hold other applications' tables.
const TABLE: &str = "dlpgate_incidents";

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
        client.batch_execute(&schema(TABLE)).map_err(|e| store.open_error(&e))?;
        for (column, kind) in ADDED_COLUMNS {
            client
                .batch_execute(&format!("ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS {column} {kind}"))
                .map_err(|e| store.open_error(&e))?;
        }
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

/// A row of [`COLUMNS`] read back.
fn to_incident(row: &Row) -> Result<Incident, StoreError> {
    fn get<'a, T: postgres::types::FromSql<'a>>(row: &'a Row, i: usize) -> Result<T, StoreError> {
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
        let r = IncidentRow::from_incident(i)?;
        let sql = format!(
            "INSERT INTO {TABLE} ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21) \
             ON CONFLICT (id) DO NOTHING"
        );
        self.with_client(|c| {
            c.execute(
                sql.as_str(),
                &[
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
                ],
            )
        })?;
        Ok(())
    }

    fn list(&self, filter: &IncidentFilter) -> Result<Vec<Incident>, StoreError> {
        let since = filter.since.map_or(i64::MIN, to_millis);
        let sql = format!("SELECT {COLUMNS} FROM {TABLE} WHERE time_ms >= $1 ORDER BY time_ms DESC, id DESC");
        let rows = self.with_client(|c| c.query(sql.as_str(), &[&since]))?;
        filter.collect(rows.iter().map(to_incident))
    }

    fn get(&self, id: &str) -> Result<Option<Incident>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM {TABLE} WHERE id = $1");
        let rows = self.with_client(|c| c.query(sql.as_str(), &[&id]))?;
        rows.first().map(to_incident).transpose()
    }
}
