//! The web console end to end in a real browser: Debian's chromium, headless, driven by
//! Playwright for Python (tests/console_browser.py). A c-icap-client upload causes an
//! incident; the browser logs in, filters to it, opens it, resolves it, tests a file in the
//! policy tester, adds a connector to this server over icaps (its CA uploaded) and runs its
//! connectivity test, then one to a closed port whose test fails at step 1; the dashboard shows
//! the server's request count and a failing SIEM sink's state; a scan job through the icaps
//! connector shows its progress and then the card file blocked with masked evidence.
//! Screenshots of each page go to target/console-screenshots/.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use support::c_icap_client::{blocked, Answer};
use support::{free_port, require, Dlpgate};

const PASSWORD: &str = "correct horse battery staple";

#[test]
fn an_analyst_triages_an_incident_and_tests_a_file_in_a_browser() {
    let chromium = require("chromium");
    let port = free_port();
    let tls_port = free_port();
    let certs = tempfile::tempdir().unwrap();
    support::cert_init(certs.path());
    let cert = |name: &str| certs.path().join(name).display().to_string();
    let connectors = certs.path().join("connectors");
    let siem_url = format!("syslog+tcp://127.0.0.1:{}", free_port());
    let server = Dlpgate::start(&[
        "--console-listen",
        &format!("127.0.0.1:{port}"),
        "--console-connector-dir",
        &connectors.display().to_string(),
        "--cert",
        &cert("server.crt"),
        "--key",
        &cert("server.key"),
        "--tls-listen",
        &format!("127.0.0.1:{tls_port}"),
        "--allow-any-client",
        // A SIEM sink nobody listens on: the dashboard shows its failures and last error.
        "--siem",
        &siem_url,
    ]);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !support::listening(port) {
        assert!(std::time::Instant::now() < deadline, "the console is not listening");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut add = Command::new(env!("CARGO_BIN_EXE_dlpgate"))
        .args(["console", "user", "add", "alice", "--role", "admin", "--data-dir"])
        .arg(server.dir.path().join("data"))
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    add.stdin.take().unwrap().write_all(PASSWORD.as_bytes()).unwrap();
    assert!(add.wait().unwrap().success());

    // The incident: a card number uploaded through the real c-icap-client.
    let file_name = "q3-cards.txt";
    let upload = server.dir.path().join(file_name);
    std::fs::write(&upload, "quarterly numbers\ncard 4111 1111 1111 1111\n").unwrap();
    let out = Command::new(require("c-icap-client"))
        .args(["-i", "127.0.0.1", "-p", &server.port.to_string(), "-v", "-s", "reqmod", "-f"])
        .arg(&upload)
        .args(["-req", &format!("http://upload.test/{file_name}"), "-hx", "Content-Type: text/plain"])
        .output()
        .unwrap();
    let answer = Answer::of(&out);
    assert!(blocked(&answer), "{}", answer.text);
    let incident = answer
        .text
        .lines()
        .find_map(|l| l.trim().strip_prefix("X-Incident-ID: "))
        .expect("the block names its incident")
        .to_string();

    // What the scan job reads: a clean file, a card file, and enough others to watch progress.
    let scan_dir = tempfile::tempdir().unwrap();
    std::fs::write(scan_dir.path().join("clean.txt"), "minutes of the weekly meeting\n").unwrap();
    std::fs::write(scan_dir.path().join("cards.txt"), "card 4111 1111 1111 1111\n").unwrap();
    for n in 0..40 {
        std::fs::write(scan_dir.path().join(format!("notes-{n:02}.txt")), format!("note {n}\n")).unwrap();
    }

    let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/console-screenshots");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/console_browser.py");
    let out = Command::new("python3")
        .arg(script)
        .args([&format!("http://127.0.0.1:{port}"), "alice", PASSWORD, &incident, file_name])
        .arg(&upload)
        .arg(&shots)
        .env("CHROMIUM", chromium)
        .env("ICAPS_URL", format!("icaps://127.0.0.1:{tls_port}/reqmod"))
        .env("CA_FILE", cert("ca.crt"))
        .env("DEAD_URL", format!("icap://127.0.0.1:{}/reqmod", free_port()))
        .env("SIEM_URL", &siem_url)
        .env("SCAN_DIR", scan_dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("No module named 'playwright'"),
        "Playwright for Python is missing: pip install playwright (scripts/test.sh does)"
    );
    assert!(
        out.status.success(),
        "browser test failed:\n{}\n{stderr}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stdout),
        server.log()
    );
}
