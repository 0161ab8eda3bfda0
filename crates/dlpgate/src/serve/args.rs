//! `dlpgate serve`'s settings: flags, each also a key of the `--config` TOML file.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

/// `dlpgate serve` settings. Every one can also be set in a TOML file given with `--config`
/// (keys are the flag names); flags on the command line override the file.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// TOML file with any of the settings below (e.g. `listen = "0.0.0.0:1344"`).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Address of the plain ICAP listener. Loopback by default: expose it on purpose.
    #[arg(long, default_value = "127.0.0.1:1344")]
    pub listen: SocketAddr,
    /// Directory for incidents and other state.
    #[arg(long, default_value = "./dlpgate-data")]
    pub data_dir: PathBuf,
    /// Connections served at once; more get 503.
    #[arg(long, default_value_t = icap::server::ServerConfig::DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,
    /// Seconds an idle persistent connection stays open.
    #[arg(long, default_value_t = icap::server::ServerConfig::DEFAULT_IDLE_TIMEOUT.as_secs())]
    pub idle_timeout: u64,
    /// Seconds to wait for the rest of a message once it has started.
    #[arg(long, default_value_t = icap::server::ServerConfig::DEFAULT_READ_TIMEOUT.as_secs())]
    pub read_timeout: u64,
    /// Bytes per second a request body must arrive at, on average over each
    /// --min-body-rate-window of waiting for it; slower gets 408 and the connection closes. 0:
    /// off.
    #[arg(long, default_value_t = icap::server::ServerConfig::DEFAULT_MIN_BODY_RATE)]
    pub min_body_rate: u64,
    /// Seconds of waiting over which --min-body-rate is judged.
    #[arg(long, default_value_t = icap::server::ServerConfig::DEFAULT_MIN_BODY_RATE_WINDOW.as_secs())]
    pub min_body_rate_window: u64,
    /// Seconds a request may take from its head to the end of its body, however fast it
    /// trickles; later gets 408.
    #[arg(long, default_value_t = icap::server::ServerConfig::DEFAULT_REQUEST_DEADLINE.as_secs())]
    pub request_deadline: u64,
    /// Connections still opening (TLS handshake or PROXY header under way), apart from
    /// --max-connections; when full, the oldest is dropped to make room.
    #[arg(long, default_value_t = icap::server::ServerConfig::DEFAULT_MAX_HANDSHAKES)]
    pub max_handshakes: usize,
    /// Milliseconds a RESPMOD client may pause mid-body (204 not offered) before the answer
    /// head goes out early, with the body held back until the verdict; a block then aborts the
    /// transfer. Later pauses may release up to 16 leading bytes that match nothing on their
    /// own. Keeps Squid 5 (bug 5352, fixed upstream in 2025) from stalling on downloads over
    /// 64 KiB. Never for REQMOD. 0: never.
    #[arg(long, default_value_t = icap::server::ServerConfig::DEFAULT_EARLY_HEAD_AFTER.as_millis() as u64)]
    pub early_head_after_ms: u64,
    /// Seconds in-flight requests may run after SIGTERM or SIGINT.
    #[arg(long, default_value_t = icap::server::ServerConfig::DEFAULT_SHUTDOWN_GRACE.as_secs())]
    pub shutdown_grace: u64,
    /// Worker threads (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Policy file (TOML); when absent, the newest version stored with `dlpgate policy push`
    /// when --store is PostgreSQL, else the built-in default policy. Reloaded on SIGHUP and
    /// when the file changes; a broken policy is refused and the old one stays.
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// With --store postgres://... and no --policy, the node follows the policy versions
    /// `dlpgate policy push` stores there: woken by each push (LISTEN/NOTIFY), and checking
    /// the store every this many milliseconds anyway, in case a notification was missed
    /// (at least 100).
    #[arg(long, default_value_t = crate::serve::follow::DEFAULT_POLL_INTERVAL.as_millis() as u64)]
    pub policy_poll_interval_ms: u64,
    /// blocking: block what the policy blocks (the seed's "Mode: Blocking"); monitor: allow
    /// everything and record incidents.
    #[arg(long, value_enum, default_value = "blocking")]
    pub mode: crate::dlp::Mode,
    /// Incident store: `postgres://user@host/db` for a shared PostgreSQL (several nodes; then,
    /// without --policy, also the policy versions they follow); default SQLite in --data-dir.
    #[arg(long)]
    pub store: Option<String>,
    /// Milliseconds an incident write to the store may take before the verdict goes on without
    /// it: past this deadline, or when the store fails, the incident is synced to the journal
    /// (incidents.journal in --data-dir) and replayed into the store once it is back. Also the
    /// PostgreSQL statement_timeout.
    #[arg(long, default_value_t = crate::store::durable::DEFAULT_WRITE_TIMEOUT.as_millis() as u64)]
    pub store_write_timeout_ms: u64,
    /// PostgreSQL: seconds to open a connection (the URL's connect_timeout wins).
    #[arg(long, default_value_t = crate::store::PostgresSettings::DEFAULT_CONNECT_TIMEOUT.as_secs())]
    pub store_connect_timeout: u64,
    /// PostgreSQL: connections in the pool.
    #[arg(long, default_value_t = crate::store::PostgresSettings::DEFAULT_POOL_SIZE)]
    pub store_pool_size: usize,
    /// Milliseconds between two replays of journalled incidents into the store.
    #[arg(long, default_value_t = crate::store::durable::DEFAULT_REPLAY_INTERVAL.as_millis() as u64)]
    pub journal_replay_interval_ms: u64,
    /// Largest size of the incident journal in bytes; an incident that would not fit is lost
    /// (logged and counted in dlpgate_incidents_lost_total).
    #[arg(long, default_value_t = crate::store::journal::DEFAULT_MAX_BYTES)]
    pub journal_max_bytes: u64,
    /// Address of the Prometheus endpoint (/metrics, /healthz); off unless given.
    #[arg(long)]
    pub metrics_listen: Option<SocketAddr>,
    /// Name of the REQMOD service.
    #[arg(long, default_value = "reqmod")]
    pub reqmod_service: String,
    /// Name of the RESPMOD service.
    #[arg(long, default_value = "respmod")]
    pub respmod_service: String,
    /// Preview size announced in OPTIONS.
    #[arg(long, default_value_t = crate::dlp::DEFAULT_PREVIEW)]
    pub preview: usize,
    /// Bodies that need random access (zip, office, PDF) are held in memory up to this many
    /// bytes, then spooled to a temporary file in --data-dir.
    #[arg(long, default_value_t = crate::dlp::DEFAULT_MEMORY_THRESHOLD)]
    pub memory_threshold: usize,
    /// Bytes of memory, over all requests, for bodies held for an echo or a scan, long
    /// message heads and the inspection engine's buffers (--memory-threshold is per body, this
    /// is for the process). When it is spent, new work waits --overload-wait-ms, then gets
    /// 503; the process does not grow past it.
    #[arg(long, default_value_t = icap::server::ServerConfig::DEFAULT_MAX_MEMORY)]
    pub max_memory: u64,
    /// Bytes of spool files on disk, over all requests.
    #[arg(long, default_value_t = icap::server::ServerConfig::DEFAULT_MAX_SPOOL)]
    pub max_spool: u64,
    /// Milliseconds new work waits for memory, spool space or a scan thread before it gets 503.
    #[arg(long, default_value_t = icap::server::ServerConfig::DEFAULT_OVERLOAD_WAIT.as_millis() as u64)]
    pub overload_wait_ms: u64,
    /// Threads for inspection work that can take long (held zip and PDF files, decoders,
    /// containers); default: one per core. Small text bodies are scanned inline.
    #[arg(long)]
    pub scan_threads: Option<usize>,
    /// Connections to --listen start with a PROXY protocol v1/v2 header (behind haproxy or
    /// `dlpgate tunnel` with `protocol = proxy`); the client address it names is recorded.
    #[arg(long)]
    pub proxy_protocol: bool,
    /// Clients whose identity headers (X-Authenticated-User, X-Authenticated-Groups,
    /// X-Client-IP) are believed, comma-separated: addresses or networks (`10.0.0.0/8`; with
    /// --proxy-protocol, the address the PROXY header names) and `CN=NAME` of a verified TLS
    /// client certificate; `none` trusts nobody. From other clients the headers are recorded
    /// in incidents as claimed and never used for rules scoped by users or groups. Default:
    /// loopback when --listen is a loopback address without --proxy-protocol, else nobody.
    #[arg(long, value_delimiter = ',', value_parser = crate::dlp::trust::IdentitySource::parse)]
    pub trust_identity_from: Vec<crate::dlp::trust::IdentitySource>,
    /// TLS settings for the icaps:// listener.
    #[command(flatten)]
    pub tls: TlsArgs,
    /// SIEM sinks (boxed: they would make `serve`'s settings the one large command).
    #[command(flatten)]
    pub siem: Box<crate::siem::SiemArgs>,
    /// The web console (off unless --console-listen is given).
    #[command(flatten)]
    pub console: Box<crate::console::ConsoleListenArgs>,
}

/// The icaps:// listener: off until a certificate is given.
#[derive(Debug, Clone, Args)]
pub struct TlsArgs {
    /// Address of the icaps:// listener (default 0.0.0.0:11344 once --cert is given).
    #[arg(long)]
    pub tls_listen: Option<SocketAddr>,
    /// Server certificate chain PEM, or one combined key+cert PEM as stunnel uses.
    #[arg(long)]
    pub cert: Option<PathBuf>,
    /// Private key PEM (default: read from --cert). Refused when others can read it.
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// PEM bundle of client CAs and/or pinned client certificates.
    #[arg(long)]
    pub client_ca: Option<PathBuf>,
    /// How a client certificate is accepted: chain (stunnel verify=2), pin (verify=4), or
    /// chain-or-pin.
    #[arg(long, default_value = "chain-or-pin")]
    pub client_verify: icap::tls::ClientVerifyMode,
    /// Accept TLS clients without an accepted certificate. Anyone who reaches the port can then
    /// send data.
    #[arg(long)]
    pub allow_any_client: bool,
    /// Lowest TLS version: 1.2 or 1.3.
    #[arg(long, default_value = "1.2", value_parser = crate::runtime::parse_tls_version)]
    pub tls_min_version: icap::tls::TlsVersion,
    /// Connections to --tls-listen start with a PROXY protocol header (before TLS).
    #[arg(long)]
    pub tls_proxy_protocol: bool,
    /// Seconds a TLS handshake (and a PROXY header) may take.
    #[arg(long, default_value_t = icap::server::ServerConfig::DEFAULT_TLS_HANDSHAKE_TIMEOUT.as_secs())]
    pub tls_handshake_timeout: u64,
}

/// Default address of the icaps:// listener, the seed's stunnel port.
pub const DEFAULT_TLS_LISTEN: &str = "0.0.0.0:11344";
