//! What ships around the binary: the systemd units (checked by `systemd-analyze verify`, with
//! the built binary in place of /usr/bin/dlpgate), the example configuration (read by
//! `serve --config`), shell completions, man pages, JSON logs and the container recipe.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_dlpgate")
}

fn packaging() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packaging")
}

#[test]
fn systemd_units_verify_and_are_sandboxed() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["dlpgate.service", "dlpgate-tunnel.service"] {
        let text = std::fs::read_to_string(packaging().join("systemd").join(name)).unwrap();
        for setting in [
            "DynamicUser=yes",
            "ProtectSystem=strict",
            "NoNewPrivileges=yes",
            "ConfigurationDirectory=dlpgate",
            "ExecReload=/bin/kill -HUP $MAINPID",
            "CapabilityBoundingSet=\n",
        ] {
            assert!(text.contains(setting), "{name} lacks {setting:?}");
        }
        if name == "dlpgate.service" {
            assert!(text.contains("StateDirectory=dlpgate"));
        }
        let unit = dir.path().join(name);
        std::fs::write(&unit, text.replace("/usr/bin/dlpgate", bin())).unwrap();
        let out = Command::new("systemd-analyze")
            .args(["verify", "--man=no"])
            .arg(&unit)
            .output()
            .expect("systemd-analyze (Debian package systemd) runs; scripts/test.sh installs it");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{name}: {stderr}");
        // Warnings do not fail verify: none is expected either.
        let own: Vec<&str> = stderr.lines().filter(|l| l.contains(name)).collect();
        assert!(own.is_empty(), "{name}: {own:?}");
    }
}

#[test]
fn a_unit_with_a_mistake_fails_verify() {
    // The check above can fail: an unknown setting and a missing binary are reported.
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(packaging().join("systemd/dlpgate.service")).unwrap();
    let unit = dir.path().join("dlpgate.service");
    std::fs::write(&unit, text.replace("/usr/bin/dlpgate", "/nonexistent/dlpgate")).unwrap();
    let out = Command::new("systemd-analyze").args(["verify", "--man=no"]).arg(&unit).output().unwrap();
    assert!(!out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn the_example_configuration_is_what_serve_reads() {
    let dir = tempfile::tempdir().unwrap();
    // `--check`-like: a port already taken proves the file's listen address was used.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let text = std::fs::read_to_string(packaging().join("dlpgate.toml")).unwrap();
    let config = dir.path().join("dlpgate.toml");
    std::fs::write(&config, text.replace("127.0.0.1:1344", &format!("127.0.0.1:{port}"))).unwrap();
    let out = Command::new(bin())
        .args(["serve", "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(["--metrics-listen", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains(&port.to_string()), "{stderr}");
}

#[test]
fn completions_and_man_pages_cover_every_subcommand() {
    let out = Command::new(bin()).args(["completions", "bash"]).output().unwrap();
    assert!(out.status.success());
    let script = String::from_utf8(out.stdout).unwrap();
    for word in ["serve", "tunnel", "connector", "edm", "--data-dir", "--log-format"] {
        assert!(script.contains(word), "bash completion lacks {word}");
    }
    // bash parses it.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dlpgate.bash");
    std::fs::write(&file, &script).unwrap();
    assert!(Command::new("bash").arg("-n").arg(&file).status().unwrap().success());
    for shell in ["zsh", "fish"] {
        let out = Command::new(bin()).args(["completions", shell]).output().unwrap();
        assert!(out.status.success() && out.stdout.len() > 1000, "{shell}");
    }
    assert!(!Command::new(bin()).args(["completions", "cmd.exe"]).status().unwrap().success());

    let man = dir.path().join("man");
    let out = Command::new(bin()).arg("man").arg("--out").arg(&man).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let serve = std::fs::read_to_string(man.join("dlpgate-serve.1")).unwrap();
    assert!(serve.starts_with(".ie") || serve.contains(".TH"), "{serve:.200}");
    assert!(serve.contains("data\\-dir") && serve.contains("policy"), "{serve:.400}");
    for page in ["dlpgate.1", "dlpgate-tunnel.1", "dlpgate-cert.1", "dlpgate-edm-index.1"] {
        assert!(man.join(page).exists(), "{page}");
    }
}

#[test]
fn json_logs_are_one_object_per_line() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(bin())
        .args(["--log-format", "json", "serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    // The server logs where it serves at start: read until then, at most 20 s.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let mut lines = Vec::new();
    while let Ok(line) = rx.recv_timeout(std::time::Duration::from_secs(20)) {
        let serving = line.contains("dlpgate serving");
        lines.push(line);
        if serving {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(lines.iter().any(|l| l.contains("dlpgate serving")), "{lines:?}");
    for l in &lines {
        let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
        assert!(v["level"].is_string() && v["timestamp"].is_string() && v["fields"].is_object(), "{l}");
    }
}

/// The container recipe (no container runtime here, and its base images cannot be pulled):
/// two stages, a non-root user, a Rust toolchain new enough for the workspace, and the
/// image's command, run as written (only its listen address moved to loopback and its data
/// directory to a temporary one), serves ICAP with JSON logs.
#[test]
fn the_container_recipe_builds_a_non_root_image_whose_command_serves() {
    use std::io::{Read, Write};
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let recipe = std::fs::read_to_string(root.join("Dockerfile")).unwrap();
    let directive = |name: &str| -> Vec<String> {
        recipe.lines().filter_map(|l| l.strip_prefix(name)).map(|rest| rest.trim().to_string()).collect()
    };
    let stages = directive("FROM ");
    assert_eq!(stages.len(), 2, "a build stage and a runtime stage: {stages:?}");
    let toolchain = stages[0].strip_prefix("rust:").and_then(|t| t.split('-').next()).unwrap();
    let workspace = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let needed = workspace.lines().find_map(|l| l.strip_prefix("rust-version = ")).unwrap().trim_matches('"');
    let version = |v: &str| v.split('.').map(|n| n.parse::<u32>().unwrap()).collect::<Vec<_>>();
    assert!(version(toolchain) >= version(needed), "rust:{toolchain} cannot build rust-version {needed}");
    assert!(stages[1].contains("nonroot"), "{stages:?}");
    let user = directive("USER ");
    assert_eq!(user.len(), 1);
    assert!(!user[0].starts_with('0') && !user[0].starts_with("root"), "runs as {user:?}");
    let entry: Vec<String> = serde_json::from_str(&directive("ENTRYPOINT ")[0]).unwrap();
    let cmd: Vec<String> = serde_json::from_str(&directive("CMD ")[0]).unwrap();
    assert_eq!(entry, ["/usr/local/bin/dlpgate"]);

    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut args = cmd.clone();
    for (flag, value) in
        [("--listen", format!("127.0.0.1:{port}")), ("--data-dir", dir.path().display().to_string())]
    {
        let at = args.iter().position(|a| a == flag).unwrap_or_else(|| panic!("CMD has no {flag}: {cmd:?}"));
        args[at + 1] = value;
    }
    let mut child = Command::new(bin()).args(&args).stderr(Stdio::piped()).spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut answer = String::new();
    while std::time::Instant::now() < deadline {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            s.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
            s.write_all(b"OPTIONS icap://127.0.0.1/reqmod ICAP/1.0\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).unwrap_or(0);
            answer = String::from_utf8_lossy(&buf[..n]).into_owned();
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    let mut logs = String::new();
    child.stderr.take().unwrap().read_to_string(&mut logs).unwrap();
    let _ = child.wait();
    assert!(answer.starts_with("ICAP/1.0 200"), "{answer:?}\n{logs}");
    let first = logs.lines().next().unwrap_or_default();
    assert!(serde_json::from_str::<serde_json::Value>(first).is_ok(), "JSON logs: {first}");
}
