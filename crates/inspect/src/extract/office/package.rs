//! OOXML and OpenDocument packages: every XML part through the office XML reader, every
//! other member (media, embedded objects, binary parts) through [`scan_stream`]: the
//! generic pipeline for what it recognises, raw bytes plus UTF-16 runs for the rest.

use std::io::{Read, Seek};
use std::sync::Arc;

use zip::ZipArchive;

use super::numfmt::CellFormats;
use super::xml::{scan_xml, Dialect};
use super::{meter, RawSink};
use crate::extract::{Ctx, Member, Node};
use crate::identify::{identify, Charset, FileType, Kind, SNIFF_LEN};

/// The most of an OpenDocument manifest read to find its encryption entries.
const MAX_MANIFEST: u64 = 4 << 20;

/// How the parts of an office package are read: its vocabulary, and a workbook's number
/// formats (read first, wherever the styles part lies in the zip: the sheets' numeric cells
/// are read as their formats show them).
#[derive(Debug)]
pub(crate) struct Package {
    dialect: Dialect,
    formats: Option<Arc<CellFormats>>,
}

/// How the parts of an office package of type `t` are read, or `None` when the package is
/// encrypted (reported): a password-protected OpenDocument file is a plain zip whose parts
/// are encrypted one by one, and only its manifest says so.
pub(crate) fn package_dialect<R: Read + Seek>(
    cx: &mut Ctx<'_>,
    za: &mut ZipArchive<R>,
    m: &Member,
    t: FileType,
) -> Option<Package> {
    let dialect = match t {
        FileType::Odt | FileType::Ods | FileType::Odp => Dialect::Odf,
        _ => Dialect::Ooxml,
    };
    if dialect == Dialect::Odf && odf_encrypted(za) {
        cx.encrypted(&m.path);
        return None;
    }
    // A workbook's styles (their first MAX_STYLES bytes), before any sheet; the part is
    // scanned again in its turn like any other.
    let formats = match za.by_name("xl/styles.xml") {
        Ok(f) if dialect == Dialect::Ooxml => {
            Some(CellFormats::read(f)).filter(|f| !f.is_empty()).map(Arc::new)
        }
        _ => None,
    };
    Some(Package { dialect, formats })
}

/// Scans one member (`name`, already decompressed by `src`) of an office package: XML parts
/// through the office XML reader, everything else through [`scan_stream`]. The zip walker
/// accounts for the package's records, names and gaps.
pub(crate) fn scan_part(
    cx: &mut Ctx<'_>,
    src: &mut dyn Read,
    name: &str,
    child: Member,
    compressed: Option<u64>,
    package: &Package,
) {
    if !cx.st.budget.add_member(&child.path) {
        return;
    }
    if is_xml_part(name) {
        scan_xml_part(cx, src, &child, compressed, package);
    } else {
        scan_stream(cx, src, child, compressed);
    }
}

fn is_xml_part(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    [".xml", ".rels", ".vml", ".rdf"].iter().any(|e| lower.ends_with(e))
}

/// An XML part: its head decides; a part that does not look like text (a renamed binary)
/// goes the generic way.
fn scan_xml_part(
    cx: &mut Ctx<'_>,
    src: &mut dyn Read,
    m: &Member,
    compressed: Option<u64>,
    package: &Package,
) {
    let mut head = Vec::with_capacity(SNIFF_LEN);
    if let Err(e) = (&mut *src).take(SNIFF_LEN as u64).read_to_end(&mut head) {
        cx.corrupt(&m.path, e.to_string());
        return;
    }
    if !meter(cx, m, head.len(), head.len() as u64, compressed) {
        return;
    }
    match identify(&head, None) {
        Kind::Text(Charset::Bytes, _) => {
            scan_xml(cx, src, m, compressed, package.dialect, package.formats.clone(), head)
        }
        _ => stream_rest(cx, src, m.clone(), head, compressed),
    }
}

/// A member no office parser reads: sniffed; containers, documents and text go through the
/// generic pipeline, other binaries are scanned as raw bytes plus UTF-16 runs (binary
/// parts such as xlsb's keep their strings in UTF-16).
pub(super) fn scan_stream(cx: &mut Ctx<'_>, src: &mut dyn Read, m: Member, compressed: Option<u64>) {
    let mut head = Vec::with_capacity(SNIFF_LEN);
    if let Err(e) = (&mut *src).take(SNIFF_LEN as u64).read_to_end(&mut head) {
        cx.corrupt(&m.path, e.to_string());
        return;
    }
    if !meter(cx, &m, head.len(), head.len() as u64, compressed) {
        return;
    }
    stream_rest(cx, src, m, head, compressed);
}

pub(super) fn stream_rest(
    cx: &mut Ctx<'_>,
    src: &mut dyn Read,
    m: Member,
    head: Vec<u8>,
    compressed: Option<u64>,
) {
    enum Out {
        Raw(Box<RawSink>),
        Node(Box<Node>),
    }
    let mut out = if identify(&head, None) == Kind::Raw(FileType::Binary) {
        cx.st.types.insert(FileType::Binary);
        if cx.exempt.contains(&FileType::Binary) {
            return;
        }
        Out::Raw(Box::new(RawSink::new(&m)))
    } else {
        Out::Node(Box::new(Node::new(m.clone(), None)))
    };
    let write = |cx: &mut Ctx<'_>, out: &mut Out, data: &[u8]| match out {
        Out::Raw(r) => r.push(cx, data),
        Out::Node(n) => n.write(cx, data),
    };
    write(cx, &mut out, &head);
    let mut produced = head.len() as u64;
    let mut buf = vec![0u8; 64 * 1024];
    let mut failure = None;
    loop {
        match src.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                produced += n as u64;
                if !meter(cx, &m, n, produced, compressed) {
                    return;
                }
                write(cx, &mut out, &buf[..n]);
                if cx.stopped() {
                    return;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                failure = Some(e.to_string());
                break;
            }
        }
    }
    match &mut out {
        Out::Raw(r) => r.finish(cx),
        Out::Node(n) => n.finish(cx),
    }
    if let Some(e) = failure {
        cx.corrupt(&m.path, e);
    }
}

/// Whether an OpenDocument manifest lists encrypted parts (`manifest:encryption-data`).
fn odf_encrypted<R: Read + Seek>(za: &mut ZipArchive<R>) -> bool {
    let Ok(f) = za.by_name("META-INF/manifest.xml") else {
        return false;
    };
    let mut manifest = Vec::new();
    if f.take(MAX_MANIFEST).read_to_end(&mut manifest).is_err() {
        return false;
    }
    memchr::memmem::find(&manifest, b"encryption-data").is_some()
}
