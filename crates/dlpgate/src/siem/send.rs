//! Sending one encoded batch to one receiver, and saying whether the receiver has it.
//!
//! - HTTP (HEC, webhook): a `2xx` answer is the receipt.
//! - Syslog over TCP and TLS has no receipts, so each batch goes on a connection of its own:
//!   the frames, then our end of the stream closed (TLS `close_notify` first), then we wait for
//!   the receiver to close its end. A receiver closes only after reading to our end, so its
//!   close says it read every frame; a receiver that died or hangs mid-batch gives an error or
//!   a timeout, and the batch is sent again. (What the receiver then does with what it read,
//!   say an rsyslog killed before writing its queue out, is beyond what syslog can tell.)
//! - Syslog over UDP has no receipt at all: a batch counts as delivered once sent.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderValue, AUTHORIZATION, CONNECTION, CONTENT_TYPE, HOST, USER_AGENT};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio_rustls::TlsConnector;

use super::encode::{octet_counted, Payload};
use super::target::{HostPort, HttpTarget, Receiver, SinkSpec};

/// Longest syslog message sent over UDP, in bytes: longer ones are cut (at a character
/// boundary) to fit a datagram, rather than fail for ever.
pub const MAX_UDP_MESSAGE: usize = 65_000;
/// Bytes of an HTTP answer's body read (for the log); the rest is dropped.
pub const MAX_ANSWER_BODY: usize = 4096;
/// The system's CA bundle (Debian's path), trusted when `--siem-ca` is not given.
pub const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Why a batch was not delivered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// Connecting, the TLS handshake, writing or reading failed.
    #[error("{0}")]
    Io(String),
    /// The receiver answered, but not with success.
    #[error("the receiver answered {status}: {body}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The start of its body.
        body: String,
    },
}

fn io(what: &str, e: impl std::fmt::Display) -> SendError {
    SendError::Io(format!("{what}: {e}"))
}

/// TLS for the SIEM sinks: which CAs are trusted, which client certificate is shown.
#[derive(Debug, Clone, Default)]
pub struct SiemTls {
    /// CA bundle (`--siem-ca`); the system bundle when `None`.
    pub ca: Option<std::path::PathBuf>,
    /// Client certificate chain (or combined key+cert PEM).
    pub cert: Option<std::path::PathBuf>,
    /// Its key.
    pub key: Option<std::path::PathBuf>,
}

impl SiemTls {
    /// The rustls client config (names are checked; the server must chain to a trusted CA),
    /// offering `alpn`; warnings to log.
    fn client_config(&self, alpn: &[&[u8]]) -> Result<(Arc<rustls::ClientConfig>, Vec<String>), String> {
        let settings = icap::tls::TlsClientSettings {
            trust: Some(self.ca.clone().unwrap_or_else(|| SYSTEM_CA_BUNDLE.into())),
            verify: icap::tls::ServerVerifyMode::Chain,
            cert: self.cert.clone(),
            key: self.key.clone(),
            ..Default::default()
        };
        let (config, warnings) = settings.build().map_err(|e| e.to_string())?;
        let mut config = (*config).clone();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok((Arc::new(config), warnings))
    }
}

/// A sink's connection settings, ready to send.
#[derive(Debug)]
pub struct Sender {
    receiver: Receiver,
    tls: Option<Arc<rustls::ClientConfig>>,
    /// `Splunk TOKEN` or `Bearer TOKEN`.
    authorization: Option<HeaderValue>,
    timeout: Duration,
}

impl Sender {
    /// Loads what the sink needs (TLS settings, the token file); an error stops start-up.
    pub fn new(spec: &SinkSpec, tls: &SiemTls, timeout: Duration) -> Result<(Self, Vec<String>), String> {
        let mut warnings = Vec::new();
        let connector = if spec.receiver.is_tls() {
            let alpn: &[&[u8]] = if spec.receiver.is_http() { &[b"http/1.1"] } else { &[] };
            let (c, w) = tls.client_config(alpn).map_err(|e| format!("--siem {}: TLS: {e}", spec.name))?;
            warnings.extend(w);
            Some(c)
        } else {
            None
        };
        let authorization = match &spec.token_file {
            Some(path) => {
                let token = read_token(path).map_err(|e| format!("--siem {}: {e}", spec.name))?;
                let scheme =
                    if matches!(spec.receiver, Receiver::SplunkHec(_)) { "Splunk" } else { "Bearer" };
                let mut value = HeaderValue::from_str(&format!("{scheme} {token}")).map_err(|_| {
                    format!("--siem {}: the token in {} is not a header value", spec.name, path.display())
                })?;
                value.set_sensitive(true);
                Some(value)
            }
            None => None,
        };
        Ok((Self { receiver: spec.receiver.clone(), tls: connector, authorization, timeout }, warnings))
    }

    /// Sends one payload within the send timeout.
    pub async fn send(&self, payload: &Payload) -> Result<(), SendError> {
        let work = async {
            match (&self.receiver, payload) {
                (Receiver::SyslogUdp(to), Payload::Syslog(messages)) => send_udp(to, messages).await,
                (Receiver::SyslogTcp(to), Payload::Syslog(messages)) => {
                    let stream = connect(to).await?;
                    send_stream(stream, messages).await
                }
                (Receiver::SyslogTls(to), Payload::Syslog(messages)) => {
                    let stream = self.tls_connect(to).await?;
                    send_stream(stream, messages).await
                }
                (Receiver::SplunkHec(target) | Receiver::Webhook(target), Payload::Http(body)) => {
                    self.post(target, body).await
                }
                _ => Err(SendError::Io("payload does not fit the receiver".to_string())),
            }
        };
        tokio::time::timeout(self.timeout, work).await.unwrap_or_else(|_| {
            Err(SendError::Io(format!("no receipt within {} ms", self.timeout.as_millis())))
        })
    }

    async fn tls_connect(
        &self,
        to: &HostPort,
    ) -> Result<tokio_rustls::client::TlsStream<TcpStream>, SendError> {
        let tcp = connect(to).await?;
        self.tls_connect_on(to, tcp).await
    }

    /// One POST on a connection of its own.
    async fn post(&self, target: &HttpTarget, body: &[u8]) -> Result<(), SendError> {
        let request = Request::builder()
            .method(Method::POST)
            .uri(target.uri.path_and_query().map_or("/", |p| p.as_str()))
            .header(HOST, target.uri.authority().map_or("", |a| a.as_str()))
            .header(CONTENT_TYPE, "application/json")
            .header(USER_AGENT, concat!("dlpgate/", env!("CARGO_PKG_VERSION")))
            .header(CONNECTION, "close");
        let request = match &self.authorization {
            Some(auth) => request.header(AUTHORIZATION, auth.clone()),
            None => request,
        };
        let request = request.body(Full::new(Bytes::copy_from_slice(body))).map_err(|e| io("request", e))?;
        let tcp = connect(&target.addr).await?;
        if target.tls {
            let stream = self.tls_connect_on(&target.addr, tcp).await?;
            exchange(stream, request).await
        } else {
            exchange(tcp, request).await
        }
    }

    async fn tls_connect_on(
        &self,
        to: &HostPort,
        tcp: TcpStream,
    ) -> Result<tokio_rustls::client::TlsStream<TcpStream>, SendError> {
        let config = self.tls.clone().ok_or_else(|| SendError::Io("no TLS settings".to_string()))?;
        let name = ServerName::try_from(to.host.clone()).map_err(|e| io("server name", e))?;
        TlsConnector::from(config).connect(name, tcp).await.map_err(|e| io(&format!("TLS with {to}"), e))
    }
}

/// Reads a token file: one line, surrounding white space dropped; a file others can read
/// gets a warning in the log.
fn read_token(path: &std::path::Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("token file {}: {e}", path.display()))?;
    let token = text.trim();
    if token.is_empty() || token.contains(['\r', '\n']) {
        return Err(format!("token file {}: expected one line with the token", path.display()));
    }
    if let Ok(Some(warning)) = icap::tls::check_key_permissions(path) {
        tracing::warn!("token file: {warning}");
    }
    Ok(token.to_string())
}

async fn connect(to: &HostPort) -> Result<TcpStream, SendError> {
    let stream =
        TcpStream::connect((to.host.as_str(), to.port)).await.map_err(|e| io(&format!("connect {to}"), e))?;
    stream.set_nodelay(true).ok();
    Ok(stream)
}

/// Octet-counted frames, our end closed, then the receiver's close awaited (the receipt).
async fn send_stream(
    mut stream: impl AsyncRead + AsyncWrite + Unpin,
    messages: &[String],
) -> Result<(), SendError> {
    let mut out = Vec::with_capacity(messages.iter().map(|m| m.len() + 8).sum());
    for m in messages {
        out.extend_from_slice(octet_counted(m).as_bytes());
    }
    stream.write_all(&out).await.map_err(|e| io("write", e))?;
    stream.shutdown().await.map_err(|e| io("close", e))?;
    // Whatever the receiver sends back is read and dropped, up to its close.
    let mut sink = [0u8; 512];
    loop {
        match stream.read(&mut sink).await {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            // A TLS receiver that closes the TCP connection without close_notify still read
            // everything before it closed.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(io("waiting for the receiver to close", e)),
        }
    }
}

/// One datagram per message.
async fn send_udp(to: &HostPort, messages: &[String]) -> Result<(), SendError> {
    let addr: SocketAddr = tokio::net::lookup_host((to.host.as_str(), to.port))
        .await
        .map_err(|e| io(&format!("resolve {to}"), e))?
        .next()
        .ok_or_else(|| SendError::Io(format!("{to}: no address")))?;
    let local: SocketAddr =
        if addr.is_ipv6() { "[::]:0" } else { "0.0.0.0:0" }.parse().map_err(|e| io("bind", e))?;
    let socket = UdpSocket::bind(local).await.map_err(|e| io("bind", e))?;
    socket.connect(addr).await.map_err(|e| io(&format!("connect {to}"), e))?;
    for m in messages {
        let mut end = m.len().min(MAX_UDP_MESSAGE);
        while !m.is_char_boundary(end) {
            end -= 1;
        }
        socket.send(&m.as_bytes()[..end]).await.map_err(|e| io(&format!("send to {to}"), e))?;
    }
    Ok(())
}

/// Sends `request` over `stream` with HTTP/1.1 and reads the answer.
async fn exchange(
    stream: impl AsyncRead + AsyncWrite + Unpin + Send + 'static,
    request: Request<Full<Bytes>>,
) -> Result<(), SendError> {
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| io("HTTP", e))?;
    let driver = tokio::spawn(connection);
    let answer = sender.send_request(request).await.map_err(|e| io("HTTP", e));
    let result = match answer {
        Ok(answer) => {
            let status = answer.status();
            let mut body = Vec::new();
            let mut frames = answer.into_body();
            while body.len() < MAX_ANSWER_BODY {
                match frames.frame().await {
                    Some(Ok(frame)) => {
                        if let Some(data) = frame.data_ref() {
                            body.extend_from_slice(data);
                        }
                    }
                    _ => break,
                }
            }
            body.truncate(MAX_ANSWER_BODY);
            if status.is_success() {
                Ok(())
            } else {
                Err(SendError::Refused {
                    status: status.as_u16(),
                    body: String::from_utf8_lossy(&body).into_owned(),
                })
            }
        }
        Err(e) => Err(e),
    };
    driver.abort();
    result
}
