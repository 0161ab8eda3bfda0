//! Limits, encryption and corruption: each gives the right outcome quickly.

use std::sync::Arc;
use std::time::{Duration, Instant};

use inspect::testkit::{encrypted_zip, nested_zip, pdf, truncated_docx, zip_bomb, zip_of};
use inspect::{CouldNotScan, Engine, LimitKind, Limits, Policy, ScanContext, Verdict};

fn scan(data: &[u8]) -> (Verdict, Duration) {
    scan_with(Limits::default(), data)
}

fn scan_with(limits: Limits, data: &[u8]) -> (Verdict, Duration) {
    let engine = Engine::new(Arc::new(Policy::builtin()), limits);
    let t = Instant::now();
    let v = engine.scan_bytes(ScanContext::default(), data);
    (v, t.elapsed())
}

fn limit_of(v: &Verdict) -> Option<LimitKind> {
    match &v.could_not_scan {
        Some(CouldNotScan::Limit { limit, .. }) => Some(*limit),
        _ => None,
    }
}

#[test]
fn zip_bomb_hits_the_ratio_limit() {
    let (v, t) = scan(&zip_bomb(64 << 20));
    assert_eq!(limit_of(&v), Some(LimitKind::MaxRatio), "{v:?}");
    assert!(v.is_block());
    assert!(t < Duration::from_secs(5), "{t:?}");
}

#[test]
fn total_bytes_limit() {
    let big = vec![b'a'; 3 << 20];
    let z = zip_of(&[("a.txt", &big), ("b.txt", &big)]);
    let limits = Limits { max_decompressed_bytes: 4 << 20, max_ratio: u64::MAX, ..Limits::default() };
    let (v, _) = scan_with(limits, &z);
    assert_eq!(limit_of(&v), Some(LimitKind::MaxDecompressedBytes), "{v:?}");
}

#[test]
fn zip_nested_fifty_deep_hits_the_depth_limit() {
    let (v, t) = scan(&nested_zip(50));
    assert_eq!(limit_of(&v), Some(LimitKind::MaxDepth), "{v:?}");
    assert!(v.is_block());
    assert!(t < Duration::from_secs(5), "{t:?}");
    // Within the limit the card at the bottom is found.
    let (v, _) = scan(&nested_zip(8));
    assert!(v.could_not_scan.is_none(), "{v:?}");
    assert_eq!(v.counts.get("credit_card"), Some(&1));
}

#[test]
fn encrypted_zip_cannot_be_scanned() {
    let (v, _) = scan(&encrypted_zip());
    assert!(matches!(v.could_not_scan, Some(CouldNotScan::Encrypted { .. })), "{v:?}");
    assert!(v.file_types.contains(&inspect::FileType::EncryptedArchive));
    assert!(v.is_block());
    assert!(v.threat_names().iter().any(|t| t == "could-not-scan:encrypted"));
}

#[test]
fn truncated_docx_is_corrupt() {
    let (v, t) = scan(&truncated_docx());
    assert!(matches!(v.could_not_scan, Some(CouldNotScan::Corrupt { .. })), "{v:?}");
    assert!(v.is_block());
    assert!(t < Duration::from_secs(2));
}

#[test]
fn pdf_with_broken_xref_is_still_read() {
    let (v, _) = scan(&pdf(&["invoice", "card 4111 1111 1111 1111"], true));
    assert!(v.could_not_scan.is_none(), "{v:?}");
    assert_eq!(v.counts.get("credit_card"), Some(&1), "{v:?}");
    let (v, _) = scan(&pdf(&["invoice", "nothing"], true));
    assert!(!v.is_block(), "{v:?}");
}

#[test]
fn members_limit() {
    let names: Vec<String> = (0..30).map(|i| format!("f{i}.txt")).collect();
    let members: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), b"x".as_slice())).collect();
    let limits = Limits { max_members: 10, ..Limits::default() };
    let (v, _) = scan_with(limits, &zip_of(&members));
    assert_eq!(limit_of(&v), Some(LimitKind::MaxMembers), "{v:?}");
}

#[test]
fn cpu_time_limit() {
    let limits = Limits { max_cpu_time: Duration::from_millis(1), ..Limits::default() };
    let text = "lorem 4111 ipsum 12-34 ".repeat(2_000_000);
    let (v, _) = scan_with(limits, text.as_bytes());
    assert_eq!(limit_of(&v), Some(LimitKind::MaxCpuTime), "{v:?}");
}

#[test]
fn buffered_limit() {
    let limits = Limits { max_buffered_bytes: 1000, ..Limits::default() };
    let z = zip_of(&[("a.bin", &inspect::testkit::noise(20_000, 3))]);
    let (v, _) = scan_with(limits, &z);
    assert_eq!(limit_of(&v), Some(LimitKind::MaxBufferedBytes), "{v:?}");
}

#[test]
fn truncated_gzip_and_garbage_never_panic() {
    let gz = inspect::testkit::gzip(&b"card 4111 1111 1111 1111 ".repeat(1000));
    let (v, _) = scan(&gz[..gz.len() / 2]);
    assert!(matches!(v.could_not_scan, Some(CouldNotScan::Corrupt { .. })), "{v:?}");
    // The part that arrived was still scanned.
    assert!(v.counts.get("credit_card").copied().unwrap_or(0) > 0);
    for prefix in [&b"PK\x03\x04"[..], b"%PDF-1.4\n", b"{\\rtf1", b"\x1f\x8b\x08\x00"] {
        let mut d = prefix.to_vec();
        d.extend(inspect::testkit::noise(10_000, 7));
        let _ = scan(&d);
    }
}

#[test]
fn multipart_uploads_stream_without_buffering() {
    let limits = Limits { max_buffered_bytes: 4096, ..Limits::default() };
    let mut body =
        b"--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"big.txt\"\r\n\r\n".to_vec();
    body.extend(inspect::testkit::prose(2 << 20, 3, 0));
    body.extend_from_slice(b" card 4111 1111 1111 1111\r\n--XyZ--\r\n");
    let engine = Engine::new(Arc::new(Policy::builtin()), limits);
    let ctx = ScanContext {
        content_type: Some("multipart/form-data; boundary=XyZ".into()),
        ..ScanContext::default()
    };
    let mut s = engine.scanner(ctx);
    for c in body.chunks(1000) {
        s.feed(c);
        assert!(!s.is_buffering());
    }
    let v = s.finish();
    assert!(v.could_not_scan.is_none(), "{v:?}");
    assert!(v.is_block());
    assert_eq!(v.evidence[0].member, "big.txt");
}

#[test]
fn forged_entry_count_is_refused_before_allocation() {
    let mut z = zip_of(&[("a.txt", b"hello".as_slice())]);
    let e = z.windows(4).rposition(|w| w == b"PK\x05\x06").unwrap();
    // 65,000 entries claimed on this disk and in total.
    z[e + 8..e + 10].copy_from_slice(&65_000u16.to_le_bytes());
    z[e + 10..e + 12].copy_from_slice(&65_000u16.to_le_bytes());
    let limits = Limits { max_members: 1000, ..Limits::default() };
    let (v, _) = scan_with(limits, &z);
    assert_eq!(limit_of(&v), Some(LimitKind::MaxMembers), "{v:?}");
}

#[test]
fn archives_that_cannot_be_opened_cannot_be_scanned() {
    let mut rar = b"Rar!\x1A\x07\x01\x00".to_vec();
    rar.extend(inspect::testkit::noise(200, 9));
    let (v, _) = scan(&zip_of(&[("docs/secret.rar", &rar)]));
    match &v.could_not_scan {
        Some(c @ CouldNotScan::Unsupported { member, .. }) => {
            assert_eq!(member, "docs/secret.rar");
            assert_eq!(c.reason(), "unsupported");
        }
        other => panic!("{other:?}"),
    }
    assert!(v.is_block());
    assert!(v.file_types.contains(&inspect::FileType::UnsupportedArchive));
    // A 7z that is not one is corrupt.
    let mut seven = b"7z\xBC\xAF\x27\x1C\x00\x04".to_vec();
    seven.extend(inspect::testkit::noise(200, 9));
    let (v, _) = scan(&zip_of(&[("docs/secret.7z", &seven)]));
    assert!(
        matches!(&v.could_not_scan, Some(CouldNotScan::Corrupt { member, .. }) if member == "docs/secret.7z"),
        "{v:?}"
    );
}

#[test]
fn a_thousand_content_codings_are_a_depth_limit() {
    let engine = Engine::new(Arc::new(Policy::builtin()), Limits::default());
    let ctx = ScanContext { content_encoding: Some(vec!["gzip"; 1000].join(", ")), ..ScanContext::default() };
    let v = engine.scan_bytes(ctx, b"whatever");
    assert_eq!(limit_of(&v), Some(LimitKind::MaxDepth), "{v:?}");
    // Two codings are fine.
    let inner = inspect::testkit::gzip(b"ssn 123-45-6789");
    let ctx = ScanContext { content_encoding: Some("gzip, gzip".into()), ..ScanContext::default() };
    let v = engine.scan_bytes(ctx, &inspect::testkit::gzip(&inner));
    assert!(v.could_not_scan.is_none(), "{v:?}");
    assert_eq!(v.counts.get("us_ssn"), Some(&1));
}
