//! One file to one server: the HTTP message that carries it (an upload for REQMOD, a download
//! for RESPMOD), streamed from its reader while its SHA-256 is computed, and the verdict read
//! from the answer.

use std::borrow::Cow;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use icap::client::{Batched, Client, ClientError, ClientRequest, ClientResponse, IcapUri, Preview};
use icap_proto::{Headers, HttpRequestHead, HttpResponseHead, Method};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

use super::verdict::{self, Profile, ServerVerdict};

/// Host name of the URLs that name scanned files.
pub const SCAN_HOST: &str = "scan.dlpgate.invalid";
/// Multipart boundary of `--multipart` uploads.
pub const MULTIPART_BOUNDARY: &str = "dlpgate-scan-7f3a9c2e41b8";

/// Bodies up to this size go whole, without the preview the server's OPTIONS offers: a DLP
/// server reads all of them anyway, and a preview would cost a `100 Continue` round trip (on
/// both sides) to save at most this many bytes. A preview size set on the connector is kept.
pub const WHOLE_BODY_UP_TO: u64 = 64 * 1024;

/// How files are sent.
#[derive(Debug, Clone, Copy)]
pub struct SendSettings {
    /// REQMOD or RESPMOD.
    pub method: Method,
    /// How answers are read.
    pub profile: Profile,
    /// The preview to send.
    pub preview: Preview,
    /// REQMOD bodies as multipart/form-data rather than raw.
    pub multipart: bool,
}

/// A judged file.
#[derive(Debug, Clone)]
pub struct Judged {
    /// The verdict.
    pub verdict: ServerVerdict,
    /// SHA-256 of the file, hex (none when the exchange did not read it to its end: see
    /// [`hash_file`]).
    pub sha256: Option<String>,
    /// From the first byte sent to the end of the answer.
    pub latency: Duration,
}

/// The HTTP message that carries a file, as an ICAP request: the request, and what goes
/// around the file in the body (the multipart framing of `--multipart`, else nothing).
#[derive(Debug)]
pub struct Carrier {
    /// The ICAP request.
    pub request: ClientRequest,
    /// Bytes before the file in the body.
    pub prefix: String,
    /// Bytes after it.
    pub suffix: String,
}

impl Carrier {
    /// The message for `size` bytes named `name`.
    pub fn new(settings: &SendSettings, name: &str, size: u64) -> Self {
        let file_name = name.rsplit('/').next().unwrap_or(name);
        let content_type = content_type(file_name);
        let url = format!("http://{SCAN_HOST}/{}", encode_path(name));
        let disposition = format!("attachment; filename=\"{}\"", quote_safe(file_name));
        let (prefix, suffix) = if settings.multipart && settings.method == Method::Reqmod {
            (
                format!(
                    "--{MULTIPART_BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{}\"\r\n\
                     Content-Type: {content_type}\r\n\r\n",
                    quote_safe(file_name)
                ),
                format!("\r\n--{MULTIPART_BOUNDARY}--\r\n"),
            )
        } else {
            (String::new(), String::new())
        };
        let length = size + prefix.len() as u64 + suffix.len() as u64;
        let mut request = match settings.method {
            Method::Respmod => {
                let mut req = Headers::new();
                req.append("Host", SCAN_HOST);
                let mut res = Headers::new();
                res.append("Content-Type", content_type);
                res.append("Content-Length", length.to_string());
                res.append("Content-Disposition", disposition);
                ClientRequest::respmod(
                    Some(HttpRequestHead::new("GET", url, req)),
                    HttpResponseHead::new(200, "OK", res),
                )
            }
            _ => {
                let mut req = Headers::new();
                req.append("Host", SCAN_HOST);
                if settings.multipart {
                    req.append("Content-Type", format!("multipart/form-data; boundary={MULTIPART_BOUNDARY}"));
                } else {
                    req.append("Content-Type", content_type);
                    req.append("Content-Disposition", disposition);
                }
                req.append("Content-Length", length.to_string());
                ClientRequest::reqmod(HttpRequestHead::new("POST", url, req))
            }
        };
        request.preview = match settings.preview {
            Preview::FromOptions if length <= WHOLE_BODY_UP_TO => Preview::Off,
            preview => preview,
        };
        request.extension = file_name.rsplit_once('.').map(|(_, ext)| ext.to_ascii_lowercase());
        Self { request, prefix, suffix }
    }

    /// The whole body for a file in memory.
    pub fn body_of(&self, data: &[u8]) -> Vec<u8> {
        [self.prefix.as_bytes(), data, self.suffix.as_bytes()].concat()
    }
}

/// Sends `size` bytes of `body`, named `name`, to `uri`.
pub async fn send(
    client: &Client,
    uri: &IcapUri,
    settings: &SendSettings,
    name: &str,
    size: u64,
    body: &mut (dyn AsyncRead + Unpin + Send),
) -> Result<Judged, ClientError> {
    let started = Instant::now();
    let Carrier { request, prefix, suffix } = Carrier::new(settings, name, size);
    // Only the symantec profile needs to know whether the body changed beyond what the
    // client's `unmodified` says; the others skip hashing the answer.
    let mut sink = HashSink { hasher: (settings.profile == Profile::Symantec).then(Sha256::new) };
    let mut file = body.take(size);
    let (response, file_sha) = if prefix.is_empty() {
        let response = client.send(uri, &request, Some(&mut file), &mut sink).await?;
        // The client hashed what it sent: the whole file, unless a preview was answered
        // without the rest (the caller then hashes the file itself).
        let sha = (response.sent_len == size).then(|| hex::encode(response.sent_sha256));
        (response, sha)
    } else {
        let mut hashed = Hashing::new(file);
        let response = {
            let mut sent = prefix.as_bytes().chain(&mut hashed).chain(suffix.as_bytes());
            client.send(uri, &request, Some(&mut sent), &mut sink).await?
        };
        let drained = drain(&mut hashed).await.is_ok();
        (response, drained.then(|| hex::encode(hashed.hasher.finalize())))
    };
    let answer_sha = sink.hasher.map(|h| h.finalize().to_vec());
    let verdict = verdict_of(settings.profile, &response, answer_sha.as_deref());
    Ok(Judged { verdict, sha256: file_sha, latency: started.elapsed() })
}

/// Sends small files in memory to `uri` as one pipelined batch ([`Client::send_pipelined`]);
/// an answer per file, in order.
pub async fn send_batch(
    client: &Client,
    uri: &IcapUri,
    settings: &SendSettings,
    files: &[(&str, &[u8])],
) -> Vec<Result<Judged, ClientError>> {
    let started = Instant::now();
    let carriers: Vec<Carrier> =
        files.iter().map(|(name, data)| Carrier::new(settings, name, data.len() as u64)).collect();
    // A file goes as it is, unless `--multipart` frames it.
    let bodies: Vec<Cow<'_, [u8]>> = carriers
        .iter()
        .zip(files)
        .map(
            |(c, (_, data))| {
                if c.prefix.is_empty() {
                    Cow::Borrowed(*data)
                } else {
                    Cow::Owned(c.body_of(data))
                }
            },
        )
        .collect();
    let batch: Vec<Batched<'_>> = carriers
        .iter()
        .zip(&bodies)
        .map(|(c, body)| Batched { request: &c.request, body: Some(body) })
        .collect();
    let answers = client.send_pipelined(uri, &batch).await;
    let latency = started.elapsed();
    answers
        .into_iter()
        .zip(files.iter().zip(&bodies))
        .map(|(answer, ((_, data), body))| {
            let collected = answer?;
            let response = &collected.response;
            let answer_sha =
                (settings.profile == Profile::Symantec).then(|| Sha256::digest(&collected.body).to_vec());
            let verdict = verdict_of(settings.profile, response, answer_sha.as_deref());
            // Without framing the client hashed exactly the file.
            let sha256 = match body {
                Cow::Borrowed(_) => hex::encode(response.sent_sha256),
                Cow::Owned(_) => hex::encode(Sha256::digest(data)),
            };
            Ok(Judged { verdict, sha256: Some(sha256), latency })
        })
        .collect()
}

/// The verdict of an answer; `answer_sha` is the hash of its body when the profile needs it.
fn verdict_of(profile: Profile, response: &ClientResponse, answer_sha: Option<&[u8]>) -> ServerVerdict {
    let has_body =
        response.body_len > 0 || response.http_response.is_some() || response.http_request.is_some();
    verdict::read(
        profile,
        response,
        verdict::Sent { sha256: &response.sent_sha256, answer_sha256: answer_sha.filter(|_| has_body) },
    )
}

/// SHA-256 of everything `reader` gives, hex.
pub async fn hash_file(reader: &mut (dyn AsyncRead + Unpin + Send)) -> std::io::Result<String> {
    let mut hashed = Hashing::new(reader);
    drain(&mut hashed).await?;
    Ok(hex::encode(hashed.hasher.finalize()))
}

async fn drain(reader: &mut (dyn AsyncRead + Unpin + Send)) -> std::io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    while reader.read(&mut buf).await? > 0 {}
    Ok(())
}

/// A reader that hashes what goes through it.
struct Hashing<R> {
    inner: R,
    hasher: Sha256,
}

impl<R> Hashing<R> {
    fn new(inner: R) -> Self {
        Self { inner, hasher: Sha256::new() }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for Hashing<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        let poll = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &poll {
            this.hasher.update(&buf.filled()[before..]);
        }
        poll
    }
}

/// Where the answer's body goes: hashed when asked, and dropped (memory stays bounded
/// whatever its size).
struct HashSink {
    hasher: Option<Sha256>,
}

impl AsyncWrite for HashSink {
    fn poll_write(mut self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        if let Some(h) = self.hasher.as_mut() {
            h.update(buf);
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A content type from the file name: text types matter to servers that only inspect text.
pub fn content_type(file_name: &str) -> &'static str {
    let ext = file_name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "txt" | "log" | "md" => "text/plain",
        "csv" => "text/csv",
        "htm" | "html" => "text/html",
        "xml" => "text/xml",
        "json" => "application/json",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "doc" => "application/msword",
        "xls" => "application/vnd.ms-excel",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        _ => "application/octet-stream",
    }
}

/// Percent-encodes a relative path for a URL, keeping `/`.
pub fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.trim_start_matches('/').bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A file name fit for a quoted header parameter.
fn quote_safe(name: &str) -> String {
    name.chars().map(|c| if c == '"' || c == '\\' || c.is_control() { '_' } else { c }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_types() {
        assert_eq!(encode_path("a b/c%.txt"), "a%20b/c%25.txt");
        assert_eq!(content_type("X.TXT"), "text/plain");
        assert_eq!(content_type("noext"), "application/octet-stream");
        assert_eq!(quote_safe("a\"b"), "a_b");
    }
}
