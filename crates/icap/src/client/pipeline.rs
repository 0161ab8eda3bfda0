//! ICAP pipelining: small requests with their whole bodies in memory, all written on one
//! connection before their answers are read, the answers read in order. Each request then
//! costs neither side a write, a read and a wake-up of its own. The server must read requests
//! ahead of its answers: c-icap does (`Pipelining on`, its default), and dlpgate serve says so
//! in OPTIONS (`X-Pipeline-Depth`).

use bytes::BytesMut;
use futures_util::FutureExt;
use icap_proto::{encode_chunk, encode_last_chunk, Response, ResponseDecoder, ResponseEvent};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncWriteExt, ReadHalf};

use super::exchange::{encode_modify_head, next_event, same_kind_of_message, timed, wants_close, Conn};
use super::{ClientConfig, ClientError, ClientRequest, ClientResponse, Collected, IcapUri};
use crate::server::Io;

/// One request of a pipelined batch. It goes whole, without a preview.
#[derive(Debug, Clone, Copy)]
pub struct Batched<'a> {
    /// The request.
    pub request: &'a ClientRequest,
    /// Its body (`None`: no body).
    pub body: Option<&'a [u8]>,
}

/// What one connection made of a batch.
pub(crate) struct Round {
    /// The answers, in order, for a prefix of the batch (all of it when nothing failed).
    pub(crate) answers: Vec<Result<Collected, ClientError>>,
    /// Why the requests after that prefix got no answer.
    pub(crate) unanswered: Option<ClientError>,
    /// The connection, when it can carry more requests.
    pub(crate) reusable: Option<Conn>,
}

/// Writes every request of `batch` on `conn` and reads their answers in order.
pub(crate) async fn exchange(
    conn: Conn,
    uri: &IcapUri,
    config: &ClientConfig,
    batch: &[Batched<'_>],
) -> Round {
    let server = uri.authority();
    let mut out = BytesMut::with_capacity(batch.iter().map(|b| 1024 + b.body.map_or(0, <[u8]>::len)).sum());
    let mut sent = Vec::with_capacity(batch.len());
    for item in batch {
        encode_one(item, uri, config, &mut out);
        let body = item.body.unwrap_or_default();
        sent.push((Sha256::digest(body).into(), body.len() as u64));
    }
    let (mut rd, mut wr) = tokio::io::split(conn.io);
    let (written, (answers, unanswered, clean)) = {
        let writer = timed(config.read_timeout, &server, async {
            wr.write_all(&out).await?;
            wr.flush().await
        });
        let reader = read_answers(&mut rd, batch, &sent, config, &server);
        tokio::pin!(writer, reader);
        tokio::select! {
            biased;
            written = &mut writer => (written, reader.await),
            // Every answer came (or the connection ended): what is left to write is not wanted.
            read = &mut reader => ((&mut writer).now_or_never().unwrap_or(Ok(())), read),
        }
    };
    // Answers that came count even when a write failed; the connection is then not reused.
    let reusable = (unanswered.is_none() && clean && written.is_ok()).then(|| Conn { io: rd.unsplit(wr) });
    Round { answers, unanswered, reusable }
}

fn encode_one(item: &Batched<'_>, uri: &IcapUri, config: &ClientConfig, out: &mut BytesMut) {
    encode_modify_head(item.request, uri, config, None, item.body.is_some(), out);
    if let Some(data) = item.body {
        if !data.is_empty() {
            encode_chunk(data, out);
        }
        encode_last_chunk(false, out);
    }
}

/// Reads the answers in order. Returns them, why the rest (if any) got none, and whether the
/// connection ended clean (no stray bytes after the last answer).
async fn read_answers(
    rd: &mut ReadHalf<Box<dyn Io>>,
    batch: &[Batched<'_>],
    sent: &[([u8; 32], u64)],
    config: &ClientConfig,
    server: &str,
) -> (Vec<Result<Collected, ClientError>>, Option<ClientError>, bool) {
    let mut buf = BytesMut::with_capacity(16 * 1024);
    let mut decoder = ResponseDecoder::new(config.limits);
    let mut answers = Vec::with_capacity(batch.len());
    for (item, &(sent_sha256, sent_len)) in batch.iter().zip(sent) {
        let mut response: Option<Box<Response>> = None;
        let mut body = Vec::new();
        let mut hasher = Sha256::new();
        let mut body_len = 0u64;
        loop {
            match next_event(rd, &mut buf, &mut decoder, config.read_timeout, server, None).await {
                Err(e) if response.is_some() => {
                    // This one was answered in part: its error is its own; the rest got nothing.
                    answers.push(Err(e.clone().answered(true)));
                    return (answers, Some(e.answered(false)), false);
                }
                Err(e) => return (answers, Some(e), false),
                // RFC 3507 errata 5893: a 100 Continue to a whole message is ignored.
                Ok(ResponseEvent::Head(h)) if h.head.status == 100 => {}
                Ok(ResponseEvent::Head(h)) => response = Some(h),
                Ok(ResponseEvent::Data(data)) => {
                    hasher.update(&data);
                    body_len += data.len() as u64;
                    if body.len() + data.len() <= config.max_buffered_body {
                        body.extend_from_slice(&data);
                    }
                }
                Ok(ResponseEvent::End { .. }) => break,
            }
        }
        let Some(response) = response else {
            let e = ClientError::protocol(server, "an answer without a head");
            return (answers, Some(e), false);
        };
        let closing = wants_close(&response);
        answers.push(if body_len > config.max_buffered_body as u64 {
            Err(ClientError::too_large(server, config.max_buffered_body))
        } else {
            collected(item.request, *response, body, hasher, sent_sha256, sent_len, server)
        });
        if closing {
            let rest = answers.len() < batch.len();
            let e = ClientError::io(server, "the server closed the connection after an earlier answer");
            return (answers, rest.then_some(e), false);
        }
    }
    (answers, None, buf.is_empty())
}

/// One answer as [`super::Client::send_collect`] gives it.
fn collected(
    request: &ClientRequest,
    response: Response,
    body: Vec<u8>,
    hasher: Sha256,
    sent_sha256: [u8; 32],
    sent_len: u64,
    server: &str,
) -> Result<Collected, ClientError> {
    let status = response.head.status;
    if status >= 300 {
        let error = ClientError::status(server, status, &response.head.reason);
        return Err(error.with_istag(response.head.istag()));
    }
    let body_hash: [u8; 32] = hasher.finalize().into();
    let unmodified = status == 204
        || (status == 200
            && body_hash == sent_sha256
            && body.len() as u64 == sent_len
            && same_kind_of_message(request, &response));
    Ok(Collected {
        response: ClientResponse {
            status,
            body_len: body.len() as u64,
            headers: response.head.headers,
            http_request: response.http_request,
            http_response: response.http_response,
            unmodified,
            sent_len,
            sent_sha256,
            server: server.to_string(),
        },
        body,
    })
}
