//! Recording an incident durably before the verdict's answer leaves, within a deadline: in the
//! store when it commits in time, else in the local journal, which is replayed into the store
//! once it is back.
//!
//! A store write that fails or misses the deadline switches the recorder to the journal for
//! every incident (no verdict waits on a store known to be down) until a replay succeeds. A
//! write that missed the deadline may still commit later; the replay then finds the incident
//! there already, which the stores accept (inserts are idempotent by incident id).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::journal::{Journal, ReplayError, ReplayReport};
use super::{Incident, IncidentStore};

/// Default deadline for a store write: past it the incident goes to the journal.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(2);
/// Default time between two replays of a non-empty journal.
pub const DEFAULT_REPLAY_INTERVAL: Duration = Duration::from_secs(5);

/// Replay intervals between two looks for the journals of servers that are gone.
pub const ORPHAN_CHECK_EVERY: u64 = 12;

/// Where an incident was made durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Recorded {
    /// Committed to the store.
    Stored,
    /// Synced to the journal; `store_failed` when the store was tried and failed or missed
    /// its deadline (rather than skipped while known to be down).
    Journalled {
        /// The store was tried and failed.
        store_failed: bool,
    },
    /// Neither the store nor the journal took it (logged, counted).
    Lost {
        /// The store was tried and failed.
        store_failed: bool,
    },
}

impl Recorded {
    /// True when the incident is durable: its id may be named in an answer.
    pub fn is_durable(self) -> bool {
        !matches!(self, Self::Lost { .. })
    }

    /// True when a store write failed or timed out.
    pub fn store_failed(self) -> bool {
        matches!(self, Self::Journalled { store_failed: true } | Self::Lost { store_failed: true })
    }
}

/// The store and its journal, as the DLP service records incidents.
#[derive(Debug)]
pub struct IncidentRecorder {
    store: Arc<dyn IncidentStore>,
    journal: Arc<Journal>,
    write_timeout: Duration,
    /// Set by a failed store write: incidents go straight to the journal until a replay works.
    degraded: AtomicBool,
    metrics: RecorderMetrics,
}

/// The recorder's Prometheus metrics.
#[derive(Debug, Default)]
struct RecorderMetrics {
    journalled: Counter,
    replayed: Counter,
    lost: Counter,
    pending: Gauge,
}

impl IncidentRecorder {
    /// A recorder over `store`, falling back to `journal` past `write_timeout`.
    pub fn new(store: Arc<dyn IncidentStore>, journal: Journal, write_timeout: Duration) -> Self {
        let recorder = Self {
            store,
            journal: Arc::new(journal),
            write_timeout,
            degraded: AtomicBool::new(false),
            metrics: RecorderMetrics::default(),
        };
        recorder.update_pending();
        recorder
    }

    /// Registers `dlpgate_incidents_journalled_total`, `dlpgate_incidents_replayed_total`,
    /// `dlpgate_incidents_lost_total` and `dlpgate_incident_journal_pending`.
    pub fn register(&self, registry: &mut Registry) {
        let r = registry.sub_registry_with_prefix("dlpgate");
        r.register(
            "incidents_journalled",
            "Incidents written to the local journal because the store failed or was too slow",
            self.metrics.journalled.clone(),
        );
        r.register(
            "incidents_replayed",
            "Journalled incidents moved into the store",
            self.metrics.replayed.clone(),
        );
        r.register(
            "incidents_lost",
            "Incidents neither the store nor the journal could keep",
            self.metrics.lost.clone(),
        );
        r.register(
            "incident_journal_pending",
            "Incidents in the journal, waiting for the store",
            self.metrics.pending.clone(),
        );
    }

    /// Makes `incident` durable: in the store within the write deadline, else in the journal.
    pub async fn record(&self, incident: Incident) -> Recorded {
        let incident = Arc::new(incident);
        let mut store_failed = false;
        if !self.degraded.load(Ordering::Relaxed) {
            let (store, copy) = (self.store.clone(), incident.clone());
            let write = tokio::task::spawn_blocking(move || store.record(&copy));
            match tokio::time::timeout(self.write_timeout, write).await {
                Ok(Ok(Ok(()))) => return Recorded::Stored,
                Ok(Ok(Err(e))) => {
                    tracing::error!(error = %e, incident = %incident.id, "the incident store failed; journalling")
                }
                Ok(Err(e)) => {
                    tracing::error!(error = %e, incident = %incident.id, "the incident writer failed; journalling")
                }
                Err(_) => tracing::error!(
                    incident = %incident.id,
                    timeout_ms = self.write_timeout.as_millis() as u64,
                    "the incident store did not commit in time; journalling"
                ),
            }
            store_failed = true;
            if !self.degraded.swap(true, Ordering::Relaxed) {
                tracing::warn!("incidents go to the journal until the store is back");
            }
        }
        let journal = self.journal.clone();
        let appended =
            tokio::task::spawn_blocking(move || journal.append(&incident).map(|()| incident)).await;
        let recorded = match appended {
            Ok(Ok(incident)) => {
                tracing::debug!(incident = %incident.id, "incident journalled");
                self.metrics.journalled.inc();
                Recorded::Journalled { store_failed }
            }
            Ok(Err(e)) => {
                tracing::error!(error = %e, "INCIDENT LOST: neither the store nor the journal took it");
                self.metrics.lost.inc();
                Recorded::Lost { store_failed }
            }
            Err(e) => {
                tracing::error!(error = %e, "INCIDENT LOST: the journal writer failed");
                self.metrics.lost.inc();
                Recorded::Lost { store_failed }
            }
        };
        self.update_pending();
        recorded
    }

    /// Moves the journalled incidents into the store. Success means the store works: new
    /// incidents go to it again.
    pub async fn replay(&self) -> Result<ReplayReport, ReplayError> {
        let (store, journal) = (self.store.clone(), self.journal.clone());
        let result =
            tokio::task::spawn_blocking(move || journal.replay(&mut |batch| store.record_many(batch)))
                .await
                .unwrap_or_else(|e| Err(ReplayError::Store(super::StoreError::Query(e.to_string()))));
        if let Ok(report) = &result {
            self.metrics.replayed.inc_by(report.replayed);
            if self.degraded.swap(false, Ordering::Relaxed) {
                tracing::info!(replayed = report.replayed, "the incident store is back");
            }
        }
        self.update_pending();
        result
    }

    /// Incidents journalled and not yet in the store.
    pub fn pending(&self) -> u64 {
        self.journal.pending()
    }

    /// True while incidents go to the journal.
    pub fn is_degraded(&self) -> bool {
        self.degraded.load(Ordering::Relaxed)
    }

    /// Replays at start-up (logged, never fatal: the store may be slow to come back), then
    /// every `interval` while incidents are pending or the store is known to be down, and every
    /// [`ORPHAN_CHECK_EVERY`] intervals in any case (the journal of another server on this data
    /// directory that is gone).
    pub async fn replay_forever(self: Arc<Self>, interval: Duration) {
        for tick in 0u64.. {
            if tick % ORPHAN_CHECK_EVERY == 0 || self.pending() > 0 || self.is_degraded() {
                match self.replay().await {
                    Ok(report) if report.replayed > 0 => {
                        tracing::info!(
                            replayed = report.replayed,
                            "journalled incidents moved into the store"
                        )
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(
                        error = %e,
                        pending = self.pending(),
                        "journalled incidents stay in the journal; retrying"
                    ),
                }
            }
            tokio::time::sleep(interval).await;
        }
    }

    fn update_pending(&self) {
        self.metrics.pending.set(i64::try_from(self.journal.pending()).unwrap_or(i64::MAX));
    }
}
