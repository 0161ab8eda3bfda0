//! Containers inside another object's bytes: a zip, gzip, bzip2, xz, zstd, 7z or PDF
//! ([`super::embedded_pdf`]) appended to text or binary data, or embedded in the middle of
//! it. Magic bytes at the head of an object choose its parser; magic bytes anywhere else
//! open a probe, while the host's own bytes are still scanned as they are.
//!
//! The search costs little on ordinary text: every binary signature holds, at a fixed
//! offset, a byte that text does not contain (0x03 in `PK\x03\x04`, gzip's method 0x08, xz's
//! and zstd's 0xFD, a 7z's zero version byte, the zero top bits of a bzip2 block's origin
//! pointer), and blocks of text are tested for any such byte at once ([`Anchors`]); a PDF
//! header, all of it text, is found with one `memmem` pass. A probe streams: a decoder
//! (gzip, bzip2, xz, zstd) or a zip local header followed by its member's data, each into a
//! fresh sniffed node, so nothing is buffered except a validated 7z (its start header says
//! how long it is) and a validated PDF (kept to the end of the host).
//!
//! Signatures that open nothing (a stray `PK\x03\x04` in a log, a damaged stream) end their
//! probe silently: those bytes were scanned as the host's text already. A probe that
//! validates and then cannot be read (an encrypted zip member, a window above the limit, an
//! unknown zip method) makes the object could-not-scan, as at the head of an object.
//! At most [`MAX_LIVE_PROBES`] probes decode at once; one more is a limit reached.

use std::io::Cursor;

use super::embedded_pdf::PdfProbe;
pub(crate) use super::signatures::Anchors;
use super::signatures::{sig_len, sig_name, signatures, Sig, ASCII_BELOW, SIG_MAX};
use super::{hold_window, scan_7z, Ctx, Member, Node};
use crate::decode::{DecodeError, Decoder, Format, Out};
use crate::limits::{CouldNotScan, LimitKind};

/// Probes decoding at the same time in one host. Real content has one container after
/// another; more at once than this means signatures crafted to pile up work, and the object
/// is could-not-scan (reported as [`LimitKind::MaxMembers`]).
pub(crate) const MAX_LIVE_PROBES: usize = 8;
/// A 7z start header: signature, version, CRC, then the next header's offset, size, CRC.
const SEVEN_Z_START: usize = 32;
/// A zip local header before its name and extra field.
const ZIP_HEADER: usize = 30;
/// Longest member name taken for a zip member (Linux's `PATH_MAX`; no file system takes
/// longer paths, and a shorter bound keeps decoy headers from waiting long).
const MAX_NAME: usize = 4096;

/// Watches a host's bytes for embedded containers and decodes what it finds.
#[derive(Debug)]
pub(crate) struct Watch {
    m: Member,
    /// Host offset of the next byte.
    seen: u64,
    /// The host's last bytes, for a signature split between writes.
    tail: Vec<u8>,
    live: Vec<Probe>,
    anchors: Anchors,
    /// Host ranges holding stored zip member data, which that member's node scans: the
    /// host leaves them out of its own text ([`Watch::unstored`]), so a value there counts
    /// once, and signatures inside them are that node's to open. Only the data: a
    /// signature in a member's header (its name, its extra field) is the host's, found
    /// whether or not the header was complete when the signature was.
    stored: Vec<(u64, u64)>,
    found: Vec<(usize, Sig)>,
    /// Whether the last write's bytes were all below 0x80 (known only for text anchors,
    /// whose test sees every byte; `false` otherwise).
    ascii: bool,
}

impl Watch {
    pub fn new(m: Member, anchors: Anchors) -> Self {
        Self {
            m,
            anchors,
            seen: 0,
            tail: Vec::new(),
            live: Vec::new(),
            stored: Vec::new(),
            found: Vec::new(),
            ascii: false,
        }
    }

    /// Whether every byte of the last write was below 0x80: learnt in passing by the
    /// search for signatures, so that the normaliser need not look for such bytes again.
    pub fn last_write_ascii(&self) -> bool {
        self.ascii
    }

    pub fn write(&mut self, cx: &mut Ctx<'_>, data: &[u8]) {
        self.ascii = false;
        if data.is_empty() || cx.stopped() {
            return;
        }
        // Probes already running get all of it.
        for p in &mut self.live {
            p.write(cx, data);
            if let Some((start, end)) = p.shadow.take() {
                // An empty member leaves nothing out (and must not cut the text: whether
                // its range is seen before it passes depends on the split).
                if end > start {
                    self.stored.push((start, end));
                }
            }
        }
        // Signatures that started in the last write and end in this one.
        let mut found = std::mem::take(&mut self.found);
        found.clear();
        if !self.tail.is_empty() {
            let joint: Vec<u8> = self.tail.iter().chain(&data[..data.len().min(SIG_MAX)]).copied().collect();
            signatures(&joint, self.anchors, &mut found);
            let t = self.tail.len();
            found.retain(|&(at, sig)| at < t && at + sig_len(sig) > t);
            for &(at, sig) in &found {
                let start = self.seen - (t - at) as u64;
                let head = [&self.tail[at..], data].concat();
                self.open(cx, start, sig, &head);
            }
            found.clear();
        }
        self.ascii = signatures(data, self.anchors, &mut found) < ASCII_BELOW;
        for &(at, sig) in &found {
            self.open(cx, self.seen + at as u64, sig, &data[at..]);
        }
        self.found = found;
        self.seen += data.len() as u64;
        let keep = (SIG_MAX - 1).min(self.tail.len() + data.len());
        let from_data = keep.min(data.len());
        let from_tail = keep - from_data;
        let old = self.tail.len();
        self.tail.drain(..old - from_tail);
        self.tail.extend_from_slice(&data[data.len() - from_data..]);
        self.live.retain(|p| !p.is_done());
    }

    /// What the host scans of its bytes `at..at + len` (the last write): the ranges of
    /// that write that are not stored zip member data, in order, and `None` for a line break
    /// in place of what was left out, so that the bytes around it do not join. `cut` carries
    /// "something was left out since the last byte scanned" from one write to the next:
    /// the break comes before the next byte scanned, wherever the writes were split.
    pub fn unstored(&mut self, at: u64, len: usize, cut: &mut bool) -> Vec<Option<std::ops::Range<usize>>> {
        let end = at + len as u64;
        // A range is kept a signature's length past its end: a signature that starts in
        // it may be found only with the next write.
        self.stored.retain(|&(_, e)| e + SIG_MAX as u64 > at);
        let mut out = Vec::new();
        let mut from = at;
        let push = |out: &mut Vec<_>, r: std::ops::Range<usize>, cut: &mut bool| {
            if *cut {
                out.push(None);
                *cut = false;
            }
            out.push(Some(r));
        };
        for &(s, e) in &self.stored {
            if s >= end {
                break;
            }
            if s > from {
                push(&mut out, (from - at) as usize..(s - at) as usize, cut);
            }
            if e > from {
                *cut = true;
            }
            from = from.max(e);
        }
        if from < end {
            push(&mut out, (from - at) as usize..len, cut);
        }
        out
    }

    /// Whether some of the host's bytes are left out of its text.
    pub fn has_stored(&self) -> bool {
        !self.stored.is_empty()
    }

    pub fn finish(&mut self, cx: &mut Ctx<'_>) {
        for mut p in std::mem::take(&mut self.live) {
            if cx.stopped() {
                return;
            }
            p.finish(cx);
        }
    }

    /// Starts a probe at host offset `start`, feeding it `bytes` (from the signature on).
    fn open(&mut self, cx: &mut Ctx<'_>, start: u64, sig: Sig, bytes: &[u8]) {
        if cx.stopped() || self.stored.iter().any(|&(s, e)| s <= start && start < e) {
            return;
        }
        self.live.retain(|p| !p.is_done());
        // A PDF being kept holds whatever it embeds, and its parser reads it.
        if sig == Sig::Pdf && self.live.iter().any(|p| matches!(p.state, State::Pdf(_))) {
            return;
        }
        if self.live.len() >= MAX_LIVE_PROBES {
            cx.st.budget.limit(LimitKind::MaxMembers, &self.m.path);
            return;
        }
        let m = self.m.child(&format!("({} at {start})", sig_name(sig)));
        if self.m.depth >= cx.st.budget.limits.max_depth {
            cx.st.budget.limit(LimitKind::MaxDepth, &m.path);
            return;
        }
        let state = match sig {
            Sig::Zip => State::ZipHeader(Vec::new()),
            Sig::SevenZ => State::SevenZHeader(Vec::new()),
            Sig::Pdf => State::Pdf(PdfProbe::new()),
            Sig::Stream(f) => {
                if !cx.st.budget.add_member(&m.path) {
                    return;
                }
                let dec = Decoder::with_window(f, cx.st.budget.limits.max_window_bytes).one_stream();
                State::Data(Box::new(DataProbe::new(Some(dec), Node::new(m.clone(), None), None)))
            }
        };
        let mut p = Probe { m, start, state, shadow: None };
        p.write(cx, bytes);
        if let Some((start, end)) = p.shadow.take() {
            if end > start {
                self.stored.push((start, end));
            }
        }
        if !p.is_done() {
            self.live.push(p);
        }
    }
}

/// One embedded container being read.
#[derive(Debug)]
struct Probe {
    m: Member,
    /// Host offset of its first byte.
    start: u64,
    state: State,
    /// For a stored zip member: the host offsets of its data, once known.
    shadow: Option<(u64, u64)>,
}

#[derive(Debug)]
enum State {
    /// A zip local header, until its name and extra field are complete.
    ZipHeader(Vec<u8>),
    /// A 7z start header, until its 32 bytes are there.
    SevenZHeader(Vec<u8>),
    /// A validated 7z, until all of it is there.
    SevenZ {
        buf: Vec<u8>,
        len: usize,
    },
    /// Compressed or stored data going into a node.
    Data(Box<DataProbe>),
    /// A PDF, kept until the host ends.
    Pdf(PdfProbe),
    Done,
}

impl Probe {
    fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    fn write(&mut self, cx: &mut Ctx<'_>, mut data: &[u8]) {
        while !data.is_empty() && !cx.stopped() {
            match &mut self.state {
                State::Done => return,
                State::ZipHeader(h) => {
                    let want = if h.len() < ZIP_HEADER { ZIP_HEADER } else { want_of(h) };
                    let take = (want - h.len()).min(data.len());
                    h.extend_from_slice(&data[..take]);
                    data = &data[take..];
                    if h.len() >= ZIP_HEADER && !plausible_zip_header(h) {
                        self.state = State::Done;
                    } else if h.len() >= ZIP_HEADER && h.len() == want_of(h) {
                        let h = std::mem::take(h);
                        self.state = self.zip_member(cx, &h);
                    }
                }
                State::SevenZHeader(h) => {
                    let take = (SEVEN_Z_START - h.len()).min(data.len());
                    h.extend_from_slice(&data[..take]);
                    data = &data[take..];
                    if h.len() == SEVEN_Z_START {
                        let h = std::mem::take(h);
                        self.state = self.seven_z(cx, h);
                    }
                }
                State::SevenZ { buf, len } => {
                    let take = (*len - buf.len()).min(data.len());
                    buf.extend_from_slice(&data[..take]);
                    data = &data[take..];
                    if buf.len() == *len {
                        let buf = std::mem::take(buf);
                        self.state = State::Done;
                        scan_7z(cx, Cursor::new(buf.as_slice()), &self.m);
                    }
                }
                State::Data(d) => {
                    if !d.write(cx, &self.m, data) {
                        d.finish(cx, &self.m);
                        self.state = State::Done;
                    }
                    return;
                }
                State::Pdf(p) => {
                    if !p.write(cx, &self.m, data) {
                        self.state = State::Done;
                    }
                    return;
                }
            }
        }
    }

    fn finish(&mut self, cx: &mut Ctx<'_>) {
        match &mut self.state {
            State::Data(d) => d.finish(cx, &self.m),
            State::Pdf(p) => p.finish(cx, &self.m),
            _ => {}
        }
        // A header or a 7z cut short: its bytes were scanned as the host's.
        self.state = State::Done;
    }

    /// What follows a complete, plausible local header.
    fn zip_member(&mut self, cx: &mut Ctx<'_>, h: &[u8]) -> State {
        let (flags, method) = (le16(h, 6), le16(h, 8));
        let size = u64::from(le32(h, 18));
        let known = size != u64::from(u32::MAX) && !(flags & 0x08 != 0 && size == 0);
        if !cx.st.budget.add_member(&self.m.path) {
            return State::Done;
        }
        if flags & 0x01 != 0 || method == 99 {
            cx.encrypted(&self.m.path);
            return State::Done;
        }
        let format = match method {
            0 => None,
            8 => Some(Format::Deflate),
            12 => Some(Format::Bzip2),
            93 => Some(Format::Zstd),
            95 => Some(Format::Xz),
            _ => {
                cx.st.budget.stop(CouldNotScan::Unsupported {
                    member: self.m.path.clone(),
                    format: format!("zip method {method}"),
                });
                return State::Done;
            }
        };
        let node = Node::new(self.m.clone(), None);
        match format {
            // Stored data of unknown length: its bytes are the host's, scanned as such.
            None if !known => State::Done,
            None => {
                let from = self.start + h.len() as u64;
                self.shadow = Some((from, from + size));
                State::Data(Box::new(DataProbe::new(None, node, Some(size))))
            }
            Some(f) => {
                let dec = Decoder::with_window(f, cx.st.budget.limits.max_window_bytes).one_stream();
                State::Data(Box::new(DataProbe::new(Some(dec), node, known.then_some(size))))
            }
        }
    }

    /// A 7z whose start header's CRC holds: buffered whole (its length is known), then read.
    fn seven_z(&mut self, cx: &mut Ctx<'_>, h: Vec<u8>) -> State {
        let mut crc = flate2::Crc::new();
        crc.update(&h[12..32]);
        if crc.sum() != le32(&h, 8) {
            return State::Done;
        }
        let (off, size) = (le64(&h, 12), le64(&h, 20));
        let len = off.saturating_add(size).saturating_add(SEVEN_Z_START as u64);
        let b = &mut cx.st.budget;
        if len > b.limits.max_buffered_bytes {
            b.limit(LimitKind::MaxBufferedBytes, &self.m.path);
            return State::Done;
        }
        if !b.add_member(&self.m.path) || !b.charge_memory(len, &self.m.path) {
            return State::Done;
        }
        let mut buf = Vec::with_capacity(len as usize);
        buf.extend_from_slice(&h);
        State::SevenZ { buf, len: len as usize }
    }
}

fn want_of(h: &[u8]) -> usize {
    ZIP_HEADER + usize::from(le16(h, 26)) + usize::from(le16(h, 28))
}

/// A local header as zip writers make them: a small "version needed" (its high byte zero),
/// none of the flag bits APPNOTE leaves unused or reserved (7-10, 12, 14, 15), a DOS time
/// and date that can be (or zero), and a name no longer than a path can be ([`MAX_NAME`]).
/// Text after a stray `PK\x03\x04` fails this, and so does text that only starts well.
fn plausible_zip_header(h: &[u8]) -> bool {
    let (time, date) = (le16(h, 10), le16(h, 12));
    let time_ok = time >> 11 <= 23 && (time >> 5) & 0x3F <= 59 && time & 0x1F <= 29;
    let date_ok = date == 0 || ((date >> 5) & 0x0F).wrapping_sub(1) < 12 && date & 0x1F != 0;
    le16(h, 4) <= 63 && le16(h, 6) & 0xD780 == 0 && time_ok && date_ok && usize::from(le16(h, 26)) <= MAX_NAME
}

/// A stream inside the host, decoded (or stored) into a node.
#[derive(Debug)]
struct DataProbe {
    dec: Option<Decoder>,
    child: Node,
    /// Bytes of the host it takes, when known.
    left: Option<u64>,
    consumed: u64,
    produced: u64,
    /// The decoder's window, held against the budget (given back in `finish`).
    window_held: u64,
}

impl DataProbe {
    fn new(dec: Option<Decoder>, child: Node, left: Option<u64>) -> Self {
        Self { dec, child, left, consumed: 0, produced: 0, window_held: 0 }
    }

    /// False once the stream ended (or failed).
    fn write(&mut self, cx: &mut Ctx<'_>, m: &Member, data: &[u8]) -> bool {
        let data = match self.left {
            Some(left) => &data[..data.len().min(usize::try_from(left).unwrap_or(usize::MAX))],
            None => data,
        };
        if let Some(left) = &mut self.left {
            *left -= data.len() as u64;
        }
        self.consumed += data.len() as u64;
        let more = self.left != Some(0);
        let Some(dec) = &mut self.dec else {
            self.child.write(cx, data);
            return more;
        };
        let (child, consumed, produced) = (&mut self.child, self.consumed, &mut self.produced);
        let window_held = &mut self.window_held;
        let mut ended = false;
        let r = dec.push_all(data, &mut |out| match out {
            // Charged as soon as the decoder holds it, as for a whole object's decoder.
            Out::Window(now) => hold_window(cx, m, window_held, now),
            Out::Data(b) => {
                *produced += b.len() as u64;
                let budget = &mut cx.st.budget;
                if !budget.add_decompressed(b.len() as u64, &m.path)
                    || !budget.check_ratio(*produced, consumed, &m.path)
                {
                    return false;
                }
                child.write(cx, b);
                !cx.stopped()
            }
            // Names and comments in its header are the host's bytes, scanned as such.
            Out::Meta(_) => true,
            Out::Trailing(_) => {
                ended = true;
                false
            }
        });
        match r {
            Ok(()) => more && !ended,
            Err(e) => {
                refuse(cx, m, e, dec.format());
                false
            }
        }
    }

    fn finish(&mut self, cx: &mut Ctx<'_>, m: &Member) {
        if !cx.stopped() {
            if let Some(dec) = &mut self.dec {
                let (child, window_held) = (&mut self.child, &mut self.window_held);
                let r = dec.finish_all(&mut |out| {
                    match out {
                        Out::Window(now) => return hold_window(cx, m, window_held, now),
                        Out::Data(b) => child.write(cx, b),
                        _ => {}
                    }
                    !cx.stopped()
                });
                if let Err(e) = r {
                    refuse(cx, m, e, dec.format());
                }
            }
        }
        self.dec = None;
        cx.st.budget.release(std::mem::take(&mut self.window_held));
        if !cx.stopped() {
            self.child.finish(cx);
        }
    }
}

/// A damaged embedded stream ends quietly (its bytes were the host's text), unless its
/// header carries a check that a decoy does not pass: an xz stream header's CRC32 of its
/// flags (checked before a probe opens), a bzip2 block's 48-bit magic after the stream's. Such a stream is real, and what
/// its damaged part held is unknown (and what the decoder gave before the damage depends on
/// how the bytes arrived), so the object is could-not-scan, as at its head. One that cannot
/// be read for other reasons makes the object could-not-scan too.
fn refuse(cx: &mut Ctx<'_>, m: &Member, e: DecodeError, format: Format) {
    match e {
        DecodeError::Corrupt(why) if matches!(format, Format::Xz | Format::Bzip2) => cx.corrupt(&m.path, why),
        DecodeError::Corrupt(_) => {}
        DecodeError::Window(_) => cx.st.budget.limit(LimitKind::MaxWindowBytes, &m.path),
        DecodeError::Unsupported(format) => {
            cx.st.budget.stop(CouldNotScan::Unsupported { member: m.path.clone(), format })
        }
    }
}

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn le64(b: &[u8], at: usize) -> u64 {
    u64::from(le32(b, at)) | u64::from(le32(b, at + 4)) << 32
}
