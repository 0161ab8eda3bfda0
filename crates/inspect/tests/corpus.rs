//! Precision and recall of the default policy over the labelled corpus.

use std::sync::Arc;

use inspect::testkit::{labelled_corpus, Sample};
use inspect::{Engine, Limits, Policy, ScanContext, Verdict};

fn ctx(s: &Sample) -> ScanContext {
    ScanContext {
        filename: s.filename.clone(),
        content_type: s.content_type.clone(),
        content_encoding: s.content_encoding.clone(),
        ..ScanContext::default()
    }
}

fn engine() -> Engine {
    Engine::new(Arc::new(Policy::builtin()), Limits::default())
}

fn describe(s: &Sample, v: &Verdict) -> String {
    format!(
        "{}: decision {:?}, rules {:?}, counts {:?}, cns {:?}, evidence {:?}",
        s.name,
        v.decision,
        v.rules.iter().map(|r| &r.name).collect::<Vec<_>>(),
        v.counts,
        v.could_not_scan,
        v.evidence.iter().map(|e| (&e.detector, &e.masked, &e.member)).collect::<Vec<_>>()
    )
}

#[test]
fn default_policy_precision_and_recall_are_one() {
    let engine = engine();
    let corpus = labelled_corpus();
    assert!(corpus.len() > 500, "corpus has {} samples", corpus.len());
    let (mut tp, mut fp, mut fn_) = (0, 0, 0);
    let mut failures = Vec::new();
    for s in &corpus {
        let v = engine.scan_bytes(ctx(s), &s.bytes);
        let blocked = v.is_block();
        let right_reason = match s.expect_detector {
            Some(d) => {
                v.rules.iter().any(|r| r.action == inspect::Action::Block)
                    && v.counts.get(d).copied().unwrap_or(0) > 0
            }
            None => true,
        };
        match (s.expect_block, blocked) {
            (true, true) if right_reason && v.could_not_scan.is_none() => tp += 1,
            (true, _) => {
                fn_ += 1;
                failures.push(describe(s, &v));
            }
            (false, true) => {
                fp += 1;
                failures.push(describe(s, &v));
            }
            (false, false) => {
                if v.could_not_scan.is_some() {
                    failures.push(describe(s, &v));
                }
            }
        }
    }
    let precision = tp as f64 / (tp + fp).max(1) as f64;
    let recall = tp as f64 / (tp + fn_).max(1) as f64;
    assert!(
        failures.is_empty(),
        "precision {precision}, recall {recall}, {} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(precision, 1.0);
    assert_eq!(recall, 1.0);
}

#[test]
fn evidence_is_masked_everywhere() {
    let engine = engine();
    for s in labelled_corpus().iter().filter(|s| s.name.starts_with("txt/")) {
        let v = engine.scan_bytes(ctx(s), &s.bytes);
        let debug = format!("{v:?}");
        let json = serde_json::to_string(&v).unwrap();
        for clear in [
            "4111111111111111",
            "4111 1111 1111 1111",
            "123-45-6789",
            "DE89 3704 0044 0532 0130 00",
            "AKIAIOSFODNN7EXAMPLE",
            "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",
            "MIIEowIBAAKCAQEA",
        ] {
            assert!(!debug.contains(clear), "{}: {clear} in {debug}", s.name);
            assert!(!json.contains(clear), "{}: {clear} in {json}", s.name);
        }
    }
}

#[test]
fn members_and_offsets_are_reported() {
    let engine = engine();
    let s = labelled_corpus().into_iter().find(|s| s.name == "zip_nested/positive-0-credit_card").unwrap();
    let v = engine.scan_bytes(ScanContext { filename: Some("up.zip".into()), ..ctx(&s) }, &s.bytes);
    let e = v.evidence.iter().find(|e| e.detector == "credit_card").unwrap();
    assert_eq!(e.member, "up.zip/middle.zip/inner.zip/deep/notes.txt");
    assert_eq!(e.masked, "4111********1111");
    assert!(e.offset > 0);
    assert!(v.file_types.contains(&inspect::FileType::Zip));
}

#[test]
fn office_types_are_named() {
    let engine = engine();
    for (fmt, t) in [
        ("docx", inspect::FileType::Docx),
        ("xlsx", inspect::FileType::Xlsx),
        ("pptx", inspect::FileType::Pptx),
        ("odt", inspect::FileType::Odt),
        ("ods", inspect::FileType::Ods),
        ("odp", inspect::FileType::Odp),
        ("pdf", inspect::FileType::Pdf),
        ("eml", inspect::FileType::Email),
        ("tar_gz", inspect::FileType::Tar),
        ("lz4", inspect::FileType::Lz4),
        ("tar_lz4_legacy", inspect::FileType::Lz4),
        ("lzma", inspect::FileType::Lzma),
        ("lzip", inspect::FileType::Lzip),
        ("zlib", inspect::FileType::Zlib),
    ] {
        let s = labelled_corpus().into_iter().find(|s| s.name == format!("{fmt}/negative")).unwrap();
        let v = engine.scan_bytes(ctx(&s), &s.bytes);
        assert!(v.file_types.contains(&t), "{fmt}: {:?}", v.file_types);
    }
}
