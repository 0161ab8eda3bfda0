//! Building an index in memory and finding its rows through the engine.

use std::io::Cursor;
use std::sync::Arc;

use super::*;
use crate::{Engine, Limits, Policy, ScanContext};

const SECRET: [u8; 32] = [7; 32];

fn opts(primary: &[&str]) -> BuildOptions {
    BuildOptions {
        name: "customers".into(),
        primary: primary.iter().map(|s| s.to_string()).collect(),
        kinds: Default::default(),
        max_bad_fraction: DEFAULT_MAX_BAD_FRACTION,
        source: "customers.csv".into(),
        built_at: 0,
        build_id: [1; 16],
        key_file: None,
    }
}

pub(crate) fn build(
    header: &[&str],
    rows: &[Vec<String>],
    primary: &[&str],
) -> Result<(Vec<u8>, Report), BuildError> {
    let header: Vec<String> = header.iter().map(|s| s.to_string()).collect();
    let mut b = Builder::new(&header, opts(primary), EdmKey::new(&SECRET), Cursor::new(Vec::new()), || {
        Ok(Cursor::new(Vec::new()))
    })?;
    for (i, r) in rows.iter().enumerate() {
        let fields: Vec<&[u8]> = r.iter().map(|s| s.as_bytes()).collect();
        b.push(i as u64 + 2, &fields)?;
    }
    let (out, report) = b.finish()?;
    Ok((out.into_inner(), report))
}

fn table() -> Vec<Vec<String>> {
    (0..300)
        .map(|i| {
            vec![
                format!("C{:06}", 100_000 + i * 7),
                format!("First{i} Last{i}"),
                format!("user{i}@example.com"),
                format!("(555) {:03}-{:04}", i % 1000, (i * 37) % 10000),
                format!("{} Main Street", i + 1),
            ]
        })
        .collect()
}

fn engine(bytes: Vec<u8>, rule: &str) -> Engine {
    let index = Arc::new(EdmIndex::open(Arc::new(bytes), EdmKey::new(&SECRET)).unwrap());
    let text = format!(
        "[[rule]]\nname = \"customer-records\"\nedm = {rule}\nseverity = \"high\"\naction = \"block\"\n"
    );
    let policy = Policy::from_toml_str_with(&text, &mut |name| {
        assert_eq!(name, "customers");
        Ok(index.clone())
    })
    .unwrap();
    Engine::new(Arc::new(policy), Limits::default())
}

const HEADER: [&str; 5] = ["id", "name", "email", "phone", "address"];

#[test]
fn a_row_is_found_and_near_misses_are_not() {
    let (bytes, report) = build(&HEADER, &table(), &["id", "email"]).unwrap();
    assert_eq!(report.rows, 300);
    assert_eq!(report.columns[3].kind, Kind::Phone);
    assert_eq!(report.columns[1].kind, Kind::Text);
    let e = engine(bytes, "{ index = \"customers\", min_fields = 2, proximity = 300 }");
    let scan = |t: &str| e.scan_bytes(ScanContext::default(), t.as_bytes());
    // Row 42: id and name, written differently.
    let v = scan("Ticket for c100294 from FIRST42   last42, thanks");
    assert!(v.is_block(), "{v:?}");
    let edm: Vec<_> = v.evidence.iter().filter(|e| e.detector == "edm:customers").collect();
    assert_eq!(edm.len(), 1, "{v:?}");
    assert_eq!(edm[0].masked, "customers row 43 (line 44): id, name");
    // The phone as a number in another layout, and the e-mail as primary.
    let v = scan("mail User17@Example.com or call 555.017.0629 today");
    assert!(v.is_block(), "{v:?}");
    // Near misses.
    assert!(!scan("Ticket for C100294, nothing else").is_block(), "primary only");
    assert!(!scan("Ticket for C100294 from First43 Last43").is_block(), "another row's name");
    let far = format!("C100294 {} First42 Last42", "filler ".repeat(60));
    assert!(!scan(&far).is_block(), "too far apart");
    assert!(!scan("Ticket for C999999 from First42 Last42").is_block(), "an id in no row");
    // Proximity counts before the primary too.
    assert!(scan("First42 Last42 wrote about C100294").is_block());
}

/// A phone column matches its numbers in national and international form, as primary and
/// as corroborating field; another number column keeps every digit.
#[test]
fn phones_match_in_national_and_international_form() {
    let header = ["id", "name", "phone", "account"];
    let rows: Vec<Vec<String>> = (0..50)
        .map(|i| {
            vec![
                format!("C{:06}", 100_000 + i),
                format!("First{i} Last{i}"),
                format!("+44 20 7946 {:04}", 1000 + i),
                format!("{:010}", 4_000_000_000u64 + i as u64),
            ]
        })
        .collect();
    let (bytes, report) = build(&header, &rows, &["id", "phone"]).unwrap();
    assert_eq!(report.columns[2].kind, Kind::Phone, "{report}");
    assert_eq!(report.columns[3].kind, Kind::Number, "{report}");
    let e = engine(bytes, "{ index = \"customers\", min_fields = 2 }");
    let scan = |t: &str| e.scan_bytes(ScanContext::default(), t.as_bytes());
    // The national form corroborates the id, and is a primary the name corroborates.
    assert!(scan("C100007 called from 020 7946 1007").is_block());
    assert!(scan("First7 Last7, tel. (020) 7946-1007").is_block());
    assert!(scan("First7 Last7, tel. 0044 20 7946 1007").is_block());
    assert!(scan("First7 Last7, tel. +442079461007").is_block());
    // Another row's phone, or a number ending alike in an account column, do not.
    assert!(!scan("First7 Last7, tel. 020 7946 1008").is_block());
    assert!(!scan("C100007 account 94000000007").is_block(), "accounts keep every digit");
    assert!(scan("C100007 account 4000000007").is_block());
    // Groups of two, as French numbers are written, with the country code: six tokens.
    assert!(!scan("First7 Last7, tel. +44 20 79 46 10 08").is_block());
    assert!(scan("First7 Last7, tel. +44 20 79 46 10 07").is_block());
}

#[test]
fn found_whatever_the_chunking() {
    let (bytes, _) = build(&HEADER, &table(), &["id"]).unwrap();
    let e = engine(bytes, "{ index = \"customers\", min_fields = 3 }");
    let mut text = "lorem ipsum dolor sit amet ".repeat(20_000).into_bytes();
    let at = text.len() / 2;
    text.splice(at..at, b" 101 Main Street; customer C100700 user100@example.com ".iter().copied());
    for chunk in [1usize, 7, 4096, 65_536, 300_000] {
        let mut s = e.scanner(ScanContext::default());
        for c in text.chunks(chunk) {
            s.feed(c);
        }
        let v = s.finish();
        assert!(v.is_block(), "chunk {chunk}: {v:?}");
        assert_eq!(v.counts.get("edm:customers"), Some(&1), "chunk {chunk}");
        let edm: Vec<_> = v.evidence.iter().filter(|e| e.detector == "edm:customers").collect();
        assert_eq!(edm[0].offset, (at + 27) as u64, "chunk {chunk}");
    }
}

/// Rows spread over several rounds of the matcher, near round ends and packed together, are
/// each found once: the n-grams around each primary are read for its own window.
#[test]
fn rows_all_over_a_long_text_are_each_found() {
    let (bytes, _) = build(&HEADER, &table(), &["id"]).unwrap();
    let e = engine(bytes, "{ index = \"customers\", min_fields = 2 }");
    let filler = "lorem ipsum 4711 dolor C123 sit amet user@example.org ".repeat(16_000).into_bytes();
    let mut text = Vec::new();
    let mut planted = 0;
    let mut x = 12_345usize;
    let mut from = 0;
    while from < filler.len() {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345) % (1 << 31);
        let to = (from + 1 + x % 40_000).min(filler.len());
        text.extend_from_slice(&filler[from..to]);
        // One row, or five back to back.
        for _ in 0..if planted % 7 == 3 { 5 } else { 1 } {
            let i = planted * 3 % 300;
            let (id, name, gap) = (format!("C{:06}", 100_000 + i * 7), format!("First{i} Last{i}"), x % 250);
            let row = if planted % 2 == 0 {
                format!(" {id} {:gap$} {name} ", "")
            } else {
                format!(" {name} {:gap$} {id} ", "")
            };
            text.extend_from_slice(row.as_bytes());
            planted += 1;
        }
        from = to;
    }
    assert!(text.len() > 3 * 256 * 1024 && planted > 40, "{} {planted}", text.len());
    for chunk in [4096usize, 65_536, 1 << 20] {
        let mut s = e.scanner(ScanContext::default());
        for c in text.chunks(chunk) {
            s.feed(c);
        }
        let v = s.finish();
        assert_eq!(v.counts.get("edm:customers"), Some(&planted), "chunk {chunk}");
    }
}

#[test]
fn bad_rows_are_counted_and_over_the_threshold_fail() {
    let mut rows = table();
    rows[3] = vec!["only".into(), "two".into()];
    rows[5][0] = " - ".into();
    rows[9] = rows[8].clone();
    let (_, report) = build(&HEADER, &rows, &["id"]).unwrap();
    assert_eq!(report.rows, 297);
    assert_eq!(report.bad[&BadRow::FieldCount], (1, vec![5]));
    assert_eq!(report.bad[&BadRow::EmptyPrimary], (1, vec![7]));
    assert_eq!(report.bad[&BadRow::Duplicate], (1, vec![11]));
    for r in rows.iter_mut().take(20) {
        r.pop();
    }
    match build(&HEADER, &rows, &["id"]) {
        Err(BuildError::TooManyBad { bad, records: 300, .. }) => assert_eq!(bad, 20),
        other => panic!("{other:?}"),
    }
    assert!(matches!(build(&HEADER, &table(), &["nope"]), Err(BuildError::Header(_))));
}

#[test]
fn the_index_holds_no_value_and_needs_its_key() {
    let rows = table();
    let (bytes, _) = build(&HEADER, &rows, &["id", "email"]).unwrap();
    for row in &rows {
        for cell in row {
            for form in
                [Cell::new(cell).form(Kind::Text), Cell::new(cell).form(Kind::Number)].into_iter().flatten()
            {
                if form.len() >= 4 {
                    assert!(memchr::memmem::find(&bytes, &form).is_none(), "{cell}");
                }
            }
        }
    }
    let wrong = EdmIndex::open(Arc::new(bytes.clone()), EdmKey::new(&[8; 32]));
    assert!(matches!(wrong, Err(FormatError::WrongKey)));
    let cut = bytes[..bytes.len() - 1].to_vec();
    assert!(matches!(EdmIndex::open(Arc::new(cut), EdmKey::new(&SECRET)), Err(FormatError::Damaged(_))));
    assert!(matches!(
        EdmIndex::open(Arc::new(vec![0u8; 10]), EdmKey::new(&SECRET)),
        Err(FormatError::NotAnIndex)
    ));
    // An index of another format version says so, and what to do.
    let mut old = bytes.clone();
    old[8..12].copy_from_slice(&1u32.to_le_bytes());
    let e = EdmIndex::open(Arc::new(old), EdmKey::new(&SECRET)).unwrap_err();
    assert!(matches!(e, FormatError::OtherVersion(1)), "{e}");
    assert!(e.to_string().contains("dlpgate edm index"), "{e}");
}

/// Accents and how characters are composed do not hide a row, in the table or the content.
#[test]
fn accents_and_unicode_composition_do_not_matter() {
    // The second name is written decomposed in the table (an e and a combining acute).
    let rows = vec![
        vec!["C000001".to_string(), "José Müller".to_string(), "jm@example.com".to_string()],
        vec!["C000002".to_string(), "Zoe\u{301} \u{c5}sa".to_string(), "z@example.com".to_string()],
    ];
    let (bytes, _) = build(&["id", "name", "email"], &rows, &["id"]).unwrap();
    let e = engine(bytes, "{ index = \"customers\", min_fields = 2, proximity = 300 }");
    let scan = |t: &str| e.scan_bytes(ScanContext::default(), t.as_bytes());
    for text in [
        "C000001 Jose\u{301} Mu\u{308}ller",
        "c000001: JOSE MULLER",
        "C000001 José Müller",
        "C000002 Zoé Åsa",
        "C000002 zoe A\u{30a}SA",
    ] {
        assert!(scan(text).is_block(), "{text:?}");
    }
    // Another name with the same id is no row.
    assert!(!scan("C000001 Jose Martinez").is_block());
}

#[test]
fn rules_are_checked_against_their_index() {
    let (bytes, _) = build(&HEADER, &table(), &["id"]).unwrap();
    let index = Arc::new(EdmIndex::open(Arc::new(bytes), EdmKey::new(&SECRET)).unwrap());
    let load = |rule: &str| {
        let text = format!("[[rule]]\nname = \"r\"\nedm = {rule}\n");
        Policy::from_toml_str_with(&text, &mut |_| Ok(index.clone())).map(|_| ())
    };
    assert!(load("{ index = \"customers\" }").is_ok());
    let e = load("{ index = \"customers\", min_fields = 6 }").unwrap_err();
    assert!(e.message.contains("5 columns") && e.line == Some(1), "{e}");
    let e = load(&format!("{{ index = \"customers\", proximity = {} }}", MAX_PROXIMITY + 1)).unwrap_err();
    assert!(e.message.contains("proximity"), "{e}");
    let e = load("{ index = \"../etc\" }").unwrap_err();
    assert!(e.message.contains("must be"), "{e}");
    // Without a data directory, an EDM rule is an error that says so.
    let e = Policy::from_toml_str("[[rule]]\nname = \"r\"\nedm = { index = \"customers\" }\n").unwrap_err();
    assert!(e.message.contains("data directory"), "{e}");
    // Two parameter sets on one index count apart.
    let text = "[[rule]]\nname = \"a\"\nedm = { index = \"customers\" }\n\n[[rule]]\nname = \"b\"\nedm = { index = \"customers\", min_fields = 3 }\n";
    let p = Policy::from_toml_str_with(text, &mut |_| Ok(index.clone())).unwrap();
    let v = Engine::new(Arc::new(p), Limits::default())
        .scan_bytes(ScanContext::default(), b"C100294 First42 Last42");
    assert_eq!(v.rules.len(), 1, "{v:?}");
    assert_eq!(v.rules[0].name, "a");
}
