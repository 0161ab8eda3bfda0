//! A zip whose central directory cannot be read (cut short in transit, damaged, or forged)
//! is still read member by member from its local headers, so that what it holds is
//! inspected before the archive is called corrupt: with `could_not_scan = "allow"` a value
//! in a damaged archive must block all the same.

use std::io::{Read, Seek, SeekFrom};

use super::coverage::scan_name;
use super::{pump_decoded, pump_member, Ctx, Member};
use crate::decode::Format;

/// Length of a local file header before its name and extra field.
const LOCAL_HEADER: usize = 30;

/// Reads the local entries of `r` (the archive alone, from offset 0) in order, until one
/// does not parse, is encrypted, or its end cannot be known. Returns how many were read.
pub(crate) fn local_entries<R: Read + Seek>(cx: &mut Ctx<'_>, r: &mut R, m: &Member) -> u64 {
    let Ok(len) = r.seek(SeekFrom::End(0)) else { return 0 };
    let mut at = 0u64;
    let mut index = 0u64;
    while !cx.stopped() {
        let Some(entry) = local_header(r, at) else { break };
        if entry.flags & 1 != 0 {
            break;
        }
        let label = scan_name(cx, m, &String::from_utf8_lossy(&entry.name), index);
        let child = m.child(&format!("(damaged archive) {label}"));
        // A size the header does not give (it is in a descriptor after the data) is the
        // rest of the archive; the decoders stop at their stream's end.
        let known = entry.flags & 0x08 == 0 || entry.compressed != 0;
        let size = if known {
            entry.compressed.min(len.saturating_sub(entry.data_start))
        } else {
            len - entry.data_start
        };
        if r.seek(SeekFrom::Start(entry.data_start)).is_err() {
            break;
        }
        let mut data = (&mut *r).take(size);
        match entry.method {
            0 => pump_member(cx, &mut data, child, None),
            8 => pump_decoded(cx, &mut data, child, Format::Deflate),
            12 => pump_decoded(cx, &mut data, child, Format::Bzip2),
            93 => pump_decoded(cx, &mut data, child, Format::Zstd),
            95 => pump_decoded(cx, &mut data, child, Format::Xz),
            _ => break,
        }
        index += 1;
        if !known {
            break;
        }
        at = entry.data_start.saturating_add(entry.compressed);
        // A data descriptor (signature optional) after the data.
        if entry.flags & 0x08 != 0 {
            at += if starts_with(r, at, b"PK\x07\x08") { 16 } else { 12 };
        }
    }
    index
}

/// What a local header says.
struct LocalEntry {
    flags: u16,
    method: u16,
    compressed: u64,
    name: Vec<u8>,
    data_start: u64,
}

fn local_header<R: Read + Seek>(r: &mut R, at: u64) -> Option<LocalEntry> {
    r.seek(SeekFrom::Start(at)).ok()?;
    let mut h = [0u8; LOCAL_HEADER];
    r.read_exact(&mut h).ok()?;
    if !h.starts_with(b"PK\x03\x04") {
        return None;
    }
    let le16 = |i: usize| u16::from_le_bytes([h[i], h[i + 1]]);
    let (name_len, extra_len) = (usize::from(le16(26)), u64::from(le16(28)));
    let mut name = vec![0u8; name_len];
    r.read_exact(&mut name).ok()?;
    Some(LocalEntry {
        flags: le16(6),
        method: le16(8),
        compressed: u64::from(u32::from_le_bytes([h[18], h[19], h[20], h[21]])),
        name,
        data_start: at + LOCAL_HEADER as u64 + name_len as u64 + extra_len,
    })
}

fn starts_with<R: Read + Seek>(r: &mut R, at: u64, sig: &[u8; 4]) -> bool {
    let mut b = [0u8; 4];
    r.seek(SeekFrom::Start(at)).is_ok() && r.read_exact(&mut b).is_ok() && &b == sig
}
