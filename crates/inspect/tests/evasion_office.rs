//! Office formats: a sensitive value in any hiding place blocks; the same document with only
//! decoys there is allowed; encrypted documents cannot be scanned; damaged ones never panic
//! and never hide text that can still be read.

use std::sync::Arc;

use inspect::testkit::office::{
    docx_with, odf_with, odt_encrypted, pptx_with, split_runs, xlsx_with, DOCX_PLACES, ODP_PLACES,
    ODS_PLACES, ODT_PLACES, PPTX_PLACES, XLSX_PLACES,
};
use inspect::testkit::ole::{msg_with, ole_of, ole_with_removed, summary_information, MSG_PLACES};
use inspect::testkit::{decoys, prose, zip_of};
use inspect::{CouldNotScan, Engine, Limits, Policy, ScanContext, Verdict};

/// One value per numeric detector of the default policy, with the words around it.
const SECRETS: &[(&str, &str)] = &[
    ("credit_card", "card 4111 1111 1111 1111 on file"),
    ("us_ssn", "employee SSN 123-45-6789"),
    ("iban", "pay IBAN DE89 3704 0044 0532 0130 00"),
];

fn engine() -> Engine {
    Engine::new(Arc::new(Policy::builtin()), Limits::default())
}

fn scan(data: &[u8]) -> Verdict {
    engine().scan_bytes(ScanContext::default(), data)
}

fn describe(v: &Verdict) -> String {
    format!(
        "decision {:?}, counts {:?}, cns {:?}, evidence {:?}",
        v.decision,
        v.counts,
        v.could_not_scan,
        v.evidence.iter().map(|e| (&e.detector, &e.masked, &e.member)).collect::<Vec<_>>()
    )
}

/// Every place of a format: each secret must block (found by its detector), decoys must
/// pass with nothing could-not-scan.
fn check_places(format: &str, places: &[&str], make: impl Fn(&str, &str) -> Vec<u8>) {
    let mut failures = Vec::new();
    for place in places {
        for (detector, value) in SECRETS {
            let v = scan(&make(place, value));
            if !v.is_block()
                || v.counts.get(*detector).copied().unwrap_or(0) == 0
                || v.could_not_scan.is_some()
            {
                failures.push(format!("{format}/{place} with {detector} not blocked: {}", describe(&v)));
            }
        }
        let v = scan(&make(place, &decoys()));
        if v.is_incident() || v.could_not_scan.is_some() {
            failures.push(format!("{format}/{place} with decoys not allowed: {}", describe(&v)));
        }
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn docx_hiding_places() {
    check_places("docx", DOCX_PLACES, docx_with);
}

#[test]
fn xlsx_hiding_places() {
    check_places("xlsx", XLSX_PLACES, xlsx_with);
}

#[test]
fn pptx_hiding_places() {
    check_places("pptx", PPTX_PLACES, pptx_with);
}

#[test]
fn odt_hiding_places() {
    check_places("odt", ODT_PLACES, |p, s| odf_with("odt", p, s));
}

#[test]
fn ods_hiding_places() {
    check_places("ods", ODS_PLACES, |p, s| odf_with("ods", p, s));
}

#[test]
fn odp_hiding_places() {
    check_places("odp", ODP_PLACES, |p, s| odf_with("odp", p, s));
}

/// A minimal docx around one body.
fn docx_body(body: &str) -> Vec<u8> {
    let doc = format!("<?xml version=\"1.0\"?><w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"><w:body>{body}</w:body></w:document>");
    zip_of(&[
        ("[Content_Types].xml", b"<?xml version=\"1.0\"?><Types/>".as_slice()),
        ("word/document.xml", doc.as_bytes()),
    ])
}

#[test]
fn a_card_split_into_sixteen_runs_reads_as_one() {
    for card in ["4111111111111111", "4111 1111 1111 1111", "5500-0000-0000-0004"] {
        let v = scan(&docx_body(&format!("<w:p>{}</w:p>", split_runs(card))));
        assert!(v.is_block() && v.counts.get("credit_card") == Some(&1), "{card}: {}", describe(&v));
    }
}

#[test]
fn paragraphs_cells_and_tabs_stay_apart() {
    let halves = ["4111 1111", "1111 1111"];
    let run = |t: &str| format!("<w:r><w:t xml:space=\"preserve\">{t}</w:t></w:r>");
    let bodies = [
        // Two paragraphs.
        format!("<w:p>{}</w:p><w:p>{}</w:p>", run(halves[0]), run(&format!(" {}", halves[1]))),
        // Two table cells.
        format!(
            "<w:tbl><w:tr><w:tc><w:p>{}</w:p></w:tc><w:tc><w:p>{}</w:p></w:tc></w:tr></w:tbl>",
            run(halves[0]),
            run(halves[1])
        ),
        // A tab and a line break.
        format!("<w:p>{}<w:r><w:tab/></w:r>{}</w:p>", run(halves[0]), run(halves[1])),
        format!("<w:p>{}<w:r><w:br/></w:r>{}</w:p>", run(halves[0]), run(halves[1])),
    ];
    for body in &bodies {
        let v = scan(&docx_body(body));
        assert!(!v.is_incident(), "{body}: {}", describe(&v));
    }
    // Adjacent spreadsheet cells.
    let sheet = "<worksheet><sheetData><row><c t=\"inlineStr\"><is><t>4111 1111</t></is></c><c t=\"inlineStr\"><is><t>1111 1111</t></is></c></row><row><c><v>123</v></c><c><v>45</v></c><c><v>6789</v></c></row></sheetData></worksheet>";
    let x = zip_of(&[
        ("[Content_Types].xml", b"<Types/>".as_slice()),
        ("xl/workbook.xml", b"<workbook/>"),
        ("xl/worksheets/sheet1.xml", sheet.as_bytes()),
    ]);
    let v = scan(&x);
    assert!(!v.is_incident(), "{}", describe(&v));
}

#[test]
fn a_text_box_does_not_split_its_paragraph() {
    let body = "<w:p><w:r><w:t xml:space=\"preserve\">card 4111 1111 </w:t></w:r><w:r><w:pict><v:shape xmlns:v=\"urn:schemas-microsoft-com:vml\"><v:textbox><w:txbxContent><w:p><w:r><w:t>boxed</w:t></w:r></w:p></w:txbxContent></v:textbox></v:shape></w:pict></w:r><w:r><w:t>1111 1111</w:t></w:r></w:p>";
    let v = scan(&docx_body(body));
    assert!(v.is_block(), "{}", describe(&v));
}

#[test]
fn revisions_are_read_in_both_views() {
    let run = |t: &str| format!("<w:r><w:t xml:space=\"preserve\">{t}</w:t></w:r>");
    // The card as it reads now: a digit deleted from its middle.
    let now = format!(
        "<w:p>{}<w:del w:id=\"1\"><w:r><w:delText>9</w:delText></w:r></w:del>{}</w:p>",
        run("4111 1111 "),
        run("1111 1111")
    );
    // The card as it read before: a digit inserted into its middle.
    let before = format!(
        "<w:p>{}<w:ins w:id=\"1\"><w:r><w:t>9</w:t></w:r></w:ins>{}</w:p>",
        run("4111 1111 "),
        run("1111 1111")
    );
    // The card only in deleted text.
    let deleted = format!(
        "<w:p>{}<w:del w:id=\"1\"><w:r><w:delText>4111 1111 1111 1111</w:delText></w:r></w:del></w:p>",
        run("card ")
    );
    for body in [now, before, deleted] {
        let v = scan(&docx_body(&body));
        assert!(v.is_block() && v.counts.get("credit_card") == Some(&1), "{body}: {}", describe(&v));
    }
}

#[test]
fn entities_are_never_expanded() {
    // A billion laughs: the DTD is one value in the side lane, and `&lol9;` stays as written.
    let mut dtd = String::from("<!DOCTYPE w:document [<!ENTITY lol \"lol\">");
    for i in 1..10 {
        let prev = if i == 1 { "lol".to_string() } else { format!("lol{}", i - 1) };
        dtd.push_str(&format!("<!ENTITY lol{i} \"{}\">", format!("&{prev};").repeat(10)));
    }
    dtd.push_str("<!ENTITY card \"4111 1111 1111 1111\">]>");
    let doc = format!("<?xml version=\"1.0\"?>{dtd}<w:document xmlns:w=\"w\"><w:body><w:p><w:r><w:t>&lol9; &card;</w:t></w:r></w:p></w:body></w:document>");
    let d = zip_of(&[("[Content_Types].xml", b"<Types/>".as_slice()), ("word/document.xml", doc.as_bytes())]);
    let start = std::time::Instant::now();
    let v = scan(&d);
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
    // The entity's value is scanned where it is declared.
    assert!(v.is_block(), "{}", describe(&v));
    assert!(v.scanned_bytes < 100_000, "{}", v.scanned_bytes);
}

#[test]
fn huge_attributes_and_text_are_read_in_bounded_windows() {
    // An attribute of 12 MiB (past the largest item parsed as XML) and a text node of 12 MiB,
    // each with a card at its end.
    // Prose, not a repeated byte: it must pass the 100:1 ratio limit of the archive.
    let pad = String::from_utf8(prose(12 << 20, 3, 0)).unwrap();
    let body = format!(
        "<w:p><w:r><w:drawing><wp:docPr xmlns:wp=\"wp\" descr=\"{pad} card 4111 1111 1111 1111\"/></w:drawing></w:r></w:p><w:p><w:r><w:t>{pad} ssn 123-45-6789</w:t></w:r></w:p>"
    );
    let v = scan(&docx_body(&body));
    assert!(
        v.counts.get("credit_card") == Some(&1) && v.counts.get("us_ssn") == Some(&1),
        "{}",
        describe(&v)
    );
}

#[test]
fn malformed_xml_is_still_read() {
    for doc in [
        // Truncated inside a tag.
        "<w:document><w:body><w:p><w:r><w:t>card 4111 1111 1111 1111</w:t></w:r></w:p><w:p><w:r w:rsid=\"00",
        // Unclosed elements and a stray end tag.
        "<w:document><w:body></w:tc><w:p><w:r><w:t>card 4111 1111 1111 1111",
        // Garbage in the middle.
        "<w:document><w:body><w:p><<<>>><!-- x <w:r><w:t>card 4111 1111 1111 1111</w:t></w:r></w:p>",
        // Attributes without quotes.
        "<w:document><w:body><w:p a=b c=4111111111111111><w:r><w:t>x</w:t></w:r></w:p>",
    ] {
        let d =
            zip_of(&[("[Content_Types].xml", b"<Types/>".as_slice()), ("word/document.xml", doc.as_bytes())]);
        let v = scan(&d);
        assert!(v.is_block() && v.counts.contains_key("credit_card"), "{doc}: {}", describe(&v));
    }
}

#[test]
fn encrypted_opendocument_cannot_be_scanned() {
    let v = scan(&odt_encrypted());
    assert!(matches!(v.could_not_scan, Some(CouldNotScan::Encrypted { .. })), "{}", describe(&v));
    assert!(v.is_block());
}

#[test]
fn office_files_of_the_corpus_in_every_window_size_read_the_same() {
    // A document of many windows: two cards at every 100 KiB, each counted exactly once. The
    // first is split over two paragraphs after a long line, which detection reads as a
    // value wrapped where its space was (see "Wrapped values" in docs/POLICY.md).
    let run = |t: &str| format!("<w:r><w:t xml:space=\"preserve\">{t}</w:t></w:r>");
    let mut body = String::new();
    let mut cards = 0;
    while body.len() < 3 << 20 {
        let filler = String::from_utf8(prose(96 << 10, cards, 0)).unwrap();
        let lead = "The customer sent the payment details yesterday, card 4111 1111 ";
        body.push_str(&format!("<w:p w:rsidR=\"00A1B2C3\">{}{}</w:p>", run(&filler), run(lead)));
        body.push_str(&format!("<w:p>{}</w:p>", split_runs("1111 1111 and done")));
        body.push_str(&format!("<w:p>{}{}</w:p>", run("card 4111 1111 "), run("1111 1111 end")));
        cards += 1;
    }
    let v = scan(&docx_body(&body));
    assert_eq!(v.counts.get("credit_card"), Some(&(2 * cards)), "{}", describe(&v));
}

#[test]
fn msg_hiding_places() {
    check_places("msg", MSG_PLACES, msg_with);
}

fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

#[test]
fn unknown_streams_properties_and_unallocated_sectors_of_a_compound_file() {
    let filler = vec![0x11u8; 6000];
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "unknown stream, UTF-16",
            ole_of(&[("Data/Blob", &[&filler[..100], &utf16("card 4111 1111 1111 1111")].concat())]),
        ),
        ("unknown stream, 8-bit", ole_of(&[("Blob", b"ssn 123-45-6789".as_slice())])),
        (
            "summary information",
            ole_of(&[(
                "\u{5}SummaryInformation",
                &summary_information(&["Quarterly", "iban DE89 3704 0044 0532 0130 00"]),
            )]),
        ),
        // A deleted stream leaves its sectors in the file.
        (
            "removed stream",
            ole_with_removed(
                &[("Keep", &filler), ("Gone", &[&filler[..], b" card 4111 1111 1111 1111 "].concat())],
                &["Gone"],
            ),
        ),
        // Bytes after a stream's end in its last sector (a mini sector, a regular sector).
        ("small stream slack", {
            let mut d = ole_of(&[("Keep", b"hello".as_slice())]);
            let at = memchr::memmem::find(&d, b"hello").unwrap() + 10;
            d[at..at + 15].copy_from_slice(b"ssn 123-45-6789");
            d
        }),
        ("stream slack", {
            let mut d = ole_of(&[("Keep", &vec![b'k'; 4100])]);
            let at = memchr::memmem::find(&d, &[b'k'; 4100]).unwrap() + 4100 + 20;
            d[at..at + 24].copy_from_slice(b"card 4111 1111 1111 1111");
            d
        }),
        (
            "appended after the last sector",
            [ole_of(&[("Keep", b"hello".as_slice())]), b"card 4111 1111 1111 1111".to_vec()].concat(),
        ),
        (
            "embedded zip",
            ole_of(&[(
                "ObjectPool/_1/Package",
                &zip_of(&[("a.txt", b"card 4111 1111 1111 1111".as_slice())]),
            )]),
        ),
    ];
    for (name, data) in &cases {
        let v = scan(data);
        assert!(v.is_block() && v.could_not_scan.is_none(), "{name}: {}", describe(&v));
    }
    let clean = ole_of(&[
        ("Data/Blob", &utf16(&decoys())),
        ("\u{5}SummaryInformation", &summary_information(&["Quarterly", &decoys()])),
    ]);
    let v = scan(&clean);
    assert!(!v.is_incident() && v.could_not_scan.is_none(), "{}", describe(&v));
}

#[test]
fn a_value_across_fragmented_sectors_is_read_whole() {
    // Two streams written in turns: each one's sectors alternate with the other's, so the
    // card at the 4096-byte boundary of "A" is split in the file's bytes.
    let mut a = vec![b'x'; 4096 - 10];
    a.extend_from_slice(b" 4111 1111 1111 1111 card");
    let b = vec![b'y'; 4096];
    let mut comp = cfb::CompoundFile::create(std::io::Cursor::new(Vec::new())).unwrap();
    {
        use std::io::Write;
        comp.create_stream("A").unwrap().write_all(&a[..4096]).unwrap();
        comp.create_stream("B").unwrap().write_all(&b).unwrap();
        let mut s = comp.open_stream("A").unwrap();
        std::io::Seek::seek(&mut s, std::io::SeekFrom::End(0)).unwrap();
        s.write_all(&a[4096..]).unwrap();
    }
    comp.flush().unwrap();
    let data = comp.into_inner().into_inner();
    assert!(memchr::memmem::find(&data, b"4111 1111 1111 1111").is_none(), "the file must split the card");
    let v = scan(&data);
    assert!(v.is_block() && v.could_not_scan.is_none(), "{}", describe(&v));
}

#[test]
fn damaged_compound_files_are_read_raw_and_could_not_scan() {
    let good = ole_of(&[("Blob", &[vec![0x11u8; 9000], utf16("card 4111 1111 1111 1111")].concat())]);
    // Cut at every 997 bytes, and the header's sector size, FAT and directory broken.
    let mut damaged: Vec<Vec<u8>> = (8..good.len()).step_by(997).map(|n| good[..n].to_vec()).collect();
    for (at, v) in [(0x1E, 0xFFu8), (0x2C, 0xFF), (0x30, 0xFE), (0x4C, 0xFA)] {
        let mut d = good.clone();
        d[at] = v;
        damaged.push(d);
    }
    for d in &damaged {
        let v = scan(d);
        let card_present = memchr::memmem::find(d, &utf16("4111 1111 1111 1111")).is_some();
        if card_present {
            assert!(v.is_block(), "{} bytes: {}", d.len(), describe(&v));
        }
        assert!(v.could_not_scan.is_some() || v.is_block(), "{} bytes: {}", d.len(), describe(&v));
    }
}

/// A fixture of `tests/fixtures/office` (`.gz` ones decompressed).
fn fixture(name: &str) -> Vec<u8> {
    use std::io::Read;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/office");
    if let Ok(d) = std::fs::read(dir.join(name)) {
        return d;
    }
    let gz = std::fs::read(dir.join(format!("{name}.gz"))).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut out).expect("gzip fixture");
    out
}

fn scan_all_evidence(data: &[u8]) -> Verdict {
    let limits = Limits { max_evidence: 10_000, ..Limits::default() };
    Engine::new(Arc::new(Policy::builtin()), limits).scan_bytes(ScanContext::default(), data)
}

/// Places LibreOffice 7.4 does not write in a format (checked: the value is not in the file).
const NOT_WRITTEN: &[(&str, &str)] = &[("odt", "hyperlink"), ("ppt", "alt_text"), ("pptx", "alt_text")];

#[test]
fn libreoffice_documents_every_place_is_found_and_decoys_pass() {
    let manifest: serde_json::Value = serde_json::from_slice(&fixture("places.json")).unwrap();
    let mut failures = Vec::new();
    for (app, exts) in [
        ("writer", ["doc", "docx", "odt"]),
        ("calc", ["xls", "xlsx", "ods"]),
        ("impress", ["ppt", "pptx", "odp"]),
    ] {
        for ext in exts {
            let v = scan_all_evidence(&fixture(&format!("places.{ext}")));
            let found: Vec<&str> = v
                .evidence
                .iter()
                .filter(|e| e.detector == "credit_card")
                .map(|e| e.masked.as_str())
                .collect();
            for item in manifest[app].as_array().unwrap() {
                let (place, card) = (item[0].as_str().unwrap(), item[1].as_str().unwrap());
                if NOT_WRITTEN.contains(&(ext, place)) {
                    continue;
                }
                let masked = format!("4111********{}", &card[card.len() - 4..]);
                if !found.contains(&masked.as_str()) {
                    failures.push(format!("{ext}: {place} ({card}) not found"));
                }
            }
            if v.could_not_scan.is_some() {
                failures.push(format!("{ext}: could not scan: {:?}", v.could_not_scan));
            }
            let v = scan(&fixture(&format!("clean.{ext}")));
            if v.is_incident() || v.could_not_scan.is_some() {
                failures.push(format!("clean.{ext} not allowed: {}", describe(&v)));
            }
        }
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn password_protected_legacy_documents_cannot_be_scanned() {
    // LibreOffice encrypts .doc (fEncrypted in the FIB) and .xls (FILEPASS).
    let mut files: Vec<(String, Vec<u8>)> =
        ["encrypted.doc", "encrypted.xls"].iter().map(|n| (n.to_string(), fixture(n))).collect();
    // It writes no encrypted .ppt: mark one as PowerPoint does, by the `Current User` token.
    let ppt = fixture("places.ppt");
    let mut comp = cfb::CompoundFile::open(std::io::Cursor::new(ppt)).unwrap();
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut user = comp.open_stream("Current User").unwrap();
        user.seek(SeekFrom::Start(12)).unwrap();
        user.write_all(&0xF3D1_C4DFu32.to_le_bytes()).unwrap();
    }
    comp.flush().unwrap();
    files.push(("encrypted.ppt".into(), comp.into_inner().into_inner()));
    // An encrypted OOXML document is a compound file holding `EncryptedPackage`.
    let big = vec![0x55u8; 100_000];
    files.push((
        "encrypted.docx".into(),
        ole_of(&[("EncryptionInfo", &[4u8, 0, 4, 0][..]), ("Filler", &big), ("EncryptedPackage", &big)]),
    ));
    for (name, data) in &files {
        let v = scan(data);
        assert!(matches!(v.could_not_scan, Some(CouldNotScan::Encrypted { .. })), "{name}: {}", describe(&v));
        assert!(v.is_block());
    }
}

/// The fixture cards in the bytes as they are (8-bit or UTF-16), masked: text any scanner
/// can read.
fn visible_cards(d: &[u8]) -> Vec<String> {
    // Found as a word: no letter or digit right before or after it.
    let plain = |s: &[u8]| {
        let step = if s.get(1) == Some(&0) { 2 } else { 1 };
        memchr::memmem::find_iter(d, s).any(|at| {
            let before = at.checked_sub(step).map(|k| d[k]);
            let after = d.get(at + s.len()).copied();
            !before.is_some_and(|b| b.is_ascii_alphanumeric())
                && !after.is_some_and(|b| b.is_ascii_alphanumeric())
        })
    };
    (1..40)
        .map(luhn_tail)
        .filter(|tail| {
            let c = format!("4111 0000 0000 {tail}");
            plain(c.as_bytes()) || plain(&utf16(&c))
        })
        .map(|tail| format!("4111********{tail}"))
        .collect()
}

/// The last group of the fixture cards (`places.json`): `0kkC` with its check digit.
fn luhn_tail(k: u32) -> String {
    let digits = format!("41110000000{k:04}");
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let n = u32::from(b - b'0');
            if i % 2 == 0 {
                let d = n * 2;
                if d > 9 {
                    d - 9
                } else {
                    d
                }
            } else {
                n
            }
        })
        .sum();
    format!("{}{}", &digits[12..], (10 - sum % 10) % 10)
}

#[test]
fn damaged_legacy_documents_never_panic_and_never_hide_readable_text() {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for name in ["places.doc", "places.xls", "places.ppt", "clean.doc", "clean.xls"] {
        let good = fixture(name);
        let mut cases: Vec<Vec<u8>> =
            (8..good.len()).step_by(good.len() / 40).map(|n| good[..n].to_vec()).collect();
        for _ in 0..60 {
            let mut d = good.clone();
            for _ in 0..1 + next() % 8 {
                let at = (next() % d.len() as u64) as usize;
                d[at] = next() as u8;
            }
            cases.push(d);
        }
        for d in &cases {
            let v = scan_all_evidence(d);
            let visible = visible_cards(d);
            assert!(v.is_block() || visible.is_empty(), "{name}, {} bytes: {}", d.len(), describe(&v));
            // Read as an undamaged compound file: then every card still in its bytes was found.
            if v.could_not_scan.is_none() && d.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1])
            {
                for card in &visible {
                    assert!(
                        v.evidence.iter().any(|e| &e.masked == card),
                        "{name}, {} bytes: {card} missed: {}",
                        d.len(),
                        describe(&v)
                    );
                }
            }
        }
    }
}

#[test]
fn shared_strings_split_across_continue_records_read_whole() {
    // The card's string starts at every offset around the end of the first SST record, so
    // that its characters continue in the next record (8-bit, or UTF-16 after a flags byte).
    for wide in [false, true] {
        for pad in (8180..8225).step_by(3) {
            let mut first = "x".repeat(pad);
            if wide {
                first.push('\u{e9}');
            }
            let card =
                if wide { "carte \u{e9} 4111 1111 1111 1111 fin" } else { "card 4111 1111 1111 1111 end" };
            let v = scan(&inspect::testkit::legacy::xls(&[&first, card]));
            assert!(v.is_block() && v.could_not_scan.is_none(), "pad {pad}, wide {wide}: {}", describe(&v));
        }
    }
}

#[test]
fn mangled_office_xml_never_panics() {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let body = format!(
        "<!DOCTYPE d [<!ENTITY e \"x\">]><w:p>{}</w:p><w:tbl><w:tr><w:tc><w:p><w:r><w:t>&e;&amp;&#52;</w:t></w:r></w:p></w:tc></w:tr></w:tbl><![CDATA[4111]]><!-- c --><?pi x?>",
        split_runs("card 4111 1111 1111 1111")
    );
    const BYTES: &[u8] = b"<>&\"'/=;#x \n\0\xff";
    for _ in 0..300 {
        let mut b = body.clone().into_bytes();
        for _ in 0..1 + next() % 6 {
            let at = (next() % b.len() as u64) as usize;
            match next() % 3 {
                0 => b[at] = BYTES[(next() % BYTES.len() as u64) as usize],
                1 => b.insert(at, BYTES[(next() % BYTES.len() as u64) as usize]),
                _ => {
                    b.remove(at);
                }
            }
        }
        let doc = [
            b"<?xml version=\"1.0\"?><w:document xmlns:w=\"w\"><w:body>".as_slice(),
            &b,
            b"</w:body></w:document>",
        ]
        .concat();
        for (name, dialect_doc) in [("word/document.xml", &doc), ("content.xml", &doc)] {
            let z = if name == "content.xml" {
                zip_of(&[
                    ("mimetype", b"application/vnd.oasis.opendocument.text".as_slice()),
                    (name, dialect_doc),
                ])
            } else {
                zip_of(&[("[Content_Types].xml", b"<Types/>".as_slice()), (name, dialect_doc)])
            };
            let _ = scan(&z);
        }
    }
}

#[test]
fn bytes_appended_to_a_known_record_are_scanned() {
    let record =
        |ty: u16, body: &[u8]| [&ty.to_le_bytes()[..], &(body.len() as u16).to_le_bytes(), body].concat();
    let bof = [&0x0600u16.to_le_bytes()[..], &0x0010u16.to_le_bytes(), &[0; 12]].concat();
    let label = [&[0u8, 0, 0, 0, 15, 0][..], &1u16.to_le_bytes(), &[0], b"x"].concat();
    for (ty, body) in [(0x0204u16, label), (0x0203, [&[0u8; 6][..], &1.5f64.to_le_bytes()].concat())] {
        let stream = [
            record(0x0809, &bof),
            record(ty, &body),
            record(0x003C, b"card 4111 1111 1111 1111"),
            record(0x000A, &[]),
        ]
        .concat();
        let v = scan(&ole_of(&[("Workbook", &stream)]));
        assert!(v.is_block() && v.could_not_scan.is_none(), "record {ty:#x}: {}", describe(&v));
    }
}

#[test]
fn compound_files_read_in_place_give_the_same_verdict() {
    for name in ["places.doc", "places.xls", "places.ppt", "clean.xls"] {
        let data = fixture(name);
        let buffered = scan(&data);
        let in_place = engine().scan_reader(ScanContext::default(), std::io::Cursor::new(&data)).unwrap();
        assert_eq!(buffered, in_place, "{name}");
        // Fed in pieces, a compound file is held until its end, like a zip.
        let mut s = engine().scanner(ScanContext::default());
        s.feed(&data[..4096]);
        assert!(s.is_buffering());
        s.feed(&data[4096..]);
        assert_eq!(s.finish(), buffered, "{name}");
    }
}
