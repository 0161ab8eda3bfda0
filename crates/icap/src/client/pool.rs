//! Idle keep-alive connections per server.

use std::collections::HashMap;
use std::sync::Mutex;
use std::task::Poll;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use tokio::io::{AsyncRead, ReadBuf};

use crate::server::Io;

/// A connection waiting for reuse.
struct Idle {
    io: Box<dyn Io>,
    since: Instant,
}

/// Idle connections, newest last, per `scheme://host:port`.
pub(crate) struct Pool {
    idle: Mutex<HashMap<String, Vec<Idle>>>,
    max_idle_per_server: usize,
    idle_lifetime: Duration,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool").field("max_idle_per_server", &self.max_idle_per_server).finish_non_exhaustive()
    }
}

impl Pool {
    pub(crate) fn new(max_idle_per_server: usize, idle_lifetime: Duration) -> Self {
        Self { idle: Mutex::new(HashMap::new()), max_idle_per_server, idle_lifetime }
    }

    /// The newest idle connection that is still open, if any.
    pub(crate) fn take(&self, key: &str) -> Option<Box<dyn Io>> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let list = idle.get_mut(key)?;
        while let Some(mut conn) = list.pop() {
            if conn.since.elapsed() < self.idle_lifetime && still_open(&mut conn.io) {
                return Some(conn.io);
            }
        }
        None
    }

    /// Keeps a connection whose last response was read in full.
    pub(crate) fn put(&self, key: &str, io: Box<dyn Io>) {
        if self.max_idle_per_server == 0 {
            // Nothing kept: the connection closes here.
            return;
        }
        // One clock read for the whole list: a scan puts a connection back per file.
        let now = Instant::now();
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let list = idle.entry(key.to_string()).or_default();
        list.retain(|c| now.saturating_duration_since(c.since) < self.idle_lifetime);
        if list.len() >= self.max_idle_per_server {
            list.remove(0);
        }
        list.push(Idle { io, since: now });
    }
}

/// True when nothing is waiting on an idle connection: a server that closed it (EOF) or sent
/// something unasked makes it unusable. Checked without blocking, as hyper does.
fn still_open(io: &mut Box<dyn Io>) -> bool {
    let mut byte = [0u8; 1];
    let probe = futures_util::future::poll_fn(|cx| {
        let mut buf = ReadBuf::new(&mut byte);
        match std::pin::Pin::new(&mut *io).poll_read(cx, &mut buf) {
            Poll::Pending => Poll::Ready(true),
            Poll::Ready(_) => Poll::Ready(false),
        }
    });
    probe.now_or_never().unwrap_or(false)
}
