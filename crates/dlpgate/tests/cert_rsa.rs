//! `dlpgate cert --key-type rsa2048|rsa3072`: the keys (made by AWS-LC, signed with by ring)
//! are RSA keys of the asked size that openssl checks, the certificates are signed with
//! SHA-256 RSA and chain to the CA, and a whole icaps handshake with openssl s_client works
//! with them on both sides.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use support::{free_port, openssl, require, ChildGuard};

fn dlpgate(dir: &Path, args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_dlpgate")).current_dir(dir).args(args).output().unwrap();
    assert!(out.status.success(), "dlpgate {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn check_key(dir: &Path, key: &str, cert: &str, bits: u32) {
    let text = openssl(dir, &["rsa", "-in", key, "-check", "-noout"]);
    assert!(text.contains("RSA key ok"), "{key}: {text}");
    let text = openssl(dir, &["x509", "-in", cert, "-noout", "-text"]);
    assert!(text.contains(&format!("Public-Key: ({bits} bit)")), "{cert}: {text}");
    assert!(text.contains("sha256WithRSAEncryption"), "{cert}: {text}");
    // The certificate carries the key's public half.
    let from_key = openssl(dir, &["pkey", "-in", key, "-pubout"]);
    let from_cert = openssl(dir, &["x509", "-in", cert, "-noout", "-pubkey"]);
    assert_eq!(from_key, from_cert, "{cert} does not hold the public key of {key}");
}

#[test]
fn rsa_pki_is_accepted_by_openssl_and_serves_icaps() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    dlpgate(d, &["cert", "init", "--dir", ".", "--key-type", "rsa2048", "--force"]);
    for name in ["ca", "server", "client"] {
        check_key(d, &format!("{name}.key"), &format!("{name}.crt"), 2048);
    }
    let text = openssl(d, &["verify", "-CAfile", "ca.crt", "server.crt", "client.crt"]);
    assert!(text.contains("server.crt: OK") && text.contains("client.crt: OK"), "{text}");

    dlpgate(
        d,
        &["cert", "new", "--cn", "big", "--key-type", "rsa3072", "--cert", "big.crt", "--key", "big.key"],
    );
    check_key(d, "big.key", "big.crt", 3072);

    // ring signs the handshake with the server's RSA key; the client proves its own.
    let (plain, port) = (free_port(), free_port());
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dlpgate"));
    cmd.current_dir(d)
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{plain}"),
            "--tls-listen",
            &format!("127.0.0.1:{port}"),
        ])
        .args(["--cert", "server.crt", "--key", "server.key", "--client-ca", "ca.crt", "--data-dir", "data"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut server = ChildGuard::spawn("dlpgate serve", &mut cmd);
    for _ in 0..400 {
        if support::listening(port) {
            break;
        }
        assert!(server.child.try_wait().unwrap().is_none(), "dlpgate serve exited");
        std::thread::sleep(Duration::from_millis(25));
    }
    let mut client = Command::new(require("openssl"))
        .current_dir(d)
        .args(["s_client", "-quiet", "-connect", &format!("127.0.0.1:{port}"), "-CAfile", "ca.crt"])
        .args(["-cert", "client.crt", "-key", "client.key", "-verify_return_error"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    client
        .stdin
        .take()
        .unwrap()
        .write_all(b"OPTIONS icap://127.0.0.1/echo ICAP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .unwrap();
    let out = client.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("ICAP/1.0 200 OK"), "{text}");
    server.terminate(Duration::from_secs(5));
}
