//! Archives: zip (and the office formats built on it) from any `Read + Seek`, and tar as a
//! streaming push parser.

use std::io::{Read, Seek};

use zip::result::ZipError;
use zip::ZipArchive;

use super::{pump_member, Ctx, Member, Node};
use crate::identify::FileType;
use crate::limits::LimitKind;

/// Scans every member of a zip archive; names office formats by their structure.
pub(crate) fn scan_zip<R: Read + Seek>(cx: &mut Ctx<'_>, reader: R, m: &Member) {
    if m.depth >= cx.st.budget.limits.max_depth {
        cx.st.budget.limit(LimitKind::MaxDepth, &m.path);
        return;
    }
    // The zip crate reserves room for every entry the directory claims: judge the claim
    // against the members limit first, so a forged count cannot ask for gigabytes.
    let mut reader = reader;
    if let Some(n) = declared_entries(&mut reader) {
        if n > cx.st.budget.limits.max_members {
            cx.st.budget.limit(LimitKind::MaxMembers, &m.path);
            return;
        }
    }
    let mut za = match ZipArchive::new(reader) {
        Ok(z) => z,
        Err(e) => {
            cx.corrupt(&m.path, format!("zip: {e}"));
            return;
        }
    };
    if let Some(t) = office_type(&mut za) {
        cx.st.types.insert(t);
        if cx.exempt.contains(&t) {
            return;
        }
        super::office::scan_package(cx, &mut za, m, t);
        return;
    }
    for i in 0..za.len() {
        if cx.stopped() {
            return;
        }
        let mut f = match za.by_index(i) {
            Ok(f) => f,
            Err(ZipError::UnsupportedArchive(msg)) if msg == ZipError::PASSWORD_REQUIRED => {
                cx.encrypted(&m.path);
                return;
            }
            Err(e) => {
                cx.corrupt(&m.path, format!("zip member {i}: {e}"));
                return;
            }
        };
        if f.is_dir() {
            continue;
        }
        let child = m.child(&sanitize(f.name()));
        let compressed = f.compressed_size();
        pump_member(cx, &mut f, child, Some(compressed));
    }
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

/// Member names go into evidence and logs: keep them printable and short.
fn sanitize(name: &str) -> String {
    name.chars().map(|c| if c.is_control() { '?' } else { c }).take(256).collect()
}

#[derive(Debug)]
enum TarState {
    Header,
    Data { left: u64, pad: u64, child: Option<Box<Node>>, long_name: Option<Vec<u8>> },
    Pad(u64),
    End,
}

/// A streaming tar reader: 512-byte headers, member data into child nodes.
#[derive(Debug)]
pub(crate) struct TarNode {
    m: Member,
    header: Vec<u8>,
    state: TarState,
    next_name: Option<String>,
    zero_blocks: u32,
}

impl TarNode {
    pub fn new(m: Member) -> Self {
        Self { m, header: Vec::with_capacity(512), state: TarState::Header, next_name: None, zero_blocks: 0 }
    }

    pub fn write(&mut self, cx: &mut Ctx<'_>, mut data: &[u8]) {
        while !data.is_empty() && !cx.stopped() {
            match &mut self.state {
                TarState::End => return,
                TarState::Header => {
                    let take = (512 - self.header.len()).min(data.len());
                    self.header.extend_from_slice(&data[..take]);
                    data = &data[take..];
                    if self.header.len() == 512 {
                        self.on_header(cx);
                        self.header.clear();
                    }
                }
                TarState::Pad(left) => {
                    let k = (*left).min(data.len() as u64);
                    *left -= k;
                    data = &data[k as usize..];
                    if *left == 0 {
                        self.state = TarState::Header;
                    }
                }
                TarState::Data { left, pad, child, long_name } => {
                    let k = (*left).min(data.len() as u64) as usize;
                    let piece = &data[..k];
                    data = &data[k..];
                    *left -= k as u64;
                    if let Some(n) = long_name {
                        if n.len() < 4096 {
                            n.extend_from_slice(piece);
                        }
                    } else if let Some(c) = child {
                        if !cx.st.budget.add_decompressed(k as u64, &self.m.path)
                            || !cx.st.budget.check_time(&self.m.path)
                        {
                            return;
                        }
                        c.write(cx, piece);
                    }
                    if *left == 0 {
                        let pad = *pad;
                        if let Some(mut c) = child.take() {
                            c.finish(cx);
                        }
                        if let Some(n) = long_name.take() {
                            let end = n.iter().position(|&b| b == 0).unwrap_or(n.len());
                            self.next_name = Some(String::from_utf8_lossy(&n[..end]).into_owned());
                        }
                        self.state = if pad > 0 { TarState::Pad(pad) } else { TarState::Header };
                    }
                }
            }
        }
    }

    fn on_header(&mut self, cx: &mut Ctx<'_>) {
        let h = &self.header;
        if h.iter().all(|&b| b == 0) {
            self.zero_blocks += 1;
            if self.zero_blocks >= 2 {
                self.state = TarState::End;
            }
            return;
        }
        self.zero_blocks = 0;
        if !checksum_ok(h) {
            cx.corrupt(&self.m.path, "tar header checksum");
            self.state = TarState::End;
            return;
        }
        let Some(size) = octal(&h[124..136]) else {
            cx.corrupt(&self.m.path, "tar size field");
            self.state = TarState::End;
            return;
        };
        let pad = (512 - size % 512) % 512;
        let kind = h[156];
        let name = match self.next_name.take() {
            Some(n) => n,
            None => {
                let field = |r: std::ops::Range<usize>| {
                    let f = &h[r];
                    let end = f.iter().position(|&b| b == 0).unwrap_or(f.len());
                    String::from_utf8_lossy(&f[..end]).into_owned()
                };
                let prefix = if &h[257..262] == b"ustar" { field(345..500) } else { String::new() };
                let name = field(0..100);
                if prefix.is_empty() {
                    name
                } else {
                    format!("{prefix}/{name}")
                }
            }
        };
        let (child, long_name) = match kind {
            b'0' | 0 | b'7' => {
                let m = self.m.child(&name);
                if cx.st.budget.add_member(&m.path) {
                    (Some(Box::new(Node::new(m, None))), None)
                } else {
                    return;
                }
            }
            b'L' => (None, Some(Vec::new())),
            _ => (None, None),
        };
        self.state = if size == 0 {
            if let Some(mut c) = child {
                c.finish(cx);
            }
            TarState::Header
        } else {
            TarState::Data { left: size, pad, child, long_name }
        };
    }

    pub fn finish(&mut self, cx: &mut Ctx<'_>) {
        if cx.stopped() {
            return;
        }
        match std::mem::replace(&mut self.state, TarState::End) {
            TarState::Header if self.header.is_empty() => {}
            TarState::End | TarState::Pad(_) => {}
            TarState::Data { child, .. } => {
                if let Some(mut c) = child {
                    c.finish(cx);
                }
                cx.corrupt(&self.m.path, "tar member truncated");
            }
            TarState::Header => cx.corrupt(&self.m.path, "tar header truncated"),
        }
    }
}

fn octal(f: &[u8]) -> Option<u64> {
    if f.first().is_some_and(|&b| b & 0x80 != 0) {
        // GNU base-256 for large sizes.
        return f[1..].iter().try_fold(0u64, |a, &b| a.checked_mul(256).map(|a| a + u64::from(b)));
    }
    let s: Vec<u8> =
        f.iter().copied().skip_while(|&b| b == b' ').take_while(|&b| (b'0'..=b'7').contains(&b)).collect();
    if s.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(std::str::from_utf8(&s).ok()?, 8).ok()
}

fn checksum_ok(h: &[u8]) -> bool {
    let Some(want) = octal(&h[148..156]) else {
        return false;
    };
    let sum: u64 =
        h.iter().enumerate().map(|(i, &b)| if (148..156).contains(&i) { 32 } else { u64::from(b) }).sum();
    sum == want
}
