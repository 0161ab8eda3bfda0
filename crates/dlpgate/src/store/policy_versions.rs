//! Policy versions in the shared PostgreSQL store, for several nodes that follow one policy:
//! `dlpgate policy push` adds a version (table `dlpgate_policy_versions`: number, text,
//! SHA-256, name, who and when) and notifies the channel [`CHANNEL`] in the same transaction;
//! `serve --store` without `--policy` loads the newest version and reloads when it changes,
//! woken by [`PolicyListener`] and checking every few seconds anyway (a notification is lost
//! while a listening connection is down).
//!
//! Versions are only ever added: pushing an older file again makes it the newest version, so
//! "newest" is the whole rule a node follows. The store keeps the text; a node validates it
//! again before using it (another dlpgate version may have stored a text this one refuses).
//!
//! SQLite (`--data-dir`) has no versions: one node reads its policy from `--policy FILE`.

use std::time::Duration;

use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::pg_tls::MakeRustls;
use super::pg_url::parse;
use super::postgres::PostgresStore;
use super::{PostgresSettings, StoreError};

/// The table.
const TABLE: &str = "dlpgate_policy_versions";
/// The channel `policy push` notifies with the new version number.
pub const CHANNEL: &str = "dlpgate_policy";
/// Largest policy text stored (a policy is a few KiB; EDM and fingerprint data live in index
/// files, not in the text).
pub const MAX_POLICY_BYTES: usize = 1 << 20;

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS dlpgate_policy_versions (
    version BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pushed_ms BIGINT NOT NULL,
    pushed_by TEXT NOT NULL,
    name TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    policy_text TEXT NOT NULL
);";

/// One stored version, without its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionInfo {
    /// 1, 2, 3... in push order.
    pub version: i64,
    /// When it was pushed.
    pub pushed: std::time::SystemTime,
    /// Who pushed it (`user@host` unless `policy push --by` said otherwise).
    pub pushed_by: String,
    /// The policy's name (its `[policy]` section).
    pub name: String,
    /// SHA-256 of the text, hex.
    pub sha256: String,
}

/// One stored version with its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredVersion {
    /// Number, time, author, name, hash.
    pub info: VersionInfo,
    /// The policy file as pushed.
    pub text: String,
}

/// What a push did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Pushed {
    /// Stored as this new version.
    New(i64),
    /// The newest version already holds this text: nothing stored.
    Unchanged(i64),
}

/// The policy versions of a PostgreSQL store. Blocking (like the incident store): call it from
/// async code with `spawn_blocking`.
#[derive(Debug)]
pub struct PolicyVersions {
    store: PostgresStore,
}

impl PolicyVersions {
    /// Connects and creates the table when missing (under the schema lock, so nodes starting
    /// at once do not trip over each other). A URL that is not `postgres://` gets an error
    /// saying what to do instead.
    pub fn open(url: &str, settings: &PostgresSettings) -> Result<Self, StoreError> {
        check_url(url)?;
        let store = PostgresStore::connect(url, super::redact(url), settings)?;
        store.create_schema(SCHEMA, settings.connect_timeout + settings.statement_timeout).map_err(|e| {
            StoreError::Open {
                what: super::redact(url),
                detail: match e {
                    StoreError::Query(detail) => detail,
                    other => other.to_string(),
                },
            }
        })?;
        Ok(Self { store })
    }

    /// Stores `text` as a new version and notifies [`CHANNEL`] when it commits; unchanged when
    /// the newest version holds the same text. `text` must have been validated.
    pub fn push(&self, text: &str, name: &str, pushed_by: &str) -> Result<Pushed, StoreError> {
        if text.len() > MAX_POLICY_BYTES {
            return Err(StoreError::Query(format!(
                "the policy is {} bytes; at most {MAX_POLICY_BYTES} are stored",
                text.len()
            )));
        }
        let sha256 = hex::encode(Sha256::digest(text.as_bytes()));
        if let Some((version, newest)) = self.newest()? {
            if newest == sha256 {
                return Ok(Pushed::Unchanged(version));
            }
        }
        let now = super::to_millis(std::time::SystemTime::now());
        // The notification goes out when the insert commits, never before, never without it.
        let sql = format!(
            "WITH added AS (INSERT INTO {TABLE} (pushed_ms, pushed_by, name, sha256, policy_text) \
             VALUES ($1, $2, $3, $4, $5) RETURNING version) \
             SELECT added.version FROM added, pg_notify('{CHANNEL}', added.version::text)"
        );
        let rows = self.store.call(self.store.deadline, async |c| {
            c.query(sql.as_str(), &[&now, &pushed_by, &name, &sha256, &text]).await
        })?;
        let version = rows.first().map(|r| r.try_get(0)).transpose().map_err(query_error)?;
        version
            .map(Pushed::New)
            .ok_or_else(|| StoreError::Query("the insert returned no version".to_string()))
    }

    /// The newest version's number and SHA-256, cheaply (what a node asks every few seconds).
    pub fn newest(&self) -> Result<Option<(i64, String)>, StoreError> {
        let sql = format!("SELECT version, sha256 FROM {TABLE} ORDER BY version DESC LIMIT 1");
        let rows = self.store.call(self.store.deadline, async |c| c.query(sql.as_str(), &[]).await)?;
        rows.first()
            .map(|r| Ok((r.try_get(0).map_err(query_error)?, r.try_get(1).map_err(query_error)?)))
            .transpose()
    }

    /// One version with its text.
    pub fn get(&self, version: i64) -> Result<Option<StoredVersion>, StoreError> {
        Ok(self.with_text(&format!("WHERE version = {version}"), 1)?.pop())
    }

    /// Up to `limit` versions with their texts, newest first (start-up looks for the newest
    /// one this node accepts).
    pub fn newest_with_text(&self, limit: usize) -> Result<Vec<StoredVersion>, StoreError> {
        self.with_text("", limit)
    }

    /// Up to `limit` versions without their texts, newest first.
    pub fn history(&self, limit: usize) -> Result<Vec<VersionInfo>, StoreError> {
        let sql = format!(
            "SELECT version, pushed_ms, pushed_by, name, sha256 FROM {TABLE} ORDER BY version DESC LIMIT $1"
        );
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self.store.call(self.store.deadline, async |c| c.query(sql.as_str(), &[&limit]).await)?;
        rows.iter().map(info).collect()
    }

    fn with_text(&self, filter: &str, limit: usize) -> Result<Vec<StoredVersion>, StoreError> {
        let sql = format!(
            "SELECT version, pushed_ms, pushed_by, name, sha256, policy_text FROM {TABLE} {filter} \
             ORDER BY version DESC LIMIT $1"
        );
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self.store.call(self.store.deadline, async |c| c.query(sql.as_str(), &[&limit]).await)?;
        rows.iter()
            .map(|r| Ok(StoredVersion { info: info(r)?, text: r.try_get(5).map_err(query_error)? }))
            .collect()
    }
}

fn info(r: &tokio_postgres::Row) -> Result<VersionInfo, StoreError> {
    Ok(VersionInfo {
        version: r.try_get(0).map_err(query_error)?,
        pushed: super::from_millis(r.try_get(1).map_err(query_error)?),
        pushed_by: r.try_get(2).map_err(query_error)?,
        name: r.try_get(3).map_err(query_error)?,
        sha256: r.try_get(4).map_err(query_error)?,
    })
}

fn query_error(e: impl std::fmt::Display) -> StoreError {
    StoreError::Query(e.to_string())
}

/// Policy versions live only in PostgreSQL: anything else gets what to do instead.
pub fn check_url(url: &str) -> Result<(), StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(());
    }
    Err(StoreError::Query(format!(
        "{}: policy versions are kept in a shared PostgreSQL store only (--store postgres://...); a single \
         node with a SQLite store reads its policy from `serve --policy FILE`, reloaded when the file changes",
        super::redact(url)
    )))
}

/// A connection of its own that `LISTEN`s on [`CHANNEL`]: [`next`](Self::next) wakes on each
/// push, and says when the connection is gone (then connect again, and check the store: a
/// push may have happened meanwhile). Runs on the caller's tokio runtime.
#[derive(Debug)]
pub struct PolicyListener {
    /// Kept so the connection stays open.
    _client: tokio_postgres::Client,
    pushes: mpsc::Receiver<()>,
}

impl PolicyListener {
    /// Connects (within `settings.connect_timeout`) and listens.
    pub async fn connect(url: &str, settings: &PostgresSettings) -> Result<Self, StoreError> {
        let failed = |detail: String| StoreError::Open { what: super::redact(url), detail };
        check_url(url)?;
        let (mut config, tls) = parse(url, settings).map_err(failed)?;
        config.keepalives_idle(Duration::from_secs(30));
        let within = settings.connect_timeout + settings.statement_timeout;
        let (client, mut connection) = tokio::time::timeout(within, config.connect(MakeRustls::new(tls)))
            .await
            .map_err(|_| failed(format!("no connection within {} ms", within.as_millis())))?
            .map_err(|e| failed(e.to_string()))?;
        let (tx, pushes) = mpsc::channel(1);
        tokio::spawn(async move {
            let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(Ok(message)) = messages.next().await {
                if let tokio_postgres::AsyncMessage::Notification(_) = message {
                    // One pending wake-up is enough: the node reads the newest version anyway.
                    let _ = tx.try_send(());
                }
            }
        });
        tokio::time::timeout(within, client.batch_execute(&format!("LISTEN {CHANNEL}")))
            .await
            .map_err(|_| failed(format!("LISTEN: no answer within {} ms", within.as_millis())))?
            .map_err(|e| failed(format!("LISTEN: {e}")))?;
        Ok(Self { _client: client, pushes })
    }

    /// Waits for the next push; `None` once the connection is gone.
    pub async fn next(&mut self) -> Option<()> {
        self.pushes.recv().await
    }
}
