//! A temporary PostgreSQL cluster (Debian's package) on a free loopback port, run as the
//! `postgres` user when the tests run as root; stopped, restarted, frozen (SIGSTOP) and thawed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::{free_port, wait_for_port, ChildGuard};

/// Where Debian puts the server programs (`/usr/lib/postgresql/<major>/bin`), newest first.
pub fn postgres_bin() -> PathBuf {
    let mut majors: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is not installed (Debian package postgresql; scripts/test.sh installs it)")
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|bin| bin.join("postgres").exists())
        .collect();
    majors.sort();
    majors.pop().expect("no /usr/lib/postgresql/*/bin/postgres")
}

pub fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

fn id_of(flag: &str) -> u32 {
    let out = Command::new("id").args([flag, "postgres"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().expect("no postgres user (Debian package postgresql)")
}

/// Runs a PostgreSQL program as the `postgres` user when we are root (the server refuses root).
/// The uid is switched in the child itself (what `runuser` does, without its extra process),
/// so that the guard's pid is the server's own and a kill reaches it.
pub fn pg_command(program: &Path) -> Command {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(program);
    cmd.current_dir("/");
    if is_root() {
        cmd.uid(id_of("-u")).gid(id_of("-g"));
    }
    cmd
}

/// Gives a file to the `postgres` user (when we are root), mode `mode`.
pub fn give_to_postgres(path: &Path, mode: &str) {
    if is_root() {
        assert!(Command::new("chown").args(["postgres:postgres"]).arg(path).status().unwrap().success());
    }
    assert!(Command::new("chmod").arg(mode).arg(path).status().unwrap().success());
}

/// A temporary cluster: `initdb` with trust authentication, the server on a free loopback
/// port. Its directory is made reachable for the `postgres` user.
#[derive(Debug)]
pub struct Postgres {
    pub guard: ChildGuard,
    pub port: u16,
    pub data: PathBuf,
    pub bin: PathBuf,
    pub log: PathBuf,
    /// `-c name=value` settings added to every start.
    settings: Vec<String>,
}

impl Postgres {
    pub fn start(dir: &Path) -> Self {
        Self::start_with(dir, &[])
    }

    /// A cluster whose server runs with the extra `name=value` settings (e.g. `ssl=on`).
    /// `prepare` runs between initdb and the first start (to place certificates).
    pub fn start_with(dir: &Path, settings: &[&str]) -> Self {
        Self::start_prepared(dir, settings, |_| {})
    }

    pub fn start_prepared(dir: &Path, settings: &[&str], prepare: impl FnOnce(&Path)) -> Self {
        let bin = postgres_bin();
        let root = dir.join("pg");
        std::fs::create_dir_all(&root).unwrap();
        for path in [dir, root.as_path()] {
            Command::new("chmod").arg("0755").arg(path).status().unwrap();
        }
        if is_root() {
            assert!(Command::new("chown").args(["postgres:postgres"]).arg(&root).status().unwrap().success());
        }
        let data = root.join("data");
        let out = pg_command(&bin.join("initdb"))
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
            .arg(&data)
            .output()
            .unwrap();
        assert!(out.status.success(), "initdb: {}", String::from_utf8_lossy(&out.stderr));
        prepare(&data);
        let (port, log) = (free_port(), root.join("postgres.log"));
        let settings: Vec<String> = settings.iter().map(|s| s.to_string()).collect();
        let guard = Self::spawn(&bin, &data, &log, port, &settings);
        Self { guard, port, data, bin, log, settings }
    }

    /// Starts the server on `port` and waits until it listens.
    fn spawn(bin: &Path, data: &Path, log: &Path, port: u16, settings: &[String]) -> ChildGuard {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
        let mut cmd = pg_command(&bin.join("postgres"));
        cmd.arg("-D")
            .arg(data)
            .args(["-p", &port.to_string(), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"])
            .args(["-c", "unix_socket_directories=", "-c", "shared_buffers=16MB"]);
        for setting in settings {
            cmd.args(["-c", setting]);
        }
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::from(log));
        let guard = ChildGuard::spawn("postgres", &mut cmd);
        wait_for_port(port, Duration::from_secs(30));
        // Listening is not ready: until recovery ends, connections get "starting up".
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while !Command::new(bin.join("pg_isready"))
            .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string()])
            .status()
            .is_ok_and(|s| s.success())
        {
            assert!(std::time::Instant::now() < deadline, "PostgreSQL on {port} never became ready");
            std::thread::sleep(Duration::from_millis(50));
        }
        guard
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server the way an operator does ("fast" shutdown, SIGINT: SIGTERM's "smart"
    /// shutdown would wait for clients).
    pub fn stop(&mut self) {
        let pid = self.guard.pid();
        Command::new("kill").args(["-INT", &pid.to_string()]).status().unwrap();
        let _ = self.guard.terminate(Duration::from_secs(30));
    }

    /// Starts the stopped server again on the same port.
    pub fn start_again(&mut self) {
        self.guard = Self::spawn(&self.bin, &self.data, &self.log, self.port, &self.settings);
    }

    pub fn restart(&mut self) {
        self.stop();
        self.start_again();
    }

    /// Sends `signal` (STOP, CONT) to the server and every process it started (its backends):
    /// a frozen host, as far as clients can tell. A backend that exits meanwhile is no error.
    pub fn signal_all(&self, signal: &str) {
        let mut pids = vec![self.guard.pid()];
        pids.extend(descendants(self.guard.pid()));
        let pids: Vec<String> = pids.iter().map(u32::to_string).collect();
        let _ = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg("--")
            .args(&pids)
            .stderr(Stdio::null())
            .status();
    }

    /// Runs SQL with psql and gives its output (unaligned, tuples only).
    pub fn psql(&self, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "postgres", "-At", "-c", sql])
            .output()
            .unwrap();
        assert!(out.status.success(), "psql {sql}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).to_string()
    }
}

/// Every process whose parent chain leads to `pid`.
pub fn descendants(pid: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let child: u32 = e.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            // The command name is in parentheses and may hold spaces: fields follow the last ')'.
            let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
            Some((child, fields.get(1)?.parse().ok()?))
        })
        .collect();
    let mut found = Vec::new();
    let mut frontier = vec![pid];
    while let Some(p) = frontier.pop() {
        for &(child, parent) in &parents {
            if parent == p && !found.contains(&child) {
                found.push(child);
                frontier.push(child);
            }
        }
    }
    found
}
