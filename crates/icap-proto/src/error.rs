//! Protocol errors, each mapped to the ICAP status a server answers with.

use std::fmt;

/// Why a message could not be decoded or encoded.
///
/// The kind is private so that new failure modes do not break callers; ask the predicates and
/// [`ProtoError::status`] instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtoError {
    kind: Kind,
    detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Malformed syntax: start line, header, Encapsulated, chunk framing.
    BadRequest,
    /// A configured size limit was exceeded.
    TooLarge,
    /// A method other than OPTIONS, REQMOD and RESPMOD.
    NotImplemented,
    /// A protocol version other than ICAP/1.0.
    VersionNotSupported,
    /// A malformed response (client role).
    BadResponse,
    /// The decoder's own invariant broke: a bug, not the peer's fault. The connection cannot
    /// go on (its framing is unknown) and the error is worth logging.
    Internal,
}

impl ProtoError {
    pub(crate) fn bad(detail: impl Into<String>) -> Self {
        Self { kind: Kind::BadRequest, detail: detail.into() }
    }

    pub(crate) fn too_large(detail: impl Into<String>) -> Self {
        Self { kind: Kind::TooLarge, detail: detail.into() }
    }

    pub(crate) fn not_implemented(detail: impl Into<String>) -> Self {
        Self { kind: Kind::NotImplemented, detail: detail.into() }
    }

    pub(crate) fn version(detail: impl Into<String>) -> Self {
        Self { kind: Kind::VersionNotSupported, detail: detail.into() }
    }

    pub(crate) fn bad_response(detail: impl Into<String>) -> Self {
        Self { kind: Kind::BadResponse, detail: detail.into() }
    }

    pub(crate) fn internal(detail: impl Into<String>) -> Self {
        Self { kind: Kind::Internal, detail: detail.into() }
    }

    /// The ICAP status code a server sends back for this error.
    ///
    /// Limits are answered with 400 and a reason (ICAP has no 413); the caller puts
    /// [`ProtoError::detail`] in an `X-Error-Reason` header.
    pub fn status(&self) -> u16 {
        match self.kind {
            Kind::BadRequest | Kind::TooLarge | Kind::BadResponse => 400,
            Kind::NotImplemented => 501,
            Kind::VersionNotSupported => 505,
            Kind::Internal => 500,
        }
    }

    /// A short human-readable reason, safe to put in a header.
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// True when a configured size limit was exceeded.
    pub fn is_limit(&self) -> bool {
        self.kind == Kind::TooLarge
    }

    /// True when the decoder's own invariant broke (a bug in this crate, not the peer's
    /// fault): log it; the connection cannot go on.
    pub fn is_internal(&self) -> bool {
        self.kind == Kind::Internal
    }

    /// True when the peer's response (client role) was malformed.
    pub fn is_bad_response(&self) -> bool {
        self.kind == Kind::BadResponse
    }
}

impl fmt::Display for ProtoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            Kind::BadRequest => "malformed ICAP message",
            Kind::TooLarge => "ICAP message over a limit",
            Kind::NotImplemented => "ICAP method not implemented",
            Kind::VersionNotSupported => "ICAP version not supported",
            Kind::BadResponse => "malformed ICAP response",
            Kind::Internal => "internal error of the ICAP decoder",
        };
        write!(f, "{what}: {}", self.detail)
    }
}

impl std::error::Error for ProtoError {}

/// Result alias for the codec.
pub type Result<T> = std::result::Result<T, ProtoError>;
