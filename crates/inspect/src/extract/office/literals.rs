//! What formulas and headers say once computed: the string literals a formula
//! concatenates, and the text of an Excel header or footer without its codes.

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
    fn header_codes_vanish() {
        let mut out = Vec::new();
        header_footer_text(b"&L&\"Arial,Bold\"&12Page &P&C4111 0000&K00FF00 0000 0032&RA&&B", &mut out);
        assert_eq!(String::from_utf8(out).unwrap(), "\nPage \n\n4111 0000 0000 0032\nA&B");
    }
}
