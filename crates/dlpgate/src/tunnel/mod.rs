//! `dlpgate tunnel --config stunnel.conf`: a stunnel-compatible TLS tunnel on rustls.
//!
//! The seed's stunnel.conf works unchanged. Where stunnel would check nothing (CAfile without
//! a verify option), the tunnel verifies against CAfile and says so; `verify = 0` restores
//! stunnel's behaviour with a loud warning.

pub mod config;
pub mod forward;
pub mod stats;
pub mod tls;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use icap::tls::{describe_cert, load_certs, ReloadableTls};
use rustls_pki_types::ServerName;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use self::config::{ServiceConf, TunnelConfig};
use self::forward::{accept_addr, proxy_v1_header, splice, Backends, Timeouts};
use self::stats::{BackendLabels, ReasonLabels, ServiceLabels, TunnelMetrics};
use self::tls::ServiceTls;

/// `dlpgate tunnel` settings.
#[derive(Debug, Clone, Args)]
pub struct TunnelArgs {
    /// stunnel.conf to read.
    #[arg(long)]
    pub config: PathBuf,
    /// Address of the Prometheus endpoint (off unless given).
    #[arg(long)]
    pub metrics_listen: Option<SocketAddr>,
    /// Check the configuration and exit.
    #[arg(long)]
    pub check: bool,
    /// Seconds in-flight connections may run after SIGTERM or SIGINT.
    #[arg(long, default_value_t = 30)]
    pub shutdown_grace: u64,
    /// Worker threads (default: one per core). One thread spends the least CPU per
    /// connection; more carry more traffic.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Connections tunnelled at once, over all services; more are closed at once.
    #[arg(long, default_value_t = icap::server::ServerConfig::DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,
    /// TLS handshakes from clients under way at once, apart from --max-connections; when full,
    /// the oldest is dropped to make room.
    #[arg(long, default_value_t = icap::server::ServerConfig::DEFAULT_MAX_HANDSHAKES)]
    pub max_handshakes: usize,
    /// Seconds a TLS handshake (with a client or a backend) may take; a shorter TIMEOUTbusy
    /// wins.
    #[arg(long, default_value_t = icap::server::ServerConfig::DEFAULT_TLS_HANDSHAKE_TIMEOUT.as_secs())]
    pub handshake_timeout: u64,
}

/// The caps every service of the tunnel shares.
#[derive(Debug, Clone)]
struct Caps {
    connections: Arc<tokio::sync::Semaphore>,
    opening: icap::server::OpeningSlots,
    handshake_timeout: std::time::Duration,
}

/// The log filter for stunnel's `debug` level (a syslog name or number).
pub fn log_filter(config: &TunnelConfig) -> String {
    let level = config.globals.debug.as_deref().unwrap_or("notice").to_ascii_lowercase();
    let level = level.rsplit('.').next().unwrap_or("notice").to_string();
    match level.as_str() {
        "0" | "1" | "2" | "3" | "emerg" | "alert" | "crit" | "err" => "error",
        "4" | "warning" => "warn",
        "5" | "6" | "notice" | "info" => "info",
        _ => "debug",
    }
    .to_string()
}

/// One service, ready to accept.
struct Service {
    conf: ServiceConf,
    listener: TcpListener,
    backends: Arc<Backends>,
    mode: Mode,
}

enum Mode {
    Server(Arc<ReloadableTls>),
    Client(Arc<rustls::ClientConfig>),
}

/// Reads the configuration (errors name their line), then tunnels until SIGTERM or SIGINT.
pub fn run(args: TunnelArgs, config: TunnelConfig) -> anyhow::Result<()> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = args.threads {
        builder.worker_threads(threads.max(1));
    }
    let runtime = builder.enable_all().build().context("starting the runtime")?;
    runtime.block_on(serve(args, config))
}

async fn serve(args: TunnelArgs, config: TunnelConfig) -> anyhow::Result<()> {
    crate::runtime::raise_nofile_limit();
    if matches!(config.globals.foreground.as_deref(), Some("no")) {
        tracing::info!(
            "foreground = no: dlpgate tunnel stays in the foreground (as a systemd service expects)"
        );
    }
    let metrics = TunnelMetrics::default();
    let mut services = Vec::new();
    let mut watchers = Vec::new();
    for conf in &config.services {
        let mut notes = Vec::new();
        let mode = match tls::service_tls(conf, &mut notes)? {
            ServiceTls::Server(settings) => {
                let (tls, warnings) =
                    ReloadableTls::new(settings).with_context(|| format!("[{}] TLS", conf.name))?;
                notes.extend(warnings);
                let tls = Arc::new(tls);
                match icap::watch::watch_files(tls.clone()) {
                    Ok(w) => watchers.push(w),
                    Err(e) => {
                        tracing::warn!(error = %e, "[{}] cannot watch the TLS files; reload with SIGHUP", conf.name)
                    }
                }
                Mode::Server(tls)
            }
            ServiceTls::Client(settings) => {
                let (client, warnings) = settings.build().with_context(|| format!("[{}] TLS", conf.name))?;
                notes.extend(warnings);
                Mode::Client(client)
            }
        };
        for note in notes {
            tracing::warn!("{note}");
        }
        record_expiry(&metrics, conf);
        let addr = accept_addr(conf.accept.as_deref().unwrap_or_default());
        let listener =
            TcpListener::bind(&addr).await.with_context(|| format!("[{}] accept = {addr}", conf.name))?;
        tracing::info!(
            service = %conf.name,
            accept = %addr,
            connect = ?conf.connect,
            tls = if conf.client { "to the backend" } else { "from clients" },
            "tunnel service ready"
        );
        services.push(Service {
            conf: conf.clone(),
            listener,
            backends: Arc::new(Backends::new(conf)),
            mode,
        });
    }
    if args.check {
        println!("configuration OK: {} service(s)", services.len());
        return Ok(());
    }
    let _pid = PidFile::create(config.globals.pid.as_deref())?;
    if let Some(addr) = args.metrics_listen {
        let mut registry = prometheus_client::registry::Registry::default();
        metrics.register(&mut registry);
        crate::metrics::serve(addr, Arc::new(registry)).await?;
    }
    let shutdown = CancellationToken::new();
    let tasks = TaskTracker::new();
    let caps = Caps {
        connections: Arc::new(tokio::sync::Semaphore::new(args.max_connections.max(1))),
        opening: icap::server::OpeningSlots::new(args.max_handshakes),
        handshake_timeout: std::time::Duration::from_secs(args.handshake_timeout.max(1)),
    };
    for service in services {
        if let Mode::Server(tls) = &service.mode {
            tokio::spawn(crate::runtime::reload_on_sighup(tls.clone()));
        }
        tasks.spawn(accept_loop(service, metrics.clone(), shutdown.clone(), tasks.clone(), caps.clone()));
    }
    crate::runtime::shutdown_signal().await;
    shutdown.cancel();
    tasks.close();
    let grace = std::time::Duration::from_secs(args.shutdown_grace);
    if tokio::time::timeout(grace, tasks.wait()).await.is_err() {
        tracing::warn!("shutdown grace period over; closing remaining connections");
    }
    drop(watchers);
    Ok(())
}

fn record_expiry(metrics: &TunnelMetrics, conf: &ServiceConf) {
    let Some(cert) = &conf.cert else { return };
    if let Some(info) = load_certs(cert).ok().and_then(|c| c.first().and_then(|c| describe_cert(c).ok())) {
        metrics
            .cert_expiry_days
            .get_or_create(&ServiceLabels { service: conf.name.clone() })
            .set(info.days_left());
    }
}

async fn accept_loop(
    service: Service,
    metrics: TunnelMetrics,
    shutdown: CancellationToken,
    tasks: TaskTracker,
    caps: Caps,
) {
    let service = Arc::new(service);
    loop {
        let accepted = tokio::select! {
            a = service.listener.accept() => a,
            () = shutdown.cancelled() => return,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(service = %service.conf.name, error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        // A client that must still finish a TLS handshake takes an opening slot first; one
        // that needs none takes its connection slot now.
        let stage = match service.mode {
            Mode::Server(_) => {
                let (opening, evicted) = caps.opening.admit();
                if evicted {
                    tracing::debug!(service = %service.conf.name, "handshakes full: the oldest was dropped");
                }
                Stage::Opening(opening)
            }
            Mode::Client(_) => match caps.connections.clone().try_acquire_owned() {
                Ok(permit) => Stage::Open(permit),
                Err(_) => {
                    tracing::warn!(service = %service.conf.name, %peer, "connection limit reached; closing");
                    continue;
                }
            },
        };
        let (service, metrics, caps) = (service.clone(), metrics.clone(), caps.clone());
        tasks.spawn(async move {
            let labels = ServiceLabels { service: service.conf.name.clone() };
            metrics.connections.get_or_create(&labels).inc();
            metrics.open_connections.get_or_create(&labels).inc();
            handle(&service, stream, peer, &metrics, &caps, stage).await;
            metrics.open_connections.get_or_create(&labels).dec();
        });
    }
}

/// Where a connection stands when its task starts.
enum Stage {
    /// A TLS handshake from the client is still to come.
    Opening(icap::server::OpeningSlot),
    /// Holding its connection slot (freed when the connection ends).
    Open(#[allow(dead_code)] tokio::sync::OwnedSemaphorePermit),
}

async fn handle(
    service: &Service,
    stream: TcpStream,
    peer: SocketAddr,
    metrics: &TunnelMetrics,
    caps: &Caps,
    stage: Stage,
) {
    let conf = &service.conf;
    let timeouts = Timeouts { idle: conf.timeout_idle, close: conf.timeout_close };
    let handshake_timeout = caps.handshake_timeout.min(conf.timeout_busy);
    let local = stream.local_addr().unwrap_or(peer);
    match &service.mode {
        Mode::Server(tls) => {
            let Stage::Opening(opening) = stage else { return };
            let acceptor = tokio_rustls::TlsAcceptor::from(tls.current());
            let handshake = tokio::select! {
                h = tokio::time::timeout(handshake_timeout, acceptor.accept(stream)) => h,
                () = opening.evicted.cancelled() => return handshake_failed(metrics, conf, peer, "evicted"),
            };
            drop(opening);
            let tls_stream = match handshake {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => return handshake_failed(metrics, conf, peer, &e.to_string()),
                Err(_) => return handshake_failed(metrics, conf, peer, "timeout"),
            };
            let Ok(_permit) = caps.connections.clone().try_acquire_owned() else {
                tracing::warn!(service = %conf.name, %peer, "connection limit reached; closing");
                return;
            };
            let Some((mut backend, addr)) = connect_backend(service, metrics).await else { return };
            if conf.proxy_protocol && !send_proxy_header(&mut backend, peer, local).await {
                return;
            }
            let (up, down) = splice(tls_stream, backend, timeouts).await;
            tracing::debug!(service = %conf.name, %peer, backend = %addr, up, down, "connection closed");
        }
        Mode::Client(client) => {
            let _permit = stage;
            let Some((mut backend, addr)) = connect_backend(service, metrics).await else { return };
            if conf.proxy_protocol && !send_proxy_header(&mut backend, peer, local).await {
                return;
            }
            let name = server_name(conf, &addr);
            let connector = tokio_rustls::TlsConnector::from(client.clone());
            let tls_stream =
                match tokio::time::timeout(handshake_timeout, connector.connect(name, backend)).await {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => return handshake_failed(metrics, conf, peer, &e.to_string()),
                    Err(_) => return handshake_failed(metrics, conf, peer, "timeout"),
                };
            let (up, down) = splice(stream, tls_stream, timeouts).await;
            tracing::debug!(service = %conf.name, %peer, backend = %addr, up, down, "connection closed");
        }
    }
}

async fn send_proxy_header(backend: &mut TcpStream, peer: SocketAddr, local: SocketAddr) -> bool {
    use tokio::io::AsyncWriteExt;
    backend.write_all(proxy_v1_header(peer, local).as_bytes()).await.is_ok()
}

fn handshake_failed(metrics: &TunnelMetrics, conf: &ServiceConf, peer: SocketAddr, error: &str) {
    let reason = classify(error);
    tracing::warn!(service = %conf.name, %peer, %reason, error, "TLS handshake failed");
    metrics
        .handshake_failures
        .get_or_create(&ReasonLabels { service: conf.name.clone(), reason: reason.to_string() })
        .inc();
}

/// A short reason label for a handshake error.
fn classify(error: &str) -> &'static str {
    if error == "timeout" {
        "timeout"
    } else if error == "evicted" {
        "evicted"
    } else if error.contains("no certificates") || error.contains("CertificateRequired") {
        "no_client_certificate"
    } else if error.contains("Expired") || error.contains("certificate expired") {
        "certificate_expired"
    } else if error.contains("NotValidForName") || error.contains("not valid for name") {
        "certificate_name_mismatch"
    } else if error.contains("UnknownIssuer")
        || error.contains("InvalidCertificate")
        || error.contains("BadCertificate")
    {
        "certificate_rejected"
    } else if error.contains("InvalidContentType") || error.contains("corrupt") || error.contains("Corrupt") {
        "not_tls"
    } else if error.contains("eof") || error.contains("EOF") {
        "closed_during_handshake"
    } else {
        "other"
    }
}

async fn connect_backend(service: &Service, metrics: &TunnelMetrics) -> Option<(TcpStream, String)> {
    let name = &service.conf.name;
    let connected = service
        .backends
        .connect(|addr, e| {
            tracing::warn!(service = %name, backend = addr, error = %e, "backend connect failed");
            metrics
                .backend_connect_failures
                .get_or_create(&BackendLabels { service: name.clone(), backend: addr.to_string() })
                .inc();
        })
        .await;
    if connected.is_none() {
        tracing::error!(service = %name, "no backend answered; closing the client connection");
    }
    connected
}

/// SNI and the name rustls verifies: `sni`, else the host of the `connect` address.
fn server_name(conf: &ServiceConf, addr: &str) -> ServerName<'static> {
    let host = conf.sni.clone().unwrap_or_else(|| {
        let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
        host.trim_start_matches('[').trim_end_matches(']').to_string()
    });
    ServerName::try_from(host).unwrap_or_else(|_| ServerName::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()))
}

/// The `pid` file: written at start, removed at exit.
struct PidFile(Option<PathBuf>);

impl PidFile {
    fn create(path: Option<&Path>) -> anyhow::Result<Self> {
        if let Some(path) = path {
            std::fs::write(path, format!("{}\n", std::process::id()))
                .with_context(|| format!("writing the pid file {}", path.display()))?;
        }
        Ok(Self(path.map(Path::to_path_buf)))
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        if let Some(path) = &self.0 {
            let _ = std::fs::remove_file(path);
        }
    }
}
