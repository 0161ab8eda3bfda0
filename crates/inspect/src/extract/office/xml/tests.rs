//! The lanes of the office XML reader.

use super::*;
use crate::extract::State;
use crate::limits::{Budget, Limits};
use crate::policy::Policy;

/// The four lanes (body, nested, side, alt) of `xml` read in windows of `window` bytes.
fn lanes(xml: &str, dialect: Dialect) -> [String; 4] {
    let policy = Policy::builtin();
    let mut st = State {
        hits: crate::detect::Hits::new(10),
        budget: Budget::new(Limits::default(), None),
        types: Default::default(),
        text_bytes: 0,
        prints: None,
    };
    let mut cx = Ctx { set: &policy.detectors, exempt: &[], st: &mut st };
    let m = Member { path: "part.xml".into(), depth: 1 };
    let mut x = XmlText::new(&m, dialect);
    x.capture = Some(Default::default());
    x.parse(&mut cx, xml.as_bytes(), true);
    x.finish(&mut cx);
    x.capture.take().unwrap_or_default().map(|v| String::from_utf8(v).unwrap())
}

fn run(text: &str) -> String {
    format!("<w:r><w:rPr><w:b/></w:rPr><w:t xml:space=\"preserve\">{text}</w:t></w:r>")
}

#[test]
fn split_runs_join_and_paragraphs_separate() {
    let card = "4111 1111 1111 1111";
    let mut p = String::from("<w:document><w:body><w:p w:rsidR=\"00A1\">");
    let between = [
        "<w:proofErr w:type=\"spellStart\"/>",
        "<w:bookmarkStart w:id=\"0\" w:name=\"b\"/>",
        "<w:bookmarkEnd w:id=\"0\"/>",
        "<w:ins w:id=\"1\" w:author=\"x\">",
        "</w:ins>",
        "<w:del w:id=\"2\" w:author=\"x\"><w:r><w:delText>9</w:delText></w:r></w:del>",
        "<w:r><w:fldChar w:fldCharType=\"begin\"/></w:r><w:r><w:instrText> PAGE </w:instrText></w:r><w:r><w:fldChar w:fldCharType=\"separate\"/></w:r>",
        "<w:r><w:fldChar w:fldCharType=\"end\"/></w:r>",
        "<w:smartTag w:uri=\"u\" w:element=\"e\">",
        "</w:smartTag>",
        "<w:r><w:rPr><w:rPrChange w:id=\"3\"><w:rPr><w:i/></w:rPr></w:rPrChange></w:rPr></w:r>",
        "<w:customXml w:element=\"x\">",
        "</w:customXml>",
        "<w:r><w:rPr><w:vanish/></w:rPr><w:t>7</w:t></w:r>",
        "<w:proofErr w:type=\"spellEnd\"/>",
    ];
    for (k, ch) in card.chars().enumerate() {
        p.push_str(&run(&ch.to_string()));
        if let Some(b) = between.get(k) {
            p.push_str(b);
        }
    }
    p.push_str("</w:p><w:p>");
    p.push_str(&run("next"));
    p.push_str("</w:p><w:tbl><w:tr><w:tc><w:p>");
    p.push_str(&run("cell1"));
    p.push_str("<w:r><w:tab/></w:r>");
    p.push_str(&run("tabbed"));
    p.push_str("</w:p></w:tc><w:tc><w:p>");
    p.push_str(&run("cell2"));
    p.push_str("</w:p></w:tc></w:tr></w:tbl></w:body></w:document>");
    let [body, _, side, alt] = lanes(&p, Dialect::Ooxml);
    assert!(body.contains(&format!("{card}\nnext\ncell1\ttabbed\ncell2")), "{body:?}");
    assert!(side.contains(" PAGE "), "{side:?}");
    assert!(alt.contains('9') && alt.contains('7'), "{alt:?}");
    assert!(!body.contains('9') && !body.contains('7'), "{body:?}");
}

#[test]
fn revisions_read_in_both_views() {
    // Current view: 4111 1111 1111 1111 (9 deleted). Original view: the inserted 2 absent.
    let p = format!(
        "<w:p>{}<w:del><w:r><w:delText>1111 </w:delText></w:r></w:del>{}<w:ins><w:r><w:t>2</w:t></w:r></w:ins>{}</w:p>",
        run("5500 0000 "),
        run("0000 000"),
        run("4")
    );
    let [body, _, _, alt] = lanes(&p, Dialect::Ooxml);
    assert!(body.contains("5500 0000 0000 00024"), "{body:?}");
    assert!(alt.contains("5500 0000 1111 0000 0004"), "{alt:?}");
}

#[test]
fn text_boxes_do_not_split_their_paragraph() {
    let p = format!(
        "<w:p>{}<w:r><w:pict><v:shape><v:textbox><w:txbxContent><w:p>{}</w:p></w:txbxContent></v:textbox></v:shape></w:pict></w:r>{}</w:p>",
        run("4111 1111 "),
        run("boxed"),
        run("1111 1111")
    );
    let [body, nested, _, _] = lanes(&p, Dialect::Ooxml);
    assert!(body.contains("4111 1111 1111 1111"), "{body:?}");
    assert_eq!(nested.trim(), "boxed");
}

#[test]
fn cells_attributes_formulas_and_comments() {
    let xml = r#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "ent 123-45-6789">]><worksheet><sheetData><row><c r="A1"><v>4111</v></c><c r="B1"><v>1111</v></c><c><f>"4111 1111 "&amp;"1111 1111"</f><v>x</v></c></row></sheetData><!-- note 5500 --><definedName name="n">&e;</definedName><sheet name="Secret" state="veryHidden" descr="alt &amp; text"/></worksheet>"#;
    let [body, _, side, _] = lanes(xml, Dialect::Ooxml);
    assert!(body.contains("4111\n1111\n"), "{body:?}");
    assert!(!body.contains("41111111"), "{body:?}");
    assert!(side.contains("4111 1111 1111 1111"), "{side:?}");
    assert!(side.contains("ent 123-45-6789"), "{side:?}");
    assert!(side.contains(" note 5500 "), "{side:?}");
    assert!(side.contains("Secret\n") && side.contains("alt & text"), "{side:?}");
    assert!(body.contains("&e;"), "{body:?}");
}

#[test]
fn odf_paragraphs() {
    let xml = r#"<office:text><text:p text:style-name="P1">4111<text:s/>1111
  <text:span text:style-name="T1">1111</text:span><text:s text:c="1"/>1111<office:annotation><dc:creator>Bob</dc:creator><text:p>remark</text:p></office:annotation></text:p><text:p>two<text:tab/>three</text:p><table:table-cell table:formula="of:=CONCATENATE(&quot;123-45-&quot;;&quot;6789&quot;)"/></office:text>"#;
    let [body, nested, side, _] = lanes(xml, Dialect::Odf);
    assert!(body.contains("4111 1111 1111 1111\n"), "{body:?}");
    assert!(body.contains("two\tthree"), "{body:?}");
    assert_eq!(nested.trim(), "remark");
    assert!(side.contains("Bob") && side.contains("123-45-6789"), "{side:?}");
}

#[test]
fn unescapes_leniently() {
    let mut out = Vec::new();
    unescape(b"a &amp; &#52;&#x31; &bogus; & b&#xD800;", &mut out);
    assert_eq!(out, b"a & 41 &bogus; & b&#xD800;");
}

#[test]
fn windows_cut_anywhere_read_the_same() {
    let p = format!(
        "<w:document><!-- {} --><w:p>{}{}</w:p><w:p>{}</w:p></w:document>",
        "c".repeat(50),
        run("4111 1111 "),
        run("1111 1111"),
        run("x &amp; y")
    );
    let whole = lanes(&p, Dialect::Ooxml);
    for cut in 1..p.len() {
        let policy = Policy::builtin();
        let mut st = State {
            hits: crate::detect::Hits::new(10),
            budget: Budget::new(Limits::default(), None),
            types: Default::default(),
            text_bytes: 0,
            prints: None,
        };
        let mut cx = Ctx { set: &policy.detectors, exempt: &[], st: &mut st };
        let m = Member { path: "p".into(), depth: 1 };
        let mut x = XmlText::new(&m, Dialect::Ooxml);
        x.capture = Some(Default::default());
        let bytes = p.as_bytes();
        let mut buf = bytes[..cut].to_vec();
        let k = cut_point(&buf);
        let used = x.parse(&mut cx, &buf[..k], false);
        buf.drain(..used);
        buf.extend_from_slice(&bytes[cut..]);
        x.parse(&mut cx, &buf, true);
        x.finish(&mut cx);
        let got = x.capture.take().unwrap_or_default().map(|v| String::from_utf8(v).unwrap());
        assert_eq!(got[0], whole[0], "cut at {cut}");
        assert_eq!(got[2], whole[2], "cut at {cut}");
    }
}

#[test]
fn stray_and_missing_end_tags_do_not_shift_the_reading() {
    // A stray `</w:tab>` inside the paragraph, and a `<w:del>` left open inside a run.
    let p = format!(
        "<w:body><w:p>{}</w:tab>{}</w:p><w:p><w:r><w:del></w:r>{}{}</w:p></w:body>",
        run("4111 1111 "),
        run("1111 1111"),
        run("5500 0000 "),
        run("0000 0004")
    );
    let [body, ..] = lanes(&p, Dialect::Ooxml);
    assert!(body.contains("4111 1111 1111 1111\n5500 0000 0000 0004"), "{body:?}");
}
