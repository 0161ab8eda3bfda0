//! The servers of a connector as one pool: smooth weighted round robin, a server that does not
//! answer is set aside for a while, and a file goes to the next server only when nothing was
//! answered (`was_answered()` false) or the answer was a `503` (which judges nothing), so no file
//! is judged twice.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use icap::client::{Client, ClientError, IcapUri, Preview};
use tokio::io::AsyncRead;

use super::send::{self, Judged, SendSettings};

/// How long a server that could not be reached is skipped before it is tried again.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(10);

/// One server of the pool.
#[derive(Debug)]
pub struct PoolServer {
    /// Its address.
    pub uri: IcapUri,
    /// Its address as text, for the records (formatted once, not per file).
    name: String,
    /// Its weight.
    pub weight: u32,
    /// Files it judged.
    pub judged: AtomicU64,
    /// The client for it: its connection limit is the server's Max-Connections.
    client: Client,
    /// The preview to send it.
    preview: Preview,
    /// Requests pipelined on one of its connections at most (1: none).
    pub pipeline: usize,
    /// Files in flight to it: at most its Max-Connections.
    slots: tokio::sync::Semaphore,
    health: Mutex<Health>,
}

/// Whether a server is tried.
#[derive(Debug, Default)]
struct Health {
    /// None: up. Some(t): set aside until t, then one file tries it (probation).
    down_until: Option<Instant>,
    /// Why it was set aside.
    last_error: Option<String>,
}

/// What a pool server is made of.
#[derive(Debug)]
pub struct PoolEntry {
    /// Its address.
    pub uri: IcapUri,
    /// Its weight.
    pub weight: u32,
    /// The client to reach it.
    pub client: Client,
    /// The preview to send it (`FromOptions` needs its OPTIONS to answer).
    pub preview: Preview,
    /// Files in flight to it at most (its Max-Connections).
    pub limit: usize,
    /// Requests pipelined on one connection at most (1: none): what it announces in
    /// `X-Pipeline-Depth`, or what the connector says.
    pub pipeline: usize,
}

/// The servers, balanced and failed over.
#[derive(Debug)]
pub struct Pool {
    servers: Vec<PoolServer>,
    /// Smooth weighted round robin state: current weight per server.
    current: Mutex<Vec<i64>>,
    /// Files that went to another server after one failed.
    pub failovers: AtomicU64,
    retry_after: Duration,
}

/// A file that could be opened again for another server.
pub trait Source: Sync {
    /// A fresh reader from the first byte, and the size to send.
    fn open(
        &self,
    ) -> impl std::future::Future<Output = std::io::Result<(Box<dyn AsyncRead + Unpin + Send>, u64)>> + Send;
}

/// The outcome for one file.
#[derive(Debug)]
pub enum FileOutcome {
    /// A server judged it.
    Judged {
        /// The verdict and hash.
        judged: Judged,
        /// The server that judged it.
        server: String,
    },
    /// No verdict: why, and the last server tried.
    Failed {
        /// Why.
        reason: String,
        /// The server that answered with an error, if one did.
        server: Option<String>,
    },
}

impl Pool {
    /// A pool of these servers, all up.
    pub fn new(servers: Vec<PoolEntry>) -> Self {
        let n = servers.len();
        Self {
            servers: servers
                .into_iter()
                .map(|e| PoolServer {
                    name: e.uri.to_string(),
                    uri: e.uri,
                    client: e.client,
                    preview: e.preview,
                    pipeline: e.pipeline.max(1),
                    slots: tokio::sync::Semaphore::new(e.limit.max(1)),
                    weight: e.weight.max(1),
                    judged: AtomicU64::new(0),
                    health: Mutex::new(Health::default()),
                })
                .collect(),
            current: Mutex::new(vec![0; n]),
            failovers: AtomicU64::new(0),
            retry_after: DEFAULT_RETRY_AFTER,
        }
    }

    /// The servers.
    pub fn servers(&self) -> &[PoolServer] {
        &self.servers
    }

    fn health(&self, i: usize) -> std::sync::MutexGuard<'_, Health> {
        self.servers[i].health.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sets server `i` aside for [`DEFAULT_RETRY_AFTER`]: it did not answer (`error`).
    pub fn set_down(&self, i: usize, error: String) {
        let mut h = self.health(i);
        h.down_until = Some(Instant::now() + self.retry_after);
        h.last_error = Some(error);
    }

    fn set_up(&self, i: usize) {
        let mut h = self.health(i);
        h.down_until = None;
        h.last_error = None;
    }

    /// The servers to try for the next file, in order: a server whose time aside is over
    /// first (one file at a time probes it; the others keep skipping it), then the weighted
    /// round robin pick among the servers that are up, then the other servers that are up.
    /// Servers set aside are not tried: with all of them aside, the list is empty.
    pub fn order(&self) -> Vec<usize> {
        self.order_for(1)
    }

    /// Like [`Pool::order`] for `files` files that go together (a pipelined batch): the
    /// round robin charges the pick for each of them, so weights hold in files, not batches.
    fn order_for(&self, files: usize) -> Vec<usize> {
        let now = Instant::now();
        let mut probation = Vec::new();
        let mut up = Vec::new();
        for i in 0..self.servers.len() {
            let mut h = self.health(i);
            match h.down_until {
                None => up.push(i),
                Some(until) if until <= now => {
                    // This caller probes it; the next ones wait for another period.
                    h.down_until = Some(now + self.retry_after);
                    probation.push(i);
                }
                Some(_) => {}
            }
        }
        let mut order = probation;
        {
            let files = i64::try_from(files.max(1)).unwrap_or(1);
            let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
            let total: i64 = up.iter().map(|&i| i64::from(self.servers[i].weight)).sum();
            let mut best: Option<usize> = None;
            for &i in &up {
                current[i] += files * i64::from(self.servers[i].weight);
                if best.is_none_or(|b| current[i] > current[b]) {
                    best = Some(i);
                }
            }
            if let Some(b) = best {
                current[b] -= files * total;
                order.push(b);
            }
        }
        for i in up {
            if !order.contains(&i) {
                order.push(i);
            }
        }
        // The pick has no free slot: another server that is up and has one goes first.
        if let Some(&first) = order.first() {
            if self.servers[first].slots.available_permits() == 0 {
                if let Some(j) = order.iter().position(|&i| self.servers[i].slots.available_permits() > 0) {
                    let free = order.remove(j);
                    order.insert(0, free);
                }
            }
        }
        order
    }

    /// The largest batch a server of the pool takes pipelined (1: none does).
    pub fn pipeline_depth(&self) -> usize {
        self.servers.iter().map(|s| s.pipeline).max().unwrap_or(1)
    }

    /// Judges small files in memory that go together. The round robin picks one server for
    /// all of them; when it takes pipelined requests, they go as pipelined batches
    /// ([`send::send_batch`]) on one connection, and a file left without an answer, or
    /// answered `503`, then goes through [`Pool::judge`] on its own, with its failover.
    /// Otherwise each file goes to that server on its own connection, failing over as
    /// [`Pool::judge`] does.
    pub async fn judge_batch(&self, settings: &SendSettings, files: &[(&str, &[u8])]) -> Vec<FileOutcome> {
        let order = self.order_for(files.len());
        let Some(&i) = order.first().filter(|&&i| self.servers[i].pipeline > 1) else {
            let each = files.iter().map(|(name, data)| {
                let order = &order;
                async move { self.judge_in(order, settings, name, &super::BytesSource(data)).await }
            });
            return futures_util::future::join_all(each).await;
        };
        let server = &self.servers[i];
        let mut outcomes: Vec<Option<FileOutcome>> = files.iter().map(|_| None).collect();
        if let Ok(_slot) = server.slots.acquire().await {
            let settings = SendSettings { preview: server.preview, ..*settings };
            let mut answered = false;
            let mut last_error = None;
            for (n, chunk) in files.chunks(server.pipeline).enumerate() {
                let answers = send::send_batch(&server.client, &server.uri, &settings, chunk).await;
                for (k, answer) in answers.into_iter().enumerate() {
                    let slot = &mut outcomes[n * server.pipeline + k];
                    match answer {
                        Ok(judged) => {
                            answered = true;
                            server.judged.fetch_add(1, Ordering::Relaxed);
                            *slot = Some(FileOutcome::Judged { judged, server: server.name.clone() });
                        }
                        Err(e) => match Failure::of(&e) {
                            // Another server may judge these (see `judge`).
                            Failure::Declined => answered = true,
                            Failure::Unanswered => last_error = Some(describe(&e)),
                            Failure::Unreadable | Failure::Answered => {
                                answered = true;
                                *slot = Some(failed(server, &e));
                            }
                        },
                    }
                }
            }
            match (answered, last_error) {
                (false, Some(why)) => self.set_down(i, why),
                (true, _) => self.set_up(i),
                (false, None) => {}
            }
        }
        // The files left over go on their own, at once, each with its failover.
        let each = outcomes.into_iter().zip(files).map(|(outcome, (name, data))| async move {
            match outcome {
                Some(o) => o,
                None => {
                    let o = self.judge(settings, name, &super::BytesSource(data)).await;
                    if matches!(o, FileOutcome::Judged { .. }) {
                        self.failovers.fetch_add(1, Ordering::Relaxed);
                    }
                    o
                }
            }
        });
        futures_util::future::join_all(each).await
    }

    /// Judges one file, failing over while nothing was answered.
    pub async fn judge(&self, settings: &SendSettings, name: &str, source: &impl Source) -> FileOutcome {
        self.judge_in(&self.order(), settings, name, source).await
    }

    /// Judges one file on the servers of `order`, failing over while nothing was answered.
    async fn judge_in(
        &self,
        order: &[usize],
        settings: &SendSettings,
        name: &str,
        source: &impl Source,
    ) -> FileOutcome {
        let mut tried: Vec<String> = Vec::new();
        for (attempt, &i) in order.iter().enumerate() {
            let server = &self.servers[i];
            let Ok(_slot) = server.slots.acquire().await else { continue };
            let settings = SendSettings { preview: server.preview, ..*settings };
            let (mut reader, size) = match source.open().await {
                Ok(r) => r,
                Err(e) => {
                    return FileOutcome::Failed { reason: format!("cannot read the file: {e}"), server: None }
                }
            };
            match send::send(&server.client, &server.uri, &settings, name, size, &mut reader).await {
                Ok(mut judged) => {
                    if judged.sha256.is_none() {
                        // A preview answered without the rest: read the file for its hash.
                        if let Ok((mut reader, _)) = source.open().await {
                            judged.sha256 = send::hash_file(&mut reader).await.ok();
                        }
                    }
                    self.set_up(i);
                    server.judged.fetch_add(1, Ordering::Relaxed);
                    if attempt > 0 {
                        self.failovers.fetch_add(1, Ordering::Relaxed);
                    }
                    return FileOutcome::Judged { judged, server: server.name.clone() };
                }
                Err(e) => match Failure::of(&e) {
                    Failure::Unreadable | Failure::Answered => return failed(server, &e),
                    // Not set aside: the next file tries it again.
                    Failure::Declined => {
                        tracing::debug!(server = %server.uri, error = %describe(&e), "503; trying another server");
                        tried.push(format!("{}: {}", server.uri, describe(&e)));
                    }
                    Failure::Unanswered => {
                        tracing::debug!(server = %server.uri, error = %describe(&e), "no answer; trying another server");
                        self.set_down(i, describe(&e));
                        tried.push(format!("{}: {}", server.uri, describe(&e)));
                    }
                },
            }
        }
        for (i, server) in self.servers.iter().enumerate() {
            if !order.contains(&i) {
                let why = self.health(i).last_error.clone().unwrap_or_else(|| "did not answer".to_string());
                tried.push(format!(
                    "{}: {why} (set aside, tried again after {} s)",
                    server.uri,
                    self.retry_after.as_secs()
                ));
            }
        }
        FileOutcome::Failed {
            reason: format!("no server could judge it: {}", tried.join("; ")),
            server: None,
        }
    }
}

/// What a failed exchange means for the file and for the server, decided in one place for
/// single files and pipelined batches alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    /// The file could not be read: no server is to blame, none is tried.
    Unreadable,
    /// 503 Service Unavailable: the server declined to judge the file (busy, or its engine is
    /// down), so another server may judge it without any risk of two verdicts.
    Declined,
    /// Nothing was answered: the server is set aside for a while, another may judge the file.
    Unanswered,
    /// The server answered (an error status, a broken answer): the file is never sent again.
    Answered,
}

impl Failure {
    fn of(e: &ClientError) -> Self {
        if e.is_body() {
            Self::Unreadable
        } else if e.icap_status() == Some(503) {
            Self::Declined
        } else if !e.was_answered() {
            Self::Unanswered
        } else {
            Self::Answered
        }
    }
}

/// The outcome of a file that `server` cannot judge (or that cannot be read).
fn failed(server: &PoolServer, e: &ClientError) -> FileOutcome {
    if e.is_body() {
        return FileOutcome::Failed { reason: format!("cannot read the file: {}", e.detail()), server: None };
    }
    FileOutcome::Failed {
        reason: format!("{} answered with an error: {}", server.uri, describe(e)),
        server: Some(server.uri.to_string()),
    }
}

/// A short description of a client error.
pub fn describe(e: &ClientError) -> String {
    if e.is_service_not_found() {
        return "service not found (ICAP 404)".to_string();
    }
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        if e.is_refused() {
            "connection refused"
        } else {
            "cannot connect"
        }
    } else if e.is_tls() {
        "TLS failed"
    } else if e.is_protocol() {
        "protocol error"
    } else {
        "failed"
    };
    format!("{kind} ({})", e.detail())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(port: u16, weight: u32) -> PoolEntry {
        PoolEntry {
            uri: IcapUri { tls: false, host: "127.0.0.1".into(), port, service: "x".into() },
            weight,
            client: Client::new(icap::client::ClientConfig::default()),
            preview: Preview::FromOptions,
            limit: 4,
            pipeline: 1,
        }
    }

    #[test]
    fn weighted_round_robin() {
        let pool = Pool::new(vec![entry(1, 3), entry(2, 1)]);
        let firsts: Vec<usize> = (0..8).map(|_| pool.order()[0]).collect();
        assert_eq!(firsts.iter().filter(|&&i| i == 0).count(), 6);
        assert_eq!(firsts.iter().filter(|&&i| i == 1).count(), 2);
        // Every order holds every server once.
        let mut order = pool.order();
        order.sort_unstable();
        assert_eq!(order, vec![0, 1]);
    }

    #[test]
    fn weights_hold_in_files_when_files_go_in_batches() {
        let pool = Pool::new(vec![entry(1, 3), entry(2, 1)]);
        // 8 files at once to the heavier server: 6 of 8 was its share, so the next two
        // single files go to the other one.
        assert_eq!(pool.order_for(8)[0], 0);
        assert_eq!(pool.order()[0], 1);
        assert_eq!(pool.order()[0], 1);
        // Over many mixed batches, 3:1 in files.
        let mut files = [0usize; 2];
        for n in 0..40 {
            let size = if n % 3 == 0 { 1 } else { 8 };
            files[pool.order_for(size)[0]] += size;
        }
        let share = files[0] as f64 / (files[0] + files[1]) as f64;
        assert!((0.70..=0.80).contains(&share), "3:1 by weight, got {files:?}");
    }

    #[test]
    fn servers_set_aside_are_probed_by_one_file_at_a_time() {
        let mut pool = Pool::new(vec![entry(1, 1), entry(2, 1)]);
        pool.retry_after = Duration::from_millis(100);
        pool.set_down(0, "refused".into());
        for _ in 0..4 {
            assert_eq!(pool.order(), vec![1]);
        }
        std::thread::sleep(Duration::from_millis(120));
        // One caller probes it first; the next ones skip it again.
        assert_eq!(pool.order(), vec![0, 1]);
        assert_eq!(pool.order(), vec![1]);
        pool.set_up(0);
        let firsts: Vec<usize> = (0..4).map(|_| pool.order()[0]).collect();
        assert!(firsts.contains(&0) && firsts.contains(&1));
        // All aside: nothing to try.
        pool.set_down(0, "refused".into());
        pool.set_down(1, "timed out".into());
        assert!(pool.order().is_empty());
    }
}
