//! Fixtures whose text is readable only through fonts: Type0 with a ToUnicode map,
//! `/Differences` by glyph name, form XObjects and detached pages with their own fonts.

use std::fmt::Write as _;

use super::cases::PAGE3;
use super::{flate, lzw, run_length, PdfWriter};
use crate::extract::ASCII_GLYPH_NAMES;

/// Text in a Type0 font: ASCII letters as one-byte codes, digits as two-byte codes, through
/// a ToUnicode map with two codespace ranges, `bfchar`, and both forms of `bfrange`.
pub(super) fn type0(lines: &[&str]) -> Vec<u8> {
    let mut c = String::from("BT /F1 10 Tf 12 TL 40 800 Td\n");
    for l in lines {
        let _ = writeln!(c, "<{}> Tj T*", type0_codes(l));
    }
    c.push_str("ET\n");
    let mut w = PdfWriter::new();
    w.add("<< /Type /Catalog /Pages 2 0 R >>");
    w.add("<< /Type /Pages /Kids [3 0 R] /Count 1 >>");
    w.add(PAGE3);
    w.add_stream("/Filter /FlateDecode", &flate(c.as_bytes()));
    w.add("<< /Type /Font /Subtype /Type0 /BaseFont /ABCDEF+Mixed /Encoding /Identity-H /DescendantFonts [7 0 R] /ToUnicode 6 0 R >>");
    w.add_stream("/Filter /LZWDecode", &lzw(TYPE0_CMAP.as_bytes(), true));
    w.add("<< /Type /Font /Subtype /CIDFontType2 /BaseFont /ABCDEF+Mixed /DW 600 >>");
    w.finish("/Root 1 0 R")
}

/// The codes [`TYPE0_CMAP`] maps back to `l`.
fn type0_codes(l: &str) -> String {
    l.chars()
        .filter_map(|ch| match ch {
            '0'..='9' => Some(format!("{:04X}", 0x8100 + (ch as u32 - '0' as u32))),
            ' ' => Some("8200".to_string()),
            '!'..='~' => Some(format!("{:02X}", ch as u32 - 0x20)),
            _ => None,
        })
        .collect()
}

/// One-byte codes `01..5E` map to `!..~` (a `bfrange` with one destination), two-byte codes
/// `8100..8109` to the digits (a `bfrange` with an array), `8200` to a space (`bfchar`).
const TYPE0_CMAP: &str = "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n/CMapName /Test-UCS def\n/CMapType 2 def\n2 begincodespacerange\n<00> <7F>\n<8000> <FFFF>\nendcodespacerange\n1 beginbfchar\n<8200> <0020>\nendbfchar\n2 beginbfrange\n<01> <5E> <0021>\n<8100> <8109> [<0030> <0031> <0032> <0033> <0034> <0035> <0036> <0037> <0038> <0039>]\nendbfrange\nendcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n";

/// A simple font whose `/Differences` put every printable character at a scrambled code
/// (`(c - 32) * 7 % 95 + 128`): the shown bytes are not the text, the glyph names are.
pub(super) fn differences(lines: &[&str]) -> Vec<u8> {
    let code = |ch: char| ((ch as u32 - 32) * 7 % 95 + 128) as u8;
    let mut by_code = [""; 95];
    for (i, name) in ASCII_GLYPH_NAMES.iter().enumerate() {
        by_code[(code((i as u8 + 32) as char) - 128) as usize] = name;
    }
    let diffs = format!("128 /{}", by_code.join(" /"));
    let mut c = String::from("BT /F1 10 Tf 12 TL 40 800 Td\n");
    for l in lines {
        let hex: String =
            l.chars().filter(|ch| (' '..='~').contains(ch)).map(|ch| format!("{:02X}", code(ch))).collect();
        let _ = writeln!(c, "<{hex}> Tj T*");
    }
    c.push_str("ET\n");
    let mut w = PdfWriter::new();
    w.add("<< /Type /Catalog /Pages 2 0 R >>");
    w.add("<< /Type /Pages /Kids [3 0 R] /Count 1 >>");
    w.add(PAGE3);
    w.add_stream("/Filter /FlateDecode", &flate(c.as_bytes()));
    w.add("<< /Type /Font /Subtype /Type1 /BaseFont /XYZABC+Scrambled /FirstChar 128 /LastChar 222 /Widths 7 0 R /Encoding 6 0 R >>");
    w.add(format!("<< /Type /Encoding /BaseEncoding /WinAnsiEncoding /Differences [{diffs}] >>"));
    w.add(format!("[{}]", vec!["600"; 95].join(" ")));
    w.finish("/Root 1 0 R")
}

/// The page draws a form XObject whose text is in its own font `/F1`, a Type0 font with a
/// ToUnicode map; the page's own `/F1` (inherited from the page tree, through indirect
/// objects) is a different font whose map would give other text.
pub(super) fn form_xobject(lines: &[&str]) -> Vec<u8> {
    let mut form = String::from("BT /F1 10 Tf 12 TL 40 800 Td\n");
    for l in lines {
        let _ = writeln!(form, "<{}> Tj T*", type0_codes(l));
    }
    form.push_str("ET\n");
    let mut w = PdfWriter::new();
    w.add("<< /Type /Catalog /Pages 2 0 R >>");
    let pages = w.reserve();
    w.add("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 842] /Contents 4 0 R >>");
    w.add_stream("", b"q /Fm1 Do Q\nBT /F1 10 Tf 40 100 Td <0102> Tj ET\n");
    let font = w.add("<< /Type /Font /Subtype /Type0 /BaseFont /ABCDEF+Mixed /Encoding /Identity-H /DescendantFonts [7 0 R] /ToUnicode 6 0 R >>");
    w.add_stream("/Filter /FlateDecode", &flate(TYPE0_CMAP.as_bytes()));
    w.add("<< /Type /Font /Subtype /CIDFontType2 /BaseFont /ABCDEF+Mixed /DW 600 >>");
    let fm = w.add_stream(
        &format!("/Type /XObject /Subtype /Form /BBox [0 0 612 842] /Resources << /Font << /F1 {font} 0 R >> >> /Filter /RunLengthDecode"),
        &run_length(form.as_bytes()),
    );
    // The page's /F1: a Type0 font whose map turns every code into `x`.
    let other_map = w.add_stream(
        "",
        b"begincmap 1 begincodespacerange <0000> <FFFF> endcodespacerange 1 beginbfrange <0000> <FFFF> <0078> endbfrange endcmap",
    );
    let other = w.add(format!("<< /Type /Font /Subtype /Type0 /BaseFont /Other /Encoding /Identity-H /DescendantFonts [7 0 R] /ToUnicode {other_map} 0 R >>"));
    let resources = w.add(format!("<< /Font << /F1 {other} 0 R >> /XObject << /Fm1 {fm} 0 R >> >>"));
    w.set(pages, format!("<< /Type /Pages /Kids [3 0 R] /Count 1 /Resources {resources} 0 R >>"));
    w.finish("/Root 1 0 R")
}

/// A page no catalog reaches (there is no trailer), whose `/F1` comes from its parent's
/// resources; an earlier, unrelated `/F1` font would turn its codes into other text.
pub(super) fn detached_page(lines: &[&str]) -> Vec<u8> {
    let mut c = String::from("BT /F1 10 Tf 12 TL 40 800 Td\n");
    for l in lines {
        let _ = writeln!(c, "<{}> Tj T*", type0_codes(l));
    }
    c.push_str("ET\n");
    let mut w = PdfWriter::new();
    let other_map = w.add_stream(
        "",
        b"begincmap 1 begincodespacerange <0000> <FFFF> endcodespacerange 1 beginbfrange <0000> <FFFF> <0078> endbfrange endcmap",
    );
    let cid = w.add("<< /Type /Font /Subtype /CIDFontType2 /BaseFont /ABCDEF+Mixed /DW 600 >>");
    let other = w.add(format!("<< /Type /Font /Subtype /Type0 /BaseFont /Other /Encoding /Identity-H /DescendantFonts [{cid} 0 R] /ToUnicode {other_map} 0 R >>"));
    w.add(format!("<< /Type /XObject /Subtype /Form /Resources << /Font << /F1 {other} 0 R >> >> >>"));
    let map = w.add_stream("/Filter /FlateDecode", &flate(TYPE0_CMAP.as_bytes()));
    let font = w.add(format!("<< /Type /Font /Subtype /Type0 /BaseFont /ABCDEF+Mixed /Encoding /Identity-H /DescendantFonts [{cid} 0 R] /ToUnicode {map} 0 R >>"));
    let parent = w.reserve();
    let content = w.add_stream("/Filter /FlateDecode", &flate(c.as_bytes()));
    let page = w.add(format!("<< /Type /Page /Parent {parent} 0 R /Contents {content} 0 R >>"));
    w.set(
        parent,
        format!("<< /Type /Pages /Kids [{page} 0 R] /Count 1 /Resources << /Font << /F1 {font} 0 R >> >> >>"),
    );
    let mut out = w.finish("");
    // No trailer, no catalog: cut the file after the last object.
    let end = out.windows(5).rposition(|x| x == b"xref\n").unwrap_or(out.len());
    out.truncate(end);
    out
}
