//! One background task per sink: read the incidents after the sink's cursor, send them, move
//! the cursor; on failure wait (exponential backoff) and send the same batch again, for as
//! long as it takes. Nothing here is on the verdict path: a verdict only writes the incident
//! to the store, and the tasks read the store on their own connection.

use std::sync::Arc;
use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::encode::{encode, Payload};
use super::send::{SendError, Sender};
use super::target::SinkSpec;
use crate::store::delivery_queue::{DeliveryQueue, QueuePosition};
use crate::store::{Incident, StoreError};

/// How the delivery tasks pace themselves.
#[derive(Debug, Clone, Copy)]
pub struct DeliverySettings {
    /// Incidents per batch at most.
    pub batch: usize,
    /// Bytes of encoded incidents per batch at most (a batch holds one incident at least).
    pub batch_bytes: usize,
    /// How often an idle sink looks for new incidents.
    pub poll: Duration,
    /// First wait after a failure; doubled on each failure in a row.
    pub retry_initial: Duration,
    /// Longest wait between two tries.
    pub retry_max: Duration,
    /// A batch not acknowledged within this is a failure.
    pub send_timeout: Duration,
    /// How long a server holds a sink once it claimed it (renewed every third of it): with
    /// several servers on one store, the others wait, and take over this long after it died.
    pub lease: Duration,
}

impl DeliverySettings {
    /// Default incidents per batch.
    pub const DEFAULT_BATCH: usize = 500;
    /// Default bytes per batch: under Splunk HEC's default 1 MB body limit.
    pub const DEFAULT_BATCH_BYTES: usize = 512 * 1024;
    /// Default poll interval of an idle sink.
    pub const DEFAULT_POLL: Duration = Duration::from_millis(500);
    /// Default first retry wait.
    pub const DEFAULT_RETRY_INITIAL: Duration = Duration::from_millis(500);
    /// Default longest retry wait.
    pub const DEFAULT_RETRY_MAX: Duration = Duration::from_secs(30);
    /// Default send timeout.
    pub const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(10);
    /// Default lease on a sink.
    pub const DEFAULT_LEASE: Duration = Duration::from_secs(15);

    /// The wait before try number `failures + 1` (after `failures` failures in a row).
    pub fn backoff(&self, failures: u32) -> Duration {
        let factor = 1u32.checked_shl(failures.saturating_sub(1).min(20)).unwrap_or(u32::MAX);
        self.retry_initial.saturating_mul(factor).min(self.retry_max)
    }
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self {
            batch: Self::DEFAULT_BATCH,
            batch_bytes: Self::DEFAULT_BATCH_BYTES,
            poll: Self::DEFAULT_POLL,
            retry_initial: Self::DEFAULT_RETRY_INITIAL,
            retry_max: Self::DEFAULT_RETRY_MAX,
            send_timeout: Self::DEFAULT_SEND_TIMEOUT,
            lease: Self::DEFAULT_LEASE,
        }
    }
}

/// The `sink` label.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SinkLabel {
    sink: String,
}

/// `dlpgate_siem_*`, one series per sink, and what the web console shows beyond them.
#[derive(Debug, Default, Clone)]
pub struct SiemMetrics {
    queued: Family<SinkLabel, Gauge>,
    delivered: Family<SinkLabel, Counter>,
    failed: Family<SinkLabel, Counter>,
    /// Each sink's last failure and last delivery.
    pub status: SinkStatus,
}

/// Each sink's last failure and last delivery (ms since the epoch), by sink name: what the
/// console's dashboard shows next to the counters.
#[derive(Debug, Default, Clone)]
pub struct SinkStatus {
    sinks: Arc<std::sync::Mutex<std::collections::BTreeMap<String, SinkState>>>,
}

/// One sink's state.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SinkState {
    /// The last failure to send: when, and the error.
    pub last_error: Option<(i64, String)>,
    /// The last batch the receiver acknowledged.
    pub last_delivery_ms: Option<i64>,
}

impl SinkStatus {
    /// Every sink started in this process, by name.
    pub fn snapshot(&self) -> std::collections::BTreeMap<String, SinkState> {
        self.sinks.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn update(&self, sink: &str, change: impl FnOnce(&mut SinkState)) {
        let mut sinks = self.sinks.lock().unwrap_or_else(|p| p.into_inner());
        change(sinks.entry(sink.to_string()).or_default());
    }
}

impl SiemMetrics {
    /// Registers `dlpgate_siem_queued`, `dlpgate_siem_delivered_total` and
    /// `dlpgate_siem_failed_total`.
    pub fn register(&self, registry: &mut Registry) {
        let r = registry.sub_registry_with_prefix("dlpgate_siem");
        r.register("queued", "Incidents in the store not yet delivered to the sink", self.queued.clone());
        r.register("delivered", "Incidents the sink acknowledged", self.delivered.clone());
        r.register(
            "failed",
            "Incidents in batches the sink did not acknowledge (each is sent again)",
            self.failed.clone(),
        );
    }

    fn label(sink: &str) -> SinkLabel {
        SinkLabel { sink: sink.to_string() }
    }
}

/// One sink's delivery loop.
#[derive(Debug)]
pub struct SinkTask {
    /// Name, format and receiver.
    pub spec: SinkSpec,
    /// How to send.
    pub sender: Sender,
    /// Where to read.
    pub queue: Arc<dyn DeliveryQueue>,
    /// Pacing.
    pub settings: DeliverySettings,
    /// Counters.
    pub metrics: SiemMetrics,
    /// This machine's name, for syslog and HEC.
    pub host: String,
    /// Who holds the sink's lease: this machine and the server's listening address, unique
    /// among running servers and the same after a restart (which then resumes at once).
    pub owner: String,
}

impl SinkTask {
    /// Runs until the process ends.
    pub async fn run(self) {
        let label = SiemMetrics::label(&self.spec.name);
        let (queued, delivered, failed) = (
            self.metrics.queued.get_or_create(&label).clone(),
            self.metrics.delivered.get_or_create(&label).clone(),
            self.metrics.failed.get_or_create(&label).clone(),
        );
        let owner = self.owner.clone();
        let status = self.metrics.status.clone();
        status.update(&self.spec.name, |_| {});
        let lease = self.settings.lease;
        tracing::info!(sink = %self.spec.name, format = ?self.spec.format, "SIEM sink started");
        let mut cursor = QueuePosition::default();
        // When this server last took or renewed the sink's lease; `None` while it does not hold it.
        let mut held: Option<Instant> = None;
        let mut failures = 0u32;
        loop {
            if held.is_none_or(|at| at.elapsed() >= lease / 3) {
                if !self.claim(&owner).await {
                    if held.take().is_some() {
                        tracing::warn!(sink = %self.spec.name, "another server took this SIEM sink over");
                    }
                    tokio::time::sleep(self.settings.poll).await;
                    continue;
                }
                if held.is_none() {
                    // Taken (over): start where the last holder left off.
                    cursor = self.store_retrying("read the cursor", |q, name| q.cursor(name)).await;
                }
                held = Some(Instant::now());
            }
            let limit = self.settings.batch.max(1);
            let rows = self.store_retrying("read incidents", move |q, _| q.after(cursor, limit)).await;
            if rows.is_empty() {
                queued.set(0);
                tokio::time::sleep(self.settings.poll).await;
                continue;
            }
            let backlog = if rows.len() >= limit {
                self.store_retrying("count the backlog", move |q, _| q.backlog(cursor)).await
            } else {
                rows.len() as u64
            };
            queued.set(i64::try_from(backlog).unwrap_or(i64::MAX));
            let (last, payload, count) = self.fit(&rows);
            let mut sent = false;
            while !sent {
                match self.sender.send(&payload).await {
                    Ok(()) => sent = true,
                    Err(e) => {
                        failures = failures.saturating_add(1);
                        failed.inc_by(count as u64);
                        let error = e.to_string();
                        status.update(&self.spec.name, |s| {
                            s.last_error =
                                Some((crate::store::to_millis(std::time::SystemTime::now()), error))
                        });
                        let wait = self.settings.backoff(failures);
                        log_failure(&self.spec.name, &e, failures, wait, backlog);
                        tokio::time::sleep(wait).await;
                        if held.is_some_and(|at| at.elapsed() >= lease / 3) {
                            if !self.claim(&owner).await {
                                break;
                            }
                            held = Some(Instant::now());
                        }
                    }
                }
            }
            if !sent {
                // Lost the lease while retrying: the new holder sends this batch.
                held = None;
                tracing::warn!(sink = %self.spec.name, "another server took this SIEM sink over");
                continue;
            }
            if failures > 0 {
                tracing::info!(sink = %self.spec.name, after_failures = failures, "SIEM sink delivering again");
                failures = 0;
            }
            delivered.inc_by(count as u64);
            status.update(&self.spec.name, |s| {
                s.last_delivery_ms = Some(crate::store::to_millis(std::time::SystemTime::now()))
            });
            self.store_retrying("move the cursor", move |q, name| q.advance(name, last)).await;
            cursor = last;
            queued.set(i64::try_from(backlog.saturating_sub(count as u64)).unwrap_or(i64::MAX));
        }
    }

    /// Takes or renews this server's lease on the sink.
    async fn claim(&self, owner: &str) -> bool {
        let (owner, lease) = (owner.to_string(), self.settings.lease);
        self.store_retrying("claim the sink", move |q, name| q.claim(name, &owner, lease)).await
    }

    /// The leading incidents of `rows` that fit the byte limit (one at least), encoded: the
    /// position of the last one, the payload, and how many.
    fn fit(&self, rows: &[(QueuePosition, Incident)]) -> (QueuePosition, Payload, usize) {
        let mut take = rows.len();
        loop {
            let batch: Vec<Incident> = rows[..take].iter().map(|(_, i)| i.clone()).collect();
            let payload = encode(&batch, &self.spec.receiver, self.spec.format, &self.host);
            let size = match &payload {
                Payload::Syslog(m) => m.iter().map(String::len).sum(),
                Payload::Http(b) => b.len(),
            };
            if size <= self.settings.batch_bytes || take == 1 {
                return (rows[take - 1].0, payload, take);
            }
            // Shrink in proportion, then by halves: a few encodings at most.
            take = (take * self.settings.batch_bytes / size).clamp(1, take / 2);
        }
    }

    /// Runs a store call off the async workers until it succeeds, backing off between tries.
    async fn store_retrying<T: Send + 'static>(
        &self,
        what: &str,
        call: impl Fn(&dyn DeliveryQueue, &str) -> Result<T, StoreError> + Send + Sync + Clone + 'static,
    ) -> T {
        let mut failures = 0u32;
        loop {
            let (queue, name, call) = (self.queue.clone(), self.spec.name.clone(), call.clone());
            match tokio::task::spawn_blocking(move || call(queue.as_ref(), &name)).await {
                Ok(Ok(value)) => return value,
                Ok(Err(e)) => {
                    failures = failures.saturating_add(1);
                    if failures.is_power_of_two() {
                        tracing::warn!(sink = %self.spec.name, error = %e, failures, "SIEM sink cannot {what}; retrying");
                    }
                }
                Err(e) => {
                    tracing::error!(sink = %self.spec.name, error = %e, "SIEM store task failed; retrying")
                }
            }
            tokio::time::sleep(self.settings.backoff(failures.max(1))).await;
        }
    }
}

/// Logs the first failure in a row and then each time their count doubles.
fn log_failure(sink: &str, e: &SendError, failures: u32, wait: Duration, backlog: u64) {
    if failures.is_power_of_two() {
        tracing::warn!(
            sink,
            error = %e,
            failures,
            retry_in_ms = wait.as_millis() as u64,
            queued = backlog,
            "SIEM sink did not take the batch; it stays queued"
        );
    }
}

/// Starts one task per sink.
pub fn spawn_all(tasks: Vec<SinkTask>) {
    for task in tasks {
        tokio::spawn(task.run());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_limit() {
        let s = DeliverySettings::default();
        assert_eq!(s.backoff(1), Duration::from_millis(500));
        assert_eq!(s.backoff(2), Duration::from_secs(1));
        assert_eq!(s.backoff(4), Duration::from_secs(4));
        assert_eq!(s.backoff(7), Duration::from_secs(30));
        assert_eq!(s.backoff(u32::MAX), Duration::from_secs(30));
    }
}
