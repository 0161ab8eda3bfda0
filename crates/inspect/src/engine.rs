//! The public entry points: an [`Engine`] per policy, a [`Scanner`] per object.

use std::collections::BTreeSet;
use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::detect::Hits;
use crate::extract::{scan_7z, scan_cfb, scan_zip, Ctx, Member, Node, State, TextNode};
use crate::fingerprint::ObjectPrints;
use crate::identify::{identify, Charset, FileType, Kind, Markup, SNIFF_LEN};
use crate::limits::{Budget, LimitKind, Limits, MemoryAccount};
use crate::meta::MetaText;
use crate::policy::{Method, Policy};
use crate::verdict::{decide, Subject, Verdict};

/// What the server knows about one object besides its bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanContext {
    /// REQMOD (upload) or RESPMOD (download).
    pub method: Method,
    /// The request URL, for incidents.
    pub url: Option<String>,
    /// A file name, when known (upload field, Content-Disposition, CLI path): the root of
    /// every member path in evidence.
    pub filename: Option<String>,
    /// The HTTP Content-Type; used only for a multipart boundary, never to skip content.
    pub content_type: Option<String>,
    /// The HTTP Content-Encoding (`gzip`, `deflate`, `br`, or a list), decoded first.
    pub content_encoding: Option<String>,
    /// The authenticated user (`X-Authenticated-User`), for rule scoping.
    pub user: Option<String>,
    /// The user's groups (`X-Authenticated-Groups`), for rule scoping.
    pub groups: Vec<String>,
    /// Text besides the body (the request URL's path and query, file names from headers),
    /// scanned first, each as a member `(label)`, even when there is no body.
    #[serde(default)]
    pub meta: Vec<MetaText>,
}

/// The answer to a preview: can the policy decide before the body arrives?
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PreviewDecision {
    /// No rule applies to this object, or its type is exempt: allow without reading more.
    Exempt,
    /// The body must be scanned.
    NeedBody,
}

/// The inspection engine for one policy. Cheap to clone; share it between threads.
#[derive(Debug, Clone)]
pub struct Engine {
    policy: Arc<Policy>,
    limits: Limits,
    memory: Option<Arc<dyn MemoryAccount>>,
}

impl Engine {
    /// An engine for `policy` with `limits` per object.
    pub fn new(policy: Arc<Policy>, limits: Limits) -> Self {
        Self { policy, limits, memory: None }
    }

    /// Charges the buffers of every scan to `memory` (a server's process-wide budget).
    pub fn with_memory(mut self, memory: Arc<dyn MemoryAccount>) -> Self {
        self.memory = Some(memory);
        self
    }

    /// The policy (its [`Policy::version`] belongs in the ISTag).
    pub fn policy(&self) -> &Arc<Policy> {
        &self.policy
    }

    /// The limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Whether any rule applies to this mode and user. When none does, the body need not be
    /// read at all.
    pub fn applies(&self, ctx: &ScanContext) -> bool {
        self.policy.rules().iter().any(|r| r.applies(ctx.method, ctx.user.as_deref(), &ctx.groups))
    }

    /// Early decision from the heads and the first bytes of the body (an ICAP preview).
    /// Only a policy with no rule for this mode and user decides here: an exempt file type
    /// is exempt only once its whole structure validates, which a preview cannot show.
    pub fn preview(&self, ctx: &ScanContext, _head: &[u8]) -> PreviewDecision {
        if !self.applies(ctx) {
            return PreviewDecision::Exempt;
        }
        PreviewDecision::NeedBody
    }

    /// Whether any detector matches in `meta` alone, under `ctx`'s method and user (for a
    /// server deciding whether a URL or file name must be stored masked).
    pub fn finds(&self, ctx: &ScanContext, meta: &MetaText) -> bool {
        self.scanner(meta_only(ctx, vec![meta.clone()])).state.hits.any()
    }

    /// A streaming scanner for one object. Its `meta` texts are scanned at once.
    pub fn scanner(&self, ctx: ScanContext) -> Scanner {
        let root = Member { path: ctx.filename.clone().unwrap_or_default(), depth: 0 };
        let mut budget = Budget::new(self.limits.clone(), self.memory.clone());
        // Each content coding is a level of nesting: `gzip, gzip, ...` a thousand times must
        // not build a thousand decoders.
        let codings = ctx.content_encoding.as_deref().map_or(0, |e| e.split(',').count());
        let node = if codings as u64 > u64::from(self.limits.max_depth) {
            budget.limit(LimitKind::MaxDepth, &root.path);
            Node::Done
        } else {
            Node::with_encoding(
                root,
                ctx.content_type.clone(),
                ctx.content_encoding.as_deref(),
                self.limits.max_window_bytes,
            )
        };
        let mut s = Scanner {
            policy: self.policy.clone(),
            state: State {
                hits: Hits::new(self.limits.max_evidence),
                budget,
                types: BTreeSet::new(),
                text_bytes: 0,
                prints: ObjectPrints::matching(self.policy.fingerprint_indexes()),
            },
            ctx,
            node,
        };
        s.scan_meta();
        s
    }

    /// Scans an object held in memory.
    pub fn scan_bytes(&self, ctx: ScanContext, data: &[u8]) -> Verdict {
        let mut s = self.scanner(ctx);
        s.feed(data);
        s.finish()
    }

    /// Scans `text` as plain text, whatever it looks like: no sniffing, decoding or
    /// extraction, every detector of the policy over the bytes as they are. For a server
    /// deciding whether a few raw bytes are harmless on their own (the early release of a
    /// stalled download's first bytes).
    pub fn scan_text(&self, ctx: ScanContext, text: &[u8]) -> Verdict {
        let mut s = self.scanner(ctx);
        let root = Member { path: s.ctx.filename.clone().unwrap_or_default(), depth: 0 };
        s.node = Node::Text(Box::new(TextNode::new(root, Charset::Bytes, Markup::Plain)));
        s.feed(text);
        s.finish()
    }

    /// Scans an object from a seekable reader (a spooled temp file, a file on disk). Zip and
    /// 7z archives and office documents are read in place, without loading them into memory;
    /// everything else streams through a [`Scanner`]. IO errors are the caller's.
    pub fn scan_reader<R: Read + Seek>(&self, ctx: ScanContext, reader: R) -> std::io::Result<Verdict> {
        Ok(self.read_all(self.scanner(ctx), reader)?.conclude())
    }

    /// The fingerprints of a document to protect, read as a scan reads it: every format the
    /// engine extracts gives its text, so a document and its copies in other formats get
    /// the same fingerprints. For `dlpgate fingerprint add`; the engine's detectors run
    /// too, so an engine from [`Policy::for_fingerprinting`] (no detector) is quickest.
    pub fn fingerprint_reader<R: Read + Seek>(
        &self,
        ctx: ScanContext,
        reader: R,
    ) -> std::io::Result<crate::fingerprint::Collected> {
        let mut s = self.scanner(ctx);
        s.state.prints = Some(ObjectPrints::collecting());
        let mut s = self.read_all(s, reader)?;
        let prints = s.state.prints.take();
        let verdict = s.conclude();
        let (prints, words) = prints.map(|p| p.collected()).unwrap_or_default();
        Ok(crate::fingerprint::Collected {
            prints,
            words,
            could_not_scan: verdict.could_not_scan,
            text_bytes: verdict.scanned_bytes,
        })
    }

    /// Reads `reader` whole into `s` (containers in place), and ends its body.
    fn read_all<R: Read + Seek>(&self, mut s: Scanner, mut reader: R) -> std::io::Result<Scanner> {
        if let Some(p) = s.state.prints.as_deref_mut() {
            p.hash_reader(&mut reader)?;
        }
        let mut head = Vec::with_capacity(SNIFF_LEN);
        (&mut reader).take(SNIFF_LEN as u64).read_to_end(&mut head)?;
        reader.seek(SeekFrom::Start(0))?;
        let kind = identify(&head, s.ctx.content_type.as_deref());
        if s.ctx.content_encoding.is_none() && matches!(kind, Kind::Zip | Kind::SevenZ) {
            s.state.types.insert(kind.file_type());
            s.with_ctx(|cx, m| match kind {
                Kind::SevenZ => scan_7z(cx, reader, m),
                _ => scan_zip(cx, reader, m),
            });
            return Ok(s);
        }
        if s.ctx.content_encoding.is_none() && kind == Kind::Raw(FileType::Ole) {
            s.state.types.insert(FileType::Ole);
            s.with_ctx(|cx, m| scan_cfb(cx, reader, m));
            return Ok(s);
        }
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => s.feed(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        s.end();
        Ok(s)
    }
}

/// `ctx`'s method and user with `meta`, and no body.
fn meta_only(ctx: &ScanContext, meta: Vec<MetaText>) -> ScanContext {
    ScanContext {
        method: ctx.method,
        user: ctx.user.clone(),
        groups: ctx.groups.clone(),
        meta,
        ..ScanContext::default()
    }
}

/// Scans one object fed in chunks of any size; plain text is scanned as it arrives in
/// bounded memory.
#[derive(Debug)]
pub struct Scanner {
    policy: Arc<Policy>,
    ctx: ScanContext,
    state: State,
    node: Node,
}

impl Scanner {
    /// Feeds the next bytes of the (de-chunked) body.
    pub fn feed(&mut self, chunk: &[u8]) {
        if let Some(p) = self.state.prints.as_deref_mut().filter(|p| p.wants_raw()) {
            p.raw(chunk);
        }
        self.state.budget.enter();
        let mut cx =
            Ctx { set: &self.policy.detectors, exempt: self.policy.exempt_file_types(), st: &mut self.state };
        self.node.write(&mut cx, chunk);
        self.state.budget.leave();
    }

    /// True when the object is of a kind that needs random access (zip, office, PDF,
    /// e-mail, RTF) and is being held in memory until [`finish`](Self::finish). A server that
    /// would rather spool large bodies to disk can stop feeding, write the body (including
    /// what it fed) to a file and call [`Engine::scan_reader`] instead. Plain text, encoded
    /// bodies, tar and multipart uploads never buffer.
    pub fn is_buffering(&self) -> bool {
        self.node.is_buffering()
    }

    /// True while the object streams as text (or is still being sniffed): each chunk then
    /// costs time in proportion to its size. Decoders, containers and held formats may cost
    /// far more per input byte, and are better fed off an async worker.
    pub fn is_plain_text(&self) -> bool {
        self.node.is_plain_text()
    }

    /// True once a could-not-scan reason is known; further input is ignored.
    pub fn is_stopped(&self) -> bool {
        self.state.budget.is_stopped()
    }

    /// Ends the body and decides.
    pub fn finish(mut self) -> Verdict {
        self.end();
        self.conclude()
    }

    /// Ends the body.
    fn end(&mut self) {
        self.state.budget.enter();
        let mut cx =
            Ctx { set: &self.policy.detectors, exempt: self.policy.exempt_file_types(), st: &mut self.state };
        self.node.finish(&mut cx);
        self.state.budget.leave();
    }

    /// Scans the context's meta texts, each as a member of its own.
    fn scan_meta(&mut self) {
        if self.ctx.meta.is_empty() {
            return;
        }
        let meta = std::mem::take(&mut self.ctx.meta);
        self.state.budget.enter();
        let mut cx =
            Ctx { set: &self.policy.detectors, exempt: self.policy.exempt_file_types(), st: &mut self.state };
        for m in &meta {
            let mut t = TextNode::new(Member { path: m.member(), depth: 0 }, Charset::Bytes, Markup::Plain);
            t.write(&mut cx, m.text.as_bytes());
            t.finish(&mut cx);
        }
        self.state.budget.leave();
        self.ctx.meta = meta;
    }

    fn with_ctx(&mut self, f: impl FnOnce(&mut Ctx<'_>, &Member)) {
        let m = Member { path: self.ctx.filename.clone().unwrap_or_default(), depth: 0 };
        self.state.budget.enter();
        let mut cx =
            Ctx { set: &self.policy.detectors, exempt: self.policy.exempt_file_types(), st: &mut self.state };
        f(&mut cx, &m);
        self.state.budget.leave();
    }

    fn conclude(self) -> Verdict {
        let subject =
            Subject { method: self.ctx.method, user: self.ctx.user.as_deref(), groups: &self.ctx.groups };
        let State { mut hits, mut budget, types, text_bytes, prints } = self.state;
        if let Some(p) = prints {
            let member = self.ctx.filename.as_deref().unwrap_or_default();
            p.conclude(self.policy.fingerprint_specs(), &mut hits, member);
        }
        decide(&self.policy, subject, hits, types, budget.stopped.take(), text_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine() -> Engine {
        Engine::new(Arc::new(Policy::builtin()), Limits::default())
    }

    #[test]
    fn a_request_line_is_scanned_without_a_body() {
        let ctx = ScanContext {
            url: Some("http://shop.example/pay?card=4111+1111+1111+1111&x=1".into()),
            meta: vec![MetaText::url("http://shop.example/pay?card=4111+1111+1111+1111&x=1")],
            ..ScanContext::default()
        };
        let v = engine().scanner(ctx.clone()).finish();
        assert!(v.is_block(), "{v:?}");
        assert_eq!(v.evidence[0].member, "(url)");
        assert_eq!(v.evidence[0].masked, "4111********1111");
        assert!(engine().finds(&ctx, &ctx.meta[0]));
        // The same URL without the card, and a file name with an SSN.
        let clean = ScanContext {
            meta: vec![MetaText::url("/pay?order=4111-1111-1111&x=1")],
            ..ScanContext::default()
        };
        assert!(!engine().scanner(clean.clone()).finish().is_block());
        assert!(!engine().finds(&clean, &clean.meta[0]));
        let named =
            ScanContext { meta: vec![MetaText::filename("ssn 123-45-6789.txt")], ..ScanContext::default() };
        let v = engine().scan_bytes(named, b"nothing here");
        assert!(v.is_block() && v.evidence[0].member == "(filename)", "{v:?}");
    }

    /// The server moves scanners between tokio worker threads and shares the engine.
    #[test]
    fn thread_safety() {
        fn send<T: Send>() {}
        fn send_sync<T: Send + Sync>() {}
        send::<Scanner>();
        send_sync::<Engine>();
        send_sync::<Policy>();
        send_sync::<Verdict>();
    }
}
