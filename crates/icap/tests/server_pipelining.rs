//! Pipelined requests on one connection: answered in order, a batch read at once answered with
//! one write, and a broken request in the middle never costs the answers before it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use icap::server::{Peer, Server, ServerConfig};
use icap_proto::{Method, ServiceOptions};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf};

/// The server's end of the pipe, counting the writes that carried bytes.
struct Counted {
    inner: DuplexStream,
    writes: Arc<AtomicUsize>,
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            self.writes.fetch_add(1, Ordering::Relaxed);
        }
        poll
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

const REQMOD: &[u8] = b"REQMOD icap://127.0.0.1/allow ICAP/1.0\r\nHost: x\r\nAllow: 204\r\n\
Encapsulated: req-hdr=0, req-body=19\r\n\r\nPOST / HTTP/1.1\r\n\r\n5\r\nhello\r\n0\r\n\r\n";

/// Sends `input` in one write on a fresh connection, then half-closes; returns what the server
/// answered and how many writes it took.
async fn serve_once(input: Vec<u8>) -> (String, usize) {
    let options = Arc::new(ServiceOptions::new(vec![Method::Reqmod], "\"t1\"".to_string()));
    let server = Server::new(support::Allow(options), ServerConfig::default());
    let (mut client, server_end) = tokio::io::duplex(1 << 20);
    client.write_all(&input).await.unwrap();
    client.shutdown().await.unwrap();
    let writes = Arc::new(AtomicUsize::new(0));
    let io = Box::new(Counted { inner: server_end, writes: writes.clone() });
    let peer = Peer { addr: "127.0.0.1:9".parse().unwrap(), tls_subject: None };
    server.spawn_connection(io, peer, server.try_slot().unwrap());
    let mut answer = Vec::new();
    tokio::time::timeout(std::time::Duration::from_secs(5), client.read_to_end(&mut answer))
        .await
        .expect("the server answers and closes")
        .unwrap();
    (String::from_utf8_lossy(&answer).into_owned(), writes.load(Ordering::Relaxed))
}

fn statuses(text: &str) -> Vec<&str> {
    text.lines().filter(|l| l.starts_with("ICAP/1.0 ")).map(|l| &l[9..12]).collect()
}

#[tokio::test]
async fn a_batch_read_at_once_is_answered_in_order_with_one_write() {
    let (text, writes) = serve_once(REQMOD.repeat(8)).await;
    assert_eq!(statuses(&text), ["204"; 8], "{text}");
    assert_eq!(writes, 1, "eight answers held back until the batch was read, then written at once");
}

#[tokio::test]
async fn a_broken_request_in_a_batch_keeps_the_answers_before_it() {
    let mut input = REQMOD.repeat(2);
    input.extend_from_slice(
        b"REQMOD icap://127.0.0.1/allow ICAP/1.0\r\nHost: x\r\nEncapsulated: bogus\r\n\r\n",
    );
    input.extend_from_slice(REQMOD);
    let (text, _) = serve_once(input).await;
    assert_eq!(statuses(&text), ["204", "204", "400"], "{text}");
    assert!(text.contains("Connection: close"), "{text}");
}

#[tokio::test]
async fn requests_that_arrive_one_by_one_are_answered_one_by_one() {
    let options = Arc::new(ServiceOptions::new(vec![Method::Reqmod], "\"t1\"".to_string()));
    let server = Server::new(support::Allow(options), ServerConfig::default());
    let (mut client, server_end) = tokio::io::duplex(1 << 20);
    let writes = Arc::new(AtomicUsize::new(0));
    let io = Box::new(Counted { inner: server_end, writes: writes.clone() });
    let peer = Peer { addr: "127.0.0.1:9".parse().unwrap(), tls_subject: None };
    server.spawn_connection(io, peer, server.try_slot().unwrap());
    for i in 1..=3 {
        client.write_all(REQMOD).await.unwrap();
        let mut buf = vec![0u8; 4096];
        let n = tokio::time::timeout(std::time::Duration::from_secs(5), client.read(&mut buf))
            .await
            .expect("each answer comes without waiting for the next request")
            .unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("ICAP/1.0 204"));
        assert_eq!(writes.load(Ordering::Relaxed), i);
    }
}

/// A request's record reaches the observer (the metrics) before its answer's last byte goes
/// out: a client that reads `/metrics` right after its answer sees its request. The observer
/// here is slow, so an observer called after the write would be seen late every time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_is_recorded_before_its_answer_is_written() {
    let options = Arc::new(ServiceOptions::new(vec![Method::Reqmod], "\"t1\"".to_string()));
    let recorded = Arc::new(AtomicUsize::new(0));
    let seen = recorded.clone();
    let config = ServerConfig {
        observer: Some(Arc::new(move |_record: &icap::server::RequestRecord| {
            std::thread::sleep(std::time::Duration::from_millis(300));
            seen.fetch_add(1, Ordering::SeqCst);
        })),
        ..ServerConfig::default()
    };
    let server = Server::new(support::Allow(options), config);
    let (mut client, server_end) = tokio::io::duplex(1 << 20);
    let peer = Peer { addr: "127.0.0.1:9".parse().unwrap(), tls_subject: None };
    server.spawn_connection(Box::new(server_end), peer, server.try_slot().unwrap());
    for i in 1..=2 {
        client.write_all(REQMOD).await.unwrap();
        let mut answer = Vec::new();
        while !answer.ends_with(b"\r\n\r\n") {
            let mut buf = [0u8; 4096];
            let n = tokio::time::timeout(std::time::Duration::from_secs(5), client.read(&mut buf))
                .await
                .expect("answered")
                .unwrap();
            assert!(n > 0, "the server closed");
            answer.extend_from_slice(&buf[..n]);
        }
        assert!(answer.starts_with(b"ICAP/1.0 204"));
        assert_eq!(recorded.load(Ordering::SeqCst), i, "request {i} recorded when its answer arrives");
    }
}
