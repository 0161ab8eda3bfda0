//! IBANs: country code, the country's length, mod-97; written plain or in groups of four
//! (one line break may stand for a space between groups), in capitals or in lower case.

use super::numeric::line_break;
use super::{Builtin, Confidence, Found};

/// Country code (two letters of either case) -> IBAN length: one load from
/// [`LENGTH_BY_CODE`], since every pair of letters before a digit run in text asks.
fn iban_len(cc: &[u8]) -> Option<usize> {
    let &[a, b] = cc else { return None };
    let (a, b) = (a.to_ascii_uppercase(), b.to_ascii_uppercase());
    if !a.is_ascii_uppercase() || !b.is_ascii_uppercase() {
        return None;
    }
    match LENGTH_BY_CODE[usize::from(a - b'A') * 26 + usize::from(b - b'A')] {
        0 => None,
        n => Some(usize::from(n)),
    }
}

/// Whether two letters (of either case) are the country code of an IBAN: hex ids and UUIDs
/// put letters before digits everywhere, and few of their pairs are one.
#[inline]
pub(super) fn country_code(a: u8, b: u8) -> bool {
    iban_len(&[a, b]).is_some()
}

/// [`LENGTHS`] indexed by the pair of letters (`AA` = 0, `AB` = 1, ...); 0 for no country.
const LENGTH_BY_CODE: [u8; 26 * 26] = {
    let mut t = [0u8; 26 * 26];
    let mut k = 0;
    while k < LENGTHS.len() {
        let (cc, n) = LENGTHS[k];
        t[(cc[0] - b'A') as usize * 26 + (cc[1] - b'A') as usize] = n;
        k += 1;
    }
    t
};

/// Country code -> IBAN length (SWIFT IBAN registry).
const LENGTHS: &[(&[u8; 2], u8)] = &[
    (b"AD", 24),
    (b"AE", 23),
    (b"AL", 28),
    (b"AT", 20),
    (b"AZ", 28),
    (b"BA", 20),
    (b"BE", 16),
    (b"BG", 22),
    (b"BH", 22),
    (b"BI", 27),
    (b"BR", 29),
    (b"BY", 28),
    (b"CH", 21),
    (b"CR", 22),
    (b"CY", 28),
    (b"CZ", 24),
    (b"DE", 22),
    (b"DJ", 27),
    (b"DK", 18),
    (b"DO", 28),
    (b"EE", 20),
    (b"EG", 29),
    (b"ES", 24),
    (b"FI", 18),
    (b"FK", 18),
    (b"FO", 18),
    (b"FR", 27),
    (b"GB", 22),
    (b"GE", 22),
    (b"GI", 23),
    (b"GL", 18),
    (b"GR", 27),
    (b"GT", 28),
    (b"HR", 21),
    (b"HU", 28),
    (b"IE", 22),
    (b"IL", 23),
    (b"IQ", 23),
    (b"IS", 26),
    (b"IT", 27),
    (b"JO", 30),
    (b"KW", 30),
    (b"KZ", 20),
    (b"LB", 28),
    (b"LC", 32),
    (b"LI", 21),
    (b"LT", 20),
    (b"LU", 20),
    (b"LV", 21),
    (b"LY", 25),
    (b"MC", 27),
    (b"MD", 24),
    (b"ME", 22),
    (b"MK", 19),
    (b"MN", 20),
    (b"MR", 27),
    (b"MT", 31),
    (b"MU", 30),
    (b"NI", 28),
    (b"NL", 18),
    (b"NO", 15),
    (b"OM", 23),
    (b"PK", 24),
    (b"PL", 28),
    (b"PS", 29),
    (b"PT", 25),
    (b"QA", 29),
    (b"RO", 24),
    (b"RS", 22),
    (b"RU", 33),
    (b"SA", 24),
    (b"SC", 31),
    (b"SD", 18),
    (b"SE", 24),
    (b"SI", 19),
    (b"SK", 24),
    (b"SM", 27),
    (b"SO", 23),
    (b"ST", 25),
    (b"SV", 28),
    (b"TL", 23),
    (b"TN", 24),
    (b"TR", 26),
    (b"UA", 29),
    (b"VA", 22),
    (b"VG", 24),
    (b"XK", 20),
    (b"YE", 30),
];

/// An IBAN starting at `buf[p]` (its country code), reported when its length and
/// checksum are right. Its letters after the first are all capitals or all lower case
/// (`gb82 west ...`, `De89 ...`): people write IBANs either way, but a token of mixed case
/// is an id or a key, which the checksum alone would let through once in 97.
pub(super) fn at(buf: &[u8], base: u64, p: usize, found: &mut Found<'_>) {
    let Some(len) = buf.get(p..p + 2).and_then(iban_len) else {
        return;
    };
    let mut chars = [0u8; 34];
    let mut n = 0;
    let mut j = p;
    let mut broken = false;
    // A dash or dot between groups of four, the same one throughout (`DE89-3704-...`).
    let mut joiner: Option<u8> = None;
    let (mut upper, mut lower) = (false, false);
    while n < len && j < buf.len() {
        let c = buf[j];
        let at_group_end = n % 4 == 0 && n > 0;
        if c.is_ascii_alphanumeric() {
            if n > 0 {
                upper |= c.is_ascii_uppercase();
                lower |= c.is_ascii_lowercase();
            }
            chars[n] = c.to_ascii_uppercase();
            n += 1;
            j += 1;
        } else if let Some(k) = super::numeric::blanks_before(buf, j, u8::is_ascii_alphanumeric)
            .filter(|_| at_group_end && joiner.is_none_or(|b| b == b' '))
        {
            joiner = Some(b' ');
            j = k;
        } else if matches!(c, b'-' | b'.')
            && at_group_end
            && joiner.is_none_or(|b| b == c)
            && buf.get(j + 1).is_some_and(u8::is_ascii_alphanumeric)
        {
            joiner = Some(c);
            j += 1;
        } else if let Some(next) = line_break(buf, j).filter(|&k| {
            !broken
                && at_group_end
                && joiner.is_none_or(|b| b == b' ')
                && buf.get(k).is_some_and(u8::is_ascii_alphanumeric)
        }) {
            // Wrapped where a space was (the checksum makes a chance pairing of lines rare).
            broken = true;
            j = next;
        } else {
            break;
        }
    }
    if n != len
        || (upper && lower)
        || buf.get(j).is_some_and(|&b| b.is_ascii_alphanumeric() && !label_after(buf, j, joiner))
        || !chars[2].is_ascii_digit()
        || !chars[3].is_ascii_digit()
    {
        return;
    }
    if iban_mod97(&chars[..n]) {
        found.report(Builtin::Iban.id(), Confidence::High, base + p as u64, &buf[p..j]);
    }
}

/// Whether the upper-case word glued at `j` to an IBAN written in one piece, ending in a
/// digit, is a label of its own (`DE89370400440532013000BIC:COBADEFF`): the IBAN's length
/// is fixed by its country, and a digit followed by a letter marks where it ends.
fn label_after(buf: &[u8], j: usize, joiner: Option<u8>) -> bool {
    joiner.is_none()
        && j >= 1
        && buf[j - 1].is_ascii_digit()
        && buf.iter().skip(j).take(2).all(u8::is_ascii_uppercase)
}

/// Mod-97 of the rearranged IBAN (first four characters moved to the end) equals 1.
pub(crate) fn iban_mod97(s: &[u8]) -> bool {
    if s.len() < 5 {
        return false;
    }
    let mut r: u32 = 0;
    for &c in s[4..].iter().chain(&s[..4]) {
        if c.is_ascii_digit() {
            r = (r * 10 + u32::from(c - b'0')) % 97;
        } else if c.is_ascii_uppercase() {
            r = (r * 100 + u32::from(c - b'A' + 10)) % 97;
        } else {
            return false;
        }
    }
    r == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iban_checksum() {
        assert!(iban_mod97(b"DE89370400440532013000"));
        assert!(iban_mod97(b"GB82WEST12345698765432"));
        assert!(!iban_mod97(b"DE89370400440532013001"));
    }

    #[test]
    fn country_lengths_by_code_in_either_case() {
        assert_eq!(iban_len(b"DE"), Some(22));
        assert_eq!(iban_len(b"de"), Some(22));
        assert_eq!(iban_len(b"gB"), Some(22));
        assert_eq!(iban_len(b"NO"), Some(15));
        assert_eq!(iban_len(b"XX"), None);
        assert_eq!(iban_len(b"D1"), None);
        assert_eq!(iban_len(b"{A"), None);
        assert!(LENGTHS.iter().all(|(cc, n)| iban_len(cc.as_slice()) == Some(usize::from(*n))));
    }
}
