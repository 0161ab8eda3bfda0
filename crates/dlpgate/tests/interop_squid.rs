//! Squid as the ICAP client: `reqmod_precache` and `respmod_precache` point at the `echo`
//! service of `dlpgate serve`;
//! curl goes through Squid to a local origin; uploads and downloads pass byte-identical.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::Command;

use support::{pseudo_random, require, start_origin, start_squid, Dlpgate};

fn curl(args: &[&str]) -> std::process::Output {
    Command::new(require("curl")).args(["-sS", "--max-time", "60"]).args(args).output().expect("running curl")
}

#[test]
fn uploads_and_downloads_pass_through_squid_and_dlpgate_unchanged() {
    let server = Dlpgate::start(&["--log", "debug"]);
    let download = pseudo_random(3 * 1024 * 1024 + 17, 42);
    let origin = start_origin(download.clone());
    let dir = tempfile::tempdir().unwrap();
    let (_squid, squid_port) = start_squid(dir.path(), server.port, "echo", "echo");
    let proxy = format!("http://127.0.0.1:{squid_port}");

    let fetched = dir.path().join("fetched");
    let out = curl(&[
        "-x",
        &proxy,
        &format!("http://127.0.0.1:{origin}/download"),
        "-o",
        fetched.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "curl download: {}", String::from_utf8_lossy(&out.stderr));
    assert!(std::fs::read(&fetched).unwrap() == download, "download changed on the way");

    for size in [0usize, 1, 5000, 2 * 1024 * 1024 + 3] {
        let upload = pseudo_random(size, size as u64);
        let file = dir.path().join(format!("upload-{size}"));
        std::fs::write(&file, &upload).unwrap();
        let echoed = dir.path().join(format!("echoed-{size}"));
        let out = curl(&[
            "-x",
            &proxy,
            "-H",
            "Content-Type: application/octet-stream",
            "--data-binary",
            &format!("@{}", file.display()),
            &format!("http://127.0.0.1:{origin}/upload"),
            "-o",
            echoed.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "curl upload {size}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(std::fs::read(&echoed).unwrap() == upload, "upload of {size} bytes changed on the way");
    }

    let log = server.log();
    assert!(log.matches("method=REQMOD").count() >= 5, "Squid sent REQMODs through dlpgate:\n{log}");
    assert!(log.matches("method=RESPMOD").count() >= 5, "Squid sent RESPMODs through dlpgate:\n{log}");
}
