//! The text around escapes, as it is written. Decoding an escape can eat the first digits
//! of a value: `%4111 1111 1111 1111` decodes to `A11 1111 ...`, `\u4111...` to a CJK
//! letter, `&#4111...` to one character, `=41` in quoted-printable text to `A`, while
//! anyone reading the text sees the value. So after an escape no encoder writes (one that
//! stands for a letter or digit, a control character, an unterminated or impossible
//! character reference), the raw bytes are handed on to be read again without any escape
//! decoded (by a normaliser that only folds characters): the digits and separators right
//! before the escape, the escape without its introducer (`%`, `\u`, `&#`, `=`), and
//! [`AFTER`] bytes after it. Ordinary escapes (`%20`, `%C3%A9`, `&#233;`, `\u00e9`) hand
//! on nothing, so values near them are not read twice; text without escapes costs a
//! branch per piece of input.

use std::collections::VecDeque;

/// Raw bytes kept: the longest escape read whole (a numeric reference with many digits is
/// cut) and the digits before it.
const RECENT: usize = 64;
/// Bytes of digits and separators before an escape handed on: a value the escape sits
/// inside of (a grouped card is at most 23 bytes).
const BEFORE: usize = 24;
/// Raw bytes handed on after an escape: the longest value (an IBAN in groups, 42 bytes,
/// with separators folded from longer characters) ends there.
pub(crate) const AFTER: usize = 64;

/// Collects the raw bytes around escapes whose decoding may hide a value.
#[derive(Debug, Default)]
pub(crate) struct Unescaped {
    /// The last [`RECENT`] raw bytes.
    recent: VecDeque<u8>,
    /// Raw bytes still to hand on after the last escape.
    after: usize,
    /// Whether anything was handed on yet.
    started: bool,
    /// The bytes handed on, for the caller to take.
    pub out: Vec<u8>,
}

impl Unescaped {
    /// One raw byte, read by the escape decoders.
    #[inline]
    pub fn byte(&mut self, b: u8) {
        if self.recent.len() == RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back(b);
        if self.after > 0 {
            self.after -= 1;
            self.out.push(b);
        }
    }

    /// Raw bytes that passed without any escape.
    #[inline]
    pub fn bulk(&mut self, data: &[u8]) {
        if self.after > 0 {
            let take = self.after.min(data.len());
            self.out.extend_from_slice(&data[..take]);
            self.after -= take;
        }
        let keep = &data[data.len().saturating_sub(RECENT)..];
        let excess = (self.recent.len() + keep.len()).saturating_sub(RECENT);
        self.recent.drain(..excess.min(self.recent.len()));
        self.recent.extend(keep);
    }

    /// The last `back` raw bytes hold an escape no encoder writes (and maybe the byte that
    /// ended it), its first `intro` bytes the introducer: hands them on without the
    /// introducer, after the digits and separators before them, then the next [`AFTER`]
    /// bytes.
    pub fn mark(&mut self, back: usize, intro: usize) {
        if self.after > 0 {
            // Inside the bytes after an earlier escape: this one was handed on already.
            self.after = AFTER;
            return;
        }
        let n = self.recent.len();
        let start = n - back.min(n);
        let body = (start + intro).min(n);
        let run = self
            .recent
            .range(..start)
            .rev()
            .take_while(|&&b| b.is_ascii_digit() || b == b' ' || b == b'-')
            .count()
            .min(BEFORE);
        if self.started {
            self.out.push(b'\n');
        }
        self.started = true;
        self.out.extend(self.recent.range(start - run..start));
        self.out.extend(self.recent.range(body..));
        self.after = AFTER;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_around_marks_only() {
        let mut u = Unescaped::default();
        u.bulk(&[b'a'; 100]);
        u.bulk(b"card 4111 ");
        for &b in b"%41" {
            u.byte(b);
        }
        u.mark(3, 1);
        u.bulk(b"11 1111 1111 end");
        assert_eq!(String::from_utf8_lossy(&u.out), " 4111 4111 1111 1111 end");
        u.out.clear();
        u.bulk(&[b'b'; 200]);
        assert_eq!(u.out, vec![b'b'; AFTER - 16]);
        u.out.clear();
        u.bulk(&[b'c'; 10]);
        assert!(u.out.is_empty());
        for &b in b"&#4111 " {
            u.byte(b);
        }
        u.mark(7, 2);
        // Apart from the last bytes handed on: a line break first.
        assert_eq!(String::from_utf8_lossy(&u.out), "\n4111 ");
    }
}
