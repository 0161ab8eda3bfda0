//! Fixtures for the limits: a CMap bomb, an LZW bomb, a form XObject fan-out, an encrypted
//! file.

use std::fmt::Write as _;

use super::cases::{clean_page, page_pdf, COURIER, PAGE3};
use super::{flate, lzw, stream_object, PdfWriter};

/// `fonts` Type0 fonts, each with its own ToUnicode CMap holding one `<0000> <FFFF>` range
/// (65,536 codes in 80 bytes), all used on one page: the CMap bomb of issue 12.
pub fn cmap_bomb(fonts: usize) -> Vec<u8> {
    let mut w = PdfWriter::new();
    w.add("<< /Type /Catalog /Pages 2 0 R >>");
    w.add("<< /Type /Pages /Kids [3 0 R] /Count 1 >>");
    let page = w.reserve();
    let content = w.reserve();
    let mut names = String::new();
    let mut c = String::from("BT 12 TL 40 800 Td\n");
    for i in 0..fonts {
        let map = w.add_stream("", b"1 beginbfrange <0000> <FFFF> <0041> endbfrange");
        let font = w.add(format!(
            "<< /Type /Font /Subtype /Type0 /BaseFont /F /Encoding /Identity-H /ToUnicode {map} 0 R >>"
        ));
        let _ = write!(names, "/F{i} {font} 0 R ");
        let _ = writeln!(c, "/F{i} 10 Tf <0001> Tj");
    }
    c.push_str("ET\n");
    w.set(content, stream_object("/Filter /FlateDecode", &flate(c.as_bytes())));
    w.set(
        page,
        format!(
            "<< /Type /Page /Parent 2 0 R /Contents {content} 0 R /Resources << /Font << {names}>> >> >>"
        ),
    );
    w.finish("/Root 1 0 R")
}

/// A page whose content is `inflated` zero bytes, LZW-compressed (about 1,000 to 1).
pub fn lzw_bomb(inflated: usize) -> Vec<u8> {
    page_pdf(&lzw(&vec![b'0'; inflated], true), "/Filter /LZWDecode")
}

/// Form XObjects `levels` deep, each drawing the next one twice (2^levels drawings if
/// nothing stopped it), and one drawing the first again (a cycle).
pub fn form_fan_out(levels: usize) -> Vec<u8> {
    let mut w = PdfWriter::new();
    w.add("<< /Type /Catalog /Pages 2 0 R >>");
    w.add("<< /Type /Pages /Kids [3 0 R] /Count 1 >>");
    w.add(PAGE3.replace("/Font << /F1 5 0 R >>", "/Font << /F1 5 0 R >> /XObject << /X 6 0 R >>"));
    w.add_stream("", b"/X Do");
    w.add(COURIER);
    let first = 6;
    for k in 0..levels {
        let next = if k + 1 == levels { first } else { first + k as u32 + 1 };
        w.add_stream(
            &format!("/Type /XObject /Subtype /Form /Resources << /XObject << /N {next} 0 R >> >>"),
            format!("/N Do /N Do BT /F1 10 Tf (level {k}) Tj ET").as_bytes(),
        );
    }
    w.finish("/Root 1 0 R")
}

/// A document whose trailer names an `/Encrypt` dictionary (the streams are not really
/// encrypted); `lines` go in front of `%PDF-`, in clear.
pub fn encrypted(lines: &[&str]) -> Vec<u8> {
    let (mut w, _) = clean_page();
    w.prefix = lines.iter().map(|l| format!("{l}\n")).collect::<String>().into_bytes();
    let e = w.add("<< /Filter /Standard /V 2 /R 3 /Length 128 /P -3904 /O <00> /U <00> >>");
    w.finish(&format!("/Root 1 0 R /Encrypt {e} 0 R /ID [<0123456789abcdef> <0123456789abcdef>]"))
}
