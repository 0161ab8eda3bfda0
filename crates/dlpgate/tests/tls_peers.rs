//! icaps against real peers: a stunnel client in front of c-icap-client and of Squid (whose
//! Debian build has no icaps), c-icap-client's own `-tls`, and bad input on the TLS port.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{
    free_port, pseudo_random, require, start_origin, start_squid, wait_for_port, ChildGuard, Dlpgate,
};

/// dlpgate with plain and TLS listeners; returns it and the TLS port.
fn start_icaps(dir: &Path, extra: &[&str]) -> (Dlpgate, u16) {
    let tls_port = free_port();
    let mut args = vec!["--tls-listen".to_string(), format!("127.0.0.1:{tls_port}")];
    for (flag, file) in [("--cert", "server.crt"), ("--key", "server.key")] {
        args.push(flag.to_string());
        args.push(dir.join(file).display().to_string());
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Dlpgate::start(&refs);
    wait_for_port(tls_port, Duration::from_secs(10));
    (server, tls_port)
}

/// A stunnel client: plain on a free port, TLS with the client certificate to `tls_port`.
fn start_stunnel_client(dir: &Path, tls_port: u16) -> (ChildGuard, u16) {
    let stunnel = require("stunnel4");
    let port = free_port();
    let d = dir.display();
    let conf = format!(
        "foreground = yes
pid =
output = {d}/stunnel-client.log
debug = info
[icap-client]
client = yes
accept = 127.0.0.1:{port}
connect = 127.0.0.1:{tls_port}
cert = {d}/client.crt
key = {d}/client.key
verifyChain = yes
CAfile = {d}/ca.crt
checkHost = localhost
"
    );
    std::fs::write(dir.join("stunnel-client.conf"), conf).unwrap();
    let mut cmd = Command::new(stunnel);
    cmd.arg(dir.join("stunnel-client.conf")).stdout(Stdio::null()).stderr(Stdio::null());
    let guard = ChildGuard::spawn("stunnel client", &mut cmd);
    wait_for_port(port, Duration::from_secs(10));
    (guard, port)
}

fn c_icap_client(port: u16, args: &[&str]) -> String {
    let out = Command::new(require("c-icap-client"))
        .args(["-i", "127.0.0.1", "-p", &port.to_string(), "-v"])
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)
}

#[test]
fn stunnel_client_to_dlpgate_icaps() {
    let dir = tempfile::tempdir().unwrap();
    support::cert_init(dir.path());
    let ca = dir.path().join("ca.crt").display().to_string();
    let (server, tls_port) = start_icaps(dir.path(), &["--client-ca", &ca, "--log", "debug"]);
    let (_stunnel, port) = start_stunnel_client(dir.path(), tls_port);

    let out = c_icap_client(port, &["-s", "echo"]);
    assert!(out.contains("ICAP/1.0 200 OK") && out.contains("Preview: 1024"), "{out}");
    let input = dir.path().join("body");
    let output = dir.path().join("echoed");
    std::fs::write(&input, pseudo_random(3 * 1024 * 1024, 5)).unwrap();
    let out = c_icap_client(
        port,
        &[
            "-s",
            "echo",
            "-f",
            input.to_str().unwrap(),
            "-o",
            output.to_str().unwrap(),
            "-nopreview",
            "-no204",
        ],
    );
    assert!(out.contains("ICAP/1.0 200 OK"), "{out}");
    assert!(
        std::fs::read(&input).unwrap() == std::fs::read(&output).unwrap(),
        "3 MiB echoed intact over TLS"
    );
    let log = server.log();
    assert!(log.contains("TLS client accepted") && log.contains("dlpgate client"), "subject seen:\n{log}");
}

#[test]
fn c_icap_client_tls_needs_allow_any_client() {
    let dir = tempfile::tempdir().unwrap();
    support::cert_init(dir.path());
    let ca = dir.path().join("ca.crt").display().to_string();
    // c-icap-client cannot present a client certificate: refused by default...
    let (_strict, tls_port) = start_icaps(dir.path(), &["--client-ca", &ca]);
    let out = c_icap_client(tls_port, &["-tls", "-tls-no-verify", "-s", "echo"]);
    assert!(!out.contains("ICAP/1.0 200"), "refused without a client certificate:\n{out}");
    // ...and served only with --allow-any-client.
    let (_open, tls_port) = start_icaps(dir.path(), &["--allow-any-client"]);
    let out = c_icap_client(tls_port, &["-tls", "-tls-no-verify", "-s", "echo"]);
    assert!(out.contains("ICAP/1.0 200 OK"), "served with --allow-any-client:\n{out}");
    let input = dir.path().join("f");
    std::fs::write(&input, b"some body").unwrap();
    let out =
        c_icap_client(tls_port, &["-tls", "-tls-no-verify", "-s", "respmod", "-f", input.to_str().unwrap()]);
    assert!(out.contains("ICAP/1.0 204"), "{out}");
}

#[test]
fn squid_through_a_stunnel_client_to_dlpgate_icaps() {
    let dir = tempfile::tempdir().unwrap();
    support::cert_init(dir.path());
    let ca = dir.path().join("ca.crt").display().to_string();
    let (server, tls_port) = start_icaps(dir.path(), &["--client-ca", &ca, "--log", "debug"]);
    let (_stunnel, stunnel_port) = start_stunnel_client(dir.path(), tls_port);
    let download = pseudo_random(1024 * 1024, 9);
    let origin = start_origin(download.clone());
    let (_squid, squid_port) = start_squid(dir.path(), stunnel_port, "echo", "echo");
    let fetched = dir.path().join("fetched");
    let out = Command::new(require("curl"))
        .args(["-sS", "--max-time", "60", "-x", &format!("http://127.0.0.1:{squid_port}")])
        .arg(format!("http://127.0.0.1:{origin}/file"))
        .arg("-o")
        .arg(&fetched)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(std::fs::read(&fetched).unwrap() == download);
    let upload = pseudo_random(100_000, 3);
    let file = dir.path().join("upload");
    std::fs::write(&file, &upload).unwrap();
    let echoed = dir.path().join("echoed");
    let out = Command::new(require("curl"))
        .args(["-sS", "--max-time", "60", "-x", &format!("http://127.0.0.1:{squid_port}")])
        .args(["-H", "Content-Type: application/octet-stream", "--data-binary"])
        .arg(format!("@{}", file.display()))
        .arg(format!("http://127.0.0.1:{origin}/upload"))
        .arg("-o")
        .arg(&echoed)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(std::fs::read(&echoed).unwrap() == upload);
    let log = server.log();
    assert!(log.contains("method=RESPMOD") && log.contains("method=REQMOD"), "{log}");
    assert!(log.contains("TLS client accepted"), "{log}");
}

#[test]
fn bad_input_on_the_tls_port() {
    let dir = tempfile::tempdir().unwrap();
    support::cert_init(dir.path());
    let ca = dir.path().join("ca.crt").display().to_string();
    let (server, tls_port) = start_icaps(dir.path(), &["--client-ca", &ca, "--tls-handshake-timeout", "1"]);
    let tls_addr = ("127.0.0.1", tls_port);

    // Plaintext ICAP on the TLS port: no ICAP answer, the connection is closed.
    let mut s = TcpStream::connect(tls_addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"OPTIONS icap://127.0.0.1/echo ICAP/1.0\r\nHost: x\r\n\r\n").unwrap();
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    assert!(!String::from_utf8_lossy(&answer).contains("ICAP/1.0"), "plaintext gets no ICAP answer");

    // A handshake that never completes is cut off after the handshake timeout.
    let mut idle = TcpStream::connect(tls_addr).unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 64];
    let n = idle.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "closed without data");
    assert!(started.elapsed() < Duration::from_secs(8), "closed by the handshake timeout");

    // A flood of half-started handshakes, bounded: the server survives and still serves.
    let mut flood = Vec::new();
    for i in 0..300 {
        if let Ok(mut s) = TcpStream::connect(tls_addr) {
            // A TLS record header that promises more than follows.
            let _ = s.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, (i % 256) as u8]);
            flood.push(s);
        }
    }
    assert!(flood.len() > 250);
    drop(flood);
    let out = c_icap_client(server.port, &["-s", "echo"]);
    assert!(out.contains("ICAP/1.0 200 OK"), "plain listener still serves after the flood: {out}");
    let (_stunnel, port) = start_stunnel_client(dir.path(), tls_port);
    let out = c_icap_client(port, &["-s", "echo"]);
    assert!(out.contains("ICAP/1.0 200 OK"), "TLS listener still serves after the flood: {out}");
}

#[test]
fn a_half_closed_client_still_gets_its_answer() {
    let server = Dlpgate::start(&[]);
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.write_all(
        b"REQMOD icap://127.0.0.1/echo ICAP/1.0\r\nHost: x\r\nEncapsulated: req-hdr=0, req-body=19\r\n\r\nPOST / HTTP/1.1\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    )
    .unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).unwrap();
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("ICAP/1.0 200 OK") && text.ends_with("5\r\nhello\r\n0\r\n\r\n"), "{text}");
}
