//! `dlpgate scan`: files through a connector's ICAP servers (a CASB file policy with external
//! content inspection), with a verdict per file and governance actions on blocked files.
//!
//! - [`walk`]: files, globs, include/exclude patterns, maximum size; by directory descriptor,
//!   never through a link; FIFOs, sockets and devices skipped with a reason.
//! - [`found`]: a file found, opened again only if it is still that file.
//! - [`send`]: one file to one server as an upload (REQMOD) or a download (RESPMOD).
//! - [`pool`]: weighted balancing and failover only when nothing was answered.
//! - [`reader`]: large files read from the page cache on the worker, from disk on the pool.
//! - [`record`]: output lines, the resume state.
//! - [`quarantine`]: blocked files moved aside without following links or replacing files.
//!
//! Exit codes: 0 when everything was allowed, 1 when something was blocked, 2 when a file has
//! no verdict (or the scan could not run). Skipped special files change none of them.

pub mod found;
pub mod quarantine;
pub mod reader;
pub mod record;
pub mod walk;

use std::collections::VecDeque;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use futures_util::stream::{FuturesUnordered, StreamExt};
use icap::client::{Client, ClientConfig, IcapUri, Preview};
use tokio::io::AsyncRead;
use tokio::sync::mpsc;

use crate::client::pool::{self, Outcome, Pool, Source};
use crate::client::send;
use crate::client::verdict::{Decision, Profile};
use crate::connector::{self, ConfigDirArg, Connector, FailurePolicy, Kind, Server};
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
/// Small files sent in one pipelined batch at most, to a server that announces
/// `X-Pipeline-Depth` (the connector's `pipeline` or `--pipeline` set it for any server).
pub const DEFAULT_PIPELINE_BATCH: usize = 8;
/// Files the walker hands over at a time.
pub const WALK_BATCH: usize = 64;
/// Longest time a found file waits for its batch to fill.
pub const WALK_BATCH_WAIT: Duration = Duration::from_millis(2);
/// Read size of a streamed file whose data is not in the page cache (see [`reader`]).
pub const READ_BUFFER: usize = 256 * 1024;
/// How often the progress bar's message (bytes, rate) is made again.
pub const PROGRESS_MESSAGE_EVERY: Duration = Duration::from_millis(100);
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
    /// Small files pipelined on one connection at most; 1 turns it off. Default: the
    /// connector's, else what the server announces in `X-Pipeline-Depth` (at most 8), else off.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub pipeline: Option<u16>,
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
    // The scan runs as a task, not on this thread: the worker that reads the sockets' events
    // then runs it at once, rather than waking this thread for every answer.
    match runtime.block_on(async { tokio::spawn(scan(args)).await }) {
        Ok(Ok(code)) => ExitCode::from(code),
        Ok(Err(e)) => {
            eprintln!("dlpgate scan: error: {e:#}");
            ExitCode::from(2)
        }
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
    // A named connector takes --server-name too (to check another name than its own).
    if let (Some(_), Some(name)) = (&args.connector, &args.tls.server_name) {
        connector.tls.server_name = Some(name.clone());
    }
    connector.validate()?;
    Ok(connector)
}

/// A file on disk, opened again for each server tried (and only if it is still the file
/// the walk found).
struct FileSource<'a> {
    found: &'a walk::Found,
}

/// Reads a small file whole, or `None` if it has grown past `INLINE_READ` since the walk.
fn read_small(found: &walk::Found) -> std::io::Result<Option<Vec<u8>>> {
    use std::io::Read;
    let walked_size = found.size;
    let mut file = found.open()?;
    // Room for the size the walk saw and one byte more. One read that gives exactly that
    // size ends it: the file is as the walk saw it (its record carries that size too).
    // Otherwise (it changed, or the file system gave a short read) read on to the end.
    let walked = usize::try_from(walked_size.min(INLINE_READ)).unwrap_or(0);
    let mut data = vec![0u8; walked + 1];
    let n = loop {
        match file.read(&mut data) {
            Ok(n) => break n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    };
    data.truncate(n);
    if n as u64 != walked_size {
        file.take(INLINE_READ + 1 - n as u64).read_to_end(&mut data)?;
    }
    Ok((data.len() as u64 <= INLINE_READ).then_some(data))
}

impl Source for FileSource<'_> {
    async fn open(&self) -> std::io::Result<(Box<dyn AsyncRead + Unpin + Send>, u64)> {
        if self.found.size <= INLINE_READ {
            if let Some(data) = read_small(self.found)? {
                let size = data.len() as u64;
                return Ok((Box::new(std::io::Cursor::new(data)), size));
            }
        }
        // One trip to the blocking pool: open, stat, and for a small file read it all.
        let found = self.found.clone();
        let opened = tokio::task::spawn_blocking(move || -> std::io::Result<Opened> {
            use std::io::Read;
            let mut file = found.open()?;
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
            Opened::Large(file, size) => (Box::new(reader::FileReader::new(file)), size),
        })
    }
}

enum Opened {
    Small(Vec<u8>, u64),
    Large(std::fs::File, u64),
}

/// What the walker hands over, in batches of [`WALK_BATCH`].
enum Walked {
    /// A file to judge.
    Job(walk::Found),
    /// A file judged by an earlier run (`--state`).
    Resumed(Box<Record>),
    /// A path that could not be read.
    Unreadable(Box<Record>),
    /// A file over `--max-size`.
    TooLarge(walk::Found),
    /// A FIFO, socket or device: never read.
    Skipped(Box<Record>),
}

/// Items found, sent a batch at a time: a channel send per file would wake the scan's task
/// once per file.
struct Batcher {
    tx: mpsc::Sender<Vec<Walked>>,
    items: Vec<Walked>,
    /// When the oldest item of the batch was found.
    oldest: Instant,
}

impl Batcher {
    /// Adds an item; false when the scan no longer listens.
    fn push(&mut self, item: Walked) -> bool {
        if self.items.is_empty() {
            self.oldest = Instant::now();
        }
        self.items.push(item);
        // A slow file system (a network share) does not hold files back for long.
        if self.items.len() >= WALK_BATCH || self.oldest.elapsed() >= WALK_BATCH_WAIT {
            return self.send();
        }
        true
    }

    /// Sends what is waiting.
    fn send(&mut self) -> bool {
        if self.items.is_empty() {
            return true;
        }
        let items = std::mem::replace(&mut self.items, Vec::with_capacity(WALK_BATCH));
        self.tx.blocking_send(items).is_ok()
    }
}

/// Walks the paths (on its own thread: the walk blocks on the file system) and hands the
/// files to the scan in batches; files unchanged since an earlier run take its record.
fn walker(
    paths: &[PathBuf],
    filter: &walk::Filter,
    mut resumable: std::collections::HashMap<String, Record>,
    failure: FailurePolicy,
    stop: &AtomicBool,
    tx: mpsc::Sender<Vec<Walked>>,
) {
    let mut batch = Batcher { tx, items: Vec::with_capacity(WALK_BATCH), oldest: Instant::now() };
    walk::walk(paths, filter, |item| {
        if stop.load(Ordering::SeqCst) {
            return false;
        }
        let item = match item {
            walk::Item::File(found) => {
                let earlier = if resumable.is_empty() {
                    None
                } else {
                    resumable
                        .remove(&found.path.display().to_string())
                        .filter(|r| r.size == found.size && r.mtime == Some(found.mtime))
                };
                match earlier {
                    Some(mut r) => {
                        r.resumed = true;
                        Walked::Resumed(Box::new(r))
                    }
                    None => Walked::Job(found),
                }
            }
            walk::Item::TooLarge(found) => Walked::TooLarge(found),
            walk::Item::Special { path, kind } => Walked::Skipped(Box::new(skipped_record(&path, kind))),
            walk::Item::Unreadable { path, error } => Walked::Unreadable(Box::new(error_record(
                &path.display().to_string(),
                0,
                format!("cannot read: {error}"),
                failure,
            ))),
        };
        batch.push(item)
    });
    // Files quarantined by an earlier run are no longer where they were: report them.
    for (_, mut r) in resumable {
        if r.quarantined_to.is_some() && paths.iter().any(|p| Path::new(&r.path).starts_with(p)) {
            r.resumed = true;
            if !batch.push(Walked::Resumed(Box::new(r))) {
                return;
            }
        }
    }
    batch.send();
}

/// Judges one file; its record, and the file for the writer (quarantine, state).
async fn judge_file(
    pool: &Pool,
    settings: send::SendSettings,
    found: walk::Found,
    failure: FailurePolicy,
) -> (Record, walk::Found) {
    let outcome = {
        let name = found.rel.to_string_lossy();
        let source = FileSource { found: &found };
        pool.judge(&settings, &name, &source).await
    };
    (outcome_record(&found, outcome, failure), found)
}

/// Judges small files: one alone as [`judge_file`] does, several read into memory and sent
/// as one pipelined batch ([`Pool::judge_batch`]).
async fn judge_small(
    pool: &Pool,
    settings: send::SendSettings,
    mut files: Vec<walk::Found>,
    failure: FailurePolicy,
) -> Vec<(Record, walk::Found)> {
    if files.len() == 1 {
        if let Some(found) = files.pop() {
            return vec![judge_file(pool, settings, found, failure).await];
        }
    }
    let mut judged = Vec::with_capacity(files.len());
    let mut batch: Vec<(walk::Found, Vec<u8>)> = Vec::with_capacity(files.len());
    for found in files {
        match read_small(&found) {
            Ok(Some(data)) => batch.push((found, data)),
            // Grown past the inline size since the walk: streamed on its own.
            Ok(None) => judged.push(judge_file(pool, settings, found, failure).await),
            Err(e) => {
                let outcome = Outcome::Failed { reason: format!("cannot read the file: {e}"), server: None };
                judged.push((outcome_record(&found, outcome, failure), found));
            }
        }
    }
    let names: Vec<String> = batch.iter().map(|(f, _)| f.rel.to_string_lossy().into_owned()).collect();
    let files: Vec<(&str, &[u8])> =
        names.iter().zip(&batch).map(|(n, (_, d))| (n.as_str(), d.as_slice())).collect();
    let outcomes = pool.judge_batch(&settings, &files).await;
    for (outcome, (found, _)) in outcomes.into_iter().zip(batch) {
        judged.push((outcome_record(&found, outcome, failure), found));
    }
    judged
}

/// What a server's OPTIONS said before the scan.
#[derive(Debug, Default)]
struct Probe {
    /// Its Max-Connections.
    max_connections: Option<usize>,
    /// OPTIONS answered: the preview can come from it.
    options: bool,
    /// Its `X-Pipeline-Depth`.
    pipeline_depth: Option<u32>,
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
                    pipeline_depth: options.pipeline_depth,
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
    let transport = Arc::new(connector::transport::SniConnector { sni: connector.tls.sni_name() });
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
            pipeline: match args.pipeline.map(usize::from).or(connector.pipeline) {
                Some(n) => n,
                None => probe.pipeline_depth.map_or(1, |d| (d as usize).min(DEFAULT_PIPELINE_BATCH)),
            },
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

    // Walker thread -> batches -> this task, which starts the files, collects their results
    // and is the only writer. Small files are judged here, in one set of futures: their
    // results need no hop to another task, so a file costs no thread wake-up of its own.
    // Larger ones get a task each, so that big bodies are hashed and sent on every core.
    let (walk_tx, mut walk_rx) = mpsc::channel::<Vec<Walked>>(WALK_QUEUE / WALK_BATCH);
    let walker = {
        let paths = args.paths.clone();
        let stop = stop.clone();
        let failure = connector.failure;
        std::thread::spawn(move || walker(&paths, &filter, resumable, failure, &stop, walk_tx))
    };
    let mut out = Output::new(&args, connector.failure)?;
    let mut pending: VecDeque<walk::Found> = VecDeque::new();
    // Small files go in pipelined batches to servers that take them; a batch holds at most
    // half the files in flight, so that at least two connections share the work.
    let batch = pool.pipeline_depth().min(parallel / 2).max(1);
    let mut small = FuturesUnordered::new();
    let mut small_files = 0usize;
    let mut large = tokio::task::JoinSet::new();
    // The file of each large task: a task that panicked still gets its record.
    let mut large_files: std::collections::HashMap<tokio::task::Id, (PathBuf, u64)> =
        std::collections::HashMap::new();
    let mut walking = true;
    let failure = connector.failure;
    let flush_timer = tokio::time::sleep(FLUSH_INTERVAL);
    tokio::pin!(flush_timer);
    loop {
        if stop.load(Ordering::SeqCst) {
            // Interrupted: the files in flight finish, the others get no verdict.
            pending.clear();
        }
        while small_files + large.len() < parallel {
            let Some(found) = pending.pop_front() else { break };
            if found.size <= INLINE_READ {
                let mut files = vec![found];
                let room = batch.min(parallel - small_files - large.len());
                while files.len() < room && pending.front().is_some_and(|f| f.size <= INLINE_READ) {
                    files.extend(pending.pop_front());
                }
                small_files += files.len();
                small.push(judge_small(&pool, settings, files, failure));
            } else {
                let file = (found.path.clone(), found.size);
                let pool = pool.clone();
                let task = large.spawn(async move { judge_file(&pool, settings, found, failure).await });
                large_files.insert(task.id(), file);
            }
        }
        let in_flight = small_files + large.len();
        if !walking && pending.is_empty() && in_flight == 0 {
            break;
        }
        let room = pending.is_empty() && in_flight < parallel;
        let flushed = out.flushed;
        tokio::select! {
            biased;
            Some(judged) = small.next(), if !small.is_empty() => {
                small_files -= judged.len();
                for (r, found) in judged {
                    out.done(r, &found, &mut state)?;
                }
            }
            Some(joined) = large.join_next_with_id(), if !large.is_empty() => match joined {
                Ok((id, (r, found))) => {
                    large_files.remove(&id);
                    out.done(r, &found, &mut state)?;
                }
                Err(e) => {
                    let (path, size) = large_files.remove(&e.id()).unwrap_or_default();
                    let reason = format!("internal error: {e}");
                    out.write(&error_record(&path.display().to_string(), size, reason, failure), false)?;
                }
            },
            batch = walk_rx.recv(), if walking && room => match batch {
                Some(items) => {
                    let interrupted = stop.load(Ordering::SeqCst);
                    // The progress bar's length grows once per batch.
                    let found =
                        items.iter().filter(|i| !matches!(i, Walked::TooLarge(_) | Walked::Skipped(_))).count();
                    out.found(found as u64);
                    for item in items {
                        match item {
                            Walked::Job(found) => {
                                if !interrupted {
                                    pending.push_back(found);
                                }
                            }
                            Walked::Resumed(r) => out.write(&r, true)?,
                            Walked::Unreadable(r) => out.write(&r, false)?,
                            Walked::TooLarge(found) => out.too_large(&found),
                            Walked::Skipped(r) => out.write(&r, false)?,
                        }
                    }
                }
                None => walking = false,
            },
            () = &mut flush_timer, if out.unflushed => out.flush(),
            // Unreachable: with nothing in flight, pending or to walk, the loop ended above.
            else => break,
        }
        // Rows are written in batches, and at least every FLUSH_INTERVAL while results wait.
        if out.unflushed && out.since_flush() >= FLUSH_INTERVAL {
            out.flush();
        }
        if out.flushed != flushed {
            flush_timer.as_mut().reset((out.flushed + FLUSH_INTERVAL).into());
        }
    }
    drop(walk_rx);
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

/// The row of a special file: never read, so no verdict and nothing for a caller to act on.
fn skipped_record(path: &Path, kind: walk::Special) -> Record {
    Record {
        path: path.display().to_string(),
        size: 0,
        sha256: None,
        verdict: Decision::Skipped,
        action: "skip".to_string(),
        rules: Vec::new(),
        reason: Some(kind.reason().to_string()),
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
    /// When the output was last flushed.
    flushed: Instant,
    /// Rows were written since.
    unflushed: bool,
    /// The row being written.
    row: Vec<u8>,
    /// When the progress bar's message is made again (time since the bar started).
    message_due: Duration,
    report: Option<std::io::BufWriter<std::fs::File>>,
    progress: Option<indicatif::ProgressBar>,
    /// `--quarantine`.
    quarantine_dir: Option<quarantine::Quarantine>,
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
    /// FIFOs, sockets and devices (rows with the verdict `skipped`).
    skipped: u64,
}

impl Output {
    fn new(args: &ScanArgs, failure: FailurePolicy) -> anyhow::Result<Self> {
        let report = match &args.report {
            Some(p) => Some(std::io::BufWriter::new(
                record::open_nofollow(p, std::fs::OpenOptions::new().write(true).create(true).truncate(true))
                    .with_context(|| format!("creating {}", p.display()))?,
            )),
            None => None,
        };
        let quarantine_dir = args.quarantine.as_deref().map(quarantine::Quarantine::open).transpose()?;
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
            unflushed: false,
            row: Vec::new(),
            message_due: Duration::ZERO,
            report,
            progress,
            quarantine_dir,
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
            skipped: 0,
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
        let mut row = Vec::with_capacity(text.len() + 1);
        row.extend_from_slice(text.as_bytes());
        row.push(b'\n');
        self.emit(&row)
    }

    /// Writes one row (newline included) to the output and the report.
    fn emit(&mut self, row: &[u8]) -> anyhow::Result<()> {
        match &self.progress {
            // The bar and the rows share the terminal: the bar steps aside for each row.
            Some(bar) if self.stdout_is_terminal => bar.suspend(|| {
                let _ = std::io::stdout().write_all(row);
            }),
            // A closed stdout (`| head`) ends the output, not the scan.
            _ => {
                let _ = self.stdout.write_all(row);
                self.unflushed = true;
            }
        }
        if let Some(report) = self.report.as_mut() {
            report.write_all(row).context("writing the report")?;
        }
        Ok(())
    }

    /// Sends what is buffered.
    fn flush(&mut self) {
        let _ = self.stdout.flush();
        self.flushed = Instant::now();
        self.unflushed = false;
    }

    fn since_flush(&self) -> Duration {
        self.flushed.elapsed()
    }

    /// Moves a blocked file aside; only the file that was judged (one changed or replaced
    /// since is left alone, with the reason in its row).
    fn quarantine(&mut self, r: &mut Record, found: &walk::Found) {
        let Some(dir) = &self.quarantine_dir else { return };
        match dir.quarantine(found, r) {
            Ok(moved) => {
                self.quarantined += 1;
                r.quarantined_to = Some(moved.dest.display().to_string());
                if let Err(e) = moved.note {
                    eprintln!("dlpgate scan: quarantined {} but left no note: {e}", found.path.display());
                }
            }
            Err(e) => {
                self.quarantine_failed += 1;
                let why = format!("{e:#}");
                eprintln!("dlpgate scan: cannot quarantine {}: {why}", found.path.display());
                r.reason = Some(match r.reason.take() {
                    Some(reason) => format!("{reason}; {why}"),
                    None => why,
                });
            }
        }
    }

    /// A file judged (or that could not be): quarantine, state, row.
    fn done(
        &mut self,
        mut r: Record,
        found: &walk::Found,
        state: &mut Option<record::State>,
    ) -> anyhow::Result<()> {
        if r.verdict == Decision::Block {
            self.quarantine(&mut r, found);
        }
        if let Some(state) = state.as_mut() {
            if r.verdict != Decision::Error {
                state.append(&r)?;
            }
        }
        self.write(&r, false)
    }

    fn write(&mut self, r: &Record, resumed: bool) -> anyhow::Result<()> {
        if r.verdict != Decision::Skipped {
            self.files += 1;
            self.bytes += r.size;
        }
        if resumed {
            self.resumed += 1;
        }
        match r.verdict {
            Decision::Allow => self.allowed += 1,
            Decision::Block => self.blocked += 1,
            Decision::Error => self.errors += 1,
            Decision::Skipped => self.skipped += 1,
        }
        if let Some(bar) = self.progress.as_ref().filter(|_| r.verdict != Decision::Skipped) {
            bar.inc(1);
            // The bar redraws a few times a second: its message is made as often, not per file.
            let elapsed = bar.elapsed();
            if elapsed >= self.message_due {
                self.message_due = elapsed + PROGRESS_MESSAGE_EVERY;
                let secs = elapsed.as_secs_f64().max(0.001);
                bar.set_message(format!(
                    "{}  {}/s",
                    record::human_bytes(self.bytes),
                    record::human_bytes((self.bytes as f64 / secs) as u64)
                ));
            }
        }
        // One buffer for every row: serialized in place, no string per file.
        let mut row = std::mem::take(&mut self.row);
        row.clear();
        if self.json {
            serde_json::to_writer(&mut row, r)?;
        } else {
            row.extend_from_slice(record::table_row(r).as_bytes());
        }
        row.push(b'\n');
        let written = self.emit(&row);
        self.row = row;
        written
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
            .map(|s| {
                let pipelined =
                    if s.pipeline > 1 { format!(" (up to {} pipelined)", s.pipeline) } else { String::new() };
                format!("{} {} files{pipelined}", s.uri, s.judged.load(Ordering::Relaxed))
            })
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
        if self.skipped > 0 {
            lines.push(format!(
                "{} skipped: not regular files (FIFOs, sockets, devices), never read",
                self.skipped
            ));
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
                    "too_large": self.too_large, "skipped": self.skipped,
                    "quarantined": self.quarantined, "quarantine_failed": self.quarantine_failed,
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
