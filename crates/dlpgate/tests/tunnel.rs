//! `dlpgate tunnel` with stunnel.conf files: the seed's file in front of the real c-icap, client
//! mode to a real stunnel server, failover, PROXY headers, metrics, and errors that name lines.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use support::{free_port, openssl, pseudo_random, require, start_c_icap, wait_for_port, ChildGuard, Dlpgate};

/// The seed's certificate steps, for the server (`stunnel-key.pem`) and the CASB client.
fn seed_certificates(dir: &Path) {
    openssl(dir, &["genrsa", "-out", "key.pem", "2048"]);
    openssl(
        dir,
        &["req", "-new", "-x509", "-key", "key.pem", "-out", "cert.pem", "-days", "1095", "-subj", "/CN=dlp"],
    );
    let mut combined = std::fs::read(dir.join("key.pem")).unwrap();
    combined.extend(std::fs::read(dir.join("cert.pem")).unwrap());
    std::fs::write(dir.join("stunnel-key.pem"), combined).unwrap();
    // The seed asks for "readable for the stunnel owner and none for everyone else".
    std::fs::set_permissions(
        dir.join("stunnel-key.pem"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    openssl(dir, &["genrsa", "-out", "casb.key", "2048"]);
    openssl(
        dir,
        &[
            "req", "-new", "-x509", "-key", "casb.key", "-out", "casb.crt", "-days", "1095", "-subj",
            "/CN=casb",
        ],
    );
}

fn start_tunnel(dir: &Path, conf: &str, extra: &[&str]) -> (ChildGuard, std::path::PathBuf) {
    let path = dir.join(format!("tunnel-{}.conf", free_port()));
    std::fs::write(&path, conf).unwrap();
    let log = path.with_extension("log");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dlpgate"));
    cmd.args(["tunnel", "--config"])
        .arg(&path)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(&log).unwrap()));
    (ChildGuard::spawn("dlpgate tunnel", &mut cmd), log)
}

fn s_client_options(port: u16, dir: &Path, cert: Option<(&str, &str)>) -> String {
    let mut cmd = Command::new(require("openssl"));
    cmd.current_dir(dir)
        .args(["s_client", "-quiet", "-connect", &format!("127.0.0.1:{port}"), "-CAfile", "cert.pem"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some((c, k)) = cert {
        cmd.args(["-cert", c, "-key", k]);
    }
    let mut child = cmd.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"OPTIONS icap://127.0.0.1/echo ICAP/1.0\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)
}

#[test]
fn the_seeds_stunnel_conf_in_front_of_c_icap() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    seed_certificates(d);
    let (_c_icap, c_icap_port) = start_c_icap(d);
    let port = free_port();
    // The seed's file, with loopback addresses and this test's paths.
    let conf = format!(
        "[microsoft-cas]\naccept = 127.0.0.1:{port}\nconnect = 127.0.0.1:{c_icap_port}\ncert = {d}/stunnel-key.pem\nCAfile = {d}/casb.crt\nTIMEOUTclose = 1\n",
        d = d.display()
    );
    let (_tunnel, log) = start_tunnel(d, &conf, &[]);
    wait_for_port(port, Duration::from_secs(10));

    let out = s_client_options(port, d, Some(("casb.crt", "casb.key")));
    assert!(
        out.contains("ICAP/1.0 200 OK") && out.contains("C-ICAP"),
        "c-icap answers through the tunnel:\n{out}"
    );
    let out = s_client_options(port, d, None);
    assert!(!out.contains("ICAP/1.0"), "no client certificate, no service:\n{out}");
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert!(
        log_text.contains("stunnel would check nothing"),
        "the stricter default is announced:\n{log_text}"
    );

    // A real ICAP client behind a stunnel client: 2 MiB through both tunnels, echoed intact.
    let plain = free_port();
    let client_conf = format!(
        "foreground = yes\npid =\n[c]\nclient = yes\naccept = 127.0.0.1:{plain}\nconnect = 127.0.0.1:{port}\ncert = {d}/casb.crt\nkey = {d}/casb.key\nverifyPeer = yes\nCAfile = {d}/cert.pem\n",
        d = d.display()
    );
    std::fs::write(d.join("stunnel-client.conf"), client_conf).unwrap();
    let _stunnel = ChildGuard::spawn(
        "stunnel",
        Command::new(require("stunnel4"))
            .arg(d.join("stunnel-client.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    wait_for_port(plain, Duration::from_secs(10));
    let input = d.join("body");
    std::fs::write(&input, pseudo_random(2 * 1024 * 1024, 77)).unwrap();
    let mut echoed = false;
    // srv_echo alternates 200 and 204: ask until it echoes.
    for i in 0..4 {
        let output = d.join(format!("echoed-{i}"));
        let out = Command::new(require("c-icap-client"))
            .args([
                "-i",
                "127.0.0.1",
                "-p",
                &plain.to_string(),
                "-s",
                "echo",
                "-nopreview",
                "-no204",
                "-v",
                "-f",
            ])
            .arg(&input)
            .arg("-o")
            .arg(&output)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
        assert!(text.contains("ICAP/1.0 200") || text.contains("ICAP/1.0 204"), "{text}");
        if text.contains("ICAP/1.0 200") {
            assert!(
                std::fs::read(&output).unwrap() == std::fs::read(&input).unwrap(),
                "byte-exact both ways"
            );
            echoed = true;
        }
    }
    assert!(echoed, "srv_echo echoed at least once");
}

#[test]
fn client_mode_to_a_stunnel_server() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    seed_certificates(d);
    let server = Dlpgate::start(&[]);
    // A real stunnel server in front of dlpgate serve, requiring the CASB certificate.
    let tls_port = free_port();
    let stunnel_conf = format!(
        "foreground = yes\npid =\ndebug = info\noutput = {d}/stunnel-server.log\n[icaps]\naccept = 127.0.0.1:{tls_port}\nconnect = 127.0.0.1:{icap}\ncert = {d}/cert.pem\nkey = {d}/key.pem\nverify = 2\nCAfile = {d}/casb.crt\n",
        d = d.display(),
        icap = server.port
    );
    std::fs::write(d.join("stunnel-server.conf"), stunnel_conf).unwrap();
    let _stunnel = ChildGuard::spawn(
        "stunnel server",
        Command::new(require("stunnel4"))
            .arg(d.join("stunnel-server.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    wait_for_port(tls_port, Duration::from_secs(10));
    let plain = free_port();
    let conf = format!(
        "[to-dlp]\nclient = yes\naccept = 127.0.0.1:{plain}\nconnect = 127.0.0.1:{tls_port}\ncert = {d}/casb.crt\nkey = {d}/casb.key\nCAfile = {d}/cert.pem\ncheckHost = dlp\nsslVersionMin = TLSv1.2\n",
        d = d.display()
    );
    let (_tunnel, log) = start_tunnel(d, &conf, &[]);
    wait_for_port(plain, Duration::from_secs(10));
    let out = Command::new(require("c-icap-client"))
        .args(["-i", "127.0.0.1", "-p", &plain.to_string(), "-s", "echo", "-v"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("ICAP/1.0 200 OK") && text.contains("dlpgate"),
        "{text}\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(&log).unwrap()
    );

    // The wrong host name is refused (checkHost).
    let plain2 = free_port();
    let conf = format!(
        "[to-dlp]\nclient = yes\naccept = 127.0.0.1:{plain2}\nconnect = 127.0.0.1:{tls_port}\ncert = {d}/casb.crt\nkey = {d}/casb.key\nCAfile = {d}/cert.pem\ncheckHost = other.example\n",
        d = d.display()
    );
    let (_tunnel2, log2) = start_tunnel(d, &conf, &[]);
    wait_for_port(plain2, Duration::from_secs(10));
    let out = Command::new(require("c-icap-client"))
        .args(["-i", "127.0.0.1", "-p", &plain2.to_string(), "-s", "echo", "-v"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(!text.contains("ICAP/1.0 200"), "{text}");
    support::wait_for_log(
        || std::fs::read_to_string(&log2).unwrap(),
        "certificate_name_mismatch",
        1,
        Duration::from_secs(10),
    );
}

#[test]
fn failover_proxy_header_and_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = Command::new(env!("CARGO_BIN_EXE_dlpgate"))
        .current_dir(d)
        .args(["cert", "init", "--dir", ".", "--force"])
        .output()
        .unwrap();
    assert!(out.status.success());
    // A backend that records the PROXY line, then echoes.
    let backend = TcpListener::bind("127.0.0.1:0").unwrap();
    let backend_port = backend.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for stream in backend.incoming().flatten() {
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                tx.send(line).unwrap();
                let mut stream = stream;
                let mut buf = [0u8; 1024];
                loop {
                    let n = reader.read(&mut buf).unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    stream.write_all(&buf[..n]).unwrap();
                }
            });
        }
    });
    let dead = free_port();
    let port = free_port();
    let metrics = free_port();
    let conf = format!(
        "[svc]\naccept = 127.0.0.1:{port}\nconnect = 127.0.0.1:{dead}\nconnect = 127.0.0.1:{backend_port}\nfailover = prio\nprotocol = proxy\ncert = {d}/server.crt\nkey = {d}/server.key\nCAfile = {d}/ca.crt\nverifyChain = yes\n",
        d = d.display()
    );
    let (_tunnel, _log) = start_tunnel(d, &conf, &["--metrics-listen", &format!("127.0.0.1:{metrics}")]);
    wait_for_port(port, Duration::from_secs(10));
    let mut child = Command::new(require("openssl"))
        .current_dir(d)
        .args(["s_client", "-quiet", "-connect", &format!("127.0.0.1:{port}"), "-CAfile", "ca.crt"])
        .args(["-cert", "client.crt", "-key", "client.key"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child.stdin.as_mut().unwrap().write_all(b"ping through the tunnel\n").unwrap();
    let line = rx.recv_timeout(Duration::from_secs(10)).expect("the backend got a connection");
    assert!(line.starts_with("PROXY TCP4 127.0.0.1 127.0.0.1 "), "{line}");
    assert!(line.ends_with(&format!(" {port}\r\n")), "{line}");
    let mut echoed = vec![0u8; 24];
    child.stdout.as_mut().unwrap().read_exact(&mut echoed).unwrap();
    assert_eq!(&echoed, b"ping through the tunnel\n");
    drop(child.stdin.take());
    let _ = child.kill();
    let _ = child.wait();
    // One failed handshake, for the metrics.
    let _ = TcpStream::connect(("127.0.0.1", port)).and_then(|mut s| s.write_all(b"not tls at all\r\n\r\n"));
    let scrape = || {
        let mut s = TcpStream::connect(("127.0.0.1", metrics)).unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        text
    };
    // The failed handshake is counted once the tunnel has given up on it.
    let text =
        support::wait_for_log(scrape, "dlpgate_tunnel_handshake_failures_total{", 1, Duration::from_secs(10));
    assert!(
        text.contains(&format!(
            "dlpgate_tunnel_backend_connect_failures_total{{service=\"svc\",backend=\"127.0.0.1:{dead}\"}} 1"
        )),
        "{text}"
    );
    assert!(text.contains("dlpgate_tunnel_handshake_failures_total{service=\"svc\",reason="), "{text}");
    assert!(text.contains("dlpgate_tunnel_certificate_expiry_days{service=\"svc\"} 10"), "{text}");
    assert!(text.contains("dlpgate_tunnel_open_connections"), "{text}");
}

#[test]
fn configuration_errors_name_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("stunnel.conf");
    std::fs::write(&conf, "; Debian's sample\nsetuid = stunnel4\n[s]\naccept = 1\nconnect = 2\ncert = c\n")
        .unwrap();
    let out =
        Command::new(env!("CARGO_BIN_EXE_dlpgate")).args(["tunnel", "--config"]).arg(&conf).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("stunnel.conf:2") && err.contains("setuid"), "{err}");

    std::fs::write(&conf, "[s]\naccept = 127.0.0.1:0\nconnect = 2\ncert = c\nciphers = RC4-SHA\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_dlpgate"))
        .args(["tunnel", "--check", "--config"])
        .arg(&conf)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("stunnel.conf:5") && err.contains("no TLS 1.2 suite"),
        "{err}"
    );
}

#[test]
fn stalled_handshakes_time_out_and_cannot_keep_clients_out() {
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = Command::new(env!("CARGO_BIN_EXE_dlpgate"))
        .current_dir(d)
        .args(["cert", "init", "--dir", ".", "--force"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let backend = TcpListener::bind("127.0.0.1:0").unwrap();
    let backend_port = backend.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in backend.incoming().flatten() {
            std::thread::spawn(move || {
                let mut stream = stream;
                let mut buf = [0u8; 1024];
                while let Ok(n @ 1..) = stream.read(&mut buf) {
                    let _ = stream.write_all(&buf[..n]);
                }
            });
        }
    });
    let port = free_port();
    let conf = format!(
        "[svc]\naccept = 127.0.0.1:{port}\nconnect = 127.0.0.1:{backend_port}\ncert = {d}/server.crt\nkey = {d}/server.key\nCAfile = {d}/ca.crt\nverifyChain = yes\n",
        d = d.display()
    );
    // stunnel's TIMEOUTbusy (300 s) no longer bounds the handshake: 10 s by default, 2 here.
    let (_tunnel, _log) = start_tunnel(d, &conf, &["--handshake-timeout", "2", "--max-handshakes", "50"]);
    wait_for_port(port, Duration::from_secs(10));
    // More sockets that never start their handshake than there are handshake slots...
    let idle: Vec<TcpStream> = (0..500).map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap()).collect();
    // ...and one more, among the newest, which keeps its slot until its handshake times out.
    let mut stalled = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let started = std::time::Instant::now();
    let mut child = Command::new(require("openssl"))
        .current_dir(d)
        .args(["s_client", "-quiet", "-connect", &format!("127.0.0.1:{port}"), "-CAfile", "ca.crt"])
        .args(["-cert", "client.crt", "-key", "client.key"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child.stdin.as_mut().unwrap().write_all(b"a real client\n").unwrap();
    let mut echoed = vec![0u8; 14];
    child.stdout.as_mut().unwrap().read_exact(&mut echoed).unwrap();
    assert_eq!(&echoed, b"a real client\n", "served while 500 idle sockets sit on the port");
    drop(child.stdin.take());
    let _ = child.kill();
    let _ = child.wait();
    stalled.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut byte = [0u8; 1];
    let _ = stalled.read(&mut byte);
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(1500) && took < Duration::from_secs(10), "closed after {took:?}");
    drop(idle);
}
