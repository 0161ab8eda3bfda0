//! `dlpgate scan` against real peers on loopback: dlpgate serve (plain and icaps with client
//! certificates), c-icap with srv_echo (allows everything), c-icap with srv_content_filtering
//! (a third-party server that blocks a word, or answers a modified 200 as Symantec DLP does);
//! load balancing and failover (a dead server, a busy one answering 503); fail-closed and
//! fail-open; quarantine; resume after a crash.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use support::{black_hole, free_port, start_c_icap, wait_for_port, ChildGuard, Dlpgate};

const CARD: &str = "order 12: card 4111 1111 1111 1111 exp 12/29\n";

fn dlpgate() -> Command {
    Command::new(env!("CARGO_BIN_EXE_dlpgate"))
}

fn run(args: &[&str], config_dir: &Path) -> Output {
    dlpgate().args(args).env("DLPGATE_CONFIG_DIR", config_dir).env_remove("DLPGATE_LOG").output().unwrap()
}

/// JSON Lines of a scan, keyed by file name (the last path component).
fn records(stdout: &[u8]) -> BTreeMap<String, serde_json::Value> {
    let mut out = BTreeMap::new();
    for line in String::from_utf8_lossy(stdout).lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        let name = Path::new(v["path"].as_str().unwrap()).file_name().unwrap().to_string_lossy().to_string();
        assert!(out.insert(name.clone(), v).is_none(), "{name} has two verdicts");
    }
    out
}

fn verdicts(stdout: &[u8]) -> BTreeMap<String, String> {
    records(stdout).into_iter().map(|(k, v)| (k, v["verdict"].as_str().unwrap().to_string())).collect()
}

/// clean.txt, card.txt and a binary file.
fn small_tree(dir: &Path) -> PathBuf {
    let tree = dir.join("tree");
    std::fs::create_dir_all(tree.join("sub")).unwrap();
    std::fs::write(tree.join("clean.txt"), "quarterly notes, nothing sensitive\n").unwrap();
    std::fs::write(tree.join("sub/card.txt"), CARD).unwrap();
    std::fs::write(tree.join("sub/noise.bin"), support::pseudo_random(200_000, 7)).unwrap();
    tree
}

fn expect(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

fn pki(dir: &Path) {
    let out = dlpgate().current_dir(dir).args(["cert", "init", "--dir", "pki"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn dlpgate_serve_plain_and_icaps_with_client_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let tree = small_tree(dir.path());
    pki(dir.path());
    let p = |f: &str| dir.path().join("pki").join(f).display().to_string();
    let tls_port = free_port();
    let server = Dlpgate::start(&[
        "--tls-listen",
        &format!("127.0.0.1:{tls_port}"),
        "--cert",
        &p("server.crt"),
        "--key",
        &p("server.key"),
        "--client-ca",
        &p("ca.crt"),
    ]);
    wait_for_port(tls_port, Duration::from_secs(10));
    let cfg = dir.path().join("cfg");
    let tree_s = tree.display().to_string();

    // Plain ICAP, REQMOD and RESPMOD, with --server.
    for service in ["reqmod", "respmod"] {
        let uri = format!("icap://127.0.0.1:{}/{service}", server.port);
        let out = run(&["scan", "--json", "--server", &uri, &tree_s], &cfg);
        assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(
            verdicts(&out.stdout),
            expect(&[("card.txt", "block"), ("clean.txt", "allow"), ("noise.bin", "allow")])
        );
        let recs = records(&out.stdout);
        assert_eq!(recs["card.txt"]["rules"], serde_json::json!(["credit-card"]));
        assert!(recs["card.txt"]["incident_id"].as_str().unwrap().starts_with("inc-"));
        assert_eq!(recs["noise.bin"]["size"], 200_000);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let method = service.to_uppercase();
        assert!(stderr.contains(&format!("{method} by")), "method announced by OPTIONS: {stderr}");
        // Off a terminal there is no progress bar: the summary only.
        assert!(!stderr.contains("ETA") && stderr.lines().count() <= 3, "{stderr}");
    }

    // icaps with a client certificate, through a connector with the dlpgate profile.
    let uri = format!("icaps://127.0.0.1:{tls_port}/reqmod");
    let add = run(
        &[
            "connector",
            "add",
            "dlp",
            "--server",
            &uri,
            "--trust",
            &p("ca.crt"),
            "--client-cert",
            &p("client.crt"),
            "--client-key",
            &p("client.key"),
            "--profile",
            "dlpgate",
        ],
        &cfg,
    );
    assert!(add.status.success(), "{}", String::from_utf8_lossy(&add.stderr));
    let out = run(&["scan", "--json", "--connector", "dlp", &tree_s], &cfg);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        verdicts(&out.stdout),
        expect(&[("card.txt", "block"), ("clean.txt", "allow"), ("noise.bin", "allow")])
    );
    let recs = records(&out.stdout);
    assert!(recs["card.txt"]["server"].as_str().unwrap().starts_with("icaps://"));
    // sha256 is the file's.
    assert_eq!(recs["card.txt"]["sha256"].as_str().unwrap(), sha256_hex(CARD.as_bytes()));

    // The same icaps server without a client certificate: no verdict, fail-closed, exit 2.
    let out = run(&["scan", "--json", "--server", &uri, "--trust", &p("ca.crt"), &tree_s], &cfg);
    assert_eq!(out.status.code(), Some(2));
    let recs = records(&out.stdout);
    assert_eq!(recs.len(), 3);
    for r in recs.values() {
        assert_eq!(r["verdict"], "error");
        assert_eq!(r["action"], "block");
    }
    drop(server);
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

#[test]
fn c_icap_echo_allows_everything() {
    let dir = tempfile::tempdir().unwrap();
    let tree = small_tree(dir.path());
    let (_c_icap, port) = start_c_icap(dir.path());
    // srv_echo alternates 200 echoes and 204: both are "allow".
    for method in ["reqmod", "respmod"] {
        let out = run(
            &[
                "scan",
                "--json",
                "--method",
                method,
                "--server",
                &format!("icap://127.0.0.1:{port}/echo"),
                &tree.display().to_string(),
            ],
            dir.path(),
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        assert_eq!(
            verdicts(&out.stdout),
            expect(&[("card.txt", "allow"), ("clean.txt", "allow"), ("noise.bin", "allow")])
        );
        // c-icap announces no X-Pipeline-Depth: files go one by one (its Pipelining breaks
        // past its read buffer, see docs/CASB.md).
        assert!(!stderr.contains("pipelined"), "{stderr}");
    }
    // The same with multipart uploads.
    let out = run(
        &[
            "scan",
            "--json",
            "--multipart",
            "--server",
            &format!("icap://127.0.0.1:{port}/echo"),
            &tree.display().to_string(),
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}

/// c-icap with the content filtering module, blocking bodies that hold TOPSECRET or the test
/// card number (it inspects text content types only, as its documentation says).
fn start_c_icap_filter(dir: &Path) -> (ChildGuard, u16) {
    assert!(
        support::c_icap_modules().join("srv_content_filtering.so").exists(),
        "libc-icap-mod-contentfiltering is not installed"
    );
    support::start_c_icap_with(
        dir,
        "c-icap-cf",
        "Service content_filter srv_content_filtering.so
srv_content_filtering.Match Secret body /(TOPSECRET|4111.?1111.?1111.?1111)/i score=10
srv_content_filtering.Action block score{Secret>5}
",
    )
}

#[test]
fn c_icap_content_filtering_blocks_a_word() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(&tree).unwrap();
    std::fs::write(tree.join("memo.txt"), "the plan is TOPSECRET, keep it\n").unwrap();
    std::fs::write(tree.join("card.csv"), CARD).unwrap();
    std::fs::write(tree.join("lunch.txt"), "lunch at noon\n").unwrap();
    let (_c_icap, port) = start_c_icap_filter(dir.path());
    let uri = format!("icap://127.0.0.1:{port}/content_filter");
    for method in ["respmod", "reqmod"] {
        let out = run(
            &["scan", "--json", "--method", method, "--server", &uri, &tree.display().to_string()],
            dir.path(),
        );
        assert_eq!(out.status.code(), Some(1), "{method}: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(
            verdicts(&out.stdout),
            expect(&[("card.csv", "block"), ("lunch.txt", "allow"), ("memo.txt", "block")]),
            "{method}"
        );
        let recs = records(&out.stdout);
        // Its reason header (X-Response-Desc) names the filter and the score.
        assert!(recs["memo.txt"]["reason"].as_str().unwrap().contains("Secret"), "{}", recs["memo.txt"]);
    }
    // Through a connector with the generic profile, in the table output.
    let add = run(&["connector", "add", "cf", "--type", "respmod", "--server", &uri], dir.path());
    assert!(add.status.success());
    let out = run(&["scan", "--connector", "cf", &tree.display().to_string()], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.lines().any(|l| l.starts_with("block") && l.contains("memo.txt")), "{table}");
    assert!(table.lines().any(|l| l.starts_with("allow") && l.contains("lunch.txt")), "{table}");
}

fn many_files(dir: &Path, n: usize) -> PathBuf {
    let tree = dir.join("many");
    for i in 0..n {
        let sub = tree.join(format!("d{}", i % 10));
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join(format!("f{i:04}.txt")), format!("file {i} with nothing sensitive\n"))
            .unwrap();
    }
    tree
}

/// Starts a scan with stdout piped: the test reads JSON lines at its own pace (the pipe holds
/// a few hundred lines, so an unread scan waits).
fn spawn_scan(args: &[&str], config_dir: &Path) -> ChildGuard {
    let mut cmd = dlpgate();
    cmd.args(args).env("DLPGATE_CONFIG_DIR", config_dir).stdout(Stdio::piped()).stderr(Stdio::piped());
    ChildGuard::spawn("dlpgate scan", &mut cmd)
}

#[test]
fn balances_and_fails_over_when_a_server_dies() {
    let dir = tempfile::tempdir().unwrap();
    const N: usize = 1500;
    let tree = many_files(dir.path(), N);
    let a = Dlpgate::start(&[]);
    let mut b = Dlpgate::start(&[]);
    let ua = format!("icap://127.0.0.1:{}/reqmod", a.port);
    let ub = format!("icap://127.0.0.1:{}/reqmod", b.port);
    let mut scan = spawn_scan(
        &["scan", "--json", "--parallel", "2", "--server", &ua, "--server", &ub, &tree.display().to_string()],
        dir.path(),
    );
    let stdout = scan.child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut seen: HashMap<String, serde_json::Value> = HashMap::new();
    let mut by_server_before: HashMap<String, usize> = HashMap::new();
    for _ in 0..100 {
        let v: serde_json::Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
        *by_server_before.entry(v["server"].as_str().unwrap_or("-").to_string()).or_default() += 1;
        seen.insert(v["path"].as_str().unwrap().to_string(), v);
    }
    // Both servers receive work (equal weights: about half each).
    assert!(by_server_before.get(&ua).copied().unwrap_or(0) >= 30, "{by_server_before:?}");
    assert!(by_server_before.get(&ub).copied().unwrap_or(0) >= 30, "{by_server_before:?}");
    // Kill B mid-scan.
    let _ = b.guard.child.kill();
    let _ = b.guard.child.wait();
    let mut after: Vec<serde_json::Value> = Vec::new();
    for line in lines {
        let v: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        let path = v["path"].as_str().unwrap().to_string();
        assert!(seen.insert(path.clone(), v.clone()).is_none(), "{path} judged twice");
        after.push(v);
    }
    let status = scan.child.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(scan.child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    // Every file has exactly one verdict, and it is a real one: the failover worked.
    assert_eq!(seen.len(), N, "{stderr}");
    for (path, v) in &seen {
        assert_eq!(v["verdict"], "allow", "{path}: {v}");
    }
    assert_eq!(status.code(), Some(0), "{stderr}");
    // The last files all went to A.
    assert!(after.len() > 500, "the scan was still running when B died ({} left)", after.len());
    for v in &after[after.len() - 300..] {
        assert_eq!(v["server"].as_str().unwrap(), ua);
    }
    let failovers: u64 = stderr
        .split("failovers: ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no failover count: {stderr}"));
    assert!(failovers >= 1, "{stderr}");
    drop(a);
}

#[test]
fn both_servers_down_fail_closed_and_fail_open() {
    let dir = tempfile::tempdir().unwrap();
    let tree = small_tree(dir.path());
    let quarantine = dir.path().join("quarantine");
    let (p1, p2) = (free_port(), free_port());
    let cfg = dir.path().join("cfg");
    for (name, failure) in [("closed", "fail-closed"), ("open", "fail-open")] {
        let add = run(
            &[
                "connector",
                "add",
                name,
                "--server",
                &format!("icap://127.0.0.1:{p1}/reqmod"),
                "--server",
                &format!("icap://127.0.0.1:{p2}/reqmod;weight=2"),
                "--failure",
                failure,
            ],
            &cfg,
        );
        assert!(add.status.success(), "{}", String::from_utf8_lossy(&add.stderr));
    }
    for (name, action) in [("closed", "block"), ("open", "allow")] {
        let report = dir.path().join(format!("report-{name}.jsonl"));
        let out = run(
            &[
                "scan",
                "--json",
                "--connector",
                name,
                "--quarantine",
                &quarantine.display().to_string(),
                "--report",
                &report.display().to_string(),
                &tree.display().to_string(),
            ],
            &cfg,
        );
        assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
        let recs = records(&out.stdout);
        assert_eq!(recs.len(), 3);
        for r in recs.values() {
            assert_eq!(r["verdict"], "error", "{r}");
            assert_eq!(r["action"], action, "{r}");
            let reason = r["reason"].as_str().unwrap();
            assert!(reason.contains("no server could judge it"), "{reason}");
            assert!(reason.contains(&format!("{p1}/reqmod: connection refused")), "{reason}");
            assert!(reason.contains(&format!("{p2}/reqmod: connection refused")), "{reason}");
        }
        let text = std::fs::read_to_string(&report).unwrap();
        assert!(text.contains("connection refused"), "{text}");
        let summary: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
        assert_eq!(summary["summary"]["error"], 3);
        assert_eq!(summary["summary"]["exit_code"], 2);
        let lines = summary["summary"]["lines"].to_string();
        assert!(lines.contains(&format!("fail-{name} applies, their action is {action}")), "{lines}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("3 file(s) have no verdict"), "{stderr}");
    }
    // Files without a verdict are never quarantined.
    assert!(!quarantine.exists() || std::fs::read_dir(&quarantine).unwrap().next().is_none());
    assert!(tree.join("sub/card.txt").exists());
}

#[test]
fn quarantine_moves_only_blocked_files() {
    let dir = tempfile::tempdir().unwrap();
    let tree = small_tree(dir.path());
    std::fs::create_dir_all(tree.join("deep/er")).unwrap();
    std::fs::write(tree.join("deep/er/card2.txt"), CARD).unwrap();
    let quarantine = dir.path().join("quarantine");
    let server = Dlpgate::start(&[]);
    let report = dir.path().join("report.txt");
    let state = dir.path().join("state");
    let out = run(
        &[
            "scan",
            "--state",
            &state.display().to_string(),
            "--server",
            &format!("icap://127.0.0.1:{}/reqmod", server.port),
            "--quarantine",
            &quarantine.display().to_string(),
            "--report",
            &report.display().to_string(),
            &tree.display().to_string(),
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    // Blocked files moved, with their relative path, and a note left in their place.
    assert_eq!(std::fs::read_to_string(quarantine.join("sub/card.txt")).unwrap(), CARD);
    assert_eq!(std::fs::read_to_string(quarantine.join("deep/er/card2.txt")).unwrap(), CARD);
    assert!(!tree.join("sub/card.txt").exists());
    let note = std::fs::read_to_string(tree.join("sub/card.txt.quarantined.txt")).unwrap();
    assert!(note.contains("credit-card") && note.contains("incident: inc-"), "{note}");
    assert!(note.contains(&quarantine.join("sub/card.txt").display().to_string()), "{note}");
    // Allowed files untouched.
    assert!(tree.join("clean.txt").exists() && tree.join("sub/noise.bin").exists());
    let files: Vec<_> = walk(&quarantine);
    assert_eq!(files.len(), 2, "{files:?}");
    // The table report names where they went.
    let text = std::fs::read_to_string(&report).unwrap();
    assert!(text.contains("quarantined to"), "{text}");
    assert!(text.contains("# scanned 4 files"), "{text}");

    // Resumed from the state file: the quarantined files are still reported, once each.
    let out = run(
        &[
            "scan",
            "--json",
            "--state",
            &state.display().to_string(),
            "--server",
            &format!("icap://127.0.0.1:{}/reqmod", server.port),
            &tree.display().to_string(),
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let recs = records(&out.stdout);
    assert_eq!(recs["card.txt"]["resumed"], true);
    assert_eq!(recs["card2.txt"]["verdict"], "block");
    assert!(recs["card2.txt"]["quarantined_to"].as_str().unwrap().ends_with("deep/er/card2.txt"));
    assert_eq!(recs["clean.txt"]["resumed"], true);
    // The tombstone notes are new files: scanned, allowed.
    assert_eq!(recs["card.txt.quarantined.txt"]["verdict"], "allow");
    assert!(recs["card.txt.quarantined.txt"].get("resumed").is_none());
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn an_interrupted_scan_resumes_where_it_stopped() {
    let dir = tempfile::tempdir().unwrap();
    const N: usize = 1200;
    let tree = many_files(dir.path(), N);
    std::fs::write(tree.join("d0/card.txt"), CARD).unwrap();
    let server = Dlpgate::start(&[]);
    let uri = format!("icap://127.0.0.1:{}/reqmod", server.port);
    let state = dir.path().join("scan.state");
    let state_s = state.display().to_string();
    let tree_s = tree.display().to_string();
    let args = ["scan", "--json", "--parallel", "2", "--state", &state_s, "--server", &uri, &tree_s];

    // First run: killed (SIGKILL, no chance to clean up) after 150 files.
    let mut first = spawn_scan(&args, dir.path());
    let stdout = first.child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut done_first = Vec::new();
    for _ in 0..150 {
        let v: serde_json::Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
        // Only real verdicts go to the state file; an error here would be another failure.
        assert_ne!(v["verdict"], "error", "the first run could not judge a file: {v}");
        done_first.push(v["path"].as_str().unwrap().to_string());
    }
    let _ = first.child.kill();
    let _ = first.child.wait();
    drop(lines);
    let recorded = std::fs::read_to_string(&state).unwrap_or_default();
    assert!(
        recorded.lines().count() >= 150,
        "the state file holds {} lines after 150 rows:\n{}",
        recorded.lines().count(),
        recorded.lines().take(3).collect::<Vec<_>>().join("\n")
    );

    // Second run: the files judged before come from the state file, the rest are scanned.
    let out = run(&args, dir.path());
    let recs: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(recs.len(), N + 1, "{}", String::from_utf8_lossy(&out.stderr));
    let mut paths = std::collections::HashSet::new();
    for r in &recs {
        assert!(paths.insert(r["path"].as_str().unwrap().to_string()), "twice: {r}");
    }
    let resumed: Vec<&serde_json::Value> = recs.iter().filter(|r| r["resumed"] == true).collect();
    let scanned = recs.len() - resumed.len();
    assert!(
        resumed.len() >= 150,
        "resumed {}; first record of the second run: {}; state file: {} lines, first: {}",
        resumed.len(),
        recs[0],
        recorded.lines().count(),
        recorded.lines().next().unwrap_or_default()
    );
    assert!(scanned < N, "everything was scanned again");
    for p in &done_first {
        assert!(resumed.iter().any(|r| r["path"] == p.as_str()), "{p} was scanned again");
    }
    // The card file was blocked in one of the runs; the exit code says so either way.
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("taken from the state file"), "{stderr}");

    // Third run: everything comes from the state file; nothing is sent.
    let out = run(&args, dir.path());
    let recs: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(recs.len(), N + 1);
    assert!(recs.iter().all(|r| r["resumed"] == true));
    // A changed file is scanned again.
    std::fs::write(tree.join("d1/f0001.txt"), "changed, longer than before\n").unwrap();
    let out = run(&args, dir.path());
    let recs: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let fresh: Vec<_> = recs.iter().filter(|r| r["resumed"] != true).collect();
    assert_eq!(fresh.len(), 1, "{fresh:?}");
    assert!(fresh[0]["path"].as_str().unwrap().ends_with("d1/f0001.txt"));
}

#[test]
fn sha256_of_a_file_whose_preview_was_enough() {
    // The server answers 204 to a preview when no rule applies (an exempt file type never
    // ends a scan at the preview: its whole structure must validate): the client sent only the
    // preview, and the file's hash must still be the whole file's.
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        "[policy]\nname = \"t\"\n\n[[rule]]\nname = \"credit-card\"\nscope = \"respmod\"\n\
         detectors = [\"credit_card\"]\nseverity = \"high\"\naction = \"block\"\n",
    )
    .unwrap();
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(&tree).unwrap();
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    png.extend(support::pseudo_random(300_000, 3));
    png.extend_from_slice(CARD.as_bytes());
    std::fs::write(tree.join("photo.png"), &png).unwrap();
    let server = Dlpgate::start(&["--policy", &policy.display().to_string()]);
    let out = run(
        &[
            "scan",
            "--json",
            "--server",
            &format!("icap://127.0.0.1:{}/reqmod", server.port),
            &tree.display().to_string(),
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let recs = records(&out.stdout);
    assert_eq!(recs["photo.png"]["verdict"], "allow");
    assert_eq!(recs["photo.png"]["sha256"].as_str().unwrap(), sha256_hex(&png));
}

#[test]
fn sigint_stops_the_scan_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let tree = many_files(dir.path(), 3000);
    let server = Dlpgate::start(&[]);
    let state = dir.path().join("state");
    let uri = format!("icap://127.0.0.1:{}/reqmod", server.port);
    let mut scan = spawn_scan(
        &[
            "scan",
            "--json",
            "--parallel",
            "1",
            "--state",
            &state.display().to_string(),
            "--server",
            &uri,
            &tree.display().to_string(),
        ],
        dir.path(),
    );
    let stdout = scan.child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    for _ in 0..50 {
        lines.next().unwrap().unwrap();
    }
    let _ = Command::new("kill").arg("-INT").arg(scan.pid().to_string()).status();
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    let status = scan.child.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(scan.child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("interrupted") && stderr.contains("same --state"), "{stderr}");
    assert!(50 + rest.len() < 3000, "the scan did not stop");
    for line in &rest {
        serde_json::from_str::<serde_json::Value>(line).unwrap();
    }
    // Everything reported is in the state file.
    let recorded = std::fs::read_to_string(&state).unwrap().lines().count();
    assert_eq!(recorded, 50 + rest.len());
}

#[test]
fn servers_that_drop_packets_cost_one_timeout_not_one_per_file() {
    let dir = tempfile::tempdir().unwrap();
    let tree = many_files(dir.path(), 200);
    let server = Dlpgate::start(&[]);
    let (hole, _s1, _f1) = black_hole();
    let (hole2, _s2, _f2) = black_hole();
    for (name, second) in [("pair", server.port), ("holes", hole2)] {
        let add = run(
            &[
                "connector",
                "add",
                name,
                "--server",
                &format!("icap://127.0.0.1:{hole}/reqmod"),
                "--server",
                &format!("icap://127.0.0.1:{second}/reqmod"),
                "--connect-timeout",
                "1",
            ],
            dir.path(),
        );
        assert!(add.status.success());
    }
    // One live server: every file goes to it; the silent one is set aside after its OPTIONS.
    let started = std::time::Instant::now();
    let out = run(&["scan", "--json", "--connector", "pair", &tree.display().to_string()], dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let recs = records(&out.stdout);
    assert_eq!(recs.len(), 200);
    let live = format!("icap://127.0.0.1:{}/reqmod", server.port);
    assert!(recs.values().all(|r| r["verdict"] == "allow" && r["server"] == live.as_str()), "{stderr}");
    assert!(stderr.contains(&format!("OPTIONS of icap://127.0.0.1:{hole}/reqmod: timed out")), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(6), "{:?}", started.elapsed());

    // Both silent: every file gets `error` (fail-closed) at once, not after a timeout each.
    let started = std::time::Instant::now();
    let out = run(&["scan", "--json", "--connector", "holes", &tree.display().to_string()], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let recs = records(&out.stdout);
    assert_eq!(recs.len(), 200);
    for r in recs.values() {
        assert_eq!(r["verdict"], "error");
        assert_eq!(r["action"], "block");
        assert!(r["reason"].as_str().unwrap().contains("timed out"), "{r}");
    }
    assert!(started.elapsed() < Duration::from_secs(6), "{:?}", started.elapsed());
}

#[test]
fn globs_include_exclude_max_size_and_multipart() {
    let dir = tempfile::tempdir().unwrap();
    let tree = small_tree(dir.path());
    std::fs::write(tree.join("sub/notes.txt"), "nothing here\n").unwrap();
    let server = Dlpgate::start(&[]);
    let uri = format!("icap://127.0.0.1:{}/reqmod", server.port);
    let tree_s = tree.display().to_string();
    let scan = |extra: &[&str]| {
        let mut args = vec!["scan", "--json", "--server", &uri];
        args.extend_from_slice(extra);
        let out = run(&args, dir.path());
        (out.status.code(), verdicts(&out.stdout), String::from_utf8_lossy(&out.stderr).to_string())
    };
    // Include and exclude match the path relative to the argument.
    let (code, v, _) = scan(&["--include", "*.txt", "--exclude", "sub/card*", &tree_s]);
    assert_eq!(code, Some(0));
    assert_eq!(v, expect(&[("clean.txt", "allow"), ("notes.txt", "allow")]));
    // A glob argument, a file argument, and a size limit that skips the large file.
    let glob = format!("{tree_s}/*/*.txt");
    let noise = tree.join("sub/noise.bin").display().to_string();
    let (code, v, stderr) = scan(&["--max-size", "1000", &glob, &noise]);
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(v, expect(&[("card.txt", "block"), ("notes.txt", "allow")]));
    assert!(
        stderr.contains("noise.bin (200000): over --max-size") && stderr.contains("1 files skipped"),
        "{stderr}"
    );
    // Multipart uploads are inspected the same way.
    let (code, v, _) = scan(&["--multipart", &tree_s]);
    assert_eq!(code, Some(1));
    assert_eq!(v["card.txt"], "block");
    assert_eq!(v["clean.txt"], "allow");
    // A path that does not exist has no verdict.
    let (code, v, _) = scan(&[&format!("{tree_s}/missing.txt")]);
    assert_eq!(code, Some(2));
    assert_eq!(v["missing.txt"], "error");
}

#[test]
fn parallelism_follows_the_servers_max_connections() {
    // dlpgate serve --max-connections 2 announces Max-Connections: 2 and answers 503 to a third
    // connection: a scan that opened more would get errors.
    let dir = tempfile::tempdir().unwrap();
    let tree = many_files(dir.path(), 300);
    let a = Dlpgate::start(&["--max-connections", "2"]);
    let b = Dlpgate::start(&["--max-connections", "3"]);
    let out = run(
        &[
            "scan",
            "--json",
            "--server",
            &format!("icap://127.0.0.1:{}/reqmod", a.port),
            "--server",
            &format!("icap://127.0.0.1:{}/reqmod", b.port),
            &tree.display().to_string(),
        ],
        dir.path(),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("(5 in flight at most)"), "{stderr}");
    let recs = records(&out.stdout);
    assert_eq!(recs.len(), 300);
    assert!(recs.values().all(|r| r["verdict"] == "allow"));
}

/// A server that is up but busy: its OPTIONS answer is normal, every REQMOD gets `503 Service
/// Unavailable` (what dlpgate serve and c-icap send when they are full). Returns its port and
/// how many REQMODs it refused.
fn busy_server() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let refused = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = refused.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let count = count.clone();
            std::thread::spawn(move || {
                let mut stream = stream;
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    match stream.read(&mut byte) {
                        Ok(1) => head.push(byte[0]),
                        _ => return,
                    }
                }
                let answer: &[u8] = if head.starts_with(b"OPTIONS ") {
                    b"ICAP/1.0 200 OK\r\nMethods: REQMOD\r\nISTag: \"busy-1\"\r\nAllow: 204\r\n\
                      Max-Connections: 4\r\nConnection: close\r\nEncapsulated: null-body=0\r\n\r\n"
                } else {
                    count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    b"ICAP/1.0 503 Service Unavailable\r\nISTag: \"busy-1\"\r\nConnection: close\r\n\
                      Encapsulated: null-body=0\r\n\r\n"
                };
                // One answer per connection, then close (both answers say so).
                let _ = stream.write_all(answer);
                let _ = stream.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    (port, refused)
}

#[test]
fn a_503_fails_over_to_another_server() {
    let dir = tempfile::tempdir().unwrap();
    let tree = small_tree(dir.path());
    let (busy, refused) = busy_server();
    let ok = Dlpgate::start(&[]);
    let (ub, uo) =
        (format!("icap://127.0.0.1:{busy}/reqmod"), format!("icap://127.0.0.1:{}/reqmod", ok.port));
    let out =
        run(&["scan", "--json", "--server", &ub, "--server", &uo, &tree.display().to_string()], dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The 503 judged nothing: every file was judged by the other server, once.
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let recs = records(&out.stdout);
    assert_eq!(
        verdicts(&out.stdout),
        expect(&[("card.txt", "block"), ("clean.txt", "allow"), ("noise.bin", "allow")]),
        "{stderr}"
    );
    for (name, r) in &recs {
        assert_eq!(r["server"].as_str(), Some(uo.as_str()), "{name}: {r}");
    }
    assert!(
        refused.load(std::sync::atomic::Ordering::SeqCst) >= 1,
        "the busy server was never tried: {stderr}"
    );

    // With the busy server alone, no file has a verdict, and the report says why.
    let out = run(&["scan", "--json", "--server", &ub, &tree.display().to_string()], dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for (name, r) in records(&out.stdout) {
        assert_eq!(r["verdict"], "error", "{name}: {r}");
        assert!(r["reason"].as_str().unwrap().contains("503"), "{name}: {r}");
    }
}

/// The symantec profile against a real third-party server: c-icap's content filtering module
/// set to answer the way Symantec DLP does, with an HTTP 200 whose body was changed (its
/// `replace` action), or with an added header and the body unchanged (its `add_header` action).
#[test]
fn symantec_profile_reads_a_modified_200_as_a_block() {
    assert!(
        support::c_icap_modules().join("srv_content_filtering.so").exists(),
        "libc-icap-mod-contentfiltering is not installed"
    );
    let dir = tempfile::tempdir().unwrap();
    // RESPMOD only: c-icap 0.5.10 drops the connection when `add_header` meets a REQMOD.
    let (_c_icap, port) = support::start_c_icap_with(
        dir.path(),
        "c-icap-replace",
        "Service content_filter srv_content_filtering.so
srv_content_filtering.Match Secret body /TOPSECRET/ score=10 info{R}=\"[REDACTED]\"
srv_content_filtering.Match Internal body /INTERNALONLY/ score=10
srv_content_filtering.Action replace score{Secret>5} replaceInfo=R
srv_content_filtering.Action add_header score{Internal>5} X-Classification: internal
",
    );
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(&tree).unwrap();
    std::fs::write(tree.join("memo.txt"), "the plan is TOPSECRET, keep it\n").unwrap();
    std::fs::write(tree.join("note.txt"), "INTERNALONLY memo for staff\n").unwrap();
    std::fs::write(tree.join("lunch.txt"), "lunch at noon\n").unwrap();
    let uri = format!("icap://127.0.0.1:{port}/content_filter");
    let add = run(
        &[
            "connector",
            "add",
            "symantec-like",
            "--type",
            "respmod",
            "--server",
            &uri,
            "--profile",
            "symantec",
        ],
        dir.path(),
    );
    assert!(add.status.success(), "{}", String::from_utf8_lossy(&add.stderr));
    let out =
        run(&["scan", "--json", "--connector", "symantec-like", &tree.display().to_string()], dir.path());
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let recs = records(&out.stdout);
    // The body came back changed ("[REDACTED]") in an HTTP 200: a block page, with the server's
    // own reason (X-Response-Desc).
    assert_eq!(recs["memo.txt"]["verdict"], "block", "{}", recs["memo.txt"]);
    assert_eq!(recs["memo.txt"]["reason"], "Secret score=10>5", "{}", recs["memo.txt"]);
    // A header added, the body as sent: allowed.
    assert_eq!(recs["note.txt"]["verdict"], "allow", "{}", recs["note.txt"]);
    // Nothing matched: 204.
    assert_eq!(recs["lunch.txt"]["verdict"], "allow", "{}", recs["lunch.txt"]);
}

/// dlpgate serve announces `X-Pipeline-Depth`, so small files go to it in pipelined batches;
/// `--pipeline 1` sends them one by one. Both give every file the same verdict and hash: a
/// batch never mixes up whose answer is whose (blocked files sit between clean ones).
#[test]
fn pipelined_and_one_by_one_scans_give_the_same_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(&tree).unwrap();
    let mut expected = BTreeMap::new();
    for i in 0..120 {
        let name = format!("f{i:03}.txt");
        let text = match i % 7 {
            0 => format!("invoice {i}\n{CARD}"),
            // Empty files, and one over the inline size that is streamed on its own.
            1 => String::new(),
            2 if i == 2 => "x".repeat(100_000),
            _ => format!("meeting notes {i}: nothing to see\n").repeat(i % 5 + 1),
        };
        expected.insert(name.clone(), if i % 7 == 0 { "block" } else { "allow" }.to_string());
        std::fs::write(tree.join(name), text).unwrap();
    }
    let server = Dlpgate::start(&[]);
    let uri = format!("icap://127.0.0.1:{}/reqmod", server.port);
    let tree = tree.display().to_string();
    let pipelined = run(&["scan", "--json", "--server", &uri, &tree], dir.path());
    let stderr = String::from_utf8_lossy(&pipelined.stderr);
    assert_eq!(pipelined.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("120 files (up to 8 pipelined)"), "{stderr}");
    let one_by_one = run(&["scan", "--json", "--pipeline", "1", "--server", &uri, &tree], dir.path());
    let stderr1 = String::from_utf8_lossy(&one_by_one.stderr);
    assert!(!stderr1.contains("pipelined"), "{stderr1}");
    assert_eq!(verdicts(&pipelined.stdout), expected, "{stderr}");
    assert_eq!(verdicts(&one_by_one.stdout), expected, "{stderr1}");
    let (a, b) = (records(&pipelined.stdout), records(&one_by_one.stdout));
    for (name, r) in &a {
        assert_eq!(r["sha256"], b[name]["sha256"], "{name}");
        let data = std::fs::read(Path::new(&tree).join(name)).unwrap();
        assert_eq!(r["sha256"].as_str(), Some(sha256_hex(&data).as_str()), "{name}");
        assert_eq!(r["rules"], b[name]["rules"], "{name}");
        if r["verdict"] == "block" {
            assert!(r["incident_id"].as_str().is_some_and(|id| id.starts_with("inc-")), "{name}: {r}");
        }
    }
}
