//! What a character becomes before detection: decimal digits of every script fold to ASCII
//! digits, Unicode spaces to a space, dashes and hyphens to `-`, middle dots and bullets
//! to `.`, invisible characters
//! (zero-width, soft hyphen, bidi controls, variation selectors, tags) and combining marks
//! of no script (accents, enclosing keycaps) to nothing.
//!
//! The tables follow the Unicode 15 character database: every `Nd` block, the `Zs` spaces,
//! the `Pd` dashes (with U+2212 MINUS SIGN), the `Cf` format characters and the other
//! default-ignorable code points, and the compatibility digits that NFKC folds to ASCII
//! (superscripts, subscripts, circled digits). Full-width ASCII folds to ASCII.

/// What a character is replaced with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Folded {
    /// Kept as it is.
    Keep,
    /// Removed.
    Drop,
    /// Replaced by one ASCII byte.
    Ascii(u8),
}

/// The zero of every block of ten decimal digits (`Nd`), in order.
const DIGIT_ZEROS: [u32; 68] = [
    0x30, 0x660, 0x6F0, 0x7C0, 0x966, 0x9E6, 0xA66, 0xAE6, 0xB66, 0xBE6, 0xC66, 0xCE6, 0xD66, 0xDE6, 0xE50,
    0xED0, 0xF20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90, 0x1B50, 0x1BB0, 0x1C40,
    0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0, 0xFF10, 0x104A0, 0x10D30, 0x11066,
    0x110F0, 0x11136, 0x111D0, 0x112F0, 0x11450, 0x114D0, 0x11650, 0x116C0, 0x11730, 0x118E0, 0x11950,
    0x11C50, 0x11D50, 0x11DA0, 0x11F50, 0x16A60, 0x16AC0, 0x16B50, 0x1D7CE, 0x1D7D8, 0x1D7E2, 0x1D7EC,
    0x1D7F6, 0x1E140, 0x1E2F0, 0x1E4F0, 0x1E950, 0x1FBF0,
];

/// Dash punctuation (`Pd`) other than `-` and the U+2010-2015 range, with U+2043 and U+2212.
const DASHES: [u32; 16] = [
    0x58A, 0x5BE, 0x1400, 0x1806, 0x2043, 0x2212, 0x2E17, 0x2E1A, 0x2E3A, 0x2E3B, 0x2E40, 0x2E5D, 0x301C,
    0x3030, 0x30A0, 0x10EAD,
];

/// Default-ignorable and format characters outside the ranges matched directly.
const INVISIBLE: [u32; 12] =
    [0xAD, 0x34F, 0x61C, 0x6DD, 0x70F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x3164, 0xFEFF, 0xFFA0];

/// The fold of one code point.
pub(crate) fn fold(cp: u32) -> Folded {
    use Folded::{Ascii, Drop, Keep};
    match cp {
        // Letters of the common scripts first: nothing in them folds.
        0..=0x7F | 0xBA..=0x02FF | 0x0370..=0x0589 | 0x4E00..=0x9FFF | 0xAC00..=0xD7A3 => Keep,
        // Combining marks of no script (accents, strokes, the keycap of `4️⃣`): a reader
        // sees the digit or letter they sit on.
        0x0300..=0x036F | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x20D0..=0x20FF | 0xFE20..=0xFE2F => Drop,
        0x85 => Ascii(b'\n'),
        0xA0 => Ascii(b' '),
        0xB2 => Ascii(b'2'),
        0xB3 => Ascii(b'3'),
        0xB9 => Ascii(b'1'),
        0x1680 | 0x2000..=0x200A | 0x202F | 0x205F | 0x3000 => Ascii(b' '),
        0x180B..=0x180F | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x206F => Drop,
        0x2010..=0x2015 | 0xFE31 | 0xFE32 | 0xFE58 | 0xFE63 => Ascii(b'-'),
        0x2028 | 0x2029 => Ascii(b'\n'),
        // Middle dots and bullets between groups read as dots (`4111·1111·1111·1111`).
        0xB7 | 0x2022 | 0x2027 | 0x2219 | 0x22C5 | 0x30FB | 0xFF65 => Ascii(b'.'),
        0x2070 => Ascii(b'0'),
        0x2074..=0x2079 => Ascii(b'4' + (cp - 0x2074) as u8),
        0x2080..=0x2089 => Ascii(b'0' + (cp - 0x2080) as u8),
        0x2460..=0x2468 => Ascii(b'1' + (cp - 0x2460) as u8),
        // Parenthesized (`⑴`), full stop (`⒈`) and double-circled (`⓵`) digits one to nine.
        0x2474..=0x247C => Ascii(b'1' + (cp - 0x2474) as u8),
        0x2488..=0x2490 => Ascii(b'1' + (cp - 0x2488) as u8),
        0x24F5..=0x24FD => Ascii(b'1' + (cp - 0x24F5) as u8),
        0x24FF => Ascii(b'0'),
        // The one dot leader and the word separator middle dot read as dots.
        0x2024 | 0x2E31 => Ascii(b'.'),
        0x24EA => Ascii(b'0'),
        0x2776..=0x277E => Ascii(b'1' + (cp - 0x2776) as u8),
        0x2780..=0x2788 => Ascii(b'1' + (cp - 0x2780) as u8),
        0x278A..=0x2792 => Ascii(b'1' + (cp - 0x278A) as u8),
        0xFE00..=0xFE0F | 0xFFF9..=0xFFFB => Drop,
        // Full-width ASCII (its digits are an Nd block too).
        0xFF01..=0xFF5E => Ascii((cp - 0xFEE0) as u8),
        0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A | 0xE0000..=0xE0FFF => Drop,
        // Digit zero full stop, digits with a comma (`🄂`), the sans-serif circled zeros.
        0x1F100 => Ascii(b'0'),
        0x1F101..=0x1F10A => Ascii(b'0' + (cp - 0x1F101) as u8),
        0x1F10B | 0x1F10C => Ascii(b'0'),
        _ => {
            if INVISIBLE.contains(&cp) {
                return Drop;
            }
            if DASHES.contains(&cp) {
                return Ascii(b'-');
            }
            // The last block zero at or below `cp`.
            let k = DIGIT_ZEROS.partition_point(|&z| z <= cp);
            match k.checked_sub(1).map(|k| cp - DIGIT_ZEROS[k]) {
                Some(d) if d < 10 => Ascii(b'0' + d as u8),
                _ => Keep,
            }
        }
    }
}

/// The fold of a byte that is not part of UTF-8, read as Windows-1252: `fold(cp1252(b))`,
/// without the search.
pub(crate) fn fold_cp1252(b: u8) -> Folded {
    match b {
        0x96 | 0x97 => Folded::Ascii(b'-'),
        0x95 | 0xB7 => Folded::Ascii(b'.'),
        0xA0 => Folded::Ascii(b' '),
        0xAD => Folded::Drop,
        0xB2 => Folded::Ascii(b'2'),
        0xB3 => Folded::Ascii(b'3'),
        0xB9 => Folded::Ascii(b'1'),
        _ => Folded::Keep,
    }
}

/// Windows-1252 code points of the bytes 0x80-0x9F (Latin-1 for the rest, and for the five
/// undefined bytes).
pub(crate) fn cp1252(b: u8) -> u32 {
    const HIGH: [u16; 32] = [
        0x20AC, 0x81, 0x201A, 0x192, 0x201E, 0x2026, 0x2020, 0x2021, 0x2C6, 0x2030, 0x160, 0x2039, 0x152,
        0x8D, 0x17D, 0x8F, 0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x2DC, 0x2122,
        0x161, 0x203A, 0x153, 0x9D, 0x17E, 0x178,
    ];
    match b {
        0x80..=0x9F => u32::from(HIGH[usize::from(b - 0x80)]),
        _ => u32::from(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_digit_block_folds() {
        for &z in &DIGIT_ZEROS {
            for d in 0..10 {
                assert_eq!(fold(z + d), if z == 0x30 { Folded::Keep } else { Folded::Ascii(b'0' + d as u8) });
            }
            if !DIGIT_ZEROS.contains(&(z + 10)) {
                assert_ne!(fold(z + 10), Folded::Ascii(b'0'), "{z:#x}");
            }
        }
        for (c, want) in [
            ('٤', b'4'),
            ('۴', b'4'),
            ('४', b'4'),
            ('４', b'4'),
            ('𝟒', b'4'),
            ('④', b'4'),
            ('⁴', b'4'),
            ('⑷', b'4'),
            ('⒋', b'4'),
            ('⓸', b'4'),
            ('🄅', b'4'),
            ('·', b'.'),
            ('․', b'.'),
        ] {
            assert_eq!(fold(c as u32), Folded::Ascii(want), "{c}");
        }
    }

    #[test]
    fn separators_and_invisibles() {
        for c in ['\u{A0}', '\u{2009}', '\u{202F}', '\u{2007}', '\u{3000}', '\u{205F}'] {
            assert_eq!(fold(c as u32), Folded::Ascii(b' '), "{:#x}", c as u32);
        }
        for c in ['\u{2010}', '\u{2011}', '\u{2013}', '\u{2014}', '\u{2212}', '\u{FF0D}', '\u{FE63}'] {
            assert_eq!(fold(c as u32), Folded::Ascii(b'-'), "{:#x}", c as u32);
        }
        for c in [
            '\u{200B}',
            '\u{200C}',
            '\u{200D}',
            '\u{2060}',
            '\u{FEFF}',
            '\u{AD}',
            '\u{180E}',
            '\u{200E}',
            '\u{202E}',
            '\u{2066}',
            '\u{2064}',
            '\u{FE0F}',
            '\u{E0041}',
        ] {
            assert_eq!(fold(c as u32), Folded::Drop, "{:#x}", c as u32);
        }
        for c in ['\u{B7}', '\u{2022}', '\u{30FB}'] {
            assert_eq!(fold(c as u32), Folded::Ascii(b'.'), "{:#x}", c as u32);
        }
        for c in ['a', 'é', 'ж', '中', '😀', '\u{2023}'] {
            assert_eq!(fold(c as u32), Folded::Keep, "{c}");
        }
        assert_eq!(cp1252(0x96), 0x2013);
        assert_eq!(cp1252(0xA0), 0xA0);
    }

    #[test]
    fn the_cp1252_shortcut_agrees_with_the_tables() {
        for b in 0..=255u8 {
            let want = if b < 0x80 { Folded::Keep } else { fold(cp1252(b)) };
            assert_eq!(fold_cp1252(b), want, "{b:#x}");
        }
    }

    #[test]
    fn the_fast_ranges_hold_nothing_that_folds() {
        // The plain definition: the tables alone, without the ranges matched first.
        let slow = |cp: u32| {
            if INVISIBLE.contains(&cp) {
                return Folded::Drop;
            }
            if DASHES.contains(&cp) {
                return Folded::Ascii(b'-');
            }
            let k = DIGIT_ZEROS.partition_point(|&z| z <= cp);
            match k.checked_sub(1).map(|k| cp - DIGIT_ZEROS[k]) {
                Some(d) if d < 10 && cp >= 0x80 => Folded::Ascii(b'0' + d as u8),
                _ => Folded::Keep,
            }
        };
        for cp in (0xBA..=0x02FF).chain(0x0370..=0x0589).chain(0x4E00..=0x9FFF).chain(0xAC00..=0xD7A3) {
            assert_eq!(slow(cp), Folded::Keep, "{cp:#x}");
        }
    }
}
