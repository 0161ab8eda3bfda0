//! PDF fixtures for the PDF extractor's tests and fuzz seeds: an object writer, the stream
//! filters PDF uses (LZW, RunLength, ASCIIHex, ASCII85, Flate with a PNG predictor), and one
//! builder per construct that hides text from a naive extractor ([`pdf_case`]).
//!
//! Every builder takes the text as lines and puts it in the file only through its construct,
//! so a test that finds a value proves the construct is read.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write as _;

/// Writes numbered objects, a cross-reference table and a trailer.
#[derive(Debug, Default)]
pub struct PdfWriter {
    objects: Vec<Option<Vec<u8>>>,
    /// Bytes before `%PDF-`.
    pub prefix: Vec<u8>,
}

impl PdfWriter {
    /// An empty document.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reserves an object number, to be [`set`](Self::set) later.
    pub fn reserve(&mut self) -> u32 {
        self.objects.push(None);
        self.objects.len() as u32
    }

    /// Sets the body of object `n` (the bytes between `n 0 obj` and `endobj`).
    pub fn set(&mut self, n: u32, body: impl AsRef<[u8]>) {
        self.objects[n as usize - 1] = Some(body.as_ref().to_vec());
    }

    /// Adds an object; returns its number.
    pub fn add(&mut self, body: impl AsRef<[u8]>) -> u32 {
        let n = self.reserve();
        self.set(n, body);
        n
    }

    /// Adds a stream object: `dict` holds the entries besides `/Length`.
    pub fn add_stream(&mut self, dict: &str, data: &[u8]) -> u32 {
        self.add(stream_object(dict, data))
    }

    /// The file: header, objects, xref table and a trailer with `trailer` entries
    /// (`/Root 1 0 R ...`).
    pub fn finish(&self, trailer: &str) -> Vec<u8> {
        let mut out = self.prefix.clone();
        let base = out.len();
        out.extend_from_slice(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n");
        let mut offsets = Vec::new();
        for (i, o) in self.objects.iter().enumerate() {
            // A reserved object never set is left out (it lives in an object stream).
            let Some(o) = o else {
                offsets.push(None);
                continue;
            };
            offsets.push(Some(out.len() - base));
            out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
            out.extend_from_slice(o);
            out.extend_from_slice(b"\nendobj\n");
        }
        let xref = out.len() - base;
        out.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", offsets.len() + 1).as_bytes());
        for off in offsets {
            match off {
                Some(off) => out.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes()),
                None => out.extend_from_slice(b"0000000000 00001 f \n"),
            }
        }
        out.extend_from_slice(
            format!("trailer\n<< /Size {} {trailer} >>\nstartxref\n{xref}\n%%EOF\n", self.objects.len() + 1)
                .as_bytes(),
        );
        out
    }
}

/// `<< dict /Length n >> stream ... endstream`.
pub fn stream_object(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut o = format!("<< {dict} /Length {} >>\nstream\n", data.len()).into_bytes();
    o.extend_from_slice(data);
    o.extend_from_slice(b"\nendstream");
    o
}

/// zlib (FlateDecode) of `data`.
pub fn flate(data: &[u8]) -> Vec<u8> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = z.write_all(data);
    z.finish().unwrap_or_default()
}

/// FlateDecode with `/Predictor 12 /Columns columns`: every row filtered with PNG "Up".
pub fn flate_png_up(data: &[u8], columns: usize) -> Vec<u8> {
    let mut rows = Vec::new();
    let mut prev = vec![0u8; columns];
    for chunk in data.chunks(columns) {
        let mut row = chunk.to_vec();
        row.resize(columns, 0);
        rows.push(2u8);
        rows.extend(row.iter().zip(&prev).map(|(a, b)| a.wrapping_sub(*b)));
        prev = row;
    }
    flate(&rows)
}

/// LZWDecode of `data`; `early_change` is the `/EarlyChange` parameter (1 by default).
pub fn lzw(data: &[u8], early_change: bool) -> Vec<u8> {
    let ec = u32::from(early_change);
    let mut bits = BitWriter::default();
    let mut dict: HashMap<(u32, u8), u32> = HashMap::new();
    let mut next = 258u32;
    // The code width the decoder uses once it knows `known` entries.
    let width = |known: u32| {
        let mut w = 9;
        while w < 12 && known + ec >= 1 << w {
            w += 1;
        }
        w
    };
    bits.put(256, 9);
    let mut w: Option<u32> = None;
    // Codes written since the last clear: the first one adds no entry in the decoder.
    let mut written = 0u32;
    for &b in data {
        let Some(cur) = w else {
            w = Some(u32::from(b));
            continue;
        };
        if let Some(&code) = dict.get(&(cur, b)) {
            w = Some(code);
            continue;
        }
        bits.put(cur, width(if written == 0 { 258 } else { next - 1 }));
        written += 1;
        dict.insert((cur, b), next);
        next += 1;
        w = Some(u32::from(b));
        if next >= 4000 {
            bits.put(256, width(next - 1));
            dict.clear();
            next = 258;
            written = 0;
        }
    }
    if let Some(cur) = w {
        bits.put(cur, width(if written == 0 { 258 } else { next - 1 }));
        written += 1;
    }
    bits.put(257, width(if written <= 1 { 258 } else { next }));
    bits.finish()
}

#[derive(Default)]
struct BitWriter {
    out: Vec<u8>,
    acc: u32,
    n: u32,
}

impl BitWriter {
    fn put(&mut self, code: u32, width: u32) {
        self.acc = (self.acc << width) | code;
        self.n += width;
        while self.n >= 8 {
            self.n -= 8;
            self.out.push((self.acc >> self.n) as u8);
        }
        self.acc &= (1 << self.n) - 1;
    }

    fn finish(mut self) -> Vec<u8> {
        if self.n > 0 {
            self.out.push((self.acc << (8 - self.n)) as u8);
        }
        self.out
    }
}

/// RunLengthDecode of `data`: repeats of three or more bytes as runs, the rest literal.
pub fn run_length(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut lit: Vec<u8> = Vec::new();
    let flush = |lit: &mut Vec<u8>, out: &mut Vec<u8>| {
        for c in lit.chunks(128) {
            out.push((c.len() - 1) as u8);
            out.extend_from_slice(c);
        }
        lit.clear();
    };
    let mut i = 0;
    while i < data.len() {
        let run = data[i..].iter().take(128).take_while(|&&b| b == data[i]).count();
        if run >= 3 {
            flush(&mut lit, &mut out);
            out.push((257 - run) as u8);
            out.push(data[i]);
            i += run;
        } else {
            lit.push(data[i]);
            i += 1;
        }
    }
    flush(&mut lit, &mut out);
    out.push(128);
    out
}

/// ASCIIHexDecode of `data`, in lines of 64 digits.
pub fn ascii_hex(data: &[u8]) -> Vec<u8> {
    let mut s = String::new();
    for (i, b) in data.iter().enumerate() {
        if i > 0 && i % 32 == 0 {
            s.push('\n');
        }
        let _ = write!(s, "{b:02x}");
    }
    s.push('>');
    s.into_bytes()
}

/// ASCII85Decode of `data`, with the `~>` end marker.
pub fn ascii85(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in data.chunks(4) {
        let mut b = [0u8; 4];
        b[..chunk.len()].copy_from_slice(chunk);
        let v = u32::from_be_bytes(b);
        if v == 0 && chunk.len() == 4 {
            out.push(b'z');
            continue;
        }
        let mut digits = [0u8; 5];
        let mut x = v;
        for d in digits.iter_mut().rev() {
            *d = (x % 85) as u8 + b'!';
            x /= 85;
        }
        out.extend_from_slice(&digits[..chunk.len() + 1]);
    }
    out.extend_from_slice(b"~>");
    out
}

/// A literal string `( ... )` with the characters PDF needs escaped.
pub fn literal(s: &str) -> String {
    let mut o = String::from("(");
    for c in s.chars() {
        match c {
            '(' | ')' | '\\' => {
                o.push('\\');
                o.push(c);
            }
            '\n' => o.push_str("\\n"),
            c => o.push(c),
        }
    }
    o.push(')');
    o
}

/// A hex string of the UTF-16BE encoding of `s`, with its byte order mark.
pub fn utf16_hex(s: &str) -> String {
    let mut o = String::from("<FEFF");
    for u in s.encode_utf16() {
        let _ = write!(o, "{u:04X}");
    }
    o.push('>');
    o
}

/// Courier-like advance of every character, in thousandths of the font size; the simple
/// fonts of these fixtures declare it in `/Widths`.
pub const ADVANCE: f64 = 600.0;
/// Font size of the fixtures' text.
const SIZE: f64 = 10.0;
/// The simple font the fixtures draw with: declared widths, standard encoding.
const COURIER: &str = "<< /Type /Font /Subtype /Type1 /BaseFont /Courier /FirstChar 32 /LastChar 126 /Widths [ 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 600 ] >>";

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

/// A page no catalog reaches (there is no trailer), whose `/F1` comes from its parent's
/// resources; an earlier, unrelated `/F1` font would turn its codes into other text.
fn detached_page(lines: &[&str]) -> Vec<u8> {
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

const PAGE3: &str = "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>";

/// Catalog, pages, one page whose content stream (object 4) has `filter` entries, font 5.
fn page_pdf(content: &[u8], filter: &str) -> Vec<u8> {
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
fn clean_page() -> (PdfWriter, String) {
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

/// Text in a Type0 font: ASCII letters as one-byte codes, digits as two-byte codes, through
/// a ToUnicode map with two codespace ranges, `bfchar`, and both forms of `bfrange`.
fn type0(lines: &[&str]) -> Vec<u8> {
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

/// Glyph names of the printable ASCII characters, space first.
const ASCII_GLYPHS: [&str; 95] = [
    "space",
    "exclam",
    "quotedbl",
    "numbersign",
    "dollar",
    "percent",
    "ampersand",
    "quotesingle",
    "parenleft",
    "parenright",
    "asterisk",
    "plus",
    "comma",
    "hyphen",
    "period",
    "slash",
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "colon",
    "semicolon",
    "less",
    "equal",
    "greater",
    "question",
    "at",
    "A",
    "B",
    "C",
    "D",
    "E",
    "F",
    "G",
    "H",
    "I",
    "J",
    "K",
    "L",
    "M",
    "N",
    "O",
    "P",
    "Q",
    "R",
    "S",
    "T",
    "U",
    "V",
    "W",
    "X",
    "Y",
    "Z",
    "bracketleft",
    "backslash",
    "bracketright",
    "asciicircum",
    "underscore",
    "grave",
    "a",
    "b",
    "c",
    "d",
    "e",
    "f",
    "g",
    "h",
    "i",
    "j",
    "k",
    "l",
    "m",
    "n",
    "o",
    "p",
    "q",
    "r",
    "s",
    "t",
    "u",
    "v",
    "w",
    "x",
    "y",
    "z",
    "braceleft",
    "bar",
    "braceright",
    "asciitilde",
];

/// A simple font whose `/Differences` put every printable character at a scrambled code
/// (`(c - 32) * 7 % 95 + 128`): the shown bytes are not the text, the glyph names are.
fn differences(lines: &[&str]) -> Vec<u8> {
    let code = |ch: char| ((ch as u32 - 32) * 7 % 95 + 128) as u8;
    let mut by_code = [""; 95];
    for (i, name) in ASCII_GLYPHS.iter().enumerate() {
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
fn form_xobject(lines: &[&str]) -> Vec<u8> {
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
