//! Line unfolding for the formats that fold long lines anywhere: vCard (RFC 6350),
//! iCalendar (RFC 5545) and LDIF (RFC 2849) break a line longer than 75 octets by a line
//! break and one space or tab, in the middle of a word or a number if it falls there
//! (`4111 1111 1111 11` CRLF SP `11`). A reader unfolds them, and so does this filter,
//! before a value is looked for.

/// Where a possible fold stands between two pushes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Held {
    None,
    /// A `\r`, maybe the start of a fold.
    Cr,
    /// A line break (`\n` or `\r\n`): a fold when a space or tab follows.
    Break {
        cr: bool,
    },
}

/// Removes every line break followed by one space or tab, in any chunking.
#[derive(Debug)]
pub(crate) struct Unfold {
    held: Held,
}

impl Unfold {
    pub fn new() -> Self {
        Self { held: Held::None }
    }

    pub fn push(&mut self, data: &[u8], out: &mut Vec<u8>) {
        let mut rest = data;
        while let Some((&b, tail)) = rest.split_first() {
            match (self.held, b) {
                (Held::None, _) => {
                    // Copy up to the next line break at once.
                    let k = memchr::memchr2(b'\r', b'\n', rest).unwrap_or(rest.len());
                    out.extend_from_slice(&rest[..k]);
                    rest = &rest[k..];
                    if let Some((&brk, tail)) = rest.split_first() {
                        self.held = if brk == b'\r' { Held::Cr } else { Held::Break { cr: false } };
                        rest = tail;
                    }
                    continue;
                }
                (Held::Cr, b'\n') => self.held = Held::Break { cr: true },
                (Held::Break { .. }, b' ' | b'\t') => self.held = Held::None,
                (held, _) => {
                    // Not a fold: the held bytes are text, and `b` is read afresh.
                    self.release(held, out);
                    continue;
                }
            }
            rest = tail;
        }
    }

    /// Hands on what is held at the end of the text (a last line break: nothing a value
    /// could need, so the text node does not ask).
    #[cfg(test)]
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        let held = self.held;
        self.release(held, out);
    }

    #[inline]
    fn release(&mut self, held: Held, out: &mut Vec<u8>) {
        match held {
            Held::None => {}
            Held::Cr => out.push(b'\r'),
            Held::Break { cr } => out.extend_from_slice(if cr { b"\r\n" } else { b"\n" }),
        }
        self.held = Held::None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unfold(text: &[u8], chunk: usize) -> Vec<u8> {
        let (mut u, mut out) = (Unfold::new(), Vec::new());
        for c in text.chunks(chunk) {
            u.push(c, &mut out);
        }
        u.finish(&mut out);
        out
    }

    #[test]
    fn folds_go_and_line_breaks_stay_in_any_chunking() {
        let cases: [(&[u8], &[u8]); 6] = [
            (b"NOTE:card 4111 1111 1111 11\r\n 11 end\r\n", b"NOTE:card 4111 1111 1111 1111 end\r\n"),
            (b"a\n\tb\nc", b"ab\nc"),
            (b"a\r\n\r\n b", b"a\r\nb"),
            (b"a\rb\r", b"a\rb\r"),
            (b"a\r\n  b", b"a b"),
            (b"\r\n", b"\r\n"),
        ];
        for (text, want) in cases {
            for chunk in [1, 2, 3, 64] {
                assert_eq!(
                    unfold(text, chunk),
                    want,
                    "{:?} in chunks of {chunk}",
                    String::from_utf8_lossy(text)
                );
            }
        }
    }
}
