//! Writes the seed corpora of the fuzz targets that need the whole of dlpgate: `server`,
//! `proxy_header`, `client_cert`, `policy_toml`, `stunnel_conf` and `scan_state`. Each seed is
//! made by the code it feeds (certificates by `dlpgate cert`, state lines by the scan's own
//! writer) or written out here as the documentation shows it.
//!
//! `cargo run -p dlpgate --example server_fuzz_seeds -- fuzz/corpus`

use std::path::{Path, PathBuf};

use dlpgate::cert::{run, CertCommand, KeyType, NewArgs, Output, Subject, Usage};
use dlpgate::client::verdict::ScanVerdict;
use dlpgate::scan::record::{Record, State};

fn main() -> anyhow::Result<()> {
    let root = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "fuzz/corpus".into()));
    server(&root.join("server"))?;
    proxy_header(&root.join("proxy_header"))?;
    client_cert(&root.join("client_cert"))?;
    policy_toml(&root.join("policy_toml"))?;
    stunnel_conf(&root.join("stunnel_conf"))?;
    scan_state(&root.join("scan_state"))?;
    Ok(())
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join(name), bytes)
}

/// A chunked body: `pieces` as chunks, then the last chunk (with `; ieof` when asked).
fn chunked(pieces: &[&[u8]], ieof: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for piece in pieces {
        out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        out.extend_from_slice(piece);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(if ieof { b"0; ieof\r\n\r\n" } else { b"0\r\n\r\n" });
    out
}

/// A REQMOD of an upload with `body`, optionally with a preview of `preview` bytes.
fn reqmod(service: &str, extra: &str, body: &[u8], preview: Option<usize>) -> Vec<u8> {
    let http = format!(
        "POST /upload HTTP/1.1\r\nHost: files.example\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let mut head = format!(
        "REQMOD icap://127.0.0.1:1344/{service} ICAP/1.0\r\nHost: 127.0.0.1\r\n{extra}Encapsulated: req-hdr=0, req-body={}\r\n",
        http.len()
    );
    let mut out = Vec::new();
    match preview {
        None => {
            head.push_str("\r\n");
            out.extend_from_slice(head.as_bytes());
            out.extend_from_slice(http.as_bytes());
            out.extend_from_slice(&chunked(&[body], false));
        }
        Some(n) => {
            let n = n.min(body.len());
            head.push_str(&format!("Preview: {n}\r\n\r\n"));
            out.extend_from_slice(head.as_bytes());
            out.extend_from_slice(http.as_bytes());
            let whole = n == body.len();
            out.extend_from_slice(&chunked(&[&body[..n]], whole));
            if !whole {
                // The rest, as sent after `100 Continue`.
                out.extend_from_slice(&chunked(&[&body[n..]], false));
            }
        }
    }
    out
}

/// A RESPMOD of a download with `body`.
fn respmod(service: &str, extra: &str, body: &[u8]) -> Vec<u8> {
    let req = "GET /report.txt HTTP/1.1\r\nHost: files.example\r\n\r\n";
    let res =
        format!("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n", body.len());
    let mut out = format!(
        "RESPMOD icap://127.0.0.1:1344/{service} ICAP/1.0\r\nHost: 127.0.0.1\r\n{extra}Encapsulated: req-hdr=0, res-hdr={}, res-body={}\r\n\r\n{req}{res}",
        req.len(),
        req.len() + res.len()
    )
    .into_bytes();
    out.extend_from_slice(&chunked(&[&body[..body.len() / 2], &body[body.len() / 2..]], false));
    out
}

/// Server seeds: byte 0 = client behaviour (stall, close, mode), byte 1 = piece seed.
fn server(dir: &Path) -> anyhow::Result<()> {
    let card = b"order 17, card 4111 1111 1111 1111 exp 12/29, thanks\n";
    let plain = b"minutes of the weekly meeting: nothing to report\n".repeat(20);
    let options = b"OPTIONS icap://127.0.0.1:1344/reqmod ICAP/1.0\r\nHost: 127.0.0.1\r\n\r\n".to_vec();
    let seeds: Vec<(&str, u8, Vec<u8>)> = vec![
        ("options", 0, options.clone()),
        (
            "options_echo",
            0,
            b"OPTIONS icap://127.0.0.1/echo ICAP/1.0\r\nEncapsulated: null-body=0\r\n\r\n".to_vec(),
        ),
        ("reqmod_block_204", 0, reqmod("reqmod", "Allow: 204\r\n", card, None)),
        ("reqmod_allow_echo", 0, reqmod("reqmod", "", &plain, None)),
        ("reqmod_preview_ieof", 0, reqmod("reqmod", "Allow: 204\r\n", card, Some(1024))),
        ("reqmod_preview_continue", 0, reqmod("reqmod", "Allow: 204\r\n", &plain, Some(64))),
        ("respmod_block", 0, respmod("respmod", "", card)),
        ("respmod_monitor", 8, respmod("respmod", "Allow: 204\r\n", card)),
        // Stalls mid-body without Allow: 204: the early head.
        ("respmod_early_head", 1, respmod("respmod", "", &plain)),
        ("respmod_early_head_block", 2, respmod("respmod", "", card)),
        ("echo", 0, respmod("echo", "", &plain)),
        ("unknown_service", 0, reqmod("nope", "", card, None)),
        ("timeout_mid_body", 3 | 4, reqmod("reqmod", "", card, None)[..200].to_vec()),
        ("malformed_chunk", 0, {
            let mut m = reqmod("reqmod", "", card, None);
            let at = m.len() - 7;
            m[at] = b'z';
            m
        }),
    ];
    for (name, flags, bytes) in seeds {
        let mut seed = vec![flags, 0x5a];
        seed.extend_from_slice(&bytes);
        write(dir, name, &seed)?;
    }
    // Pipelined: several requests in one go, answered in order.
    let mut pipelined = vec![0u8, 0x17];
    pipelined.extend_from_slice(&options);
    pipelined.extend_from_slice(&reqmod("reqmod", "Allow: 204\r\n", card, None));
    pipelined.extend_from_slice(&reqmod("reqmod", "Allow: 204\r\n", &plain, Some(16)));
    pipelined.extend_from_slice(&respmod("echo", "Connection: close\r\n", &plain));
    write(dir, "pipelined", &pipelined)?;
    Ok(())
}

/// PROXY seeds: byte 0 = where the fuzz target cuts a prefix.
fn proxy_header(dir: &Path) -> anyhow::Result<()> {
    const V2: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
    let v2 = |command: u8, family: u8, addresses: &[u8]| {
        let mut out = V2.to_vec();
        out.extend_from_slice(&[command, family]);
        out.extend_from_slice(&(addresses.len() as u16).to_be_bytes());
        out.extend_from_slice(addresses);
        out.extend_from_slice(b"OPTIONS icap://x/echo ICAP/1.0\r\n\r\n");
        out
    };
    let mut v6 = vec![0x20, 0x01, 0x0d, 0xb8];
    v6.extend_from_slice(&[0; 11]);
    v6.push(1);
    v6.extend_from_slice(&[0; 15]);
    v6.push(1);
    v6.extend_from_slice(&[0xc3, 0x50, 0x05, 0x40]);
    let mut tlv = vec![198, 51, 100, 9, 127, 0, 0, 1, 0xc3, 0x50, 0x05, 0x40];
    tlv.extend_from_slice(&[0x02, 0x00, 0x0b]);
    tlv.extend_from_slice(b"icap.server");
    let seeds: Vec<(&str, Vec<u8>)> = vec![
        ("v1_tcp4", b"PROXY TCP4 192.0.2.7 127.0.0.1 51000 1344\r\nOPTIONS".to_vec()),
        ("v1_tcp6", b"PROXY TCP6 2001:db8::1 ::1 51000 1344\r\n".to_vec()),
        ("v1_unknown", b"PROXY UNKNOWN\r\n".to_vec()),
        ("v2_ipv4", v2(0x21, 0x11, &[198, 51, 100, 9, 127, 0, 0, 1, 0xc3, 0x50, 0x05, 0x40])),
        ("v2_ipv6", v2(0x21, 0x21, &v6)),
        ("v2_local", v2(0x20, 0x00, &[])),
        ("v2_tlv", v2(0x21, 0x11, &tlv)),
    ];
    for (name, bytes) in seeds {
        for cut in [255u8, 40] {
            let mut seed = vec![cut];
            seed.extend_from_slice(&bytes);
            write(dir, &format!("{name}_{cut}"), &seed)?;
        }
    }
    Ok(())
}

/// Client certificates made by `dlpgate cert new`, as DER.
fn client_cert(dir: &Path) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let seeds = [
        ("client-ecdsa", KeyType::EcdsaP256, Usage::Client, "casb client", vec![]),
        (
            "server-ecdsa-sans",
            KeyType::EcdsaP256,
            Usage::Server,
            "icap.example",
            vec!["icap.example".to_string(), "127.0.0.1".to_string(), "::1".to_string()],
        ),
        ("client-rsa", KeyType::Rsa2048, Usage::Client, "rsa client", vec![]),
    ];
    for (name, key_type, usage, cn, sans) in seeds {
        let cert = tmp.path().join(format!("{name}.crt"));
        run(CertCommand::New(NewArgs {
            subject: Subject {
                cn: cn.to_string(),
                sans,
                org: Some("dlpgate fuzz".to_string()),
                key_type,
                days: 3650,
            },
            usage,
            output: Output {
                cert: cert.clone(),
                key: tmp.path().join(format!("{name}.key")),
                combined: None,
                force: true,
            },
        }))?;
        for der in icap::tls::load_certs(&cert)? {
            write(dir, &format!("{name}.der"), der.as_ref())?;
        }
    }
    Ok(())
}

fn policy_toml(dir: &Path) -> anyhow::Result<()> {
    write(dir, "default.toml", inspect::DEFAULT_POLICY_TOML.as_bytes())?;
    let full = r#"[policy]
name = "acme"
could_not_scan = "monitor"
exempt_file_types = ["image", "media"]
disable = ["phone"]
exclude_test_numbers = true

[[detector]]
name = "employee_id"
regex = '\bEMP-[0-9]{6}\b'
confidence = "medium"
hotwords = ["employee", "staff id"]

[[dictionary]]
name = "codenames"
terms = ["Project Falcon", "Bluebird"]
confidence = "high"

[hotwords]
credit_card = ["kartennummer"]

[exclusions]
credit_card = ["4000 0000 0000 0002"]
any = ["AKIAIOSFODNN7EXAMPLE"]

[[rule]]
name = "employee-ids"
detectors = ["employee_id", "codenames"]
min_count = 2
min_confidence = "medium"
severity = "medium"
action = "block"
scope = "reqmod"
groups = ["contractors"]

[[rule]]
name = "encrypted-archives"
file_types = ["encrypted_archive"]
action = "monitor"
"#;
    write(dir, "full.toml", full.as_bytes())?;
    write(dir, "bad_regex.toml", b"[[detector]]\nname = \"x\"\nregex = '(unclosed'\n")?;
    Ok(())
}

fn stunnel_conf(dir: &Path) -> anyhow::Result<()> {
    let seed = "; the seed's stunnel.conf\nforeground = yes\npid =\ndebug = info\n\n[microsoft-cas]\n\
        accept = 0.0.0.0:11344\nconnect = 10.0.0.5:1344\ncert = /etc/ssl/private/stunnel-key.pem\n\
        CAfile = /etc/ssl/certs/CAfile.pem\nverify = 2\nTIMEOUTclose = 1\n";
    let client = "client = yes\nsslVersionMin = TLSv1.2\n[to-dlp]\naccept = 127.0.0.1:1344\n\
        connect = dlp1.example:11344\nconnect = dlp2.example:11344\nfailover = prio\n\
        cert = client.pem\nkey = client.key\nCAfile = ca.pem\nverifyChain = yes\ncheckHost = dlp1.example\n\
        sni = dlp1.example\nciphers = ECDHE-RSA-AES128-GCM-SHA256\nciphersuites = TLS_AES_128_GCM_SHA256\n\
        TIMEOUTidle = 600\nTIMEOUTconnect = 5\nTIMEOUTbusy = 30\nprotocol = proxy\n";
    let include = "include = conf.d\n[s]\naccept = 1\nconnect = 2\ncert = c\nsetuid = stunnel4\n";
    write(dir, "seed.conf", seed.as_bytes())?;
    write(dir, "client.conf", client.as_bytes())?;
    write(dir, "include.conf", include.as_bytes())?;
    Ok(())
}

/// State lines written by the scan's own writer.
fn scan_state(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join("three_files");
    let _ = std::fs::remove_file(&path);
    let mut state = State::open(&path)?;
    let record = |path: &str, verdict: ScanVerdict, action: &str| Record {
        path: path.to_string(),
        size: 1234,
        sha256: Some("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".to_string()),
        verdict,
        action: action.to_string(),
        rules: if verdict == ScanVerdict::Block { vec!["credit-card".to_string()] } else { Vec::new() },
        reason: None,
        server: Some("127.0.0.1:1344".to_string()),
        latency_ms: Some(3),
        incident_id: None,
        quarantined_to: None,
        resumed: false,
        mtime: Some(1_700_000_000_123_456_789),
    };
    state.append(&record("docs/a.txt", ScanVerdict::Allow, "allow"))?;
    state.append(&Record {
        incident_id: Some("inc-0192".to_string()),
        quarantined_to: Some("/q/docs/b.csv".to_string()),
        ..record("docs/b.csv", ScanVerdict::Block, "block")
    })?;
    state.append(&Record {
        reason: Some("connection refused".to_string()),
        mtime: None,
        ..record("docs/c.zip", ScanVerdict::Error, "block")
    })?;
    drop(state);
    // A line cut by a crash, then a resumed scan's line.
    let mut text = std::fs::read(&path)?;
    text.extend_from_slice(b"{\"path\":\"docs/d.pdf\",\"size\":9,\"verdict\":\"allow\"");
    write(dir, "cut_line", &text)?;
    Ok(())
}
