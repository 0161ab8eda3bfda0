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
use super::{hold_window, scan_7z, Ctx, Member, Node};
use crate::decode::{DecodeError, Decoder, Format, Out};
use crate::limits::{CouldNotScan, LimitKind};

/// Probes decoding at the same time in one host. Real content has one container after
/// another; more at once than this means signatures crafted to pile up work, and the object
/// is could-not-scan (reported as [`LimitKind::MaxMembers`]).
pub(crate) const MAX_LIVE_PROBES: usize = 8;
/// Longest signature checked in the host's own bytes (bzip2's magic, block magic, CRC and
/// first byte after it).
const SIG_MAX: usize = 15;
/// A 7z start header: signature, version, CRC, then the next header's offset, size, CRC.
const SEVEN_Z_START: usize = 32;
/// A zip local header before its name and extra field.
const ZIP_HEADER: usize = 30;
/// Longest member name taken for a zip member (Linux's `PATH_MAX`; no file system takes
/// longer paths, and a shorter bound keeps decoy headers from waiting long).
const MAX_NAME: usize = 4096;

/// What a signature in the host announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sig {
    Zip,
    SevenZ,
    Stream(Format),
    /// `%PDF-` and a version, past the first KiB ([`embedded_pdf`]).
    Pdf,
}

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

fn sig_name(sig: Sig) -> &'static str {
    match sig {
        Sig::Zip => "zip member",
        Sig::SevenZ => "7z",
        Sig::Pdf => "pdf",
        Sig::Stream(Format::Bzip2) => "bzip2",
        Sig::Stream(Format::Xz) => "xz",
        Sig::Stream(Format::Zstd) => "zstd",
        Sig::Stream(_) => "gzip",
    }
}

/// A signature: bytes at fixed offsets from its start, `len` bytes in all, and the offset of
/// the byte text searches find it by ([`Anchors::Text`]).
struct SigDef {
    sig: Sig,
    fixed: &'static [(usize, u8)],
    len: usize,
    text_anchor: usize,
}

/// Every signature, with the bytes that must be there. A zip local header's version needed
/// has a zero high byte (`plausible_zip_header`); a 7z's major version is 0; a bzip2
/// stream's fifteenth byte is at most 7 (a zero "randomised" bit, then the top bits of a
/// block's origin pointer, which is below 900,000 < 2^20).
const SIGS: [SigDef; 6] = [
    SigDef { sig: Sig::Zip, fixed: &[(0, b'P'), (1, b'K'), (2, 3), (3, 4), (5, 0)], len: 6, text_anchor: 2 },
    SigDef {
        sig: Sig::Stream(Format::Gzip),
        fixed: &[(0, 0x1F), (1, 0x8B), (2, 0x08)],
        len: 4,
        text_anchor: 2,
    },
    SigDef {
        sig: Sig::Stream(Format::Xz),
        fixed: &[(0, 0xFD), (1, b'7'), (2, b'z'), (3, b'X'), (4, b'Z'), (5, 0)],
        // The stream header: magic, flags, and the CRC32 of the flags (checked).
        len: 12,
        text_anchor: 0,
    },
    SigDef {
        sig: Sig::Stream(Format::Zstd),
        fixed: &[(0, 0x28), (1, 0xB5), (2, 0x2F), (3, 0xFD)],
        len: 4,
        text_anchor: 3,
    },
    SigDef {
        sig: Sig::SevenZ,
        fixed: &[(0, b'7'), (1, b'z'), (2, 0xBC), (3, 0xAF), (4, 0x27), (5, 0x1C), (6, 0)],
        len: 7,
        text_anchor: 6,
    },
    SigDef {
        sig: Sig::Stream(Format::Bzip2),
        fixed: &[
            (0, b'B'),
            (1, b'Z'),
            (2, b'h'),
            (4, b'1'),
            (5, b'A'),
            (6, b'Y'),
            (7, b'&'),
            (8, b'S'),
            (9, b'Y'),
        ],
        len: SIG_MAX,
        text_anchor: 14,
    },
];

/// How a host is searched for signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Anchors {
    /// ASCII-compatible text: every signature holds a byte of at most 8 or at least 0xFD at
    /// [`SigDef::text_anchor`], which text does not hold. Blocks are tested for such a byte
    /// with one subtraction and one maximum per byte, which the compiler vectorises.
    Text,
    /// Binary data and UTF-16 or UTF-32 text, where those bytes abound: `memchr` passes for
    /// rarer bytes, each signature found by the first of its fixed bytes among them.
    Binary,
}

/// The `memchr` groups of [`Anchors::Binary`].
const BINARY_GROUPS: [&[u8]; 2] = [&[0x03, 0x1F, 0xFD], &[0x1C, b'&']];

/// A PDF header, found with its own search: all of its bytes are text. A version
/// (`1.7`, `2.0`) must follow.
const PDF_SIG: &[u8; 5] = b"%PDF-";

/// Bytes a text block is tested in at once.
const TEXT_BLOCK: usize = 4096;

fn sig_len(sig: Sig) -> usize {
    if sig == Sig::Pdf {
        return PDF_SIG.len() + 3;
    }
    SIGS.iter().find(|d| d.sig == sig).map_or(SIG_MAX, |d| d.len)
}

/// Whether `b` is a byte [`Anchors::Text`] stops at: at most 8, or at least 0xFD. Shifted
/// down by 9, those are the bytes of 0xF4 or more.
fn text_anchor(b: u8) -> bool {
    b.wrapping_sub(9) >= 0xF4
}

/// The highest byte of a block shifted down by 9 (as [`text_anchor`] shifts), tested 64
/// lanes at a time (the compiler turns the lanes into vector registers): 0xF4 or more when
/// it holds a byte [`text_anchor`] stops at, below [`ASCII_BELOW`] when all its bytes are
/// ASCII (and none is at most 8).
fn block_top(block: &[u8]) -> u8 {
    let mut lanes = [0u8; 64];
    let mut chunks = block.chunks_exact(64);
    for c in &mut chunks {
        for (l, &b) in lanes.iter_mut().zip(c) {
            *l = (*l).max(b.wrapping_sub(9));
        }
    }
    let rest = chunks.remainder().iter().fold(0u8, |m, &b| m.max(b.wrapping_sub(9)));
    lanes.iter().fold(rest, |m, &l| m.max(l))
}

/// A [`block_top`] below this: every byte is ASCII (0x80 shifted down by 9 is 0x77).
const ASCII_BELOW: u8 = 0x80 - 9;

/// Every signature that lies whole inside `s`, by where it starts, in order. Returns the
/// highest byte of `s` shifted down by 9 for text anchors (see [`block_top`]), 0xFF for
/// binary ones (not known).
fn signatures(s: &[u8], anchors: Anchors, out: &mut Vec<(usize, Sig)>) -> u8 {
    let mut top = 0u8;
    match anchors {
        Anchors::Text => {
            for (k, block) in s.chunks(TEXT_BLOCK).enumerate() {
                let block_max = block_top(block);
                top = top.max(block_max);
                if block_max < 0xF4 {
                    continue;
                }
                for (j, &b) in block.iter().enumerate() {
                    if text_anchor(b) {
                        let i = k * TEXT_BLOCK + j;
                        for def in &SIGS {
                            if let Some(start) = i.checked_sub(def.text_anchor) {
                                check(s, start, def, out);
                            }
                        }
                    }
                }
            }
        }
        Anchors::Binary => {
            top = 0xFF;
            let hits = memchr::memchr3_iter(BINARY_GROUPS[0][0], BINARY_GROUPS[0][1], BINARY_GROUPS[0][2], s)
                .chain(memchr::memchr2_iter(BINARY_GROUPS[1][0], BINARY_GROUPS[1][1], s));
            let held = |b: u8| BINARY_GROUPS.iter().any(|g| g.contains(&b));
            for i in hits {
                for def in &SIGS {
                    // Found through the first of its fixed bytes that is searched for.
                    let Some(&(off, v)) = def.fixed.iter().find(|&&(_, v)| held(v)) else { continue };
                    if v == s[i] && i >= off {
                        check(s, i - off, def, out);
                    }
                }
            }
        }
    }
    pdf_headers(s, out);
    out.sort_by_key(|&(at, _)| at);
    top
}

/// Every PDF header in `s` with its version (`%PDF-1.7`), whole.
fn pdf_headers(s: &[u8], out: &mut Vec<(usize, Sig)>) {
    static FINDER: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(PDF_SIG));
    for at in FINDER.find_iter(s) {
        if let Some(v) = s.get(at + 5..at + 8) {
            if v[0].is_ascii_digit() && v[1] == b'.' && v[2].is_ascii_digit() {
                out.push((at, Sig::Pdf));
            }
        }
    }
}

/// Records `def` at `start` if it is there whole.
fn check(s: &[u8], start: usize, def: &SigDef, out: &mut Vec<(usize, Sig)>) {
    let Some(w) = s.get(start..start + def.len) else { return };
    if !def.fixed.iter().all(|&(o, v)| w[o] == v) {
        return;
    }
    let ok = match def.sig {
        // gzip: no reserved flag bits.
        Sig::Stream(Format::Gzip) => w[3] & 0xE0 == 0,
        Sig::Stream(Format::Bzip2) => (b'1'..=b'9').contains(&w[3]) && w[14] <= 7,
        Sig::Stream(Format::Xz) => {
            let mut crc = flate2::Crc::new();
            crc.update(&w[6..8]);
            crc.sum() == le32(w, 8)
        }
        _ => true,
    };
    if ok {
        out.push((start, def.sig));
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
