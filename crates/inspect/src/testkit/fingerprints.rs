//! Generated protected documents and labelled variants of them, for document-fingerprint
//! tests and the precision/recall table in `docs/POLICY.md`.
//!
//! Every document is prose on one topic (contracts): function words, the topic's words
//! and its stock phrases ("in accordance with the terms of this agreement"), which all
//! documents share, and words of its own (made-up names of parties, products and places,
//! drawn from syllables by the document's seed), which make it distinct. Documents on the
//! same topic therefore share vocabulary and phrases but not passages, as real contracts do.

use super::numbers::Rng;
use super::wrap;

const FUNCTION: &[&str] = &[
    "the", "of", "and", "to", "in", "a", "is", "that", "for", "it", "as", "with", "be", "by", "on", "not",
    "this", "are", "or", "from", "at", "which", "but", "have", "an", "any", "its", "such", "shall", "may",
    "all", "each", "under", "upon", "other", "no", "if", "within",
];

const TOPIC: &[&str] = &[
    "agreement",
    "party",
    "parties",
    "licence",
    "licensee",
    "licensor",
    "confidential",
    "information",
    "term",
    "termination",
    "payment",
    "invoice",
    "services",
    "supplier",
    "customer",
    "obligations",
    "warranty",
    "liability",
    "indemnity",
    "notice",
    "breach",
    "remedy",
    "schedule",
    "delivery",
    "acceptance",
    "fees",
    "intellectual",
    "property",
    "rights",
    "consent",
    "written",
    "disclosure",
    "employees",
    "contractors",
    "affiliates",
    "jurisdiction",
    "governing",
    "law",
    "dispute",
    "arbitration",
    "renewal",
    "period",
    "days",
    "months",
    "clause",
    "section",
    "annex",
    "data",
    "processing",
    "security",
    "audit",
    "records",
    "compliance",
    "insurance",
    "damages",
    "force",
    "majeure",
    "assignment",
    "subcontracting",
    "price",
    "currency",
    "tax",
    "territory",
];

const PHRASES: &[&str] = &[
    "in accordance with the terms of this agreement",
    "subject to the provisions of this clause",
    "without the prior written consent of the other party",
    "for the avoidance of doubt",
    "notwithstanding anything to the contrary in this agreement",
    "to the extent permitted by applicable law",
    "as set out in the schedule",
    "within thirty days of the date of the invoice",
    "the parties agree that",
    "including but not limited to",
    "shall remain in full force and effect",
    "this agreement shall be governed by the laws of",
];

const SYLLABLES: &[&str] = &[
    "ka", "ri", "mo", "tel", "van", "sor", "qui", "len", "dra", "po", "shi", "mar", "go", "bel", "tu", "zen",
    "fa", "lo", "nix", "ar", "ve", "cal", "dom", "pri", "sta", "wen", "ho", "jer", "ul", "ix",
];

/// Prose on the contract topic with a vocabulary of its own, drawn from a seed.
#[derive(Debug, Clone)]
pub struct Corpus {
    rng: Rng,
    own: Vec<String>,
}

impl Corpus {
    /// A writer for `seed`: its own 300 made-up words.
    pub fn new(seed: u64) -> Self {
        let mut rng = Rng::new(seed.wrapping_mul(0x2545_F491_4F6C_DD1D).wrapping_add(17));
        let own = (0..300)
            .map(|_| {
                let n = 2 + rng.below(3) as usize;
                (0..n).map(|_| SYLLABLES[rng.below(SYLLABLES.len() as u64) as usize]).collect()
            })
            .collect();
        Self { rng, own }
    }

    /// About `words` words of prose: sentences of 8 to 22 words, paragraphs of 3 to 7.
    pub fn prose(&mut self, words: usize) -> String {
        let mut out = String::new();
        let mut n = 0;
        let mut in_paragraph = 0;
        while n < words {
            let len = 8 + self.rng.below(15) as usize;
            let mut sentence: Vec<String> = Vec::new();
            while sentence.len() < len {
                let r = self.rng.below(100);
                if r < 6 {
                    sentence.extend(
                        PHRASES[self.rng.below(PHRASES.len() as u64) as usize].split(' ').map(String::from),
                    );
                } else if r < 40 {
                    sentence.push(FUNCTION[self.rng.below(FUNCTION.len() as u64) as usize].to_string());
                } else if r < 65 {
                    sentence.push(TOPIC[self.rng.below(TOPIC.len() as u64) as usize].to_string());
                } else {
                    sentence.push(self.own[self.rng.below(self.own.len() as u64) as usize].clone());
                }
            }
            n += sentence.len();
            let mut s = sentence.join(" ");
            if let Some(first) = s.get(..1) {
                s = first.to_uppercase() + &s[1..];
            }
            if self.rng.below(4) == 0 {
                if let Some(i) = s.find(' ') {
                    s.insert(i, ',');
                }
            }
            out.push_str(&s);
            out.push('.');
            in_paragraph += 1;
            if in_paragraph >= 3 + self.rng.below(5) as usize {
                out.push_str("\n\n");
                in_paragraph = 0;
            } else {
                out.push(' ');
            }
        }
        out.trim_end().to_string()
    }
}

/// Protected document `i`: about `words` words of its own prose.
pub fn protected_document(i: u64, words: usize) -> String {
    Corpus::new(1_000 + i).prose(words)
}

/// A licence header every protected document starts with (boilerplate to subtract).
pub fn licence_header() -> String {
    Corpus::new(424_242).prose(250)
}

/// One labelled variant.
#[derive(Debug, Clone)]
pub struct Case {
    /// What kind of variant (`excerpt 30%`, `as docx`, `same topic`...).
    pub kind: &'static str,
    /// The protected document it holds, or `None` for a document that must pass.
    pub doc: Option<usize>,
    /// The object.
    pub bytes: Vec<u8>,
    /// A file name to scan it under.
    pub filename: String,
}

/// The words of `text`, `from..to` as shares of its length.
fn excerpt(text: &str, from: f64, share: f64) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    let a = (words.len() as f64 * from) as usize;
    let b = (a + (words.len() as f64 * share).round() as usize).min(words.len());
    words[a..b].join(" ")
}

/// Every `every`-th word replaced by another.
pub fn edited(text: &str, every: usize, seed: u64) -> String {
    let mut rng = Rng::new(seed);
    text.split(' ')
        .enumerate()
        .map(|(i, w)| {
            if i % every == every / 2 {
                TOPIC[rng.below(TOPIC.len() as u64) as usize].to_string()
            } else {
                w.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Reflowed to short lines, upper case, and with its punctuation and spacing changed.
pub fn reformatted(text: &str) -> String {
    let mut out = String::new();
    for (i, w) in text.split_whitespace().enumerate() {
        let w = w.trim_matches(|c: char| !c.is_alphanumeric()).to_uppercase();
        out.push_str(&w);
        out.push_str(match i % 9 {
            8 => "\n",
            4 => " -- ",
            2 => ";  ",
            _ => " ",
        });
    }
    out
}

/// The kinds of [`cases`], in table order; the last two must pass.
pub const KINDS: &[&str] = &[
    "exact copy",
    "excerpt 10%",
    "excerpt 30%",
    "excerpt 60%",
    "reformatted",
    "edited (1 word in 20)",
    "as docx",
    "as odt",
    "as html",
    "as pdf",
    "as e-mail",
    "same topic",
    "boilerplate only",
];

/// Labelled variants of `docs` (the protected texts, licence header included): for each
/// of the first `n` documents, one case of every kind.
pub fn cases(docs: &[String], n: usize) -> Vec<Case> {
    let licence = licence_header();
    let mut out = Vec::new();
    for (i, d) in docs.iter().enumerate().take(n) {
        let body = d.strip_prefix(licence.as_str()).unwrap_or(d).trim();
        let filler = |k: u64| Corpus::new(50_000 + 10 * i as u64 + k).prose(1200);
        let mut push = |kind: &'static str, bytes: Vec<u8>, ext: &str| {
            let doc = if kind == "same topic" || kind == "boilerplate only" { None } else { Some(i) };
            out.push(Case { kind, doc, bytes, filename: format!("case{i}-{}.{ext}", out_name(kind)) });
        };
        push("exact copy", d.as_bytes().to_vec(), "txt");
        for (kind, share) in [("excerpt 10%", 0.1), ("excerpt 30%", 0.3), ("excerpt 60%", 0.6)] {
            let text = format!("{}\n\n{}\n\n{}", filler(1), excerpt(body, 0.2, share), filler(2));
            push(kind, text.into_bytes(), "txt");
        }
        push("reformatted", reformatted(d).into_bytes(), "txt");
        push("edited (1 word in 20)", edited(d, 20, i as u64).into_bytes(), "txt");
        for (kind, format) in [
            ("as docx", "docx"),
            ("as odt", "odt"),
            ("as html", "html"),
            ("as pdf", "pdf"),
            ("as e-mail", "eml"),
        ] {
            let ext = if format == "eml" { "eml" } else { format };
            push(kind, wrap(format, d).bytes, ext);
        }
        push("same topic", Corpus::new(90_000 + i as u64).prose(1500).into_bytes(), "txt");
        push("boilerplate only", format!("{licence}\n\n{}", filler(3)).into_bytes(), "txt");
    }
    out
}

fn out_name(kind: &str) -> String {
    kind.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect()
}
