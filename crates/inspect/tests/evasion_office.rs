//! Office formats: a sensitive value in any hiding place blocks; the same document with only
//! decoys there is allowed; encrypted documents cannot be scanned; damaged ones never panic
//! and never hide text that can still be read.

use std::sync::Arc;

use inspect::testkit::office::{
    docx_with, odf_with, odt_encrypted, pptx_with, split_runs, xlsx_with, DOCX_PLACES, ODP_PLACES,
    ODS_PLACES, ODT_PLACES, PPTX_PLACES, XLSX_PLACES,
};
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
    // A document of many windows: a card at every 100 KiB is counted exactly once each.
    let run = |t: &str| format!("<w:r><w:t xml:space=\"preserve\">{t}</w:t></w:r>");
    let mut body = String::new();
    let mut cards = 0;
    while body.len() < 3 << 20 {
        let filler = String::from_utf8(prose(96 << 10, cards, 0)).unwrap();
        body.push_str(&format!("<w:p w:rsidR=\"00A1B2C3\">{}{}</w:p>", run(&filler), run("card 4111 1111 ")));
        body.push_str(&format!("<w:p>{}</w:p>", split_runs("1111 1111 and done")));
        body.push_str(&format!("<w:p>{}{}</w:p>", run("card 4111 1111 "), run("1111 1111 end")));
        cards += 1;
    }
    let v = scan(&docx_body(&body));
    assert_eq!(v.counts.get("credit_card"), Some(&cards), "{}", describe(&v));
}
