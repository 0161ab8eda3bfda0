//! PDF evasions: every construct that can carry text must be read. For each construct in
//! `pdfkit::PDF_CASES` a file holding a secret must be blocked, and the same construct
//! holding only look-alikes must be allowed.

use std::sync::Arc;

use inspect::testkit::decoys;
use inspect::testkit::pdfkit::{pdf_case, PDF_CASES};
use inspect::{Engine, Limits, Policy, ScanContext, Verdict};

fn scan(data: &[u8]) -> Verdict {
    let engine = Engine::new(Arc::new(Policy::builtin()), Limits::default());
    engine.scan_bytes(ScanContext { filename: Some("doc.pdf".into()), ..ScanContext::default() }, data)
}

/// Look-alikes beyond the shared decoys: hashes, order numbers, dates.
const MORE_DECOYS: &[&str] = &[
    "sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 md5 098f6bcd4621d373cade4e832627b4f6",
    "Order 2024-000123-4567 shipped; invoice 1000234567; tracking 1Z999AA10123456784.",
    "Printed 2024-03-01 09:15:00 +0100, page 3 of 12, ref 20240301091500.",
];

const SECRETS: &[(&str, &str)] = &[
    ("credit_card", "Please charge card 4111 1111 1111 1111 exp 12/29."),
    ("us_ssn", "Employee SSN 123-45-6789 on record."),
    ("iban", "Pay to IBAN DE89 3704 0044 0532 0130 00 today"),
    ("aws_access_key", "aws_access_key_id = AKIAIOSFODNN7EXAMPLE"),
];

fn describe(v: &Verdict) -> String {
    format!(
        "decision {:?}, counts {:?}, cns {:?}, evidence {:?}",
        v.decision,
        v.counts,
        v.could_not_scan,
        v.evidence.iter().map(|e| (&e.detector, &e.masked, &e.member)).collect::<Vec<_>>()
    )
}

/// Decoy lines for `case`. A prefix before `%PDF-` must stay short enough for the file to
/// be identified as a PDF (the header within the first KiB).
fn negative_lines(case: &str) -> Vec<String> {
    let mut lines = vec!["Quarterly report draft, nothing unusual.".to_string()];
    if case == "prefix" {
        lines.extend(decoys().lines().take(5).map(str::to_string));
        return lines;
    }
    lines.extend(decoys().lines().map(str::to_string));
    lines.extend(MORE_DECOYS.iter().map(|s| s.to_string()));
    lines.push("End of report.".to_string());
    lines
}

#[test]
fn every_construct_carrying_a_secret_is_blocked() {
    let mut failures = Vec::new();
    for case in PDF_CASES {
        for (detector, secret) in SECRETS {
            let mut lines = negative_lines(case);
            lines.insert(lines.len() / 2, secret.to_string());
            let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
            let pdf = pdf_case(case, &refs);
            if *case == "prefix" {
                let header = pdf.windows(5).position(|w| w == b"%PDF-").unwrap();
                assert!(header < 1000, "the prefix case must be identified as a PDF");
            }
            let v = scan(&pdf);
            let found = v.counts.get(*detector).copied().unwrap_or(0) > 0;
            if !(v.is_block() && found && v.could_not_scan.is_none()) {
                failures.push(format!("{case} / {detector}: {}", describe(&v)));
            }
        }
    }
    assert!(failures.is_empty(), "{} missed:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn every_construct_holding_only_decoys_is_allowed() {
    let mut failures = Vec::new();
    for case in PDF_CASES {
        let lines = negative_lines(case);
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let v = scan(&pdf_case(case, &refs));
        if v.is_block() || v.could_not_scan.is_some() {
            failures.push(format!("{case}: {}", describe(&v)));
        }
    }
    assert!(failures.is_empty(), "{} false positives:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn evidence_from_pdf_constructs_is_masked() {
    let lines = ["Employee SSN 123-45-6789 on record."];
    for case in PDF_CASES {
        let v = scan(&pdf_case(case, &lines));
        let json = serde_json::to_string(&v).unwrap();
        assert!(!json.contains("123-45-6789") && !format!("{v:?}").contains("123-45-6789"), "{case}: {json}");
    }
}

/// A fixture's name and bytes.
type Fixture = (&'static str, &'static [u8]);

/// PDFs from real producers (see tests/fixtures/pdf/README.md).
#[test]
fn pdfs_from_real_producers() {
    macro_rules! fixture {
        ($name:literal) => {
            ($name, &include_bytes!(concat!("fixtures/pdf/", $name, ".pdf"))[..])
        };
    }
    // Each file that must block, and the detectors it must show.
    let blocked: &[(Fixture, &[&str])] = &[
        (fixture!("lo_letter"), &["credit_card", "us_ssn", "iban"]),
        // The card in the table is followed by the SSN in the next cell, a space apart:
        // the card detector reads the two as one five-group token.
        (fixture!("lo_table"), &["us_ssn"]),
        (fixture!("gs_pieces"), &["credit_card", "us_ssn"]),
        (fixture!("gs_letter"), &["credit_card", "us_ssn", "iban"]),
        (fixture!("qpdf_objstm"), &["credit_card", "us_ssn", "iban"]),
        // Encrypted with an empty user password: read as any reader opens them.
        (fixture!("qpdf_rc4_40_empty_user"), &["credit_card", "us_ssn", "iban"]),
        (fixture!("qpdf_rc4_128_empty_user"), &["credit_card", "us_ssn", "iban"]),
        (fixture!("qpdf_rc4_v4_empty_user"), &["us_ssn"]),
        (fixture!("qpdf_aes128_empty_user"), &["credit_card", "us_ssn", "iban"]),
        (fixture!("qpdf_aes256_r5_empty_user"), &["credit_card", "us_ssn"]),
        (fixture!("qpdf_aes256_empty_user"), &["credit_card", "us_ssn", "iban"]),
        // One secret in each of the page, an annotation, the Info dictionary and an
        // embedded file: strings and every kind of stream are decrypted.
        (fixture!("qpdf_aes128_places"), &["credit_card", "iban", "us_ssn", "aws_access_key"]),
        (fixture!("qpdf_rc4_128_places"), &["credit_card", "iban", "us_ssn", "aws_access_key"]),
    ];
    for ((name, data), detectors) in blocked {
        let v = scan(data);
        assert!(v.is_block() && v.could_not_scan.is_none(), "{name}: {}", describe(&v));
        for d in *detectors {
            assert!(v.counts.get(*d).copied().unwrap_or(0) > 0, "{name}: no {d}: {}", describe(&v));
        }
    }
    for (name, data) in [
        fixture!("lo_letter_clean"),
        fixture!("lo_table_clean"),
        fixture!("gs_pieces_clean"),
        fixture!("gs_letter_clean"),
        fixture!("qpdf_objstm_clean"),
        fixture!("qpdf_rc4_40_empty_user_clean"),
        fixture!("qpdf_rc4_128_empty_user_clean"),
        fixture!("qpdf_aes128_empty_user_clean"),
        fixture!("qpdf_aes256_r5_empty_user_clean"),
        fixture!("qpdf_aes256_empty_user_clean"),
    ] {
        let v = scan(data);
        assert!(!v.is_block() && v.could_not_scan.is_none(), "{name}: {}", describe(&v));
    }
    // A user password no one gave: the text cannot be read, and the verdict says so.
    let (name, data) = fixture!("qpdf_aes256_user_password");
    let v = scan(data);
    assert!(
        matches!(v.could_not_scan, Some(inspect::CouldNotScan::Encrypted { .. })),
        "{name}: {}",
        describe(&v)
    );
}

/// `clear` with an incremental update that names the `/Encrypt` dictionary and `/ID` of
/// `encrypted`: a key the empty password opens, over streams and strings in clear.
fn with_encrypt_of(clear: &[u8], encrypted: &[u8]) -> Vec<u8> {
    let last =
        |hay: &[u8], pat: &[u8]| hay.windows(pat.len()).rposition(|w| w == pat).expect("in the fixture");
    let first =
        |hay: &[u8], pat: &[u8]| hay.windows(pat.len()).position(|w| w == pat).expect("in the fixture");
    let f = last(encrypted, b"/Filter /Standard");
    let start = last(&encrypted[..f], b" obj") + 4;
    let end = f + first(&encrypted[f..], b"endobj");
    let id = last(encrypted, b"/ID [");
    let id = &encrypted[id..id + first(&encrypted[id..], b"]") + 1];
    let root = last(clear, b"/Root ");
    let root = &clear[root..root + first(&clear[root..], b" R") + 2];
    let mut out = clear.to_vec();
    out.extend_from_slice(b"\n999 0 obj\n");
    out.extend_from_slice(&encrypted[start..end]);
    out.extend_from_slice(b"endobj\ntrailer\n<< /Size 1000 ");
    out.extend_from_slice(root);
    out.extend_from_slice(b" /Encrypt 999 0 R ");
    out.extend_from_slice(id);
    out.extend_from_slice(b" >>\n%%EOF\n");
    out
}

/// A document in clear that names a real `/Encrypt` dictionary shows garbage in a reader,
/// but its text is all there for whoever takes the dictionary out: it is read as it is.
#[test]
fn streams_and_strings_in_clear_inside_an_encrypted_document_are_read() {
    let clear = include_bytes!("fixtures/pdf/lo_letter.pdf");
    for encrypted in [
        &include_bytes!("fixtures/pdf/qpdf_rc4_40_empty_user.pdf")[..],
        &include_bytes!("fixtures/pdf/qpdf_aes128_empty_user.pdf")[..],
        &include_bytes!("fixtures/pdf/qpdf_aes256_empty_user.pdf")[..],
    ] {
        let v = scan(&with_encrypt_of(clear, encrypted));
        assert!(v.is_block(), "{}", describe(&v));
        for d in ["credit_card", "us_ssn", "iban"] {
            assert!(v.counts.get(d).copied().unwrap_or(0) > 0, "no {d}: {}", describe(&v));
        }
    }
}

/// Hosts a PDF is put into past their first KiB, where identification no longer sees it:
/// prose, and binary data (an ELF header and bytes that hold no text).
fn hosts() -> Vec<(&'static str, Vec<u8>)> {
    let text = inspect::testkit::prose(2048, 7, 0);
    let mut binary = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x03\0\x3e\0".to_vec();
    binary.extend((0..2048u32).map(|i| (i.wrapping_mul(7) % 251) as u8));
    vec![("text", text), ("binary", binary)]
}

fn embed(host: &[u8], pdf: &[u8]) -> Vec<u8> {
    [host, pdf, b"\nthe end of the upload\n".as_slice()].concat()
}

fn scan_upload(data: &[u8]) -> Verdict {
    let engine = Engine::new(Arc::new(Policy::builtin()), Limits::default());
    engine.scan_bytes(ScanContext { filename: Some("upload.bin".into()), ..ScanContext::default() }, data)
}

#[test]
fn every_construct_after_the_first_kib_of_text_or_binary_is_read() {
    let mut failures = Vec::new();
    for (host_name, host) in hosts() {
        for case in PDF_CASES {
            for (detector, secret) in SECRETS {
                let mut lines = negative_lines(case);
                lines.insert(lines.len() / 2, secret.to_string());
                let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
                let v = scan_upload(&embed(&host, &pdf_case(case, &refs)));
                let found = v.counts.get(*detector).copied().unwrap_or(0) > 0;
                if !(v.is_block() && found && v.could_not_scan.is_none()) {
                    failures.push(format!("{host_name} / {case} / {detector}: {}", describe(&v)));
                }
            }
            let lines = negative_lines(case);
            let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
            let v = scan_upload(&embed(&host, &pdf_case(case, &refs)));
            if v.is_block() || v.could_not_scan.is_some() {
                failures.push(format!("{host_name} / {case} / decoys only: {}", describe(&v)));
            }
        }
    }
    assert!(failures.is_empty(), "{} failed:\n{}", failures.len(), failures.join("\n"));
}

/// A header quoted in text, with no object after it, opens nothing: the text is scanned as
/// text, and no PDF is kept or reported.
#[test]
fn a_pdf_header_quoted_in_text_opens_nothing() {
    let mut log = inspect::testkit::prose(2048, 3, 0);
    log.extend_from_slice(b"\nupload rejected: body starts with %PDF-1.7 but has no objects\n");
    log.extend_from_slice(&inspect::testkit::prose(4096, 4, 0));
    let v = scan_upload(&log);
    assert!(!v.is_block() && v.could_not_scan.is_none(), "{}", describe(&v));
    assert!(!v.file_types.contains(&inspect::FileType::Pdf), "{:?}", v.file_types);
    assert_eq!(v.scanned_bytes, log.len() as u64);
    // The same text followed by an object is a PDF, read as one.
    let mut pdf = log.clone();
    pdf.extend_from_slice(b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n");
    let v = scan_upload(&pdf);
    assert!(v.file_types.contains(&inspect::FileType::Pdf), "{:?}", v.file_types);
}

/// A PDF inside text that never ends within the buffering limit is could-not-scan, as a
/// PDF too large at the head of an object is.
#[test]
fn an_embedded_pdf_over_the_buffering_limit_is_could_not_scan() {
    let limits = Limits { max_buffered_bytes: 64 * 1024, ..Limits::default() };
    let engine = Engine::new(Arc::new(Policy::builtin()), limits);
    let mut data = inspect::testkit::prose(2048, 5, 0);
    data.extend_from_slice(&pdf_case("flate", &["nothing to see here"]));
    data.extend_from_slice(&inspect::testkit::prose(128 * 1024, 6, 0));
    let v = engine.scan_bytes(ScanContext::default(), &data);
    assert!(
        matches!(
            v.could_not_scan,
            Some(inspect::CouldNotScan::Limit { limit: inspect::LimitKind::MaxBufferedBytes, .. })
        ),
        "{}",
        describe(&v)
    );
}
