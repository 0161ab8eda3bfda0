//! `dlpgate bench` against a `dlpgate serve` echo service: every way it sends (the announced
//! preview, no preview, a preview answered with 100 Continue, REQMOD, a connection per request,
//! icaps) completes requests without errors and reports them in its JSON line.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::SocketAddr;
use std::process::Command;

use support::Dlpgate;

/// Runs `dlpgate bench` for one second (after its warm-up second) and gives its JSON line.
fn bench(server: SocketAddr, extra: &[&str]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_dlpgate"))
        .args(["--log", "warn", "bench", "--server", &server.to_string(), "--duration", "1", "--json"])
        .args(["--connections", "2", "--max-requests", "300"])
        .args(extra)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "bench failed: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("not one JSON line ({e}): {stdout}"))
}

fn assert_ran(report: &serde_json::Value) {
    assert!(report["requests"].as_u64().unwrap() > 0, "{report}");
    assert!(report["requests"].as_u64().unwrap() <= 300, "--max-requests holds: {report}");
    assert_eq!(report["errors"], 0, "{report}");
    assert!(report["p50_ms"].as_f64().unwrap() > 0.0, "{report}");
}

#[test]
fn respmod_with_the_announced_preview() {
    let server = Dlpgate::start(&[]);
    let report = bench(server.addr, &["--pid", &server.guard.pid().to_string(), "--label", "announced"]);
    assert_ran(&report);
    assert_eq!(report["label"], "announced");
    assert_eq!(report["method"], "Respmod");
    assert!(report["preview"].as_u64().unwrap() > 0, "echo announces a preview: {report}");
    assert!(report["req_per_cpu_s"].is_number(), "server CPU measured with --pid: {report}");
}

#[test]
fn reqmod_without_preview_and_a_small_preview_answered_with_continue() {
    let server = Dlpgate::start(&[]);
    let report = bench(server.addr, &["--method", "reqmod", "--preview", "0", "--body", "70000"]);
    assert_ran(&report);
    assert_eq!(report["preview"], 0);
    assert!(report["req_per_cpu_s"].is_null(), "{report}");
    let report = bench(server.addr, &["--preview", "16", "--body", "5000"]);
    assert_ran(&report);
    assert_eq!(report["preview"], 16);
}

#[test]
fn a_connection_per_request_and_a_body_from_a_file() {
    let server = Dlpgate::start(&[]);
    let file = server.dir.path().join("body.txt");
    std::fs::write(&file, "4111 1111 1111 1111\n").unwrap();
    let report = bench(server.addr, &["--handshakes", "--body-file", file.to_str().unwrap()]);
    assert_ran(&report);
}

#[test]
fn an_unknown_service_fails_with_its_status() {
    let server = Dlpgate::start(&[]);
    let out = Command::new(env!("CARGO_BIN_EXE_dlpgate"))
        .args(["--log", "warn", "bench", "--server", &server.addr.to_string(), "--service", "nosuch"])
        .args(["--duration", "1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("404"), "{stderr}");
}

#[test]
fn icaps_with_a_client_certificate() {
    let pki = tempfile::tempdir().unwrap();
    support::cert_init(pki.path());
    let file = |name: &str| pki.path().join(name).display().to_string();
    let tls_port = support::free_port();
    let listen = format!("127.0.0.1:{tls_port}");
    let (cert, key, ca) = (file("server.crt"), file("server.key"), file("ca.crt"));
    let _server =
        Dlpgate::start(&["--tls-listen", &listen, "--cert", &cert, "--key", &key, "--client-ca", &ca]);
    support::wait_for_port(tls_port, std::time::Duration::from_secs(10));
    let (client_cert, client_key) = (file("client.crt"), file("client.key"));
    let report =
        bench(listen.parse().unwrap(), &["--tls", "--ca", &ca, "--cert", &client_cert, "--key", &client_key]);
    assert_ran(&report);
}
