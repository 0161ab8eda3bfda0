//! The normaliser: what every member's text goes through before detection, so that a value
//! written in another script's digits, with invisible characters inside, with Unicode
//! spaces or dashes between its groups, or with escapes of any of the usual kinds is seen
//! as the plain value it stands for.
//!
//! Two stages, both streaming state machines that take any chunking of their input:
//!
//! 1. **Escapes to bytes**: URL percent-encoding (`%34`), JSON and JavaScript `\uXXXX`
//!    (surrogate pairs joined), quoted-printable (`=34`, `=` soft line breaks) when the
//!    member is evidently quoted-printable, and in a form body `+` as a space and `&`
//!    between fields as a line break.
//! 2. **Characters to what detection sees** (`chars`): HTML character references (named,
//!    `&#52;`, `&#x34;`), then the Unicode fold over every character: UTF-8 decoded, bytes
//!    that are not UTF-8 read as Windows-1252 (so a Latin-1 no-break space 0xA0 is a space).
//!
//! Output is never longer than input: every escape is longer than the bytes it stands for,
//! and a folded character is at most as long as its encoding. Evidence offsets are offsets
//! in this normalised text.
//!
//! Text that needs none of this costs one vectorised pass that finds no trigger byte (a
//! byte of 0x80 or more, `%`, `\`, `&`, and `=` or `+` in the modes that use them); the
//! input is then handed on as it is, without a copy. A member's first bytes (up to
//! [`SNIFF_MAX`]) are held back until it is known whether it is quoted-printable or a form
//! body; the decision depends on the content only, never on how it was chunked.

use super::chars::{hex, CharStage};
use super::sniff::decide;
use super::unescaped::Unescaped;
use super::unicode::{fold, Folded};

/// Bytes of a member looked at, at most, to decide whether it is quoted-printable or a form
/// body; they are held back until then.
pub(crate) const SNIFF_MAX: usize = 4096;
/// The head is sniffed again after growing by this much (and when full or ended).
const SNIFF_STEP: usize = 256;
/// Hex digits of a `\u{...}` escape: enough for U+10FFFF with leading zeros of JavaScript
/// source as it is written (`\u{0034}`).
const MAX_BRACE: usize = 6;

/// Which decoders a member needs, from what is known before its text.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Options {
    /// Whether the member may be quoted-printable or a form body: decided from its head.
    pub sniff: bool,
    /// The member is a form body (`application/x-www-form-urlencoded`).
    pub form: bool,
    /// Only the Unicode fold, no escape of any kind decoded: for the text around escapes
    /// read again as it is written (see `unescaped`).
    pub fold_only: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Esc {
    Idle,
    /// After `%`, with the first hex digit once read.
    Pct(Option<u8>),
    /// After `\`.
    Backslash,
    /// In `\uXXXX`: the digits read so far.
    U {
        n: u8,
        raw: [u8; 4],
    },
    /// In `\u{X...}` (JavaScript): the digits read so far, at most [`MAX_BRACE`].
    UBrace {
        n: u8,
        raw: [u8; MAX_BRACE],
    },
    /// In `\xXX` (JavaScript, C, Python), with the first hex digit once read.
    X(Option<u8>),
    /// In `%uXXXX` (JavaScript's `escape()`, decoded by IIS): the digits read so far.
    PctU {
        u: u8,
        n: u8,
        raw: [u8; 4],
    },
    /// After `=` in quoted-printable, with the first hex digit once read.
    Qp(Option<u8>),
    /// After `=\r`.
    QpCr,
}

/// The streaming normaliser of one member's text.
#[derive(Debug)]
pub(crate) struct Normalizer {
    /// The member's first bytes while it is not yet known whether it is quoted-printable
    /// or a form body; `None` once decided.
    head: Option<Vec<u8>>,
    /// Head length at the last sniff.
    sniffed: usize,
    qp: bool,
    form: bool,
    esc: Esc,
    /// A percent escape begun by a decoded `%` (text percent-encoded more than once), with
    /// its first hex digit once read.
    outer: Option<Option<u8>>,
    /// A `\uD8xx` high surrogate waiting for its low half.
    high: Option<u16>,
    chars: CharStage,
    /// Byte classes of the fast path for the current modes.
    classes: &'static [u8; 256],
    /// While a push runs: its input is known to hold no byte of 0x80 or more (the caller
    /// learnt it in a pass of its own), so the trigger search looks for escapes only.
    ascii: bool,
    fold_only: bool,
    /// The raw text around escapes that may have eaten a value's digits.
    unescaped: Unescaped,
    /// The byte just read ended an escape no encoder writes (see `unescaped`): its raw
    /// length and its introducer's.
    odd_escape: Option<(usize, usize)>,
}

impl Normalizer {
    pub fn new(opts: Options) -> Self {
        Self {
            head: opts.sniff.then(Vec::new),
            sniffed: 0,
            qp: false,
            form: opts.form,
            esc: Esc::Idle,
            outer: None,
            high: None,
            chars: CharStage::new(!opts.fold_only),
            classes: if opts.fold_only { &FOLD_ONLY } else { classes_for(false, opts.form) },
            ascii: false,
            fold_only: opts.fold_only,
            unescaped: Unescaped::default(),
            odd_escape: None,
        }
    }

    /// The raw text around escapes that may have hidden a value's digits, collected so far
    /// (see `unescaped`): the caller reads it again with a fold-only normaliser, then
    /// clears it.
    pub fn unescaped(&mut self) -> &mut Vec<u8> {
        &mut self.unescaped.out
    }

    /// Normalises the next piece of text: the result is `data` itself when nothing in it
    /// needed a change, or `out` (cleared first) holding the normalised text. `ascii`: every
    /// byte of `data` is known to be below 0x80.
    pub fn push<'a>(&mut self, data: &'a [u8], out: &'a mut Vec<u8>, ascii: bool) -> &'a [u8] {
        out.clear();
        let mut data = data;
        if let Some(head) = &mut self.head {
            // Often the first piece decides already: then nothing is held back.
            let at_once = if head.is_empty() { decide(data, false) } else { None };
            if let Some((qp, form)) = at_once {
                self.decided(qp, form);
            } else {
                let take = (SNIFF_MAX - head.len()).min(data.len());
                head.extend_from_slice(&data[..take]);
                data = &data[take..];
                if head.len() < SNIFF_MAX && head.len() < self.sniffed + SNIFF_STEP {
                    return &out[..];
                }
                self.sniffed = head.len();
                let Some((qp, form)) = decide(head, false) else {
                    return &out[..];
                };
                let head = std::mem::take(head);
                self.decided(qp, form);
                self.slow(&head, out);
            }
        }
        // From here on only `data` (or the rest of it) is looked at.
        self.ascii = ascii;
        if out.is_empty() && self.idle() {
            let k = self.find_trigger(data);
            if k == data.len() {
                self.ascii = false;
                self.unescaped.bulk(data);
                return data;
            }
            out.reserve(data.len());
            out.extend_from_slice(&data[..k]);
            self.unescaped.bulk(&data[..k]);
            data = &data[k..];
        }
        self.slow(data, out);
        self.ascii = false;
        &out[..]
    }

    /// Ends the text: decides on what was held back, and writes out unfinished escapes
    /// as they were.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        out.clear();
        if let Some(head) = self.head.take() {
            let (qp, form) = decide(&head, true).unwrap_or((false, false));
            self.decided(qp, form);
            self.slow(&head, out);
        }
        let esc = std::mem::replace(&mut self.esc, Esc::Idle);
        self.flush_percent_nest(out);
        match esc {
            Esc::Idle | Esc::QpCr => {}
            Esc::Pct(first) => {
                self.chars.push(b'%', out);
                first.into_iter().for_each(|h| self.chars.push(h, out));
            }
            Esc::Backslash => self.chars.push(b'\\', out),
            Esc::U { n, raw } => self.unfinished(b"\\u", &raw[..usize::from(n)], out),
            Esc::UBrace { n, raw } => self.unfinished(b"\\u{", &raw[..usize::from(n)], out),
            Esc::X(first) => self.unfinished(b"\\x", first.as_slice(), out),
            Esc::PctU { u, n, raw } => self.unfinished(&[b'%', u], &raw[..usize::from(n)], out),
            Esc::Qp(first) => {
                self.chars.push(b'=', out);
                first.into_iter().for_each(|h| self.chars.push(h, out));
            }
        }
        self.lone_high(out);
        self.chars.finish(out);
    }

    /// Writes an escape that did not complete as the text it is.
    fn unfinished(&mut self, intro: &[u8], digits: &[u8], out: &mut Vec<u8>) {
        self.lone_high(out);
        intro.iter().chain(digits).for_each(|&b| self.chars.push(b, out));
    }

    fn decided(&mut self, qp: bool, form: bool) {
        self.head = None;
        if self.fold_only {
            return;
        }
        self.qp = qp;
        self.form |= form;
        self.classes = classes_for(self.qp, self.form);
    }

    fn idle(&self) -> bool {
        self.esc == Esc::Idle && self.outer.is_none() && self.high.is_none() && self.chars.is_idle()
    }

    /// Index of the first byte that needs the state machines (`data.len()` if none).
    fn find_trigger(&self, data: &[u8]) -> usize {
        // Text in another script has one right away, or after a space: look at the first
        // bytes one by one before searching blocks.
        let is_trigger = |b: u8| {
            b >= 0x80
                || matches!(b, b'%' | b'\\' | b'&')
                || (b == b'=' && self.qp)
                || (b == b'+' && self.form)
        };
        if self.fold_only {
            return first_high_byte(data).unwrap_or(data.len());
        }
        if let Some(k) = data.iter().take(8).position(|&b| is_trigger(b)) {
            return k;
        }
        if self.qp || self.form {
            return data.iter().position(|&b| is_trigger(b)).unwrap_or(data.len());
        }
        // A window at a time, doubling from 256 bytes: the first byte of 0x80 or more (found
        // by OR-ing blocks, which the compiler vectorises), and before it `%`, `\` or `&`
        // (memchr). The work of a search is proportional to the distance it covers, whether
        // triggers are dense (escaped text) or far apart (plain text).
        if self.ascii {
            return memchr::memchr3(b'%', b'\\', b'&', data).unwrap_or(data.len());
        }
        let mut at = 0;
        let mut window = 256;
        while at < data.len() {
            let w = &data[at..(at + window).min(data.len())];
            let high = first_high_byte(w);
            let limit = high.unwrap_or(w.len());
            if let Some(k) = memchr::memchr3(b'%', b'\\', b'&', &w[..limit]) {
                return at + k;
            }
            if high.is_some() {
                return at + limit;
            }
            at += w.len();
            window = (window * 2).min(64 * 1024);
        }
        data.len()
    }

    /// Byte by byte through both stages, back to the fast path whenever both are idle.
    fn slow(&mut self, mut data: &[u8], out: &mut Vec<u8>) {
        while let Some((&b, rest)) = data.split_first() {
            self.unescaped.byte(b);
            self.escapes(b, out);
            if let Some((back, intro)) = self.odd_escape.take().or_else(|| self.chars.odd_reference.take()) {
                self.unescaped.mark(back, intro);
            }
            data = rest;
            if self.idle() {
                let k = self.unchanged(data);
                self.unescaped.bulk(&data[..k]);
                out.extend_from_slice(&data[..k]);
                data = &data[k..];
            }
        }
    }

    /// How many bytes from the start of `data` pass unchanged: ASCII up to a trigger (found
    /// a block at a time), and whole UTF-8 characters that do not fold, so that text in
    /// another script is copied without the state machines, a table load per byte.
    fn unchanged(&self, data: &[u8]) -> usize {
        let mut i = 0;
        loop {
            i += self.find_trigger(&data[i..]);
            // Characters one by one, until a stretch of ASCII long enough for blocks.
            let mut ascii = 0;
            while ascii < 16 {
                let Some(&b) = data.get(i) else { return i };
                let class = self.classes[usize::from(b)];
                if class == PLAIN {
                    i += 1;
                    ascii += 1;
                    continue;
                }
                ascii = 0;
                if class == 2 {
                    // Two bytes of a script with nothing to fold (Latin, Greek, Cyrillic, ...).
                    match data.get(i + 1) {
                        Some(&c) if c & 0xC0 == 0x80 => i += 2,
                        _ => return i,
                    }
                    continue;
                }
                let len = usize::from(class & LEN);
                let Some(seq) = data.get(i..i + len).filter(|seq| len > 0 && valid_sequence(seq)) else {
                    return i;
                };
                if class & MAY_FOLD != 0 {
                    let folds = std::str::from_utf8(seq)
                        .ok()
                        .and_then(|s| s.chars().next())
                        .is_none_or(|c| fold(c as u32) != Folded::Keep);
                    if folds {
                        return i;
                    }
                }
                i += len;
            }
        }
    }

    /// A byte a percent escape decoded (or a raw byte inside an escape a decoded `%` began):
    /// `%` begins another escape, so text encoded twice or more (`%2534`, `%25%33%34`,
    /// `%252534`) reads as it would decoded as often; a byte that continues no escape is
    /// text. Each input byte is looked at a bounded number of times.
    fn percent_byte(&mut self, x: u8, out: &mut Vec<u8>) {
        if let Some(first) = self.outer {
            if x.is_ascii_hexdigit() {
                match first {
                    None => self.outer = Some(Some(x)),
                    Some(h) => {
                        self.outer = None;
                        let v = (hex(h) << 4) | hex(x);
                        // `%254111 ...` and `=254111 ...` read `%4111 ...` once decoded, and
                        // that is what a reader sees: the usual shape, `%25` and two digits.
                        if odd_byte(v) || (h.is_ascii_alphabetic() && x.is_ascii_alphabetic()) {
                            self.odd_escape = Some((5, 3));
                        }
                        self.percent_byte(v, out);
                    }
                }
                return;
            }
            self.flush_percent_nest(out);
        }
        if x == b'%' {
            self.outer = Some(None);
        } else {
            self.chars.push(x, out);
        }
    }

    /// Writes an open escape a decoded `%` began as the text it is.
    fn flush_percent_nest(&mut self, out: &mut Vec<u8>) {
        if let Some(first) = self.outer.take() {
            self.chars.push(b'%', out);
            if let Some(h) = first {
                self.chars.push(h, out);
            }
        }
    }

    /// Stage 1: escapes to bytes.
    fn escapes(&mut self, b: u8, out: &mut Vec<u8>) {
        if self.fold_only {
            self.chars.push(b, out);
            return;
        }
        match self.esc {
            // Inside an escape begun by a decoded `%`: raw hex digits continue it, and so do
            // the bytes quoted-printable escapes decode (`=25=34=31` is `%41`).
            Esc::Idle if self.outer.is_some() && b != b'%' && !(b == b'=' && self.qp) => {
                self.percent_byte(b, out)
            }
            Esc::Idle => {
                // `\u` and `%u` escapes may be the low half of a surrogate pair.
                if b != b'\\' && b != b'%' {
                    self.lone_high(out);
                }
                match b {
                    b'%' => self.esc = Esc::Pct(None),
                    b'\\' => self.esc = Esc::Backslash,
                    b'=' if self.qp => self.esc = Esc::Qp(None),
                    b'+' if self.form => self.chars.push(b' ', out),
                    b'&' if self.form => self.chars.push(b'\n', out),
                    _ => self.chars.push(b, out),
                }
            }
            Esc::Pct(None) if b.is_ascii_hexdigit() => self.esc = Esc::Pct(Some(b)),
            Esc::Pct(None) if matches!(b, b'u' | b'U') && self.outer.is_none() => {
                self.esc = Esc::PctU { u: b, n: 0, raw: [0; 4] }
            }
            Esc::Pct(Some(h)) if b.is_ascii_hexdigit() => {
                self.esc = Esc::Idle;
                self.lone_high(out);
                let x = (hex(h) << 4) | hex(b);
                // Two letters may be an IBAN's country code (`%DE89 ...`); a byte that can
                // neither be nor start a character here may be text (`%B4111...^`, a
                // magnetic stripe's track 1).
                if odd_byte(x)
                    || (h.is_ascii_alphabetic() && b.is_ascii_alphabetic())
                    || (x >= 0x80 && self.chars.is_idle() && !(0xC2..=0xF4).contains(&x))
                {
                    self.odd_escape = Some((3, 1));
                }
                self.percent_byte((hex(h) << 4) | hex(b), out);
            }
            Esc::Pct(first) => {
                self.esc = Esc::Idle;
                self.lone_high(out);
                self.flush_percent_nest(out);
                self.chars.push(b'%', out);
                first.into_iter().for_each(|h| self.chars.push(h, out));
                self.escapes(b, out);
            }
            Esc::Backslash if b == b'u' => self.esc = Esc::U { n: 0, raw: [0; 4] },
            // A line break or tab escaped in a string (a SQL dump, a log line holding JSON, a
            // vCard note, CSV from a script): a reader sees the break, which parts what is
            // before it from a value after it (`note\n4111 ...`).
            Esc::Backslash if matches!(b, b'n' | b'N' | b'r' | b't') => {
                self.esc = Esc::Idle;
                self.lone_high(out);
                self.chars.push(if b == b't' { b'\t' } else { b'\n' }, out);
            }
            Esc::Backslash if b == b'x' => {
                self.lone_high(out);
                self.esc = Esc::X(None);
            }
            Esc::X(None) if b.is_ascii_hexdigit() => self.esc = Esc::X(Some(b)),
            Esc::X(Some(h)) if b.is_ascii_hexdigit() => {
                self.esc = Esc::Idle;
                let x = (hex(h) << 4) | hex(b);
                if odd_byte(x) || (h.is_ascii_alphabetic() && b.is_ascii_alphabetic()) {
                    self.odd_escape = Some((4, 2));
                }
                // A byte, as in C and Python (`\xC3\xA9` is UTF-8); in JavaScript the
                // character U+00XX, which a byte of 0x80 or more not starting UTF-8 reads as.
                self.chars.push(x, out);
            }
            Esc::X(first) => {
                self.esc = Esc::Idle;
                self.unfinished(b"\\x", first.as_slice(), out);
                self.escapes(b, out);
            }
            Esc::U { n: 0, .. } if b == b'{' => {
                self.lone_high(out);
                self.esc = Esc::UBrace { n: 0, raw: [0; MAX_BRACE] };
            }
            Esc::UBrace { n, mut raw } if b.is_ascii_hexdigit() && usize::from(n) < MAX_BRACE => {
                raw[usize::from(n)] = b;
                self.esc = Esc::UBrace { n: n + 1, raw };
            }
            Esc::UBrace { n, raw } if b == b'}' && n > 0 => {
                self.esc = Esc::Idle;
                let v = raw[..usize::from(n)].iter().fold(0u32, |acc, &h| (acc << 4) | u32::from(hex(h)));
                let c = char::from_u32(v).unwrap_or('\u{FFFD}');
                let mut buf = [0u8; 4];
                c.encode_utf8(&mut buf).bytes().for_each(|b| self.chars.push(b, out));
            }
            Esc::UBrace { n, raw } => {
                self.esc = Esc::Idle;
                self.unfinished(b"\\u{", &raw[..usize::from(n)], out);
                self.escapes(b, out);
            }
            Esc::PctU { u, n, mut raw } if b.is_ascii_hexdigit() => {
                raw[usize::from(n)] = b;
                if n < 3 {
                    self.esc = Esc::PctU { u, n: n + 1, raw };
                } else {
                    self.esc = Esc::Idle;
                    if raw.iter().all(u8::is_ascii_digit) {
                        self.odd_escape = Some((6, 2));
                    }
                    let unit = raw.iter().fold(0u16, |acc, &h| (acc << 4) | u16::from(hex(h)));
                    self.utf16_unit(unit, out);
                }
            }
            Esc::PctU { u, n, raw } => {
                self.esc = Esc::Idle;
                self.unfinished(&[b'%', u], &raw[..usize::from(n)], out);
                self.escapes(b, out);
            }
            Esc::Backslash => {
                self.esc = Esc::Idle;
                self.lone_high(out);
                self.chars.push(b'\\', out);
                self.escapes(b, out);
            }
            Esc::U { n, mut raw } if b.is_ascii_hexdigit() => {
                raw[usize::from(n)] = b;
                if n < 3 {
                    self.esc = Esc::U { n: n + 1, raw };
                } else {
                    self.esc = Esc::Idle;
                    // Four decimal digits: the first group of a value as often as a letter.
                    if raw.iter().all(u8::is_ascii_digit) {
                        self.odd_escape = Some((6, 2));
                    }
                    let unit = raw.iter().fold(0u16, |acc, &h| (acc << 4) | u16::from(hex(h)));
                    self.utf16_unit(unit, out);
                }
            }
            Esc::U { n, raw } => {
                self.esc = Esc::Idle;
                self.lone_high(out);
                self.chars.push(b'\\', out);
                self.chars.push(b'u', out);
                raw[..usize::from(n)].iter().for_each(|&h| self.chars.push(h, out));
                self.escapes(b, out);
            }
            Esc::Qp(None) => match b {
                // A soft line break: nothing.
                b'\n' => self.esc = Esc::Idle,
                b'\r' => self.esc = Esc::QpCr,
                h if h.is_ascii_hexdigit() => self.esc = Esc::Qp(Some(h)),
                _ => {
                    self.esc = Esc::Idle;
                    self.chars.push(b'=', out);
                    self.escapes(b, out);
                }
            },
            Esc::Qp(Some(h)) => {
                self.esc = Esc::Idle;
                if b.is_ascii_hexdigit() {
                    let x = (hex(h) << 4) | hex(b);
                    if odd_byte(x) || (h.is_ascii_alphabetic() && b.is_ascii_alphabetic()) {
                        self.odd_escape = Some((3, 1));
                    }
                    // Quoted-printable over percent-encoding: `=25` is a `%` that begins an
                    // escape, as the URL the mail holds is decoded once it is opened.
                    self.percent_byte(x, out);
                } else {
                    self.chars.push(b'=', out);
                    self.chars.push(h, out);
                    self.escapes(b, out);
                }
            }
            Esc::QpCr => {
                self.esc = Esc::Idle;
                if b != b'\n' {
                    self.escapes(b, out);
                }
            }
        }
    }

    /// A UTF-16 code unit from `\uXXXX`.
    fn utf16_unit(&mut self, u: u16, out: &mut Vec<u8>) {
        let c = match u {
            0xD800..=0xDBFF => {
                self.lone_high(out);
                self.high = Some(u);
                return;
            }
            0xDC00..=0xDFFF => match self.high.take() {
                Some(h) => {
                    char::from_u32(0x10000 + ((u32::from(h) - 0xD800) << 10) + (u32::from(u) - 0xDC00))
                }
                None => {
                    // A lone low surrogate is no character (`\uDE89 3704 ...` hides an IBAN).
                    self.odd_escape = Some((6, 2));
                    None
                }
            },
            _ => {
                self.lone_high(out);
                char::from_u32(u32::from(u))
            }
        };
        let mut buf = [0u8; 4];
        for &b in c.unwrap_or('\u{FFFD}').encode_utf8(&mut buf).as_bytes() {
            self.chars.push(b, out);
        }
    }

    /// A high surrogate with no low half after it stands for U+FFFD.
    fn lone_high(&mut self, out: &mut Vec<u8>) {
        if self.high.take().is_some() {
            for &b in "\u{FFFD}".as_bytes() {
                self.chars.push(b, out);
            }
        }
    }
}

/// Byte classes of the fast path: ASCII that never changes, the lead byte of a UTF-8
/// sequence (its length in the low bits, and whether its block holds a character that
/// folds), or 0 for what needs the state machines (a trigger, a byte that cannot start a
/// character).
const PLAIN: u8 = 0x80;
const LEN: u8 = 0x07;
const MAY_FOLD: u8 = 0x10;

/// The classes, with the mode bytes (`=` in quoted-printable, `+` in a form body) among
/// the triggers when their mode is on.
const fn classes(qp: bool, form: bool) -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut k = 0;
    while k < 256 {
        let b = k as u8;
        t[k] = match b {
            b'%' | b'\\' | b'&' => 0,
            b'=' if qp => 0,
            b'+' if form => 0,
            0..=0x7F => PLAIN,
            0xC3..=0xCB | 0xCE | 0xCF | 0xD0..=0xD5 | 0xD7 | 0xDA | 0xDD | 0xDE => 2,
            0xC2..=0xDF => 2 | MAY_FOLD,
            0xE4..=0xE9 | 0xEB..=0xEE => 3,
            0xE0..=0xEF => 3 | MAY_FOLD,
            0xF1 | 0xF2 | 0xF4 => 4,
            0xF0 | 0xF3 => 4 | MAY_FOLD,
            _ => 0,
        };
        k += 1;
    }
    t
}

/// The class tables by mode: neither, quoted-printable, form body, both.
static CLASSES: [[u8; 256]; 4] =
    [classes(false, false), classes(true, false), classes(false, true), classes(true, true)];

/// The classes of a fold-only normaliser: no ASCII byte starts anything.
static FOLD_ONLY: [u8; 256] = {
    let mut t = classes(false, false);
    t[b'%' as usize] = PLAIN;
    t[b'\\' as usize] = PLAIN;
    t[b'&' as usize] = PLAIN;
    t
};

fn classes_for(qp: bool, form: bool) -> &'static [u8; 256] {
    &CLASSES[usize::from(qp) | usize::from(form) << 1]
}

/// Whether `seq` (as long as its lead byte says) is a valid UTF-8 character.
#[inline]
fn valid_sequence(seq: &[u8]) -> bool {
    let second_ok = match seq[0] {
        0xE0 => seq[1] >= 0xA0,
        0xED => seq[1] <= 0x9F,
        0xF0 => seq[1] >= 0x90,
        0xF4 => seq[1] <= 0x8F,
        _ => true,
    };
    second_ok && seq[1..].iter().all(|&c| c & 0xC0 == 0x80)
}

/// A byte no percent or quoted-printable encoder escapes, or that text never holds: a
/// letter or digit, a control character other than tab and line breaks.
fn odd_byte(x: u8) -> bool {
    x.is_ascii_alphanumeric() || (x < 0x20 && !matches!(x, b'\t' | b'\n' | b'\r'))
}

/// Index of the first byte of 0x80 or more.
fn first_high_byte(w: &[u8]) -> Option<usize> {
    let mut at = 0;
    for block in w.chunks_exact(32) {
        if block.iter().fold(0u8, |acc, &b| acc | b) >= 0x80 {
            break;
        }
        at += 32;
    }
    w[at..].iter().position(|&b| b >= 0x80).map(|k| at + k)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(opts: Options, chunks: &[&[u8]]) -> Vec<u8> {
        norm_told(opts, chunks, false)
    }

    /// With `told`, every chunk of ASCII only is pushed as known to be ASCII.
    fn norm_told(opts: Options, chunks: &[&[u8]], told: bool) -> Vec<u8> {
        let mut n = Normalizer::new(opts);
        let mut all = Vec::new();
        let mut out = Vec::new();
        for c in chunks {
            let r = n.push(c, &mut out, told && c.is_ascii()).to_vec();
            all.extend_from_slice(&r);
        }
        n.finish(&mut out);
        all.extend_from_slice(&out);
        all
    }

    /// Normalised whole, byte by byte and split at every offset: all the same.
    fn check(opts: Options, input: &[u8], want: &[u8]) {
        let whole = norm(opts, &[input]);
        assert_eq!(
            String::from_utf8_lossy(&whole),
            String::from_utf8_lossy(want),
            "whole {:?}",
            String::from_utf8_lossy(input)
        );
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        for told in [false, true] {
            assert_eq!(norm_told(opts, &[input], told), whole, "whole, told {told}");
            assert_eq!(norm_told(opts, &bytes, told), whole, "byte by byte, told {told}");
            for k in 0..=input.len() {
                assert_eq!(
                    norm_told(opts, &[&input[..k], &input[k..]], told),
                    whole,
                    "split at {k}, told {told}"
                );
            }
        }
    }

    const PLAIN: Options = Options { sniff: false, form: false, fold_only: false };
    const SNIFF: Options = Options { sniff: true, form: false, fold_only: false };

    #[test]
    fn plain_text_is_handed_on_without_a_copy() {
        let mut n = Normalizer::new(PLAIN);
        let mut out = Vec::new();
        let text = b"card 4111 1111 1111 1111, nothing to change here at all; 12/29".repeat(10);
        let r = n.push(&text, &mut out, false);
        assert_eq!(r.as_ptr(), text.as_ptr());
        let r = n.push(&text, &mut out, true);
        assert_eq!(r.as_ptr(), text.as_ptr());
    }

    #[test]
    fn unicode_digits_spaces_dashes_and_invisibles() {
        check(PLAIN, "４１１１\u{A0}１１１１\u{2009}1111\u{202F}1111".as_bytes(), b"4111 1111 1111 1111");
        check(PLAIN, "٤١١١ ۴۱۱۱ ४१११ 𝟒𝟏𝟏𝟏".as_bytes(), b"4111 4111 4111 4111");
        check(
            PLAIN,
            "41\u{200B}11\u{AD}11\u{FEFF}11\u{2060}11\u{200D}111111".as_bytes(),
            b"4111111111111111",
        );
        check(
            PLAIN,
            "123\u{2013}45\u{2212}6789 123\u{FF0D}45\u{2010}6789".as_bytes(),
            b"123-45-6789 123-45-6789",
        );
        check(
            PLAIN,
            "caf\u{e9} \u{202E}4111\u{202C} ж 中 😀".as_bytes(),
            "caf\u{e9} 4111 ж 中 😀".as_bytes(),
        );
    }

    #[test]
    fn windows_1252_bytes() {
        check(
            PLAIN,
            b"4111\xA01111\xA01111\xA01111 caf\xe9 123\x9645\x976789 1\xAD2",
            b"4111 1111 1111 1111 caf\xe9 123-45-6789 12",
        );
        // A UTF-8 sequence cut by a byte that does not continue it.
        check(PLAIN, b"\xE2\x80x \xF0\x9F\x98", b"\xE2\x80x \xF0\x9F\x98");
    }

    #[test]
    fn character_references() {
        check(PLAIN, b"&#52;&#49;&#x31;&#X31; &#0000000052;&#52&#49 x", b"4111 441 x");
        check(
            PLAIN,
            b"123&ndash;45&minus;6789&nbsp;4111&shy;1111&ZeroWidthSpace;11",
            b"123-45-6789 4111111111",
        );
        check(
            PLAIN,
            b"&amp;#52; &lt;b&gt; &#150; &unknown; &amp AT&T &# &#x; &#xZ",
            b"&#52; <b> - &unknown; & AT&T &# &#x; &#xZ",
        );
        check(PLAIN, b"&#99999999999999; &#0; &#xD800;", "\u{FFFD} \u{FFFD} \u{FFFD}".as_bytes());
        check(
            PLAIN,
            b"&averyveryveryverylongnamethatgoesonandon;",
            b"&averyveryveryverylongnamethatgoesonandon;",
        );
    }

    #[test]
    fn percent_and_unicode_escapes() {
        check(PLAIN, b"%34%31%31%31 %e2%80%8b5 100% %zz %4", b"4111 5 100% %zz %4");
        check(
            PLAIN,
            b"\\u0034\\u0031 \\uD83D\\uDE00 \\uD83Dx \\u12 \\x",
            "41 😀 \u{FFFD}x \\u12 \\x".as_bytes(),
        );
        check(PLAIN, b"\\uff14\\u0661 %26%2352%3B", b"41 4");
        // Encoded twice (or more): decoded as often; a `%` that starts nothing stays.
        check(PLAIN, b"%2534%252531 %25zz 100%25 %2525", b"41 %zz 100% %");
        check(PLAIN, b"%25%33%34%25%33%31 %25%3 %25%7A", b"41 %%3 %z");
    }

    #[test]
    fn javascript_escapes() {
        check(
            PLAIN,
            b"\\x34\\x31\\X31 \\xc3\\xa9 \\x4 \\xzz \\x",
            "41\\X31 \u{e9} \\x4 \\xzz \\x".as_bytes(),
        );
        check(
            PLAIN,
            b"\\u{34}\\u{0031}\\u{1F600} \\u{} \\u{1234567} \\u{34",
            "41\u{1F600} \\u{} \\u{1234567} \\u{34".as_bytes(),
        );
        check(
            PLAIN,
            b"%u0034%U0031 %uD83D%uDE00 %uD83Dx %u12 %uzz",
            "41 \u{1F600} \u{FFFD}x %u12 %uzz".as_bytes(),
        );
        // Mixed with `\u` halves of a pair, and a `%uXXXX` inside a doubly encoded escape.
        check(PLAIN, b"\\uD83D%uDE00 %25u0034", "\u{1F600} %u0034".as_bytes());
    }

    #[test]
    fn escaped_line_breaks_and_tabs_are_read_as_such() {
        check(PLAIN, b"note\\n4111 \\N1 a\\r\\nb c\\td \\\\n", b"note\n4111 \n1 a\n\nb c\td \\\n");
    }

    #[test]
    fn stacked_escapes() {
        // Quoted-printable over percent: `=25` begins a percent escape.
        check(SNIFF, b"a=\r\n=2534=2531 =25=33=34 100=25 x\r\n", b"a41 4 100% x\r\n");
        // A character reference to `%` begins one too.
        check(PLAIN, b"&#37;34&percnt;31&#x25;31 100&#37; &#37;zz &#37", b"411 100% %zz %");
    }

    #[test]
    fn quoted_printable_only_when_evident() {
        check(
            SNIFF,
            b"card =34111 1111=\r\n 1111 1111\r\ncaf=C3=A9 =3D\r\n",
            "card 4111 1111 1111 1111\r\ncafé =\r\n".as_bytes(),
        );
        // Not quoted-printable: a `=` that is no escape, or a long line, comes first.
        check(SNIFF, b"x=y\nid=4111111111111111=\n", b"x=y\nid=4111111111111111=\n");
        let long = [&[b'a'; 100][..], b"\n=34=\n"].concat();
        check(SNIFF, &long, &long);
        check(SNIFF, b"CARD=4111111111111111\n", b"CARD=4111111111111111\n");
    }

    #[test]
    fn form_bodies() {
        check(
            SNIFF,
            b"card=4111+1111+1111+1111&ssn=123%2D45%2D6789\r\n",
            b"card=4111 1111 1111 1111\nssn=123-45-6789\r\n",
        );
        check(Options { sniff: false, form: true, fold_only: false }, b"a=1+2&b=3", b"a=1 2\nb=3");
        // Prose is not a form.
        check(SNIFF, b"a=1 and b+c&d", b"a=1 and b+c&d");
        check(SNIFF, b"key=value\nmore", b"key=value\nmore");
    }

    #[test]
    fn the_fast_path_passes_only_what_the_state_machines_leave_unchanged() {
        let n = Normalizer::new(PLAIN);
        for cp in 0x80..=0x10FFFFu32 {
            let Some(c) = char::from_u32(cp) else { continue };
            let mut buf = [0u8; 4];
            let s = c.encode_utf8(&mut buf).as_bytes();
            assert_eq!(usize::from(n.classes[usize::from(s[0])] & LEN), s.len(), "{cp:#x}");
            let passes = n.unchanged(s) == s.len();
            assert_eq!(passes, fold(cp) == Folded::Keep, "{cp:#x}");
        }
        for bad in [
            &[0xC0u8, 0x80][..],
            &[0xE0, 0x80, 0x80],
            &[0xED, 0xA0, 0x80],
            &[0xF4, 0x90, 0x80, 0x80],
            &[0xD0],
            &[0xD0, 0x41],
            &[0x80],
        ] {
            assert_eq!(n.unchanged(bad), 0, "{bad:x?}");
        }
        let text = "Съешь же ещё этих мягких французских булок, да выпей чаю. Très élevé.".as_bytes();
        assert_eq!(n.unchanged(text), text.len());
    }

    #[test]
    fn output_is_never_longer_than_input() {
        let mut x = 0x9E37_79B9_7F4A_7C15_u64;
        let alphabet: &[u8] = b"&#x;5%2Fu\\=\r\n+ab\xC2\xA0\xE2\x80\x8B\xEF\xBC\x94\xFF";
        for _ in 0..2000 {
            let input: Vec<u8> = (0..64)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    alphabet[(x % alphabet.len() as u64) as usize]
                })
                .collect();
            for opts in [PLAIN, SNIFF, Options { sniff: false, form: true, fold_only: false }] {
                let out = norm(opts, &[&input]);
                assert!(out.len() <= input.len(), "{:?}", String::from_utf8_lossy(&input));
                let halves = norm(opts, &[&input[..23], &input[23..]]);
                assert_eq!(out, halves);
            }
        }
    }
}
