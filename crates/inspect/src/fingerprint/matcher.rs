//! The per-object state of a scan with fingerprint rules (or of a document being indexed).
//!
//! Every text stream of the object (each member, each part) runs its own [`Shingler`]
//! (`super::Shingler`); the fingerprints they select all come here, so an excerpt split
//! across an object's parts still counts whole. In a scan they are looked up in batches of
//! [`LOOKUP_BATCH`]: the Bloom filter first, then the sorted table for the few that pass.
//! A fingerprint found is counted once for each of its documents, however often the
//! object repeats it. When the object ends, each document's share of fingerprints found
//! decides the rules; an object whose bytes hash to a document's SHA-256 is an exact copy.
//!
//! The share is of the document's text, measured from where its fingerprints found lie in
//! it ([`coverage`]): fingerprints close together are one run of shared text, counted whole
//! to its ends, so a contiguous excerpt of 30% of a document counts at least 30% (a count
//! of fingerprints would say a little less, and vary with how they happen to fall).

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{self, Read, Seek, SeekFrom};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::format::FingerprintIndex;
use super::member_copy::{MemberDigest, MemberHash, MAX_MEMBER_DIGESTS};
use super::shingle::POSITION_BITS;
use super::{
    LOOKUP_BATCH, MAX_FINGERPRINTS_PER_DOCUMENT, MAX_TRACKED_FINGERPRINTS, MAX_TRACKED_POSITIONS, MERGE_GAP,
    MIN_MATCHED_FINGERPRINTS, SHINGLE_WORDS, WINDOW,
};
use crate::detect::{Confidence, Hits};
use crate::limits::CouldNotScan;

/// One `fingerprint = { ... }` of a policy, compiled.
#[derive(Debug, Clone)]
pub(crate) struct FingerprintSpec {
    /// The detector name in counts and evidence (`fingerprint:contracts`).
    pub detector: String,
    /// Which of the policy's indexes.
    pub slot: usize,
    /// Share of a document's fingerprints that must be found.
    pub min_containment: f64,
}

/// A fingerprint of a document and where it lies: `at` is the stream and shingle number
/// ([`position`](super::shingle::position)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Print {
    /// The fingerprint.
    pub hash: u64,
    /// Its position in the document.
    pub at: u32,
}

/// The fingerprints of a document being indexed, as the engine read it.
#[derive(Debug, Clone, Default)]
pub struct Collected {
    /// Distinct fingerprints, each at its first position, sorted by hash (the least
    /// [`MAX_FINGERPRINTS_PER_DOCUMENT`] of them).
    pub prints: Vec<Print>,
    /// Words in the document's text streams that have a shingle: its length, which
    /// shares are of.
    pub words: u64,
    /// Set when part of the document could not be read (its text is then incomplete).
    pub could_not_scan: Option<CouldNotScan>,
    /// Bytes of text read.
    pub text_bytes: u64,
}

/// What a scan keeps about fingerprints for one object.
#[derive(Debug)]
pub(crate) enum ObjectPrints {
    /// Indexing a document: keep its fingerprints.
    Collect(Box<Collecting>),
    /// Scanning: look them up.
    Match(Box<Matching>),
}

/// A document being indexed: its fingerprints, its streams numbered as they start, and
/// their length.
#[derive(Debug, Default)]
pub(crate) struct Collecting {
    prints: Vec<Print>,
    streams: u32,
    words: u64,
}

#[derive(Debug)]
pub(crate) struct Matching {
    indexes: Vec<IndexState>,
    pending: Vec<u64>,
    /// The object's SHA-256 so far, while it is no larger than the largest document.
    sha: Option<Sha256>,
    size: u64,
    max_size: u64,
    /// The digest of an object read from a file, taken before the scan read it.
    file_digest: Option<[u8; 32]>,
    hashed_file: bool,
    /// Positions still to be kept, over all indexes ([`MAX_TRACKED_POSITIONS`]).
    positions_left: usize,
    /// The digests of the object's members ([`MAX_MEMBER_DIGESTS`] at most).
    members: Vec<MemberDigest>,
}

#[derive(Debug)]
struct IndexState {
    index: Arc<FingerprintIndex>,
    tracked: Tracked,
    /// Per document, what was found of it.
    found: HashMap<u32, Found, Fast>,
}

/// What an object holds of one document.
#[derive(Debug, Default)]
struct Found {
    /// Its distinct fingerprints found.
    count: u32,
    /// Their positions in the document, while the object's budget for them lasts.
    positions: Vec<u32>,
}

/// The fingerprints already counted, by the number of their first entry.
#[derive(Debug)]
enum Tracked {
    Set(HashSet<u32, Fast>),
    Bits(Vec<u64>),
}

impl Tracked {
    /// Marks `key`; false when it was marked already.
    fn insert(&mut self, key: u32, entries: usize) -> bool {
        if let Tracked::Set(set) = self {
            if set.len() < MAX_TRACKED_FINGERPRINTS {
                return set.insert(key);
            }
            let mut bits = vec![0u64; entries.div_ceil(64)];
            for &k in set.iter() {
                if let Some(w) = bits.get_mut(k as usize / 64) {
                    *w |= 1 << (k % 64);
                }
            }
            *self = Tracked::Bits(bits);
        }
        match self {
            Tracked::Bits(bits) => match bits.get_mut(key as usize / 64) {
                Some(w) => {
                    let bit = 1u64 << (key % 64);
                    let new = *w & bit == 0;
                    *w |= bit;
                    new
                }
                None => false,
            },
            Tracked::Set(set) => set.insert(key),
        }
    }
}

impl ObjectPrints {
    /// The state of a scan under a policy with fingerprint indexes (none without).
    pub(crate) fn matching(indexes: &[Arc<FingerprintIndex>]) -> Option<Box<Self>> {
        if indexes.is_empty() {
            return None;
        }
        let max_size = indexes.iter().map(|i| i.max_doc_size()).max().unwrap_or(0);
        Some(Box::new(ObjectPrints::Match(Box::new(Matching {
            indexes: indexes
                .iter()
                .map(|i| IndexState {
                    index: i.clone(),
                    tracked: Tracked::Set(HashSet::default()),
                    found: HashMap::default(),
                })
                .collect(),
            pending: Vec::with_capacity(LOOKUP_BATCH),
            sha: Some(Sha256::new()),
            size: 0,
            max_size,
            file_digest: None,
            hashed_file: false,
            positions_left: MAX_TRACKED_POSITIONS,
            members: Vec::new(),
        }))))
    }

    /// The bytes of the object as they arrive, for the exact-copy check.
    pub(crate) fn raw(&mut self, data: &[u8]) {
        if let ObjectPrints::Match(m) = self {
            m.size += data.len() as u64;
            if m.size > m.max_size {
                m.sha = None;
            } else if let Some(sha) = &mut m.sha {
                sha.update(data);
            }
        }
    }

    /// Whether the exact-copy check still wants the object's bytes.
    pub(crate) fn wants_raw(&self) -> bool {
        matches!(self, ObjectPrints::Match(m) if m.sha.is_some() && !m.hashed_file)
    }

    /// A hasher for one member of the object, when exact copies are looked for and there
    /// is room for its digest.
    pub(crate) fn member_hasher(&self) -> Option<MemberHash> {
        match self {
            ObjectPrints::Match(m) if m.max_size > 0 && m.members.len() < MAX_MEMBER_DIGESTS => {
                Some(MemberHash::new(m.max_size))
            }
            _ => None,
        }
    }

    /// A member read whole: its digest is compared with the documents' when the object ends.
    pub(crate) fn member_read(&mut self, path: &str, hash: MemberHash) {
        if let ObjectPrints::Match(m) = self {
            if let Some((sha256, size)) = hash.finish() {
                if m.members.len() < MAX_MEMBER_DIGESTS {
                    m.members.push(MemberDigest { path: path.to_string(), sha256, size });
                }
            }
        }
    }

    /// Hashes an object read from a file (zip and office files are then read in place, never
    /// fed), when it is no larger than the largest document; leaves `r` at its start.
    pub(crate) fn hash_reader<R: Read + Seek>(&mut self, r: &mut R) -> io::Result<()> {
        let ObjectPrints::Match(m) = self else { return Ok(()) };
        let len = r.seek(SeekFrom::End(0))?;
        r.seek(SeekFrom::Start(0))?;
        m.hashed_file = true;
        m.size = len;
        m.sha = None;
        if len > m.max_size {
            return Ok(());
        }
        let mut sha = Sha256::new();
        let mut buf = vec![0u8; 64 * 1024];
        let mut left = len;
        while left > 0 {
            let n = r.read(&mut buf[..(left.min(64 * 1024)) as usize])?;
            if n == 0 {
                break;
            }
            sha.update(&buf[..n]);
            left -= n as u64;
        }
        m.file_digest = Some(sha.finalize().into());
        r.seek(SeekFrom::Start(0))?;
        Ok(())
    }

    /// The state of a document being indexed.
    pub(crate) fn collecting() -> Box<Self> {
        Box::new(ObjectPrints::Collect(Box::default()))
    }

    /// Numbers a text stream of the object as it starts (positions are per stream).
    pub(crate) fn new_stream(&mut self) -> u32 {
        match self {
            ObjectPrints::Collect(c) => {
                c.streams = c.streams.saturating_add(1);
                c.streams - 1
            }
            ObjectPrints::Match(_) => 0,
        }
    }

    /// A text stream of the object ended after `shingles` shingles (a stream too short
    /// for one holds no word a share could count).
    pub(crate) fn end_stream(&mut self, shingles: u64) {
        if let ObjectPrints::Collect(c) = self {
            if shingles > 0 {
                c.words = c.words.saturating_add(shingles + SHINGLE_WORDS as u64 - 1);
            }
        }
    }

    /// One fingerprint selected in any of the object's text streams, at position `at`.
    #[inline]
    pub(crate) fn add(&mut self, fp: u64, at: u32) {
        match self {
            ObjectPrints::Collect(c) => {
                c.prints.push(Print { hash: fp, at });
                if c.prints.len() >= 4 * MAX_FINGERPRINTS_PER_DOCUMENT {
                    bottom(&mut c.prints);
                }
            }
            ObjectPrints::Match(m) => {
                m.pending.push(fp);
                if m.pending.len() >= LOOKUP_BATCH {
                    m.flush();
                }
            }
        }
    }

    /// The fingerprints collected and the words read (for indexing).
    pub(crate) fn collected(self) -> (Vec<Print>, u64) {
        match self {
            ObjectPrints::Collect(mut c) => {
                bottom(&mut c.prints);
                (c.prints, c.words)
            }
            ObjectPrints::Match(_) => (Vec::new(), 0),
        }
    }

    /// Decides the specs: records a high-confidence match of each document whose share is
    /// reached (or which the object copies exactly) into `hits`.
    pub(crate) fn conclude(self, specs: &[FingerprintSpec], hits: &mut Hits, member: &str) {
        let ObjectPrints::Match(mut m) = self else { return };
        m.flush();
        for state in &mut m.indexes {
            for f in state.found.values_mut() {
                f.positions.sort_unstable();
                f.positions.dedup();
            }
        }
        let digest: Option<[u8; 32]> = m.file_digest.or_else(|| m.sha.take().map(|s| s.finalize().into()));
        for spec in specs {
            let Some(state) = m.indexes.get(spec.slot) else { continue };
            let index = &state.index;
            // Exact copies: the object, then its members (the first member copying a
            // document names it).
            let mut exact = Vec::new();
            let mut copied_as: Vec<(u32, Option<&str>)> = Vec::new();
            if let Some(d) = &digest {
                index.exact(d, m.size, &mut exact);
                copied_as.extend(exact.drain(..).map(|doc| (doc, None)));
            }
            for member in &m.members {
                index.exact(&member.sha256, member.size, &mut exact);
                for doc in exact.drain(..) {
                    if !copied_as.iter().any(|c| c.0 == doc) {
                        copied_as.push((doc, Some(member.path.as_str())));
                    }
                }
            }
            exact.extend(copied_as.iter().map(|c| c.0));
            // (share, document, found, of): exact copies first, then by share.
            let mut found: Vec<(f64, u32, u32, u32)> = exact.iter().map(|&d| (2.0, d, 0, 0)).collect();
            for (&doc, f) in &state.found {
                let total = index.fingerprints_of(doc);
                if total == 0 || exact.contains(&doc) {
                    continue;
                }
                let share = share_found(f, total, index.span_of(doc));
                if f.count >= MIN_MATCHED_FINGERPRINTS.min(total) && share >= spec.min_containment {
                    found.push((share, doc, f.count, total));
                }
            }
            found.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            for (share, doc, count, total) in found {
                let name = index.document(doc).map_or_else(|| format!("document {doc}"), |d| d.name);
                let masked = if share > 1.5 {
                    match copied_as.iter().find(|c| c.0 == doc).and_then(|c| c.1) {
                        Some(path) => format!("{}: {name}: exact copy in {path}", index.meta().name),
                        None => format!("{}: {name}: exact copy", index.meta().name),
                    }
                } else {
                    format!(
                        "{}: {name}: {:.0}% of its text ({count} of its {total} fingerprints)",
                        index.meta().name,
                        (share * 100.0).min(100.0)
                    )
                };
                hits.record(&spec.detector, Confidence::High, member, 0, || masked);
            }
        }
    }
}

impl Matching {
    /// Looks the pending fingerprints up in every index.
    fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let mut passed = Vec::new();
        for state in &mut self.indexes {
            let index = &state.index;
            passed.clear();
            passed.extend_from_slice(&self.pending);
            index.prefilter().retain(&mut passed, |&fp| fp);
            for &fp in &passed {
                let range = index.postings(fp);
                if range.is_empty() || !state.tracked.insert(range.start as u32, index.entries()) {
                    continue;
                }
                for e in range {
                    let f = state.found.entry(index.entry_doc(e)).or_default();
                    f.count += 1;
                    if self.positions_left > 0 {
                        f.positions.push(index.entry_at(e));
                        self.positions_left -= 1;
                    }
                }
            }
        }
        self.pending.clear();
    }
}

/// A multiplicative hasher for the sets of entry and document numbers: they are small
/// integers the index chose, the sets are bounded, and SipHash cost more than the lookups.
#[derive(Debug, Default, Clone, Copy)]
struct NumberHasher(u64);

impl Hasher for NumberHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.0 = u64::from(n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type Fast = BuildHasherDefault<NumberHasher>;

/// Fingerprints a run needs before it counts to its ends (a passage of about 25 words).
const MIN_RUN: usize = 3;

/// Keeps the distinct least [`MAX_FINGERPRINTS_PER_DOCUMENT`] hashes, sorted, each at its
/// first position.
fn bottom(v: &mut Vec<Print>) {
    v.sort_unstable();
    v.dedup_by_key(|p| p.hash);
    v.truncate(MAX_FINGERPRINTS_PER_DOCUMENT);
}

/// The share of a document (`words` of it covered by its `total` fingerprints in the
/// index, its span) that an object holds. Without every position (the object's budget ran out), each fingerprint
/// counts for the document's average spacing.
fn share_found(f: &Found, total: u32, words: u32) -> f64 {
    if words == 0 || total == 0 {
        return f64::from(f.count) / f64::from(total.max(1));
    }
    let spacing = spacing(words, total);
    let covered = if f.positions.len() == f.count as usize {
        coverage(&f.positions, spacing, WINDOW as u32 - 1)
    } else {
        f64::from(f.count) * spacing
    };
    (covered / f64::from(words)).min(1.0)
}

/// Words per fingerprint kept: about `(WINDOW + 1) / 2`, more for a document whose
/// fingerprints were sampled ([`MAX_FINGERPRINTS_PER_DOCUMENT`]).
pub(crate) fn spacing(words: u32, total: u32) -> f64 {
    (f64::from(words) / f64::from(total.max(1))).max((WINDOW as f64 + 1.0) / 2.0)
}

/// The words of a document covered by the fingerprints found at `positions` (sorted,
/// distinct). Fingerprints of one stream at most [`MERGE_GAP`] apart are one run of shared
/// text (an edited word loses the few fingerprints around it, not the run). A run counts
/// its shingles and the last one's other five words, from the start of its stream when it
/// begins within the first window, and `reach` shingles further on each side: a scan
/// passes `WINDOW - 1` (had the shared text gone on further, winnowing would have selected
/// another fingerprint inside it, so a contiguous excerpt counts at least its length); the
/// span of an indexed document is measured with 0 (it is no longer than its fingerprints
/// show). A run of fewer than [`MIN_RUN`] fingerprints (a stock phrase, a short quotation)
/// counts `spacing` for each, as a count would.
pub(crate) fn coverage(positions: &[u32], spacing: f64, reach: u32) -> f64 {
    let stream = |p: u32| p >> POSITION_BITS;
    let local = |p: u32| p & ((1 << POSITION_BITS) - 1);
    let mut covered = 0.0;
    let mut i = 0;
    while i < positions.len() {
        let first = positions[i];
        let mut j = i;
        while j + 1 < positions.len()
            && stream(positions[j + 1]) == stream(first)
            && positions[j + 1] - positions[j] <= MERGE_GAP
        {
            j += 1;
        }
        let found = j + 1 - i;
        covered += if found < MIN_RUN {
            found as f64 * spacing
        } else {
            let front = if local(first) < WINDOW as u32 { local(first) } else { reach };
            f64::from(positions[j] - first + 1 + front + reach + SHINGLE_WORDS as u32 - 1)
        };
        i = j + 1;
    }
    covered
}
