//! ICAP message heads for both roles, and the typed view of their headers.

use std::fmt;

use bytes::{BufMut, BytesMut};

use crate::encapsulated::Encapsulated;
use crate::error::{ProtoError, Result};
use crate::headers::{parse_decimal, Headers};
use crate::http::{HttpRequestHead, HttpResponseHead};

/// The three ICAP methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// Ask a service what it supports.
    Options,
    /// Request modification.
    Reqmod,
    /// Response modification.
    Respmod,
}

impl Method {
    /// The method token on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Options => "OPTIONS",
            Method::Reqmod => "REQMOD",
            Method::Respmod => "RESPMOD",
        }
    }

    /// Parses a method token (case-sensitive, as RFC 3507 defines them).
    pub fn parse(token: &str) -> Result<Self> {
        match token {
            "OPTIONS" => Ok(Method::Options),
            "REQMOD" => Ok(Method::Reqmod),
            "RESPMOD" => Ok(Method::Respmod),
            other => Err(ProtoError::not_implemented(format!("method {other:?}"))),
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The optional features named in an `Allow` header.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Allow {
    /// `204`: the peer accepts "no modification needed".
    pub no_content: bool,
    /// `206`: the peer accepts partial content (parsed; dlpgate does not answer 206).
    pub partial_content: bool,
    /// `trailers`: the peer accepts ICAP trailers (draft-rousskov-icap-trailers).
    pub trailers: bool,
}

impl Allow {
    /// Reads every `Allow` header; unknown items are ignored, as the RFC asks.
    pub fn from_headers(headers: &Headers) -> Self {
        let mut allow = Self::default();
        for item in headers.list("allow") {
            match item.to_ascii_lowercase().as_str() {
                "204" => allow.no_content = true,
                "206" => allow.partial_content = true,
                "trailers" => allow.trailers = true,
                _ => {}
            }
        }
        allow
    }
}

/// An ICAP request line and headers, as a server receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// The method.
    pub method: Method,
    /// The request URI, such as `icap://127.0.0.1:1344/reqmod?x=1`.
    pub uri: String,
    /// The ICAP headers, `Encapsulated` included.
    pub headers: Headers,
}

impl RequestHead {
    /// A new request with no headers.
    pub fn new(method: Method, uri: impl Into<String>) -> Self {
        Self { method, uri: uri.into(), headers: Headers::new() }
    }

    /// The service name: the URI path without its leading `/` and without a query.
    pub fn service(&self) -> &str {
        service_of(&self.uri)
    }

    /// `Preview: n`, when present.
    pub fn preview(&self) -> Result<Option<usize>> {
        self.headers
            .get("preview")
            .map(|v| {
                let n = parse_decimal("Preview", v)?;
                usize::try_from(n).map_err(|_| ProtoError::bad("Preview is out of range"))
            })
            .transpose()
    }

    /// The features of `Allow`.
    pub fn allow(&self) -> Allow {
        Allow::from_headers(&self.headers)
    }

    /// Writes the start line and headers (no terminating blank line).
    pub(crate) fn encode_start(&self, dst: &mut BytesMut) {
        dst.put_slice(self.method.as_str().as_bytes());
        dst.put_u8(b' ');
        dst.put_slice(self.uri.as_bytes());
        dst.put_slice(b" ICAP/1.0\r\n");
    }
}

/// The path part of an ICAP URI, without `/` and query: `icap://h:1344/echo?x` gives `echo`.
pub fn service_of(uri: &str) -> &str {
    // The first `://`, found by its colon: `str::find` and `memmem::find` build a searcher
    // on every call, which costs more than the search in a URI this short.
    let bytes = uri.as_bytes();
    let rest = match memchr::memchr_iter(b':', bytes).find(|&i| bytes[i + 1..].starts_with(b"//")) {
        Some(i) => {
            let after = &uri[i + 3..];
            after.find('/').map_or("", |slash| &after[slash..])
        }
        None => uri,
    };
    let rest = rest.trim_start_matches('/');
    rest.split(['?', '#']).next().unwrap_or_default()
}

/// An ICAP status line and headers, as a client receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    /// The status code.
    pub status: u16,
    /// The reason phrase.
    pub reason: String,
    /// The ICAP headers.
    pub headers: Headers,
}

impl ResponseHead {
    /// A response with the standard reason phrase for `status`.
    pub fn new(status: u16) -> Self {
        Self { status, reason: reason_phrase(status).to_string(), headers: Headers::new() }
    }

    /// The `ISTag` value, quotes included.
    pub fn istag(&self) -> Option<&str> {
        self.headers.get("istag")
    }

    pub(crate) fn encode_start(&self, dst: &mut BytesMut) {
        dst.put_slice(format!("ICAP/1.0 {} ", self.status).as_bytes());
        dst.put_slice(self.reason.as_bytes());
        dst.put_slice(b"\r\n");
    }
}

/// The standard reason phrase of an ICAP status code.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        204 => "No Content",
        206 => "Partial Content",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "ICAP Service Not Found",
        405 => "Method Not Allowed For Service",
        408 => "Request Timeout",
        413 => "Request Entity Too Large",
        500 => "Server Error",
        501 => "Method Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Overloaded",
        505 => "ICAP Version Not Supported",
        _ => "Unknown",
    }
}

/// A whole ICAP request head with its encapsulated HTTP heads: what a server acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Start line and ICAP headers.
    pub head: RequestHead,
    /// The parsed `Encapsulated` header (absent on an OPTIONS request that has none).
    pub encapsulated: Option<Encapsulated>,
    /// The encapsulated HTTP request head.
    pub http_request: Option<HttpRequestHead>,
    /// The encapsulated HTTP response head.
    pub http_response: Option<HttpResponseHead>,
    /// `Preview: n` when the body starts with a preview of `n` bytes.
    pub preview: Option<usize>,
}

impl Request {
    /// True when a chunked body follows the heads.
    pub fn has_body(&self) -> bool {
        self.encapsulated.as_ref().is_some_and(|e| e.body() != crate::Section::NullBody)
    }
}

/// A whole ICAP response head with its encapsulated HTTP heads: what a client acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status line and ICAP headers.
    pub head: ResponseHead,
    /// The parsed `Encapsulated` header (absent on 100 and on most 204 and error answers).
    pub encapsulated: Option<Encapsulated>,
    /// The encapsulated HTTP request head (a modified request in REQMOD).
    pub http_request: Option<HttpRequestHead>,
    /// The encapsulated HTTP response head (a modified response, or a block page).
    pub http_response: Option<HttpResponseHead>,
}

impl Response {
    /// True when a chunked body follows the heads.
    pub fn has_body(&self) -> bool {
        self.encapsulated.as_ref().is_some_and(|e| e.body() != crate::Section::NullBody)
    }
}

/// The typed content of an OPTIONS response (RFC 3507 section 4.10.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceOptions {
    /// `Methods`: REQMOD and/or RESPMOD.
    pub methods: Vec<Method>,
    /// `ISTag`, with its quotes.
    pub istag: String,
    /// `Service`: a product description.
    pub service: Option<String>,
    /// `Service-ID`.
    pub service_id: Option<String>,
    /// `Max-Connections`.
    pub max_connections: Option<u32>,
    /// `Options-TTL` in seconds; `None` means the answer does not expire.
    pub options_ttl: Option<u64>,
    /// `Preview`: how many body bytes to send before waiting.
    pub preview: Option<usize>,
    /// `Allow`.
    pub allow: Allow,
    /// `Transfer-Preview` extensions.
    pub transfer_preview: Vec<String>,
    /// `Transfer-Ignore` extensions.
    pub transfer_ignore: Vec<String>,
    /// `Transfer-Complete` extensions.
    pub transfer_complete: Vec<String>,
    /// `X-Include`: extra headers the service wants from the client.
    pub x_include: Vec<String>,
    /// `X-Pipeline-Depth` (a dlpgate extension; other servers do not send it): the server
    /// reads requests sent one after another on a connection before their answers, and
    /// answers them in order; a client may have this many in flight per connection.
    pub pipeline_depth: Option<u32>,
    /// `X-Allow-Out`: the extension headers the service sends in its answers. Some clients
    /// (e2guardian) read a header such as `X-Infection-Found` only when it is announced here.
    pub x_allow_out: Vec<String>,
}

impl ServiceOptions {
    /// Options with only the mandatory fields.
    pub fn new(methods: Vec<Method>, istag: impl Into<String>) -> Self {
        Self {
            methods,
            istag: istag.into(),
            service: None,
            service_id: None,
            max_connections: None,
            options_ttl: None,
            preview: None,
            allow: Allow::default(),
            transfer_preview: Vec::new(),
            transfer_ignore: Vec::new(),
            transfer_complete: Vec::new(),
            x_include: Vec::new(),
            pipeline_depth: None,
            x_allow_out: Vec::new(),
        }
    }

    /// Reads the options from an OPTIONS response's headers.
    pub fn from_headers(headers: &Headers) -> Result<Self> {
        let mut methods = Vec::new();
        for item in headers.list("methods") {
            match Method::parse(item) {
                Ok(m) if m != Method::Options => methods.push(m),
                _ => {}
            }
        }
        let istag =
            headers.get("istag").ok_or_else(|| ProtoError::bad_response("OPTIONS answer without ISTag"))?;
        let number = |name: &str| -> Result<Option<u64>> {
            headers.get(name).map(|v| parse_decimal(name, v)).transpose()
        };
        let list = |name: &str| headers.list(name).map(str::to_string).collect::<Vec<_>>();
        Ok(Self {
            methods,
            istag: istag.to_string(),
            service: headers.get("service").map(str::to_string),
            service_id: headers.get("service-id").map(str::to_string),
            max_connections: number("max-connections")?.map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
            options_ttl: number("options-ttl")?,
            preview: number("preview")?.map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
            allow: Allow::from_headers(headers),
            transfer_preview: list("transfer-preview"),
            transfer_ignore: list("transfer-ignore"),
            transfer_complete: list("transfer-complete"),
            x_include: list("x-include"),
            // An extension: a value that is not a number is ignored, not an error.
            pipeline_depth: number("x-pipeline-depth")
                .ok()
                .flatten()
                .map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
            x_allow_out: list("x-allow-out"),
        })
    }

    /// Writes the options as headers of an OPTIONS response.
    pub fn to_headers(&self, headers: &mut Headers) {
        let methods: Vec<_> = self.methods.iter().map(|m| m.as_str()).collect();
        headers.set("Methods", methods.join(", "));
        if let Some(service) = &self.service {
            headers.set("Service", service.clone());
        }
        headers.set("ISTag", self.istag.clone());
        if let Some(id) = &self.service_id {
            headers.set("Service-ID", id.clone());
        }
        if let Some(n) = self.max_connections {
            headers.set("Max-Connections", n.to_string());
        }
        if let Some(ttl) = self.options_ttl {
            headers.set("Options-TTL", ttl.to_string());
        }
        if self.allow.no_content {
            headers.set("Allow", "204");
        }
        if let Some(preview) = self.preview {
            headers.set("Preview", preview.to_string());
        }
        if let Some(depth) = self.pipeline_depth {
            headers.set("X-Pipeline-Depth", depth.to_string());
        }
        for (name, list) in [
            ("Transfer-Preview", &self.transfer_preview),
            ("Transfer-Ignore", &self.transfer_ignore),
            ("Transfer-Complete", &self.transfer_complete),
            ("X-Include", &self.x_include),
            ("X-Allow-Out", &self.x_allow_out),
        ] {
            if !list.is_empty() {
                headers.set(name, list.join(", "));
            }
        }
    }

    /// How a client should send a file with this extension: `None` to skip it, `Some(true)`
    /// with a preview, `Some(false)` whole.
    pub fn transfer_mode(&self, extension: &str) -> Option<bool> {
        let has = |list: &[String], ext: &str| list.iter().any(|e| e.eq_ignore_ascii_case(ext));
        if has(&self.transfer_ignore, extension) {
            return None;
        }
        if has(&self.transfer_complete, extension) {
            return Some(false);
        }
        if has(&self.transfer_preview, extension) {
            return Some(true);
        }
        if has(&self.transfer_ignore, "*") {
            return None;
        }
        if has(&self.transfer_complete, "*") {
            return Some(false);
        }
        Some(self.preview.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_name_comes_from_the_path() {
        assert_eq!(service_of("icap://127.0.0.1:1344/echo"), "echo");
        assert_eq!(service_of("icap://icap-server.net/server?arg=87"), "server");
        assert_eq!(service_of("icap://host"), "");
        assert_eq!(service_of("/reqmod"), "reqmod");
    }

    #[test]
    fn allow_reads_squid_list() {
        let mut h = Headers::new();
        h.append("Allow", "206, trailers");
        let allow = Allow::from_headers(&h);
        assert!(allow.partial_content && allow.trailers && !allow.no_content);
    }

    #[test]
    fn options_round_trip_through_headers() {
        let mut opts = ServiceOptions::new(vec![Method::Respmod], "\"W3E4R7U9-L2E4-2\"");
        opts.max_connections = Some(1000);
        opts.options_ttl = Some(7200);
        opts.preview = Some(2048);
        opts.allow.no_content = true;
        opts.transfer_complete = vec!["asp".into(), "exe".into()];
        opts.transfer_ignore = vec!["html".into()];
        opts.transfer_preview = vec!["*".into()];
        opts.pipeline_depth = Some(16);
        opts.x_allow_out = vec!["X-Infection-Found".into(), "X-Incident-ID".into()];
        let mut h = Headers::new();
        opts.to_headers(&mut h);
        assert_eq!(ServiceOptions::from_headers(&h).unwrap(), opts);
        assert_eq!(h.get("X-Allow-Out"), Some("X-Infection-Found, X-Incident-ID"));
        // The extension is optional and never breaks an OPTIONS answer.
        h.set("X-Pipeline-Depth", "lots");
        assert_eq!(ServiceOptions::from_headers(&h).unwrap().pipeline_depth, None);
        assert_eq!(opts.transfer_mode("html"), None);
        assert_eq!(opts.transfer_mode("EXE"), Some(false));
        assert_eq!(opts.transfer_mode("txt"), Some(true));
    }
}
