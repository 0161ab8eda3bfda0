//! The `Server` header names whatever product runs the library: the library's own name by
//! default, the application's when it sets `ServerConfig::server_name`, on every kind of
//! answer (OPTIONS, 204, errors).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use icap::server::ServerConfig;
use support::{exchange_in_memory, Allow};

/// The `Server` header of the answer to `request` from a server with `config`.
async fn server_header(config: ServerConfig, request: &[u8]) -> String {
    let answer = exchange_in_memory(Allow::new(), config, request).await;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    answer
        .lines()
        .find_map(|l| l.strip_prefix("Server: "))
        .unwrap_or_else(|| panic!("no Server header in {answer}"))
        .to_string()
}

const OPTIONS: &[u8] = b"OPTIONS icap://127.0.0.1/allow ICAP/1.0\r\nHost: x\r\nConnection: close\r\n\r\n";
const REQMOD_204: &[u8] = b"REQMOD icap://127.0.0.1/allow ICAP/1.0\r\nHost: x\r\nAllow: 204\r\nConnection: close\r\nEncapsulated: req-hdr=0, null-body=18\r\n\r\nGET / HTTP/1.1\r\n\r\n";
const BROKEN: &[u8] = b"REQMOD icap://127.0.0.1/allow ICAP/1.0\r\nHost: x\r\nEncapsulated: nonsense\r\n\r\n";

#[tokio::test]
async fn the_library_names_itself_by_default() {
    let own = concat!("icap/", env!("CARGO_PKG_VERSION"));
    assert_eq!(server_header(ServerConfig::default(), OPTIONS).await, own);
}

#[tokio::test]
async fn an_application_names_its_product_on_every_answer() {
    for request in [OPTIONS, REQMOD_204, BROKEN] {
        let config = ServerConfig { server_name: "acme-dlp/2.1".into(), ..ServerConfig::default() };
        assert_eq!(
            server_header(config, request).await,
            "acme-dlp/2.1",
            "{}",
            String::from_utf8_lossy(request)
        );
    }
}
