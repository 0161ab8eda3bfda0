//! Words, shingles and winnowing: the fingerprints of one text stream.
//!
//! The hot path, per byte: a table lookup says whether an ASCII byte is part of a word and
//! gives its lower case, rotated into the word's state (folded every 8 bytes). Bytes from
//! 0x80 up are decoded as UTF-8 (a sequence cut by a chunk boundary waits for the rest),
//! lower-cased with `char::to_lowercase` when alphanumeric, and are separators otherwise.
//! Per word: the
//! word hash is mixed, the rolling hash of the last [`SHINGLE_WORDS`] words is updated in
//! O(1) (a cyclic polynomial: rotate, take out the word that left, put in the new one), and
//! the winnowing window of the last [`WINDOW`] shingles is updated (its least hash is found
//! again only when the least leaves the window).
//!
//! What counts as text is therefore only the sequence of lower-cased words: line breaks,
//! case, punctuation, whitespace and markup make no difference.

use unicode_normalization::char::{decompose_canonical, is_combining_mark};

use super::{SHINGLE_WORDS, WINDOW};

/// Multiplier folding each further 8 bytes of a long word into its state.
const FOLD: u64 = 0x9E37_79B9_7F4A_7C15;

/// Per ASCII byte: its lower case when it is a letter or digit, else 0 (a separator).
static ASCII_WORD: [u8; 128] = {
    let mut t = [0u8; 128];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        if c.is_ascii_digit() || c.is_ascii_lowercase() {
            t[b] = c;
        } else if c.is_ascii_uppercase() {
            t[b] = c + 32;
        }
        b += 1;
    }
    t
};

/// A cheap mixer (one multiply): enough for word hashes and for ranking shingles, whose
/// inputs an attacker gains nothing by choosing (a collision can only add a match).
#[inline(always)]
fn mix(h: u64) -> u64 {
    let x = (h ^ (h >> 31)).wrapping_mul(0xd6e8_feb8_6659_fd93);
    x ^ (x >> 32)
}

/// Turns one stream of text into winnowed fingerprints, fed in chunks of any size.
#[derive(Debug, Clone)]
pub struct Shingler {
    /// The word being read: its bytes shifted in (folded every 8 bytes), and its length.
    word: u64,
    word_len: u32,
    /// Bytes of a UTF-8 sequence cut by the end of a chunk.
    pending: [u8; 4],
    pending_len: usize,
    /// The hashes of the last [`SHINGLE_WORDS`] words, a ring at `slot`; `words` counts
    /// all words.
    ring: [u64; SHINGLE_WORDS],
    slot: usize,
    words: u64,
    rolling: u64,
    /// The last [`WINDOW`] shingle hashes, a ring indexed by shingle number.
    window: [u64; WINDOW],
    slot_w: usize,
    shingles: u64,
    /// The shingle number and hash of the least hash of the current window (the earliest of
    /// equals).
    least: u64,
    least_hash: u64,
    /// The shingle number last selected.
    selected: Option<u64>,
    /// Which of an object's text streams this is: the high bits of every position given.
    stream: u32,
}

impl Default for Shingler {
    fn default() -> Self {
        Self::new()
    }
}

impl Shingler {
    /// A stream at its start.
    pub fn new() -> Self {
        Self {
            word: 0,
            word_len: 0,
            pending: [0; 4],
            pending_len: 0,
            ring: [0; SHINGLE_WORDS],
            slot: 0,
            words: 0,
            rolling: 0,
            window: [0; WINDOW],
            slot_w: 0,
            shingles: 0,
            least: 0,
            least_hash: 0,
            selected: None,
            stream: 0,
        }
    }

    /// A stream numbered `stream` among an object's streams: the positions it gives are
    /// `stream << POSITION_BITS` plus the shingle's number (see [`position`]).
    pub fn numbered(stream: u32) -> Self {
        Self { stream, ..Self::new() }
    }

    /// Reads `text`, calling `out` with each fingerprint selected and its position.
    pub fn push(&mut self, mut text: &[u8], out: &mut impl FnMut(u64, u32)) {
        if self.pending_len > 0 {
            text = self.complete_pending(text, out);
        }
        let mut i = 0;
        // The word in progress lives in registers while ASCII bytes go by.
        let (mut word, mut len) = (self.word, self.word_len);
        while i < text.len() {
            // An ASCII block: its words from the masks, one step per word.
            if let Some(block) = text.get(i..i + 64).and_then(|b| <&[u8; 64]>::try_from(b).ok()) {
                let m = super::words::masks(block);
                if m.high == 0 {
                    self.block(block, text.get(i..).unwrap_or_default(), m.word, &mut word, &mut len, out);
                    i += 64;
                    continue;
                }
            }
            // Otherwise byte by byte, up to 64 bytes (a UTF-8 sequence may end past them).
            let end = (i + 64).min(text.len());
            while i < end {
                let b = text[i];
                if b < 0x80 {
                    let l = ASCII_WORD[b as usize];
                    if l != 0 {
                        (word, len) = add_byte(word, len, l);
                    } else if len > 0 {
                        self.end_word(word, len, out);
                        (word, len) = (0, 0);
                    }
                    i += 1;
                    continue;
                }
                (self.word, self.word_len) = (word, len);
                let n = utf8_len(b);
                if i + n > text.len() {
                    // Cut by the chunk's end: wait for the rest.
                    let rest = &text[i..];
                    self.pending[..rest.len()].copy_from_slice(rest);
                    self.pending_len = rest.len();
                    return;
                }
                self.wide(&text[i..i + n], out);
                (word, len) = (self.word, self.word_len);
                i += n;
            }
        }
        (self.word, self.word_len) = (word, len);
    }

    /// The words of a 64-byte ASCII block (`text` starts with it), from its mask of word
    /// bytes: the same states the byte-by-byte path reaches. A word of fewer than 8 bytes
    /// that starts in the block is read as one load.
    #[inline(always)]
    fn block(
        &mut self,
        block: &[u8; 64],
        text: &[u8],
        mut mask: u64,
        word: &mut u64,
        len: &mut u32,
        out: &mut impl FnMut(u64, u32),
    ) {
        let mut at = 0u32;
        loop {
            if mask == 0 {
                // Separators to the block's end end the word; a word that reaches it goes on.
                if at < 64 && *len > 0 {
                    self.end_word(*word, *len, out);
                    (*word, *len) = (0, 0);
                }
                return;
            }
            let s = mask.trailing_zeros();
            if s > at && *len > 0 {
                self.end_word(*word, *len, out);
                (*word, *len) = (0, 0);
            }
            let run = (!(mask >> s)).trailing_zeros();
            let e = s + run;
            let eight = text.get(s as usize..s as usize + 8).and_then(|b| <[u8; 8]>::try_from(b).ok());
            match eight {
                Some(bytes) if *len == 0 && run < 8 => {
                    // Lower case is `| 0x20` for ASCII letters and digits alike.
                    let keep = (1u64 << (8 * run)) - 1;
                    let x = (u64::from_le_bytes(bytes) & keep) | (0x2020_2020_2020_2020 & keep);
                    *word = x.swap_bytes() >> (64 - 8 * run);
                    *len = run;
                }
                _ => {
                    for &b in &block[s as usize..e as usize] {
                        (*word, *len) = add_byte(*word, *len, b | 0x20);
                    }
                }
            }
            at = e;
            mask = if e >= 64 { 0 } else { mask & (!0u64 << e) };
        }
    }

    /// Ends the stream: the last word, and for a stream shorter than one window, its least
    /// shingle (so short documents still have a fingerprint). Gives the stream's shingles.
    pub fn finish(&mut self, out: &mut impl FnMut(u64, u32)) -> u64 {
        self.pending_len = 0;
        if self.word_len > 0 {
            self.end_word(self.word, self.word_len, out);
        }
        if self.shingles > 0 && self.shingles < WINDOW as u64 {
            out(self.least_hash, position(self.stream, self.least));
        }
        let shingles = self.shingles;
        *self = Self::numbered(self.stream);
        shingles
    }

    /// Completes a UTF-8 sequence begun in the previous chunk; returns the rest of `text`.
    fn complete_pending<'a>(&mut self, text: &'a [u8], out: &mut impl FnMut(u64, u32)) -> &'a [u8] {
        let need = utf8_len(self.pending[0]);
        let take = need.saturating_sub(self.pending_len).min(text.len());
        let mut seq = [0u8; 4];
        seq[..self.pending_len].copy_from_slice(&self.pending[..self.pending_len]);
        seq[self.pending_len..self.pending_len + take].copy_from_slice(&text[..take]);
        let have = self.pending_len + take;
        if have < need {
            self.pending = seq;
            self.pending_len = have;
            return &[];
        }
        self.pending_len = 0;
        self.wide(&seq[..need], out);
        &text[take..]
    }

    /// One byte sequence from 0x80 up: a letter or digit of the word, or a separator.
    #[cold]
    fn wide(&mut self, seq: &[u8], out: &mut impl FnMut(u64, u32)) {
        let c = std::str::from_utf8(seq).ok().and_then(|s| s.chars().next());
        match c {
            // Combining marks: part of the word, not hashed ("e\u{301}" = "e").
            Some(c) if is_combining_mark(c) => {}
            Some(c) if c.is_alphanumeric() => {
                // Decomposed without its marks, then lower-cased: `é` composed, `e` and an
                // accent, and `e` alone are one letter, so an accent dropped on the way
                // (a copy converted to ASCII) hides nothing.
                let mut buf = [0u8; 4];
                let (mut word, mut len) = (self.word, self.word_len);
                decompose_canonical(c, |d| {
                    if is_combining_mark(d) {
                        return;
                    }
                    for l in d.to_lowercase() {
                        for &b in l.encode_utf8(&mut buf).as_bytes() {
                            (word, len) = add_byte(word, len, b);
                        }
                    }
                });
                (self.word, self.word_len) = (word, len);
            }
            _ => {
                if self.word_len > 0 {
                    self.end_word(self.word, self.word_len, out);
                }
            }
        }
    }

    /// Ends the word whose state is `word` and length `len`.
    #[inline(always)]
    fn end_word(&mut self, word: u64, len: u32, out: &mut impl FnMut(u64, u32)) {
        let h = mix(word ^ (u64::from(len) << 56));
        self.word = 0;
        self.word_len = 0;
        let leaving = self.ring[self.slot];
        self.ring[self.slot] = h;
        self.slot = if self.slot + 1 == SHINGLE_WORDS { 0 } else { self.slot + 1 };
        self.words += 1;
        // Cyclic polynomial: each word's hash is rotated by its distance from the end.
        self.rolling = self.rolling.rotate_left(1) ^ h;
        if self.words > SHINGLE_WORDS as u64 {
            self.rolling ^= leaving.rotate_left(SHINGLE_WORDS as u32);
        }
        if self.words >= SHINGLE_WORDS as u64 {
            self.winnow(mix(self.rolling ^ 0x5348_494e_474c_4531), out);
        }
    }

    /// Robust winnowing: the least hash of each window of [`WINDOW`] shingles, the earlier
    /// one among equals, and a selection is not repeated while it stays the least.
    #[inline(always)]
    fn winnow(&mut self, h: u64, out: &mut impl FnMut(u64, u32)) {
        let n = self.shingles;
        self.shingles += 1;
        let w = WINDOW as u64;
        self.window[self.slot_w] = h;
        self.slot_w = if self.slot_w + 1 == WINDOW { 0 } else { self.slot_w + 1 };
        if n == 0 || h < self.least_hash {
            (self.least, self.least_hash) = (n, h);
        } else if self.least + w <= n {
            self.rescan(n);
        }
        if n + 1 >= w && self.selected != Some(self.least) {
            self.selected = Some(self.least);
            out(self.least_hash, position(self.stream, self.least));
        }
    }

    /// The least left the window ending at shingle `n`: finds the earliest least of it.
    #[cold]
    fn rescan(&mut self, n: u64) {
        let w = WINDOW as u64;
        let from = n + 1 - w;
        (self.least, self.least_hash) = (from, self.window[(from % w) as usize]);
        for p in from + 1..=n {
            let h = self.window[(p % w) as usize];
            if h < self.least_hash {
                (self.least, self.least_hash) = (p, h);
            }
        }
    }
}

/// Bits of a position that number the shingle within its stream; the bits above number
/// the stream. Shingles past 2^20 in one stream (about 6 MiB of text) share the last
/// number, and streams past 4,095 the last stream: positions then only undercount.
pub const POSITION_BITS: u32 = 20;

/// The position of shingle `shingle` of stream `stream`.
#[inline(always)]
pub fn position(stream: u32, shingle: u64) -> u32 {
    let local = shingle.min((1 << POSITION_BITS) - 1) as u32;
    (stream.min((1 << (32 - POSITION_BITS)) - 1) << POSITION_BITS) | local
}

/// One byte of a word (lower-cased) into its state: rotated in (for a word's first 8 bytes,
/// the same as shifted in), and every 8 bytes the state is folded; rotation loses no bit,
/// so every byte of a long word counts.
#[inline(always)]
fn add_byte(word: u64, len: u32, b: u8) -> (u64, u32) {
    let word = word.rotate_left(8) ^ u64::from(b);
    let len = len + 1;
    if len.is_multiple_of(8) {
        (word.wrapping_mul(FOLD) ^ u64::from(len), len)
    } else {
        (word, len)
    }
}

/// The length of the UTF-8 sequence a byte starts (1 for a byte that starts none).
#[inline]
fn utf8_len(b: u8) -> usize {
    match b {
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => 1,
    }
}

/// All fingerprints of `text` as one stream, in order (for tests and tools).
pub fn fingerprints_of_text(text: &[u8]) -> Vec<u64> {
    let mut s = Shingler::new();
    let mut v = Vec::new();
    s.push(text, &mut |h, _| v.push(h));
    s.finish(&mut |h, _| v.push(h));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(text: &str) -> std::collections::BTreeSet<u64> {
        fingerprints_of_text(text.as_bytes()).into_iter().collect()
    }

    const TEXT: &str = "The licensee shall keep the source code of the compiler confidential and \
        shall not disclose it to any third party without the prior written consent of the \
        licensor, except to its employees who need to know it for the purposes of this \
        agreement and who are bound by obligations of confidentiality no less strict.";

    #[test]
    fn case_punctuation_whitespace_and_line_breaks_do_not_matter() {
        let base = set(TEXT);
        assert!(base.len() >= 4, "{}", base.len());
        let reflowed: String = TEXT
            .split_whitespace()
            .enumerate()
            .map(|(i, w)| if i % 7 == 6 { format!("{w}\n") } else { format!("{w}  ") })
            .collect();
        assert_eq!(set(&reflowed), base);
        assert_eq!(set(&TEXT.to_uppercase()), base);
        let punct = TEXT.replace(' ', " -- ").replace(',', ";").replace('.', "!!");
        assert_eq!(set(&punct), base);
        // A different text shares nothing.
        assert!(set("An unrelated sentence about the weather in the mountains this week, \
            with rain on Tuesday and snow at the weekend for the skiers.")
        .is_disjoint(&base));
    }

    #[test]
    fn unicode_case_and_split_utf8_sequences() {
        let a = set("Ärger über Öl und Straße führt zu Ähnlichem bei Müller in Köln heute früh wieder");
        let b = set("ärger ÜBER öl und straße FÜHRT zu ähnlichem bei MÜLLER in köln heute früh wieder");
        assert_eq!(a, b);
        // Accents dropped, or written as combining marks, change nothing.
        let c = set("Arger uber Ol und Strasse fuhrt zu Ahnlichem bei Muller in Koln heute fruh wieder");
        let d = set("A\u{308}rger u\u{308}ber O\u{308}l und Straße fu\u{308}hrt zu A\u{308}hnlichem bei Mu\u{308}ller in Ko\u{308}ln heute fru\u{308}h wieder");
        assert_eq!(d, a);
        assert_ne!(c, a, "ß is no ss");
        let e = set("Ärger über Öl und Straße führt zu Ähnlichem bei Müller in Köln heute früh wieder"
            .replace(['Ä', 'ä'], "a")
            .replace(['Ü', 'ü'], "u")
            .replace(['Ö', 'ö'], "o")
            .as_str());
        assert_eq!(e, a);
        assert!(!a.is_empty());
        // Any chunking gives the same fingerprints.
        let text = "Ärger über Öl und Straße führt zu Ähnlichem bei Müller in Köln heute früh wieder";
        let whole = fingerprints_of_text(text.as_bytes());
        for cut in 0..text.len() {
            for cut2 in cut..text.len().min(cut + 5) {
                let mut s = Shingler::new();
                let mut v = Vec::new();
                let b = text.as_bytes();
                s.push(&b[..cut], &mut |h, _| v.push(h));
                s.push(&b[cut..cut2], &mut |h, _| v.push(h));
                s.push(&b[cut2..], &mut |h, _| v.push(h));
                s.finish(&mut |h, _| v.push(h));
                assert_eq!(v, whole, "cut at {cut}, {cut2}");
            }
        }
    }

    #[test]
    fn every_window_has_a_fingerprint() {
        // The winnowing guarantee: a run of WINDOW shingles (WINDOW + SHINGLE_WORDS - 1 words)
        // shared with the document holds one of its fingerprints.
        let words: Vec<String> = (0..400).map(|i| format!("w{}", i * 7919 % 1000)).collect();
        let doc = set(&words.join(" "));
        let t = WINDOW + SHINGLE_WORDS - 1;
        for start in 0..words.len() - t {
            let run = set(&format!("unrelated lead {} trailing words", words[start..start + t].join(" ")));
            assert!(!run.is_disjoint(&doc), "run at {start}");
        }
    }

    #[test]
    fn blocks_and_bytes_give_the_same_fingerprints() {
        // Whole (64-byte blocks where the text is ASCII) against one byte per push (the
        // byte path only), on ASCII, punctuation, long words, digits and UTF-8 mixed.
        let mut rng = crate::testkit::numbers::Rng::new(9);
        let pieces = [
            "the",
            "Contract",
            "42",
            "x",
            "supercalifragilistic",
            "ÄRGER",
            "straße",
            "—",
            ", ",
            " ",
            "\n",
            "..",
            "e\u{301}",
            "naïve",
            "ABCDEFG",
            "abcdefgh",
            "abcdefghi",
        ];
        for round in 0..20 {
            let mut text = String::new();
            for _ in 0..(200 + round * 50) {
                text.push_str(pieces[rng.below(pieces.len() as u64) as usize]);
                if rng.below(3) > 0 {
                    text.push(' ');
                }
            }
            let whole = fingerprints_of_text(text.as_bytes());
            let mut s = Shingler::new();
            let mut v = Vec::new();
            for b in text.as_bytes() {
                s.push(std::slice::from_ref(b), &mut |h, _| v.push(h));
            }
            s.finish(&mut |h, _| v.push(h));
            assert!(!whole.is_empty());
            assert_eq!(v, whole, "round {round}");
        }
    }

    #[test]
    fn every_byte_of_a_long_word_counts() {
        let a = set("the quick brown fox jumps over internationalisation-free lazy dogs");
        let b = set("the quick brown fox jumps over zzzernationalisation-free lazy dogs");
        let c = set("the quick brown fox jumps over internationalisatioz-free lazy dogs");
        assert!(!a.is_empty());
        assert!(a.is_disjoint(&b) && a.is_disjoint(&c));
    }

    #[test]
    fn short_streams_and_repeats() {
        assert!(set("too short").is_empty(), "fewer words than a shingle");
        assert_eq!(set("one two three four five six").len(), 1, "one shingle");
        // Repeated text selects few fingerprints (robust winnowing).
        let rep = "the same words again ".repeat(500);
        assert!(set(&rep).len() <= 8, "{}", set(&rep).len());
        // Invalid UTF-8 and lone continuation bytes are separators, never a panic.
        let mut bad = b"alpha beta \xff\xfe gamma delta epsilon zeta eta theta".to_vec();
        bad.extend_from_slice(b" \xe2\x82");
        assert!(!fingerprints_of_text(&bad).is_empty());
    }
}
