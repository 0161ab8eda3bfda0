//! SIEM forwarding from a real `dlpgate serve` (issue 14), every receiver on loopback: rsyslog
//! from Debian over TCP and TLS (with a client certificate), a small HTTP receiver standing in
//! for Splunk HEC and a webhook (it checks the token), a receiver down for 30 s while 1,000
//! incidents are made, and a kill -9 of dlpgate mid-delivery.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::HashSet;
use std::io::{BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::load::{incident_id, metrics, sample, CLEAR, LEAK};
use support::{cert_init, free_port, reqmod, require, wait_for_port, wait_until, ChildGuard, Dlpgate};

/// Makes `count` incidents over `clients` connections; their ids.
fn make_incidents(server: &Dlpgate, count: usize, clients: usize) -> HashSet<String> {
    let per = count.div_ceil(clients);
    let threads: Vec<_> = (0..clients)
        .map(|n| {
            let (addr, port) = (server.addr, server.port);
            let mine = per.min(count.saturating_sub(n * per));
            std::thread::spawn(move || {
                let stream = TcpStream::connect(addr).unwrap();
                stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                let mut conn = BufReader::new(stream);
                (0..mine)
                    .map(|_| {
                        let answer = reqmod(&mut conn, port, LEAK).unwrap();
                        assert!(answer.blocked, "{}", answer.head);
                        incident_id(&answer.head).unwrap()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let ids: HashSet<String> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    assert_eq!(ids.len(), count);
    ids
}

/// Every incident id (`inc-` and 32 hex digits) in `text`, in order.
fn ids_in(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("inc-") {
        let candidate = rest[at + 4..].get(..32).unwrap_or("");
        if candidate.len() == 32 && candidate.bytes().all(|b| b.is_ascii_hexdigit()) {
            out.push(format!("inc-{candidate}"));
        }
        rest = &rest[at + 4..];
    }
    out
}

// ---------------------------------------------------------------- an HTTP receiver

/// What the HTTP receiver saw.
#[derive(Default)]
struct Seen {
    /// Bodies of requests it accepted.
    bodies: Vec<(String, Vec<u8>)>,
    /// Requests refused for a wrong or missing token.
    refused: usize,
}

/// A small HTTP/1.1 receiver (one request per connection, as dlpgate sends them) that accepts
/// a POST only with `Authorization: <scheme> <token>`, and can be stopped and started again
/// on its port.
struct HttpReceiver {
    port: u16,
    authorization: String,
    delay: Duration,
    seen: Arc<Mutex<Seen>>,
    running: Option<(Arc<AtomicBool>, std::thread::JoinHandle<()>)>,
}

impl HttpReceiver {
    fn start(authorization: &str, delay: Duration) -> Self {
        // Bound at once on a port of the kernel's choosing: a free port picked first could be
        // taken by a parallel test before the bind (CI saw AddrInUse here).
        let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let mut r = Self {
            port: listener.local_addr().unwrap().port(),
            authorization: authorization.to_string(),
            delay,
            seen: Arc::default(),
            running: None,
        };
        r.serve(listener);
        r
    }

    /// Opens the port again after [`Self::stop`].
    fn resume(&mut self) {
        self.serve(TcpListener::bind(("127.0.0.1", self.port)).unwrap());
    }

    fn serve(&mut self, listener: TcpListener) {
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, seen, auth, delay) =
            (stop.clone(), self.seen.clone(), self.authorization.clone(), self.delay);
        let accept = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let (seen, auth) = (seen.clone(), auth.clone());
                std::thread::spawn(move || serve_one(stream, &auth, delay, &seen));
            }
        });
        self.running = Some((stop, accept));
    }

    /// Closes the port: connections are refused until [`Self::resume`].
    fn stop(&mut self) {
        if let Some((stop, accept)) = self.running.take() {
            stop.store(true, Ordering::SeqCst);
            let _ = TcpStream::connect(("127.0.0.1", self.port));
            accept.join().unwrap();
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Every accepted event's incident id, duplicates included.
    fn ids(&self) -> Vec<String> {
        let seen = self.seen.lock().unwrap();
        seen.bodies.iter().flat_map(|(_, b)| ids_in(&String::from_utf8_lossy(b))).collect()
    }

    fn distinct(&self) -> HashSet<String> {
        self.ids().into_iter().collect()
    }
}

fn serve_one(mut stream: TcpStream, authorization: &str, delay: Duration, seen: &Mutex<Seen>) {
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 64 * 1024];
    let (path, auth, length, head_len) = loop {
        let n = match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        if let Ok(httparse::Status::Complete(len)) = req.parse(&buf) {
            let header = |name: &str| {
                req.headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case(name))
                    .map(|h| String::from_utf8_lossy(h.value).into_owned())
            };
            let length: usize = header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
            break (req.path.unwrap_or("").to_string(), header("authorization"), length, len);
        }
    };
    while buf.len() < head_len + length {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    std::thread::sleep(delay);
    let answer = if auth.as_deref() == Some(authorization) {
        seen.lock().unwrap().bodies.push((path, buf[head_len..head_len + length].to_vec()));
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 27\r\n\r\n{\"text\":\"Success\",\"code\":0}"
    } else {
        seen.lock().unwrap().refused += 1;
        "HTTP/1.1 403 Forbidden\r\nContent-Length: 13\r\n\r\nInvalid token"
    };
    let _ = stream.write_all(answer.as_bytes());
}

fn token_file(dir: &Path, name: &str, token: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, format!("{token}\n")).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn hec_and_webhook_get_every_incident_after_a_30_s_outage_and_a_wrong_token_gets_none() {
    let dir = tempfile::tempdir().unwrap();
    let mut hec = HttpReceiver::start("Splunk hec-secret", Duration::ZERO);
    let hook = HttpReceiver::start("Bearer hook-secret", Duration::ZERO);
    let wrong = HttpReceiver::start("Bearer the-real-one", Duration::ZERO);
    let metrics_port = free_port();
    let (hec_url, hook_url, wrong_url) =
        (hec.url("/services/collector/event"), hook.url("/hooks/dlp"), wrong.url("/hooks/dlp"));
    let server = Dlpgate::start(&[
        "--siem",
        &hec_url,
        "--siem",
        &hook_url,
        "--siem",
        &wrong_url,
        "--siem-token-file",
        &token_file(dir.path(), "hec", "hec-secret"),
        "--siem-token-file",
        &token_file(dir.path(), "hook", "hook-secret"),
        "--siem-token-file",
        &token_file(dir.path(), "wrong", "a-guess"),
        "--siem-poll-ms",
        "100",
        "--siem-retry-max-ms",
        "1000",
        "--metrics-listen",
        &format!("127.0.0.1:{metrics_port}"),
    ]);
    wait_for_port(metrics_port, Duration::from_secs(10));
    let mut made = make_incidents(&server, 10, 1);
    wait_until(Duration::from_secs(15), "the first incidents at HEC and the webhook", || {
        hec.distinct() == made && hook.distinct() == made
    });

    hec.stop();
    let down = Instant::now();
    made.extend(make_incidents(&server, 1000, 4));
    std::thread::sleep(Duration::from_secs(30).saturating_sub(down.elapsed()));
    assert!(hec.distinct().len() == 10, "HEC was down");
    hec.resume();
    wait_until(Duration::from_secs(30), "all 1,010 incidents at HEC after the outage", || {
        hec.distinct() == made
    });
    wait_until(Duration::from_secs(10), "all 1,010 incidents at the webhook", || hook.distinct() == made);

    // HEC: events one after another, each with its time, sourcetype and ECS document.
    let seen = hec.seen.lock().unwrap();
    for (path, body) in &seen.bodies {
        assert_eq!(path, "/services/collector/event");
        for event in serde_json::Deserializer::from_slice(body).into_iter::<serde_json::Value>() {
            let event = event.unwrap();
            assert_eq!(event["sourcetype"], "dlpgate:incident:ecs");
            assert_eq!(event["event"]["event"]["kind"], "alert");
            assert_eq!(event["event"]["rule"]["name"][0], "credit-card", "{event}");
            assert!(event["time"].as_str().unwrap().contains('.'));
        }
        let text = String::from_utf8_lossy(body);
        assert!(CLEAR.iter().all(|c| !text.contains(c)), "a clear card number was sent: {text}");
    }
    drop(seen);
    // The webhook: a JSON array of ECS documents per request.
    for (_, body) in &hook.seen.lock().unwrap().bodies {
        let docs: Vec<serde_json::Value> = serde_json::from_slice(body).unwrap();
        assert!(docs.iter().all(|d| d["event"]["id"].as_str().is_some_and(|id| made.contains(id))));
    }
    // The wrong token was refused every time, and nothing was taken.
    let wrong_seen = wrong.seen.lock().unwrap();
    assert!(wrong_seen.bodies.is_empty() && wrong_seen.refused > 0);
    drop(wrong_seen);

    let text = metrics(metrics_port);
    let series = |name: &str, sink: &str| sample(&text, &format!("dlpgate_siem_{name}{{sink=\"{sink}\"}}"));
    assert!(series("delivered_total", &hec_url).unwrap() >= 1010.0, "{text}");
    assert!(series("failed_total", &hec_url).unwrap() >= 1.0, "{text}");
    assert_eq!(series("failed_total", &hook_url), Some(0.0), "{text}");
    assert_eq!(series("delivered_total", &wrong_url), Some(0.0), "{text}");
    assert!(series("queued", &wrong_url).unwrap() >= 1.0, "{text}");
    // A sink that is down held nothing up: every one of the 1,000 verdicts came while HEC was.
    drop(server);
}

#[test]
fn kill_9_mid_delivery_then_a_restart_delivers_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // A slow receiver: 20 incidents per batch, 200 ms per batch.
    let hook = HttpReceiver::start("Bearer t", Duration::from_millis(200));
    let token = token_file(dir.path(), "token", "t");
    let url = hook.url("/hook");
    // The restarted server listens on another port, so it is another owner: it takes the
    // sink over once the killed one's lease has run out.
    let args = [
        "--siem",
        &url,
        "--siem-token-file",
        &token,
        "--siem-batch",
        "20",
        "--siem-poll-ms",
        "100",
        "--siem-lease-ms",
        "2000",
    ];
    let mut server = Dlpgate::start_with_data(&data, &args);
    let made = make_incidents(&server, 300, 4);
    wait_until(Duration::from_secs(30), "some incidents delivered", || hook.distinct().len() >= 60);
    server.guard.child.kill().unwrap();
    server.guard.child.wait().unwrap();
    let before = hook.distinct();
    assert!(before.len() < made.len(), "all delivered before the kill: nothing left to test");

    let _server = Dlpgate::start_with_data(&data, &args);
    wait_until(Duration::from_secs(30), "the rest delivered after the restart", || hook.distinct() == made);
    // Resent after the kill: at most the batches in flight, and with the same ids.
    let all = hook.ids();
    assert!(all.iter().all(|id| made.contains(id)));
    assert!(
        all.len() <= made.len() + 2 * 20,
        "{} sent for {} incidents: the cursor was lost",
        all.len(),
        made.len()
    );
}

// ---------------------------------------------------------------- rsyslog

/// An rsyslogd on a loopback port writing every message's raw text, one a line, to `out`.
struct Rsyslog {
    guard: ChildGuard,
    port: u16,
    conf: PathBuf,
    pidfile: PathBuf,
    out: PathBuf,
}

impl Rsyslog {
    /// Plain TCP, or TLS (gtls) requiring a client certificate from `certs`' CA.
    fn start(dir: &Path, name: &str, certs: Option<&Path>) -> Self {
        let work = dir.join(name);
        std::fs::create_dir_all(&work).unwrap();
        let port = free_port();
        let out = work.join("out.log");
        let tls = match certs {
            Some(c) => format!(
                "global(DefaultNetstreamDriver=\"gtls\" DefaultNetstreamDriverCAFile=\"{0}/ca.crt\" \
                 DefaultNetstreamDriverCertFile=\"{0}/server.crt\" DefaultNetstreamDriverKeyFile=\"{0}/server.key\")\n\
                 module(load=\"imtcp\" StreamDriver.Name=\"gtls\" StreamDriver.Mode=\"1\" StreamDriver.AuthMode=\"x509/certvalid\")\n",
                c.display()
            ),
            None => "module(load=\"imtcp\")\n".to_string(),
        };
        let conf = work.join("rsyslog.conf");
        std::fs::write(
            &conf,
            format!(
                "global(workDirectory=\"{w}\" maxMessageSize=\"64k\")\n{tls}\
                 input(type=\"imtcp\" port=\"{port}\" address=\"127.0.0.1\")\n\
                 template(name=\"raw\" type=\"string\" string=\"%rawmsg%\\n\")\n\
                 action(type=\"omfile\" file=\"{o}\" template=\"raw\" flushOnTXEnd=\"on\" asyncWriting=\"off\")\n",
                w = work.display(),
                o = out.display()
            ),
        )
        .unwrap();
        let pidfile = work.join("rsyslogd.pid");
        let guard = spawn_rsyslogd(&conf, &pidfile);
        wait_for_port(port, Duration::from_secs(10));
        Self { guard, port, conf, pidfile, out }
    }

    fn restart(&mut self) {
        self.guard = spawn_rsyslogd(&self.conf, &self.pidfile);
        wait_for_port(self.port, Duration::from_secs(10));
    }

    fn stop(&mut self) {
        self.guard.terminate(Duration::from_secs(10));
    }

    fn lines(&self) -> Vec<String> {
        std::fs::read_to_string(&self.out).unwrap_or_default().lines().map(str::to_string).collect()
    }

    fn distinct(&self) -> HashSet<String> {
        self.lines().iter().flat_map(|l| ids_in(l)).collect()
    }
}

fn spawn_rsyslogd(conf: &Path, pidfile: &Path) -> ChildGuard {
    let _ = std::fs::remove_file(pidfile);
    let mut cmd = Command::new(require("rsyslogd"));
    cmd.arg("-n").arg("-f").arg(conf).arg("-i").arg(pidfile);
    cmd.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
    ChildGuard::spawn("rsyslogd", &mut cmd)
}

/// A REQMOD whose URL and file name hold every character CEF and RFC 5424 escape; its id.
fn make_special_incident(server: &Dlpgate) -> String {
    let url = "http://upload.test/a|b\\c=d\"e]f?x=1&y=a=b|c\\\\";
    let http = format!(
        "POST {url} HTTP/1.1\r\nHost: upload.test\r\nContent-Type: text/plain\r\n\
         Content-Disposition: attachment; filename=\"q3 = plan|v2\\\\final].txt\"\r\n\r\n"
    );
    let body = LEAK;
    let mut msg = format!(
        "REQMOD icap://127.0.0.1:{}/reqmod ICAP/1.0\r\nHost: 127.0.0.1\r\nAllow: 204\r\n\
         Encapsulated: req-hdr=0, req-body={}\r\n\r\n{http}{:x}\r\n",
        server.port,
        http.len(),
        body.len()
    )
    .into_bytes();
    msg.extend_from_slice(body);
    msg.extend_from_slice(b"\r\n0\r\n\r\n");
    let (answer, _) = support::exchange_raw(server.addr, &msg, Duration::from_secs(10));
    let head = String::from_utf8_lossy(&answer).to_string();
    incident_id(head.split("\r\n\r\n").next().unwrap()).unwrap_or_else(|| panic!("no incident: {head}"))
}

#[test]
fn rsyslog_gets_every_incident_over_tcp_and_tls_and_cef_values_parse_back() {
    require("rsyslogd");
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    cert_init(&certs);
    let mut tcp = Rsyslog::start(dir.path(), "tcp", None);
    let tls = Rsyslog::start(dir.path(), "tls", Some(&certs));
    let data = dir.path().join("data");
    let (tcp_url, tls_url) =
        (format!("syslog+tcp://127.0.0.1:{}", tcp.port), format!("syslog+tls://localhost:{}", tls.port));
    let cert = |f: &str| certs.join(f).to_str().unwrap().to_string();
    let server = Dlpgate::start_with_data(
        &data,
        &[
            "--siem",
            &tcp_url,
            "--siem",
            &tls_url,
            "--siem-format",
            "cef",
            "--siem-format",
            "rfc5424",
            "--siem-ca",
            &cert("ca.crt"),
            "--siem-client-cert",
            &cert("client.crt"),
            "--siem-client-key",
            &cert("client.key"),
            "--siem-poll-ms",
            "100",
            "--siem-retry-max-ms",
            "500",
        ],
    );
    let mut made = make_incidents(&server, 50, 2);
    let special = make_special_incident(&server);
    made.insert(special.clone());
    wait_until(Duration::from_secs(20), "every incident in rsyslog over TCP", || tcp.distinct() == made);
    wait_until(Duration::from_secs(20), "every incident in rsyslog over TLS", || tls.distinct() == made);

    // Over TLS, RFC 5424 with the incident as structured data.
    let tls_lines = tls.lines();
    assert!(
        tls_lines.iter().all(|l| l.contains(" dlpgate - incident [dlpgate@32473 id=\"inc-")),
        "{tls_lines:?}"
    );
    assert!(tls_lines.iter().all(|l| CLEAR.iter().all(|c| !l.contains(c))));

    // Over TCP, CEF: the special file name and URL parse back to what the store holds.
    let db = rusqlite::Connection::open(data.join("incidents.db")).unwrap();
    let (file_name, url): (String, String) = db
        .query_row("SELECT file_name, url FROM incidents WHERE id = ?1", [&special], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    for c in ['|', '=', '\\'] {
        assert!(file_name.contains(c) && url.contains(c), "{c:?} missing from {file_name:?} or {url:?}");
    }
    let lines = tcp.lines();
    let line = lines.iter().find(|l| l.contains(&special)).unwrap();
    let (header, ext) = support::cef::parse_cef(line);
    assert_eq!(header[..3], ["0", "dlpgate", "dlpgate"]);
    assert_eq!(ext["externalId"], special);
    assert_eq!(ext["fname"], file_name, "{line}");
    assert_eq!(ext["request"], url, "{line}");
    assert_eq!(ext["act"], "block");

    // rsyslog over TCP down for a while: what is made meanwhile arrives once it is back.
    tcp.stop();
    made.extend(make_incidents(&server, 100, 2));
    std::thread::sleep(Duration::from_secs(2));
    tcp.restart();
    wait_until(Duration::from_secs(20), "the incidents made while rsyslog was down", || {
        tcp.distinct() == made
    });
    let tcp_seen: usize = tcp.lines().len();
    assert!(tcp_seen >= made.len());
}

#[test]
fn bad_siem_settings_stop_start_up_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    for (args, why) in [
        (vec!["--siem", "http://192.0.2.1/hook"], "loopback"),
        (vec!["--siem", "https://127.0.0.1/hook"], "--siem-token-file"),
        (
            vec!["--siem", "syslog+tcp://127.0.0.1:1", "--siem-format", "cef", "--siem-format", "json"],
            "one at most",
        ),
        (vec!["--siem", "gopher://x"], "unknown scheme"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_dlpgate"))
            .arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", free_port()))
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(&args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(why), "{args:?}: {err}");
    }
}

#[test]
fn syslog_over_udp_sends_one_datagram_per_incident() {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let port = socket.local_addr().unwrap().port();
    let url = format!("syslog+udp://127.0.0.1:{port}");
    let server = Dlpgate::start(&["--siem", &url, "--siem-format", "json", "--siem-poll-ms", "100"]);
    let made = make_incidents(&server, 20, 1);
    let mut got = HashSet::new();
    let mut buf = vec![0u8; 65_536];
    while got.len() < made.len() {
        let n = socket.recv(&mut buf).unwrap();
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        // One RFC 5424 message per datagram, no framing, an ECS document as its text.
        assert!(text.starts_with("<108>1 ") && !text.contains('\n'), "{text}");
        let doc: serde_json::Value = serde_json::from_str(&text[text.find(" - {").unwrap() + 3..]).unwrap();
        assert_eq!(ids_in(&text).len(), 1, "{text}");
        got.insert(doc["event"]["id"].as_str().unwrap().to_string());
    }
    assert_eq!(got, made);
}

// ---------------------------------------------------------------- PostgreSQL's commit order

/// One incident row with only the required columns.
fn insert_sql(id: &str) -> String {
    format!(
        "INSERT INTO dlpgate_incidents (id, time_ms, service, method, groups_json, size, sha256, rules_json, \
         counts_json, evidence_json, action, policy_version) \
         VALUES ('{id}', 1, 'reqmod', 'REQMOD', '[]', 0, '', '[]', '{{}}', '[]', 'block', 'v1');"
    )
}

#[test]
fn postgres_cursor_never_passes_a_transaction_still_running() {
    use dlpgate::store::delivery_queue::open_queue;
    use dlpgate::store::PostgresSettings;
    let dir = tempfile::tempdir().unwrap();
    let pg = support::postgres::Postgres::start(dir.path());
    let url = pg.url();
    let queue = open_queue(dir.path(), Some(&url), &PostgresSettings::default()).unwrap();
    let start = queue.cursor("sink").unwrap();

    // A transaction inserts and stays open; a later one inserts and commits.
    let mut held = Command::new(pg.bin.join("psql"))
        .args(["-h", "127.0.0.1", "-p", &pg.port.to_string(), "-U", "postgres", "-v", "ON_ERROR_STOP=1"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = held.stdin.take().unwrap();
    writeln!(stdin, "BEGIN; {}", insert_sql("inc-held")).unwrap();
    stdin.flush().unwrap();
    wait_until(Duration::from_secs(10), "the held insert", || {
        pg.psql("SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction'").trim() == "1"
    });
    pg.psql(&insert_sql("inc-later"));
    // Reading inc-later now and moving past it would skip inc-held for ever once it commits.
    assert_eq!(queue.after(start, 10).unwrap(), vec![]);
    assert_eq!(queue.backlog(start).unwrap(), 1, "inc-later is waiting");

    writeln!(stdin, "COMMIT;").unwrap();
    drop(stdin);
    assert!(held.wait().unwrap().success());
    let batch = queue.after(start, 10).unwrap();
    let ids: Vec<&str> = batch.iter().map(|(_, i)| i.id.as_str()).collect();
    assert_eq!(ids, ["inc-held", "inc-later"]);
    queue.advance("sink", batch[0].0).unwrap();
    // Another handle (a restarted server) reads the cursor back.
    let again = open_queue(dir.path(), Some(&url), &PostgresSettings::default()).unwrap();
    let cursor = again.cursor("sink").unwrap();
    let rest: Vec<String> = again.after(cursor, 10).unwrap().into_iter().map(|(_, i)| i.id).collect();
    assert_eq!(rest, ["inc-later"]);
}

#[test]
fn serve_on_postgres_delivers_every_incident_and_resumes_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let pg = support::postgres::Postgres::start(dir.path());
    let url = pg.url();
    let hook = HttpReceiver::start("Bearer t", Duration::ZERO);
    let token = token_file(dir.path(), "token", "t");
    let sink = hook.url("/hook");
    let args = [
        "--store",
        &url,
        "--siem",
        &sink,
        "--siem-token-file",
        &token,
        "--siem-poll-ms",
        "100",
        "--siem-lease-ms",
        "2000",
    ];
    let server = Dlpgate::start(&args);
    let mut made = make_incidents(&server, 100, 4);
    wait_until(Duration::from_secs(20), "every incident from PostgreSQL", || hook.distinct() == made);
    // Stopped once the cursor is past every incident: nothing is in flight.
    let behind = "SELECT count(*) FROM dlpgate_incidents i, siem_cursor c WHERE (i.siem_tx, i.siem_seq) > (c.tx, c.seq)";
    wait_until(Duration::from_secs(10), "the cursor past every incident", || pg.psql(behind).trim() == "0");
    drop(server);
    let server = Dlpgate::start(&args);
    made.extend(make_incidents(&server, 50, 2));
    wait_until(Duration::from_secs(20), "the incidents after the restart", || hook.distinct() == made);
    assert_eq!(hook.ids().len(), made.len(), "a clean restart sends nothing twice");
    assert_eq!(pg.psql("SELECT count(*) FROM siem_cursor").trim(), "1");
}

#[test]
fn two_servers_on_one_postgres_send_each_incident_once_and_one_takes_over_when_the_other_dies() {
    let dir = tempfile::tempdir().unwrap();
    let pg = support::postgres::Postgres::start(dir.path());
    let url = pg.url();
    let hook = HttpReceiver::start("Bearer t", Duration::ZERO);
    let token = token_file(dir.path(), "token", "t");
    let sink = hook.url("/hook");
    let args = [
        "--store",
        &url,
        "--siem",
        &sink,
        "--siem-token-file",
        &token,
        "--siem-poll-ms",
        "100",
        "--siem-lease-ms",
        "5000",
    ];
    let mut servers = [Dlpgate::start(&args), Dlpgate::start(&args)];
    let mut made = make_incidents(&servers[0], 100, 2);
    made.extend(make_incidents(&servers[1], 100, 2));
    wait_until(Duration::from_secs(20), "every incident of both servers", || hook.distinct() == made);
    assert_eq!(hook.ids().len(), made.len(), "one server sends the sink: no incident twice");

    // The server holding the sink dies; the other takes over once the lease has run out.
    let owner = pg.psql("SELECT owner FROM siem_cursor");
    let holder = servers.iter().position(|s| owner.trim().ends_with(&format!("/{}", s.addr))).unwrap();
    servers[holder].guard.child.kill().unwrap();
    servers[holder].guard.child.wait().unwrap();
    let survivor = &servers[1 - holder];
    made.extend(make_incidents(survivor, 50, 1));
    wait_until(Duration::from_secs(30), "the survivor delivering", || hook.distinct() == made);
    assert!(pg.psql("SELECT owner FROM siem_cursor").trim().ends_with(&format!("/{}", survivor.addr)));
}
