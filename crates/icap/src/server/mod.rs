//! The ICAP server: an accept loop with a connection limit and graceful shutdown, over the
//! per-connection request loop.

mod body;
mod budget;
mod conn;
mod opening;
mod pace;
mod proxy;
mod service;
mod spool;
mod wire;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use icap_proto::{encode_response_head, Limits, Parts, ResponseHead};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::tls::ReloadableTls;

pub use body::{Body, BodyError, BodyEvent, MAX_TRICKLE_BYTES};
pub use budget::{ByteBudget, Lease};
pub use conn::RequestRecord;
pub use opening::{OpeningSlot, OpeningSlots};
pub use service::{Exchange, Outcome, Peer, Reply, Service};
pub use wire::Io;

#[doc(hidden)]
pub use proxy::parse_header as parse_proxy_header;

/// Bytes of a message head a connection may buffer before the rest is charged to
/// [`ServerConfig::memory`] (a head may be 320 KiB: the ICAP head and the HTTP heads).
pub const HEAD_ALLOWANCE: usize = 16 * 1024;

/// Called once per answered request, for metrics.
pub type Observer = Arc<dyn Fn(&RequestRecord) + Send + Sync>;

/// Called with a reason label (`no_client_certificate`, `timeout`, ...) for each failed TLS
/// handshake, for metrics.
pub type TlsObserver = Arc<dyn Fn(&str) + Send + Sync>;

/// Called with +1 and -1 as connections open and close, for an open-connections gauge.
pub type ConnectionObserver = Arc<dyn Fn(i64) + Send + Sync>;

/// Server settings. Every limit has a named default.
#[derive(Clone)]
pub struct ServerConfig {
    /// Connections served at once; more get `503` and are closed. Also sent as
    /// `Max-Connections` by services that use [`ServerConfig::max_connections`].
    pub max_connections: usize,
    /// How long an idle persistent connection stays open.
    pub idle_timeout: Duration,
    /// How long to wait for the rest of a message once it has started.
    pub read_timeout: Duration,
    /// Bytes per second a body must arrive at, on average over each
    /// [`ServerConfig::min_body_rate_window`] spent waiting for it; slower gets `408`. 0: off.
    pub min_body_rate: u64,
    /// The window of [`ServerConfig::min_body_rate`].
    pub min_body_rate_window: Duration,
    /// How long a request may take from its head to the end of its body, however it trickles;
    /// later gets `408`.
    pub request_deadline: Duration,
    /// How long a write may block on a client that does not read.
    pub write_timeout: Duration,
    /// How long in-flight requests may run after shutdown begins.
    pub shutdown_grace: Duration,
    /// How long a TLS handshake (and a PROXY header) may take before the connection is
    /// dropped.
    pub tls_handshake_timeout: Duration,
    /// Connections still opening (TLS handshake or PROXY header under way) at once, apart
    /// from [`ServerConfig::max_connections`]; when full, the oldest is dropped to make room.
    pub max_handshakes: usize,
    /// Body bytes kept in memory for an echo before spilling to a temporary file.
    pub spool_memory_limit: usize,
    /// The process-wide memory budget: echo spools in memory, message heads past
    /// [`HEAD_ALLOWANCE`] bytes, and whatever the service charges to it. Share one value
    /// between the server and its service.
    pub memory: ByteBudget,
    /// The process-wide budget of spool files on disk.
    pub spool_disk: ByteBudget,
    /// How long new work waits for memory or spool space before it gets `503`.
    pub overload_wait: Duration,
    /// When a RESPMOD client that did not offer 204 stops sending in the middle of a body for
    /// this long, the `200` head (and the unchanged HTTP head) goes out at once while the body
    /// is held back until the service decides; a later block or error then aborts the transfer
    /// instead of replacing it. Later stalls may each carry one leading body byte, only within
    /// what the service cleared ([`Exchange::release_early`]). Never for REQMOD: an upload
    /// always gets its block page. Squid 5 (bug 5352, fixed upstream in 2025) stops reading an origin's
    /// response after 64 KiB until the ICAP answer starts, so without this a RESPMOD service
    /// that reads the whole body would wait forever. `None` never answers early.
    pub early_head_after: Option<Duration>,
    /// Codec limits.
    pub limits: Limits,
    /// The `Server` header of every answer, product and version (an application sets its
    /// own; the default names this library).
    pub server_name: std::sync::Arc<str>,
    /// Called for each request answered.
    pub observer: Option<Observer>,
    /// Called with a reason label for each failed TLS handshake.
    pub tls_observer: Option<TlsObserver>,
    /// Called with +1 when a connection starts being served and -1 when it ends.
    pub connection_observer: Option<ConnectionObserver>,
}

impl ServerConfig {
    /// Default for [`ServerConfig::max_connections`].
    pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
    /// Default for [`ServerConfig::idle_timeout`]: 60 s, longer than Squid's idle pool timeout.
    pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
    /// Default for [`ServerConfig::read_timeout`].
    pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(30);
    /// Default for [`ServerConfig::min_body_rate`]: 1 KiB/s.
    pub const DEFAULT_MIN_BODY_RATE: u64 = 1024;
    /// Default for [`ServerConfig::min_body_rate_window`]: 20 s.
    pub const DEFAULT_MIN_BODY_RATE_WINDOW: Duration = Duration::from_secs(20);
    /// Default for [`ServerConfig::request_deadline`]: 15 minutes (Squid's own `read_timeout`).
    pub const DEFAULT_REQUEST_DEADLINE: Duration = Duration::from_secs(15 * 60);
    /// Default for [`ServerConfig::write_timeout`].
    pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(30);
    /// Default for [`ServerConfig::shutdown_grace`].
    pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
    /// Default for [`ServerConfig::tls_handshake_timeout`].
    pub const DEFAULT_TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
    /// Default for [`ServerConfig::max_handshakes`].
    pub const DEFAULT_MAX_HANDSHAKES: usize = 256;
    /// Default size of [`ServerConfig::memory`]: 128 MiB. With the connection buffers and the
    /// program itself, `dlpgate serve` stays under 256 MiB (docs/SECURITY.md); a machine
    /// that serves nothing else can give it more (`--max-memory`).
    pub const DEFAULT_MAX_MEMORY: u64 = 128 << 20;
    /// Default size of [`ServerConfig::spool_disk`]: 4 GiB.
    pub const DEFAULT_MAX_SPOOL: u64 = 4 << 30;
    /// Default for [`ServerConfig::overload_wait`]: 5 s.
    pub const DEFAULT_OVERLOAD_WAIT: Duration = Duration::from_secs(5);
    /// Default for [`ServerConfig::spool_memory_limit`]: 1 MiB.
    pub const DEFAULT_SPOOL_MEMORY_LIMIT: usize = 1024 * 1024;
    /// Default for [`ServerConfig::early_head_after`]: 250 ms of silence mid-body.
    pub const DEFAULT_EARLY_HEAD_AFTER: Duration = Duration::from_millis(250);
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
            idle_timeout: Self::DEFAULT_IDLE_TIMEOUT,
            read_timeout: Self::DEFAULT_READ_TIMEOUT,
            min_body_rate: Self::DEFAULT_MIN_BODY_RATE,
            min_body_rate_window: Self::DEFAULT_MIN_BODY_RATE_WINDOW,
            request_deadline: Self::DEFAULT_REQUEST_DEADLINE,
            write_timeout: Self::DEFAULT_WRITE_TIMEOUT,
            shutdown_grace: Self::DEFAULT_SHUTDOWN_GRACE,
            tls_handshake_timeout: Self::DEFAULT_TLS_HANDSHAKE_TIMEOUT,
            max_handshakes: Self::DEFAULT_MAX_HANDSHAKES,
            spool_memory_limit: Self::DEFAULT_SPOOL_MEMORY_LIMIT,
            memory: ByteBudget::new(Self::DEFAULT_MAX_MEMORY),
            spool_disk: ByteBudget::new(Self::DEFAULT_MAX_SPOOL),
            overload_wait: Self::DEFAULT_OVERLOAD_WAIT,
            early_head_after: Some(Self::DEFAULT_EARLY_HEAD_AFTER),
            limits: Limits::default(),
            server_name: concat!("icap/", env!("CARGO_PKG_VERSION")).into(),
            observer: None,
            tls_observer: None,
            connection_observer: None,
        }
    }
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("max_connections", &self.max_connections)
            .field("idle_timeout", &self.idle_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("server_name", &self.server_name)
            .field("min_body_rate", &self.min_body_rate)
            .field("request_deadline", &self.request_deadline)
            .field("write_timeout", &self.write_timeout)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("spool_memory_limit", &self.spool_memory_limit)
            .field("memory", &self.memory.total())
            .field("spool_disk", &self.spool_disk.total())
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// An ICAP server for one service value, shared by all its listeners.
pub struct Server<S> {
    service: Arc<S>,
    config: Arc<ServerConfig>,
    slots: Arc<Semaphore>,
    opening: OpeningSlots,
    shutdown: CancellationToken,
    tasks: TaskTracker,
}

impl<S> std::fmt::Debug for Server<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("config", &self.config).finish_non_exhaustive()
    }
}

impl<S: Service> Server<S> {
    /// A server; nothing listens until [`Server::serve`].
    pub fn new(service: S, config: ServerConfig) -> Self {
        Self::with_shared(Arc::new(service), config)
    }

    /// A server over a service that the caller keeps a handle to (to reload it, say).
    pub fn with_shared(service: Arc<S>, config: ServerConfig) -> Self {
        let slots = Arc::new(Semaphore::new(config.max_connections));
        let opening = OpeningSlots::new(config.max_handshakes);
        Self {
            service,
            config: Arc::new(config),
            slots,
            opening,
            shutdown: CancellationToken::new(),
            tasks: TaskTracker::new(),
        }
    }

    /// The token that stops every listener and connection of this server.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Accepts plain TCP connections until `shutdown` resolves, then drains in-flight requests
    /// for at most the shutdown grace period.
    pub async fn serve(
        &self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        self.serve_listeners(vec![Listener::plain(listener)], shutdown).await
    }

    /// Accepts on every listener, each plain or TLS, until `shutdown` resolves; then drains.
    pub async fn serve_listeners(
        &self,
        listeners: Vec<Listener>,
        shutdown: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        let token = self.shutdown.clone();
        let loops = listeners.iter().map(|l| self.accept_loop(l));
        let all = futures_util::future::try_join_all(loops);
        tokio::select! {
            result = all => { result?; }
            () = shutdown => {}
            () = token.cancelled() => {}
        }
        drop(listeners);
        self.drain().await;
        Ok(())
    }

    /// Stops accepting and waits for in-flight requests, at most the grace period.
    pub async fn drain(&self) {
        self.shutdown.cancel();
        self.tasks.close();
        if tokio::time::timeout(self.config.shutdown_grace, self.tasks.wait()).await.is_err() {
            tracing::warn!("shutdown grace period over; closing remaining connections");
        }
    }

    async fn accept_loop(&self, listener: &Listener) -> std::io::Result<()> {
        loop {
            let (stream, addr) = match listener.socket.accept().await {
                Ok(accepted) => accepted,
                Err(e) if listener_is_broken(&e) => return Err(e),
                Err(e) => {
                    // One connection's error (Linux reports a pending network error of the
                    // new connection from accept) or a resource that is short for now: the
                    // server keeps listening.
                    tracing::warn!(error = %e, "accept failed; still listening");
                    if is_resource_shortage(&e) {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            if !listener.proxy_protocol {
                if let Transport::Plain = listener.transport {
                    // The common case, without an extra step.
                    let Some(permit) = self.try_slot() else {
                        self.refuse(Box::new(stream), addr);
                        continue;
                    };
                    self.spawn_connection(Box::new(stream), Peer { addr, tls_subject: None }, permit);
                    continue;
                }
            }
            // Not authenticated yet: an opening slot, not a connection slot, until the
            // handshake is done.
            let (opening, evicted) = self.opening.admit();
            if evicted {
                tracing::debug!("opening connections full: the oldest was dropped to make room");
                if let Some(observer) = &self.config.tls_observer {
                    observer("evicted");
                }
            }
            self.spawn_staged_connection(
                stream,
                addr,
                listener.transport.clone(),
                listener.proxy_protocol,
                opening,
            );
        }
    }

    /// Takes a connection slot, or `None` when the server is full.
    pub fn try_slot(&self) -> Option<OwnedSemaphorePermit> {
        self.slots.clone().try_acquire_owned().ok()
    }

    /// Serves an accepted connection (plain, TLS, or anything else) while holding its slot.
    pub fn spawn_connection(&self, io: Box<dyn Io>, peer: Peer, permit: OwnedSemaphorePermit) {
        let service = self.service.clone();
        let config = self.config.clone();
        let shutdown = self.shutdown.clone();
        self.tasks.spawn(async move {
            conn::serve_connection(io, peer, service, config, shutdown).await;
            drop(permit);
        });
    }

    /// Reads a PROXY header when the listener expects one, runs the TLS handshake on a TLS
    /// listener (both bounded by the handshake timeout, on an opening slot that a newer
    /// connection may take), then serves the connection on a connection slot with the real
    /// client address and the verified client's subject. Failures are logged and counted.
    fn spawn_staged_connection(
        &self,
        stream: TcpStream,
        addr: SocketAddr,
        transport: Transport,
        proxy_protocol: bool,
        opening: OpeningSlot,
    ) {
        let config = self.config.clone();
        let evicted = opening.evicted.clone();
        let slots = self.slots.clone();
        let (service, shutdown, refuse) = (self.service.clone(), self.shutdown.clone(), self.refuser());
        self.tasks.spawn(async move {
            let staged = tokio::select! {
                staged = open_connection(stream, addr, transport, proxy_protocol, &config) => staged,
                () = evicted.cancelled() => {
                    tracing::debug!(peer = %addr, "still opening when the slots ran out; dropped");
                    return;
                }
            };
            drop(opening);
            let Some((io, peer)) = staged else { return };
            let Ok(permit) = slots.try_acquire_owned() else {
                refuse(io, peer.addr);
                return;
            };
            conn::serve_connection(io, peer, service, config, shutdown).await;
            drop(permit);
        });
    }

    /// Answers `503` to a connection over the limit and closes it.
    pub fn refuse(&self, io: Box<dyn Io>, addr: SocketAddr) {
        (self.refuser())(io, addr);
    }

    /// [`Server::refuse`], for a task that outlives the borrow of the server.
    fn refuser(&self) -> impl Fn(Box<dyn Io>, SocketAddr) + Send + 'static {
        let config = self.config.clone();
        move |io, addr| refuse_connection(&config, io, addr)
    }

    /// The settings.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }
}

/// Serves one connection to its end over any byte stream, outside any [`Server`]: no slot,
/// no accept loop, no shutdown. For fuzzing the request loop in memory.
#[doc(hidden)]
pub async fn serve_one<S: Service>(io: Box<dyn Io>, peer: Peer, service: Arc<S>, config: Arc<ServerConfig>) {
    conn::serve_connection(io, peer, service, config, CancellationToken::new()).await;
}

/// Reads the PROXY header and runs the TLS handshake, as the listener asks, within the
/// handshake timeout; `None` when that failed (logged and counted).
async fn open_connection(
    mut stream: TcpStream,
    mut addr: SocketAddr,
    transport: Transport,
    proxy_protocol: bool,
    config: &ServerConfig,
) -> Option<(Box<dyn Io>, Peer)> {
    if proxy_protocol {
        match proxy::read_header(&mut stream, config.tls_handshake_timeout).await {
            Ok(Some(client)) => addr = client,
            Ok(None) => {}
            Err(reason) => {
                tracing::warn!(peer = %addr, %reason, "PROXY protocol header refused; closing");
                return None;
            }
        }
    }
    let tls = match transport {
        Transport::Plain => return Some((Box::new(stream), Peer { addr, tls_subject: None })),
        Transport::Tls(tls) => tls,
    };
    let acceptor = tokio_rustls::TlsAcceptor::from(tls.current());
    let handshake = tokio::time::timeout(config.tls_handshake_timeout, acceptor.accept(stream)).await;
    let stream = match handshake {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            tracing::warn!(peer = %addr, error = %e, "TLS handshake failed");
            if let Some(observer) = &config.tls_observer {
                observer(&handshake_failure_reason(&e));
            }
            return None;
        }
        Err(_) => {
            tracing::warn!(peer = %addr, "TLS handshake timed out");
            if let Some(observer) = &config.tls_observer {
                observer("timeout");
            }
            return None;
        }
    };
    let tls_subject = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|certs| certs.first())
        .and_then(|cert| crate::tls::describe_cert(cert).ok())
        .map(|info| info.subject);
    tracing::debug!(peer = %addr, subject = ?tls_subject, "TLS client accepted");
    Some((Box::new(stream), Peer { addr, tls_subject }))
}

/// Answers `503` to a connection over the limit and closes it.
fn refuse_connection(config: &ServerConfig, mut io: Box<dyn Io>, addr: SocketAddr) {
    tracing::warn!(peer = %addr, max = config.max_connections, "connection limit reached; answering 503");
    if let Some(observer) = &config.observer {
        observer(&RequestRecord {
            method: icap_proto::Method::Options,
            service: String::new(),
            status: 503,
            body_bytes: 0,
            elapsed: Duration::ZERO,
            verdict: "none",
        });
    }
    tokio::spawn(async move {
        let mut head = ResponseHead::new(503);
        head.headers.append("Connection", "close");
        head.headers.append("X-Error-Reason", "too many connections");
        let mut out = bytes::BytesMut::new();
        encode_response_head(&head, Parts::NONE, &mut out);
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            let _ = io.write_all(&out).await;
            let _ = io.shutdown().await;
        })
        .await;
    });
}

/// A bound listener and how its connections start.
#[derive(Debug)]
pub struct Listener {
    /// The bound socket.
    pub socket: TcpListener,
    /// Plain ICAP or TLS.
    pub transport: Transport,
    /// Each connection starts with a PROXY protocol v1 or v2 header naming the real client.
    pub proxy_protocol: bool,
}

impl Listener {
    /// A plain ICAP listener without PROXY protocol.
    pub fn plain(socket: TcpListener) -> Self {
        Self { socket, transport: Transport::Plain, proxy_protocol: false }
    }
}

/// How a listener's connections start.
#[derive(Debug, Clone)]
pub enum Transport {
    /// Plain ICAP.
    Plain,
    /// ICAP over TLS (`icaps://`).
    Tls(Arc<ReloadableTls>),
}

/// A short label for why a handshake failed, for metrics.
fn handshake_failure_reason(error: &std::io::Error) -> String {
    let text = error.to_string();
    let reason = if text.contains("CertificateRequired") || text.contains("NoCertificatesPresented") {
        "no_client_certificate"
    } else if text.contains("Expired") {
        "client_certificate_expired"
    } else if text.contains("InvalidCertificate") || text.contains("UnknownIssuer") {
        "client_certificate_rejected"
    } else if text.contains("InvalidContentType") || text.contains("CorruptMessage") || text.contains("HTTP")
    {
        "not_tls"
    } else if text.contains("PeerIncompatible") || text.contains("NoCipherSuitesInCommon") {
        "incompatible"
    } else if error.kind() == std::io::ErrorKind::UnexpectedEof {
        "closed_during_handshake"
    } else {
        "other"
    };
    reason.to_string()
}

/// An accept error that says the listening socket itself is unusable (EBADF, EFAULT, EINVAL,
/// ENOTSOCK): the only kind that stops the accept loop. accept(2) on Linux also returns the
/// pending network errors of the new connection (EPROTO, ENETDOWN, EHOSTUNREACH, ...), which
/// must not stop a server.
fn listener_is_broken(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(9) | Some(14) | Some(22) | Some(88))
}

/// Out of file descriptors (ENFILE, EMFILE), buffers (ENOBUFS) or memory (ENOMEM): accepting
/// again at once would spin, so the loop waits a little.
fn is_resource_shortage(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(23) | Some(24) | Some(105) | Some(12))
}

/// Binds a listener with a deep accept backlog, for bursts of connections.
pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket =
        if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(4096)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_broken_listener_stops_the_accept_loop() {
        let os = std::io::Error::from_raw_os_error;
        // The new connection's pending errors, and shortages: keep listening.
        for errno in [71, 100, 113, 103, 104, 110, 24, 23, 105, 12] {
            assert!(!listener_is_broken(&os(errno)), "errno {errno}");
        }
        for errno in [9, 14, 22, 88] {
            assert!(listener_is_broken(&os(errno)), "errno {errno}");
        }
        assert!(is_resource_shortage(&os(24)) && !is_resource_shortage(&os(71)));
    }
}
