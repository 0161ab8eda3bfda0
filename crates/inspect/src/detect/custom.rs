//! Policy-defined detectors: regular expressions and keyword dictionaries.

use aho_corasick::{AhoCorasick, Input as AcInput};
use regex_automata::{meta::Regex, Input};

use super::{context, is_word, Confidence, DetectorId, Found};

/// A custom regular expression with its confidence; a hotword nearby raises it.
#[derive(Debug)]
pub(crate) struct CustomRegex {
    id: DetectorId,
    re: Regex,
    confidence: Confidence,
}

impl CustomRegex {
    pub fn new(id: DetectorId, pattern: &str, confidence: Confidence) -> Result<Self, String> {
        let re = Regex::builder()
            .syntax(regex_automata::util::syntax::Config::new().unicode(false).utf8(false))
            .build(pattern)
            .map_err(|e| format!("invalid regex: {e}"))?;
        Ok(Self { id, re, confidence })
    }

    /// Reports matches starting in `buf[start..end]` and at or after `resume` (absolute),
    /// so that a match is never reported twice nor split by a chunk boundary.
    #[allow(clippy::too_many_arguments)]
    pub fn scan(
        &self,
        buf: &[u8],
        base: u64,
        start: usize,
        end: usize,
        _last: bool,
        resume: &mut u64,
        found: &mut Found<'_>,
    ) {
        let from = (resume.saturating_sub(base) as usize).clamp(start, end);
        if from >= end {
            return;
        }
        let input = Input::new(buf).span(from..buf.len());
        for m in self.re.find_iter(input) {
            if m.start() >= end {
                break;
            }
            if m.is_empty() {
                continue;
            }
            *resume = base + m.end() as u64;
            let mut conf = self.confidence;
            if found.set.hotword_near(self.id, context(buf, m.start(), m.end())) {
                conf = conf.raised();
            }
            found.report(self.id, conf, base + m.start() as u64, &buf[m.range()]);
        }
    }
}

/// Every dictionary term of a policy in one case-insensitive automaton; whole words only.
#[derive(Debug)]
pub(crate) struct Dictionary {
    ac: AhoCorasick,
    owner: Vec<DetectorId>,
    confidence: Vec<(DetectorId, Confidence)>,
}

impl Dictionary {
    pub fn new(
        terms: Vec<(String, DetectorId)>,
        confidence: Vec<(DetectorId, Confidence)>,
    ) -> Result<Self, String> {
        let (words, owner): (Vec<String>, Vec<DetectorId>) = terms.into_iter().unzip();
        let ac = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(&words)
            .map_err(|e| format!("dictionary: {e}"))?;
        Ok(Self { ac, owner, confidence })
    }

    pub fn scan(&self, buf: &[u8], base: u64, start: usize, end: usize, found: &mut Found<'_>) {
        let input = AcInput::new(buf).span(start..buf.len());
        for m in self.ac.find_overlapping_iter(input) {
            // Overlapping matches come in order of their end: skip, do not stop.
            if m.start() >= end {
                continue;
            }
            let word_start = buf.get(m.start()).is_some_and(|&b| is_word(b));
            let word_end = m.end() > 0 && is_word(buf[m.end() - 1]);
            if (word_start && m.start() > 0 && is_word(buf[m.start() - 1]))
                || (word_end && buf.get(m.end()).is_some_and(|&b| is_word(b)))
            {
                continue;
            }
            let id = self.owner[m.pattern().as_usize()];
            let mut conf =
                self.confidence.iter().find(|(d, _)| *d == id).map(|&(_, c)| c).unwrap_or(Confidence::Medium);
            if found.set.hotword_near(id, context(buf, m.start(), m.end())) {
                conf = conf.raised();
            }
            found.report(id, conf, base + m.start() as u64, &buf[m.range()]);
        }
    }
}
