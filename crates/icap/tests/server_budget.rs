//! The process-wide budgets: a long head is charged to memory, an echo spool goes to disk when
//! memory is spent, and a spent spool budget gets `503` after the overload wait.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use icap::server::{ByteBudget, Exchange, Outcome, Peer, Server, ServerConfig, Service};
use icap_proto::{Method, ServiceOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Reads the whole body, then allows (an echo when 204 is not offered).
struct ReadAll(Arc<ServiceOptions>);

impl Service for ReadAll {
    fn options(&self, service: &str) -> Option<Arc<ServiceOptions>> {
        (service == "all").then(|| self.0.clone())
    }

    async fn call(&self, exchange: &mut Exchange<'_>) -> Outcome {
        while let Ok(Some(_)) = exchange.next_chunk().await {}
        Outcome::allow()
    }
}

async fn exchange(config: ServerConfig, request: Vec<u8>) -> Vec<u8> {
    let options = Arc::new(ServiceOptions::new(vec![Method::Reqmod], "\"t1\"".to_string()));
    let server = Server::new(ReadAll(options), config);
    let (mut client, server_end) = tokio::io::duplex(1 << 16);
    let peer = Peer { addr: "127.0.0.1:9".parse().unwrap(), tls_subject: None };
    server.spawn_connection(Box::new(server_end), peer, server.try_slot().unwrap());
    let writer = tokio::spawn(async move {
        let _ = client.write_all(&request).await;
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(10), client.read_to_end(&mut answer)).await;
        answer
    });
    writer.await.unwrap()
}

fn upload(body: &[u8]) -> Vec<u8> {
    let mut msg = b"REQMOD icap://127.0.0.1/all ICAP/1.0\r\nHost: x\r\nConnection: close\r\n\
        Encapsulated: req-hdr=0, req-body=19\r\n\r\nPOST / HTTP/1.1\r\n\r\n"
        .to_vec();
    msg.extend_from_slice(format!("{:x}\r\n", body.len()).as_bytes());
    msg.extend_from_slice(body);
    msg.extend_from_slice(b"\r\n0\r\n\r\n");
    msg
}

#[tokio::test]
async fn a_long_head_is_charged_to_the_memory_budget() {
    let mut head = b"OPTIONS icap://127.0.0.1/all ICAP/1.0\r\nHost: x\r\nConnection: close\r\n".to_vec();
    while head.len() < 40 * 1024 {
        head.extend_from_slice(format!("X-Padding: {}\r\n", "a".repeat(1000)).as_bytes());
    }
    head.extend_from_slice(b"\r\n");
    let tight = ServerConfig {
        memory: ByteBudget::new(32 * 1024),
        overload_wait: Duration::from_millis(50),
        ..ServerConfig::default()
    };
    let answer = String::from_utf8_lossy(&exchange(tight, head.clone()).await).into_owned();
    assert!(answer.starts_with("ICAP/1.0 503 ") && answer.contains("budget"), "{answer}");
    // With room, the same head is fine.
    let answer = String::from_utf8_lossy(&exchange(ServerConfig::default(), head).await).into_owned();
    assert!(answer.starts_with("ICAP/1.0 200 "), "{answer}");
}

#[tokio::test]
async fn an_echo_spool_goes_to_disk_when_memory_is_spent_and_503_when_disk_is() {
    let body: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let no_memory = ServerConfig {
        memory: ByteBudget::new(0),
        spool_disk: ByteBudget::new(1 << 20),
        ..ServerConfig::default()
    };
    let answer = exchange(no_memory, upload(&body)).await;
    assert!(answer.starts_with(b"ICAP/1.0 200 "), "{}", String::from_utf8_lossy(&answer));
    let at = answer.windows(body.len().min(1000)).position(|w| w == &body[..1000]);
    assert!(at.is_some(), "the body is echoed from the spool file");

    let no_room = ServerConfig {
        memory: ByteBudget::new(0),
        spool_disk: ByteBudget::new(10_000),
        overload_wait: Duration::from_millis(50),
        ..ServerConfig::default()
    };
    let answer = String::from_utf8_lossy(&exchange(no_room, upload(&body)).await).into_owned();
    assert!(answer.starts_with("ICAP/1.0 503 ") && answer.contains("budget"), "{answer}");
}
