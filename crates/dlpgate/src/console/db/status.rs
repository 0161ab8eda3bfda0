//! The state of the incident store and of the SIEM sinks' cursors in it, for the dashboard:
//! read from the store itself, so `dlpgate console` running apart from the server shows them
//! too.

use rusqlite::{params, Connection};

/// Cursor lag counted exactly up to this many incidents; more shows as "more than".
pub const LAG_COUNT_LIMIT: i64 = 100_000;

/// What the store says about itself.
#[derive(Debug, Clone, Default)]
pub struct StoreState {
    /// Incidents held; `approximate` when it is the database's estimate.
    pub incidents: u64,
    /// Whether [`Self::incidents`] is an estimate (PostgreSQL's statistics).
    pub approximate: bool,
    /// Bytes the incidents take on disk (with their indexes; SQLite: the whole file and WAL).
    pub size_bytes: u64,
    /// Each SIEM sink's cursor.
    pub sinks: Vec<SinkCursor>,
}

/// A SIEM sink's cursor, as the store holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkCursor {
    /// The sink's name: its URL without the query (no credentials: a URL with some is refused).
    pub name: String,
    /// When the cursor last moved (ms since the epoch).
    pub updated_ms: i64,
    /// Incidents after the cursor, up to [`LAG_COUNT_LIMIT`] + 1.
    pub lag: i64,
    /// The server holding the sink's lease, if any.
    pub owner: Option<String>,
}

/// Reads the SQLite store's state (`path`: the database file, for the WAL's size).
pub fn sqlite(conn: &Connection, path: &std::path::Path) -> rusqlite::Result<StoreState> {
    let incidents: i64 = conn.query_row("SELECT count(*) FROM incidents", [], |r| r.get(0))?;
    let pages: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
    let page_size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
    let mut wal = path.as_os_str().to_os_string();
    wal.push("-wal");
    let wal_bytes = std::fs::metadata(&wal).map_or(0, |m| m.len());
    let has_cursors: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'siem_cursor'",
        [],
        |r| r.get(0),
    )?;
    let mut sinks = Vec::new();
    if has_cursors > 0 {
        let cursors = conn
            .prepare("SELECT sink_name, seq, updated_ms, owner FROM siem_cursor ORDER BY sink_name")?
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get(2)?, r.get(3)?)))?
            .collect::<rusqlite::Result<Vec<(String, i64, i64, Option<String>)>>>()?;
        for (name, seq, updated_ms, owner) in cursors {
            let lag = conn.query_row(
                "SELECT count(*) FROM (SELECT 1 FROM incidents WHERE rowid > ?1 LIMIT ?2)",
                params![seq, LAG_COUNT_LIMIT + 1],
                |r| r.get(0),
            )?;
            sinks.push(SinkCursor { name, updated_ms, lag, owner });
        }
    }
    Ok(StoreState {
        incidents: u64::try_from(incidents).unwrap_or(0),
        approximate: false,
        size_bytes: u64::try_from(pages.saturating_mul(page_size)).unwrap_or(0).saturating_add(wal_bytes),
        sinks,
    })
}
