//! `dlpgate serve --proxy-protocol`: the client address named by a PROXY v1 or v2 header is the
//! one recorded; a connection without a valid header is refused; haproxy's send-proxy-v2 and
//! `dlpgate tunnel`'s `protocol = proxy` work end to end.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use support::{exchange_raw, free_port, icap_status, require, wait_for_port, ChildGuard, Dlpgate};

const OPTIONS: &[u8] = b"OPTIONS icap://127.0.0.1/echo ICAP/1.0\r\nHost: x\r\nConnection: close\r\n\r\n";

#[test]
fn headers_name_the_client_and_are_required() {
    let server = Dlpgate::start(&["--proxy-protocol", "--log", "debug"]);
    let mut v1 = b"PROXY TCP4 192.0.2.7 127.0.0.1 51000 1344\r\n".to_vec();
    v1.extend_from_slice(OPTIONS);
    let (answer, _) = exchange_raw(server.addr, &v1, Duration::from_secs(5));
    assert_eq!(icap_status(&answer), 200);
    server.wait_for_log("peer=192.0.2.7:51000", 1);

    let mut v2 = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    v2.extend_from_slice(&[0x21, 0x11, 0x00, 12, 198, 51, 100, 9, 127, 0, 0, 1, 0xC3, 0x50, 0x05, 0x40]);
    v2.extend_from_slice(OPTIONS);
    let (answer, _) = exchange_raw(server.addr, &v2, Duration::from_secs(5));
    assert_eq!(icap_status(&answer), 200);
    server.wait_for_log("peer=198.51.100.9:50000", 1);

    // Closed (or reset, as the request was left unread) without an answer.
    let (answer, _) = exchange_raw(server.addr, OPTIONS, Duration::from_secs(5));
    assert!(answer.is_empty(), "no header, no service");
    server.wait_for_log("PROXY protocol header refused", 1);
}

#[test]
fn haproxy_send_proxy_v2_in_front() {
    let haproxy = require("haproxy");
    let server = Dlpgate::start(&["--proxy-protocol", "--log", "debug"]);
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let conf = format!(
        "global\n    maxconn 256\ndefaults\n    mode tcp\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\nfrontend f\n    bind 127.0.0.1:{port}\n    default_backend b\nbackend b\n    server s1 127.0.0.1:{} send-proxy-v2\n",
        server.port
    );
    std::fs::write(dir.path().join("haproxy.cfg"), conf).unwrap();
    let _haproxy = ChildGuard::spawn(
        "haproxy",
        Command::new(haproxy)
            .args(["-db", "-f"])
            .arg(dir.path().join("haproxy.cfg"))
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    wait_for_port(port, Duration::from_secs(10));
    let mut client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let client_port = client.local_addr().unwrap().port();
    client.write_all(OPTIONS).unwrap();
    client.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut answer = Vec::new();
    let _ = std::io::Read::read_to_end(&mut client, &mut answer);
    assert_eq!(icap_status(&answer), 200);
    server.wait_for_log(&format!("peer=127.0.0.1:{client_port}"), 1);
}
