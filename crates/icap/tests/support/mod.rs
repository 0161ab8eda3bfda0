//! What the server tests share: a service that allows everything, and one whole exchange
//! over an in-memory pipe (no socket: the server's connection loop is the same).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use icap::server::{Exchange, Outcome, Peer, Server, ServerConfig, Service};
use icap_proto::{Method, ServiceOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Allows everything, as service `allow`.
pub struct Allow(pub Arc<ServiceOptions>);

impl Allow {
    /// `allow`, announcing REQMOD with ISTag `"t1"`.
    pub fn new() -> Self {
        Self(Arc::new(ServiceOptions::new(vec![Method::Reqmod], "\"t1\"".to_string())))
    }
}

impl Service for Allow {
    fn options(&self, service: &str) -> Option<Arc<ServiceOptions>> {
        (service == "allow").then(|| self.0.clone())
    }

    async fn call(&self, _exchange: &mut Exchange<'_>) -> Outcome {
        Outcome::allow()
    }
}

/// Sends `request` to a server with `service` and `config` over an in-memory pipe; what came
/// back before the server closed (or 10 s passed).
pub async fn exchange_in_memory<S: Service>(service: S, config: ServerConfig, request: &[u8]) -> Vec<u8> {
    let server = Server::new(service, config);
    let (mut client, server_end) = tokio::io::duplex(1 << 16);
    let peer = Peer { addr: "127.0.0.1:9".parse().unwrap(), tls_subject: None };
    server.spawn_connection(Box::new(server_end), peer, server.try_slot().unwrap());
    client.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), client.read_to_end(&mut answer)).await;
    answer
}
