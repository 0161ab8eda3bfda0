//! What detection records as it goes: counts per detector and confidence, and the first
//! matches as masked evidence. The verdict is decided from it afterwards.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Confidence;

/// Counts and masked evidence gathered during a scan.
#[derive(Debug, Default)]
pub(crate) struct Hits {
    /// Per detector name, matches per confidence level (low, medium, high).
    pub(crate) counts: BTreeMap<String, [u64; 3]>,
    pub(crate) evidence: Vec<Evidence>,
    max_evidence: usize,
}

impl Hits {
    pub fn new(max_evidence: usize) -> Self {
        Self { max_evidence, ..Self::default() }
    }

    /// Counts one match; keeps it as evidence while there is room. `masked` is called only
    /// then: text dense with e-mail addresses or phone numbers would otherwise mask every
    /// one of them to keep none.
    pub fn record(
        &mut self,
        detector: &str,
        conf: Confidence,
        member: &str,
        offset: u64,
        masked: impl FnOnce() -> String,
    ) {
        match self.counts.get_mut(detector) {
            Some(c) => c[conf.index()] += 1,
            None => {
                let mut c = [0; 3];
                c[conf.index()] = 1;
                self.counts.insert(detector.to_string(), c);
            }
        }
        if self.evidence.len() < self.max_evidence {
            self.evidence.push(Evidence {
                detector: detector.to_string(),
                confidence: conf,
                masked: masked(),
                member: member.to_string(),
                offset,
            });
        }
    }

    /// Whether anything matched at all.
    pub fn any(&self) -> bool {
        !self.counts.is_empty()
    }

    /// Matches recorded so far, all detectors and confidences.
    pub fn total(&self) -> u64 {
        self.counts.values().flatten().sum()
    }

    /// Matches of `detector` at `min` confidence or above.
    pub fn count(&self, detector: &str, min: Confidence) -> u64 {
        self.counts.get(detector).map(|c| c[min.index()..].iter().sum()).unwrap_or(0)
    }
}

/// One match, masked, with where it was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    /// Detector name.
    pub detector: String,
    /// Confidence of this match.
    pub confidence: Confidence,
    /// The matched value, masked (`4111********1111`); the clear value is never kept.
    pub masked: String,
    /// Member path: the file name (or empty for a body), then `/`-joined archive members.
    pub member: String,
    /// Byte offset in the member's extracted text.
    pub offset: u64,
}
