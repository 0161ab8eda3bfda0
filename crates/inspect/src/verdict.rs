//! Verdicts: what the engine found and what the policy decides about it.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::detect::{Evidence, Hits};
use crate::identify::FileType;
use crate::limits::CouldNotScan;
use crate::policy::{Action, Method, Policy, Severity};

/// A rule that matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleMatch {
    /// Rule name.
    pub name: String,
    /// Rule severity.
    pub severity: Severity,
    /// Rule action.
    pub action: Action,
    /// Matches that counted towards it.
    pub count: u64,
}

/// The overall decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// Pass, record nothing.
    Allow,
    /// Pass, record an incident.
    Monitor,
    /// Refuse, record an incident.
    Block,
}

/// The engine's answer for one object. Holds masked evidence only, so it is safe to log,
/// store and print (`Debug` and JSON alike).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// What to do.
    pub decision: Decision,
    /// Rules that matched, blocking ones first.
    pub rules: Vec<RuleMatch>,
    /// Matches per detector, all confidences.
    pub counts: BTreeMap<String, u64>,
    /// Masked evidence, at most `Limits::max_evidence` items.
    pub evidence: Vec<Evidence>,
    /// Set when (part of) the object could not be scanned.
    pub could_not_scan: Option<CouldNotScan>,
    /// Types found, outer object and members.
    pub file_types: BTreeSet<FileType>,
    /// Bytes of text examined.
    pub scanned_bytes: u64,
    /// [`Policy::version`] of the policy that decided.
    pub policy_version: String,
}

impl Verdict {
    /// True when the object must be refused.
    pub fn is_block(&self) -> bool {
        self.decision == Decision::Block
    }

    /// True when an incident should be recorded (block or monitor).
    pub fn is_incident(&self) -> bool {
        self.decision != Decision::Allow
    }

    /// Names of the rules that decided, for `X-Violations-Found` and block pages; for a
    /// could-not-scan block, `could-not-scan:<reason>`.
    pub fn threat_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .rules
            .iter()
            .filter(|r| r.action == Action::Block || self.decision != Decision::Block)
            .map(|r| r.name.clone())
            .collect();
        if let Some(c) = &self.could_not_scan {
            v.push(format!("could-not-scan:{}", c.reason()));
        }
        v
    }

    /// A verdict for content that was not scanned because the policy exempts it.
    pub fn exempt(policy: &Policy) -> Self {
        Self {
            decision: Decision::Allow,
            rules: Vec::new(),
            counts: BTreeMap::new(),
            evidence: Vec::new(),
            could_not_scan: None,
            file_types: BTreeSet::new(),
            scanned_bytes: 0,
            policy_version: policy.version().to_string(),
        }
    }
}

/// Who and what a scan is for: rules scope on these.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Subject<'a> {
    pub method: Method,
    pub user: Option<&'a str>,
    pub groups: &'a [String],
}

/// Applies the policy's rules to what a scan found.
pub(crate) fn decide(
    policy: &Policy,
    subject: Subject<'_>,
    hits: Hits,
    file_types: BTreeSet<FileType>,
    could_not_scan: Option<CouldNotScan>,
    scanned_bytes: u64,
) -> Verdict {
    let mut rules = Vec::new();
    for r in policy.rules() {
        if !r.applies(subject.method, subject.user, subject.groups) {
            continue;
        }
        let mut count: u64 = r.detectors.iter().map(|d| hits.count(d, r.min_confidence)).sum();
        if let Some(name) = r.edm.as_ref().and_then(|e| policy.edm_detector(e)) {
            count += hits.count(name, r.min_confidence);
        }
        if let Some(name) = r.fingerprint.as_ref().and_then(|f| policy.fingerprint_detector(f)) {
            count += hits.count(name, r.min_confidence);
        }
        let detectors_ok =
            (r.detectors.is_empty() && r.edm.is_none() && r.fingerprint.is_none()) || count >= r.min_count;
        let types_ok = r.file_types.is_empty() || r.file_types.iter().any(|t| file_types.contains(t));
        if detectors_ok && types_ok {
            rules.push(RuleMatch { name: r.name.clone(), severity: r.severity, action: r.action, count });
        }
    }
    rules.sort_by(|a, b| b.action.cmp(&a.action).then(b.severity.cmp(&a.severity)));
    let mut decision = Decision::Allow;
    for r in &rules {
        decision = decision.max(match r.action {
            Action::Block => Decision::Block,
            Action::Monitor => Decision::Monitor,
            Action::Allow => Decision::Allow,
        });
    }
    if could_not_scan.is_some() {
        decision = decision.max(match policy.could_not_scan() {
            Action::Block => Decision::Block,
            Action::Monitor => Decision::Monitor,
            Action::Allow => Decision::Allow,
        });
    }
    let counts = hits.counts.iter().map(|(k, c)| (k.clone(), c.iter().sum())).collect();
    Verdict {
        decision,
        rules,
        counts,
        evidence: hits.evidence,
        could_not_scan,
        file_types,
        scanned_bytes,
        policy_version: policy.version().to_string(),
    }
}
