//! `dlpgate serve`: the plain and TLS listeners, reload and graceful shutdown (the signals are
//! in [`crate::runtime`], the flags in `args`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use icap::server::{bind, Listener, Server, ServerConfig, Transport};
use icap::tls::{ReloadableTls, TlsServerSettings};

use crate::dlp::stats::ServeMetrics;
use crate::dlp::{DlpService, DlpSettings, PolicySource, StoredPolicy};
use crate::runtime::{raise_nofile_limit, reload_on_sighup, shutdown_signal};
use crate::store::durable::IncidentRecorder;
use crate::store::journal::Journal;
use crate::store::PostgresSettings;

mod args;
pub mod follow;

pub use args::{ServeArgs, TlsArgs, DEFAULT_TLS_LISTEN};

/// Runs the server until SIGTERM or SIGINT, then drains in-flight requests.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = args.threads {
        runtime.worker_threads(threads.max(1));
    }
    let runtime = runtime.enable_all().build().context("starting the async runtime")?;
    runtime.block_on(serve(args))
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let nofile = raise_nofile_limit();
    for note in crate::fsat::ensure_private_dir(&args.data_dir)
        .with_context(|| format!("creating the data directory {}", args.data_dir.display()))?
    {
        tracing::warn!("data directory: {note}");
    }
    let tls = load_tls(&args.tls)?;
    let metrics = Arc::new(ServeMetrics::default());
    let recorder = open_recorder(&args).await?;
    let room = crate::dlp::body::Room {
        memory: icap::server::ByteBudget::new(args.max_memory),
        disk: icap::server::ByteBudget::new(args.max_spool),
        wait: Duration::from_millis(args.overload_wait_ms),
    };
    metrics.watch_budgets(room.memory.clone(), room.disk.clone());
    // With a shared store and no policy file, the node follows the versions `policy push`
    // stores there.
    let follow = match (&args.policy, args.store.as_deref()) {
        (None, Some(url)) => {
            // One connection is plenty for a query every few seconds.
            let settings = PostgresSettings { pool_size: 1, ..postgres_settings(&args) };
            let (versions, newest) = follow::start(url, &settings, &args.data_dir).await?;
            Some((versions, Arc::new(StoredPolicy::new(newest))))
        }
        _ => None,
    };
    let policy = match (&args.policy, &follow) {
        (Some(path), _) => PolicySource::File(path.clone()),
        (None, Some((_, cell))) => PolicySource::Stored(cell.clone()),
        (None, None) => PolicySource::Builtin,
    };
    let settings = DlpSettings {
        policy: policy.clone(),
        data_dir: args.data_dir.clone(),
        limits: inspect::Limits::default(),
        mode: args.mode,
        reqmod_service: args.reqmod_service.clone(),
        respmod_service: args.respmod_service.clone(),
        preview: args.preview,
        max_connections: args.max_connections,
        memory_threshold: args.memory_threshold,
        spool_dir: args.data_dir.join("spool"),
        room: room.clone(),
        scan_threads: args.scan_threads.unwrap_or_else(crate::dlp::pool::ScanPool::default_threads),
        identity_trust: crate::dlp::trust::IdentityTrust::new(
            &args.trust_identity_from,
            args.listen,
            args.proxy_protocol,
        ),
    };
    tracing::info!(
        trusted = %settings.identity_trust,
        "identity headers (X-Authenticated-User, X-Authenticated-Groups, X-Client-IP) are used only from these clients (--trust-identity-from); from others they are recorded as claimed"
    );
    let service =
        Arc::new(DlpService::new(settings, recorder.clone(), metrics.clone()).context("loading the policy")?);
    let (on_request, on_tls, on_conn) = (metrics.clone(), metrics.clone(), metrics.clone());
    let config = ServerConfig {
        observer: Some(Arc::new(move |record| on_request.request(record))),
        tls_observer: Some(Arc::new(move |reason| on_tls.tls_failure(reason))),
        connection_observer: Some(Arc::new(move |delta| on_conn.connection(delta))),
        max_connections: args.max_connections,
        idle_timeout: Duration::from_secs(args.idle_timeout),
        read_timeout: Duration::from_secs(args.read_timeout),
        min_body_rate: args.min_body_rate,
        min_body_rate_window: Duration::from_secs(args.min_body_rate_window.max(1)),
        request_deadline: Duration::from_secs(args.request_deadline),
        max_handshakes: args.max_handshakes,
        memory: room.memory.clone(),
        spool_disk: room.disk.clone(),
        overload_wait: room.wait,
        early_head_after: (args.early_head_after_ms > 0)
            .then(|| Duration::from_millis(args.early_head_after_ms)),
        shutdown_grace: Duration::from_secs(args.shutdown_grace),
        tls_handshake_timeout: Duration::from_secs(args.tls.tls_handshake_timeout),
        server_name: crate::runtime::PRODUCT.into(),
        ..ServerConfig::default()
    };
    let mut listeners = vec![Listener {
        socket: bind(args.listen).with_context(|| format!("listening on {}", args.listen))?,
        transport: Transport::Plain,
        proxy_protocol: args.proxy_protocol,
    }];
    if let Some((tls, addr)) = &tls {
        let socket = bind(*addr).with_context(|| format!("listening for icaps on {addr}"))?;
        listeners.push(Listener {
            socket,
            transport: Transport::Tls(tls.clone()),
            proxy_protocol: args.tls.tls_proxy_protocol,
        });
        tracing::info!(listen = %addr, "dlpgate serving icaps://{addr}/{{echo,reqmod,respmod}}");
    }
    let siem_metrics = crate::siem::delivery::SiemMetrics::default();
    let siem_postgres = postgres_settings(&args);
    crate::siem::start(
        &args.siem,
        &args.data_dir,
        args.store.as_deref(),
        siem_postgres,
        &siem_metrics,
        args.listen,
    )
    .await
    .context("starting the SIEM sinks")?;
    // One registry: the /metrics endpoint's and the console dashboard's.
    let mut registry = prometheus_client::registry::Registry::default();
    metrics.register(&mut registry);
    recorder.register(&mut registry);
    siem_metrics.register(&mut registry);
    let registry = Arc::new(registry);
    if let Some(addr) = args.metrics_listen {
        crate::metrics::serve(addr, registry.clone()).await?;
    }
    let console = crate::console::ServeContext {
        data_dir: args.data_dir.clone(),
        store: args.store.clone(),
        policy: args.policy.clone(),
        icap_cert: args.tls.cert.clone(),
        metrics: Some((registry, siem_metrics.status.clone())),
    };
    crate::console::start(&args.console, console).await?;
    tracing::info!(
        policy = %policy.describe(),
        version = %service.policy_version(),
        mode = ?args.mode,
        "DLP policy loaded"
    );
    let server = Server::with_shared(service.clone(), config);
    tracing::info!(
        listen = %args.listen,
        data_dir = %args.data_dir.display(),
        max_connections = args.max_connections,
        open_files = nofile,
        "dlpgate serving icap://{}/{{echo,reqmod,respmod}}",
        args.listen
    );
    // Kept alive for as long as the server runs.
    let mut _watcher = None;
    let mut _policy_watcher = None;
    if let Some((versions, _)) = follow {
        let interval = Duration::from_millis(args.policy_poll_interval_ms).max(follow::MIN_POLL_INTERVAL);
        let (service, url, settings) =
            (service.clone(), args.store.clone().unwrap_or_default(), postgres_settings(&args));
        tokio::spawn(follow::follow(versions, service, url, settings, interval));
    }
    if !matches!(policy, PolicySource::Builtin) {
        match icap::watch::watch_files(service.clone()) {
            Ok(w) => _policy_watcher = Some(w),
            Err(e) => tracing::warn!(error = %e, "cannot watch the policy file; reload with SIGHUP"),
        }
        tokio::spawn(reload_on_sighup(service.clone()));
    }
    if let Some((tls, _)) = tls {
        match icap::watch::watch_files(tls.clone()) {
            Ok(watcher) => _watcher = Some(watcher),
            Err(e) => tracing::warn!(error = %e, "cannot watch the TLS files; reload with SIGHUP"),
        }
        tokio::spawn(reload_on_sighup(tls));
    }
    // Journalled incidents go into the store now and whenever some are pending.
    let interval = Duration::from_millis(args.journal_replay_interval_ms.max(1));
    tokio::spawn(recorder.clone().replay_forever(interval));
    server.serve_listeners(listeners, shutdown_signal()).await.context("serving ICAP")?;
    tracing::info!("stopped");
    Ok(())
}

/// Opens the incident store and its journal in the data directory.
async fn open_recorder(args: &ServeArgs) -> anyhow::Result<Arc<IncidentRecorder>> {
    let write_timeout = Duration::from_millis(args.store_write_timeout_ms.max(1));
    let postgres = postgres_settings(args);
    let (data_dir, url) = (args.data_dir.clone(), args.store.clone());
    let store =
        tokio::task::spawn_blocking(move || crate::store::open_store(&data_dir, url.as_deref(), &postgres))
            .await
            .context("opening the incident store")?
            .context("opening the incident store")?;
    let (journal, found) =
        Journal::open(&args.data_dir, args.journal_max_bytes).context("opening the incident journal")?;
    if found.pending > 0 {
        tracing::info!(pending = found.pending, "journalled incidents found; replaying them into the store");
    }
    Ok(Arc::new(IncidentRecorder::new(store, journal, write_timeout)))
}

/// The PostgreSQL settings of `--store-*`.
fn postgres_settings(args: &ServeArgs) -> PostgresSettings {
    PostgresSettings {
        connect_timeout: Duration::from_secs(args.store_connect_timeout.max(1)),
        statement_timeout: Duration::from_millis(args.store_write_timeout_ms.max(1)),
        pool_size: args.store_pool_size.max(1),
    }
}

/// Loads the TLS settings when a certificate is given; start-up fails on any error.
fn load_tls(args: &TlsArgs) -> anyhow::Result<Option<(Arc<ReloadableTls>, SocketAddr)>> {
    let Some(cert) = &args.cert else {
        if args.tls_listen.is_some() || args.client_ca.is_some() || args.key.is_some() {
            anyhow::bail!("--tls-listen, --key and --client-ca need --cert");
        }
        return Ok(None);
    };
    let settings = TlsServerSettings {
        key: args.key.clone(),
        client_ca: args.client_ca.clone(),
        verify: args.client_verify,
        allow_any_client: args.allow_any_client,
        min_version: args.tls_min_version,
        ..TlsServerSettings::new(cert.clone())
    };
    let (tls, warnings) = ReloadableTls::new(settings).context("loading the TLS settings")?;
    for warning in warnings {
        tracing::warn!("{warning}");
    }
    if args.allow_any_client {
        tracing::warn!("--allow-any-client: TLS clients without an accepted certificate are served");
    } else {
        tracing::info!(mode = ?args.client_verify, "TLS clients must present an accepted certificate");
    }
    let default_addr: SocketAddr = DEFAULT_TLS_LISTEN.parse().context("default TLS address")?;
    Ok(Some((Arc::new(tls), args.tls_listen.unwrap_or(default_addr))))
}
