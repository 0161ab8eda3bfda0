//! e2guardian (Debian's package), a filtering proxy whose `icapscan` content scanner sends
//! downloads to an ICAP server with RESPMOD, in front of `dlpgate serve` (issue 14): a clean
//! download passes, and a download with a card number gets e2guardian's block page naming the
//! rule. e2guardian reads the threat from `X-Infection-Found` only when OPTIONS announces it in
//! `X-Allow-Out`; without it the page says "Virus or bad content detected. Unknown".

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::postgres::is_root;
use support::{free_port, listening, require, start_origin, ChildGuard, Dlpgate};

/// Copies Debian's configuration into `dir`, pointed at `dir`, listening on `port` and
/// scanning with `icap_url`.
fn e2guardian_conf(dir: &Path, port: u16, icap_url: &str) -> std::path::PathBuf {
    let conf = dir.join("conf");
    copy_tree(Path::new("/etc/e2guardian"), &conf, &conf.display().to_string());
    let main = conf.join("e2guardian.conf");
    let text = std::fs::read_to_string(&main).unwrap();
    let mut kept: String = text
        .lines()
        .filter(|l| {
            !["filterports", "filterip", "nodaemon", "loglocation", "pidfilename"]
                .iter()
                .any(|k| l.starts_with(k))
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let log = dir.join("access.log");
    std::fs::write(&log, "").unwrap();
    kept.push_str(&format!(
        "filterip = 127.0.0.1\nfilterports = {port}\nnodaemon = on\nloglocation = '{}'\npidfilename = '{}'\n\
         contentscanner = '{}'\n",
        log.display(),
        dir.join("e2guardian.pid").display(),
        conf.join("contentscanners/icapscan.conf").display()
    ));
    std::fs::write(&main, kept).unwrap();
    std::fs::write(
        conf.join("contentscanners/icapscan.conf"),
        format!("plugname = 'icapscan'\nicapurl = '{icap_url}'\n"),
    )
    .unwrap();
    // e2guardian drops its privileges to its own user, which must reach the files and write the log.
    Command::new("chmod").arg("0755").arg(dir).status().unwrap();
    if is_root() {
        assert!(Command::new("chown").arg("e2guardian").arg(&log).status().unwrap().success());
    }
    main
}

/// Copies `from` into `to`, replacing `/etc/e2guardian` with `root` in every file.
fn copy_tree(from: &Path, to: &Path, root: &str) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        if src.is_dir() {
            copy_tree(&src, &dst, root);
        } else if let Ok(bytes) = std::fs::read(&src) {
            let text = String::from_utf8_lossy(&bytes).replace("/etc/e2guardian", root);
            std::fs::write(&dst, text).unwrap();
        }
    }
}

/// A temporary directory whose path has no capital letter: e2guardian lowercases the paths
/// it reads from phrase lists (tempfile's random names have capitals).
struct LowercaseDir(std::path::PathBuf);

impl LowercaseDir {
    fn new() -> Self {
        let path =
            std::env::temp_dir().join(format!("dlpgate-e2guardian-{}-{}", std::process::id(), free_port()));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for LowercaseDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn get_through(proxy: u16, url: &str) -> String {
    let out = Command::new(require("curl"))
        .args(["-s", "-m", "20", "-x", &format!("http://127.0.0.1:{proxy}"), url])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn e2guardian_passes_clean_downloads_and_names_the_rule_on_its_block_page() {
    let binary = require("e2guardian");
    let dir = LowercaseDir::new();
    let server = Dlpgate::start(&[]);
    let clean = start_origin(b"quarterly figures, nothing sensitive\n".to_vec());
    let leak = start_origin(b"Quarterly numbers\ncard 4111 1111 1111 1111\n".to_vec());
    let port = free_port();
    let conf = e2guardian_conf(dir.path(), port, &format!("icap://127.0.0.1:{}/respmod", server.port));
    let mut cmd = Command::new(binary);
    cmd.arg("-N").arg("-c").arg(&conf);
    cmd.stdout(std::fs::File::create(dir.path().join("e2guardian.out")).unwrap());
    cmd.stderr(std::fs::File::create(dir.path().join("e2guardian.err")).unwrap());
    let mut e2guardian = ChildGuard::spawn("e2guardian", &mut cmd);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !listening(port) {
        let output = || {
            ["e2guardian.out", "e2guardian.err"]
                .map(|f| std::fs::read_to_string(dir.path().join(f)).unwrap_or_default())
                .join("\n")
        };
        if let Ok(Some(status)) = e2guardian.child.try_wait() {
            panic!("e2guardian exited ({status}):\n{}", output());
        }
        assert!(std::time::Instant::now() < deadline, "e2guardian not listening after 20 s:\n{}", output());
        std::thread::sleep(Duration::from_millis(50));
    }

    let page = get_through(port, &format!("http://127.0.0.1:{clean}/report.txt"));
    assert_eq!(page, "quarterly figures, nothing sensitive\n");

    let page = get_through(port, &format!("http://127.0.0.1:{leak}/q3.txt"));
    assert!(!page.contains("4111 1111 1111 1111"), "the download went through: {page}");
    assert!(page.contains("Virus or bad content detected. credit-card"), "{page}");
    assert!(!page.contains("Unknown"), "{page}");
}
