//! One ICAP exchange on one connection: OPTIONS, or a REQMOD/RESPMOD whose body is written
//! while the answer is read (a server may stream its answer before the body ends).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use futures_util::FutureExt;
use icap_proto::{
    encode_chunk, encode_last_chunk, encode_request_head, Method, Parts, RequestHead, Response,
    ResponseDecoder, ResponseEvent, Section, ServiceOptions,
};
use sha2::{Digest, Sha256};
use std::io::IoSlice;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::oneshot;

use super::{ClientConfig, ClientError, ClientRequest, ClientResponse, IcapUri};
use crate::server::Io;

/// Size of the pieces a body is sent in.
const SEND_CHUNK: usize = 64 * 1024;
/// Room first given to a piece of body; it grows up to the piece size while the body fills it.
const FIRST_PIECE: usize = 8 * 1024;
/// Pieces from this size go out with a vectored write rather than copied behind their chunk
/// header (smaller ones cost less to copy than a longer system call).
const VECTORED_PIECE: usize = 16 * 1024;

/// A connection for one exchange.
pub(crate) struct Conn {
    pub(crate) io: Box<dyn Io>,
}

/// How an exchange ended.
pub(crate) enum Outcome<T> {
    /// Done; the connection comes back when it can carry another request.
    Done { value: T, reusable: Option<Conn> },
    /// Failed; `retryable` when nothing was answered and no body byte was taken.
    Failed { error: ClientError, retryable: bool },
}

fn failed<T>(error: ClientError, retryable: bool) -> Outcome<T> {
    Outcome::Failed { error, retryable }
}

fn base_head(method: Method, uri: &IcapUri, config: &ClientConfig) -> RequestHead {
    let mut head = RequestHead::new(method, uri.to_string());
    head.headers.append("Host", uri.authority());
    head.headers.append("User-Agent", config.user_agent.clone());
    head
}

/// Sends OPTIONS and reads the service's options.
pub(crate) async fn options(conn: Conn, uri: &IcapUri, config: &ClientConfig) -> Outcome<ServiceOptions> {
    let server = uri.authority();
    let mut io = conn.io;
    let mut out = BytesMut::new();
    encode_request_head(&base_head(Method::Options, uri, config), Parts::NONE, &mut out);
    if let Err(e) = timed(config.read_timeout, &server, io.write_all(&out)).await {
        return failed(e, true);
    }
    let mut buf = BytesMut::with_capacity(4096);
    let mut decoder = ResponseDecoder::new(config.limits);
    let mut head: Option<Box<Response>> = None;
    loop {
        let event =
            match next_event(&mut io, &mut buf, &mut decoder, config.read_timeout, &server, None).await {
                Ok(ev) => ev,
                Err(e) => {
                    let answered = head.is_some();
                    return failed(e.answered(answered), !answered);
                }
            };
        match event {
            ResponseEvent::Head(h) => head = Some(h),
            ResponseEvent::Data(_) => {}
            ResponseEvent::End { .. } => break,
        }
    }
    let Some(head) = head else { return failed(ClientError::protocol(&server, "no answer"), false) };
    if head.head.status != 200 {
        let error = ClientError::status(&server, head.head.status, &head.head.reason);
        return failed(error.with_istag(head.head.istag()), false);
    }
    let reusable = !wants_close(&head) && buf.is_empty();
    match ServiceOptions::from_headers(&head.head.headers) {
        Ok(options) => Outcome::Done { value: options, reusable: reusable.then_some(Conn { io }) },
        Err(e) => failed(ClientError::protocol(&server, e.to_string()).answered(true), false),
    }
}

pub(super) fn wants_close(response: &Response) -> bool {
    response.head.headers.list("connection").any(|v| v.eq_ignore_ascii_case("close"))
}

pub(super) async fn timed<T>(
    limit: Duration,
    server: &str,
    fut: impl std::future::Future<Output = std::io::Result<T>>,
) -> Result<T, ClientError> {
    match tokio::time::timeout(limit, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(ClientError::connection_failed(server, &e)),
        Err(_) => Err(ClientError::timeout(server, format!("no progress within {limit:?}"))),
    }
}

/// When the request side last moved (a body read or a write): a server that answers only
/// after the whole body is not idle while a long upload is still going out.
pub(super) struct Progress {
    start: Instant,
    last_ms: AtomicU64,
}

impl Progress {
    fn new() -> Self {
        Self { start: Instant::now(), last_ms: AtomicU64::new(0) }
    }

    fn touch(&self) {
        let now = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(now, Ordering::Relaxed);
    }

    fn idle_for(&self) -> Duration {
        self.start.elapsed().saturating_sub(Duration::from_millis(self.last_ms.load(Ordering::Relaxed)))
    }
}

/// The next answer event. Times out after `limit` without a byte from the server, unless the
/// request side made progress within `limit` (`progress`).
pub(super) async fn next_event<R: AsyncRead + Unpin + ?Sized>(
    io: &mut R,
    buf: &mut BytesMut,
    decoder: &mut ResponseDecoder,
    limit: Duration,
    server: &str,
    progress: Option<&Progress>,
) -> Result<ResponseEvent, ClientError> {
    loop {
        match decoder.decode(buf) {
            Ok(Some(ev)) => return Ok(ev),
            Ok(None) => {}
            Err(e) => return Err(ClientError::protocol(server, e.to_string())),
        }
        buf.reserve(32 * 1024);
        // `read_buf` is cancel-safe: a timed-out wait loses no bytes.
        let n = match tokio::time::timeout(limit, io.read_buf(buf)).await {
            Ok(Ok(n)) => n,
            Ok(Err(e)) => return Err(ClientError::connection_failed(server, &e)),
            Err(_) if progress.is_some_and(|p| p.idle_for() < limit) => continue,
            Err(_) => return Err(ClientError::timeout(server, format!("no answer within {limit:?}"))),
        };
        if n == 0 {
            return Err(ClientError::io(server, "the server closed the connection"));
        }
    }
}

/// What the reader tells the writer after a preview.
enum AfterPreview {
    /// `100 Continue`: send the rest.
    Continue,
    /// A final answer: the client sends no more of the body.
    Final,
}

/// What the writer has sent so far; read after the writer ends or is dropped.
struct Sent {
    hasher: Sha256,
    len: u64,
    /// The whole message went out (or the server's final answer to a preview ended it).
    complete: bool,
}

/// Sends a REQMOD or RESPMOD and reads the answer, both at once. When the answer is complete
/// before the body is (a server that decided early and stopped reading), sending stops: the
/// connection is then not reused.
pub(crate) async fn modify(
    conn: Conn,
    uri: &IcapUri,
    config: &ClientConfig,
    request: &ClientRequest,
    preview: Option<usize>,
    body: Option<&mut (dyn AsyncRead + Unpin + Send)>,
    sink: &mut (dyn AsyncWrite + Unpin + Send),
) -> Outcome<ClientResponse> {
    let server = uri.authority();
    let (mut rd, mut wr) = tokio::io::split(conn.io);
    let has_body = body.is_some();
    let preview = preview.filter(|_| has_body);
    let (decision_tx, decision_rx) = oneshot::channel::<AfterPreview>();
    let refused = AtomicBool::new(false);
    // Room for the heads, so that encoding them does not grow the buffer step by step.
    let mut first = BytesMut::with_capacity(1024);
    encode_modify_head(request, uri, config, preview, has_body, &mut first);

    let mut sent = Sent { hasher: Sha256::new(), len: 0, complete: false };
    let progress = Progress::new();
    let (written, read) = {
        let writer = write_request(
            &mut wr,
            first,
            body,
            preview,
            decision_rx,
            &refused,
            config,
            &server,
            &mut sent,
            &progress,
        );
        let reader = read_answer(&mut rd, sink, decision_tx, &refused, config, &server, &progress);
        tokio::pin!(writer, reader);
        tokio::select! {
            biased;
            written = &mut writer => {
                // A broken connection may still carry an answer (an early error status); a
                // local body error or a stalled write cannot, and waiting would only time out.
                let read = match &written {
                    Err(e) if !e.is_io() => None,
                    _ => Some(reader.await),
                };
                (written, read)
            }
            // The answer is complete: whatever the writer had left is not wanted.
            read = &mut reader => {
                // A writer that only waited for the verdict on its preview (a 204 read in the
                // same poll) ends now, and the connection stays reusable.
                let written = (&mut writer).now_or_never().unwrap_or(Ok(()));
                (written, Some(read))
            }
        }
    };
    let sent_hash: [u8; 32] = sent.hasher.finalize().into();
    let read = match (written, read) {
        (Ok(()), Some(Ok(read))) => read,
        // The server answered in full although sending failed: the answer is what counts.
        (Err(_), Some(Ok(read))) if read.response.is_some() => read,
        (Ok(()), Some(Err(e))) => {
            let retryable = !e.was_answered() && e.is_io();
            return failed(e, retryable);
        }
        (Err(e), read) => {
            // Retry only what the server cannot have judged: nothing answered, and a broken
            // connection rather than a timeout, a local body error or a protocol error.
            let answered = read.as_ref().is_some_and(read_any);
            let retryable = !answered && e.is_io();
            return failed(e.answered(answered), retryable);
        }
        (Ok(()), None) => return failed(ClientError::protocol(&server, "no answer"), false),
    };
    let Some(response) = read.response else {
        return failed(ClientError::protocol(&server, "no answer").answered(false), false);
    };
    if response.head.status >= 300 {
        let error = ClientError::status(&server, response.head.status, &response.head.reason);
        return failed(error.with_istag(response.head.istag()), false);
    }
    let unmodified = response.head.status == 204
        || (response.head.status == 200
            && read.body_hash == sent_hash
            && read.body_len == sent.len
            && same_kind_of_message(request, &response));
    let reusable = !wants_close(&response) && sent.complete && read.clean;
    let response = *response;
    let value = ClientResponse {
        status: response.head.status,
        headers: response.head.headers,
        http_request: response.http_request,
        http_response: response.http_response,
        body_len: read.body_len,
        unmodified,
        sent_len: sent.len,
        sent_sha256: sent_hash,
        server,
    };
    let reusable = reusable.then(|| Conn { io: rd.unsplit(wr) });
    Outcome::Done { value, reusable }
}

/// Appends the ICAP head and the encapsulated HTTP heads of a REQMOD or RESPMOD.
pub(super) fn encode_modify_head(
    request: &ClientRequest,
    uri: &IcapUri,
    config: &ClientConfig,
    preview: Option<usize>,
    has_body: bool,
    out: &mut BytesMut,
) {
    let mut head = base_head(request.method, uri, config);
    if request.allow_204 {
        head.headers.append("Allow", "204");
    }
    if let Some(p) = preview {
        head.headers.append("Preview", p.to_string());
    }
    for (name, value) in request.headers.iter() {
        head.headers.append(name.to_string(), value.clone());
    }
    let body = match (has_body, request.method) {
        (false, _) => Section::NullBody,
        (true, Method::Respmod) => Section::ResBody,
        (true, _) => Section::ReqBody,
    };
    let parts = Parts {
        http_request: request.http_request.as_ref(),
        http_response: request.http_response.as_ref(),
        body,
    };
    encode_request_head(&head, parts, out);
}

/// A 200 that turned a request into a response (a block page) or changed the response status
/// modified the message, whatever its body.
pub(super) fn same_kind_of_message(request: &ClientRequest, response: &Response) -> bool {
    match request.method {
        Method::Respmod => {
            response.http_response.as_ref().map(|r| r.status())
                == request.http_response.as_ref().map(|r| r.status())
        }
        _ => response.http_response.is_none(),
    }
}

fn read_any(read: &Result<Answer, ClientError>) -> bool {
    match read {
        Ok(r) => r.response.is_some() || r.body_len > 0,
        Err(e) => e.was_answered(),
    }
}

/// Reads up to `limit` bytes (fewer only at the end of the body).
async fn fill(
    body: &mut (dyn AsyncRead + Unpin + Send),
    buf: &mut Vec<u8>,
    limit: usize,
    progress: &Progress,
) -> std::io::Result<bool> {
    buf.clear();
    // A small body needs no room for a whole piece: start small, grow while it fills.
    buf.reserve(limit.min(FIRST_PIECE));
    while buf.len() < limit {
        if buf.len() == buf.capacity() {
            buf.reserve(buf.capacity().min(limit - buf.len()));
        }
        let n = (&mut *body).take((limit - buf.len()) as u64).read_buf(buf).await?;
        if n == 0 {
            return Ok(true);
        }
        progress.touch();
    }
    Ok(false)
}

/// Writes the head and the body: the preview first when there is one, then the rest after
/// `100 Continue`. Counts and hashes what was sent into `sent`, and marks it complete when
/// the message ended (a connection is reusable only then).
#[allow(clippy::too_many_arguments)]
async fn write_request(
    wr: &mut WriteHalf<Box<dyn Io>>,
    mut out: BytesMut,
    body: Option<&mut (dyn AsyncRead + Unpin + Send)>,
    preview: Option<usize>,
    decision: oneshot::Receiver<AfterPreview>,
    refused: &AtomicBool,
    config: &ClientConfig,
    server: &str,
    sent: &mut Sent,
    progress: &Progress,
) -> Result<(), ClientError> {
    let Some(body) = body else {
        timed(config.read_timeout, server, wr.write_all(&out)).await?;
        sent.complete = true;
        return Ok(());
    };
    let mut piece = Vec::new();
    if let Some(size) = preview {
        let at_end = fill(body, &mut piece, size, progress)
            .await
            .map_err(|e| ClientError::body(server, e.to_string()))?;
        sent.hasher.update(&piece);
        sent.len += piece.len() as u64;
        encode_chunk(&piece, &mut out);
        // A preview that holds the whole body ends with ieof: the server answers at once.
        encode_last_chunk(at_end, &mut out);
        timed(config.read_timeout, server, wr.write_all(&out)).await?;
        if at_end {
            sent.complete = true;
            return Ok(());
        }
        match decision.await {
            Ok(AfterPreview::Continue) => {}
            // A final answer to the preview: nothing more is sent, and the message is complete.
            Ok(AfterPreview::Final) => {
                sent.complete = true;
                return Ok(());
            }
            Err(_) => return Ok(()),
        }
        out = BytesMut::new();
    }
    loop {
        if refused.load(Ordering::Relaxed) {
            // An error answer before the body ended: the rest is not wanted. (A 200 may
            // stream back before the body ends, as an echo does; then sending goes on.)
            return Ok(());
        }
        let at_end = fill(body, &mut piece, SEND_CHUNK, progress)
            .await
            .map_err(|e| ClientError::body(server, e.to_string()))?;
        sent.hasher.update(&piece);
        sent.len += piece.len() as u64;
        if piece.len() >= VECTORED_PIECE && wr.is_write_vectored() {
            // The piece goes out from where it was read: no copy behind its chunk header.
            let _ = std::fmt::Write::write_fmt(&mut out, format_args!("{:x}\r\n", piece.len()));
            let tail: &[u8] = if at_end { b"\r\n0\r\n\r\n" } else { b"\r\n" };
            let mut parts = [IoSlice::new(&out), IoSlice::new(&piece), IoSlice::new(tail)];
            timed(config.read_timeout, server, write_all_vectored(wr, &mut parts)).await?;
        } else {
            encode_chunk(&piece, &mut out);
            if at_end {
                encode_last_chunk(false, &mut out);
            }
            timed(config.read_timeout, server, wr.write_all(&out)).await?;
        }
        progress.touch();
        out.clear();
        if at_end {
            sent.complete = true;
            return Ok(());
        }
    }
}

/// Writes all of `parts`, in order, with vectored writes.
async fn write_all_vectored<W: AsyncWrite + Unpin + ?Sized>(
    w: &mut W,
    mut parts: &mut [IoSlice<'_>],
) -> std::io::Result<()> {
    IoSlice::advance_slices(&mut parts, 0);
    while !parts.is_empty() {
        let n = w.write_vectored(parts).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        IoSlice::advance_slices(&mut parts, n);
    }
    Ok(())
}

/// What the reader got.
struct Answer {
    response: Option<Box<Response>>,
    body_hash: [u8; 32],
    body_len: u64,
    /// The answer ended where the buffer ended: no stray bytes.
    clean: bool,
}

async fn read_answer(
    rd: &mut ReadHalf<Box<dyn Io>>,
    sink: &mut (dyn AsyncWrite + Unpin + Send),
    decision: oneshot::Sender<AfterPreview>,
    refused: &AtomicBool,
    config: &ClientConfig,
    server: &str,
    progress: &Progress,
) -> Result<Answer, ClientError> {
    let mut decision = Some(decision);
    let mut buf = BytesMut::with_capacity(32 * 1024);
    let mut decoder = ResponseDecoder::new(config.limits);
    let mut hasher = Sha256::new();
    let mut body_len = 0u64;
    let mut response: Option<Box<Response>> = None;
    loop {
        let event = next_event(rd, &mut buf, &mut decoder, config.read_timeout, server, Some(progress))
            .await
            .map_err(|e| e.answered(response.is_some()))?;
        match event {
            ResponseEvent::Head(h) if h.head.status == 100 => {
                // RFC 3507 errata 5893: a 100 after the whole body (ieof) is ignored.
                if let Some(tx) = decision.take() {
                    let _ = tx.send(AfterPreview::Continue);
                }
            }
            ResponseEvent::Head(h) => {
                if h.head.status >= 300 {
                    refused.store(true, Ordering::Relaxed);
                }
                if let Some(tx) = decision.take() {
                    let _ = tx.send(AfterPreview::Final);
                }
                response = Some(h);
            }
            ResponseEvent::Data(data) => {
                hasher.update(&data);
                body_len += data.len() as u64;
                // The caller's sink failing is not the server's fault: say so.
                match tokio::time::timeout(config.read_timeout, sink.write_all(&data)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => return Err(ClientError::sink(server, e).answered(true)),
                    Err(_) => {
                        return Err(ClientError::timeout(server, "the answer's sink did not take the body")
                            .answered(true))
                    }
                }
            }
            ResponseEvent::End { .. } => break,
        }
    }
    let _ = sink.flush().await;
    Ok(Answer { response, body_hash: hasher.finalize().into(), body_len, clean: buf.is_empty() })
}
