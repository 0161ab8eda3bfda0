//! Policies: the TOML file format, validation with line numbers, and the built-in default.
//!
//! A [`Policy`] is parsed once, compiled (regexes, automata) and then shared read-only by
//! every scan, typically as `Arc<Policy>`. See `docs/POLICY.md` for the format.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use toml::Spanned;

use crate::detect::{Builtin, Confidence, CustomSpec, DetectorSet};
use crate::edm::{EdmIndex, EdmSpec};
use crate::fingerprint::{FingerprintIndex, FingerprintSpec};
use crate::identify::FileType;

mod fingerprint_rule;

use fingerprint_rule::{check_fingerprint, fingerprint_names, EdmOnly};
pub use fingerprint_rule::{FingerprintRule, IndexResolver, DEFAULT_MIN_CONTAINMENT};

/// The text of the built-in default policy.
pub const DEFAULT_POLICY_TOML: &str = include_str!("default.toml");

/// Published test and specimen numbers, excluded when a policy sets
/// `exclude_test_numbers = true`. Off by default: a test card sent through the server is the
/// usual way to check that blocking works.
pub const TEST_NUMBERS: &[(&str, &[&str])] = &[
    (
        "credit_card",
        &[
            "4111111111111111",
            "4012888888881881",
            "4222222222222",
            "5555555555554444",
            "5105105105105100",
            "2223000048400011",
            "378282246310005",
            "371449635398431",
            "378734493671000",
            "6011111111111117",
            "6011000990139424",
            "3530111333300000",
            "3566002020360505",
            "30569309025904",
            "38520000023237",
            "6200000000000005",
        ],
    ),
    ("us_ssn", &["078051120", "219099999", "123456789"]),
    ("iban", &["DE89370400440532013000", "GB82WEST12345698765432"]),
    ("aws_access_key", &["AKIAIOSFODNN7EXAMPLE"]),
];

/// What a rule (or the could-not-scan outcome) does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Let the content pass and record nothing.
    Allow,
    /// Let the content pass and record an incident.
    Monitor,
    /// Refuse the content and record an incident.
    Block,
}

/// Which ICAP mode a rule applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Uploads (requests) only.
    Reqmod,
    /// Downloads (responses) only.
    Respmod,
    /// Both.
    #[default]
    Both,
}

/// The ICAP mode of one scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// A request body (upload).
    #[default]
    Reqmod,
    /// A response body (download).
    Respmod,
}

impl Scope {
    /// Whether the scope covers `method`.
    pub fn covers(self, method: Method) -> bool {
        matches!(
            (self, method),
            (Scope::Both, _) | (Scope::Reqmod, Method::Reqmod) | (Scope::Respmod, Method::Respmod)
        )
    }
}

/// How grave a rule's incidents are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Informational.
    Low,
    /// The default.
    #[default]
    Medium,
    /// Regulated data.
    High,
    /// Credentials.
    Critical,
}

/// One rule of a policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Unique name, shown in block pages and incidents.
    pub name: String,
    /// Detectors whose matches count towards this rule (any of them).
    #[serde(default)]
    pub detectors: Vec<String>,
    /// Matches needed, summed over `detectors`. Default 1.
    #[serde(default = "one")]
    pub min_count: u64,
    /// Matches below this confidence do not count. Default high.
    #[serde(default = "high")]
    pub min_confidence: Confidence,
    /// Default medium.
    #[serde(default)]
    pub severity: Severity,
    /// Default block.
    #[serde(default = "block")]
    pub action: Action,
    /// Default both.
    #[serde(default)]
    pub scope: Scope,
    /// When non-empty (or `groups` is), the rule applies only to these users.
    #[serde(default)]
    pub users: Vec<String>,
    /// When non-empty (or `users` is), the rule applies only to members of these groups.
    #[serde(default)]
    pub groups: Vec<String>,
    /// When non-empty, the content must hold one of these file types (for example
    /// `encrypted_archive` or `executable`). With `detectors` too, both must hold.
    #[serde(default)]
    pub file_types: Vec<FileType>,
    /// Exact Data Match: rows of an index found in the content (`docs/POLICY.md`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edm: Option<EdmRule>,
    /// Document fingerprints: a share of a protected document found in the content
    /// (`docs/POLICY.md`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<FingerprintRule>,
}

/// `edm = { index = "customers", min_fields = 2, proximity = 300 }`: a row of the index
/// counts when `min_fields` of its fields (a primary among them) lie within `proximity`
/// bytes of the primary.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdmRule {
    /// The index name (`dlpgate edm index --name`).
    pub index: String,
    /// Fields of one row needed, the primary counted. Default 2.
    #[serde(default = "default_min_fields")]
    pub min_fields: usize,
    /// Bytes of text around the primary searched for the others. Default 300.
    #[serde(default = "default_proximity")]
    pub proximity: usize,
}

fn default_min_fields() -> usize {
    crate::edm::DEFAULT_MIN_FIELDS
}
fn default_proximity() -> usize {
    crate::edm::DEFAULT_PROXIMITY
}

fn one() -> u64 {
    1
}
fn high() -> Confidence {
    Confidence::High
}
fn block() -> Action {
    Action::Block
}
fn medium() -> Confidence {
    Confidence::Medium
}

impl Rule {
    /// Whether the rule applies to this mode and user.
    pub fn applies(&self, method: Method, user: Option<&str>, groups: &[String]) -> bool {
        if !self.scope.covers(method) {
            return false;
        }
        if self.users.is_empty() && self.groups.is_empty() {
            return true;
        }
        let user_ok = user.is_some_and(|u| self.users.iter().any(|x| x.eq_ignore_ascii_case(u)));
        let group_ok = groups.iter().any(|g| self.groups.iter().any(|x| x.eq_ignore_ascii_case(g)));
        user_ok || group_ok
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    policy: Option<Spanned<Section>>,
    #[serde(default, rename = "detector")]
    detectors: Vec<Spanned<DetectorFile>>,
    #[serde(default, rename = "dictionary")]
    dictionaries: Vec<Spanned<DictionaryFile>>,
    #[serde(default, rename = "rule")]
    rules: Vec<Spanned<Rule>>,
    #[serde(default)]
    hotwords: Option<Spanned<HashMap<String, Vec<String>>>>,
    #[serde(default)]
    exclusions: Option<Spanned<HashMap<String, Vec<String>>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Section {
    #[serde(default = "custom_name")]
    name: String,
    #[serde(default = "block")]
    could_not_scan: Action,
    #[serde(default)]
    exempt_file_types: Vec<FileType>,
    #[serde(default)]
    disable: Vec<String>,
    #[serde(default)]
    exclude_test_numbers: bool,
}

fn custom_name() -> String {
    "custom".to_string()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DetectorFile {
    name: String,
    regex: String,
    #[serde(default = "medium")]
    confidence: Confidence,
    #[serde(default)]
    hotwords: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DictionaryFile {
    name: String,
    terms: Vec<String>,
    #[serde(default = "medium")]
    confidence: Confidence,
    #[serde(default)]
    hotwords: Vec<String>,
}

/// An invalid policy: what is wrong and on which line of the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", line.map(|l| format!("line {l}: ")).unwrap_or_default())]
pub struct PolicyError {
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

/// A parsed, validated and compiled policy.
#[derive(Debug)]
pub struct Policy {
    name: String,
    version: String,
    rules: Vec<Rule>,
    could_not_scan: Action,
    exempt_file_types: Vec<FileType>,
    pub(crate) detectors: DetectorSet,
    /// The detector name of each distinct `edm` rule.
    edm_names: HashMap<EdmRule, String>,
    edm_indexes: Vec<Arc<EdmIndex>>,
    /// The detector name of each distinct `fingerprint` rule.
    fingerprint_names: HashMap<FingerprintRule, String>,
    fingerprint_indexes: Vec<Arc<FingerprintIndex>>,
    fingerprint_specs: Vec<FingerprintSpec>,
}

/// Finds an EDM index by name for a policy being loaded (the server maps it from the data
/// directory); an error names what is missing.
pub type EdmResolver<'a> = dyn FnMut(&str) -> Result<Arc<EdmIndex>, String> + 'a;

impl Policy {
    /// The built-in default policy (see `DEFAULT_POLICY_TOML`).
    pub fn builtin() -> Self {
        match Self::from_toml_str(DEFAULT_POLICY_TOML) {
            Ok(p) => p,
            // A unit test proves the embedded text valid.
            Err(e) => unreachable!("built-in policy is invalid: {e}"),
        }
    }

    /// Parses, validates and compiles a policy file. Errors name their line. A policy with
    /// `edm` rules needs [`from_toml_str_with`](Self::from_toml_str_with).
    pub fn from_toml_str(text: &str) -> Result<Self, PolicyError> {
        Self::from_toml_str_with(text, &mut |name| {
            Err(format!("EDM index {name:?} is not available here: load the policy with a data directory"))
        })
    }

    /// Like [`from_toml_str`](Self::from_toml_str), with `edm` rules' indexes found by
    /// `resolve`.
    pub fn from_toml_str_with(text: &str, resolve: &mut EdmResolver<'_>) -> Result<Self, PolicyError> {
        Self::from_toml_str_with_indexes(text, &mut EdmOnly(resolve))
    }

    /// A policy with no rule and no detector: the engine only extracts text. For reading
    /// documents to fingerprint ([`Engine::fingerprint_reader`](crate::Engine::fingerprint_reader)).
    pub fn for_fingerprinting() -> Self {
        let all: Vec<String> = Builtin::ALL.iter().map(|b| format!("{:?}", b.name())).collect();
        let text = format!("[policy]\nname = \"fingerprinting\"\ndisable = [{}]\n", all.join(", "));
        match Self::from_toml_str(&text) {
            Ok(p) => p,
            // A unit test proves it valid.
            Err(e) => unreachable!("fingerprinting policy is invalid: {e}"),
        }
    }

    /// Like [`from_toml_str`](Self::from_toml_str), with `edm` and `fingerprint` rules'
    /// indexes found by `resolve`.
    pub fn from_toml_str_with_indexes(
        text: &str,
        resolve: &mut dyn IndexResolver,
    ) -> Result<Self, PolicyError> {
        let file: PolicyFile = toml::from_str(text).map_err(|e| PolicyError {
            line: e.span().map(|s| line_of(text, s.start)),
            message: e.message().to_string(),
        })?;
        let err = |span: std::ops::Range<usize>, message: String| PolicyError {
            line: Some(line_of(text, span.start)),
            message,
        };
        let mut exclude_tests = false;
        let (name, could_not_scan, exempt_file_types, disable) = match file.policy {
            Some(s) => {
                let span = s.span();
                let s = s.into_inner();
                for d in &s.disable {
                    if Builtin::from_name(d).is_none() {
                        return Err(err(span, format!("unknown built-in detector {d:?} in disable")));
                    }
                }
                for t in &s.exempt_file_types {
                    if !t.can_be_exempt() {
                        let name = toml::Value::try_from(t).map(|v| v.to_string()).unwrap_or_default();
                        return Err(err(
                            span,
                            format!(
                                "exempt_file_types: {name} cannot be exempt: its structure is not validated, so \
                                 any content starting with its magic bytes would pass unscanned (exemptable: \
                                 image, media, zip, docx, xlsx, pptx, odt, ods, odp)"
                            ),
                        ));
                    }
                }
                exclude_tests = s.exclude_test_numbers;
                (s.name, s.could_not_scan, s.exempt_file_types, s.disable)
            }
            None => (custom_name(), Action::Block, Vec::new(), Vec::new()),
        };
        let mut names: HashSet<String> = Builtin::ALL.iter().map(|b| b.name().to_string()).collect();
        let mut custom = Vec::new();
        for d in file.detectors {
            let span = d.span();
            let d = d.into_inner();
            check_name(&d.name).map_err(|m| err(span.clone(), m))?;
            if !names.insert(d.name.clone()) {
                return Err(err(span, format!("detector name {:?} is already used", d.name)));
            }
            crate::detect::CustomRegex::new(crate::detect::DetectorId(0), &d.regex, d.confidence)
                .map_err(|m| err(span.clone(), format!("detector {:?}: {m}", d.name)))?;
            custom.push(CustomSpec::Regex {
                name: d.name,
                pattern: d.regex,
                confidence: d.confidence,
                hotwords: d.hotwords,
            });
        }
        for d in file.dictionaries {
            let span = d.span();
            let d = d.into_inner();
            check_name(&d.name).map_err(|m| err(span.clone(), m))?;
            if !names.insert(d.name.clone()) {
                return Err(err(span, format!("dictionary name {:?} is already used", d.name)));
            }
            if d.terms.is_empty() || d.terms.iter().any(|t| t.trim().is_empty()) {
                return Err(err(span, format!("dictionary {:?} needs non-empty terms", d.name)));
            }
            custom.push(CustomSpec::Dictionary {
                name: d.name,
                terms: d.terms,
                confidence: d.confidence,
                hotwords: d.hotwords,
            });
        }
        let mut rules = Vec::new();
        let mut rule_names = HashSet::new();
        let mut edm_loaded: HashMap<String, Arc<EdmIndex>> = HashMap::new();
        let mut fp_loaded: HashMap<String, Arc<FingerprintIndex>> = HashMap::new();
        for r in file.rules {
            let span = r.span();
            let r = r.into_inner();
            if r.name.trim().is_empty() {
                return Err(err(span, "a rule needs a name".into()));
            }
            if !rule_names.insert(r.name.clone()) {
                return Err(err(span, format!("rule name {:?} is already used", r.name)));
            }
            if r.detectors.is_empty() && r.file_types.is_empty() && r.edm.is_none() && r.fingerprint.is_none()
            {
                return Err(err(
                    span,
                    format!("rule {:?} needs detectors, edm, fingerprint or file_types", r.name),
                ));
            }
            if let Some(e) = &r.edm {
                check_edm(e, &mut edm_loaded, &mut |n| resolve.edm(n))
                    .map_err(|m| err(span.clone(), format!("rule {:?}: {m}", r.name)))?;
            }
            if let Some(f) = &r.fingerprint {
                check_fingerprint(f, &mut fp_loaded, resolve)
                    .map_err(|m| err(span.clone(), format!("rule {:?}: {m}", r.name)))?;
            }
            if r.min_count == 0 {
                return Err(err(span, format!("rule {:?}: min_count must be at least 1", r.name)));
            }
            for d in &r.detectors {
                if !names.contains(d) {
                    return Err(err(span, format!("rule {:?} refers to unknown detector {d:?}", r.name)));
                }
                if disable.contains(d) {
                    return Err(err(span, format!("rule {:?} uses disabled detector {d:?}", r.name)));
                }
            }
            rules.push(r);
        }
        let (hotwords, hw_span) = match file.hotwords {
            Some(h) => {
                let span = h.span();
                (h.into_inner(), span)
            }
            None => (HashMap::new(), 0..0),
        };
        let (mut exclusions, ex_span) = match file.exclusions {
            Some(h) => {
                let span = h.span();
                (h.into_inner(), span)
            }
            None => (HashMap::new(), 0..0),
        };
        if exclude_tests {
            for (detector, values) in TEST_NUMBERS {
                exclusions
                    .entry(detector.to_string())
                    .or_default()
                    .extend(values.iter().map(|v| v.to_string()));
            }
        }
        for k in hotwords.keys() {
            if !names.contains(k) {
                return Err(err(hw_span, format!("hotwords for unknown detector {k:?}")));
            }
        }
        for k in exclusions.keys() {
            if k != "any" && !names.contains(k) {
                return Err(err(ex_span, format!("exclusions for unknown detector {k:?}")));
            }
        }
        let disabled: HashSet<String> = disable.into_iter().collect();
        let mut detectors = DetectorSet::build(&disabled, &custom, &hotwords, &exclusions)
            .map_err(|message| PolicyError { line: None, message })?;
        let edm_names = edm_names(&rules);
        let mut specs: Vec<(&EdmRule, &String)> = edm_names.iter().collect();
        specs.sort();
        for (rule, detector) in specs {
            if let Some(index) = edm_loaded.get(&rule.index) {
                detectors.edm.push(EdmSpec::new(
                    detector.clone(),
                    index.clone(),
                    rule.min_fields,
                    rule.proximity,
                ));
            }
        }
        let mut edm_indexes: Vec<(String, Arc<EdmIndex>)> = edm_loaded.into_iter().collect();
        edm_indexes.sort_by(|a, b| a.0.cmp(&b.0));
        let mut versioned = text.to_string();
        for (name, index) in &edm_indexes {
            versioned.push_str(&format!("\n#edm {name} {}", hex::encode(index.build_id())));
        }
        let edm_indexes = edm_indexes.into_iter().map(|(_, i)| i).collect();
        let mut fp_indexes: Vec<(String, Arc<FingerprintIndex>)> = fp_loaded.into_iter().collect();
        fp_indexes.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, index) in &fp_indexes {
            versioned.push_str(&format!("\n#fingerprint {name} {}", hex::encode(index.build_id())));
        }
        let fingerprint_names = fingerprint_names(&rules);
        let mut fp_rules: Vec<(&FingerprintRule, &String)> = fingerprint_names.iter().collect();
        fp_rules.sort();
        let fingerprint_specs = fp_rules
            .into_iter()
            .filter_map(|(rule, detector)| {
                let slot = fp_indexes.iter().position(|(n, _)| *n == rule.index)?;
                Some(FingerprintSpec {
                    detector: detector.clone(),
                    slot,
                    min_containment: rule.min_containment,
                })
            })
            .collect();
        let fingerprint_indexes = fp_indexes.into_iter().map(|(_, i)| i).collect();
        Ok(Self {
            name,
            version: version_of(&versioned),
            rules,
            could_not_scan,
            exempt_file_types,
            detectors,
            edm_names,
            edm_indexes,
            fingerprint_names,
            fingerprint_indexes,
            fingerprint_specs,
        })
    }

    /// Name from the `[policy]` section.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A short hash of the policy text, for `ISTag` and incidents: it changes whenever the
    /// policy does.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The rules, in file order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// What to do with content that could not be scanned.
    pub fn could_not_scan(&self) -> Action {
        self.could_not_scan
    }

    /// File types that are never scanned (decided from the first bytes, in preview).
    pub fn exempt_file_types(&self) -> &[FileType] {
        &self.exempt_file_types
    }

    /// The compiled detectors.
    pub fn detectors(&self) -> &DetectorSet {
        &self.detectors
    }

    /// The detector name an `edm` rule's matches count under (`edm:customers`).
    pub fn edm_detector(&self, rule: &EdmRule) -> Option<&str> {
        self.edm_names.get(rule).map(String::as_str)
    }

    /// The EDM indexes the policy uses, by name.
    pub fn edm_indexes(&self) -> &[Arc<EdmIndex>] {
        &self.edm_indexes
    }

    /// The detector name a `fingerprint` rule's matches count under (`fingerprint:contracts`).
    pub fn fingerprint_detector(&self, rule: &FingerprintRule) -> Option<&str> {
        self.fingerprint_names.get(rule).map(String::as_str)
    }

    /// The fingerprint indexes the policy uses, by name.
    pub fn fingerprint_indexes(&self) -> &[Arc<FingerprintIndex>] {
        &self.fingerprint_indexes
    }

    pub(crate) fn fingerprint_specs(&self) -> &[FingerprintSpec] {
        &self.fingerprint_specs
    }
}

impl Default for Policy {
    fn default() -> Self {
        Self::builtin()
    }
}

/// Checks an `edm` rule and loads its index once.
fn check_edm(
    e: &EdmRule,
    loaded: &mut HashMap<String, Arc<EdmIndex>>,
    resolve: &mut EdmResolver<'_>,
) -> Result<(), String> {
    check_name(&e.index).map_err(|m| format!("edm index {m}"))?;
    if e.proximity > crate::edm::MAX_PROXIMITY {
        return Err(format!("edm proximity is at most {} bytes", crate::edm::MAX_PROXIMITY));
    }
    let index = match loaded.get(&e.index) {
        Some(i) => i.clone(),
        None => {
            let i = resolve(&e.index)?;
            loaded.insert(e.index.clone(), i.clone());
            i
        }
    };
    if e.min_fields == 0 || e.min_fields > index.columns() {
        return Err(format!(
            "edm min_fields must be between 1 and the index's {} columns, not {}",
            index.columns(),
            e.min_fields
        ));
    }
    Ok(())
}

/// Names the detector of each distinct `edm` rule: `edm:INDEX`, or with its parameters when
/// one index has rules with different ones.
fn edm_names(rules: &[Rule]) -> HashMap<EdmRule, String> {
    let distinct: HashSet<&EdmRule> = rules.iter().filter_map(|r| r.edm.as_ref()).collect();
    distinct
        .iter()
        .map(|e| {
            let shared = distinct.iter().filter(|o| o.index == e.index).count() > 1;
            let name = if shared {
                format!("edm:{}:{}:{}", e.index, e.min_fields, e.proximity)
            } else {
                format!("edm:{}", e.index)
            };
            ((*e).clone(), name)
        })
        .collect()
}

pub(crate) fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        return Err(format!("name {name:?} must be non-empty ASCII letters, digits, '_' or '-'"));
    }
    Ok(())
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes().iter().take(offset).filter(|&&b| b == b'\n').count() + 1
}

fn version_of(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    hex::encode(&digest[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_parses() {
        let p = Policy::from_toml_str(DEFAULT_POLICY_TOML).unwrap();
        assert_eq!(p.name(), "default");
        assert_eq!(p.could_not_scan(), Action::Block);
        assert_eq!(p.version().len(), 16);
        let blocking: Vec<_> = p
            .rules()
            .iter()
            .filter(|r| r.action == Action::Block)
            .flat_map(|r| r.detectors.clone())
            .collect();
        assert_eq!(
            blocking,
            ["credit_card", "us_ssn", "iban", "private_key", "aws_access_key", "github_token"]
        );
    }

    #[test]
    fn errors_carry_lines() {
        let e = Policy::from_toml_str(
            "[policy]\nname = \"x\"\n\n[[rule]]\nname = \"r\"\ndetectors = [\"nope\"]\n",
        )
        .unwrap_err();
        assert_eq!(e.line, Some(4), "{e}");
        assert!(e.to_string().starts_with("line 4: "), "{e}");
        let e = Policy::from_toml_str("[policy]\nname = 3\n").unwrap_err();
        assert_eq!(e.line, Some(2), "{e}");
        let e = Policy::from_toml_str("\n\n[[detector]]\nname = \"a\"\nregex = \"(\"\n").unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
        let e = Policy::from_toml_str("[[rule]]\nname = \"r\"\naction = \"explode\"\ndetectors=[\"iban\"]\n")
            .unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
    }

    #[test]
    fn user_and_group_scoping() {
        let p = Policy::from_toml_str(
            "[[rule]]\nname = \"r\"\ndetectors = [\"iban\"]\nscope = \"reqmod\"\nusers = [\"alice\"]\ngroups = [\"finance\"]\n",
        )
        .unwrap();
        let r = &p.rules()[0];
        assert!(r.applies(Method::Reqmod, Some("Alice"), &[]));
        assert!(r.applies(Method::Reqmod, Some("bob"), &["finance".into()]));
        assert!(!r.applies(Method::Reqmod, Some("bob"), &[]));
        assert!(!r.applies(Method::Respmod, Some("alice"), &[]));
    }

    #[test]
    fn test_numbers_are_excluded_only_on_request() {
        use crate::{Engine, Limits, ScanContext};
        use std::sync::Arc;
        let on = Policy::from_toml_str(&DEFAULT_POLICY_TOML.replace(
            "could_not_scan = \"block\"",
            "could_not_scan = \"block\"\nexclude_test_numbers = true",
        ))
        .unwrap();
        let text = b"card 4111 1111 1111 1111 key AKIAIOSFODNN7EXAMPLE";
        let v = Engine::new(Arc::new(on), Limits::default()).scan_bytes(ScanContext::default(), text);
        assert!(!v.is_block(), "{v:?}");
        let v = Engine::new(Arc::new(Policy::builtin()), Limits::default())
            .scan_bytes(ScanContext::default(), text);
        assert!(v.is_block());
    }

    #[test]
    fn version_changes_with_text() {
        let a = Policy::from_toml_str("[policy]\nname = \"a\"\n").unwrap();
        let b = Policy::from_toml_str("[policy]\nname = \"b\"\n").unwrap();
        assert_ne!(a.version(), b.version());
    }
}
