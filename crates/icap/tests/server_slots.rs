//! Connections that never finish opening (no PROXY header, no TLS handshake) hold opening
//! slots of their own, the oldest given up for newer ones, so a thousand idle sockets cannot
//! keep a real client out.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use icap::server::{bind, Listener, Server, ServerConfig, Transport};
use icap_proto::{Method, ServiceOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sockets_that_never_open_cannot_keep_a_real_client_out() {
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let options = Arc::new(ServiceOptions::new(vec![Method::Reqmod], "\"t1\"".to_string()));
    let config = ServerConfig { max_connections: 50, max_handshakes: 100, ..ServerConfig::default() };
    let server = Arc::new(Server::new(support::Allow(options), config));
    let socket = bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = socket.local_addr().unwrap();
    let listener = Listener { socket, transport: Transport::Plain, proxy_protocol: true };
    let serving = server.clone();
    tokio::spawn(async move { serving.serve_listeners(vec![listener], std::future::pending()).await });

    // A thousand sockets that never send their PROXY header.
    let mut idle = Vec::new();
    for _ in 0..1000 {
        idle.push(TcpStream::connect(addr).await.unwrap());
    }
    // The server has taken the flood in when the oldest idle socket was given up for newer ones.
    let mut byte = [0u8; 1];
    let oldest = tokio::time::timeout(Duration::from_secs(10), idle[0].read(&mut byte)).await;
    assert!(matches!(oldest, Ok(Ok(0) | Err(_))), "the oldest idle socket was let go: {oldest:?}");

    let answer = tokio::time::timeout(Duration::from_secs(1), async {
        let mut client = TcpStream::connect(addr).await.unwrap();
        client
            .write_all(
                b"PROXY TCP4 192.0.2.7 127.0.0.1 51000 1344\r\n\
                  OPTIONS icap://127.0.0.1/allow ICAP/1.0\r\nHost: x\r\nConnection: close\r\n\r\n",
            )
            .await
            .unwrap();
        let mut answer = Vec::new();
        client.read_to_end(&mut answer).await.unwrap();
        String::from_utf8_lossy(&answer).into_owned()
    })
    .await
    .expect("answered within a second");
    assert!(answer.starts_with("ICAP/1.0 200 "), "{answer}");

    // The idle ones were let go (at most the opening slots' worth are still held).
    let mut closed = 0;
    for mut s in idle {
        let mut byte = [0u8; 1];
        if matches!(
            tokio::time::timeout(Duration::from_millis(5), s.read(&mut byte)).await,
            Ok(Ok(0) | Err(_))
        ) {
            closed += 1;
        }
    }
    assert!(closed >= 900, "{closed} of 1000 idle sockets closed by the server");
}
