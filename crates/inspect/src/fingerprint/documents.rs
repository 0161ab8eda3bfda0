//! The per-document records kept beside an index (`NAME.docs`): each document's name,
//! size, file hash and fingerprints, and the fingerprints of template documents to
//! subtract. Adding or removing a document rewrites this file and rebuilds the index from
//! it, without the original files.
//!
//! ```text
//! magic "DLPGFPD2"
//! per record: kind u8 (1 document, 2 template), name length u32, name, size u64,
//!             sha256 [32], words u64, fingerprints u32, then (fingerprint u64,
//!             position u32) each
//! ```
//!
//! Read as a stream, one record in memory at a time; lengths are checked before anything
//! is allocated.

use std::io::{self, Read, Write};

use super::{Print, MAX_FINGERPRINTS_PER_DOCUMENT};

/// The first bytes of a records file.
pub const RECORDS_MAGIC: &[u8; 8] = b"DLPGFPD2";
/// The first bytes of a records file of the first version (fingerprints without positions).
const RECORDS_MAGIC_V1: &[u8; 8] = b"DLPGFPD1";
/// Longest document name, in bytes.
pub const MAX_NAME_BYTES: usize = 4096;

/// One document (or template) as the records file keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentRecord {
    /// Its name (a path relative to what was added).
    pub name: String,
    /// A template whose fingerprints are subtracted, not a protected document.
    pub template: bool,
    /// Size of the file, in bytes.
    pub size: u64,
    /// SHA-256 of the file.
    pub sha256: [u8; 32],
    /// Its fingerprints with their positions, distinct and sorted.
    pub prints: Vec<Print>,
    /// Its length in words.
    pub words: u64,
}

/// Why a records file cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// Reading failed.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// Not a records file, or a damaged one.
    #[error("damaged document records: {0}")]
    Damaged(String),
}

/// Writes the magic that starts a records file.
pub fn write_magic(out: &mut impl Write) -> io::Result<()> {
    out.write_all(RECORDS_MAGIC)
}

/// Appends one record.
pub fn write_record(out: &mut impl Write, r: &DocumentRecord) -> io::Result<()> {
    let name = r.name.as_bytes();
    let name = &name[..name.len().min(MAX_NAME_BYTES)];
    let count = r.prints.len().min(MAX_FINGERPRINTS_PER_DOCUMENT);
    out.write_all(&[if r.template { 2 } else { 1 }])?;
    out.write_all(&(name.len() as u32).to_le_bytes())?;
    out.write_all(name)?;
    out.write_all(&r.size.to_le_bytes())?;
    out.write_all(&r.sha256)?;
    out.write_all(&r.words.to_le_bytes())?;
    out.write_all(&(count as u32).to_le_bytes())?;
    for p in &r.prints[..count] {
        out.write_all(&p.hash.to_le_bytes())?;
        out.write_all(&p.at.to_le_bytes())?;
    }
    Ok(())
}

/// Reads every record, handing each to `f` (which may stop the reading with an error).
/// An empty input holds no record.
pub fn read_records<R: Read>(
    mut input: R,
    mut f: impl FnMut(DocumentRecord) -> Result<(), RecordError>,
) -> Result<(), RecordError> {
    let damaged = |what: &str| RecordError::Damaged(what.to_string());
    let mut magic = [0u8; 8];
    match read_full(&mut input, &mut magic)? {
        0 => return Ok(()),
        8 if &magic == RECORDS_MAGIC => {}
        8 if &magic == RECORDS_MAGIC_V1 => {
            return Err(damaged(
                "written by an earlier dlpgate (fingerprints without positions): remove the index and add its documents again",
            ))
        }
        _ => return Err(damaged("not a dlpgate document records file")),
    }
    loop {
        let mut kind = [0u8; 1];
        if read_full(&mut input, &mut kind)? == 0 {
            return Ok(());
        }
        let template = match kind[0] {
            1 => false,
            2 => true,
            _ => return Err(damaged("unknown record kind")),
        };
        let name_len = read_u32(&mut input)? as usize;
        if name_len > MAX_NAME_BYTES {
            return Err(damaged("a name is too long"));
        }
        let mut name = vec![0u8; name_len];
        input.read_exact(&mut name)?;
        let name = String::from_utf8(name).map_err(|_| damaged("a name is not UTF-8"))?;
        let mut size = [0u8; 8];
        input.read_exact(&mut size)?;
        let mut sha256 = [0u8; 32];
        input.read_exact(&mut sha256)?;
        let mut words = [0u8; 8];
        input.read_exact(&mut words)?;
        let count = read_u32(&mut input)? as usize;
        if count > MAX_FINGERPRINTS_PER_DOCUMENT {
            return Err(damaged("too many fingerprints in a record"));
        }
        let mut raw = vec![0u8; count * 12];
        input.read_exact(&mut raw)?;
        let prints = raw
            .chunks_exact(12)
            .map(|c| Print {
                hash: c[..8].try_into().map_or(0, u64::from_le_bytes),
                at: c[8..].try_into().map_or(0, u32::from_le_bytes),
            })
            .collect();
        f(DocumentRecord {
            name,
            template,
            size: u64::from_le_bytes(size),
            sha256,
            prints,
            words: u64::from_le_bytes(words),
        })?;
    }
}

fn read_u32(input: &mut impl Read) -> io::Result<u32> {
    let mut b = [0u8; 4];
    input.read_exact(&mut b)?;
    Ok(u32::from_le_bytes(b))
}

/// Reads until `buf` is full or the input ends; gives the bytes read.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match input.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}
