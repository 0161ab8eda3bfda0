//! Generators for the compressed and archive formats beyond zip, gzip and tar: bzip2, xz,
//! zstd and 7z, and hand-made structures for evasion tests.

use std::io::Write;

/// bzip2 of `data`.
pub fn bzip2(data: &[u8]) -> Vec<u8> {
    let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
    let _ = e.write_all(data);
    e.finish().unwrap_or_default()
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

/// A 7z archive of `(name, data)` members (LZMA2, solid), its data encrypted with
/// `password` when one is given, its header too when `encrypt_header`.
pub fn seven_z(members: &[(&str, &[u8])], password: Option<&str>, encrypt_header: bool) -> Vec<u8> {
    use sevenz_rust2::encoder_options::AesEncoderOptions;
    use sevenz_rust2::{ArchiveEntry, ArchiveWriter, EncoderConfiguration, EncoderMethod};
    let Ok(mut w) = ArchiveWriter::new(std::io::Cursor::new(Vec::new())) else {
        return Vec::new();
    };
    let mut methods = Vec::new();
    if let Some(p) = password {
        methods.push(AesEncoderOptions::new(p.into()).into());
    }
    methods.push(EncoderConfiguration::new(EncoderMethod::LZMA2));
    w.set_content_methods(methods);
    w.set_encrypt_header(encrypt_header && password.is_some());
    for (name, data) in members {
        if w.push_archive_entry(ArchiveEntry::new_file(name), Some(*data)).is_err() {
            return Vec::new();
        }
    }
    w.finish().map(|c| c.into_inner()).unwrap_or_default()
}
