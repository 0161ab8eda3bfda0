//! The verdict does not depend on how the body is chunked.

use std::sync::Arc;

use inspect::testkit::labelled_corpus;
use inspect::{Engine, Limits, Policy, ScanContext, Verdict};

fn engine() -> Engine {
    Engine::new(Arc::new(Policy::builtin()), Limits::default())
}

fn chunked(engine: &Engine, ctx: &ScanContext, data: &[u8], sizes: &[usize]) -> Verdict {
    let mut s = engine.scanner(ctx.clone());
    let mut i = 0;
    let mut k = 0;
    while i < data.len() {
        let n = sizes[k % sizes.len()].min(data.len() - i);
        s.feed(&data[i..i + n]);
        i += n;
        k += 1;
    }
    s.finish()
}

#[test]
fn corpus_verdicts_are_split_invariant() {
    let engine = engine();
    for s in labelled_corpus() {
        let ctx = ScanContext {
            content_type: s.content_type.clone(),
            content_encoding: s.content_encoding.clone(),
            ..ScanContext::default()
        };
        let whole = engine.scan_bytes(ctx.clone(), &s.bytes);
        // One byte at a time, then sizes that do not divide anything.
        let plans: Vec<Vec<usize>> = vec![vec![1], vec![2], vec![3, 5, 7], vec![64], vec![1000, 1, 4096]];
        for sizes in plans {
            let v = chunked(&engine, &ctx, &s.bytes, &sizes);
            assert_eq!(v, whole, "{} with chunks {:?}", s.name, sizes);
        }
    }
}

/// Values placed across the internal block boundaries of the rolling window, fed in
/// chunk sizes that do not divide them.
#[test]
fn matches_straddling_windows_are_found_once() {
    let engine = engine();
    let values = [
        "4111 1111 1111 1111",
        "123-45-6789",
        "DE89 3704 0044 0532 0130 00",
        "AKIAIOSFODNN7EXAMPLE",
        "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",
        "jane@example.com",
    ];
    let block = inspect::detect::BLOCK;
    let mut text = Vec::new();
    let mut expected = 0;
    let mut k = 0;
    // Around each multiple of the block size, at offsets -30..+30 relative to it.
    for round in 1..5 {
        for delta in (-30i64..30).step_by(7) {
            let target = (round * block) as i64 + delta - 1024 - 256;
            while (text.len() as i64) < target {
                text.extend_from_slice(b"lorem ipsum dolor sit amet ");
            }
            text.extend_from_slice(b" ");
            text.extend_from_slice(values[k % values.len()].as_bytes());
            text.extend_from_slice(b" ");
            k += 1;
            expected += 1;
        }
    }
    let whole = engine.scan_bytes(ScanContext::default(), &text);
    let total: u64 = whole.counts.values().sum();
    assert_eq!(total, expected, "{:?}", whole.counts);
    for sizes in [vec![1usize << 20], vec![4093], vec![65_537, 3], vec![block - 1]] {
        let v = chunked(&engine, &ScanContext::default(), &text, &sizes);
        assert_eq!(v, whole, "chunks {sizes:?}");
    }
}

mod prop {
    use proptest::prelude::*;

    use super::*;

    const PIECES: &[&str] = &[
        "4111 1111 1111 1111",
        "4111111111111111",
        "4111111111111112",
        "123-45-6789",
        "666-12-3456",
        "SSN ",
        "123456789",
        "DE89 3704 0044 0532 0130 00",
        "GB82WEST12345698765432",
        "AKIAIOSFODNN7EXAMPLE",
        "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",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7Mhg\n",
        "jane@example.com",
        "(555) 123-4567",
        "+44 20 7946 0958",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N",
        " ",
        "\n",
        "-",
        ".",
        "7",
        "lorem",
        "<p>",
        "\"",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn any_text_any_split(
            picks in proptest::collection::vec(0..PIECES.len(), 0..60),
            sizes in proptest::collection::vec(1usize..50, 1..8),
        ) {
            let text: String = picks.iter().map(|&i| PIECES[i]).collect();
            let engine = engine();
            let whole = engine.scan_bytes(ScanContext::default(), text.as_bytes());
            let v = chunked(&engine, &ScanContext::default(), text.as_bytes(), &sizes);
            prop_assert_eq!(v, whole);
        }
    }
}

/// Every normalisation (other scripts' digits, invisible characters, references, escapes,
/// quoted-printable, form bodies, wide encodings, base64 blobs, wrapped values): the same
/// verdict whole, split in two at every offset, and byte by byte.
#[test]
fn normalised_inputs_split_at_every_offset() {
    let engine = engine();
    let samples = inspect::testkit::evasion::disguised_samples();
    assert!(samples.len() >= 30);
    for (name, bytes, content_type) in samples {
        let ctx = ScanContext { content_type, ..ScanContext::default() };
        let whole = engine.scan_bytes(ctx.clone(), &bytes);
        assert_eq!(whole.is_block(), name.ends_with("/value"), "{name}: {whole:?}");
        assert!(whole.could_not_scan.is_none(), "{name}: {whole:?}");
        for k in 0..=bytes.len() {
            let mut s = engine.scanner(ctx.clone());
            s.feed(&bytes[..k]);
            s.feed(&bytes[k..]);
            assert_eq!(s.finish(), whole, "{name} split at {k}");
        }
        assert_eq!(chunked(&engine, &ctx, &bytes, &[1]), whole, "{name} byte by byte");
    }
}

#[test]
fn containers_inside_text_are_found_whatever_the_split() {
    use inspect::testkit::{bzip2, gzip, seven_z, xz, zip_of, zstd};
    let engine = engine();
    let secret = b"card 4111 1111 1111 1111";
    let packed: Vec<Vec<u8>> = vec![
        gzip(secret),
        bzip2(secret),
        xz(secret),
        zstd(secret),
        zip_of(&[("a.txt", secret)]),
        seven_z(&[("a.txt", secret)], None, false),
    ];
    for (k, p) in packed.iter().enumerate() {
        let data = [b"plain text head\n".as_slice(), p, b"\nand a text tail"].concat();
        let whole = engine.scan_bytes(ScanContext::default(), &data);
        assert!(whole.is_block() && whole.could_not_scan.is_none(), "{k}: {whole:?}");
        for sizes in [vec![1], vec![2], vec![3, 5, 7], vec![11], vec![64]] {
            let v = chunked(&engine, &ScanContext::default(), &data, &sizes);
            assert_eq!(v, whole, "{k} with chunks {sizes:?}");
        }
    }
}

/// Found by the `extract_bytewise` fuzz target: a brotli body whose verdict depended on
/// whether it arrived whole or a byte at a time.
#[test]
fn brotli_found_by_the_fuzzer_is_split_invariant() {
    let data = include_bytes!("fixtures/brotli-bytewise-chunking.bin");
    let ctx = ScanContext { content_encoding: Some("br".into()), ..ScanContext::default() };
    let engine = engine();
    let whole = engine.scan_bytes(ctx.clone(), &data[1..]);
    // Google's decoder refuses it (a command overruns its metablock), whatever the split.
    assert!(matches!(whole.could_not_scan, Some(inspect::CouldNotScan::Corrupt { .. })), "{whole:?}");
    for sizes in [vec![1], vec![2], vec![3, 5, 7], vec![64], vec![100, 1]] {
        let v = chunked(&engine, &ctx, &data[1..], &sizes);
        assert_eq!(v.decision, whole.decision, "chunks {sizes:?}: {v:?}\n{whole:?}");
        if v.could_not_scan.is_none() && whole.could_not_scan.is_none() {
            assert_eq!(v, whole, "chunks {sizes:?}");
        }
    }
}

/// Found by the `extract_bytewise` fuzz target: a text member (in a tar) holding a zip whose
/// stored member is empty. Whole, the empty member's range was seen and cut the text with a
/// line break; a byte at a time it had passed before it was seen, so `scanned_bytes` differed
/// by one. An empty member leaves nothing out now, whatever the split.
#[test]
fn an_empty_stored_zip_member_inside_text_is_split_invariant() {
    let data = include_bytes!("fixtures/empty-stored-zip-member-in-tar.bin");
    same_verdict_whatever_the_split(&data[1..]);
}

/// A PDF inside text, past the first KiB: kept from its header and read when the text ends,
/// whatever the split (its header and first object straddling writes included).
#[test]
fn a_pdf_inside_text_is_found_whatever_the_split() {
    use inspect::testkit::pdfkit::pdf_case;
    let engine = engine();
    let ctx = ScanContext::default();
    let head = inspect::testkit::prose(1500, 9, 0);
    for case in ["flate", "type0", "objstm"] {
        let pdf = pdf_case(case, &["Please charge card 4111 1111 1111 1111 exp 12/29."]);
        let data = [head.as_slice(), &pdf, b"\n%PDF-1.4 quoted after it\n"].concat();
        let whole = engine.scan_bytes(ctx.clone(), &data);
        assert!(whole.is_block() && whole.could_not_scan.is_none(), "{case}: {whole:?}");
        for sizes in [vec![1], vec![2], vec![3, 5, 7], vec![11], vec![64], vec![1024, 1]] {
            assert_eq!(chunked(&engine, &ctx, &data, &sizes), whole, "{case} with chunks {sizes:?}");
        }
    }
}

/// Found by the `extract_bytewise` fuzz target: text holding an xz stream whose data decodes
/// (a card) and whose index is damaged. Whole, the decoder failed in the call that also
/// decoded the card, so the card was lost; a byte at a time it came out first. A stream
/// whose header carries a check is real: its damage makes the object could-not-scan, as at
/// the head of an object, whatever the split.
#[test]
fn a_damaged_xz_stream_inside_text_is_could_not_scan_whatever_the_split() {
    let data = include_bytes!("fixtures/damaged-xz-in-text-bytewise.bin");
    let ctx = ScanContext::default();
    let engine = engine();
    let whole = engine.scan_bytes(ctx.clone(), &data[1..]);
    assert!(matches!(whole.could_not_scan, Some(inspect::CouldNotScan::Corrupt { .. })), "{whole:?}");
    for sizes in [vec![1], vec![2], vec![3, 5, 7], vec![64]] {
        let v = chunked(&engine, &ctx, &data[1..], &sizes);
        assert_eq!(v.decision, whole.decision, "chunks {sizes:?}");
        assert!(
            matches!(v.could_not_scan, Some(inspect::CouldNotScan::Corrupt { .. })),
            "chunks {sizes:?}: {v:?}"
        );
    }
}

/// Found by the `extract_bytewise` fuzz target: a zip local header inside a stored zip
/// member's header (its extra field). Whole, the stored member's header was complete when
/// the inner signature was found, and every signature before the end of its data was left
/// to it; a byte at a time the inner member was opened first. Only signatures inside a
/// stored member's data are its own now, whatever the split.
#[test]
fn a_signature_in_a_zip_members_extra_field_is_split_invariant() {
    let data = include_bytes!("fixtures/signature-in-zip-extra-field-bytewise.bin");
    same_verdict_whatever_the_split(&data[1..]);
}

/// Scans `data` whole and in chunks of several sizes: the verdicts must be equal.
fn same_verdict_whatever_the_split(data: &[u8]) {
    let ctx = ScanContext::default();
    let engine = engine();
    let whole = engine.scan_bytes(ctx.clone(), data);
    for sizes in [vec![1], vec![2], vec![3, 5, 7], vec![64]] {
        assert_eq!(chunked(&engine, &ctx, data, &sizes), whole, "chunks {sizes:?}");
    }
}
