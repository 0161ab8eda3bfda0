//! `fingerprint = { index = "contracts", min_containment = 0.3 }` rules, and how a policy
//! finds the indexes its `edm` and `fingerprint` rules name.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{check_name, EdmIndex, Rule};
use crate::fingerprint::FingerprintIndex;

/// `fingerprint = { index = "contracts", min_containment = 0.3 }`: a protected document of
/// the index counts when at least that share of its fingerprints is in the content (an
/// exact copy of its file counts at any share).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FingerprintRule {
    /// The index name (`dlpgate fingerprint add --name`).
    pub index: String,
    /// Share of one document's fingerprints that must be found, above 0 and at most 1.
    /// Default 0.3.
    #[serde(default = "default_min_containment")]
    pub min_containment: f64,
}

/// Default `min_containment`: a 30% excerpt matches.
pub const DEFAULT_MIN_CONTAINMENT: f64 = 0.3;

fn default_min_containment() -> f64 {
    DEFAULT_MIN_CONTAINMENT
}

// Shares are compared by their bits: rules are keys of the detector-name map.
impl PartialEq for FingerprintRule {
    fn eq(&self, o: &Self) -> bool {
        self.index == o.index && self.min_containment.to_bits() == o.min_containment.to_bits()
    }
}
impl Eq for FingerprintRule {}
impl std::hash::Hash for FingerprintRule {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.index.hash(h);
        self.min_containment.to_bits().hash(h);
    }
}
impl PartialOrd for FingerprintRule {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for FingerprintRule {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.index.cmp(&o.index).then(self.min_containment.total_cmp(&o.min_containment))
    }
}

/// Finds the indexes a policy's rules name while it is loaded (a server maps them from
/// its data directory); an error names what is missing.
pub trait IndexResolver {
    /// The EDM index `name`.
    fn edm(&mut self, name: &str) -> Result<Arc<EdmIndex>, String>;
    /// The fingerprint index `name`.
    fn fingerprint(&mut self, name: &str) -> Result<Arc<FingerprintIndex>, String> {
        Err(format!(
            "fingerprint index {name:?} is not available here: load the policy with a data directory"
        ))
    }
}

/// An EDM-only resolver from a closure (what `Policy::from_toml_str_with` takes).
pub(crate) struct EdmOnly<'a, 'b>(pub &'a mut super::EdmResolver<'b>);

impl IndexResolver for EdmOnly<'_, '_> {
    fn edm(&mut self, name: &str) -> Result<Arc<EdmIndex>, String> {
        (self.0)(name)
    }
}

/// Checks a `fingerprint` rule and loads its index once.
pub(crate) fn check_fingerprint(
    f: &FingerprintRule,
    loaded: &mut HashMap<String, Arc<FingerprintIndex>>,
    resolve: &mut dyn IndexResolver,
) -> Result<(), String> {
    check_name(&f.index).map_err(|m| format!("fingerprint index {m}"))?;
    if !(f.min_containment > 0.0 && f.min_containment <= 1.0) {
        return Err(format!(
            "fingerprint min_containment is a share above 0 and at most 1 (0.3 is 30%), not {}",
            f.min_containment
        ));
    }
    if !loaded.contains_key(&f.index) {
        let i = resolve.fingerprint(&f.index)?;
        loaded.insert(f.index.clone(), i);
    }
    Ok(())
}

/// Names the detector of each distinct `fingerprint` rule: `fingerprint:INDEX`, or with its
/// share when one index has rules with different ones.
pub(crate) fn fingerprint_names(rules: &[Rule]) -> HashMap<FingerprintRule, String> {
    let distinct: HashSet<&FingerprintRule> = rules.iter().filter_map(|r| r.fingerprint.as_ref()).collect();
    distinct
        .iter()
        .map(|f| {
            let shared = distinct.iter().filter(|o| o.index == f.index).count() > 1;
            let name = if shared {
                format!("fingerprint:{}:{}", f.index, f.min_containment)
            } else {
                format!("fingerprint:{}", f.index)
            };
            ((*f).clone(), name)
        })
        .collect()
}
