//! One tunnelled connection: TLS on one side, plain TCP on the other, bytes copied exactly in
//! both directions, with half-close and stunnel's timeouts.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
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

/// Copies bytes both ways until both sides are done. When one side ends its stream, the other
/// side's write half is shut down (half-close, a TLS close_notify) and the remaining direction
/// gets `close` more time. Returns the bytes copied each way.
pub async fn splice<A, B>(a: A, b: B, timeouts: Timeouts) -> (u64, u64)
where
    A: AsyncRead + AsyncWrite + Unpin + Send,
    B: AsyncRead + AsyncWrite + Unpin + Send,
{
    let (mut a_read, mut a_write) = tokio::io::split(a);
    let (mut b_read, mut b_write) = tokio::io::split(b);
    let origin = Instant::now();
    let last_activity = AtomicU64::new(0);
    let a_to_b = pump(&mut a_read, &mut b_write, &last_activity, origin, timeouts.idle);
    let b_to_a = pump(&mut b_read, &mut a_write, &last_activity, origin, timeouts.idle);
    tokio::pin!(a_to_b);
    tokio::pin!(b_to_a);
    // Whichever direction ends first leaves the other `close` to finish.
    tokio::select! {
        up = &mut a_to_b => {
            let down = tokio::time::timeout(timeouts.close, &mut b_to_a).await.unwrap_or(0);
            (up, down)
        }
        down = &mut b_to_a => {
            let up = tokio::time::timeout(timeouts.close, &mut a_to_b).await.unwrap_or(0);
            (up, down)
        }
    }
}

/// One direction: read, write, until end of stream, an error, or the shared idle timeout.
async fn pump<R, W>(
    reader: &mut R,
    writer: &mut W,
    last_activity: &AtomicU64,
    origin: Instant,
    idle: Duration,
) -> u64
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; COPY_BUFFER];
    let mut total = 0u64;
    loop {
        let read = tokio::time::timeout(idle, reader.read(&mut buf)).await;
        let n = match read {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => n,
            Err(_) => {
                // The other direction may have been busy: idle means both were quiet.
                let quiet_for = origin
                    .elapsed()
                    .saturating_sub(Duration::from_millis(last_activity.load(Ordering::Relaxed)));
                if quiet_for >= idle {
                    break;
                }
                continue;
            }
        };
        last_activity
            .store(u64::try_from(origin.elapsed().as_millis()).unwrap_or(u64::MAX), Ordering::Relaxed);
        if writer.write_all(&buf[..n]).await.is_err() {
            break;
        }
        total += n as u64;
    }
    let _ = writer.flush().await;
    let _ = writer.shutdown().await;
    total
}

#[cfg(test)]
mod tests {
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
}
