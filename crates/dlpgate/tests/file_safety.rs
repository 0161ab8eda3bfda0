//! Files dlpgate writes where others may write or read: `dlpgate scan` over trees that their
//! users can write to (quarantine never follows a planted link, FIFOs, sockets and devices
//! are skipped with a reason, a cross-device quarantine keeps content and mode), the data
//! directory of `dlpgate serve` (0700, its databases 0600), and the keys `dlpgate cert`
//! writes (never through a link).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::BufReader;
use std::net::TcpStream;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::Dlpgate;

const CARD: &str = "order 12: card 4111 1111 1111 1111 exp 12/29\n";

/// Runs `dlpgate scan ARGS`, failing the test if it has not finished within a minute.
fn scan(args: &[&str], config_dir: &Path) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dlpgate"))
        .arg("scan")
        .args(args)
        .env("DLPGATE_CONFIG_DIR", config_dir)
        .env_remove("DLPGATE_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("dlpgate scan did not finish: {:?}", child.wait_with_output().unwrap());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn rows(stdout: &[u8]) -> std::collections::BTreeMap<String, serde_json::Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            let name =
                Path::new(v["path"].as_str().unwrap()).file_name().unwrap().to_string_lossy().to_string();
            (name, v)
        })
        .collect()
}

/// A tree whose user planted a link where the note of a blocked file goes, and left a FIFO,
/// a socket and (when the test runs as root) a device node: the victim of the link is
/// untouched, the specials are reported as skipped with what they are, and the scan ends.
#[test]
fn quarantine_never_writes_through_a_planted_link_and_special_files_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(tree.join("sub")).unwrap();
    std::fs::write(tree.join("card.txt"), CARD).unwrap();
    std::fs::write(tree.join("clean.txt"), "lunch at noon\n").unwrap();
    let victim = dir.path().join("victim.conf");
    std::fs::write(&victim, "root-owned settings\n").unwrap();
    std::os::unix::fs::symlink(&victim, tree.join("card.txt.quarantined.txt")).unwrap();
    std::fs::write(tree.join("sub/card2.txt"), CARD).unwrap();
    // A dangling link: following it would create a file where the link points.
    std::os::unix::fs::symlink(
        dir.path().join("created-by-scan"),
        tree.join("sub/card2.txt.quarantined.txt"),
    )
    .unwrap();
    let mkfifo = Command::new("mkfifo").arg(tree.join("sub/pipe")).status().unwrap();
    assert!(mkfifo.success());
    let _socket = std::os::unix::net::UnixListener::bind(tree.join("sock")).unwrap();
    let device = Command::new("mknod")
        .arg(tree.join("null"))
        .args(["c", "1", "3"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());

    let server = Dlpgate::start(&[]);
    let quarantine = dir.path().join("quarantine");
    let report = dir.path().join("report.jsonl");
    let out = scan(
        &[
            "--json",
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
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");

    // The links were not followed.
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "root-owned settings\n");
    assert!(!dir.path().join("created-by-scan").exists());
    assert!(std::fs::symlink_metadata(tree.join("card.txt.quarantined.txt")).unwrap().is_symlink());
    // The files were quarantined, and their notes took free names.
    assert_eq!(std::fs::read_to_string(quarantine.join("card.txt")).unwrap(), CARD);
    assert_eq!(std::fs::read_to_string(quarantine.join("sub/card2.txt")).unwrap(), CARD);
    assert!(std::fs::read_to_string(tree.join("card.txt.quarantined.1.txt"))
        .unwrap()
        .contains("quarantined"));
    assert!(std::fs::read_to_string(tree.join("sub/card2.txt.quarantined.1.txt"))
        .unwrap()
        .contains("quarantined"));

    // Special files: a row each, with why.
    let rows = rows(&out.stdout);
    let mut specials = vec![("pipe", "FIFO"), ("sock", "socket")];
    if device {
        specials.push(("null", "character device"));
    }
    for (name, what) in &specials {
        let row = &rows[*name];
        assert_eq!(row["verdict"], "skipped", "{row}");
        assert_eq!(row["action"], "skip", "{row}");
        assert!(row["reason"].as_str().unwrap().contains(what), "{row}");
    }
    assert_eq!(rows["card.txt"]["verdict"], "block");
    assert_eq!(rows["clean.txt"]["verdict"], "allow");
    assert!(stderr.contains(&format!("{} skipped: not regular files", specials.len())), "{stderr}");
    // The report's summary counts them.
    let text = std::fs::read_to_string(&report).unwrap();
    let summary: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(summary["summary"]["skipped"], specials.len(), "{summary}");
    assert_eq!(summary["summary"]["quarantined"], 2, "{summary}");
    assert_eq!(summary["summary"]["files"], 3, "{summary}");
}

/// A FIFO named on the command line is skipped too, rather than read forever.
#[test]
fn a_fifo_on_the_command_line_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let server = Dlpgate::start(&[]);
    let out = scan(
        &[
            "--json",
            "--server",
            &format!("icap://127.0.0.1:{}/reqmod", server.port),
            &fifo.display().to_string(),
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(rows(&out.stdout)["pipe"]["verdict"], "skipped");
}

/// The report and the state file are never written through a link (a scan run as root
/// writing its report into /tmp).
#[test]
fn the_report_is_not_written_through_a_link() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f.txt"), "nothing\n").unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "keep\n").unwrap();
    let report = dir.path().join("report");
    std::os::unix::fs::symlink(&victim, &report).unwrap();
    let server = Dlpgate::start(&[]);
    let uri = format!("icap://127.0.0.1:{}/reqmod", server.port);
    let file = dir.path().join("f.txt").display().to_string();
    for option in ["--report", "--state"] {
        let out = scan(&["--server", &uri, option, &report.display().to_string(), &file], dir.path());
        assert_eq!(out.status.code(), Some(2), "{option}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("symbolic link"), "{option}: {stderr}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep\n");
    }
}

/// Quarantine on another file system (a tmpfs): the file is copied with its content and mode,
/// synced, and the original removed.
#[test]
fn a_cross_device_quarantine_keeps_content_and_mode() {
    let shm = Path::new("/dev/shm");
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(tree.join("a")).unwrap();
    let body = format!("{CARD}{}", "x".repeat(300_000));
    std::fs::write(tree.join("a/card.txt"), &body).unwrap();
    std::fs::set_permissions(tree.join("a/card.txt"), std::fs::Permissions::from_mode(0o640)).unwrap();
    let other = if shm.is_dir()
        && std::fs::metadata(shm).unwrap().dev() != std::fs::metadata(dir.path()).unwrap().dev()
    {
        tempfile::tempdir_in(shm).unwrap()
    } else {
        // No second file system here: the unit tests cover the copy itself.
        tempfile::tempdir().unwrap()
    };
    let quarantine = other.path().join("q");
    let server = Dlpgate::start(&[]);
    let out = scan(
        &[
            "--json",
            "--server",
            &format!("icap://127.0.0.1:{}/reqmod", server.port),
            "--quarantine",
            &quarantine.display().to_string(),
            &tree.display().to_string(),
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let moved = quarantine.join("a/card.txt");
    assert!(std::fs::read_to_string(&moved).unwrap() == body);
    assert_eq!(std::fs::metadata(&moved).unwrap().permissions().mode() & 0o777, 0o640);
    assert!(!tree.join("a/card.txt").exists());
    assert!(tree.join("a/card.txt.quarantined.txt").exists());
    let row = &rows(&out.stdout)["card.txt"];
    assert_eq!(row["quarantined_to"], moved.display().to_string());
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode()
        & 0o7777
}

/// `dlpgate serve` in an empty directory: the data directory is 0700, the incident database
/// and its WAL files 0600 (whatever the umask), after an incident was written.
#[test]
fn serve_makes_a_private_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Dlpgate::start_with_data(&data, &[]);
    let mut reader = BufReader::new(TcpStream::connect(server.addr).unwrap());
    let answer = support::reqmod(&mut reader, server.port, CARD.as_bytes()).unwrap();
    assert!(answer.blocked, "{}", answer.head);
    assert_eq!(mode(&data), 0o700);
    for name in ["incidents.db", "incidents.db-wal", "incidents.db-shm"] {
        assert_eq!(mode(&data.join(name)), 0o600, "{name}");
    }
}

/// A data directory and database an earlier version left readable by others are tightened
/// when this user owns them, and the log says so.
#[test]
fn a_loose_data_directory_is_tightened() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(data.join("incidents.db"), b"").unwrap();
    std::fs::set_permissions(data.join("incidents.db"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let server = Dlpgate::start_with_data(&data, &[]);
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("incidents.db")), 0o600);
    assert_eq!(mode(&data.join("incidents.db-wal")), 0o600);
    let log = server.log();
    assert!(log.contains("changed to 0700") && log.contains("changed to 0600"), "{log}");
}

/// `dlpgate cert` never writes a key through a link: a dangling link (which would create
/// its target) and a link to a victim are refused without --force, and with --force the
/// link itself is replaced by a new 0600 file while its target stays as it was.
#[test]
fn cert_never_writes_a_key_through_a_link() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let victim = d.join("victim");
    std::fs::write(&victim, "keep\n").unwrap();
    std::os::unix::fs::symlink(d.join("created"), d.join("dangling.key")).unwrap();
    std::os::unix::fs::symlink(&victim, d.join("victim.key")).unwrap();
    let cert = |key: &str, force: bool| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_dlpgate"));
        cmd.args(["cert", "new", "--cn", "t", "--cert"]).arg(d.join(format!("{key}.crt")));
        cmd.arg("--key").arg(d.join(key));
        if force {
            cmd.arg("--force");
        }
        cmd.output().unwrap()
    };
    for key in ["dangling.key", "victim.key"] {
        let out = cert(key, false);
        assert!(!out.status.success(), "{key}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("exists; pass --force"), "{key}");
    }
    assert!(!d.join("created").exists());
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep\n");
    for key in ["dangling.key", "victim.key"] {
        let out = cert(key, true);
        assert!(out.status.success(), "{key}: {}", String::from_utf8_lossy(&out.stderr));
        let meta = std::fs::symlink_metadata(d.join(key)).unwrap();
        assert!(meta.is_file(), "{key}: the link was replaced by the key");
        assert_eq!(mode(&d.join(key)), 0o600);
        assert!(std::fs::read_to_string(d.join(key)).unwrap().contains("PRIVATE KEY"));
    }
    assert!(!d.join("created").exists());
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep\n");
    assert_eq!(mode(&victim), 0o644, "the target's mode is not changed either");
    // No temporary file is left behind.
    let names: Vec<String> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.contains(".tmp-")), "{names:?}");
}

/// A minimal ICAP server that blocks every REQMOD, and runs `before_answer` after reading
/// a request and before answering it: the moment between the scan and the quarantine.
fn blocking_server(before_answer: impl Fn() + Send + Sync + 'static) -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let before_answer = std::sync::Arc::new(before_answer);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let before_answer = before_answer.clone();
            std::thread::spawn(move || {
                let mut stream = stream;
                let mut buf = Vec::new();
                let mut chunk = [0u8; 65536];
                loop {
                    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                        match stream.read(&mut chunk) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                        continue;
                    };
                    if buf.starts_with(b"OPTIONS") {
                        buf.drain(..end + 4);
                        let _ = stream.write_all(b"ICAP/1.0 200 OK\r\nMethods: REQMOD\r\nISTag: \"t\"\r\nEncapsulated: null-body=0\r\n\r\n");
                        continue;
                    }
                    // The body ends with the last chunk.
                    while !buf.windows(5).any(|w| w == b"0\r\n\r\n") {
                        match stream.read(&mut chunk) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let last = buf.windows(5).position(|w| w == b"0\r\n\r\n").unwrap();
                    buf.drain(..last + 5);
                    before_answer();
                    let http = "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n";
                    let answer = format!(
                        "ICAP/1.0 200 OK\r\nISTag: \"t\"\r\nX-Infection-Found: Type=2; Resolution=2; Threat=t;\r\nEncapsulated: res-hdr=0, null-body={}\r\n\r\n{http}",
                        http.len()
                    );
                    let _ = stream.write_all(answer.as_bytes());
                }
            });
        }
    });
    port
}

/// The file's directory is swapped for a link to another directory, holding a file of the
/// same name, size and modification time, after the server read the file and before the scan
/// quarantines it: nothing moves, inside or outside the tree, and the row says why.
#[test]
fn a_directory_swapped_before_the_quarantine_moves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    std::fs::create_dir_all(d.join("tree/sub")).unwrap();
    std::fs::create_dir_all(d.join("elsewhere")).unwrap();
    std::fs::write(d.join("tree/sub/f.txt"), CARD).unwrap();
    std::fs::write(d.join("elsewhere/f.txt"), CARD).unwrap();
    let mtime = std::fs::metadata(d.join("tree/sub/f.txt")).unwrap().modified().unwrap();
    std::fs::File::options()
        .write(true)
        .open(d.join("elsewhere/f.txt"))
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    let swap = d.clone();
    let port = blocking_server(move || {
        if !swap.join("tree/sub.old").exists() {
            std::fs::rename(swap.join("tree/sub"), swap.join("tree/sub.old")).unwrap();
            std::os::unix::fs::symlink(swap.join("elsewhere"), swap.join("tree/sub")).unwrap();
        }
    });
    let quarantine = d.join("q");
    let out = scan(
        &[
            "--json",
            "--server",
            &format!("icap://127.0.0.1:{port}/reqmod"),
            "--quarantine",
            &quarantine.display().to_string(),
            &d.join("tree").display().to_string(),
        ],
        &d,
    );
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let row = &rows(&out.stdout)["f.txt"];
    assert_eq!(row["verdict"], "block");
    assert!(row.get("quarantined_to").is_none(), "{row}");
    assert!(row["reason"].as_str().unwrap().contains("no longer a directory"), "{row}");
    assert_eq!(std::fs::read_to_string(d.join("elsewhere/f.txt")).unwrap(), CARD);
    assert_eq!(std::fs::read_to_string(d.join("tree/sub.old/f.txt")).unwrap(), CARD);
    assert!(!d.join("elsewhere/f.txt.quarantined.txt").exists());
    assert!(std::fs::read_dir(&quarantine).unwrap().next().is_none());
}
