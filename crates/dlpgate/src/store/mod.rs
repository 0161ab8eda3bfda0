//! The incident store: embedded SQLite by default (WAL, one file in the data directory), or
//! a shared PostgreSQL for several servers. The API is synchronous: call it from async code
//! with `tokio::task::spawn_blocking`.

mod model;
mod sqlite;

use std::path::Path;
use std::sync::Arc;

pub use model::{format_time, from_millis, to_millis, EvidenceRecord, Incident, IncidentFilter};
pub use sqlite::SqliteStore;

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened or created.
    #[error("cannot open the incident store {what}: {detail}")]
    Open {
        /// Which store.
        what: String,
        /// Why.
        detail: String,
    },
    /// A query failed.
    #[error("incident store error: {0}")]
    Query(String),
}

/// Where incidents are kept.
pub trait IncidentStore: Send + Sync + std::fmt::Debug {
    /// Records an incident; durable when it returns `Ok`.
    fn record(&self, incident: &Incident) -> Result<(), StoreError>;
    /// Incidents that pass the filter, newest first.
    fn list(&self, filter: &IncidentFilter) -> Result<Vec<Incident>, StoreError>;
    /// One incident.
    fn get(&self, id: &str) -> Result<Option<Incident>, StoreError>;
}

/// The database file in a data directory.
pub const SQLITE_FILE: &str = "incidents.db";

/// Opens the store: SQLite in `data_dir` unless `store_url` names a PostgreSQL server.
pub fn open_store(data_dir: &Path, store_url: Option<&str>) -> Result<Arc<dyn IncidentStore>, StoreError> {
    match store_url {
        None => Ok(Arc::new(SqliteStore::open(&data_dir.join(SQLITE_FILE), true)?)),
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            Err(StoreError::Open {
                what: redact(url),
                detail: "PostgreSQL support is not built yet in this version".to_string(),
            })
        }
        Some(url) => Err(StoreError::Open {
            what: redact(url),
            detail: "expected postgres://... (or no --store for SQLite in --data-dir)".to_string(),
        }),
    }
}

/// Opens an existing store for reading (the `incidents` command): never creates one.
pub fn open_existing(data_dir: &Path, store_url: Option<&str>) -> Result<Arc<dyn IncidentStore>, StoreError> {
    match store_url {
        None => {
            let path = data_dir.join(SQLITE_FILE);
            if !path.exists() {
                return Err(StoreError::Open {
                    what: path.display().to_string(),
                    detail: "no incident store there (is --data-dir the one `dlpgate serve` uses?)"
                        .to_string(),
                });
            }
            Ok(Arc::new(SqliteStore::open(&path, false)?))
        }
        Some(url) => open_store(data_dir, Some(url)),
    }
}

/// A new incident id: `inc-` and a time-ordered UUID (v7).
pub fn new_incident_id() -> String {
    format!("inc-{}", uuid::Uuid::now_v7().simple())
}

/// A connection URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}
