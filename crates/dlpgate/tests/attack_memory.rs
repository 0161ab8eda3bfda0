//! Memory stays bounded whatever the input: `dlpgate serve` with its default settings, under
//! PDF CMap bombs, zip and gzip bombs, bodies trickled one byte per read, and a thousand idle
//! and slowloris connections all at once, keeps its peak RSS (VmHWM) under 256 MiB, and
//! answers an ordinary request within a second afterwards.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use inspect::testkit::{gzip, noise, zip_bomb, zip_of};
use support::{icap_status, Dlpgate};

/// What the server may reach at its peak.
const RSS_LIMIT_KIB: u64 = 256 * 1024;

/// A PDF whose fonts each carry a ToUnicode CMap mapping every 2-byte code (`<0000> <FFFF>`):
/// tiny on the wire, 65,536 map entries per font once parsed.
fn pdf_cmap_bomb(fonts: usize) -> Vec<u8> {
    let mut objs: Vec<Vec<u8>> = Vec::new();
    let font_refs: String = (0..fonts).map(|i| format!("/F{i} {} 0 R ", 5 + 2 * i)).collect();
    let content: String = (0..fonts).map(|i| format!("BT /F{i} 10 Tf <0041> Tj ET\n")).collect();
    objs.push(b"<< /Type /Catalog /Pages 2 0 R >>".to_vec());
    objs.push(b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec());
    objs.push(
        format!("<< /Type /Page /Parent 2 0 R /Contents 4 0 R /Resources << /Font << {font_refs}>> >> >>")
            .into_bytes(),
    );
    objs.push(format!("<< /Length {} >>\nstream\n{content}\nendstream", content.len()).into_bytes());
    for i in 0..fonts {
        let cmap =
            format!("begincmap\n1 beginbfrange <0000> <FFFF> <{:04X}> endbfrange\nendcmap\n", i % 0xFFFF);
        objs.push(
            format!(
                "<< /Type /Font /Subtype /Type0 /BaseFont /F{i} /Encoding /Identity-H /ToUnicode {} 0 R >>",
                6 + 2 * i
            )
            .into_bytes(),
        );
        objs.push(format!("<< /Length {} >>\nstream\n{cmap}\nendstream", cmap.len()).into_bytes());
    }
    let mut out = b"%PDF-1.7\n".to_vec();
    for (i, o) in objs.iter().enumerate() {
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(o);
        out.extend_from_slice(b"\nendobj\n");
    }
    out.extend_from_slice(b"trailer\n<< /Root 1 0 R >>\n%%EOF\n");
    out
}

/// A whole REQMOD (upload) or RESPMOD (download, with a `Content-Encoding` when given).
fn request(respmod: bool, encoding: Option<&str>, body: &[u8], allow_204: bool) -> Vec<u8> {
    let allow = if allow_204 { "Allow: 204\r\n" } else { "" };
    let mut msg = if respmod {
        let req = "GET /f HTTP/1.1\r\nHost: files.test\r\n\r\n";
        let enc = encoding.map(|e| format!("Content-Encoding: {e}\r\n")).unwrap_or_default();
        let res = format!("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n{enc}\r\n");
        format!(
            "RESPMOD icap://127.0.0.1/respmod ICAP/1.0\r\nHost: x\r\n{allow}Encapsulated: req-hdr=0, res-hdr={}, res-body={}\r\n\r\n{req}{res}",
            req.len(),
            req.len() + res.len()
        )
    } else {
        let http = "POST /up HTTP/1.1\r\nHost: upload.test\r\n\r\n";
        format!(
            "REQMOD icap://127.0.0.1/reqmod ICAP/1.0\r\nHost: x\r\n{allow}Encapsulated: req-hdr=0, req-body={}\r\n\r\n{http}",
            http.len()
        )
    }
    .into_bytes();
    if !body.is_empty() {
        msg.extend_from_slice(format!("{:x}\r\n", body.len()).as_bytes());
        msg.extend_from_slice(body);
        msg.extend_from_slice(b"\r\n");
    }
    msg.extend_from_slice(b"0\r\n\r\n");
    msg
}

/// Sends `msg` and returns the ICAP status of the answer (0 when there was none).
fn send(addr: std::net::SocketAddr, msg: &[u8], timeout: Duration) -> u16 {
    let Ok(mut s) = TcpStream::connect(addr) else { return 0 };
    s.set_read_timeout(Some(timeout)).unwrap();
    s.set_write_timeout(Some(timeout)).unwrap();
    if s.write_all(msg).is_err() {
        // Refused mid-upload: the answer may still be there.
    }
    let mut head = [0u8; 64];
    let n = s.read(&mut head).unwrap_or(0);
    icap_status(&head[..n])
}

fn vm_hwm_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn memory_stays_bounded_under_bombs_trickles_and_idle_connections() {
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    // Default settings; the metrics listener only tells when the attackers are connected.
    let metrics_port = support::free_port();
    let server = Dlpgate::start(&["--metrics-listen", &format!("127.0.0.1:{metrics_port}")]);
    support::wait_for_port(metrics_port, Duration::from_secs(10));
    let (addr, pid) = (server.addr, server.guard.pid());
    let started = Instant::now();

    let pdf = Arc::new(request(false, None, &pdf_cmap_bomb(24), true));
    let zip = Arc::new(request(false, None, &zip_bomb(64 << 20), true));
    let gzip_zeros = Arc::new(request(true, Some("gzip"), &gzip(&vec![0u8; 64 << 20]), true));
    // A zip of incompressible bytes, gzip'd: a download the engine must hold (4 MiB each).
    let gzip_zip =
        Arc::new(request(true, Some("gzip"), &gzip(&zip_of(&[("n.bin", &noise(4 << 20, 7)[..])])), true));

    let mut attacks = Vec::new();
    for i in 0..64 {
        let pdf = pdf.clone();
        attacks.push(thread::spawn(move || ("pdf", send(addr, &pdf, Duration::from_secs(50)))));
        let (name, msg) = match i % 4 {
            0 | 1 => ("zip", zip.clone()),
            2 => ("gzip", gzip_zeros.clone()),
            _ => ("gzip(zip)", gzip_zip.clone()),
        };
        attacks.push(thread::spawn(move || (name, send(addr, &msg, Duration::from_secs(50)))));
    }
    // Bodies trickled one byte per write, no 204 offered: each byte is read on its own.
    let mut tricklers = Vec::new();
    for _ in 0..64 {
        tricklers.push(thread::spawn(move || {
            let Ok(mut s) = TcpStream::connect(addr) else { return 0 };
            s.set_nodelay(true).unwrap();
            let head = request(false, None, b"", false);
            let head = &head[..head.len() - 5]; // without the last chunk
            if s.write_all(head).is_err() {
                return 0;
            }
            let until = Instant::now() + Duration::from_secs(8);
            while Instant::now() < until {
                if s.write_all(b"1\r\nx\r\n").is_err() {
                    break;
                }
                thread::sleep(Duration::from_millis(10));
            }
            let _ = s.write_all(b"0\r\n\r\n");
            s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
            let mut head = [0u8; 64];
            let n = s.read(&mut head).unwrap_or(0);
            icap_status(&head[..n])
        }));
    }
    // A thousand connections that send nothing, or a head that never ends, once the
    // attackers hold their connections (the tricklers alone hold 64 for 8 s).
    support::wait_until(Duration::from_secs(20), "64 attackers connected", || {
        let metrics = support::http_get(metrics_port, "/metrics");
        support::load::sample(&metrics, "dlpgate_open_connections").is_some_and(|n| n >= 64.0)
    });
    let mut idle = Vec::new();
    for i in 0..1000 {
        if let Ok(mut s) = TcpStream::connect(addr) {
            if i % 2 == 1 {
                let _ = s.write_all(b"REQMOD icap://127.0.0.1/reqmod ICAP/1.0\r\nHost: x\r\n");
            }
            idle.push(s);
        }
    }
    let slowloris = thread::spawn(move || {
        for round in 0..5 {
            thread::sleep(Duration::from_secs(1));
            for s in idle.iter_mut().skip(1).step_by(2) {
                let _ = s.write_all(format!("X-Slow-{round}: {}\r\n", "a".repeat(200)).as_bytes());
            }
        }
        idle
    });

    let mut answers = std::collections::BTreeMap::<String, usize>::new();
    for a in attacks {
        let (name, status) = a.join().unwrap();
        assert!(matches!(status, 200 | 204 | 503), "{name}: status {status}\n{}", server.log());
        *answers.entry(format!("{name} {status}")).or_default() += 1;
    }
    for t in tricklers {
        let status = t.join().unwrap();
        assert!(matches!(status, 200 | 408 | 503), "trickle: status {status}");
        *answers.entry(format!("trickle {status}")).or_default() += 1;
    }
    let idle = slowloris.join().unwrap();

    // An ordinary request, with the idle and slowloris connections still open.
    let ordinary =
        request(false, None, &"quarterly report, nothing to see here\n".repeat(150).into_bytes(), true);
    let asked = Instant::now();
    let status = send(addr, &ordinary, Duration::from_secs(1));
    assert_eq!(status, 204, "an ordinary request is answered within a second ({:?})", asked.elapsed());

    let peak = vm_hwm_kib(pid);
    eprintln!(
        "attack_memory: peak RSS {} MiB after {:.1} s; answers {answers:?}",
        peak / 1024,
        started.elapsed().as_secs_f64()
    );
    assert!(peak < RSS_LIMIT_KIB, "peak RSS {} MiB\n{}", peak / 1024, server.log());
    drop(idle);
}
