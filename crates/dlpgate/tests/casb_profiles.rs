//! Verdict profiles against a real third-party server: c-icap's content filtering module set to
//! answer the way Symantec DLP does, with an HTTP 200 whose body was changed (its `replace`
//! action), or with an added header and the body unchanged (its `add_header` action).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

fn run(args: &[&str], config_dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dlpgate"))
        .args(args)
        .env("DLPGATE_CONFIG_DIR", config_dir)
        .env_remove("DLPGATE_LOG")
        .output()
        .unwrap()
}

/// JSON Lines of a scan, keyed by file name.
fn records(stdout: &[u8]) -> BTreeMap<String, serde_json::Value> {
    let mut out = BTreeMap::new();
    for line in String::from_utf8_lossy(stdout).lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        let name = Path::new(v["path"].as_str().unwrap()).file_name().unwrap().to_string_lossy().to_string();
        assert!(out.insert(name.clone(), v).is_none(), "{name} has two verdicts");
    }
    out
}

#[test]
fn symantec_profile_reads_a_modified_200_as_a_block() {
    assert!(
        Path::new("/usr/lib/x86_64-linux-gnu/c_icap/srv_content_filtering.so").exists(),
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
