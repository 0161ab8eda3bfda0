//! What formulas, headers and numbers say once computed: the string literals a formula
//! concatenates, the text of an Excel header or footer without its codes, and the digits
//! of a whole number a cell stores in exponent or float form, and the characters a
//! spreadsheet string escapes as `_xHHHH_`.

/// Joins the string literals of a formula that concatenation puts together: literals
/// joined by `&`, and the arguments of `CONCATENATE`/`CONCAT`, so that
/// `"4111 1111 "&"1111 1111"` reads as the value it computes. Each joined group is a line.
/// True when some group joined two literals or more (a lone literal is already in the
/// formula's own text).
pub(super) fn join_literals(formula: &[u8], out: &mut Vec<u8>) -> bool {
    let mut j = Joiner { out, group: Vec::new(), in_group: 0, any: false };
    // Whether the last token was a literal, and whether what followed it joins the next.
    let mut after_literal = false;
    let mut joins = false;
    // Per open parenthesis: whether it is a call that concatenates its arguments.
    let mut calls: Vec<bool> = Vec::new();
    let mut ident_start: Option<usize> = None;
    let mut i = 0;
    while i < formula.len() {
        let b = formula[i];
        match b {
            b'"' => {
                if !joins {
                    j.end_group();
                }
                i = j.literal(formula, i + 1);
                after_literal = true;
                joins = false;
                ident_start = None;
                continue;
            }
            b'&' => joins = after_literal,
            b';' | b',' => joins = after_literal && calls.last() == Some(&true),
            b' ' | b'\t' | b'\r' | b'\n' => {}
            b'(' => {
                let name = ident_start.map_or(&b""[..], |s| &formula[s..i]);
                if calls.len() < 64 {
                    let upper = name.to_ascii_uppercase();
                    calls.push(upper.ends_with(b"CONCATENATE") || upper.ends_with(b"CONCAT"));
                }
                after_literal = false;
                joins = false;
            }
            b')' => {
                calls.pop();
                after_literal = false;
                joins = false;
            }
            _ => {
                let word = b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':');
                if !word {
                    ident_start = None;
                } else if ident_start.is_none() {
                    ident_start = Some(i);
                }
                after_literal = false;
                joins = false;
                i += 1;
                continue;
            }
        }
        if !matches!(b, b' ' | b'\t' | b'\r' | b'\n') {
            ident_start = None;
        }
        i += 1;
    }
    j.end_group();
    j.any
}

/// The groups of joined literals being built.
struct Joiner<'o> {
    out: &'o mut Vec<u8>,
    group: Vec<u8>,
    in_group: usize,
    any: bool,
}

impl Joiner<'_> {
    /// Reads a literal whose content starts at `i` (`""` is a quote) into the group;
    /// returns the offset after it.
    fn literal(&mut self, f: &[u8], mut i: usize) -> usize {
        loop {
            match memchr::memchr(b'"', &f[i..]) {
                Some(k) if f.get(i + k + 1) == Some(&b'"') => {
                    self.group.extend_from_slice(&f[i..=i + k]);
                    i += k + 2;
                }
                Some(k) => {
                    self.group.extend_from_slice(&f[i..i + k]);
                    self.in_group += 1;
                    return i + k + 1;
                }
                None => {
                    self.group.extend_from_slice(&f[i..]);
                    self.in_group += 1;
                    return f.len();
                }
            }
        }
    }

    fn end_group(&mut self) {
        if self.in_group >= 2 {
            self.out.extend_from_slice(&self.group);
            self.out.push(b'\n');
            self.any = true;
        }
        self.group.clear();
        self.in_group = 0;
    }
}

/// The text of an Excel header or footer (`&L`, `&C`, `&R` sections, `&P` page fields,
/// `&"font"`, `&12` sizes, `&K` colours, `&B` styles): sections and fields separate, codes
/// vanish, `&&` is an ampersand.
pub(super) fn header_footer_text(s: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        if b != b'&' {
            out.push(b);
            i += 1;
            continue;
        }
        i += 1;
        match s.get(i) {
            Some(b'&') => {
                out.push(b'&');
                i += 1;
            }
            Some(b'"') => {
                i += 1;
                i += memchr::memchr(b'"', &s[i..]).map_or(s.len() - i, |k| k + 1);
            }
            Some(c) if c.is_ascii_digit() => {
                while s.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
            }
            Some(b'K') => i = (i + 7).min(s.len()),
            Some(b'L' | b'C' | b'R' | b'P' | b'N' | b'D' | b'T' | b'F' | b'A' | b'Z' | b'G') => {
                out.push(b'\n');
                i += 1;
            }
            Some(_) => i += 1,
            None => {}
        }
    }
}

/// Most digits a whole number written in exponent form is expanded to: a card number has
/// at most 19, so a longer number is no value (and `1E400` costs nothing).
const MAX_INTEGER_DIGITS: usize = 32;

/// The digits of a whole number a cell or attribute stores as a float: Java's
/// `Double.toString` (Apache POI) writes `4.111111111111111E15`, Python `4111111111111111.0`,
/// OpenDocument's `office:value` exponent forms too. Writes the integer's digits (no sign,
/// no leading zeros) and returns true when `text` is such a number and not already written
/// as plain digits; false for plain integers, fractions and what is not a number.
pub(super) fn whole_number_digits(text: &[u8], out: &mut Vec<u8>) -> bool {
    let t = text.trim_ascii();
    let t = t.strip_prefix(b"-").or_else(|| t.strip_prefix(b"+")).unwrap_or(t);
    if !t.first().is_some_and(|&b| b.is_ascii_digit() || b == b'.') || t.len() > 64 {
        return false;
    }
    let (mantissa, exponent) = match t.iter().position(|&b| b == b'e' || b == b'E') {
        Some(k) => (&t[..k], Some(&t[k + 1..])),
        None => (t, None),
    };
    let (int, frac) = match mantissa.iter().position(|&b| b == b'.') {
        Some(k) => (&mantissa[..k], &mantissa[k + 1..]),
        None => (mantissa, &b""[..]),
    };
    let all_digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    if (int.is_empty() && frac.is_empty()) || !all_digits(int) || !all_digits(frac) {
        return false;
    }
    if exponent.is_none() && !mantissa.contains(&b'.') {
        return false; // plain digits, already read as they are
    }
    let exp: i64 = match exponent {
        None => 0,
        Some(e) => {
            let digits = e.strip_prefix(b"+").or_else(|| e.strip_prefix(b"-")).unwrap_or(e);
            if digits.is_empty() || digits.len() > 4 || !all_digits(digits) {
                return false;
            }
            let v = digits.iter().fold(0i64, |acc, &d| acc * 10 + i64::from(d - b'0'));
            if e.first() == Some(&b'-') {
                -v
            } else {
                v
            }
        }
    };
    // The decimal point moves `exp` places right: digits `int ++ frac`, point after
    // `int.len() + exp` of them; every digit after it must be zero.
    let digits: Vec<u8> = int.iter().chain(frac).copied().collect();
    let point = int.len() as i64 + exp;
    if point < 0 || digits.get(point.max(0) as usize..).is_some_and(|f| f.iter().any(|&d| d != b'0')) {
        return false;
    }
    let whole = &digits[..(point as usize).min(digits.len())];
    let zeros = (point as usize).saturating_sub(digits.len());
    let lead = whole.iter().take_while(|&&d| d == b'0').count();
    if whole.len() - lead + zeros > MAX_INTEGER_DIGITS {
        return false;
    }
    out.extend_from_slice(&whole[lead..]);
    out.extend(std::iter::repeat_n(b'0', zeros));
    if out.is_empty() {
        out.push(b'0');
    }
    true
}

/// Decodes the `_xHHHH_` escapes of a SpreadsheetML string (ECMA-376 `ST_Xstring`: a
/// UTF-16 code unit in four hex digits, `_x005F_` for an underscore that would start one),
/// as Excel shows it, appending to `out`. Returns where an escape the end of `t` may cut
/// begins (`t.len()` when none does): the caller holds those bytes back for the text that
/// follows.
pub(super) fn decode_xstring(t: &[u8], out: &mut Vec<u8>) -> usize {
    /// The code unit of a whole escape at the start of `s`.
    fn unit(s: &[u8]) -> Option<u16> {
        let hex = s.get(..7)?;
        if hex[0] != b'_' || hex[1] != b'x' || hex[6] != b'_' {
            return None;
        }
        let digits = std::str::from_utf8(&hex[2..6]).ok()?;
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u16::from_str_radix(digits, 16).ok()
    }
    /// Whether `s` (shorter than an escape) may be the start of one.
    fn may_start(s: &[u8]) -> bool {
        s.iter().enumerate().all(|(k, &b)| match k {
            0 => b == b'_',
            1 => b == b'x',
            _ => b.is_ascii_hexdigit(),
        })
    }
    let mut i = 0;
    while let Some(k) = memchr::memchr(b'_', &t[i..]) {
        out.extend_from_slice(&t[i..i + k]);
        let at = i + k;
        let rest = &t[at..];
        if rest.len() < 7 && may_start(rest) {
            return at;
        }
        let Some(u) = unit(rest) else {
            out.push(b'_');
            i = at + 1;
            continue;
        };
        let mut used = 7;
        let c = if (0xD800..0xDC00).contains(&u) {
            // A surrogate pair is two escapes.
            match rest.get(7..).and_then(unit) {
                Some(low) if (0xDC00..0xE000).contains(&low) => {
                    used = 14;
                    char::from_u32(0x10000 + ((u32::from(u) - 0xD800) << 10) + (u32::from(low) - 0xDC00))
                }
                _ if rest.len() < 14 && may_start(&rest[7..]) => return at,
                _ => None,
            }
        } else {
            char::from_u32(u32::from(u))
        };
        match c {
            Some(c) => {
                let mut b = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
            }
            // A lone surrogate: left as written.
            None => out.extend_from_slice(&rest[..used]),
        }
        i = at + used;
    }
    out.extend_from_slice(&t[i..]);
    t.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_join() {
        let join = |f: &[u8]| {
            let mut out = Vec::new();
            join_literals(f, &mut out).then(|| String::from_utf8(out).unwrap())
        };
        assert_eq!(join(br#"=A1&"ab""c"&"d""#).as_deref(), Some("ab\"cd\n"));
        assert_eq!(join(br#"=SUM(A1)&"x""#), None);
        assert_eq!(
            join(br#"IF(A1="Total";"none";"4111 0000"&" 0000 0032")"#).as_deref(),
            Some("4111 0000 0000 0032\n")
        );
        assert_eq!(join(br#"of:=CONCATENATE("123-45-";"6789";[.A1];"x")"#).as_deref(), Some("123-45-6789\n"));
        assert_eq!(join(br#"CONCAT( "a" , "b" )&"c""#).as_deref(), Some("ab\n"));
        assert_eq!(join(br#""a"&B1&"b""#), None);
    }

    #[test]
    fn whole_numbers_in_float_forms() {
        let digits = |t: &str| {
            let mut out = Vec::new();
            whole_number_digits(t.as_bytes(), &mut out).then(|| String::from_utf8(out).unwrap())
        };
        assert_eq!(digits("4.111111111111111E15").as_deref(), Some("4111111111111111"));
        assert_eq!(digits(" -4.111111111111111e+15").as_deref(), Some("4111111111111111"));
        assert_eq!(digits("4111111111111111.000").as_deref(), Some("4111111111111111"));
        assert_eq!(digits("0.41E2").as_deref(), Some("41"));
        assert_eq!(digits("5.5E3").as_deref(), Some("5500"));
        assert_eq!(digits("12E0").as_deref(), Some("12"));
        assert_eq!(digits(".0").as_deref(), Some("0"));
        assert_eq!(digits("4000E-3").as_deref(), Some("4"));
        for no in [
            "4111111111111111",
            "3.14",
            "4.1E-1",
            "1E400",
            "1E33",
            "abc",
            "1.2.3",
            "E5",
            "1E",
            "1e+",
            ".",
            "",
            "1.5E0",
        ] {
            assert_eq!(digits(no), None, "{no}");
        }
    }

    #[test]
    fn header_codes_vanish() {
        let mut out = Vec::new();
        header_footer_text(b"&L&\"Arial,Bold\"&12Page &P&C4111 0000&K00FF00 0000 0032&RA&&B", &mut out);
        assert_eq!(String::from_utf8(out).unwrap(), "\nPage \n\n4111 0000 0000 0032\nA&B");
    }

    #[test]
    fn xstring_escapes_decode_as_excel_shows_them() {
        let decode = |t: &str| {
            let mut out = Vec::new();
            let held = decode_xstring(t.as_bytes(), &mut out);
            (String::from_utf8(out).unwrap_or_default(), held)
        };
        assert_eq!(decode("_x0034_111 1111"), ("4111 1111".into(), 15));
        assert_eq!(
            decode("_x0034__x0031__X0031_ a_b _x12_ _x00zz_."),
            ("41_X0031_ a_b _x12_ _x00zz_.".into(), 40)
        );
        // `_x005F_` escapes the underscore: what follows is shown as written.
        assert_eq!(decode("_x005F_x0034_1"), ("_x0034_1".into(), 14));
        assert_eq!(decode("_xD83D__xDE00_!"), ("\u{1F600}!".into(), 15));
        assert_eq!(decode("_xDE00_"), ("_xDE00_".into(), 7));
        // An escape the end may cut is held back.
        assert_eq!(decode("41_x00"), ("41".into(), 2));
        assert_eq!(decode("41_"), ("41".into(), 2));
        assert_eq!(decode("_xD83D__x"), ("".into(), 0));
        assert_eq!(decode("_xD83D_ "), ("_xD83D_ ".into(), 8));
    }
}
