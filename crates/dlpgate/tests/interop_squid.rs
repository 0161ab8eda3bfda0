//! Squid as the ICAP client: `reqmod_precache` and `respmod_precache` point at `dlpgate serve`;
//! curl goes through Squid to a local origin; uploads and downloads pass byte-identical.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::Duration;

use support::{free_port, pseudo_random, require, wait_for_port, ChildGuard, Dlpgate};

/// A tiny HTTP/1.1 origin: GET returns `download`, POST echoes the request body.
fn start_origin(download: Vec<u8>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let download = download.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut stream = stream;
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    return;
                }
                let mut length = 0usize;
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                        break;
                    }
                    if let Some(v) = header.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                }
                let body = if line.starts_with("POST") {
                    let mut body = vec![0u8; length];
                    reader.read_exact(&mut body).unwrap();
                    body
                } else {
                    download
                };
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&body);
            });
        }
    });
    port
}

fn start_squid(dir: &std::path::Path, icap_port: u16) -> (ChildGuard, u16) {
    let squid = require("squid");
    let port = free_port();
    let run = dir.join("squid");
    std::fs::create_dir_all(&run).unwrap();
    // Squid drops to the `proxy` user when started as root: it must be able to write here.
    let _ = Command::new("chmod").arg("0777").arg(dir).arg(&run).status();
    let conf = format!(
        "http_port 127.0.0.1:{port}
pid_filename {run}/squid.pid
cache_log {run}/cache.log
access_log stdio:{run}/access.log
icap_log stdio:{run}/icap.log
coredump_dir {run}
cache deny all
shutdown_lifetime 1 seconds
http_access allow localhost
http_access deny all
icap_enable on
icap_preview_enable on
icap_preview_size 1024
icap_persistent_connections on
icap_send_client_ip on
icap_service svc_req reqmod_precache icap://127.0.0.1:{icap_port}/reqmod bypass=off
icap_service svc_resp respmod_precache icap://127.0.0.1:{icap_port}/respmod bypass=off
adaptation_access svc_req allow all
adaptation_access svc_resp allow all
",
        run = run.display()
    );
    let conf_path = run.join("squid.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let mut cmd = Command::new(squid);
    cmd.arg("-N").arg("-f").arg(&conf_path).stdout(Stdio::null()).stderr(Stdio::null());
    let guard = ChildGuard::spawn("squid", &mut cmd);
    wait_for_port(port, Duration::from_secs(30));
    (guard, port)
}

fn curl(args: &[&str]) -> std::process::Output {
    Command::new(require("curl")).args(["-sS", "--max-time", "60"]).args(args).output().expect("running curl")
}

#[test]
fn uploads_and_downloads_pass_through_squid_and_dlpgate_unchanged() {
    let server = Dlpgate::start(&["--log", "debug"]);
    let download = pseudo_random(3 * 1024 * 1024 + 17, 42);
    let origin = start_origin(download.clone());
    let dir = tempfile::tempdir().unwrap();
    let (_squid, squid_port) = start_squid(dir.path(), server.port);
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
