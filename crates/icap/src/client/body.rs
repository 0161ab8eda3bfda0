//! Adapters around the caller's body and sink: a reader that remembers its first bytes so a
//! request on a stale pooled connection can be sent again, and a bounded in-memory sink.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Wraps a body reader and keeps the first `cap` bytes read, so that a request that failed
/// before the server answered can be replayed on a fresh connection without rewinding the
/// caller's reader. Past `cap` it stops keeping (and can no longer replay).
pub(crate) struct Replay<'a> {
    inner: &'a mut (dyn AsyncRead + Unpin + Send),
    kept: Vec<u8>,
    cap: usize,
    overflowed: bool,
    /// `Some(pos)` while replaying: the next kept byte to hand out.
    replay_at: Option<usize>,
}

impl<'a> Replay<'a> {
    pub(crate) fn new(inner: &'a mut (dyn AsyncRead + Unpin + Send), cap: usize) -> Self {
        Self { inner, kept: Vec::new(), cap, overflowed: false, replay_at: None }
    }

    /// Starts again from the first byte; false when more than `cap` bytes were taken.
    pub(crate) fn rewind(&mut self) -> bool {
        if self.overflowed {
            return false;
        }
        self.replay_at = Some(0);
        true
    }
}

impl AsyncRead for Replay<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if let Some(at) = this.replay_at {
            if at < this.kept.len() {
                let n = (this.kept.len() - at).min(buf.remaining());
                buf.put_slice(&this.kept[at..at + n]);
                this.replay_at = Some(at + n);
                return Poll::Ready(Ok(()));
            }
            // Replayed everything kept: the rest comes from the caller, no longer kept.
            return Pin::new(&mut *this.inner).poll_read(cx, buf);
        }
        let before = buf.filled().len();
        ready!(Pin::new(&mut *this.inner).poll_read(cx, buf))?;
        if !this.overflowed {
            let got = &buf.filled()[before..];
            if this.kept.len() + got.len() <= this.cap {
                this.kept.extend_from_slice(got);
            } else {
                this.overflowed = true;
                this.kept = Vec::new();
            }
        }
        Poll::Ready(Ok(()))
    }
}

/// An in-memory sink that refuses to grow past `max` bytes.
#[derive(Debug, Default)]
pub(crate) struct Collector {
    pub(crate) data: Vec<u8>,
    max: usize,
    pub(crate) exceeded: bool,
}

impl Collector {
    pub(crate) fn new(max: usize) -> Self {
        Self { data: Vec::new(), max, exceeded: false }
    }
}

impl AsyncWrite for Collector {
    fn poll_write(mut self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if self.data.len() + buf.len() > self.max {
            self.exceeded = true;
            return Poll::Ready(Err(io::Error::other("over the buffered body limit")));
        }
        self.data.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[tokio::test]
    async fn replay_hands_out_the_kept_bytes_then_the_rest() {
        let data: Vec<u8> = (0..100u8).collect();
        let mut src: &[u8] = &data;
        let mut replay = Replay::new(&mut src, 64);
        let mut first = [0u8; 40];
        replay.read_exact(&mut first).await.unwrap();
        assert!(replay.rewind());
        let mut all = Vec::new();
        replay.read_to_end(&mut all).await.unwrap();
        assert_eq!(all, data);
    }

    #[tokio::test]
    async fn replay_gives_up_past_its_cap() {
        let data = vec![7u8; 100];
        let mut src: &[u8] = &data;
        let mut replay = Replay::new(&mut src, 10);
        let mut all = Vec::new();
        replay.read_to_end(&mut all).await.unwrap();
        assert!(!replay.rewind());
    }

    #[tokio::test]
    async fn collector_refuses_past_its_limit() {
        let mut c = Collector::new(4);
        c.write_all(b"abcd").await.unwrap();
        assert!(c.write_all(b"e").await.is_err());
        assert!(c.exceeded);
        assert_eq!(c.data, b"abcd");
    }
}
