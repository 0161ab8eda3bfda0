//! PowerPoint 97-2003 presentations (the `PowerPoint Document` stream).
//!
//! The stream is a tree of records (containers hold records, atoms hold data). Every text
//! atom is read wherever it sits, which covers slides, notes, masters and layouts, outline
//! text, comments (author and text), and names: `TextCharsAtom` (UTF-16), `TextBytesAtom`
//! (8-bit) and `CString` atoms. Embedded OLE objects (`ExOleObjStg`, zlib-compressed or not)
//! go through the pipeline. Other atoms are scanned raw. An encrypted presentation says so
//! in its `Current User` stream (and has a `CryptSession10Container`); a record that overruns
//! its container is damage, and the rest of that container is scanned raw.

use std::io::Read;

use super::bytes::{u16_at, u32_at, utf16le_to_utf8};
use super::ole::Outcome;
use super::{meter, scan_opaque, RawSink, Sink};
use crate::extract::{Ctx, Member};

const TEXT_CHARS: u16 = 0x0FA0;
const TEXT_BYTES: u16 = 0x0FA8;
const CSTRING: u16 = 0x0FBA;
const CRYPT_SESSION: u16 = 0x2F14;
const EX_OLE_OBJ_STG: u16 = 0x1011;
/// `headerToken` of an encrypted presentation's `CurrentUserAtom`.
const ENCRYPTED_TOKEN: u32 = 0xF3D1_C4DF;
/// Container nesting followed; deeper containers are scanned raw.
const MAX_DEPTH: usize = 64;
/// Records between two CPU-time checks.
const RECORDS_PER_CHECK: usize = 8192;

/// Scans a `PowerPoint Document` stream; `user` is the `Current User` stream.
pub(super) fn scan(cx: &mut Ctx<'_>, m: &Member, data: &[u8], user: Option<&[u8]>) -> Outcome {
    if user.and_then(|u| u32_at(u, 12)) == Some(ENCRYPTED_TOKEN) {
        return Outcome::Encrypted;
    }
    let mut text = Sink::new(m);
    let mut raw = RawSink::new(m);
    let outcome = walk(cx, m, data, &mut text, &mut raw);
    text.finish(cx);
    raw.finish(cx);
    outcome
}

fn walk(cx: &mut Ctx<'_>, m: &Member, data: &[u8], text: &mut Sink, raw: &mut RawSink) -> Outcome {
    // Ends of the open containers; the stream itself is the outermost.
    let mut ends = vec![data.len()];
    let mut at = 0usize;
    let mut damage = None;
    let mut count = 0usize;
    let mut objects = 0usize;
    let mut out = Vec::new();
    while let Some(&end) = ends.last() {
        if at >= end {
            ends.pop();
            continue;
        }
        count += 1;
        if count.is_multiple_of(RECORDS_PER_CHECK) && !cx.st.budget.check_time(&m.path) {
            return Outcome::Done;
        }
        let header = (u16_at(data, at), u16_at(data, at + 2), u32_at(data, at + 4));
        let (Some(ver_inst), Some(ty), Some(len)) = header else {
            raw.blob(cx, &data[at..end]);
            at = end;
            continue;
        };
        let body_at = at + 8;
        let Some(body_end) = body_at.checked_add(len as usize).filter(|&e| e <= end) else {
            damage.get_or_insert_with(|| format!("record {ty:#06x} at {at} overruns its container"));
            raw.blob(cx, &data[at..end]);
            at = end;
            continue;
        };
        if ty == CRYPT_SESSION {
            return Outcome::Encrypted;
        }
        if ver_inst & 0x000F == 0x000F && ends.len() < MAX_DEPTH {
            ends.push(body_end);
            at = body_at;
            continue;
        }
        let body = &data[body_at..body_end];
        out.clear();
        match ty {
            TEXT_CHARS | CSTRING => {
                utf16le_to_utf8(body, &mut out);
                text.value(cx, &out);
            }
            TEXT_BYTES => {
                for &b in body {
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(char::from(b).encode_utf8(&mut buf).as_bytes());
                }
                text.value(cx, &out);
            }
            EX_OLE_OBJ_STG => {
                objects += 1;
                let om = m.child(&format!("object{objects}"));
                if ver_inst >> 4 == 1 {
                    // u32 decompressed size, then a zlib stream.
                    let z = body.get(4..).unwrap_or(&[]);
                    match inflate(cx, &om, z) {
                        Some((d, true)) => scan_opaque(cx, &d, om),
                        Some((d, false)) => {
                            damage.get_or_insert_with(|| format!("{}: zlib stream", om.path));
                            raw.blob(cx, z);
                            scan_opaque(cx, &d, om);
                        }
                        None => return Outcome::Done,
                    }
                } else {
                    scan_opaque(cx, body, om);
                }
            }
            _ => raw.blob(cx, body),
        }
        at = body_end;
    }
    match damage {
        Some(d) => Outcome::Damaged(d),
        None => Outcome::Done,
    }
}

/// A zlib stream, decompressed within the extraction limits: what it produced, and whether
/// it ended cleanly. `None` when a limit stopped the scan.
pub(super) fn inflate(cx: &mut Ctx<'_>, m: &Member, z: &[u8]) -> Option<(Vec<u8>, bool)> {
    let mut d = flate2::read::ZlibDecoder::new(z);
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match d.read(&mut buf) {
            Ok(0) => return Some((out, true)),
            Ok(n) => {
                if !meter(cx, m, n, (out.len() + n) as u64, Some(z.len() as u64)) {
                    return None;
                }
                if (out.len() + n) as u64 > cx.st.budget.limits.max_buffered_bytes {
                    cx.st.budget.limit(crate::limits::LimitKind::MaxBufferedBytes, &m.path);
                    return None;
                }
                out.extend_from_slice(&buf[..n]);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return Some((out, false)),
        }
    }
}
