//! Base64 blobs inside text (JSON values, XML elements and attributes, form fields, data
//! URIs, e-mail bodies): found as the text streams past and decoded, so that the member's
//! node can open each as a child object (an uploaded zip, document or PDF is a blob in the
//! JSON of an API call).
//!
//! A blob is a run of base64 characters (standard `+/` or URL-safe `-_`, not mixed) whose
//! first [`CONFIRM`] characters (or all, if fewer) hold an upper-case letter, a lower-case
//! letter and a digit, and that is at least [`MIN_BLOB`] characters long; so words, paths,
//! hex hashes and numbers are not blobs. It may go on over line breaks (with indentation)
//! when its lines have the length of its first line, as MIME, PEM and XML writers wrap
//! them; `=` padding ends it.
//!
//! Outside blobs, the text is skimmed: only every [`MIN_BLOB`]th byte is looked at, and the
//! run of base64 characters around it measured, so ordinary text costs a fraction of a
//! table load per byte. The decision depends on the content only, never on the chunking.

use std::ops::Range;

use super::b64_lanes::b64_mask16;

/// Shortest blob, in base64 characters.
pub(crate) const MIN_BLOB: usize = 64;
/// Characters of a run that must show an upper-case letter, a lower-case letter and a digit.
pub(crate) const CONFIRM: usize = 256;

/// What the finder reports, in order; decoded bytes are ranges of the output buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    /// A blob starts.
    Start,
    /// Decoded bytes of the current blob.
    Bytes(Range<usize>),
    /// The blob ended.
    End,
}

/// Character classes: the 6-bit value, and which alphabet a character belongs to.
const COMMON: u8 = 1;
const STANDARD: u8 = 2;
const URL_SAFE: u8 = 4;
const UPPER: u8 = 8;
const LOWER: u8 = 16;
const DIGIT: u8 = 32;

const fn tables() -> ([u8; 256], [u8; 256]) {
    let mut value = [0u8; 256];
    let mut class = [0u8; 256];
    let mut k = 0;
    while k < 26 {
        value[b'A' as usize + k] = k as u8;
        class[b'A' as usize + k] = COMMON | UPPER;
        value[b'a' as usize + k] = 26 + k as u8;
        class[b'a' as usize + k] = COMMON | LOWER;
        k += 1;
    }
    let mut d = 0;
    while d < 10 {
        value[b'0' as usize + d] = 52 + d as u8;
        class[b'0' as usize + d] = COMMON | DIGIT;
        d += 1;
    }
    value[b'+' as usize] = 62;
    class[b'+' as usize] = STANDARD;
    value[b'/' as usize] = 63;
    class[b'/' as usize] = STANDARD;
    value[b'-' as usize] = 62;
    class[b'-' as usize] = URL_SAFE;
    value[b'_' as usize] = 63;
    class[b'_' as usize] = URL_SAFE;
    (value, class)
}

const TABLES: ([u8; 256], [u8; 256]) = tables();
const VALUE: [u8; 256] = TABLES.0;
const CLASS: [u8; 256] = TABLES.1;

#[inline(always)]
fn is_b64(b: u8) -> bool {
    CLASS[usize::from(b)] != 0
}

#[derive(Debug)]
enum State {
    /// Between runs.
    Outside,
    /// The first characters of a run, held until it is known to be a blob.
    Run { alphabet: u8, flags: u8 },
    /// In a run that is not a blob: skipped to the next byte that is not a base64
    /// character of either alphabet.
    NotBlob,
    /// Inside a blob.
    Blob(Blob),
    /// After a line break in a blob (`true` once its `\n` is seen): a continuation line
    /// may follow, after indentation.
    BlobNewline(Blob, bool),
    /// After the first `=` of padding.
    Padding(Blob),
}

#[derive(Debug, Clone, Copy)]
struct Blob {
    alphabet: u8,
    acc: u32,
    n: u8,
    /// Characters on the current line.
    line: usize,
    /// Length of the first line, once it ended with a line break.
    width: Option<usize>,
}

/// The streaming blob finder of one member's text.
#[derive(Debug)]
pub(crate) struct Blobs {
    state: State,
    /// The characters of a run in [`State::Run`].
    held: Vec<u8>,
}

impl Blobs {
    pub fn new() -> Self {
        Self { state: State::Outside, held: Vec::new() }
    }

    /// Looks at the next piece of text: decoded bytes go to `out`, what happened to
    /// `pieces`.
    pub fn push(&mut self, text: &[u8], out: &mut Vec<u8>, pieces: &mut Vec<Piece>) {
        let mut i = 0;
        while i < text.len() {
            match &mut self.state {
                State::Outside => match skim(text, i) {
                    Some(start) => i = start,
                    None => return,
                },
                State::Run { alphabet, flags } => {
                    // The run's next characters in bulk, up to a change of alphabet or the
                    // confirmation length; the byte after them goes through `byte`.
                    let room = CONFIRM - self.held.len();
                    let k = run_length(&text[i..]).min(room);
                    let mut take = k;
                    for (j, &c) in text[i..i + k].iter().enumerate() {
                        let class = CLASS[usize::from(c)];
                        let specific = class & (STANDARD | URL_SAFE);
                        if specific != 0 && *alphabet != 0 && specific != *alphabet {
                            take = j;
                            break;
                        }
                        *alphabet |= specific;
                        *flags |= class;
                    }
                    self.held.extend_from_slice(&text[i..i + take]);
                    i += take;
                    if self.held.len() == CONFIRM {
                        let (alphabet, flags) = (*alphabet, *flags);
                        if varied(flags) {
                            let blob = self.start(alphabet, out, pieces);
                            self.state = State::Blob(blob);
                        } else {
                            self.state = State::NotBlob;
                        }
                        continue;
                    }
                    if i == text.len() {
                        return;
                    }
                }
                State::NotBlob => {
                    i += run_length(&text[i..]);
                    if i < text.len() {
                        self.state = State::Outside;
                    }
                    continue;
                }
                State::Blob(blob) => {
                    // The body of a blob, decoded without the state machine's dispatch.
                    let from = out.len();
                    while let Some(&c) = text.get(i) {
                        let class = CLASS[usize::from(c)];
                        let specific = class & (STANDARD | URL_SAFE);
                        if class == 0 || (specific != 0 && blob.alphabet != 0 && specific != blob.alphabet) {
                            break;
                        }
                        blob.alphabet |= specific;
                        blob.char(c, out);
                        blob.line += 1;
                        i += 1;
                    }
                    if out.len() > from {
                        push_bytes(pieces, from..out.len());
                    }
                    if i == text.len() {
                        return;
                    }
                }
                _ => {}
            }
            let b = text[i];
            i += 1;
            self.byte(b, out, pieces);
        }
    }

    /// Ends the text: a blob in progress ends.
    pub fn finish(&mut self, out: &mut Vec<u8>, pieces: &mut Vec<Piece>) {
        match std::mem::replace(&mut self.state, State::Outside) {
            State::Run { alphabet, flags } => {
                if self.held.len() >= MIN_BLOB && varied(flags) {
                    self.start(alphabet, out, pieces).end(out, pieces);
                }
            }
            State::Blob(b) | State::BlobNewline(b, _) | State::Padding(b) => b.end(out, pieces),
            State::Outside | State::NotBlob => {}
        }
        self.held.clear();
    }

    fn byte(&mut self, c: u8, out: &mut Vec<u8>, pieces: &mut Vec<Piece>) {
        let class = CLASS[usize::from(c)];
        match &mut self.state {
            State::Outside => {
                if class != 0 {
                    self.held.clear();
                    self.held.push(c);
                    self.state = State::Run { alphabet: class & (STANDARD | URL_SAFE), flags: class };
                }
            }
            State::Run { alphabet, flags } => {
                let specific = class & (STANDARD | URL_SAFE);
                if class == 0 || (specific != 0 && *alphabet != 0 && specific != *alphabet) {
                    // The run ended here: a blob if long enough and varied.
                    let (alphabet, flags) = (*alphabet, *flags);
                    if self.held.len() >= MIN_BLOB && varied(flags) {
                        let blob = self.start(alphabet, out, pieces);
                        self.state = State::Outside;
                        blob.end_with(c, self, out, pieces);
                    } else {
                        self.state = State::Outside;
                        if class != 0 {
                            self.byte(c, out, pieces);
                        }
                    }
                    return;
                }
                *alphabet |= specific;
                *flags |= class;
                self.held.push(c);
                if self.held.len() == CONFIRM {
                    let (alphabet, flags) = (*alphabet, *flags);
                    if varied(flags) {
                        let blob = self.start(alphabet, out, pieces);
                        self.state = State::Blob(blob);
                    } else {
                        self.state = State::NotBlob;
                    }
                }
            }
            State::NotBlob => {
                if class == 0 {
                    self.state = State::Outside;
                }
            }
            State::Blob(blob) => {
                let specific = class & (STANDARD | URL_SAFE);
                if class != 0 && (specific == 0 || specific == blob.alphabet || blob.alphabet == 0) {
                    blob.alphabet |= specific;
                    let from = out.len();
                    blob.char(c, out);
                    blob.line += 1;
                    if out.len() > from {
                        push_bytes(pieces, from..out.len());
                    }
                    return;
                }
                let blob = *blob;
                self.state = State::Outside;
                blob.end_with(c, self, out, pieces);
            }
            State::BlobNewline(blob, lf) => match c {
                // One line break (`\n` or `\r\n`), then indentation.
                b'\r' if !*lf => {}
                b'\n' if !*lf => *lf = true,
                b' ' | b'\t' => {}
                _ => {
                    let specific = class & (STANDARD | URL_SAFE);
                    let mut blob = *blob;
                    if class != 0 && (specific == 0 || specific == blob.alphabet || blob.alphabet == 0) {
                        blob.line = 0;
                        self.state = State::Blob(blob);
                    } else {
                        self.state = State::Outside;
                        blob.end(out, pieces);
                    }
                    self.byte(c, out, pieces);
                }
            },
            State::Padding(blob) => {
                let blob = *blob;
                self.state = State::Outside;
                blob.end(out, pieces);
                if c != b'=' {
                    self.byte(c, out, pieces);
                }
            }
        }
    }

    /// A run turned out to be a blob: reports its start and decodes what was held.
    fn start(&mut self, alphabet: u8, out: &mut Vec<u8>, pieces: &mut Vec<Piece>) -> Blob {
        pieces.push(Piece::Start);
        let mut blob = Blob { alphabet, acc: 0, n: 0, line: 0, width: None };
        let from = out.len();
        for &c in &self.held {
            blob.char(c, out);
        }
        blob.line = self.held.len();
        self.held.clear();
        if out.len() > from {
            push_bytes(pieces, from..out.len());
        }
        blob
    }
}

impl Blob {
    fn char(&mut self, c: u8, out: &mut Vec<u8>) {
        self.acc = (self.acc << 6) | u32::from(VALUE[usize::from(c)]);
        self.n += 1;
        if self.n == 4 {
            out.extend_from_slice(&self.acc.to_be_bytes()[1..]);
            self.acc = 0;
            self.n = 0;
        }
    }

    /// The character `c` is not part of the blob's current line: a line break may continue
    /// it (when the line is as long as the first), `=` pads it, anything else ends it (and
    /// is looked at again outside).
    fn end_with(mut self, c: u8, blobs: &mut Blobs, out: &mut Vec<u8>, pieces: &mut Vec<Piece>) {
        match c {
            b'\n' | b'\r' if self.width.is_none_or(|w| w == self.line) => {
                self.width = Some(self.line);
                blobs.state = State::BlobNewline(self, c == b'\n');
            }
            b'=' => blobs.state = State::Padding(self),
            _ => {
                self.end(out, pieces);
                blobs.byte(c, out, pieces);
            }
        }
    }

    /// Ends the blob: the last partial group gives its whole bytes.
    fn end(self, out: &mut Vec<u8>, pieces: &mut Vec<Piece>) {
        let from = out.len();
        match self.n {
            2 => out.push((self.acc >> 4) as u8),
            3 => out.extend_from_slice(&((self.acc >> 2) as u16).to_be_bytes()),
            _ => {}
        }
        if out.len() > from {
            push_bytes(pieces, from..out.len());
        }
        pieces.push(Piece::End);
    }
}

/// Whether a run shows an upper-case letter, a lower-case letter and a digit.
fn varied(flags: u8) -> bool {
    flags & (UPPER | LOWER | DIGIT) == UPPER | LOWER | DIGIT
}

/// Adds decoded bytes, joining them to the previous range when adjacent.
fn push_bytes(pieces: &mut Vec<Piece>, r: Range<usize>) {
    if let Some(Piece::Bytes(last)) = pieces.last_mut() {
        if last.end == r.start {
            last.end = r.end;
            return;
        }
    }
    pieces.push(Piece::Bytes(r));
}

/// Whether every byte of `block` is a base64 character (of either alphabet), branch-free:
/// flags OR-ed into a byte, which the compiler turns into vector compares.
#[inline]
fn all_b64(block: &[u8]) -> bool {
    let mut outside = 0u8;
    for &b in block {
        let letter = u8::from((b | 0x20).wrapping_sub(b'a') < 26);
        let digit = u8::from(b.wrapping_sub(b'0') < 10);
        // `+` and `/` differ in one bit.
        let symbol = u8::from(b & 0xFB == b'+') | u8::from(b == b'-') | u8::from(b == b'_');
        outside |= 1 ^ (letter | digit | symbol);
    }
    outside == 0
}

/// How many bytes at the start of `text` are base64 characters (of either alphabet): whole
/// 32-byte blocks by a branch-free test the compiler vectorises, then one by one.
fn run_length(text: &[u8]) -> usize {
    let mut at = 0;
    for block in text.chunks_exact(32) {
        if !all_b64(block) {
            break;
        }
        at += 32;
    }
    at + text[at..].iter().take_while(|&&b| is_b64(b)).count()
}

/// From `i` (where no run is in progress), the start of the first run that could be a
/// blob: at least [`MIN_BLOB`] base64 characters, or reaching the end of `text` (it may go
/// on in the next piece). `None` when there is none.
///
/// Such a run holds a whole window of [`SKIM_WINDOW`] bytes of those placed every
/// [`SKIM_STRIDE`] bytes from `i` (a stride of `MIN_BLOB - SKIM_WINDOW` leaves no room for
/// a run of `MIN_BLOB` between two windows), so only those windows are tested, each with
/// one vector compare or two; only around a window that passes is the run measured byte by
/// byte.
fn skim(text: &[u8], i: usize) -> Option<usize> {
    let mut k = i;
    let mut w = k;
    while let Some(window) = text.get(w..w + SKIM_WINDOW).and_then(|s| <&[u8; SKIM_WINDOW]>::try_from(s).ok())
    {
        // Any byte outside `+`..=`z` (a space, a line break, a quote) rules the window out
        // cheaply; the exact test only runs on windows that pass. Both are branch-free
        // over the window, which the compiler turns into vector compares.
        let outside = window.iter().fold(0u8, |acc, &b| acc | u8::from(b.wrapping_sub(b'+') > b'z' - b'+'));
        if outside != 0 || !all_b64(window) {
            w += SKIM_STRIDE;
            continue;
        }
        let s = run_start(text, k, w);
        let e = run_end_within(text, s, w + SKIM_WINDOW);
        if e - s >= MIN_BLOB || e == text.len() {
            return Some(s);
        }
        // `text[e]` ends the run: the next one starts after it.
        k = e + 1;
        w = k;
    }
    // Only a run that reaches the end may still become long enough.
    let start = text.get(i..)?.iter().rposition(|&b| !is_b64(b)).map_or(i, |p| i + p + 1);
    (start < text.len()).then_some(start)
}

/// Where the run of base64 characters that goes on at `w` starts, not before `k`: 16 bytes
/// a step by their mask.
#[inline]
fn run_start(text: &[u8], k: usize, mut s: usize) -> usize {
    while s > k {
        let Some(lane) =
            s.checked_sub(16).and_then(|f| text.get(f..s)).and_then(|l| <&[u8; 16]>::try_from(l).ok())
        else {
            while s > k && is_b64(text[s - 1]) {
                s -= 1;
            }
            return s;
        };
        // Bit 15 is the byte right before `s`.
        let n = (b64_mask16(lane) << 16).leading_ones() as usize;
        s -= n.min(s - k);
        if n < 16 {
            break;
        }
    }
    s
}

/// Where the run of base64 characters from `s` that goes on at `e` ends, or `s +`
/// [`MIN_BLOB`] if it is that long: 16 bytes a step by their mask.
#[inline]
fn run_end_within(text: &[u8], s: usize, mut e: usize) -> usize {
    while e - s < MIN_BLOB {
        let Some(lane) = text.get(e..e + 16).and_then(|l| <&[u8; 16]>::try_from(l).ok()) else {
            while e < text.len() && e - s < MIN_BLOB && is_b64(text[e]) {
                e += 1;
            }
            return e;
        };
        let n = b64_mask16(lane).trailing_ones() as usize;
        e += n.min(s + MIN_BLOB - e);
        if n < 16 {
            break;
        }
    }
    e
}

/// Bytes the skim tests at a time, and the distance between the windows it tests.
const SKIM_WINDOW: usize = 16;
const SKIM_STRIDE: usize = MIN_BLOB - SKIM_WINDOW;

#[cfg(test)]
mod tests {
    use base64::Engine as _;

    use super::*;

    /// The blobs found, decoded, whole and split at every offset (all the same).
    fn blobs(text: &[u8]) -> Vec<Vec<u8>> {
        let run = |chunks: &[&[u8]]| {
            let mut f = Blobs::new();
            let mut found: Vec<Vec<u8>> = Vec::new();
            let mut open = false;
            for (k, c) in chunks.iter().enumerate() {
                let mut out = Vec::new();
                let mut pieces = Vec::new();
                f.push(c, &mut out, &mut pieces);
                if k + 1 == chunks.len() {
                    f.finish(&mut out, &mut pieces);
                }
                for p in pieces {
                    match p {
                        Piece::Start => {
                            assert!(!open);
                            open = true;
                            found.push(Vec::new());
                        }
                        Piece::Bytes(r) => found.last_mut().unwrap().extend_from_slice(&out[r]),
                        Piece::End => {
                            assert!(open);
                            open = false;
                        }
                    }
                }
            }
            assert!(!open);
            found
        };
        let whole = run(&[text]);
        for k in 0..=text.len() {
            assert_eq!(run(&[&text[..k], &text[k..]]), whole, "split at {k}");
        }
        let bytes: Vec<&[u8]> = text.chunks(1).collect();
        assert_eq!(run(&bytes), whole, "byte by byte");
        whole
    }

    fn b64(data: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(data)
    }

    #[test]
    fn blobs_in_json_xml_and_data_uris() {
        let secret = b"card 4111 1111 1111 1111 and some more text to make it long enough";
        let e = b64(secret);
        assert!(e.len() >= MIN_BLOB);
        for text in [
            format!("{{\"file\":\"{e}\",\"n\":1}}"),
            format!("<data>{e}</data>"),
            format!("<img src=\"data:text/plain;base64,{e}\">"),
            format!("upload={e}&x=1"),
        ] {
            assert_eq!(blobs(text.as_bytes()), vec![secret.to_vec()], "{text}");
        }
    }

    #[test]
    fn wrapped_blobs_and_padding() {
        let data: Vec<u8> = (0..200u8).collect();
        let e = b64(&data);
        let lines: Vec<&str> = e.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap()).collect();
        let wrapped = format!("<x>\n  {}\n</x> after", lines.join("\n  "));
        assert_eq!(blobs(wrapped.as_bytes()), vec![data.clone()]);
        let crlf = format!("{}\r\nnext paragraph", lines.join("\r\n"));
        assert_eq!(blobs(crlf.as_bytes()), vec![data.clone()]);
        // Two blobs one after the other.
        let two = format!("{e}\n\n{e}");
        assert_eq!(blobs(two.as_bytes()), vec![data.clone(), data.clone()]);
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&data);
        assert_eq!(blobs(format!("token={url};").as_bytes()), vec![data]);
    }

    #[test]
    fn run_length_agrees_with_the_table() {
        for b in 0..=255u8 {
            let text = [[b'x'; 40].as_slice(), &[b], &[b'x'; 40]].concat();
            let want = if is_b64(b) { 81 } else { 40 };
            assert_eq!(run_length(&text), want, "{b:#x}");
        }
    }

    /// The first run of base64 characters in `text[i..]` that is at least `MIN_BLOB` long
    /// or reaches the end, by definition.
    fn skim_by_definition(text: &[u8], i: usize) -> Option<usize> {
        let mut s = i;
        while s < text.len() {
            if !is_b64(text[s]) {
                s += 1;
                continue;
            }
            let e = s + text[s..].iter().take_while(|&&b| is_b64(b)).count();
            if e - s >= MIN_BLOB || e == text.len() {
                return Some(s);
            }
            s = e;
        }
        None
    }

    #[test]
    fn skim_finds_the_first_run_that_may_be_a_blob() {
        // Runs of every length around MIN_BLOB at every offset, between separators and in
        // text of every density.
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let alphabet = b"aZ09+/-_ \n\"=.,:\xc3";
        for round in 0..4000 {
            let len = (next() % 400) as usize;
            let sep_every = 1 + (next() % 90) as usize;
            let mut text = Vec::with_capacity(len);
            while text.len() < len {
                let run = (next() as usize) % (2 * sep_every);
                let c = alphabet[(next() as usize) % 4];
                text.extend(std::iter::repeat_n(c, run));
                text.push(alphabet[4 + (next() as usize) % (alphabet.len() - 4)]);
            }
            text.truncate(len);
            for i in [0, 1, 7, len / 3, len / 2].into_iter().filter(|&i| i <= len) {
                // The caller starts where no run is in progress.
                if i > 0 && i < len && is_b64(text[i - 1]) {
                    continue;
                }
                assert_eq!(skim(&text, i), skim_by_definition(&text, i), "round {round} from {i}: {text:?}");
            }
        }
        for run in 40..140 {
            for pad in 0..70 {
                let text = [vec![b' '; pad], vec![b'Q'; run], vec![b' '; 3]].concat();
                assert_eq!(skim(&text, 0), skim_by_definition(&text, 0), "run {run} after {pad}");
            }
        }
    }

    #[test]
    fn words_hashes_and_numbers_are_not_blobs() {
        let long_word = "a".repeat(300);
        for text in [
            "the quick brown fox jumps over the lazy dog ".repeat(20),
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 ".repeat(3),
            "41111111111111111111111111111111111111111111111111111111111111111111".to_string(),
            "/usr/share/doc/packages/something/very/long/path/name/here/and/more".to_string(),
            long_word,
            "550e8400-e29b-41d4-a716-446655440000 2024-01-15T10:30:00Z".to_string(),
        ] {
            assert!(blobs(text.as_bytes()).is_empty(), "{text}");
        }
    }
}
