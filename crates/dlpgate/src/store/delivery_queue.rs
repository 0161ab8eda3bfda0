//! The incident store as a delivery queue for the SIEM sinks: each sink keeps a cursor in the
//! store (table `siem_cursor`), reads the incidents after it in batches, and moves it past a
//! batch once the receiver has it. Delivery is at least once: a crash between sending and
//! moving the cursor sends that batch again, with the same incident ids.
//!
//! The cursor is a position in the order incidents *became visible* in the store, not their
//! ids or times: a journal replay inserts old incidents late, and on PostgreSQL several
//! servers insert at once, so "after the newest id delivered" would skip both.
//! - SQLite has one writer at a time, so `rowid` order is commit order (rows are never
//!   deleted, so a `rowid` is never reused).
//! - PostgreSQL numbers rows in insert order (`siem_seq`), but transactions commit in another
//!   order: a row numbered 5 may commit after a row numbered 6. Each row therefore also keeps
//!   its transaction id (`siem_tx`), and a sink reads only rows of transactions older than
//!   every transaction still running (`pg_snapshot_xmin`): that set never grows behind the
//!   cursor, and the cursor is `(siem_tx, siem_seq)`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{params, OptionalExtension};

use super::postgres::{self, PostgresStore};
use super::sqlite::{self, SqliteStore};
use super::{Incident, PostgresSettings, StoreError, SQLITE_FILE};

/// Where a sink is in the store's delivery order. Ordered by `(tx, seq)`; SQLite's `tx` is 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct QueuePosition {
    /// PostgreSQL: the inserting transaction's id. SQLite: 0.
    pub tx: i64,
    /// PostgreSQL: the row's insert number. SQLite: the `rowid`.
    pub seq: i64,
}

/// The incident store as the SIEM sinks read it. Blocking: call it with `spawn_blocking`.
pub trait DeliveryQueue: Send + Sync + std::fmt::Debug {
    /// The sink's cursor. A sink seen for the first time starts at the current end of the
    /// store: it is sent the incidents made from now on, not the whole history.
    fn cursor(&self, sink: &str) -> Result<QueuePosition, StoreError>;
    /// Up to `limit` incidents after `position`, in delivery order, each with its position.
    fn after(
        &self,
        position: QueuePosition,
        limit: usize,
    ) -> Result<Vec<(QueuePosition, Incident)>, StoreError>;
    /// Moves the sink's cursor to `position` (all up to it delivered).
    fn advance(&self, sink: &str, position: QueuePosition) -> Result<(), StoreError>;
    /// How many incidents are after `position` (the sink's backlog).
    fn backlog(&self, position: QueuePosition) -> Result<u64, StoreError>;
    /// Takes the sink's lease for `owner`, or renews it, for `lease` from now: true when
    /// `owner` holds it, false while another owner's lease runs. With several servers on one
    /// store, one sends a sink's incidents at a time; when it dies, another takes over once
    /// its lease has run out.
    fn claim(&self, sink: &str, owner: &str, lease: Duration) -> Result<bool, StoreError>;
}

/// The cursor table: the same text for both stores.
const CURSOR_SCHEMA: &str = "CREATE TABLE IF NOT EXISTS siem_cursor (
    sink_name TEXT PRIMARY KEY,
    tx BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    owner TEXT,
    lease_until_ms BIGINT NOT NULL DEFAULT 0
)";

/// Opens the queue on the same store `serve` records into, on a connection (SQLite) or pool
/// (PostgreSQL) of its own, so that reading a backlog never holds up an incident's write.
pub fn open_queue(
    data_dir: &Path,
    store_url: Option<&str>,
    postgres: &PostgresSettings,
) -> Result<Arc<dyn DeliveryQueue>, StoreError> {
    match store_url {
        None => {
            let store = SqliteStore::open(&data_dir.join(SQLITE_FILE), true)?;
            store.conn().execute_batch(CURSOR_SCHEMA).map_err(query_error)?;
            Ok(Arc::new(store))
        }
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            let store = PostgresStore::open(url, super::redact(url), postgres)?;
            prepare_postgres(&store)?;
            Ok(Arc::new(store))
        }
        Some(url) => Err(StoreError::Open {
            what: super::redact(url),
            detail: "expected postgres://... (or no --store for SQLite in --data-dir)".to_string(),
        }),
    }
}

fn query_error(e: impl std::fmt::Display) -> StoreError {
    StoreError::Query(e.to_string())
}

fn now_ms() -> i64 {
    super::to_millis(std::time::SystemTime::now())
}

impl DeliveryQueue for SqliteStore {
    fn cursor(&self, sink: &str) -> Result<QueuePosition, StoreError> {
        let conn = self.conn();
        let found = conn
            .query_row("SELECT tx, seq FROM siem_cursor WHERE sink_name = ?1", params![sink], |r| {
                Ok(QueuePosition { tx: r.get(0)?, seq: r.get(1)? })
            })
            .optional()
            .map_err(query_error)?;
        if let Some(position) = found {
            return Ok(position);
        }
        let end: i64 = conn
            .query_row(&format!("SELECT coalesce(max(rowid), 0) FROM {}", sqlite::TABLE), [], |r| r.get(0))
            .map_err(query_error)?;
        conn.execute(
            "INSERT INTO siem_cursor (sink_name, tx, seq, updated_ms) VALUES (?1, 0, ?2, ?3) \
             ON CONFLICT (sink_name) DO NOTHING",
            params![sink, end, now_ms()],
        )
        .map_err(query_error)?;
        Ok(QueuePosition { tx: 0, seq: end })
    }

    fn after(
        &self,
        position: QueuePosition,
        limit: usize,
    ) -> Result<Vec<(QueuePosition, Incident)>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {}, rowid FROM {} WHERE rowid > ?1 ORDER BY rowid LIMIT ?2",
                super::row::COLUMNS,
                sqlite::TABLE
            ))
            .map_err(query_error)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt
            .query_map(params![position.seq, limit], |r| {
                Ok((QueuePosition { tx: 0, seq: r.get(21)? }, sqlite::read_row(r)?))
            })
            .map_err(query_error)?;
        rows.map(|row| {
            let (position, row) = row.map_err(query_error)?;
            Ok((position, row.into_incident()?))
        })
        .collect()
    }

    fn advance(&self, sink: &str, position: QueuePosition) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "INSERT INTO siem_cursor (sink_name, tx, seq, updated_ms) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (sink_name) DO UPDATE SET tx = excluded.tx, seq = excluded.seq, updated_ms = excluded.updated_ms",
                params![sink, position.tx, position.seq, now_ms()],
            )
            .map_err(query_error)?;
        Ok(())
    }

    fn backlog(&self, position: QueuePosition) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn()
            .query_row(
                &format!("SELECT count(*) FROM {} WHERE rowid > ?1", sqlite::TABLE),
                params![position.seq],
                |r| r.get(0),
            )
            .map_err(query_error)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn claim(&self, sink: &str, owner: &str, lease: Duration) -> Result<bool, StoreError> {
        let now = now_ms();
        let until = now.saturating_add(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX));
        let changed = self
            .conn()
            .execute(
                "UPDATE siem_cursor SET owner = ?2, lease_until_ms = ?3 \
                 WHERE sink_name = ?1 AND (owner IS NULL OR owner = ?2 OR lease_until_ms < ?4)",
                params![sink, owner, until, now],
            )
            .map_err(query_error)?;
        Ok(changed == 1)
    }
}

/// The transaction id of a row's insert, as a plain 64-bit number.
const CURRENT_TX: &str = "pg_current_xact_id()::text::bigint";
/// Transactions below this id have all ended: their rows will not change any more.
const OLDEST_RUNNING_TX: &str = "pg_snapshot_xmin(pg_current_snapshot())::text::bigint";

/// Adds the delivery-order columns (rows already there get the id of this transaction) and
/// the cursor table. The columns are looked for first: `ALTER TABLE` locks the table against
/// every other server's inserts, even when it has nothing to add.
fn prepare_postgres(store: &PostgresStore) -> Result<(), StoreError> {
    let table = postgres::TABLE;
    let present = store.call(store.deadline, async |c| {
        c.query(
            "SELECT count(*) FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 AND column_name IN ('siem_tx', 'siem_seq')",
            &[&table],
        )
        .await
    })?;
    let present: i64 = present.first().map_or(Ok(0), |r| r.try_get(0)).map_err(query_error)?;
    let columns = if present == 2 {
        String::new()
    } else {
        format!(
            "ALTER TABLE {table} ADD COLUMN IF NOT EXISTS siem_tx BIGINT NOT NULL DEFAULT ({CURRENT_TX});
             ALTER TABLE {table} ADD COLUMN IF NOT EXISTS siem_seq BIGINT GENERATED ALWAYS AS IDENTITY;"
        )
    };
    let ddl = format!(
        "{columns}
         CREATE INDEX IF NOT EXISTS {table}_siem ON {table} (siem_tx, siem_seq);
         {CURSOR_SCHEMA};"
    );
    store.create_schema(&ddl, store.deadline * 4)
}

impl DeliveryQueue for PostgresStore {
    fn cursor(&self, sink: &str) -> Result<QueuePosition, StoreError> {
        // A new sink starts after every transaction that has ended.
        let sql = format!(
            "INSERT INTO siem_cursor (sink_name, tx, seq, updated_ms) \
             VALUES ($1, {OLDEST_RUNNING_TX} - 1, {}, $2) ON CONFLICT (sink_name) DO NOTHING",
            i64::MAX
        );
        let now = now_ms();
        self.call(self.deadline, async |c| c.execute(sql.as_str(), &[&sink, &now]).await)?;
        let rows = self.call(self.deadline, async |c| {
            c.query("SELECT tx, seq FROM siem_cursor WHERE sink_name = $1", &[&sink]).await
        })?;
        let row = rows.first().ok_or_else(|| StoreError::Query(format!("no cursor for sink {sink}")))?;
        Ok(QueuePosition {
            tx: row.try_get(0).map_err(query_error)?,
            seq: row.try_get(1).map_err(query_error)?,
        })
    }

    fn after(
        &self,
        position: QueuePosition,
        limit: usize,
    ) -> Result<Vec<(QueuePosition, Incident)>, StoreError> {
        let sql = format!(
            "SELECT {}, siem_tx, siem_seq FROM {} \
             WHERE (siem_tx, siem_seq) > ($1, $2) AND siem_tx < {OLDEST_RUNNING_TX} \
             ORDER BY siem_tx, siem_seq LIMIT $3",
            super::row::COLUMNS,
            postgres::TABLE
        );
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self.call(self.deadline, async |c| {
            c.query(sql.as_str(), &[&position.tx, &position.seq, &limit]).await
        })?;
        rows.iter()
            .map(|r| {
                let position = QueuePosition {
                    tx: r.try_get(21).map_err(query_error)?,
                    seq: r.try_get(22).map_err(query_error)?,
                };
                Ok((position, postgres::to_incident(r)?))
            })
            .collect()
    }

    fn advance(&self, sink: &str, position: QueuePosition) -> Result<(), StoreError> {
        let now = now_ms();
        self.call(self.deadline, async |c| {
            c.execute(
                "INSERT INTO siem_cursor (sink_name, tx, seq, updated_ms) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (sink_name) DO UPDATE SET tx = excluded.tx, seq = excluded.seq, updated_ms = excluded.updated_ms",
                &[&sink, &position.tx, &position.seq, &now],
            )
            .await
        })?;
        Ok(())
    }

    fn backlog(&self, position: QueuePosition) -> Result<u64, StoreError> {
        let sql = format!("SELECT count(*) FROM {} WHERE (siem_tx, siem_seq) > ($1, $2)", postgres::TABLE);
        let rows =
            self.call(self.deadline, async |c| c.query(sql.as_str(), &[&position.tx, &position.seq]).await)?;
        let n: i64 = rows.first().map_or(Ok(0), |r| r.try_get(0)).map_err(query_error)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn claim(&self, sink: &str, owner: &str, lease: Duration) -> Result<bool, StoreError> {
        // The database's clock, not the servers': they may disagree.
        let lease = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX / 2);
        let changed = self.call(self.deadline, async |c| {
            c.execute(
                "UPDATE siem_cursor SET owner = $2, \
                 lease_until_ms = (extract(epoch FROM clock_timestamp()) * 1000)::bigint + $3 \
                 WHERE sink_name = $1 AND (owner IS NULL OR owner = $2 \
                 OR lease_until_ms < (extract(epoch FROM clock_timestamp()) * 1000)::bigint)",
                &[&sink, &owner, &lease],
            )
            .await
        })?;
        Ok(changed == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::model::sample_incident;
    use crate::store::IncidentStore;

    #[test]
    fn a_new_sink_starts_at_the_end_and_reads_what_comes_after() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join(SQLITE_FILE), true).unwrap();
        store.record(&sample_incident("inc-old")).unwrap();
        let queue = open_queue(dir.path(), None, &PostgresSettings::default()).unwrap();
        let start = queue.cursor("a").unwrap();
        assert_eq!(queue.after(start, 10).unwrap(), vec![]);
        // Ids out of order (a journal replay of an older incident) still come in insert order.
        store.record(&sample_incident("inc-3")).unwrap();
        store.record(&sample_incident("inc-1")).unwrap();
        store.record(&sample_incident("inc-2")).unwrap();
        let batch = queue.after(start, 2).unwrap();
        let ids: Vec<&str> = batch.iter().map(|(_, i)| i.id.as_str()).collect();
        assert_eq!(ids, ["inc-3", "inc-1"]);
        assert_eq!(queue.backlog(start).unwrap(), 3);
        queue.advance("a", batch[1].0).unwrap();
        // The cursor survives a reopen.
        drop(queue);
        let queue = open_queue(dir.path(), None, &PostgresSettings::default()).unwrap();
        let cursor = queue.cursor("a").unwrap();
        let rest: Vec<String> = queue.after(cursor, 10).unwrap().into_iter().map(|(_, i)| i.id).collect();
        assert_eq!(rest, ["inc-2"]);
        assert_eq!(queue.backlog(cursor).unwrap(), 1);
        // Another sink has a cursor of its own, at the end.
        let b = queue.cursor("b").unwrap();
        assert_eq!(queue.backlog(b).unwrap(), 0);
    }

    #[test]
    fn one_owner_holds_a_sink_until_its_lease_runs_out() {
        let dir = tempfile::tempdir().unwrap();
        let queue = open_queue(dir.path(), None, &PostgresSettings::default()).unwrap();
        queue.cursor("s").unwrap();
        let long = Duration::from_secs(60);
        assert!(queue.claim("s", "node-1", long).unwrap());
        assert!(!queue.claim("s", "node-2", long).unwrap(), "node-1's lease runs");
        assert!(queue.claim("s", "node-1", long).unwrap(), "renewed");
        assert!(queue.claim("s", "node-1", Duration::ZERO).unwrap());
        std::thread::sleep(Duration::from_millis(5));
        assert!(queue.claim("s", "node-2", long).unwrap(), "an expired lease is taken over");
        assert!(!queue.claim("s", "node-1", long).unwrap());
    }
}
