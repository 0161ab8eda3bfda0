//! `dlpgate connector add|list|show|remove|test` against real servers on loopback: the four
//! steps of the connectivity test, and a clear message for each failure mode.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use support::{black_hole, free_port, wait_for_port, Dlpgate};

fn run(args: &[&str], config_dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dlpgate"))
        .args(args)
        .env("DLPGATE_CONFIG_DIR", config_dir)
        .env_remove("DLPGATE_LOG")
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)
}

fn add(cfg: &Path, args: &[&str]) {
    let mut all = vec!["connector", "add"];
    all.extend_from_slice(args);
    let out = run(&all, cfg);
    assert!(out.status.success(), "{}", text(&out));
}

/// Runs `connector test NAME`: (exit code, output).
fn test(cfg: &Path, name: &str) -> (Option<i32>, String) {
    let out = run(&["connector", "test", name], cfg);
    (out.status.code(), text(&out))
}

/// A listener that accepts connections and never says anything.
fn silent_listener() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    port
}

#[test]
fn add_list_show_remove() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("cfg");
    add(
        &cfg,
        &[
            "IWTM connector",
            "--server",
            "icap://10.0.0.5:1344/reqmod",
            "--server",
            "icap://10.0.0.6:1344/reqmod;weight=3",
        ],
    );
    let out = run(&["connector", "add", "IWTM connector", "--server", "icap://10.0.0.7/reqmod"], &cfg);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("--force"), "{}", text(&out));
    add(
        &cfg,
        &[
            "av",
            "--type",
            "respmod",
            "--server",
            "icap://10.0.0.7/avscan",
            "--failure",
            "fail-open",
            "--profile",
            "symantec",
        ],
    );
    let list = text(&run(&["connector", "list"], &cfg));
    assert!(list.contains("IWTM connector") && list.contains("(weight 3)"), "{list}");
    assert!(
        list.lines().any(|l| l.starts_with("av ")
            && l.contains("RESPMOD")
            && l.contains("symantec")
            && l.contains("fail-open")),
        "{list}"
    );
    let show = text(&run(&["connector", "show", "av"], &cfg));
    assert!(show.contains("type = \"respmod\"") && show.contains("failure = \"fail-open\""), "{show}");
    // icaps needs a trusted certificate.
    let out = run(&["connector", "add", "tls", "--server", "icaps://10.0.0.8/reqmod"], &cfg);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("--trust"), "{}", text(&out));
    assert!(run(&["connector", "remove", "av"], &cfg).status.success());
    let out = run(&["connector", "remove", "av"], &cfg);
    assert_eq!(out.status.code(), Some(2));
    let list = text(&run(&["connector", "list"], &cfg));
    assert!(!list.contains("av "), "{list}");
    let (code, out) = test(&cfg, "nope");
    assert_eq!(code, Some(2));
    assert!(out.contains("no connector \"nope\"") && out.contains("IWTM connector"), "{out}");
    // The file is readable by its owner only.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(cfg.join("connectors.toml")).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "{mode:o}");
}

#[test]
fn connectivity_test_steps_and_failure_messages() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = Command::new(env!("CARGO_BIN_EXE_dlpgate"))
        .current_dir(d)
        .args(["cert", "init", "--dir", "pki"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let other = Command::new(env!("CARGO_BIN_EXE_dlpgate"))
        .current_dir(d)
        .args(["cert", "init", "--dir", "other"])
        .output()
        .unwrap();
    assert!(other.status.success());
    let p = |f: &str| d.join(f).display().to_string();
    let (ca, server_crt, other_ca) = (p("pki/ca.crt"), p("pki/server.crt"), p("other/ca.crt"));
    let tls_port = free_port();
    let server = Dlpgate::start(&[
        "--tls-listen",
        &format!("127.0.0.1:{tls_port}"),
        "--cert",
        &server_crt,
        "--key",
        &p("pki/server.key"),
        "--client-ca",
        &ca,
    ]);
    wait_for_port(tls_port, Duration::from_secs(10));
    let cfg = d.join("cfg");
    let icaps = format!("icaps://127.0.0.1:{tls_port}/reqmod");
    let (client_crt, client_key) = (p("pki/client.crt"), p("pki/client.key"));
    let client = ["--client-cert", client_crt.as_str(), "--client-key", client_key.as_str()];

    // All four steps pass: icaps with a client certificate, trusted by its CA.
    let mut args = vec!["good", "--server", &icaps, "--trust", &ca, "--profile", "dlpgate"];
    args.extend_from_slice(&client);
    add(&cfg, &args);
    let (code, out) = test(&cfg, "good");
    assert_eq!(code, Some(0), "{out}");
    for want in [
        "1. connect  ok",
        "2. TLS      ok",
        "SHA-256 fingerprint: ",
        "trusted: yes",
        "3. OPTIONS  ok      methods REQMOD; preview 32768; ISTag \"dlpgate-",
        "Max-Connections ",
        "clean sample: allow",
        "test card number: block",
        "rules credit-card, incident inc-",
        "result: connector \"good\" works",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
    // Pinned self-signed style: trust the server certificate itself, with a host check.
    let mut args = vec!["pinned", "--server", &icaps, "--trust", &server_crt, "--check-host", "localhost"];
    args.extend_from_slice(&client);
    add(&cfg, &args);
    let (code, out) = test(&cfg, "pinned");
    assert_eq!(code, Some(0), "{out}");

    // Server certificate not trusted: the fingerprint is shown, with what to do.
    let mut args = vec!["untrusted", "--server", &icaps, "--trust", &other_ca];
    args.extend_from_slice(&client);
    add(&cfg, &args);
    let (code, out) = test(&cfg, "untrusted");
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("2. TLS      FAILED  server certificate not trusted"), "{out}");
    assert!(
        out.contains("--trust") && out.contains("SHA-256 fingerprint: ") && out.contains("trusted: NO"),
        "{out}"
    );
    // Host check failed.
    let mut args = vec!["wrongname", "--server", &icaps, "--trust", &ca, "--check-host", "dlp.example.com"];
    args.extend_from_slice(&client);
    add(&cfg, &args);
    let (code, out) = test(&cfg, "wrongname");
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("server certificate not trusted") && out.contains("NotValidForName"), "{out}");

    // Client certificate refused: none presented, and one from another CA.
    add(&cfg, &["nocert", "--server", &icaps, "--trust", &ca]);
    let (code, out) = test(&cfg, "nocert");
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("2. TLS      FAILED  client certificate refused by the server"), "{out}");
    assert!(out.contains("--client-cert") && out.contains("--client-ca"), "{out}");
    add(
        &cfg,
        &[
            "othercert",
            "--server",
            &icaps,
            "--trust",
            &ca,
            "--client-cert",
            &p("other/client.crt"),
            "--client-key",
            &p("other/client.key"),
        ],
    );
    let (code, out) = test(&cfg, "othercert");
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("client certificate refused by the server"), "{out}");

    // Connection refused.
    let closed = free_port();
    add(&cfg, &["refused", "--server", &format!("icap://127.0.0.1:{closed}/reqmod")]);
    let (code, out) = test(&cfg, "refused");
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains(&format!("1. connect  FAILED  connection refused by 127.0.0.1:{closed}")), "{out}");
    assert!(out.contains("what to do: start the ICAP server"), "{out}");

    // Timed out: a port that accepts and never answers (plain: OPTIONS; icaps: the handshake).
    let silent = silent_listener();
    let silent_icaps = format!("icaps://127.0.0.1:{silent}/reqmod");
    add(&cfg, &["silent", "--server", &format!("icap://127.0.0.1:{silent}/reqmod"), "--read-timeout", "1"]);
    let (code, out) = test(&cfg, "silent");
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("3. OPTIONS  FAILED  timed out"), "{out}");
    let mut args = vec!["silent-tls", "--server", &silent_icaps, "--trust", &ca];
    args.extend_from_slice(&["--connect-timeout", "1"]);
    add(&cfg, &args);
    let (code, out) = test(&cfg, "silent-tls");
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("2. TLS      FAILED  TLS handshake timed out"), "{out}");

    // Connect timed out: the SYN is dropped.
    let (hole, _socket, _filler) = black_hole();
    add(&cfg, &["dropped", "--server", &format!("icap://127.0.0.1:{hole}/reqmod"), "--connect-timeout", "1"]);
    let (code, out) = test(&cfg, "dropped");
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains(&format!("1. connect  FAILED  timed out: no answer from 127.0.0.1:{hole} within 1s")),
        "{out}"
    );
    assert!(out.contains(&format!("iptables -I INPUT -p tcp --dport {hole} -j ACCEPT")), "{out}");

    // Service not found.
    add(&cfg, &["nosvc", "--server", &format!("icap://127.0.0.1:{}/no-such-service", server.port)]);
    let (code, out) = test(&cfg, "nosvc");
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("3. OPTIONS  FAILED  service not found"), "{out}");
    assert!(out.contains("what to do: fix the service path"), "{out}");

    // A connector with two servers, one down: each server is tested, the result fails.
    add(
        &cfg,
        &[
            "pair",
            "--server",
            &format!("icap://127.0.0.1:{}/reqmod", server.port),
            "--server",
            &format!("icap://127.0.0.1:{closed}/reqmod"),
        ],
    );
    let (code, out) = test(&cfg, "pair");
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("clean sample: allow") && out.contains("connection refused"), "{out}");
}

/// `--sni` reaches a real TLS peer: `openssl s_server` serves one certificate by default and
/// another to clients that name `icap.example`, so only the right SNI gets the trusted one.
#[test]
fn sni_selects_the_server_certificate() {
    let openssl = support::require("openssl");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for pki in ["pki", "other"] {
        // The certificate served to clients that name icap.example carries that name: the
        // client checks the name it sends.
        let san: &[&str] = if pki == "pki" { &["--san", "icap.example"] } else { &[] };
        let out = Command::new(env!("CARGO_BIN_EXE_dlpgate"))
            .current_dir(d)
            .args(["cert", "init", "--dir", pki])
            .args(san)
            .output()
            .unwrap();
        assert!(out.status.success());
    }
    let p = |f: &str| d.join(f).display().to_string();
    let port = free_port();
    let _server = support::ChildGuard::spawn(
        "openssl s_server",
        Command::new(openssl)
            .args(["s_server", "-quiet", "-accept", &format!("127.0.0.1:{port}")])
            .args(["-cert", &p("other/server.crt"), "-key", &p("other/server.key")])
            .args(["-servername", "icap.example"])
            .args(["-cert2", &p("pki/server.crt"), "-key2", &p("pki/server.key")])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null()),
    );
    wait_for_port(port, Duration::from_secs(10));
    let cfg = d.join("cfg");
    let server = format!("icaps://127.0.0.1:{port}/reqmod");
    let ca = p("pki/ca.crt");
    add(
        &cfg,
        &["named", "--server", &server, "--trust", &ca, "--sni", "icap.example", "--read-timeout", "2"],
    );
    add(&cfg, &["unnamed", "--server", &server, "--trust", &ca, "--read-timeout", "2"]);

    // The right name: the certificate from our CA, trusted; the peer is no ICAP server, so the
    // OPTIONS step is what fails.
    let (code, out) = test(&cfg, "named");
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("2. TLS      ok") && out.contains("SNI icap.example"), "{out}");
    assert!(out.contains("trusted: yes") && out.contains("3. OPTIONS  FAILED"), "{out}");

    // No name (an IP address is never sent as SNI): the default certificate, from another CA.
    let (code, out) = test(&cfg, "unnamed");
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("2. TLS      FAILED  server certificate not trusted"), "{out}");
    assert!(out.contains("trusted: NO"), "{out}");
}
