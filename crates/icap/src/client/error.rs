//! What can go wrong talking to an ICAP server, and whether anything was answered.

use std::fmt;

/// The kind of failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Connect,
    /// Dialing was refused: nothing listens on the port.
    Refused,
    Timeout,
    Tls(TlsFailure),
    Protocol,
    Status,
    Io,
    Body,
    Sink,
    TooLarge,
}

/// Why a TLS handshake (or the connection right after it) failed, as far as rustls says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsFailure {
    /// The server's certificate was not accepted: unknown issuer, wrong name, expired, not
    /// pinned.
    ServerCertificateRejected,
    /// The server refused the client certificate (or its absence) with an alert such as
    /// `certificate_required`, `bad_certificate` or `unknown_ca`.
    ClientCertificateRefused,
    /// Anything else: no common version or cipher suite, a non-TLS port, local settings.
    Other,
}

impl TlsFailure {
    /// What rustls's error inside `e` says, if it is one.
    fn of(e: &std::io::Error) -> Option<Self> {
        use rustls::AlertDescription as A;
        let inner = e.get_ref()?.downcast_ref::<rustls::Error>()?;
        Some(match inner {
            rustls::Error::InvalidCertificate(_) => Self::ServerCertificateRejected,
            rustls::Error::AlertReceived(
                A::CertificateRequired
                | A::BadCertificate
                | A::UnknownCA
                | A::CertificateUnknown
                | A::AccessDenied
                | A::UnsupportedCertificate
                | A::CertificateRevoked
                | A::CertificateExpired
                | A::HandshakeFailure,
            ) => Self::ClientCertificateRefused,
            _ => Self::Other,
        })
    }
}

/// A failed exchange with one server.
#[derive(Debug, Clone)]
pub struct ClientError {
    kind: Kind,
    server: String,
    detail: String,
    status: Option<u16>,
    istag: Option<String>,
    answered: bool,
}

impl ClientError {
    fn of(kind: Kind, server: &str, detail: impl Into<String>) -> Self {
        Self {
            kind,
            server: server.to_string(),
            detail: detail.into(),
            status: None,
            istag: None,
            answered: false,
        }
    }

    /// For a [`Dialer`](super::Dialer): connecting failed with `e` (a timed-out connect
    /// counts as a timeout, a refused one as refused).
    pub fn connect_failed(server: &str, e: std::io::Error) -> Self {
        let kind = match e.kind() {
            std::io::ErrorKind::TimedOut => Kind::Timeout,
            std::io::ErrorKind::ConnectionRefused => Kind::Refused,
            _ => Kind::Connect,
        };
        Self::of(kind, server, format!("cannot connect: {e}"))
    }

    /// For a [`Dialer`](super::Dialer): the TLS handshake failed with `e`; `detail`
    /// says so for people. The kind comes from the rustls error inside `e`.
    pub fn handshake_failed(server: &str, e: &std::io::Error, detail: impl Into<String>) -> Self {
        if e.kind() == std::io::ErrorKind::TimedOut {
            return Self::of(Kind::Timeout, server, detail);
        }
        Self::of(Kind::Tls(TlsFailure::of(e).unwrap_or(TlsFailure::Other)), server, detail)
    }

    /// The connection failed while reading or writing with `e`: a TLS alert (a TLS 1.3
    /// server refuses a client certificate only after the handshake) is a TLS failure,
    /// anything else a broken connection.
    pub(crate) fn connection_failed(server: &str, e: &std::io::Error) -> Self {
        let detail = format!("connection failed: {e}");
        match TlsFailure::of(e) {
            Some(failure @ TlsFailure::ClientCertificateRefused) => {
                Self::of(Kind::Tls(failure), server, detail)
            }
            _ => Self::of(Kind::Io, server, detail),
        }
    }

    pub(crate) fn timeout(server: &str, detail: impl Into<String>) -> Self {
        Self::of(Kind::Timeout, server, detail)
    }

    pub(crate) fn tls(server: &str, detail: impl Into<String>) -> Self {
        Self::of(Kind::Tls(TlsFailure::Other), server, detail)
    }

    pub(crate) fn protocol(server: &str, detail: impl Into<String>) -> Self {
        Self::of(Kind::Protocol, server, detail)
    }

    pub(crate) fn io(server: &str, detail: impl Into<String>) -> Self {
        Self::of(Kind::Io, server, detail)
    }

    pub(crate) fn body(server: &str, detail: impl Into<String>) -> Self {
        Self::of(Kind::Body, server, detail)
    }

    pub(crate) fn sink(server: &str, e: std::io::Error) -> Self {
        Self::of(Kind::Sink, server, format!("writing the answer's body failed: {e}"))
    }

    pub(crate) fn too_large(server: &str, limit: usize) -> Self {
        Self::of(Kind::TooLarge, server, format!("the answer's body is over the {limit}-byte limit"))
            .answered(true)
    }

    /// The connection broke (reset, closed, a failed write): the kind a stale pooled
    /// connection gives.
    pub(crate) fn is_io(&self) -> bool {
        self.kind == Kind::Io
    }

    pub(crate) fn status(server: &str, status: u16, reason: &str) -> Self {
        Self {
            kind: Kind::Status,
            server: server.to_string(),
            detail: format!("ICAP {status} {reason}"),
            status: Some(status),
            istag: None,
            answered: true,
        }
    }

    pub(crate) fn with_istag(mut self, istag: Option<&str>) -> Self {
        self.istag = istag.map(str::to_string);
        self
    }

    /// The ISTag of an error answer (the service may have changed).
    pub(crate) fn istag(&self) -> Option<&str> {
        self.istag.as_deref()
    }

    pub(crate) fn answered(mut self, answered: bool) -> Self {
        self.answered = answered;
        self
    }

    /// The server could not be reached (refused, unreachable, no such host).
    pub fn is_connect(&self) -> bool {
        matches!(self.kind, Kind::Connect | Kind::Refused)
    }

    /// Dialing was refused: nothing listens on the port.
    pub fn is_refused(&self) -> bool {
        self.kind == Kind::Refused
    }

    /// A connect, handshake or read timed out.
    pub fn is_timeout(&self) -> bool {
        self.kind == Kind::Timeout
    }

    /// The TLS handshake failed (untrusted server certificate, refused client certificate).
    pub fn is_tls(&self) -> bool {
        self.tls_failure().is_some()
    }

    /// Why TLS failed, when it did.
    pub fn tls_failure(&self) -> Option<TlsFailure> {
        match self.kind {
            Kind::Tls(failure) => Some(failure),
            _ => None,
        }
    }

    /// The server broke the protocol.
    pub fn is_protocol(&self) -> bool {
        self.kind == Kind::Protocol
    }

    /// The server answered `404`: no such service.
    pub fn is_service_not_found(&self) -> bool {
        self.status == Some(404)
    }

    /// The ICAP error status the server answered, if it answered one.
    pub fn icap_status(&self) -> Option<u16> {
        self.status
    }

    /// Reading the body to send failed (a local file error, not the server's fault).
    pub fn is_body(&self) -> bool {
        self.kind == Kind::Body
    }

    /// Writing the answer's body to the caller's sink failed.
    pub fn is_sink(&self) -> bool {
        self.kind == Kind::Sink
    }

    /// A collected answer's body went over [`ClientConfig::max_buffered_body`]
    /// (stream it with [`Client::send`] instead).
    ///
    /// [`ClientConfig::max_buffered_body`]: super::ClientConfig::max_buffered_body
    /// [`Client::send`]: super::Client::send
    pub fn is_body_too_large(&self) -> bool {
        self.kind == Kind::TooLarge
    }

    /// True when the server answered something for this request: retrying elsewhere could
    /// then judge the same file twice.
    pub fn was_answered(&self) -> bool {
        self.answered
    }

    /// The server (`host:port`) the error came from.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// A human-readable reason.
    pub fn detail(&self) -> &str {
        &self.detail
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.server, self.detail)
    }
}

impl std::error::Error for ClientError {}
