//! Malformed ICAP over a real socket gets the RFC status; stalled clients are timed out without
//! hurting others; a burst of connections over the limit gets 503 and no crash.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::{exchange_raw, icap_status, Dlpgate};

const OPTIONS: &[u8] =
    b"OPTIONS icap://127.0.0.1/echo ICAP/1.0\r\nHost: 127.0.0.1\r\nEncapsulated: null-body=0\r\n\r\n";

/// Sends `request` on a new connection; gives the answer's status and text once a whole
/// answer without a body is in, the server closes, or 5 s pass.
fn status_of(server: &Dlpgate, request: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    stream.write_all(request).unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    while !whole_bodiless_answer(&answer) {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
        }
    }
    (icap_status(&answer), String::from_utf8_lossy(&answer).to_string())
}

/// An ICAP header block is complete and encapsulates no body (kept-alive answers end there).
fn whole_bodiless_answer(answer: &[u8]) -> bool {
    let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") else { return false };
    String::from_utf8_lossy(&answer[..end]).to_ascii_lowercase().contains("null-body=")
}

#[test]
fn malformed_requests_get_their_status() {
    let server = Dlpgate::start(&[]);
    let cases: &[(&str, &[u8], u16)] = &[
        ("garbage start line", b"HELLO THERE\r\n\r\n", 400),
        ("unknown service", b"OPTIONS icap://127.0.0.1/nosuch ICAP/1.0\r\nHost: x\r\n\r\n", 404),
        ("ICAP/2.0", b"OPTIONS icap://127.0.0.1/echo ICAP/2.0\r\nHost: x\r\n\r\n", 505),
        ("unknown method", b"DELETE icap://127.0.0.1/echo ICAP/1.0\r\nHost: x\r\n\r\n", 501),
        (
            "method the service does not offer",
            b"RESPMOD icap://127.0.0.1/reqmod ICAP/1.0\r\nHost: x\r\nEncapsulated: res-hdr=0, null-body=19\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
            405,
        ),
        (
            "chunk size that is not hex",
            b"REQMOD icap://127.0.0.1/echo ICAP/1.0\r\nHost: x\r\nAllow: 204\r\nEncapsulated: req-hdr=0, req-body=19\r\n\r\nPOST / HTTP/1.1\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
            400,
        ),
        (
            "bad Encapsulated",
            b"REQMOD icap://127.0.0.1/echo ICAP/1.0\r\nHost: x\r\nEncapsulated: req-hdr=9, req-body=1\r\n\r\n",
            400,
        ),
    ];
    for (what, request, expected) in cases {
        let (status, text) = status_of(&server, request);
        assert_eq!(status, *expected, "{what}: {text}");
        if *expected != 404 && *expected != 405 {
            assert!(text.contains("X-Error-Reason: "), "{what} gives a reason: {text}");
        }
    }
    // The server is still fine.
    assert_eq!(status_of(&server, OPTIONS).0, 200);
}

#[test]
fn an_oversized_header_block_gets_400_and_the_connection_closes() {
    let server = Dlpgate::start(&[]);
    let mut request = b"OPTIONS icap://127.0.0.1/echo ICAP/1.0\r\nHost: x\r\n".to_vec();
    while request.len() < 200 * 1024 {
        request.extend_from_slice(
            b"X-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n",
        );
    }
    request.extend_from_slice(b"\r\n");
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    // The server may close before reading everything; a failed write is fine.
    let _ = stream.write_all(&request);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    assert_eq!(icap_status(&answer), 400, "{}", String::from_utf8_lossy(&answer));
    assert!(String::from_utf8_lossy(&answer).contains("Connection: close"));
}

#[test]
fn a_stalled_client_is_timed_out_and_others_are_served() {
    let server = Dlpgate::start(&["--read-timeout", "1"]);
    let mut stalled = TcpStream::connect(server.addr).unwrap();
    stalled
        .write_all(b"REQMOD icap://127.0.0.1/echo ICAP/1.0\r\nHost: x\r\nAllow: 204\r\nEncapsulated: req-hdr=0, req-body=19\r\n\r\nPOST / HTTP/1.1\r\n\r\n400\r\nonly part of the chunk")
        .unwrap();
    // Others are served while it stalls.
    for _ in 0..5 {
        assert_eq!(status_of(&server, OPTIONS).0, 200);
    }
    stalled.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    let _ = stalled.read_to_end(&mut answer);
    assert!(started.elapsed() < Duration::from_secs(9), "closed by the server, not by the test's timeout");
    assert_eq!(icap_status(&answer), 408, "{}", String::from_utf8_lossy(&answer));
    assert_eq!(status_of(&server, OPTIONS).0, 200);

    // An echo that already streamed part of its 200 is cut off, never mixed with an error.
    let mut stalled = TcpStream::connect(server.addr).unwrap();
    stalled
        .write_all(b"REQMOD icap://127.0.0.1/echo ICAP/1.0\r\nHost: x\r\nEncapsulated: req-hdr=0, req-body=19\r\n\r\nPOST / HTTP/1.1\r\n\r\n40000\r\n")
        .unwrap();
    stalled.write_all(&[b'a'; 0x30000]).unwrap();
    stalled.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut answer = Vec::new();
    let _ = stalled.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("ICAP/1.0 200 OK") && !text.contains("408"), "{text}");
}

#[test]
fn connections_beyond_the_limit_get_503_and_the_server_survives() {
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let server = Dlpgate::start(&["--max-connections", "100"]);
    let mut held = Vec::new();
    let mut refused = 0;
    for _ in 0..2000 {
        match TcpStream::connect(server.addr) {
            Ok(s) => held.push(s),
            Err(_) => refused += 1,
        }
    }
    assert!(held.len() > 1000, "most connections open ({} refused by the kernel)", refused);
    let mut got_503 = 0;
    for s in held.iter_mut().skip(200).take(200) {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut answer = Vec::new();
        let _ = s.read_to_end(&mut answer);
        if !answer.is_empty() && icap_status(&answer) == 503 {
            got_503 += 1;
        }
    }
    assert!(got_503 >= 190, "connections over the limit get 503 (got {got_503} of 200)");
    drop(held);
    // Still serving after the burst, once the held connections' slots are free again.
    support::wait_until(Duration::from_secs(10), "an OPTIONS answered 200 after the burst", || {
        status_of(&server, OPTIONS).0 == 200
    });
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let server = Dlpgate::start(&[]);
    let mut request = Vec::new();
    for _ in 0..3 {
        request.extend_from_slice(b"OPTIONS icap://127.0.0.1/echo ICAP/1.0\r\nHost: x\r\n\r\n");
        request.extend_from_slice(
            b"REQMOD icap://127.0.0.1/echo ICAP/1.0\r\nHost: x\r\nAllow: 204\r\nEncapsulated: req-hdr=0, req-body=19\r\n\r\nPOST / HTTP/1.1\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        );
    }
    request
        .extend_from_slice(b"OPTIONS icap://127.0.0.1/echo ICAP/1.0\r\nHost: x\r\nConnection: close\r\n\r\n");
    let (bytes, closed) = exchange_raw(server.addr, &request, Duration::from_secs(5));
    let text = String::from_utf8_lossy(&bytes);
    let statuses: Vec<&str> =
        text.lines().filter(|l| l.starts_with("ICAP/1.0 ")).map(|l| &l[9..12]).collect();
    assert_eq!(statuses, ["200", "204", "200", "204", "200", "204", "200"]);
    assert!(closed, "Connection: close is honoured");
}

#[test]
fn sigterm_lets_an_in_flight_request_finish() {
    let metrics_port = support::free_port();
    let mut server = Dlpgate::start(&["--metrics-listen", &format!("127.0.0.1:{metrics_port}")]);
    support::wait_for_port(metrics_port, Duration::from_secs(10));
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream
        .write_all(b"REQMOD icap://127.0.0.1/echo ICAP/1.0\r\nHost: x\r\nEncapsulated: req-hdr=0, req-body=19\r\n\r\nPOST / HTTP/1.1\r\n\r\n5\r\nhel")
        .unwrap();
    // The server has the connection before it is told to stop.
    support::wait_until(Duration::from_secs(10), "the connection was accepted", || {
        let metrics = support::http_get(metrics_port, "/metrics");
        support::load::sample(&metrics, "dlpgate_open_connections").is_some_and(|n| n >= 1.0)
    });
    let _ = std::process::Command::new("kill").arg("-TERM").arg(server.guard.pid().to_string()).status();
    // New connections are no longer accepted...
    support::wait_until(Duration::from_secs(10), "the listener closed during the drain", || {
        !support::listening(server.port)
    });
    // ...but the request in flight completes.
    stream.write_all(b"lo\r\n0\r\n\r\n").unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    assert_eq!(icap_status(&answer), 200, "{}", String::from_utf8_lossy(&answer));
    let text = String::from_utf8_lossy(&answer);
    assert!(
        text.contains("\r\nhel\r\n") && text.contains("\r\nlo\r\n") && text.ends_with("\r\n0\r\n\r\n"),
        "{text}"
    );
    let status = server.guard.terminate(Duration::from_secs(10)).expect("server exits after draining");
    assert!(status.success());
}
