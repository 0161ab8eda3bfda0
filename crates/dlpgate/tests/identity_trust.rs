//! Identity headers (`X-Authenticated-User`, `X-Authenticated-Groups`, `X-Client-IP`) scope
//! rules only when they come from a client in `--trust-identity-from` (an address, the PROXY
//! protocol's address, or a TLS client certificate's CN); from any other client they are
//! recorded in the incident as claimed and change no verdict. Against `dlpgate serve`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::{free_port, wait_for_port, Dlpgate};

/// Cards are blocked for contractors, and only monitored for everyone else.
const POLICY: &str = r#"
[[rule]]
name = "cards-contractors"
detectors = ["credit_card"]
groups = ["contractors"]
action = "block"

[[rule]]
name = "cards-monitored"
detectors = ["credit_card"]
action = "monitor"
"#;

const CARD: &str = "card 4111 1111 1111 1111 exp 12/29\n";
const CONTRACTOR: &[(&str, &str)] = &[
    ("X-Authenticated-User", "Local://bob"),
    ("X-Authenticated-Groups", "contractors"),
    ("X-Client-IP", "10.9.8.7"),
];

fn server(dir: &Path, extra: &[&str]) -> Dlpgate {
    let policy = dir.join("policy.toml");
    std::fs::write(&policy, POLICY).unwrap();
    let mut args = vec!["--policy", policy.to_str().unwrap()];
    args.extend_from_slice(extra);
    Dlpgate::start(&args)
}

/// What one REQMOD got: blocked or not, and its incident id.
struct Answer {
    blocked: bool,
    incident: Option<String>,
}

/// One REQMOD with `headers`, from a socket bound to `from`, after `prefix` (a PROXY
/// header), over a plain connection.
fn reqmod(server: SocketAddr, from: [u8; 4], prefix: &[u8], headers: &[(&str, &str)]) -> Answer {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.bind(&SocketAddr::from((from, 0)).into()).unwrap();
    socket.connect(&server.into()).unwrap();
    let mut stream: std::net::TcpStream = socket.into();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.write_all(prefix).unwrap();
    stream.write_all(&request(server.port(), headers)).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    parse(&answer)
}

fn request(port: u16, headers: &[(&str, &str)]) -> Vec<u8> {
    let http = "POST /upload HTTP/1.1\r\nHost: upload.test\r\nContent-Type: text/plain\r\n\r\n";
    let mut icap = format!("REQMOD icap://127.0.0.1:{port}/reqmod ICAP/1.0\r\nHost: 127.0.0.1\r\nAllow: 204\r\nConnection: close\r\n");
    for (name, value) in headers {
        icap.push_str(&format!("{name}: {value}\r\n"));
    }
    icap.push_str(&format!(
        "Encapsulated: req-hdr=0, req-body={}\r\n\r\n{http}{:x}\r\n{CARD}\r\n0\r\n\r\n",
        http.len(),
        CARD.len()
    ));
    icap.into_bytes()
}

fn parse(answer: &[u8]) -> Answer {
    let text = String::from_utf8_lossy(answer);
    assert!(text.starts_with("ICAP/1.0 200") || text.starts_with("ICAP/1.0 204"), "{text}");
    let incident = text
        .lines()
        .find_map(|l| l.strip_prefix("X-Incident-ID: ").or_else(|| l.strip_prefix("X-Incident-Id: ")))
        .map(str::to_string);
    Answer { blocked: text.contains("HTTP/1.1 403"), incident }
}

/// The incident `id` as `incidents export --format json` gives it.
fn incident(server: &Dlpgate, id: &str) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_dlpgate"))
        .args(["incidents", "export", "--format", "json", "--data-dir"])
        .arg(server.dir.path().join("data"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["id"] == id)
        .unwrap_or_else(|| panic!("no incident {id}"))
}

/// From an address the list does not name, the contractor's headers neither switch the
/// contractors' rule on nor become the incident's user: they are recorded as claimed. From
/// the trusted address they are used.
#[test]
fn identity_headers_scope_rules_only_from_trusted_addresses() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path(), &["--trust-identity-from", "127.0.0.2/32"]);

    let answer = reqmod(server.addr, [127, 0, 0, 1], b"", CONTRACTOR);
    assert!(!answer.blocked, "the contractors' rule must not apply to an untrusted claim");
    let i = incident(&server, answer.incident.as_deref().unwrap());
    assert_eq!(i["rules"], serde_json::json!(["cards-monitored"]));
    assert_eq!(i["user"], serde_json::Value::Null);
    assert_eq!(i["groups"], serde_json::json!([]));
    assert_eq!(i["client_addr"], "127.0.0.1", "X-Client-IP is a claim too");
    assert_eq!(i["claimed_user"], "bob");
    assert_eq!(i["claimed_groups"], serde_json::json!(["contractors"]));
    assert_eq!(i["claimed_client_ip"], "10.9.8.7");

    let answer = reqmod(server.addr, [127, 0, 0, 2], b"", CONTRACTOR);
    assert!(answer.blocked);
    let i = incident(&server, answer.incident.as_deref().unwrap());
    assert_eq!(i["rules"], serde_json::json!(["cards-contractors", "cards-monitored"]));
    assert_eq!(i["user"], "bob");
    assert_eq!(i["groups"], serde_json::json!(["contractors"]));
    assert_eq!(i["client_addr"], "10.9.8.7");
    assert!(i.get("claimed_user").is_none(), "{i}");

    // `incidents show` says it.
    let out = Command::new(env!("CARGO_BIN_EXE_dlpgate"))
        .args(["incidents", "show"])
        .arg(reqmod(server.addr, [127, 0, 0, 1], b"", CONTRACTOR).incident.unwrap())
        .arg("--data-dir")
        .arg(server.dir.path().join("data"))
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains(
            "claimed:        user bob; groups contractors; client IP 10.9.8.7 (from an untrusted client"
        ),
        "{shown}"
    );
}

/// The default trusts loopback only on a loopback listener without the PROXY protocol; with
/// it, the address the PROXY header names is what the list judges.
#[test]
fn the_default_and_the_proxy_protocol_address() {
    let dir = tempfile::tempdir().unwrap();
    // Squid on the same host: trusted by default.
    let local = server(dir.path(), &[]);
    assert!(reqmod(local.addr, [127, 0, 0, 1], b"", CONTRACTOR).blocked);
    assert!(local.log().contains("trusted=127.0.0.0/8, ::1/128"), "{}", local.log());

    // Behind a proxy, the loopback connection is the proxy's: nobody is trusted by default.
    let proxied = server(dir.path(), &["--proxy-protocol"]);
    let header = format!("PROXY TCP4 127.0.0.1 127.0.0.1 51000 {}\r\n", proxied.port);
    let answer = reqmod(proxied.addr, [127, 0, 0, 1], header.as_bytes(), CONTRACTOR);
    assert!(!answer.blocked);
    assert_eq!(incident(&proxied, answer.incident.as_deref().unwrap())["claimed_user"], "bob");
    assert!(proxied.log().contains("trusted=nobody"), "{}", proxied.log());

    // The PROXY address is judged, not the connection's.
    let listed = server(dir.path(), &["--proxy-protocol", "--trust-identity-from", "192.0.2.0/24"]);
    let from = |client: &str| format!("PROXY TCP4 {client} 127.0.0.1 51000 {}\r\n", listed.port);
    assert!(reqmod(listed.addr, [127, 0, 0, 1], from("192.0.2.7").as_bytes(), CONTRACTOR).blocked);
    let answer = reqmod(listed.addr, [127, 0, 0, 1], from("198.51.100.7").as_bytes(), CONTRACTOR);
    assert!(!answer.blocked);
    let i = incident(&listed, answer.incident.as_deref().unwrap());
    assert_eq!((i["claimed_user"].as_str(), i["client_addr"].as_str()), (Some("bob"), Some("198.51.100.7")));
}

/// A TLS client is trusted by the CN of its verified certificate.
#[test]
fn a_tls_client_is_trusted_by_its_certificate_name() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_dlpgate")).current_dir(d).args(args).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    run(&["cert", "init", "--dir", "pki"]);
    for cn in ["squid", "someone"] {
        run(&[
            "cert",
            "issue",
            "--usage",
            "client",
            "--cn",
            cn,
            "--ca-cert",
            "pki/ca.crt",
            "--ca-key",
            "pki/ca.key",
            "--cert",
            &format!("{cn}.crt"),
            "--key",
            &format!("{cn}.key"),
        ]);
    }
    let tls_port = free_port();
    let p = |f: &str| d.join(f).display().to_string();
    let server = server(
        d,
        &[
            "--tls-listen",
            &format!("127.0.0.1:{tls_port}"),
            "--cert",
            &p("pki/server.crt"),
            "--key",
            &p("pki/server.key"),
            "--client-ca",
            &p("pki/ca.crt"),
            "--trust-identity-from",
            "CN=squid",
        ],
    );
    wait_for_port(tls_port, Duration::from_secs(10));
    let send = |cn: &str| -> Answer {
        let request = request(tls_port, CONTRACTOR);
        let mut child = Command::new(support::require("openssl"))
            .args(["s_client", "-quiet", "-connect", &format!("127.0.0.1:{tls_port}")])
            .args([
                "-CAfile",
                &p("pki/ca.crt"),
                "-cert",
                &p(&format!("{cn}.crt")),
                "-key",
                &p(&format!("{cn}.key")),
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(&request).unwrap();
        let out = child.wait_with_output().unwrap();
        parse(&out.stdout)
    };
    assert!(send("squid").blocked);
    let answer = send("someone");
    assert!(!answer.blocked);
    assert_eq!(incident(&server, answer.incident.as_deref().unwrap())["claimed_user"], "bob");
    // The plain loopback listener is not trusted either: the list replaced the default.
    assert!(!reqmod(server.addr, [127, 0, 0, 1], b"", CONTRACTOR).blocked);
}

/// A database made before incidents had `claimed_json` gets the column when opened, and
/// keeps its incidents.
#[test]
fn an_older_database_gains_the_claimed_column() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let old_schema = "CREATE TABLE incidents (id TEXT PRIMARY KEY, time_ms BIGINT NOT NULL, service TEXT NOT NULL, \
        method TEXT NOT NULL, client_addr TEXT, tls_subject TEXT, user_name TEXT, groups_json TEXT NOT NULL, url TEXT, \
        file_name TEXT, content_type TEXT, size BIGINT NOT NULL, sha256 TEXT NOT NULL, rules_json TEXT NOT NULL, \
        counts_json TEXT NOT NULL, evidence_json TEXT NOT NULL, action TEXT NOT NULL, reason TEXT, severity TEXT, \
        policy_version TEXT NOT NULL);
        INSERT INTO incidents VALUES ('inc-old', 1, 'reqmod', 'REQMOD', '127.0.0.1', NULL, NULL, '[]', NULL, NULL, \
        NULL, 3, '00', '[]', '{}', '[]', 'block', NULL, NULL, 'v0');";
    rusqlite::Connection::open(data.join("incidents.db")).unwrap().execute_batch(old_schema).unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, POLICY).unwrap();
    let server = Dlpgate::start_with_data(
        &data,
        &["--policy", policy.to_str().unwrap(), "--trust-identity-from", "none"],
    );
    let answer = reqmod(server.addr, [127, 0, 0, 1], b"", CONTRACTOR);
    let out = Command::new(env!("CARGO_BIN_EXE_dlpgate"))
        .args(["incidents", "export", "--format", "json", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("\"id\":\"inc-old\""), "{text}");
    assert!(
        text.contains(&format!("\"id\":\"{}\"", answer.incident.unwrap()))
            && text.contains("\"claimed_user\":\"bob\""),
        "{text}"
    );
}
