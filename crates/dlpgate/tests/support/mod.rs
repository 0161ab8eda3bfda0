//! Helpers for tests that start real processes on loopback: free ports, child guards, waits.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod c_icap_client;
pub mod cef;
pub mod console;
pub mod load;

pub use testpeers::*;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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

    /// Waits (up to 10 s) until the log holds `needle` at least `count` times; gives the log.
    pub fn wait_for_log(&self, needle: &str, count: usize) -> String {
        testpeers::wait_for_log(|| self.log(), needle, count, Duration::from_secs(10))
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

/// Runs `openssl` in `dir` (file arguments relative to it); panics unless it succeeds; gives
/// what it printed (stdout, then stderr).
pub fn openssl(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(require("openssl")).current_dir(dir).args(args).output().expect("running openssl");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)
}

/// `dlpgate cert init --force` into `dir`: ca, server and client certificates and keys.
pub fn cert_init(dir: &Path) {
    let out = Command::new(env!("CARGO_BIN_EXE_dlpgate"))
        .current_dir(dir)
        .args(["cert", "init", "--dir", ".", "--force"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// A GET over HTTP/1.1 to `127.0.0.1:port` (the metrics endpoint); the whole answer.
pub fn http_get(port: u16, path: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    text
}

/// The status code of the first ICAP response in `bytes`.
pub fn icap_status(bytes: &[u8]) -> u16 {
    let text = String::from_utf8_lossy(bytes);
    let line = text.lines().next().unwrap_or_default();
    assert!(line.starts_with("ICAP/1.0 "), "not an ICAP answer: {line:?}");
    line[9..12].parse().unwrap()
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

/// What `reqmod` read back.
pub struct Answer {
    pub head: String,
    pub status: u16,
    pub istag: String,
    pub blocked: bool,
}

/// One REQMOD on a kept-alive connection, 204 offered, no preview.
pub fn reqmod(reader: &mut BufReader<TcpStream>, port: u16, body: &[u8]) -> std::io::Result<Answer> {
    reqmod_to(reader, port, "/upload", body)
}

/// [`reqmod`] of an upload to `target` (the URL incidents record).
pub fn reqmod_to(
    reader: &mut BufReader<TcpStream>,
    port: u16,
    target: &str,
    body: &[u8],
) -> std::io::Result<Answer> {
    let http = format!("POST {target} HTTP/1.1\r\nHost: upload.test\r\nContent-Type: text/plain\r\n\r\n");
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
