//! `dlpgate scan`: files through a connector's ICAP servers (a CASB file policy with external
//! content inspection), with a verdict per file and governance actions on blocked files.
//!
//! - [`walk`]: files, globs, include/exclude patterns, maximum size; by directory descriptor,
//!   never through a link; FIFOs, sockets and devices skipped with a reason.
//! - [`found`]: a file found, opened again only if it is still that file.
//! - `args`: the flags, and the connector they name or make up.
//! - `feed`: the walker thread, handing found files over in batches.
//! - `probe`: OPTIONS of every server before the scan.
//! - `source`: a found file as something to send (small ones whole, large ones streamed).
//! - this module: the tuning constants and the scheduling loop.
//! - `output`: rows, report, progress and counts.
//! - sending and failover are [`crate::client`]'s: `send` (one file to one server as an
//!   upload or a download) and `pool` (weighted balancing, failover only when nothing was
//!   answered).
//! - [`reader`]: large files read from the page cache on the worker, from disk on the pool.
//! - [`record`]: output lines, the resume state.
//! - [`quarantine`]: blocked files moved aside without following links or replacing files.
//!
//! Exit codes: 0 when everything was allowed, 1 when something was blocked, 2 when a file has
//! no verdict (or the scan could not run). Skipped special files change none of them.

mod args;
mod feed;
pub mod found;
mod output;
mod probe;
pub mod quarantine;
pub mod reader;
pub mod record;
mod source;
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

use crate::client::pool::{self, FileOutcome, Pool, Source};
use crate::client::send;
use crate::client::verdict::{Profile, ScanVerdict};
use crate::connector::{self, ConfigDirArg, Connector, FailurePolicy, Kind, Server};
use record::Record;

pub use args::ScanArgs;
use args::*;
use feed::*;
use output::*;
use probe::*;
use source::*;

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

async fn scan(args: ScanArgs) -> anyhow::Result<u8> {
    let started = Instant::now();
    let connector = connector_of(&args)?;
    let config = connector.client_config()?;
    let uris: Vec<IcapUri> = connector.servers.iter().map(Server::icap_uri).collect::<anyhow::Result<_>>()?;
    let filter = walk::Filter::new(&args.include, &args.exclude, args.max_size)?;
    let transport = Arc::new(connector::transport::SniDialer { sni: connector.tls.sni_name() });
    // One client per server; the OPTIONS asked now stays in its cache, and its connection
    // in its pool for the first file.
    let clients: Vec<Client> = uris
        .iter()
        .map(|_| {
            let config = ClientConfig { max_connections_per_server: DEFAULT_MAX_PARALLEL, ..config.clone() };
            Client::with_dialer(config, transport.clone())
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
