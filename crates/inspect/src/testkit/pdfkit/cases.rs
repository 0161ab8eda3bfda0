//! The PDFs of [`PDF_CASES`](super::PDF_CASES): one builder per construct, plus bombs for the
//! limits.

use std::fmt::Write as _;

use super::fonts::{detached_page, differences, form_xobject, type0};

use super::{
    ascii85, ascii_hex, flate, flate_png_up, literal, lzw, run_length, stream_object, utf16_hex, PdfWriter,
};

/// Courier-like advance of every character, in thousandths of the font size; the simple
/// fonts of these fixtures declare it in `/Widths`.
pub const ADVANCE: f64 = 600.0;
/// Font size of the fixtures' text.
const SIZE: f64 = 10.0;
/// The simple font the fixtures draw with: declared widths, standard encoding.
pub(super) const COURIER: &str = "<< /Type /Font /Subtype /Type1 /BaseFont /Courier /FirstChar 32 /LastChar 126 /Widths [ 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 ] >>";

/// The constructs [`pdf_case`] builds.
pub const PDF_CASES: &[&str] = &[
    "flate",
    "lzw",
    "lzw_early0",
    "runlength",
    "chain_a85_flate",
    "chain_ahx_rl_lzw",
    "predictor",
    "objstm",
    "type0",
    "differences",
    "csv_header",
    "prefix",
    "after_eof",
    "info",
    "annotation",
    "form_field",
    "bookmark",
    "xmp",
    "image_label",
    "dct_label",
    "unknown_filter",
    "split_ops",
    "kerning_spaces",
    "letter_spaced",
    "reordered",
    "rotated",
    "form_xobject",
    "incremental",
    "hex_text",
    "actual_text",
    "inline_image",
    "comment",
    "orphan",
    "embedded",
    "stream_tail",
    "contents_array",
    "detached_page",
];

/// A PDF that carries `lines` only through the construct `case` (one of [`PDF_CASES`]).
pub fn pdf_case(case: &str, lines: &[&str]) -> Vec<u8> {
    let plain = simple_content(lines);
    match case {
        "flate" => page_pdf(&flate(&plain), "/Filter /FlateDecode"),
        "lzw" => page_pdf(&lzw(&plain, true), "/Filter /LZWDecode"),
        "lzw_early0" => page_pdf(&lzw(&plain, false), "/Filter /LZWDecode /DecodeParms << /EarlyChange 0 >>"),
        "runlength" => page_pdf(&run_length(&plain), "/Filter /RunLengthDecode"),
        "chain_a85_flate" => page_pdf(&ascii85(&flate(&plain)), "/Filter [/ASCII85Decode /FlateDecode]"),
        "chain_ahx_rl_lzw" => page_pdf(
            &ascii_hex(&run_length(&lzw(&plain, true))),
            "/Filter [/AHx /RL /LZW] /DecodeParms [null null << /EarlyChange 1 >>]",
        ),
        "predictor" => page_pdf(
            &flate_png_up(&plain, 16),
            "/Filter /FlateDecode /DecodeParms << /Predictor 12 /Columns 16 >>",
        ),
        "objstm" => objstm(lines),
        "type0" => type0(lines),
        "differences" => differences(lines),
        "csv_header" => {
            let mut s = String::from("%PDF-1.4\nid,text\n");
            for (i, l) in lines.iter().enumerate() {
                let _ = writeln!(s, "{i},\"{}\"", l.replace('"', "\"\""));
            }
            s.into_bytes()
        }
        "prefix" => {
            let mut w = clean_page();
            w.0.prefix = lines.iter().map(|l| format!("{l}\n")).collect::<String>().into_bytes();
            w.0.finish(&w.1)
        }
        "after_eof" => {
            let (w, trailer) = clean_page();
            let mut out = w.finish(&trailer);
            for l in lines {
                out.extend_from_slice(l.as_bytes());
                out.push(b'\n');
            }
            out
        }
        "info" => info(lines),
        "annotation" => {
            let (mut w, trailer) = clean_page();
            let annots: Vec<String> = lines
                .iter()
                .map(|l| {
                    let n = w.add(format!(
                        "<< /Type /Annot /Subtype /Text /Rect [100 100 120 120] /Contents {} >>",
                        literal(l)
                    ));
                    format!("{n} 0 R")
                })
                .collect();
            w.set(3, format!("{} /Annots [{}] >>", PAGE3.trim_end_matches(">>"), annots.join(" ")));
            w.finish(&trailer)
        }
        "form_field" => {
            let (mut w, _) = clean_page();
            let fields: Vec<String> = lines
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    let v = l.bytes().fold(String::from("<"), |mut s, b| {
                        let _ = write!(s, "{b:02X}");
                        s
                    }) + ">";
                    let n = w.add(format!("<< /FT /Tx /T (field{i}) /V {v} >>"));
                    format!("{n} 0 R")
                })
                .collect();
            let form = w.add(format!("<< /Fields [{}] >>", fields.join(" ")));
            w.set(1, format!("<< /Type /Catalog /Pages 2 0 R /AcroForm {form} 0 R >>"));
            w.finish("/Root 1 0 R")
        }
        "bookmark" => {
            let (mut w, _) = clean_page();
            let outlines = w.reserve();
            let items: Vec<u32> = lines
                .iter()
                .map(|l| w.add(format!("<< /Title {} /Parent {outlines} 0 R >>", utf16_hex(l))))
                .collect();
            w.set(
                outlines,
                format!(
                    "<< /Type /Outlines /First {} 0 R /Last {} 0 R /Count {} >>",
                    items[0],
                    items[items.len() - 1],
                    items.len()
                ),
            );
            w.set(1, format!("<< /Type /Catalog /Pages 2 0 R /Outlines {outlines} 0 R >>"));
            w.finish("/Root 1 0 R")
        }
        "xmp" => {
            let (mut w, _) = clean_page();
            let mut x = String::from("<?xpacket begin=\"\u{feff}\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>\n<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\"><rdf:Description xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><dc:description><rdf:Alt>");
            for l in lines {
                let e = l.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
                let _ = write!(x, "<rdf:li xml:lang=\"x-default\">{e}</rdf:li>");
            }
            x.push_str(
                "</rdf:Alt></dc:description></rdf:Description></rdf:RDF></x:xmpmeta>\n<?xpacket end=\"w\"?>",
            );
            let meta =
                w.add_stream("/Type /Metadata /Subtype /XML /Filter /FlateDecode", &flate(x.as_bytes()));
            w.set(1, format!("<< /Type /Catalog /Pages 2 0 R /Metadata {meta} 0 R >>"));
            w.finish("/Root 1 0 R")
        }
        "image_label" => {
            let (mut w, trailer) = clean_page();
            w.add_stream(
                "/Type /XObject /Subtype /Image /Width 8 /Height 8 /BitsPerComponent 8 /ColorSpace /DeviceGray /Filter /FlateDecode",
                &flate(&text_block(lines)),
            );
            w.finish(&trailer)
        }
        "dct_label" => {
            let (mut w, trailer) = clean_page();
            w.add_stream(
                "/Type /XObject /Subtype /Image /Width 8 /Height 8 /Filter [/LZWDecode /DCTDecode]",
                &lzw(&text_block(lines), true),
            );
            w.finish(&trailer)
        }
        "unknown_filter" => page_pdf(&plain, "/Filter /NoSuchDecode"),
        "split_ops" => page_pdf(&flate(&split_content(lines)), "/Filter /FlateDecode"),
        "kerning_spaces" => page_pdf(&flate(&kerning_content(lines)), "/Filter /FlateDecode"),
        "letter_spaced" => page_pdf(&flate(&letter_spaced_content(lines)), "/Filter /FlateDecode"),
        "reordered" => page_pdf(&flate(&reordered_content(lines, false)), "/Filter /FlateDecode"),
        "rotated" => page_pdf(&flate(&reordered_content(lines, true)), "/Filter /FlateDecode"),
        "form_xobject" => form_xobject(lines),
        "incremental" => incremental(lines),
        "hex_text" => {
            let mut c = String::from("BT /F1 10 Tf 12 TL 40 800 Td\n");
            for l in lines {
                let hex: String = l.bytes().map(|b| format!("{b:02x}")).collect();
                let _ = writeln!(c, "<{hex}> Tj T*");
            }
            c.push_str("ET\n");
            page_pdf(&flate(c.as_bytes()), "/Filter /FlateDecode")
        }
        "actual_text" => {
            let mut c = String::from("BT /F1 10 Tf 12 TL 40 800 Td\n");
            for l in lines {
                let _ = writeln!(c, "/Span << /ActualText {} >> BDC (x) Tj EMC T*", utf16_hex(l));
            }
            c.push_str("ET\n");
            page_pdf(&flate(c.as_bytes()), "/Filter /FlateDecode")
        }
        "inline_image" => {
            let data = text_block(lines);
            let mut c =
                format!("q 100 0 0 10 40 700 cm BI /W {} /H 1 /BPC 8 /CS /G ID\n", data.len()).into_bytes();
            c.extend_from_slice(&data);
            c.extend_from_slice(b"\nEI Q\n");
            page_pdf(&flate(&c), "/Filter /FlateDecode")
        }
        "comment" => {
            let mut c = String::from("q\n");
            for l in lines {
                let _ = writeln!(c, "% {l}");
            }
            c.push_str("Q\n");
            page_pdf(&flate(c.as_bytes()), "/Filter /FlateDecode")
        }
        "orphan" => {
            let (mut w, trailer) = clean_page();
            w.add_stream("/Filter /LZWDecode", &lzw(&plain, true));
            w.finish(&trailer)
        }
        "embedded" => {
            let (mut w, _) = clean_page();
            let file = w.add_stream("/Type /EmbeddedFile /Filter /LZWDecode", &lzw(&text_block(lines), true));
            let spec = w.add(format!("<< /Type /Filespec /F (notes.txt) /EF << /F {file} 0 R >> >>"));
            let names = w.add(format!("<< /Names [(notes.txt) {spec} 0 R] >>"));
            w.set(1, format!("<< /Type /Catalog /Pages 2 0 R /Names << /EmbeddedFiles {names} 0 R >> >>"));
            w.finish("/Root 1 0 R")
        }
        "stream_tail" => {
            // Bytes after the end of the compressed data, inside the stream: no reader shows
            // them, but they are in the file.
            let mut body = flate(b"BT /F1 10 Tf 40 800 Td (Quarterly report) Tj ET\n");
            body.extend_from_slice(&text_block(lines));
            page_pdf(&body, "/Filter /FlateDecode")
        }
        "contents_array" => {
            // Every line's `Tj` split over two content streams, and the text object over all
            // of them.
            let (mut w, trailer) = clean_page();
            let mut refs = Vec::new();
            for (k, l) in lines.iter().enumerate() {
                let mid = l.char_indices().nth(l.chars().count() / 2).map_or(l.len(), |(p, _)| p);
                let (x, y) = l.split_at(mid);
                let head = if k == 0 { "BT /F1 10 Tf 12 TL 40 800 Td\n" } else { "" };
                let tail = if k + 1 == lines.len() { "ET\n" } else { "" };
                let a = w.add_stream(
                    "/Filter /FlateDecode",
                    &flate(format!("{head}{} Tj", literal(x)).as_bytes()),
                );
                let b = w.add_stream("", format!("{} Tj T*\n{tail}", literal(y)).as_bytes());
                refs.push(format!("{a} 0 R {b} 0 R"));
            }
            w.set(3, PAGE3.replace("/Contents 4 0 R", &format!("/Contents [{}]", refs.join(" "))));
            w.finish(&trailer)
        }
        "detached_page" => detached_page(lines),
        _ => plain,
    }
}

/// Lines as plain text, for streams that are not content streams.
fn text_block(lines: &[&str]) -> Vec<u8> {
    lines.iter().map(|l| format!("{l}\n")).collect::<String>().into_bytes()
}

/// A content stream showing one line per `Tj`, in the `/F1` font.
fn simple_content(lines: &[&str]) -> Vec<u8> {
    let mut c = String::from("BT /F1 10 Tf 12 TL 40 800 Td\n");
    for l in lines {
        let _ = writeln!(c, "{} Tj T*", literal(l));
    }
    c.push_str("ET\n");
    c.into_bytes()
}

/// Every line cut into pieces of 1 to 5 characters, each shown by its own operator: `Tj`
/// after `Tj`, a `TJ` array with small kerning, or a `Td` to where the last piece ended.
fn split_content(lines: &[&str]) -> Vec<u8> {
    let mut c = String::from("BT /F1 10 Tf 40 800 Td\n");
    for l in lines {
        let chars: Vec<char> = l.chars().collect();
        // Advance since the last `Td`, and the sum of this line's `Td` moves.
        let (mut since_td, mut moved) = (0.0, 0.0);
        let mut i = 0;
        let mut k = 0;
        while i < chars.len() {
            let n = (k % 5 + 1).min(chars.len() - i);
            let piece: String = chars[i..i + n].iter().collect();
            match k % 3 {
                0 => {
                    let _ = write!(c, "{} Tj ", literal(&piece));
                    since_td += advance(n);
                }
                1 => {
                    let mid = piece.char_indices().nth(n / 2).map_or(piece.len(), |(p, _)| p);
                    let (a, b) = piece.split_at(mid);
                    let _ = write!(c, "[{} -12 {}] TJ ", literal(a), literal(b));
                    since_td += advance(n) + 0.12;
                }
                _ => {
                    // `Td` moves from the start of the line, not from where the text ended.
                    let _ = write!(c, "{since_td:.2} 0 Td {} Tj ", literal(&piece));
                    moved += since_td;
                    since_td = advance(n);
                }
            }
            i += n;
            k += 1;
        }
        let _ = writeln!(c, "{:.2} -12 Td", -moved);
    }
    c.push_str("ET\n");
    c.into_bytes()
}

/// Width in text space of `n` fixture characters.
fn advance(n: usize) -> f64 {
    n as f64 * ADVANCE / 1000.0 * SIZE
}

/// Words separated only by `TJ` offsets, no space characters; lines by `'`.
fn kerning_content(lines: &[&str]) -> Vec<u8> {
    let mut c = String::from("BT /F1 10 Tf 12 TL 40 800 Td\n");
    for l in lines {
        let words: Vec<String> = l.split(' ').map(literal).collect();
        let _ = writeln!(c, "() ' [{}] TJ", words.join(" -600 "));
    }
    c.push_str("ET\n");
    c.into_bytes()
}

/// Every glyph its own string in a `TJ` array, 0.25 of the font size apart (letter-spacing,
/// as print drivers and designers' tracking write it); words 0.6 further apart, with no
/// space glyph.
fn letter_spaced_content(lines: &[&str]) -> Vec<u8> {
    let mut c = String::from("BT /F1 10 Tf 12 TL 40 800 Td\n");
    for l in lines {
        let words: Vec<String> = l
            .split(' ')
            .map(|w| w.chars().map(|ch| literal(&ch.to_string())).collect::<Vec<_>>().join(" -250 "))
            .collect();
        let _ = writeln!(c, "() ' [{}] TJ", words.join(" -850 "));
    }
    c.push_str("ET\n");
    c.into_bytes()
}

/// Every line cut into pieces drawn last piece first, each at its absolute place with `Tm`;
/// `rotated` draws the page turned by 90 degrees (text running up the page).
fn reordered_content(lines: &[&str], rotated: bool) -> Vec<u8> {
    let mut c = String::from("BT /F1 10 Tf\n");
    for (row, l) in lines.iter().enumerate() {
        let chars: Vec<char> = l.chars().collect();
        let mut pieces = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let n = (pieces.len() % 4 + 2).min(chars.len() - i);
            pieces.push((i, chars[i..i + n].iter().collect::<String>()));
            i += n;
        }
        for (start, piece) in pieces.iter().rev() {
            let along = 40.0 + advance(*start);
            let across = 800.0 - 12.0 * row as f64;
            let m = if rotated {
                format!("0 1 -1 0 {:.2} {along:.2}", 600.0 - across)
            } else {
                format!("1 0 0 1 {along:.2} {across:.2}")
            };
            let _ = writeln!(c, "{m} Tm {} Tj", literal(piece));
        }
    }
    c.push_str("ET\n");
    c.into_bytes()
}

pub(super) const PAGE3: &str = "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>";

/// Catalog, pages, one page whose content stream (object 4) has `filter` entries, font 5.
pub(super) fn page_pdf(content: &[u8], filter: &str) -> Vec<u8> {
    let mut w = PdfWriter::new();
    w.add("<< /Type /Catalog /Pages 2 0 R >>");
    w.add("<< /Type /Pages /Kids [3 0 R] /Count 1 >>");
    w.add(PAGE3);
    w.add_stream(filter, content);
    w.add(COURIER);
    w.finish("/Root 1 0 R")
}

/// [`page_pdf`], for tests of their own: a page whose content stream is `content` with
/// the dictionary entries `filter`.
pub fn page_pdf_raw(content: &[u8], filter: &str) -> Vec<u8> {
    page_pdf(content, filter)
}

/// A one-page document with only harmless text, to put other constructs in.
pub(super) fn clean_page() -> (PdfWriter, String) {
    let mut w = PdfWriter::new();
    w.add("<< /Type /Catalog /Pages 2 0 R >>");
    w.add("<< /Type /Pages /Kids [3 0 R] /Count 1 >>");
    w.add(PAGE3);
    w.add_stream("/Filter /FlateDecode", &flate(&simple_content(&["Quarterly report draft."])));
    w.add(COURIER);
    (w, "/Root 1 0 R".to_string())
}

fn info(lines: &[&str]) -> Vec<u8> {
    let (mut w, _) = clean_page();
    let mut d = String::from("<< /Producer (dlpgate testkit) ");
    for (i, l) in lines.iter().enumerate() {
        let key = ["/Title", "/Author", "/Subject", "/Keywords"][i % 4];
        let value = match i % 3 {
            // Digits written as octal escapes where possible, the rest literal.
            0 => {
                let mut s = String::from("(");
                for ch in l.chars() {
                    match ch {
                        '0'..='9' => {
                            let _ = write!(s, "\\{:03o}", ch as u32);
                        }
                        '(' | ')' | '\\' => {
                            s.push('\\');
                            s.push(ch);
                        }
                        c => s.push(c),
                    }
                }
                s.push(')');
                s
            }
            1 => utf16_hex(l),
            _ => literal(l),
        };
        let _ = write!(d, "{key}{i} {value} ");
    }
    d.push_str(">>");
    let info = w.add(d);
    w.finish(&format!("/Root 1 0 R /Info {info} 0 R"))
}

/// The page's font and an annotation holding the text live in a compressed object stream.
fn objstm(lines: &[&str]) -> Vec<u8> {
    let mut w = PdfWriter::new();
    w.add("<< /Type /Catalog /Pages 2 0 R >>");
    w.add("<< /Type /Pages /Kids [3 0 R] /Count 1 >>");
    w.add("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> /Annots [6 0 R] >>");
    w.add_stream("/Filter /FlateDecode", &flate(&simple_content(&["Quarterly report draft."])));
    let joined = lines.join("\n");
    let inner =
        [COURIER.to_string(), format!("<< /Type /Annot /Subtype /Text /Contents {} >>", literal(&joined))];
    let mut header = String::new();
    let mut body = String::new();
    for (k, o) in inner.iter().enumerate() {
        let _ = write!(header, "{} {} ", 5 + k, body.len());
        body.push_str(o);
        body.push('\n');
    }
    let data = format!("{header}\n{body}");
    let first = header.len() + 1;
    // Objects 5 and 6 live in the stream; their direct slots stay `null`.
    w.reserve();
    w.reserve();
    w.add_stream(&format!("/Type /ObjStm /N 2 /First {first} /Filter /FlateDecode"), &flate(data.as_bytes()));
    w.finish("/Root 1 0 R")
}

/// A clean document, then an incremental update whose new content stream shows the text.
fn incremental(lines: &[&str]) -> Vec<u8> {
    let (w, trailer) = clean_page();
    let mut out = w.finish(&trailer);
    let prev = out.windows(9).rposition(|x| x == b"startxref").unwrap_or(0);
    let prev_xref: String =
        out[prev + 10..].iter().take_while(|b| b.is_ascii_digit()).map(|&b| b as char).collect();
    let at = out.len();
    let body = flate(&simple_content(lines));
    out.extend_from_slice(b"4 0 obj\n");
    out.extend_from_slice(&stream_object("/Filter /FlateDecode", &body));
    out.extend_from_slice(b"\nendobj\n");
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n4 1\n{at:010} 00000 n \ntrailer\n<< /Size 6 /Root 1 0 R /Prev {prev_xref} >>\nstartxref\n{xref}\n%%EOF\n")
            .as_bytes(),
    );
    out
}
