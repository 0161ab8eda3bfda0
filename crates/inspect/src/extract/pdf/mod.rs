//! PDF: every byte of the file is read as text, decoded by a parser that accounts for it,
//! or the file cannot be scanned.
//!
//! - Pages are read through the page tree: content streams (an array of them read as one),
//!   with their fonts from the inherited resources, and the form XObjects they draw. The
//!   text is laid out by position (`layout`), not by the order of the operators.
//! - Streams no page reaches are read by what they are: other content (annotation
//!   appearances, unused pages), object streams (their objects' syntax), XMP metadata (as
//!   XML), embedded files (as members); images, font programs, cross-reference streams and
//!   streams behind an unknown filter are scanned as raw bytes after the filters that did
//!   decode. Bytes after a filter's end of data are scanned raw too.
//! - The syntax between streams (dictionaries with their strings, the Info dictionary,
//!   annotations, form fields, bookmarks, anything before `%PDF-` or after `%%EOF`) is
//!   scanned as text (`syntax`); cross-reference tables are left out.
//! - An encrypted document (a trailer with `/Encrypt`) cannot be scanned: what is in
//!   clear is scanned, then the verdict says why the rest was not.

mod cmap;
mod content;
mod crypt;
mod doc;
mod filters;
mod fonts;
mod glyphs;
mod layout;
mod lexer;
mod lzw;
mod object;
mod syntax;

use std::collections::HashSet;
use std::rc::Rc;

use super::{scan_member_bytes, Ctx, Member, TextNode};
use crate::identify::{Charset, Markup};
use content::Interp;
use doc::Doc;
use fonts::FontCache;
use object::{Dict, Obj};

/// The glyph names of printable ASCII, for the testkit's PDFs.
#[cfg(feature = "testkit")]
pub(crate) use glyphs::ASCII as ASCII_GLYPH_NAMES;

/// Pages followed through the page tree before the rest is read as orphan content.
const MAX_TREE_DEPTH: u32 = 64;
/// Text gathered before it is handed to the detectors.
const FLUSH_AT: usize = 1 << 20;

/// Scans a PDF held in memory.
pub(crate) fn scan_pdf(cx: &mut Ctx<'_>, data: &[u8], m: &Member) {
    let mut doc = Doc::read(cx, m, data);
    if cx.stopped() {
        return;
    }
    // Encrypted and not opened by the empty user password.
    let encrypted = doc.encrypted && doc.security.is_none();
    if !encrypted && !doc.read_object_streams(cx, m) {
        return;
    }
    let mut text = TextNode::new(m.clone(), Charset::Bytes, Markup::Plain);
    let mut out = Vec::new();
    let mut done = vec![false; doc.streams.len()];
    let mut fonts = FontCache::new(cx);
    let pages = if encrypted { Vec::new() } else { pages(&mut doc) };
    {
        let mut r = Interp::new(cx, m, &mut doc, &mut fonts, &mut done);
        for (contents, resources) in pages {
            if read_page(&mut r, &contents, resources).is_none() {
                return;
            }
            r.finish_page(&mut out);
            flush(r.cx, &mut text, &mut out, 0);
        }
        let mut embedded = 0;
        for i in 0..r.done.len() {
            if r.done[i] || r.cx.stopped() {
                continue;
            }
            if read_stream(&mut r, i, encrypted, &mut out, &mut embedded).is_none() {
                return;
            }
            flush(r.cx, &mut text, &mut out, FLUSH_AT);
        }
    }
    // The syntax between stream bodies.
    let mut from = 0;
    let ends: Vec<(usize, usize)> = doc.streams.iter().map(|s| (s.body.start, s.body.end)).collect();
    let clear = doc.clear_objects();
    let keys = doc.security.as_ref().map(|sec| syntax::StringKeys { sec, clear: &clear });
    for (start, end) in ends.into_iter().chain(std::iter::once((data.len(), data.len()))) {
        if from < start {
            syntax::gap_text(data, from..start, &doc.headers, keys.as_ref(), &mut out);
            flush(cx, &mut text, &mut out, FLUSH_AT);
        }
        from = from.max(end);
        if !cx.st.budget.check_time(&m.path) {
            return;
        }
    }
    flush(cx, &mut text, &mut out, 0);
    text.finish(cx);
    if encrypted {
        cx.encrypted(&m.path);
    }
}

fn flush(cx: &mut Ctx<'_>, text: &mut TextNode, out: &mut Vec<u8>, at: usize) {
    if out.len() >= at.max(1) {
        #[cfg(test)]
        tests::CAPTURE.with(|c| c.borrow_mut().extend_from_slice(out));
        text.write(cx, out);
        out.clear();
    }
}

/// Reads one page's content streams as one. `None` when a limit stopped the scan.
fn read_page(r: &mut Interp<'_, '_, '_>, contents: &[usize], resources: Option<Rc<Obj>>) -> Option<()> {
    let mut joined = Vec::new();
    for &i in contents {
        if r.done[i] {
            continue;
        }
        r.done[i] = true;
        let d = r.doc.stream_data(r.cx, r.m, i)?;
        for l in &d.leftovers {
            r.extra(l);
        }
        if d.undecoded || d.crypt {
            r.extra(&d.data);
        } else {
            joined.extend_from_slice(&d.data);
            joined.push(b'\n');
        }
        d.release(r.cx);
    }
    // The page's content is held while it is read, then given back.
    if !r.cx.st.budget.hold(joined.len() as u64, &r.m.path) {
        return None;
    }
    let done = r.read(&joined, resources).ok();
    r.cx.st.budget.release(joined.len() as u64);
    done
}

/// What a stream is, by its dictionary.
#[derive(Debug, PartialEq, Eq)]
enum Kind {
    ObjectStream,
    Embedded,
    Metadata,
    /// Binary data: images, font programs, cross-reference streams.
    Raw,
    Content,
}

fn kind(d: &Dict) -> Kind {
    let ty = d.get(b"Type").and_then(Obj::name);
    let sub = d.get(b"Subtype").and_then(Obj::name);
    match (ty, sub) {
        (Some(b"ObjStm"), _) => Kind::ObjectStream,
        (Some(b"EmbeddedFile"), _) => Kind::Embedded,
        (Some(b"Metadata"), _) | (_, Some(b"XML")) => Kind::Metadata,
        (Some(b"XRef"), _) | (_, Some(b"Image" | b"Type1C" | b"CIDFontType0C" | b"OpenType")) => Kind::Raw,
        _ if d.get(b"Length1").is_some() || d.get(b"Length2").is_some() => Kind::Raw,
        _ => Kind::Content,
    }
}

/// Reads a stream no page reached. `None` when a limit stopped the scan.
fn read_stream(
    r: &mut Interp<'_, '_, '_>,
    i: usize,
    encrypted: bool,
    out: &mut Vec<u8>,
    embedded: &mut u32,
) -> Option<()> {
    r.done[i] = true;
    let k = kind(&r.doc.streams[i].dict);
    if k == Kind::ObjectStream && !encrypted {
        if let Some(p) = r.doc.packed_text(i) {
            syntax::packed_text(p, out);
            out.push(b'\n');
            return Some(());
        }
    }
    if encrypted {
        let body = r.doc.streams[i].body.clone();
        out.extend_from_slice(&r.doc.data[body]);
        out.push(b'\n');
        return Some(());
    }
    let d = r.doc.stream_data(r.cx, r.m, i)?;
    for l in &d.leftovers {
        out.extend_from_slice(l);
        out.push(b'\n');
    }
    let read = read_decoded(r, i, k, &d, out, embedded);
    d.release(r.cx);
    read
}

/// Reads stream `i` of kind `k` once its filters have run.
fn read_decoded(
    r: &mut Interp<'_, '_, '_>,
    i: usize,
    k: Kind,
    d: &filters::Decoded<'_>,
    out: &mut Vec<u8>,
    embedded: &mut u32,
) -> Option<()> {
    if d.undecoded || d.crypt {
        out.extend_from_slice(&d.data);
        out.push(b'\n');
        return Some(());
    }
    match k {
        Kind::Embedded => {
            *embedded += 1;
            scan_member_bytes(r.cx, &d.data, r.m.child(&format!("embedded{embedded}")), None);
        }
        Kind::Metadata => scan_member_bytes(r.cx, &d.data, r.m.child("metadata"), None),
        Kind::Raw | Kind::ObjectStream => {
            out.extend_from_slice(&d.data);
            out.push(b'\n');
        }
        Kind::Content => {
            let resources = {
                let dict = r.doc.streams[i].dict.clone();
                r.doc.dict_at(&dict, b"Resources")
            };
            r.read(&d.data, resources).ok()?;
            r.finish_page(out);
        }
    }
    Some(())
}

/// The pages: those of the page tree in order, then page objects the tree does not reach
/// (a trailer we could not read, a page left out of the tree), with the resources of their
/// `/Parent` chain.
fn pages(doc: &mut Doc<'_>) -> Vec<(Vec<usize>, Option<Rc<Obj>>)> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    if let Some(root) = doc.root {
        let catalog = doc.object(root);
        if let Some(p) = catalog.dict().and_then(|c| c.get(b"Pages")) {
            walk(doc, p, None, 0, &mut seen, &mut out);
        }
    }
    for n in doc.page_objects() {
        if seen.contains(&n) {
            continue;
        }
        // Resources inherited along the parents (the nearest wins).
        let mut resources = None;
        let mut node = Obj::Ref(n);
        for _ in 0..MAX_TREE_DEPTH {
            let v = doc.val(&node);
            let Some(d) = v.dict().cloned() else { break };
            drop(v);
            if let Some(r) = doc.dict_at(&d, b"Resources") {
                resources = Some(r);
                break;
            }
            match d.get(b"Parent") {
                Some(p @ Obj::Ref(_)) => node = p.clone(),
                _ => break,
            }
        }
        walk(doc, &Obj::Ref(n), resources, 0, &mut seen, &mut out);
    }
    out
}

fn walk(
    doc: &mut Doc<'_>,
    node: &Obj,
    inherited: Option<Rc<Obj>>,
    depth: u32,
    seen: &mut HashSet<u32>,
    out: &mut Vec<(Vec<usize>, Option<Rc<Obj>>)>,
) {
    if depth > MAX_TREE_DEPTH || node.reference().is_some_and(|n| !seen.insert(n)) {
        return;
    }
    let v = doc.val(node);
    let Some(d) = v.dict().cloned() else { return };
    drop(v);
    let resources = doc.dict_at(&d, b"Resources").or(inherited);
    if let Some(kids) = d.get(b"Kids") {
        let kids = (*doc.val(kids)).clone();
        for k in kids.array().unwrap_or_default() {
            walk(doc, k, resources.clone(), depth + 1, seen, out);
        }
        return;
    }
    let contents = match d.get(b"Contents") {
        Some(Obj::Ref(n)) => match doc.object(*n).as_ref() {
            // `/Contents 5 0 R` where object 5 is an array of streams.
            Obj::Array(a) => a.iter().filter_map(Obj::reference).collect(),
            _ => vec![*n],
        },
        Some(Obj::Array(a)) => a.iter().filter_map(Obj::reference).collect(),
        _ => Vec::new(),
    };
    let streams = contents.into_iter().filter_map(|n| doc.stream_index(n)).collect();
    out.push((streams, resources));
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use crate::testkit::pdfkit::{pdf_case, PDF_CASES};

    thread_local! {
        /// The text a scan on this thread handed to the detectors.
        pub(super) static CAPTURE: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    }

    /// The text extracted from `data`.
    pub(crate) fn extracted(data: &[u8]) -> String {
        CAPTURE.with(|c| c.borrow_mut().clear());
        let engine =
            crate::Engine::new(std::sync::Arc::new(crate::Policy::builtin()), crate::Limits::default());
        engine.scan_bytes(crate::ScanContext::default(), data);
        CAPTURE.with(|c| String::from_utf8_lossy(&c.borrow()).into_owned())
    }

    /// The exact line must come out whole: no piece lost, no space added or dropped.
    #[test]
    fn every_construct_gives_the_line_whole() {
        let line = "Card: 4111 1111 1111 1111 end";
        for case in PDF_CASES {
            // Metadata and embedded files are members of their own.
            if matches!(*case, "xmp" | "embedded") {
                continue;
            }
            let t = extracted(&pdf_case(case, &[line, "second line (x)"]));
            assert!(t.contains(line), "{case}: {t}");
        }
    }
}
