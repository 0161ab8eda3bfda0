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

    // A clean download passes byte-identical. Squid stops feeding a body it cannot back up
    // after 64 KiB until the ICAP answer starts, and a DLP answer waits for the whole body:
    // bodies past that need response trickling (not built yet), so these stay under it.
    let clean_download = pseudo_random(60 * 1024, 7);
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
        "{err}\n{}\n{}",
        server.log(),
        std::fs::read_to_string(dir.path().join("squid/cache.log")).unwrap_or_default()
    );
    assert!(std::fs::read(&fetched).unwrap() == clean_download);

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
    let clean = dir.path().join("clean.bin");
    let clean_bytes = pseudo_random(60 * 1024, 99);
    std::fs::write(&clean, &clean_bytes).unwrap();
    let (code, err) = upload(&clean);
    assert_eq!(code, "200", "{err}");
    assert!(std::fs::read(&echoed).unwrap() == clean_bytes, "clean upload passes byte-identical");
}
