//! Evasions found by red-teaming the engine as an attacker would, each as real software
//! writes it: a valid card, SSN or IBAN written that way must block, and the same disguise
//! carrying only decoys (Luhn-invalid card-like numbers, SSNs in invalid ranges, IBANs with
//! a bad checksum, order ids, UUIDs, hashes, timestamps) must be allowed.

mod support;

use inspect::testkit::evasion::{document, DECOYS, VALUES};
use support::{allows, blocks, scan, technique};

/// IBANs written in lower case (as users type them, and as an attacker would to walk
/// around a detector of capitals), plain, grouped, capitalised or wrapped. The checksum
/// still guards: lower-case decoys, hex hashes and mixed-case tokens stay clean.
#[test]
fn iban_in_lower_case() {
    for text in [
        "pay to gb82 west 1234 5698 7654 32 by friday",
        "pay to gb82west12345698765432 by friday",
        "iban: de89370400440532013000",
        "iban: de89 3704 0044 0532 0130 00.",
        "Iban: De89 3704 0044 0532 0130 00",
        "konto fr14 2004 1010 0505 0001 3m02 606",
        "We received the payment details from the customer yesterday, iban de89 3704 0044\n0532 0130 00 ok",
    ] {
        blocks(text.as_bytes(), "iban");
    }
    for text in [
        "pay to gb82 west 1234 5698 7654 33 by friday",
        "iban: de89370400440532013001",
        "de89 3704 0044 0532 0130 01",
        // Mixed case inside the account part is not how anyone writes an IBAN (a random
        // token of the right length would pass the checksum once in 97).
        "gb82 wEsT 1234 5698 7654 32",
        "hash 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "uuid de890400-e29b-41d4-a716-446655440000",
        "id de89370400440532013000ab and de8937040044053201300",
    ] {
        allows(text.as_bytes());
    }
    technique(|t| t.to_lowercase().into_bytes());
}

/// A spreadsheet's numeric cells as writers other than Excel store them: Java's
/// `Double.toString` (Apache POI) writes `4.111111111111111E15`, Python floats
/// `4111111111111111.0`, xlsxwriter `4.111111111111111E+15` past 16 digits; OpenDocument
/// keeps the number in `office:value` and shows it in exponent form. The cell holds the
/// integer, and so does what the engine reads.
#[test]
fn spreadsheet_numbers_in_exponent_or_float_form() {
    use inspect::testkit::zip_of;
    let xlsx = |v: &str| {
        let sheet = format!(
            "<?xml version=\"1.0\"?><worksheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"><sheetData><row r=\"1\"><c r=\"A1\" t=\"n\"><v>17</v></c><c r=\"B1\"><v>{v}</v></c></row></sheetData></worksheet>"
        );
        zip_of(&[
            ("[Content_Types].xml", b"<?xml version=\"1.0\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"><Override PartName=\"/xl/workbook.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml\"/></Types>"),
            ("xl/workbook.xml", b"<?xml version=\"1.0\"?><workbook><sheets><sheet name=\"S\" sheetId=\"1\"/></sheets></workbook>"),
            ("xl/worksheets/sheet1.xml", sheet.as_bytes()),
        ])
    };
    let ods = |v: &str| {
        let content = format!(
            "<?xml version=\"1.0\"?><office:document-content xmlns:office=\"o\" xmlns:text=\"t\" xmlns:table=\"tb\"><office:body><table:table-row><table:table-cell office:value-type=\"float\" office:value=\"{v}\"><text:p>4.11111111111111E+15</text:p></table:table-cell></table:table-row></office:body></office:document-content>"
        );
        zip_of(&[
            ("mimetype", b"application/vnd.oasis.opendocument.spreadsheet"),
            ("META-INF/manifest.xml", b"<?xml version=\"1.0\"?><manifest/>"),
            ("content.xml", content.as_bytes()),
        ])
    };
    for v in [
        "4.111111111111111E15",
        "4.111111111111111E+15",
        "4111111111111111.0",
        "4.111111111111111e15",
        "0.4111111111111111E16",
        "4.0128888888818810E15",
        "4.012888888881881E+15",
    ] {
        for (kind, file) in [("xlsx", xlsx(v)), ("ods", ods(v))] {
            let verdict = scan(&file, None);
            assert!(
                verdict.is_block() && verdict.counts.contains_key("credit_card"),
                "{kind} {v}: {verdict:?}"
            );
        }
    }
    // Decoys: Luhn-invalid, not an integer, a timestamp, a float.
    for v in [
        "4.111111111111112E15",
        "4.1111111111111115E15",
        "1.700000000123E12",
        "3.14159",
        "4.111111111111111E-15",
        "4.111111111111111E999",
        "1E400",
    ] {
        for (kind, file) in [("xlsx", xlsx(v)), ("ods", ods(v))] {
            let verdict = scan(&file, None);
            assert!(!verdict.is_block() && verdict.could_not_scan.is_none(), "{kind} {v}: {verdict:?}");
        }
    }
}

/// One escape character put in front of a value makes the decoders eat its first digits
/// (`%41` is `A`, `\u4111` a CJK letter, `&#4111...` one character, `=41` in
/// quoted-printable text `A`), while anyone reading the text sees the value: the text
/// around such an escape is also read as it is written.
#[test]
fn an_escape_character_in_front_of_a_value() {
    let lead_values = |lead: &'static str| {
        move |t: &str| {
            let mut out = String::new();
            for line in t.split_inclusive('\n') {
                match line.strip_prefix("Reference on file: ") {
                    Some(rest) => out.push_str(&format!("Reference on file: {lead}{rest}")),
                    None => out.push_str(line),
                }
            }
            out.into_bytes()
        }
    };
    for lead in ["%", "&#", "&#x"] {
        technique(lead_values(lead));
    }
    // `\u` takes four hex digits: a card's first group, an IBAN's country code and check
    // digits (`\uDE89` is a lone surrogate). `\u123-` is no escape, and `u123-45-6789` no
    // SSN, as `x123-45-6789` is none.
    for (det, value) in VALUES.iter().filter(|(d, _)| *d != "us_ssn") {
        blocks(&lead_values("\\u")(&document(&[value])), det);
    }
    allows(&lead_values("\\u")(&document(DECOYS)));
    // A soft line break makes the text quoted-printable; `KEY=4111...` is a value all the same.
    technique(|t| format!("config=\nexport\n{}", t.replace("Reference on file: ", "REF=")).into_bytes());
    blocks(b"DB_PASSWORD=\nCARD_NUMBER=4111111111111111\n", "credit_card");
    blocks(b"hello=\nworld\nssn=123-45-6789 iban=DE89370400440532013000\n", "us_ssn");
    // Escapes that decode to what the text says are read once.
    let v = scan(b"q=card%3A4111111111111111&x=%204111111111111111\n", None);
    assert_eq!(v.counts.get("credit_card"), Some(&2), "{v:?}");
}

/// Groups of a card or SSN joined by other separators than one space or dash, as people
/// and programs lay them out: dots (`4111.1111.1111.1111`, `123.45.6789`), two or three
/// spaces, tabs (a TSV row, a table copied from a spreadsheet), a Word `<w:tab/>` between
/// runs. Decoys joined the same way stay clean, and so do amounts, versions and dates.
#[test]
fn groups_joined_by_dots_tabs_and_several_blanks() {
    use inspect::testkit::docx;
    for (text, det) in [
        ("card 4111.1111.1111.1111 on file", "credit_card"),
        ("card 4111  1111  1111  1111 on file", "credit_card"),
        ("card\t4111\t1111\t1111\t1111\ton file", "credit_card"),
        ("4111 \t1111 \t1111 \t1111", "credit_card"),
        ("3782\t822463\t10005", "credit_card"),
        ("ssn 123.45.6789", "us_ssn"),
        ("ssn 123  45  6789", "us_ssn"),
        ("ssn\t123\t45\t6789", "us_ssn"),
        // Columns of a table: the card's own separators are single spaces.
        ("4111 1111 1111 1111  12/25  John", "credit_card"),
        ("qty 12  4111 1111 1111 1111", "credit_card"),
        ("12\t4111 1111 1111 1111\t7", "credit_card"),
    ] {
        blocks(text.as_bytes(), det);
    }
    for text in [
        "card 4111.1111.1111.1112 on file",
        "card 4111  1111  1111  1112",
        "4111\t1111\t1111\t1112",
        "ssn 666.45.6789 and 900\t12\t3456",
        // Four groups with four blanks are not one number.
        "4111    1111    1111    1111",
        "amounts 4111.11 1111.11 1111.11 1111.11",
        "version 4111.1111.1111.1111.2 and 10.0.19045.3803",
        "2024.01.15 2024-01-15 2024\t01\t15 1111.2222",
    ] {
        allows(text.as_bytes());
    }
    let cells = |sep: &str| format!("Card:{sep}4111{sep}1111{sep}1111{sep}1111");
    blocks(&docx(&[cells("\t").as_str()]), "credit_card");
    let tabs = "<w:r><w:t>4111</w:t></w:r><w:r><w:tab/><w:t>1111</w:t></w:r><w:r><w:tab/><w:t>1111</w:t></w:r><w:r><w:tab/><w:t>1111</w:t></w:r>";
    let doc = format!(
        "<?xml version=\"1.0\"?><w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"><w:body><w:p>{tabs}</w:p></w:body></w:document>"
    );
    let ct = "<?xml version=\"1.0\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"><Override PartName=\"/word/document.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml\"/></Types>";
    let docx_tabs = inspect::testkit::zip_of(&[
        ("[Content_Types].xml", ct.as_bytes()),
        ("word/document.xml", doc.as_bytes()),
    ]);
    blocks(&docx_tabs, "credit_card");
    allows(&inspect::testkit::zip_of(&[
        ("[Content_Types].xml", ct.as_bytes()),
        (
            "word/document.xml",
            doc.replace("<w:t>1111</w:t></w:r></w:p>", "<w:t>1112</w:t></w:r></w:p>").as_bytes(),
        ),
    ]));
    technique(|t| t.replace(' ', "\t").into_bytes());
    technique(|t| t.replace(' ', "  ").into_bytes());
}

/// An HTML or XML comment inside a value: a browser shows the text on either side joined
/// (`4111 1111<!-- x --> 1111 1111` reads `4111 1111 1111 1111`), so the engine reads it
/// joined too; what the comment holds is still read, on its own.
#[test]
fn a_comment_inside_a_value() {
    for (text, det) in [
        ("<p>card 4111 1111<!-- x --> 1111 1111</p>", "credit_card"),
        ("<html><body>4111<!---->1111<!-- -->1111<!--\n-->1111</body></html>", "credit_card"),
        ("<p>ssn 123-45<!-- split -->-6789</p>", "us_ssn"),
        ("<p>nothing here</p><!-- card 4111 1111 1111 1111 -->", "credit_card"),
        // An empty comment (`<!-->`, `<!--->`) ends at once, as browsers read it.
        ("<p>card 4111 1111<!--> 1111 1111</p><!-- -->", "credit_card"),
        ("<p>card 4111 1111<!---> 1111 1111</p>", "credit_card"),
        ("<?xml version=\"1.0\"?><r>DE89 3704<!-- a -->0044 0532 0130 00</r>", "iban"),
    ] {
        blocks(text.as_bytes(), det);
    }
    for text in
        ["<p>card 4111 1111<!-- x --> 1111 1112</p>", "<p>order 1234<!-- 5678 --> shipped 2024-01-15</p>"]
    {
        allows(text.as_bytes());
    }
    technique(|t| {
        let mut html = String::from("<html><body><p>");
        for (k, ch) in t.chars().enumerate() {
            html.push(ch);
            if k % 3 == 2 {
                html.push_str("<!-- -->");
            }
        }
        html.push_str("</p></body></html>");
        html.into_bytes()
    });
}
