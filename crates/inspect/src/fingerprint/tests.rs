//! Building an index in memory and finding its documents through the engine.

use std::io::Cursor;
use std::sync::Arc;

use super::*;
use crate::testkit::fingerprints::{protected_document, Corpus};
use crate::{Engine, IndexResolver, Limits, Policy, ScanContext};

/// The fingerprints of `bytes` as the engine reads them.
pub(crate) fn collected(bytes: &[u8]) -> Collected {
    let e = Engine::new(Arc::new(Policy::for_fingerprinting()), Limits::default());
    e.fingerprint_reader(ScanContext::default(), Cursor::new(bytes)).unwrap()
}

/// The fingerprint hashes of `bytes`.
pub(crate) fn prints_of(bytes: &[u8]) -> Vec<u64> {
    collected(bytes).prints.iter().map(|p| p.hash).collect()
}

/// Adds a document to a build.
fn push(b: &mut Builder<Cursor<Vec<u8>>>, name: &str, bytes: &[u8]) {
    use sha2::Digest;
    let sha: [u8; 32] = sha2::Sha256::digest(bytes).into();
    let c = collected(bytes);
    b.push_document(name, bytes.len() as u64, sha, &c.prints, c.words).unwrap();
}

pub(crate) fn build(docs: &[(&str, &[u8])], templates: &[&[u8]], cap: u32) -> (Vec<u8>, Report) {
    let opts =
        BuildOptions { name: "contracts".into(), max_doc_frequency: cap, built_at: 0, build_id: [3; 16] };
    let mut b = Builder::new(opts, || Ok(Cursor::new(Vec::new()))).unwrap();
    for t in templates {
        b.push_template(&prints_of(t));
    }
    for (name, bytes) in docs {
        push(&mut b, name, bytes);
    }
    let (out, report) = b.finish(Cursor::new(Vec::new())).unwrap();
    (out.into_inner(), report)
}

struct One(Arc<FingerprintIndex>);
impl IndexResolver for One {
    fn edm(&mut self, name: &str) -> Result<Arc<crate::edm::EdmIndex>, String> {
        Err(format!("no edm {name}"))
    }
    fn fingerprint(&mut self, name: &str) -> Result<Arc<FingerprintIndex>, String> {
        assert_eq!(name, "contracts");
        Ok(self.0.clone())
    }
}

pub(crate) fn engine(index: Vec<u8>, min: f64) -> Engine {
    let index = Arc::new(FingerprintIndex::open(Arc::new(index)).unwrap());
    let text = format!(
        "[[rule]]\nname = \"contracts\"\nfingerprint = {{ index = \"contracts\", min_containment = {min} }}\n"
    );
    let policy = Policy::from_toml_str_with_indexes(&text, &mut One(index)).unwrap();
    Engine::new(Arc::new(policy), Limits::default())
}

#[test]
fn excerpts_reformatted_copies_and_exact_copies_match() {
    let docs: Vec<String> = (0..20).map(|i| protected_document(i, 1500)).collect();
    let named: Vec<(String, &[u8])> =
        docs.iter().enumerate().map(|(i, d)| (format!("doc{i}.txt"), d.as_bytes())).collect();
    let named: Vec<(&str, &[u8])> = named.iter().map(|(n, b)| (n.as_str(), *b)).collect();
    let (bytes, report) = build(&named, &[], DEFAULT_MAX_DOC_FREQUENCY);
    assert_eq!(report.documents, 20);
    assert!(report.exact_only.is_empty());
    let e = engine(bytes.clone(), 0.3);
    let scan = |t: &[u8]| e.scan_bytes(ScanContext::default(), t);
    // An exact copy, a third inside other text, and a reformatted copy.
    let v = scan(docs[4].as_bytes());
    assert!(v.is_block(), "{v:?}");
    assert!(v.evidence[0].masked.contains("doc4.txt: exact copy"), "{v:?}");
    let words: Vec<&str> = docs[7].split_whitespace().collect();
    let third = words[500..1000].join(" ");
    let filler = Corpus::new(99).prose(2000);
    let v = scan(format!("{filler}\n{third}\n{filler}").as_bytes());
    assert!(v.is_block(), "{v:?}");
    assert!(v.evidence[0].masked.starts_with("contracts: doc7.txt: 3"), "{v:?}");
    let upper = docs[9].to_uppercase().replace(". ", ".\n\n").replace(' ', "  ");
    assert!(scan(upper.as_bytes()).is_block());
    // Unrelated prose, and a tenth at 0.3, do not.
    assert!(!scan(filler.as_bytes()).is_block());
    let tenth = words[100..250].join(" ");
    assert!(!scan(format!("{filler} {tenth}").as_bytes()).is_block());
    assert!(engine(bytes, 0.05)
        .scan_bytes(ScanContext::default(), format!("{filler} {tenth}").as_bytes())
        .is_block());
}

#[test]
fn templates_and_common_passages_are_dropped() {
    let licence = Corpus::new(5).prose(400);
    let docs: Vec<String> = (0..6).map(|i| format!("{licence}\n{}", protected_document(i, 800))).collect();
    let named: Vec<(String, &[u8])> =
        docs.iter().enumerate().map(|(i, d)| (format!("d{i}"), d.as_bytes())).collect();
    let named: Vec<(&str, &[u8])> = named.iter().map(|(n, b)| (n.as_str(), *b)).collect();
    // Without the template, the shared licence alone matches every document at 0.3.
    let other = format!("{licence}\n{}", Corpus::new(77).prose(300));
    let (plain, _) = build(&named, &[], DEFAULT_MAX_DOC_FREQUENCY);
    assert!(engine(plain, 0.3).scan_bytes(ScanContext::default(), other.as_bytes()).is_block());
    // Subtracted as a template, it no longer does; the documents' own text still does.
    let (sub, report) = build(&named, &[licence.as_bytes()], DEFAULT_MAX_DOC_FREQUENCY);
    assert!(report.dropped_excluded > 10, "{report:?}");
    let e = engine(sub, 0.3);
    assert!(!e.scan_bytes(ScanContext::default(), other.as_bytes()).is_block());
    assert!(e.scan_bytes(ScanContext::default(), docs[2].as_bytes()).is_block());
    // A document-frequency cap of 5 drops what all six share.
    let (capped, report) = build(&named, &[], 5);
    assert!(report.dropped_common > 10, "{report:?}");
    assert!(!engine(capped, 0.3).scan_bytes(ScanContext::default(), other.as_bytes()).is_block());
}

#[test]
fn an_excerpt_split_across_parts_of_an_object_counts_whole() {
    let doc = protected_document(3, 1500);
    let (bytes, _) = build(&[("board.txt", doc.as_bytes())], &[], DEFAULT_MAX_DOC_FREQUENCY);
    let e = engine(bytes, 0.5);
    let words: Vec<&str> = doc.split_whitespace().collect();
    let a = words[..450].join(" ");
    let b = words[450..900].join(" ");
    // Each half alone is under 50%; both members of one zip together are over.
    let zip_a = crate::testkit::zip_of(&[("a.txt", a.as_bytes())]);
    assert!(!e.scan_bytes(ScanContext::default(), &zip_a).is_block());
    let zip = crate::testkit::zip_of(&[("a.txt", a.as_bytes()), ("b.txt", b.as_bytes())]);
    let v = e.scan_bytes(ScanContext::default(), &zip);
    assert!(v.is_block(), "{v:?}");
}

#[test]
fn damaged_indexes_are_refused_or_harmless() {
    let doc = protected_document(1, 600);
    let (bytes, _) = build(&[("x", doc.as_bytes())], &[], DEFAULT_MAX_DOC_FREQUENCY);
    assert!(FingerprintIndex::open(Arc::new(bytes.clone())).is_ok());
    assert!(matches!(FingerprintIndex::open(Arc::new(bytes[..100].to_vec())), Err(FormatError::NotAnIndex)));
    assert!(FingerprintIndex::open(Arc::new(bytes[..bytes.len() - 1].to_vec())).is_err());
    // Every single-byte change: an error or an index that answers without panicking.
    for i in (0..bytes.len()).step_by(7) {
        let mut b = bytes.clone();
        b[i] ^= 0xA5;
        if let Ok(idx) = FingerprintIndex::open(Arc::new(b)) {
            let e = engine_of(idx);
            let _ = e.scan_bytes(ScanContext::default(), doc.as_bytes());
        }
    }
}

fn engine_of(index: FingerprintIndex) -> Engine {
    let text = "[[rule]]\nname = \"c\"\nfingerprint = { index = \"contracts\" }\n";
    let policy = Policy::from_toml_str_with_indexes(text, &mut One(Arc::new(index))).unwrap();
    Engine::new(Arc::new(policy), Limits::default())
}

#[test]
fn policy_errors_and_versions() {
    let doc = protected_document(1, 300);
    let (bytes, _) = build(&[("x", doc.as_bytes())], &[], DEFAULT_MAX_DOC_FREQUENCY);
    let index = Arc::new(FingerprintIndex::open(Arc::new(bytes)).unwrap());
    for bad in ["0", "1.5", "-0.2", "nan"] {
        let text = format!(
            "[[rule]]\nname = \"c\"\nfingerprint = {{ index = \"contracts\", min_containment = {bad} }}\n"
        );
        let e = Policy::from_toml_str_with_indexes(&text, &mut One(index.clone()));
        assert!(e.is_err(), "{bad}");
    }
    let e = Policy::from_toml_str("[[rule]]\nname = \"c\"\nfingerprint = { index = \"contracts\" }\n")
        .unwrap_err();
    assert!(e.message.contains("fingerprint index \"contracts\" is not available"), "{e}");
    // A rebuilt index (a new build id) changes the policy version.
    let text = "[[rule]]\nname = \"c\"\nfingerprint = { index = \"contracts\" }\n";
    let a = Policy::from_toml_str_with_indexes(text, &mut One(index.clone())).unwrap();
    let opts =
        BuildOptions { name: "contracts".into(), max_doc_frequency: 8, built_at: 0, build_id: [4; 16] };
    let mut b = Builder::new(opts, || Ok(Cursor::new(Vec::new()))).unwrap();
    push(&mut b, "x", doc.as_bytes());
    let rebuilt = b.finish(Cursor::new(Vec::new())).unwrap().0.into_inner();
    let rebuilt = Arc::new(FingerprintIndex::open(Arc::new(rebuilt)).unwrap());
    let b = Policy::from_toml_str_with_indexes(text, &mut One(rebuilt)).unwrap();
    assert_ne!(a.version(), b.version());
    // The fingerprinting policy is valid.
    assert!(Policy::for_fingerprinting().rules().is_empty());
}

#[test]
fn records_round_trip_and_damage_is_an_error() {
    let r = DocumentRecord {
        name: "a/b.docx".into(),
        template: false,
        size: 9,
        sha256: [1; 32],
        prints: vec![Print { hash: 1, at: 7 }, Print { hash: 2, at: 3 }, Print { hash: 3, at: 1 << 20 }],
        words: 1234,
    };
    let t = DocumentRecord {
        name: "tpl".into(),
        template: true,
        prints: vec![Print { hash: 9, at: 0 }],
        ..r.clone()
    };
    let mut out = Vec::new();
    write_magic(&mut out).unwrap();
    write_record(&mut out, &r).unwrap();
    let boundary = out.len();
    write_record(&mut out, &t).unwrap();
    let mut back = Vec::new();
    read_records(out.as_slice(), |x| {
        back.push(x);
        Ok(())
    })
    .unwrap();
    assert_eq!(back, [r, t]);
    // A cut anywhere but between records is an error.
    for cut in (1..out.len()).filter(|&c| c != 8 && c != boundary) {
        assert!(read_records(&out[..cut], |_| Ok(())).is_err(), "cut at {cut}");
    }
    assert!(read_records(&b""[..], |_| Ok(())).is_ok());
}

/// The share found of a document, from the evidence of a rule at 0.01 (0 when none).
fn share_in(e: &Engine, text: &str, doc: &str) -> f64 {
    let v = e.scan_bytes(ScanContext::default(), text.as_bytes());
    v.evidence
        .iter()
        .find(|ev| ev.masked.starts_with(&format!("contracts: {doc}: ")))
        .and_then(|ev| ev.masked.split(": ").nth(2)?.split('%').next()?.parse::<f64>().ok())
        .map_or(0.0, |p| p / 100.0)
}

/// A contiguous excerpt of a share p of a document counts at least p, wherever it starts
/// (a count of fingerprints would say a little less, more or less at random); an edited
/// copy counts nearly whole; unrelated text on the topic counts next to nothing.
#[test]
fn excerpts_count_at_least_their_share() {
    let docs: Vec<String> = (0..12).map(|i| protected_document(i, 1500)).collect();
    let named: Vec<(String, &[u8])> =
        docs.iter().enumerate().map(|(i, d)| (format!("doc{i}.txt"), d.as_bytes())).collect();
    let named: Vec<(&str, &[u8])> = named.iter().map(|(n, b)| (n.as_str(), *b)).collect();
    let (bytes, _) = build(&named, &[], DEFAULT_MAX_DOC_FREQUENCY);
    let low = engine(bytes.clone(), 0.01);
    let at: Vec<(f64, Engine)> = [0.1, 0.3, 0.6].map(|s| (s, engine(bytes.clone(), s))).into();
    let filler = Corpus::new(41).prose(600);
    for (i, doc) in docs.iter().enumerate() {
        let name = format!("doc{i}.txt");
        // Stock phrases of the topic in the filler count a little on their own.
        let base = share_in(&low, &format!("{filler}\n{filler}"), &name);
        assert!(base < 0.05, "doc {i}: the filler alone counted {base}");
        let words: Vec<&str> = doc.split_whitespace().collect();
        for (share, e) in &at {
            let n = (words.len() as f64 * share).ceil() as usize;
            for start in [0, 137 * i % 400, words.len() - n] {
                let excerpt = words[start..start + n].join(" ");
                let text = format!("{filler}\n{excerpt}\n{filler}");
                let v = e.scan_bytes(ScanContext::default(), text.as_bytes());
                let found = share_in(&low, &text, &name);
                assert!(v.is_block(), "doc {i}: a {share} excerpt from word {start} counted {found}");
                assert!(
                    found <= share + base + 0.04,
                    "doc {i}: {share} excerpt from word {start} counted {found}"
                );
            }
        }
        let edited = crate::testkit::fingerprints::edited(doc, 20, i as u64);
        let found = share_in(&low, &edited, &name);
        assert!(found >= 0.8, "doc {i}: one word in 20 edited counted {found}");
    }
    let unrelated = Corpus::new(7).prose(1500);
    for i in 0..docs.len() {
        let v = low.scan_bytes(ScanContext::default(), unrelated.as_bytes());
        let found = share_in(&low, &unrelated, &format!("doc{i}.txt"));
        assert!(found < 0.06, "doc {i}: unrelated text counted {found}: {:?}", v.evidence);
    }
}

#[test]
fn coverage_of_runs() {
    let w = WINDOW as u32;
    // One run of fingerprints 6 apart from shingle 100 to 400: 301 shingles, the reach
    // of a window on either side and the last shingle's five other words.
    let run: Vec<u32> = (100..=400).step_by(6).collect();
    assert_eq!(matcher::coverage(&run, 6.5, w - 1), f64::from(301 + 2 * (w - 1) + 5));
    // Measured for a span, without the reach.
    assert_eq!(matcher::coverage(&run, 6.5, 0), f64::from(301 + 5));
    // At the start of a stream the run cannot reach before it.
    let start: Vec<u32> = (3..=300).step_by(6).collect();
    assert_eq!(matcher::coverage(&start, 6.5, w - 1), f64::from(295 + 3 + (w - 1) + 5));
    // Lone fingerprints, far apart, and runs of two count for the spacing; runs do not join
    // across streams.
    assert_eq!(matcher::coverage(&[10, 500, 5000, 5010], 6.5, w - 1), 4.0 * 6.5);
    let s1 = position(1, 0);
    let across = [(1 << POSITION_BITS) - 2, (1 << POSITION_BITS) - 1, s1, s1 + 1];
    assert_eq!(matcher::coverage(&across, 6.5, w - 1), 4.0 * 6.5);
}

/// A protected document with little text (a drawing, a table of numbers) is found by its
/// hash alone: inside a zip, a gzip stream, a tar, or base64 in JSON it is an exact copy
/// too, and names the member; the same bytes changed by one are not.
#[test]
fn exact_copies_inside_containers_match() {
    use crate::testkit::evasion::base64_std;
    use crate::testkit::{gzip, zip_of};
    use crate::testkit::{tar_entries, TarEntry};
    let drawing: Vec<u8> =
        (0..20_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect::<Vec<u8>>();
    let (bytes, report) = build(&[("drawing.bin", &drawing)], &[], DEFAULT_MAX_DOC_FREQUENCY);
    assert_eq!(report.documents, 1);
    let e = engine(bytes, 0.9);
    let scan = |b: &[u8]| e.scan_bytes(ScanContext::default(), b);
    let tar = tar_entries(&[TarEntry { name: "plans/drawing.bin", kind: b'0', link: "", data: &drawing }]);
    let json = format!("{{\"file\": \"{}\"}}", base64_std(&drawing));
    for (what, object) in [
        ("zip", zip_of(&[("readme.txt", b"hello"), ("plans/drawing.bin", &drawing)])),
        ("gzip", gzip(&drawing)),
        ("tar.gz", gzip(&tar)),
        ("base64 in JSON", json.into_bytes()),
        ("zip in a zip", zip_of(&[("inner.zip", &zip_of(&[("d.bin", &drawing)]))])),
    ] {
        let v = scan(&object);
        assert!(v.is_block(), "{what}: {v:?}");
        assert!(v.evidence.iter().any(|e| e.masked.contains("drawing.bin: exact copy in ")), "{what}: {v:?}");
    }
    let mut changed = drawing.clone();
    changed[10_000] ^= 1;
    assert!(!scan(&zip_of(&[("plans/drawing.bin", &changed)])).is_block());
    assert!(!scan(&gzip(&drawing[..19_999])).is_block());
}
