//! The text of one member, from its bytes to the detection stream: charset and markup
//! filters, the normaliser, base64 blobs opened as child objects, UTF-16 runs, a second
//! stream for what markup keeps aside, and the watch for containers embedded in the text.

use super::{probe, Ctx, Member, Node};
use crate::detect::{DetectStream, Found};
use crate::fingerprint::Shingler;
use crate::identify::{Charset, Markup};
use crate::limits::LimitKind;
use crate::text;

/// Text of one member: charset and markup filters, then the normaliser, in front of a
/// detection stream.
#[derive(Debug)]
pub(crate) struct TextNode {
    m: Member,
    wide: Option<text::Wide>,
    markup: Option<text::Markup>,
    /// What the markup filter read inside tags that is not text (attribute values of
    /// inline tags, unquoted values, processing instructions): scanned by a text node of
    /// its own, `member/(tags)`, so that it neither cuts the text apart nor goes unread.
    aside: Option<Box<TextNode>>,
    aside_buf: Vec<u8>,
    /// The text of hidden HTML elements (`display:none` ...), read apart from what is
    /// shown: `member/(hidden)`.
    hidden: Option<Box<TextNode>>,
    hidden_buf: Vec<u8>,
    json: Option<text::Json>,
    /// vCard, iCalendar and LDIF: folded lines joined.
    unfold: Option<text::Unfold>,
    norm: text::Normalizer,
    /// Whether the text is normalised (not binary data).
    normalize: bool,
    stream: DetectStream,
    blobs: text::Blobs,
    /// The object decoded from the base64 blob in progress, and the number of blobs so far.
    blob: Option<Box<Node>>,
    blob_count: u32,
    decoded: Vec<u8>,
    pieces: Vec<text::Piece>,
    /// For text and binary data that may hold UTF-16 text: a second stream over its runs.
    utf16_runs: Option<Box<(text::Utf16Anywhere, DetectStream, Vec<u8>)>>,
    /// For an object's own text: containers embedded in it or appended to it.
    watch: Option<Box<probe::Watch>>,
    /// For UTF-16 and UTF-32 text: the bytes as they are, read by a second stream. A byte
    /// order mark put in front of ASCII text would otherwise turn it into CJK characters
    /// for the engine and hide it; real UTF-16 text holds no values read this way.
    as_bytes: Option<DetectStream>,
    /// UTF-16 text's ends, read the other way too (see [`text::WideEdges`]).
    edges: Option<Box<text::WideEdges>>,
    /// The raw text around escapes that may have eaten a value's digits (`%4111 ...`),
    /// read again without escapes decoded: a fold-only normaliser and a stream of its own.
    unescaped: Option<Box<(text::Normalizer, DetectStream, Vec<u8>)>>,
    /// Bytes written so far, and whether bytes were left out since the last one scanned.
    raw_seen: u64,
    cut: bool,
    a: Vec<u8>,
    b: Vec<u8>,
    c: Vec<u8>,
    since_check: usize,
    /// The member's fingerprints (`crate::fingerprint`), made when the scan keeps them;
    /// `shingle` is false for binary data and for what markup keeps aside.
    shingler: Option<Box<Shingler>>,
    shingle: bool,
}

/// Bytes of text between two CPU-time checks.
const TIME_CHECK_BYTES: usize = 4 << 20;

impl TextNode {
    pub fn new(m: Member, charset: Charset, markup: Markup) -> Self {
        // Any text may turn out to be quoted-printable (JSON or HTML sent as mail text is
        // too) or a form body; the sniffer decides from the head, after markup is stripped.
        let opts = text::Options { sniff: true, ..text::Options::default() };
        Self {
            m,
            wide: (charset != Charset::Bytes).then(|| text::Wide::new(charset)),
            markup: (markup == Markup::Tags).then(text::Markup::new),
            aside: None,
            aside_buf: Vec::new(),
            hidden: None,
            hidden_buf: Vec::new(),
            json: (markup == Markup::Json).then(text::Json::new),
            unfold: (markup == Markup::Folded).then(text::Unfold::new),
            norm: text::Normalizer::new(opts),
            normalize: true,
            stream: DetectStream::new(),
            blobs: text::Blobs::new(),
            blob: None,
            blob_count: 0,
            decoded: Vec::new(),
            pieces: Vec::new(),
            utf16_runs: None,
            watch: None,
            // Legacy CJK encodings keep ASCII as it is (a byte that is no character's second
            // byte is given back as itself), so reading their bytes again would count every
            // ASCII value twice.
            as_bytes: charset.is_wide().then(DetectStream::new),
            edges: text::WideEdges::new(charset).map(Box::new),
            unescaped: None,
            raw_seen: 0,
            cut: false,
            a: Vec::new(),
            b: Vec::new(),
            c: Vec::new(),
            since_check: 0,
            shingler: None,
            shingle: true,
        }
    }

    /// Marks the member as binary data (an image, an executable, unknown bytes): its bytes
    /// are scanned as they are, without normalisation, which would cost time on every
    /// byte of it and find text only by chance. Base64 blobs are still opened: garbage
    /// bytes in front of a JSON upload must not hide the files it carries.
    pub fn binary(&mut self) {
        self.normalize = false;
        self.shingle = false;
    }

    /// Reads UTF-16 text inside the member's bytes too ([`text::Utf16Anywhere`]): UTF-16
    /// put after some ASCII text, or inside binary data, is not seen by identification.
    pub fn read_utf16_runs(&mut self) {
        if !self.wide.as_ref().is_some_and(text::Wide::is_wide) {
            self.utf16_runs = Some(Box::default());
        }
    }

    /// Opens containers found inside the text (a zip or a compressed stream appended to it):
    /// for an object's own text, not for text a parser extracted.
    pub fn watch_embedded(&mut self) {
        self.watch = Some(Box::new(probe::Watch::new(
            self.m.clone(),
            if self.wide.as_ref().is_some_and(text::Wide::is_wide) {
                probe::Anchors::Binary
            } else {
                probe::Anchors::Text
            },
        )));
    }

    /// Marks the member as a form body (its Content-Type says so): `+` is a space and `&`
    /// separates fields.
    pub fn form_body(&mut self) {
        self.norm = text::Normalizer::new(text::Options { form: true, ..text::Options::default() });
    }

    pub fn write(&mut self, cx: &mut Ctx<'_>, data: &[u8]) {
        if cx.stopped() {
            return;
        }
        let at = self.raw_seen;
        self.raw_seen += data.len() as u64;
        if let Some(w) = &mut self.watch {
            w.write(cx, data);
            // Stored zip member data is its member's to scan (ASCII-compatible text only:
            // a cut would break UTF-16 apart): left out here, with a line break in its place.
            if w.has_stored() && !self.wide.as_ref().is_some_and(text::Wide::is_wide) {
                for piece in w.unstored(at, data.len(), &mut self.cut) {
                    self.write_text(cx, piece.map_or(b"\n".as_slice(), |r| &data[r]), false);
                }
                return;
            }
        }
        // The signature search saw every byte: whether all were ASCII comes with it.
        let ascii = self.watch.as_ref().is_some_and(|w| w.last_write_ascii());
        self.write_text(cx, data, ascii);
    }

    /// `ascii`: every byte of `data` is known to be below 0x80.
    fn write_text(&mut self, cx: &mut Ctx<'_>, data: &[u8], ascii: bool) {
        if cx.stopped() {
            return;
        }
        // Large inputs go through the filters in slices so the scratch buffers stay small.
        for piece in data.chunks(256 * 1024) {
            self.write_piece(cx, piece, ascii);
            self.since_check += piece.len();
            if self.since_check >= TIME_CHECK_BYTES {
                self.since_check = 0;
                if !cx.st.budget.check_time(&self.m.path) {
                    return;
                }
            }
        }
    }

    fn write_piece(&mut self, cx: &mut Ctx<'_>, data: &[u8], ascii: bool) {
        if let Some(r) = &mut self.utf16_runs {
            let (runs, stream, out) = &mut **r;
            out.clear();
            // ASCII bytes (the signature search saw every one below 0x80 and above 8)
            // hold no zero byte.
            runs.push(data, ascii, out);
            let mut found = Found { set: cx.set, hits: &mut cx.st.hits, member: &self.m.path };
            stream.write(&mut found, out);
        }
        if let Some(stream) = &mut self.as_bytes {
            let mut found = Found { set: cx.set, hits: &mut cx.st.hits, member: &self.m.path };
            stream.write(&mut found, data);
        }
        if let Some(e) = &mut self.edges {
            e.push(data);
        }
        let mut a = std::mem::take(&mut self.a);
        let text = match &mut self.wide {
            Some(u) => {
                a.clear();
                u.push(data, &mut a);
                &a
            }
            None => data,
        };
        self.write_decoded(cx, text, ascii);
        self.a = a;
    }

    /// The member's text after charset decoding: markup or JSON, then normalisation, then
    /// detection.
    fn write_decoded(&mut self, cx: &mut Ctx<'_>, text: &[u8], ascii: bool) {
        let (mut b, mut c) = (std::mem::take(&mut self.b), std::mem::take(&mut self.c));
        let text = if self.markup.is_some() || self.json.is_some() || self.unfold.is_some() {
            b.clear();
            if let Some(mk) = &mut self.markup {
                mk.push(text, &mut b, &mut self.aside_buf);
                // Hidden elements' text, read apart: with the tags, on lines of its own.
                let hidden = mk.hidden_text();
                if !hidden.is_empty() {
                    self.hidden_buf.append(hidden);
                }
            } else if let Some(j) = &mut self.json {
                j.push(text, &mut b);
            } else if let Some(u) = &mut self.unfold {
                u.push(text, &mut b);
            }
            &b[..]
        } else {
            text
        };
        // What is known of the bytes holds for the text only when no filter changed them.
        let ascii = ascii
            && self.wide.is_none()
            && self.markup.is_none()
            && self.json.is_none()
            && self.unfold.is_none();
        let text = if self.normalize { self.norm.push(text, &mut c, ascii) } else { text };
        cx.st.text_bytes += text.len() as u64;
        let mut found = Found { set: cx.set, hits: &mut cx.st.hits, member: &self.m.path };
        self.stream.write(&mut found, text);
        if let Some(p) = cx.st.prints.as_deref_mut().filter(|_| self.shingle) {
            let s = self.shingler.get_or_insert_with(|| Box::new(Shingler::numbered(p.new_stream())));
            s.push(text, &mut |fp, at| p.add(fp, at));
        }
        self.decoded.clear();
        self.pieces.clear();
        self.blobs.push(text, &mut self.decoded, &mut self.pieces);
        (self.b, self.c) = (b, c);
        self.open_blobs(cx);
        self.read_unescaped(cx);
        if !self.aside_buf.is_empty() {
            self.write_aside(cx);
        }
        if !self.hidden_buf.is_empty() {
            let m = &self.m;
            let node = self.hidden.get_or_insert_with(|| {
                let hidden = Member { path: m.child("(hidden)").path, depth: m.depth };
                Box::new(TextNode::new(hidden, Charset::Bytes, Markup::Plain))
            });
            node.write(cx, &self.hidden_buf);
            self.hidden_buf.clear();
        }
    }

    /// Reads the raw text the normaliser handed on around escapes, without the escapes
    /// decoded.
    fn read_unescaped(&mut self, cx: &mut Ctx<'_>) {
        let raw = self.norm.unescaped();
        if raw.is_empty() {
            return;
        }
        let (norm, stream, out) = &mut **self.unescaped.get_or_insert_with(|| {
            let opts = text::Options { fold_only: true, ..text::Options::default() };
            Box::new((text::Normalizer::new(opts), DetectStream::new(), Vec::new()))
        });
        let text = norm.push(raw, out, false);
        let mut found = Found { set: cx.set, hits: &mut cx.st.hits, member: &self.m.path };
        stream.write(&mut found, text);
        raw.clear();
    }

    fn write_aside(&mut self, cx: &mut Ctx<'_>) {
        let m = &self.m;
        let node = self.aside.get_or_insert_with(|| {
            let tags = Member { path: m.child("(tags)").path, depth: m.depth };
            let mut aside = TextNode::new(tags, Charset::Bytes, Markup::Plain);
            aside.shingle = false;
            Box::new(aside)
        });
        node.write(cx, &self.aside_buf);
        self.aside_buf.clear();
    }

    /// Hands what the blob finder reported to child nodes: each base64 blob is an object
    /// of its own (`member/base64#N`), one level deeper, its decoded bytes counted like
    /// decompressed ones.
    fn open_blobs(&mut self, cx: &mut Ctx<'_>) {
        for piece in std::mem::take(&mut self.pieces) {
            if cx.stopped() {
                break;
            }
            match piece {
                text::Piece::Start => {
                    self.blob_count += 1;
                    let m = self.m.child(&format!("base64#{}", self.blob_count));
                    if self.m.depth >= cx.st.budget.limits.max_depth {
                        cx.st.budget.limit(LimitKind::MaxDepth, &m.path);
                    } else {
                        self.blob = Some(Box::new(Node::new(m, None)));
                    }
                }
                text::Piece::Bytes(r) => {
                    if let Some(child) = &mut self.blob {
                        let bytes = &self.decoded[r];
                        if cx.st.budget.add_decompressed(bytes.len() as u64, &self.m.path) {
                            child.write(cx, bytes);
                        }
                    }
                }
                text::Piece::End => {
                    if let Some(mut child) = self.blob.take() {
                        child.finish(cx);
                    }
                }
            }
        }
    }

    pub fn finish(&mut self, cx: &mut Ctx<'_>) {
        if cx.stopped() {
            return;
        }
        if let Some(u) = &mut self.wide {
            let mut a = std::mem::take(&mut self.a);
            a.clear();
            u.finish(&mut a);
            if !a.is_empty() {
                self.write_decoded(cx, &a, false);
            }
            self.a = a;
        }
        self.c.clear();
        if self.normalize {
            self.norm.finish(&mut self.c);
        }
        cx.st.text_bytes += self.c.len() as u64;
        let mut found = Found { set: cx.set, hits: &mut cx.st.hits, member: &self.m.path };
        self.stream.write(&mut found, &self.c);
        self.stream.finish(&mut found);
        if let Some(p) = cx.st.prints.as_deref_mut().filter(|_| self.shingle) {
            let s = self.shingler.get_or_insert_with(|| Box::new(Shingler::numbered(p.new_stream())));
            s.push(&self.c, &mut |fp, at| p.add(fp, at));
            let shingles = s.finish(&mut |fp, at| p.add(fp, at));
            p.end_stream(shingles);
        }
        self.read_unescaped(cx);
        if let Some(u) = &mut self.unescaped {
            let (norm, stream, out) = &mut **u;
            norm.finish(out);
            let mut found = Found { set: cx.set, hits: &mut cx.st.hits, member: &self.m.path };
            stream.write(&mut found, out);
            stream.finish(&mut found);
        }
        let mut found = Found { set: cx.set, hits: &mut cx.st.hits, member: &self.m.path };
        if let Some(r) = &mut self.utf16_runs {
            r.1.finish(&mut found);
        }
        if let Some(stream) = &mut self.as_bytes {
            stream.finish(&mut found);
        }
        if let Some(mut e) = self.edges.take() {
            let mut wide = Vec::new();
            e.finish(&mut wide);
            let mut norm =
                text::Normalizer::new(text::Options { fold_only: true, ..text::Options::default() });
            let (mut out, mut stream) = (Vec::new(), DetectStream::new());
            stream.write(&mut found, norm.push(&wide, &mut out, false));
            norm.finish(&mut out);
            stream.write(&mut found, &out);
            stream.finish(&mut found);
        }
        if let Some(w) = &mut self.watch {
            w.finish(cx);
        }
        if let Some(mut aside) = self.aside.take() {
            aside.finish(cx);
        }
        if let Some(mut hidden) = self.hidden.take() {
            hidden.finish(cx);
        }
        self.decoded.clear();
        self.pieces.clear();
        self.blobs.push(&self.c, &mut self.decoded, &mut self.pieces);
        self.blobs.finish(&mut self.decoded, &mut self.pieces);
        self.open_blobs(cx);
    }
}
