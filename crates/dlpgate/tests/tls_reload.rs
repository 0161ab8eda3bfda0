//! TLS credentials reload when their files change or on SIGHUP, under a bounded load, without
//! cutting live connections; a broken new set is refused and the old one stays.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::{free_port, require, wait_for_port, ChildGuard, Dlpgate};

fn dlpgate_in(dir: &Path, args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_dlpgate")).current_dir(dir).args(args).output().unwrap();
    assert!(out.status.success(), "dlpgate {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// The PEM of the certificate the server presents now.
fn served_cert(port: u16, dir: &Path) -> String {
    let out = Command::new(require("openssl"))
        .current_dir(dir)
        .args([
            "s_client",
            "-connect",
            &format!("127.0.0.1:{port}"),
            "-cert",
            "client.crt",
            "-key",
            "client.key",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let start = text.find("-----BEGIN CERTIFICATE-----").expect("a server certificate");
    let end = text.find("-----END CERTIFICATE-----").unwrap() + "-----END CERTIFICATE-----".len();
    text[start..end].to_string()
}

fn options_on(stream: &mut TcpStream) -> String {
    stream.write_all(b"OPTIONS icap://127.0.0.1/echo ICAP/1.0\r\nHost: x\r\n\r\n").unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "connection closed");
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&got).to_string()
}

#[test]
fn credentials_reload_on_change_and_on_sighup_without_cutting_connections() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    dlpgate_in(d, &["cert", "init", "--dir", ".", "--force"]);
    let tls_port = free_port();
    let path = |f: &str| d.join(f).display().to_string();
    let server = Dlpgate::start(&[
        "--tls-listen",
        &format!("127.0.0.1:{tls_port}"),
        "--cert",
        &path("server.crt"),
        "--key",
        &path("server.key"),
        "--client-ca",
        &path("ca.crt"),
    ]);
    wait_for_port(tls_port, Duration::from_secs(10));

    // A stunnel client keeps one TLS connection per plain connection made to it.
    let stunnel_port = free_port();
    let conf = format!(
        "foreground = yes\npid =\noutput = {d}/stunnel.log\n[c]\nclient = yes\naccept = 127.0.0.1:{stunnel_port}\nconnect = 127.0.0.1:{tls_port}\ncert = {d}/client.crt\nkey = {d}/client.key\nverifyChain = yes\nCAfile = {d}/ca.crt\n",
        d = d.display()
    );
    std::fs::write(d.join("stunnel.conf"), conf).unwrap();
    let _stunnel = ChildGuard::spawn(
        "stunnel",
        Command::new(require("stunnel4"))
            .arg(d.join("stunnel.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    wait_for_port(stunnel_port, Duration::from_secs(10));
    let mut live = TcpStream::connect(("127.0.0.1", stunnel_port)).unwrap();
    live.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    assert!(options_on(&mut live).starts_with("ICAP/1.0 200"));
    let before = served_cert(tls_port, d);

    // Bounded load: new connections through stunnel for the whole test, at most 2,000.
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let load = {
        let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) && n < 2000 {
                n += 1;
                let answer = TcpStream::connect(("127.0.0.1", stunnel_port)).ok().map(|mut s| {
                    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                    options_on(&mut s)
                });
                match answer {
                    Some(a) if a.starts_with("ICAP/1.0 200") => ok.fetch_add(1, Ordering::Relaxed),
                    _ => failed.fetch_add(1, Ordering::Relaxed),
                };
            }
        })
    };

    // 1. A new server certificate from the same CA, renamed into place: reloaded on change.
    dlpgate_in(
        d,
        &[
            "cert",
            "issue",
            "--usage",
            "server",
            "--cn",
            "localhost",
            "--san",
            "localhost,127.0.0.1",
            "--ca-cert",
            "ca.crt",
            "--ca-key",
            "ca.key",
            "--cert",
            "next.crt",
            "--key",
            "next.key",
        ],
    );
    std::fs::rename(d.join("next.key"), d.join("server.key")).unwrap();
    std::fs::rename(d.join("next.crt"), d.join("server.crt")).unwrap();
    server.wait_for_log("changed on disk: reloaded", 1);
    // Writing next.* in the watched directory may already have caused a reload (of the old
    // files): wait, bounded, for the one that serves the new certificate.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut after = served_cert(tls_port, d);
    while after == before && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        after = served_cert(tls_port, d);
    }
    assert_ne!(before, after, "the new certificate is served");
    assert_eq!(after.trim(), std::fs::read_to_string(d.join("server.crt")).unwrap().trim());

    // 2. A broken certificate is refused and the last good one stays.
    std::fs::write(
        d.join("broken.crt"),
        "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    std::fs::rename(d.join("broken.crt"), d.join("server.crt")).unwrap();
    server.wait_for_log("new files are refused", 1);
    assert_eq!(served_cert(tls_port, d), after, "the previous credentials stay in force");

    // 3. SIGHUP reloads too (and refuses the broken file the same way).
    let _ = Command::new("kill").args(["-HUP", &server.guard.pid().to_string()]).status();
    server.wait_for_log("SIGHUP: TLS credentials reload refused", 1);
    std::fs::write(d.join("fixed.crt"), after.as_bytes()).unwrap();
    std::fs::rename(d.join("fixed.crt"), d.join("server.crt")).unwrap();
    server.wait_for_log("changed on disk: reloaded", 2);
    let _ = Command::new("kill").args(["-HUP", &server.guard.pid().to_string()]).status();
    server.wait_for_log("SIGHUP: TLS credentials reloaded", 1);

    stop.store(true, Ordering::Relaxed);
    load.join().unwrap();
    assert!(ok.load(Ordering::Relaxed) >= 10, "the load ran ({} requests)", ok.load(Ordering::Relaxed));
    assert_eq!(failed.load(Ordering::Relaxed), 0, "no request failed across the reloads");
    // The connection opened before all this still works.
    assert!(options_on(&mut live).starts_with("ICAP/1.0 200"), "live connections are not cut");
}
