//! The third-party peers tests start on loopback, shared by every crate's tests: free ports,
//! child processes that end with the test, waits that ask instead of sleeping, and the
//! peers themselves (c-icap, Squid, PostgreSQL). A missing peer fails the test with what to
//! install; it is never a skip (scripts/test.sh installs them).
//!
//! # Layout
//!
//! - this file: ports, [`ChildGuard`], waits, [`pseudo_random`], c-icap and Squid.
//! - [`postgres`]: a temporary PostgreSQL cluster, stopped, restarted and frozen on demand.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::missing_panics_doc)]

pub mod postgres;

use std::net::{SocketAddr, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A loopback port nobody listens on right now, and never handed out before in this test
/// process: tests run in parallel, and two servers told the same port would see each other.
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// Fails the test with a clear message when a third-party program is missing: the test suite
/// installs it (scripts/test.sh), so a missing peer is a broken setup, never a skip.
pub fn require(program: &str) -> PathBuf {
    for dir in ["/usr/bin", "/usr/sbin", "/usr/local/bin", "/bin", "/sbin"] {
        let path = Path::new(dir).join(program);
        if path.exists() {
            return path;
        }
    }
    panic!("{program} is not installed: run ./scripts/test.sh, which installs the test peers");
}

/// Kills the child when dropped, so a failing test leaves no process behind.
#[derive(Debug)]
pub struct ChildGuard {
    pub child: Child,
    pub name: String,
    /// The child leads its own process group, killed whole (servers that fork workers).
    group: bool,
}

impl ChildGuard {
    pub fn spawn(name: &str, cmd: &mut Command) -> Self {
        let child = cmd.spawn().unwrap_or_else(|e| panic!("starting {name}: {e}"));
        Self { child, name: name.to_string(), group: false }
    }

    /// Starts the child in a process group of its own, so that dropping the guard ends the
    /// workers it forks too (c-icap, Squid).
    pub fn spawn_group(name: &str, cmd: &mut Command) -> Self {
        let child = cmd.process_group(0).spawn().unwrap_or_else(|e| panic!("starting {name}: {e}"));
        Self { child, name: name.to_string(), group: true }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits up to `timeout` for the exit status.
    pub fn terminate(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        // The group is signalled by a system call, never by `kill -KILL -PID`: procps-ng
        // 4.0.2 (Debian 12) reads `-16939` as the option `-1` and signals every process the
        // caller may signal (as root: the whole machine, CI included).
        if self.group {
            let pid = i32::try_from(self.child.id()).ok().and_then(rustix::process::Pid::from_raw);
            if let Some(pid) = pid {
                let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// True when something listens on 127.0.0.1:`port`.
///
/// The probe connects from 127.0.0.2. From 127.0.0.1, a connect to a port nobody listens on
/// yet can still succeed: Linux may pick that same port as the source (a connection to
/// itself), or two probes waiting for each other's ports can open a connection to each other
/// (TCP simultaneous open). Both made a server look up before it had bound its port. A probe
/// from another address can only reach a listener.
pub fn listening(port: u16) -> bool {
    let probe = || -> std::io::Result<()> {
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
        socket.bind(&SocketAddr::from(([127, 0, 0, 2], 0)).into())?;
        let target = SocketAddr::from(([127, 0, 0, 1], port));
        socket.connect_timeout(&target.into(), Duration::from_secs(2))
    };
    probe().is_ok()
}

/// Waits until something accepts connections on `port`.
pub fn wait_for_port(port: u16, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if listening(port) {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("nothing listens on 127.0.0.1:{port} after {timeout:?}");
}

/// Waits until `done` says yes, checking every 20 ms, for at most `timeout`; panics with
/// `what` (and what `done` last said) when it never does. Tests ask instead of sleeping.
pub fn wait_until(timeout: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not after {timeout:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until `log()` holds `needle` at least `count` times; gives the log.
pub fn wait_for_log(log: impl Fn() -> String, needle: &str, count: usize, timeout: Duration) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        let last = log();
        if last.matches(needle).count() >= count {
            return last;
        }
        assert!(
            Instant::now() < deadline,
            "{needle:?} not {count} times in the log after {timeout:?}:\n{last}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Deterministic pseudo-random bytes (xorshift), so failures reproduce.
pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Squid on a free port with reqmod/respmod ICAP services at 127.0.0.1:`icap_port`.
pub fn start_squid(dir: &std::path::Path, icap_port: u16, reqmod: &str, respmod: &str) -> (ChildGuard, u16) {
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
icap_service svc_req reqmod_precache icap://127.0.0.1:{icap_port}/{reqmod} bypass=off
icap_service svc_resp respmod_precache icap://127.0.0.1:{icap_port}/{respmod} bypass=off
adaptation_access svc_req allow all
adaptation_access svc_resp allow all
",
        run = run.display()
    );
    let conf_path = run.join("squid.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let mut cmd = Command::new(squid);
    cmd.arg("-N").arg("-f").arg(&conf_path).stdout(Stdio::null()).stderr(Stdio::null());
    let guard = ChildGuard::spawn_group("squid", &mut cmd);
    wait_for_port(port, Duration::from_secs(30));
    (guard, port)
}

/// Where the c-icap package put its modules (`srv_echo.so` and the others): the
/// multiarch library folder on Debian (`/usr/lib/<triplet>/c_icap`), or a plain one.
pub fn c_icap_modules() -> PathBuf {
    let mut candidates: Vec<PathBuf> = std::fs::read_dir("/usr/lib")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("c_icap"))
        .collect();
    candidates.extend(["/usr/lib/c_icap", "/usr/lib64/c_icap", "/usr/local/lib/c_icap"].map(PathBuf::from));
    candidates.into_iter().find(|dir| dir.join("srv_echo.so").exists()).unwrap_or_else(|| {
        panic!("c-icap's srv_echo.so is not installed: run ./scripts/test.sh, which installs the test peers")
    })
}

/// The c-icap server with srv_echo (which alternates 200 and 204) on a free loopback port.
pub fn start_c_icap(dir: &Path) -> (ChildGuard, u16) {
    start_c_icap_with(dir, "c-icap", "Service echo srv_echo.so\n")
}

/// The c-icap server on a free loopback port, in `dir/name`, with `services` (its `Service`
/// lines and their settings) after a common base configuration.
pub fn start_c_icap_with(dir: &Path, name: &str, services: &str) -> (ChildGuard, u16) {
    let c_icap = require("c-icap");
    let port = free_port();
    let run = dir.join(name);
    std::fs::create_dir_all(&run).unwrap();
    let _ = Command::new("chmod").arg("0777").arg(&run).status();
    let conf = format!(
        "PidFile {run}/c-icap.pid
CommandsSocket {run}/c-icap.ctl
Port 127.0.0.1:{port}
Timeout 300
MaxKeepAliveRequests 0
KeepAliveTimeout 600
StartServers 1
MaxServers 4
MinSpareThreads 5
MaxSpareThreads 10
ThreadsPerChild 5
MaxRequestsPerChild 0
TmpDir {run}
MaxMemObject 131072
DebugLevel 1
Pipelining on
ModulesDir {modules}
ServicesDir {modules}
TemplateDir /usr/share/c_icap/templates/
ServerLog {run}/server.log
AccessLog {run}/access.log
{services}",
        run = run.display(),
        modules = c_icap_modules().display()
    );
    let conf_path = run.join("c-icap.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let mut cmd = Command::new(c_icap);
    cmd.arg("-N").arg("-f").arg(&conf_path).stdout(Stdio::null()).stderr(Stdio::null());
    let guard = ChildGuard::spawn_group(name, &mut cmd);
    wait_for_port(port, Duration::from_secs(20));
    (guard, port)
}
