//! `dlpgate connector test NAME`: for each server, in order, (1) resolve and connect, (2) the
//! TLS handshake with the server certificate, its fingerprint and whether it is trusted,
//! (3) OPTIONS, (4) a clean sample and a synthetic positive. Each failure says what to do.

use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;
use icap::client::{Client, ClientConfig, ClientError, IcapUri, Preview, TlsFailure};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::{AlertDescription, DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use tokio::io::AsyncReadExt;

use super::model::{load_named, Connector};
use super::transport;
use crate::client::pool::{FileOutcome, Pool};
use crate::client::send::SendSettings;
use crate::client::verdict::ScanVerdict;
use crate::client::BytesSource;

/// How long to wait after the handshake for the server to refuse the client certificate
/// (TLS 1.3 servers refuse it after the client's Finished).
pub const CLIENT_CERT_PROBE: Duration = Duration::from_millis(300);
/// The clean sample.
pub const CLEAN_SAMPLE: &[u8] = b"dlpgate connectivity test: a clean sample with nothing sensitive in it.\n";
/// The positive sample: a published test card number (Visa test card), never a real one.
pub const POSITIVE_SAMPLE: &[u8] =
    b"dlpgate connectivity test: synthetic positive.\nCard number: 4111 1111 1111 1111 (a published test number)\n";

/// `dlpgate connector test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// The connector.
    pub name: String,
    /// Check this name in the server certificates instead of the connector's (and send it
    /// as SNI unless the connector sets one).
    #[arg(long, visible_alias = "check-host")]
    pub server_name: Option<String>,
}

/// Runs the test on every server of the connector; exit 0 when every step passed.
pub fn run(dir: &Path, args: &TestArgs) -> ExitCode {
    let connector = match load_named(dir, &args.name).and_then(|mut c| {
        if let Some(name) = &args.server_name {
            c.tls.server_name = Some(name.clone());
            c.validate()?;
        }
        Ok(c)
    }) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("dlpgate connector test: error: {e:#}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("dlpgate connector test: error: {e}");
            return ExitCode::from(2);
        }
    };
    let ok = runtime.block_on(test_connector(&connector));
    if ok {
        println!("result: connector {:?} works", connector.name);
        ExitCode::SUCCESS
    } else {
        println!("result: connector {:?} FAILED (see above)", connector.name);
        ExitCode::from(2)
    }
}

async fn test_connector(connector: &Connector) -> bool {
    println!(
        "connector {:?}: {}, {} server(s), profile {}, {}",
        connector.name,
        connector.kind.method(),
        connector.servers.len(),
        connector.profile.as_str(),
        connector.failure.action().replace("block", "fail-closed").replace("allow", "fail-open")
    );
    let mut all_ok = true;
    for server in &connector.servers {
        let uri = match server.icap_uri() {
            Ok(u) => u,
            Err(e) => {
                fail("address", &e.to_string(), "fix the server address: icap[s]://host:port/service");
                all_ok = false;
                continue;
            }
        };
        println!("server {uri}");
        all_ok &= test_server(connector, &uri).await;
    }
    all_ok
}

fn step(n: &str, text: &str) {
    println!("  {n:<11} ok      {text}");
}

fn detail(text: &str) {
    println!("  {:<11}         {text}", "");
}

fn fail(n: &str, what: &str, todo: &str) {
    println!("  {n:<11} FAILED  {what}");
    println!("  {:<11}         what to do: {todo}", "");
}

async fn test_server(connector: &Connector, uri: &IcapUri) -> bool {
    let config = match connector.client_config() {
        Ok(c) => c,
        Err(e) => {
            fail(
                "settings",
                &format!("{e:#}"),
                "fix the connector's TLS files (dlpgate connector add --force ...)",
            );
            return false;
        }
    };
    let server = uri.authority();
    // 1. resolve and connect
    let started = Instant::now();
    let addrs: Vec<std::net::SocketAddr> = match tokio::net::lookup_host(&server).await {
        Ok(a) => a.collect(),
        Err(e) => {
            fail(
                "1. connect",
                &format!("cannot resolve {}: {e}", uri.host),
                "check the host name, or use the IP address",
            );
            return false;
        }
    };
    let stream = match transport::tcp(&server, &config).await {
        Ok(s) => s,
        Err(e) => {
            let (what, todo) = connect_advice(&e, uri, &config);
            fail("1. connect", &what, &todo);
            return false;
        }
    };
    let peer = stream.peer_addr().map_or_else(|_| server.clone(), |a| a.to_string());
    step(
        "1. connect",
        &format!("{peer} ({} address(es) resolved, {} ms)", addrs.len(), started.elapsed().as_millis()),
    );

    // 2. TLS
    if uri.tls {
        if !tls_step(connector, uri, &config, stream).await {
            return false;
        }
    } else {
        drop(stream);
        step(
            "2. TLS",
            "none: plain icap:// (traffic is not encrypted; use icaps:// or a tunnel across networks)",
        );
    }

    // 3. OPTIONS
    let client =
        Client::with_dialer(config.clone(), Arc::new(transport::SniDialer { sni: connector.tls.sni_name() }));
    let options = match client.options(uri).await {
        Ok(o) => o,
        Err(e) => {
            let (what, todo) = options_advice(&e, uri, &config);
            fail("3. OPTIONS", &what, &todo);
            return false;
        }
    };
    let methods: Vec<&str> = options.methods.iter().map(|m| m.as_str()).collect();
    step(
        "3. OPTIONS",
        &format!(
            "methods {}; preview {}; ISTag {}; Max-Connections {}",
            methods.join(", "),
            options.preview.map_or_else(|| "none".to_string(), |p| p.to_string()),
            options.istag,
            options.max_connections.map_or_else(|| "not given".to_string(), |m| m.to_string()),
        ),
    );
    if let Some(service) = &options.service {
        detail(&format!("service: {service}"));
    }
    let method = connector.kind.method();
    if !options.methods.contains(&method) {
        fail(
            "3. OPTIONS",
            &format!("the service does not announce {method}"),
            &format!("use the service path for {method} on this server, or change the connector's --type"),
        );
        return false;
    }

    // 4. samples
    let settings = SendSettings {
        method,
        profile: connector.profile,
        preview: connector.preview.map_or(Preview::FromOptions, Preview::Size),
        multipart: false,
    };
    let pool = Pool::new(vec![crate::client::pool::PoolEntry {
        uri: uri.clone(),
        weight: 1,
        client: client.clone(),
        preview: settings.preview,
        limit: 1,
        pipeline: 1,
    }]);
    let mut ok = true;
    for (label, name, data, expected) in [
        ("clean sample", "dlpgate-clean-sample.txt", CLEAN_SAMPLE, ScanVerdict::Allow),
        ("test card number", "dlpgate-test-card.txt", POSITIVE_SAMPLE, ScanVerdict::Block),
    ] {
        match pool.judge(&settings, name, &BytesSource(data)).await {
            FileOutcome::Judged { judged, .. } => {
                let v = &judged.verdict;
                let mut text =
                    format!("{label}: {} ({} ms)", v.decision.as_str(), judged.latency.as_millis());
                if !v.rules.is_empty() {
                    text.push_str(&format!(", rules {}", v.rules.join(", ")));
                }
                if let Some(id) = &v.incident_id {
                    text.push_str(&format!(", incident {id}"));
                }
                if v.decision == expected {
                    step("4. samples", &text);
                } else if expected == ScanVerdict::Block {
                    step("4. samples", &text);
                    detail("note: the server allowed a test card number: the connection works, but its policy does not block card numbers (or runs in monitor mode)");
                } else {
                    step("4. samples", &text);
                    detail(&format!(
                        "note: the server blocked a clean sample ({}): check its policy and the connector's --profile",
                        v.reason.as_deref().unwrap_or("no reason given")
                    ));
                }
            }
            FileOutcome::Failed { reason, .. } => {
                fail(
                    "4. samples",
                    &format!("{label}: no verdict: {reason}"),
                    "check the server's log for this request",
                );
                ok = false;
            }
        }
    }
    ok
}

/// What a connect failure means and what to do about it.
fn connect_advice(e: &ClientError, uri: &IcapUri, config: &ClientConfig) -> (String, String) {
    let server = uri.authority();
    let d = e.detail();
    if e.is_timeout() {
        (
            format!("timed out: no answer from {server} within {:?}", config.connect_timeout),
            format!(
                "a firewall probably drops the packets: open TCP port {} on the server (iptables -I INPUT -p tcp --dport {} -j ACCEPT) and on the way, and check the address",
                uri.port, uri.port
            ),
        )
    } else if e.is_refused() {
        (
            format!("connection refused by {server}: nothing listens on port {}", uri.port),
            "start the ICAP server (or the stunnel / dlpgate tunnel in front of it) and check the port"
                .to_string(),
        )
    } else {
        (
            format!("cannot connect to {server}: {d}"),
            "check the address, the route and the firewall".to_string(),
        )
    }
}

/// What an OPTIONS failure means.
fn options_advice(e: &ClientError, uri: &IcapUri, config: &ClientConfig) -> (String, String) {
    if e.is_service_not_found() {
        return (
            format!("service not found: {} has no ICAP service {:?} (ICAP 404)", uri.authority(), uri.service),
            "fix the service path of the address (e.g. icap://host:1344/reqmod); the server's documentation names its services".to_string(),
        );
    }
    if e.is_timeout() {
        return (
            format!("timed out: no OPTIONS answer within {:?}", config.read_timeout),
            "the port answers but does not speak ICAP in time: check that it is the ICAP port (and icaps:// for a TLS port)".to_string(),
        );
    }
    if let Some(status) = e.icap_status() {
        return (
            format!("the server answered ICAP {status}"),
            "check the server's log and configuration".to_string(),
        );
    }
    if e.tls_failure() == Some(TlsFailure::ClientCertificateRefused) {
        return (client_cert_refused(e.detail()), client_cert_todo());
    }
    (
        format!("OPTIONS failed: {}", e.detail()),
        "check that the port speaks ICAP (a TLS port needs icaps://, a plain one icap://)".to_string(),
    )
}

fn client_cert_refused(detail: &str) -> String {
    format!("client certificate refused by the server ({detail})")
}

fn client_cert_todo() -> String {
    "give the connector a client certificate the server accepts (--client-cert/--client-key), and give the server the CA or certificate that issued it (dlpgate serve --client-ca, stunnel CAfile)".to_string()
}

/// The server's alert, when the server refused the handshake or the connection after it.
fn alert_of(e: &std::io::Error) -> Option<AlertDescription> {
    let inner = e.get_ref()?;
    match inner.downcast_ref::<rustls::Error>() {
        Some(rustls::Error::AlertReceived(a)) => Some(*a),
        _ => None,
    }
}

fn is_client_cert_alert(a: AlertDescription) -> bool {
    matches!(
        a,
        AlertDescription::CertificateRequired
            | AlertDescription::BadCertificate
            | AlertDescription::UnknownCA
            | AlertDescription::CertificateUnknown
            | AlertDescription::AccessDenied
            | AlertDescription::UnsupportedCertificate
            | AlertDescription::CertificateRevoked
            | AlertDescription::CertificateExpired
            | AlertDescription::HandshakeFailure
    )
}

async fn tls_step(
    connector: &Connector,
    uri: &IcapUri,
    config: &ClientConfig,
    stream: tokio::net::TcpStream,
) -> bool {
    let Some(tls) = &config.tls else {
        fail("2. TLS", "no TLS settings", "add --trust with the server's certificate or CA");
        return false;
    };
    let server = uri.authority();
    let sni = connector.tls.sni_name().unwrap_or_else(|| uri.host.clone());
    let mut trusted_by: Vec<String> = connector.tls.trust.iter().map(|p| p.display().to_string()).collect();
    trusted_by.extend(connector.tls.pins.iter().map(|p| format!("pin {} until {}", p.sha256, p.not_after)));
    let trust = if trusted_by.is_empty() { "-".to_string() } else { trusted_by.join(", ") };
    let checked_name = connector.tls.server_name.clone().unwrap_or_else(|| sni.clone());
    let handshake = transport::handshake(&server, &sni, tls.clone(), stream, config).await;
    let mut stream = match handshake {
        Ok(s) => s,
        Err(e) => {
            // Show what the server presents, from a second handshake that only records it.
            let cert = peek_certificate(uri, &sni, config).await;
            let d = e.detail().to_string();
            if e.tls_failure() == Some(TlsFailure::ServerCertificateRejected) {
                fail(
                    "2. TLS",
                    &format!("server certificate not trusted: {d}"),
                    &format!(
                        "if the certificate below is the right server, trust it: dlpgate connector add {:?} --force --trust <its cert.pem or CA> (or --pin <its SPKI SHA-256>) ... (now: {trust}); if the name check failed (the name checked is {checked_name}), connect by a name the certificate carries or set --server-name to one",
                        connector.name
                    ),
                );
                print_certificate(cert.as_ref(), false);
            } else if e.tls_failure() == Some(TlsFailure::ClientCertificateRefused) {
                fail("2. TLS", &client_cert_refused(&d), &client_cert_todo());
                print_certificate(cert.as_ref(), true);
            } else if e.is_timeout() {
                fail(
                    "2. TLS",
                    &format!("TLS handshake timed out: {d}"),
                    "the port may not speak TLS (use icap:// for a plain port) or a middlebox holds the connection",
                );
            } else {
                fail(
                    "2. TLS",
                    &format!("TLS handshake failed: {d}"),
                    "check that the port speaks TLS (icaps://) and that both sides share a TLS version (1.2 or 1.3)",
                );
                print_certificate(cert.as_ref(), false);
            }
            return false;
        }
    };
    let (_, conn) = stream.get_ref();
    let version = conn.protocol_version().map_or_else(|| "?".to_string(), |v| format!("{v:?}"));
    let suite =
        conn.negotiated_cipher_suite().map_or_else(|| "?".to_string(), |s| format!("{:?}", s.suite()));
    let cert = conn.peer_certificates().and_then(|c| c.first()).map(|c| c.clone().into_owned());
    // A TLS 1.3 server refuses a client certificate after the handshake: wait a moment for
    // its alert before calling the step good.
    let mut buf = [0u8; 1];
    let probe = tokio::time::timeout(CLIENT_CERT_PROBE, stream.read(&mut buf)).await;
    let refused = match &probe {
        Ok(Err(e)) => match alert_of(e) {
            Some(a) if is_client_cert_alert(a) => Some(format!("alert {a:?}")),
            Some(a) => Some(format!("alert {a:?}")),
            None => Some(e.to_string()),
        },
        Ok(Ok(0)) => Some("the server closed the connection right after the handshake".to_string()),
        _ => None,
    };
    if let Some(why) = refused {
        fail("2. TLS", &client_cert_refused(&why), &client_cert_todo());
        print_certificate(cert.as_ref(), true);
        return false;
    }
    step(
        "2. TLS",
        &format!(
            "{version}, {suite}, SNI {sni}, client certificate {}",
            if connector.tls.client_cert.is_some() { "presented and accepted" } else { "none" }
        ),
    );
    print_certificate(cert.as_ref(), true);
    detail(&format!("trusted: yes (by {trust})"));
    true
}

fn print_certificate(cert: Option<&CertificateDer<'static>>, trusted: bool) {
    let Some(cert) = cert else {
        detail("server certificate: none seen");
        return;
    };
    match icap::tls::describe_cert(cert) {
        Ok(info) => {
            detail(&format!("server certificate: {}", info.subject));
            detail(&format!("  issuer:  {}", info.issuer));
            if !info.sans.is_empty() {
                detail(&format!("  names:   {}", info.sans.join(", ")));
            }
            detail(&format!("  expires: in {} days", info.days_left()));
            detail(&format!("  SHA-256 fingerprint: {}", colon_hex(&info.cert_sha256)));
            detail(&format!("  SPKI SHA-256 (pin):  {}", info.spki_sha256));
            if !trusted {
                detail("  trusted: NO");
            }
        }
        Err(e) => detail(&format!("server certificate: unreadable ({e})")),
    }
}

fn colon_hex(hex: &str) -> String {
    hex.as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8_lossy(c).to_ascii_uppercase())
        .collect::<Vec<_>>()
        .join(":")
}

/// The certificate the server presents, from a handshake that trusts anything and stops once
/// it has seen it (nothing is sent over that connection).
async fn peek_certificate(
    uri: &IcapUri,
    sni: &str,
    config: &ClientConfig,
) -> Option<CertificateDer<'static>> {
    let recorder = Arc::new(Recorder::default());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .ok()?
        .dangerous()
        .with_custom_certificate_verifier(recorder.clone())
        .with_no_client_auth();
    let stream = transport::tcp(&uri.authority(), config).await.ok()?;
    let _ = transport::handshake(&uri.authority(), sni, Arc::new(tls), stream, config).await;
    let seen = recorder.seen.lock().unwrap_or_else(|p| p.into_inner()).clone();
    seen
}

/// Records the server certificate and refuses it (so the handshake stops there).
#[derive(Debug, Default)]
struct Recorder {
    seen: Mutex<Option<CertificateDer<'static>>>,
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = Some(end_entity.clone().into_owned());
        Err(rustls::Error::General("certificate recorded".into()))
    }

    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General("not used".into()))
    }

    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General("not used".into()))
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        rustls::crypto::ring::default_provider().signature_verification_algorithms.supported_schemes()
    }
}
