//! Detection over a stream of text: the matcher side of the engine.
//!
//! [`DetectorSet`] is compiled once from a policy. `DetectStream` runs it over one member's
//! text as it arrives, keeping a bounded rolling window: [`LOOKBEHIND`] bytes of context are
//! kept before the unexamined region, and candidates that start within [`LOOKAHEAD`] bytes of
//! the end of what has arrived wait for more input. Every candidate is examined exactly once,
//! in the round where its trigger position (first digit, literal prefix, `@`, regex start)
//! falls, so verdicts do not depend on how the input is chunked.
//!
//! Detectors are found by cheap prefilters, never by one big regex over every byte: a
//! vectorisable scan for digits drives the numeric types, an Aho-Corasick automaton over
//! literal prefixes drives the secret tokens, and `memchr` finds `@` for e-mail.

mod builtin;
mod classes;
mod custom;
mod hits;
mod hotwords;
mod iban;
mod numeric;
mod secrets;
mod spaced;

use std::collections::{HashMap, HashSet};

use aho_corasick::AhoCorasick;
use serde::{Deserialize, Serialize};

pub use builtin::Builtin;
pub(crate) use custom::{CustomRegex, Dictionary};
pub use hits::Evidence;
pub(crate) use hits::Hits;

use crate::mask::{mask, normalize};

/// Context bytes kept before the region being examined (hotwords, e-mail local parts).
pub const LOOKBEHIND: usize = 256;
/// Bytes a candidate may extend past its trigger; matches longer than this (custom regexes
/// only) may be missed when they straddle a chunk boundary.
pub const LOOKAHEAD: usize = 1024;
/// Text examined per round; the window never holds more than this plus the two margins.
pub const BLOCK: usize = 256 * 1024;
/// Distance around a candidate searched for hotwords.
pub const HOTWORD_WINDOW: usize = 100;

/// How sure a detector is of a match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    /// Shape only.
    Low,
    /// Shape plus some structure, or a weak validator.
    Medium,
    /// Validated (checksum, ranges, exact format), or raised by a hotword.
    High,
}

impl Confidence {
    /// One level up: what a hotword nearby does.
    pub fn raised(self) -> Self {
        match self {
            Self::Low => Self::Medium,
            Self::Medium | Self::High => Self::High,
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// Index of a detector in a [`DetectorSet`]: built-ins first, then custom detectors and
/// dictionaries in policy order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DetectorId(pub(crate) u16);

/// All detectors of a policy, compiled.
#[derive(Debug)]
pub struct DetectorSet {
    names: Vec<String>,
    enabled: Vec<bool>,
    hotwords: hotwords::Hotwords,
    /// Literal prefixes of the secret-token detectors.
    literals: Option<AhoCorasick>,
    literal_kinds: Vec<secrets::Literal>,
    customs: Vec<CustomRegex>,
    dictionary: Option<Dictionary>,
    exclusions: HashMap<DetectorId, HashSet<String>>,
    exclude_any: HashSet<String>,
    any_numeric: bool,
    /// The `edm` rules' matchers (set by the policy once their indexes are loaded).
    pub(crate) edm: Vec<crate::edm::EdmSpec>,
}

/// A custom detector or dictionary as the policy describes it, before compiling.
#[derive(Debug, Clone)]
pub(crate) enum CustomSpec {
    Regex { name: String, pattern: String, confidence: Confidence, hotwords: Vec<String> },
    Dictionary { name: String, terms: Vec<String>, confidence: Confidence, hotwords: Vec<String> },
}

impl DetectorSet {
    /// Compiles the set. `disabled` names built-ins to switch off; `exclusions` maps a
    /// detector name (or `"any"`) to values never reported.
    pub(crate) fn build(
        disabled: &HashSet<String>,
        custom: &[CustomSpec],
        extra_hotwords: &HashMap<String, Vec<String>>,
        exclusions: &HashMap<String, Vec<String>>,
    ) -> Result<Self, String> {
        let mut names = Vec::new();
        let mut enabled = Vec::new();
        let mut hotwords = Vec::new();
        for b in Builtin::ALL {
            names.push(b.name().to_string());
            enabled.push(!disabled.contains(b.name()));
            hotwords.push(b.hotwords().iter().map(|s| s.to_string()).collect::<Vec<_>>());
        }
        let mut customs = Vec::new();
        let mut dict_terms: Vec<(String, DetectorId)> = Vec::new();
        let mut dict_conf = Vec::new();
        for spec in custom {
            let id = DetectorId(u16::try_from(names.len()).map_err(|_| "too many detectors")?);
            match spec {
                CustomSpec::Regex { name, pattern, confidence, hotwords: hw } => {
                    customs.push(CustomRegex::new(id, pattern, *confidence)?);
                    names.push(name.clone());
                    hotwords.push(hw.clone());
                }
                CustomSpec::Dictionary { name, terms, confidence, hotwords: hw } => {
                    for t in terms {
                        dict_terms.push((t.clone(), id));
                    }
                    names.push(name.clone());
                    hotwords.push(hw.clone());
                    dict_conf.push((id, *confidence));
                }
            }
            enabled.push(true);
        }
        for (name, words) in extra_hotwords {
            let idx = names
                .iter()
                .position(|n| n == name)
                .ok_or_else(|| format!("hotwords for unknown detector {name:?}"))?;
            hotwords[idx].extend(words.iter().cloned());
        }
        let hotwords = hotwords::Hotwords::new(&hotwords)?;
        let (literals, literal_kinds) = secrets::literal_automaton(&enabled)?;
        let dictionary =
            if dict_terms.is_empty() { None } else { Some(Dictionary::new(dict_terms, dict_conf)?) };
        let mut excl: HashMap<DetectorId, HashSet<String>> = HashMap::new();
        let mut exclude_any = HashSet::new();
        for (name, values) in exclusions {
            let normalized = values.iter().map(|v| normalize(v.as_bytes()));
            if name == "any" {
                exclude_any.extend(normalized);
                continue;
            }
            let idx = names
                .iter()
                .position(|n| n == name)
                .ok_or_else(|| format!("exclusions for unknown detector {name:?}"))?;
            excl.entry(DetectorId(idx as u16)).or_default().extend(normalized);
        }
        let any_numeric = [Builtin::CreditCard, Builtin::UsSsn, Builtin::Iban, Builtin::Phone]
            .iter()
            .any(|b| enabled[b.id().0 as usize]);
        Ok(Self {
            names,
            enabled,
            hotwords,
            literals,
            literal_kinds,
            customs,
            dictionary,
            exclusions: excl,
            exclude_any,
            any_numeric,
            edm: Vec::new(),
        })
    }

    /// The detector's name (`credit_card`, or a custom name).
    pub fn name(&self, id: DetectorId) -> &str {
        self.names.get(id.0 as usize).map(String::as_str).unwrap_or("?")
    }

    /// Looks a detector up by name.
    pub fn id(&self, name: &str) -> Option<DetectorId> {
        self.names.iter().position(|n| n == name).map(|i| DetectorId(i as u16))
    }

    /// Number of detectors (built-in and custom).
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// True when there are no detectors at all (never, in practice: built-ins always exist).
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    pub(crate) fn enabled(&self, b: Builtin) -> bool {
        self.enabled.get(b.id().0 as usize).copied().unwrap_or(false)
    }

    /// Whether a hotword of `id` occurs, as a whole word, in `window`.
    pub(crate) fn hotword_near(&self, id: DetectorId, window: &[u8]) -> bool {
        self.hotwords.near(id, window)
    }

    fn excluded(&self, id: DetectorId, value: &[u8]) -> bool {
        if self.exclude_any.is_empty() && self.exclusions.is_empty() {
            return false;
        }
        let n = normalize(value);
        self.exclude_any.contains(&n) || self.exclusions.get(&id).is_some_and(|s| s.contains(&n))
    }
}

/// Where found matches go: the sink side of the matcher/searcher/sink split.
pub(crate) struct Found<'a> {
    pub set: &'a DetectorSet,
    pub hits: &'a mut Hits,
    pub member: &'a str,
}

impl Found<'_> {
    /// Records one match. The clear value is masked here and goes no further.
    pub fn report(&mut self, id: DetectorId, conf: Confidence, offset: u64, value: &[u8]) {
        if self.set.excluded(id, value) {
            return;
        }
        let name = self.set.name(id);
        self.hits.record(name, conf, self.member, offset, || mask(name, value));
    }
}

/// The rolling window over one member's text.
#[derive(Debug, Default)]
pub(crate) struct DetectStream {
    buf: Vec<u8>,
    /// Absolute offset of `buf[0]` in the member's text.
    base: u64,
    /// Absolute offset of the first byte whose candidates are not yet examined.
    next: u64,
    /// Per custom regex, the absolute offset before which its matches were already taken.
    regex_resume: Vec<u64>,
    /// Per `edm` rule, its own window (its margins follow the rule's proximity).
    edm: Vec<crate::edm::EdmStream>,
}

impl DetectStream {
    /// An empty stream at offset 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends text, examining full blocks as they fill.
    pub(crate) fn write(&mut self, found: &mut Found<'_>, mut data: &[u8]) {
        self.each_edm(found, |spec, stream, sink| stream.write(spec, sink, data));
        while !data.is_empty() {
            let room = (BLOCK + LOOKAHEAD + LOOKBEHIND).saturating_sub(self.buf.len());
            let take = room.min(data.len());
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.buf.len() >= BLOCK + LOOKAHEAD + LOOKBEHIND {
                self.run(found, false);
            }
        }
    }

    /// Runs `step` on each `edm` rule's stream, its matches reported into `found`.
    fn each_edm(
        &mut self,
        found: &mut Found<'_>,
        mut step: impl FnMut(&crate::edm::EdmSpec, &mut crate::edm::EdmStream, &mut crate::edm::Sink<'_>),
    ) {
        if found.set.edm.is_empty() {
            return;
        }
        self.edm.resize_with(found.set.edm.len(), Default::default);
        let (hits, member) = (&mut *found.hits, found.member);
        let mut sink = |detector: &str, at: u64, masked: String| {
            hits.record(detector, Confidence::High, member, at, || masked);
        };
        for (spec, stream) in found.set.edm.iter().zip(&mut self.edm) {
            step(spec, stream, &mut sink);
        }
    }

    /// Examines everything left; the stream is empty afterwards.
    pub(crate) fn finish(&mut self, found: &mut Found<'_>) {
        self.each_edm(found, |spec, stream, sink| stream.finish(spec, sink));
        self.run(found, true);
        self.base += self.buf.len() as u64;
        self.next = self.base;
        self.buf.clear();
    }

    fn run(&mut self, found: &mut Found<'_>, last: bool) {
        let end = if last { self.buf.len() } else { self.buf.len().saturating_sub(LOOKAHEAD) };
        let start = (self.next.saturating_sub(self.base) as usize).min(end);
        if start < end {
            scan(&self.buf, self.base, start, end, last, found, &mut self.regex_resume);
        }
        self.next = self.base + end as u64;
        if !last {
            let keep = end.saturating_sub(LOOKBEHIND);
            self.buf.drain(..keep);
            self.base += keep as u64;
        }
    }
}

/// Examines candidates triggered in `buf[start..end]`; `buf` around it is context.
fn scan(
    buf: &[u8],
    base: u64,
    start: usize,
    end: usize,
    last: bool,
    found: &mut Found<'_>,
    regex_resume: &mut Vec<u64>,
) {
    let set = found.set;
    if set.any_numeric {
        numeric::scan(buf, base, start, end, found);
    }
    if set.literals.is_some() {
        secrets::scan_literals(buf, base, start, end, found);
    }
    if set.enabled(Builtin::Email) {
        secrets::scan_email(buf, base, start, end, found);
    }
    if !set.customs.is_empty() {
        regex_resume.resize(set.customs.len(), 0);
        for (c, resume) in set.customs.iter().zip(regex_resume.iter_mut()) {
            c.scan(buf, base, start, end, last, resume, found);
        }
    }
    if let Some(d) = &set.dictionary {
        d.scan(buf, base, start, end, found);
    }
}

/// ASCII letters, digits and `_`: what a word boundary separates.
#[inline]
pub(crate) fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The byte before `i`, if any.
#[inline]
pub(crate) fn before(buf: &[u8], i: usize) -> Option<u8> {
    i.checked_sub(1).and_then(|j| buf.get(j).copied())
}

/// The hotword context around `buf[s..e]`.
pub(crate) fn context(buf: &[u8], s: usize, e: usize) -> &[u8] {
    let lo = s.saturating_sub(HOTWORD_WINDOW);
    let hi = (e + HOTWORD_WINDOW).min(buf.len());
    &buf[lo..hi]
}
