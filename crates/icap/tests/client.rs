//! The ICAP client against scripted servers on loopback: OPTIONS caching and ISTag changes,
//! the preview and 100 Continue, ieof, stale pooled connections, and failures.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use icap::client::{Client, ClientConfig, ClientRequest, IcapUri, Preview};
use icap_proto::{Headers, HttpRequestHead};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Reads one ICAP message (head, and the chunked body up to its last chunk when `body`).
async fn read_message(s: &mut TcpStream, buf: &mut Vec<u8>, until: &[u8]) -> bool {
    let mut chunk = [0u8; 4096];
    while !buf.windows(until.len()).any(|w| w == until) {
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    true
}

fn options_answer(istag: &str, ttl: u64) -> String {
    format!(
        "ICAP/1.0 200 OK\r\nMethods: REQMOD\r\nISTag: \"{istag}\"\r\nOptions-TTL: {ttl}\r\nPreview: 4\r\nAllow: 204\r\nEncapsulated: null-body=0\r\n\r\n"
    )
}

fn upload() -> HttpRequestHead {
    HttpRequestHead::new("POST", "http://x/up", Headers::new())
}

#[tokio::test]
async fn options_are_cached_until_the_istag_changes() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let options_seen = Arc::new(AtomicUsize::new(0));
    let seen = options_seen.clone();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut istag = "A";
        loop {
            let mut buf = Vec::new();
            if !read_message(&mut s, &mut buf, b"\r\n\r\n").await {
                return;
            }
            if buf.starts_with(b"OPTIONS") {
                seen.fetch_add(1, Ordering::SeqCst);
                s.write_all(options_answer(istag, 3600).as_bytes()).await.unwrap();
            } else {
                // The preview (4 bytes) with ieof: answer 204 with a new ISTag.
                read_message(&mut s, &mut buf, b"0; ieof\r\n\r\n").await;
                istag = "B";
                s.write_all(b"ICAP/1.0 204 No Content\r\nISTag: \"B\"\r\n\r\n").await.unwrap();
            }
        }
    });
    let client = Client::new(ClientConfig::default());
    let uri: IcapUri = format!("icap://127.0.0.1:{port}/svc").parse().unwrap();
    assert_eq!(client.options(&uri).await.unwrap().istag, "\"A\"");
    assert_eq!(client.options(&uri).await.unwrap().istag, "\"A\"");
    assert_eq!(options_seen.load(Ordering::SeqCst), 1, "cached by Options-TTL");
    let mut body: &[u8] = b"abc";
    let res = client
        .send(&uri, &ClientRequest::reqmod(upload()), Some(&mut body), &mut tokio::io::sink())
        .await
        .unwrap();
    assert_eq!(res.status, 204);
    assert!(res.unmodified);
    assert_eq!(client.options(&uri).await.unwrap().istag, "\"B\"", "a new ISTag drops the cache");
    assert_eq!(options_seen.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn preview_then_100_continue_then_the_rest() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = Vec::new();
        assert!(read_message(&mut s, &mut buf, b"\r\n0\r\n\r\n").await, "preview ends without ieof");
        let text = String::from_utf8_lossy(&buf).to_string();
        assert!(text.contains("Preview: 4\r\n") && text.contains("4\r\nabcd\r\n0\r\n\r\n"), "{text}");
        s.write_all(b"ICAP/1.0 100 Continue\r\n\r\n").await.unwrap();
        let mut rest = Vec::new();
        assert!(read_message(&mut s, &mut rest, b"0\r\n\r\n").await);
        assert_eq!(String::from_utf8_lossy(&rest), "6\r\nefghij\r\n0\r\n\r\n");
        let page = "HTTP/1.1 403 Forbidden\r\n\r\n";
        let answer = format!(
            "ICAP/1.0 200 OK\r\nISTag: \"x\"\r\nEncapsulated: res-hdr=0, res-body={}\r\n\r\n{page}7\r\nblocked\r\n0\r\n\r\n",
            page.len()
        );
        s.write_all(answer.as_bytes()).await.unwrap();
    });
    let client = Client::new(ClientConfig::default());
    let uri: IcapUri = format!("icap://127.0.0.1:{port}/svc").parse().unwrap();
    let mut request = ClientRequest::reqmod(upload());
    request.preview = Preview::Size(4);
    let mut body: &[u8] = b"abcdefghij";
    let mut answer = Vec::new();
    let res = client.send(&uri, &request, Some(&mut body), &mut answer).await.unwrap();
    server.await.unwrap();
    assert_eq!(res.status, 200);
    assert_eq!(res.http_response.as_ref().unwrap().status(), 403);
    assert_eq!(answer, b"blocked");
    assert!(!res.unmodified);
    assert_eq!(res.sent_len, 10);
}

#[tokio::test]
async fn a_stale_pooled_connection_is_replaced_and_a_late_100_after_ieof_is_ignored() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (closed_tx, closed) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        // First connection: one OPTIONS answer, then the server closes it (idle timeout).
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = Vec::new();
        read_message(&mut s, &mut buf, b"\r\n\r\n").await;
        s.write_all(options_answer("A", 0).as_bytes()).await.unwrap();
        drop(s);
        let _ = closed_tx.send(());
        // Second connection: OPTIONS again; then a REQMOD whose preview holds everything,
        // answered with a stray 100 first (errata 5893: ignored) and then 204.
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = Vec::new();
        read_message(&mut s, &mut buf, b"\r\n\r\n").await;
        s.write_all(options_answer("A", 3600).as_bytes()).await.unwrap();
        let mut buf = Vec::new();
        read_message(&mut s, &mut buf, b"0; ieof\r\n\r\n").await;
        s.write_all(b"ICAP/1.0 100 Continue\r\n\r\nICAP/1.0 204 No Content\r\nISTag: \"A\"\r\n\r\n")
            .await
            .unwrap();
        let mut rest = [0u8; 16];
        let _ = s.read(&mut rest).await;
    });
    let client = Client::new(ClientConfig::default());
    let uri: IcapUri = format!("icap://127.0.0.1:{port}/svc").parse().unwrap();
    // Options-TTL: 0 expires at once, so the next call asks again.
    client.options(&uri).await.unwrap();
    closed.await.unwrap();
    // The pooled connection is closed by now: the client notices and connects again.
    assert_eq!(client.options(&uri).await.unwrap().options_ttl, Some(3600));
    let mut body: &[u8] = b"abc";
    let res = client
        .send(&uri, &ClientRequest::reqmod(upload()), Some(&mut body), &mut tokio::io::sink())
        .await
        .unwrap();
    assert_eq!(res.status, 204);
}

#[tokio::test]
async fn failures_say_what_happened() {
    // Nothing listens: connection refused.
    let port = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
    let client =
        Client::new(ClientConfig { read_timeout: Duration::from_millis(300), ..ClientConfig::default() });
    let uri: IcapUri = format!("icap://127.0.0.1:{port}/svc").parse().unwrap();
    let err = client.options(&uri).await.unwrap_err();
    assert!(err.is_connect() && !err.was_answered(), "{err}");

    // A server that accepts and says nothing: timeout.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (_s, _) = listener.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(5)).await;
    });
    let uri: IcapUri = format!("icap://127.0.0.1:{port}/svc").parse().unwrap();
    let err = client.options(&uri).await.unwrap_err();
    assert!(err.is_timeout(), "{err}");

    // A server that answers garbage: protocol error.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = Vec::new();
        read_message(&mut s, &mut buf, b"\r\n\r\n").await;
        s.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await.unwrap();
    });
    let uri: IcapUri = format!("icap://127.0.0.1:{port}/svc").parse().unwrap();
    let err = client.options(&uri).await.unwrap_err();
    assert!(err.is_protocol(), "{err}");
}
