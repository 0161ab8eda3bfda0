//! icaps with real `openssl s_client`: clients with a good, no, wrong and expired certificate
//! are accepted or refused as specified; certificates made exactly by the seed's openssl
//! commands work in pin mode; world-readable keys are refused.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use support::{free_port, openssl, require, ChildGuard};

const OPTIONS: &str =
    "OPTIONS icap://127.0.0.1/echo ICAP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";

/// Runs dlpgate in `dir`, so that file arguments can be relative.
fn dlpgate(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_dlpgate")).current_dir(dir).args(args).output().expect("running dlpgate")
}

struct TlsServer {
    guard: ChildGuard,
    port: u16,
    log: PathBuf,
}

fn start_tls(dir: &Path, extra: &[&str]) -> Result<TlsServer, String> {
    let (plain, port) = (free_port(), free_port());
    let log = dir.join(format!("serve-{port}.log"));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dlpgate"));
    cmd.current_dir(dir)
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{plain}"),
            "--tls-listen",
            &format!("127.0.0.1:{port}"),
        ])
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(&log).unwrap()));
    let mut guard = ChildGuard::spawn("dlpgate serve", &mut cmd);
    for _ in 0..400 {
        if let Ok(Some(_)) = guard.child.try_wait() {
            return Err(std::fs::read_to_string(&log).unwrap_or_default());
        }
        if support::listening(port) {
            return Ok(TlsServer { guard, port, log });
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("icaps listener did not come up");
}

/// Runs `openssl s_client` with an OPTIONS request; true when an ICAP answer came back.
fn s_client(port: u16, dir: &Path, client: Option<(&str, &str)>) -> (bool, String) {
    let mut cmd = Command::new(require("openssl"));
    cmd.current_dir(dir)
        .args(["s_client", "-quiet", "-connect", &format!("127.0.0.1:{port}"), "-CAfile", "ca.crt"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some((cert, key)) = client {
        cmd.args(["-cert", cert, "-key", key]);
    }
    let mut child = cmd.spawn().expect("running openssl s_client");
    child.stdin.take().unwrap().write_all(OPTIONS.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (text.contains("ICAP/1.0 200 OK"), text)
}

#[test]
fn client_certificates_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    support::cert_init(d);
    // A client certificate from another, unknown CA.
    openssl(
        d,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "wrong.key",
            "-out",
            "wrong.crt",
            "-days",
            "30",
            "-subj",
            "/CN=intruder",
        ],
    );
    // An expired one from the right CA.
    let out = dlpgate(
        d,
        &["cert", "issue", "--usage", "client", "--cn", "old", "--days", "0", "--ca-cert", "ca.crt"],
    );
    assert!(!out.status.success(), "incomplete arguments are refused");
    let out = dlpgate(
        d,
        &[
            "cert",
            "issue",
            "--usage",
            "client",
            "--cn",
            "old",
            "--days",
            "0",
            "--ca-cert",
            "ca.crt",
            "--ca-key",
            "ca.key",
            "--cert",
            "short.crt",
            "--key",
            "short.key",
        ],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // That one expires within the second; rather than wait for it, the client below presents
    // one from the same CA whose not-after is already a day past (a v3 client certificate,
    // so that expiry is the only thing wrong with it).
    std::fs::write(
        d.join("client-ext.cnf"),
        "[client]\nbasicConstraints = CA:FALSE\nkeyUsage = digitalSignature\nextendedKeyUsage = clientAuth\n",
    )
    .unwrap();
    openssl(
        d,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "expired.key",
            "-out",
            "expired.csr",
            "-subj",
            "/CN=old",
        ],
    );
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "expired.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-days",
            "-1",
            "-extfile",
            "client-ext.cnf",
            "-extensions",
            "client",
            "-out",
            "expired.crt",
        ],
    );

    let server = start_tls(d, &["--cert", "server.crt", "--key", "server.key", "--client-ca", "ca.crt"])
        .expect("server starts");
    let (ok, text) = s_client(server.port, d, Some(("client.crt", "client.key")));
    assert!(ok, "a client with a certificate from the CA is served:\n{text}");
    let (ok, text) = s_client(server.port, d, None);
    assert!(!ok, "a client without a certificate is refused:\n{text}");
    let (ok, text) = s_client(server.port, d, Some(("wrong.crt", "wrong.key")));
    assert!(!ok, "a client with an unknown certificate is refused:\n{text}");
    let (ok, text) = s_client(server.port, d, Some(("expired.crt", "expired.key")));
    assert!(!ok, "a client with an expired certificate is refused:\n{text}");
    let log = std::fs::read_to_string(&server.log).unwrap();
    assert!(log.matches("TLS handshake failed").count() >= 3, "refusals are logged:\n{log}");
    assert!(log.to_lowercase().contains("expired"), "the expired certificate is refused as expired:\n{log}");
    drop(server.guard);
}

#[test]
fn allow_any_client_is_the_only_way_to_skip_client_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    support::cert_init(d);
    let cert = d.join("server.crt");
    let key = d.join("server.key");
    let err = start_tls(d, &["--cert", cert.to_str().unwrap(), "--key", key.to_str().unwrap()])
        .err()
        .expect("refused");
    assert!(err.contains("--client-ca"), "the error says what to do: {err}");
    let server = start_tls(
        d,
        &["--cert", cert.to_str().unwrap(), "--key", key.to_str().unwrap(), "--allow-any-client"],
    )
    .unwrap();
    let (ok, text) = s_client(server.port, d, None);
    assert!(ok, "--allow-any-client serves clients without a certificate:\n{text}");
}

#[test]
fn the_seeds_openssl_certificates_work_in_pin_mode() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Exactly the seed's steps, for the server (stunnel side) and for the CASB client.
    openssl(d, &["genrsa", "-out", "key.pem", "2048"]);
    openssl(
        d,
        &[
            "req",
            "-new",
            "-x509",
            "-key",
            "key.pem",
            "-out",
            "cert.pem",
            "-days",
            "1095",
            "-subj",
            "/CN=dlp.example",
        ],
    );
    let mut combined = std::fs::read(d.join("key.pem")).unwrap();
    combined.extend(std::fs::read(d.join("cert.pem")).unwrap());
    let stunnel_key = d.join("stunnel-key.pem");
    std::fs::write(&stunnel_key, combined).unwrap();
    std::fs::set_permissions(&stunnel_key, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    openssl(d, &["genrsa", "-out", "casb.key", "2048"]);
    openssl(
        d,
        &[
            "req", "-new", "-x509", "-key", "casb.key", "-out", "casb.crt", "-days", "1095", "-subj",
            "/CN=casb",
        ],
    );
    // s_client trusts the server's own self-signed certificate.
    std::fs::copy(d.join("cert.pem"), d.join("ca.crt")).unwrap();

    let cert = stunnel_key.to_str().unwrap().to_string();
    let pins = d.join("casb.crt").to_str().unwrap().to_string();
    let err =
        start_tls(d, &["--cert", &cert, "--client-ca", &pins]).err().expect("world-readable key refused");
    assert!(err.contains(&format!("chmod 600 {cert}")), "the refusal gives the chmod to run: {err}");

    std::fs::set_permissions(&stunnel_key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    for mode in ["pin", "chain-or-pin"] {
        let server = start_tls(d, &["--cert", &cert, "--client-ca", &pins, "--client-verify", mode]).unwrap();
        let (ok, text) = s_client(server.port, d, Some(("casb.crt", "casb.key")));
        assert!(ok, "the seed's self-signed client certificate is accepted in {mode} mode:\n{text}");
        let (ok, _) = s_client(server.port, d, Some(("cert.pem", "key.pem")));
        assert!(!ok, "another self-signed certificate is refused in {mode} mode");
    }
    // Chain mode cannot accept a CA:TRUE self-signed end entity: that is what pin mode is for.
    let server = start_tls(d, &["--cert", &cert, "--client-ca", &pins, "--client-verify", "chain"]).unwrap();
    let (ok, _) = s_client(server.port, d, Some(("casb.crt", "casb.key")));
    assert!(!ok, "chain mode refuses the self-signed CA:TRUE certificate");

    // A group-readable key (Debian's ssl-cert layout) is accepted with a warning.
    std::fs::set_permissions(&stunnel_key, std::os::unix::fs::PermissionsExt::from_mode(0o640)).unwrap();
    let server = start_tls(d, &["--cert", &cert, "--client-ca", &pins]).unwrap();
    let log = support::wait_for_log(
        || std::fs::read_to_string(&server.log).unwrap_or_default(),
        "readable by its group",
        1,
        Duration::from_secs(10),
    );
    assert!(log.contains("readable by its group"), "{log}");
}
