//! `dlpgate bench`: an ICAP load generator.
//!
//! It keeps N connections alive and sends REQMOD or RESPMOD with a preview (by default the size
//! the service announces in OPTIONS, as real clients do), back to back, for a
//! fixed time, then prints req/s, p50 and p99. Given server process ids, it also reads their CPU
//! time (and their children's) from /proc before and after, and reports requests per
//! server CPU-second, which stays fair when the load generator shares the machine's cores.
//!
//! # Why it does not use `icap::client`
//!
//! It sends each request from bytes encoded once, and reads the answer with the codec's
//! decoder, with nothing else per request. `icap::client` (which `scan` and `connector` use)
//! does more per request, on purpose: it hashes what it sends and what comes back (to tell
//! "unmodified" answers), copies the body through a reader, splits the connection to write
//! while it reads, and arms a timer per read. Rewritten on it, this load generator cost, against
//! `dlpgate serve`'s echo (5.5 KiB RESPMOD, 8 connections, 5 s, medians of 5 runs side by side,
//! 2026-12-06): 7.0 µs of its own CPU per request instead of 5.2 with the announced preview
//! (req/s 53,715 against 63,201), and 10.1 µs instead of 4.2 with `--preview 0` (req/s 36,960
//! against 62,582; the server's own req/CPU-s fell too, 129,300 against 157,446, as a slower
//! client lets it batch less). On two shared cores the load generator's cost moves the figures
//! it exists to measure, so it keeps this minimal client. Command: docs/BENCHMARKS.md, "Load
//! generator".

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::BytesMut;
use clap::{Args, ValueEnum};
use icap_proto::{
    encode_chunk, encode_last_chunk, encode_request_head, Headers, HttpRequestHead, HttpResponseHead, Limits,
    Method, Parts, RequestHead, ResponseDecoder, ResponseEvent, Section,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Which ICAP method to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BenchMethod {
    /// The body as an upload (POST).
    Reqmod,
    /// The body as a download (200 response).
    Respmod,
}

/// `dlpgate bench` settings.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Server address.
    #[arg(long, default_value = "127.0.0.1:1344")]
    pub server: SocketAddr,
    /// Service name in the ICAP URI.
    #[arg(long, default_value = "echo")]
    pub service: String,
    /// Method to send.
    #[arg(long, value_enum, default_value = "respmod")]
    pub method: BenchMethod,
    /// Concurrent persistent connections.
    #[arg(long, default_value_t = 8)]
    pub connections: usize,
    /// Body size in bytes.
    #[arg(long, default_value_t = 5632)]
    pub body: usize,
    /// Take the body from this file (its first --body bytes, repeated if it is shorter)
    /// instead of `x` bytes: for content that makes the detectors work, such as the
    /// number-dense text of `inspect`'s throughput example.
    #[arg(long)]
    pub body_file: Option<std::path::PathBuf>,
    /// Preview size in bytes (0 disables preview). By default, the size the service announces
    /// in OPTIONS, as Squid and c-icap-client do (no preview when it announces none).
    #[arg(long)]
    pub preview: Option<usize>,
    /// Seconds to run (after a one-second warm-up).
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Stop after this many requests in all, whatever the time.
    #[arg(long, default_value_t = 50_000_000)]
    pub max_requests: u64,
    /// Server process ids whose CPU time (children included) is measured.
    #[arg(long = "pid", value_delimiter = ',')]
    pub pids: Vec<u32>,
    /// Load generator threads.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// A label for the report line.
    #[arg(long, default_value = "")]
    pub label: String,
    /// Part of the server side (a proxy such as stunnel or `dlpgate tunnel`) whose CPU time is
    /// also reported on its own; include it in --pid too for the whole chain.
    #[arg(long = "proxy-pid", value_delimiter = ',')]
    pub proxy_pids: Vec<u32>,
    /// Connect with TLS (icaps).
    #[arg(long)]
    pub tls: bool,
    /// CA bundle or pinned server certificate to trust (with --tls).
    #[arg(long)]
    pub ca: Option<std::path::PathBuf>,
    /// Client certificate to present (with --tls).
    #[arg(long)]
    pub cert: Option<std::path::PathBuf>,
    /// Key of the client certificate (default: in --cert).
    #[arg(long)]
    pub key: Option<std::path::PathBuf>,
    /// A new connection (and TLS handshake) for every request, to measure handshake rates.
    #[arg(long)]
    pub handshakes: bool,
}

/// A connection of the load generator: TCP or TLS.
trait Conn: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Conn for T {}

/// How to open a connection.
#[derive(Clone)]
struct Connector {
    server: SocketAddr,
    tls: Option<tokio_rustls::TlsConnector>,
}

impl Connector {
    fn new(args: &BenchArgs) -> anyhow::Result<Self> {
        let tls = if args.tls {
            let settings = icap::tls::TlsClientSettings {
                trust: args.ca.clone(),
                verify: if args.ca.is_some() {
                    icap::tls::ServerVerifyMode::ChainOrPin
                } else {
                    icap::tls::ServerVerifyMode::Insecure
                },
                cert: args.cert.clone(),
                key: args.key.clone(),
                // A load generator aimed at an address: the certificate is checked, its name
                // is not (as before).
                name_check: icap::tls::NameCheck::Off,
                ..Default::default()
            };
            let (config, _) = settings.build().context("TLS settings")?;
            Some(tokio_rustls::TlsConnector::from(config))
        } else {
            None
        };
        Ok(Self { server: args.server, tls })
    }

    async fn connect(&self) -> anyhow::Result<Box<dyn Conn>> {
        let stream = TcpStream::connect(self.server)
            .await
            .with_context(|| format!("connecting to {}", self.server))?;
        stream.set_nodelay(true)?;
        match &self.tls {
            None => Ok(Box::new(stream)),
            Some(tls) => {
                let name = rustls_pki_types::ServerName::IpAddress(self.server.ip().into());
                Ok(Box::new(tls.connect(name, stream).await.context("TLS handshake")?))
            }
        }
    }
}

/// Runs the benchmark and prints the report.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    if args.connections == 0 {
        bail!("--connections must be at least 1");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let report = runtime.block_on(bench(&args))?;
    report.print(&args);
    Ok(())
}

struct Report {
    requests: u64,
    errors: u64,
    elapsed: Duration,
    latencies_us: Vec<u32>,
    server_cpu: Option<Duration>,
    proxy_cpu: Option<Duration>,
    /// Preview size sent (0: none).
    preview: usize,
}

impl Report {
    fn percentile(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        let idx = ((self.latencies_us.len() - 1) as f64 * p).round() as usize;
        f64::from(self.latencies_us[idx]) / 1000.0
    }

    fn print(&self, args: &BenchArgs) {
        let secs = self.elapsed.as_secs_f64();
        let rps = self.requests as f64 / secs;
        let per_cpu = self.server_cpu.map(|cpu| self.requests as f64 / cpu.as_secs_f64().max(1e-9));
        let mbps = self.requests as f64 * args.body as f64 / secs / 1e6;
        let proxy_us = self.proxy_cpu.map(|cpu| cpu.as_secs_f64() * 1e6 / (self.requests.max(1) as f64));
        if args.json {
            println!(
                "{{\"label\":{:?},\"method\":\"{:?}\",\"body\":{},\"connections\":{},\"preview\":{},\"requests\":{},\"errors\":{},\"seconds\":{:.3},\"rps\":{:.1},\"mb_per_s\":{:.1},\"p50_ms\":{:.3},\"p99_ms\":{:.3},\"server_cpu_s\":{},\"req_per_cpu_s\":{},\"proxy_cpu_us_per_req\":{}}}",
                args.label,
                args.method,
                args.body,
                args.connections,
                self.preview,
                self.requests,
                self.errors,
                secs,
                rps,
                mbps,
                self.percentile(0.5),
                self.percentile(0.99),
                self.server_cpu.map_or("null".to_string(), |c| format!("{:.3}", c.as_secs_f64())),
                per_cpu.map_or("null".to_string(), |v| format!("{v:.1}")),
                proxy_us.map_or("null".to_string(), |v| format!("{v:.2}")),
            );
        } else {
            println!(
                "{} {:?} body={}B conns={} preview={} requests={} errors={} req/s={:.0} MB/s={:.1} p50={:.3}ms p99={:.3}ms server_cpu={} req/cpu-s={}",
                args.label,
                args.method,
                args.body,
                args.connections,
                self.preview,
                self.requests,
                self.errors,
                rps,
                mbps,
                self.percentile(0.5),
                self.percentile(0.99),
                self.server_cpu.map_or("-".to_string(), |c| format!("{:.2}s", c.as_secs_f64())),
                per_cpu.map_or("-".to_string(), |v| format!("{v:.0}")),
            );
        }
    }
}

async fn bench(args: &BenchArgs) -> anyhow::Result<Report> {
    let connector = Connector::new(args)?;
    let preview = match args.preview {
        Some(size) => size,
        None => announced_preview(&connector, args).await?,
    };
    let body = match &args.body_file {
        None => vec![b'x'; args.body],
        Some(path) => {
            let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            if text.is_empty() {
                bail!("{} is empty", path.display());
            }
            text.iter().copied().cycle().take(args.body).collect()
        }
    };
    let message = build_message(args, &body, preview);
    let warmup = Instant::now() + Duration::from_secs(1);
    let end = warmup + Duration::from_secs(args.duration);
    let per_conn_cap = args.max_requests.div_ceil(args.connections as u64);
    let handshakes = args.handshakes;
    let mut workers = Vec::new();
    for _ in 0..args.connections {
        let message = message.clone();
        let connector = connector.clone();
        workers.push(tokio::spawn(async move {
            worker(connector, message, handshakes, warmup, end, per_conn_cap).await
        }));
    }
    tokio::time::sleep_until(warmup.into()).await;
    let cpu_before = server_cpu(&args.pids);
    let proxy_before = server_cpu(&args.proxy_pids);
    let started = Instant::now();
    let mut report = Report {
        requests: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        latencies_us: Vec::new(),
        server_cpu: None,
        proxy_cpu: None,
        preview,
    };
    for w in workers {
        let stats = w.await.context("worker panicked")??;
        report.requests += stats.requests;
        report.errors += stats.errors;
        report.latencies_us.extend(stats.latencies_us);
    }
    report.elapsed =
        started.elapsed().min(end.saturating_duration_since(warmup)).max(Duration::from_millis(1));
    if let (Some(before), Some(after)) = (cpu_before, server_cpu(&args.pids)) {
        report.server_cpu = Some(after.saturating_sub(before));
    }
    if let (Some(before), Some(after)) = (proxy_before, server_cpu(&args.proxy_pids)) {
        report.proxy_cpu = Some(after.saturating_sub(before));
    }
    report.latencies_us.sort_unstable();
    Ok(report)
}

/// One request, encoded: the head with the preview, and the rest of the body.
#[derive(Clone)]
struct Message {
    first: bytes::Bytes,
    rest: Option<bytes::Bytes>,
}

/// The preview size the service announces in OPTIONS (0 when it announces none).
async fn announced_preview(connector: &Connector, args: &BenchArgs) -> anyhow::Result<usize> {
    let mut head = RequestHead::new(Method::Options, format!("icap://{}/{}", args.server, args.service));
    head.headers.append("Host", args.server.to_string());
    let mut request = BytesMut::new();
    let none = Parts { http_request: None, http_response: None, body: Section::NullBody };
    encode_request_head(&head, none, &mut request);
    let mut stream = connector.connect().await?;
    stream.write_all(&request).await?;
    let mut buf = BytesMut::new();
    let mut decoder = ResponseDecoder::new(Limits::default());
    let closed = format!("{} closed the connection before answering OPTIONS", args.server);
    let response = loop {
        if let ResponseEvent::Head(res) = next_event(&mut stream, &mut buf, &mut decoder, &closed).await? {
            break res;
        }
    };
    if response.head.status != 200 {
        bail!("OPTIONS for service {:?} answered {}", args.service, response.head.status);
    }
    match response.head.headers.get("preview") {
        None => Ok(0),
        Some(v) => v.trim().parse().with_context(|| format!("OPTIONS announced a bad Preview: {v:?}")),
    }
}

fn build_message(args: &BenchArgs, body: &[u8], preview: usize) -> Message {
    let uri = format!("icap://{}/{}", args.server, args.service);
    let mut head = RequestHead::new(
        if args.method == BenchMethod::Reqmod { Method::Reqmod } else { Method::Respmod },
        uri,
    );
    head.headers.append("Host", args.server.to_string());
    head.headers.append("Allow", "204");
    let use_preview = preview > 0;
    if use_preview {
        head.headers.append("Preview", preview.min(args.body).to_string());
    }
    let mut http_headers = Headers::new();
    http_headers.append("Content-Length", args.body.to_string());
    http_headers.append("Content-Type", "application/octet-stream");
    let req = HttpRequestHead::new("POST", "http://bench.test/upload", http_headers.clone());
    let get = HttpRequestHead::new("GET", "http://bench.test/file", Headers::new());
    let res = HttpResponseHead::new(200, "OK", http_headers);
    let parts = match args.method {
        BenchMethod::Reqmod => {
            Parts { http_request: Some(&req), http_response: None, body: Section::ReqBody }
        }
        BenchMethod::Respmod => {
            Parts { http_request: Some(&get), http_response: Some(&res), body: Section::ResBody }
        }
    };
    let mut first = BytesMut::new();
    encode_request_head(&head, parts, &mut first);
    if !use_preview {
        encode_chunk(body, &mut first);
        encode_last_chunk(false, &mut first);
        return Message { first: first.freeze(), rest: None };
    }
    let cut = preview.min(body.len());
    encode_chunk(&body[..cut], &mut first);
    if cut == body.len() {
        encode_last_chunk(true, &mut first);
        return Message { first: first.freeze(), rest: None };
    }
    encode_last_chunk(false, &mut first);
    let mut rest = BytesMut::new();
    encode_chunk(&body[cut..], &mut rest);
    encode_last_chunk(false, &mut rest);
    Message { first: first.freeze(), rest: Some(rest.freeze()) }
}

struct WorkerStats {
    requests: u64,
    errors: u64,
    latencies_us: Vec<u32>,
}

async fn worker(
    connector: Connector,
    message: Message,
    handshakes: bool,
    warmup: Instant,
    end: Instant,
    cap: u64,
) -> anyhow::Result<WorkerStats> {
    let mut stats = WorkerStats { requests: 0, errors: 0, latencies_us: Vec::new() };
    let mut conn: Option<Box<dyn Conn>> = None;
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let mut decoder = ResponseDecoder::new(Limits::default());
    while Instant::now() < end && stats.requests < cap {
        let stream = match &mut conn {
            Some(s) => s,
            None => {
                let s = match connector.connect().await {
                    Ok(s) => s,
                    Err(e) => {
                        stats.errors += 1;
                        if stats.errors > 1000 {
                            return Err(e.context("too many errors"));
                        }
                        continue;
                    }
                };
                buf.clear();
                decoder = ResponseDecoder::new(Limits::default());
                conn.insert(s)
            }
        };
        let started = Instant::now();
        match exchange(stream.as_mut(), &message, &mut buf, &mut decoder).await {
            Ok(keep) => {
                if started >= warmup {
                    stats.requests += 1;
                    stats.latencies_us.push(u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX));
                }
                if !keep || handshakes {
                    conn = None;
                }
            }
            Err(e) => {
                stats.errors += 1;
                if stats.errors > 1000 {
                    return Err(e.context("too many errors"));
                }
                conn = None;
            }
        }
    }
    Ok(stats)
}

/// One request and its answer; true when the connection can be reused.
async fn exchange(
    stream: &mut dyn Conn,
    message: &Message,
    buf: &mut BytesMut,
    decoder: &mut ResponseDecoder,
) -> anyhow::Result<bool> {
    stream.write_all(&message.first).await?;
    let mut sent_rest = message.rest.is_none();
    loop {
        match next_event(stream, buf, decoder, "server closed the connection").await? {
            ResponseEvent::Head(res) if res.head.status == 100 => {
                if let (false, Some(rest)) = (sent_rest, &message.rest) {
                    stream.write_all(rest).await?;
                    sent_rest = true;
                }
            }
            ResponseEvent::Head(res) => {
                if res.head.status >= 400 {
                    bail!("server answered {}", res.head.status);
                }
                let close = res.head.headers.list("connection").any(|v| v.eq_ignore_ascii_case("close"));
                // Drain to the end of this response.
                while !matches!(
                    next_event(stream, buf, decoder, "server closed the connection mid-response").await?,
                    ResponseEvent::End { .. }
                ) {}
                // A final answer before 100 means the rest of the body is not sent (RFC 3507).
                return Ok(!close);
            }
            ResponseEvent::Data(_) | ResponseEvent::End { .. } => {}
        }
    }
}

/// The next answer event, read from `stream` as the decoder needs; `closed` is the error when
/// the server closes the connection first.
async fn next_event<S: AsyncRead + Unpin + ?Sized>(
    stream: &mut S,
    buf: &mut BytesMut,
    decoder: &mut ResponseDecoder,
    closed: &str,
) -> anyhow::Result<ResponseEvent> {
    loop {
        if let Some(event) = decoder.decode(buf)? {
            return Ok(event);
        }
        if stream.read_buf(buf).await? == 0 {
            bail!("{closed}");
        }
    }
}

/// CPU time (user + system) of these processes and all their descendants, from /proc.
pub fn server_cpu(pids: &[u32]) -> Option<Duration> {
    if pids.is_empty() {
        return None;
    }
    let ticks = clock_ticks();
    let mut all: Vec<(u32, u32, u64)> = Vec::new();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if let Some((ppid, cpu)) = read_stat(pid) {
            all.push((pid, ppid, cpu));
        }
    }
    let mut family: Vec<u32> = pids.to_vec();
    let mut grew = true;
    while grew {
        grew = false;
        for &(pid, ppid, _) in &all {
            if family.contains(&ppid) && !family.contains(&pid) {
                family.push(pid);
                grew = true;
            }
        }
    }
    let total: u64 = all.iter().filter(|(pid, _, _)| family.contains(pid)).map(|(_, _, cpu)| cpu).sum();
    Some(Duration::from_secs_f64(total as f64 / ticks as f64))
}

/// Parent pid and utime+stime in clock ticks, from /proc/PID/stat.
fn read_stat(pid: u32) -> Option<(u32, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: split after the last ')'.
    let after = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ppid = fields.get(1)?.parse().ok()?;
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((ppid, utime + stime))
}

fn clock_ticks() -> u64 {
    // USER_HZ is 100 on every Linux architecture that dlpgate targets.
    100
}
