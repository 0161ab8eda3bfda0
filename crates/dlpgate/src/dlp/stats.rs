//! The server's Prometheus metrics: requests by method, status and verdict, verdicts, bytes scanned,
//! request and engine latency, open connections, TLS handshake failures, store errors, the
//! policy in force.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Labels of a request.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// ICAP method.
    pub method: &'static str,
    /// ICAP status sent.
    pub status: u16,
    /// allow, block, monitor, error (a could-not-scan block is a block), or none (OPTIONS).
    pub verdict: &'static str,
}

/// Labels of a verdict.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VerdictLabels {
    /// Service name.
    pub service: String,
    /// allow, block, monitor or exempt.
    pub verdict: &'static str,
}

/// Labels of a handshake failure.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    /// Why.
    pub reason: String,
}

/// Labels of the policy in force.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PolicyLabels {
    /// The policy's version: a hash of its text, as in the ISTag and incidents.
    pub version: String,
}

/// Every metric of `dlpgate serve`.
#[derive(Debug)]
pub struct ServeMetrics {
    requests: Family<RequestLabels, Counter>,
    verdicts: Family<VerdictLabels, Counter>,
    scanned_bytes: Counter,
    request_seconds: Histogram,
    engine_seconds: Histogram,
    open_connections: Gauge,
    tls_failures: Family<ReasonLabels, Counter>,
    store_errors: Counter,
    overloaded: Counter,
    memory_in_use: Gauge,
    spool_in_use: Gauge,
    policy_info: Family<PolicyLabels, Gauge>,
    policy_stored_version: Gauge,
    /// The memory and spool budgets, read into the gauges as requests are answered.
    budgets: std::sync::OnceLock<(icap::server::ByteBudget, icap::server::ByteBudget)>,
}

impl Default for ServeMetrics {
    fn default() -> Self {
        Self {
            requests: Family::default(),
            verdicts: Family::default(),
            scanned_bytes: Counter::default(),
            request_seconds: Histogram::new(exponential_buckets(0.000_05, 2.0, 20)),
            engine_seconds: Histogram::new(exponential_buckets(0.000_01, 2.0, 24)),
            open_connections: Gauge::default(),
            tls_failures: Family::default(),
            store_errors: Counter::default(),
            overloaded: Counter::default(),
            memory_in_use: Gauge::default(),
            spool_in_use: Gauge::default(),
            policy_info: Family::default(),
            policy_stored_version: Gauge::default(),
            budgets: std::sync::OnceLock::new(),
        }
    }
}

impl ServeMetrics {
    /// Registers everything under `dlpgate_`.
    pub fn register(&self, registry: &mut Registry) {
        let r = registry.sub_registry_with_prefix("dlpgate");
        r.register(
            "icap_requests",
            "ICAP requests answered, by method, status and verdict",
            self.requests.clone(),
        );
        r.register("verdicts", "DLP verdicts, by service", self.verdicts.clone());
        r.register("scanned_bytes", "Body bytes given to the inspection engine", self.scanned_bytes.clone());
        r.register("request_duration_seconds", "Time from ICAP head to answer", self.request_seconds.clone());
        r.register(
            "engine_duration_seconds",
            "Time spent reading and scanning a body",
            self.engine_seconds.clone(),
        );
        r.register("open_connections", "ICAP connections open now", self.open_connections.clone());
        r.register("tls_handshake_failures", "Failed TLS handshakes, by reason", self.tls_failures.clone());
        r.register("store_errors", "Incidents that could not be recorded", self.store_errors.clone());
        r.register(
            "overloaded",
            "Requests answered 503 because the memory or spool budget, or the scan threads, stayed busy",
            self.overloaded.clone(),
        );
        r.register(
            "memory_budget_used_bytes",
            "Bytes of the --max-memory budget in use",
            self.memory_in_use.clone(),
        );
        r.register(
            "spool_budget_used_bytes",
            "Bytes of the --max-spool budget in use",
            self.spool_in_use.clone(),
        );
        r.register(
            "policy_info",
            "The policy in force: 1, labelled with its version (a hash of its text, as in the ISTag)",
            self.policy_info.clone(),
        );
        r.register(
            "policy_stored_version",
            "The stored policy version in force (policy push); 0 for a policy file or the built-in policy",
            self.policy_stored_version.clone(),
        );
    }

    /// A policy was put in force.
    pub fn policy_in_force(&self, version: &str, stored_version: Option<i64>) {
        self.policy_info.clear();
        self.policy_info.get_or_create(&PolicyLabels { version: version.to_string() }).set(1);
        self.policy_stored_version.set(stored_version.unwrap_or(0));
    }

    /// Reports what the budgets hold in the gauges from now on.
    pub fn watch_budgets(&self, memory: icap::server::ByteBudget, spool: icap::server::ByteBudget) {
        let _ = self.budgets.set((memory, spool));
    }

    /// One request answered 503 for a spent budget.
    pub fn overloaded(&self) {
        self.overloaded.inc();
    }

    /// One answered request.
    pub fn request(&self, record: &icap::server::RequestRecord) {
        self.requests
            .get_or_create(&RequestLabels {
                method: record.method.as_str(),
                status: record.status,
                verdict: record.verdict,
            })
            .inc();
        self.request_seconds.observe(record.elapsed.as_secs_f64());
        if let Some((memory, spool)) = self.budgets.get() {
            self.memory_in_use.set(memory.in_use() as i64);
            self.spool_in_use.set(spool.in_use() as i64);
        }
    }

    /// One verdict.
    pub fn verdict(&self, service: &str, verdict: &'static str) {
        self.verdicts.get_or_create(&VerdictLabels { service: service.to_string(), verdict }).inc();
    }

    /// One scanned body.
    pub fn scanned(&self, bytes: u64, took: Duration) {
        self.scanned_bytes.inc_by(bytes);
        self.engine_seconds.observe(took.as_secs_f64());
    }

    /// A connection opened (+1) or closed (-1).
    pub fn connection(&self, delta: i64) {
        self.open_connections.inc_by(delta);
    }

    /// A failed handshake.
    pub fn tls_failure(&self, reason: &str) {
        self.tls_failures.get_or_create(&ReasonLabels { reason: reason.to_string() }).inc();
    }

    /// A failed incident write.
    pub fn store_error(&self) {
        self.store_errors.inc();
    }
}
