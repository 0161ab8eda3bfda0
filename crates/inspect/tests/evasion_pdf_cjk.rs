//! PDF text in a composite font whose encoding is one of the predefined CJK CMaps, with
//! no ToUnicode map and the font not embedded, as Japanese, Chinese and Korean producers
//! write it: the codes are those of the CMap's code page (Shift-JIS, EUC, GBK, Big5, UHC) or
//! Unicode (UTF-8, UTF-16), and Acrobat extracts them. A value so drawn, in ASCII or in
//! full-width digits, blocks; a decoy so drawn does not.

mod support;

use inspect::testkit::pdfkit::PdfWriter;
use support::{allows, blocks};

/// A one-page PDF drawing `shown` (the bytes of one string, written as hex) in a Type0
/// font with `/Encoding /cmap` and a CID font of `ordering`.
fn page(cmap: &str, ordering: &str, shown: &[u8]) -> Vec<u8> {
    let mut w = PdfWriter::new();
    let catalog = w.reserve();
    let pages = w.reserve();
    let hex: String = shown.iter().map(|b| format!("{b:02X}")).collect();
    let content = w.add_stream("", format!("BT /F2 12 Tf 72 700 Td <{hex}> Tj ET").as_bytes());
    let descriptor = w.add(
        "<< /Type /FontDescriptor /FontName /CJK /Flags 4 /FontBBox [0 0 1000 1000] /ItalicAngle 0 \
         /Ascent 880 /Descent -120 /CapHeight 700 /StemV 80 >>",
    );
    let cid = w.add(format!(
        "<< /Type /Font /Subtype /CIDFontType0 /BaseFont /CJK /CIDSystemInfo << /Registry (Adobe) \
         /Ordering ({ordering}) /Supplement 2 >> /FontDescriptor {descriptor} 0 R /DW 1000 >>"
    ));
    let font = w.add(format!(
        "<< /Type /Font /Subtype /Type0 /BaseFont /CJK /Encoding /{cmap} /DescendantFonts [{cid} 0 R] >>"
    ));
    let page = w.add(format!(
        "<< /Type /Page /Parent {pages} 0 R /MediaBox [0 0 612 792] /Contents {content} 0 R \
         /Resources << /Font << /F2 {font} 0 R >> >> >>"
    ));
    w.set(catalog, format!("<< /Type /Catalog /Pages {pages} 0 R >>"));
    w.set(pages, format!("<< /Type /Pages /Kids [{page} 0 R] /Count 1 >>"));
    w.finish(&format!("/Root {catalog} 0 R"))
}

fn fullwidth(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '0'..='9' => char::from_u32(0xFF10 + (c as u32 - '0' as u32)).unwrap_or(c),
            ' ' => '\u{3000}',
            _ => c,
        })
        .collect()
}

#[test]
fn predefined_cjk_cmaps_without_to_unicode() {
    let cases: [(&str, &str, &'static encoding_rs::Encoding); 7] = [
        ("90ms-RKSJ-H", "Japan1", encoding_rs::SHIFT_JIS),
        ("90msp-RKSJ-V", "Japan1", encoding_rs::SHIFT_JIS),
        ("EUC-H", "Japan1", encoding_rs::EUC_JP),
        ("GBK-EUC-H", "GB1", encoding_rs::GBK),
        ("GB-EUC-H", "GB1", encoding_rs::GBK),
        ("ETen-B5-H", "CNS1", encoding_rs::BIG5),
        ("KSCms-UHC-H", "Korea1", encoding_rs::EUC_KR),
    ];
    for (cmap, ordering, code_page) in cases {
        for (value, decoy) in [("4111 1111 1111 1111", "4111 1111 1111 1112")] {
            for text in [format!("Card {value}"), format!("カード {}", fullwidth(value))] {
                let (bytes, _, bad) = code_page.encode(&text);
                if bad {
                    continue;
                }
                blocks(&page(cmap, ordering, &bytes), "credit_card");
            }
            let decoy = format!("Card {}", fullwidth(decoy));
            let (bytes, _, _) = code_page.encode(&decoy);
            allows(&page(cmap, ordering, &bytes));
        }
    }
    for (cmap, bytes) in [
        ("UniJIS-UTF8-H", fullwidth("4111 1111 1111 1111").into_bytes()),
        ("UniGB-UTF8-H", b"Card 4111 1111 1111 1111".to_vec()),
        (
            "UniJIS-UCS2-H",
            fullwidth("4111 1111 1111 1111").encode_utf16().flat_map(u16::to_be_bytes).collect(),
        ),
    ] {
        blocks(&page(cmap, "Japan1", &bytes), "credit_card");
    }
}
