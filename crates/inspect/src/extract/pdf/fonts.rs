//! Fonts (section 9): how shown bytes become text and how far they advance. A font's
//! `/ToUnicode` CMap decides first; then, for simple fonts, the encoding (a base encoding
//! and `/Differences` by glyph name); for composite fonts, encodings whose codes are
//! Unicode. Widths come from `/Widths` or `/W`, or the standard fonts' metrics.
//!
//! Fonts and CMaps are loaded once per object; their number, their CMap entries and their
//! memory count against the document's limits.

use std::collections::HashMap;
use std::rc::Rc;

use super::cmap::CMap;
use super::doc::Doc;
use super::glyphs::{glyph_char, standard_width, Base};
use super::object::{Dict, Obj};
use crate::extract::{Ctx, Member};
use crate::limits::LimitKind;

/// Memory a simple font's tables take, for the budget.
const SIMPLE_FONT_BYTES: u64 = 256 * 8 + 128;

/// A loaded font.
#[derive(Debug)]
pub(super) struct Font {
    to_unicode: Option<Rc<CMap>>,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Simple {
        table: Box<[char; 256]>,
        /// Advance of each code, in thousandths of the font size.
        widths: Box<[f32; 256]>,
    },
    Composite {
        /// An embedded encoding CMap: its code spaces split the shown bytes.
        encoding: Option<Rc<CMap>>,
        /// What the codes of a predefined CMap named by `/Encoding` are.
        codes: Codes,
        default_width: f32,
        /// `(first, last, width)` from `/W`, sorted.
        widths: Vec<(u32, u32, f32)>,
    },
}

/// The codes of a composite font's predefined CMap (PDF 32000 9.7.5.2), read without the
/// font: Unicode for the `Uni...` CMaps, and the legacy CJK code pages (Shift-JIS, EUC, GBK,
/// Big5, UHC), whose codes are those of the page: Acrobat shows and extracts them even
/// when the font is not embedded.
#[derive(Debug, Clone, Copy)]
enum Codes {
    /// Codes of two bytes with no meaning here (`Identity-H`, unknown names).
    Opaque,
    /// UTF-16 (`Uni...-UCS2-H`, `...-UTF16-H`).
    Utf16,
    /// UTF-8 (`Uni...-UTF8-H`).
    Utf8,
    /// The code page of a legacy CMap.
    Legacy(&'static encoding_rs::Encoding),
}

impl Codes {
    fn of_cmap_name(n: &[u8]) -> Codes {
        let has = |s: &[u8]| n.windows(s.len()).any(|w| w == s);
        if has(b"UCS2") || has(b"UTF16") {
            Codes::Utf16
        } else if has(b"UTF8") {
            Codes::Utf8
        } else if has(b"RKSJ") {
            Codes::Legacy(encoding_rs::SHIFT_JIS)
        } else if has(b"GB") {
            Codes::Legacy(encoding_rs::GB18030)
        } else if has(b"B5") || has(b"CNS") {
            Codes::Legacy(encoding_rs::BIG5)
        } else if has(b"KSC") || has(b"UHC") {
            Codes::Legacy(encoding_rs::EUC_KR)
        } else if has(b"EUC") || n == b"H" || n == b"V" || has(b"90pv") || has(b"83pv") {
            Codes::Legacy(encoding_rs::EUC_JP)
        } else {
            Codes::Opaque
        }
    }

    /// The length of the code at the start of `rest` (not empty), when the code page says.
    fn len(self, rest: &[u8]) -> Option<usize> {
        let b = *rest.first()?;
        let Codes::Legacy(e) = self else {
            return match self {
                Codes::Utf8 => Some(match b {
                    0xC0..=0xDF => 2,
                    0xE0..=0xEF => 3,
                    0xF0..=0xF7 => 4,
                    _ => 1,
                }),
                _ => None,
            };
        };
        Some(if e == encoding_rs::SHIFT_JIS {
            if matches!(b, 0x81..=0x9F | 0xE0..=0xFC) {
                2
            } else {
                1
            }
        } else if e == encoding_rs::EUC_JP {
            match b {
                0x8F => 3,
                0x8E | 0xA1..=0xFE => 2,
                _ => 1,
            }
        } else if e == encoding_rs::GB18030 && b >= 0x81 && rest.get(1).is_some_and(|x| x.is_ascii_digit()) {
            4
        } else if b >= 0x81 {
            2
        } else {
            1
        })
    }

    /// Appends the text of one code.
    fn decode(self, code: &[u8], cid: u32, out: &mut Vec<u8>) {
        match self {
            Codes::Opaque => {}
            Codes::Utf16 => {
                if let Some(c) = char::from_u32(cid) {
                    push_char(c, out);
                }
            }
            Codes::Utf8 => {
                if let Ok(s) = std::str::from_utf8(code) {
                    out.extend_from_slice(s.as_bytes());
                }
            }
            Codes::Legacy(e) => {
                let (text, malformed) = e.decode_without_bom_handling(code);
                if !malformed {
                    out.extend_from_slice(text.as_bytes());
                }
            }
        }
    }
}

/// What showing a string did.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Shown {
    /// Sum of the glyph widths, in thousandths of the font size.
    pub width: f32,
    pub codes: u32,
    /// Single-byte codes 32, which word spacing applies to.
    pub spaces: u32,
}

impl Font {
    /// A font nothing is known of: bytes as Latin-1, 500 wide.
    pub fn unknown() -> Font {
        let table = Base::WinAnsi.table();
        Font {
            to_unicode: None,
            kind: Kind::Simple { table: Box::new(table), widths: Box::new([500.0; 256]) },
        }
    }

    /// Appends the text of `bytes` as UTF-8.
    pub fn show(&self, bytes: &[u8], out: &mut Vec<u8>) -> Shown {
        let mut s = Shown::default();
        match &self.kind {
            Kind::Simple { table, widths } => {
                for &b in bytes {
                    s.codes += 1;
                    s.width += widths[usize::from(b)];
                    if b == b' ' {
                        s.spaces += 1;
                    }
                    if self.to_unicode.as_ref().is_some_and(|m| m.lookup(&[b], out)) {
                        continue;
                    }
                    let c = match table[usize::from(b)] {
                        '\0' if b >= 0x20 => char::from(b),
                        '\0' => continue,
                        c => c,
                    };
                    push_char(c, out);
                }
            }
            Kind::Composite { encoding, codes, default_width, widths } => {
                let mut i = 0;
                while i < bytes.len() {
                    let rest = &bytes[i..];
                    let n = match (&self.to_unicode, encoding, codes.len(rest)) {
                        (_, Some(e), _) => e.code_len(rest, 2),
                        (_, None, Some(n)) => n,
                        (Some(m), None, None) => m.code_len(rest, 2),
                        (None, None, None) => 2,
                    }
                    .min(rest.len());
                    let code = &rest[..n];
                    i += n;
                    s.codes += 1;
                    let cid = code.iter().fold(0u32, |a, &x| (a << 8) | u32::from(x));
                    s.width += width_of(widths, cid).unwrap_or(*default_width);
                    if self.to_unicode.as_ref().is_some_and(|m| m.lookup(code, out)) {
                        continue;
                    }
                    codes.decode(code, cid, out);
                }
            }
        }
        s
    }
}

fn push_char(c: char, out: &mut Vec<u8>) {
    let mut b = [0u8; 4];
    out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
}

fn width_of(widths: &[(u32, u32, f32)], cid: u32) -> Option<f32> {
    let i = widths.partition_point(|w| w.0 <= cid).checked_sub(1)?;
    let (lo, hi, w) = widths[i];
    (lo..=hi).contains(&cid).then_some(w)
}

/// Why loading stopped: a limit ended the scan.
#[derive(Debug)]
pub(super) struct Stopped;

/// Fonts and CMaps of one document.
#[derive(Debug)]
pub(super) struct FontCache {
    fonts: HashMap<u32, Rc<Font>>,
    cmaps: HashMap<u32, Option<Rc<CMap>>>,
    loaded: u64,
    entries_left: u64,
    /// Whether the font being built is kept (and its memory counted).
    keep: bool,
}

impl FontCache {
    pub fn new(cx: &Ctx<'_>) -> Self {
        let l = &cx.st.budget.limits;
        Self {
            fonts: HashMap::new(),
            cmaps: HashMap::new(),
            loaded: 0,
            entries_left: l.max_cmap_entries,
            keep: true,
        }
    }

    /// The font `o` (a reference to a font dictionary, or the dictionary).
    pub fn load(
        &mut self,
        cx: &mut Ctx<'_>,
        m: &Member,
        doc: &mut Doc<'_>,
        o: &Obj,
    ) -> Result<Rc<Font>, Stopped> {
        let num = o.reference();
        if let Some(f) = num.and_then(|n| self.fonts.get(&n)) {
            return Ok(f.clone());
        }
        // Fonts are kept (and count) per object; a font written inline in a resource
        // dictionary lives only while that content is read.
        self.keep = num.is_some();
        if self.keep {
            self.loaded += 1;
            if self.loaded > cx.st.budget.limits.max_pdf_fonts {
                cx.st.budget.limit(LimitKind::MaxPdfFonts, &m.path);
                return Err(Stopped);
            }
        }
        let v = doc.val(o);
        let font = match v.dict() {
            Some(d) => {
                let d = d.clone();
                self.build(cx, m, doc, &d)?
            }
            None => Font::unknown(),
        };
        let font = Rc::new(font);
        if let Some(n) = num {
            self.fonts.insert(n, font.clone());
        }
        Ok(font)
    }

    fn build(&mut self, cx: &mut Ctx<'_>, m: &Member, doc: &mut Doc<'_>, d: &Dict) -> Result<Font, Stopped> {
        let to_unicode = match d.get(b"ToUnicode").and_then(Obj::reference) {
            Some(r) => self.cmap(cx, m, doc, r)?,
            None => None,
        };
        if d.is(b"Subtype", b"Type0") {
            return self.composite(cx, m, doc, d, to_unicode);
        }
        if self.keep && !cx.st.budget.hold(SIMPLE_FONT_BYTES, &m.path) {
            return Err(Stopped);
        }
        let mut table = Base::WinAnsi.table();
        let encoding = d.get(b"Encoding").map(|e| (*doc.val(e)).clone());
        match &encoding {
            Some(Obj::Name(n)) => {
                if let Some(b) = Base::from_name(n) {
                    table = b.table();
                }
            }
            Some(Obj::Dict(e)) => {
                if let Some(b) = e.get(b"BaseEncoding").and_then(Obj::name).and_then(Base::from_name) {
                    table = b.table();
                }
                if let Some(diffs) = e.get(b"Differences") {
                    let diffs = (*doc.val(diffs)).clone();
                    let mut code = 0usize;
                    for item in diffs.array().unwrap_or_default() {
                        match item {
                            Obj::Num(n) => code = n.clamp(0.0, 256.0) as usize,
                            Obj::Name(name) => {
                                if code < 256 {
                                    // Unknown names keep the base encoding's character.
                                    if let Some(c) = glyph_char(name) {
                                        table[code] = c;
                                    }
                                }
                                code += 1;
                            }
                            _ => {}
                        }
                    }
                }
            }
            _ => {}
        }
        let base_font = d.get(b"BaseFont").and_then(Obj::name).unwrap_or_default().to_vec();
        let mut widths = [0f32; 256];
        for (code, w) in widths.iter_mut().enumerate() {
            let c = table[code];
            *w = standard_width(&base_font, if c == '\0' { char::from(code as u8) } else { c });
        }
        let missing = d
            .get(b"FontDescriptor")
            .map(|fd| (*doc.val(fd)).clone())
            .and_then(|fd| fd.dict().and_then(|fd| fd.get(b"MissingWidth")).and_then(Obj::num));
        // Type 3 widths are in glyph space.
        let scale = match d.get(b"FontMatrix").map(|fm| (*doc.val(fm)).clone()) {
            Some(Obj::Array(a)) if d.is(b"Subtype", b"Type3") => {
                a.first().and_then(Obj::num).map_or(1.0, |x| (x * 1000.0) as f32)
            }
            _ => 1.0,
        };
        if let Some(ws) = d.get(b"Widths") {
            let ws = (*doc.val(ws)).clone();
            let first = d.get(b"FirstChar").and_then(Obj::num).unwrap_or(0.0).clamp(0.0, 255.0) as usize;
            if let Some(m) = missing {
                widths = [m as f32 * scale; 256];
            }
            for (k, w) in ws.array().unwrap_or_default().iter().enumerate() {
                let w = match w {
                    Obj::Ref(_) => doc.val(w).num(),
                    other => other.num(),
                };
                if let (Some(slot), Some(w)) = (widths.get_mut(first + k), w) {
                    *slot = w as f32 * scale;
                }
            }
        }
        Ok(Font { to_unicode, kind: Kind::Simple { table: Box::new(table), widths: Box::new(widths) } })
    }

    fn composite(
        &mut self,
        cx: &mut Ctx<'_>,
        m: &Member,
        doc: &mut Doc<'_>,
        d: &Dict,
        to_unicode: Option<Rc<CMap>>,
    ) -> Result<Font, Stopped> {
        let (mut encoding, mut codes) = (None, Codes::Opaque);
        match d.get(b"Encoding") {
            Some(Obj::Name(n)) => codes = Codes::of_cmap_name(n),
            Some(Obj::Ref(r)) => encoding = self.cmap(cx, m, doc, *r)?,
            _ => {}
        }
        let descendant = d
            .get(b"DescendantFonts")
            .map(|x| (*doc.val(x)).clone())
            .and_then(|a| a.array().and_then(|a| a.first().cloned()))
            .map(|f| (*doc.val(&f)).clone());
        let cid = descendant.as_ref().and_then(Obj::dict);
        let default_width = cid.and_then(|c| c.get(b"DW")).and_then(Obj::num).unwrap_or(1000.0) as f32;
        let mut widths = Vec::new();
        if let Some(w) = cid.and_then(|c| c.get(b"W")) {
            let w = (*doc.val(w)).clone();
            let items = w.array().unwrap_or_default();
            let mut i = 0;
            while i < items.len() {
                let first = items[i].num().unwrap_or(0.0).max(0.0) as u32;
                match (items.get(i + 1), items.get(i + 2)) {
                    (Some(Obj::Array(ws)), _) => {
                        for (k, x) in ws.iter().enumerate() {
                            if let Some(x) = x.num() {
                                let c = first.saturating_add(k as u32);
                                widths.push((c, c, x as f32));
                            }
                        }
                        i += 2;
                    }
                    (Some(last), Some(x)) => {
                        let last = last.num().unwrap_or(0.0).max(0.0) as u32;
                        widths.push((first, last.max(first), x.num().unwrap_or(0.0) as f32));
                        i += 3;
                    }
                    _ => break,
                }
            }
        }
        widths.sort_by_key(|w| w.0);
        if self.keep && !cx.st.budget.hold(widths.len() as u64 * 12 + 128, &m.path) {
            return Err(Stopped);
        }
        Ok(Font { to_unicode, kind: Kind::Composite { encoding, codes, default_width, widths } })
    }

    /// The CMap in stream object `num`, parsed once.
    fn cmap(
        &mut self,
        cx: &mut Ctx<'_>,
        m: &Member,
        doc: &mut Doc<'_>,
        num: u32,
    ) -> Result<Option<Rc<CMap>>, Stopped> {
        if let Some(c) = self.cmaps.get(&num) {
            return Ok(c.clone());
        }
        let Some(i) = doc.stream_index(num) else {
            self.cmaps.insert(num, None);
            return Ok(None);
        };
        let Some(data) = doc.stream_data(cx, m, i) else { return Err(Stopped) };
        let parsed = CMap::parse(&data.data, &mut self.entries_left);
        data.release(cx);
        let parsed = match parsed {
            Ok(c) => c,
            Err(_) => {
                cx.st.budget.limit(LimitKind::MaxCmapEntries, &m.path);
                return Err(Stopped);
            }
        };
        if !cx.st.budget.hold(parsed.heap_bytes(), &m.path) || !cx.st.budget.check_time(&m.path) {
            return Err(Stopped);
        }
        let c = (!parsed.is_empty()).then(|| Rc::new(parsed));
        self.cmaps.insert(num, c.clone());
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_lookup() {
        let w = vec![(1, 1, 500.0), (3, 10, 600.0), (20, 20, 700.0)];
        assert_eq!(width_of(&w, 1), Some(500.0));
        assert_eq!(width_of(&w, 2), None);
        assert_eq!(width_of(&w, 10), Some(600.0));
        assert_eq!(width_of(&w, 0), None);
        let f = Font::unknown();
        let mut out = Vec::new();
        let s = f.show(b"a b\x80", &mut out);
        assert_eq!(String::from_utf8(out).unwrap(), "a b€");
        assert_eq!((s.codes, s.spaces, s.width), (4, 1, 2000.0));
    }
}
