//! With `could_not_scan = "allow"`, damage must not hide what is readable: a value in the
//! bytes of a damaged container still blocks.

#![allow(clippy::unwrap_used)] // tests may unwrap

use std::sync::Arc;

use inspect::testkit::{gzip, tar_of, zip_of, zip_stored};
use inspect::{Engine, Limits, Policy, ScanContext, DEFAULT_POLICY_TOML};

const CARD: &[u8] = b"payment card 4111 1111 1111 1111 for the order\n";

fn allow_engine() -> Engine {
    let text = DEFAULT_POLICY_TOML.replace("could_not_scan = \"block\"", "could_not_scan = \"allow\"");
    assert_ne!(text, DEFAULT_POLICY_TOML);
    Engine::new(Arc::new(Policy::from_toml_str(&text).unwrap()), Limits::default())
}

fn cases() -> Vec<(&'static str, Vec<u8>)> {
    let mut v = Vec::new();
    // A tar header whose checksum does not add up.
    let mut t = tar_of(&[("a.txt", CARD)]);
    t[148] = b'7';
    v.push(("tar bad checksum", t));
    // A stored zip member whose CRC is wrong (local header and directory).
    let mut z = zip_stored(&[("a.txt", CARD)]);
    for i in 0..z.len() - 4 {
        if z[i..i + 4] == *b"PK\x03\x04" {
            z[i + 14] ^= 0xFF;
        }
        if z[i..i + 4] == *b"PK\x01\x02" {
            z[i + 16] ^= 0xFF;
        }
    }
    v.push(("zip stored bad crc", z));
    // A deflated zip member whose CRC is wrong.
    let mut z = zip_of(&[("a.txt", &CARD.repeat(3))]);
    for i in 0..z.len() - 4 {
        if z[i..i + 4] == *b"PK\x03\x04" {
            z[i + 14] ^= 0xFF;
        }
        if z[i..i + 4] == *b"PK\x01\x02" {
            z[i + 16] ^= 0xFF;
        }
    }
    v.push(("zip deflated bad crc", z));
    // A gzip stream cut before its end.
    let mut g = gzip(&CARD.repeat(40));
    g.truncate(g.len() - 6);
    v.push(("gzip truncated", g));
    // A zip cut before its directory.
    let z = zip_stored(&[("a.txt", b"more text here"), ("b.txt", CARD)]);
    v.push(("zip without directory", z[..z.len() - 60].to_vec()));
    // A streamed zip (sizes in a descriptor after the data) cut before its directory.
    v.push(("streamed zip cut short", streamed_zip_prefix(&CARD.repeat(5))));
    // A damaged tar header before a gzip-compressed member.
    let mut t = tar_of(&[("x.gz", &gzip(&CARD.repeat(50)))]);
    t[148] = b'7';
    v.push(("tar bad checksum, gzip member", t));
    v
}

/// The local entry of a deflated member whose sizes follow its data, with no directory.
fn streamed_zip_prefix(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    let deflated = e.finish().unwrap();
    let mut z = b"PK\x03\x04".to_vec();
    z.extend_from_slice(&[20, 0, 8, 0, 8, 0, 0, 0, 0, 0]); // version, flags, method, time, date
    z.extend_from_slice(&[0; 12]); // CRC and sizes, in the descriptor
    z.extend_from_slice(&5u16.to_le_bytes());
    z.extend_from_slice(&0u16.to_le_bytes());
    z.extend_from_slice(b"c.txt");
    z.extend_from_slice(&deflated);
    z
}

/// Damage alone decides nothing under `allow`: clean text in a damaged container passes.
#[test]
fn damaged_containers_without_values_pass() {
    let engine = allow_engine();
    let decoy: &[u8] = b"order 4111111111111112 shipped, invoice 1234567890\n";
    let mut t = tar_of(&[("a.txt", decoy)]);
    t[148] = b'7';
    let z = zip_stored(&[("a.txt", decoy), ("b.txt", decoy)]);
    for (name, data) in [("tar", t), ("zip", z[..z.len() - 60].to_vec())] {
        let v = engine.scan_bytes(ScanContext::default(), &data);
        assert!(!v.is_block() && v.could_not_scan.is_some(), "{name}: {v:?}");
    }
}

#[test]
fn readable_values_in_damaged_containers_block() {
    let engine = allow_engine();
    let mut missed = Vec::new();
    for (name, data) in cases() {
        let v = engine.scan_bytes(ScanContext::default(), &data);
        if !v.is_block() {
            missed.push(format!("{name}: {v:?}"));
        }
    }
    assert!(missed.is_empty(), "{missed:#?}");
}

/// A prefix in front of a damaged archive does not hide it either.
#[test]
fn damaged_archives_after_a_prefix_block() {
    let engine = allow_engine();
    for (name, data) in cases() {
        let mut prefixed = b"some text before the archive\n".to_vec();
        prefixed.extend_from_slice(&data);
        let v = engine.scan_bytes(ScanContext::default(), &prefixed);
        assert!(v.is_block(), "prefix + {name}: {v:?}");
    }
}
