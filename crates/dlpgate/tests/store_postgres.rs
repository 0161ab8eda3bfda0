//! The incident tests against a real PostgreSQL server (Debian's package, a temporary cluster
//! on a loopback port): every block leaves an incident; kill -9 right after the block answer
//! loses nothing; no matched value is stored in clear; `incidents list/show/export --store`
//! read it back; a database restart under a running `serve` is survived.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use support::postgres::Postgres;
use support::{free_port, require, Dlpgate};

fn c_icap_reqmod(port: u16, file: &Path, name: &str) -> String {
    let out = Command::new(require("c-icap-client"))
        .args(["-i", "127.0.0.1", "-p", &port.to_string(), "-v", "-s", "reqmod", "-f"])
        .arg(file)
        .args(["-req", &format!("http://upload.test/{name}"), "-hx", "Content-Type: text/plain"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)
}

fn incident_id(answer: &str) -> Option<String> {
    answer.lines().find_map(|l| l.trim().strip_prefix("X-Incident-ID: ")).map(str::to_string)
}

fn dlpgate(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_dlpgate")).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

const CLEAR_VALUES: [&str; 4] = ["4111111111111111", "4111 1111 1111 1111", "078-05-1120", "078051120"];

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_under(&path, out);
        } else if path.is_file() {
            out.push(path);
        }
    }
}

#[test]
fn incidents_in_postgres_are_complete_durable_and_masked() {
    let dir = tempfile::tempdir().unwrap();
    let mut pg = Postgres::start(dir.path());
    let url = pg.url();
    let data = dir.path().join("unused-data");
    let mut server = Dlpgate::start_with_data(&data, &["--store", &url, "--log", "debug"]);

    // Three leaks and one clean upload: three incidents, each named in its block answer.
    let mut ids = Vec::new();
    for (i, text) in [
        "card 4111 1111 1111 1111\n".to_string(),
        "employee ssn 078-05-1120\n".to_string(),
        "card 4111111111111111 and ssn 078-05-1120\n".to_string(),
    ]
    .iter()
    .enumerate()
    {
        let file = dir.path().join(format!("leak{i}.txt"));
        std::fs::write(&file, text).unwrap();
        let answer = c_icap_reqmod(server.port, &file, &format!("leak{i}.txt"));
        assert!(answer.contains("403 Forbidden"), "leak {i} not blocked:\n{answer}");
        ids.push(incident_id(&answer).expect("the block answer names its incident"));
    }
    let clean = dir.path().join("clean.txt");
    std::fs::write(&clean, "minutes of the weekly meeting\n").unwrap();
    let answer = c_icap_reqmod(server.port, &clean, "clean.txt");
    assert!(!answer.contains("403 Forbidden") && incident_id(&answer).is_none(), "{answer}");

    // kill -9 right after the last block answer: it was committed before the answer left.
    server.guard.child.kill().unwrap();
    let _ = server.guard.child.wait();
    let log = server.log();
    assert!(!log.contains("panicked"), "{log}");

    let (ok, listed, err) = dlpgate(&["incidents", "list", "--store", &url]);
    assert!(ok, "{err}");
    assert_eq!(listed.lines().count(), 3, "one line per incident:\n{listed}");
    for id in &ids {
        assert!(listed.contains(id.as_str()), "{id} missing from:\n{listed}");
    }
    let (ok, shown, err) = dlpgate(&["incidents", "show", &ids[2], "--store", &url]);
    assert!(ok, "{err}");
    assert!(shown.contains("credit_card") && shown.contains("leak2.txt"), "{shown}");
    assert!(shown.contains("127.0.0.1"), "the client address is recorded: {shown}");

    let (ok, json, err) = dlpgate(&["incidents", "export", "--format", "json", "--store", &url]);
    assert!(ok, "{err}");
    let exported: Vec<serde_json::Value> =
        json.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    assert_eq!(exported.len(), 3, "one JSON line per incident:\n{json}");
    assert!(exported.iter().all(|i| i["action"] == "block" && i["client_addr"] == "127.0.0.1"), "{json}");
    let (ok, csv, err) = dlpgate(&["incidents", "export", "--format", "csv", "--store", &url]);
    assert!(ok, "{err}");
    assert_eq!(csv.lines().count(), 4, "a header and three rows:\n{csv}");
    let (ok, filtered, err) = dlpgate(&["incidents", "list", "--rule", "us-ssn", "--store", &url]);
    assert!(ok, "{err}");
    assert_eq!(filtered.lines().count(), 2, "two incidents matched an SSN:\n{filtered}");

    // A checkpoint puts everything on disk; then no file of the cluster (tables and WAL), no
    // output and no log holds a matched value in clear.
    let psql = pg.bin.join("psql");
    let out = Command::new(&psql)
        .args(["-h", "127.0.0.1", "-p", &pg.port.to_string(), "-U", "postgres", "-c", "CHECKPOINT"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut files = Vec::new();
    files_under(&pg.data, &mut files);
    for clear in CLEAR_VALUES {
        for text in [&log, &listed, &shown, &json, &csv] {
            assert!(!text.contains(clear), "{clear} in clear in:\n{text}");
        }
        for file in &files {
            let bytes = std::fs::read(file).unwrap_or_default();
            assert!(
                !bytes.windows(clear.len()).any(|w| w == clear.as_bytes()),
                "{} holds {clear}",
                file.display()
            );
        }
    }

    // The database restarts under a running server: the next block is still recorded.
    let mut server = Dlpgate::start_with_data(&data, &["--store", &url]);
    pg.restart();
    let file = dir.path().join("after-restart.txt");
    std::fs::write(&file, "card 5500 0000 0000 0004\n").unwrap();
    let answer = c_icap_reqmod(server.port, &file, "after-restart.txt");
    let id = incident_id(&answer).unwrap_or_else(|| panic!("no incident id:\n{answer}"));
    let (ok, shown, err) = dlpgate(&["incidents", "show", &id, "--store", &url]);
    assert!(ok, "{err}\n{}", server.log());
    assert!(shown.contains("after-restart.txt"), "{shown}");

    // A graceful stop closes the database connection cleanly.
    let status = server.guard.terminate(Duration::from_secs(20)).expect("serve stops on SIGTERM");
    assert!(status.success() && !server.log().contains("panicked"), "{status:?}\n{}", server.log());
}

#[test]
fn an_unreachable_postgres_is_a_clear_start_up_error() {
    let port = free_port();
    let url = format!("postgres://dlp:secret@127.0.0.1:{port}/incidents");
    let out = Command::new(env!("CARGO_BIN_EXE_dlpgate"))
        .args(["serve", "--listen", &format!("127.0.0.1:{}", free_port()), "--store", &url])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("incident store") && err.contains(&format!("127.0.0.1:{port}")), "{err}");
    assert!(!err.contains("secret"), "the password is never printed: {err}");
}
