//! The real c-icap-client against `dlpgate serve`: OPTIONS, REQMOD and RESPMOD, with and without
//! preview and 204, bodies of 0 B to 10 MiB; echoed bodies must come back byte-identical.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::Command;

use support::{pseudo_random, require, Dlpgate};

struct Run {
    status: u16,
    stdout: String,
}

fn c_icap_client(server: &Dlpgate, args: &[&str]) -> Run {
    let client = require("c-icap-client");
    let out = Command::new(client)
        .args(["-i", "127.0.0.1", "-p", &server.port.to_string(), "-v"])
        .args(args)
        .output()
        .expect("running c-icap-client");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    let status = stdout
        .lines()
        .find_map(|l| {
            l.trim().strip_prefix("ICAP/1.0 ").and_then(|rest| rest.get(..3)).and_then(|c| c.parse().ok())
        })
        .unwrap_or_else(|| {
            panic!("no ICAP status in c-icap-client output:\n{stdout}\nserver log:\n{}", server.log())
        });
    Run { status, stdout }
}

#[test]
fn options_lists_methods_preview_and_204() {
    let server = Dlpgate::start(&[]);
    for (service, methods, preview) in
        [("echo", "REQMOD, RESPMOD", 1024), ("reqmod", "REQMOD", 32768), ("respmod", "RESPMOD", 32768)]
    {
        let run = c_icap_client(&server, &["-s", service]);
        assert_eq!(run.status, 200, "{}", run.stdout);
        assert!(run.stdout.contains("Allow 204: Yes"), "{}", run.stdout);
        assert!(run.stdout.contains(&format!("Preview: {preview}")), "{}", run.stdout);
        assert!(run.stdout.contains(&format!("Methods: {methods}")), "{}", run.stdout);
        assert!(run.stdout.contains("ISTag: \""), "{}", run.stdout);
    }
    let missing = c_icap_client(&server, &["-s", "nosuchservice"]);
    assert_eq!(missing.status, 404, "{}", missing.stdout);
}

#[test]
fn reqmod_and_respmod_in_every_mode_and_size() {
    let server = Dlpgate::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    for size in [0usize, 1, 1024, 10 * 1024 * 1024] {
        let input = dir.path().join(format!("in-{size}"));
        std::fs::write(&input, pseudo_random(size, size as u64 + 7)).unwrap();
        for method in ["reqmod", "respmod"] {
            for preview in [true, false] {
                for allow_204 in [true, false] {
                    let output = dir.path().join(format!("out-{size}-{method}-{preview}-{allow_204}"));
                    let mut args =
                        vec!["-s", method, "-f", input.to_str().unwrap(), "-o", output.to_str().unwrap()];
                    if method == "reqmod" {
                        args.extend(["-req", "http://upload.test/file"]);
                    }
                    if !preview {
                        args.push("-nopreview");
                    }
                    if !allow_204 {
                        args.push("-no204");
                    }
                    let what = format!("{method} size={size} preview={preview} 204={allow_204}");
                    let run = c_icap_client(&server, &args);
                    match run.status {
                        // Without 204 and without preview, the only answer is the echo.
                        200 => {
                            let echoed = std::fs::read(&output).unwrap_or_default();
                            assert!(
                                echoed == std::fs::read(&input).unwrap(),
                                "{what}: echoed body differs ({} bytes back)",
                                echoed.len()
                            );
                        }
                        // 204 is right when offered, and inside a preview (RFC 3507 4.6).
                        204 => {
                            assert!(allow_204 || preview, "{what}: 204 was neither offered nor in a preview")
                        }
                        other => panic!("{what}: status {other}\n{}", run.stdout),
                    }
                    if !allow_204 && !preview {
                        assert_eq!(run.status, 200, "{what}");
                    }
                    if allow_204 {
                        assert_eq!(run.status, 204, "{what}");
                    }
                }
            }
        }
    }
}
