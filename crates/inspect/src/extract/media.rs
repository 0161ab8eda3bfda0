//! Images and media as structures: a push walker per format tells which bytes are bulk
//! data (pixels, samples), which are structure and metadata, and where the object ends.
//!
//! Bulk data is scanned as raw bytes unless the policy exempts the type, and the exemption
//! holds only while the structure validates. Metadata (PNG text chunks, JPEG comments and
//! APPn segments, GIF extensions, RIFF and MP4 metadata) is always scanned, compressed PNG
//! text inflated first. What follows the end (PNG `IEND`, JPEG `EOI`, the GIF trailer, the
//! declared RIFF size) goes to a fresh sniffed node, so a zip appended to a JPEG is opened.
//! From the first byte that does not fit the structure on, everything is scanned as raw
//! bytes. Formats without a walker (TIFF, Ogg, FLAC, MP3, Matroska) are never exempt.

use super::{Ctx, Member, Node, TextNode};
use crate::decode::{Decoder, Format, Out};
use crate::identify::{Charset, Markup};
use crate::limits::LimitKind;

/// Largest header a walker asks to see at once (a GIF image descriptor with its colour
/// table is the largest).
const MAX_NEED: usize = 1024;

/// What a run of bytes is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Piece {
    /// Structure and metadata: always scanned.
    Meta,
    /// Pixels or samples: scanned unless exempt.
    Bulk,
    /// Metadata to collect and inflate too (PNG `zTXt`, `iTXt`).
    Packed,
    /// Metadata cut into sub-blocks (GIF comments and application data): scanned as it
    /// is, and also joined without the length bytes between sub-blocks, as readers join
    /// them.
    Joined,
    /// The end of a run of joined sub-blocks.
    JoinedEnd,
}

/// A walker's answer for the bytes at the current position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// The next `n` bytes (perhaps more than were shown) are this piece.
    Take(u64, Piece),
    /// Show me at least `n` bytes.
    Need(usize),
    /// The object ended here.
    End,
    /// These bytes do not fit the structure.
    Invalid,
}

/// Format state machines. `step` looks at the bytes from the current position (at least as
/// many as it last asked for).
#[derive(Debug)]
enum Walker {
    Png(Png),
    Jpeg(Jpeg),
    Gif(Gif),
    Riff(Option<u64>),
    Bmff,
}

#[derive(Debug, Clone, Copy)]
enum Png {
    Signature,
    Chunk { first: bool },
    Data { len: u64, piece: Piece, end: bool },
    Crc { end: bool },
    Ended,
}

#[derive(Debug, Clone, Copy)]
enum Jpeg {
    Soi,
    Marker,
    Segment { left: u64, scan: bool },
    Entropy,
    Ended,
}

#[derive(Debug, Clone, Copy)]
enum Gif {
    Header,
    Block,
    SubBlocks {
        bulk: bool,
    },
    /// The data of one sub-block of `n` bytes, after its length byte.
    SubData {
        bulk: bool,
        n: u8,
    },
    Ended,
}

impl Walker {
    /// The walker for an image or media object's first bytes, if there is one.
    fn for_head(head: &[u8]) -> Option<Walker> {
        if head.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Walker::Png(Png::Signature))
        } else if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Walker::Jpeg(Jpeg::Soi))
        } else if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
            Some(Walker::Gif(Gif::Header))
        } else if head.starts_with(b"RIFF")
            && [&b"WEBP"[..], b"WAVE", b"AVI "].iter().any(|f| head.get(8..12) == Some(*f))
        {
            Some(Walker::Riff(None))
        } else if head.get(4..8) == Some(b"ftyp") {
            Some(Walker::Bmff)
        } else {
            None
        }
    }

    fn step(&mut self, d: &[u8]) -> Step {
        match self {
            Walker::Png(at) => png(at, d),
            Walker::Jpeg(at) => jpeg(at, d),
            Walker::Gif(at) => gif(at, d),
            Walker::Riff(left) => riff(left, d),
            Walker::Bmff => bmff(d),
        }
    }
}

fn be32(d: &[u8]) -> u64 {
    u64::from(u32::from_be_bytes([d[0], d[1], d[2], d[3]]))
}

fn le32(d: &[u8]) -> u64 {
    u64::from(u32::from_le_bytes([d[0], d[1], d[2], d[3]]))
}

fn png(at: &mut Png, d: &[u8]) -> Step {
    match *at {
        Png::Signature => {
            *at = Png::Chunk { first: true };
            Step::Take(8, Piece::Meta)
        }
        Png::Chunk { first } => {
            if d.len() < 8 {
                return Step::Need(8);
            }
            let len = be32(d);
            let kind = &d[4..8];
            if len > 0x7FFF_FFFF || !kind.iter().all(u8::is_ascii_alphabetic) || (first && kind != b"IHDR") {
                return Step::Invalid;
            }
            let piece = match kind {
                b"IDAT" | b"fdAT" => Piece::Bulk,
                b"zTXt" | b"iTXt" => Piece::Packed,
                _ => Piece::Meta,
            };
            *at = Png::Data { len, piece, end: kind == b"IEND" };
            Step::Take(8, Piece::Meta)
        }
        Png::Data { len, piece, end } => {
            *at = Png::Crc { end };
            Step::Take(len, piece)
        }
        Png::Crc { end } => {
            *at = if end { Png::Ended } else { Png::Chunk { first: false } };
            Step::Take(4, Piece::Meta)
        }
        Png::Ended => Step::End,
    }
}

fn jpeg(at: &mut Jpeg, d: &[u8]) -> Step {
    match *at {
        Jpeg::Soi => {
            *at = Jpeg::Marker;
            Step::Take(2, Piece::Meta)
        }
        Jpeg::Marker => {
            if d.len() < 2 {
                return Step::Need(2);
            }
            if d[0] != 0xFF {
                return Step::Invalid;
            }
            match d[1] {
                // A fill byte.
                0xFF => Step::Take(1, Piece::Meta),
                0xD9 => {
                    *at = Jpeg::Ended;
                    Step::Take(2, Piece::Meta)
                }
                // Markers without a length.
                0x01 | 0xD0..=0xD7 => Step::Take(2, Piece::Meta),
                0x00 | 0xD8 => Step::Invalid,
                m => {
                    if d.len() < 4 {
                        return Step::Need(4);
                    }
                    let len = u64::from(u16::from_be_bytes([d[2], d[3]]));
                    if len < 2 {
                        return Step::Invalid;
                    }
                    *at = Jpeg::Segment { left: len - 2, scan: m == 0xDA };
                    Step::Take(4, Piece::Meta)
                }
            }
        }
        Jpeg::Segment { left, scan } => {
            *at = if scan { Jpeg::Entropy } else { Jpeg::Marker };
            Step::Take(left, Piece::Meta)
        }
        Jpeg::Entropy => {
            // Entropy-coded data runs to a marker: 0xFF followed by neither 0x00 (a stuffed
            // byte) nor a restart marker.
            let mut i = 0;
            while let Some(p) = memchr::memchr(0xFF, &d[i..]) {
                let ff = i + p;
                let Some(&next) = d.get(ff + 1) else {
                    return if ff == 0 { Step::Need(2) } else { Step::Take(ff as u64, Piece::Bulk) };
                };
                if next == 0x00 || (0xD0..=0xD7).contains(&next) {
                    i = ff + 2;
                    continue;
                }
                *at = Jpeg::Marker;
                return Step::Take(ff as u64, Piece::Bulk);
            }
            Step::Take(d.len() as u64, Piece::Bulk)
        }
        Jpeg::Ended => Step::End,
    }
}

fn gif(at: &mut Gif, d: &[u8]) -> Step {
    match *at {
        Gif::Header => {
            if d.len() < 13 {
                return Step::Need(13);
            }
            let table = if d[10] & 0x80 != 0 { 3u64 << ((d[10] & 7) + 1) } else { 0 };
            *at = Gif::Block;
            Step::Take(13 + table, Piece::Meta)
        }
        Gif::Block => match d.first() {
            None => Step::Need(1),
            Some(0x3B) => {
                *at = Gif::Ended;
                Step::Take(1, Piece::Meta)
            }
            Some(0x21) => {
                if d.len() < 2 {
                    return Step::Need(2);
                }
                *at = Gif::SubBlocks { bulk: false };
                Step::Take(2, Piece::Meta)
            }
            Some(0x2C) => {
                if d.len() < 10 {
                    return Step::Need(10);
                }
                // Separator, position and size, flags, a local colour table, then the LZW
                // minimum code size.
                let table = if d[9] & 0x80 != 0 { 3usize << ((d[9] & 7) + 1) } else { 0 };
                *at = Gif::SubBlocks { bulk: true };
                Step::Take(10 + table as u64 + 1, Piece::Meta)
            }
            Some(_) => Step::Invalid,
        },
        Gif::SubBlocks { bulk } => match d.first() {
            None => Step::Need(1),
            Some(0) => {
                *at = Gif::Block;
                Step::Take(1, if bulk { Piece::Meta } else { Piece::JoinedEnd })
            }
            // A sub-block: its length byte, then its data.
            Some(&n) if bulk => Step::Take(1 + u64::from(n), Piece::Bulk),
            Some(&n) => {
                *at = Gif::SubData { bulk, n };
                Step::Take(1, Piece::Meta)
            }
        },
        Gif::SubData { bulk, n } => {
            *at = Gif::SubBlocks { bulk };
            Step::Take(u64::from(n), Piece::Joined)
        }
        Gif::Ended => Step::End,
    }
}

/// The text node of an image's metadata read apart from its raw bytes.
fn image_text(m: &Member) -> TextNode {
    TextNode::new(m.child("(image text)"), Charset::Bytes, Markup::Plain)
}

/// RIFF (WAV, AVI, WebP): `left` is what remains of the declared size once known.
fn riff(left: &mut Option<u64>, d: &[u8]) -> Step {
    let Some(rest) = *left else {
        if d.len() < 12 {
            return Step::Need(12);
        }
        // The declared size counts from after the size field: the form type, then chunks.
        *left = Some(le32(&d[4..8]).saturating_sub(4));
        return Step::Take(12, Piece::Meta);
    };
    if rest == 0 {
        return Step::End;
    }
    let want = if rest >= 12 { 12 } else { 8 };
    if d.len() < want {
        return Step::Need(want);
    }
    let id = &d[..4];
    let size = le32(&d[4..8]);
    // A missing pad byte after the last chunk is common.
    let total = 8 + size + (size & 1);
    if !id.iter().all(|b| b.is_ascii_alphanumeric() || *b == b' ') || 8 + size > rest {
        return Step::Invalid;
    }
    let total = total.min(rest);
    let bulk = matches!(id, b"data" | b"VP8 " | b"VP8L" | b"ALPH" | b"ANMF")
        || (id == b"LIST" && d.get(8..12) == Some(b"movi"));
    *left = Some(rest - total);
    Step::Take(total, if bulk { Piece::Bulk } else { Piece::Meta })
}

/// ISO base media (MP4, MOV, HEIF): top-level boxes; `mdat` is the bulk.
fn bmff(d: &[u8]) -> Step {
    let want = if d.len() >= 4 && be32(d) == 1 { 16 } else { 8 };
    if d.len() < want {
        return Step::Need(want);
    }
    let kind = &d[4..8];
    if !kind.iter().all(|b| b.is_ascii_alphanumeric() || *b == b' ' || *b == 0xA9) {
        return Step::Invalid;
    }
    let size = match be32(d) {
        1 => u64::from_be_bytes([d[8], d[9], d[10], d[11], d[12], d[13], d[14], d[15]]),
        // The box runs to the end of the object.
        0 => u64::MAX,
        s => s,
    };
    if size < want as u64 {
        return Step::Invalid;
    }
    Step::Take(size, if kind == b"mdat" { Piece::Bulk } else { Piece::Meta })
}

/// What the node does with bytes now.
#[derive(Debug)]
enum Mode {
    Walking,
    /// The structure broke: raw bytes from here on.
    Raw,
    /// The object ended: what follows is another object.
    After(Box<Node>),
}

/// An image or media object, walked.
#[derive(Debug)]
pub(crate) struct MediaNode {
    m: Member,
    walker: Walker,
    exempt: bool,
    mode: Mode,
    /// The current run: bytes left and what they are.
    run: Option<(u64, Piece)>,
    /// Bytes collected for the walker to look at.
    pending: Vec<u8>,
    need: usize,
    /// Raw scan: structure and metadata always, bulk data unless exempt, everything after a
    /// break in the structure.
    raw: TextNode,
    /// Whether bulk data was skipped since the last raw write (the next write is not
    /// contiguous with the last).
    skipped: bool,
    /// The PNG text chunk being collected, and the text inflated from such chunks.
    packed: Vec<u8>,
    text: Option<Box<TextNode>>,
}

impl MediaNode {
    /// A node for an image or media object whose first bytes are `head`; `None` when the
    /// format has no walker (it is then scanned as raw bytes and never exempt).
    pub fn new(m: Member, head: &[u8], exempt: bool) -> Option<Self> {
        let walker = Walker::for_head(head)?;
        let raw = TextNode::new(m.clone(), Charset::Bytes, Markup::Plain);
        Some(Self {
            m,
            walker,
            exempt,
            mode: Mode::Walking,
            run: None,
            pending: Vec::new(),
            need: 1,
            raw,
            skipped: false,
            packed: Vec::new(),
            text: None,
        })
    }

    pub fn write(&mut self, cx: &mut Ctx<'_>, mut d: &[u8]) {
        loop {
            if cx.stopped() {
                return;
            }
            if let Some((left, piece)) = self.run {
                let from_pending = !self.pending.is_empty();
                let avail = if from_pending { self.pending.len() } else { d.len() };
                if avail == 0 {
                    return;
                }
                let n = left.min(avail as u64) as usize;
                if from_pending {
                    let bytes: Vec<u8> = self.pending.drain(..n).collect();
                    self.emit(cx, piece, &bytes);
                } else {
                    self.emit(cx, piece, &d[..n]);
                    d = &d[n..];
                }
                self.run = (left > n as u64).then_some((left - n as u64, piece));
                if self.run.is_none() && piece == Piece::Packed {
                    self.unpack(cx);
                }
                continue;
            }
            match &mut self.mode {
                Mode::Walking => {}
                Mode::Raw => {
                    let held = std::mem::take(&mut self.pending);
                    self.raw_write(cx, &held);
                    self.raw_write(cx, d);
                    return;
                }
                Mode::After(next) => {
                    let held = std::mem::take(&mut self.pending);
                    next.write(cx, &held);
                    next.write(cx, d);
                    return;
                }
            }
            if self.pending.len() < self.need && (!self.pending.is_empty() || d.len() < self.need) {
                let k = (self.need - self.pending.len()).min(d.len());
                self.pending.extend_from_slice(&d[..k]);
                d = &d[k..];
            }
            let view: &[u8] = if self.pending.is_empty() { d } else { &self.pending };
            if view.len() < self.need || view.is_empty() {
                return;
            }
            match self.walker.step(view) {
                Step::Take(n, piece) => {
                    self.need = 1;
                    self.run = (n > 0).then_some((n, piece));
                }
                Step::Need(n) if n > view.len() && n <= MAX_NEED => self.need = n,
                Step::Need(_) | Step::Invalid => self.mode = Mode::Raw,
                Step::End => {
                    let a = self.m.child("(trailing)");
                    if !cx.st.budget.add_member(&a.path) {
                        return;
                    }
                    self.mode = Mode::After(Box::new(Node::new(a, None)));
                }
            }
        }
    }

    fn emit(&mut self, cx: &mut Ctx<'_>, piece: Piece, bytes: &[u8]) {
        match piece {
            Piece::Bulk if self.exempt => self.skipped = true,
            Piece::Packed => {
                if self.packed.len() + bytes.len() > cx.st.budget.limits.max_buffered_bytes as usize {
                    cx.st.budget.limit(LimitKind::MaxBufferedBytes, &self.m.path);
                    return;
                }
                self.packed.extend_from_slice(bytes);
                self.raw_write(cx, bytes);
            }
            Piece::Meta | Piece::Bulk => self.raw_write(cx, bytes),
            Piece::Joined | Piece::JoinedEnd => {
                self.raw_write(cx, bytes);
                let text = self.joined_text();
                if piece == Piece::Joined {
                    text.write(cx, bytes);
                } else {
                    text.write(cx, b"\n");
                }
            }
        }
    }

    /// The text stream of metadata read apart from the raw bytes (inflated PNG text, joined
    /// GIF sub-blocks).
    fn joined_text(&mut self) -> &mut TextNode {
        let m = &self.m;
        self.text.get_or_insert_with(|| Box::new(image_text(m)))
    }

    fn raw_write(&mut self, cx: &mut Ctx<'_>, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if std::mem::take(&mut self.skipped) {
            self.raw.write(cx, b"\n");
        }
        self.raw.write(cx, bytes);
    }

    /// Inflates a PNG `zTXt` or compressed `iTXt` chunk into the text stream.
    fn unpack(&mut self, cx: &mut Ctx<'_>) {
        let chunk = std::mem::take(&mut self.packed);
        let Some(key_end) = memchr::memchr(0, &chunk) else { return };
        let rest = &chunk[key_end + 1..];
        // zTXt: method, data. iTXt: flag, method, language\0, translated keyword\0, text.
        let compressed = if rest.len() >= 2 && rest[0] == 1 && rest[1] == 0 {
            let after = &rest[2..];
            memchr::memchr(0, after)
                .and_then(|l| memchr::memchr(0, &after[l + 1..]).map(|t| &after[l + 1 + t + 1..]))
        } else if rest.first() == Some(&0) {
            Some(&rest[1..])
        } else {
            None
        };
        let Some(data) = compressed else { return };
        let m = &self.m;
        let text = self.text.get_or_insert_with(|| Box::new(image_text(m)));
        let mut dec = Decoder::with_window(Format::Deflate, cx.st.budget.limits.max_window_bytes);
        let mut produced = 0u64;
        let path = &self.m.path;
        let _ = dec.push_all(data, &mut |o| {
            if let Out::Data(b) = o {
                produced += b.len() as u64;
                let budget = &mut cx.st.budget;
                if !budget.add_decompressed(b.len() as u64, path)
                    || !budget.check_ratio(produced, data.len() as u64, path)
                {
                    return false;
                }
                text.write(cx, b);
            }
            !cx.stopped()
        });
        text.write(cx, b"\n");
    }

    pub fn finish(&mut self, cx: &mut Ctx<'_>) {
        if cx.stopped() {
            return;
        }
        // A structure cut short: what was held back is raw bytes.
        let held = std::mem::take(&mut self.pending);
        match &mut self.mode {
            Mode::After(next) => {
                next.write(cx, &held);
                next.finish(cx);
            }
            _ => self.raw_write(cx, &held),
        }
        self.raw.finish(cx);
        if let Some(t) = &mut self.text {
            t.finish(cx);
        }
    }
}
