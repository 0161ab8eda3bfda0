//! LZ4 as a push decoder: the frame format (the `lz4` tool's, magic `04 22 4D 18`, frames in
//! a row decode as one, as `lz4 -d` does) and the legacy format (`lz4 -l`, what the Linux
//! kernel and initramfs images use, magic `02 21 4C 18`). Headers and blocks are framed
//! here; each whole block goes to `lz4_flex`, whose frame reader is pull-only. A block yields
//! at most 4 MiB (frames) or 8 MiB (legacy), so output stays bounded whatever the input.
//!
//! Skippable frames (`5x 2A 4D 18`) carry user data: it leaves as [`Out::Meta`], scanned as
//! text. Bytes after the last frame that start no frame leave as [`Out::Trailing`].
//! Checksums are not verified: a damaged block fails to decompress or decodes to bytes that
//! are scanned all the same.

use super::{DecodeError, Out, OUT_CHUNK};

pub(super) const FRAME_MAGIC: [u8; 4] = [0x04, 0x22, 0x4D, 0x18];
pub(super) const LEGACY_MAGIC: [u8; 4] = [0x02, 0x21, 0x4C, 0x18];
/// What one legacy block decompresses to, at most.
const LEGACY_BLOCK: usize = 8 << 20;
/// The largest compressed legacy block (LZ4_compressBound of 8 MiB): a size field above it
/// is no block, so the stream ended there.
const LEGACY_BOUND: usize = LEGACY_BLOCK + LEGACY_BLOCK / 255 + 16;
/// How far back a linked block may refer into the frame's earlier output.
const DICT: usize = 64 << 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Waiting for the 4 magic bytes of a frame, a skippable frame or a legacy stream.
    Magic,
    /// A frame descriptor of this many bytes (after the magic).
    Descriptor(usize),
    /// A block's 4-byte size (frame: 0 ends the frame; legacy: above the bound ends the stream).
    BlockSize,
    /// A whole block of `len` bytes, stored as it is when `raw`.
    Block { len: usize, raw: bool },
    /// A block's checksum.
    BlockCheck,
    /// The frame's content checksum, after its end mark.
    ContentCheck,
    /// The 4-byte size of a skippable frame's user data.
    SkippableSize,
    /// This many bytes of a skippable frame's user data left.
    Skippable(usize),
    /// Everything from here on is not LZ4.
    Trailing,
}

/// An LZ4 stream: frames, or one legacy stream, in a row.
pub(super) struct Lz4 {
    step: Step,
    /// Bytes of the header, size field or block being collected (at most one block).
    pending: Vec<u8>,
    legacy: bool,
    block_max: usize,
    linked: bool,
    block_checksum: bool,
    content_checksum: bool,
    /// The frame's last [`DICT`] bytes of output, for linked blocks.
    history: Vec<u8>,
    /// Where a block is decompressed to: `block_max` bytes once the stream's
    /// first compressed block came.
    block: Vec<u8>,
    /// Bytes of output buffer zeroed so far (tests check it stays one buffer per stream).
    zeroed: usize,
    streams_done: u32,
    single: bool,
}

impl Lz4 {
    pub fn new() -> Self {
        Self {
            step: Step::Magic,
            pending: Vec::new(),
            legacy: false,
            block_max: 0,
            linked: false,
            block_checksum: false,
            content_checksum: false,
            history: Vec::new(),
            block: Vec::new(),
            zeroed: 0,
            streams_done: 0,
            single: false,
        }
    }

    /// Stops after the first frame or legacy stream: what follows is trailing data.
    pub fn one_stream(&mut self) {
        self.single = true;
    }

    /// What the decoder holds for the stream under way: a compressed block being collected,
    /// its output, and the history of linked blocks.
    pub fn window(&self) -> u64 {
        (2 * self.block_max + if self.linked { DICT } else { 0 }) as u64
    }

    /// Whether the input may end here: between frames, or between legacy blocks.
    pub fn at_boundary(&self) -> bool {
        match self.step {
            Step::Magic => self.pending.is_empty() && self.streams_done > 0,
            Step::BlockSize => self.legacy && self.pending.is_empty(),
            Step::Trailing => true,
            _ => false,
        }
    }

    /// Bytes held while a magic or legacy size field was incomplete, when the input ends
    /// there after a whole stream: they are trailing data.
    pub fn take_pending_trailing(&mut self) -> Vec<u8> {
        match self.step {
            Step::Magic if self.streams_done > 0 => std::mem::take(&mut self.pending),
            Step::BlockSize if self.legacy => std::mem::take(&mut self.pending),
            _ => Vec::new(),
        }
    }

    /// Takes bytes into `pending` until it holds `want`; true when it does.
    fn collect(&mut self, input: &mut &[u8], want: usize) -> bool {
        let take = want.saturating_sub(self.pending.len()).min(input.len());
        self.pending.extend_from_slice(&input[..take]);
        *input = &input[take..];
        self.pending.len() >= want
    }

    /// The stream ended: another may follow.
    fn stream_done(&mut self) {
        self.streams_done += 1;
        self.history = Vec::new();
        self.block = Vec::new();
        self.step = if self.single { Step::Trailing } else { Step::Magic };
    }

    /// Decodes `input`; false when `emit` said stop.
    pub fn push(
        &mut self,
        mut input: &[u8],
        emit: &mut dyn FnMut(Out<'_>) -> bool,
    ) -> Result<bool, DecodeError> {
        while !input.is_empty() {
            match self.step {
                Step::Trailing => return Ok(emit(Out::Trailing(input))),
                Step::Magic => {
                    if !self.collect(&mut input, 4) {
                        continue;
                    }
                    let magic = std::mem::take(&mut self.pending);
                    if magic == FRAME_MAGIC {
                        self.legacy = false;
                        self.step = Step::Descriptor(3);
                    } else if magic == LEGACY_MAGIC {
                        self.legacy = true;
                        self.linked = false;
                        self.block_max = LEGACY_BLOCK;
                        self.step = Step::BlockSize;
                    } else if magic[0] & 0xF0 == 0x50 && magic[1..] == [0x2A, 0x4D, 0x18] {
                        self.step = Step::SkippableSize;
                    } else if self.streams_done > 0 {
                        self.step = Step::Trailing;
                        if !emit(Out::Trailing(&magic)) {
                            return Ok(false);
                        }
                    } else {
                        return Err(DecodeError::Corrupt("not an lz4 stream".into()));
                    }
                }
                Step::Descriptor(want) => {
                    if !self.collect(&mut input, want) {
                        continue;
                    }
                    let (flg, bd) = (self.pending[0], self.pending[1]);
                    let full = 3 + usize::from(flg & 0x08 != 0) * 8 + usize::from(flg & 0x01 != 0) * 4;
                    if want < full {
                        self.step = Step::Descriptor(full);
                        continue;
                    }
                    if flg >> 6 != 1 || flg & 0x02 != 0 || bd & 0x8F != 0 || !(4..=7).contains(&(bd >> 4)) {
                        return Err(DecodeError::Corrupt("corrupt lz4 frame descriptor".into()));
                    }
                    if flg & 0x01 != 0 {
                        return Err(DecodeError::Unsupported(
                            "an lz4 frame that needs an external dictionary".into(),
                        ));
                    }
                    self.pending.clear();
                    self.block_max = 1 << (8 + 2 * usize::from(bd >> 4));
                    self.linked = flg & 0x20 == 0;
                    self.block_checksum = flg & 0x10 != 0;
                    self.content_checksum = flg & 0x04 != 0;
                    self.step = Step::BlockSize;
                }
                Step::BlockSize => {
                    if !self.collect(&mut input, 4) {
                        continue;
                    }
                    let field = std::mem::take(&mut self.pending);
                    let word = u32::from_le_bytes([field[0], field[1], field[2], field[3]]);
                    if self.legacy {
                        if field == LEGACY_MAGIC {
                            // `cat a.lz4 b.lz4` of two legacy streams.
                            continue;
                        }
                        if word as usize > LEGACY_BOUND {
                            // No block is that large: the stream ended here. The field is
                            // another stream's magic or the start of trailing data.
                            self.stream_done();
                            if self.step == Step::Trailing {
                                if !emit(Out::Trailing(&field)) {
                                    return Ok(false);
                                }
                            } else {
                                self.pending = field;
                            }
                            continue;
                        }
                        self.step = Step::Block { len: word as usize, raw: false };
                    } else if word == 0 {
                        if self.content_checksum {
                            self.step = Step::ContentCheck;
                        } else {
                            self.stream_done();
                        }
                    } else {
                        let (len, raw) = ((word & 0x7FFF_FFFF) as usize, word & 0x8000_0000 != 0);
                        if len > self.block_max {
                            return Err(DecodeError::Corrupt(
                                "lz4 block larger than its frame allows".into(),
                            ));
                        }
                        self.step = Step::Block { len, raw };
                    }
                }
                Step::Block { len, raw } => {
                    if !self.collect(&mut input, len) {
                        continue;
                    }
                    if !self.block_out(raw, emit)? {
                        return Ok(false);
                    }
                    self.pending.clear();
                    self.step =
                        if self.block_checksum && !self.legacy { Step::BlockCheck } else { Step::BlockSize };
                }
                Step::BlockCheck | Step::ContentCheck => {
                    if !self.collect(&mut input, 4) {
                        continue;
                    }
                    self.pending.clear();
                    if self.step == Step::BlockCheck {
                        self.step = Step::BlockSize;
                    } else {
                        self.stream_done();
                    }
                }
                Step::SkippableSize => {
                    if !self.collect(&mut input, 4) {
                        continue;
                    }
                    let f = std::mem::take(&mut self.pending);
                    let n = u32::from_le_bytes([f[0], f[1], f[2], f[3]]) as usize;
                    if n == 0 {
                        self.streams_done += 1;
                        self.step = Step::Magic;
                    } else {
                        self.step = Step::Skippable(n);
                    }
                }
                Step::Skippable(left) => {
                    let k = left.min(input.len());
                    if !emit(Out::Meta(&input[..k])) {
                        return Ok(false);
                    }
                    input = &input[k..];
                    if k == left {
                        self.streams_done += 1;
                        self.step = Step::Magic;
                    } else {
                        self.step = Step::Skippable(left - k);
                    }
                }
            }
        }
        Ok(true)
    }

    /// Decompresses the block in `pending` and hands its output on.
    fn block_out(&mut self, raw: bool, emit: &mut dyn FnMut(Out<'_>) -> bool) -> Result<bool, DecodeError> {
        // The output buffer is sized (and zeroed) once per stream: zeroing a block's
        // maximum for every block would let a stream of tiny blocks cost 4 MiB of writes
        // per few input bytes.
        if !raw && self.block.len() < self.block_max {
            self.zeroed += self.block_max - self.block.len();
            self.block.resize(self.block_max, 0);
        }
        let out: &[u8] = if raw {
            &self.pending
        } else {
            let r = if self.linked {
                lz4_flex::block::decompress_into_with_dict(&self.pending, &mut self.block, &self.history)
            } else {
                lz4_flex::block::decompress_into(&self.pending, &mut self.block)
            };
            let made = r.map_err(|_| DecodeError::Corrupt("corrupt lz4 block".into()))?;
            &self.block[..made]
        };
        if self.linked {
            let keep_old = DICT.saturating_sub(out.len()).min(self.history.len());
            self.history.drain(..self.history.len() - keep_old);
            self.history.extend_from_slice(&out[out.len().saturating_sub(DICT)..]);
        }
        for piece in out.chunks(OUT_CHUNK) {
            if !emit(Out::Data(piece)) {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frame of 4 MiB blocks (independent) that are each one literal byte: the output
    /// buffer is zeroed once, not once per block.
    #[test]
    fn tiny_blocks_cost_their_size() {
        let mut frame = [&FRAME_MAGIC[..], &[0x60, 0x70, 0]].concat();
        for _ in 0..10_000 {
            frame.extend_from_slice(&[2, 0, 0, 0, 0x10, b'a']);
        }
        frame.extend_from_slice(&[0; 4]);
        let (mut z, mut made) = (Lz4::new(), 0);
        let go = z.push(&frame, &mut |o| {
            if let Out::Data(d) = o {
                made += d.len();
            }
            true
        });
        assert_eq!(go, Ok(true));
        assert_eq!(made, 10_000);
        assert!(z.at_boundary());
        assert_eq!(z.zeroed, 4 << 20);
    }
}
