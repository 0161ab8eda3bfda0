//! Extraction: the searcher side of the engine. A tree of push nodes turns an object's
//! bytes into text streams, one per member ([`TextNode`]), each scanned by its own
//! [`DetectStream`](crate::detect::DetectStream).
//!
//! A [`Node`] starts by sniffing the first [`SNIFF_LEN`] bytes, then becomes what the
//! content is: a text stream (scanned as it arrives, in bounded memory), a decompressor, a
//! tar or multipart reader (streaming into child nodes), an image or media walker, raw
//! binary, or a buffer for formats that need random access
//! (zip, 7z, PDF, RTF, e-mail), extracted when the object ends. Multipart bodies stream
//! part by part.
//!
//! Every byte is accounted for (see [`coverage`]): extractors scan what their parser does not
//! extract (names, comments, headers) as text, and hand what nobody consumed (what follows
//! a compressed stream, a tar end marker or an image's end; gaps in a zip) to a fresh
//! sniffed node. Text and raw binary are watched for containers inside them ([`probe`]):
//! magic bytes at the head choose a parser, magic bytes anywhere else open a probe.

mod archive;
mod coverage;
mod embedded;
mod embedded_pdf;
mod media;
mod mime;
mod multipart;
mod office;
mod pdf;
mod probe;
mod rtf;
mod sevenz;
mod signatures;
mod tar;
mod text_node;
mod uu;
mod zip_layout;
mod zip_methods;
mod zip_salvage;

use std::collections::BTreeSet;

use crate::decode::{DecodeError, Decoder, Format, Out, Radix};
use crate::detect::DetectorSet;
use crate::detect::Hits;
use crate::identify::{identify, Charset, FileType, Kind, Markup, SNIFF_LEN};
use crate::limits::{Budget, CouldNotScan, LimitKind};

pub(crate) use archive::scan_zip;
pub(crate) use office::scan_cfb;
#[cfg(feature = "testkit")]
pub(crate) use pdf::ASCII_GLYPH_NAMES;
pub(crate) use sevenz::scan_7z;
pub(crate) use text_node::TextNode;

/// Everything a scan accumulates.
#[derive(Debug)]
pub(crate) struct State {
    pub hits: Hits,
    pub budget: Budget,
    pub types: BTreeSet<FileType>,
    pub text_bytes: u64,
    /// Fingerprints of the object's text, when the policy has fingerprint rules (or a
    /// document is being indexed); `None` costs nothing.
    pub prints: Option<Box<crate::fingerprint::ObjectPrints>>,
}

/// What every node needs: the detectors and the scan's state.
pub(crate) struct Ctx<'a> {
    pub set: &'a DetectorSet,
    /// File types the policy never scans.
    pub exempt: &'a [FileType],
    pub st: &'a mut State,
}

impl Ctx<'_> {
    fn stopped(&self) -> bool {
        self.st.budget.is_stopped()
    }

    fn corrupt(&mut self, member: &str, detail: impl Into<String>) {
        self.st.budget.stop(CouldNotScan::Corrupt { member: member.to_string(), detail: detail.into() });
    }

    fn encrypted(&mut self, member: &str) {
        self.st.types.insert(FileType::EncryptedArchive);
        self.st.budget.stop(CouldNotScan::Encrypted { member: member.to_string() });
    }
}

/// Where a node sits: its member path and nesting depth.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub path: String,
    pub depth: u32,
}

impl Member {
    pub fn child(&self, name: &str) -> Member {
        let path = if self.path.is_empty() { name.to_string() } else { format!("{}/{}", self.path, name) };
        Member { path, depth: self.depth + 1 }
    }
}

/// A stage of the pipeline.
#[derive(Debug)]
pub(crate) enum Node {
    Sniff {
        m: Member,
        head: Vec<u8>,
        content_type: Option<String>,
    },
    Text(Box<TextNode>),
    Decode(Box<DecodeNode>),
    Tar(Box<tar::TarNode>),
    Multipart(Box<multipart::MultipartNode>),
    Media(Box<media::MediaNode>),
    Binary(Box<embedded::BinaryNode>),
    Buffer {
        m: Member,
        kind: Kind,
        data: Vec<u8>,
    },
    /// A member hashed as it passes, for exact copies of protected documents.
    Hashed(Box<HashedNode>),
    /// Text holding uuencoded files: streamed as text, held for its blocks.
    Uu(Box<uu::UuNode>),
    Done,
}

/// A member's node with the hash of the bytes written to it.
#[derive(Debug)]
pub(crate) struct HashedNode {
    path: String,
    hash: crate::fingerprint::MemberHash,
    inner: Node,
}

impl Node {
    /// A node that will sniff its content; `content_type` only supplies a multipart boundary.
    pub fn new(m: Member, content_type: Option<String>) -> Self {
        Node::Sniff { m, head: Vec::new(), content_type }
    }

    /// A chain of decoders for a `Content-Encoding` list (applied in order, so decoded in
    /// reverse), ending in a sniffing node. Decoders refuse windows above `max_window`.
    pub fn with_encoding(
        m: Member,
        content_type: Option<String>,
        encoding: Option<&str>,
        max_window: u64,
    ) -> Self {
        let mut node = Node::new(m.clone(), content_type);
        let formats: Vec<Format> =
            encoding.map(|e| e.split(',').filter_map(Format::from_token).collect()).unwrap_or_default();
        for f in formats {
            node =
                Node::Decode(Box::new(DecodeNode::new(m.clone(), Decoder::with_window(f, max_window), node)));
        }
        node
    }

    /// Whether this node is holding the whole object in memory (random-access formats).
    pub fn is_buffering(&self) -> bool {
        match self {
            Node::Buffer { .. } => true,
            Node::Decode(d) => d.child.is_buffering(),
            Node::Hashed(h) => h.inner.is_buffering(),
            _ => false,
        }
    }

    /// Whether this node is plain text (or not sniffed yet).
    pub fn is_plain_text(&self) -> bool {
        match self {
            Node::Hashed(h) => h.inner.is_plain_text(),
            _ => matches!(self, Node::Sniff { .. } | Node::Text(_)),
        }
    }

    pub fn write(&mut self, cx: &mut Ctx<'_>, data: &[u8]) {
        if cx.stopped() || data.is_empty() {
            return;
        }
        match self {
            Node::Sniff { head, .. } => {
                let take = (SNIFF_LEN - head.len()).min(data.len());
                head.extend_from_slice(&data[..take]);
                if head.len() >= SNIFF_LEN {
                    self.resolve(cx);
                    self.write(cx, &data[take..]);
                }
            }
            Node::Text(t) => t.write(cx, data),
            Node::Decode(d) => d.write(cx, data),
            Node::Tar(t) => t.write(cx, data),
            Node::Multipart(p) => p.write(cx, data),
            Node::Media(n) => n.write(cx, data),
            Node::Binary(n) => n.write(cx, data),
            Node::Hashed(h) => {
                h.hash.update(data);
                h.inner.write(cx, data);
            }
            Node::Uu(n) => n.write(cx, data),
            Node::Buffer { m, data: buf, .. } => {
                if !hold_more(cx, &m.path, buf, data) {
                    if !cx.stopped() {
                        cx.st.budget.limit(LimitKind::MaxBufferedBytes, &m.path);
                    }
                    *self = Node::Done;
                }
            }
            Node::Done => {}
        }
    }

    pub fn finish(&mut self, cx: &mut Ctx<'_>) {
        if let Node::Sniff { .. } = self {
            self.resolve(cx);
        }
        match std::mem::replace(self, Node::Done) {
            Node::Text(mut t) => t.finish(cx),
            Node::Decode(mut d) => d.finish(cx),
            Node::Tar(mut t) => t.finish(cx),
            Node::Multipart(mut p) => p.finish(cx),
            Node::Media(mut n) => n.finish(cx),
            Node::Binary(mut n) => n.finish(cx),
            Node::Hashed(h) => {
                let HashedNode { path, hash, mut inner } = *h;
                inner.finish(cx);
                if let Some(p) = cx.st.prints.as_deref_mut() {
                    p.member_read(&path, hash);
                }
            }
            Node::Uu(mut n) => n.finish(cx),
            Node::Buffer { m, kind, data } => {
                if !cx.stopped() {
                    extract_buffer(cx, &m, &kind, &data);
                }
            }
            Node::Sniff { .. } | Node::Done => {}
        }
    }

    /// Decides what the sniffed head is and replays it into the node that handles it.
    fn resolve(&mut self, cx: &mut Ctx<'_>) {
        let Node::Sniff { m, head, content_type } = std::mem::replace(self, Node::Done) else {
            return;
        };
        let kind = identify(&head, content_type.as_deref());
        cx.st.types.insert(kind.file_type());
        // An exemption holds only for a structure that validates: images and media are
        // walked (bulk data skipped, metadata and what follows the end scanned), zip and
        // office documents opened (member contents skipped, names, records and gaps
        // scanned). Policies cannot exempt other types.
        let exempt = cx.exempt.contains(&kind.file_type());
        if exempt && !matches!(kind, Kind::Raw(FileType::Image | FileType::Media) | Kind::Zip) {
            return;
        }
        if kind.is_container() && m.depth >= cx.st.budget.limits.max_depth {
            cx.st.budget.limit(LimitKind::MaxDepth, &m.path);
            return;
        }
        // A member (not the object itself, hashed as a whole) is hashed for exact copies.
        let hasher = if m.depth > 0 { cx.st.prints.as_deref().and_then(|p| p.member_hasher()) } else { None };
        let path = hasher.as_ref().map(|_| m.path.clone());
        *self = match kind {
            Kind::Text(charset, markup) => {
                Node::Text(Box::new(own_text(m, charset, markup, content_type.as_deref())))
            }
            Kind::Uuencoded(charset, markup) => {
                let text = own_text(m.clone(), charset, markup, content_type.as_deref());
                Node::Uu(Box::new(uu::UuNode::new(m, text)))
            }
            // Legacy Office and Outlook: a compound file, read by its parsers.
            kind @ Kind::Raw(FileType::Ole) => Node::Buffer { m, kind, data: Vec::new() },
            Kind::Raw(FileType::Image | FileType::Media) => {
                match media::MediaNode::new(m.clone(), &head, exempt) {
                    Some(node) => Node::Media(Box::new(node)),
                    None => Node::Binary(Box::new(embedded::BinaryNode::new(m.clone(), raw_bytes(m)))),
                }
            }
            Kind::Raw(_) => Node::Binary(Box::new(embedded::BinaryNode::new(m.clone(), raw_bytes(m)))),
            Kind::Compressed(format) => {
                let name = match format {
                    Format::Bzip2 => "bunzip2",
                    Format::Xz => "unxz",
                    Format::Zstd => "unzstd",
                    Format::Lz4 => "unlz4",
                    Format::Lzma => "unlzma",
                    Format::Lzip => "lunzip",
                    Format::Radix(e) => match e.radix {
                        Radix::Hex => "unhex",
                        Radix::Base64 => "unbase64",
                        Radix::Base32 => "unbase32",
                        Radix::Ascii85 => "unascii85",
                        Radix::Base85 => "unbase85",
                    },
                    Format::Deflate => "inflate",
                    _ => "gunzip",
                };
                let child = Node::new(m.child(name), None);
                let dec = Decoder::with_window(format, cx.st.budget.limits.max_window_bytes);
                Node::Decode(Box::new(DecodeNode::new(m, dec, child)))
            }
            Kind::Tar => Node::Tar(Box::new(tar::TarNode::new(m))),
            Kind::Multipart(b) => {
                // A declared boundary that the body does not use yields to its first line.
                let b = match crate::identify::multipart_first_line(&head) {
                    Some(first) if memchr::memmem::find(&head, format!("--{b}").as_bytes()).is_none() => {
                        first
                    }
                    _ => b,
                };
                Node::Multipart(Box::new(multipart::MultipartNode::new(m, &b)))
            }
            Kind::Encrypted => {
                cx.encrypted(&m.path);
                Node::Done
            }
            Kind::Unsupported(format) => {
                cx.st
                    .budget
                    .stop(CouldNotScan::Unsupported { member: m.path.clone(), format: format.to_string() });
                Node::Done
            }
            kind @ (Kind::Zip | Kind::SevenZ | Kind::Pdf | Kind::Rtf | Kind::Email) => {
                Node::Buffer { m, kind, data: Vec::new() }
            }
        };
        if let (Some(hash), Some(path), false) = (hasher, path, matches!(self, Node::Done)) {
            let inner = std::mem::replace(self, Node::Done);
            *self = Node::Hashed(Box::new(HashedNode { path, hash, inner }));
        }
        self.write(cx, &head);
    }
}

/// Appends `data` to a buffer held for random access, growing it by doubling and charging
/// the process's memory before it grows; false (and the buffer dropped) past
/// `max_buffered_bytes`, which the caller reports, or when memory is short (reported by the
/// charge, which stops the scan).
fn hold_more(cx: &mut Ctx<'_>, path: &str, buf: &mut Vec<u8>, data: &[u8]) -> bool {
    if (buf.len() + data.len()) as u64 > cx.st.budget.limits.max_buffered_bytes {
        *buf = Vec::new();
        return false;
    }
    if buf.capacity() - buf.len() < data.len() {
        let cap = cx.st.budget.limits.max_buffered_bytes as usize;
        let want = (buf.len() + data.len()).max(buf.capacity() * 2).min(cap);
        if !cx.st.budget.charge_memory((want - buf.capacity()) as u64, path) {
            *buf = Vec::new();
            return false;
        }
        buf.reserve_exact(want - buf.len());
    }
    buf.extend_from_slice(data);
    true
}

/// The text node of an object's own text (not text a parser extracted): containers
/// embedded in it are opened, UTF-16 runs in it read, a form body read as one.
fn own_text(m: Member, charset: Charset, markup: Markup, content_type: Option<&str>) -> TextNode {
    let mut t = TextNode::new(m, charset, markup);
    t.watch_embedded();
    t.read_utf16_runs();
    if content_type.is_some_and(is_form_urlencoded) {
        t.form_body();
    }
    t
}

fn extract_buffer(cx: &mut Ctx<'_>, m: &Member, kind: &Kind, data: &[u8]) {
    match kind {
        Kind::Zip => archive::scan_zip(cx, std::io::Cursor::new(data), m),
        Kind::SevenZ => sevenz::scan_7z(cx, std::io::Cursor::new(data), m),
        Kind::Pdf => pdf::scan_pdf(cx, data, m),
        Kind::Rtf => {
            let x = rtf::extract(data, &mut cx.st.budget, &m.path);
            for (text, member) in [
                (&x.text, m.clone()),
                (&x.aside, m.child("(rtf other text)")),
                (&x.hidden, m.child("(rtf hidden text)")),
            ] {
                if !text.is_empty() {
                    let mut t = TextNode::new(member, Charset::Bytes, Markup::Plain);
                    t.write(cx, text);
                    t.finish(cx);
                }
            }
            // Pictures and embedded objects; an OLE object's compound file starts after its
            // OLE1 header.
            for (k, blob) in x.blobs.iter().enumerate() {
                let ole = memchr::memmem::find(
                    &blob[..blob.len().min(4096)],
                    &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1],
                );
                scan_member_bytes(cx, &blob[ole.unwrap_or(0)..], m.child(&format!("(rtf object {k})")), None);
            }
            drop(x.blobs);
            cx.st.budget.release(x.held);
        }
        Kind::Email => mime::scan_email(cx, data, m),
        Kind::Raw(FileType::Ole) => office::scan_cfb(cx, std::io::Cursor::new(data), m),
        _ => {}
    }
}

/// Pumps a member's bytes from a reader into a fresh child node, with the member's limits:
/// what it produces counts as decompressed, and its ratio to `compressed` is judged.
pub(crate) fn pump_member(
    cx: &mut Ctx<'_>,
    reader: &mut dyn std::io::Read,
    m: Member,
    compressed: Option<u64>,
) {
    pump(cx, reader, m, Some(compressed));
}

/// Pumps a member's compressed bytes through a decoder of `format` into a fresh child node.
pub(crate) fn pump_decoded(cx: &mut Ctx<'_>, reader: &mut dyn std::io::Read, m: Member, format: Format) {
    if !cx.st.budget.add_member(&m.path) {
        return;
    }
    let dec = Decoder::with_window(format, cx.st.budget.limits.max_window_bytes);
    let mut node = Node::Decode(Box::new(DecodeNode::new(m.clone(), dec, Node::new(m.clone(), None))));
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                // What was read is inspected before the member is called corrupt.
                node.finish(cx);
                return cx.corrupt(&m.path, e.to_string());
            }
        };
        if !cx.st.budget.check_time(&m.path) {
            return;
        }
        node.write(cx, &buf[..n]);
        if cx.stopped() {
            return;
        }
    }
    node.finish(cx);
}

/// Pumps bytes of the object itself (a gap no parser consumed) into a fresh child node.
pub(crate) fn pump_bytes(cx: &mut Ctx<'_>, reader: &mut dyn std::io::Read, m: Member) {
    pump(cx, reader, m, None);
}

/// `decompressed`: `Some(compressed size)` when the bytes come out of a decoder.
fn pump(cx: &mut Ctx<'_>, reader: &mut dyn std::io::Read, m: Member, decompressed: Option<Option<u64>>) {
    if !cx.st.budget.add_member(&m.path) {
        return;
    }
    let mut node = Node::new(m.clone(), None);
    let mut buf = vec![0u8; 64 * 1024];
    let mut produced = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                // A member whose check fails at its end (a zip CRC) was read whole: what
                // it holds is inspected before it is called corrupt.
                node.finish(cx);
                cx.corrupt(&m.path, e.to_string());
                return;
            }
        };
        produced += n as u64;
        let b = &mut cx.st.budget;
        if let Some(compressed) = decompressed {
            if !b.add_decompressed(n as u64, &m.path)
                || compressed.is_some_and(|c| !b.check_ratio(produced, c, &m.path))
            {
                return;
            }
        }
        if !b.check_time(&m.path) {
            return;
        }
        node.write(cx, &buf[..n]);
        if cx.stopped() {
            return;
        }
    }
    node.finish(cx);
}

/// Hands bytes already in memory (a MIME part, a PDF stream) to a fresh child node.
pub(crate) fn scan_member_bytes(cx: &mut Ctx<'_>, data: &[u8], m: Member, content_type: Option<String>) {
    if !cx.st.budget.add_member(&m.path) || !cx.st.budget.check_time(&m.path) {
        return;
    }
    let mut node = Node::new(m, content_type);
    node.write(cx, data);
    node.finish(cx);
}

/// A decompressor feeding a child node. Text the compressed format carries besides its
/// content (gzip file names and comments, zstd skippable frames) is scanned as text, and
/// whatever follows the compressed streams goes to a fresh sniffed node.
#[derive(Debug)]
pub(crate) struct DecodeNode {
    m: Member,
    dec: Decoder,
    child: Node,
    meta: Option<Box<TextNode>>,
    after: Option<Box<Node>>,
    consumed: u64,
    produced: u64,
    /// What the decoder's window holds of the budget.
    window_held: u64,
}

impl DecodeNode {
    fn new(m: Member, dec: Decoder, child: Node) -> Self {
        Self { m, dec, child, meta: None, after: None, consumed: 0, produced: 0, window_held: 0 }
    }

    fn write(&mut self, cx: &mut Ctx<'_>, data: &[u8]) {
        self.consumed += data.len() as u64;
        let Self { m, dec, child, meta, after, consumed, produced, window_held } = self;
        let r = dec.push_all(data, &mut |out| {
            route(cx, m, child, meta, after, *consumed, produced, window_held, out)
        });
        if let Err(e) = r {
            // Scan what did decode, then report the damage.
            if !cx.stopped() {
                self.finish_children(cx);
            }
            decode_failed(cx, &self.m, e);
        }
    }

    fn finish(&mut self, cx: &mut Ctx<'_>) {
        if cx.stopped() {
            return;
        }
        let Self { m, dec, child, meta, after, consumed, produced, window_held } = self;
        let r = dec
            .finish_all(&mut |out| route(cx, m, child, meta, after, *consumed, produced, window_held, out));
        // The decoder is done with its window.
        cx.st.budget.release(std::mem::take(&mut self.window_held));
        // Scan what did arrive, then report a truncation.
        if !cx.stopped() {
            self.finish_children(cx);
        }
        if let Err(e) = r {
            decode_failed(cx, &self.m, e);
        }
    }

    fn finish_children(&mut self, cx: &mut Ctx<'_>) {
        self.child.finish(cx);
        if let Some(t) = &mut self.meta {
            t.finish(cx);
        }
        if let Some(a) = &mut self.after {
            a.finish(cx);
        }
    }
}

/// Holds (or gives back) the change of a decoder's window, `held` being what it holds now;
/// false when the budget is out.
pub(super) fn hold_window(cx: &mut Ctx<'_>, m: &Member, held: &mut u64, now: u64) -> bool {
    if now > *held {
        if !cx.st.budget.hold(now - *held, &m.path) {
            return false;
        }
    } else {
        cx.st.budget.release(*held - now);
    }
    *held = now;
    true
}

/// Sends one piece of a decoder's output where it belongs; false to stop the decoder.
#[allow(clippy::too_many_arguments)]
fn route(
    cx: &mut Ctx<'_>,
    m: &Member,
    child: &mut Node,
    meta: &mut Option<Box<TextNode>>,
    after: &mut Option<Box<Node>>,
    consumed: u64,
    produced: &mut u64,
    window_held: &mut u64,
    out: Out<'_>,
) -> bool {
    match out {
        // Charged (or given back) as soon as the decoder has it: the budget is exceeded by
        // at most one window per decoder, for the moment it takes to stop.
        Out::Window(now) => {
            if !hold_window(cx, m, window_held, now) {
                return false;
            }
        }
        Out::Data(b) => {
            *produced += b.len() as u64;
            let budget = &mut cx.st.budget;
            if !budget.add_decompressed(b.len() as u64, &m.path)
                || !budget.check_ratio(*produced, consumed, &m.path)
            {
                return false;
            }
            child.write(cx, b);
        }
        Out::Meta(b) => meta
            .get_or_insert_with(|| {
                Box::new(TextNode::new(m.child("(header)"), Charset::Bytes, Markup::Plain))
            })
            .write(cx, b),
        Out::Trailing(b) => {
            if after.is_none() {
                let a = m.child("(trailing)");
                if !cx.st.budget.add_member(&a.path) {
                    return false;
                }
                *after = Some(Box::new(Node::new(a, None)));
            }
            if let Some(a) = after {
                a.write(cx, b);
            }
        }
    }
    !cx.stopped()
}

fn decode_failed(cx: &mut Ctx<'_>, m: &Member, e: DecodeError) {
    match e {
        DecodeError::Corrupt(detail) => cx.corrupt(&m.path, detail),
        DecodeError::Window(_) => cx.st.budget.limit(LimitKind::MaxWindowBytes, &m.path),
        DecodeError::Unsupported(format) => {
            cx.st.budget.stop(CouldNotScan::Unsupported { member: m.path.clone(), format })
        }
    }
}

/// The bytes of a binary object as they are: no normalisation, which would cost time on
/// every byte of it and find text only by chance; base64 blobs are still opened (a JSON
/// upload behind a few binary bytes is still an upload).
fn raw_bytes(m: Member) -> TextNode {
    let mut t = TextNode::new(m, Charset::Bytes, Markup::Plain);
    t.binary();
    t.read_utf16_runs();
    t
}

/// Whether a Content-Type is `application/x-www-form-urlencoded`.
fn is_form_urlencoded(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/x-www-form-urlencoded")
}
