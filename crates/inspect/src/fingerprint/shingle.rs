//! Words, shingles and winnowing: the fingerprints of one text stream.
//!
//! The hot path, per byte: a table lookup says whether an ASCII byte is part of a word and
//! gives its lower case, folded into the word's FNV-1a hash. Bytes from 0x80 up are decoded
//! as UTF-8 (a sequence cut by a chunk boundary waits for the rest), lower-cased with
//! `char::to_lowercase` when alphanumeric, and are separators otherwise. Per word: the
//! word hash is mixed, the rolling hash of the last [`SHINGLE_WORDS`] words is updated in
//! O(1) (a cyclic polynomial: rotate, take out the word that left, put in the new one), and
//! the winnowing window of the last [`WINDOW`] shingles is updated with a monotonic queue.
//!
//! What counts as text is therefore only the sequence of lower-cased words: line breaks,
//! case, punctuation, whitespace and markup make no difference.

use super::{SHINGLE_WORDS, WINDOW};

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

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

/// The 64-bit finaliser of MurmurHash3: every input bit affects every output bit.
#[inline]
pub(crate) fn fmix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// Turns one stream of text into winnowed fingerprints, fed in chunks of any size.
#[derive(Debug, Clone)]
pub struct Shingler {
    /// FNV-1a state of the word being read, and whether one is being read.
    word: u64,
    in_word: bool,
    /// Bytes of a UTF-8 sequence cut by the end of a chunk.
    pending: [u8; 4],
    pending_len: usize,
    /// The hashes of the last [`SHINGLE_WORDS`] words, a ring; `words` counts all words.
    ring: [u64; SHINGLE_WORDS],
    words: u64,
    rolling: u64,
    /// The winnowing queue: (shingle number, hash), hashes increasing from the front.
    queue: std::collections::VecDeque<(u64, u64)>,
    shingles: u64,
    /// The shingle number last selected.
    selected: Option<u64>,
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
            word: FNV_OFFSET,
            in_word: false,
            pending: [0; 4],
            pending_len: 0,
            ring: [0; SHINGLE_WORDS],
            words: 0,
            rolling: 0,
            queue: std::collections::VecDeque::with_capacity(WINDOW + 1),
            shingles: 0,
            selected: None,
        }
    }

    /// Reads `text`, calling `out` with each fingerprint selected.
    pub fn push(&mut self, mut text: &[u8], out: &mut impl FnMut(u64)) {
        if self.pending_len > 0 {
            text = self.complete_pending(text, out);
        }
        let mut i = 0;
        while i < text.len() {
            let b = text[i];
            if b < 0x80 {
                let l = ASCII_WORD[b as usize];
                if l != 0 {
                    self.word = (self.word ^ u64::from(l)).wrapping_mul(FNV_PRIME);
                    self.in_word = true;
                } else if self.in_word {
                    self.end_word(out);
                }
                i += 1;
                continue;
            }
            let len = utf8_len(b);
            if i + len > text.len() {
                // Cut by the chunk's end: wait for the rest.
                let rest = &text[i..];
                self.pending[..rest.len()].copy_from_slice(rest);
                self.pending_len = rest.len();
                return;
            }
            self.wide(&text[i..i + len], out);
            i += len.max(1);
        }
    }

    /// Ends the stream: the last word, and for a stream shorter than one window, its least
    /// shingle (so short documents still have a fingerprint).
    pub fn finish(&mut self, out: &mut impl FnMut(u64)) {
        if self.pending_len > 0 {
            self.pending_len = 0;
            if self.in_word {
                self.end_word(out);
            }
        }
        if self.in_word {
            self.end_word(out);
        }
        if self.shingles > 0 && self.shingles < WINDOW as u64 {
            if let Some(&(_, h)) = self.queue.front() {
                out(h);
            }
        }
        *self = Self::new();
    }

    /// Completes a UTF-8 sequence begun in the previous chunk; returns the rest of `text`.
    fn complete_pending<'a>(&mut self, text: &'a [u8], out: &mut impl FnMut(u64)) -> &'a [u8] {
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
    fn wide(&mut self, seq: &[u8], out: &mut impl FnMut(u64)) {
        let c = std::str::from_utf8(seq).ok().and_then(|s| s.chars().next());
        match c {
            // Combining diacritical marks: part of the word, not hashed ("e\u{301}" = "e").
            Some(c) if ('\u{300}'..='\u{36f}').contains(&c) => {}
            Some(c) if c.is_alphanumeric() => {
                let mut buf = [0u8; 4];
                for l in c.to_lowercase() {
                    for &b in l.encode_utf8(&mut buf).as_bytes() {
                        self.word = (self.word ^ u64::from(b)).wrapping_mul(FNV_PRIME);
                    }
                }
                self.in_word = true;
            }
            _ => {
                if self.in_word {
                    self.end_word(out);
                }
            }
        }
    }

    #[inline]
    fn end_word(&mut self, out: &mut impl FnMut(u64)) {
        let h = fmix(self.word);
        self.word = FNV_OFFSET;
        self.in_word = false;
        let slot = (self.words % SHINGLE_WORDS as u64) as usize;
        let leaving = self.ring[slot];
        self.ring[slot] = h;
        self.words += 1;
        // Cyclic polynomial: each word's hash is rotated by its distance from the end.
        self.rolling = self.rolling.rotate_left(1) ^ h;
        if self.words > SHINGLE_WORDS as u64 {
            self.rolling ^= leaving.rotate_left(SHINGLE_WORDS as u32);
        }
        if self.words >= SHINGLE_WORDS as u64 {
            self.winnow(fmix(self.rolling ^ 0x5348_494e_474c_4531), out);
        }
    }

    /// Robust winnowing: the least hash of each window of [`WINDOW`] shingles, the earlier
    /// one among equals, and a selection is not repeated while it stays the least.
    #[inline]
    fn winnow(&mut self, h: u64, out: &mut impl FnMut(u64)) {
        let n = self.shingles;
        self.shingles += 1;
        while self.queue.back().is_some_and(|&(_, b)| b > h) {
            self.queue.pop_back();
        }
        self.queue.push_back((n, h));
        if self.queue.front().is_some_and(|&(p, _)| p + (WINDOW as u64) <= n) {
            self.queue.pop_front();
        }
        if n + 1 >= WINDOW as u64 {
            if let Some(&(p, f)) = self.queue.front() {
                if self.selected != Some(p) {
                    self.selected = Some(p);
                    out(f);
                }
            }
        }
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
    s.push(text, &mut |h| v.push(h));
    s.finish(&mut |h| v.push(h));
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
        assert!(!a.is_empty());
        // Any chunking gives the same fingerprints.
        let text = "Ärger über Öl und Straße führt zu Ähnlichem bei Müller in Köln heute früh wieder";
        let whole = fingerprints_of_text(text.as_bytes());
        for cut in 0..text.len() {
            for cut2 in cut..text.len().min(cut + 5) {
                let mut s = Shingler::new();
                let mut v = Vec::new();
                let b = text.as_bytes();
                s.push(&b[..cut], &mut |h| v.push(h));
                s.push(&b[cut..cut2], &mut |h| v.push(h));
                s.push(&b[cut2..], &mut |h| v.push(h));
                s.finish(&mut |h| v.push(h));
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
