//! HTML and XML character references: the named ones that matter for detection (markup,
//! spaces, dashes, invisible characters, punctuation that separates digits) and the rules
//! for numeric ones (HTML5: any number of leading zeros, no `;` needed, Windows-1252 for
//! 128-159, U+FFFD for what is not a character).

use super::unicode::cp1252;

/// Longest entity name looked up; longer names are left as they are.
pub(crate) const MAX_NAME: usize = 32;

/// Named references, sorted by name (case-sensitive, as in HTML).
const NAMED: &[(&str, u32)] = &[
    ("AMP", 0x26),
    ("ApplyFunction", 0x2061),
    ("GT", 0x3E),
    ("Hyphen", 0x2010),
    ("InvisibleComma", 0x2063),
    ("InvisibleTimes", 0x2062),
    ("LT", 0x3C),
    ("MediumSpace", 0x205F),
    ("NegativeMediumSpace", 0x200B),
    ("NegativeThickSpace", 0x200B),
    ("NegativeThinSpace", 0x200B),
    ("NegativeVeryThinSpace", 0x200B),
    ("NoBreak", 0x2060),
    ("NonBreakingSpace", 0xA0),
    ("QUOT", 0x22),
    ("ThickSpace", 0x205F),
    ("ThinSpace", 0x2009),
    ("VeryThinSpace", 0x200A),
    ("ZeroWidthSpace", 0x200B),
    ("af", 0x2061),
    ("amp", 0x26),
    ("apos", 0x27),
    ("colon", 0x3A),
    ("comma", 0x2C),
    ("dash", 0x2010),
    ("emsp", 0x2003),
    ("emsp13", 0x2004),
    ("emsp14", 0x2005),
    ("ensp", 0x2002),
    ("equals", 0x3D),
    ("gt", 0x3E),
    ("hairsp", 0x200A),
    ("horbar", 0x2015),
    ("hyphen", 0x2010),
    ("ic", 0x2063),
    ("it", 0x2062),
    ("lowbar", 0x5F),
    ("lrm", 0x200E),
    ("lt", 0x3C),
    ("mdash", 0x2014),
    ("minus", 0x2212),
    ("nbsp", 0xA0),
    ("ndash", 0x2013),
    ("num", 0x23),
    ("numsp", 0x2007),
    ("percnt", 0x25),
    ("period", 0x2E),
    ("plus", 0x2B),
    ("puncsp", 0x2008),
    ("quot", 0x22),
    ("rlm", 0x200F),
    ("shy", 0xAD),
    ("sol", 0x2F),
    ("thinsp", 0x2009),
    ("zwj", 0x200D),
    ("zwnj", 0x200C),
];

/// Names HTML also accepts without the `;` (the legacy ones among [`NAMED`]).
const LEGACY: &[&str] = &["AMP", "GT", "LT", "QUOT", "amp", "gt", "lt", "nbsp", "quot", "shy"];

/// The character a named reference stands for; `terminated` says whether a `;` ended it.
pub(crate) fn named(name: &[u8], terminated: bool) -> Option<u32> {
    let name = std::str::from_utf8(name).ok()?;
    if !terminated && !LEGACY.contains(&name) {
        return None;
    }
    NAMED.binary_search_by(|(n, _)| n.cmp(&name)).ok().map(|k| NAMED[k].1)
}

/// The character a numeric reference stands for, as HTML decodes it; `value` saturates
/// at 0x110000 while digits are read.
pub(crate) fn numeric(value: u32) -> char {
    match value {
        0x80..=0x9F => char::from_u32(cp1252(value as u8)).unwrap_or('\u{FFFD}'),
        0 => '\u{FFFD}',
        v => char::from_u32(v).unwrap_or('\u{FFFD}'),
    }
}

/// Adds a digit to a numeric reference's value, saturating past the last code point.
pub(crate) fn push_digit(value: u32, radix: u32, digit: u32) -> u32 {
    value.saturating_mul(radix).saturating_add(digit).min(0x110000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_legacy_names_exist() {
        assert!(NAMED.windows(2).all(|w| w[0].0 < w[1].0));
        for l in LEGACY {
            assert!(named(l.as_bytes(), true).is_some(), "{l}");
        }
        assert!(NAMED.iter().all(|(n, _)| n.len() <= MAX_NAME));
    }

    #[test]
    fn references() {
        assert_eq!(named(b"nbsp", false), Some(0xA0));
        assert_eq!(named(b"ndash", false), None);
        assert_eq!(named(b"ndash", true), Some(0x2013));
        assert_eq!(named(b"NDASH", true), None);
        assert_eq!(numeric(52), '4');
        assert_eq!(numeric(150), '\u{2013}');
        assert_eq!(numeric(0xD800), '\u{FFFD}');
        assert_eq!(numeric(push_digit(0x10FFFF, 16, 15)), '\u{FFFD}');
    }
}
