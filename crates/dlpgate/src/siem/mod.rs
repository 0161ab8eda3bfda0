//! Incidents as SIEMs read them: ArcSight CEF, RFC 5424 syslog with structured data, and JSON
//! with Elastic Common Schema field names. Each format carries only what the incident
//! store holds: masked evidence, never a matched value.
//!
//! `dlpgate incidents export --format cef|rfc5424|ecs` writes them, and the SIEM sinks of
//! `serve --siem URL` send the same lines, at least once (docs/SIEM.md):
//! - [`args`]: the `--siem*` flags;
//! - [`target`]: what a `--siem` URL names, and the pairing with formats and token files;
//! - [`encode`]: a batch as syslog messages or an HTTP body;
//! - [`send`]: one batch to one receiver, and its receipt;
//! - [`delivery`]: a task per sink that reads the store after its cursor, sends, retries and
//!   moves the cursor, and the `dlpgate_siem_*` metrics.

pub mod args;
mod cef;
pub mod delivery;
mod ecs;
pub mod encode;
pub mod send;
mod syslog;
pub mod target;

use std::path::Path;
use std::sync::Arc;

pub use args::SiemArgs;
pub use cef::cef;
pub use ecs::ecs;
pub use syslog::rfc5424;

use crate::store::{Incident, PostgresSettings};

/// Checks every `--siem` sink (URL, token file, TLS files), opens the store's delivery queue
/// and starts one delivery task per sink. Any error stops start-up: a sink configured but
/// not working would lose nothing, but nobody would know.
pub async fn start(
    args: &SiemArgs,
    data_dir: &Path,
    store_url: Option<&str>,
    postgres: PostgresSettings,
    metrics: &delivery::SiemMetrics,
    listen: std::net::SocketAddr,
) -> anyhow::Result<()> {
    use anyhow::Context;
    if args.urls.is_empty() {
        return Ok(());
    }
    let specs =
        target::sink_specs(&args.urls, &args.formats, &args.token_files).map_err(anyhow::Error::msg)?;
    let settings = args.delivery();
    let tls = args.tls();
    let mut senders = Vec::new();
    for spec in &specs {
        let (sender, warnings) =
            send::Sender::new(spec, &tls, settings.send_timeout).map_err(anyhow::Error::msg)?;
        for warning in warnings {
            tracing::warn!(sink = %spec.name, "{warning}");
        }
        senders.push(sender);
    }
    let (dir, url) = (data_dir.to_path_buf(), store_url.map(str::to_string));
    let names: Vec<String> = specs.iter().map(|s| s.name.clone()).collect();
    // The cursors of new sinks are placed now, before the listeners open: a sink sees every
    // incident made after start-up.
    let queue = tokio::task::spawn_blocking(move || {
        let queue = crate::store::delivery_queue::open_queue(&dir, url.as_deref(), &postgres)?;
        for name in &names {
            queue.cursor(name)?;
        }
        Ok::<_, crate::store::StoreError>(queue)
    })
    .await
    .context("opening the SIEM delivery queue")?
    .context("opening the SIEM delivery queue")?;
    let host = hostname();
    let tasks = specs
        .into_iter()
        .zip(senders)
        .map(|(spec, sender)| delivery::SinkTask {
            spec,
            sender,
            queue: Arc::clone(&queue),
            settings,
            metrics: metrics.clone(),
            host: host.clone(),
            owner: format!("{host}/{listen}"),
        })
        .collect();
    delivery::spawn_all(tasks);
    Ok(())
}

/// The product version in every format's header.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// A 0-10 severity (CEF's scale; ECS's `event.severity` takes the same number): the highest
/// rule severity when rules set one, else from the action.
pub fn severity(i: &Incident) -> u8 {
    match i.severity.as_deref() {
        Some("critical") => 10,
        Some("high") => 8,
        Some("medium") => 5,
        Some("low") => 3,
        Some("info") => 1,
        _ => match i.action.as_str() {
            "block" => 7,
            "monitor" => 5,
            _ => 1,
        },
    }
}

/// This machine's host name for syslog's HOSTNAME field (`-` when unknown).
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic()))
        .unwrap_or_else(|| "-".to_string())
}

/// The client's IP address without a port (`client_addr` may be `ip:port` or `[v6]:port`);
/// `None` when it is not an IP address.
pub fn source_ip(i: &Incident) -> Option<std::net::IpAddr> {
    let a = i.client_addr.as_deref()?;
    a.parse::<std::net::SocketAddr>().map(|s| s.ip()).or_else(|_| a.parse()).ok()
}

/// The masked evidence as one line: `detector masked @ location; ...`.
pub fn evidence_line(i: &Incident) -> String {
    i.evidence
        .iter()
        .map(|e| format!("{} {} @ {}", e.detector, e.masked, e.location))
        .collect::<Vec<_>>()
        .join("; ")
}

/// What happened, in words: `blocked`, `monitored`, `allowed`.
pub fn outcome(i: &Incident) -> &'static str {
    match i.action.as_str() {
        "block" => "blocked",
        "monitor" => "monitored",
        _ => "allowed",
    }
}

#[cfg(test)]
pub(crate) mod sample {
    use std::collections::BTreeMap;
    use std::time::{Duration, UNIX_EPOCH};

    use crate::store::{EvidenceRecord, Incident};

    /// An incident with every special character of the formats in its file name and URL.
    pub fn incident() -> Incident {
        Incident {
            id: "01JF0000000000000000000000".into(),
            time: UNIX_EPOCH + Duration::from_millis(1_765_000_000_123),
            service: "reqmod".into(),
            method: "REQMOD".into(),
            client_addr: Some("192.0.2.7:51234".into()),
            tls_subject: Some("CN=casb-1".into()),
            user: Some("jane=doe\\ops".into()),
            groups: vec!["finance".into()],
            claimed: None,
            url: Some("https://files.example/up?a=1&b=x|y\\z\"]".into()),
            file_name: Some("q3 = \"plan\"|v2\\final]\nnext.xlsx".into()),
            content_type: Some("application/vnd.ms-excel".into()),
            size: 4096,
            sha256: "ab".repeat(32),
            rules: vec!["credit-card".into(), "us-ssn".into()],
            counts: BTreeMap::from([("credit_card".into(), 2)]),
            evidence: vec![EvidenceRecord {
                detector: "credit_card".into(),
                masked: "4111********1111".into(),
                location: "q3.xlsx/xl/sharedStrings.xml@120".into(),
            }],
            action: "block".into(),
            reason: None,
            severity: Some("high".into()),
            policy_version: "3f2a9c".into(),
        }
    }
}
