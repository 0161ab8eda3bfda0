//! A body must keep a minimum rate and a request must end by its deadline, so that a client
//! trickling one byte just inside the read timeout cannot hold a connection forever. Runs on
//! tokio's paused clock: hours of trickling take milliseconds.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use icap::server::{Exchange, Outcome, Peer, Server, ServerConfig, Service};
use icap_proto::{Method, ServiceOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

/// Reads the whole body, then allows; a body error becomes the service's own 400 (the server
/// must answer what really happened instead).
struct ReadAll(Arc<ServiceOptions>);

impl Service for ReadAll {
    fn options(&self, service: &str) -> Option<Arc<ServiceOptions>> {
        (service == "all").then(|| self.0.clone())
    }

    async fn call(&self, exchange: &mut Exchange<'_>) -> Outcome {
        loop {
            match exchange.next_chunk().await {
                Ok(Some(_)) => {}
                Ok(None) => return Outcome::allow(),
                Err(e) => return Outcome::Error { status: 400, reason: e.to_string() },
            }
        }
    }
}

const HEAD: &[u8] = b"REQMOD icap://127.0.0.1/all ICAP/1.0\r\nHost: x\r\nAllow: 204\r\n\
Encapsulated: req-hdr=0, req-body=19\r\n\r\nPOST / HTTP/1.1\r\n\r\n";

fn connect(config: ServerConfig) -> (DuplexStream, Server<ReadAll>) {
    let options = Arc::new(ServiceOptions::new(vec![Method::Reqmod], "\"t1\"".to_string()));
    let server = Server::new(ReadAll(options), config);
    let (client, server_end) = tokio::io::duplex(1 << 20);
    let peer = Peer { addr: "127.0.0.1:9".parse().unwrap(), tls_subject: None };
    server.spawn_connection(Box::new(server_end), peer, server.try_slot().unwrap());
    (client, server)
}

/// Sends `piece` every `every` until the server answers or `pieces` were sent (then ends the
/// body); returns the answer and how many pieces went out.
async fn trickle(client: &mut DuplexStream, piece: &[u8], every: Duration, pieces: usize) -> (String, usize) {
    client.write_all(HEAD).await.unwrap();
    let mut chunk = format!("{:x}\r\n", piece.len()).into_bytes();
    chunk.extend_from_slice(piece);
    chunk.extend_from_slice(b"\r\n");
    let mut answer = vec![0u8; 4096];
    for sent in 0..pieces {
        tokio::select! {
            read = client.read(&mut answer) => {
                let n = read.unwrap();
                return (String::from_utf8_lossy(&answer[..n]).into_owned(), sent);
            }
            () = tokio::time::sleep(every) => {
                if client.write_all(&chunk).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = client.write_all(b"0\r\n\r\n").await;
    let n = client.read(&mut answer).await.unwrap();
    (String::from_utf8_lossy(&answer[..n]).into_owned(), pieces)
}

#[tokio::test(start_paused = true)]
async fn a_byte_every_29_seconds_is_too_slow() {
    // The read timeout (30 s) alone would wait for each byte forever.
    let (mut client, _server) = connect(ServerConfig::default());
    let (answer, sent) = trickle(&mut client, b"x", Duration::from_secs(29), 100).await;
    assert!(answer.starts_with("ICAP/1.0 408 "), "{answer}");
    assert!(answer.contains("slower than the minimum rate"), "{answer}");
    assert!(sent < 3, "cut off within a rate window, after {sent} bytes");
}

#[tokio::test(start_paused = true)]
async fn a_body_at_a_fair_rate_passes() {
    let config = ServerConfig { min_body_rate: 100, ..ServerConfig::default() };
    let (mut client, _server) = connect(config);
    // 200 bytes a second for two minutes: twice the minimum.
    let (answer, sent) = trickle(&mut client, &[b'a'; 200], Duration::from_secs(1), 120).await;
    assert!(answer.starts_with("ICAP/1.0 204 "), "{answer}");
    assert_eq!(sent, 120);
}

#[tokio::test(start_paused = true)]
async fn a_request_past_its_deadline_gets_408() {
    let config = ServerConfig { request_deadline: Duration::from_secs(60), ..ServerConfig::default() };
    let (mut client, _server) = connect(config);
    // Fast enough for the rate, but never ending.
    let started = tokio::time::Instant::now();
    let (answer, _) = trickle(&mut client, &[b'a'; 4096], Duration::from_millis(500), 1000).await;
    assert!(answer.starts_with("ICAP/1.0 408 "), "{answer}");
    assert!(answer.contains("request deadline"), "{answer}");
    let took = started.elapsed();
    assert!(took >= Duration::from_secs(60) && took < Duration::from_secs(62), "{took:?}");
}
