//! Helpers for tests that start real processes on loopback: free ports, child guards, waits.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod load;
pub mod postgres;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
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
pub struct ChildGuard {
    pub child: Child,
    pub name: String,
}

impl ChildGuard {
    pub fn spawn(name: &str, cmd: &mut Command) -> Self {
        let child = cmd.spawn().unwrap_or_else(|e| panic!("starting {name}: {e}"));
        Self { child, name: name.to_string() }
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

/// A `dlpgate serve` child on a free loopback port.
pub struct Dlpgate {
    pub guard: ChildGuard,
    pub port: u16,
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
}

impl Dlpgate {
    pub fn start(extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        Self::start_in(dir, &data, extra)
    }

    /// A server whose data directory outlives it (to restart on the same store).
    pub fn start_with_data(data: &Path, extra: &[&str]) -> Self {
        Self::start_in(tempfile::tempdir().unwrap(), data, extra)
    }

    fn start_in(dir: tempfile::TempDir, data: &Path, extra: &[&str]) -> Self {
        let port = free_port();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_dlpgate"));
        cmd.arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(data)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(std::fs::File::create(dir.path().join("serve.log")).unwrap()));
        let mut guard = ChildGuard::spawn("dlpgate serve", &mut cmd);
        let deadline = Instant::now() + Duration::from_secs(20);
        while !listening(port) {
            let log = || std::fs::read_to_string(dir.path().join("serve.log")).unwrap_or_default();
            if let Ok(Some(status)) = guard.child.try_wait() {
                panic!("dlpgate serve exited ({status}) before listening on {port}:\n{}", log());
            }
            assert!(
                Instant::now() < deadline,
                "dlpgate serve not listening on {port} after 20 s:\n{}",
                log()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
        Self { guard, port, addr: SocketAddr::from(([127, 0, 0, 1], port)), dir }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("serve.log")).unwrap_or_default()
    }
}

/// Sends raw bytes and reads until the server closes or `timeout` passes.
pub fn exchange_raw(addr: SocketAddr, request: &[u8], timeout: Duration) -> (Vec<u8>, bool) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(timeout)).unwrap();
    stream.write_all(request).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let closed = loop {
        match stream.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(_) => break false,
        }
    };
    (out, closed)
}

/// The status code of the first ICAP response in `bytes`.
pub fn icap_status(bytes: &[u8]) -> u16 {
    let text = String::from_utf8_lossy(bytes);
    let line = text.lines().next().unwrap_or_default();
    assert!(line.starts_with("ICAP/1.0 "), "not an ICAP answer: {line:?}");
    line[9..12].parse().unwrap()
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

/// A tiny HTTP/1.1 origin: GET returns `download`, POST echoes the request body.
pub fn start_origin(download: Vec<u8>) -> u16 {
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
    let guard = ChildGuard::spawn("squid", &mut cmd);
    wait_for_port(port, Duration::from_secs(30));
    (guard, port)
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
ModulesDir /usr/lib/x86_64-linux-gnu/c_icap
ServicesDir /usr/lib/x86_64-linux-gnu/c_icap
TemplateDir /usr/share/c_icap/templates/
ServerLog {run}/server.log
AccessLog {run}/access.log
{services}",
        run = run.display()
    );
    let conf_path = run.join("c-icap.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let mut cmd = Command::new(c_icap);
    cmd.arg("-N").arg("-f").arg(&conf_path).stdout(Stdio::null()).stderr(Stdio::null());
    let guard = ChildGuard::spawn(name, &mut cmd);
    wait_for_port(port, Duration::from_secs(20));
    (guard, port)
}

/// What `reqmod` read back.
pub struct Answer {
    pub head: String,
    pub status: u16,
    pub istag: String,
    pub blocked: bool,
}

/// One REQMOD on a kept-alive connection, 204 offered, no preview.
pub fn reqmod(reader: &mut BufReader<TcpStream>, port: u16, body: &[u8]) -> std::io::Result<Answer> {
    let http = "POST /upload HTTP/1.1\r\nHost: upload.test\r\nContent-Type: text/plain\r\n\r\n";
    let mut msg = format!(
        "REQMOD icap://127.0.0.1:{port}/reqmod ICAP/1.0\r\nHost: 127.0.0.1\r\nAllow: 204\r\n\
         Encapsulated: req-hdr=0, req-body={}\r\n\r\n{http}{:x}\r\n",
        http.len(),
        body.len()
    )
    .into_bytes();
    msg.extend_from_slice(body);
    msg.extend_from_slice(b"\r\n0\r\n\r\n");
    reader.get_mut().write_all(&msg)?;

    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "closed mid-answer"));
        }
        if line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let status = head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let header = |name: &str| {
        head.lines()
            .find_map(|l| {
                l.split_once(':').filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim())
            })
            .unwrap_or_default()
            .to_string()
    };
    let encapsulated = header("Encapsulated");
    let mut blocked = false;
    if status == 200 {
        // The encapsulated HTTP head(s), then the chunked body when there is one.
        let body_at: usize = encapsulated
            .split(',')
            .find_map(|p| p.trim().strip_prefix("res-body=").or(p.trim().strip_prefix("req-body=")))
            .or(encapsulated.split(',').find_map(|p| p.trim().strip_prefix("null-body=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut http_head = vec![0; body_at];
        reader.read_exact(&mut http_head)?;
        blocked = String::from_utf8_lossy(&http_head).contains(" 403 ");
        if !encapsulated.contains("null-body") {
            loop {
                let mut size = String::new();
                reader.read_line(&mut size)?;
                let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or(""), 16).unwrap_or(0);
                let mut chunk = vec![0; n + 2];
                reader.read_exact(&mut chunk)?;
                if n == 0 {
                    break;
                }
            }
        }
    }
    let istag = header("ISTag");
    Ok(Answer { head, status, istag, blocked })
}

/// A port whose accept queue is full: a new connection gets no answer at all (the kernel
/// drops its SYN), as behind a firewall that drops packets. Keep the returned sockets alive.
pub fn black_hole() -> (u16, socket2::Socket, TcpStream) {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into()).unwrap();
    socket.listen(0).unwrap();
    let port = socket.local_addr().unwrap().as_socket().unwrap().port();
    let filler = TcpStream::connect(("127.0.0.1", port)).unwrap();
    (port, socket, filler)
}
