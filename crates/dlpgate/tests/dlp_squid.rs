//! Through Squid: an upload or a download that the default policy blocks gets HTTP 403 at curl
//! (the block page), and clean ones pass byte-identical.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::Command;

use support::{pseudo_random, require, start_origin, start_squid, Dlpgate};

fn curl(args: &[&str]) -> (String, String) {
    let out = Command::new(require("curl"))
        .args(["-sS", "--max-time", "60", "-w", "%{http_code}"])
        .args(args)
        .output()
        .unwrap();
    (String::from_utf8_lossy(&out.stdout).to_string(), String::from_utf8_lossy(&out.stderr).to_string())
}

#[test]
fn squid_blocks_leaks_and_passes_clean_transfers() {
    let server = Dlpgate::start(&["--log", "debug"]);
    let dir = tempfile::tempdir().unwrap();
    // The origin serves a leaking download on /file and echoes uploads.
    let leaking = "release notes\nAWS key AKIAIOSFODNN7EXAMPLE is in here\n".to_string();
    let origin = start_origin(leaking.clone().into_bytes());
    let (_squid, squid_port) = start_squid(dir.path(), server.port, "reqmod", "respmod");
    let proxy = format!("http://127.0.0.1:{squid_port}");

    // A download that leaks.
    let fetched = dir.path().join("fetched");
    let (code, err) =
        curl(&["-x", &proxy, "-o", fetched.to_str().unwrap(), &format!("http://127.0.0.1:{origin}/file")]);
    assert_eq!(code, "403", "{err}");
    let page = std::fs::read_to_string(&fetched).unwrap();
    assert!(
        page.contains("Blocked by data-loss prevention") && !page.contains("AKIAIOSFODNN7EXAMPLE"),
        "{page}"
    );

    // Clean downloads pass byte-identical, small and large. Past 64 KiB Squid (5.x,
    // bug 5352) stops reading the origin until the ICAP answer starts: the server sends the
    // answer head early and holds the body back until the verdict.
    for (size, seed) in [(60 * 1024, 7), (3 * 1024 * 1024 + 17, 8)] {
        let clean_download = pseudo_random(size, seed);
        let clean_origin = start_origin(clean_download.clone());
        let (code, err) = curl(&[
            "-x",
            &proxy,
            "-o",
            fetched.to_str().unwrap(),
            &format!("http://127.0.0.1:{clean_origin}/file"),
        ]);
        assert_eq!(
            code,
            "200",
            "{size} bytes: {err}\n{}\n{}",
            server.log(),
            std::fs::read_to_string(dir.path().join("squid/cache.log")).unwrap_or_default()
        );
        let got = std::fs::read(&fetched).unwrap();
        let first_difference = got.iter().zip(&clean_download).position(|(a, b)| a != b);
        assert!(
            got == clean_download,
            "{size} bytes sent, {} received, first difference at {first_difference:?}\n{}",
            got.len(),
            server.log()
        );
    }

    // A large download that leaks near its end: the head went out early, so the block can
    // only abort the transfer; not one byte of the body reaches the client, and the
    // incident is recorded.
    let mut large_leak = Vec::new();
    while large_leak.len() < 2 * 1024 * 1024 {
        large_leak.extend_from_slice(b"quarterly report, nothing to see in this line of text\n");
    }
    large_leak.extend_from_slice(b"customer card 4111 1111 1111 1111\n");
    let leak_origin = start_origin(large_leak);
    let _ = std::fs::remove_file(&fetched);
    let (code, err) = curl(&[
        "-x",
        &proxy,
        "-o",
        fetched.to_str().unwrap(),
        &format!("http://127.0.0.1:{leak_origin}/big"),
    ]);
    let delivered = std::fs::read(&fetched).unwrap_or_default();
    assert!(delivered.len() < 64 * 1024, "{code} {err}: {} bytes delivered", delivered.len());
    assert!(!String::from_utf8_lossy(&delivered).contains("4111"), "the leak reached the client");
    assert!(err.contains("curl: (18)") || code != "200", "the transfer failed visibly: {code} {err}");
    let listed = std::process::Command::new(env!("CARGO_BIN_EXE_dlpgate"))
        .args(["incidents", "list", "--data-dir"])
        .arg(server.dir.path().join("data"))
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout).to_string();
    assert!(listed.lines().any(|l| l.contains("block") && l.contains("credit-card")), "{listed}");

    // An upload that leaks, and a clean one that passes unchanged (the origin echoes it).
    let leak = dir.path().join("leak.txt");
    std::fs::write(&leak, "name,card\nalice,4111 1111 1111 1111\n").unwrap();
    let echoed = dir.path().join("echoed");
    let upload = |file: &std::path::Path| {
        curl(&[
            "-x",
            &proxy,
            "-H",
            "Content-Type: text/csv",
            "--data-binary",
            &format!("@{}", file.display()),
            "-o",
            echoed.to_str().unwrap(),
            &format!("http://127.0.0.1:{origin}/upload"),
        ])
    };
    let (code, err) = upload(&leak);
    assert_eq!(code, "403", "{err}");
    // Squid keeps feeding uploads: a large leak still gets the block page.
    let big_leak = dir.path().join("big-leak.txt");
    let mut text = "quarterly report, nothing to see in this line of text\n".repeat(40_000);
    text.push_str("customer ssn 078-05-1120\n");
    std::fs::write(&big_leak, text).unwrap();
    let (code, err) = upload(&big_leak);
    assert_eq!(code, "403", "{err}");
    for (size, seed) in [(60 * 1024, 99), (3 * 1024 * 1024 + 5, 98)] {
        let clean = dir.path().join("clean.bin");
        let clean_bytes = pseudo_random(size, seed);
        std::fs::write(&clean, &clean_bytes).unwrap();
        let (code, err) = upload(&clean);
        assert_eq!(code, "200", "{size} bytes: {err}");
        assert!(
            std::fs::read(&echoed).unwrap() == clean_bytes,
            "clean upload of {size} bytes passes byte-identical"
        );
    }
}
