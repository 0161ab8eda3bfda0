//! The incident store: embedded SQLite by default (WAL, one file in the data directory), or
//! a shared PostgreSQL for several servers; and the journal that keeps incidents while the
//! store is down ([`journal`]), with the recorder that chooses between them ([`durable`]).
//! The store API is synchronous (the PostgreSQL client runs its own small runtime): call it
//! from async code with `tokio::task::spawn_blocking`, as the recorder does.
//! [`delivery_queue`] reads the store in the order incidents arrived, for the SIEM sinks.
//! [`policy_versions`] keeps the policy versions several nodes follow (PostgreSQL only).

pub mod delivery_queue;
pub mod durable;
pub mod journal;
mod model;
pub(crate) mod pg_tls;
pub(crate) mod pg_url;
pub mod policy_versions;
mod postgres;
mod row;
mod sqlite;

use std::path::Path;
use std::sync::Arc;

pub use model::{
    format_time, from_millis, to_millis, ClaimedIdentity, EvidenceRecord, Incident, IncidentFilter,
};
pub use pg_url::PostgresSettings;
pub use postgres::PostgresStore;
pub(crate) use postgres::SCHEMA_LOCK;
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
    /// Records an incident; durable when it returns `Ok`. An incident whose id the store
    /// already has is no error and leaves the first copy (a journal replay may bring it again).
    fn record(&self, incident: &Incident) -> Result<(), StoreError>;
    /// Records several incidents (a journal replay), in one transaction where the store can.
    fn record_many(&self, incidents: &[Incident]) -> Result<(), StoreError> {
        incidents.iter().try_for_each(|i| self.record(i))
    }
    /// Incidents that pass the filter, newest first.
    fn list(&self, filter: &IncidentFilter) -> Result<Vec<Incident>, StoreError>;
    /// One incident.
    fn get(&self, id: &str) -> Result<Option<Incident>, StoreError>;
}

/// The database file in a data directory.
pub const SQLITE_FILE: &str = "incidents.db";

/// Opens the store: SQLite in `data_dir` unless `store_url` names a PostgreSQL server.
pub fn open_store(
    data_dir: &Path,
    store_url: Option<&str>,
    postgres: &PostgresSettings,
) -> Result<Arc<dyn IncidentStore>, StoreError> {
    match store_url {
        None => Ok(Arc::new(SqliteStore::open(&data_dir.join(SQLITE_FILE), true)?)),
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            Ok(Arc::new(PostgresStore::open(url, redact(url), postgres)?))
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
        Some(url) => open_store(data_dir, Some(url), &PostgresSettings::default()),
    }
}

/// A new incident id: `inc-` and a time-ordered UUID (v7).
pub fn new_incident_id() -> String {
    format!("inc-{}", uuid::Uuid::now_v7().simple())
}

/// A connection URL without its password (in the user part or a `password=` parameter), for
/// messages.
fn redact(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let base = match (base.find("://"), base.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &base[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _password)) => format!("{}{user}:***{}", &base[..scheme + 3], &base[at..]),
                None => base.to_string(),
            }
        }
        _ => base.to_string(),
    };
    match query {
        None => base,
        Some(query) => {
            let params: Vec<String> = query
                .split('&')
                .map(|p| if p.starts_with("password=") { "password=***".to_string() } else { p.to_string() })
                .collect();
            format!("{base}?{}", params.join("&"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn a_password_never_leaves_the_url() {
        assert_eq!(redact("postgres://dlp:s3cret@db:5432/x"), "postgres://dlp:***@db:5432/x");
        assert_eq!(redact("postgres://dlp@db/x"), "postgres://dlp@db/x");
        assert_eq!(redact("postgres://db/x"), "postgres://db/x");
        assert_eq!(
            redact("postgres://dlp:s3cret@db/x?sslmode=verify-full&password=other&sslrootcert=/ca.pem"),
            "postgres://dlp:***@db/x?sslmode=verify-full&password=***&sslrootcert=/ca.pem"
        );
        assert_eq!(redact("postgres://db/x?user=a@b"), "postgres://db/x?user=a@b");
    }
}
