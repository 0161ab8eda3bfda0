//! PDF limits: bombs, cycles, deep nesting and encryption end with the right verdict, never
//! with a hang, a crash or unbounded memory.

use std::sync::Arc;

use inspect::testkit::pdfkit::{cmap_bomb, encrypted, form_fan_out, lzw_bomb, page_pdf_raw};
use inspect::{CouldNotScan, Engine, LimitKind, Limits, Policy, ScanContext, Verdict};

fn scan_with(limits: Limits, data: &[u8]) -> Verdict {
    Engine::new(Arc::new(Policy::builtin()), limits).scan_bytes(ScanContext::default(), data)
}

fn scan(data: &[u8]) -> Verdict {
    scan_with(Limits::default(), data)
}

fn limit_of(v: &Verdict) -> Option<LimitKind> {
    match &v.could_not_scan {
        Some(CouldNotScan::Limit { limit, .. }) => Some(*limit),
        _ => None,
    }
}

#[test]
fn fonts_and_cmap_entries_are_limited() {
    let bomb = cmap_bomb(300);
    let v = scan_with(Limits { max_pdf_fonts: 100, ..Limits::default() }, &bomb);
    assert_eq!(limit_of(&v), Some(LimitKind::MaxPdfFonts), "{v:?}");
    assert!(v.is_block());
    let v = scan_with(Limits { max_cmap_entries: 100, ..Limits::default() }, &bomb);
    assert_eq!(limit_of(&v), Some(LimitKind::MaxCmapEntries), "{v:?}");
    let v = scan(&bomb);
    assert!(v.could_not_scan.is_none() && !v.is_block(), "{v:?}");
}

#[test]
fn lzw_bomb_hits_the_ratio_limit() {
    let v = scan(&lzw_bomb(8 << 20));
    assert_eq!(limit_of(&v), Some(LimitKind::MaxRatio), "{v:?}");
    let limits = Limits { max_ratio: u64::MAX, max_decompressed_bytes: 2 << 20, ..Limits::default() };
    let v = scan_with(limits, &lzw_bomb(8 << 20));
    assert_eq!(limit_of(&v), Some(LimitKind::MaxDecompressedBytes), "{v:?}");
}

#[test]
fn flate_bomb_hits_the_ratio_limit() {
    let zeros = vec![b' '; 64 << 20];
    let v = scan(&page_pdf_raw(&inspect::testkit::pdfkit::flate(&zeros), "/Filter /FlateDecode"));
    assert_eq!(limit_of(&v), Some(LimitKind::MaxRatio), "{v:?}");
}

#[test]
fn form_cycles_and_fan_out_end() {
    let v = scan(&form_fan_out(40));
    assert!(v.could_not_scan.is_none(), "{v:?}");
}

#[test]
fn deep_nesting_and_broken_syntax_end() {
    let mut pdf = b"%PDF-1.7\n1 0 obj\n".to_vec();
    pdf.extend(std::iter::repeat_n(b'[', 200_000));
    pdf.extend_from_slice(b"\nendobj\n2 0 obj << /A << /B ");
    pdf.extend(std::iter::repeat_n(b"<< ".as_slice(), 100_000).flatten());
    pdf.extend_from_slice(b"\nendobj\n");
    // Thousands of objects whose strings never close.
    for i in 3..20_000 {
        pdf.extend_from_slice(format!("{i} 0 obj << /T (open\nendobj\n").as_bytes());
    }
    // Streams without `endstream`, trailers that never close, keywords everywhere.
    for i in 20_000..30_000 {
        pdf.extend_from_slice(
            format!("{i} 0 obj << /Length 999999 >> stream\nxx xref trailer << /A (\n").as_bytes(),
        );
    }
    let content = format!("{}{}", "q ".repeat(100_000), "[ ".repeat(100_000));
    pdf.extend_from_slice(&page_pdf_raw(content.as_bytes(), "")[9..]);
    pdf.extend_from_slice(b"trailer << /Root 1 0 R /Size 3 >>\n4111 1111 1111 1111\n");
    let v = scan(&pdf);
    assert!(v.could_not_scan.is_none(), "{v:?}");
    assert_eq!(v.counts.get("credit_card"), Some(&1), "{v:?}");
}

#[test]
fn page_tree_cycles_end() {
    let pdf = b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [2 0 R 3 0 R 2 0 R] >> endobj\n3 0 obj << /Type /Pages /Kids [2 0 R] /Parent 3 0 R >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";
    let v = scan(pdf);
    assert!(v.could_not_scan.is_none(), "{v:?}");
}

#[test]
fn encrypted_documents_cannot_be_scanned_but_their_clear_parts_are() {
    let v = scan(&encrypted(&["quarterly numbers"]));
    assert!(matches!(v.could_not_scan, Some(CouldNotScan::Encrypted { .. })), "{v:?}");
    assert!(v.is_block());
    let v = scan(&encrypted(&["card 4111 1111 1111 1111"]));
    assert!(matches!(v.could_not_scan, Some(CouldNotScan::Encrypted { .. })), "{v:?}");
    assert_eq!(v.counts.get("credit_card"), Some(&1), "{v:?}");
    // A trailer too long to read must not hide its `/Encrypt`.
    let mut pdf = encrypted(&["quarterly numbers"]);
    let at = pdf.windows(9).rposition(|w| w == b"/Encrypt ").unwrap();
    pdf.splice(at..at, format!("/Junk ({}) ", "x".repeat(100_000)).into_bytes());
    let v = scan(&pdf);
    assert!(matches!(v.could_not_scan, Some(CouldNotScan::Encrypted { .. })), "{v:?}");
}

#[test]
fn garbage_after_a_pdf_header_never_panics() {
    for seed in 0..200u64 {
        let mut d = b"%PDF-1.4\n".to_vec();
        let noise = inspect::testkit::noise(2000, seed);
        // Keywords sprinkled into the noise so the parsers get somewhere.
        for (k, chunk) in noise.chunks(97).enumerate() {
            d.extend_from_slice(chunk);
            let word: &[u8] = match (k + seed as usize) % 9 {
                0 => b" 1 0 obj << /Length 40 /Filter /LZWDecode >> stream\n",
                1 => b"endstream endobj ",
                2 => b" BT /F1 1 Tf (x) Tj ET ",
                3 => b" /ToUnicode 1 0 R ",
                4 => b" beginbfrange <00> <FF> [<0041> ",
                5 => b" xref\n0 3\n",
                6 => b" /Filter [/AHx /RL /Fl] /DecodeParms << /Predictor 15 /Columns 3 >> ",
                7 => b" trailer << /Root 1 0 R >> ",
                _ => b" /Type /ObjStm /N 5 /First 2 ",
            };
            d.extend_from_slice(word);
        }
        let _ = scan(&d);
    }
}

#[test]
fn inline_fonts_read_again_on_every_page_are_not_new_fonts() {
    use inspect::testkit::pdfkit::PdfWriter;
    let mut w = PdfWriter::new();
    w.add("<< /Type /Catalog /Pages 2 0 R >>");
    let pages = w.reserve();
    let mut kids = Vec::new();
    for i in 0..50 {
        let c = w.add_stream("", format!("BT /F1 10 Tf 40 800 Td (page {i}) Tj ET").as_bytes());
        kids.push(w.add(format!(
            "<< /Type /Page /Parent {pages} 0 R /Contents {c} 0 R /Resources << /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> >> >>"
        )));
    }
    let kids: Vec<String> = kids.iter().map(|k| format!("{k} 0 R")).collect();
    w.set(pages, format!("<< /Type /Pages /Kids [{}] /Count 50 >>", kids.join(" ")));
    let v = scan_with(Limits { max_pdf_fonts: 10, ..Limits::default() }, &w.finish("/Root 1 0 R"));
    assert!(v.could_not_scan.is_none(), "{v:?}");
}
