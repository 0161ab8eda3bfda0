//! `dlpgate serve`'s SIEM flags (each also a `--config` key; `siem` and `siem-format` take a
//! list there).

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::delivery::DeliverySettings;
use super::send::SiemTls;
use super::target::SiemFormat;

/// Where incidents are forwarded, beside the store.
#[derive(Debug, Clone, Default, Args)]
pub struct SiemArgs {
    /// Forward every incident to a SIEM, at least once (repeatable): syslog+udp://HOST:PORT,
    /// syslog+tcp://HOST:PORT, syslog+tls://HOST:6514, https://HOST/services/collector/event
    /// (Splunk HEC), any other https:// URL (a JSON webhook); http:// only to loopback. Each
    /// sink keeps its place in the incident store and starts with the incidents made after it
    /// was first configured.
    #[arg(long = "siem", value_name = "URL")]
    pub urls: Vec<String>,
    /// Format for the --siem of the same rank (repeatable): cef, rfc5424 or json. Default:
    /// rfc5424 for syslog, json for https.
    #[arg(long = "siem-format", value_enum, value_name = "FORMAT")]
    pub formats: Vec<SiemFormat>,
    /// File holding the token of an https sink (repeatable, in the order of the https
    /// --siem sinks): sent as `Authorization: Splunk TOKEN` to HEC, `Bearer TOKEN` to a
    /// webhook.
    #[arg(long = "siem-token-file", value_name = "FILE")]
    pub token_files: Vec<PathBuf>,
    /// CA bundle that syslog+tls and https receivers' certificates must chain to (their name is
    /// checked too). Default: the system bundle, /etc/ssl/certs/ca-certificates.crt.
    #[arg(long = "siem-ca", value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// Client certificate (chain, or combined key+cert PEM) shown to TLS receivers.
    #[arg(long = "siem-client-cert", value_name = "FILE")]
    pub client_cert: Option<PathBuf>,
    /// Its private key (default: read from --siem-client-cert).
    #[arg(long = "siem-client-key", value_name = "FILE")]
    pub client_key: Option<PathBuf>,
    /// Incidents per batch sent to a sink.
    #[arg(long = "siem-batch", default_value_t = DeliverySettings::DEFAULT_BATCH)]
    pub batch: usize,
    /// Milliseconds between two looks for new incidents when a sink is idle.
    #[arg(long = "siem-poll-ms", default_value_t = DeliverySettings::DEFAULT_POLL.as_millis() as u64)]
    pub poll_ms: u64,
    /// Longest wait, in milliseconds, between two tries of a batch a sink did not take (the
    /// wait starts at 500 ms and doubles).
    #[arg(long = "siem-retry-max-ms", default_value_t = DeliverySettings::DEFAULT_RETRY_MAX.as_millis() as u64)]
    pub retry_max_ms: u64,
    /// Milliseconds a server holds a sink once it claimed it (renewed every third of it).
    /// Several servers on one PostgreSQL store: one sends each sink's incidents, and another
    /// takes over this long after it stopped.
    #[arg(long = "siem-lease-ms", default_value_t = DeliverySettings::DEFAULT_LEASE.as_millis() as u64)]
    pub lease_ms: u64,
    /// Milliseconds a sink has to acknowledge a batch.
    #[arg(long = "siem-send-timeout-ms", default_value_t = DeliverySettings::DEFAULT_SEND_TIMEOUT.as_millis() as u64)]
    pub send_timeout_ms: u64,
}

impl SiemArgs {
    /// The pacing settings.
    pub fn delivery(&self) -> DeliverySettings {
        DeliverySettings {
            batch: self.batch.max(1),
            poll: Duration::from_millis(self.poll_ms.max(1)),
            retry_max: Duration::from_millis(self.retry_max_ms.max(1)),
            send_timeout: Duration::from_millis(self.send_timeout_ms.max(1)),
            lease: Duration::from_millis(self.lease_ms.max(1)),
            ..DeliverySettings::default()
        }
    }

    /// The TLS settings.
    pub fn tls(&self) -> SiemTls {
        SiemTls { ca: self.ca.clone(), cert: self.client_cert.clone(), key: self.client_key.clone() }
    }
}
