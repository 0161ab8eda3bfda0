//! The streaming request body a service reads, with the preview's `100 Continue` handled here.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use icap_proto::{ProtoError, Request, RequestEvent};
use tokio::time::Instant;

use super::pace::{Late, Pace};
use super::spool::Spool;
use super::wire::{Wire, WireError};

/// Why the body could not be read.
#[derive(Debug)]
#[non_exhaustive]
pub enum BodyError {
    /// The client broke the chunked framing or the preview rules.
    Protocol(ProtoError),
    /// The client sent nothing for the read timeout.
    Timeout,
    /// The body arrived slower than the minimum rate
    /// ([`ServerConfig::min_body_rate`](super::ServerConfig::min_body_rate)).
    TooSlow,
    /// The request deadline passed
    /// ([`ServerConfig::request_deadline`](super::ServerConfig::request_deadline)).
    DeadlinePassed,
    /// The memory or spool budget stayed spent for the overload wait (answered `503`).
    Overloaded,
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
            BodyError::TooSlow => f.write_str(Late::TooSlow.reason()),
            BodyError::DeadlinePassed => f.write_str(Late::Deadline.reason()),
            BodyError::Overloaded => f.write_str(OVERLOADED),
            BodyError::Closed => f.write_str("client closed the connection mid-body"),
            BodyError::Io(e) => write!(f, "i/o error: {e}"),
        }
    }
}

impl std::error::Error for BodyError {}

/// The `X-Error-Reason` of a `503` for a spent budget.
pub(crate) const OVERLOADED: &str = "server busy: memory or spool budget exhausted";

impl From<Late> for BodyError {
    fn from(late: Late) -> Self {
        BodyError::from(WireError::Late(late))
    }
}

impl BodyError {
    /// How the connection answers a body that broke this way.
    fn to_wire(&self) -> WireError {
        match self {
            BodyError::Protocol(e) => WireError::Proto(e.clone()),
            BodyError::Timeout => WireError::Late(Late::ReadTimeout),
            BodyError::TooSlow => WireError::Late(Late::TooSlow),
            BodyError::DeadlinePassed => WireError::Late(Late::Deadline),
            BodyError::Overloaded => WireError::Overloaded,
            BodyError::Closed | BodyError::Io(_) => WireError::UnexpectedEof,
        }
    }
}

impl From<WireError> for BodyError {
    fn from(e: WireError) -> Self {
        match e {
            WireError::Proto(p) => BodyError::Protocol(p),
            WireError::Timeout | WireError::Late(Late::ReadTimeout) => BodyError::Timeout,
            WireError::Late(Late::TooSlow) => BodyError::TooSlow,
            WireError::Late(Late::Deadline) => BodyError::DeadlinePassed,
            WireError::Overloaded => BodyError::Overloaded,
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
    pace: Pace,
    state: State,
    has_body: bool,
    preview: bool,
    continued: bool,
    spool: Option<Spool>,
    read_bytes: u64,
    early_head: Option<EarlyHead<'c>>,
    /// When the read under way gives up, kept across reported stalls.
    read_deadline: Option<Instant>,
    /// How the body broke, when it did: the connection answers that, whatever the service
    /// made of the error.
    broken: Option<WireError>,
    /// The ISTag the service named for this request ([`Exchange::set_istag`](super::Exchange)).
    istag: Option<String>,
}

/// The answer head to send if the client stalls mid-body ([`ServerConfig::early_head_after`](super::ServerConfig)).
/// It is encoded only when that happens, which is rare.
#[derive(Debug)]
pub(crate) struct EarlyHead<'c> {
    /// Silence that triggers it.
    pub(crate) after: Duration,
    /// The message whose unchanged heads it carries.
    pub(crate) request: &'c Request,
    /// The ISTag of the service's OPTIONS, for when the service names none of its own.
    pub(crate) options_istag: &'c str,
    pub(crate) sent: bool,
    /// Body bytes sent ahead of the verdict, one per further stall.
    pub(crate) trickled: usize,
    /// Leading body bytes the service cleared for release ahead of the verdict
    /// ([`Exchange::release_early`](super::Exchange::release_early)); none by default.
    pub(crate) releasable: usize,
    /// A stall was reported to the service ([`BodyEvent::Stalled`]); the next read may trickle
    /// one byte within what the service then cleared.
    pub(crate) stall_reported: bool,
    /// The service decided: the answer is under way, nothing more goes out early.
    pub(crate) decided: bool,
}

/// At most this many body bytes go out ahead of the verdict, one per stall after the early
/// head, and only bytes the service cleared ([`Exchange::release_early`](super::Exchange)):
/// Squid 5 can stall again near a body's end until the answer moves, and only body bytes move
/// it. A block aborts the transfer, so the client holds at most these few leading bytes.
pub const MAX_TRICKLE_BYTES: usize = 16;

/// What the body brought next ([`Exchange::next_body_event`](super::Exchange::next_body_event)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BodyEvent {
    /// Body bytes.
    Data(Bytes),
    /// The body is complete.
    End,
    /// The client paused mid-body after the answer head went out early, and one more leading
    /// body byte could move the answer along: the service may clear bytes for it with
    /// [`Exchange::release_early`](super::Exchange::release_early), then reads on.
    Stalled,
}

/// What one read of the body gave.
enum Read {
    Data(Bytes),
    /// The preview or the body ended.
    Ended,
    Stalled,
}

impl<'c> Body<'c> {
    /// `has_body` false makes an empty, complete body. `spool` set keeps what is read
    /// (in memory up to its limit, then on disk) for an echo.
    pub(crate) fn new(
        wire: &'c mut Wire,
        has_body: bool,
        preview: bool,
        pace: Pace,
        spool: Option<Spool>,
        early_head: Option<EarlyHead<'c>>,
    ) -> Self {
        Self {
            wire,
            pace,
            // Without a body the decoder still reports the message's end, which is read here.
            state: State::Open,
            has_body,
            preview,
            continued: false,
            spool,
            read_bytes: 0,
            early_head,
            read_deadline: None,
            broken: None,
            istag: None,
        }
    }

    /// True once the answer head went out early: the answer can only be the echo now.
    pub(crate) fn early_head_sent(&self) -> bool {
        self.early_head.as_ref().is_some_and(|e| e.sent)
    }

    /// The service has decided; from now on the answer is written by its usual path.
    pub(crate) fn decided(&mut self) {
        if let Some(early) = self.early_head.as_mut() {
            early.decided = true;
        }
    }

    /// The ISTag the service named: an early head carries it, and so does the answer.
    pub(crate) fn set_istag(&mut self, istag: String) {
        self.istag = Some(istag);
    }

    /// The ISTag the service named, once the answer is being written.
    pub(crate) fn take_istag(&mut self) -> Option<String> {
        self.istag.take()
    }

    /// Body bytes already sent ahead of the verdict (the echo skips them).
    pub(crate) fn trickled(&self) -> usize {
        self.early_head.as_ref().map_or(0, |e| e.trickled)
    }

    /// How long to wait for the next byte before moving the answer along (the head, then a
    /// trickled byte), if that may still happen: past any preview, with the body kept for the
    /// echo, and trickle bytes left.
    fn early_head_due(&self) -> Option<Duration> {
        let early =
            self.early_head.as_ref().filter(|e| !e.decided && (!e.sent || e.trickled < MAX_TRICKLE_BYTES))?;
        (self.has_body && !self.in_preview() && self.spool.is_some()).then_some(early.after)
    }

    /// The client stalled: send the answer head, or on a later stall one more body byte.
    async fn move_answer_along(&mut self) -> Result<(), BodyError> {
        let Some(early) = self.early_head.as_mut() else {
            return Ok(());
        };
        if !early.sent {
            let istag = self.istag.as_deref().unwrap_or(early.options_istag);
            super::conn::encode_echo_head(
                early.request,
                Some(istag),
                &self.wire.server_name,
                &mut self.wire.wbuf,
            );
            early.sent = true;
            self.wire.mid_response = true;
            tracing::debug!(read = self.read_bytes, "client paused mid-body: answer head sent early");
        } else {
            if early.trickled >= early.releasable.min(MAX_TRICKLE_BYTES) {
                return Ok(()); // nothing cleared for release
            }
            let next = self.spool.as_ref().and_then(|s| s.byte_in_memory(early.trickled));
            let Some(byte) = next else {
                early.trickled = MAX_TRICKLE_BYTES; // nothing in memory to send: stop trying
                return Ok(());
            };
            icap_proto::encode_chunk(&[byte], &mut self.wire.wbuf);
            early.trickled += 1;
            tracing::debug!(
                read = self.read_bytes,
                trickled = early.trickled,
                "client paused again: one body byte sent"
            );
        }
        self.wire.flush(self.pace.read_timeout()).await.map_err(BodyError::Io)
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
        match self.read_event(false).await? {
            Read::Data(data) => Ok(Some(data)),
            Read::Ended | Read::Stalled => Ok(None),
        }
    }

    /// Next piece of the body, sending `100 Continue` when the preview is used up.
    pub async fn next_chunk(&mut self) -> Result<Option<Bytes>, BodyError> {
        match self.next_event(false).await? {
            BodyEvent::Data(data) => Ok(Some(data)),
            _ => Ok(None),
        }
    }

    /// Like [`Body::next_chunk`], but a stall after an early head is reported.
    pub(crate) async fn next_event(&mut self, report_stalls: bool) -> Result<BodyEvent, BodyError> {
        loop {
            match self.state {
                State::Complete => return Ok(BodyEvent::End),
                State::PreviewEnded => {
                    icap_proto::encode_continue(&mut self.wire.wbuf);
                    self.wire.flush(self.pace.read_timeout()).await.map_err(BodyError::Io)?;
                    self.wire.decoder.continue_after_preview();
                    self.continued = true;
                    self.state = State::Open;
                }
                State::Open => match self.read_event(report_stalls).await? {
                    Read::Data(data) => return Ok(BodyEvent::Data(data)),
                    Read::Stalled => return Ok(BodyEvent::Stalled),
                    Read::Ended => {}
                },
            }
        }
    }

    /// Clears the first `n` body bytes for release ahead of the verdict (never fewer than
    /// before).
    pub(crate) fn release_early(&mut self, n: usize) {
        if let Some(early) = self.early_head.as_mut() {
            early.releasable = early.releasable.max(n);
        }
    }

    async fn read_event(&mut self, report_stalls: bool) -> Result<Read, BodyError> {
        let read = self.read_event_timed(report_stalls).await;
        if let Err(e) = &read {
            self.broken.get_or_insert_with(|| e.to_wire());
        }
        read
    }

    /// How the body broke, if it did.
    pub(crate) fn take_broken(&mut self) -> Option<WireError> {
        self.broken.take()
    }

    async fn read_event_timed(&mut self, report_stalls: bool) -> Result<Read, BodyError> {
        if self.early_head.as_ref().is_some_and(|e| e.stall_reported) {
            // The stall reported last time: the service has had its say on what may go.
            if let Some(early) = self.early_head.as_mut() {
                early.stall_reported = false;
            }
            self.move_answer_along().await?;
        }
        let event = loop {
            let now = Instant::now();
            // The wait for the next event survives a reported stall: reporting one never
            // extends it.
            let read_deadline = *self.read_deadline.get_or_insert(now + self.pace.read_timeout());
            let mut until = self.pace.wait_until(now, read_deadline);
            // While the answer may still move along early, wait in steps of its stall time.
            let stall = self.early_head_due().map(|after| now + after).filter(|step| *step < until);
            if let Some(step) = stall {
                until = step;
            }
            let result = self.wire.next_event(until).await;
            let bytes = match &result {
                Ok(Some(RequestEvent::Data(data))) => data.len() as u64,
                _ => 0,
            };
            self.pace.waited(now.elapsed(), bytes)?;
            match result {
                Err(WireError::Timeout) => {
                    let now = Instant::now();
                    if let Some(late) = self.pace.expired(now, read_deadline) {
                        return Err(late.into());
                    }
                    if stall.is_some_and(|step| now >= step) {
                        if report_stalls && self.early_head_sent() {
                            if let Some(early) = self.early_head.as_mut() {
                                early.stall_reported = true;
                            }
                            return Ok(Read::Stalled);
                        }
                        self.move_answer_along().await?;
                    }
                    // Otherwise a rate window ended, with enough: wait on.
                }
                other => break other?,
            }
        };
        self.read_deadline = None;
        match event {
            Some(RequestEvent::Data(data)) => {
                self.read_bytes += data.len() as u64;
                if let Some(spool) = &mut self.spool {
                    spool.push(&data).await.map_err(|e| match e.kind() {
                        std::io::ErrorKind::StorageFull => BodyError::Overloaded,
                        _ => BodyError::Io(e),
                    })?;
                }
                Ok(Read::Data(data))
            }
            Some(RequestEvent::PreviewEnd) => {
                self.state = State::PreviewEnded;
                Ok(Read::Ended)
            }
            Some(RequestEvent::End { .. }) => {
                self.state = State::Complete;
                Ok(Read::Ended)
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
            self.read_event(false).await?;
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
