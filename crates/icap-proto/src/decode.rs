//! Incremental decoders for both roles: bytes in, events out.
//!
//! The caller keeps a `BytesMut`, appends what it reads, and calls `decode` until it returns
//! `Ok(None)` (more bytes needed). Consumed bytes are split off the buffer, so it never holds more
//! than one head or one chunk line: memory per message is bounded whatever the body size.
//! Any split of the input gives the same events, apart from how body data is cut into `Data`.

use bytes::{Bytes, BytesMut};

use crate::chunked::{ChunkEvent, ChunkedDecoder};
use crate::encapsulated::{Encapsulated, Section};
use crate::error::{ProtoError, Result};
use crate::head::{check_version, find_blank_line, leading_empty_lines, split_start_line};
use crate::headers::Headers;
use crate::http::{HttpRequestHead, HttpResponseHead};
use crate::limits::Limits;
use crate::message::{Method, Request, RequestHead, Response, ResponseHead};

/// What a server reads from a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestEvent {
    /// The ICAP head and encapsulated HTTP heads.
    Head(Box<Request>),
    /// Body bytes, de-chunked.
    Data(Bytes),
    /// The preview ended without `ieof`: the client waits for `100 Continue` or a final answer.
    /// Call [`RequestDecoder::continue_after_preview`] after sending 100, or
    /// [`RequestDecoder::skip_rest_of_body`] after a final answer.
    PreviewEnd,
    /// The message is complete. `ieof` is true when a preview held the whole body.
    End {
        /// The preview ended with `0; ieof`.
        ieof: bool,
        /// Trailer fields after the last chunk.
        trailers: Headers,
    },
}

/// What a client reads from a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseEvent {
    /// The ICAP status, headers and encapsulated HTTP heads. A `100 Continue` is followed by
    /// the final response's head, not by `End`.
    Head(Box<Response>),
    /// Body bytes, de-chunked.
    Data(Bytes),
    /// The response is complete.
    End {
        /// Trailer fields after the last chunk.
        trailers: Headers,
    },
}

#[derive(Debug, Clone)]
enum BodyState {
    /// Waiting for a head.
    Idle,
    /// The head said there is no body: report `End` next.
    NoBody,
    /// Reading a chunked body.
    Chunked {
        chunks: ChunkedDecoder,
        /// Bytes still allowed in the preview, when this part is a preview.
        preview_left: Option<usize>,
    },
    /// A preview ended; the application must say how the message goes on.
    AwaitingContinue,
}

/// Decodes ICAP requests (server role), pipelined one after another.
#[derive(Debug, Clone)]
pub struct RequestDecoder {
    limits: Limits,
    state: BodyState,
    scanned: usize,
    pending: Option<Pending<RequestHead>>,
}

/// An ICAP head that is waiting for its encapsulated HTTP heads.
#[derive(Debug, Clone)]
struct Pending<H> {
    head: H,
    encapsulated: Option<Encapsulated>,
}

impl RequestDecoder {
    /// A decoder with these limits.
    pub fn new(limits: Limits) -> Self {
        Self { limits, state: BodyState::Idle, scanned: 0, pending: None }
    }

    /// True when no message is in progress: a good place to close an idle connection.
    pub fn is_idle(&self) -> bool {
        matches!(self.state, BodyState::Idle) && self.pending.is_none()
    }

    /// True after [`RequestEvent::PreviewEnd`] until the application decides.
    pub fn is_awaiting_continue(&self) -> bool {
        matches!(self.state, BodyState::AwaitingContinue)
    }

    /// True while the next event is a head: the buffer holds (part of) one, which a server
    /// may want to account for.
    pub fn is_reading_head(&self) -> bool {
        matches!(self.state, BodyState::Idle)
    }

    /// The server sent `100 Continue`: read the rest of the body.
    pub fn continue_after_preview(&mut self) {
        if self.is_awaiting_continue() {
            self.state = BodyState::Chunked { chunks: ChunkedDecoder::new(), preview_left: None };
        }
    }

    /// The server answered the preview with a final response: the client sends no more body.
    pub fn skip_rest_of_body(&mut self) {
        if self.is_awaiting_continue() {
            self.state = BodyState::Idle;
        }
    }

    /// Decodes the next event, or `Ok(None)` when more input is needed (or, after
    /// `PreviewEnd`, until the application decides).
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<RequestEvent>> {
        match &mut self.state {
            BodyState::AwaitingContinue => Ok(None),
            BodyState::NoBody => {
                self.state = BodyState::Idle;
                Ok(Some(RequestEvent::End { ieof: false, trailers: Headers::new() }))
            }
            BodyState::Chunked { chunks, preview_left } => match chunks.decode(buf, &self.limits)? {
                None => Ok(None),
                Some(ChunkEvent::Data(data)) => {
                    if let Some(left) = preview_left {
                        *left = left
                            .checked_sub(data.len())
                            .ok_or_else(|| ProtoError::bad("preview is longer than its Preview header"))?;
                    }
                    Ok(Some(RequestEvent::Data(data)))
                }
                Some(ChunkEvent::Last { ieof, trailers }) => {
                    let in_preview = preview_left.is_some();
                    if in_preview && !ieof {
                        self.state = BodyState::AwaitingContinue;
                        Ok(Some(RequestEvent::PreviewEnd))
                    } else {
                        self.state = BodyState::Idle;
                        Ok(Some(RequestEvent::End { ieof: ieof && in_preview, trailers }))
                    }
                }
            },
            BodyState::Idle => self.decode_head(buf),
        }
    }

    fn decode_head(&mut self, buf: &mut BytesMut) -> Result<Option<RequestEvent>> {
        if self.pending.is_none() {
            let Some((head, encapsulated)) =
                read_icap_head(buf, &mut self.scanned, &self.limits, parse_request_head)?
            else {
                return Ok(None);
            };
            check_request_sections(head.method, encapsulated.as_ref())?;
            self.pending = Some(Pending { head, encapsulated });
        }
        let Some(pending) = &self.pending else {
            return Err(ProtoError::internal("decoder lost the head it had read"));
        };
        let Some((http_request, http_response)) =
            read_http_heads(buf, pending.encapsulated.as_ref(), &self.limits)?
        else {
            return Ok(None);
        };
        let Some(Pending { head, encapsulated }) = self.pending.take() else {
            return Err(ProtoError::internal("decoder lost the head it had read"));
        };
        let preview = head.preview()?;
        let request = Request { head, encapsulated, http_request, http_response, preview };
        self.state = if request.has_body() {
            BodyState::Chunked {
                chunks: ChunkedDecoder::with_declared_limit(request.preview.map(|p| p as u64)),
                preview_left: request.preview,
            }
        } else {
            BodyState::NoBody
        };
        Ok(Some(RequestEvent::Head(Box::new(request))))
    }
}

/// Decodes ICAP responses (client role).
#[derive(Debug, Clone)]
pub struct ResponseDecoder {
    limits: Limits,
    state: BodyState,
    scanned: usize,
    pending: Option<Pending<ResponseHead>>,
}

impl ResponseDecoder {
    /// A decoder with these limits.
    pub fn new(limits: Limits) -> Self {
        Self { limits, state: BodyState::Idle, scanned: 0, pending: None }
    }

    /// True when no response is in progress.
    pub fn is_idle(&self) -> bool {
        matches!(self.state, BodyState::Idle) && self.pending.is_none()
    }

    /// Decodes the next event, or `Ok(None)` when more input is needed.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<ResponseEvent>> {
        match &mut self.state {
            BodyState::NoBody | BodyState::AwaitingContinue => {
                self.state = BodyState::Idle;
                Ok(Some(ResponseEvent::End { trailers: Headers::new() }))
            }
            BodyState::Chunked { chunks, .. } => match chunks.decode(buf, &self.limits)? {
                None => Ok(None),
                Some(ChunkEvent::Data(data)) => Ok(Some(ResponseEvent::Data(data))),
                Some(ChunkEvent::Last { trailers, .. }) => {
                    self.state = BodyState::Idle;
                    Ok(Some(ResponseEvent::End { trailers }))
                }
            },
            BodyState::Idle => self.decode_head(buf),
        }
    }

    fn decode_head(&mut self, buf: &mut BytesMut) -> Result<Option<ResponseEvent>> {
        if self.pending.is_none() {
            let Some((head, encapsulated)) =
                read_icap_head(buf, &mut self.scanned, &self.limits, parse_response_head)
                    .map_err(as_response_error)?
            else {
                return Ok(None);
            };
            self.pending = Some(Pending { head, encapsulated });
        }
        let Some(pending) = &self.pending else {
            return Err(ProtoError::internal("decoder lost the head it had read"));
        };
        let Some((http_request, http_response)) =
            read_http_heads(buf, pending.encapsulated.as_ref(), &self.limits).map_err(as_response_error)?
        else {
            return Ok(None);
        };
        let Some(Pending { head, encapsulated }) = self.pending.take() else {
            return Err(ProtoError::internal("decoder lost the head it had read"));
        };
        let response = Response { head, encapsulated, http_request, http_response };
        self.state = if response.head.status == 100 {
            BodyState::Idle
        } else if response.has_body() {
            BodyState::Chunked { chunks: ChunkedDecoder::new(), preview_left: None }
        } else {
            BodyState::NoBody
        };
        Ok(Some(ResponseEvent::Head(Box::new(response))))
    }
}

fn as_response_error(e: ProtoError) -> ProtoError {
    if e.is_bad_response() {
        e
    } else {
        ProtoError::bad_response(e.detail().to_string())
    }
}

type HeadParser<H> = fn(&str) -> Result<H>;

/// Reads the ICAP head once it is all in `buf`, with its parsed `Encapsulated`.
fn read_icap_head<H: IcapHead>(
    buf: &mut BytesMut,
    scanned: &mut usize,
    limits: &Limits,
    parse_start: HeadParser<H>,
) -> Result<Option<(H, Option<Encapsulated>)>> {
    if *scanned == 0 {
        let skip = leading_empty_lines(buf);
        let _ = buf.split_to(skip);
    }
    let window = buf.len().min(limits.max_icap_head);
    let Some(end) = find_blank_line(&buf[..window], scanned.saturating_sub(3)) else {
        if buf.len() > limits.max_icap_head {
            *scanned = 0;
            return Err(ProtoError::too_large(format!(
                "ICAP head longer than {} bytes",
                limits.max_icap_head
            )));
        }
        *scanned = buf.len();
        return Ok(None);
    };
    *scanned = 0;
    let block = buf.split_to(end);
    let (line, rest) = split_start_line(&block)?;
    let mut head = parse_start(line)?;
    let headers = if rest.len() <= 2 && rest.iter().all(|b| matches!(b, b'\r' | b'\n')) {
        Headers::new()
    } else {
        Headers::parse_block(rest, limits.max_headers)?.0
    };
    let encapsulated = headers.get("encapsulated").map(Encapsulated::parse).transpose()?;
    if encapsulated.is_none() && headers.contains("encapsulated") {
        return Err(ProtoError::bad("Encapsulated is not text"));
    }
    *head.headers_mut() = headers;
    Ok(Some((head, encapsulated)))
}

trait IcapHead {
    fn headers_mut(&mut self) -> &mut Headers;
}

impl IcapHead for RequestHead {
    fn headers_mut(&mut self) -> &mut Headers {
        &mut self.headers
    }
}

impl IcapHead for ResponseHead {
    fn headers_mut(&mut self) -> &mut Headers {
        &mut self.headers
    }
}

fn parse_request_head(line: &str) -> Result<RequestHead> {
    let mut parts = line.split(' ').filter(|p| !p.is_empty());
    let (Some(method), Some(uri), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ProtoError::bad(format!("malformed request line: {:?}", truncate(line))));
    };
    check_version(version)?;
    if !method.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-' || b == b'_') {
        return Err(ProtoError::bad(format!("malformed method: {:?}", truncate(method))));
    }
    Ok(RequestHead::new(Method::parse(method)?, uri))
}

fn parse_response_head(line: &str) -> Result<ResponseHead> {
    let mut parts = line.splitn(3, ' ');
    let (Some(version), Some(code)) = (parts.next(), parts.next()) else {
        return Err(ProtoError::bad_response(format!("malformed status line: {:?}", truncate(line))));
    };
    if version != "ICAP/1.0" {
        return Err(ProtoError::bad_response(format!("unsupported version {version:?}")));
    }
    let status: u16 = match code.parse() {
        Ok(n) if code.len() == 3 && (100..=599).contains(&n) => n,
        _ => return Err(ProtoError::bad_response(format!("malformed status code {code:?}"))),
    };
    let reason = parts.next().unwrap_or_default().to_string();
    Ok(ResponseHead { status, reason, headers: Headers::new() })
}

fn truncate(s: &str) -> &str {
    match s.char_indices().nth(64) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Which encapsulated entities each request method may carry (RFC 3507 section 4.4.1).
fn check_request_sections(method: Method, encapsulated: Option<&Encapsulated>) -> Result<()> {
    let Some(enc) = encapsulated else {
        return match method {
            Method::Options => Ok(()),
            _ => Err(ProtoError::bad(format!("{method} without an Encapsulated header"))),
        };
    };
    let heads_ok = |allowed: &[Section]| enc.head_ranges().all(|(s, _)| allowed.contains(&s));
    let ok = match method {
        Method::Options => heads_ok(&[]) && matches!(enc.body(), Section::OptBody | Section::NullBody),
        Method::Reqmod => {
            heads_ok(&[Section::ReqHdr]) && matches!(enc.body(), Section::ReqBody | Section::NullBody)
        }
        Method::Respmod => {
            heads_ok(&[Section::ReqHdr, Section::ResHdr])
                && matches!(enc.body(), Section::ResBody | Section::NullBody)
        }
    };
    if ok {
        Ok(())
    } else {
        Err(ProtoError::bad(format!("Encapsulated \"{enc}\" is not valid for {method}")))
    }
}

type HttpHeads = (Option<HttpRequestHead>, Option<HttpResponseHead>);

/// Reads and parses the encapsulated HTTP heads once all their bytes are in `buf`.
fn read_http_heads(
    buf: &mut BytesMut,
    enc: Option<&Encapsulated>,
    limits: &Limits,
) -> Result<Option<HttpHeads>> {
    let Some(enc) = enc else {
        return Ok(Some((None, None)));
    };
    let need = enc.heads_len();
    if need > limits.max_http_heads {
        return Err(ProtoError::too_large(format!(
            "encapsulated HTTP heads longer than {} bytes",
            limits.max_http_heads
        )));
    }
    if buf.len() < need {
        return Ok(None);
    }
    let block = buf.split_to(need).freeze();
    let (mut request, mut response) = (None, None);
    for (section, range) in enc.head_ranges() {
        let part = block.slice(range);
        match section {
            Section::ReqHdr => request = Some(HttpRequestHead::parse(part, limits.max_headers)?),
            Section::ResHdr => response = Some(HttpResponseHead::parse(part, limits.max_headers)?),
            _ => {}
        }
    }
    Ok(Some((request, response)))
}
