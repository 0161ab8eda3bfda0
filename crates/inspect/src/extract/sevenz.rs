//! 7z archives from any `Read + Seek`, with `sevenz-rust2` (pure Rust: LZMA, LZMA2, PPMd,
//! bzip2, deflate, BCJ and delta filters).
//!
//! Every member is scanned as its own object and every name as text. Before anything is
//! decoded, the archive's declared sizes are judged against the limits: members, the
//! decompressed-bytes budget (a solid block is one stream; the reader must not be asked for
//! more than the budget allows), and the window limit for decoder dictionaries. Encrypted
//! data or headers are could-not-scan. The signature header, packed streams and header are
//! accounted for; any other bytes (a prefix is impossible, but data appended after the
//! header, or between the packed streams and the header) are scanned as gaps.

use std::io::{Read, Seek, SeekFrom};

use sevenz_rust2::{ArchiveReader, EntryDecision, Error, Password};

use super::coverage::{scan_gaps, scan_name, Coverage};
use super::{pump_member, Ctx, Member};
use crate::limits::LimitKind;

/// Size of the signature header at the start of every 7z archive.
const SIGNATURE_HEADER: u64 = 32;

/// Scans every member of a 7z archive.
pub(crate) fn scan_7z<R: Read + Seek>(cx: &mut Ctx<'_>, mut reader: R, m: &Member) {
    if m.depth >= cx.st.budget.limits.max_depth {
        cx.st.budget.limit(LimitKind::MaxDepth, &m.path);
        return;
    }
    let mem_kb = usize::try_from(cx.st.budget.limits.max_window_bytes / 1024).unwrap_or(usize::MAX);
    let mut ar = match ArchiveReader::new_with_memory_limit(&mut reader, Password::empty(), mem_kb) {
        Ok(a) => a,
        Err(e) => return failed(cx, m, e),
    };
    // The engine is single-threaded per object: no decoder threads.
    ar.set_thread_count(1);
    let archive = ar.archive();
    if archive.files.len() as u64 > cx.st.budget.limits.max_members {
        cx.st.budget.limit(LimitKind::MaxMembers, &m.path);
        return;
    }
    // The reader decodes a solid block as one stream: refuse what the budget cannot hold
    // before asking for any of it.
    let declared: u64 = archive.blocks.iter().map(|b| b.get_unpack_size()).fold(0, u64::saturating_add);
    if declared > cx.st.budget.limits.max_decompressed_bytes.saturating_sub(cx.st.budget.decompressed) {
        cx.st.budget.limit(LimitKind::MaxDecompressedBytes, &m.path);
        return;
    }
    if let Some(i) = (0..archive.files.len()).find(|&i| archive.is_file_encrypted(i)) {
        let name = archive.files[i].name.clone();
        cx.encrypted(&m.child(&name).path);
        return;
    }
    // The blocks are decoded one after another, each by coders that hold their dictionary
    // (or model) whole: the largest block's is held while entries are read.
    let window =
        archive.blocks.iter().map(block_memory).max().unwrap_or(0).min(cx.st.budget.limits.max_window_bytes);
    if !cx.st.budget.hold(window, &m.path) {
        return;
    }
    let packed: u64 = archive.pack_sizes().iter().fold(0, |a, &b| a.saturating_add(b));
    let pack_pos = archive.pack_pos();
    let mut index = 0u64;
    let r = ar.for_each_entries_with_decision(|entry, data| {
        // Every entry comes here, directories and empty files included: each name is text.
        let label = scan_name(cx, m, &entry.name, index);
        index += 1;
        if cx.stopped() {
            return Ok(EntryDecision::Stop);
        }
        if entry.is_directory || !entry.has_stream {
            return Ok(EntryDecision::Continue);
        }
        // The compressed size of one member of a solid block is unknown: its ratio is
        // judged against the whole archive's packed size.
        pump_member(cx, data, m.child(&label), Some(packed.max(entry.compressed_size)));
        Ok(if cx.stopped() { EntryDecision::Stop } else { EntryDecision::Continue })
    });
    drop(ar);
    cx.st.budget.release(window);
    if cx.stopped() {
        return;
    }
    if let Err(e) = r {
        return failed(cx, m, e);
    }
    let mut coverage = Coverage::default();
    match account(&mut reader, pack_pos, packed, &mut coverage) {
        Ok(len) => scan_gaps(cx, &mut reader, &mut coverage, len, m),
        Err(e) => cx.corrupt(&m.path, format!("7z: {e}")),
    }
}

/// Records the signature header, the packed streams and the header as consumed; returns
/// the object's length.
/// What the decoders of one block allocate: LZMA and LZMA2 dictionaries and PPMd models, as
/// their properties declare them.
fn block_memory(block: &sevenz_rust2::Block) -> u64 {
    let le32 = |p: &[u8]| p.get(1..5).map_or(0, |b| u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])));
    block
        .coders
        .iter()
        .map(|c| {
            let p = c.properties();
            match c.encoder_method_id() {
                // LZMA (03 01 01) and PPMd (03 04 01): a 32-bit size after one byte.
                [3, 1, 1] | [3, 4, 1] => le32(p),
                // LZMA2 (21): one byte encodes the dictionary size.
                [0x21] => match p.first() {
                    Some(&d) if d < 40 => u64::from(2 | (d & 1)) << (d / 2 + 11),
                    Some(_) => u64::from(u32::MAX),
                    None => 0,
                },
                _ => 0,
            }
        })
        .fold(0, u64::saturating_add)
}

fn account<R: Read + Seek>(
    reader: &mut R,
    pack_pos: u64,
    packed: u64,
    coverage: &mut Coverage,
) -> std::io::Result<u64> {
    let len = reader.seek(SeekFrom::End(0))?;
    reader.seek(SeekFrom::Start(0))?;
    let mut start = [0u8; SIGNATURE_HEADER as usize];
    reader.read_exact(&mut start)?;
    let le = |r: std::ops::Range<usize>| start[r].iter().rev().fold(0u64, |a, &b| a << 8 | u64::from(b));
    let (next_offset, next_size) = (le(12..20), le(20..28));
    coverage.add(0, SIGNATURE_HEADER);
    let header_start = SIGNATURE_HEADER.saturating_add(next_offset);
    coverage.add(header_start, header_start.saturating_add(next_size));
    let packed_start = SIGNATURE_HEADER.saturating_add(pack_pos);
    coverage.add(packed_start, packed_start.saturating_add(packed));
    // A compressed header keeps its packed stream between the data and the header: it is
    // left to the gap scan (as raw bytes it holds nothing readable).
    Ok(len)
}

fn failed(cx: &mut Ctx<'_>, m: &Member, e: Error) {
    match e {
        Error::PasswordRequired | Error::MaybeBadPassword(_) => cx.encrypted(&m.path),
        Error::MaxMemLimited { .. } => cx.st.budget.limit(LimitKind::MaxWindowBytes, &m.path),
        Error::UnsupportedCompressionMethod(method) => {
            cx.st.budget.stop(crate::limits::CouldNotScan::Unsupported {
                member: m.path.clone(),
                format: format!("7z method {method}"),
            })
        }
        e => cx.corrupt(&m.path, format!("7z: {e}")),
    }
}
