//! `policy push` and the nodes that follow the stored versions, against a real PostgreSQL: a
//! bad file is refused with its line and nothing stored; a version written behind the nodes'
//! back without a notification is still picked up by the periodic check; a bad stored version
//! (as another dlpgate version might store) is logged and the policy in force stays, also for
//! a node starting then; SQLite stores get a clear error.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::BufReader;
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::Duration;

use support::load::LEAK;
use support::postgres::Postgres;
use support::{exchange_raw, free_port, http_get, reqmod_to, wait_until, Dlpgate};

/// A policy that blocks a code name and nothing else.
const CODENAME_POLICY: &str = "[policy]\nname = \"codename\"\n\n[[dictionary]]\nname = \"codenames\"\nterms = [\"Bluebird\"]\nconfidence = \"high\"\n\n[[rule]]\nname = \"codename\"\ndetectors = [\"codenames\"]\naction = \"block\"\n";

fn dlpgate(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_dlpgate")).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

fn istag(addr: SocketAddr) -> String {
    let request =
        format!("OPTIONS icap://{addr}/reqmod ICAP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let (answer, _) = exchange_raw(addr, request.as_bytes(), Duration::from_secs(5));
    let text = String::from_utf8_lossy(&answer).to_string();
    text.lines()
        .find_map(|l| l.strip_prefix("ISTag:").map(|v| v.trim().to_string()))
        .unwrap_or_else(|| panic!("no ISTag from {addr}: {text}"))
}

fn blocks(addr: SocketAddr, body: &[u8]) -> bool {
    let mut conn = BufReader::new(TcpStream::connect(addr).unwrap());
    conn.get_ref().set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    reqmod_to(&mut conn, addr.port(), "/upload", body).unwrap().blocked
}

/// Stores a version directly, as another program (or another dlpgate version) might, with
/// no notification.
fn store_behind_the_back(pg: &Postgres, text: &str) {
    let quoted = text.replace('\'', "''");
    pg.psql(&format!(
        "INSERT INTO dlpgate_policy_versions (pushed_ms, pushed_by, name, sha256, policy_text) \
         VALUES (0, 'psql', 'direct', md5('{quoted}'), '{quoted}')"
    ));
}

#[test]
fn pushes_are_validated_followed_by_polling_too_and_bad_stored_versions_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let pg = Postgres::start(dir.path());
    let url = pg.url();

    // A broken file: its line named, nothing stored.
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[policy]\nname = \"x\"\n\n[[rule]]\nname = \"r\"\ndetectors = [\"no_such_detector\"]\n",
    )
    .unwrap();
    let (ok, _, err) = dlpgate(&["policy", "push", "--store", &url, bad.to_str().unwrap()]);
    assert!(!ok && err.contains("line ") && err.contains("nothing stored"), "{err}");
    let (ok, history, err) = dlpgate(&["policy", "history", "--store", &url]);
    assert!(ok, "{err}");
    assert!(history.contains("no policy version stored yet"), "{history}");
    // SQLite has no versions: said plainly.
    let (ok, _, err) = dlpgate(&["policy", "push", "--store", "./data", bad.to_str().unwrap()]);
    assert!(!ok && err.contains("PostgreSQL") && err.contains("--policy FILE"), "{err}");

    // A long interval: only a notification can bring a push in quickly.
    let metrics = free_port();
    let node = Dlpgate::start(&[
        "--store",
        &url,
        "--policy-poll-interval-ms",
        "1500",
        "--metrics-listen",
        &format!("127.0.0.1:{metrics}"),
    ]);
    let builtin = istag(node.addr);
    assert!(blocks(node.addr, LEAK));

    // A version stored without a notification is found by the periodic check.
    store_behind_the_back(&pg, CODENAME_POLICY);
    wait_until(Duration::from_secs(5), "the version stored without a notification in force", || {
        istag(node.addr) != builtin
    });
    let codename = istag(node.addr);
    assert!(!blocks(node.addr, LEAK) && blocks(node.addr, b"the Bluebird plan\n"));
    let scraped = http_get(metrics, "/metrics");
    assert!(scraped.contains("dlpgate_policy_stored_version 1"), "{scraped}");
    // SIGHUP reloads the stored version in force, not the built-in policy.
    let status = Command::new("kill").args(["-HUP", &node.guard.pid().to_string()]).status().unwrap();
    assert!(status.success());
    node.wait_for_log("SIGHUP: policy reloaded", 1);
    assert_eq!(istag(node.addr), codename);

    // A version this dlpgate refuses: logged, and the policy in force stays.
    store_behind_the_back(&pg, "[[rule]]\nname = \"broken\"\ndetectors = [\"from_the_future\"]\n");
    node.wait_for_log("stored policy version refused", 1);
    assert_eq!(istag(node.addr), codename);
    assert!(blocks(node.addr, b"the Bluebird plan\n"));
    // Logged once, not at every check.
    std::thread::sleep(Duration::from_millis(3200));
    assert_eq!(node.log().matches("stored policy version refused").count(), 1, "{}", node.log());

    // A node starting now takes the newest version it accepts. It checks the store only every
    // ten minutes: what it gets sooner came by notification.
    let late = Dlpgate::start(&["--store", &url, "--policy-poll-interval-ms", "600000"]);
    assert!(late.log().contains("stored policy version refused; trying the one before"), "{}", late.log());
    assert_eq!(istag(late.addr), codename);

    // A good push after the bad one is followed again, by notification, by both.
    let file = dir.path().join("default.toml");
    std::fs::write(&file, inspect::DEFAULT_POLICY_TOML).unwrap();
    let (ok, out, err) = dlpgate(&["policy", "push", "--store", &url, "--by", "ann", file.to_str().unwrap()]);
    assert!(ok && out.contains("stored as version 3"), "{out}{err}");
    wait_until(Duration::from_secs(1), "the push in force on both nodes by notification", || {
        istag(node.addr) == builtin && istag(late.addr) == builtin
    });
    assert!(blocks(node.addr, LEAK) && blocks(late.addr, LEAK));
    let (ok, out, _) = dlpgate(&["policy", "push", "--store", &url, file.to_str().unwrap()]);
    assert!(ok && out.contains("unchanged, version 3"), "{out}");
    let (ok, history, _) = dlpgate(&["policy", "history", "--store", &url]);
    assert!(ok);
    let lines: Vec<&str> = history.lines().collect();
    assert_eq!(lines.len(), 4, "a header and three versions:\n{history}");
    assert!(lines[1].trim_start().starts_with("3 ") && lines[1].contains("ann"), "{history}");
    // A version's text, byte for byte, to go back to it.
    let (ok, text, err) = dlpgate(&["policy", "history", "--store", &url, "--text", "1"]);
    assert!(ok && text == CODENAME_POLICY, "{text}{err}");
    let (ok, _, err) = dlpgate(&["policy", "history", "--store", &url, "--text", "9"]);
    assert!(!ok && err.contains("no policy version 9"), "{err}");
}
