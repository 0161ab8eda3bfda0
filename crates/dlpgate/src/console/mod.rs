//! The web console (issue 15): incidents with triage and export, the policy with its tester,
//! the dashboard, accounts and the audit log, served by `dlpgate serve --console-listen` or
//! alone by `dlpgate console`. Design and security notes: docs/CONSOLE.md.
//!
//! Server-rendered HTML (maud, escaped and checked at compile time), plain HTML forms and no
//! script at all: the Content-Security-Policy forbids every script.

pub mod args;
pub mod auth;
pub mod db;
mod http;
pub mod jobs;
pub mod live;
mod pages;
mod serve;
mod users;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;

pub use args::{ConsoleArgs, ConsoleCommand, ConsoleListenArgs, UserCommand, DEFAULT_CONSOLE_LISTEN};

/// What every handler shares.
#[derive(Debug)]
pub struct Console {
    /// Accounts, audit, triage and the incident queries.
    pub db: db::ConsoleDb,
    /// Whole incidents (the detail page, JSON export).
    pub store: Arc<dyn crate::store::IncidentStore>,
    /// Live sessions.
    pub sessions: auth::Sessions,
    /// Failed logins.
    pub throttle: auth::LoginThrottle,
    /// Where the active policy comes from.
    pub policy: PolicySource,
    /// Certificates shown on the certificates page (the ICAP server's and the console's).
    pub certificates: Vec<(String, PathBuf)>,
    /// Where connectors.toml is (the Connectors page).
    pub connector_dir: PathBuf,
    /// Served over HTTPS: cookies are `Secure` and `__Host-`, and HSTS is sent.
    pub https: bool,
    /// Scan jobs started from the Connectors page.
    pub jobs: jobs::ScanJobs,
    /// The server's metrics, when the console runs inside `serve`.
    pub live: Option<live::LiveMetrics>,
    /// Where the incident store is, as the dashboard names it (no password).
    pub store_location: String,
}

/// The policy the console shows and tests with: the file `serve` loads (reloaded on every
/// page, so an edit shows at once), the newest version stored in a shared PostgreSQL store
/// (what nodes without `--policy` follow), or the built-in default.
#[derive(Debug, Clone)]
pub struct PolicySource {
    /// `--policy`, or none for a stored version or the built-in policy.
    pub path: Option<PathBuf>,
    /// Where the policy's EDM and fingerprint indexes are.
    pub data_dir: PathBuf,
    /// The PostgreSQL store whose versions are followed, when there is no `--policy`.
    pub stored: Option<Arc<StoredVersions>>,
}

/// The policy versions of a PostgreSQL store, opened at first use and kept: one connection
/// for every page view, not a new one (and its schema check) each time.
#[derive(Debug)]
pub struct StoredVersions {
    url: String,
    opened: std::sync::Mutex<Option<Arc<crate::store::policy_versions::PolicyVersions>>>,
}

impl StoredVersions {
    /// The versions, opened now if they were not yet. Blocks.
    fn get(&self) -> Result<Arc<crate::store::policy_versions::PolicyVersions>, String> {
        let mut opened = self.opened.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(v) = opened.as_ref() {
            return Ok(v.clone());
        }
        let settings = crate::store::PostgresSettings { pool_size: 1, ..Default::default() };
        let versions = Arc::new(
            crate::store::policy_versions::PolicyVersions::open(&self.url, &settings)
                .map_err(|e| e.to_string())?,
        );
        *opened = Some(versions.clone());
        Ok(versions)
    }
}

impl PolicySource {
    /// The source for `--policy`, `--store` and `--data-dir`.
    pub fn new(path: Option<PathBuf>, store: Option<&str>, data_dir: PathBuf) -> Self {
        let stored = match (&path, store) {
            (None, Some(url)) if crate::store::policy_versions::check_url(url).is_ok() => {
                Some(Arc::new(StoredVersions { url: url.to_string(), opened: Default::default() }))
            }
            _ => None,
        };
        Self { path, data_dir, stored }
    }

    /// The policy and its source text; an error names the file and line. Blocks: call it
    /// off the async threads.
    pub fn load(&self) -> Result<(inspect::Policy, String), String> {
        match (&self.path, &self.stored) {
            (Some(path), _) => {
                let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
                let policy = crate::edm::files::load_policy(path, &self.data_dir)?;
                Ok((policy, text))
            }
            (None, Some(stored)) => {
                match stored.get()?.newest_with_text(1).map_err(|e| e.to_string())?.into_iter().next() {
                    None => Ok((inspect::Policy::builtin(), inspect::DEFAULT_POLICY_TOML.to_string())),
                    Some(v) => {
                        let fetched =
                            crate::dlp::FetchedPolicy { version: v.info.version, text: v.text.clone() };
                        Ok((crate::dlp::parse_stored(&fetched, &self.data_dir)?, v.text))
                    }
                }
            }
            (None, None) => Ok((inspect::Policy::builtin(), inspect::DEFAULT_POLICY_TOML.to_string())),
        }
    }

    /// The stored versions, newest first (none without a PostgreSQL store). Blocks.
    pub fn stored_history(
        &self,
        limit: usize,
    ) -> Result<Vec<crate::store::policy_versions::VersionInfo>, String> {
        let Some(stored) = &self.stored else { return Ok(Vec::new()) };
        stored.get()?.history(limit).map_err(|e| e.to_string())
    }

    /// What the policy page calls the source.
    pub fn describe(&self) -> String {
        match (&self.path, &self.stored) {
            (Some(path), _) => path.display().to_string(),
            (None, Some(_)) => {
                "the newest version stored in PostgreSQL (`dlpgate policy push`; the built-in \
                 default until one is pushed)"
                    .to_string()
            }
            (None, None) => "built-in default policy".to_string(),
        }
    }
}

/// Where the console is opened from `serve`: its data directory, store and policy.
#[derive(Debug, Clone)]
pub struct ServeContext {
    /// `--data-dir`.
    pub data_dir: PathBuf,
    /// `--store`.
    pub store: Option<String>,
    /// `--policy`.
    pub policy: Option<PathBuf>,
    /// The ICAP server's certificate (`--cert`), shown on the certificates page.
    pub icap_cert: Option<PathBuf>,
    /// The server's metrics registry and SIEM sink status (none for `dlpgate console`).
    pub metrics: Option<(Arc<prometheus_client::registry::Registry>, crate::siem::delivery::SinkStatus)>,
}

/// Starts the console on `args.console_listen` inside a running server; returns once it
/// listens. Errors (a non-loopback address without a certificate, a bad key) stop start-up.
pub async fn start(args: &ConsoleListenArgs, context: ServeContext) -> anyhow::Result<Option<SocketAddr>> {
    let Some(addr) = args.console_listen else {
        if args.console_cert.is_some() || args.console_key.is_some() {
            anyhow::bail!("--console-cert and --console-key need --console-listen");
        }
        return Ok(None);
    };
    let tls = serve::tls_config(addr, args)?;
    let console = Arc::new(open(args, &context, tls.is_some()).await?);
    let listener =
        tokio::net::TcpListener::bind(addr).await.with_context(|| format!("console listener on {addr}"))?;
    let bound = listener.local_addr().unwrap_or(addr);
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(listen = %bound, "web console on {scheme}://{bound}/");
    tokio::spawn(serve::serve(listener, tls, http::router(console)));
    Ok(Some(bound))
}

async fn open(args: &ConsoleListenArgs, context: &ServeContext, https: bool) -> anyhow::Result<Console> {
    let db = db::ConsoleDb::open(&context.data_dir, context.store.as_deref()).await?;
    let (data_dir, url) = (context.data_dir.clone(), context.store.clone());
    let store = tokio::task::spawn_blocking(move || crate::store::open_existing(&data_dir, url.as_deref()))
        .await
        .context("opening the incident store")??;
    let mut certificates = Vec::new();
    if let Some(cert) = &context.icap_cert {
        certificates.push(("ICAP server (icaps://)".to_string(), cert.clone()));
    }
    if let Some(cert) = &args.console_cert {
        certificates.push(("web console".to_string(), cert.clone()));
    }
    Ok(Console {
        db,
        store,
        sessions: auth::Sessions::new(
            std::time::Duration::from_secs(args.console_idle_timeout.max(1)),
            std::time::Duration::from_secs(args.console_session_lifetime.max(1)),
        ),
        throttle: auth::LoginThrottle::default(),
        policy: PolicySource::new(context.policy.clone(), context.store.as_deref(), context.data_dir.clone()),
        certificates,
        connector_dir: crate::connector::config_dir(args.console_connector_dir.as_deref()),
        https,
        jobs: jobs::ScanJobs::default(),
        live: context.metrics.clone().map(|(registry, siem)| live::LiveMetrics::start(registry, siem)),
        store_location: match &context.store {
            None => context.data_dir.join(crate::store::SQLITE_FILE).display().to_string(),
            Some(url) => describe_postgres(url),
        },
    })
}

/// A PostgreSQL store URL as the dashboard shows it: user, hosts, database, TLS mode; never a
/// password (one in the URL or in its query is left out).
fn describe_postgres(url: &str) -> String {
    match crate::store::pg_url::parse(url, &crate::store::PostgresSettings::default()) {
        Ok((config, tls)) => {
            let hosts: Vec<String> = config
                .get_hosts()
                .iter()
                .zip(config.get_ports().iter().chain(std::iter::repeat(&5432)))
                .map(|(host, port)| match host {
                    tokio_postgres::config::Host::Tcp(name) => format!("{name}:{port}"),
                    tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
                })
                .collect();
            format!(
                "PostgreSQL {}@{}/{} ({})",
                config.get_user().unwrap_or("?"),
                hosts.join(","),
                config.get_dbname().unwrap_or("?"),
                if tls.is_some() { "TLS" } else { "no TLS" }
            )
        }
        Err(_) => "PostgreSQL (the URL does not parse)".to_string(),
    }
}

/// `dlpgate console`: the console alone, or its `user` commands.
pub fn run(args: ConsoleArgs) -> anyhow::Result<()> {
    match args.command {
        Some(ConsoleCommand::User(cmd)) => users::run(cmd),
        None => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            runtime.block_on(async move {
                let mut listen = args.listen.clone();
                if listen.console_listen.is_none() {
                    listen.console_listen = Some(DEFAULT_CONSOLE_LISTEN.parse().context("default address")?);
                }
                let context = ServeContext {
                    data_dir: args.store.data_dir.clone(),
                    store: args.store.store.clone(),
                    policy: args.policy.clone(),
                    icap_cert: None,
                    metrics: None,
                };
                start(&listen, context).await?;
                crate::runtime::shutdown_signal().await;
                tracing::info!("stopped");
                Ok(())
            })
        }
    }
}
