//! Zstandard as a push decoder: frames and blocks are framed here, one block at a time, and
//! each whole block is handed to `ruzstd`. Its own slice API would decode every block of a
//! large input at once (unbounded output); one block yields at most 128 KiB.
//!
//! Skippable frames carry user data that no decoder reads: it leaves as [`Out::Meta`], to be
//! scanned as text. Bytes after the last frame that start no frame leave as
//! [`Out::Trailing`].

use std::io::Read;

use ruzstd::decoding::{BlockDecodingStrategy, FrameDecoder};

use super::{DecodeError, Out, OUT_CHUNK};

/// Largest compressed block (the format's `Block_Maximum_Size`).
const MAX_BLOCK: usize = 128 * 1024;
const MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];

#[derive(Debug, Clone, Copy)]
enum Step {
    /// Waiting for a frame (or skippable frame) header.
    Header,
    /// Inside a frame, waiting for a whole block (and the checksum after the last one).
    Block,
    /// Inside a skippable frame: this many bytes of user data left.
    Skippable(u64),
    /// Everything from here on is not zstd.
    Trailing,
}

/// A zstd stream of one or more frames.
pub(super) struct Zstd {
    step: Step,
    /// Bytes of the header or block being collected (at most one block).
    pending: Vec<u8>,
    frame: Option<Box<FrameDecoder>>,
    checksum: bool,
    frames_done: u32,
    max_window: u64,
    /// The window of the frame under way (0 between frames).
    window: u64,
    /// Whether to stop after the first frame.
    single: bool,
}

impl Zstd {
    pub fn new(max_window: u64) -> Self {
        Self {
            step: Step::Header,
            pending: Vec::new(),
            frame: None,
            checksum: false,
            frames_done: 0,
            max_window,
            window: 0,
            single: false,
        }
    }

    /// The window the frame under way holds (at most its declared size).
    pub fn window(&self) -> u64 {
        if self.frame.is_some() {
            self.window
        } else {
            0
        }
    }

    /// Stops after the first frame: what follows is trailing data.
    pub fn one_frame(&mut self) {
        self.single = true;
    }

    /// Whether the input ended at a frame boundary.
    pub fn at_boundary(&self) -> bool {
        match self.step {
            Step::Header => self.pending.is_empty() && self.frames_done > 0,
            Step::Trailing => true,
            Step::Block | Step::Skippable(_) => false,
        }
    }

    /// Bytes held while a header was incomplete, when the input ends there: if no frame
    /// follows, they are trailing data.
    pub fn take_pending_trailing(&mut self) -> Vec<u8> {
        match self.step {
            Step::Header if self.frames_done > 0 => std::mem::take(&mut self.pending),
            _ => Vec::new(),
        }
    }

    pub fn push(
        &mut self,
        mut input: &[u8],
        out: &mut [u8],
        emit: &mut dyn FnMut(Out<'_>) -> bool,
    ) -> Result<bool, DecodeError> {
        while !input.is_empty() {
            match self.step {
                Step::Trailing => return Ok(emit(Out::Trailing(input))),
                Step::Skippable(left) => {
                    let k = (left.min(input.len() as u64)) as usize;
                    if !emit(Out::Meta(&input[..k])) {
                        return Ok(false);
                    }
                    input = &input[k..];
                    self.step =
                        if left == k as u64 { Step::Header } else { Step::Skippable(left - k as u64) };
                }
                Step::Header if self.single && self.frames_done > 0 => self.step = Step::Trailing,
                Step::Header => {
                    let want = self.header_len().ok().flatten().unwrap_or(5);
                    let take = want.saturating_sub(self.pending.len()).clamp(1, input.len());
                    self.pending.extend_from_slice(&input[..take]);
                    input = &input[take..];
                    match self.header_len() {
                        Err(DecodeError::Corrupt(_)) if self.frames_done > 0 => {
                            // Not a frame: the rest of the object is something else.
                            let held = std::mem::take(&mut self.pending);
                            self.step = Step::Trailing;
                            if !emit(Out::Trailing(&held)) {
                                return Ok(false);
                            }
                        }
                        Err(e) => return Err(e),
                        Ok(Some(n)) if self.pending.len() >= n => self.start_frame(n)?,
                        Ok(_) => {}
                    }
                }
                Step::Block => {
                    let need = self.block_len()?;
                    let take = match need {
                        Some(n) => n.saturating_sub(self.pending.len()),
                        None => 3 - self.pending.len().min(3),
                    }
                    .min(input.len());
                    self.pending.extend_from_slice(&input[..take]);
                    input = &input[take..];
                    if let Some(n) = self.block_len()? {
                        if self.pending.len() >= n && !self.decode_block(out, emit)? {
                            return Ok(false);
                        }
                    }
                }
            }
        }
        Ok(true)
    }

    /// The length of the frame header being collected, once enough of it is there to tell;
    /// an error when it is no zstd frame.
    fn header_len(&self) -> Result<Option<usize>, DecodeError> {
        let p = &self.pending;
        let n = p.len().min(4);
        let skippable = p.len() >= 4 && p[0] & 0xF0 == 0x50 && p[1..4] == [0x2A, 0x4D, 0x18];
        if !skippable && p[..n] != MAGIC[..n] && !(n < 4 && is_skippable_prefix(&p[..n])) {
            return Err(DecodeError::Corrupt("not a zstd frame".into()));
        }
        if skippable {
            return Ok(Some(8));
        }
        let Some(&fhd) = p.get(4) else { return Ok(None) };
        if fhd & 0x08 != 0 {
            return Err(DecodeError::Corrupt("zstd frame header reserved bit".into()));
        }
        let single = fhd & 0x20 != 0;
        let did = [0, 1, 2, 4][usize::from(fhd & 3)];
        let fcs = match fhd >> 6 {
            0 => usize::from(single),
            1 => 2,
            2 => 4,
            _ => 8,
        };
        Ok(Some(5 + usize::from(!single) + did + fcs))
    }

    fn start_frame(&mut self, n: usize) -> Result<(), DecodeError> {
        let head = std::mem::take(&mut self.pending);
        if head[0] & 0xF0 == 0x50 && head[1..4] == [0x2A, 0x4D, 0x18] {
            let size = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
            self.frames_done += 1;
            self.step = if size == 0 { Step::Header } else { Step::Skippable(u64::from(size)) };
            return Ok(());
        }
        let fhd = head[4];
        let single = fhd & 0x20 != 0;
        let did_len = [0, 1, 2, 4][usize::from(fhd & 3)];
        let did_at = 5 + usize::from(!single);
        if head[did_at..did_at + did_len].iter().any(|&b| b != 0) {
            return Err(DecodeError::Unsupported("zstd with a dictionary".into()));
        }
        let window = if single {
            // The window is the content size, which follows the dictionary id.
            let f = &head[did_at + did_len..n];
            let v = f.iter().rev().fold(0u64, |a, &b| a << 8 | u64::from(b));
            if f.len() == 2 {
                v + 256
            } else {
                v
            }
        } else {
            let wd = head[5];
            let base = 1u64 << (10 + u32::from(wd >> 3));
            base + (base / 8) * u64::from(wd & 7)
        };
        if window > self.max_window {
            return Err(DecodeError::Window(window));
        }
        self.checksum = fhd & 0x04 != 0;
        self.window = window;
        let mut fd = Box::new(FrameDecoder::new());
        fd.set_max_window_size(self.max_window);
        fd.init(&head[..n]).map_err(|e| DecodeError::Corrupt(format!("zstd frame: {e}")))?;
        self.frame = Some(fd);
        self.step = Step::Block;
        Ok(())
    }

    /// Length of the block being collected (header, body, and the checksum after the last
    /// block), once its 3-byte header is there.
    fn block_len(&self) -> Result<Option<usize>, DecodeError> {
        let Some(h) = self.pending.get(..3) else { return Ok(None) };
        let bh = u32::from(h[0]) | u32::from(h[1]) << 8 | u32::from(h[2]) << 16;
        let last = bh & 1 != 0;
        let size = (bh >> 3) as usize;
        let body = match (bh >> 1) & 3 {
            0 | 2 => size,
            1 => 1,
            _ => return Err(DecodeError::Corrupt("zstd reserved block type".into())),
        };
        if size > MAX_BLOCK {
            return Err(DecodeError::Corrupt("zstd block too large".into()));
        }
        Ok(Some(3 + body + if last && self.checksum { 4 } else { 0 }))
    }

    fn decode_block(
        &mut self,
        out: &mut [u8],
        emit: &mut dyn FnMut(Out<'_>) -> bool,
    ) -> Result<bool, DecodeError> {
        let corrupt = |e: &dyn std::fmt::Display| DecodeError::Corrupt(format!("zstd: {e}"));
        let Some(fd) = self.frame.as_mut() else {
            return Err(DecodeError::Corrupt("zstd block outside a frame".into()));
        };
        let block = std::mem::take(&mut self.pending);
        let finished =
            fd.decode_blocks(&block[..], BlockDecodingStrategy::UptoBlocks(1)).map_err(|e| corrupt(&e))?;
        // The window fills as blocks decode: what it may hold is reported before its data.
        if !emit(Out::Window(self.window)) {
            return Ok(false);
        }
        loop {
            let room = OUT_CHUNK.min(out.len());
            let n = fd.read(&mut out[..room]).map_err(|e| corrupt(&e))?;
            if n == 0 {
                break;
            }
            if !emit(Out::Data(&out[..n])) {
                return Ok(false);
            }
        }
        if finished {
            if let (Some(want), Some(got)) = (fd.get_checksum_from_data(), fd.get_calculated_checksum()) {
                if want != got {
                    return Err(DecodeError::Corrupt("zstd checksum mismatch".into()));
                }
            }
            self.frame = None;
            self.frames_done += 1;
            self.step = Step::Header;
            if !emit(Out::Window(0)) {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

fn is_skippable_prefix(p: &[u8]) -> bool {
    let want = [0x50u8, 0x2A, 0x4D, 0x18];
    p.iter().zip(want).enumerate().all(|(i, (&b, w))| if i == 0 { b & 0xF0 == w } else { b == w })
}
