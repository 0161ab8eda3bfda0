//! The ICAP client: a connection pool per server, OPTIONS cached by Options-TTL and dropped
//! when the ISTag changes, the preview size taken from OPTIONS, 204 offered, bodies streamed
//! from any `AsyncRead` while the answer streams back (never a deadlock on large bodies).

mod body;
mod connect;
mod error;
mod exchange;
mod pipeline;
mod pool;
mod uri;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use icap_proto::{Headers, HttpRequestHead, HttpResponseHead, Limits, Method, ServiceOptions};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub use connect::{Dialer, Dialing, TcpDialer};
pub use error::{ClientError, TlsFailure};
pub use pipeline::Batched;
pub use uri::{IcapUri, ICAPS_PORT, ICAP_PORT};

use crate::server::Io;
use pool::Pool;

/// Client settings; every limit has a named default.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// How long a TCP connect (and a TLS handshake) may take.
    pub connect_timeout: Duration,
    /// How long to wait for any byte of an answer, or for a write to go through.
    pub read_timeout: Duration,
    /// How long an idle connection stays in the pool.
    pub idle_lifetime: Duration,
    /// Idle connections kept per server (0: none; every request opens a new connection).
    pub max_idle_per_server: usize,
    /// Connections open at once per server (0: no limit); further requests wait their turn.
    pub max_connections_per_server: usize,
    /// Preview size when the server's OPTIONS gives none (0: no preview).
    pub default_preview: usize,
    /// Longest time an OPTIONS answer is cached when it has no Options-TTL.
    pub max_options_ttl: Duration,
    /// The `User-Agent` header.
    pub user_agent: String,
    /// Codec limits for answers.
    pub limits: Limits,
    /// Largest answer body [`Client::send_collect`] keeps in memory.
    pub max_buffered_body: usize,
    /// Body bytes kept while a request goes over a reused connection, so that it can be sent
    /// again on a new one when the old one turns out to be closed before any answer.
    pub retry_buffer: usize,
    /// TLS settings for `icaps://` servers.
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

impl ClientConfig {
    /// Default for [`ClientConfig::connect_timeout`].
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
    /// Default for [`ClientConfig::read_timeout`].
    pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(60);
    /// Default for [`ClientConfig::idle_lifetime`]: under the server's idle timeout (60 s).
    pub const DEFAULT_IDLE_LIFETIME: Duration = Duration::from_secs(30);
    /// Default for [`ClientConfig::max_idle_per_server`].
    pub const DEFAULT_MAX_IDLE_PER_SERVER: usize = 64;
    /// Default for [`ClientConfig::max_connections_per_server`].
    pub const DEFAULT_MAX_CONNECTIONS_PER_SERVER: usize = 64;
    /// Default for [`ClientConfig::default_preview`]: none; servers that want one say so.
    pub const DEFAULT_PREVIEW: usize = 0;
    /// Default for [`ClientConfig::max_options_ttl`].
    pub const DEFAULT_MAX_OPTIONS_TTL: Duration = Duration::from_secs(3600);
    /// Default for [`ClientConfig::max_buffered_body`].
    pub const DEFAULT_MAX_BUFFERED_BODY: usize = 16 * 1024 * 1024;
    /// Default for [`ClientConfig::retry_buffer`]: a preview, or the first writes of a body
    /// before a closed connection shows.
    pub const DEFAULT_RETRY_BUFFER: usize = 256 * 1024;
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
            read_timeout: Self::DEFAULT_READ_TIMEOUT,
            idle_lifetime: Self::DEFAULT_IDLE_LIFETIME,
            max_idle_per_server: Self::DEFAULT_MAX_IDLE_PER_SERVER,
            max_connections_per_server: Self::DEFAULT_MAX_CONNECTIONS_PER_SERVER,
            default_preview: Self::DEFAULT_PREVIEW,
            max_options_ttl: Self::DEFAULT_MAX_OPTIONS_TTL,
            user_agent: concat!("icap/", env!("CARGO_PKG_VERSION")).to_string(),
            limits: Limits::default(),
            max_buffered_body: Self::DEFAULT_MAX_BUFFERED_BODY,
            retry_buffer: Self::DEFAULT_RETRY_BUFFER,
            tls: None,
        }
    }
}

/// What to send: REQMOD with an HTTP request, or RESPMOD with a response (and its request).
#[derive(Debug, Clone)]
pub struct ClientRequest {
    /// REQMOD or RESPMOD.
    pub method: Method,
    /// The HTTP request head.
    pub http_request: Option<HttpRequestHead>,
    /// The HTTP response head (RESPMOD).
    pub http_response: Option<HttpResponseHead>,
    /// Extra ICAP headers (`X-Client-IP`, `X-Authenticated-User`, ...).
    pub headers: Headers,
    /// The preview to send.
    pub preview: Preview,
    /// Offer `Allow: 204`.
    pub allow_204: bool,
    /// The file's extension (`pdf`), when known: with [`Preview::FromOptions`], the
    /// service's `Transfer-Complete` / `Transfer-Preview` lists then choose whole or preview.
    /// A `Transfer-Ignore` extension is still sent (whole): a DLP client never skips
    /// inspection on its own; callers that want to skip ask
    /// [`ServiceOptions::transfer_mode`] first.
    pub extension: Option<String>,
}

impl ClientRequest {
    /// A REQMOD of this HTTP request.
    pub fn reqmod(http_request: HttpRequestHead) -> Self {
        Self {
            method: Method::Reqmod,
            http_request: Some(http_request),
            http_response: None,
            headers: Headers::new(),
            preview: Preview::FromOptions,
            allow_204: true,
            extension: None,
        }
    }

    /// A RESPMOD of this HTTP response (and the request that caused it).
    pub fn respmod(http_request: Option<HttpRequestHead>, http_response: HttpResponseHead) -> Self {
        Self {
            method: Method::Respmod,
            http_request,
            http_response: Some(http_response),
            headers: Headers::new(),
            preview: Preview::FromOptions,
            allow_204: true,
            extension: None,
        }
    }
}

/// How much of the body goes in a preview.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Preview {
    /// The size the service's OPTIONS announces (none if it announces none).
    #[default]
    FromOptions,
    /// No preview: the whole body is sent at once.
    Off,
    /// This many bytes (`Preview: 0` is valid: the server sees the heads first).
    Size(usize),
}

/// The answer.
#[derive(Debug, Clone)]
pub struct ClientResponse {
    /// ICAP status (200, 204, or an error status).
    pub status: u16,
    /// ICAP headers.
    pub headers: Headers,
    /// The modified or replacement HTTP request head.
    pub http_request: Option<HttpRequestHead>,
    /// The modified or replacement HTTP response head (a block page, say).
    pub http_response: Option<HttpResponseHead>,
    /// Bytes of the answer's body (written to the caller's sink).
    pub body_len: u64,
    /// True for 204, and for a 200 whose body is byte-identical to what was sent and that
    /// kept the message's kind (no response in place of a request, the same HTTP status):
    /// the server changed nothing, so a verdict reader can tell "allowed" from "modified".
    pub unmodified: bool,
    /// Bytes of the body that were sent.
    pub sent_len: u64,
    /// SHA-256 of those `sent_len` bytes (the client computes it for `unmodified`; a caller
    /// that wants the hash of what it sent need not compute it again).
    pub sent_sha256: [u8; 32],
    /// The server (`host:port`).
    pub server: String,
}

/// An answer with its body in memory (see [`Client::send_collect`]).
#[derive(Debug, Clone)]
pub struct Collected {
    /// Status, headers and HTTP heads.
    pub response: ClientResponse,
    /// The answer's body, at most [`ClientConfig::max_buffered_body`] bytes.
    pub body: Vec<u8>,
}

impl ClientResponse {
    /// The ISTag of the answer.
    pub fn istag(&self) -> Option<&str> {
        self.headers.get("istag")
    }
}

/// A cached OPTIONS answer.
#[derive(Debug, Clone)]
struct CachedOptions {
    options: Arc<ServiceOptions>,
    expires: Instant,
}

/// An ICAP client; clones share the pool and the OPTIONS cache.
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: ClientConfig,
    pool: Pool,
    options: Mutex<HashMap<IcapUri, CachedOptions>>,
    /// Per service: held while an OPTIONS for it is under way.
    refreshing: Mutex<HashMap<IcapUri, Arc<tokio::sync::Mutex<()>>>>,
    dialer: Arc<dyn Dialer>,
    /// Per server: one permit per connection in use.
    permits: Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// Connections are pooled and limited per server (`scheme://host:port`), whatever the service.
fn server_key(uri: &IcapUri) -> String {
    format!("{}://{}", if uri.tls { "icaps" } else { "icap" }, uri.authority())
}

impl Client {
    /// A client with these settings, over TCP (and TLS for `icaps://`).
    pub fn new(config: ClientConfig) -> Self {
        Self::with_dialer(config, Arc::new(TcpDialer))
    }

    /// A client that opens its connections with `dialer`.
    pub fn with_dialer(config: ClientConfig, dialer: Arc<dyn Dialer>) -> Self {
        let pool = Pool::new(config.max_idle_per_server, config.idle_lifetime);
        Self {
            inner: Arc::new(Inner {
                config,
                pool,
                dialer,
                options: Mutex::new(HashMap::new()),
                refreshing: Mutex::new(HashMap::new()),
                permits: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The settings.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// The service's options, from the cache while fresh (Options-TTL, at most
    /// [`ClientConfig::max_options_ttl`]), else from an OPTIONS request.
    pub async fn options(&self, uri: &IcapUri) -> Result<Arc<ServiceOptions>, ClientError> {
        if let Some(cached) = self.cached_options(uri) {
            return Ok(cached);
        }
        // One OPTIONS per service at a time: the others wait and take its answer.
        let lock = {
            let mut locks = self.inner.refreshing.lock().unwrap_or_else(|p| p.into_inner());
            locks.entry(uri.clone()).or_default().clone()
        };
        let _refreshing = lock.lock().await;
        if let Some(cached) = self.cached_options(uri) {
            return Ok(cached);
        }
        self.refresh_options(uri).await
    }

    /// Sends OPTIONS now, and caches the answer.
    pub async fn refresh_options(&self, uri: &IcapUri) -> Result<Arc<ServiceOptions>, ClientError> {
        let options = Arc::new(
            self.with_connection(uri, |conn| exchange::options(conn, uri, &self.inner.config)).await?,
        );
        let max = self.inner.config.max_options_ttl;
        let ttl = options.options_ttl.map_or(max, |s| Duration::from_secs(s).min(max));
        let entry = CachedOptions { options: options.clone(), expires: Instant::now() + ttl };
        self.inner.options.lock().unwrap_or_else(|p| p.into_inner()).insert(uri.clone(), entry);
        Ok(options)
    }

    fn cached_options(&self, uri: &IcapUri) -> Option<Arc<ServiceOptions>> {
        let cache = self.inner.options.lock().unwrap_or_else(|p| p.into_inner());
        cache.get(uri).filter(|c| c.expires > Instant::now()).map(|c| c.options.clone())
    }

    /// Drops the cached options when an answer carries another ISTag: the service changed.
    fn note_istag(&self, uri: &IcapUri, istag: Option<&str>) {
        let Some(istag) = istag else { return };
        let mut cache = self.inner.options.lock().unwrap_or_else(|p| p.into_inner());
        if cache.get(uri).is_some_and(|c| c.options.istag != istag) {
            cache.remove(uri);
        }
    }

    /// Sends a REQMOD or RESPMOD with `body` (streamed; `None` for no body) and writes the
    /// answer's body to `sink`. The preview size comes from the service's OPTIONS.
    pub async fn send(
        &self,
        uri: &IcapUri,
        request: &ClientRequest,
        body: Option<&mut (dyn AsyncRead + Unpin + Send)>,
        sink: &mut (dyn AsyncWrite + Unpin + Send),
    ) -> Result<ClientResponse, ClientError> {
        let preview = match request.preview {
            Preview::Size(p) => Some(p),
            Preview::Off => None,
            Preview::FromOptions => {
                let options = self.options(uri).await?;
                let mode = request.extension.as_deref().map(|ext| options.transfer_mode(ext));
                match mode {
                    // Transfer-Complete, or Transfer-Ignore (sent whole all the same).
                    Some(Some(false)) | Some(None) => None,
                    _ => options.preview.or(Some(self.inner.config.default_preview).filter(|p| *p > 0)),
                }
            }
        };
        let config = &self.inner.config;
        let key = server_key(uri);
        let _permit = self.permit(&key).await;
        let pooled = self.inner.pool.take(&key);
        let was_pooled = pooled.is_some();
        let io = match pooled {
            Some(io) => io,
            None => self.connect(uri).await?,
        };
        // On a reused connection, keep the first body bytes: if the server had closed it,
        // the request goes again on a new one, the caller's reader never rewound.
        let keep = if was_pooled { config.retry_buffer } else { 0 };
        let mut replay = body.map(|b| body::Replay::new(b, keep));
        let mut outcome = exchange::modify(
            exchange::Conn { io },
            uri,
            config,
            request,
            preview,
            replay.as_mut().map(|r| r as &mut (dyn AsyncRead + Unpin + Send)),
            sink,
        )
        .await;
        if let exchange::Outcome::Failed { retryable: true, error } = &outcome {
            // Nothing was answered; once only, and only if the body can be replayed.
            if was_pooled && replay.as_mut().is_none_or(|r| r.rewind()) {
                tracing::debug!(server = %uri.authority(), %error, "pooled connection failed; retrying on a new one");
                let io = self.connect(uri).await?;
                outcome = exchange::modify(
                    exchange::Conn { io },
                    uri,
                    config,
                    request,
                    preview,
                    replay.as_mut().map(|r| r as &mut (dyn AsyncRead + Unpin + Send)),
                    sink,
                )
                .await;
            }
        }
        match outcome {
            exchange::Outcome::Done { value, reusable } => {
                if let Some(conn) = reusable {
                    self.inner.pool.put(&key, conn.io);
                }
                self.note_istag(uri, value.istag());
                Ok(value)
            }
            exchange::Outcome::Failed { error, .. } => {
                self.note_istag(uri, error.istag());
                Err(error)
            }
        }
    }

    /// Like [`Client::send`], with the answer's body collected in memory, up to
    /// [`ClientConfig::max_buffered_body`] ([`ClientError::is_body_too_large`] beyond).
    pub async fn send_collect(
        &self,
        uri: &IcapUri,
        request: &ClientRequest,
        body: Option<&mut (dyn AsyncRead + Unpin + Send)>,
    ) -> Result<Collected, ClientError> {
        let max = self.inner.config.max_buffered_body;
        let mut sink = body::Collector::new(max);
        match self.send(uri, request, body, &mut sink).await {
            Ok(response) => Ok(Collected { response, body: sink.data }),
            Err(e) if sink.exceeded => Err(ClientError::too_large(e.server(), max)),
            Err(e) => Err(e),
        }
    }

    /// A REQMOD of `http_request` and its body (`None`: no body), answer collected.
    pub async fn reqmod(
        &self,
        uri: &IcapUri,
        http_request: HttpRequestHead,
        body: Option<&mut (dyn AsyncRead + Unpin + Send)>,
    ) -> Result<Collected, ClientError> {
        self.send_collect(uri, &ClientRequest::reqmod(http_request), body).await
    }

    /// A RESPMOD of `http_response` (and the request that caused it), answer collected.
    pub async fn respmod(
        &self,
        uri: &IcapUri,
        http_request: Option<HttpRequestHead>,
        http_response: HttpResponseHead,
        body: Option<&mut (dyn AsyncRead + Unpin + Send)>,
    ) -> Result<Collected, ClientError> {
        self.send_collect(uri, &ClientRequest::respmod(http_request, http_response), body).await
    }

    /// Sends small requests on one connection, pipelined: every request of `batch` is written
    /// before the first answer is read, and the answers, bodies collected, come back in the
    /// batch's order. Only for servers that read requests ahead of their answers (c-icap;
    /// dlpgate serve, which announces [`ServiceOptions::pipeline_depth`]).
    ///
    /// Requests left without an answer when a connection ends (a server that closes after a
    /// number of requests, a stale pooled connection) go again on a new connection, as long as
    /// each new connection answers at least one. A request that still has no answer gets an
    /// error whose [`ClientError::was_answered`] is false: no server judged it.
    pub async fn send_pipelined(
        &self,
        uri: &IcapUri,
        batch: &[Batched<'_>],
    ) -> Vec<Result<Collected, ClientError>> {
        let key = server_key(uri);
        let _permit = self.permit(&key).await;
        let mut results: Vec<Result<Collected, ClientError>> = Vec::with_capacity(batch.len());
        while results.len() < batch.len() {
            let rest = &batch[results.len()..];
            let pooled = self.inner.pool.take(&key);
            let was_pooled = pooled.is_some();
            let io = match pooled {
                Some(io) => io,
                None => match self.connect(uri).await {
                    Ok(io) => io,
                    Err(e) => {
                        results.extend(rest.iter().map(|_| Err(e.clone())));
                        break;
                    }
                },
            };
            let round = pipeline::exchange(exchange::Conn { io }, uri, &self.inner.config, rest).await;
            let progressed = !round.answers.is_empty();
            for answer in &round.answers {
                match answer {
                    Ok(c) => self.note_istag(uri, c.response.istag()),
                    Err(e) => self.note_istag(uri, e.istag()),
                }
            }
            results.extend(round.answers);
            if let Some(conn) = round.reusable {
                self.inner.pool.put(&key, conn.io);
            }
            if let Some(error) = round.unanswered {
                // Again only over a broken connection, never after a timeout (the server may
                // still be judging them), and only while connections make progress.
                if !(error.is_io() && (progressed || was_pooled)) {
                    let left = batch.len() - results.len();
                    results.extend(std::iter::repeat_n(error, left).map(Err));
                    break;
                }
                tracing::debug!(server = %uri.authority(), %error, "pipelined requests left unanswered; sending them again");
            }
        }
        results
    }

    /// Waits for a connection slot on this server ([`ClientConfig::max_connections_per_server`]).
    async fn permit(&self, key: &str) -> Option<OwnedSemaphorePermit> {
        let max = self.inner.config.max_connections_per_server;
        if max == 0 {
            return None;
        }
        let semaphore = {
            let mut permits = self.inner.permits.lock().unwrap_or_else(|p| p.into_inner());
            // Looked up before inserting: no key string allocated per request.
            match permits.get(key) {
                Some(s) => s.clone(),
                None => {
                    permits.entry(key.to_string()).or_insert_with(|| Arc::new(Semaphore::new(max))).clone()
                }
            }
        };
        semaphore.acquire_owned().await.ok()
    }

    /// Runs `f` on a pooled or new connection. A pooled connection that fails before the
    /// server answered anything and before any body byte was taken is replaced by a fresh
    /// one, once: nothing can be judged twice.
    async fn with_connection<T, F, Fut>(&self, uri: &IcapUri, mut f: F) -> Result<T, ClientError>
    where
        F: FnMut(exchange::Conn) -> Fut,
        Fut: std::future::Future<Output = exchange::Outcome<T>>,
    {
        let key = server_key(uri);
        let _permit = self.permit(&key).await;
        let pooled = self.inner.pool.take(&key);
        let was_pooled = pooled.is_some();
        let io = match pooled {
            Some(io) => io,
            None => self.connect(uri).await?,
        };
        let outcome = f(exchange::Conn { io }).await;
        match outcome {
            exchange::Outcome::Done { value, reusable: Some(conn) } => {
                self.inner.pool.put(&key, conn.io);
                Ok(value)
            }
            exchange::Outcome::Done { value, reusable: None } => Ok(value),
            exchange::Outcome::Failed { error, retryable } if was_pooled && retryable => {
                tracing::debug!(server = %uri.authority(), %error, "pooled connection failed; retrying on a new one");
                let io = self.connect(uri).await?;
                match f(exchange::Conn { io }).await {
                    exchange::Outcome::Done { value, reusable } => {
                        if let Some(conn) = reusable {
                            self.inner.pool.put(&key, conn.io);
                        }
                        Ok(value)
                    }
                    exchange::Outcome::Failed { error, .. } => Err(error),
                }
            }
            exchange::Outcome::Failed { error, .. } => Err(error),
        }
    }

    async fn connect(&self, uri: &IcapUri) -> Result<Box<dyn Io>, ClientError> {
        self.inner.dialer.connect(uri, &self.inner.config).await
    }
}
