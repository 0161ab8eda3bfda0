//! A client that stalls mid-body (Squid 5, bug 5352, on RESPMOD bodies over 64 KiB): the answer
//! head goes out early, later stalls get one body byte each (only leading bytes that match
//! nothing on their own), an allow then streams the rest (the echo is byte-identical end to
//! end), and a block aborts the transfer without sending the content. A stalled upload
//! (REQMOD) never gets an early head. With `--early-head-after-ms 0` nothing goes out before
//! the verdict.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::Dlpgate;

/// Opens a RESPMOD (no preview, no `Allow: 204`) and sends the HTTP heads and `first` bytes.
fn start_download(server: &Dlpgate, first: &[u8]) -> BufReader<TcpStream> {
    let req = "GET /report HTTP/1.1\r\nHost: files.test\r\n\r\n";
    let res = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n";
    let msg = format!(
        "RESPMOD icap://127.0.0.1/respmod ICAP/1.0\r\nHost: 127.0.0.1\r\n\
         Encapsulated: req-hdr=0, res-hdr={}, res-body={}\r\n\r\n{req}{res}",
        req.len(),
        req.len() + res.len()
    );
    start(server, msg.into_bytes(), first)
}

/// Opens a REQMOD (no preview, no `Allow: 204`) and sends the HTTP head and `first` bytes.
fn start_upload(server: &Dlpgate, first: &[u8]) -> BufReader<TcpStream> {
    let http = "POST /up HTTP/1.1\r\nHost: upload.test\r\nContent-Type: text/plain\r\n\r\n";
    let msg = format!(
        "REQMOD icap://127.0.0.1/reqmod ICAP/1.0\r\nHost: 127.0.0.1\r\n\
         Encapsulated: req-hdr=0, req-body={}\r\n\r\n{http}",
        http.len()
    );
    start(server, msg.into_bytes(), first)
}

fn start(server: &Dlpgate, mut msg: Vec<u8>, first: &[u8]) -> BufReader<TcpStream> {
    let stream = TcpStream::connect(server.addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    chunk(&mut msg, first);
    let mut reader = BufReader::new(stream);
    reader.get_mut().write_all(&msg).unwrap();
    reader
}

/// The length of the ICAP head and the encapsulated HTTP heads at the start of `answer`.
fn heads_len(answer: &[u8], http_heads: usize) -> usize {
    let mut at = 0;
    for _ in 0..1 + http_heads {
        at += answer[at..].windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    }
    at
}

/// True once `answer` holds the ICAP head and the HTTP response head of an early answer.
fn has_heads(answer: &[u8]) -> bool {
    answer.windows(4).filter(|w| w == b"\r\n\r\n").count() >= 2
}

/// Body bytes on the wire after the heads of an early answer (chunk framing included).
fn after_heads(answer: &[u8]) -> usize {
    if has_heads(answer) {
        answer.len() - heads_len(answer, 1)
    } else {
        0
    }
}

/// Reads onto `got` until `done(&got)` holds, for up to 10 s (then panics with what came).
fn read_until(
    reader: &mut BufReader<TcpStream>,
    mut got: Vec<u8>,
    what: &str,
    done: impl Fn(&[u8]) -> bool,
) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = [0u8; 4096];
    while !done(&got) {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "no {what} within 10 s, got {:?}", String::from_utf8_lossy(&got));
        reader.get_ref().set_read_timeout(Some(left)).unwrap();
        match reader.read(&mut buf) {
            Ok(0) => panic!("closed before {what}: {:?}", String::from_utf8_lossy(&got)),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::TimedOut => {
            }
            Err(e) => panic!("reading before {what}: {e}"),
        }
    }
    reader.get_ref().set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    got
}

/// A download of ordinary text on `server` (whose early head is on), read until it got its
/// early head and `bytes` trickled body bytes: the stalls any connection opened before it has
/// been through at least as many of.
fn stalled_control(server: &Dlpgate, bytes: usize) {
    let mut control = start_download(server, &text(2000, "control"));
    // Each trickled byte is a chunk of its own: `1\r\nX\r\n`.
    read_until(&mut control, Vec::new(), "early head and trickled bytes on the control", |b| {
        after_heads(b) >= 6 * bytes
    });
}

fn chunk(out: &mut Vec<u8>, data: &[u8]) {
    out.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// Bytes available within `wait`, without blocking longer.
fn available(reader: &mut BufReader<TcpStream>, wait: Duration) -> Vec<u8> {
    reader.get_ref().set_read_timeout(Some(wait)).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(_) => break,
        }
    }
    reader.get_ref().set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    got
}

/// Reads the chunked body after the head, until the last chunk; `None` if the connection
/// closes first.
fn read_chunks(reader: &mut impl BufRead) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        if reader.read_line(&mut size).ok()? == 0 {
            return None;
        }
        let n = usize::from_str_radix(size.trim(), 16).ok()?;
        let mut data = vec![0; n + 2];
        reader.read_exact(&mut data).ok()?;
        if n == 0 {
            return Some(body);
        }
        body.extend_from_slice(&data[..n]);
    }
}

fn text(lines: usize, tag: &str) -> Vec<u8> {
    (0..lines).map(|i| format!("{tag} line {i} of an ordinary report\n")).collect::<String>().into_bytes()
}

#[test]
fn a_stalled_client_gets_the_head_early_then_the_whole_echo() {
    let server = Dlpgate::start(&["--early-head-after-ms", "150", "--log", "debug"]);
    let first = text(2000, "first");
    let rest = text(2000, "rest");
    let mut conn = start_download(&server, &first);

    let early = read_until(&mut conn, Vec::new(), "early head", has_heads);
    let early_text = String::from_utf8_lossy(&early).to_string();
    assert!(early_text.starts_with("ICAP/1.0 200 "), "the head went out early: {early_text:?}");
    assert!(early_text.contains("HTTP/1.1 200 OK"), "with the unchanged HTTP head: {early_text}");
    assert!(!early_text.contains("GET /report"), "a RESPMOD answer carries the response head only");
    // It names the policy that judges the request, as the service's OPTIONS does.
    let (options, _) = support::exchange_raw(
        server.addr,
        b"OPTIONS icap://127.0.0.1/respmod ICAP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
          Encapsulated: null-body=0\r\n\r\n",
        Duration::from_millis(500),
    );
    let istag = |text: &str| text.lines().find(|l| l.starts_with("ISTag: ")).map(str::to_string);
    let policy_istag = istag(&String::from_utf8_lossy(&options)).expect("OPTIONS names an ISTag");
    assert!(policy_istag.starts_with("ISTag: \"dlpgate-"), "{policy_istag}");
    assert_eq!(istag(&early_text), Some(policy_istag), "{early_text}");
    let trickled_first = early[heads_len(&early, 1)..].to_vec();

    // Further stalls: one body byte each, the body's own first bytes.
    let trickled = read_until(&mut conn, trickled_first, "trickled byte", |b| b.len() >= 6);
    assert!(
        trickled.starts_with(b"1\r\nf\r\n"),
        "one byte per stall: {:?}\n{}",
        String::from_utf8_lossy(&trickled),
        server.log()
    );

    let mut end = Vec::new();
    chunk(&mut end, &rest);
    end.extend_from_slice(b"0\r\n\r\n");
    conn.get_mut().write_all(&end).unwrap();

    // The answer goes on after the trickled chunks: together they are the body, byte for byte.
    let mut reader =
        BufReader::new(std::io::Cursor::new(trickled).chain(conn.get_ref().try_clone().unwrap()));
    let body = read_chunks(&mut reader).expect("the echo ends with its last chunk");
    let mut sent = first.clone();
    sent.extend_from_slice(&rest);
    assert!(body == sent, "echo of {} bytes, got {}", sent.len(), body.len());
}

#[test]
fn a_block_after_an_early_head_aborts_without_the_content() {
    let server = Dlpgate::start(&["--early-head-after-ms", "150"]);
    let mut conn = start_download(&server, &text(2000, "first"));
    let early = read_until(&mut conn, Vec::new(), "early head", has_heads);
    assert!(early.starts_with(b"ICAP/1.0 200 "), "{:?}", String::from_utf8_lossy(&early));

    let mut end = Vec::new();
    chunk(&mut end, b"card 4111 1111 1111 1111\n");
    end.extend_from_slice(b"0\r\n\r\n");
    conn.get_mut().write_all(&end).unwrap();
    let mut rest = early[heads_len(&early, 1)..].to_vec();
    conn.get_ref().set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let closed = conn.read_to_end(&mut rest).is_ok();
    assert!(closed, "the connection is closed to abort the transfer");
    let rest = String::from_utf8_lossy(&rest).to_string();
    assert!(!rest.contains("0\r\n\r\n") && !rest.contains("4111"), "no last chunk, no content: {rest:?}");
    assert!(!rest.contains("ordinary report"), "nothing past the trickled bytes: {rest:?}");
}

#[test]
fn early_heads_can_be_turned_off() {
    let server = Dlpgate::start(&["--early-head-after-ms", "0"]);
    let with_early_heads = Dlpgate::start(&["--early-head-after-ms", "150"]);
    let mut conn = start_download(&server, &text(200, "first"));
    // As long as a server with early heads takes to send one and a trickled byte.
    stalled_control(&with_early_heads, 1);
    assert!(available(&mut conn, Duration::from_millis(200)).is_empty(), "nothing before the verdict");
    let mut end = Vec::new();
    chunk(&mut end, b"card 4111 1111 1111 1111\n");
    end.extend_from_slice(b"0\r\n\r\n");
    conn.get_mut().write_all(&end).unwrap();
    let mut head = String::new();
    conn.read_line(&mut head).unwrap();
    assert!(head.starts_with("ICAP/1.0 200"), "{head}");
    let answer = read_until(&mut conn, Vec::new(), "end of the answer", |b| b.ends_with(b"0\r\n\r\n"));
    assert!(String::from_utf8_lossy(&answer).contains("403 Forbidden"), "the block page, as usual");
}

#[test]
fn a_stalled_upload_never_gets_an_early_head() {
    let server = Dlpgate::start(&["--early-head-after-ms", "150"]);
    let mut conn = start_upload(&server, &text(2000, "first"));
    // A download opened after it has its early head and a trickled byte.
    stalled_control(&server, 1);
    assert!(available(&mut conn, Duration::from_millis(200)).is_empty(), "nothing before the verdict");
    let mut end = Vec::new();
    chunk(&mut end, b"card 4111 1111 1111 1111\n");
    end.extend_from_slice(b"0\r\n\r\n");
    conn.get_mut().write_all(&end).unwrap();
    let answer = read_until(&mut conn, Vec::new(), "end of the answer", |b| b.ends_with(b"0\r\n\r\n"));
    let answer = String::from_utf8_lossy(&answer).to_string();
    assert!(
        answer.starts_with("ICAP/1.0 200") && answer.contains("403 Forbidden"),
        "the block page: {answer}"
    );
}

#[test]
fn leading_bytes_that_hold_a_value_are_never_released() {
    let server = Dlpgate::start(&["--early-head-after-ms", "150"]);
    let filler = text(2000, "later");
    // A card number in the first bytes; an SSN that only its hotword, further on, reveals; a
    // clean start whose value comes 40 bytes in (the first 16 bytes would be harmless, but the
    // run and what follows it are judged together).
    let starts: [&[u8]; 3] = [
        b"4111111111111111 is the card on file\n",
        b"078051120 is the applicant's SSN\n",
        b"Dear customer, your card 4111 1111 1111 1111 expires soon\n",
    ];
    for start in starts {
        let mut first = start.to_vec();
        first.extend_from_slice(&filler);
        let mut conn = start_download(&server, &first);
        let mut early = read_until(&mut conn, Vec::new(), "early head", has_heads);
        assert!(early.starts_with(b"ICAP/1.0 200 "), "{:?}", String::from_utf8_lossy(&early));
        // Stalls enough for three trickled bytes of harmless text, opened after this one.
        stalled_control(&server, 3);
        early.extend(available(&mut conn, Duration::from_millis(200)));
        let released = &early[heads_len(&early, 1)..];
        assert!(
            released.is_empty(),
            "{:?}: nothing of the body before the verdict, got {:?}",
            String::from_utf8_lossy(start),
            String::from_utf8_lossy(released)
        );
    }
}
