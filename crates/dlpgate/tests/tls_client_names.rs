//! How `dlpgate scan` and `dlpgate connector test` trust an `icaps://` server, against real
//! peers (`dlpgate serve` over icaps, `openssl s_server`): the server's name is checked by
//! default and `--server-name` names another; a self-signed server is trusted by its key
//! (`--pin`); a pin ends at its own date, and a pinned certificate minted again with new dates
//! does not outlive its pinned copy.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use support::{free_port, wait_for_port, ChildGuard, Dlpgate};

const CARD: &str = "order 12: card 4111 1111 1111 1111 exp 12/29\n";

fn dlpgate(args: &[&str], cfg: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dlpgate"))
        .args(args)
        .env("DLPGATE_CONFIG_DIR", cfg)
        .env_remove("DLPGATE_LOG")
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)
}

fn ok(out: Output) -> Output {
    assert!(out.status.success(), "{}", text(&out));
    out
}

/// A CA, a server certificate for `icap.example` only (no IP address) and a client
/// certificate, made with `dlpgate cert`.
struct Pki {
    dir: PathBuf,
}

impl Pki {
    fn new(dir: &Path) -> Self {
        let d = dir.join("pki");
        std::fs::create_dir_all(&d).unwrap();
        let p = |f: &str| d.join(f).display().to_string();
        ok(dlpgate(&["cert", "ca", "--cert", &p("ca.crt"), "--key", &p("ca.key")], dir));
        for (cn, usage) in [("icap.example", "server"), ("casb", "client")] {
            let (ca_cert, ca_key) = (p("ca.crt"), p("ca.key"));
            let (cert, key) = (p(&format!("{usage}.crt")), p(&format!("{usage}.key")));
            let mut args = vec!["cert", "issue", "--usage", usage, "--cn", cn, "--ca-cert", &ca_cert];
            args.extend_from_slice(&["--ca-key", &ca_key, "--cert", &cert, "--key", &key]);
            if usage == "server" {
                args.extend_from_slice(&["--san", "icap.example"]);
            }
            ok(dlpgate(&args, dir));
        }
        Self { dir: d }
    }

    fn path(&self, file: &str) -> String {
        self.dir.join(file).display().to_string()
    }

    fn client(&self) -> Vec<String> {
        vec!["--client-cert".into(), self.path("client.crt"), "--client-key".into(), self.path("client.key")]
    }
}

/// `dlpgate serve` on icaps with `cert`/`key`, clients from the PKI's CA.
fn serve_icaps(pki: &Pki, cert: &str, key: &str) -> (Dlpgate, u16) {
    let port = free_port();
    let server = Dlpgate::start(&[
        "--tls-listen",
        &format!("127.0.0.1:{port}"),
        "--cert",
        cert,
        "--key",
        key,
        "--client-ca",
        &pki.path("ca.crt"),
    ]);
    wait_for_port(port, Duration::from_secs(10));
    (server, port)
}

/// `dlpgate scan --json` of one card file through `uri` with `tls` options: (exit code, the
/// file's row, stderr).
fn scan(dir: &Path, uri: &str, tls: &[String]) -> (Option<i32>, serde_json::Value, String) {
    let file = dir.join("card.txt");
    std::fs::write(&file, CARD).unwrap();
    let mut args = vec!["scan".to_string(), "--json".into(), "--server".into(), uri.into()];
    args.extend(tls.iter().cloned());
    args.push(file.display().to_string());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = dlpgate(&args, dir);
    let row = String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .map_or(serde_json::Value::Null, |l| serde_json::from_str(l).unwrap());
    (out.status.code(), row, String::from_utf8_lossy(&out.stderr).into_owned())
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// The SPKI SHA-256 `dlpgate cert show` prints for `cert`.
fn spki(cert: &str, dir: &Path) -> String {
    let out = ok(dlpgate(&["cert", "show", cert], dir));
    let shown = String::from_utf8_lossy(&out.stdout).into_owned();
    let line = shown.lines().find(|l| l.contains("SPKI SHA-256:")).unwrap();
    line.rsplit(' ').next().unwrap().to_string()
}

/// A certificate from the trusted CA for another name (icap.example) does not stand in for
/// the server connected to (127.0.0.1): refused by scan and connector test with both names
/// in the message, accepted with --server-name icap.example.
#[test]
fn the_server_name_is_checked_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pki = Pki::new(d);
    let (_server, port) = serve_icaps(&pki, &pki.path("server.crt"), &pki.path("server.key"));
    let uri = format!("icaps://127.0.0.1:{port}/reqmod");
    let mut tls = strings(&["--trust", &pki.path("ca.crt")]);
    tls.extend(pki.client());

    let (code, row, stderr) = scan(d, &uri, &tls);
    assert_eq!(code, Some(2), "{row} {stderr}");
    assert_eq!(row["verdict"], "error", "{row}");
    let reason = row["reason"].as_str().unwrap();
    assert!(
        reason.contains("not valid for name \"127.0.0.1\"") && reason.contains("icap.example"),
        "the expected and the presented names: {reason}"
    );
    assert!(reason.contains("--server-name"), "{reason}");

    let mut named = tls.clone();
    named.extend(strings(&["--server-name", "icap.example"]));
    let (code, row, stderr) = scan(d, &uri, &named);
    assert_eq!(code, Some(1), "{row} {stderr}");
    assert_eq!(row["verdict"], "block", "{row}");

    // The same through connectors and their connectivity test.
    let cfg = d.join("cfg");
    let add = |name: &str, extra: &[&str]| {
        let mut args = strings(&["connector", "add", name, "--server", &uri, "--profile", "dlpgate"]);
        args.extend(tls.iter().cloned());
        args.extend(strings(extra));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        ok(dlpgate(&args, &cfg));
    };
    add("by-address", &[]);
    add("by-name", &["--server-name", "icap.example"]);
    let out = dlpgate(&["connector", "test", "by-address"], &cfg);
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(2), "{shown}");
    assert!(shown.contains("2. TLS      FAILED  server certificate not trusted"), "{shown}");
    assert!(shown.contains("\"127.0.0.1\"") && shown.contains("icap.example"), "{shown}");
    assert!(shown.contains("the name checked is 127.0.0.1"), "{shown}");
    let out = dlpgate(&["connector", "test", "by-name"], &cfg);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // --server-name on the command line overrides the connector's, for the test and a scan.
    let out = dlpgate(&["connector", "test", "by-address", "--server-name", "icap.example"], &cfg);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let file = d.join("card.txt").display().to_string();
    let out = dlpgate(&["scan", "--connector", "by-address", "--server-name", "icap.example", &file], &cfg);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let out = dlpgate(&["scan", "--connector", "by-name", "--server-name", "other.example", &file], &cfg);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let shown = dlpgate(&["connector", "show", "by-name"], &cfg);
    assert!(text(&shown).contains("server_name = \"icap.example\""), "{}", text(&shown));
}

/// A self-signed server (no CA at all) is trusted by the pin of its key: accepted with the
/// right pin, refused with another; by scan against dlpgate serve, and by connector test
/// against openssl s_server.
#[test]
fn a_self_signed_server_is_trusted_by_its_pin() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pki = Pki::new(d);
    let p = |f: &str| d.join(f).display().to_string();
    for name in ["self", "other"] {
        ok(dlpgate(
            &[
                "cert",
                "new",
                "--cn",
                "dlp-box",
                "--cert",
                &p(&format!("{name}.crt")),
                "--key",
                &p(&format!("{name}.key")),
            ],
            d,
        ));
    }
    let (right, wrong) =
        (format!("sha256:{}", spki(&p("self.crt"), d)), format!("sha256:{}", spki(&p("other.crt"), d)));
    let (_server, port) = serve_icaps(&pki, &p("self.crt"), &p("self.key"));
    let uri = format!("icaps://127.0.0.1:{port}/reqmod");

    let mut tls = strings(&["--pin", &right]);
    tls.extend(pki.client());
    let (code, row, stderr) = scan(d, &uri, &tls);
    assert_eq!(code, Some(1), "{row} {stderr}");
    assert_eq!(row["verdict"], "block");

    let mut tls = strings(&["--pin", &wrong]);
    tls.extend(pki.client());
    let (code, row, stderr) = scan(d, &uri, &tls);
    assert_eq!(code, Some(2), "{row} {stderr}");
    assert!(row["reason"].as_str().unwrap().contains("UnknownIssuer"), "{row}");

    // connector test against openssl s_server serving the self-signed certificate.
    let openssl = support::require("openssl");
    let s_port = free_port();
    let _s_server = ChildGuard::spawn(
        "openssl s_server",
        Command::new(openssl)
            .args(["s_server", "-quiet", "-accept", &format!("127.0.0.1:{s_port}")])
            .args(["-cert", &p("self.crt"), "-key", &p("self.key")])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    wait_for_port(s_port, Duration::from_secs(10));
    let cfg = d.join("cfg");
    let s_uri = format!("icaps://127.0.0.1:{s_port}/reqmod");
    for (name, pin) in [("right", &right), ("wrong", &wrong)] {
        ok(dlpgate(
            &["connector", "add", name, "--server", &s_uri, "--pin", pin, "--read-timeout", "2"],
            &cfg,
        ));
    }
    let out = dlpgate(&["connector", "test", "right"], &cfg);
    let shown = text(&out);
    // TLS passes; s_server speaks no ICAP, so OPTIONS is what fails.
    assert!(
        shown.contains("2. TLS      ok") && shown.contains(&format!("trusted: yes (by pin {right}")),
        "{shown}"
    );
    assert!(shown.contains("3. OPTIONS  FAILED"), "{shown}");
    let out = dlpgate(&["connector", "test", "wrong"], &cfg);
    let shown = text(&out);
    assert!(shown.contains("2. TLS      FAILED  server certificate not trusted"), "{shown}");
    assert!(
        shown.contains(&format!("SPKI SHA-256 (pin):  {}", right.trim_start_matches("sha256:"))),
        "{shown}"
    );
}

/// Writes a PEM certificate for `key` valid between now + the two day offsets.
fn cert_with_dates(key: &rcgen::KeyPair, from_days: i64, to_days: i64, path: &Path) {
    let mut params = rcgen::CertificateParams::new(vec!["dlp-box".to_string()]).unwrap();
    params.distinguished_name.push(rcgen::DnType::CommonName, "dlp-box");
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now + time::Duration::days(from_days);
    params.not_after = now + time::Duration::days(to_days);
    std::fs::write(path, params.self_signed(key).unwrap().pem()).unwrap();
}

/// Pins end at dates dlpgate controls, not at the presented certificate's: an explicit pin
/// past its --pin-not-after is refused although the certificate is valid, and a pinned
/// certificate that expired in the trust file is refused when its key holder presents the
/// same key in a new certificate with fresh dates.
#[test]
fn a_pin_ends_at_its_own_date_not_the_certificates() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pki = Pki::new(d);
    let key = rcgen::KeyPair::generate().unwrap();
    let key_path = d.join("box.key");
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600)).unwrap();
    // The copy the operator pinned a year ago, now expired; and the one the server presents,
    // minted again with the same key and fresh dates.
    cert_with_dates(&key, -400, -1, &d.join("pinned.crt"));
    cert_with_dates(&key, -1, 365, &d.join("re-minted.crt"));
    let (_server, port) =
        serve_icaps(&pki, &d.join("re-minted.crt").display().to_string(), &key_path.display().to_string());
    let uri = format!("icaps://127.0.0.1:{port}/reqmod");
    let pin = format!("sha256:{}", spki(&d.join("re-minted.crt").display().to_string(), d));

    // The pinned copy in the trust file bounds the key, whatever the presented dates say.
    let mut tls = strings(&["--trust", &d.join("pinned.crt").display().to_string()]);
    tls.extend(pki.client());
    let (code, row, stderr) = scan(d, &uri, &tls);
    assert_eq!(code, Some(2), "{row} {stderr}");
    let reason = row["reason"].as_str().unwrap();
    assert!(reason.contains("expired") && reason.contains("trust bundle"), "{reason}");

    // An explicit pin past its own date.
    let mut tls = strings(&["--pin", &pin, "--pin-not-after", "2020-01-01"]);
    tls.extend(pki.client());
    let (code, row, stderr) = scan(d, &uri, &tls);
    assert_eq!(code, Some(2), "{row} {stderr}");
    let reason = row["reason"].as_str().unwrap();
    assert!(reason.contains(&format!("pin {pin} expired")), "{reason}");
    assert!(stderr.contains("EXPIRED"), "a warning at start: {stderr}");

    // The same pin within its date is accepted.
    let mut tls = strings(&["--pin", &pin, "--pin-not-after", "2999-01-01"]);
    tls.extend(pki.client());
    let (code, row, stderr) = scan(d, &uri, &tls);
    assert_eq!(code, Some(1), "{row} {stderr}");
}
