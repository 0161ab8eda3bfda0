//! Hotwords: context words that raise a detector's confidence when they occur, as whole
//! words, within [`HOTWORD_WINDOW`](super::HOTWORD_WINDOW) bytes of a match.
//!
//! Number-dense text asks this for a large share of its numbers (every nine-digit number
//! that could be an SSN, every phone number), so the question is answered without an
//! automaton walk over the window: the window's word starts are found eight bytes at a time,
//! and each is looked up by its first two letters in a per-detector bit table; only a word
//! whose first two letters begin one of the detector's hotwords is compared with them.
//! Detectors with a hotword that does not start with an ASCII letter use one Aho-Corasick
//! automaton over every hotword instead.

use aho_corasick::packed;
use aho_corasick::{AhoCorasick, Span};

use super::DetectorId;

/// The hotwords of every detector of a set, compiled.
#[derive(Debug)]
pub(crate) struct Hotwords {
    /// Per detector (by id): how to look for its hotwords.
    per: Vec<Lookup>,
    /// One case-insensitive automaton over every hotword, for [`Lookup::Automaton`].
    ac: Option<AhoCorasick>,
    /// Automaton pattern index -> detector.
    owner: Vec<DetectorId>,
}

#[derive(Debug)]
enum Lookup {
    None,
    /// Every hotword starts with an ASCII letter.
    Words(Box<WordIndex>),
    Automaton,
}

/// Hotwords that all start with an ASCII letter, indexed by their first two bytes.
#[derive(Debug)]
struct WordIndex {
    /// ASCII-lowercased hotwords, with their letter-pair key.
    words: Vec<(usize, Vec<u8>)>,
    /// Bit `first * 27 + second` set when a hotword starts with that letter pair; `second`
    /// is 26 for a hotword whose second byte is not a letter (or that has only one).
    pairs: [u64; 11], // 26 * 27 bits
    /// Bit `first` set when a hotword starts with that letter.
    firsts: u32,
    /// The hotwords' first three bytes in every case, for a SIMD (Teddy) search of a
    /// window; `None` when there are too many for it.
    prefixes: Option<packed::Searcher>,
}

/// Bytes of each hotword searched for in every case.
const PREFIX: usize = 3;

/// Every upper/lower-case spelling of `p` (letters only change).
fn case_variants(p: &[u8]) -> Vec<Vec<u8>> {
    let mut out = vec![Vec::new()];
    for &b in p {
        let cases: &[u8] =
            if b.is_ascii_alphabetic() { &[b.to_ascii_lowercase(), b.to_ascii_uppercase()] } else { &[b] };
        out =
            out.into_iter().flat_map(|v| cases.iter().map(move |&c| [v.as_slice(), &[c]].concat())).collect();
    }
    out
}

/// Index of a letter (0-25), or 26 for anything else.
#[inline]
fn letter_class(b: Option<u8>) -> usize {
    match b {
        Some(b) if b.is_ascii_alphabetic() => usize::from(b.to_ascii_lowercase() - b'a'),
        _ => 26,
    }
}

impl WordIndex {
    fn new(words: &[String]) -> Option<Self> {
        let mut pairs = [0u64; 11];
        let mut firsts = 0u32;
        let mut lowered = Vec::new();
        for w in words.iter().filter(|w| !w.is_empty()) {
            let w = w.as_bytes().to_ascii_lowercase();
            if !w[0].is_ascii_alphabetic() {
                return None;
            }
            let key = usize::from(w[0] - b'a') * 27 + letter_class(w.get(1).copied());
            pairs[key / 64] |= 1 << (key % 64);
            firsts |= 1 << (w[0] - b'a');
            lowered.push((key, w));
        }
        let mut variants: Vec<Vec<u8>> =
            lowered.iter().flat_map(|(_, w)| case_variants(&w[..w.len().min(PREFIX)])).collect();
        variants.sort();
        variants.dedup();
        let prefixes = if variants.len() <= 64 {
            let mut b = packed::Config::new().builder();
            b.extend(&variants);
            b.build()
        } else {
            None
        };
        Some(Self { words: lowered, pairs, firsts, prefixes })
    }

    /// Whether a hotword may start with the letter `b` (its first letter begins one).
    #[inline(always)]
    fn first_fits(&self, b: u8) -> bool {
        self.firsts & (1 << ((b | 0x20).wrapping_sub(b'a') & 31)) != 0
    }

    /// The letter-pair key of the word starting at `window[p]`, if a hotword starts so.
    #[inline(always)]
    fn pair_fits(&self, window: &[u8], p: usize) -> Option<usize> {
        let key = usize::from((window[p] | 0x20).wrapping_sub(b'a') % 26) * 27
            + letter_class(window.get(p + 1).copied());
        (self.pairs[key / 64] & (1 << (key % 64)) != 0).then_some(key)
    }

    /// Whether a hotword with letter-pair `key` starts at `window[p]` and ends at a word end.
    #[inline(never)]
    fn matches_at(&self, window: &[u8], p: usize, key: usize) -> bool {
        self.words.iter().any(|(k, w)| {
            *k == key
                && window.get(p..p + w.len()).is_some_and(|s| s.eq_ignore_ascii_case(w))
                && !window.get(p + w.len()).is_some_and(u8::is_ascii_alphabetic)
        })
    }

    /// Whether a hotword starts at the word start `window[p]`.
    #[inline(always)]
    fn at(&self, window: &[u8], p: usize) -> bool {
        self.first_fits(window[p])
            && self.pair_fits(window, p).is_some_and(|key| self.matches_at(window, p, key))
    }

    fn any_in(&self, window: &[u8]) -> bool {
        if let Some(prefixes) = &self.prefixes {
            // Candidates by their first bytes (a SIMD search), then the whole word; the
            // search goes on from the byte after a candidate that was not a hotword.
            let mut at = 0;
            while let Some(m) = prefixes.find_in(window, Span { start: at, end: window.len() }) {
                let p = m.start();
                if !(p > 0 && window[p - 1].is_ascii_alphabetic()) && self.at(window, p) {
                    return true;
                }
                at = p + 1;
            }
            return false;
        }
        let mut prev_letter = 0u64;
        let mut chunks = window.chunks_exact(8);
        let mut at = 0;
        for c in &mut chunks {
            let Ok(bytes) = <[u8; 8]>::try_from(c) else { break };
            let x = u64::from_le_bytes(bytes);
            let letters = letter_flags(x);
            // A word starts at a letter whose previous byte is not one.
            let mut starts = letters & !((letters << 8) | prev_letter);
            prev_letter = letters >> 56;
            while starts != 0 {
                // Bit 7 of byte j: the byte is `x >> 8j`.
                let shift = starts.trailing_zeros() - 7;
                if self.first_fits((x >> shift) as u8) && self.at(window, at + shift as usize / 8) {
                    return true;
                }
                starts &= starts - 1;
            }
            at += 8;
        }
        let mut prev = prev_letter != 0;
        for (k, &b) in chunks.remainder().iter().enumerate() {
            let letter = b.is_ascii_alphabetic();
            if letter && !prev && self.at(window, at + k) {
                return true;
            }
            prev = letter;
        }
        false
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// Bit 7 of each byte of the little-endian word set when that byte is an ASCII letter
/// (SWAR, exact per byte).
#[inline]
fn letter_flags(x: u64) -> u64 {
    // Fold case: letters become a..z; other bytes stay outside that range or keep bit 7.
    let y = x | (ONES * 0x20);
    let low = y & (ONES * 127);
    // `low` in b'a'..=b'z' and the byte below 0x80.
    (ONES * (127 + b'z' as u64 + 1) - low) & !x & (low + ONES * (127 - (b'a' as u64 - 1))) & HIGH
}

impl Hotwords {
    /// Compiles the hotwords of each detector (`hotwords[id]`).
    pub fn new(hotwords: &[Vec<String>]) -> Result<Self, String> {
        let mut per = Vec::with_capacity(hotwords.len());
        let mut pats = Vec::new();
        let mut owner = Vec::new();
        for (i, words) in hotwords.iter().enumerate() {
            if words.iter().all(String::is_empty) {
                per.push(Lookup::None);
                continue;
            }
            match WordIndex::new(words) {
                Some(ix) => per.push(Lookup::Words(Box::new(ix))),
                None => {
                    per.push(Lookup::Automaton);
                    for w in words.iter().filter(|w| !w.is_empty()) {
                        pats.push(w.clone());
                        owner.push(DetectorId(i as u16));
                    }
                }
            }
        }
        let ac = if pats.is_empty() {
            None
        } else {
            Some(
                AhoCorasick::builder()
                    .ascii_case_insensitive(true)
                    .build(&pats)
                    .map_err(|e| format!("hotwords: {e}"))?,
            )
        };
        Ok(Self { per, ac, owner })
    }

    /// Whether a hotword of `id` occurs, as a whole word, in `window`.
    pub fn near(&self, id: DetectorId, window: &[u8]) -> bool {
        match self.per.get(id.0 as usize) {
            None | Some(Lookup::None) => false,
            Some(Lookup::Words(ix)) => ix.any_in(window),
            Some(Lookup::Automaton) => self.ac.as_ref().is_some_and(|ac| {
                ac.find_overlapping_iter(window).any(|m| {
                    self.owner[m.pattern().as_usize()] == id
                        && !window.get(m.start().wrapping_sub(1)).is_some_and(u8::is_ascii_alphabetic)
                        && !window.get(m.end()).is_some_and(u8::is_ascii_alphabetic)
                })
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain definition: any occurrence, case-insensitive, not touching a letter.
    fn plain(words: &[&str], window: &[u8]) -> bool {
        words.iter().any(|w| {
            let w = w.as_bytes();
            (0..window.len()).any(|p| {
                window.get(p..p + w.len()).is_some_and(|s| s.eq_ignore_ascii_case(w))
                    && !(p > 0 && window[p - 1].is_ascii_alphabetic())
                    && !window.get(p + w.len()).is_some_and(u8::is_ascii_alphabetic)
            })
        })
    }

    #[test]
    fn letter_flags_are_exact_for_every_byte() {
        for b in 0..=255u8 {
            let x = u64::from_le_bytes([b'1', b, 0xFF, b'Z', b'a', b'@', b'[', b'`']);
            let f = letter_flags(x).to_le_bytes();
            for (k, byte) in x.to_le_bytes().iter().enumerate() {
                assert_eq!(f[k] == 0x80, byte.is_ascii_alphabetic(), "byte {byte:#x}");
            }
        }
    }

    #[test]
    fn word_index_agrees_with_the_plain_definition() {
        let sets: [&[&str]; 3] = [
            &["ssn", "ssn#", "ss#", "social security", "social sec", "taxpayer id"],
            &["phone", "tel", "telephone", "mobile", "cell", "call", "fax"],
            &["x", "card no", "kartennummer"],
        ];
        let texts: [&[u8]; 10] = [
            b"my SSN: 123456789",
            b"xssn 123456789",
            b"ssn2 and SSN# and ss#",
            b"social  security social security",
            b"the Social Sec. no",
            b"Telephone Tel: fax Fax2 cellular",
            b"card not, card no. x",
            b"\xc3\xa9ssn and ssn\xc3\xa9",
            b"ss",
            b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaassn",
        ];
        for (k, words) in sets.into_iter().enumerate() {
            let owned: Vec<String> = words.iter().map(|s| s.to_string()).collect();
            // With the SIMD prefix search (where the words allow it: a one-letter hotword
            // does not), and with the word-start scan.
            let searched = Hotwords::new(std::slice::from_ref(&owned)).unwrap();
            if k < 2 {
                assert!(matches!(&searched.per[0], Lookup::Words(ix) if ix.prefixes.is_some()), "{words:?}");
            }
            let mut scanned = Hotwords::new(&[owned]).unwrap();
            if let Lookup::Words(ix) = &mut scanned.per[0] {
                ix.prefixes = None;
            }
            for h in [&searched, &scanned] {
                for t in texts {
                    for start in 0..t.len() {
                        for end in start..=t.len() {
                            let w = &t[start..end];
                            assert_eq!(
                                h.near(DetectorId(0), w),
                                plain(words, w),
                                "{words:?} in {:?}",
                                String::from_utf8_lossy(w)
                            );
                        }
                    }
                }
            }
        }
    }

    /// Too many prefixes for the SIMD search: the word-start scan answers the same.
    #[test]
    fn many_hotwords_use_the_word_start_scan() {
        let words: Vec<String> =
            (0..40).map(|k| format!("{}{}word", (b'a' + k % 26) as char, (b'a' + k / 26) as char)).collect();
        let h = Hotwords::new(std::slice::from_ref(&words)).unwrap();
        assert!(matches!(&h.per[0], Lookup::Words(ix) if ix.prefixes.is_none()));
        let refs: Vec<&str> = words.iter().map(String::as_str).collect();
        for t in [&b"the baword is here"[..], b"xbaword", b"BAWORD!", b"ba word"] {
            assert_eq!(h.near(DetectorId(0), t), plain(&refs, t), "{:?}", String::from_utf8_lossy(t));
        }
    }

    #[test]
    fn hotwords_that_do_not_start_with_a_letter_use_the_automaton() {
        let h = Hotwords::new(&[vec!["#id".into(), "nr".into()], vec![]]).unwrap();
        assert!(matches!(h.per[0], Lookup::Automaton));
        assert!(h.near(DetectorId(0), b"the #id 5"));
        assert!(h.near(DetectorId(0), b"NR 5"));
        assert!(!h.near(DetectorId(0), b"nra 5"));
        assert!(!h.near(DetectorId(1), b"the #id 5"));
    }
}
