//! A node started with `--store postgres://...` and no `--policy` follows the policy versions
//! `dlpgate policy push` stores: the newest one it accepts at start, then each new one, put in
//! force through the service's reload (requests under way finish on the policy they started
//! with). A push wakes it through PostgreSQL's LISTEN/NOTIFY; it also checks every
//! `--policy-poll-interval-ms`, since a notification sent while its listening connection was
//! down is lost. A version this node refuses (stored by another dlpgate version, or naming an
//! index this node lacks) is logged and the policy in force stays; it is tried again a minute
//! later (the index it names may have been copied in by then).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::dlp::{DlpService, FetchedPolicy};
use crate::store::policy_versions::{PolicyListener, PolicyVersions, StoredVersion};
use crate::store::PostgresSettings;

/// Default for `--policy-poll-interval-ms`: how often a node checks the store for a new
/// policy version even without a notification.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(2);
/// The shortest interval taken: a smaller one (0 included) means this.
pub const MIN_POLL_INTERVAL: Duration = Duration::from_millis(100);
/// How long a node leaves a version it refused before trying it again (an index it named
/// may have been copied in meanwhile).
const REFUSED_RETRY: Duration = Duration::from_secs(60);
/// Stored versions a node looks back through at start for one it accepts.
const START_LOOKBACK: usize = 20;

/// Opens the policy versions and picks the newest version this node accepts (`None`: none
/// stored, or none accepted; the built-in policy then, as the log says).
pub async fn start(
    url: &str,
    settings: &PostgresSettings,
    data_dir: &std::path::Path,
) -> anyhow::Result<(Arc<PolicyVersions>, Option<FetchedPolicy>)> {
    let (url, settings_owned) = (url.to_string(), settings.clone());
    let versions = tokio::task::spawn_blocking(move || PolicyVersions::open(&url, &settings_owned))
        .await
        .context("opening the policy versions")?
        .context("opening the policy versions")?;
    let versions = Arc::new(versions);
    let reader = versions.clone();
    let newest = tokio::task::spawn_blocking(move || reader.newest_with_text(START_LOOKBACK))
        .await
        .context("reading the policy versions")?
        .context("reading the policy versions")?;
    if newest.is_empty() {
        tracing::info!(
            "no policy version stored yet: serving the built-in default policy until `dlpgate policy push` stores one"
        );
        return Ok((versions, None));
    }
    for stored in newest {
        let fetched = fetched(stored);
        match crate::dlp::source::parse_stored(&fetched, data_dir) {
            Ok(_) => return Ok((versions, Some(fetched))),
            Err(e) => tracing::error!(error = %e, "stored policy version refused; trying the one before"),
        }
    }
    tracing::error!(
        "none of the newest {START_LOOKBACK} stored policy versions loads here: serving the built-in default policy"
    );
    Ok((versions, None))
}

/// Follows the store until the process ends.
pub async fn follow(
    versions: Arc<PolicyVersions>,
    service: Arc<DlpService>,
    url: String,
    settings: PostgresSettings,
    interval: Duration,
) {
    let mut listener: Option<PolicyListener> = None;
    let mut refused: Option<Refused> = None;
    let mut listen_failed = false;
    loop {
        if listener.is_none() {
            match PolicyListener::connect(&url, &settings).await {
                Ok(l) => {
                    if listen_failed {
                        tracing::info!("listening for policy pushes again");
                    }
                    listener = Some(l);
                    listen_failed = false;
                }
                Err(e) if !listen_failed => {
                    tracing::warn!(error = %e, interval_ms = interval.as_millis() as u64, "cannot listen for policy pushes; checking the store at the interval");
                    listen_failed = true;
                }
                Err(e) => tracing::debug!(error = %e, "cannot listen for policy pushes"),
            }
        }
        // Right after (re)connecting too: a push may have come while nobody listened.
        check(&versions, &service, &mut refused).await;
        match listener.as_mut() {
            Some(l) => {
                tokio::select! {
                    pushed = l.next() => if pushed.is_none() {
                        tracing::warn!("the connection listening for policy pushes closed; connecting again");
                        listener = None;
                    },
                    () = tokio::time::sleep(interval) => {}
                }
            }
            None => tokio::time::sleep(interval).await,
        }
    }
}

/// A version this node refused, and when.
struct Refused {
    version: (i64, String),
    at: std::time::Instant,
}

/// Puts the newest stored version in force when it is not already, unless this node refused
/// it less than [`REFUSED_RETRY`] ago.
async fn check(versions: &Arc<PolicyVersions>, service: &Arc<DlpService>, refused: &mut Option<Refused>) {
    let reader = versions.clone();
    let newest = match tokio::task::spawn_blocking(move || reader.newest()).await {
        Ok(Ok(Some(newest))) => newest,
        Ok(Ok(None)) => return,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "cannot read the stored policy versions; the policy in force stays");
            return;
        }
        Err(e) => {
            tracing::error!(error = %e, "reading the stored policy versions failed");
            return;
        }
    };
    let refused_lately =
        refused.as_ref().is_some_and(|r| r.version == newest && r.at.elapsed() < REFUSED_RETRY);
    if service.stored_version() == Some(newest.0) || refused_lately {
        return;
    }
    let reader = versions.clone();
    let stored = match tokio::task::spawn_blocking(move || reader.get(newest.0)).await {
        Ok(Ok(Some(stored))) => stored,
        Ok(Ok(None)) => return,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, version = newest.0, "cannot read a stored policy version; the policy in force stays");
            return;
        }
        Err(e) => {
            tracing::error!(error = %e, "reading a stored policy version failed");
            return;
        }
    };
    let (number, by) = (stored.info.version, stored.info.pushed_by.clone());
    let adopting = service.clone();
    match tokio::task::spawn_blocking(move || adopting.adopt_stored(fetched(stored))).await {
        Ok(Ok(version)) => {
            tracing::info!(stored_version = number, policy_version = %version, pushed_by = %by, "stored policy version in force");
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, stored_version = number, "stored policy version refused; the policy in force stays");
            *refused = Some(Refused { version: newest, at: std::time::Instant::now() });
        }
        Err(e) => tracing::error!(error = %e, "loading a stored policy version failed"),
    }
}

fn fetched(stored: StoredVersion) -> FetchedPolicy {
    FetchedPolicy { version: stored.info.version, text: stored.text }
}
