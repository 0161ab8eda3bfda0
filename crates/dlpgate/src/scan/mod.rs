//! `dlpgate scan`: files through a connector's ICAP servers (a CASB file policy with external
//! content inspection), with a verdict per file and governance actions on blocked files.
//!
//! - [`walk`]: files, globs, include/exclude patterns, maximum size.
//! - [`send`]: one file to one server as an upload (REQMOD) or a download (RESPMOD).
//! - [`pool`]: weighted balancing and failover only when nothing was answered.
//! - [`record`]: output lines, the resume state, quarantine.
//!
//! Exit codes: 0 when everything was allowed, 1 when something was blocked, 2 when a file has
//! no verdict (or the scan could not run).

pub mod pool;
pub mod record;
pub mod send;
pub mod walk;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use icap::client::{Client, ClientConfig, IcapUri, Preview};
use tokio::io::AsyncRead;
use tokio::sync::mpsc;

use crate::connector::{self, ConfigDirArg, Connector, FailurePolicy, Kind, Server};
use crate::verdict::{Decision, Profile};
use pool::{Outcome, Pool, Source};
use record::Record;

/// Default most files in flight at once (a server's Max-Connections can lower it).
pub const DEFAULT_MAX_PARALLEL: usize = 32;
/// Files in flight per server when its OPTIONS gives no Max-Connections or cannot be read.
pub const DEFAULT_PER_SERVER: usize = 8;
/// Files found but not yet sent, kept in memory at most.
pub const WALK_QUEUE: usize = 1024;
/// Files up to this size are read whole in one go; larger ones are streamed.
pub const SMALL_FILE: u64 = 256 * 1024;
/// Files the walk saw this small are read on the async worker itself: from the page cache
/// that takes a few microseconds, less than a trip to the blocking pool (two thread wake-ups,
/// and new pool threads when many files are in flight). Larger ones go to the pool.
pub const INLINE_READ: u64 = 64 * 1024;
/// Files found are told to the writer (for the progress bar's length) this many at a time.
pub const FOUND_BATCH: u64 = 64;
/// Read buffer of a streamed file.
pub const READ_BUFFER: usize = 256 * 1024;
/// Longest time a finished row waits in the output buffer.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(100);
/// How long the OPTIONS asked before a scan may take.
pub const OPTIONS_TIMEOUT: Duration = Duration::from_secs(10);

/// `dlpgate scan` arguments.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// The configuration directory.
    #[command(flatten)]
    pub dir: ConfigDirArg,
    /// Connector to send the files to (see `dlpgate connector list`).
    #[arg(long, conflicts_with = "servers")]
    pub connector: Option<String>,
    /// Server address `icap[s]://host:port/service` (optionally `;weight=N`); several form
    /// one pool, balanced and failed over.
    #[arg(long = "server", value_parser = Server::parse_arg)]
    pub servers: Vec<Server>,
    /// reqmod (files as uploads) or respmod (as downloads). Default: the connector's type, or
    /// what the service's OPTIONS announces, or reqmod.
    #[arg(long, value_enum)]
    pub method: Option<Kind>,
    /// How answers are read (default: the connector's profile, or generic).
    #[arg(long, value_enum)]
    pub profile: Option<Profile>,
    /// Files no server could judge: fail-closed (treated as blocked) or fail-open. Default:
    /// the connector's policy, or fail-closed.
    #[arg(long, value_enum)]
    pub failure: Option<FailurePolicy>,
    #[command(flatten)]
    pub tls: crate::connector::TlsArgs,
    /// Only files whose path (relative to the argument) matches one of these globs.
    #[arg(long)]
    pub include: Vec<String>,
    /// Skip files whose relative path matches one of these globs.
    #[arg(long)]
    pub exclude: Vec<String>,
    /// Largest file sent, bytes; larger ones are skipped and counted.
    #[arg(long, default_value_t = walk::DEFAULT_MAX_SIZE)]
    pub max_size: u64,
    /// Send REQMOD bodies as multipart/form-data (a browser upload) rather than raw.
    #[arg(long)]
    pub multipart: bool,
    /// Files in flight at once (default: the servers' Max-Connections, at most 32).
    #[arg(long)]
    pub parallel: Option<usize>,
    /// JSON Lines on stdout, one object per file.
    #[arg(long)]
    pub json: bool,
    /// Move blocked files into this directory (keeping their relative path) and leave a note
    /// in their place.
    #[arg(long)]
    pub quarantine: Option<PathBuf>,
    /// Also write the report (the output and the summary) to this file.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Record progress in this file; a later run with the same file skips the files already
    /// judged (unchanged since).
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// No progress bar, even on a terminal.
    #[arg(long)]
    pub no_progress: bool,
    /// Files and directories to scan (a path with * ? [ is a glob).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

/// Runs a scan.
pub fn run(args: ScanArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("dlpgate scan: error: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(scan(args)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("dlpgate scan: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// The connector the arguments name or make.
fn connector_of(args: &ScanArgs) -> anyhow::Result<Connector> {
    let mut connector = match &args.connector {
        Some(name) => {
            let dir = connector::config_dir(args.dir.config_dir.as_deref());
            connector::load_named(&dir, name)?
        }
        None if args.servers.is_empty() => {
            anyhow::bail!(
                "say where to send the files: --connector NAME or --server icap://host:port/service"
            )
        }
        None => Connector::ad_hoc(
            args.servers.clone(),
            args.method.unwrap_or_default(),
            args.tls.to_tls(|p| Ok(p.clone()))?,
        ),
    };
    if let Some(p) = args.profile {
        connector.profile = p;
    }
    if let Some(f) = args.failure {
        connector.failure = f;
    }
    connector.validate()?;
    Ok(connector)
}

/// A file on disk, opened again for each server tried.
struct FileSource<'a> {
    path: &'a Path,
    /// Its size when the walk saw it.
    walked_size: u64,
}

/// Reads a small file whole, or `None` if it has grown past `INLINE_READ` since the walk.
fn read_small(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    let mut data = Vec::new();
    file.take(INLINE_READ + 1).read_to_end(&mut data)?;
    Ok((data.len() as u64 <= INLINE_READ).then_some(data))
}

impl Source for FileSource<'_> {
    async fn open(&self) -> std::io::Result<(Box<dyn AsyncRead + Unpin + Send>, u64)> {
        if self.walked_size <= INLINE_READ {
            if let Some(data) = read_small(self.path)? {
                let size = data.len() as u64;
                return Ok((Box::new(std::io::Cursor::new(data)), size));
            }
        }
        // One trip to the blocking pool: open, stat, and for a small file read it all.
        let path = self.path.to_path_buf();
        let opened = tokio::task::spawn_blocking(move || -> std::io::Result<Opened> {
            use std::io::Read;
            let mut file = std::fs::File::open(&path)?;
            let size = file.metadata()?.len();
            if size <= SMALL_FILE {
                let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
                Read::by_ref(&mut file).take(SMALL_FILE).read_to_end(&mut data)?;
                let size = data.len() as u64;
                return Ok(Opened::Small(data, size));
            }
            Ok(Opened::Large(file, size))
        })
        .await
        .map_err(std::io::Error::other)??;
        Ok(match opened {
            Opened::Small(data, size) => (Box::new(std::io::Cursor::new(data)), size),
            Opened::Large(file, size) => {
                let file = tokio::fs::File::from_std(file);
                (Box::new(tokio::io::BufReader::with_capacity(READ_BUFFER, file)), size)
            }
        })
    }
}

enum Opened {
    Small(Vec<u8>, u64),
    Large(std::fs::File, u64),
}

/// Bytes in memory (the connectivity test's samples).
#[derive(Debug)]
pub struct BytesSource<'a>(pub &'a [u8]);

impl Source for BytesSource<'_> {
    async fn open(&self) -> std::io::Result<(Box<dyn AsyncRead + Unpin + Send>, u64)> {
        Ok((Box::new(std::io::Cursor::new(self.0.to_vec())), self.0.len() as u64))
    }
}

/// What the workers send to the writer.
enum Event {
    Done(Box<Record>, walk::Found),
    Resumed(Box<Record>),
    Unreadable(Box<Record>),
    TooLarge(walk::Found),
    /// This many more files were found.
    Found(u64),
}

/// What a server's OPTIONS said before the scan.
#[derive(Debug, Default)]
struct Probe {
    /// Its Max-Connections.
    max_connections: Option<usize>,
    /// OPTIONS answered: the preview can come from it.
    options: bool,
    /// Nothing answered: why (the server starts set aside).
    unreachable: Option<String>,
}

/// Asks each server's OPTIONS: Max-Connections bounds the work sent to it, and the method
/// the service announces is the default one.
async fn probe(clients: &[Client], uris: &[IcapUri]) -> (Vec<Probe>, Option<Kind>) {
    let answers = futures_util::future::join_all(
        clients.iter().zip(uris).map(|(c, u)| tokio::time::timeout(OPTIONS_TIMEOUT, c.options(u))),
    )
    .await;
    let mut probes = Vec::new();
    let mut method = None;
    for (uri, answer) in uris.iter().zip(answers) {
        match answer {
            Ok(Ok(options)) => {
                probes.push(Probe {
                    max_connections: options.max_connections.map(|m| m as usize),
                    options: true,
                    unreachable: None,
                });
                if method.is_none() {
                    if options.methods.contains(&icap_proto::Method::Reqmod) {
                        method = Some(Kind::Reqmod);
                    } else if options.methods.contains(&icap_proto::Method::Respmod) {
                        method = Some(Kind::Respmod);
                    }
                }
            }
            Ok(Err(e)) => {
                eprintln!("dlpgate scan: warning: OPTIONS of {uri}: {}", pool::describe(&e));
                let unreachable = (!e.was_answered()).then(|| pool::describe(&e));
                probes.push(Probe { unreachable, ..Probe::default() });
            }
            Err(_) => {
                eprintln!("dlpgate scan: warning: OPTIONS of {uri}: timed out");
                probes.push(Probe { unreachable: Some("OPTIONS timed out".to_string()), ..Probe::default() });
            }
        }
    }
    (probes, method)
}

async fn scan(args: ScanArgs) -> anyhow::Result<u8> {
    let started = Instant::now();
    let connector = connector_of(&args)?;
    let config = connector.client_config()?;
    let uris: Vec<IcapUri> = connector.servers.iter().map(Server::icap_uri).collect::<anyhow::Result<_>>()?;
    let filter = walk::Filter::new(&args.include, &args.exclude, args.max_size)?;
    let transport = Arc::new(connector::transport::SniConnector { sni: connector.tls.sni.clone() });
    // One client per server; the OPTIONS asked now stays in its cache, and its connection
    // in its pool for the first file.
    let clients: Vec<Client> = uris
        .iter()
        .map(|_| {
            let config = ClientConfig { max_connections_per_server: DEFAULT_MAX_PARALLEL, ..config.clone() };
            Client::with_connector(config, transport.clone())
        })
        .collect();
    let (probes, announced) = probe(&clients, &uris).await;
    let method = match (args.method, &args.connector) {
        (Some(m), _) => m,
        (None, Some(_)) => connector.kind,
        (None, None) => announced.unwrap_or_default(),
    };
    // Files in flight to a server: at most its Max-Connections.
    let per_server: Vec<usize> = probes
        .iter()
        .map(|p| p.max_connections.unwrap_or(DEFAULT_PER_SERVER).clamp(1, DEFAULT_MAX_PARALLEL))
        .collect();
    let parallel =
        args.parallel.unwrap_or_else(|| per_server.iter().sum::<usize>().min(DEFAULT_MAX_PARALLEL)).max(1);
    let settings = send::SendSettings {
        method: method.method(),
        profile: connector.profile,
        preview: Preview::FromOptions,
        multipart: args.multipart,
    };
    let entries = uris
        .iter()
        .zip(&connector.servers)
        .zip(clients)
        .zip(probes.iter().zip(&per_server))
        .map(|(((uri, server), client), (probe, &limit))| pool::PoolEntry {
            uri: uri.clone(),
            weight: server.weight,
            client,
            limit,
            // A server whose OPTIONS did not answer gets whole bodies: asking its OPTIONS
            // before every file would queue them behind one another.
            preview: match connector.preview {
                Some(n) => Preview::Size(n),
                None if probe.options => Preview::FromOptions,
                None => Preview::Off,
            },
        })
        .collect();
    let pool = Arc::new(Pool::new(entries));
    for (i, probe) in probes.iter().enumerate() {
        if let Some(why) = &probe.unreachable {
            pool.set_down(i, why.clone());
        }
    }
    let mut state = match &args.state {
        Some(p) => Some(record::State::open(p)?),
        None => None,
    };
    let resumable = state.as_mut().map(|s| std::mem::take(&mut s.done)).unwrap_or_default();
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("dlpgate scan: interrupted; finishing the files in flight");
                stop.store(true, Ordering::SeqCst);
            }
        });
    }

    // Walker thread -> job queue -> workers -> events -> this task (the only writer).
    let (job_tx, job_rx) = mpsc::channel::<walk::Found>(WALK_QUEUE);
    let (event_tx, mut event_rx) = mpsc::channel::<Event>(WALK_QUEUE);
    let walker = {
        let paths = args.paths.clone();
        let event_tx = event_tx.clone();
        let stop = stop.clone();
        let mut resumable = resumable;
        let failure = connector.failure;
        std::thread::spawn(move || {
            // Files found are told to the progress bar in batches: one wake-up of the writer
            // per file would cost more than the rest of the walk.
            let mut found_unsaid = 0u64;
            walk::walk(&paths, &filter, |item| {
                if stop.load(Ordering::SeqCst) {
                    return false;
                }
                if found_unsaid >= FOUND_BATCH {
                    let _ = event_tx.blocking_send(Event::Found(std::mem::take(&mut found_unsaid)));
                }
                let sent = match item {
                    walk::Item::File(found) => {
                        let key = found.path.display().to_string();
                        let earlier = resumable
                            .remove(&key)
                            .filter(|r| r.size == found.size && r.mtime == Some(found.mtime));
                        match earlier {
                            Some(mut r) => {
                                r.resumed = true;
                                found_unsaid += 1;
                                event_tx.blocking_send(Event::Resumed(Box::new(r))).is_ok()
                            }
                            None => {
                                found_unsaid += 1;
                                job_tx.blocking_send(found).is_ok()
                            }
                        }
                    }
                    walk::Item::TooLarge(found) => event_tx.blocking_send(Event::TooLarge(found)).is_ok(),
                    walk::Item::Unreadable { path, error } => {
                        found_unsaid += 1;
                        let r = error_record(
                            &path.display().to_string(),
                            0,
                            format!("cannot read: {error}"),
                            failure,
                        );
                        event_tx.blocking_send(Event::Unreadable(Box::new(r))).is_ok()
                    }
                };
                sent
            });
            if found_unsaid > 0 {
                let _ = event_tx.blocking_send(Event::Found(found_unsaid));
            }
            // Files quarantined by an earlier run are no longer where they were: report them.
            for (_, mut r) in resumable {
                if r.quarantined_to.is_some() && paths.iter().any(|p| Path::new(&r.path).starts_with(p)) {
                    r.resumed = true;
                    let _ = event_tx.blocking_send(Event::Resumed(Box::new(r)));
                }
            }
        })
    };
    let job_rx = Arc::new(tokio::sync::Mutex::new(job_rx));
    let mut workers = Vec::new();
    for _ in 0..parallel {
        let job_rx = job_rx.clone();
        let event_tx = event_tx.clone();
        let pool = pool.clone();
        let stop = stop.clone();
        let failure = connector.failure;
        workers.push(tokio::spawn(async move {
            loop {
                let next = job_rx.lock().await.recv().await;
                let Some(found) = next else { break };
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let name = found.rel.to_string_lossy().to_string();
                let outcome = pool
                    .judge(&settings, &name, &FileSource { path: &found.path, walked_size: found.size })
                    .await;
                let record = outcome_record(&found, outcome, failure);
                if event_tx.send(Event::Done(Box::new(record), found)).await.is_err() {
                    break;
                }
            }
        }));
    }
    drop(event_tx);

    let mut out = Output::new(&args, connector.failure)?;
    loop {
        // Rows are written in batches, and at least every FLUSH_INTERVAL while results wait.
        let event = match tokio::time::timeout(FLUSH_INTERVAL, event_rx.recv()).await {
            Ok(Some(event)) => event,
            Ok(None) => break,
            Err(_) => {
                out.flush();
                continue;
            }
        };
        match event {
            Event::Found(files) => out.found(files),
            Event::TooLarge(found) => out.too_large(&found),
            Event::Resumed(r) => out.write(&r, true)?,
            Event::Unreadable(r) => out.write(&r, false)?,
            Event::Done(mut r, found) => {
                if r.verdict == Decision::Block {
                    if let Some(dir) = &args.quarantine {
                        out.quarantine(&mut r, &found, dir);
                    }
                }
                if let Some(state) = state.as_mut() {
                    if r.verdict != Decision::Error {
                        state.append(&r)?;
                    }
                }
                out.write(&r, false)?;
            }
        }
        if out.since_flush() >= FLUSH_INTERVAL {
            out.flush();
        }
    }
    for w in workers {
        let _ = w.await;
    }
    let _ = walker.join();
    let interrupted = stop.load(Ordering::SeqCst);
    let code = out.finish(&pool, started.elapsed(), interrupted, parallel, method)?;
    Ok(code)
}

fn error_record(path: &str, size: u64, reason: String, failure: FailurePolicy) -> Record {
    Record {
        path: path.to_string(),
        size,
        sha256: None,
        verdict: Decision::Error,
        action: failure.action().to_string(),
        rules: Vec::new(),
        reason: Some(reason),
        server: None,
        latency_ms: None,
        incident_id: None,
        quarantined_to: None,
        resumed: false,
        mtime: None,
    }
}

fn outcome_record(found: &walk::Found, outcome: Outcome, failure: FailurePolicy) -> Record {
    let path = found.path.display().to_string();
    match outcome {
        Outcome::Judged { judged, server } => Record {
            path,
            size: found.size,
            sha256: judged.sha256,
            verdict: judged.verdict.decision,
            action: judged.verdict.decision.as_str().to_string(),
            rules: judged.verdict.rules,
            reason: judged.verdict.reason,
            server: Some(server),
            latency_ms: Some(u64::try_from(judged.latency.as_millis()).unwrap_or(u64::MAX)),
            incident_id: judged.verdict.incident_id,
            quarantined_to: None,
            resumed: false,
            mtime: Some(found.mtime),
        },
        Outcome::Failed { reason, server } => {
            let mut r = error_record(&path, found.size, reason, failure);
            r.server = server;
            r
        }
    }
}

/// Output, report, progress and counts.
struct Output {
    json: bool,
    stdout: std::io::BufWriter<std::io::Stdout>,
    stdout_is_terminal: bool,
    flushed: Instant,
    report: Option<std::io::BufWriter<std::fs::File>>,
    progress: Option<indicatif::ProgressBar>,
    failure: FailurePolicy,
    files: u64,
    bytes: u64,
    allowed: u64,
    blocked: u64,
    errors: u64,
    resumed: u64,
    too_large: u64,
    quarantined: u64,
    quarantine_failed: u64,
}

impl Output {
    fn new(args: &ScanArgs, failure: FailurePolicy) -> anyhow::Result<Self> {
        let report = match &args.report {
            Some(p) => Some(std::io::BufWriter::new(
                std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
            )),
            None => None,
        };
        let progress = (!args.no_progress && std::io::stderr().is_terminal()).then(|| {
            let bar = indicatif::ProgressBar::new(0);
            let style = indicatif::ProgressStyle::with_template(
                "{elapsed_precise} [{bar:30}] {pos}/{len} files  {msg}  ETA {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> ");
            bar.set_style(style);
            bar
        });
        let mut out = Self {
            json: args.json,
            stdout: std::io::BufWriter::new(std::io::stdout()),
            stdout_is_terminal: std::io::stdout().is_terminal(),
            flushed: Instant::now(),
            report,
            progress,
            failure,
            files: 0,
            bytes: 0,
            allowed: 0,
            blocked: 0,
            errors: 0,
            resumed: 0,
            too_large: 0,
            quarantined: 0,
            quarantine_failed: 0,
        };
        if !out.json {
            out.line(record::TABLE_HEADER)?;
        }
        Ok(out)
    }

    fn found(&mut self, files: u64) {
        if let Some(bar) = &self.progress {
            bar.inc_length(files);
        }
    }

    fn too_large(&mut self, found: &walk::Found) {
        self.too_large += 1;
        let text =
            format!("dlpgate scan: skipped {} ({}): over --max-size", found.path.display(), found.size);
        match &self.progress {
            Some(bar) => bar.println(text),
            None => eprintln!("{text}"),
        }
    }

    fn line(&mut self, text: &str) -> anyhow::Result<()> {
        match &self.progress {
            // The bar and the rows share the terminal: the bar steps aside for each row.
            Some(bar) if self.stdout_is_terminal => bar.suspend(|| {
                let _ = writeln!(std::io::stdout(), "{text}");
            }),
            // A closed stdout (`| head`) ends the output, not the scan.
            _ => {
                let _ = writeln!(self.stdout, "{text}");
            }
        }
        if let Some(report) = self.report.as_mut() {
            writeln!(report, "{text}").context("writing the report")?;
        }
        Ok(())
    }

    /// Sends what is buffered.
    fn flush(&mut self) {
        let _ = self.stdout.flush();
        self.flushed = Instant::now();
    }

    fn since_flush(&self) -> Duration {
        self.flushed.elapsed()
    }

    fn quarantine(&mut self, r: &mut Record, found: &walk::Found, dir: &Path) {
        // Only the file that was judged: one changed since is left alone.
        let unchanged = std::fs::symlink_metadata(&found.path)
            .is_ok_and(|m| m.is_file() && m.len() == found.size && walk::mtime_nanos(&m) == found.mtime);
        if !unchanged {
            self.quarantine_failed += 1;
            r.reason = Some(format!(
                "{}; not quarantined: changed since it was scanned",
                r.reason.clone().unwrap_or_default()
            ));
            return;
        }
        match record::quarantine(&found.path, &found.rel, dir, r) {
            Ok(dest) => {
                self.quarantined += 1;
                r.quarantined_to = Some(dest.display().to_string());
            }
            Err(e) => {
                self.quarantine_failed += 1;
                eprintln!("dlpgate scan: cannot quarantine {}: {e:#}", found.path.display());
            }
        }
    }

    fn write(&mut self, r: &Record, resumed: bool) -> anyhow::Result<()> {
        self.files += 1;
        self.bytes += r.size;
        if resumed {
            self.resumed += 1;
        }
        match r.verdict {
            Decision::Allow => self.allowed += 1,
            Decision::Block => self.blocked += 1,
            Decision::Error => self.errors += 1,
        }
        if let Some(bar) = &self.progress {
            bar.inc(1);
            let secs = bar.elapsed().as_secs_f64().max(0.001);
            bar.set_message(format!(
                "{}  {}/s",
                record::human_bytes(self.bytes),
                record::human_bytes((self.bytes as f64 / secs) as u64)
            ));
        }
        let text = if self.json { serde_json::to_string(r)? } else { record::table_row(r) };
        self.line(&text)
    }

    fn finish(
        &mut self,
        pool: &Pool,
        elapsed: Duration,
        interrupted: bool,
        parallel: usize,
        method: Kind,
    ) -> anyhow::Result<u8> {
        self.flush();
        if let Some(bar) = self.progress.take() {
            bar.finish_and_clear();
        }
        let secs = elapsed.as_secs_f64().max(0.001);
        let mut lines = vec![format!(
            "scanned {} files, {} in {:.2} s ({:.1} files/s, {:.1} MB/s): {} allowed, {} blocked, {} error",
            self.files,
            record::human_bytes(self.bytes),
            secs,
            self.files as f64 / secs,
            self.bytes as f64 / secs / 1e6,
            self.allowed,
            self.blocked,
            self.errors,
        )];
        if self.errors > 0 {
            lines.push(format!(
                "{} file(s) have no verdict: {} applies, their action is {}",
                self.errors,
                match self.failure {
                    FailurePolicy::FailClosed => "fail-closed",
                    FailurePolicy::FailOpen => "fail-open",
                },
                self.failure.action()
            ));
        }
        let servers: Vec<String> = pool
            .servers()
            .iter()
            .map(|s| format!("{} {} files", s.uri, s.judged.load(Ordering::Relaxed)))
            .collect();
        lines.push(format!(
            "{} by {} ({} in flight at most); failovers: {}",
            method.method().as_str(),
            servers.join(", "),
            parallel,
            pool.failovers.load(Ordering::Relaxed)
        ));
        if self.resumed > 0 {
            lines.push(format!("{} files taken from the state file of an earlier run", self.resumed));
        }
        if self.too_large > 0 {
            lines.push(format!("{} files skipped: over --max-size", self.too_large));
        }
        if self.quarantined > 0 || self.quarantine_failed > 0 {
            lines.push(format!(
                "{} files quarantined, {} could not be",
                self.quarantined, self.quarantine_failed
            ));
        }
        if interrupted {
            lines.push(
                "interrupted: files not reached have no verdict; run again with the same --state to continue"
                    .to_string(),
            );
        }
        for line in &lines {
            eprintln!("{line}");
        }
        let code = if self.errors > 0 || interrupted {
            2
        } else if self.blocked > 0 {
            1
        } else {
            0
        };
        if let Some(mut report) = self.report.take() {
            if self.json {
                let summary = serde_json::json!({ "summary": {
                    "files": self.files, "bytes": self.bytes, "allowed": self.allowed,
                    "blocked": self.blocked, "error": self.errors, "resumed": self.resumed,
                    "too_large": self.too_large, "quarantined": self.quarantined,
                    "failovers": pool.failovers.load(Ordering::Relaxed), "interrupted": interrupted,
                    "exit_code": code, "lines": lines,
                }});
                writeln!(report, "{summary}")?;
            } else {
                for line in &lines {
                    writeln!(report, "# {line}")?;
                }
            }
            report.flush().context("writing the report")?;
        }
        Ok(code)
    }
}
