//! Generators for the compressed and archive formats beyond zip, gzip and tar: bzip2, xz,
//! zstd, lz4, lzma, lzip, zlib and 7z, and hand-made structures for evasion tests.

use std::io::Write;

/// bzip2 of `data`.
pub fn bzip2(data: &[u8]) -> Vec<u8> {
    let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
    let _ = e.write_all(data);
    e.finish().expect("building a test fixture")
}

/// xz of `data` (preset 1: a 1 MiB dictionary).
pub fn xz(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    if let Ok(mut w) = lzma_rust2::XzWriter::new(&mut out, lzma_rust2::XzOptions::with_preset(1)) {
        let _ = w.write_all(data);
        let _ = w.finish();
    }
    out
}

/// zstd of `data` (one frame, with a checksum).
pub fn zstd(data: &[u8]) -> Vec<u8> {
    ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest)
}

/// An LZ4 frame of `data` as the `lz4` tool writes it with `-BD --content-size`: linked
/// 64 KiB blocks (each may refer to the one before), block and content checksums.
pub fn lz4(data: &[u8]) -> Vec<u8> {
    use lz4_flex::frame::{BlockMode, BlockSize, FrameEncoder, FrameInfo};
    let info = FrameInfo::new()
        .block_size(BlockSize::Max64KB)
        .block_mode(BlockMode::Linked)
        .block_checksums(true)
        .content_checksum(true)
        .content_size(Some(data.len() as u64));
    let mut e = FrameEncoder::with_frame_info(info, Vec::new());
    let _ = e.write_all(data);
    e.finish().expect("building a test fixture")
}

/// The legacy LZ4 format of `data` (`lz4 -l`: independent blocks of 8 MiB).
pub fn lz4_legacy(data: &[u8]) -> Vec<u8> {
    use lz4_flex::frame::{FrameEncoder, FrameInfo};
    let mut e = FrameEncoder::with_frame_info(FrameInfo::new().legacy_frame(true), Vec::new());
    let _ = e.write_all(data);
    e.finish().expect("building a test fixture")
}

/// The `.lzma` (LZMA-alone) format of `data`, as `xz --format=lzma -1` writes it: unknown
/// size, an end marker.
pub fn lzma(data: &[u8]) -> Vec<u8> {
    let options = lzma_rust2::LzmaOptions::with_preset(1);
    let mut w =
        lzma_rust2::LzmaWriter::new_use_header(Vec::new(), &options, None).expect("building a test fixture");
    let _ = w.write_all(data);
    w.finish().expect("building a test fixture")
}

/// An lzip file of `data` (one member).
pub fn lzip(data: &[u8]) -> Vec<u8> {
    let mut w = lzma_rust2::LzipWriter::new(Vec::new(), lzma_rust2::LzipOptions::with_preset(1));
    let _ = w.write_all(data);
    w.finish().expect("building a test fixture")
}

/// `text` in EBCDIC (code page 037), as a mainframe export writes it.
pub fn ebcdic(text: &str) -> Vec<u8> {
    crate::ebcdic::encode(text)
}

/// A zlib stream of `data`.
pub fn zlib(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = e.write_all(data);
    e.finish().expect("building a test fixture")
}

/// A 7z archive of `(name, data)` members (LZMA2, solid), its data encrypted with
/// `password` when one is given, its header too when `encrypt_header`.
pub fn seven_z(members: &[(&str, &[u8])], password: Option<&str>, encrypt_header: bool) -> Vec<u8> {
    use sevenz_rust2::encoder_options::AesEncoderOptions;
    use sevenz_rust2::{ArchiveEntry, ArchiveWriter};
    let mut w = ArchiveWriter::new(std::io::Cursor::new(Vec::new())).expect("7z fixture: writer");
    let mut methods = Vec::new();
    if let Some(p) = password {
        methods.push(AesEncoderOptions::new(p.into()).into());
    }
    // LZMA2 at level 1 with the default level's 8 MiB dictionary: what the reader must hold
    // is the same, and megabytes of fixture compress several times faster than at level 6.
    let mut lzma2 = sevenz_rust2::encoder_options::Lzma2Options::from_level(1);
    lzma2.set_dictionary_size(8 << 20);
    methods.push(lzma2.into());
    w.set_content_methods(methods);
    w.set_encrypt_header(encrypt_header && password.is_some());
    for (name, data) in members {
        w.push_archive_entry(ArchiveEntry::new_file(name), Some(*data)).expect("7z fixture: member");
    }
    w.finish().map(|c| c.into_inner()).expect("building a test fixture")
}

/// One tar entry of any type.
#[derive(Debug, Clone, Copy)]
pub struct TarEntry<'a> {
    /// The name field (at most 100 bytes are kept).
    pub name: &'a str,
    /// The type flag (`b'0'` a file, `b'5'` a directory, `b'x'` pax records ...).
    pub kind: u8,
    /// The link name field.
    pub link: &'a str,
    /// The data.
    pub data: &'a [u8],
}

/// Tar entries, without the end-of-archive marker.
pub fn tar_entries(entries: &[TarEntry<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        let mut h = [0u8; 512];
        let put = |h: &mut [u8; 512], at: usize, max: usize, s: &[u8]| {
            let n = s.len().min(max);
            h[at..at + n].copy_from_slice(&s[..n]);
        };
        put(&mut h, 0, 100, e.name.as_bytes());
        put(&mut h, 100, 8, b"0000644");
        put(&mut h, 108, 8, b"0000000");
        put(&mut h, 116, 8, b"0000000");
        put(&mut h, 124, 12, format!("{:011o}", e.data.len()).as_bytes());
        put(&mut h, 136, 12, b"00000000000");
        h[156] = e.kind;
        put(&mut h, 157, 100, e.link.as_bytes());
        put(&mut h, 257, 6, b"ustar\0");
        put(&mut h, 263, 2, b"00");
        put(&mut h, 148, 8, b"        ");
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        put(&mut h, 148, 8, format!("{sum:06o}\0").as_bytes());
        out.extend_from_slice(&h);
        out.extend_from_slice(e.data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out
}

/// The end-of-archive marker: two zero blocks.
pub const TAR_END: [u8; 1024] = [0; 1024];

/// One member of a hand-laid zip (stored, with its CRC).
#[derive(Debug, Clone, Copy, Default)]
pub struct ZipMember<'a> {
    /// The central directory's name.
    pub name: &'a str,
    /// The local header's name, when it differs.
    pub local_name: Option<&'a str>,
    /// The data (stored).
    pub data: &'a [u8],
    /// An extra field (in both headers), raw.
    pub extra: &'a [u8],
    /// The entry comment in the central directory.
    pub comment: &'a str,
    /// Bytes placed after the member's data, before the next record.
    pub gap_after: &'a [u8],
}

/// A zip laid out by hand: `prefix`, the members (stored), `before_cd`, the central
/// directory, the end record with `comment`, then `suffix`. Offsets count from the start
/// of the file, prefix included.
pub fn zip_laid_out(
    prefix: &[u8],
    members: &[ZipMember<'_>],
    before_cd: &[u8],
    comment: &[u8],
    suffix: &[u8],
) -> Vec<u8> {
    let mut out = prefix.to_vec();
    let mut central = Vec::new();
    for mb in members {
        let offset = out.len() as u32;
        let mut crc = flate2::Crc::new();
        crc.update(mb.data);
        let crc = crc.sum();
        let local_name = mb.local_name.unwrap_or(mb.name);
        let common = |v: &mut Vec<u8>| {
            v.extend_from_slice(&20u16.to_le_bytes()); // version needed
            v.extend_from_slice(&0u16.to_le_bytes()); // flags
            v.extend_from_slice(&0u16.to_le_bytes()); // stored
            v.extend_from_slice(&[0, 0, 0x21, 0]); // time, date
            v.extend_from_slice(&crc.to_le_bytes());
            v.extend_from_slice(&(mb.data.len() as u32).to_le_bytes());
            v.extend_from_slice(&(mb.data.len() as u32).to_le_bytes());
        };
        out.extend_from_slice(b"PK\x03\x04");
        common(&mut out);
        out.extend_from_slice(&(local_name.len() as u16).to_le_bytes());
        out.extend_from_slice(&(mb.extra.len() as u16).to_le_bytes());
        out.extend_from_slice(local_name.as_bytes());
        out.extend_from_slice(mb.extra);
        out.extend_from_slice(mb.data);
        out.extend_from_slice(mb.gap_after);
        central.extend_from_slice(b"PK\x01\x02");
        central.extend_from_slice(&20u16.to_le_bytes()); // version made by
        common(&mut central);
        central.extend_from_slice(&(mb.name.len() as u16).to_le_bytes());
        central.extend_from_slice(&(mb.extra.len() as u16).to_le_bytes());
        central.extend_from_slice(&(mb.comment.len() as u16).to_le_bytes());
        central.extend_from_slice(&[0; 8]); // disk, internal and external attributes
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(mb.name.as_bytes());
        central.extend_from_slice(mb.extra);
        central.extend_from_slice(mb.comment.as_bytes());
    }
    out.extend_from_slice(before_cd);
    let cd_offset = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(b"PK\x05\x06\0\0\0\0");
    let n = members.len() as u16;
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&(comment.len() as u16).to_le_bytes());
    out.extend_from_slice(comment);
    out.extend_from_slice(suffix);
    out
}

/// A PNG: signature, `IHDR`, the `chunks` given (type, data) in order, `IEND`.
pub fn png(chunks: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let ihdr = [0, 0, 0, 4, 0, 0, 0, 4, 8, 2, 0, 0, 0];
    let mut all: Vec<(&str, &[u8])> = vec![("IHDR", &ihdr)];
    all.extend_from_slice(chunks);
    all.push(("IEND", b""));
    for (kind, data) in all {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut crc = flate2::Crc::new();
        crc.update(kind.as_bytes());
        crc.update(data);
        out.extend_from_slice(kind.as_bytes());
        out.extend_from_slice(data);
        out.extend_from_slice(&crc.sum().to_be_bytes());
    }
    out
}

/// A PNG `zTXt` chunk's data: `keyword`, then `text` compressed.
pub fn png_ztxt(keyword: &str, text: &[u8]) -> Vec<u8> {
    let mut d = keyword.as_bytes().to_vec();
    d.extend_from_slice(&[0, 0]);
    let mut e = flate2::write::ZlibEncoder::new(d, flate2::Compression::default());
    let _ = e.write_all(text);
    e.finish().expect("building a test fixture")
}

/// A JPEG: SOI, the `segments` given (marker, payload), a scan header, `scan` as the
/// entropy-coded data (0xFF bytes stuffed), EOI.
pub fn jpeg(segments: &[(u8, &[u8])], scan: &[u8]) -> Vec<u8> {
    let mut out = vec![0xFF, 0xD8];
    let sos = [1u8, 1, 0, 0, 63, 0];
    for (marker, payload) in segments.iter().copied().chain([(0xDA, &sos[..])]) {
        out.extend_from_slice(&[0xFF, marker]);
        out.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
        out.extend_from_slice(payload);
    }
    for &b in scan {
        out.push(b);
        if b == 0xFF {
            out.push(0);
        }
    }
    out.extend_from_slice(&[0xFF, 0xD9]);
    out
}

/// A GIF89a of one 1x1 image whose LZW data is `pixels` (in sub-blocks), with a comment
/// extension holding `comment`.
pub fn gif(comment: &[u8], pixels: &[u8]) -> Vec<u8> {
    let mut out = b"GIF89a\x01\x00\x01\x00\x80\x00\x00".to_vec();
    out.extend_from_slice(&[0, 0, 0, 255, 255, 255]); // global colour table, 2 entries
    let sub_blocks = |out: &mut Vec<u8>, data: &[u8]| {
        for c in data.chunks(255) {
            out.push(c.len() as u8);
            out.extend_from_slice(c);
        }
        out.push(0);
    };
    out.extend_from_slice(&[0x21, 0xFE]);
    sub_blocks(&mut out, comment);
    out.extend_from_slice(&[0x2C, 0, 0, 0, 0, 1, 0, 1, 0, 0, 2]);
    sub_blocks(&mut out, pixels);
    out.push(0x3B);
    out
}

/// A RIFF file of `form` (`WAVE`, `WEBP`, `AVI `) with the `chunks` given.
pub fn riff(form: &[u8; 4], chunks: &[(&[u8; 4], &[u8])]) -> Vec<u8> {
    let mut body = form.to_vec();
    for (id, data) in chunks {
        body.extend_from_slice(*id);
        body.extend_from_slice(&(data.len() as u32).to_le_bytes());
        body.extend_from_slice(data);
        if data.len() % 2 == 1 {
            body.push(0);
        }
    }
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend(body);
    out
}

/// An ISO base media file (MP4) with the top-level `boxes` given after `ftyp`.
pub fn mp4(boxes: &[(&[u8; 4], &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (kind, data) in
        [(b"ftyp", &b"isom\0\0\x02\0isomiso2mp41"[..])].into_iter().chain(boxes.iter().map(|(k, d)| (*k, *d)))
    {
        out.extend_from_slice(&((data.len() + 8) as u32).to_be_bytes());
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
    }
    out
}
