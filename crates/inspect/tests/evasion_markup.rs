//! Markup that a browser, an XML reader or an office application joins into one value
//! must not split it for the scanner: HTML's inline, unknown and custom elements, SVG text
//! spans, mixed content and processing instructions in other XML, markup compatibility's
//! alternate content in office documents, and SpreadsheetML's `_xHHHH_` escapes. Values
//! that only sit next to each other in separate fields are not joined.

mod support;

use inspect::testkit::zip_of;
use support::{allows, blocks, technique};

/// Elements a browser shows inline that once read as line breaks.
const INLINE: &[&str] = &[
    "wbr", "kbd", "samp", "var", "cite", "dfn", "q", "s", "strike", "tt", "nobr", "time", "data", "label",
    "output", "bdi", "bdo", "acronym", "blink", "x-foo", "my-el", "foo", "img", "input", "select", "button",
    "iframe", "math", "svg", "ruby", "span",
];

/// `doc` as an HTML page whose every digit is wrapped in `<tag>` (or followed by it when
/// `void`), one paragraph per line.
fn html_wrapping_digits(doc: &str, tag: &str, void: bool) -> Vec<u8> {
    let mut s = String::from("<!DOCTYPE html><html><body><p>");
    for c in doc.chars() {
        match c {
            '\n' => s.push_str("</p>\n<p>"),
            '0'..='9' if void => s.push_str(&format!("{c}<{tag}>")),
            '0'..='9' => s.push_str(&format!("<{tag}>{c}</{tag}>")),
            '<' => s.push_str("&lt;"),
            '&' => s.push_str("&amp;"),
            c => s.push(c),
        }
    }
    s.push_str("</p></body></html>");
    s.into_bytes()
}

#[test]
fn html_inline_and_unknown_elements_join_digits() {
    for tag in INLINE {
        technique(|doc| html_wrapping_digits(doc, tag, false));
    }
    technique(|doc| html_wrapping_digits(doc, "wbr", true));
    technique(|doc| html_wrapping_digits(doc, "img src=x.png", true));
    // Void elements that show nothing break nothing either.
    for void in ["area", "meta", "link rel=x", "param", "source"] {
        technique(|doc| html_wrapping_digits(doc, void, true));
    }
}

#[test]
fn html_red_team_reproducers_block() {
    blocks(b"<html><body><p>Card: 4111<wbr>1111<wbr>1111<wbr>1111</p></body></html>", "credit_card");
    for tag in INLINE {
        let glued = format!("<html><body><p>Card number: 4111<{tag}>1111</{tag}>11111111</p></body></html>");
        blocks(glued.as_bytes(), "credit_card");
        let spaced =
            format!("<html><body><p>Card number: 4111 <{tag}>1111</{tag}> 1111 1111</p></body></html>");
        blocks(spaced.as_bytes(), "credit_card");
    }
    blocks(b"<html><body><p>Card number: 4111 <img>1111 1111 1111</p></body></html>", "credit_card");
}

#[test]
fn html_block_elements_still_separate() {
    // Two cells, two paragraphs, two list items: never one number.
    allows(b"<html><body><table><tr><td>4111 1111</td><td>1111 1111</td></tr></table></body></html>");
    allows(b"<html><body><p>4111 1111</p><p>1111 1111</p><ul><li>4111 1111</li><li>1111 1111</li></ul></body></html>");
    allows(b"<html><body><div>4111 1111<br>1111 1111</div></body></html>");
}

#[test]
fn svg_text_spans_join() {
    blocks(
        b"<svg xmlns=\"http://www.w3.org/2000/svg\"><text x=\"0\" y=\"10\">4111<tspan>1111</tspan><tspan>1111</tspan><tspan>1111</tspan></text></svg>",
        "credit_card",
    );
    blocks(
        b"<html><body><p>Card: <svg><text>4111 <tspan>1111</tspan> 1111 1111</text></svg></p></body></html>",
        "credit_card",
    );
}

#[test]
fn xml_mixed_content_and_processing_instructions_join() {
    let docs: &[&[u8]] = &[
        b"<?xml version=\"1.0\"?><article><para>Card <emphasis>4111</emphasis><phrase>1111</phrase><literal>1111</literal><emphasis>1111</emphasis></para></article>",
        b"<?xml version=\"1.0\"?><topic><body><p>Card <ph>4111</ph><ph>1111</ph><ph>1111</ph><ph>1111</ph></p></body></topic>",
        b"<?xml version=\"1.0\"?><xliff><file><body><trans-unit><source>Card 4111<x id=\"1\"/>1111<x id=\"2\"/>1111<x id=\"3\"/>1111</source></trans-unit></body></file></xliff>",
        b"<?xml version=\"1.0\"?><r>4111<?pi x?>1111<?pi?>1111<?pi?>1111</r>",
        b"<?xml version=\"1.0\"?><r>4111 <?pi x?>1111 <?pi?>1111 <?pi?>1111</r>",
        b"<?xml version=\"1.0\"?><card>Card 4111 <x/>1111 <x/>1111 <x/>1111</card>",
        b"<?xml version=\"1.0\"?><r xmlns:a=\"u\">Card number: <a:b>4111</a:b><a:b>1111</a:b><a:b>1111</a:b><a:b>1111</a:b></r>",
    ];
    for doc in docs {
        blocks(doc, "credit_card");
    }
    // Every value of a document in mixed content, each digit in an element.
    technique(|doc| {
        let mut s = String::from("<?xml version=\"1.0\"?><article>");
        for line in doc.lines() {
            s.push_str("<para>");
            for c in line.chars() {
                match c {
                    '0'..='9' => s.push_str(&format!("<emphasis role=\"x\">{c}</emphasis>")),
                    '<' => s.push_str("&lt;"),
                    '&' => s.push_str("&amp;"),
                    c => s.push(c),
                }
            }
            s.push_str("</para>\n");
        }
        s.push_str("</article>");
        s.into_bytes()
    });
}

#[test]
fn xml_fields_in_elements_of_their_own_stay_apart() {
    // Four 4-digit fields whose digits together are a Luhn-valid card number.
    allows(b"<?xml version=\"1.0\"?><rows><row><a>4111</a><b>1111</b><c>1111</c><d>1111</d></row></rows>");
    allows(b"<rows><row><n>4111</n><n>1111</n><n>1111</n><n>1111</n></row></rows>");
    allows(b"<?xml version=\"1.0\"?>\n<rows>\n  <row>\n    <id>4111</id>\n    <id>1111</id>\n    <id>1111</id>\n    <id>1111</id>\n  </row>\n</rows>\n");
    allows(b"<?xml version=\"1.0\"?><r><v>4111</v><v>1111</v></r><r><v>1111</v><v>1111</v></r>");
}

/// A Word document whose body is `paragraphs` (WordprocessingML).
fn docx_of(paragraphs: &str) -> Vec<u8> {
    let doc = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\" xmlns:mc=\"http://schemas.openxmlformats.org/markup-compatibility/2006\" xmlns:w14=\"http://schemas.microsoft.com/office/word/2010/wordml\"><w:body>{paragraphs}</w:body></w:document>"
    );
    zip_of(&[
        ("[Content_Types].xml", b"<?xml version=\"1.0\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"><Default Extension=\"xml\" ContentType=\"application/xml\"/><Override PartName=\"/word/document.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml\"/></Types>"),
        ("_rels/.rels", b"<?xml version=\"1.0\"?><Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\"><Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument\" Target=\"word/document.xml\"/></Relationships>"),
        ("word/document.xml", doc.as_bytes()),
    ])
}

fn w_run(text: &str) -> String {
    format!("<w:r><w:t xml:space=\"preserve\">{text}</w:t></w:r>")
}

#[test]
fn docx_alternate_content_reads_the_choice_in_place_and_the_fallback_apart() {
    let alternate = |choice: &str, fallback: &str| {
        format!(
            "<mc:AlternateContent><mc:Choice Requires=\"w14\">{}</mc:Choice><mc:Fallback>{}</mc:Fallback></mc:AlternateContent>",
            w_run(choice),
            w_run(fallback)
        )
    };
    // The same text in both branches, in the middle of a value.
    let p = format!(
        "<w:p>{}{}{}</w:p>",
        w_run("Card "),
        alternate("4111 1111", "4111 1111"),
        w_run(" 1111 1111")
    );
    blocks(&docx_of(&p), "credit_card");
    // Text only in the fallback is read too, as text of its own.
    let p = format!("<w:p>{}{}</w:p>", w_run("Note"), alternate("", "card 4111 1111 1111 1111"));
    blocks(&docx_of(&p), "credit_card");
    // The fallback is not spliced into the value around it.
    let p =
        format!("<w:p>{}{}{}</w:p>", w_run("Card 4111 1111"), alternate("", " 1111 1111"), w_run(" on file"));
    allows(&docx_of(&p));
}

/// A workbook with one sheet of `cells` (SpreadsheetML `c` elements of row 1), shared
/// strings `sst` and number formats `formats` (`numFmt` elements; style 1 uses the first).
fn xlsx_of(cells: &str, sst: &str, formats: &str) -> Vec<u8> {
    const NS: &str = "xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"";
    let sheet = format!("<?xml version=\"1.0\"?><worksheet {NS}><sheetData><row r=\"1\">{cells}</row></sheetData></worksheet>");
    let sst = format!("<?xml version=\"1.0\"?><sst {NS}>{sst}</sst>");
    let styles = format!("<?xml version=\"1.0\"?><styleSheet {NS}><numFmts>{formats}</numFmts><cellXfs count=\"2\"><xf numFmtId=\"0\"/><xf numFmtId=\"164\" applyNumberFormat=\"1\"/></cellXfs></styleSheet>");
    zip_of(&[
        ("[Content_Types].xml", b"<?xml version=\"1.0\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"><Default Extension=\"xml\" ContentType=\"application/xml\"/><Override PartName=\"/xl/workbook.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml\"/></Types>"),
        ("xl/workbook.xml", format!("<?xml version=\"1.0\"?><workbook {NS}><sheets><sheet name=\"S\" sheetId=\"1\"/></sheets></workbook>").as_bytes()),
        ("xl/worksheets/sheet1.xml", sheet.as_bytes()),
        ("xl/styles.xml", styles.as_bytes()),
        ("xl/sharedStrings.xml", sst.as_bytes()),
    ])
}

/// `s` with every character but spaces and dashes written as an `_xHHHH_` escape.
fn xstring_escaped(s: &str) -> String {
    s.chars()
        .map(|c| if c == ' ' || c == '-' { c.to_string() } else { format!("_x{:04X}_", u32::from(c)) })
        .collect()
}

#[test]
fn xlsx_xstring_escapes_are_decoded() {
    let sst = |t: &str| xlsx_of("<c r=\"A1\" t=\"s\"><v>0</v></c>", &format!("<si><t>{t}</t></si>"), "");
    blocks(&sst("_x0034_111 1111 1111 1111"), "credit_card");
    technique(|doc| sst(&xstring_escaped(doc).replace('\n', "_x000A_")));
    // In inline strings, split by a character reference, and in rich text runs.
    let inline = |t: &str| xlsx_of(&format!("<c r=\"A1\" t=\"inlineStr\"><is><t>{t}</t></is></c>"), "", "");
    technique(|doc| inline(&xstring_escaped(doc).replace('\n', "&#10;")));
    blocks(&inline("_x00&#51;4_111 1111 1111 1111"), "credit_card");
    blocks(&sst("<r><t>_x0034_111 </t></r><r><t>1111 1111 1111</t></r>"), "credit_card");
    // `_x005F_` escapes the underscore: `_x0034_` is then shown as written.
    allows(&sst("_x005F_x0034_111 1111 1111 1111"));
}

#[test]
fn xlsx_numbers_read_as_their_digit_mask_shows_them() {
    let ssn_cell = |code: &str, value: &str| {
        xlsx_of(
            &format!("<c r=\"A1\" t=\"s\"><v>0</v></c><c r=\"B1\" s=\"1\"><v>{value}</v></c>"),
            "<si><t>Social Security Number</t></si>",
            &format!("<numFmt numFmtId=\"164\" formatCode=\"{code}\"/>"),
        )
    };
    // Excel's Social Security Number format, as Excel writes it and as people type it.
    for code in [r"000\-00\-0000", "000-00-0000", "&quot;&quot;000&quot;-&quot;00&quot;-&quot;0000"] {
        blocks(&ssn_cell(code, "219099999"), "us_ssn");
        blocks(&ssn_cell(code, "123456789"), "us_ssn");
        blocks(&ssn_cell(code, "2.19099999E8"), "us_ssn");
        // Invalid areas stay invalid once shown.
        allows(&ssn_cell(code, "666123456"));
        allows(&ssn_cell(code, "900123456"));
    }
    // A card number in a grouping mask.
    blocks(&ssn_cell("0000 0000 0000 0000", "4111111111111111"), "credit_card");
    // The mask applies to numbers only: a text cell in the same style is read as it is.
    allows(&xlsx_of(
        "<c r=\"B1\" s=\"1\" t=\"str\"><v>219099999</v></c>",
        "",
        r#"<numFmt numFmtId="164" formatCode="000\-00\-0000"/>"#,
    ));
}
