//! What a service implements, and what it answers.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use icap_proto::{Headers, HttpRequestHead, HttpResponseHead, Request, ServiceOptions};

use super::body::{Body, BodyError, BodyEvent};

/// An ICAP service: OPTIONS comes from [`Service::options`], REQMOD and RESPMOD from
/// [`Service::call`]. One value serves every connection, so it must be `Sync`.
pub trait Service: Send + Sync + 'static {
    /// The options of the service with this name, or `None` when there is no such service
    /// (the client gets 404). `Methods` decides which methods are allowed (405 otherwise).
    /// The value is shared, so that a service can swap it on reload and the runtime can read it
    /// on every request cheaply (for the ISTag).
    fn options(&self, service: &str) -> Option<Arc<ServiceOptions>>;

    /// Handles one REQMOD or RESPMOD. The body streams in through `exchange`; a service that
    /// returns before reading it all lets the runtime answer early (204 after a preview) or
    /// stream the rest through (an echo).
    fn call(&self, exchange: &mut Exchange<'_>) -> impl Future<Output = Outcome> + Send;
}

/// Who is on the other end of the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// The client address (from PROXY protocol when the listener accepts it).
    pub addr: SocketAddr,
    /// The subject of the client certificate, under TLS with client authentication.
    pub tls_subject: Option<String>,
}

/// One REQMOD or RESPMOD in progress: the request heads, the peer and the streaming body.
#[derive(Debug)]
pub struct Exchange<'c> {
    request: &'c Request,
    peer: &'c Peer,
    body: Body<'c>,
    verdict: Option<&'static str>,
}

impl<'c> Exchange<'c> {
    pub(crate) fn new(request: &'c Request, peer: &'c Peer, body: Body<'c>) -> Self {
        Self { request, peer, body, verdict: None }
    }

    /// Names the verdict for logs and metrics ([`RequestRecord::verdict`](super::RequestRecord)),
    /// when the service knows better than the outcome's kind (a "monitor" allow, say).
    pub fn set_verdict(&mut self, verdict: &'static str) {
        self.verdict = Some(verdict);
    }

    pub(crate) fn verdict(&self) -> Option<&'static str> {
        self.verdict
    }

    /// Names the ISTag of what judges this request (the policy in force when it started),
    /// for the answer, instead of the one its OPTIONS had when the request arrived.
    pub fn set_istag(&mut self, istag: String) {
        self.body.set_istag(istag);
    }

    /// The ICAP head and the encapsulated HTTP heads (borrowed from the connection, not from
    /// the exchange, so they can be held while the body is read).
    pub fn request(&self) -> &'c Request {
        self.request
    }

    /// The client.
    pub fn peer(&self) -> &'c Peer {
        self.peer
    }

    /// The next piece of the body, or `None` at its end. Reading past a preview sends
    /// `100 Continue` first, so a service that decides on the preview never asks for the rest.
    pub async fn next_chunk(&mut self) -> Result<Option<Bytes>, BodyError> {
        self.body.next_chunk().await
    }

    /// Like [`Exchange::next_chunk`], but also reports [`BodyEvent::Stalled`]: the client
    /// paused after the answer head went out early (RESPMOD only,
    /// [`ServerConfig::early_head_after`](super::ServerConfig::early_head_after)), and a
    /// leading body byte could move the answer along if the service clears it with
    /// [`Exchange::release_early`]. Read on after it; the read's timeout keeps running.
    pub async fn next_body_event(&mut self) -> Result<BodyEvent, BodyError> {
        self.body.next_event(true).await
    }

    /// Clears the first `n` body bytes for release ahead of the verdict, one per stall and at
    /// most [`MAX_TRICKLE_BYTES`](super::MAX_TRICKLE_BYTES) in all. A service clears only
    /// bytes it has judged harmless on their own: a later block can abort the transfer, but
    /// never take back what went out. Nothing is cleared unless the service says so.
    pub fn release_early(&mut self, n: usize) {
        self.body.release_early(n);
    }

    /// The next piece of the preview, or `None` at its end (at once when there is no
    /// preview). Never sends `100 Continue`: a service can decide on the preview alone.
    pub async fn next_preview_chunk(&mut self) -> Result<Option<Bytes>, BodyError> {
        self.body.next_preview_chunk().await
    }

    /// True while no byte beyond the preview has been asked for.
    pub fn in_preview(&self) -> bool {
        self.body.in_preview()
    }

    /// True when the whole body has been read.
    pub fn body_complete(&self) -> bool {
        self.body.is_complete()
    }

    pub(crate) fn into_body(self) -> Body<'c> {
        self.body
    }
}

/// What a service decided.
#[derive(Debug)]
pub enum Outcome {
    /// No change: 204 when the client allows it or after a preview, otherwise 200 echoing the
    /// message. The headers are added to the ICAP response.
    Allow {
        /// Extra ICAP headers.
        headers: Headers,
    },
    /// A replacement message, sent as 200.
    Replace(Box<Reply>),
    /// An ICAP error status, with a reason for the `X-Error-Reason` header and the log.
    Error {
        /// The ICAP status (4xx or 5xx).
        status: u16,
        /// Why.
        reason: String,
    },
}

impl Outcome {
    /// Allow without extra headers.
    pub fn allow() -> Self {
        Outcome::Allow { headers: Headers::new() }
    }
}

/// A replacement message: new HTTP heads and body (a block page, a modified request).
#[derive(Debug, Clone, Default)]
pub struct Reply {
    /// Extra ICAP headers, such as `X-Infection-Found`.
    pub headers: Headers,
    /// The HTTP request head, for a modified request in REQMOD.
    pub http_request: Option<HttpRequestHead>,
    /// The HTTP response head, for a block page or a modified response.
    pub http_response: Option<HttpResponseHead>,
    /// The body; `None` sends `null-body`.
    pub body: Option<Bytes>,
}
