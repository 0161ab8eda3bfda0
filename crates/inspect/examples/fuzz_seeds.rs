//! Writes the seed corpus of the `extract` fuzz target: one small file per format.
//!
//! `cargo run -p inspect --features testkit --example fuzz_seeds -- fuzz/corpus/extract`

use inspect::testkit::evasion::disguised_samples;
use inspect::testkit::{encrypted_zip, nested_zip, pdf, wrap};

fn main() -> std::io::Result<()> {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "fuzz/corpus/extract".into());
    std::fs::create_dir_all(&dir)?;
    let text = "card 4111 1111 1111 1111\nssn 123-45-6789\nmail a@b.co\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MhgHcTz6sE2I2yPB\n";
    // The fuzz target reads its first byte as a selector (0 = no encoding).
    for fmt in [
        "txt",
        "utf16le",
        "html",
        "json",
        "multipart_nohdr",
        "eml",
        "zip",
        "gzip",
        "tar",
        "tar_gz",
        "docx",
        "xlsx",
        "odt",
        "pdf",
        "rtf",
    ] {
        let s = wrap(fmt, text);
        let mut b = vec![0u8];
        b.extend_from_slice(&s.bytes);
        std::fs::write(format!("{dir}/{fmt}"), b)?;
    }
    for (name, sel, fmt) in
        [("ce_gzip", 1u8, "ce_gzip"), ("ce_deflate", 2, "ce_deflate"), ("ce_br", 3, "ce_br")]
    {
        let mut b = vec![sel];
        b.extend_from_slice(&wrap(fmt, text).bytes);
        std::fs::write(format!("{dir}/{name}"), b)?;
    }
    for (name, bytes) in [
        ("encrypted_zip", encrypted_zip()),
        ("nested_zip", nested_zip(3)),
        ("pdf_broken_xref", pdf(&["card 4111 1111 1111 1111"], true)),
    ] {
        let mut b = vec![0u8];
        b.extend_from_slice(&bytes);
        std::fs::write(format!("{dir}/{name}"), b)?;
    }
    // The normaliser's decoders and the base64 blob finder: one seed per disguise.
    for (name, bytes, _) in disguised_samples().into_iter().filter(|(n, _, _)| n.ends_with("/value")) {
        let mut b = vec![0u8];
        b.extend_from_slice(&bytes);
        std::fs::write(format!("{dir}/norm_{}", name.trim_end_matches("/value")), b)?;
    }
    Ok(())
}
