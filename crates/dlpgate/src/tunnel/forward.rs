//! One tunnelled connection: TLS on one side, plain TCP on the other, bytes copied exactly in
//! both directions, with half-close and stunnel's timeouts.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::config::{Failover, ServiceConf};

/// Size of one copy buffer.
const COPY_BUFFER: usize = 32 * 1024;

/// The backends of a service, with the round-robin position.
#[derive(Debug)]
pub struct Backends {
    addrs: Vec<String>,
    failover: Failover,
    next: AtomicUsize,
    timeout: Duration,
}

impl Backends {
    pub fn new(conf: &ServiceConf) -> Self {
        Self {
            addrs: conf.connect.iter().map(|a| normalize_addr(a)).collect(),
            failover: conf.failover,
            next: AtomicUsize::new(0),
            timeout: conf.timeout_connect,
        }
    }

    /// Connects to the first backend that answers, in round-robin or priority order; each
    /// failure is reported to `on_failure`.
    pub async fn connect(
        &self,
        mut on_failure: impl FnMut(&str, &std::io::Error),
    ) -> Option<(TcpStream, String)> {
        let n = self.addrs.len();
        let start = match self.failover {
            Failover::RoundRobin => self.next.fetch_add(1, Ordering::Relaxed) % n.max(1),
            Failover::Priority => 0,
        };
        for i in 0..n {
            let addr = &self.addrs[(start + i) % n];
            match tokio::time::timeout(self.timeout, TcpStream::connect(addr.as_str())).await {
                Ok(Ok(stream)) => {
                    let _ = stream.set_nodelay(true);
                    return Some((stream, addr.clone()));
                }
                Ok(Err(e)) => on_failure(addr, &e),
                Err(_) => {
                    on_failure(addr, &std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))
                }
            }
        }
        None
    }
}

/// stunnel accepts a bare port for `accept` and `connect`, meaning localhost for connect and
/// all addresses for accept.
pub fn normalize_addr(addr: &str) -> String {
    if addr.chars().all(|c| c.is_ascii_digit()) {
        format!("127.0.0.1:{addr}")
    } else {
        addr.to_string()
    }
}

/// The address to listen on for `accept`.
pub fn accept_addr(addr: &str) -> String {
    if addr.chars().all(|c| c.is_ascii_digit()) {
        format!("0.0.0.0:{addr}")
    } else {
        addr.to_string()
    }
}

/// The PROXY protocol v1 header for a connection from `client` to `local`.
pub fn proxy_v1_header(client: SocketAddr, local: SocketAddr) -> String {
    match (client, local) {
        (SocketAddr::V4(c), SocketAddr::V4(l)) => {
            format!("PROXY TCP4 {} {} {} {}\r\n", c.ip(), l.ip(), c.port(), l.port())
        }
        (c, l) => {
            let v6 = |a: SocketAddr| match a {
                SocketAddr::V4(v4) => v4.ip().to_ipv6_mapped(),
                SocketAddr::V6(v6) => *v6.ip(),
            };
            format!("PROXY TCP6 {} {} {} {}\r\n", v6(c), v6(l), c.port(), l.port())
        }
    }
}

/// Timeouts of one connection, from the service.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// Close when neither side sent anything for this long.
    pub idle: Duration,
    /// After one side closed, how long the other may still send.
    pub close: Duration,
}

/// Copies bytes both ways until both sides are done, in one task (tokio's
/// `copy_bidirectional`, which shuts down each write side when its read side ends: the
/// half-close, a TLS close_notify). A watchdog enforces the timeouts: `idle` when neither side
/// moved, and `close` once one side has ended its stream. Returns the bytes copied each way.
pub async fn splice<A, B>(a: A, b: B, timeouts: Timeouts) -> (u64, u64)
where
    A: AsyncRead + AsyncWrite + Unpin + Send,
    B: AsyncRead + AsyncWrite + Unpin + Send,
{
    let activity = Arc::new(Activity::new());
    let mut a = Tracked { inner: a, activity: activity.clone() };
    let mut b = Tracked { inner: b, activity: activity.clone() };
    let copy = tokio::io::copy_bidirectional_with_sizes(&mut a, &mut b, COPY_BUFFER, COPY_BUFFER);
    tokio::pin!(copy);
    loop {
        let deadline = activity.deadline(timeouts);
        tokio::select! {
            done = &mut copy => return done.unwrap_or((0, 0)),
            () = activity.ended.notified() => {}
            () = tokio::time::sleep_until(deadline) => {
                if Instant::now() >= activity.deadline(timeouts) {
                    // Timed out: dropping the copy closes both sides.
                    return (0, 0);
                }
            }
        }
    }
}

/// When the connection last moved, and when a side first ended its stream.
#[derive(Debug)]
struct Activity {
    origin: Instant,
    last_ms: AtomicU64,
    eof_ms: AtomicU64,
    /// Wakes the watchdog when a side ends, to start the close timeout.
    ended: tokio::sync::Notify,
}

impl Activity {
    fn new() -> Self {
        Self {
            origin: Instant::now(),
            last_ms: AtomicU64::new(0),
            eof_ms: AtomicU64::new(u64::MAX),
            ended: tokio::sync::Notify::new(),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn touch(&self) {
        self.last_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    fn ended(&self) {
        if self.eof_ms.compare_exchange(u64::MAX, self.now_ms(), Ordering::Relaxed, Ordering::Relaxed).is_ok()
        {
            self.ended.notify_one();
        }
    }

    fn deadline(&self, t: Timeouts) -> Instant {
        let idle = self.origin + Duration::from_millis(self.last_ms.load(Ordering::Relaxed)) + t.idle;
        match self.eof_ms.load(Ordering::Relaxed) {
            u64::MAX => idle,
            eof => idle.min(self.origin + Duration::from_millis(eof) + t.close),
        }
    }
}

/// A stream that reports reads to the shared [`Activity`].
struct Tracked<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let poll = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        if let std::task::Poll::Ready(Ok(())) = &poll {
            if buf.filled().len() > before {
                self.activity.touch();
            } else {
                self.activity.ended();
            }
        }
        poll
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        data: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write(cx, data)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[test]
    fn proxy_headers() {
        let c: SocketAddr = "192.0.2.1:5000".parse().unwrap();
        let l: SocketAddr = "127.0.0.1:1344".parse().unwrap();
        assert_eq!(proxy_v1_header(c, l), "PROXY TCP4 192.0.2.1 127.0.0.1 5000 1344\r\n");
        let c6: SocketAddr = "[2001:db8::1]:5000".parse().unwrap();
        assert!(proxy_v1_header(c6, l).starts_with("PROXY TCP6 2001:db8::1 ::ffff:127.0.0.1 5000 1344"));
    }

    #[tokio::test]
    async fn splice_copies_both_ways_and_half_closes() {
        let (client, tunnel_front) = tokio::io::duplex(1024);
        let (tunnel_back, server) = tokio::io::duplex(1024);
        let timeouts = Timeouts { idle: Duration::from_secs(5), close: Duration::from_secs(5) };
        let task = tokio::spawn(splice(tunnel_front, tunnel_back, timeouts));
        let (mut cr, mut cw) = tokio::io::split(client);
        let (mut sr, mut sw) = tokio::io::split(server);
        let payload: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let sent = payload.clone();
        let writer = tokio::spawn(async move {
            cw.write_all(&sent).await.unwrap();
            cw.shutdown().await.unwrap();
        });
        let mut got = Vec::new();
        sr.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, payload, "byte-exact, and EOF arrives (half-close)");
        writer.await.unwrap();
        // The other direction still works after the half-close.
        sw.write_all(b"answer").await.unwrap();
        sw.shutdown().await.unwrap();
        let mut back = Vec::new();
        cr.read_to_end(&mut back).await.unwrap();
        assert_eq!(back, b"answer");
        let (up, down) = task.await.unwrap();
        assert_eq!((up, down), (200_000, 6));
    }

    #[tokio::test(start_paused = true)]
    async fn idle_and_close_timeouts_end_the_splice() {
        let (_client, front) = tokio::io::duplex(1024);
        let (back, _server) = tokio::io::duplex(1024);
        let timeouts = Timeouts { idle: Duration::from_secs(30), close: Duration::from_secs(1) };
        let started = tokio::time::Instant::now();
        splice(front, back, timeouts).await;
        assert_eq!(started.elapsed().as_secs(), 30, "idle timeout");

        // One side ends its stream; the other stays open but silent: TIMEOUTclose ends it.
        let (client, front) = tokio::io::duplex(1024);
        let (back, _server) = tokio::io::duplex(1024);
        drop(client);
        let started = tokio::time::Instant::now();
        splice(front, back, timeouts).await;
        assert_eq!(started.elapsed().as_secs(), 1, "close timeout after the first end of stream");
    }
}
