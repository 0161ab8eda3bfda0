//! Pipelined batches (`Client::send_pipelined`) against scripted servers on loopback: a server
//! that closes its connections after a few answers gets the rest on new connections, a server
//! that answers nothing leaves every request unanswered, and answers keep their order.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use icap::client::{Batched, Client, ClientConfig, ClientRequest, IcapUri};
use icap_proto::{Headers, HttpRequestHead};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn upload(i: usize) -> ClientRequest {
    ClientRequest::reqmod(HttpRequestHead::new("POST", format!("http://x/{i}"), Headers::new()))
}

/// Reads whole requests (each ends with its last chunk) until `n` have come; returns the
/// number of each (from its URL), in order, or fewer when the client closed.
async fn read_requests(s: &mut TcpStream, buf: &mut Vec<u8>, n: usize) -> Vec<usize> {
    let mut seen = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        while let Some(end) = buf.windows(5).position(|w| w == b"0\r\n\r\n") {
            let message: Vec<u8> = buf.drain(..end + 5).collect();
            let text = String::from_utf8_lossy(&message);
            let number = text.split("http://x/").nth(1).and_then(|r| r.split(' ').next()).unwrap();
            seen.push(number.parse().unwrap());
            if seen.len() == n {
                return seen;
            }
        }
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return seen,
            Ok(k) => buf.extend_from_slice(&chunk[..k]),
        }
    }
}

/// A 204 that names the request it answers.
fn answer(i: usize, close: bool) -> String {
    let close = if close { "Connection: close\r\n" } else { "" };
    format!("ICAP/1.0 204 No Content\r\nISTag: \"t\"\r\nX-Answer-To: {i}\r\n{close}\r\n")
}

#[tokio::test]
async fn a_server_that_closes_after_three_answers_gets_the_rest_on_new_connections() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    tokio::spawn(async move {
        loop {
            let (mut s, _) = listener.accept().await.unwrap();
            let n = counted.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                for k in 0..3 {
                    let Some(&i) = read_requests(&mut s, &mut buf, 1).await.first() else { return };
                    // Every other connection says it closes; the others just close.
                    s.write_all(answer(i, k == 2 && n.is_multiple_of(2)).as_bytes()).await.unwrap();
                }
            });
        }
    });
    let client = Client::new(ClientConfig::default());
    let uri: IcapUri = format!("icap://127.0.0.1:{port}/svc").parse().unwrap();
    let requests: Vec<ClientRequest> = (0..8).map(upload).collect();
    let bodies: Vec<Vec<u8>> = (0..8).map(|i| vec![b'a' + i as u8; 10 + i]).collect();
    let batch: Vec<Batched<'_>> =
        requests.iter().zip(&bodies).map(|(request, b)| Batched { request, body: Some(b) }).collect();
    let answers = client.send_pipelined(&uri, &batch).await;
    let order: Vec<String> = answers
        .iter()
        .map(|a| a.as_ref().unwrap().response.headers.get("x-answer-to").unwrap().to_string())
        .collect();
    assert_eq!(order, ["0", "1", "2", "3", "4", "5", "6", "7"], "each answer is its own request's");
    assert!(answers.iter().all(|a| a.as_ref().unwrap().response.unmodified));
    assert_eq!(connections.load(Ordering::SeqCst), 3, "3 + 3 + 2 requests");
}

#[tokio::test]
async fn a_server_that_answers_nothing_leaves_every_request_unanswered() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    tokio::spawn(async move {
        loop {
            let (mut s, _) = listener.accept().await.unwrap();
            counted.fetch_add(1, Ordering::SeqCst);
            // Reads everything and says nothing.
            tokio::spawn(async move {
                let mut sink = Vec::new();
                let _ = s.read_to_end(&mut sink).await;
            });
        }
    });
    let config = ClientConfig { read_timeout: Duration::from_millis(300), ..ClientConfig::default() };
    let client = Client::new(config);
    let uri: IcapUri = format!("icap://127.0.0.1:{port}/svc").parse().unwrap();
    let requests: Vec<ClientRequest> = (0..4).map(upload).collect();
    let batch: Vec<Batched<'_>> =
        requests.iter().map(|request| Batched { request, body: Some(b"x") }).collect();
    let started = std::time::Instant::now();
    let answers = client.send_pipelined(&uri, &batch).await;
    assert_eq!(answers.len(), 4);
    for a in &answers {
        let e = a.as_ref().unwrap_err();
        assert!(e.is_timeout() && !e.was_answered(), "{e}");
    }
    assert!(started.elapsed() < Duration::from_secs(5), "one timeout for the batch, not one each");
    // Never sent again after a timeout: the server may still be judging them.
    assert_eq!(connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_error_answer_in_a_batch_is_that_request_s_own() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = Vec::new();
        let got = read_requests(&mut s, &mut buf, 3).await;
        let mut out = String::new();
        for i in got {
            if i == 1 {
                out.push_str("ICAP/1.0 500 Server Error\r\nISTag: \"t\"\r\n\r\n");
            } else {
                out.push_str(&answer(i, false));
            }
        }
        s.write_all(out.as_bytes()).await.unwrap();
        let _ = read_requests(&mut s, &mut buf, 1).await;
    });
    let client = Client::new(ClientConfig::default());
    let uri: IcapUri = format!("icap://127.0.0.1:{port}/svc").parse().unwrap();
    let requests: Vec<ClientRequest> = (0..3).map(upload).collect();
    let batch: Vec<Batched<'_>> =
        requests.iter().map(|request| Batched { request, body: Some(b"x") }).collect();
    let answers = client.send_pipelined(&uri, &batch).await;
    assert_eq!(answers[0].as_ref().unwrap().response.status, 204);
    let e = answers[1].as_ref().unwrap_err();
    assert!(e.was_answered() && e.icap_status() == Some(500), "{e}");
    assert_eq!(answers[2].as_ref().unwrap().response.status, 204);
}

/// A server that answers the first request of a batch and then stalls: the answer counts, and
/// the others are not sent again on a new connection although that one made progress (after a
/// timeout the server may still be judging them).
#[tokio::test]
async fn requests_that_timed_out_are_never_sent_again() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    tokio::spawn(async move {
        loop {
            let (mut s, _) = listener.accept().await.unwrap();
            counted.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                if let Some(&i) = read_requests(&mut s, &mut buf, 1).await.first() {
                    s.write_all(answer(i, false).as_bytes()).await.unwrap();
                }
                let mut sink = Vec::new();
                let _ = s.read_to_end(&mut sink).await;
            });
        }
    });
    let config = ClientConfig { read_timeout: Duration::from_millis(300), ..ClientConfig::default() };
    let client = Client::new(config);
    let uri: IcapUri = format!("icap://127.0.0.1:{port}/svc").parse().unwrap();
    let requests: Vec<ClientRequest> = (0..4).map(upload).collect();
    let batch: Vec<Batched<'_>> =
        requests.iter().map(|request| Batched { request, body: Some(b"x") }).collect();
    let answers = client.send_pipelined(&uri, &batch).await;
    assert_eq!(answers[0].as_ref().unwrap().response.headers.get("x-answer-to"), Some("0"));
    for a in &answers[1..] {
        let e = a.as_ref().unwrap_err();
        assert!(e.is_timeout() && !e.was_answered(), "{e}");
    }
    assert_eq!(connections.load(Ordering::SeqCst), 1, "nothing was sent again");
}
