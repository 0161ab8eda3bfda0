//! The ICAP client's connection handling against scripted servers on loopback (requests read
//! with the codec's server role): a pooled connection the server closed mid-request is retried
//! once with the body replayed, never after an answer began; connections per server are
//! limited and shared by services; an early answer stops the sending; collected bodies are
//! bounded; a 404 says "no such service".

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use icap::client::{Client, ClientConfig, ClientRequest, Dialer, Dialing, IcapUri, Preview, TcpDialer};
use icap_proto::{
    encode_chunk, encode_last_chunk, encode_response_head, Headers, HttpRequestHead, Limits, Parts, Request,
    RequestDecoder, RequestEvent, ResponseHead, Section,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const NO_CONTENT: &[u8] = b"ICAP/1.0 204 No Content\r\nISTag: \"A\"\r\nEncapsulated: null-body=0\r\n\r\n";

/// One side of a scripted server connection: the socket, its buffer and a request decoder.
struct Peer {
    s: TcpStream,
    buf: BytesMut,
    dec: RequestDecoder,
}

impl Peer {
    fn new(s: TcpStream) -> Self {
        Self { s, buf: BytesMut::new(), dec: RequestDecoder::new(Limits::default()) }
    }

    /// The next request's head only (the body stays unread).
    async fn head(&mut self) -> Option<Box<Request>> {
        loop {
            match self.dec.decode(&mut self.buf).unwrap() {
                Some(RequestEvent::Head(h)) => return Some(h),
                Some(other) => panic!("unexpected {other:?}"),
                None => {
                    if self.s.read_buf(&mut self.buf).await.ok()? == 0 {
                        return None;
                    }
                }
            }
        }
    }

    /// The next whole request and its body; a preview is answered with 100 Continue.
    async fn request(&mut self) -> Option<(Box<Request>, Vec<u8>)> {
        let mut head = None;
        let mut body = Vec::new();
        loop {
            match self.dec.decode(&mut self.buf).unwrap() {
                Some(RequestEvent::Head(h)) => head = Some(h),
                Some(RequestEvent::Data(d)) => body.extend_from_slice(&d),
                Some(RequestEvent::PreviewEnd) => {
                    self.s.write_all(b"ICAP/1.0 100 Continue\r\n\r\n").await.ok()?;
                    self.dec.continue_after_preview();
                }
                Some(RequestEvent::End { .. }) => return Some((head?, body)),
                None => {
                    if self.s.read_buf(&mut self.buf).await.ok()? == 0 {
                        return None;
                    }
                }
            }
        }
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).await.unwrap();
    }
}

/// Serves every connection with `handle` (an error answer ends a connection for the client).
fn serve<F, Fut>(listener: TcpListener, handle: F)
where
    F: Fn(Peer) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        loop {
            let (s, _) = listener.accept().await.unwrap();
            tokio::spawn(handle(Peer::new(s)));
        }
    });
}

fn options_answer(preview: Option<usize>) -> Vec<u8> {
    let preview = preview.map(|p| format!("Preview: {p}\r\n")).unwrap_or_default();
    format!(
        "ICAP/1.0 200 OK\r\nMethods: REQMOD, RESPMOD\r\nISTag: \"A\"\r\nOptions-TTL: 3600\r\n{preview}Allow: 204\r\nEncapsulated: null-body=0\r\n\r\n"
    )
    .into_bytes()
}

/// A 200 that echoes a REQMOD: the request head and the body back.
fn echo(request: &Request, body: &[u8]) -> Vec<u8> {
    let mut head = ResponseHead::new(200);
    head.headers.append("ISTag", "\"A\"");
    let parts =
        Parts { http_request: request.http_request.as_ref(), http_response: None, body: Section::ReqBody };
    let mut out = BytesMut::new();
    encode_response_head(&head, parts, &mut out);
    encode_chunk(body, &mut out);
    encode_last_chunk(false, &mut out);
    out.to_vec()
}

/// A 200 that puts a block page in place of the request.
fn block_page(body: &[u8]) -> Vec<u8> {
    let page = "HTTP/1.1 403 Forbidden\r\n\r\n";
    let mut out = format!(
        "ICAP/1.0 200 OK\r\nISTag: \"A\"\r\nEncapsulated: res-hdr=0, res-body={}\r\n\r\n{page}",
        page.len()
    )
    .into_bytes();
    let mut chunks = BytesMut::new();
    encode_chunk(body, &mut chunks);
    encode_last_chunk(false, &mut chunks);
    out.extend_from_slice(&chunks);
    out
}

fn upload() -> HttpRequestHead {
    let mut h = Headers::new();
    h.append("Host", "x");
    HttpRequestHead::new("POST", "http://x/up", h)
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

async fn listen() -> (TcpListener, IcapUri) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uri = format!("icap://127.0.0.1:{}/svc", listener.local_addr().unwrap().port()).parse().unwrap();
    (listener, uri)
}

#[tokio::test]
async fn a_pooled_connection_closed_before_any_answer_is_retried_with_the_body_replayed() {
    let (listener, uri) = listen().await;
    let body = pattern(100 * 1024);
    let expected = body.clone();
    let server = tokio::spawn(async move {
        let mut first = Peer::new(listener.accept().await.unwrap().0);
        first.request().await.unwrap();
        first.send(&options_answer(None)).await;
        first.request().await.unwrap();
        first.send(NO_CONTENT).await;
        // The next request arrives as the server gives up on the connection: closed unanswered.
        first.head().await.unwrap();
        drop(first);
        let mut second = Peer::new(listener.accept().await.unwrap().0);
        let (_, got) = second.request().await.unwrap();
        second.send(NO_CONTENT).await;
        got
    });
    let client = Client::new(ClientConfig::default());
    client.options(&uri).await.unwrap();
    let mut small: &[u8] = b"hello";
    client.reqmod(&uri, upload(), Some(&mut small)).await.unwrap();
    let mut request = ClientRequest::reqmod(upload());
    request.preview = Preview::Off;
    let mut reader: &[u8] = &body;
    let res = client.send(&uri, &request, Some(&mut reader), &mut tokio::io::sink()).await.unwrap();
    assert_eq!(res.status, 204);
    assert_eq!(res.sent_len, body.len() as u64);
    assert!(server.await.unwrap() == expected, "the retried request carried the whole body");
}

#[tokio::test]
async fn an_answer_cut_short_is_not_retried() {
    let (listener, uri) = listen().await;
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        loop {
            let (s, _) = listener.accept().await.unwrap();
            let n = count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut peer = Peer::new(s);
                peer.request().await.unwrap();
                peer.send(NO_CONTENT).await;
                if n == 0 {
                    // The second request gets the start of an answer, then the connection ends.
                    peer.request().await.unwrap();
                    peer.send(b"ICAP/1.0 200 OK\r\nISTag: \"A\"\r\nEncapsulated: res-hdr=0, res-body=19\r\n\r\nHTTP/1.1 200 OK\r\n\r\na\r\nhel").await;
                }
            });
        }
    });
    let client = Client::new(ClientConfig::default());
    let mut request = ClientRequest::reqmod(upload());
    request.preview = Preview::Off;
    let mut body: &[u8] = b"first";
    client.send(&uri, &request, Some(&mut body), &mut tokio::io::sink()).await.unwrap();
    let mut body: &[u8] = b"second";
    let mut answer = Vec::new();
    let err = client.send(&uri, &request, Some(&mut body), &mut answer).await.unwrap_err();
    assert!(err.was_answered(), "{err}");
    assert_eq!(err.server(), uri.authority());
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "an answered request is never sent twice");
}

#[tokio::test]
async fn connections_per_server_are_limited_and_shared_by_its_services() {
    let (listener, uri) = listen().await;
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        loop {
            let (s, _) = listener.accept().await.unwrap();
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut peer = Peer::new(s);
                while let Some((req, _)) = peer.request().await {
                    if req.head.method == icap_proto::Method::Options {
                        peer.send(&options_answer(None)).await;
                    } else {
                        tokio::time::sleep(Duration::from_millis(30)).await;
                        peer.send(NO_CONTENT).await;
                    }
                }
            });
        }
    });
    let client = Client::new(ClientConfig { max_connections_per_server: 2, ..ClientConfig::default() });
    client.options(&uri).await.unwrap();
    client.options(&uri.with_service("other")).await.unwrap();
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "one pooled connection serves both services");
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let (client, uri) = (client.clone(), uri.clone());
            tokio::spawn(async move {
                let mut body: &[u8] = b"data";
                let uri = if i % 2 == 0 { uri } else { uri.with_service("other") };
                client.reqmod(&uri, upload(), Some(&mut body)).await.unwrap().response.status
            })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), 204);
    }
    assert!(accepted.load(Ordering::SeqCst) <= 2, "{} connections", accepted.load(Ordering::SeqCst));
}

#[tokio::test]
async fn an_early_complete_answer_stops_the_upload() {
    let (listener, uri) = listen().await;
    tokio::spawn(async move {
        let mut peer = Peer::new(listener.accept().await.unwrap().0);
        peer.head().await.unwrap();
        // Decided on the head: answer and read nothing more.
        peer.send(&block_page(b"blocked")).await;
        tokio::time::sleep(Duration::from_secs(30)).await;
    });
    let client =
        Client::new(ClientConfig { read_timeout: Duration::from_secs(10), ..ClientConfig::default() });
    let mut request = ClientRequest::reqmod(upload());
    request.preview = Preview::Off;
    let body = pattern(32 * 1024 * 1024);
    let mut reader: &[u8] = &body;
    let started = Instant::now();
    let collected = client.send_collect(&uri, &request, Some(&mut reader)).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    assert_eq!(collected.response.status, 200);
    assert_eq!(collected.response.http_response.as_ref().unwrap().status(), 403);
    assert_eq!(collected.body, b"blocked");
    assert!(!collected.response.unmodified);
    assert!(collected.response.sent_len < body.len() as u64);
}

#[tokio::test]
async fn echoes_are_unmodified_and_collected_bodies_are_bounded() {
    let (listener, uri) = listen().await;
    serve(listener, |mut peer| async move {
        while let Some((req, body)) = peer.request().await {
            if req.head.method == icap_proto::Method::Options {
                peer.send(&options_answer(Some(2))).await;
            } else {
                peer.send(&echo(&req, &body)).await;
            }
        }
    });
    let client = Client::new(ClientConfig { max_buffered_body: 1000, ..ClientConfig::default() });
    // Preview 2 from OPTIONS, 100 Continue, the rest: echoed whole.
    let mut body: &[u8] = b"hello world";
    let echoed = client.reqmod(&uri, upload(), Some(&mut body)).await.unwrap();
    assert_eq!((echoed.response.status, echoed.body.as_slice()), (200, &b"hello world"[..]));
    assert!(echoed.response.unmodified, "an echo changes nothing");
    assert_eq!(echoed.response.http_request.as_ref().unwrap().method(), "POST");

    let big = pattern(2000);
    let mut reader: &[u8] = &big;
    let err = client.reqmod(&uri, upload(), Some(&mut reader)).await.unwrap_err();
    assert!(err.is_body_too_large() && err.was_answered(), "{err}");
    // Streaming has no such bound.
    let mut reader: &[u8] = &big;
    let mut answer = Vec::new();
    let res =
        client.send(&uri, &ClientRequest::reqmod(upload()), Some(&mut reader), &mut answer).await.unwrap();
    assert!(res.unmodified && answer == big);
}

#[tokio::test]
async fn an_unknown_service_is_a_404() {
    let (listener, uri) = listen().await;
    serve(listener, |mut peer| async move {
        while peer.request().await.is_some() {
            peer.send(
                b"ICAP/1.0 404 ICAP Service Not Found\r\nISTag: \"A\"\r\nEncapsulated: null-body=0\r\n\r\n",
            )
            .await;
        }
    });
    let client = Client::new(ClientConfig::default());
    let mut request = ClientRequest::reqmod(upload());
    request.preview = Preview::Off;
    let err = client.send(&uri, &request, None, &mut tokio::io::sink()).await.unwrap_err();
    assert!(err.is_service_not_found() && err.was_answered(), "{err}");
    assert_eq!(err.icap_status(), Some(404));
    let err = client.options(&uri).await.unwrap_err();
    assert!(err.is_service_not_found() && !err.is_connect(), "{err}");
}

#[tokio::test]
async fn a_silent_server_times_out_with_nothing_answered() {
    let (listener, uri) = listen().await;
    serve(listener, |mut peer| async move {
        // Reads the whole request, then says nothing.
        peer.request().await;
        tokio::time::sleep(Duration::from_secs(10)).await;
    });
    let client =
        Client::new(ClientConfig { read_timeout: Duration::from_millis(300), ..ClientConfig::default() });
    let mut request = ClientRequest::reqmod(upload());
    request.preview = Preview::Off;
    let mut body: &[u8] = b"data";
    let started = Instant::now();
    let err = client.send(&uri, &request, Some(&mut body), &mut tokio::io::sink()).await.unwrap_err();
    assert!(err.is_timeout() && !err.was_answered() && !err.is_connect(), "{err}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn transfer_lists_choose_preview_or_whole() {
    let (listener, uri) = listen().await;
    let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel();
    serve(listener, move |mut peer| {
        let seen = seen_tx.clone();
        async move {
            while let Some((req, _)) = peer.request().await {
                if req.head.method == icap_proto::Method::Options {
                    let answer = String::from_utf8(options_answer(Some(2))).unwrap().replace(
                        "Allow: 204\r\n",
                        "Allow: 204\r\nTransfer-Complete: zip\r\nTransfer-Preview: *\r\n",
                    );
                    peer.send(answer.as_bytes()).await;
                } else {
                    seen.send(req.preview).unwrap();
                    peer.send(NO_CONTENT).await;
                }
            }
        }
    });
    let client = Client::new(ClientConfig::default());
    for (ext, preview) in [(Some("zip"), None), (Some("pdf"), Some(2)), (None, Some(2))] {
        let mut request = ClientRequest::reqmod(upload());
        request.extension = ext.map(str::to_string);
        let mut body: &[u8] = b"abcdef";
        client.send(&uri, &request, Some(&mut body), &mut tokio::io::sink()).await.unwrap();
        assert_eq!(seen_rx.recv().await.unwrap(), preview, "{ext:?}");
    }
}

/// Counts the connections a client opens, over plain TCP.
#[derive(Debug, Default)]
struct Counting(AtomicUsize);

impl Dialer for Counting {
    fn connect<'a>(&'a self, uri: &'a IcapUri, config: &'a ClientConfig) -> Dialing<'a> {
        self.0.fetch_add(1, Ordering::SeqCst);
        TcpDialer.connect(uri, config)
    }
}

#[tokio::test]
async fn kept_alive_connections_are_reused_unless_the_server_says_close() {
    let (listener, uri) = listen().await;
    serve(listener, |mut peer| async move {
        let mut n = 0;
        while let Some((req, body)) = peer.request().await {
            n += 1;
            if req.head.method == icap_proto::Method::Options {
                peer.send(&options_answer(None)).await;
            } else if n == 5 {
                let answer = String::from_utf8(NO_CONTENT.to_vec()).unwrap();
                peer.send(answer.replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n").as_bytes()).await;
            } else {
                peer.send(&echo(&req, &body)).await;
            }
        }
    });
    let counting = Arc::new(Counting::default());
    let client = Client::with_dialer(ClientConfig::default(), counting.clone());
    for _ in 0..3 {
        let mut body: &[u8] = b"abc";
        let got = client.reqmod(&uri, upload(), Some(&mut body)).await.unwrap();
        assert_eq!(got.body, b"abc");
    }
    assert_eq!(counting.0.load(Ordering::SeqCst), 1, "OPTIONS and three REQMODs on one connection");
    // The fourth answer says Connection: close; the fifth request needs a new connection.
    for _ in 0..2 {
        let mut body: &[u8] = b"abc";
        client.reqmod(&uri, upload(), Some(&mut body)).await.unwrap();
    }
    assert_eq!(counting.0.load(Ordering::SeqCst), 2);
}

/// `max_idle_per_server: 0` keeps no connection: every request opens its own (a load
/// generator measuring handshakes asks for this), and putting one back does not panic.
#[tokio::test]
async fn no_idle_connections_means_a_new_connection_per_request() {
    let (listener, uri) = listen().await;
    serve(listener, |mut peer| async move {
        while let Some((req, body)) = peer.request().await {
            peer.send(&echo(&req, &body)).await;
        }
    });
    let counting = Arc::new(Counting::default());
    let config = ClientConfig { max_idle_per_server: 0, ..ClientConfig::default() };
    let client = Client::with_dialer(config, counting.clone());
    let mut request = ClientRequest::reqmod(upload());
    request.preview = Preview::Off;
    for _ in 0..3 {
        let mut body: &[u8] = b"abc";
        let got = client.send_collect(&uri, &request, Some(&mut body)).await.unwrap();
        assert_eq!(got.body, b"abc");
    }
    assert_eq!(counting.0.load(Ordering::SeqCst), 3, "one connection per request");
}

#[tokio::test]
async fn a_204_to_a_preview_keeps_the_connection() {
    let (listener, uri) = listen().await;
    serve(listener, |mut peer| async move {
        loop {
            let Some(req) = peer.head().await else { return };
            if req.head.method == icap_proto::Method::Options {
                // OPTIONS has no body: its End comes next.
                assert!(matches!(peer.dec.decode(&mut peer.buf).unwrap(), Some(RequestEvent::End { .. })));
                peer.send(&options_answer(Some(2))).await;
                continue;
            }
            // Read the preview, answer 204 to it, and skip the rest (never sent).
            loop {
                match peer.dec.decode(&mut peer.buf).unwrap() {
                    Some(RequestEvent::PreviewEnd) => break,
                    Some(_) => {}
                    None => {
                        if peer.s.read_buf(&mut peer.buf).await.unwrap() == 0 {
                            return;
                        }
                    }
                }
            }
            peer.dec.skip_rest_of_body();
            peer.send(NO_CONTENT).await;
        }
    });
    let counting = Arc::new(Counting::default());
    let client = Client::with_dialer(ClientConfig::default(), counting.clone());
    for _ in 0..3 {
        let mut body: &[u8] = b"abcdefgh";
        let got = client.reqmod(&uri, upload(), Some(&mut body)).await.unwrap();
        assert!(got.response.status == 204 && got.response.unmodified && got.response.sent_len == 2);
    }
    assert_eq!(counting.0.load(Ordering::SeqCst), 1, "a 204 to a preview leaves the connection reusable");
}

#[tokio::test]
async fn concurrent_callers_share_one_options_and_an_error_with_a_new_istag_drops_it() {
    let (listener, uri) = listen().await;
    let options_seen = Arc::new(AtomicUsize::new(0));
    let seen = options_seen.clone();
    serve(listener, move |mut peer| {
        let seen = seen.clone();
        async move {
            while let Some((req, _)) = peer.request().await {
                if req.head.method == icap_proto::Method::Options {
                    seen.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    peer.send(&options_answer(None)).await;
                } else {
                    peer.send(
                        b"ICAP/1.0 500 Server Error\r\nISTag: \"B\"\r\nEncapsulated: null-body=0\r\n\r\n",
                    )
                    .await;
                }
            }
        }
    });
    let client = Client::new(ClientConfig::default());
    let callers: Vec<_> = (0..5)
        .map(|_| {
            let (client, uri) = (client.clone(), uri.clone());
            tokio::spawn(async move { client.options(&uri).await.unwrap().istag.clone() })
        })
        .collect();
    for c in callers {
        assert_eq!(c.await.unwrap(), "\"A\"");
    }
    assert_eq!(options_seen.load(Ordering::SeqCst), 1, "one OPTIONS for five callers");
    let err = client.reqmod(&uri, upload(), None).await.unwrap_err();
    assert_eq!(err.icap_status(), Some(500));
    client.options(&uri).await.unwrap();
    assert_eq!(options_seen.load(Ordering::SeqCst), 2, "the 500 carried another ISTag");
}

#[tokio::test]
async fn a_long_upload_is_not_a_read_timeout() {
    let (listener, uri) = listen().await;
    serve(listener, |mut peer| async move {
        // Answers only after the whole body, as a scanning server does.
        while let Some((_, body)) = peer.request().await {
            assert_eq!(body.len(), 12 * 1024);
            peer.send(NO_CONTENT).await;
        }
    });
    // The body trickles in over about 1.2 s; the read timeout is 300 ms.
    let (mut feed, mut body) = tokio::io::duplex(1024);
    tokio::spawn(async move {
        for _ in 0..12 {
            feed.write_all(&[b'x'; 1024]).await.unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let client =
        Client::new(ClientConfig { read_timeout: Duration::from_millis(300), ..ClientConfig::default() });
    let mut request = ClientRequest::reqmod(upload());
    request.preview = Preview::Off;
    let res = client.send(&uri, &request, Some(&mut body), &mut tokio::io::sink()).await.unwrap();
    assert_eq!((res.status, res.sent_len), (204, 12 * 1024));
}
