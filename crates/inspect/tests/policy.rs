//! Custom detectors, dictionaries, exclusions, scoping and file-type rules.

use std::sync::Arc;

use inspect::testkit::{encrypted_zip, zip_of};
use inspect::{Decision, Engine, Limits, Method, Policy, PreviewDecision, ScanContext};

const POLICY: &str = r#"
[policy]
name = "acme"
could_not_scan = "monitor"
exempt_file_types = ["image"]

[[detector]]
name = "employee_id"
regex = '\bEMP-[0-9]{6}\b'
confidence = "medium"
hotwords = ["employee"]

[[dictionary]]
name = "codenames"
terms = ["Project Falcon", "bluebird"]
confidence = "high"

[exclusions]
credit_card = ["4111 1111 1111 1111"]

[[rule]]
name = "employee-ids"
detectors = ["employee_id"]
min_count = 2
min_confidence = "high"
action = "block"
scope = "reqmod"

[[rule]]
name = "codenames"
detectors = ["codenames"]
action = "block"
groups = ["contractors"]

[[rule]]
name = "cards"
detectors = ["credit_card"]
action = "block"

[[rule]]
name = "executables"
file_types = ["executable"]
action = "monitor"
"#;

fn engine() -> Engine {
    Engine::new(Arc::new(Policy::from_toml_str(POLICY).expect("valid policy")), Limits::default())
}

#[test]
fn custom_regex_with_hotwords_and_counts() {
    let e = engine();
    let ctx = ScanContext::default();
    // Medium without the hotword: does not count.
    let v = e.scan_bytes(ctx.clone(), b"ids EMP-123456 and EMP-654321");
    assert_eq!(v.counts.get("employee_id"), Some(&2));
    assert!(!v.is_block(), "{v:?}");
    // The hotword raises both to high; two are enough.
    let v = e.scan_bytes(ctx.clone(), b"employee EMP-123456 and EMP-654321");
    assert!(v.is_block(), "{v:?}");
    assert_eq!(v.rules[0].name, "employee-ids");
    // One is not.
    let v = e.scan_bytes(ctx.clone(), b"employee EMP-123456");
    assert!(!v.is_block());
    // Scope: not in RESPMOD.
    let resp = ScanContext { method: Method::Respmod, ..ctx };
    let v = e.scan_bytes(resp, b"employee EMP-123456 and EMP-654321");
    assert!(!v.is_block());
}

#[test]
fn dictionary_is_case_insensitive_whole_words_and_group_scoped() {
    let e = engine();
    let contractor = ScanContext {
        user: Some("carol".into()),
        groups: vec!["Contractors".into()],
        ..ScanContext::default()
    };
    let v = e.scan_bytes(contractor.clone(), b"status of PROJECT FALCON today");
    assert!(v.is_block(), "{v:?}");
    let v = e.scan_bytes(contractor.clone(), b"the bluebirds sang");
    assert!(!v.is_block(), "{v:?}");
    let v = e.scan_bytes(ScanContext::default(), b"status of project falcon");
    assert!(!v.is_block(), "not a contractor: {v:?}");
    assert_eq!(v.counts.get("codenames"), Some(&1));
}

#[test]
fn many_dictionary_terms() {
    let terms: Vec<String> = (0..5000).map(|i| format!("\"secretterm{i:05}\"")).collect();
    let text = format!(
        "[[dictionary]]\nname = \"big\"\nterms = [{}]\n[[rule]]\nname = \"big\"\ndetectors = [\"big\"]\nmin_confidence = \"medium\"\n",
        terms.join(",")
    );
    let e = Engine::new(Arc::new(Policy::from_toml_str(&text).unwrap()), Limits::default());
    let v = e.scan_bytes(ScanContext::default(), b"x SecretTerm04999 y secretterm0000 z");
    assert_eq!(v.counts.get("big"), Some(&1), "{v:?}");
    assert!(v.is_block());
}

#[test]
fn exclusions_and_could_not_scan_action() {
    let e = engine();
    let v = e.scan_bytes(ScanContext::default(), b"test card 4111-1111-1111-1111");
    assert!(!v.is_block(), "excluded: {v:?}");
    let v = e.scan_bytes(ScanContext::default(), b"real card 5500 0000 0000 0004");
    assert!(v.is_block());
    // could_not_scan = monitor in this policy.
    let v = e.scan_bytes(ScanContext::default(), &encrypted_zip());
    assert_eq!(v.decision, Decision::Monitor, "{v:?}");
}

#[test]
fn file_type_rules_and_preview() {
    let e = engine();
    let mut elf = b"\x7fELF\x02\x01\x01\0".to_vec();
    elf.extend_from_slice(&[0u8; 100]);
    let v = e.scan_bytes(ScanContext::default(), &zip_of(&[("tool", &elf)]));
    assert_eq!(v.decision, Decision::Monitor, "{v:?}");
    assert_eq!(v.rules[0].name, "executables");
    // An exempt type is exempt only once its whole structure validates: never on a preview.
    assert_eq!(e.preview(&ScanContext::default(), b"\x89PNG\r\n\x1a\n...."), PreviewDecision::NeedBody);
    assert_eq!(e.preview(&ScanContext::default(), b"hello"), PreviewDecision::NeedBody);
    // No rule applies: exempt whatever the content.
    let p = Policy::from_toml_str("[[rule]]\nname = \"r\"\ndetectors = [\"iban\"]\nscope = \"respmod\"\n")
        .unwrap();
    let e = Engine::new(Arc::new(p), Limits::default());
    assert_eq!(e.preview(&ScanContext::default(), b"hello"), PreviewDecision::Exempt);
}

#[test]
fn default_policy_counts_contact_details_and_monitors_other_secrets() {
    let e = Engine::new(Arc::new(Policy::builtin()), Limits::default());
    let v = e.scan_bytes(ScanContext::default(), b"mail jane@example.com or call (555) 123-4567");
    assert_eq!(v.decision, Decision::Allow, "{v:?}");
    assert_eq!(v.counts.get("email"), Some(&1));
    assert_eq!(v.counts.get("phone"), Some(&1));
    let v = e.scan_bytes(
        ScanContext::default(),
        b"xoxb-1234567890-abcdefghij stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc",
    );
    assert_eq!(v.decision, Decision::Monitor, "{v:?}");
    assert_eq!(v.counts.get("slack_token"), Some(&1));
    assert_eq!(v.counts.get("stripe_key"), Some(&1));
}

#[test]
fn scan_reader_reads_zip_in_place() {
    let e = Engine::new(Arc::new(Policy::builtin()), Limits::default());
    let z = zip_of(&[("a.txt", b"iban GB82WEST12345698765432".as_slice())]);
    let v = e.scan_reader(ScanContext::default(), std::io::Cursor::new(z)).unwrap();
    assert!(v.is_block());
    assert_eq!(v.evidence[0].member, "a.txt");
    let v = e.scan_reader(ScanContext::default(), std::io::Cursor::new(b"ssn 123-45-6789".to_vec())).unwrap();
    assert!(v.is_block());
}

#[test]
fn exempt_types_are_skipped_in_full_scans_too() {
    let e = engine();
    // A valid image: its pixel data is not scanned.
    let png = inspect::testkit::png(&[("IDAT", b" card 5500 0000 0000 0004 ".as_slice())]);
    let v = e.scan_bytes(ScanContext::default(), &png);
    assert!(!v.is_block(), "{v:?}");
    assert!(v.file_types.contains(&inspect::FileType::Image));
    // Inside an archive as well; the archive's other members are still scanned.
    let z = zip_of(&[("a.png", &png), ("b.txt", b"card 5500 0000 0000 0004".as_slice())]);
    let v = e.scan_bytes(ScanContext::default(), &z);
    assert_eq!(v.counts.get("credit_card"), Some(&1), "{v:?}");
    // The signature alone exempts nothing.
    let mut fake = b"\x89PNG\r\n\x1a\n".to_vec();
    fake.extend_from_slice(b" card 5500 0000 0000 0004 ");
    assert!(e.scan_bytes(ScanContext::default(), &fake).is_block());
}

#[test]
fn exempt_office_types() {
    let p = Policy::from_toml_str(
        "[policy]\nexempt_file_types = [\"docx\"]\n[[rule]]\nname = \"c\"\ndetectors = [\"credit_card\"]\n",
    )
    .expect("valid policy");
    let e = Engine::new(Arc::new(p), Limits::default());
    let d = inspect::testkit::docx(&["card 5500 0000 0000 0004"]);
    assert!(!e.scan_bytes(ScanContext::default(), &d).is_block());
    assert!(!e.scan_reader(ScanContext::default(), std::io::Cursor::new(d)).unwrap().is_block());
    let x = inspect::testkit::xlsx(&["a", "card 5500 0000 0000 0004"]);
    assert!(e.scan_bytes(ScanContext::default(), &x).is_block());
}
