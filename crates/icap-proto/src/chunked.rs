//! Chunked transfer coding (RFC 9112 section 7.1) with ICAP's `ieof` extension.
//!
//! An explicit state machine in the manner of hyper's `ChunkedState`: it returns chunk data as
//! soon as it arrives, so memory stays bounded by the chunk-line and trailer limits whatever the
//! body size.

use bytes::{Bytes, BytesMut};

use crate::error::{ProtoError, Result};
use crate::headers::Headers;
use crate::limits::Limits;

/// What the chunked decoder produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ChunkEvent {
    /// Body bytes (any part of one chunk).
    Data(Bytes),
    /// The last chunk, with `ieof` when its extensions carried it, and any trailers.
    Last { ieof: bool, trailers: Headers },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Expecting a chunk-size line.
    Size,
    /// Inside chunk data with this many bytes left.
    Data(u64),
    /// Expecting the CRLF after chunk data.
    DataEnd,
    /// After the last chunk: trailers up to an empty line.
    Trailers { ieof: bool },
}

/// Decoder for one chunked body.
#[derive(Debug, Clone)]
pub(crate) struct ChunkedDecoder {
    state: State,
    /// Bytes of an unfinished chunk-size line or trailer block already searched for its end:
    /// the next search resumes there, so a line that arrives one byte per read costs linear
    /// time, not quadratic.
    scanned: usize,
    /// Body bytes the chunk-size lines may still declare (a preview's `Preview` size): a chunk
    /// that declares more is refused at its size line, so the verdict does not depend on how
    /// much of its data has arrived.
    declared_left: Option<u64>,
}

impl ChunkedDecoder {
    pub(crate) fn new() -> Self {
        Self { state: State::Size, scanned: 0, declared_left: None }
    }

    /// A decoder whose chunks may declare at most `limit` bytes in all.
    pub(crate) fn with_declared_limit(limit: Option<u64>) -> Self {
        Self { declared_left: limit, ..Self::new() }
    }

    /// Consumes what it can from `buf`; `Ok(None)` means more bytes are needed.
    pub(crate) fn decode(&mut self, buf: &mut BytesMut, limits: &Limits) -> Result<Option<ChunkEvent>> {
        loop {
            match self.state {
                State::Size => {
                    let Some(line) =
                        take_line(buf, limits.max_chunk_line, "chunk-size line", &mut self.scanned)?
                    else {
                        return Ok(None);
                    };
                    let (size, ieof) = parse_size_line(&line)?;
                    if let Some(left) = &mut self.declared_left {
                        *left = left
                            .checked_sub(size)
                            .ok_or_else(|| ProtoError::bad("preview is longer than its Preview header"))?;
                    }
                    self.state = if size == 0 { State::Trailers { ieof } } else { State::Data(size) };
                }
                State::Data(remaining) => {
                    if buf.is_empty() {
                        return Ok(None);
                    }
                    let n = usize::try_from(remaining).unwrap_or(usize::MAX).min(buf.len());
                    let left = remaining - n as u64;
                    self.state = if left == 0 { State::DataEnd } else { State::Data(left) };
                    return Ok(Some(ChunkEvent::Data(buf.split_to(n).freeze())));
                }
                State::DataEnd => match buf.first() {
                    None => return Ok(None),
                    Some(b'\n') => {
                        let _ = buf.split_to(1);
                        self.state = State::Size;
                    }
                    Some(b'\r') => match buf.get(1) {
                        None => return Ok(None),
                        Some(b'\n') => {
                            let _ = buf.split_to(2);
                            self.state = State::Size;
                        }
                        Some(_) => return Err(ProtoError::bad("chunk data is not followed by CRLF")),
                    },
                    Some(_) => return Err(ProtoError::bad("chunk data is longer than its chunk size")),
                },
                State::Trailers { ieof } => {
                    let Some(len) = trailer_block_len(buf, limits.max_trailers, &mut self.scanned)? else {
                        return Ok(None);
                    };
                    let block = buf.split_to(len);
                    let trailers = if block.len() <= 2 {
                        Headers::new()
                    } else {
                        Headers::parse_block(&block, limits.max_headers)?.0
                    };
                    self.state = State::Size;
                    return Ok(Some(ChunkEvent::Last { ieof, trailers }));
                }
            }
        }
    }
}

/// Removes one line (without its line end) from `buf`, or waits for it within `limit` bytes.
/// `scanned` bytes were searched before (and are on return, when the line is not complete).
fn take_line(buf: &mut BytesMut, limit: usize, what: &str, scanned: &mut usize) -> Result<Option<BytesMut>> {
    let window = &buf[..buf.len().min(limit + 1)];
    let from = (*scanned).min(window.len());
    inspected(window.len() - from);
    match memchr::memchr(b'\n', &window[from..]).map(|p| from + p) {
        Some(pos) => {
            *scanned = 0;
            let mut line = buf.split_to(pos + 1);
            line.truncate(pos);
            if line.last() == Some(&b'\r') {
                line.truncate(pos - 1);
            }
            Ok(Some(line))
        }
        None if buf.len() > limit => {
            *scanned = 0;
            Err(ProtoError::too_large(format!("{what} longer than {limit} bytes")))
        }
        None => {
            *scanned = window.len();
            Ok(None)
        }
    }
}

/// Counts bytes searched for line ends, so a test can check the work is linear.
#[cfg(test)]
fn inspected(n: usize) {
    INSPECTED.with(|c| c.set(c.get() + n));
}

#[cfg(not(test))]
fn inspected(_: usize) {}

#[cfg(test)]
thread_local! {
    static INSPECTED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Parses `1e`, `0; ieof` or `a;name=value`: the size, and whether `ieof` was among the extensions.
fn parse_size_line(line: &[u8]) -> Result<(u64, bool)> {
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 {
        return Err(ProtoError::bad(format!(
            "chunk-size is not hexadecimal: {:?}",
            String::from_utf8_lossy(&line[..line.len().min(32)])
        )));
    }
    if digits > 15 {
        return Err(ProtoError::bad("chunk-size is too large"));
    }
    let mut size: u64 = 0;
    for &b in &line[..digits] {
        let nibble = (b as char).to_digit(16).unwrap_or(0);
        size = (size << 4) | u64::from(nibble);
    }
    let rest = &line[digits..];
    let rest = trim_start(rest);
    let mut ieof = false;
    if !rest.is_empty() {
        if rest[0] != b';' {
            return Err(ProtoError::bad("unexpected bytes after chunk-size"));
        }
        for ext in rest[1..].split(|&b| b == b';') {
            let ext = trim_start(ext);
            let name_len =
                ext.iter().position(|&b| b == b'=' || b == b' ' || b == b'\t').unwrap_or(ext.len());
            if ext[..name_len].eq_ignore_ascii_case(b"ieof") {
                ieof = true;
            }
        }
    }
    Ok((size, ieof))
}

fn trim_start(bytes: &[u8]) -> &[u8] {
    let skip = bytes.iter().take_while(|&&b| b == b' ' || b == b'\t').count();
    &bytes[skip..]
}

/// Length of the trailer section including its final empty line, once it is all in `buf`.
/// The search resumes where the last one (`scanned`) stopped.
fn trailer_block_len(buf: &BytesMut, limit: usize, scanned: &mut usize) -> Result<Option<usize>> {
    if buf.starts_with(b"\n") {
        return Ok(Some(1));
    }
    if buf.starts_with(b"\r\n") {
        return Ok(Some(2));
    }
    if buf.len() < 2 {
        return Ok(None);
    }
    // A blank line can end up to 3 bytes before the end of what was searched.
    let from = scanned.saturating_sub(3);
    inspected(buf.len() - from.min(buf.len()));
    match crate::head::find_blank_line(buf, from) {
        Some(end) if end <= limit => {
            *scanned = 0;
            Ok(Some(end))
        }
        Some(_) => Err(ProtoError::too_large(format!("trailers longer than {limit} bytes"))),
        None if buf.len() > limit => {
            Err(ProtoError::too_large(format!("trailers longer than {limit} bytes")))
        }
        None => {
            *scanned = buf.len();
            Ok(None)
        }
    }
}

/// Appends one chunk; an empty `data` writes nothing (a zero chunk would end the body).
pub fn encode_chunk(data: &[u8], dst: &mut BytesMut) {
    if data.is_empty() {
        return;
    }
    dst.reserve(data.len() + 20);
    // Written in place: no string allocated per chunk.
    let _ = std::fmt::Write::write_fmt(dst, format_args!("{:x}\r\n", data.len()));
    dst.extend_from_slice(data);
    dst.extend_from_slice(b"\r\n");
}

/// Appends the last chunk: `0; ieof` ends a preview that holds the whole body.
pub fn encode_last_chunk(ieof: bool, dst: &mut BytesMut) {
    dst.extend_from_slice(if ieof { b"0; ieof\r\n\r\n" } else { b"0\r\n\r\n" });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(input: &[u8]) -> Result<Vec<ChunkEvent>> {
        let mut buf = BytesMut::from(input);
        let mut dec = ChunkedDecoder::new();
        let mut out = Vec::new();
        while let Some(ev) = dec.decode(&mut buf, &Limits::default())? {
            let last = matches!(ev, ChunkEvent::Last { .. });
            out.push(ev);
            if last {
                break;
            }
        }
        Ok(out)
    }

    #[test]
    fn reads_ieof_and_extensions() {
        let ev = decode_all(b"3;name=v\r\nabc\r\n0; ieof\r\n\r\n").unwrap();
        assert_eq!(ev[0], ChunkEvent::Data(Bytes::from_static(b"abc")));
        assert_eq!(ev[1], ChunkEvent::Last { ieof: true, trailers: Headers::new() });
    }

    #[test]
    fn reads_trailers() {
        let ev = decode_all(b"1\r\nx\r\n0\r\nX-Checksum: 1\r\n\r\n").unwrap();
        match &ev[1] {
            ChunkEvent::Last { ieof: false, trailers } => assert_eq!(trailers.get("x-checksum"), Some("1")),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn lines_that_arrive_one_byte_at_a_time_are_searched_once() {
        let mut input = b"fff; name=".to_vec();
        input.extend(std::iter::repeat_n(b'v', 3000));
        input.extend_from_slice(b"\r\n");
        input.extend(std::iter::repeat_n(b'a', 0xfff));
        input.extend_from_slice(b"\r\n0\r\n");
        for i in 0..100 {
            input.extend_from_slice(format!("X-Trailer-{i}: {}\r\n", "v".repeat(140)).as_bytes());
        }
        input.extend_from_slice(b"\r\n");
        INSPECTED.with(|c| c.set(0));
        let mut dec = ChunkedDecoder::new();
        let mut buf = BytesMut::new();
        let mut last = None;
        for &b in &input {
            buf.extend_from_slice(&[b]);
            while let Some(ev) = dec.decode(&mut buf, &Limits::default()).unwrap() {
                last = Some(ev);
            }
        }
        assert!(matches!(last, Some(ChunkEvent::Last { .. })), "{last:?}");
        let inspected = INSPECTED.with(|c| c.get());
        assert!(inspected < 4 * input.len(), "{inspected} bytes searched for {} bytes of input", input.len());
    }

    #[test]
    fn rejects_bad_framing() {
        assert!(decode_all(b"zz\r\nabc\r\n0\r\n\r\n").is_err());
        assert!(decode_all(b"2\r\nabc\r\n0\r\n\r\n").is_err());
        assert!(decode_all(b"ffffffffffffffffff\r\n").is_err());
        let long = [b"1;".as_slice(), &vec![b'a'; 5000]].concat();
        assert!(decode_all(&long).unwrap_err().is_limit());
    }
}
