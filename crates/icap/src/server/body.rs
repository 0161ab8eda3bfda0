//! The streaming request body a service reads, with the preview's `100 Continue` handled here.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use icap_proto::{ProtoError, RequestEvent};
use tokio::time::Instant;

use super::spool::Spool;
use super::wire::{Wire, WireError};

/// Why the body could not be read.
#[derive(Debug)]
pub enum BodyError {
    /// The client broke the chunked framing or the preview rules.
    Protocol(ProtoError),
    /// The client sent nothing for the read timeout.
    Timeout,
    /// The client closed the connection mid-body.
    Closed,
    /// The socket or the spool file failed.
    Io(std::io::Error),
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodyError::Protocol(e) => write!(f, "{e}"),
            BodyError::Timeout => f.write_str("client sent nothing within the read timeout"),
            BodyError::Closed => f.write_str("client closed the connection mid-body"),
            BodyError::Io(e) => write!(f, "i/o error: {e}"),
        }
    }
}

impl std::error::Error for BodyError {}

impl From<WireError> for BodyError {
    fn from(e: WireError) -> Self {
        match e {
            WireError::Proto(p) => BodyError::Protocol(p),
            WireError::Timeout => BodyError::Timeout,
            WireError::UnexpectedEof => BodyError::Closed,
            WireError::Io(e) => BodyError::Io(e),
            WireError::PreviewUndecided => {
                BodyError::Io(std::io::Error::other("preview read without a decision"))
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    /// The preview ended without `ieof`; no `100 Continue` sent yet.
    PreviewEnded,
    Complete,
}

/// The body of one request, borrowed from its connection.
#[derive(Debug)]
pub struct Body<'c> {
    wire: &'c mut Wire,
    read_timeout: Duration,
    state: State,
    has_body: bool,
    preview: bool,
    continued: bool,
    spool: Option<Spool>,
    read_bytes: u64,
}

impl<'c> Body<'c> {
    /// `has_body` false makes an empty, complete body. `spool_limit` set keeps what is read
    /// (in memory up to the limit, then on disk) for an echo.
    pub(crate) fn new(
        wire: &'c mut Wire,
        has_body: bool,
        preview: bool,
        read_timeout: Duration,
        spool_limit: Option<usize>,
    ) -> Self {
        Self {
            wire,
            read_timeout,
            // Without a body the decoder still reports the message's end, which is read here.
            state: State::Open,
            has_body,
            preview,
            continued: false,
            spool: spool_limit.map(Spool::new),
            read_bytes: 0,
        }
    }

    pub(crate) fn in_preview(&self) -> bool {
        self.preview && !self.continued
    }

    pub(crate) fn is_complete(&self) -> bool {
        self.state == State::Complete
    }

    /// True when finishing the message reads nothing more than its preview (or nothing).
    pub(crate) fn is_cheap_to_finish(&self) -> bool {
        !self.has_body || self.state == State::Complete || self.in_preview()
    }

    /// Body bytes read so far.
    pub(crate) fn read_bytes(&self) -> u64 {
        self.read_bytes
    }

    /// Next preview piece; `None` at the end of the preview (or at once without a preview).
    pub async fn next_preview_chunk(&mut self) -> Result<Option<Bytes>, BodyError> {
        if !self.in_preview() || self.state != State::Open {
            return Ok(None);
        }
        self.read_event().await
    }

    /// Next piece of the body, sending `100 Continue` when the preview is used up.
    pub async fn next_chunk(&mut self) -> Result<Option<Bytes>, BodyError> {
        loop {
            match self.state {
                State::Complete => return Ok(None),
                State::PreviewEnded => {
                    icap_proto::encode_continue(&mut self.wire.wbuf);
                    self.wire.flush(self.read_timeout).await.map_err(BodyError::Io)?;
                    self.wire.decoder.continue_after_preview();
                    self.continued = true;
                    self.state = State::Open;
                }
                State::Open => {
                    if let Some(data) = self.read_event().await? {
                        return Ok(Some(data));
                    }
                }
            }
        }
    }

    async fn read_event(&mut self) -> Result<Option<Bytes>, BodyError> {
        let deadline = Instant::now() + self.read_timeout;
        match self.wire.next_event(deadline).await? {
            Some(RequestEvent::Data(data)) => {
                self.read_bytes += data.len() as u64;
                if let Some(spool) = &mut self.spool {
                    spool.push(&data).await.map_err(BodyError::Io)?;
                }
                Ok(Some(data))
            }
            Some(RequestEvent::PreviewEnd) => {
                self.state = State::PreviewEnded;
                Ok(None)
            }
            Some(RequestEvent::End { .. }) => {
                self.state = State::Complete;
                Ok(None)
            }
            Some(RequestEvent::Head(_)) | None => Err(BodyError::Closed),
        }
    }

    /// Reads what is left of a preview, so that a final answer can follow it. True when the
    /// answer may be 204 whatever the client offered (RFC 3507 section 4.6): no `100 Continue`
    /// was sent.
    pub(crate) async fn settle_preview(&mut self) -> Result<bool, BodyError> {
        if !self.in_preview() {
            return Ok(false);
        }
        while self.state == State::Open {
            self.read_event().await?;
        }
        if self.state == State::PreviewEnded {
            // The client sends nothing more after a final answer to its preview.
            self.wire.decoder.skip_rest_of_body();
            self.state = State::Complete;
        }
        Ok(true)
    }

    /// Reads and discards the rest of the body, keeping the connection in step.
    pub(crate) async fn drain(&mut self) -> Result<(), BodyError> {
        self.spool = None;
        if self.settle_preview().await? {
            return Ok(());
        }
        while self.next_chunk().await?.is_some() {}
        Ok(())
    }

    /// The spooled bytes, one piece per call, then `None`.
    pub(crate) async fn next_spooled(&mut self) -> Result<Option<Bytes>, BodyError> {
        match &mut self.spool {
            Some(spool) => spool.next_piece().await.map_err(BodyError::Io),
            None => Ok(None),
        }
    }

    /// Stops spooling: what comes next is streamed straight through.
    pub(crate) fn stop_spooling(&mut self) {
        self.spool = None;
    }

    pub(crate) fn wire(&mut self) -> &mut Wire {
        self.wire
    }

    pub(crate) fn into_wire(self) -> &'c mut Wire {
        self.wire
    }
}
