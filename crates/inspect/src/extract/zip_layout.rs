//! The byte layout of a zip archive, read from its raw records, for accounting: which bytes
//! the local headers, member data, data descriptors, central directory and end records
//! take, and the text those records carry besides member data (local names that differ
//! from the central ones, extra fields, entry comments, the archive comment).
//!
//! The zip crate extracts the members; this only measures. Anything it does not cover (a
//! prefix, gaps between members, data after the end record) is scanned as gaps.

use std::io::{Read, Seek, SeekFrom};

use super::coverage::Coverage;

/// Where one member lies, as the zip crate found it.
#[derive(Debug, Clone)]
pub(crate) struct EntryAt {
    pub header_start: u64,
    pub data_start: u64,
    pub compressed_size: u64,
    pub central_header_start: u64,
    /// The central directory's name, already scanned by the caller.
    pub name: Vec<u8>,
}

/// What the records of an archive take and the text they carry.
#[derive(Debug, Default)]
pub(crate) struct Layout {
    pub coverage: Coverage,
    /// Record text to scan: local names differing from central ones, extra fields, entry
    /// comments, the archive comment.
    pub text: Vec<u8>,
    /// Length of the whole object.
    pub len: u64,
}

/// Measures the records of an archive whose members are `entries`.
pub(crate) fn layout<R: Read + Seek>(r: &mut R, entries: &[EntryAt]) -> std::io::Result<Layout> {
    let mut out = Layout { len: r.seek(SeekFrom::End(0))?, ..Layout::default() };
    for e in entries {
        // Local header: 30 bytes, the name and the extra field, then the data.
        let local = read_at(r, e.header_start, 30)?;
        let (flags, name_len, extra_len) =
            (le16(&local, 6), usize::from(le16(&local, 26)), usize::from(le16(&local, 28)));
        let names = read_at(r, e.header_start + 30, name_len + extra_len)?;
        if names[..name_len.min(names.len())] != e.name[..] {
            push_text(&mut out.text, &names[..name_len.min(names.len())]);
        }
        push_text(&mut out.text, names.get(name_len..).unwrap_or_default());
        let data_end = e.data_start.saturating_add(e.compressed_size);
        out.coverage.add(e.header_start, data_end);
        if flags & 0x08 != 0 {
            out.coverage.add(data_end, data_end + descriptor_len(r, data_end, e.compressed_size)?);
        }
        // Central record: 46 bytes, name, extra field, comment.
        let central = read_at(r, e.central_header_start, 46)?;
        let (n, x, c) = (le16(&central, 28), le16(&central, 30), le16(&central, 32));
        let var = read_at(r, e.central_header_start + 46, usize::from(n) + usize::from(x) + usize::from(c))?;
        push_text(&mut out.text, var.get(usize::from(n)..).unwrap_or_default());
        out.coverage.add(e.central_header_start, e.central_header_start + 46 + var.len() as u64);
    }
    end_records(r, &mut out)?;
    Ok(out)
}

/// The end of central directory record (and its zip64 companions) and the archive comment.
fn end_records<R: Read + Seek>(r: &mut R, out: &mut Layout) -> std::io::Result<()> {
    let tail_len = out.len.min(65_557);
    let tail_start = out.len - tail_len;
    let tail = read_at(r, tail_start, tail_len as usize)?;
    let Some(e) = memchr::memmem::rfind(&tail, b"PK\x05\x06") else { return Ok(()) };
    let comment_len = tail.get(e + 20..e + 22).map_or(0, |c| usize::from(le16(c, 0)));
    let end = (e + 22 + comment_len).min(tail.len());
    push_text(&mut out.text, tail.get(e + 22..end).unwrap_or_default());
    let eocd = tail_start + e as u64;
    out.coverage.add(eocd, tail_start + end as u64);
    // zip64: a 20-byte locator just before, pointing at the zip64 end record.
    if e >= 20 && tail[e - 20..].starts_with(b"PK\x06\x07") {
        out.coverage.add(eocd - 20, eocd);
        let off = u64::from_le_bytes(tail[e - 12..e - 4].try_into().unwrap_or_default());
        if let Ok(rec) = read_at(r, off, 12) {
            if rec.starts_with(b"PK\x06\x06") {
                let size = u64::from_le_bytes(rec[4..12].try_into().unwrap_or_default());
                out.coverage.add(off, off.saturating_add(12).saturating_add(size).min(eocd - 20));
            }
        }
    }
    Ok(())
}

/// Length of the data descriptor after a member's data: an optional signature, the CRC, and
/// the sizes in 4 or (zip64) 8 bytes each.
fn descriptor_len<R: Read + Seek>(r: &mut R, at: u64, compressed: u64) -> std::io::Result<u64> {
    let d = read_at(r, at, 24).or_else(|_| read_at(r, at, 16)).or_else(|_| read_at(r, at, 12))?;
    let sig = if d.starts_with(b"PK\x07\x08") { 4 } else { 0 };
    let size32 = d.get(sig + 4..sig + 8).map(|b| u64::from(le32(b)));
    Ok(sig as u64
        + if size32 == Some(compressed & 0xFFFF_FFFF) && compressed < 0xFFFF_FFFF { 12 } else { 20 })
}

fn push_text(out: &mut Vec<u8>, t: &[u8]) {
    if !t.is_empty() {
        out.extend_from_slice(t);
        out.push(b'\n');
    }
}

fn read_at<R: Read + Seek>(r: &mut R, at: u64, n: usize) -> std::io::Result<Vec<u8>> {
    r.seek(SeekFrom::Start(at))?;
    let mut buf = vec![0u8; n];
    r.read_exact(&mut buf)?;
    Ok(buf)
}

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// Where the archive starts in the object: the end record says where the central directory
/// is relative to the archive's start, so any bytes before it (an installer stub, another
/// archive, a CSV) are a prefix. 0 when the records give no consistent answer (the zip crate
/// then finds its own way, and absolute offsets mean no prefix to speak of).
pub(crate) fn archive_start<R: Read + Seek>(r: &mut R) -> u64 {
    let find = |r: &mut R| -> std::io::Result<Option<u64>> {
        let len = r.seek(SeekFrom::End(0))?;
        let tail_len = len.min(65_557);
        let tail = read_at(r, len - tail_len, tail_len as usize)?;
        let Some(e) = memchr::memmem::rfind(&tail, b"PK\x05\x06") else { return Ok(None) };
        let Some(rec) = tail.get(e..e + 22) else { return Ok(None) };
        let (cd_size, cd_offset) = (le32(&rec[12..16]), le32(&rec[16..20]));
        if cd_size == u32::MAX || cd_offset == u32::MAX {
            return Ok(None);
        }
        let eocd = len - tail_len + e as u64;
        let Some(start) = eocd.checked_sub(u64::from(cd_size) + u64::from(cd_offset)) else {
            return Ok(None);
        };
        let consistent = cd_size == 0 || read_at(r, start + u64::from(cd_offset), 4)? == b"PK\x01\x02";
        Ok(consistent.then_some(start))
    };
    let start = find(r).ok().flatten().unwrap_or(0);
    let _ = r.seek(SeekFrom::Start(0));
    start
}

/// A window `start..start + len` of a reader, itself a reader that starts at 0.
#[derive(Debug)]
pub(crate) struct Window<R> {
    inner: R,
    start: u64,
    len: u64,
    pos: u64,
}

impl<R: Read + Seek> Window<R> {
    pub fn new(inner: R, start: u64, len: u64) -> Self {
        Self { inner, start, len, pos: 0 }
    }
}

impl<R: Read + Seek> Read for Window<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.len.saturating_sub(self.pos);
        let n = (buf.len() as u64).min(left) as usize;
        if n == 0 {
            return Ok(0);
        }
        self.inner.seek(SeekFrom::Start(self.start + self.pos))?;
        let got = self.inner.read(&mut buf[..n])?;
        self.pos += got as u64;
        Ok(got)
    }
}

impl<R: Read + Seek> Seek for Window<R> {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let target = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        let Some(p) = target else {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "seek before the start"));
        };
        self.pos = p;
        Ok(p)
    }
}
