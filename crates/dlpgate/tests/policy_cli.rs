//! `dlpgate policy check|test|default`: errors name their line; `test` prints verdicts with
//! masked evidence and exits 0 (allowed), 1 (blocked) or 2 (error).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

fn dlpgate(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_dlpgate")).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn check_validates_and_names_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let (code, default_policy, _) = dlpgate(&["policy", "default"]);
    assert_eq!(code, 0);
    let good = dir.path().join("good.toml");
    std::fs::write(&good, &default_policy).unwrap();
    let (code, out, err) = dlpgate(&["policy", "check", good.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("OK"), "{out}");

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, format!("{default_policy}\n[[rule]]\nname = \"broken\"\nmin_count = \"many\"\n"))
        .unwrap();
    let (code, _, err) = dlpgate(&["policy", "check", bad.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("bad.toml") && err.contains("line"), "{err}");
}

#[test]
fn test_prints_masked_verdicts_with_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let clean = dir.path().join("clean.txt");
    std::fs::write(&clean, "meeting notes, nothing sensitive; call 555-0100\n").unwrap();
    let leak = dir.path().join("leak.csv");
    std::fs::write(&leak, "name,card\nbob,5555 5555 5555 4444\n").unwrap();

    let (code, out, err) = dlpgate(&["policy", "test", clean.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("ALLOW"), "{out}");

    let (code, out, _) = dlpgate(&["policy", "test", dir.path().to_str().unwrap()]);
    assert_eq!(code, 1, "a folder with a leak: {out}");
    assert!(out.contains("BLOCK") && out.contains("leak.csv") && out.contains("credit_card"), "{out}");
    assert!(!out.contains("5555 5555 5555 4444") && !out.contains("5555555555554444"), "masked: {out}");

    let (code, out, _) = dlpgate(&["policy", "test", "--json", leak.to_str().unwrap()]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(v["verdict"]["decision"], "block");
    assert!(v["path"].as_str().unwrap().ends_with("leak.csv"));

    let (code, _, err) = dlpgate(&["policy", "test", dir.path().join("missing").to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
}
