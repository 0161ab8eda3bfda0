//! A workbook's number formats that show a whole number as its digits among literal
//! characters (`000\-00\-0000`, Excel's Social Security Number format, shows the number
//! 219099999 as `219-09-9999`): the sheets' numeric cells in those styles are also read as
//! shown. Formats with anything else (decimals, grouping, exponents, dates, colours,
//! conditions) are not applied: their text is no value a detector looks for.

use std::io::Read;

use quick_xml::events::Event;
use quick_xml::Reader;

/// The most of a workbook's styles part read.
const MAX_STYLES: u64 = 4 << 20;
/// Cell styles kept.
const MAX_STYLES_KEPT: usize = 64 * 1024;
/// Formats kept, and the longest format code looked at.
const MAX_FORMATS: usize = 1024;
const MAX_CODE: usize = 256;
/// The longest cell value rendered.
const MAX_VALUE: usize = 64;

/// One piece of a digit mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    /// `0`: a digit, zero when the number has none left.
    Zero,
    /// `#`: a digit, nothing when the number has none left.
    Hash,
    /// `?`: a digit, a space when the number has none left.
    Space,
    /// A byte shown as it is.
    Lit(u8),
}

/// The digit masks of a workbook's cell styles.
#[derive(Debug, Default)]
pub(crate) struct CellFormats {
    masks: Vec<Vec<Tok>>,
    /// Per cell style (`cellXfs/xf`, in order): its mask's index in `masks`.
    styles: Vec<Option<u16>>,
}

impl CellFormats {
    /// Reads the number formats (`numFmts`) and cell styles (`cellXfs`) of a styles part.
    pub(super) fn read(src: impl Read) -> Self {
        let mut data = Vec::new();
        if src.take(MAX_STYLES).read_to_end(&mut data).is_err() {
            return Self::default();
        }
        let mut r = Reader::from_reader(data.as_slice());
        let c = r.config_mut();
        c.check_end_names = false;
        c.allow_unmatched_ends = true;
        let mut ids: Vec<(u32, u16)> = Vec::new();
        let mut f = Self::default();
        let mut in_xfs = false;
        let mut value = Vec::new();
        loop {
            let (e, start) = match r.read_event() {
                Ok(Event::Start(e)) => (e, true),
                Ok(Event::Empty(e)) => (e, false),
                Ok(Event::End(e)) => {
                    if e.local_name().as_ref() == b"cellXfs" {
                        in_xfs = false;
                    }
                    continue;
                }
                Ok(Event::Eof) | Err(_) => break,
                Ok(_) => continue,
            };
            let local = e.local_name();
            let local = local.as_ref();
            let (mut id, mut code) = (None, None);
            if local == b"numFmt" || (local == b"xf" && in_xfs) {
                for a in e.attributes().with_checks(false).flatten() {
                    value.clear();
                    super::xml::unescape(&a.value, &mut value);
                    match a.key.local_name().as_ref() {
                        b"numFmtId" => {
                            id = std::str::from_utf8(&value).ok().and_then(|s| s.parse::<u32>().ok())
                        }
                        b"formatCode" if value.len() <= MAX_CODE => code = parse_mask(&value),
                        _ => {}
                    }
                }
            }
            match local {
                b"cellXfs" if start => in_xfs = true,
                b"numFmt" => {
                    if let (Some(id), Some(mask)) = (id, code) {
                        if f.masks.len() < MAX_FORMATS {
                            ids.push((id, f.masks.len() as u16));
                            f.masks.push(mask);
                        }
                    }
                }
                b"xf" if in_xfs && f.styles.len() < MAX_STYLES_KEPT => {
                    let mask = id.and_then(|id| ids.iter().rev().find(|(i, _)| *i == id).map(|&(_, k)| k));
                    f.styles.push(mask);
                }
                _ => {}
            }
        }
        f
    }

    /// Whether any cell style has a digit mask.
    pub(super) fn is_empty(&self) -> bool {
        self.styles.iter().all(Option::is_none)
    }

    /// The mask of cell style `style`, if it has one.
    pub(super) fn mask_of(&self, style: u32) -> Option<u16> {
        let k = (*self.styles.get(usize::try_from(style).ok()?)?)?;
        Some(k)
    }

    /// A numeric cell `value` of a style whose mask is `mask`, as shown, when it is a whole
    /// number (plain or in float form) and the mask changes how it reads.
    pub(super) fn render(&self, mask: u16, value: &[u8], out: &mut Vec<u8>) -> bool {
        let Some(toks) = self.masks.get(usize::from(mask)) else {
            return false;
        };
        let t = value.trim_ascii();
        if t.is_empty() || t.len() > MAX_VALUE {
            return false;
        }
        let mut float = Vec::new();
        let digits: &[u8] = if t.iter().all(u8::is_ascii_digit) {
            t
        } else if t.first() != Some(&b'-') && super::literals::whole_number_digits(t, &mut float) {
            &float
        } else {
            return false;
        };
        let lead = digits.iter().take_while(|&&d| d == b'0').count();
        let digits = &digits[lead..];
        let start = out.len();
        render(toks, digits, out);
        // Plain digits are read already (float forms as digits, see `whole_number_digits`).
        if out[start..] == *t || out[start..] == *digits {
            out.truncate(start);
            return false;
        }
        true
    }
}

/// The digit mask of a format code's first section (positive numbers), or `None` when it
/// holds anything but digit placeholders and literal characters.
fn parse_mask(code: &[u8]) -> Option<Vec<Tok>> {
    let mut toks = Vec::new();
    let mut placeholders = 0usize;
    let mut i = 0;
    while let Some(&b) = code.get(i) {
        i += 1;
        match b {
            b';' => break,
            b'0' => toks.push(Tok::Zero),
            b'#' => toks.push(Tok::Hash),
            b'?' => toks.push(Tok::Space),
            b'\\' => {
                // The next character as it is (all its bytes).
                let first = *code.get(i)?;
                toks.push(Tok::Lit(first));
                i += 1;
                while let Some(&c) = code.get(i) {
                    if c & 0xC0 != 0x80 || first < 0x80 {
                        break;
                    }
                    toks.push(Tok::Lit(c));
                    i += 1;
                }
            }
            b'"' => {
                let len = memchr::memchr(b'"', code.get(i..)?)?;
                toks.extend(code[i..i + len].iter().map(|&c| Tok::Lit(c)));
                i += len + 1;
            }
            // `_x`: a space as wide as `x`.
            b'_' => {
                code.get(i)?;
                i += 1;
                toks.push(Tok::Lit(b' '));
            }
            b' ' | b'-' | b'(' | b')' | b'/' | b':' | b'$' | b'+' | b'!' | b'^' | b'&' | b'\'' | b'~'
            | b'{' | b'}' | b'<' | b'>' | b'=' => toks.push(Tok::Lit(b)),
            0x80.. => toks.push(Tok::Lit(b)),
            _ => return None,
        }
        if matches!(toks.last(), Some(Tok::Zero | Tok::Hash | Tok::Space)) {
            placeholders += 1;
        }
    }
    (placeholders > 0).then_some(toks)
}

/// `digits` (no leading zeros) through `toks`: digits fill the placeholders from the
/// right; the first placeholder takes any the mask has no room for.
fn render(toks: &[Tok], digits: &[u8], out: &mut Vec<u8>) {
    let places = toks.iter().filter(|t| !matches!(t, Tok::Lit(_))).count();
    let extra = digits.len().saturating_sub(places);
    let pad = places.saturating_sub(digits.len());
    let (mut k, mut j) = (0, 0);
    for &t in toks {
        let fill = match t {
            Tok::Lit(b) => {
                out.push(b);
                continue;
            }
            Tok::Zero => Some(b'0'),
            Tok::Hash => None,
            Tok::Space => Some(b' '),
        };
        if k == 0 {
            out.extend_from_slice(digits.get(..extra).unwrap_or_default());
            j = extra;
        }
        if k < pad {
            out.extend(fill);
        } else if let Some(&d) = digits.get(j) {
            out.push(d);
            j += 1;
        }
        k += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(code: &str, value: &str) -> Option<String> {
        let toks = parse_mask(code.as_bytes())?;
        let f = CellFormats { masks: vec![toks], styles: vec![Some(0)] };
        let mut out = Vec::new();
        f.render(0, value.as_bytes(), &mut out).then(|| String::from_utf8_lossy(&out).into_owned())
    }

    #[test]
    fn digit_masks_show_numbers_as_excel_does() {
        for code in [r"000\-00\-0000", "000-00-0000", "\"\"000\"-\"00\"-\"0000", "000-00-0000;@"] {
            assert_eq!(shown(code, "219099999").as_deref(), Some("219-09-9999"), "{code}");
            assert_eq!(shown(code, "12345678").as_deref(), Some("012-34-5678"), "{code}");
            assert_eq!(shown(code, "2.19099999E8").as_deref(), Some("219-09-9999"), "{code}");
        }
        assert_eq!(shown("0000 0000 0000 0000", "4111111111111111").as_deref(), Some("4111 1111 1111 1111"));
        // Digits the mask has no room for go to its first placeholder.
        assert_eq!(shown("00-00", "123456").as_deref(), Some("1234-56"));
        assert_eq!(shown("#-##", "5").as_deref(), Some("-5"));
        assert_eq!(shown("(???) 0", "42").as_deref(), Some("(  4) 2"));
        assert_eq!(shown("\"ID \"0", "7").as_deref(), Some("ID 7"));
        // What changes nothing, and what is no digit mask, is not rendered.
        assert_eq!(shown("0", "219099999"), None);
        assert_eq!(shown("#", "2.19099999E8"), None);
        for code in ["0.00", "#,##0", "0.00E+00", "0%", "yyyy-mm-dd", "[Red]000-00-0000", "@", "General"] {
            assert!(parse_mask(code.as_bytes()).is_none(), "{code}");
        }
        assert_eq!(shown("000-00-0000", "-219099999"), None);
        assert_eq!(shown("000-00-0000", "2190.5"), None);
        assert_eq!(shown("000-00-0000", "abc"), None);
    }

    #[test]
    fn styles_name_their_masks() {
        let styles = br#"<styleSheet><numFmts count="2"><numFmt numFmtId="164" formatCode="000\-00\-0000"/><numFmt numFmtId="165" formatCode="0.00"/><numFmt numFmtId="166" formatCode="&quot;#&quot;0000"/></numFmts><cellXfs count="4"><xf numFmtId="0"/><xf numFmtId="164" applyNumberFormat="1"/><xf numFmtId="165"/><xf numFmtId="166"><alignment/></xf></cellXfs></styleSheet>"#;
        let f = CellFormats::read(&styles[..]);
        assert!(!f.is_empty());
        assert_eq!((f.mask_of(0), f.mask_of(2), f.mask_of(9)), (None, None, None));
        let mut out = Vec::new();
        assert!(f.mask_of(1).is_some_and(|m| f.render(m, b"219099999", &mut out)));
        assert_eq!(out, b"219-09-9999");
        out.clear();
        assert!(f.mask_of(3).is_some_and(|m| f.render(m, b"42", &mut out)));
        assert_eq!(out, b"#0042");
        assert!(CellFormats::read(&b"<styleSheet/>"[..]).is_empty());
    }
}
