//! Line unfolding for the formats that fold long lines anywhere: vCard (RFC 6350),
//! iCalendar (RFC 5545) and LDIF (RFC 2849) break a line longer than 75 octets by a line
//! break and one space or tab, in the middle of a word or a number if it falls there
//! (`4111 1111 1111 11` CRLF SP `11`). A reader unfolds them, and so does this filter,
//! before a value is looked for.

use crate::charsets::{self, Label};

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

/// Longest property name and parameters looked at for `ENCODING=QUOTED-PRINTABLE`.
const MAX_HEAD: usize = 256;

/// Removes every line break followed by one space or tab, in any chunking; and decodes the
/// values of vCard 2.1 and vCalendar 1.0 properties marked quoted-printable
/// (`NOTE;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:...`, or `;QUOTED-PRINTABLE`): `=XX`
/// escapes, and a `=` at a line's end that continues the value on the next line (as phones
/// and Outlook export contacts, a value's middle too: `4111 1=` CRLF `111 1111 1111`), in
/// the property's `CHARSET=` (UTF-8 without one).
#[derive(Debug)]
pub(crate) struct Unfold {
    held: Held,
    /// The property's name and parameters so far, at a line's start (`None` once past its
    /// `:`, or longer than [`MAX_HEAD`]).
    head: Option<Vec<u8>>,
    /// The quoted-printable value in progress.
    qp: Option<Box<QpValue>>,
}

impl Unfold {
    pub fn new() -> Self {
        Self { held: Held::None, head: Some(Vec::new()), qp: None }
    }

    pub fn push(&mut self, data: &[u8], out: &mut Vec<u8>) {
        let mut rest = data;
        while let Some((&b, tail)) = rest.split_first() {
            match (self.held, b) {
                (Held::None, _) => {
                    let k = if let Some(q) = &mut self.qp {
                        // Up to the line break that is no soft break.
                        q.push(rest, out)
                    } else if let Some(head) = &mut self.head {
                        let k = memchr::memchr3(b':', b'\r', b'\n', rest).unwrap_or(rest.len());
                        if head.len() + k > MAX_HEAD {
                            self.head = None;
                        } else {
                            head.extend_from_slice(&rest[..k]);
                        }
                        if rest.get(k) == Some(&b':') {
                            out.extend_from_slice(&rest[..=k]);
                            self.qp = self
                                .head
                                .take()
                                .and_then(|h| qp_charset(&h))
                                .map(|l| Box::new(QpValue::new(l)));
                            rest = &rest[k + 1..];
                            continue;
                        }
                        k
                    } else {
                        // Copy up to the next line break at once.
                        memchr::memchr2(b'\r', b'\n', rest).unwrap_or(rest.len())
                    };
                    if self.qp.is_none() {
                        out.extend_from_slice(&rest[..k]);
                    }
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
        if let Some(mut q) = self.qp.take() {
            q.finish(out);
        }
    }

    /// A line break that is no fold: the property ends, a new one starts.
    #[inline]
    fn release(&mut self, held: Held, out: &mut Vec<u8>) {
        if held != Held::None {
            if let Some(mut q) = self.qp.take() {
                q.finish(out);
            }
            if held != Held::Cr {
                self.head = Some(self.head.take().unwrap_or_default());
                if let Some(h) = &mut self.head {
                    h.clear();
                }
            }
        }
        match held {
            Held::None => {}
            Held::Cr => out.push(b'\r'),
            Held::Break { cr } => out.extend_from_slice(if cr { b"\r\n" } else { b"\n" }),
        }
        self.held = Held::None;
    }
}

/// For a property head marked quoted-printable, its charset (`None`: as the bytes are).
fn qp_charset(head: &[u8]) -> Option<Option<Label>> {
    let mut qp = false;
    let mut charset = None;
    for p in head.split(|&b| b == b';').skip(1) {
        let p = p.trim_ascii();
        if p.eq_ignore_ascii_case(b"QUOTED-PRINTABLE") || p.eq_ignore_ascii_case(b"ENCODING=QUOTED-PRINTABLE")
        {
            qp = true;
        } else if p.len() > 8 && p[..8].eq_ignore_ascii_case(b"CHARSET=") {
            charset = Label::of(&p[8..]).filter(|l| l.transforms());
        }
    }
    qp.then_some(charset)
}

/// Where an `=` of a quoted-printable value stands between two pushes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Escape {
    None,
    /// An `=`.
    Equals,
    /// An `=` and a hex digit.
    Hex(u8),
    /// An `=` and a `\r`: a soft line break.
    Cr,
}

/// A quoted-printable property value, decoded as it arrives.
#[derive(Debug)]
struct QpValue {
    eq: Escape,
    decoder: Option<charsets::Decoder>,
    bytes: Vec<u8>,
}

impl QpValue {
    fn new(charset: Option<Label>) -> Self {
        Self { eq: Escape::None, decoder: charset.map(charsets::Decoder::new), bytes: Vec::new() }
    }

    /// Decodes `data` up to a line break that is no soft break; returns the bytes taken.
    fn push(&mut self, data: &[u8], out: &mut Vec<u8>) -> usize {
        let mut i = 0;
        while let Some(&b) = data.get(i) {
            match self.eq {
                Escape::None => {
                    let k = memchr::memchr3(b'=', b'\r', b'\n', &data[i..]).map_or(data.len(), |k| i + k);
                    self.bytes.extend_from_slice(&data[i..k]);
                    if data.get(k) != Some(&b'=') {
                        i = k;
                        break;
                    }
                    self.eq = Escape::Equals;
                    i = k + 1;
                }
                Escape::Equals => {
                    self.eq = match b {
                        b'\r' => Escape::Cr,
                        b'\n' => Escape::None,
                        _ if b.is_ascii_hexdigit() => Escape::Hex(b),
                        _ => {
                            self.bytes.push(b'=');
                            self.eq = Escape::None;
                            continue;
                        }
                    };
                    i += 1;
                }
                Escape::Hex(h) => {
                    self.eq = Escape::None;
                    if b.is_ascii_hexdigit() {
                        self.bytes.push((hex(h) << 4) | hex(b));
                        i += 1;
                    } else {
                        self.bytes.extend_from_slice(&[b'=', h]);
                    }
                }
                Escape::Cr => {
                    self.eq = Escape::None;
                    i += usize::from(b == b'\n');
                }
            }
        }
        self.flush(out);
        i
    }

    fn flush(&mut self, out: &mut Vec<u8>) {
        match &mut self.decoder {
            Some(d) => d.push(&self.bytes, out),
            None => out.extend_from_slice(&self.bytes),
        }
        self.bytes.clear();
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        match std::mem::replace(&mut self.eq, Escape::None) {
            Escape::Equals => self.bytes.push(b'='),
            Escape::Hex(h) => self.bytes.extend_from_slice(&[b'=', h]),
            _ => {}
        }
        self.flush(out);
        if let Some(d) = &mut self.decoder {
            d.finish(out);
        }
    }
}

fn hex(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        _ => b.wrapping_sub(b'A').wrapping_add(10),
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

    #[test]
    fn quoted_printable_values_are_decoded_in_any_chunking() {
        let cases: [(&[u8], &str); 5] = [
            (
                b"BEGIN:VCARD\r\nNOTE;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:f=C3=BCr 4111 1=\r\n111 1111 1111 x\r\nEND:VCARD\r\n",
                "BEGIN:VCARD\r\nNOTE;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:für 4111 1111 1111 1111 x\r\nEND:VCARD\r\n",
            ),
            // vCard 2.1's bare parameter, Latin-1, a soft break after LF only.
            (b"N;QUOTED-PRINTABLE;CHARSET=ISO-8859-2:=B1=\n=3D1\nX:=41=\r\n", "N;QUOTED-PRINTABLE;CHARSET=ISO-8859-2:ą=1\nX:=41=\r\n"),
            // Not marked: as it is; a fold still joins.
            (b"NOTE:4111 1=\r\n111\r\n 2", "NOTE:4111 1=\r\n1112"),
            // A bad escape stays; the value ends at a line break that is no soft break.
            (b"A;ENCODING=QUOTED-PRINTABLE:=ZZ=4=\r\n1 \r\nB:=41", "A;ENCODING=QUOTED-PRINTABLE:=ZZ=41 \r\nB:=41"),
            (b"A;ENCODING=QUOTED-PRINTABLE:a\r\n b=41", "A;ENCODING=QUOTED-PRINTABLE:abA"),
        ];
        for (text, want) in cases {
            for chunk in [1, 2, 3, 64] {
                assert_eq!(
                    String::from_utf8_lossy(&unfold(text, chunk)),
                    want,
                    "{:?} in chunks of {chunk}",
                    String::from_utf8_lossy(text)
                );
            }
        }
    }
}
