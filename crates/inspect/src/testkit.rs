//! A labelled corpus for tests (feature `testkit`): every supported format, with
//! positives for each blocking type and negatives full of decoys. The server's end-to-end
//! tests reuse it to drive whole ICAP exchanges.
//!
//! One concern in one file (the labelled corpus and the builders it needs); format
//! builders of their own live in `testkit/`.
//!
//! A fixture that cannot be built panics: an empty file would let a "must not block" test
//! pass while testing nothing.
#![allow(clippy::expect_used)]

use std::io::Write;

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

mod containers;
pub mod pdfkit;

pub use containers::*;
pub mod evasion;
pub mod fingerprints;
pub mod legacy;
pub mod numbers;
pub mod office;
pub mod ole;

/// One labelled object.
#[derive(Debug, Clone)]
pub struct Sample {
    /// `format/label`, unique.
    pub name: String,
    /// The body.
    pub bytes: Vec<u8>,
    /// File name to pass in the scan context.
    pub filename: Option<String>,
    /// HTTP Content-Type to send with it (multipart needs its boundary).
    pub content_type: Option<String>,
    /// HTTP Content-Encoding to send with it.
    pub content_encoding: Option<String>,
    /// Whether the default policy must block it.
    pub expect_block: bool,
    /// For positives, the detector that must be among the matches.
    pub expect_detector: Option<&'static str>,
}

/// Positive values per blocking type of the default policy.
pub fn positives() -> Vec<(&'static str, &'static str)> {
    vec![
        ("credit_card", "Please charge card 4111 1111 1111 1111 exp 12/29."),
        ("credit_card", "mc=5500-0000-0000-0004;"),
        ("credit_card", "Amex 3782 822463 10005 on file"),
        ("credit_card", "discover 6011111111111117 jcb 3530111333300000"),
        ("credit_card", "diners 30569309025904 unionpay 6200000000000005 mc2 2223000048400011"),
        ("credit_card", "visa13 4222222222222 end"),
        ("us_ssn", "Employee SSN 123-45-6789 on record."),
        ("us_ssn", "ssn: 219 09 9999"),
        ("us_ssn", "Social Security Number: 078051120"),
        ("iban", "Pay to IBAN DE89 3704 0044 0532 0130 00 today"),
        ("iban", "GB82WEST12345698765432"),
        ("iban", "account FR1420041010050500013M02606 and NL91ABNA0417164300"),
        ("private_key", PEM_RSA),
        ("private_key", PEM_OPENSSH),
        ("private_key", PEM_EC),
        ("private_key", PEM_ENCRYPTED),
        ("aws_access_key", "aws_access_key_id = AKIAIOSFODNN7EXAMPLE"),
        ("aws_access_key", "key ASIAY34FZKBOKMUTVV7A used"),
        ("github_token", "GITHUB_TOKEN=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"),
        ("github_token", "token gho_16C7e42F292c6912E7710c838347Ae178B4a here"),
    ]
}

const PEM_RSA: &str = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MhgHcTz6sE2I2yPB\naFDrBz9vFqU4yB7HfqsqIuAaXKUyqPVP+vuGPmKVKGrtaZ3UPZdGf2Hxk8bVA5KB\n-----END RSA PRIVATE KEY-----";
const PEM_OPENSSH: &str = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n-----END OPENSSH PRIVATE KEY-----";
const PEM_EC: &str = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIIrYSSNQFaA2Hwf1duRSxKtLYX5CB04fSeQ6tF1aY/PuoAoGCCqGSM49\n-----END EC PRIVATE KEY-----";
const PEM_ENCRYPTED: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHDBOBgkqhkiG9w0BBQ0wQTApBgkqhkiG9w0BBQwwHAQIh9ZxPd8fW2ICAggA\n-----END ENCRYPTED PRIVATE KEY-----";

/// Text full of look-alikes that the default policy must not block.
pub fn decoys() -> String {
    [
        "Order 4111111111111112 failed the Luhn check; so did 5500 0000 0000 0005.",
        "Invalid SSNs: 000-12-3456, 666-12-3456, 912-34-5678, 123-00-4567, 123-45-0000.",
        "Reference number 123456789 is nine bare digits with no keyword.",
        "Bad IBANs: DE89 3704 0044 0532 0130 01 and GB82WEST12345698765433.",
        "Long runs: 41111111111111111111111 and 94111111111111111 and 12345678901234567890.",
        "UUID 550e8400-e29b-41d4-a716-446655440000, 123e4567-e89b-12d3-a456-426614174000.",
        "Timestamps 2024-01-15T10:30:00Z, 1700000000, 1700000000123, 2023-12-31 23:59:59.",
        "Call +1 555 123 4567 or (555) 123-4567, fax 555.123.4567; mail jane.doe@example.com.",
        "Version 1.2.3.4 from 192.168.100.200, build 4111-1111-1111.",
        "Not keys: AKIAshort, ghp_tooShort, AKIAIOSFODNN7EXAMPLEEXTRA.",
        "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu1SU1LfVLPHCozMxH2Mo\n-----END PUBLIC KEY-----",
        "-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBaMQswCQYDVQQGEwJJ\n-----END CERTIFICATE-----",
        "-----BEGIN OPENSSH PUBLIC KEY----- ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIO",
        "Prices: $1,234.56, 4,111,111,111 units, 0.4111111111111111 ratio.",
    ]
    .join("\n")
}

fn filler() -> &'static str {
    "Quarterly report draft. The team met on Tuesday to review progress; nothing unusual.\n"
}

/// Every format the engine extracts.
pub const FORMATS: &[&str] = &[
    "txt",
    "utf16le",
    "utf16be",
    "latin1",
    "shift_jis",
    "gbk_fullwidth",
    "ebcdic",
    "html",
    "xml",
    "json",
    "csv",
    "multipart",
    "multipart_nohdr",
    "eml",
    "zip",
    "zip_nested",
    "gzip",
    "tar",
    "tar_gz",
    "lz4",
    "tar_lz4_legacy",
    "lzma",
    "lzip",
    "zlib",
    "docx",
    "xlsx",
    "pptx",
    "odt",
    "ods",
    "odp",
    "pdf",
    "rtf",
    "ce_gzip",
    "ce_deflate",
    "ce_br",
    "binary",
    "ole_utf16",
    "pdf_cid",
    "doc",
    "xls",
    "msg",
];

/// The labelled corpus: for every format, one positive per value of [`positives`] and one
/// negative made of [`decoys`].
pub fn labelled_corpus() -> Vec<Sample> {
    let mut out = Vec::new();
    for &format in FORMATS {
        for (k, (det, value)) in positives().into_iter().enumerate() {
            let text = format!("{}{}\n{}\n{}", filler(), decoys(), value, filler());
            let mut s = wrap(format, &text);
            s.name = format!("{format}/positive-{k}-{det}");
            s.expect_block = true;
            s.expect_detector = Some(det);
            out.push(s);
        }
        let text = format!("{}{}\n{}", filler(), decoys(), filler());
        let mut s = wrap(format, &text);
        s.name = format!("{format}/negative");
        out.push(s);
    }
    out
}

fn sample(bytes: Vec<u8>) -> Sample {
    Sample {
        name: String::new(),
        bytes,
        filename: None,
        content_type: None,
        content_encoding: None,
        expect_block: false,
        expect_detector: None,
    }
}

/// Wraps `text` in `format`.
pub fn wrap(format: &str, text: &str) -> Sample {
    let lines: Vec<&str> = text.lines().collect();
    match format {
        "txt" => sample(text.as_bytes().to_vec()),
        "utf16le" => {
            let mut b = vec![0xFF, 0xFE];
            b.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
            sample(b)
        }
        "utf16be" => sample(text.encode_utf16().flat_map(u16::to_be_bytes).collect()),
        "latin1" => {
            let mut b = b"Caf\xe9 cr\xe8me br\xfbl\xe9e.\n".to_vec();
            b.extend_from_slice(text.as_bytes());
            sample(b)
        }
        // Japanese as Excel exports it: every line after a full-width colon, whose second
        // byte in Shift_JIS is an ASCII `F`.
        "shift_jis" => {
            let mut s = String::from("本書類は四半期の財務報告に関するものです。\n");
            for l in &lines {
                s.push_str(&format!("項目：{l}\n"));
            }
            sample(encoding_rs::SHIFT_JIS.encode(&s).0.into_owned())
        }
        // Simplified Chinese in GBK, every ASCII digit written full-width.
        "gbk_fullwidth" => {
            let digits: String = text
                .chars()
                .map(|c| c.to_digit(10).map_or(c, |d| char::from_u32(0xFF10 + d).unwrap_or(c)))
                .collect();
            let s = format!("这是一份关于季度财务报告的文件，包含多项数据和分析。\n{digits}");
            sample(encoding_rs::GBK.encode(&s).0.into_owned())
        }
        "html" => {
            let mut s = String::from("<!DOCTYPE html><html><head><title>t</title></head><body>");
            for l in &lines {
                s.push_str(&format!("<p>{}</p>\n", xml_escape(l)));
            }
            s.push_str("</body></html>");
            sample(s.into_bytes())
        }
        "xml" => sample(xml_doc(&lines).into_bytes()),
        "json" => {
            let items: Vec<String> = lines.iter().map(|l| json_string(l)).collect();
            sample(format!("{{\"lines\": [{}], \"n\": 3}}", items.join(", ")).into_bytes())
        }
        "csv" => {
            let mut s = String::from("id,text\n");
            for (i, l) in lines.iter().enumerate() {
                s.push_str(&format!("{i},\"{}\"\n", l.replace('"', "\"\"")));
            }
            sample(s.into_bytes())
        }
        "multipart" | "multipart_nohdr" => {
            let b = "----WebKitFormBoundary7MA4YWxkTrZu0gW";
            let body = format!(
                "--{b}\r\nContent-Disposition: form-data; name=\"comment\"\r\n\r\nhello\r\n--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"notes.txt\"\r\nContent-Type: text/plain\r\n\r\n{text}\r\n--{b}--\r\n"
            );
            let mut s = sample(body.into_bytes());
            if format == "multipart" {
                s.content_type = Some(format!("multipart/form-data; boundary={b}"));
            }
            s
        }
        "eml" => {
            let (half_a, half_b) = lines.split_at(lines.len() / 2);
            let qp = quoted_printable(&half_a.join("\r\n"));
            let b64 = base64_lines(half_b.join("\n").as_bytes());
            let body = format!(
                "From: Alice <alice@example.com>\r\nTo: bob@example.com\r\nSubject: notes\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"XX-BOUNDARY\"\r\n\r\nThis is a multi-part message.\r\n--XX-BOUNDARY\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n{qp}\r\n--XX-BOUNDARY\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"data.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{b64}\r\n--XX-BOUNDARY--\r\n"
            );
            sample(body.into_bytes())
        }
        "zip" => sample(zip_of(&[("notes/readme.txt", text.as_bytes())])),
        "zip_nested" => {
            let inner = zip_of(&[("deep/notes.txt", text.as_bytes())]);
            let middle = zip_of(&[("inner.zip", &inner), ("other.txt", b"nothing here")]);
            sample(zip_of(&[("middle.zip", &middle)]))
        }
        "gzip" | "ce_gzip" => {
            let mut s = sample(gzip(text.as_bytes()));
            if format == "ce_gzip" {
                s.content_encoding = Some("gzip".into());
            }
            s
        }
        "ce_deflate" => {
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
            let _ = e.write_all(text.as_bytes());
            let mut s = sample(e.finish().expect("building a test fixture"));
            s.content_encoding = Some("deflate".into());
            s
        }
        "ce_br" => {
            let mut out = Vec::new();
            {
                let mut w = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
                let _ = w.write_all(text.as_bytes());
            }
            let mut s = sample(out);
            s.content_encoding = Some("br".into());
            s
        }
        "tar" => sample(tar_of(&[("dir/notes.txt", text.as_bytes()), ("empty.txt", b"")])),
        "tar_gz" => sample(gzip(&tar_of(&[("notes.txt", text.as_bytes())]))),
        "lz4" => sample(lz4(text.as_bytes())),
        "ebcdic" => sample(ebcdic(text)),
        "tar_lz4_legacy" => sample(lz4_legacy(&tar_of(&[("notes.txt", text.as_bytes())]))),
        "lzma" => sample(lzma(text.as_bytes())),
        "lzip" => sample(lzip(text.as_bytes())),
        "zlib" => sample(zlib(text.as_bytes())),
        "docx" => sample(docx(&lines)),
        "xlsx" => sample(xlsx(&lines)),
        "pptx" => sample(pptx(&lines)),
        "odt" | "ods" | "odp" => sample(odf(format, &lines)),
        "doc" => sample(legacy::doc(&lines)),
        "xls" => sample(legacy::xls(&lines)),
        "msg" => sample(ole::msg_with("body", text)),
        "pdf" => sample(pdf(&lines, false)),
        "pdf_cid" => sample(pdf_cid(&lines)),
        "rtf" => {
            let mut s =
                String::from("{\\rtf1\\ansi\\deff0{\\fonttbl{\\f0 Times;}}{\\*\\generator test;}\\f0\\fs24 ");
            for l in &lines {
                let e = l.replace('\\', "\\\\").replace('{', "\\{").replace('}', "\\}");
                s.push_str(&e);
                s.push_str("\\par\n");
            }
            s.push('}');
            sample(s.into_bytes())
        }
        "binary" => {
            let mut b = b"\x89PNG\r\n\x1a\n".to_vec();
            b.extend(noise(4000, 1));
            b.extend_from_slice(text.as_bytes());
            b.extend(noise(4000, 2));
            sample(b)
        }
        "ole_utf16" => {
            // A compound file whose stream no parser knows keeps its text as UTF-16LE
            // between binary data.
            let mut b = noise(504, 3);
            for l in &lines {
                b.extend(l.encode_utf16().flat_map(u16::to_le_bytes));
                b.extend([0x0D, 0x00]);
            }
            b.extend(noise(1000, 4));
            sample(ole::ole_of(&[("Contents", &b)]))
        }
        _ => sample(text.as_bytes().to_vec()),
    }
}

/// Deterministic high-bit noise (never ASCII, so never a match by accident).
pub fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            0x80 | (x >> 57) as u8
        })
        .collect()
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn json_string(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            // Exercise \u escapes on a character that occurs inside values.
            '-' => o.push_str("\\u002d"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn quoted_printable(s: &str) -> String {
    let mut out = String::new();
    let mut col = 0;
    for c in s.chars() {
        let enc = match c {
            '=' => "=3D".to_string(),
            '\r' | '\n' => {
                out.push(c);
                col = 0;
                continue;
            }
            c if c.is_ascii() => c.to_string(),
            c => c.to_string().bytes().map(|b| format!("={b:02X}")).collect(),
        };
        if col + enc.len() > 40 {
            out.push_str("=\r\n");
            col = 0;
        }
        col += enc.len();
        out.push_str(&enc);
    }
    out
}

fn base64_lines(data: &[u8]) -> String {
    use base64::Engine as _;
    let s = base64::engine::general_purpose::STANDARD.encode(data);
    s.as_bytes().chunks(76).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join("\r\n")
}

/// gzip of `data`.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = e.write_all(data);
    e.finish().expect("building a test fixture")
}

/// A deflated zip of `(name, data)` members.
pub fn zip_of(members: &[(&str, &[u8])]) -> Vec<u8> {
    zip_with(members, CompressionMethod::Deflated)
}

/// A stored (uncompressed) zip of `(name, data)` members.
pub fn zip_stored(members: &[(&str, &[u8])]) -> Vec<u8> {
    zip_with(members, CompressionMethod::Stored)
}

fn zip_with(members: &[(&str, &[u8])], method: CompressionMethod) -> Vec<u8> {
    let mut w = ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data) in members {
        let m = if *name == "mimetype" { CompressionMethod::Stored } else { method };
        let opts = SimpleFileOptions::default().compression_method(m);
        w.start_file(*name, opts).expect("zip fixture: member head");
        w.write_all(data).expect("zip fixture: member data");
    }
    w.finish().map(|c| c.into_inner()).expect("building a test fixture")
}

/// A ustar archive of `(name, data)` members.
pub fn tar_of(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, data) in members {
        let mut h = [0u8; 512];
        h[..name.len().min(100)].copy_from_slice(&name.as_bytes()[..name.len().min(100)]);
        h[100..107].copy_from_slice(b"0000644");
        h[108..115].copy_from_slice(b"0000000");
        h[116..123].copy_from_slice(b"0000000");
        h[124..135].copy_from_slice(format!("{:011o}", data.len()).as_bytes());
        h[136..147].copy_from_slice(b"00000000000");
        h[156] = b'0';
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        out.extend_from_slice(&h);
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

fn xml_doc(lines: &[&str]) -> String {
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<notes>\n");
    for l in lines {
        s.push_str(&format!("  <note kind=\"text\">{}</note>\n", xml_escape(l)));
    }
    s.push_str("</notes>\n");
    s
}

const CT_HEAD: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"><Default Extension=\"xml\" ContentType=\"application/xml\"/>";

/// Splits a line into two runs in the middle, as Word does after an edit.
fn runs(l: &str) -> String {
    let mid = l.char_indices().nth(l.chars().count() / 2).map(|(i, _)| i).unwrap_or(0);
    let (a, b) = l.split_at(mid);
    format!(
        "<w:r><w:t xml:space=\"preserve\">{}</w:t></w:r><w:proofErr w:type=\"spellStart\"/><w:r><w:rPr><w:b/></w:rPr><w:t xml:space=\"preserve\">{}</w:t></w:r>",
        xml_escape(a),
        xml_escape(b)
    )
}

/// A minimal Word document, one paragraph per line.
pub fn docx(lines: &[&str]) -> Vec<u8> {
    let mut doc = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?><w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"><w:body>");
    for l in lines {
        doc.push_str(&format!("<w:p w:rsidR=\"00A1B2C3\">{}</w:p>", runs(l)));
    }
    doc.push_str("</w:body></w:document>");
    let ct = format!("{CT_HEAD}<Override PartName=\"/word/document.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml\"/></Types>");
    zip_of(&[
        ("[Content_Types].xml", ct.as_bytes()),
        ("_rels/.rels", b"<?xml version=\"1.0\"?><Relationships/>"),
        ("word/document.xml", doc.as_bytes()),
    ])
}

/// A minimal workbook: half the lines as shared strings, half as inline strings.
pub fn xlsx(lines: &[&str]) -> Vec<u8> {
    let half = lines.len() / 2;
    let mut sst = String::from(
        "<?xml version=\"1.0\"?><sst xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\">",
    );
    for l in &lines[..half] {
        sst.push_str(&format!("<si><t>{}</t></si>", xml_escape(l)));
    }
    sst.push_str("</sst>");
    let mut sheet = String::from("<?xml version=\"1.0\"?><worksheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"><sheetData>");
    for i in 0..half {
        sheet.push_str(&format!("<row r=\"{}\"><c r=\"A{}\" t=\"s\"><v>{i}</v></c></row>", i + 1, i + 1));
    }
    for (i, l) in lines[half..].iter().enumerate() {
        let r = half + i + 1;
        sheet.push_str(&format!(
            "<row r=\"{r}\"><c r=\"B{r}\" t=\"inlineStr\"><is><t>{}</t></is></c></row>",
            xml_escape(l)
        ));
    }
    sheet.push_str("</sheetData></worksheet>");
    let ct = format!("{CT_HEAD}<Override PartName=\"/xl/workbook.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml\"/></Types>");
    zip_of(&[
        ("[Content_Types].xml", ct.as_bytes()),
        (
            "xl/workbook.xml",
            b"<?xml version=\"1.0\"?><workbook><sheets><sheet name=\"S\" sheetId=\"1\"/></sheets></workbook>",
        ),
        ("xl/sharedStrings.xml", sst.as_bytes()),
        ("xl/worksheets/sheet1.xml", sheet.as_bytes()),
    ])
}

/// A minimal presentation, one paragraph per line.
pub fn pptx(lines: &[&str]) -> Vec<u8> {
    let mut slide = String::from(
        "<?xml version=\"1.0\"?><p:sld xmlns:a=\"a\" xmlns:p=\"p\"><p:cSld><p:spTree><p:sp><p:txBody>",
    );
    for l in lines {
        slide.push_str(&format!("<a:p><a:r><a:rPr lang=\"en-US\"/><a:t>{}</a:t></a:r></a:p>", xml_escape(l)));
    }
    slide.push_str("</p:txBody></p:sp></p:spTree></p:cSld></p:sld>");
    let ct = format!("{CT_HEAD}</Types>");
    zip_of(&[
        ("[Content_Types].xml", ct.as_bytes()),
        ("ppt/presentation.xml", b"<?xml version=\"1.0\"?><p:presentation xmlns:p=\"p\"/>"),
        ("ppt/slides/slide1.xml", slide.as_bytes()),
    ])
}

/// A minimal OpenDocument file of kind `odt`, `ods` or `odp`.
pub fn odf(kind: &str, lines: &[&str]) -> Vec<u8> {
    let (mime, body) = match kind {
        "ods" => (
            "application/vnd.oasis.opendocument.spreadsheet",
            lines
                .iter()
                .map(|l| format!("<table:table-row><table:table-cell office:value-type=\"string\"><text:p>{}</text:p></table:table-cell></table:table-row>", xml_escape(l)))
                .collect::<String>(),
        ),
        "odp" => (
            "application/vnd.oasis.opendocument.presentation",
            lines
                .iter()
                .map(|l| format!("<draw:frame><draw:text-box><text:p>{}</text:p></draw:text-box></draw:frame>", xml_escape(l)))
                .collect::<String>(),
        ),
        _ => (
            "application/vnd.oasis.opendocument.text",
            lines
                .iter()
                .map(|l| format!("<text:p text:style-name=\"P1\"><text:span>{}</text:span></text:p>", xml_escape(l)))
                .collect::<String>(),
        ),
    };
    let content = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><office:document-content xmlns:office=\"o\" xmlns:text=\"t\" xmlns:table=\"tb\" xmlns:draw=\"d\"><office:body>{body}</office:body></office:document-content>");
    zip_of(&[
        ("mimetype", mime.as_bytes()),
        ("META-INF/manifest.xml", b"<?xml version=\"1.0\"?><manifest/>"),
        ("content.xml", content.as_bytes()),
    ])
}

/// A PDF with one Flate-compressed page showing `lines`; `broken_xref` writes a cross
/// reference table with wrong offsets.
pub fn pdf(lines: &[&str], broken_xref: bool) -> Vec<u8> {
    let mut content = String::from("BT /F1 10 Tf 12 TL 40 800 Td\n");
    for l in lines {
        let e = l.replace('\\', "\\\\").replace('(', "\\(").replace(')', "\\)");
        content.push_str(&format!("({e}) Tj T*\n"));
    }
    content.push_str("ET\n");
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = z.write_all(content.as_bytes());
    let stream = z.finish().expect("building a test fixture");
    let mut out = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::new();
    let objs: Vec<Vec<u8>> = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_vec(),
        {
            let mut o = format!("<< /Length {} /Filter /FlateDecode >>\nstream\n", stream.len()).into_bytes();
            o.extend_from_slice(&stream);
            o.extend_from_slice(b"\nendstream");
            o
        },
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_vec(),
    ];
    for (i, o) in objs.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(o);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objs.len() + 1).as_bytes());
    for off in offsets {
        let off = if broken_xref { off * 7 + 13 } else { off };
        out.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
    }
    let start = if broken_xref { xref + 99_999 } else { xref };
    out.extend_from_slice(
        format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{start}\n%%EOF\n", objs.len() + 1)
            .as_bytes(),
    );
    out
}

fn flate(data: &[u8]) -> Vec<u8> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = z.write_all(data);
    z.finish().expect("building a test fixture")
}

/// A PDF whose text is shown in a Type0 font as two-byte glyph codes (character + 0x100),
/// readable only through the font's ToUnicode CMap, which comes after the page content.
pub fn pdf_cid(lines: &[&str]) -> Vec<u8> {
    let mut content = String::from("BT /F1 10 Tf 12 TL 40 800 Td\n");
    for l in lines {
        let hex: String = l
            .chars()
            .filter(|c| (' '..='~').contains(c))
            .map(|c| format!("{:04X}", c as u32 + 0x100))
            .collect();
        content.push_str(&format!("<{hex}> Tj T*\n"));
    }
    content.push_str("ET\n");
    let cmap = "/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n1 begincodespacerange <0000> <FFFF> endcodespacerange\n1 beginbfrange <0120> <017E> <0020> endbfrange\nendcmap end end\n";
    let stream_obj = |body: &[u8]| {
        let z = flate(body);
        let mut o = format!("<< /Length {} /Filter /FlateDecode >>\nstream\n", z.len()).into_bytes();
        o.extend_from_slice(&z);
        o.extend_from_slice(b"\nendstream");
        o
    };
    let objs: Vec<Vec<u8>> = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_vec(),
        stream_obj(content.as_bytes()),
        b"<< /Type /Font /Subtype /Type0 /BaseFont /ABCDEF+Calibri /Encoding /Identity-H /DescendantFonts [7 0 R] /ToUnicode 6 0 R >>".to_vec(),
        stream_obj(cmap.as_bytes()),
        b"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /ABCDEF+Calibri >>".to_vec(),
    ];
    let mut out = b"%PDF-1.7\n".to_vec();
    for (i, o) in objs.iter().enumerate() {
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(o);
        out.extend_from_slice(b"\nendobj\n");
    }
    out.extend_from_slice(b"trailer\n<< /Root 1 0 R >>\n%%EOF\n");
    out
}

/// A zip whose single member inflates `inflated` bytes of zeros (ratio far above 100:1).
pub fn zip_bomb(inflated: usize) -> Vec<u8> {
    let zeros = vec![0u8; inflated];
    zip_of(&[("bomb.txt", &zeros)])
}

/// A zip nested `depth` times, with a card number at the bottom.
pub fn nested_zip(depth: usize) -> Vec<u8> {
    let mut z = zip_of(&[("bottom.txt", b"card 4111 1111 1111 1111".as_slice())]);
    for i in 0..depth {
        z = zip_of(&[(&format!("level{i}.zip"), &z)]);
    }
    z
}

/// A zip whose members carry the "encrypted" flag (general purpose bit 0) in both the
/// local and the central headers.
pub fn encrypted_zip() -> Vec<u8> {
    let mut z = zip_with(&[("secret.txt", b"nothing to see".as_slice())], CompressionMethod::Stored);
    let mut i = 0;
    while i + 10 < z.len() {
        if z[i..].starts_with(b"PK\x03\x04") {
            z[i + 6] |= 1;
        } else if z[i..].starts_with(b"PK\x01\x02") {
            z[i + 8] |= 1;
        }
        i += 1;
    }
    z
}

/// A docx cut in half.
pub fn truncated_docx() -> Vec<u8> {
    let lines = ["card 4111 1111 1111 1111"; 200];
    let mut d = docx(&lines);
    d.truncate(d.len() / 2);
    d
}

/// Deterministic English-like prose of `len` bytes: words, punctuation, some ordinary
/// numbers (years, pages, prices), and one sensitive value every `secret_every` bytes
/// (never, when 0). The benchmark text.
pub fn prose(len: usize, seed: u64, secret_every: usize) -> Vec<u8> {
    const WORDS: &[&str] = &[
        "the",
        "of",
        "and",
        "to",
        "in",
        "a",
        "is",
        "that",
        "for",
        "it",
        "as",
        "was",
        "with",
        "be",
        "by",
        "on",
        "not",
        "he",
        "this",
        "are",
        "or",
        "his",
        "from",
        "at",
        "which",
        "but",
        "have",
        "an",
        "had",
        "they",
        "you",
        "were",
        "their",
        "one",
        "all",
        "we",
        "can",
        "her",
        "has",
        "there",
        "been",
        "if",
        "more",
        "when",
        "will",
        "would",
        "who",
        "so",
        "report",
        "quarterly",
        "revenue",
        "customer",
        "account",
        "meeting",
        "project",
        "schedule",
        "review",
        "contract",
        "shipment",
        "invoice",
        "department",
        "approval",
        "development",
        "infrastructure",
        "performance",
        "security",
        "network",
        "analysis",
    ];
    const SECRETS: &[&str] =
        &["4111 1111 1111 1111", "123-45-6789", "DE89 3704 0044 0532 0130 00", "AKIAIOSFODNN7EXAMPLE"];
    let mut x = seed ^ 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut out = Vec::with_capacity(len + 64);
    let mut next_secret = secret_every;
    let mut k = 0;
    while out.len() < len {
        let r = next();
        if secret_every > 0 && out.len() >= next_secret {
            out.extend_from_slice(SECRETS[k % SECRETS.len()].as_bytes());
            out.push(b' ');
            k += 1;
            next_secret += secret_every;
            continue;
        }
        match r % 97 {
            0 => out.extend_from_slice(format!("{} ", 1990 + r % 40).as_bytes()),
            1 => out.extend_from_slice(format!("page {} ", r % 400).as_bytes()),
            2 => out.extend_from_slice(format!("${}.{:02} ", r % 10_000, r % 100).as_bytes()),
            3..=8 => out.extend_from_slice(b". "),
            9..=11 => out.extend_from_slice(b", "),
            12 => out.push(b'\n'),
            _ => {
                out.extend_from_slice(WORDS[(r >> 8) as usize % WORDS.len()].as_bytes());
                out.push(b' ');
            }
        }
    }
    out.truncate(len);
    out
}
