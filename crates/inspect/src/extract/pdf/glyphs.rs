//! Glyph names to text (the Adobe Glyph List's rules for `uniXXXX`, `uXXXX`, suffixes and
//! ligatures, and its names for ASCII, Latin-1 and Windows-1252), the standard simple-font
//! encodings, and the widths of the standard fonts, for fonts that do not declare them.

use std::collections::HashMap;
use std::sync::OnceLock;

/// Names of the printable ASCII characters, from space (the testkit's PDFs use them too).
pub(crate) const ASCII: [&str; 95] = [
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

/// Names of U+00A0..U+00FF.
const LATIN1: [&str; 96] = [
    "nbspace",
    "exclamdown",
    "cent",
    "sterling",
    "currency",
    "yen",
    "brokenbar",
    "section",
    "dieresis",
    "copyright",
    "ordfeminine",
    "guillemotleft",
    "logicalnot",
    "sfthyphen",
    "registered",
    "macron",
    "degree",
    "plusminus",
    "twosuperior",
    "threesuperior",
    "acute",
    "mu",
    "paragraph",
    "periodcentered",
    "cedilla",
    "onesuperior",
    "ordmasculine",
    "guillemotright",
    "onequarter",
    "onehalf",
    "threequarters",
    "questiondown",
    "Agrave",
    "Aacute",
    "Acircumflex",
    "Atilde",
    "Adieresis",
    "Aring",
    "AE",
    "Ccedilla",
    "Egrave",
    "Eacute",
    "Ecircumflex",
    "Edieresis",
    "Igrave",
    "Iacute",
    "Icircumflex",
    "Idieresis",
    "Eth",
    "Ntilde",
    "Ograve",
    "Oacute",
    "Ocircumflex",
    "Otilde",
    "Odieresis",
    "multiply",
    "Oslash",
    "Ugrave",
    "Uacute",
    "Ucircumflex",
    "Udieresis",
    "Yacute",
    "Thorn",
    "germandbls",
    "agrave",
    "aacute",
    "acircumflex",
    "atilde",
    "adieresis",
    "aring",
    "ae",
    "ccedilla",
    "egrave",
    "eacute",
    "ecircumflex",
    "edieresis",
    "igrave",
    "iacute",
    "icircumflex",
    "idieresis",
    "eth",
    "ntilde",
    "ograve",
    "oacute",
    "ocircumflex",
    "otilde",
    "odieresis",
    "divide",
    "oslash",
    "ugrave",
    "uacute",
    "ucircumflex",
    "udieresis",
    "yacute",
    "thorn",
    "ydieresis",
];

/// Other names in common use.
const OTHER: &[(&str, char)] = &[
    ("Euro", '€'),
    ("quotesinglbase", '‚'),
    ("florin", 'ƒ'),
    ("quotedblbase", '„'),
    ("ellipsis", '…'),
    ("dagger", '†'),
    ("daggerdbl", '‡'),
    ("circumflex", 'ˆ'),
    ("perthousand", '‰'),
    ("Scaron", 'Š'),
    ("guilsinglleft", '‹'),
    ("OE", 'Œ'),
    ("Zcaron", 'Ž'),
    ("quoteleft", '‘'),
    ("quoteright", '’'),
    ("quotedblleft", '“'),
    ("quotedblright", '”'),
    ("bullet", '•'),
    ("endash", '–'),
    ("emdash", '—'),
    ("tilde", '˜'),
    ("trademark", '™'),
    ("scaron", 'š'),
    ("guilsinglright", '›'),
    ("oe", 'œ'),
    ("zcaron", 'ž'),
    ("Ydieresis", 'Ÿ'),
    ("fi", 'ﬁ'),
    ("fl", 'ﬂ'),
    ("ff", 'ﬀ'),
    ("ffi", 'ﬃ'),
    ("ffl", 'ﬄ'),
    ("dotlessi", 'ı'),
    ("Lslash", 'Ł'),
    ("lslash", 'ł'),
    ("fraction", '⁄'),
    ("minus", '−'),
    ("breve", '˘'),
    ("dotaccent", '˙'),
    ("ring", '˚'),
    ("ogonek", '˛'),
    ("caron", 'ˇ'),
    ("hungarumlaut", '˝'),
    ("nonbreakingspace", '\u{a0}'),
    ("softhyphen", '\u{ad}'),
    ("figuredash", '‒'),
    ("quotereversed", '‛'),
    ("space.alt", ' '),
    ("uni00A0", '\u{a0}'),
];

fn names() -> &'static HashMap<&'static str, char> {
    static NAMES: OnceLock<HashMap<&'static str, char>> = OnceLock::new();
    NAMES.get_or_init(|| {
        let mut m = HashMap::new();
        for (i, n) in ASCII.iter().enumerate() {
            m.insert(*n, char::from(32 + i as u8));
        }
        for (i, n) in LATIN1.iter().enumerate() {
            m.insert(*n, char::from(0xA0 + i as u8));
        }
        for &(n, c) in OTHER {
            m.insert(n, c);
        }
        m
    })
}

/// The text a glyph name stands for, by the Adobe Glyph List's rules: the part before a
/// `.` counts, `_` joins ligature components, `uniXXXX...` and `uXXXX[XX]` name code
/// points.
pub(super) fn glyph_text(name: &[u8]) -> Option<String> {
    let name = std::str::from_utf8(name).ok()?;
    let base = name.split('.').next().unwrap_or(name);
    let mut out = String::new();
    for part in base.split('_') {
        out.push_str(&component(part)?);
    }
    (!out.is_empty()).then_some(out)
}

fn component(part: &str) -> Option<String> {
    if let Some(&c) = names().get(part) {
        return Some(c.to_string());
    }
    let hex = |s: &str| u32::from_str_radix(s, 16).ok().and_then(char::from_u32);
    if let Some(h) = part.strip_prefix("uni") {
        if h.len() >= 4 && h.len() % 4 == 0 && h.bytes().all(|b| b.is_ascii_hexdigit()) {
            return (0..h.len()).step_by(4).map(|i| hex(&h[i..i + 4])).collect();
        }
    }
    if let Some(h) = part.strip_prefix('u') {
        if (4..=6).contains(&h.len()) && h.bytes().all(|b| b.is_ascii_hexdigit()) {
            return hex(h).map(String::from);
        }
    }
    None
}

/// The first character of a glyph's text (simple fonts map one code to one glyph).
pub(super) fn glyph_char(name: &[u8]) -> Option<char> {
    glyph_text(name)?.chars().next()
}

/// A simple font's base encoding: code -> character (`'\0'` where nothing is defined).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Base {
    Standard,
    WinAnsi,
    MacRoman,
}

/// Windows-1252's 0x80..0x9F.
const CP1252_HIGH: &str = "€\0‚ƒ„…†‡ˆ‰Š‹Œ\0Ž\0\0‘’“”•–—˜™š›œ\0žŸ";
/// Mac OS Roman's 0x80..0xFF.
const MAC_HIGH: &str = "ÄÅÇÉÑÖÜáàâäãåçéèêëíìîïñóòôöõúùûü†°¢£§•¶ß®©™´¨≠ÆØ∞±≤≥¥µ∂∑∏π∫ªºΩæø¿¡¬√ƒ≈∆«»…\u{a0}ÀÃÕŒœ–—“”‘’÷◊ÿŸ⁄€‹›ﬁﬂ‡·‚„‰ÂÊÁËÈÍÎÏÌÓÔ\u{f8ff}ÒÚÛÙıˆ˜¯˘˙˚¸˝˛ˇ";
/// StandardEncoding's upper half, by glyph name.
const STANDARD_HIGH: &[(u8, &str)] = &[
    (0xA1, "exclamdown"),
    (0xA2, "cent"),
    (0xA3, "sterling"),
    (0xA4, "fraction"),
    (0xA5, "yen"),
    (0xA6, "florin"),
    (0xA7, "section"),
    (0xA8, "currency"),
    (0xA9, "quotesingle"),
    (0xAA, "quotedblleft"),
    (0xAB, "guillemotleft"),
    (0xAC, "guilsinglleft"),
    (0xAD, "guilsinglright"),
    (0xAE, "fi"),
    (0xAF, "fl"),
    (0xB1, "endash"),
    (0xB2, "dagger"),
    (0xB3, "daggerdbl"),
    (0xB4, "periodcentered"),
    (0xB6, "paragraph"),
    (0xB7, "bullet"),
    (0xB8, "quotesinglbase"),
    (0xB9, "quotedblbase"),
    (0xBA, "quotedblright"),
    (0xBB, "guillemotright"),
    (0xBC, "ellipsis"),
    (0xBD, "perthousand"),
    (0xBF, "questiondown"),
    (0xC1, "grave"),
    (0xC2, "acute"),
    (0xC3, "circumflex"),
    (0xC4, "tilde"),
    (0xC5, "macron"),
    (0xC6, "breve"),
    (0xC7, "dotaccent"),
    (0xC8, "dieresis"),
    (0xCA, "ring"),
    (0xCB, "cedilla"),
    (0xCD, "hungarumlaut"),
    (0xCE, "ogonek"),
    (0xCF, "caron"),
    (0xD0, "emdash"),
    (0xE1, "AE"),
    (0xE3, "ordfeminine"),
    (0xE8, "Lslash"),
    (0xE9, "Oslash"),
    (0xEA, "OE"),
    (0xEB, "ordmasculine"),
    (0xF1, "ae"),
    (0xF5, "dotlessi"),
    (0xF8, "lslash"),
    (0xF9, "oslash"),
    (0xFA, "oe"),
    (0xFB, "germandbls"),
];

impl Base {
    pub fn from_name(name: &[u8]) -> Option<Self> {
        match name {
            b"StandardEncoding" => Some(Base::Standard),
            b"WinAnsiEncoding" => Some(Base::WinAnsi),
            b"MacRomanEncoding" => Some(Base::MacRoman),
            _ => None,
        }
    }

    /// The 256 characters of this encoding.
    pub fn table(self) -> [char; 256] {
        let mut t = ['\0'; 256];
        for c in 32u8..127 {
            t[usize::from(c)] = char::from(c);
        }
        match self {
            Base::Standard => {
                t[39] = '’';
                t[96] = '‘';
                for &(code, name) in STANDARD_HIGH {
                    t[usize::from(code)] = glyph_char(name.as_bytes()).unwrap_or('\0');
                }
            }
            Base::WinAnsi => {
                for (i, c) in CP1252_HIGH.chars().enumerate() {
                    t[0x80 + i] = c;
                }
                for c in 0xA0u8..=0xFF {
                    t[usize::from(c)] = char::from(c);
                }
            }
            Base::MacRoman => {
                for (i, c) in MAC_HIGH.chars().enumerate().take(128) {
                    t[0x80 + i] = c;
                }
            }
        }
        t
    }
}

/// Helvetica's widths of ASCII 32..126, in thousandths of the font size.
const HELVETICA: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556, 556, 556,
    556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667, 611, 778, 722, 278,
    500, 667, 556, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469,
    556, 333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, 556, 556, 333, 500,
    278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
];
/// Times-Roman's widths of ASCII 32..126.
const TIMES: [u16; 95] = [
    250, 333, 408, 500, 500, 833, 778, 180, 333, 333, 500, 564, 250, 333, 250, 278, 500, 500, 500, 500, 500,
    500, 500, 500, 500, 500, 278, 278, 564, 564, 564, 444, 921, 722, 667, 667, 722, 611, 556, 722, 722, 333,
    389, 722, 611, 889, 722, 722, 556, 722, 667, 556, 611, 722, 722, 944, 722, 722, 611, 333, 278, 333, 469,
    500, 333, 444, 500, 444, 500, 444, 333, 500, 500, 278, 278, 500, 278, 778, 500, 500, 500, 500, 333, 389,
    278, 500, 500, 722, 500, 500, 444, 480, 200, 480, 541,
];

/// The width of `c` in a standard font named like `base_font` (subset prefixes and style
/// suffixes do not matter); 500 for anything unknown.
pub(super) fn standard_width(base_font: &[u8], c: char) -> f32 {
    let name = base_font.rsplit(|&b| b == b'+').next().unwrap_or(base_font);
    let has = |s: &[u8]| name.windows(s.len()).any(|w| w.eq_ignore_ascii_case(s));
    let table = if has(b"Courier") || has(b"Mono") {
        return 600.0;
    } else if has(b"Helvetica") || has(b"Arial") {
        &HELVETICA
    } else if has(b"Times") {
        &TIMES
    } else {
        return if (' '..='~').contains(&c) { f32::from(HELVETICA[c as usize - 32]) } else { 500.0 };
    };
    if (' '..='~').contains(&c) {
        f32::from(table[c as usize - 32])
    } else {
        500.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_to_text() {
        assert_eq!(glyph_text(b"four").as_deref(), Some("4"));
        assert_eq!(glyph_text(b"one.tf").as_deref(), Some("1"));
        assert_eq!(glyph_text(b"uni00340035").as_deref(), Some("45"));
        assert_eq!(glyph_text(b"u1F600").as_deref(), Some("\u{1F600}"));
        assert_eq!(glyph_text(b"f_i").as_deref(), Some("fi"));
        assert_eq!(glyph_text(b"Eacute").as_deref(), Some("É"));
        assert_eq!(glyph_text(b"g123"), None);
    }

    #[test]
    fn encodings() {
        assert_eq!(CP1252_HIGH.chars().count(), 32);
        assert_eq!(MAC_HIGH.chars().count(), 128);
        assert_eq!(Base::WinAnsi.table()[0x80], '€');
        assert_eq!(Base::MacRoman.table()[0x8E], 'é');
        assert_eq!(Base::Standard.table()[0xAE], 'ﬁ');
        assert_eq!(standard_width(b"ABCDEF+Helvetica-Bold", '4'), 556.0);
        assert_eq!(standard_width(b"Courier", 'x'), 600.0);
    }
}
