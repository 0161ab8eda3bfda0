//! Zip (and the office formats built on it) from any `Read + Seek`.

use std::io::{Read, Seek};

use zip::result::ZipError;
use zip::{CompressionMethod, ZipArchive};

use super::coverage::{scan_gaps, scan_name};
use super::zip_layout::{self, EntryAt, Window};
use super::{office, pump_decoded, pump_member, Ctx, Member, TextNode};
use super::{zip_methods, zip_salvage};
use crate::decode::Format;
use crate::identify::{Charset, FileType, Markup};
use crate::limits::{CouldNotScan, LimitKind};

/// Scans every member of a zip archive; names office formats by their structure.
///
/// Member names, entry comments, extra fields and the archive comment are scanned as text,
/// and every byte outside the records and member data the archive declares (a prefix, gaps
/// between members, data after the end record) as a sniffed member of its own.
pub(crate) fn scan_zip<R: Read + Seek>(cx: &mut Ctx<'_>, mut reader: R, m: &Member) {
    if m.depth >= cx.st.budget.limits.max_depth {
        cx.st.budget.limit(LimitKind::MaxDepth, &m.path);
        return;
    }
    // The zip crate reserves room for every entry the directory claims: judge the claim
    // against the members limit first, so a forged count cannot ask for gigabytes.
    if let Some(n) = declared_entries(&mut reader) {
        if n > cx.st.budget.limits.max_members {
            cx.st.budget.limit(LimitKind::MaxMembers, &m.path);
            return;
        }
    }
    // Bytes before the archive's start are a prefix, scanned as a gap; the zip crate sees
    // the archive alone.
    let start = zip_layout::archive_start(&mut reader);
    let len = match reader.seek(std::io::SeekFrom::End(0)) {
        Ok(len) => len,
        Err(e) => return cx.corrupt(&m.path, format!("zip: {e}")),
    };
    let mut window = Window::new(&mut reader, start, len - start.min(len));
    let mut za = match ZipArchive::new(&mut window) {
        Ok(z) => z,
        Err(e) => {
            zip_salvage::local_entries(cx, &mut window, m);
            cx.corrupt(&m.path, format!("zip: {e}"));
            return;
        }
    };
    // An exempt archive or document (it opened, so its structure holds): member contents
    // are skipped; names, records and gaps are still scanned.
    let office = office_type(&mut za);
    let exempt = match office {
        Some(t) => {
            cx.st.types.insert(t);
            cx.exempt.contains(&t)
        }
        None => cx.exempt.contains(&FileType::Zip),
    };
    // An office document's parts go to the office readers, which know where text hides.
    let dialect = match office {
        Some(t) if !exempt => match office::package_dialect(cx, &mut za, m, t) {
            Some(d) => Some(d),
            None => return,
        },
        _ => None,
    };
    // Where each member lies, and its name (text someone chose).
    let mut entries = Vec::with_capacity(za.len());
    let mut labels = Vec::with_capacity(za.len());
    for i in 0..za.len() {
        let f = match za.by_index_raw(i) {
            Ok(f) => f,
            Err(e) => return cx.corrupt(&m.path, format!("zip member {i}: {e}")),
        };
        let label = scan_name(cx, m, f.name(), i as u64);
        if f.encrypted() {
            return cx.encrypted(&m.child(&label).path);
        }
        entries.push(EntryAt {
            header_start: start + f.header_start(),
            data_start: start + f.data_start(),
            compressed_size: f.compressed_size(),
            central_header_start: start + f.central_header_start(),
            name: f.name_raw().to_vec(),
        });
        labels.push(label);
    }
    for (i, label) in labels.iter().enumerate() {
        if cx.stopped() {
            return;
        }
        if exempt {
            break;
        }
        let method = match za.by_index_raw(i) {
            Ok(f) if f.is_dir() => continue,
            Ok(f) => f.compression(),
            Err(e) => return cx.corrupt(&m.path, format!("zip member {i}: {e}")),
        };
        let child = m.child(label);
        // Methods the zip crate is built without, read with the engine's own decoders.
        let own = if method == CompressionMethod::BZIP2 {
            Some(Format::Bzip2)
        } else if method == CompressionMethod::ZSTD {
            Some(Format::Zstd)
        } else if method == CompressionMethod::XZ {
            Some(Format::Xz)
        } else if method == CompressionMethod::STORE
            || method == CompressionMethod::DEFLATE
            || method == CompressionMethod::DEFLATE64
        {
            None
        } else if method == CompressionMethod::LZMA || method == CompressionMethod::PPMD {
            let id = if method == CompressionMethod::LZMA { zip_methods::LZMA } else { zip_methods::PPMD };
            match za.by_index_raw(i) {
                Ok(mut f) => {
                    let (size, compressed) = (f.size(), f.compressed_size());
                    let max_window = cx.st.budget.limits.max_window_bytes;
                    match zip_methods::open(id, Box::new(&mut f), size, max_window) {
                        Ok(mut opened) => {
                            if !cx.st.budget.hold(opened.memory, &child.path) {
                                return;
                            }
                            pump_member(cx, &mut opened.reader, child, Some(compressed));
                            cx.st.budget.release(opened.memory);
                        }
                        Err(zip_methods::Refusal::Memory(_)) => {
                            return cx.st.budget.limit(LimitKind::MaxWindowBytes, &child.path);
                        }
                        Err(zip_methods::Refusal::Corrupt(e)) => return cx.corrupt(&child.path, e),
                    }
                }
                Err(e) => return cx.corrupt(&m.path, format!("zip member {i}: {e}")),
            }
            continue;
        } else {
            return cx.st.budget.stop(CouldNotScan::Unsupported {
                member: child.path,
                format: format!("zip compression method {method}"),
            });
        };
        let r = match own {
            Some(format) => za.by_index_raw(i).map(|mut f| pump_decoded(cx, &mut f, child, format)),
            None => za.by_index(i).map(|mut f| {
                let compressed = f.compressed_size();
                match &dialect {
                    Some(d) => {
                        let name = f.name().to_string();
                        office::scan_part(cx, &mut f, &name, child, Some(compressed), d);
                    }
                    None => pump_member(cx, &mut f, child, Some(compressed)),
                }
            }),
        };
        match r {
            Ok(()) => {}
            Err(ZipError::UnsupportedArchive(msg)) if msg == ZipError::PASSWORD_REQUIRED => {
                return cx.encrypted(&m.path);
            }
            Err(e) => return cx.corrupt(&m.path, format!("zip member {i}: {e}")),
        }
    }
    drop(za);
    if cx.stopped() {
        return;
    }
    let mut layout = match zip_layout::layout(&mut reader, &entries) {
        Ok(l) => l,
        Err(e) => return cx.corrupt(&m.path, format!("zip records: {e}")),
    };
    if !layout.text.is_empty() {
        let mut t = TextNode::new(m.child("(zip records)"), Charset::Bytes, Markup::Plain);
        t.write(cx, &layout.text);
        t.finish(cx);
    }
    scan_gaps(cx, &mut reader, &mut layout.coverage, layout.len, m);
}

/// The entry count an archive's end-of-central-directory record (or its zip64 version)
/// declares. Leaves the reader at the start.
fn declared_entries<R: Read + Seek>(r: &mut R) -> Option<u64> {
    use std::io::SeekFrom;
    let len = r.seek(SeekFrom::End(0)).ok()?;
    let tail_len = len.min(65_557);
    r.seek(SeekFrom::Start(len - tail_len)).ok()?;
    let mut tail = vec![0u8; tail_len as usize];
    let ok = r.read_exact(&mut tail).is_ok();
    let result = (|| {
        if !ok {
            return None;
        }
        let e = memchr::memmem::rfind(&tail, b"PK\x05\x06")?;
        let entries = u16::from_le_bytes([*tail.get(e + 10)?, *tail.get(e + 11)?]);
        if entries != 0xFFFF {
            return Some(u64::from(entries));
        }
        // zip64: the locator just before points at the zip64 record.
        let loc = memchr::memmem::rfind(&tail[..e], b"PK\x06\x07")?;
        let off = u64::from_le_bytes(tail.get(loc + 8..loc + 16)?.try_into().ok()?);
        r.seek(SeekFrom::Start(off)).ok()?;
        let mut rec = [0u8; 40];
        r.read_exact(&mut rec).ok()?;
        if &rec[..4] != b"PK\x06\x06" {
            return None;
        }
        Some(u64::from_le_bytes(rec[32..40].try_into().ok()?))
    })();
    r.seek(SeekFrom::Start(0)).ok()?;
    result
}

fn office_type<R: Read + Seek>(za: &mut ZipArchive<R>) -> Option<FileType> {
    let names: Vec<&str> = za.file_names().collect();
    if names.contains(&"[Content_Types].xml") {
        let t = if names.iter().any(|n| n.starts_with("word/")) {
            FileType::Docx
        } else if names.iter().any(|n| n.starts_with("xl/")) {
            FileType::Xlsx
        } else if names.iter().any(|n| n.starts_with("ppt/")) {
            FileType::Pptx
        } else {
            return None;
        };
        return Some(t);
    }
    if !names.contains(&"mimetype") {
        return None;
    }
    let mut f = za.by_name("mimetype").ok()?;
    let mut s = String::new();
    f.by_ref().take(100).read_to_string(&mut s).ok()?;
    match s.trim() {
        "application/vnd.oasis.opendocument.text" => Some(FileType::Odt),
        "application/vnd.oasis.opendocument.spreadsheet" => Some(FileType::Ods),
        "application/vnd.oasis.opendocument.presentation" => Some(FileType::Odp),
        _ => None,
    }
}
