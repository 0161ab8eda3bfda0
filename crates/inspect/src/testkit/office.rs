//! Office documents with text in each of their hiding places, for evasion tests: the same
//! document holds either a sensitive value or only decoys in the place under test, with
//! ordinary text everywhere else.

use super::zip_of;

/// Hiding places of Word documents that [`docx_with`] can fill.
pub const DOCX_PLACES: &[&str] = &[
    "body",
    "split_runs",
    "header",
    "footer",
    "footnote",
    "endnote",
    "comment",
    "text_box",
    "vml_text_box",
    "deleted",
    "hidden",
    "field_code",
    "alt_text",
    "core_props",
    "app_props",
    "custom_props",
    "custom_xml",
    "doc_var",
    "embedded_xlsx",
    "table_cell",
];

/// Hiding places of workbooks that [`xlsx_with`] can fill.
pub const XLSX_PLACES: &[&str] = &[
    "shared_string",
    "inline_string",
    "cell_comment",
    "threaded_comment",
    "hidden_sheet",
    "very_hidden_sheet_name",
    "defined_name",
    "formula_literal",
    "formula_split_literals",
    "chart_cache",
    "core_props",
    "embedded_docx",
];

/// Hiding places of presentations that [`pptx_with`] can fill.
pub const PPTX_PLACES: &[&str] =
    &["slide", "notes", "slide_master", "slide_layout", "comment", "alt_text", "core_props"];

/// Hiding places of OpenDocument files that [`odf_with`] can fill, per kind.
pub const ODT_PLACES: &[&str] = &[
    "body",
    "split_spans",
    "header",
    "footer",
    "footnote",
    "annotation",
    "meta",
    "tracked_deletion",
    "frame_desc",
    "embedded_object",
];
/// See [`ODT_PLACES`].
pub const ODS_PLACES: &[&str] =
    &["cell", "annotation", "hidden_sheet", "named_expression", "formula_literal", "meta"];
/// See [`ODT_PLACES`].
pub const ODP_PLACES: &[&str] = &["slide", "notes", "master_page", "meta"];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

const FILLER: &str = "The committee reviewed the schedule and approved the budget.";

fn w_para(text: &str) -> String {
    format!("<w:p><w:r><w:t xml:space=\"preserve\">{}</w:t></w:r></w:p>", esc(text))
}

/// Paragraphs of `text`, one per line.
fn w_paras(text: &str) -> String {
    text.lines().map(w_para).collect()
}

/// `text` with every character in its own run and the markup Word leaves between runs
/// (proofing marks, bookmarks, revision wrappers, field characters, smart tags, property
/// changes) between them.
pub fn split_runs(text: &str) -> String {
    const BETWEEN: &[&str] = &[
        "<w:proofErr w:type=\"spellStart\"/>",
        "<w:bookmarkStart w:id=\"0\" w:name=\"_GoBack\"/>",
        "<w:bookmarkEnd w:id=\"0\"/>",
        "<w:ins w:id=\"1\" w:author=\"Ann\" w:date=\"2024-01-01T00:00:00Z\"><w:r><w:t>",
        "</w:t></w:r></w:ins>",
        "<w:r><w:fldChar w:fldCharType=\"begin\"/></w:r><w:r><w:instrText xml:space=\"preserve\"> QUOTE </w:instrText></w:r><w:r><w:fldChar w:fldCharType=\"separate\"/></w:r>",
        "<w:r><w:fldChar w:fldCharType=\"end\"/></w:r>",
        "<w:smartTag w:uri=\"urn:x\" w:element=\"place\">",
        "</w:smartTag>",
        "<w:r><w:rPr><w:rPrChange w:id=\"3\" w:author=\"Ann\"><w:rPr><w:i/></w:rPr></w:rPrChange></w:rPr></w:r>",
        "<w:proofErr w:type=\"spellEnd\"/>",
        "<w:customXml w:element=\"x\">",
        "</w:customXml>",
        "<w:del w:id=\"4\" w:author=\"Ann\"><w:r><w:delText>7</w:delText></w:r></w:del>",
    ];
    let mut p = String::new();
    let mut in_ins = false;
    for (k, ch) in text.chars().enumerate() {
        let t = esc(&ch.to_string());
        if in_ins {
            // Inside the insertion wrapper opened by the previous piece.
            p.push_str(&t);
        } else {
            p.push_str(&format!(
                "<w:r w:rsidR=\"00A{k:03}\"><w:rPr><w:b/></w:rPr><w:t xml:space=\"preserve\">{t}</w:t></w:r>"
            ));
        }
        let between = BETWEEN[k % BETWEEN.len()];
        in_ins = between.ends_with("<w:t>");
        p.push_str(between);
    }
    if in_ins {
        p.push_str("</w:t></w:r></w:ins>");
    }
    p
}

const W_NS: &str = "xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\" xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\" xmlns:wp=\"http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing\" xmlns:a=\"http://schemas.openxmlformats.org/drawingml/2006/main\" xmlns:v=\"urn:schemas-microsoft-com:vml\" xmlns:wps=\"http://schemas.microsoft.com/office/word/2010/wordprocessingShape\"";

fn content_types(overrides: &[(&str, &str)]) -> String {
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"><Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/><Default Extension=\"xml\" ContentType=\"application/xml\"/>");
    for (part, ct) in overrides {
        s.push_str(&format!("<Override PartName=\"/{part}\" ContentType=\"{ct}\"/>"));
    }
    s.push_str("</Types>");
    s
}

fn core_props(title: &str) -> String {
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><cp:coreProperties xmlns:cp=\"http://schemas.openxmlformats.org/package/2006/metadata/core-properties\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\" xmlns:dcterms=\"http://purl.org/dc/terms/\"><dc:title>{}</dc:title><dc:creator>Ann Example</dc:creator><dcterms:created>2024-01-15T10:30:00Z</dcterms:created></cp:coreProperties>", esc(title))
}

/// A Word document with `secret` in `place` (one of [`DOCX_PLACES`]).
pub fn docx_with(place: &str, secret: &str) -> Vec<u8> {
    let at = |p: &str| if p == place { secret } else { FILLER };
    let mut body = w_paras(at("body"));
    body.push_str(&format!(
        "<w:p>{}</w:p>",
        if place == "split_runs" { split_runs(secret) } else { split_runs("ok") }
    ));
    body.push_str(
        "<w:p><w:r><w:t>See note</w:t></w:r><w:r><w:footnoteReference w:id=\"1\"/></w:r><w:r><w:endnoteReference w:id=\"1\"/></w:r><w:commentRangeStart w:id=\"0\"/><w:r><w:t>here</w:t></w:r><w:commentRangeEnd w:id=\"0\"/><w:r><w:commentReference w:id=\"0\"/></w:r></w:p>"
    );
    body.push_str(&format!(
        "<w:p><w:r><w:t>Before </w:t></w:r><w:r><w:drawing><wp:inline><wp:docPr id=\"1\" name=\"Picture 1\" descr=\"{}\"/></wp:inline></w:drawing></w:r><w:r><mc:AlternateContent xmlns:mc=\"http://schemas.openxmlformats.org/markup-compatibility/2006\"><mc:Choice Requires=\"wps\"><w:drawing><wp:anchor><a:graphic><a:graphicData><wps:wsp><wps:txbx><w:txbxContent>{}</w:txbxContent></wps:txbx></wps:wsp></a:graphicData></a:graphic></wp:anchor></w:drawing></mc:Choice></mc:AlternateContent></w:r><w:r><w:pict><v:shape><v:textbox><w:txbxContent>{}</w:txbxContent></v:textbox></v:shape></w:pict></w:r><w:r><w:t> after.</w:t></w:r></w:p>",
        esc(at("alt_text")),
        w_paras(at("text_box")),
        w_paras(at("vml_text_box"))
    ));
    body.push_str(&format!(
        "<w:p><w:r><w:t xml:space=\"preserve\">Kept </w:t></w:r><w:del w:id=\"9\" w:author=\"Ann\"><w:r><w:delText xml:space=\"preserve\">{} </w:delText></w:r></w:del><w:r><w:rPr><w:vanish/></w:rPr><w:t xml:space=\"preserve\">{} </w:t></w:r><w:r><w:fldChar w:fldCharType=\"begin\"/></w:r><w:r><w:instrText xml:space=\"preserve\"> MERGEFIELD {} </w:instrText></w:r><w:r><w:fldChar w:fldCharType=\"end\"/></w:r></w:p>",
        esc(at("deleted")),
        esc(at("hidden")),
        esc(at("field_code"))
    ));
    body.push_str(&format!(
        "<w:tbl><w:tr><w:tc><w:p><w:r><w:t>Name</w:t></w:r></w:p></w:tc><w:tc>{}</w:tc></w:tr></w:tbl>",
        w_paras(at("table_cell"))
    ));
    body.push_str("<w:sectPr><w:headerReference w:type=\"default\" r:id=\"rId2\"/><w:footerReference w:type=\"default\" r:id=\"rId3\"/></w:sectPr>");
    let doc = format!("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><w:document {W_NS}><w:body>{body}</w:body></w:document>");
    let header = format!("<?xml version=\"1.0\"?><w:hdr {W_NS}>{}</w:hdr>", w_paras(at("header")));
    let footer = format!("<?xml version=\"1.0\"?><w:ftr {W_NS}>{}</w:ftr>", w_paras(at("footer")));
    let footnotes = format!("<?xml version=\"1.0\"?><w:footnotes {W_NS}><w:footnote w:type=\"separator\" w:id=\"-1\"><w:p><w:r><w:separator/></w:r></w:p></w:footnote><w:footnote w:id=\"1\">{}</w:footnote></w:footnotes>", w_paras(at("footnote")));
    let endnotes = format!(
        "<?xml version=\"1.0\"?><w:endnotes {W_NS}><w:endnote w:id=\"1\">{}</w:endnote></w:endnotes>",
        w_paras(at("endnote"))
    );
    let comments = format!("<?xml version=\"1.0\"?><w:comments {W_NS}><w:comment w:id=\"0\" w:author=\"Ann\" w:date=\"2024-01-01T00:00:00Z\" w:initials=\"A\">{}</w:comment></w:comments>", w_paras(at("comment")));
    let settings = format!("<?xml version=\"1.0\"?><w:settings {W_NS}><w:zoom w:percent=\"100\"/><w:docVars><w:docVar w:name=\"ref\" w:val=\"{}\"/></w:docVars></w:settings>", esc(at("doc_var")));
    let app = format!("<?xml version=\"1.0\"?><Properties xmlns=\"http://schemas.openxmlformats.org/officeDocument/2006/extended-properties\"><Application>Microsoft Office Word</Application><Company>{}</Company><Pages>1</Pages></Properties>", esc(at("app_props")));
    let custom = format!("<?xml version=\"1.0\"?><Properties xmlns=\"http://schemas.openxmlformats.org/officeDocument/2006/custom-properties\" xmlns:vt=\"http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes\"><property fmtid=\"{{D5CDD505-2E9C-101B-9397-08002B2CF9AE}}\" pid=\"2\" name=\"Reference\"><vt:lpwstr>{}</vt:lpwstr></property></Properties>", esc(at("custom_props")));
    let custom_xml =
        format!("<?xml version=\"1.0\"?><data><record id=\"7\">{}</record></data>", esc(at("custom_xml")));
    let embedded = super::xlsx(&[at("embedded_xlsx")]);
    let ct = content_types(&[
        (
            "word/document.xml",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
        ),
        ("docProps/core.xml", "application/vnd.openxmlformats-package.core-properties+xml"),
    ]);
    zip_of(&[
        ("[Content_Types].xml", ct.as_bytes()),
        ("_rels/.rels", b"<?xml version=\"1.0\"?><Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\"><Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument\" Target=\"word/document.xml\"/></Relationships>"),
        ("word/document.xml", doc.as_bytes()),
        ("word/header1.xml", header.as_bytes()),
        ("word/footer1.xml", footer.as_bytes()),
        ("word/footnotes.xml", footnotes.as_bytes()),
        ("word/endnotes.xml", endnotes.as_bytes()),
        ("word/comments.xml", comments.as_bytes()),
        ("word/settings.xml", settings.as_bytes()),
        ("word/embeddings/Microsoft_Excel_Worksheet.xlsx", &embedded),
        ("docProps/core.xml", core_props(at("core_props")).as_bytes()),
        ("docProps/app.xml", app.as_bytes()),
        ("docProps/custom.xml", custom.as_bytes()),
        ("customXml/item1.xml", custom_xml.as_bytes()),
    ])
}

/// A workbook with `secret` in `place` (one of [`XLSX_PLACES`]).
pub fn xlsx_with(place: &str, secret: &str) -> Vec<u8> {
    let at = |p: &str| if p == place { secret } else { FILLER };
    const NS: &str = "xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\"";
    let sheet_name = if place == "very_hidden_sheet_name" { esc(secret) } else { "Archive".into() };
    let defined = esc(&format!("\"{}\"", at("defined_name")));
    let workbook = format!("<?xml version=\"1.0\"?><workbook {NS}><sheets><sheet name=\"Summary\" sheetId=\"1\" r:id=\"rId1\"/><sheet name=\"Data\" sheetId=\"2\" state=\"hidden\" r:id=\"rId2\"/><sheet name=\"{sheet_name}\" sheetId=\"3\" state=\"veryHidden\" r:id=\"rId3\"/></sheets><definedNames><definedName name=\"Reference\">{defined}</definedName></definedNames></workbook>");
    let sst = format!("<?xml version=\"1.0\"?><sst {NS} count=\"2\" uniqueCount=\"2\"><si><t>Total</t></si><si><r><t>{}</t></r></si></sst>", esc(at("shared_string")));
    let formula = if place == "formula_split_literals" {
        // The value only exists once the formula is computed: the cached value is absent.
        let (a, b) = secret.split_at(secret.len() / 2);
        format!(
            "<c r=\"C1\" t=\"str\"><f>\"{}\"&amp;\"{}\"</f></c>",
            esc(&a.replace('"', "\"\"")),
            esc(&b.replace('"', "\"\""))
        )
    } else {
        format!(
            "<c r=\"C1\" t=\"str\"><f>IF(A1=0,\"{}\",\"none\")</f><v>none</v></c>",
            esc(&at("formula_literal").replace('"', "\"\""))
        )
    };
    let sheet1 = format!("<?xml version=\"1.0\"?><worksheet {NS}><sheetData><row r=\"1\"><c r=\"A1\" t=\"s\"><v>0</v></c><c r=\"B1\" t=\"s\"><v>1</v></c>{formula}<c r=\"D1\" t=\"inlineStr\"><is><t>{}</t></is></c><c r=\"E1\"><v>4111</v></c><c r=\"F1\"><v>1111</v></c></row></sheetData></worksheet>", esc(at("inline_string")));
    let sheet2 = format!("<?xml version=\"1.0\"?><worksheet {NS}><sheetData><row r=\"1\"><c r=\"A1\" t=\"inlineStr\"><is><t>{}</t></is></c></row></sheetData></worksheet>", esc(at("hidden_sheet")));
    let sheet3 = format!("<?xml version=\"1.0\"?><worksheet {NS}><sheetData/></worksheet>");
    let comments = format!("<?xml version=\"1.0\"?><comments {NS}><authors><author>Ann</author></authors><commentList><comment ref=\"A1\" authorId=\"0\"><text><r><t>{}</t></r></text></comment></commentList></comments>", esc(at("cell_comment")));
    let threaded = format!("<?xml version=\"1.0\"?><ThreadedComments xmlns=\"http://schemas.microsoft.com/office/spreadsheetml/2018/threadedcomments\"><threadedComment ref=\"B1\" dT=\"2024-01-01T00:00:00.00\" personId=\"{{11111111-2222-3333-4444-555555555555}}\" id=\"{{AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE}}\"><text>{}</text></threadedComment></ThreadedComments>", esc(at("threaded_comment")));
    let persons = "<?xml version=\"1.0\"?><personList xmlns=\"http://schemas.microsoft.com/office/spreadsheetml/2018/threadedcomments\"><person displayName=\"Ann Example\" id=\"{11111111-2222-3333-4444-555555555555}\" userId=\"ann@example.com\" providerId=\"AD\"/></personList>";
    let chart = format!("<?xml version=\"1.0\"?><c:chartSpace xmlns:c=\"http://schemas.openxmlformats.org/drawingml/2006/chart\"><c:chart><c:plotArea><c:barChart><c:ser><c:cat><c:strRef><c:f>Data!$A$1</c:f><c:strCache><c:ptCount val=\"1\"/><c:pt idx=\"0\"><c:v>{}</c:v></c:pt></c:strCache></c:strRef></c:cat></c:ser></c:barChart></c:plotArea></c:chart></c:chartSpace>", esc(at("chart_cache")));
    let embedded = super::docx(&[at("embedded_docx")]);
    let ct = content_types(&[(
        "xl/workbook.xml",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
    )]);
    zip_of(&[
        ("[Content_Types].xml", ct.as_bytes()),
        ("_rels/.rels", b"<?xml version=\"1.0\"?><Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\"/>"),
        ("xl/workbook.xml", workbook.as_bytes()),
        ("xl/sharedStrings.xml", sst.as_bytes()),
        ("xl/worksheets/sheet1.xml", sheet1.as_bytes()),
        ("xl/worksheets/sheet2.xml", sheet2.as_bytes()),
        ("xl/worksheets/sheet3.xml", sheet3.as_bytes()),
        ("xl/comments1.xml", comments.as_bytes()),
        ("xl/threadedComments/threadedComment1.xml", threaded.as_bytes()),
        ("xl/persons/person.xml", persons.as_bytes()),
        ("xl/charts/chart1.xml", chart.as_bytes()),
        ("xl/embeddings/Microsoft_Word_Document.docx", &embedded),
        ("docProps/core.xml", core_props(at("core_props")).as_bytes()),
    ])
}

fn a_paras(text: &str) -> String {
    text.lines()
        .map(|l| format!("<a:p><a:r><a:rPr lang=\"en-US\" dirty=\"0\"/><a:t>{}</a:t></a:r></a:p>", esc(l)))
        .collect()
}

/// A presentation with `secret` in `place` (one of [`PPTX_PLACES`]).
pub fn pptx_with(place: &str, secret: &str) -> Vec<u8> {
    let at = |p: &str| if p == place { secret } else { FILLER };
    const NS: &str = "xmlns:a=\"http://schemas.openxmlformats.org/drawingml/2006/main\" xmlns:p=\"http://schemas.openxmlformats.org/presentationml/2006/main\" xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\"";
    let shape = |text: &str, descr: &str| {
        format!("<p:sp><p:nvSpPr><p:cNvPr id=\"2\" name=\"Title 1\" descr=\"{}\"/></p:nvSpPr><p:txBody><a:bodyPr/>{}</p:txBody></p:sp>", esc(descr), a_paras(text))
    };
    let slide = format!(
        "<?xml version=\"1.0\"?><p:sld {NS}><p:cSld><p:spTree>{}</p:spTree></p:cSld></p:sld>",
        shape(at("slide"), at("alt_text"))
    );
    let notes = format!(
        "<?xml version=\"1.0\"?><p:notes {NS}><p:cSld><p:spTree>{}</p:spTree></p:cSld></p:notes>",
        shape(at("notes"), "")
    );
    let master = format!(
        "<?xml version=\"1.0\"?><p:sldMaster {NS}><p:cSld><p:spTree>{}</p:spTree></p:cSld></p:sldMaster>",
        shape(at("slide_master"), "")
    );
    let layout = format!(
        "<?xml version=\"1.0\"?><p:sldLayout {NS}><p:cSld><p:spTree>{}</p:spTree></p:cSld></p:sldLayout>",
        shape(at("slide_layout"), "")
    );
    let comments = format!("<?xml version=\"1.0\"?><p:cmLst {NS}><p:cm authorId=\"0\" dt=\"2024-01-01T00:00:00.000\" idx=\"1\"><p:pos x=\"10\" y=\"10\"/><p:text>{}</p:text></p:cm></p:cmLst>", esc(at("comment")));
    let ct = content_types(&[(
        "ppt/presentation.xml",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml",
    )]);
    zip_of(&[
        ("[Content_Types].xml", ct.as_bytes()),
        ("ppt/presentation.xml", format!("<?xml version=\"1.0\"?><p:presentation {NS}/>").as_bytes()),
        ("ppt/slides/slide1.xml", slide.as_bytes()),
        ("ppt/notesSlides/notesSlide1.xml", notes.as_bytes()),
        ("ppt/slideMasters/slideMaster1.xml", master.as_bytes()),
        ("ppt/slideLayouts/slideLayout1.xml", layout.as_bytes()),
        ("ppt/comments/comment1.xml", comments.as_bytes()),
        ("docProps/core.xml", core_props(at("core_props")).as_bytes()),
    ])
}

const ODF_NS: &str = "xmlns:office=\"urn:oasis:names:tc:opendocument:xmlns:office:1.0\" xmlns:text=\"urn:oasis:names:tc:opendocument:xmlns:text:1.0\" xmlns:table=\"urn:oasis:names:tc:opendocument:xmlns:table:1.0\" xmlns:draw=\"urn:oasis:names:tc:opendocument:xmlns:drawing:1.0\" xmlns:style=\"urn:oasis:names:tc:opendocument:xmlns:style:1.0\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\" xmlns:meta=\"urn:oasis:names:tc:opendocument:xmlns:meta:1.0\" xmlns:svg=\"urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0\" xmlns:presentation=\"urn:oasis:names:tc:opendocument:xmlns:presentation:1.0\" xmlns:of=\"urn:oasis:names:tc:opendocument:xmlns:of:1.2\" office:version=\"1.3\"";

fn t_paras(text: &str) -> String {
    text.lines().map(|l| format!("<text:p text:style-name=\"P1\">{}</text:p>", esc(l))).collect()
}

/// `text` with every character in its own span, and spaces written as `text:s`.
fn split_spans(text: &str) -> String {
    text.chars()
        .enumerate()
        .map(|(k, c)| match c {
            ' ' => "<text:s/>".to_string(),
            c => format!(
                "<text:span text:style-name=\"T{}\">{}</text:span><text:bookmark text:name=\"b{k}\"/>",
                k % 3,
                esc(&c.to_string())
            ),
        })
        .collect()
}

/// An OpenDocument file of `kind` (`odt`, `ods`, `odp`) with `secret` in `place` (one of
/// [`ODT_PLACES`], [`ODS_PLACES`], [`ODP_PLACES`]).
pub fn odf_with(kind: &str, place: &str, secret: &str) -> Vec<u8> {
    let at = |p: &str| if p == place { secret } else { FILLER };
    let (mime, body, master) = match kind {
        "ods" => {
            let formula =
                esc(&format!("of:=IF([.A1]=0;\"{}\";\"none\")", at("formula_literal").replace('"', "\"\"")));
            let body = format!(
                "<office:spreadsheet><table:table table:name=\"Summary\"><table:table-row><table:table-cell office:value-type=\"string\"><text:p>{}</text:p><office:annotation><dc:creator>Ann</dc:creator>{}</office:annotation></table:table-cell><table:table-cell table:formula=\"{formula}\" office:value-type=\"string\" office:string-value=\"none\"><text:p>none</text:p></table:table-cell></table:table-row></table:table><table:table table:name=\"Hidden\" table:style-name=\"ta_hidden\"><table:table-row><table:table-cell office:value-type=\"string\"><text:p>{}</text:p></table:table-cell></table:table-row></table:table><table:named-expressions><table:named-expression table:name=\"Ref\" table:expression=\"{}\"/></table:named-expressions></office:spreadsheet>",
                esc(at("cell")),
                t_paras(at("annotation")),
                esc(at("hidden_sheet")),
                esc(&format!("of:=\"{}\"", at("named_expression")))
            );
            ("application/vnd.oasis.opendocument.spreadsheet", body, String::new())
        }
        "odp" => {
            let body = format!(
                "<office:presentation><draw:page draw:name=\"page1\"><draw:frame><draw:text-box>{}</draw:text-box></draw:frame><presentation:notes><draw:frame><draw:text-box>{}</draw:text-box></draw:frame></presentation:notes></draw:page></office:presentation>",
                t_paras(at("slide")),
                t_paras(at("notes"))
            );
            let master = format!("<style:master-page style:name=\"Default\"><draw:frame><draw:text-box>{}</draw:text-box></draw:frame></style:master-page>", t_paras(at("master_page")));
            ("application/vnd.oasis.opendocument.presentation", body, master)
        }
        _ => {
            let split = if place == "split_spans" { split_spans(secret) } else { split_spans("ok") };
            let body = format!(
                "<office:text>{}<text:p text:style-name=\"P1\">{split}</text:p><text:p>See<text:note text:id=\"n1\" text:note-class=\"footnote\"><text:note-citation>1</text:note-citation><text:note-body>{}</text:note-body></text:note> and<office:annotation><dc:creator>Ann</dc:creator><dc:date>2024-01-01T00:00:00</dc:date>{}</office:annotation> more<text:change text:change-id=\"c1\"/> text.<draw:frame draw:name=\"Image1\"><svg:title>Figure</svg:title><svg:desc>{}</svg:desc></draw:frame></text:p><text:tracked-changes><text:changed-region text:id=\"c1\"><text:deletion><office:change-info><dc:creator>Ann</dc:creator></office:change-info>{}</text:deletion></text:changed-region></text:tracked-changes><text:p><draw:frame><draw:object xlink:href=\"./Object 1\" xmlns:xlink=\"http://www.w3.org/1999/xlink\"/></draw:frame></text:p></office:text>",
                t_paras(at("body")),
                t_paras(at("footnote")),
                t_paras(at("annotation")),
                esc(at("frame_desc")),
                t_paras(at("tracked_deletion"))
            );
            let master = format!("<style:master-page style:name=\"Standard\"><style:header>{}</style:header><style:footer>{}</style:footer></style:master-page>", t_paras(at("header")), t_paras(at("footer")));
            ("application/vnd.oasis.opendocument.text", body, master)
        }
    };
    let content = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><office:document-content {ODF_NS}><office:automatic-styles><style:style style:name=\"ta_hidden\" style:family=\"table\"><style:table-properties table:display=\"false\"/></style:style></office:automatic-styles><office:body>{body}</office:body></office:document-content>");
    let styles = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><office:document-styles {ODF_NS}><office:master-styles>{master}</office:master-styles></office:document-styles>");
    let meta = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><office:document-meta {ODF_NS}><office:meta><dc:title>{}</dc:title><meta:user-defined meta:name=\"Ref\">{}</meta:user-defined></office:meta></office:document-meta>", esc(at("meta")), esc(FILLER));
    let object = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><office:document-content {ODF_NS}><office:body><office:text>{}</office:text></office:body></office:document-content>", t_paras(at("embedded_object")));
    let manifest = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><manifest:manifest xmlns:manifest=\"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0\" manifest:version=\"1.3\"><manifest:file-entry manifest:full-path=\"/\" manifest:media-type=\"application/vnd.oasis.opendocument.text\"/><manifest:file-entry manifest:full-path=\"content.xml\" manifest:media-type=\"text/xml\"/></manifest:manifest>";
    zip_of(&[
        ("mimetype", mime.as_bytes()),
        ("content.xml", content.as_bytes()),
        ("styles.xml", styles.as_bytes()),
        ("meta.xml", meta.as_bytes()),
        ("Object 1/content.xml", object.as_bytes()),
        ("META-INF/manifest.xml", manifest.as_bytes()),
    ])
}

/// An OpenDocument text whose manifest marks its content as encrypted (the content itself is
/// noise, as an encrypted part would be).
pub fn odt_encrypted() -> Vec<u8> {
    let manifest = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><manifest:manifest xmlns:manifest=\"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0\"><manifest:file-entry manifest:full-path=\"content.xml\" manifest:media-type=\"text/xml\" manifest:size=\"4000\"><manifest:encryption-data manifest:checksum-type=\"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0#sha256-1k\" manifest:checksum=\"AAAA\"><manifest:algorithm manifest:algorithm-name=\"http://www.w3.org/2001/04/xmlenc#aes256-cbc\" manifest:initialisation-vector=\"AAAA\"/><manifest:key-derivation manifest:key-derivation-name=\"PBKDF2\" manifest:key-size=\"32\" manifest:iteration-count=\"100000\" manifest:salt=\"AAAA\"/></manifest:encryption-data></manifest:file-entry></manifest:manifest>";
    zip_of(&[
        ("mimetype", b"application/vnd.oasis.opendocument.text".as_slice()),
        ("content.xml", &super::noise(4000, 9)),
        ("META-INF/manifest.xml", manifest.as_bytes()),
    ])
}
