//! One connection's bytes: a read buffer feeding the request decoder, and a write buffer.

use std::io;
use std::time::Duration;

use bytes::BytesMut;
use icap_proto::{ProtoError, RequestDecoder, RequestEvent};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

use super::budget::Lease;
use super::pace::Late;
use super::HEAD_ALLOWANCE;

/// Any byte stream a connection can run on: TCP, TLS, or an in-memory pipe in tests.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Why reading the next event failed.
#[derive(Debug)]
pub(crate) enum WireError {
    /// The bytes broke the protocol; the error knows the status to answer.
    Proto(ProtoError),
    /// Nothing arrived before the deadline.
    Timeout,
    /// A body too slow, or a request past its deadline (answered `408`).
    Late(Late),
    /// The memory or spool budget stayed spent (answered `503`).
    Overloaded,
    /// The peer closed the connection in the middle of a message.
    UnexpectedEof,
    /// The socket failed.
    Io(io::Error),
    /// A read was attempted after a preview before deciding between 100 and a final answer
    /// (a runtime bug, answered with 500).
    PreviewUndecided,
}

/// Read size: large enough for 64 KiB bodies in a few reads.
const READ_CHUNK: usize = 64 * 1024;
/// The first read of a connection, before anything arrived.
const FIRST_READ: usize = 4 * 1024;
/// Flush the write buffer when it grows past this while streaming a body.
pub(crate) const WRITE_HIGH_WATER: usize = 64 * 1024;

pub(crate) struct Wire {
    io: Box<dyn Io>,
    pub(crate) rbuf: BytesMut,
    pub(crate) wbuf: BytesMut,
    pub(crate) decoder: RequestDecoder,
    /// A response has started (an echo streams its 200 before the body ends): an error now can
    /// only close the connection.
    pub(crate) mid_response: bool,
    /// The first bytes of `wbuf` that hold whole answers held back while pipelined requests
    /// were already waiting in `rbuf` (see [`Wire::finish_answer`]).
    committed: usize,
    /// Time allowed for one write.
    write_timeout: Duration,
    /// What a long head in `rbuf` holds of the memory budget, and how long to wait for it.
    head_lease: Lease,
    overload_wait: Duration,
    /// The `Server` header of every answer on this connection.
    pub(crate) server_name: std::sync::Arc<str>,
}

impl std::fmt::Debug for Wire {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wire").field("buffered", &self.rbuf.len()).finish_non_exhaustive()
    }
}

impl Wire {
    pub(crate) fn new(io: Box<dyn Io>, config: &super::ServerConfig) -> Self {
        Self {
            io,
            // Allocated as bytes arrive: a connection that sends nothing costs no buffer.
            rbuf: BytesMut::new(),
            wbuf: BytesMut::new(),
            decoder: RequestDecoder::new(config.limits),
            mid_response: false,
            committed: 0,
            write_timeout: config.write_timeout,
            head_lease: Lease::new(&config.memory),
            overload_wait: config.overload_wait,
            server_name: config.server_name.clone(),
        }
    }

    /// True between messages with nothing buffered.
    pub(crate) fn is_idle(&self) -> bool {
        self.decoder.is_idle() && self.rbuf.is_empty()
    }

    /// The next event, reading until `deadline`. `Ok(None)` is a clean close between messages.
    pub(crate) async fn next_event(&mut self, deadline: Instant) -> Result<Option<RequestEvent>, WireError> {
        loop {
            if let Some(event) = self.decoder.decode(&mut self.rbuf).map_err(WireError::Proto)? {
                if matches!(event, RequestEvent::Head(_)) {
                    self.head_lease.clear();
                }
                return Ok(Some(event));
            }
            if self.decoder.is_awaiting_continue() {
                // The caller must decide how the message goes on; reading more would be wrong.
                return Err(WireError::PreviewUndecided);
            }
            // Answers held back for pipelined requests go out before waiting for the client,
            // which may wait for them.
            self.flush_committed().await.map_err(WireError::Io)?;
            let limit = self.read_limit().await?;
            // Between messages, a small read first: an idle connection (or a thousand) holds
            // little; the body's reads are full size.
            let want = if self.rbuf.capacity() == 0 { FIRST_READ.min(limit) } else { limit };
            self.rbuf.reserve(want);
            let read =
                tokio::time::timeout_at(deadline, (&mut self.io).take(limit as u64).read_buf(&mut self.rbuf))
                    .await;
            match read {
                Err(_) => return Err(WireError::Timeout),
                Ok(Err(e)) => return Err(WireError::Io(e)),
                Ok(Ok(0)) if self.is_idle() => return Ok(None),
                Ok(Ok(0)) => return Err(WireError::UnexpectedEof),
                Ok(Ok(_)) => {}
            }
        }
    }

    /// How much the next read may bring. A head may hold [`HEAD_ALLOWANCE`] bytes of the
    /// buffer for free; past that, what it holds comes from the memory budget, waited for at
    /// most the overload wait.
    async fn read_limit(&mut self) -> Result<usize, WireError> {
        if !self.decoder.is_reading_head() {
            return Ok(READ_CHUNK);
        }
        let allowed = HEAD_ALLOWANCE + self.head_lease.held() as usize;
        if self.rbuf.len() < allowed {
            return Ok((allowed - self.rbuf.len()).min(READ_CHUNK));
        }
        let need = (self.rbuf.len() + READ_CHUNK - HEAD_ALLOWANCE) as u64;
        if self.head_lease.grow_to(need, self.overload_wait).await {
            Ok(READ_CHUNK)
        } else {
            Err(WireError::Overloaded)
        }
    }

    /// Writes out the write buffer.
    pub(crate) async fn flush(&mut self, timeout: Duration) -> io::Result<()> {
        let written = write_within(&mut self.io, &self.wbuf, timeout).await.ok_or_else(timed_out)?;
        self.wbuf.clear();
        self.committed = 0;
        written
    }

    /// Ends an answer. When the client has already sent more (pipelined requests), the answer
    /// waits in the buffer for the answers to those, so that a batch of requests read at once
    /// is answered with one write; otherwise, or past the high-water mark, it goes out now.
    pub(crate) async fn finish_answer(&mut self) -> io::Result<()> {
        if self.rbuf.is_empty() || self.wbuf.len() >= WRITE_HIGH_WATER {
            return self.flush(self.write_timeout).await;
        }
        self.committed = self.wbuf.len();
        Ok(())
    }

    /// Writes out the answers held back by [`Wire::finish_answer`], leaving any part of the
    /// answer under way in the buffer.
    pub(crate) async fn flush_committed(&mut self) -> io::Result<()> {
        if self.committed == 0 {
            return Ok(());
        }
        let done = self.wbuf.split_to(self.committed);
        self.committed = 0;
        write_within(&mut self.io, &done, self.write_timeout).await.unwrap_or_else(|| Err(timed_out()))
    }

    /// Drops the part of the buffer that belongs to the answer under way (an error answer
    /// takes its place); answers held back for earlier requests stay.
    pub(crate) fn discard_answer_under_way(&mut self) {
        self.wbuf.truncate(self.committed);
    }

    /// Flushes when the write buffer is past the high-water mark.
    pub(crate) async fn flush_if_full(&mut self, timeout: Duration) -> io::Result<()> {
        if self.wbuf.len() >= WRITE_HIGH_WATER {
            self.flush(timeout).await?;
            self.mid_response = true;
        }
        Ok(())
    }

    pub(crate) async fn shutdown(&mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(1), self.io.shutdown()).await;
    }
}

/// Writes `data` out; `None` when that takes longer than `timeout`.
async fn write_within(io: &mut Box<dyn Io>, data: &[u8], timeout: Duration) -> Option<io::Result<()>> {
    let write = async {
        io.write_all(data).await?;
        io.flush().await
    };
    tokio::time::timeout(timeout, write).await.ok()
}

fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "write timed out")
}
