//! One connection: read a request, call the service, answer; repeat while the client keeps the
//! connection open (persistent connections and pipelining).

use std::sync::Arc;
use std::time::Instant as StdInstant;

use bytes::{Bytes, BytesMut};
use icap_proto::{
    encode_chunk, encode_last_chunk, encode_response_head, Headers, Method, Parts, Request, RequestEvent,
    ResponseHead, Section, ServiceOptions,
};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::body::{Body, BodyError, EarlyHead};
use super::pace::Pace;
use super::service::{Exchange, Outcome, Peer, Reply, Service};
use super::spool::Spool;
use super::wire::{Io, Wire, WireError};
use super::ServerConfig;

/// What happened to one request, for the log and for metrics.
#[derive(Debug, Clone)]
pub struct RequestRecord {
    /// The method.
    pub method: Method,
    /// The service name.
    pub service: String,
    /// The ICAP status sent.
    pub status: u16,
    /// Body bytes read from the client.
    pub body_bytes: u64,
    /// Time from the head until the answer is complete, before its last write (the record
    /// reaches the observer before the client can have the answer).
    pub elapsed: std::time::Duration,
    /// What was decided: the service's own label ([`Exchange::set_verdict`]), else the
    /// outcome's kind (`allow`, `modified`, `error`), or `none` (OPTIONS, refused requests).
    pub verdict: &'static str,
}

/// Whether the connection can carry another request.
enum Next {
    KeepAlive,
    Close,
}

pub(crate) async fn serve_connection<S: Service>(
    io: Box<dyn Io>,
    peer: Peer,
    service: Arc<S>,
    config: Arc<ServerConfig>,
    shutdown: CancellationToken,
) {
    if let Some(observer) = &config.connection_observer {
        observer(1);
    }
    let mut wire = Wire::new(io, &config);
    loop {
        let deadline = Instant::now() + config.idle_timeout;
        let event = tokio::select! {
            event = wire.next_event(deadline) => event,
            () = shutdown.cancelled(), if wire.is_idle() => break,
        };
        let request = match event {
            Ok(None) => break,
            Ok(Some(RequestEvent::Head(request))) => request,
            Ok(Some(other)) => {
                tracing::warn!(peer = %peer.addr, ?other, "body event outside a message");
                break;
            }
            Err(WireError::Timeout) if wire.is_idle() => break,
            Err(e) => {
                answer_wire_error(&mut wire, &config, &peer, e).await;
                break;
            }
        };
        let started = StdInstant::now();
        let close_requested = wants_close(&request.head.headers);
        match handle_request(&mut wire, *request, &peer, &service, &config).await {
            Ok((Next::KeepAlive, record)) => {
                log_request(&peer, &record, started);
                if close_requested || shutdown.is_cancelled() {
                    break;
                }
            }
            Ok((Next::Close, record)) => {
                log_request(&peer, &record, started);
                break;
            }
            Err(e) => {
                answer_wire_error(&mut wire, &config, &peer, e).await;
                break;
            }
        }
    }
    let _ = wire.flush_committed().await;
    wire.shutdown().await;
    if let Some(observer) = &config.connection_observer {
        observer(-1);
    }
}

fn wants_close(headers: &Headers) -> bool {
    headers.list("connection").any(|v| v.eq_ignore_ascii_case("close"))
}

fn log_request(peer: &Peer, record: &RequestRecord, started: StdInstant) {
    tracing::debug!(
        peer = %peer.addr,
        method = %record.method,
        service = %record.service,
        status = record.status,
        body_bytes = record.body_bytes,
        elapsed_us = started.elapsed().as_micros() as u64,
        "icap request"
    );
}

/// Answers a broken or timed-out message, then the connection closes.
async fn answer_wire_error(wire: &mut Wire, config: &ServerConfig, peer: &Peer, error: WireError) {
    if wire.mid_response {
        tracing::warn!(peer = %peer.addr, ?error, "connection failed while streaming a response; closing");
        return;
    }
    // Whatever part of an answer is still unsent is dropped in favour of the error (the whole
    // answers to earlier pipelined requests still go first).
    wire.discard_answer_under_way();
    let (status, reason) = match &error {
        WireError::Proto(e) => (e.status(), e.detail().to_string()),
        WireError::Timeout => (408, "request not received within the read timeout".to_string()),
        WireError::Late(late) => (408, late.reason().to_string()),
        WireError::Overloaded => (503, super::body::OVERLOADED.to_string()),
        WireError::UnexpectedEof | WireError::Io(_) => {
            tracing::debug!(peer = %peer.addr, ?error, "connection ended mid-message");
            return;
        }
        WireError::PreviewUndecided => (500, "internal error".to_string()),
    };
    tracing::warn!(peer = %peer.addr, status, %reason, "bad ICAP request");
    if let Some(observer) = &config.observer {
        observer(&RequestRecord {
            method: Method::Options,
            service: String::new(),
            status,
            body_bytes: 0,
            elapsed: std::time::Duration::ZERO,
            verdict: "none",
        });
    }
    write_error(wire, status, &reason, None, true);
    let _ = wire.flush(config.write_timeout).await;
}

fn write_error(wire: &mut Wire, status: u16, reason: &str, istag: Option<&str>, close: bool) {
    let mut head = base_head(status, istag, &wire.server_name);
    if close {
        head.headers.append("Connection", "close");
    }
    head.headers.append("X-Error-Reason", sanitize(reason));
    encode_response_head(&head, Parts::NONE, &mut wire.wbuf);
}

/// Keeps a reason safe for a header value: printable ASCII only, bounded.
fn sanitize(reason: &str) -> String {
    reason.chars().filter(|c| c.is_ascii_graphic() || *c == ' ').take(200).collect()
}

async fn handle_request<S: Service>(
    wire: &mut Wire,
    request: Request,
    peer: &Peer,
    service: &Arc<S>,
    config: &ServerConfig,
) -> Result<(Next, RequestRecord), WireError> {
    let started = StdInstant::now();
    let name = request.head.service().to_string();
    let method = request.head.method;
    let options = service.options(&name);
    let preview = request.preview.is_some();
    let allow_204 = request.head.allow().no_content;
    let spool = (!allow_204).then(|| {
        Spool::new(config.spool_memory_limit, &config.memory, &config.spool_disk, config.overload_wait)
    });
    // Only for RESPMOD: Squid's stall (bug 5352) is on responses, and an upload must keep
    // its block page.
    let early_head = match (config.early_head_after, &options) {
        (Some(after), Some(opts)) if spool.is_some() && request.has_body() && method == Method::Respmod => {
            Some(EarlyHead {
                after,
                request: &request,
                options_istag: &opts.istag,
                sent: false,
                trickled: 0,
                releasable: 0,
                stall_reported: false,
                decided: false,
            })
        }
        _ => None,
    };
    let pace = Pace::new(config, Instant::now());
    let mut body = Body::new(wire, request.has_body(), preview, pace, spool, early_head);

    let mut own_verdict = None;
    let verdict = match (&options, method) {
        (None, _) => Err((404, format!("no ICAP service named {name:?}"))),
        (Some(_), Method::Options) => Ok(None),
        (Some(opts), m) if !opts.methods.contains(&m) => {
            Err((405, format!("{m} is not allowed for {name:?}")))
        }
        (Some(_), _) => {
            let mut exchange = Exchange::new(&request, peer, body);
            let outcome = service.call(&mut exchange).await;
            own_verdict = exchange.verdict();
            body = exchange.into_body();
            if let Some(broken) = body.take_broken() {
                // The body broke under the service (a timeout, bad chunking, a client gone):
                // the connection answers that, whatever the service made of it.
                return Err(broken);
            }
            body.decided();
            Ok(Some(outcome))
        }
    };
    let own_istag = body.take_istag();
    let istag = own_istag.as_deref().or(options.as_ref().map(|o| o.istag.as_str()));
    let label = own_verdict.unwrap_or(match &verdict {
        Ok(Some(Outcome::Allow { .. })) => "allow",
        Ok(Some(Outcome::Replace(_))) => "modified",
        Ok(Some(Outcome::Error { .. })) | Err(_) => "error",
        Ok(None) => "none",
    });
    let result = match verdict {
        // The head went out early: an allow streams the held body; anything else can only
        // abort the transfer (the client sees a truncated message, never the content).
        _ if body.early_head_sent() => match verdict {
            Ok(Some(Outcome::Allow { .. })) => {
                echo_body(&mut body, config).await.map(|()| (200, Next::KeepAlive))
            }
            _ => {
                tracing::info!(peer = %peer.addr, verdict = label, "answer head was sent early; aborting the transfer");
                Ok((200, Next::Close))
            }
        },
        Err((status, reason)) => answer_error(&mut body, status, &reason, istag).await,
        Ok(None) => answer_options(&mut body, options.as_deref()).await,
        Ok(Some(Outcome::Allow { headers })) => {
            answer_allow(&mut body, &request, headers, allow_204, istag, config).await
        }
        Ok(Some(Outcome::Replace(reply))) => answer_reply(&mut body, *reply, istag).await,
        Ok(Some(Outcome::Error { status, reason })) => answer_error(&mut body, status, &reason, istag).await,
    };
    let body_bytes = body.read_bytes();
    let (status, next) = match result {
        Ok(answer) => answer,
        Err(BodyError::Protocol(e)) => return Err(WireError::Proto(e)),
        Err(BodyError::Timeout) => return Err(WireError::Timeout),
        Err(BodyError::TooSlow) => return Err(WireError::Late(super::pace::Late::TooSlow)),
        Err(BodyError::DeadlinePassed) => return Err(WireError::Late(super::pace::Late::Deadline)),
        Err(BodyError::Overloaded) => return Err(WireError::Overloaded),
        Err(BodyError::Closed) => return Err(WireError::UnexpectedEof),
        Err(BodyError::Io(e)) => return Err(WireError::Io(e)),
    };
    // Recorded before the answer's last bytes are written: a client that has its answer
    // finds the request in the metrics.
    let record = RequestRecord {
        method,
        service: name,
        status,
        body_bytes,
        elapsed: started.elapsed(),
        verdict: label,
    };
    if let Some(observer) = &config.observer {
        observer(&record);
    }
    let wire = body.into_wire();
    wire.finish_answer().await.map_err(WireError::Io)?;
    wire.mid_response = false;
    Ok((next, record))
}

/// The `200` head of an unchanged message: ICAP head and the message's own HTTP heads.
pub(crate) fn encode_echo_head(
    request: &Request,
    istag: Option<&str>,
    server_name: &str,
    dst: &mut BytesMut,
) {
    encode_response_head(&base_head(200, istag, server_name), echo_parts(request), dst);
}

fn base_head(status: u16, istag: Option<&str>, server_name: &str) -> ResponseHead {
    let mut head = ResponseHead::new(status);
    head.headers.append("Server", server_name.to_string());
    if let Some(istag) = istag {
        head.headers.append("ISTag", istag.to_string());
    }
    head
}

async fn answer_options(
    body: &mut Body<'_>,
    options: Option<&ServiceOptions>,
) -> Result<(u16, Next), BodyError> {
    body.drain().await?;
    let mut head = base_head(200, None, &body.wire().server_name);
    head.headers.append("Date", httpdate::fmt_http_date(std::time::SystemTime::now()));
    if let Some(options) = options {
        options.to_headers(&mut head.headers);
    }
    encode_response_head(&head, Parts::NONE, &mut body.wire().wbuf);
    Ok((200, Next::KeepAlive))
}

async fn answer_error(
    body: &mut Body<'_>,
    status: u16,
    reason: &str,
    istag: Option<&str>,
) -> Result<(u16, Next), BodyError> {
    // A preview can be cut short; a full body would have to be read to stay in step, so close.
    let next = if body.is_cheap_to_finish() {
        body.drain().await?;
        Next::KeepAlive
    } else {
        Next::Close
    };
    write_error(body.wire(), status, reason, istag, matches!(next, Next::Close));
    Ok((status, next))
}

async fn answer_reply(
    body: &mut Body<'_>,
    reply: Reply,
    istag: Option<&str>,
) -> Result<(u16, Next), BodyError> {
    body.drain().await?;
    let mut head = base_head(200, istag, &body.wire().server_name);
    for (name, value) in reply.headers.iter() {
        head.headers.append(name.to_string(), value.clone());
    }
    let body_section = match (&reply.body, &reply.http_response) {
        (None, _) => Section::NullBody,
        (Some(_), Some(_)) => Section::ResBody,
        (Some(_), None) => Section::ReqBody,
    };
    let parts = Parts {
        http_request: reply.http_request.as_ref(),
        http_response: reply.http_response.as_ref(),
        body: body_section,
    };
    let wbuf = &mut body.wire().wbuf;
    encode_response_head(&head, parts, wbuf);
    if let Some(data) = &reply.body {
        encode_chunk(data, wbuf);
        encode_last_chunk(false, wbuf);
    }
    Ok((200, Next::KeepAlive))
}

async fn answer_allow(
    body: &mut Body<'_>,
    request: &Request,
    extra: Headers,
    allow_204: bool,
    istag: Option<&str>,
    config: &ServerConfig,
) -> Result<(u16, Next), BodyError> {
    if body.settle_preview().await? || allow_204 {
        body.drain().await?;
        let mut head = base_head(204, istag, &body.wire().server_name);
        for (name, value) in extra.iter() {
            head.headers.append(name.to_string(), value.clone());
        }
        encode_response_head(&head, Parts::NONE, &mut body.wire().wbuf);
        return Ok((204, Next::KeepAlive));
    }
    // Echo: the same heads, then what was read (spooled), then the rest as it arrives.
    let mut head = base_head(200, istag, &body.wire().server_name);
    for (name, value) in extra.iter() {
        head.headers.append(name.to_string(), value.clone());
    }
    let parts = echo_parts(request);
    encode_response_head(&head, parts, &mut body.wire().wbuf);
    if parts.body == Section::NullBody {
        body.drain().await?;
        return Ok((200, Next::KeepAlive));
    }
    echo_body(body, config).await?;
    Ok((200, Next::KeepAlive))
}

/// The echo's body: what was read (spooled) past any bytes trickled ahead of the verdict,
/// then the rest as it arrives, then the last chunk.
async fn echo_body(body: &mut Body<'_>, config: &ServerConfig) -> Result<(), BodyError> {
    let mut skip = body.trickled();
    while let Some(mut piece) = body.next_spooled().await? {
        let skipped = skip.min(piece.len());
        let _ = piece.split_to(skipped);
        skip -= skipped;
        if !piece.is_empty() {
            write_piece(body, &piece, config).await?;
        }
    }
    body.stop_spooling();
    while let Some(piece) = body.next_chunk().await? {
        write_piece(body, &piece, config).await?;
    }
    encode_last_chunk(false, &mut body.wire().wbuf);
    Ok(())
}

async fn write_piece(body: &mut Body<'_>, piece: &Bytes, config: &ServerConfig) -> Result<(), BodyError> {
    let wire = body.wire();
    encode_chunk(piece, &mut wire.wbuf);
    wire.flush_if_full(config.write_timeout).await.map_err(BodyError::Io)
}

/// The parts of an unchanged message: REQMOD echoes the request, RESPMOD the response.
fn echo_parts(request: &Request) -> Parts<'_> {
    let body = request.encapsulated.as_ref().map_or(Section::NullBody, |e| e.body());
    match request.head.method {
        Method::Respmod => Parts { http_request: None, http_response: request.http_response.as_ref(), body },
        _ => Parts { http_request: request.http_request.as_ref(), http_response: None, body },
    }
}
