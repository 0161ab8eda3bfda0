//! The journal's bytes: a file header, then records of `magic, length, CRC-32, payload`.
//!
//! A record is `[0xFF 'J' 'R' 0x00] [payload length, u32 LE] [CRC-32 of the length bytes and
//! the payload, u32 LE] [payload]`, the payload being one incident row as JSON. JSON text never
//! holds the bytes 0xFF or 0x00 (serde_json escapes control characters, and 0xFF is never
//! UTF-8), so the magic cannot appear inside a payload, however the traffic that made the
//! incident was crafted: after a damaged region the scanner finds the next record by its magic
//! and checks it by its CRC. A record cut short by a crash (a torn tail) fails those checks and
//! is reported, never read as an incident.

use std::io::Read;

use super::super::row::IncidentRow;
use super::super::Incident;

/// The first bytes of every journal file (format version 1).
pub const FILE_MAGIC: &[u8; 8] = b"DLPJRNL1";
/// The first bytes of every record.
const RECORD_MAGIC: [u8; 4] = [0xFF, b'J', b'R', 0x00];
/// Magic, length and CRC.
const RECORD_HEAD: usize = 12;
/// Largest payload written or read: an incident row is a few KiB; evidence lists are bounded
/// by the engine. A length field above this is damage, not a record.
pub const MAX_RECORD: usize = 16 << 20;

/// One incident as a journal record; an error when its row is over [`MAX_RECORD`].
pub fn encode(incident: &Incident) -> Result<Vec<u8>, String> {
    let row = IncidentRow::from_incident(incident).map_err(|e| e.to_string())?;
    let payload = serde_json::to_vec(&row).map_err(|e| e.to_string())?;
    if payload.len() > MAX_RECORD {
        return Err(format!(
            "incident {} is {} bytes, over the journal's {MAX_RECORD}",
            incident.id,
            payload.len()
        ));
    }
    let len = u32::try_from(payload.len()).map_err(|e| e.to_string())?.to_le_bytes();
    let mut crc = crc32fast::Hasher::new();
    crc.update(&len);
    crc.update(&payload);
    let mut out = Vec::with_capacity(RECORD_HEAD + payload.len());
    out.extend_from_slice(&RECORD_MAGIC);
    out.extend_from_slice(&len);
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    out.extend_from_slice(&payload);
    Ok(out)
}

/// What the scanner found next.
#[derive(Debug)]
pub enum Item {
    /// A complete record; it ends at `end` (a file offset).
    Record {
        /// The incident.
        incident: Box<Incident>,
        /// Offset just past the record.
        end: u64,
    },
    /// Bytes that are no record: damage, or a record a crash cut short.
    Damaged {
        /// File offset of the first such byte.
        offset: u64,
        /// How many.
        len: u64,
    },
}

/// Reads records from a journal file (after its header), finding the next record after damage.
/// Memory stays bounded: at most one record and a read chunk are held.
#[derive(Debug)]
pub struct Scanner<R> {
    reader: R,
    buf: Vec<u8>,
    /// `buf[start..]` is not consumed yet.
    start: usize,
    /// File offset of `buf[start]`.
    offset: u64,
    eof: bool,
    /// The damaged region being crossed: offset and length.
    damaged: Option<(u64, u64)>,
    /// A record found right after damage, handed out after the damage is reported.
    queued: Option<Item>,
}

/// How much is read from the file at a time.
const READ_CHUNK: usize = 64 * 1024;

impl<R: Read> Scanner<R> {
    /// Checks the file header and positions after it. A file shorter than its header (a crash
    /// while creating it) holds no record; a file with another header is refused.
    pub fn new(mut reader: R) -> std::io::Result<Self> {
        let mut head = [0u8; FILE_MAGIC.len()];
        let mut got = 0;
        while got < head.len() {
            match reader.read(&mut head[got..])? {
                0 => break,
                n => got += n,
            }
        }
        if head[..got] != FILE_MAGIC[..got] {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "not a dlpgate incident journal (it does not start with DLPJRNL1)",
            ));
        }
        let eof = got < head.len();
        Ok(Self { reader, buf: Vec::new(), start: 0, offset: got as u64, eof, damaged: None, queued: None })
    }

    /// The next record or damaged region; `None` at the end of the file.
    pub fn next_item(&mut self) -> std::io::Result<Option<Item>> {
        if let Some(item) = self.queued.take() {
            return Ok(Some(item));
        }
        loop {
            if !self.fill(RECORD_HEAD)? {
                self.skip(self.buf.len() - self.start);
                return Ok(self.damaged.take().map(|(offset, len)| Item::Damaged { offset, len }));
            }
            if let Some(record) = self.try_record()? {
                return Ok(Some(match self.damaged.take() {
                    Some((offset, len)) => {
                        self.queued = Some(record);
                        Item::Damaged { offset, len }
                    }
                    None => record,
                }));
            }
            let skip = self.to_next_magic();
            self.skip(skip);
        }
    }

    /// The record at the current position, consumed, or `None` (nothing consumed) when the
    /// bytes there are not a whole, intact record.
    fn try_record(&mut self) -> std::io::Result<Option<Item>> {
        let head = &self.buf[self.start..self.start + RECORD_HEAD];
        if head[..4] != RECORD_MAGIC {
            return Ok(None);
        }
        let len_bytes = [head[4], head[5], head[6], head[7]];
        let crc = u32::from_le_bytes([head[8], head[9], head[10], head[11]]);
        let len = u32::from_le_bytes(len_bytes) as usize;
        if len == 0 || len > MAX_RECORD || !self.fill(RECORD_HEAD + len)? {
            return Ok(None);
        }
        let payload = &self.buf[self.start + RECORD_HEAD..self.start + RECORD_HEAD + len];
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&len_bytes);
        hasher.update(payload);
        if hasher.finalize() != crc {
            return Ok(None);
        }
        let Ok(row) = serde_json::from_slice::<IncidentRow>(payload) else { return Ok(None) };
        let Ok(incident) = row.into_incident() else { return Ok(None) };
        self.start += RECORD_HEAD + len;
        self.offset += (RECORD_HEAD + len) as u64;
        Ok(Some(Item::Record { incident: Box::new(incident), end: self.offset }))
    }

    /// Bytes from the current position to the next record magic after it (keeping the last
    /// bytes that may begin one).
    fn to_next_magic(&self) -> usize {
        let rest = &self.buf[self.start..];
        match rest[1..].windows(RECORD_MAGIC.len()).position(|w| w == RECORD_MAGIC) {
            Some(at) => at + 1,
            None => rest.len().saturating_sub(RECORD_MAGIC.len() - 1).max(1),
        }
    }

    /// Counts `n` bytes at the current position as damaged and moves past them.
    fn skip(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        let (offset, len) = self.damaged.unwrap_or((self.offset, 0));
        self.damaged = Some((offset, len + n as u64));
        self.start += n;
        self.offset += n as u64;
    }

    /// Makes `buf[start..]` hold at least `n` bytes; false when the file ends first.
    fn fill(&mut self, n: usize) -> std::io::Result<bool> {
        while self.buf.len() - self.start < n {
            if self.eof {
                return Ok(false);
            }
            if self.start > 0 {
                self.buf.drain(..self.start);
                self.start = 0;
            }
            let have = self.buf.len();
            let want = (n - have).max(READ_CHUNK);
            self.buf.resize(have + want, 0);
            let got = loop {
                match self.reader.read(&mut self.buf[have..]) {
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    other => break other,
                }
            };
            let got = match got {
                Ok(got) => got,
                Err(e) => {
                    self.buf.truncate(have);
                    return Err(e);
                }
            };
            self.buf.truncate(have + got);
            self.eof = got == 0;
        }
        Ok(true)
    }
}
