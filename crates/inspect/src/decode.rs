//! Push decoders for gzip, zlib, raw deflate, brotli, bzip2, xz, zstd, lz4, lzma (`.lzma`,
//! LZMA-alone) and lzip with bounded output.
//!
//! One concern in one file, longer than most: the formats share one state machine
//! (streams in a row, trailing data, window accounting), so they stay together.
//!
//! Input arrives in any chunking; output leaves in pieces of at most [`OUT_CHUNK`] bytes
//! through a callback that may refuse more (a limit was reached). Nothing ever holds a
//! whole decompressed stream, so a bomb costs CPU time bounded by the limits, not memory;
//! decoders whose format declares a window (xz, zstd) refuse one above the caller's bound.
//!
//! Every input byte is accounted for: decoded ([`Out::Data`]), handed on as text that no
//! decoder reads (gzip header names and comments, zstd skippable frames: [`Out::Meta`]), or
//! handed on as [`Out::Trailing`] once the compressed streams end and something else
//! follows. Concatenated streams (`cat a.gz b.gz`, pbzip2, multi-stream xz, zstd frames)
//! decode as one output, as their command-line tools do.

mod lz4;
mod radix;
mod zstd;

use radix::decodes_to_content;
pub(crate) use radix::{head_format as radix_head_format, Encoded, Radix};

use brotli::{BrotliDecompressStream, BrotliResult, BrotliState, HeapAlloc, HuffmanCode};
use flate2::{Decompress, FlushDecompress, Status};
use lzma_rust2::{Action as LzAction, LzipStream, LzmaStream, Status as LzStatus, StreamResult};

/// Largest piece of output handed on at once.
pub const OUT_CHUNK: usize = 32 * 1024;
/// Bytes of brotli input per decoder call (`Decoder::brotli_pending`).
const BROTLI_PIECE: usize = 64;
/// Largest gzip header accepted (extra field, name and comment included).
const MAX_GZIP_HEADER: usize = 256 * 1024;
/// Input kept while a zlib-looking `deflate` body has produced nothing, to retry it as raw
/// deflate if the zlib reading fails.
const DEFLATE_RETRY_KEEP: usize = 64 * 1024;

/// Which codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Gzip,
    /// `Content-Encoding: deflate`: zlib, or raw deflate from servers that get it wrong.
    Deflate,
    Brotli,
    Bzip2,
    Xz,
    Zstd,
    /// LZ4 frames (`lz4`) or a legacy stream (`lz4 -l`).
    Lz4,
    /// The `.lzma` format (LZMA-alone: `xz --format=lzma`, `lzma`, 7-Zip's `-tlzma`).
    Lzma,
    /// `lzip` members.
    Lzip,
    /// A whole object written in hex digits (`xxd -p`, `.hex()`), base64 lines narrower
    /// than a blob's (`base64 -w 60`), base32 or base 85.
    Radix(Encoded),
}

/// The LZ4 frame and legacy magics, for identification.
pub(crate) const LZ4_MAGICS: [[u8; 4]; 2] = [lz4::FRAME_MAGIC, lz4::LEGACY_MAGIC];

impl Format {
    /// Parses one `Content-Encoding` token.
    pub fn from_token(token: &str) -> Option<Self> {
        match token.trim().to_ascii_lowercase().as_str() {
            "gzip" | "x-gzip" => Some(Self::Gzip),
            "deflate" => Some(Self::Deflate),
            "br" => Some(Self::Brotli),
            "zstd" => Some(Self::Zstd),
            _ => None,
        }
    }

    /// The magic bytes that start another stream of this format after one ended.
    fn next_magic(self) -> Option<&'static [u8]> {
        match self {
            Self::Gzip => Some(&[0x1f, 0x8b, 0x08]),
            Self::Bzip2 => Some(b"BZh"),
            Self::Xz => Some(b"\xFD7zXZ\x00"),
            Self::Lzip => Some(b"LZIP"),
            Self::Deflate | Self::Brotli | Self::Zstd | Self::Lz4 | Self::Lzma | Self::Radix(_) => None,
        }
    }
}

/// A piece of what a decoder makes of its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Out<'a> {
    /// Decompressed content.
    Data(&'a [u8]),
    /// Bytes of the compressed format that carry text no decoder reads (gzip header file
    /// names and comments, zstd skippable frames): to be scanned as text.
    Meta(&'a [u8]),
    /// Bytes after the last compressed stream: another object, to be identified and scanned.
    Trailing(&'a [u8]),
    /// What the decoder holds for its window now ([`Decoder::window_bytes`]), reported when
    /// it changes, before the data it makes: to be charged to the memory budget.
    Window(u64),
}

/// Why decoding stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DecodeError {
    /// Corrupt or truncated input.
    Corrupt(String),
    /// The stream declares a window (dictionary) larger than allowed: this many bytes.
    Window(u64),
    /// A valid stream using a feature the decoder cannot read.
    Unsupported(String),
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Corrupt(s) | Self::Unsupported(s) => f.write_str(s),
            Self::Window(n) => write!(f, "window of {n} bytes"),
        }
    }
}

type Brotli = BrotliState<HeapAlloc<u8>, HeapAlloc<u32>, HeapAlloc<HuffmanCode>>;

enum Inner {
    /// Gzip: collecting a member header.
    /// Gzip: collecting a member header, with where the search for the end of its name or
    /// comment stopped (so 1-byte pieces cost linear work).
    GzHeader(Vec<u8>, Resume),
    /// Inside a deflate stream (gzip member body, zlib or raw). `replay` keeps the input of
    /// a zlib-looking body until it produces output, to retry it as raw deflate.
    Inflate {
        z: Box<Decompress>,
        gzip: bool,
        replay: Option<Vec<u8>>,
    },
    /// Gzip: skipping the 8-byte trailer, then maybe another member.
    GzTrailer(usize),
    /// Deflate: deciding zlib or raw from the first two bytes.
    DeflateStart(Vec<u8>),
    Brotli(Box<Brotli>),
    Bzip2(Box<bzip2::Decompress>),
    Xz(Box<xz4rust::XzDecoder<'static>>),
    /// xz: zero stream padding after a stream, then maybe another stream.
    XzPadding,
    Zstd(Box<zstd::Zstd>),
    Lz4(Box<lz4::Lz4>),
    /// `.lzma` and lzip streams (lzma-rust2's push decoders).
    Lzma(Box<LzmaStream>),
    Lzip(Box<LzipStream>),
    /// Hex, base64, base32 or base-85 text.
    Radix(Box<radix::RadixDecoder>),
    /// A stream ended: collecting the first bytes of what follows to see whether another
    /// stream of the same format starts.
    Next(Vec<u8>),
    /// The compressed streams ended: everything else is trailing data.
    Trailing,
    /// A brotli stream ended: RFC 7932 allows nothing after it. (The decoder's verdict on
    /// bytes after the end depends on where the input was split; refusing them is stable.)
    BrotliDone,
    /// The stream is corrupt; nothing more is decoded.
    Failed,
}

const CORRUPT_DEFLATE: &str = "corrupt deflate stream";
const CORRUPT_BROTLI: &str = "corrupt brotli stream";
const CORRUPT_BZIP2: &str = "corrupt bzip2 stream";
const CORRUPT_XZ: &str = "corrupt xz stream";
const CORRUPT_LZMA: &str = "corrupt lzma stream";

fn corrupt(s: &str) -> DecodeError {
    DecodeError::Corrupt(s.to_string())
}

/// A push decoder.
pub(crate) struct Decoder {
    format: Format,
    inner: Inner,
    out: Vec<u8>,
    /// Complete streams (gzip members, bzip2 or xz streams) so far.
    members_done: u32,
    max_window: u64,
    /// Bytes the current xz stream has produced: its dictionary grows with them.
    xz_out: u64,
    /// The window last reported ([`Out::Window`]).
    reported: u64,
    /// Whether to stop after the first stream (what follows is trailing data).
    single: bool,
    /// Brotli input short of a whole piece. The brotli crate checks a metablock's length
    /// only when it flushes output, which depends on how much input each call has: with
    /// the whole body in one call it accepts commands that overrun their metablock, which
    /// the reference decoder refuses, and byte by byte it refuses them too. Fixed pieces at
    /// fixed offsets make every split decode alike, and small ones refuse what the
    /// reference decoder refuses.
    brotli_pending: Vec<u8>,
}

/// What a bzip2 stream's decoder holds in normal mode: 4 bytes per byte of a block of up to
/// 900 kB, and its tables.
const BZIP2_STATE_BYTES: u64 = 900_000 * 4 + (64 << 10);

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder").field("format", &self.format).finish_non_exhaustive()
    }
}

impl Decoder {
    /// A decoder that refuses windows (dictionaries) above `max_window` bytes.
    pub fn with_window(format: Format, max_window: u64) -> Self {
        Self {
            format,
            inner: Self::start(format, max_window),
            out: vec![0; OUT_CHUNK],
            members_done: 0,
            max_window,
            xz_out: 0,
            reported: 0,
            single: false,
            brotli_pending: Vec::new(),
        }
    }

    /// Reports the window when it changed; false when `emit` says stop.
    fn report_window(&mut self, emit: &mut dyn FnMut(Out<'_>) -> bool) -> bool {
        let now = self.window_bytes();
        if now == self.reported {
            return true;
        }
        self.reported = now;
        emit(Out::Window(now))
    }

    /// About what the decoder holds for the stream under way besides fixed state: brotli's
    /// ring buffer, the xz dictionary (grown with the output, up to the window), the zstd
    /// window, bzip2's block. Deflate's 32 KiB window is not counted. Known once the
    /// decoder has allocated it, so a caller charges it after the call that grew it.
    pub fn window_bytes(&self) -> u64 {
        match &self.inner {
            Inner::Brotli(state) => u64::try_from(state.ringbuffer_size).unwrap_or(0),
            Inner::Xz(_) => self.xz_out.checked_next_power_of_two().unwrap_or(u64::MAX).min(self.max_window),
            Inner::Zstd(z) => z.window(),
            Inner::Lz4(z) => z.window(),
            Inner::Lzma(z) => u64::from(z.memory_usage().unwrap_or(0)) * 1024,
            Inner::Lzip(z) => u64::from(z.memory_usage().unwrap_or(0)) * 1024,
            Inner::Bzip2(_) => BZIP2_STATE_BYTES,
            _ => 0,
        }
    }

    /// Stops after the first stream: what follows it, even another stream of the same
    /// format, leaves as trailing data. For streams found inside another object, whose
    /// host finds the next stream itself.
    pub fn one_stream(mut self) -> Self {
        self.single = true;
        match &mut self.inner {
            Inner::Zstd(z) => z.one_frame(),
            Inner::Lz4(z) => z.one_stream(),
            _ => {}
        }
        self
    }

    fn start(format: Format, max_window: u64) -> Inner {
        match format {
            Format::Gzip => Inner::GzHeader(Vec::new(), Resume::default()),
            Format::Deflate => Inner::DeflateStart(Vec::new()),
            // Strict RFC 7932: windows of at most 16 MiB (the large-window extension would
            // let a header ask for 1 GiB).
            Format::Brotli => Inner::Brotli(Box::new(BrotliState::new_strict(
                HeapAlloc::new(0),
                HeapAlloc::new(0),
                HeapAlloc::new(HuffmanCode::default()),
            ))),
            // The normal (not "small") mode: at most about 3.6 MiB whatever the input.
            Format::Bzip2 => Inner::Bzip2(Box::new(bzip2::Decompress::new(false))),
            Format::Xz => {
                let max = usize::try_from(max_window).unwrap_or(usize::MAX);
                Inner::Xz(xz4rust::XzDecoder::in_heap_with_alloc_dict_size(4096, max))
            }
            Format::Zstd => Inner::Zstd(Box::new(zstd::Zstd::new(max_window))),
            Format::Lz4 => Inner::Lz4(Box::new(lz4::Lz4::new())),
            Format::Lzma => Inner::Lzma(Box::new(LzmaStream::new_mem_limit(lz_limit_kib(max_window), None))),
            Format::Lzip => Inner::Lzip(Box::new(LzipStream::new_mem_limit(false, lz_limit_kib(max_window)))),
            Format::Radix(e) => Inner::Radix(Box::new(radix::RadixDecoder::new(e))),
        }
    }

    /// Decodes `input`, calling `emit` with each piece of what it is made of; stops early
    /// (Ok) when `emit` returns false. Errors describe corrupt input or a refused window.
    /// The format this decoder reads.
    pub fn format(&self) -> Format {
        self.format
    }

    pub fn push_all(
        &mut self,
        input: &[u8],
        emit: &mut dyn FnMut(Out<'_>) -> bool,
    ) -> Result<(), DecodeError> {
        if self.format != Format::Brotli {
            return self.push_inner(input, emit);
        }
        // Brotli gets its input in pieces of BROTLI_PIECE bytes at fixed stream offsets,
        // whatever the caller's split (see `brotli_pending`).
        let go = std::cell::Cell::new(true);
        let mut emit = |o: Out<'_>| {
            go.set(go.get() && emit(o));
            go.get()
        };
        let mut input = input;
        if !self.brotli_pending.is_empty() {
            let take = (BROTLI_PIECE - self.brotli_pending.len()).min(input.len());
            self.brotli_pending.extend_from_slice(&input[..take]);
            input = &input[take..];
            if self.brotli_pending.len() < BROTLI_PIECE {
                return Ok(());
            }
            let piece = std::mem::take(&mut self.brotli_pending);
            self.push_inner(&piece, &mut emit)?;
        }
        let mut pieces = input.chunks_exact(BROTLI_PIECE);
        for piece in &mut pieces {
            if !go.get() {
                return Ok(());
            }
            self.push_inner(piece, &mut emit)?;
        }
        self.brotli_pending.extend_from_slice(pieces.remainder());
        Ok(())
    }

    fn push_inner(
        &mut self,
        mut input: &[u8],
        emit: &mut dyn FnMut(Out<'_>) -> bool,
    ) -> Result<(), DecodeError> {
        while !input.is_empty() {
            if !self.report_window(emit) {
                return Ok(());
            }
            match &mut self.inner {
                Inner::Trailing => {
                    emit(Out::Trailing(input));
                    return Ok(());
                }
                Inner::Failed => return Err(corrupt("corrupt compressed stream")),
                Inner::BrotliDone => {
                    self.inner = Inner::Failed;
                    return Err(corrupt(CORRUPT_BROTLI));
                }
                Inner::Next(_) if self.single => self.inner = Inner::Trailing,
                Inner::Next(held) => {
                    let magic = self.format.next_magic().unwrap_or_default();
                    let take = (magic.len() - held.len()).min(input.len());
                    held.extend_from_slice(&input[..take]);
                    input = &input[take..];
                    if !magic.starts_with(held) {
                        let held = std::mem::take(held);
                        self.inner = Inner::Trailing;
                        if !emit(Out::Trailing(&held)) {
                            return Ok(());
                        }
                    } else if held.len() == magic.len() {
                        // Another stream: start over and replay its first bytes.
                        let held = std::mem::take(held);
                        self.inner = Self::start(self.format, self.max_window);
                        self.xz_out = 0;
                        self.push_inner(&held, emit)?;
                    }
                }
                Inner::GzHeader(h, searched) => {
                    let take = input.len().min(MAX_GZIP_HEADER + 1 - h.len().min(MAX_GZIP_HEADER));
                    let before = h.len();
                    h.extend_from_slice(&input[..take]);
                    match gzip_header_len(h, searched) {
                        Ok(Some(n)) => {
                            // The header's name, comment and extra field are text someone
                            // chose: they are scanned too.
                            if !emit(Out::Meta(&h[..n])) {
                                return Ok(());
                            }
                            input = &input[(n - before).min(input.len())..];
                            self.inner = Inner::Inflate {
                                z: Box::new(Decompress::new(false)),
                                gzip: true,
                                replay: None,
                            };
                        }
                        Ok(None) => {
                            if h.len() > MAX_GZIP_HEADER {
                                return Err(corrupt("gzip header too long"));
                            }
                            input = &input[take..];
                        }
                        Err(e) => return Err(DecodeError::Corrupt(e)),
                    }
                }
                Inner::GzTrailer(left) => {
                    let k = (*left).min(input.len());
                    *left -= k;
                    input = &input[k..];
                    if *left == 0 {
                        self.inner = Inner::Next(Vec::new());
                    }
                }
                Inner::DeflateStart(h) => {
                    h.push(input[0]);
                    input = &input[1..];
                    if h.len() == 2 {
                        let zlib = h[0] & 0x0f == 8 && (u16::from(h[0]) << 8 | u16::from(h[1])) % 31 == 0;
                        let head = std::mem::take(h);
                        self.inner = Inner::Inflate {
                            z: Box::new(Decompress::new(zlib)),
                            gzip: false,
                            replay: zlib.then(Vec::new),
                        };
                        self.push_inner(&head, emit)?;
                    }
                }
                Inner::Inflate { z, gzip, replay } => {
                    let in0 = z.total_in();
                    let out0 = z.total_out();
                    let result = z.decompress(input, &mut self.out, FlushDecompress::None);
                    let used = ((z.total_in() - in0) as usize).min(input.len());
                    let made = ((z.total_out() - out0) as usize).min(self.out.len());
                    let gzip = *gzip;
                    if made > 0 {
                        *replay = None;
                    } else if let Some(r) = replay {
                        r.extend_from_slice(&input[..used]);
                        if r.len() > DEFLATE_RETRY_KEEP {
                            *replay = None;
                        }
                    }
                    input = &input[used..];
                    // What decoded before damage is still text to scan.
                    if made > 0 && !emit(Out::Data(&self.out[..made])) {
                        return Ok(());
                    }
                    // The library's message depends on where the input was split; a stable
                    // one keeps verdicts independent of chunking.
                    let Ok(status) = result else {
                        if let Some(mut r) = replay.take() {
                            // A zlib header by chance on a raw deflate body: read it raw.
                            r.extend_from_slice(input);
                            self.inner = Inner::Inflate {
                                z: Box::new(Decompress::new(false)),
                                gzip: false,
                                replay: None,
                            };
                            return self.push_inner(&r, emit);
                        }
                        self.inner = Inner::Failed;
                        return Err(corrupt(CORRUPT_DEFLATE));
                    };
                    if status == Status::StreamEnd {
                        self.members_done += 1;
                        self.inner = if gzip { Inner::GzTrailer(8) } else { Inner::Trailing };
                    } else if used == 0 && made == 0 {
                        self.inner = Inner::Failed;
                        return Err(corrupt(CORRUPT_DEFLATE));
                    }
                }
                Inner::Bzip2(z) => {
                    let in0 = z.total_in();
                    let out0 = z.total_out();
                    let result = z.decompress(input, &mut self.out);
                    let used = ((z.total_in() - in0) as usize).min(input.len());
                    let made = ((z.total_out() - out0) as usize).min(self.out.len());
                    input = &input[used..];
                    if made > 0 && !emit(Out::Data(&self.out[..made])) {
                        return Ok(());
                    }
                    match result {
                        Ok(bzip2::Status::StreamEnd) => {
                            self.members_done += 1;
                            self.inner = Inner::Next(Vec::new());
                        }
                        Ok(_) if used == 0 && made == 0 => {
                            self.inner = Inner::Failed;
                            return Err(corrupt(CORRUPT_BZIP2));
                        }
                        Ok(_) => {}
                        Err(_) => {
                            self.inner = Inner::Failed;
                            return Err(corrupt(CORRUPT_BZIP2));
                        }
                    }
                }
                Inner::Xz(x) => match x.decode(input, &mut self.out) {
                    Ok(r) => {
                        let used = r.input_consumed().min(input.len());
                        let made = r.output_produced().min(self.out.len());
                        self.xz_out += made as u64;
                        input = &input[used..];
                        if made > 0 && !emit(Out::Data(&self.out[..made])) {
                            return Ok(());
                        }
                        if r.is_end_of_stream() {
                            self.members_done += 1;
                            self.inner = Inner::XzPadding;
                        } else if !r.made_progress() {
                            return Ok(());
                        }
                    }
                    // Not fatal: the decoder waits for more input.
                    Err(xz4rust::XzError::NeedsLargerInputBuffer) => return Ok(()),
                    Err(xz4rust::XzError::DictionaryTooLarge(n)) => {
                        self.inner = Inner::Failed;
                        return Err(DecodeError::Window(n));
                    }
                    Err(_) => {
                        self.inner = Inner::Failed;
                        return Err(corrupt(CORRUPT_XZ));
                    }
                },
                Inner::XzPadding => {
                    // Stream padding is zero bytes (RFC-like xz spec, section 2.2).
                    let zeros = input.iter().take_while(|&&b| b == 0).count();
                    input = &input[zeros..];
                    if !input.is_empty() {
                        self.inner = Inner::Next(Vec::new());
                    }
                }
                Inner::Zstd(z) => {
                    let r = z.push(input, &mut self.out, emit);
                    if r.is_err() {
                        self.inner = Inner::Failed;
                    }
                    r?;
                    return Ok(());
                }
                Inner::Radix(z) => {
                    if let Some(k) = z.push(input, emit) {
                        self.members_done += 1;
                        self.inner = Inner::Trailing;
                        return self.push_inner(&input[k..], emit);
                    }
                    return Ok(());
                }
                Inner::Lz4(z) => {
                    let r = z.push(input, emit);
                    if r.is_err() {
                        self.inner = Inner::Failed;
                    }
                    r?;
                    return Ok(());
                }
                Inner::Lzma(z) => {
                    let r = lz_push(z.as_mut(), &mut self.out, input, LzAction::Run, emit, self.max_window);
                    return self.after_lz(r, emit);
                }
                Inner::Lzip(z) => {
                    let r = lz_push(z.as_mut(), &mut self.out, input, LzAction::Run, emit, self.max_window);
                    return self.after_lz(r, emit);
                }
                Inner::Brotli(state) => {
                    let mut avail_in = input.len();
                    let mut in_off = 0;
                    loop {
                        let mut avail_out = self.out.len();
                        let mut out_off = 0;
                        let mut total = 0;
                        let r = BrotliDecompressStream(
                            &mut avail_in,
                            &mut in_off,
                            input,
                            &mut avail_out,
                            &mut out_off,
                            &mut self.out,
                            &mut total,
                            state,
                        );
                        // The ring buffer is allocated once the first block's header is read.
                        let ring = u64::try_from(state.ringbuffer_size).unwrap_or(0);
                        if ring != self.reported {
                            self.reported = ring;
                            if !emit(Out::Window(ring)) {
                                return Ok(());
                            }
                        }
                        if out_off > 0 && !emit(Out::Data(&self.out[..out_off])) {
                            return Ok(());
                        }
                        match r {
                            BrotliResult::NeedsMoreOutput => continue,
                            BrotliResult::NeedsMoreInput => {
                                input = &[];
                                break;
                            }
                            BrotliResult::ResultSuccess => {
                                self.members_done += 1;
                                if avail_in > 0 {
                                    self.inner = Inner::Failed;
                                    return Err(corrupt(CORRUPT_BROTLI));
                                }
                                self.inner = Inner::BrotliDone;
                                return Ok(());
                            }
                            BrotliResult::ResultFailure => {
                                self.inner = Inner::Failed;
                                return Err(corrupt(CORRUPT_BROTLI));
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Goes on after an lzma-rust2 stream took input: past its end, another lzip member or
    /// trailing data.
    fn after_lz(
        &mut self,
        r: Result<LzPushed, DecodeError>,
        emit: &mut dyn FnMut(Out<'_>) -> bool,
    ) -> Result<(), DecodeError> {
        match r {
            Err(e) => {
                self.inner = Inner::Failed;
                Err(e)
            }
            Ok(LzPushed::Paused) => Ok(()),
            Ok(LzPushed::Ended(rest)) => {
                self.members_done += 1;
                self.inner = if self.format.next_magic().is_some() {
                    Inner::Next(Vec::new())
                } else {
                    Inner::Trailing
                };
                self.push_inner(&rest, emit)
            }
        }
    }

    /// Ends the input: an error when the stream was cut short. Bytes held back to see
    /// whether another stream starts leave as trailing data.
    pub fn finish_all(&mut self, emit: &mut dyn FnMut(Out<'_>) -> bool) -> Result<(), DecodeError> {
        if !self.brotli_pending.is_empty() {
            let piece = std::mem::take(&mut self.brotli_pending);
            self.push_inner(&piece, emit)?;
        }
        match &mut self.inner {
            Inner::Trailing | Inner::BrotliDone | Inner::XzPadding => Ok(()),
            Inner::GzTrailer(_) => Err(corrupt("gzip trailer truncated")),
            Inner::Next(held) => {
                if !held.is_empty() {
                    emit(Out::Trailing(held));
                }
                Ok(())
            }
            Inner::Radix(z) => z.finish(emit),
            Inner::Lz4(z) if z.at_boundary() => Ok(()),
            Inner::Lz4(z) => {
                let held = z.take_pending_trailing();
                if held.is_empty() {
                    return Err(corrupt("lz4 stream is truncated"));
                }
                emit(Out::Trailing(&held));
                Ok(())
            }
            Inner::Lzma(z) => {
                let r = lz_push(z.as_mut(), &mut self.out, &[], LzAction::Finish, emit, self.max_window);
                self.after_lz(r, emit)
            }
            Inner::Lzip(z) => {
                let r = lz_push(z.as_mut(), &mut self.out, &[], LzAction::Finish, emit, self.max_window);
                self.after_lz(r, emit)
            }
            Inner::Zstd(z) if z.at_boundary() => Ok(()),
            Inner::Zstd(z) => {
                let held = z.take_pending_trailing();
                if held.is_empty() {
                    return Err(corrupt("compressed stream is truncated"));
                }
                emit(Out::Trailing(&held));
                Ok(())
            }
            _ => Err(corrupt("compressed stream is truncated")),
        }
    }
}

/// Output a head is decoded to, at most, to tell a compressed stream from data that only
/// starts like one.
const TRIAL_OUT: usize = 64 * 1024;

/// Whether `head`, the first bytes of an object, is the start of a zlib stream: a header
/// (32 KiB window, no preset dictionary, its check) and deflate data that decodes for as far
/// as the head goes. The two header bytes alone turn up in text (`H,`, `x^`, `hK`).
pub(crate) fn zlib_head_decodes(head: &[u8]) -> bool {
    let [cmf, flg, ..] = *head else { return false };
    if cmf != 0x78 || flg & 0x20 != 0 || (u16::from(cmf) << 8 | u16::from(flg)) % 31 != 0 || head.len() < 8 {
        return false;
    }
    let mut z = Decompress::new(true);
    let mut out = vec![0; TRIAL_OUT];
    matches!(
        z.decompress(head, &mut out, FlushDecompress::None),
        Ok(Status::Ok | Status::StreamEnd | Status::BufError)
    )
}

/// Fewest bytes a head of raw deflate data must decode to (unless its stream ends first)
/// to be taken for one: a few blocks of text, far more than chance decodes.
const RAW_DEFLATE_MIN_OUT: usize = 64;

/// Fewest bytes a whole raw deflate stream in a head must decode to: an empty final block
/// is 3 bits that one random byte in a thousand starts with.
const RAW_DEFLATE_MIN_ENDED: usize = 16;

/// Whether `head` starts like a stored deflate block: block type 0, then a length and its
/// complement (one chance in 65,536 for other data).
pub(crate) fn stored_block_head(head: &[u8]) -> bool {
    match head {
        [first, l0, l1, n0, n1, ..] => (first >> 1) & 3 == 0 && l0 ^ n0 == 0xFF && l1 ^ n1 == 0xFF,
        _ => false,
    }
}

/// Whether `head` is raw deflate data (RFC 1951 with no zlib or gzip header, as
/// `CompressionStream("deflate-raw")`, PHP's `gzdeflate` and .NET's `DeflateStream` write
/// it) of something people compress. The format has no magic: the whole head must decode (a
/// block type that exists, then codes that are valid for as far as it goes, or a stored
/// block's length and its complement), to at least [`RAW_DEFLATE_MIN_OUT`] bytes
/// ([`RAW_DEFLATE_MIN_ENDED`] if its stream ends in the head) of text beyond chance or a
/// known format, judged as a hex or base64 head's trial is (so that raw deflate inside raw
/// deflate is not sniffed level after level). Random binary data fails within a few bytes.
pub(crate) fn raw_deflate_head_decodes(head: &[u8]) -> bool {
    // Bits 1-2 of the first byte: the block type; 3 is reserved.
    let Some(block_type) = head.first().map(|b| (b >> 1) & 3) else { return false };
    if head.len() < 8 || block_type == 3 || (block_type == 0 && !stored_block_head(head)) {
        return false;
    }
    let mut z = Decompress::new(false);
    let mut out = Vec::with_capacity(TRIAL_OUT);
    let Ok(status) = z.decompress_vec(head, &mut out, FlushDecompress::None) else { return false };
    let ended = status == Status::StreamEnd;
    let whole_head = usize::try_from(z.total_in()).is_ok_and(|n| n == head.len());
    let enough = if ended { RAW_DEFLATE_MIN_ENDED } else { RAW_DEFLATE_MIN_OUT };
    (ended || whole_head) && out.len() >= enough && decodes_to_content(&out)
}

/// Whether `head` is the start of a `.lzma` (LZMA-alone) file: its 13-byte header (a
/// properties byte as encoders write it, a dictionary size of 2^n or 2^n + 2^(n-1) from 4 KiB
/// to 1.5 GiB, an uncompressed size that is unknown or below 1 TiB), then LZMA data that
/// decodes for as far as the head goes (with a small dictionary, enough for that much).
/// The format has no magic; the header alone turns up in other binary data.
pub(crate) fn lzma_head_decodes(head: &[u8]) -> bool {
    let Some(header) = head.get(..13) else { return false };
    let props = header[0];
    let (pb, lp, lc) = (props / 45, props % 45 / 9, props % 9);
    let dict = u32::from_le_bytes([header[1], header[2], header[3], header[4]]);
    let size = u64::from_le_bytes([
        header[5], header[6], header[7], header[8], header[9], header[10], header[11], header[12],
    ]);
    if props == 0 || pb > 4 || lc + lp > 4 || !(4096..=0x6000_0000).contains(&dict) {
        return false;
    }
    // Below the highest bit, nothing, or only the next one.
    let below = dict & !(1 << dict.ilog2());
    if below != 0 && below != 1 << (dict.ilog2() - 1) {
        return false;
    }
    if size != u64::MAX && size >= 1 << 40 {
        return false;
    }
    let Ok(mut z) = LzmaStream::new_with_props(size, props, dict.min(TRIAL_OUT as u32), None) else {
        return false;
    };
    let mut out = vec![0; TRIAL_OUT];
    let mut input = &head[13..];
    let mut made = 0;
    while made < TRIAL_OUT && !input.is_empty() {
        match z.process(input, &mut out[made..], LzAction::Run) {
            Ok(r) if r.bytes_consumed == 0 && r.bytes_produced == 0 => break,
            Ok(r) => {
                input = &input[r.bytes_consumed.min(input.len())..];
                made += r.bytes_produced;
                if r.status == LzStatus::StreamEnd {
                    break;
                }
            }
            Err(_) => return false,
        }
    }
    true
}

/// The memory lzma-rust2 may take for a window of `max_window` bytes, in KiB: the window and
/// 64 KiB for the literal coder's tables of the usual `lc`+`lp` (up to 4).
fn lz_limit_kib(max_window: u64) -> u32 {
    u32::try_from(max_window / 1024 + 64).unwrap_or(u32::MAX)
}

/// lzma-rust2's push decoders (`.lzma` and lzip) through one interface.
trait LzStream {
    fn step(&mut self, input: &[u8], out: &mut [u8], action: LzAction) -> lzma_rust2::Result<StreamResult>;
    /// Bytes taken in that followed the stream's end.
    fn after_end(&self) -> &[u8];
    /// KiB the stream's header asks for, once read.
    fn needs_kib(&self) -> Option<u32>;
}

/// The two streams have the same inherent methods under the same names.
macro_rules! lz_stream {
    ($($t:ty),*) => {$(
        impl LzStream for $t {
            fn step(&mut self, input: &[u8], out: &mut [u8], action: LzAction) -> lzma_rust2::Result<StreamResult> {
                self.process(input, out, action)
            }
            fn after_end(&self) -> &[u8] {
                self.unused_input()
            }
            fn needs_kib(&self) -> Option<u32> {
                self.memory_usage()
            }
        }
    )*};
}

lz_stream!(LzmaStream, LzipStream);

/// What [`lz_push`] came to.
enum LzPushed {
    /// `emit` said stop, or the input is used up mid-stream.
    Paused,
    /// The stream ended; these bytes followed it.
    Ended(Vec<u8>),
}

/// Feeds an lzma-rust2 stream, handing its output on.
fn lz_push(
    z: &mut dyn LzStream,
    out: &mut [u8],
    mut input: &[u8],
    action: LzAction,
    emit: &mut dyn FnMut(Out<'_>) -> bool,
    max_window: u64,
) -> Result<LzPushed, DecodeError> {
    loop {
        let r = match z.step(input, out, action) {
            Ok(r) => r,
            Err(_) => {
                return Err(match z.needs_kib() {
                    Some(kib) if kib > lz_limit_kib(max_window) => DecodeError::Window(u64::from(kib) * 1024),
                    _ => corrupt(CORRUPT_LZMA),
                })
            }
        };
        let used = r.bytes_consumed.min(input.len());
        let made = r.bytes_produced.min(out.len());
        input = &input[used..];
        if made > 0 && !emit(Out::Data(&out[..made])) {
            return Ok(LzPushed::Paused);
        }
        if r.status == LzStatus::StreamEnd {
            let mut rest = z.after_end().to_vec();
            rest.extend_from_slice(input);
            return Ok(LzPushed::Ended(rest));
        }
        if used == 0 && made == 0 {
            if action == LzAction::Finish {
                return Err(corrupt("compressed stream is truncated"));
            }
            return Ok(LzPushed::Paused);
        }
    }
}

/// Where an incomplete gzip header's search for a terminator stopped: the field that lacked
/// one starts at `field` and has none before `searched`; a name already ended at `name_end`.
#[derive(Debug, Default, Clone, Copy)]
struct Resume {
    field: usize,
    searched: usize,
    name_end: Option<usize>,
    /// Bytes examined so far (tests check that it stays linear).
    work: usize,
}

/// Length of a complete gzip member header, `None` when more bytes are needed (and then
/// `resume` says where to go on next time).
fn gzip_header_len(h: &[u8], resume: &mut Resume) -> Result<Option<usize>, String> {
    if h.len() < 10 {
        if h.len() >= 2 && h[..2] != [0x1f, 0x8b] {
            return Err("not gzip".into());
        }
        return Ok(None);
    }
    if h[..2] != [0x1f, 0x8b] || h[2] != 8 {
        return Err("not gzip".into());
    }
    let flags = h[3];
    let mut i = 10;
    if flags & 4 != 0 {
        let Some(x) = h.get(i..i + 2) else { return Ok(None) };
        i += 2 + usize::from(u16::from_le_bytes([x[0], x[1]]));
    }
    for bit in [8u8, 16] {
        if flags & bit == 0 {
            continue;
        }
        if let (8, Some(end)) = (bit, resume.name_end) {
            i = end;
            continue;
        }
        let from = if i == resume.field { i.max(resume.searched) } else { i };
        let found = h.get(from..).and_then(|r| memchr::memchr(0, r));
        resume.work += found.map_or(h.len().saturating_sub(from), |z| z + 1);
        match found {
            Some(z) => {
                i = from + z + 1;
                if bit == 8 {
                    resume.name_end = Some(i);
                }
            }
            None => {
                resume.field = i;
                resume.searched = h.len().max(i);
                return Ok(None);
            }
        }
    }
    if flags & 2 != 0 {
        i += 2;
    }
    Ok((h.len() >= i).then_some(i))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::testkit;

    const WINDOW: u64 = 64 << 20;

    /// Decodes `packed` in chunks of `chunk` bytes: (data, meta, trailing, result).
    fn run(
        format: Format,
        packed: &[u8],
        chunk: usize,
    ) -> (Vec<u8>, Vec<u8>, Vec<u8>, Result<(), DecodeError>) {
        let mut d = Decoder::with_window(format, WINDOW);
        let (mut data, mut meta, mut trailing) = (Vec::new(), Vec::new(), Vec::new());
        let mut emit = |o: Out<'_>| {
            match o {
                Out::Data(b) => data.extend_from_slice(b),
                Out::Meta(b) => meta.extend_from_slice(b),
                Out::Trailing(b) => trailing.extend_from_slice(b),
                Out::Window(_) => {}
            }
            true
        };
        for c in packed.chunks(chunk) {
            if let Err(e) = d.push_all(c, &mut emit) {
                return (data, meta, trailing, Err(e));
            }
        }
        let r = d.finish_all(&mut emit);
        (data, meta, trailing, r)
    }

    fn roundtrip(format: Format, packed: &[u8], chunk: usize) -> Vec<u8> {
        let (data, _, trailing, r) = run(format, packed, chunk);
        r.unwrap();
        assert!(trailing.is_empty());
        data
    }

    fn text() -> Vec<u8> {
        (0..100_000u32).flat_map(|i| i.to_string().into_bytes()).collect()
    }

    #[test]
    fn all_codecs_any_chunking() {
        let text = text();
        let gz = testkit::gzip(&text);
        let mut zl = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        zl.write_all(&text).unwrap();
        let zl = zl.finish().unwrap();
        let mut raw = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        raw.write_all(&text).unwrap();
        let raw = raw.finish().unwrap();
        let mut br = Vec::new();
        {
            let mut w = brotli::CompressorWriter::new(&mut br, 4096, 5, 22);
            w.write_all(&text).unwrap();
        }
        let bz = testkit::bzip2(&text);
        let xz = testkit::xz(&text);
        let zst = testkit::zstd(&text);
        let (lz4, lz4_legacy) = (testkit::lz4(&text), testkit::lz4_legacy(&text));
        let (lzma, lzip) = (testkit::lzma(&text), testkit::lzip(&text));
        for chunk in [1, 7, 4096, 1 << 20] {
            // Linked 64 KiB blocks: later blocks refer back into earlier ones.
            assert_eq!(roundtrip(Format::Lz4, &lz4, chunk), text);
            assert_eq!(roundtrip(Format::Lz4, &lz4_legacy, chunk), text);
            assert_eq!(roundtrip(Format::Lzma, &lzma, chunk), text);
            assert_eq!(roundtrip(Format::Lzip, &lzip, chunk), text);
            assert_eq!(roundtrip(Format::Gzip, &gz, chunk), text);
            assert_eq!(roundtrip(Format::Deflate, &zl, chunk), text);
            assert_eq!(roundtrip(Format::Deflate, &raw, chunk), text);
            assert_eq!(roundtrip(Format::Brotli, &br, chunk), text);
            assert_eq!(roundtrip(Format::Bzip2, &bz, chunk), text);
            assert_eq!(roundtrip(Format::Xz, &xz, chunk), text);
            assert_eq!(roundtrip(Format::Zstd, &zst, chunk), text);
        }
    }

    #[test]
    fn concatenated_streams_decode_as_one_and_trailing_bytes_are_handed_on() {
        type Pack = fn(&[u8]) -> Vec<u8>;
        let cases: Vec<(Format, Pack)> = vec![
            (Format::Gzip, testkit::gzip),
            (Format::Bzip2, testkit::bzip2),
            (Format::Xz, testkit::xz),
            (Format::Zstd, testkit::zstd),
            (Format::Lz4, testkit::lz4),
            (Format::Lz4, testkit::lz4_legacy),
            (Format::Lzip, testkit::lzip),
        ];
        for (format, pack) in cases {
            let mut packed = pack(b"first stream, ");
            packed.extend(pack(b"second stream"));
            packed.extend_from_slice(b"and then plain text 123-45-6789");
            for chunk in [1, 3, 4096] {
                let (data, _, trailing, r) = run(format, &packed, chunk);
                assert_eq!(r, Ok(()), "{format:?} chunk {chunk}");
                assert_eq!(data, b"first stream, second stream", "{format:?} chunk {chunk}");
                assert_eq!(trailing, b"and then plain text 123-45-6789", "{format:?} chunk {chunk}");
            }
        }
    }

    #[test]
    fn lz4_skippable_frames_are_meta_and_damage_is_an_error() {
        let mut packed = vec![0x5A, 0x2A, 0x4D, 0x18, 15, 0, 0, 0];
        packed.extend_from_slice(b"ssn 123-45-6789");
        packed.extend(testkit::lz4(b"the frame"));
        for chunk in [1, 5, 4096] {
            let (data, meta, trailing, r) = run(Format::Lz4, &packed, chunk);
            assert_eq!(
                (data.as_slice(), meta.as_slice(), r),
                (&b"the frame"[..], &b"ssn 123-45-6789"[..], Ok(()))
            );
            assert!(trailing.is_empty());
        }
        // A block that refers before the start of its frame, a block size above the frame's
        // maximum, a descriptor with a reserved bit, a frame cut short.
        let good = testkit::lz4(&text());
        // Magic, independent 64 KiB blocks, header check (not verified); a 3-byte block: a
        // match of 8 bytes 16 back, with nothing before it; the end mark.
        let far =
            [&lz4::FRAME_MAGIC[..], &[0x60, 0x40, 0], &[3, 0, 0, 0, 0x04, 0x10, 0x00], &[0; 4]].concat();
        let mut big = testkit::lz4(b"x");
        // After the magic, FLG, BD, the 8-byte content size and the header check.
        big[15..19].copy_from_slice(&0x0010_0000u32.to_le_bytes());
        let mut reserved = good.clone();
        reserved[4] |= 0x02;
        for bad in [&far[..], &big[..], &reserved[..], &good[..good.len() / 2]] {
            assert!(run(Format::Lz4, bad, 4096).3.is_err());
        }
    }

    #[test]
    fn gzip_header_text_and_zstd_skippable_frames_are_meta() {
        let mut e = flate2::GzBuilder::new()
            .filename("4111-1111-1111-1111.txt")
            .comment("ssn 123-45-6789")
            .write(Vec::new(), flate2::Compression::default());
        e.write_all(b"body").unwrap();
        let gz = e.finish().unwrap();
        let (data, meta, _, r) = run(Format::Gzip, &gz, 1);
        r.unwrap();
        assert_eq!(data, b"body");
        assert!(memchr::memmem::find(&meta, b"4111-1111-1111-1111.txt").is_some());
        assert!(memchr::memmem::find(&meta, b"ssn 123-45-6789").is_some());

        let mut z = vec![0x5A, 0x2A, 0x4D, 0x18, 9, 0, 0, 0];
        z.extend_from_slice(b"hidden!!!");
        z.extend(testkit::zstd(b"visible"));
        for chunk in [1, 5, 100] {
            let (data, meta, trailing, r) = run(Format::Zstd, &z, chunk);
            r.unwrap();
            assert_eq!(
                (data.as_slice(), meta.as_slice(), trailing.len()),
                (&b"visible"[..], &b"hidden!!!"[..], 0)
            );
        }
    }

    #[test]
    fn raw_deflate_with_a_zlib_looking_start_is_read_raw() {
        // A non-final stored block whose padding bits make the first two bytes a valid zlib
        // header (0x78 0x9c passes the check; as raw deflate it is a stored block).
        let mut payload = b"card 4111 1111 1111 1111".to_vec();
        payload.resize(0x9c, b' ');
        let payload = payload.as_slice();
        let mut raw = vec![0x78];
        let len = payload.len() as u16;
        raw.extend_from_slice(&len.to_le_bytes());
        raw.extend_from_slice(&(!len).to_le_bytes());
        raw.extend_from_slice(payload);
        raw.extend_from_slice(&[0x03, 0x00]); // final empty fixed block
        assert_eq!(roundtrip(Format::Deflate, &raw, 1), payload);
        assert_eq!(roundtrip(Format::Deflate, &raw, 1000), payload);
    }

    #[test]
    fn a_long_gzip_name_fed_a_byte_at_a_time_is_linear() {
        let name = "n".repeat(100_000);
        let comment = "c".repeat(100_000);
        let mut e = flate2::GzBuilder::new()
            .filename(name.as_str())
            .comment(comment.as_str())
            .write(Vec::new(), flate2::Compression::default());
        e.write_all(b"body").unwrap();
        let gz = e.finish().unwrap();
        // Header searches resume where they stopped: each call looks at its own new byte.
        let mut h = Vec::new();
        let mut resume = Resume::default();
        let mut len = None;
        for &b in &gz {
            h.push(b);
            if let Some(n) = gzip_header_len(&h, &mut resume).unwrap() {
                len = Some(n);
                break;
            }
        }
        assert_eq!(len, Some(10 + name.len() + 1 + comment.len() + 1));
        // Without resuming, each byte would search the whole header again: about 2e10.
        assert!(resume.work < 2 * gz.len(), "{}", resume.work);
        assert_eq!(run(Format::Gzip, &gz, 1).0, b"body");
    }

    #[test]
    fn windows_above_the_bound_are_refused() {
        let xz = testkit::xz(b"small");
        let mut d = Decoder::with_window(Format::Xz, 1024);
        let r = d.push_all(&xz, &mut |_| true);
        assert!(matches!(r, Err(DecodeError::Window(_))), "{r:?}");
        // A zstd frame header declaring a 1 GiB window (exponent 20).
        let z = [0x28, 0xB5, 0x2F, 0xFD, 0x00, 20 << 3, 0x01, 0x00, 0x00];
        let mut d = Decoder::with_window(Format::Zstd, WINDOW);
        let r = d.push_all(&z, &mut |_| true);
        assert!(matches!(r, Err(DecodeError::Window(_))), "{r:?}");
    }

    #[test]
    fn bytes_after_a_brotli_stream_are_corrupt_at_any_split() {
        let mut br = Vec::new();
        {
            let mut w = brotli::CompressorWriter::new(&mut br, 4096, 5, 22);
            w.write_all(b"card 4111 1111 1111 1111").unwrap();
        }
        br.extend_from_slice(b"trailing garbage");
        for split in 0..=br.len() {
            let mut d = Decoder::with_window(Format::Brotli, WINDOW);
            let r1 = d.push_all(&br[..split], &mut |_| true);
            let r2 = d.push_all(&br[split..], &mut |_| true);
            let r3 = d.finish_all(&mut |_| true);
            assert!(r1.is_err() || r2.is_err() || r3.is_err(), "split {split}");
        }
    }

    #[test]
    fn truncated_is_an_error() {
        let text = vec![b'a'; 10_000];
        let cases: Vec<(Format, Vec<u8>)> = vec![
            (Format::Gzip, testkit::gzip(&text)),
            (Format::Bzip2, testkit::bzip2(&text)),
            (Format::Xz, testkit::xz(&text)),
            (Format::Zstd, testkit::zstd(&text)),
        ];
        for (format, packed) in cases {
            let (_, _, _, r) = run(format, &packed[..packed.len() / 2], 1000);
            assert!(r.is_err(), "{format:?}");
        }
    }
}
