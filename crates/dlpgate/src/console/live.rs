//! The server's own metrics, as the dashboard shows them: when the console runs inside
//! `dlpgate serve`, it reads the same Prometheus registry the `/metrics` endpoint serves
//! (encoded as text and read back: one source of truth, whatever registers in it), every
//! [`SAMPLE_EVERY`], and keeps the last [`SAMPLES_KEPT`] readings in memory to draw requests
//! per second and engine latency. `dlpgate console` on its own has no such registry: the page
//! says so.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::registry::Registry;

/// How often the registry is read.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(5);
/// Readings kept: 5 minutes at one per 5 s (plus the one before the first interval).
pub const SAMPLES_KEPT: usize = 61;

/// The live metrics of the server the console runs in.
#[derive(Clone)]
pub struct LiveMetrics {
    registry: Arc<Registry>,
    /// The SIEM sinks' last errors and deliveries.
    pub siem: crate::siem::delivery::SinkStatus,
    samples: Arc<Mutex<VecDeque<Sample>>>,
}

impl std::fmt::Debug for LiveMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveMetrics").finish_non_exhaustive()
    }
}

/// One reading of the registry.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sample {
    /// When (ms since the epoch).
    pub at_ms: i64,
    /// ICAP requests answered so far (every method and status).
    pub requests: f64,
    /// The engine-time histogram: (upper bound in seconds, cumulative count), `+Inf` last.
    pub engine_buckets: Vec<(f64, f64)>,
    /// Incidents waiting in the journal for the store.
    pub journal_pending: Option<f64>,
    /// Per SIEM sink: (name, queued, delivered, failed).
    pub siem: Vec<(String, f64, f64, f64)>,
}

impl LiveMetrics {
    /// Wraps the server's registry and starts reading it (call inside a tokio runtime).
    pub fn start(registry: Arc<Registry>, siem: crate::siem::delivery::SinkStatus) -> Self {
        let live = Self { registry, siem, samples: Arc::new(Mutex::new(VecDeque::new())) };
        let sampler = live.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(SAMPLE_EVERY);
            loop {
                tick.tick().await;
                sampler.sample();
            }
        });
        live
    }

    /// Reads the registry now and keeps the reading.
    pub fn sample(&self) -> Sample {
        let sample = self.sample_fresh();
        let mut samples = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        if samples.len() >= SAMPLES_KEPT {
            samples.pop_front();
        }
        samples.push_back(sample.clone());
        sample
    }

    /// The readings kept, oldest first, and a fresh one at the end.
    pub fn readings(&self) -> Vec<Sample> {
        let now = self.sample_fresh();
        let mut all: Vec<Sample> =
            self.samples.lock().unwrap_or_else(|p| p.into_inner()).iter().cloned().collect();
        all.push(now);
        all
    }

    /// A reading not kept (the page's own "now").
    fn sample_fresh(&self) -> Sample {
        let mut text = String::new();
        match prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            Ok(()) => parse(&text, crate::console::db::now_ms()),
            Err(_) => Sample { at_ms: crate::console::db::now_ms(), ..Sample::default() },
        }
    }
}

/// Reads the series the dashboard needs out of the OpenMetrics text.
pub fn parse(text: &str, at_ms: i64) -> Sample {
    let mut sample = Sample { at_ms, ..Sample::default() };
    let mut sinks: std::collections::BTreeMap<String, (f64, f64, f64)> = Default::default();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else { continue };
        let Ok(value) = value.parse::<f64>() else { continue };
        let (name, labels) = series.split_once('{').unwrap_or((series, ""));
        match name {
            "dlpgate_icap_requests_total" => sample.requests += value,
            "dlpgate_engine_duration_seconds_bucket" => {
                let bound = label(labels, "le").and_then(|le| {
                    if le == "+Inf" {
                        Some(f64::INFINITY)
                    } else {
                        le.parse().ok()
                    }
                });
                if let Some(bound) = bound {
                    sample.engine_buckets.push((bound, value));
                }
            }
            "dlpgate_incident_journal_pending" => sample.journal_pending = Some(value),
            "dlpgate_siem_queued" | "dlpgate_siem_delivered_total" | "dlpgate_siem_failed_total" => {
                if let Some(sink) = label(labels, "sink") {
                    let entry = sinks.entry(sink).or_default();
                    match name {
                        "dlpgate_siem_queued" => entry.0 = value,
                        "dlpgate_siem_delivered_total" => entry.1 = value,
                        _ => entry.2 = value,
                    }
                }
            }
            _ => {}
        }
    }
    sample.siem = sinks.into_iter().map(|(name, (q, d, f))| (name, q, d, f)).collect();
    sample
}

/// A label's value (OpenMetrics escapes `\\`, `\"` and `\n` in it).
fn label(labels: &str, key: &str) -> Option<String> {
    let start = labels.find(&format!("{key}=\""))? + key.len() + 2;
    let mut out = String::new();
    let mut chars = labels[start..].chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                other => out.push(other),
            },
            other => out.push(other),
        }
    }
    None
}

/// Requests per second between two readings.
pub fn rate(earlier: &Sample, later: &Sample) -> f64 {
    let seconds = (later.at_ms - earlier.at_ms) as f64 / 1000.0;
    if seconds <= 0.0 {
        return 0.0;
    }
    ((later.requests - earlier.requests) / seconds).max(0.0)
}

/// The engine time under which `quantile` of the scans between two readings finished: the
/// upper bound of the histogram bucket it falls in (seconds); none without scans.
pub fn engine_quantile(earlier: &Sample, later: &Sample, quantile: f64) -> Option<f64> {
    let count_of =
        |s: &Sample, bound: f64| s.engine_buckets.iter().find(|(b, _)| *b == bound).map_or(0.0, |(_, n)| *n);
    let total = later.engine_buckets.last().map(|(b, n)| n - count_of(earlier, *b))?;
    if total <= 0.0 {
        return None;
    }
    later
        .engine_buckets
        .iter()
        .find(|(bound, n)| (n - count_of(earlier, *bound)) >= total * quantile)
        .map(|(bound, _)| *bound)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"# HELP dlpgate_icap_requests ICAP requests answered
# TYPE dlpgate_icap_requests counter
dlpgate_icap_requests_total{method="REQMOD",status="200",verdict="allow"} 90
dlpgate_icap_requests_total{method="OPTIONS",status="200",verdict="none"} 10
dlpgate_engine_duration_seconds_sum 0.5
dlpgate_engine_duration_seconds_count 100
dlpgate_engine_duration_seconds_bucket{le="0.001"} 50
dlpgate_engine_duration_seconds_bucket{le="0.002"} 99
dlpgate_engine_duration_seconds_bucket{le="+Inf"} 100
dlpgate_incident_journal_pending 3
dlpgate_siem_queued{sink="syslog+tcp://127.0.0.1:514"} 7
dlpgate_siem_delivered_total{sink="syslog+tcp://127.0.0.1:514"} 20
dlpgate_siem_failed_total{sink="syslog+tcp://127.0.0.1:514"} 2
# EOF
"#;

    #[test]
    fn the_registry_text_is_read_into_rates_and_quantiles() {
        let later = parse(TEXT, 10_000);
        assert_eq!(later.requests, 100.0);
        assert_eq!(later.journal_pending, Some(3.0));
        assert_eq!(later.siem, vec![("syslog+tcp://127.0.0.1:514".to_string(), 7.0, 20.0, 2.0)]);
        let earlier = Sample {
            at_ms: 0,
            requests: 50.0,
            engine_buckets: vec![(0.001, 50.0), (0.002, 50.0), (f64::INFINITY, 50.0)],
            ..Sample::default()
        };
        assert_eq!(rate(&earlier, &later), 5.0);
        // Between the two: 0 under 1 ms, 49 under 2 ms, 1 above.
        assert_eq!(engine_quantile(&earlier, &later, 0.5), Some(0.002));
        assert_eq!(engine_quantile(&earlier, &later, 0.99), Some(f64::INFINITY));
        assert_eq!(engine_quantile(&later, &later, 0.5), None, "no scan in between");
        assert_eq!(label(r#"sink="a\"b\\c""#, "sink").as_deref(), Some("a\"b\\c"));
    }
}
