//! Building an index from documents' fingerprints, in bounded memory.
//!
//! Documents are pushed one at a time with their fingerprints (from
//! [`Engine::fingerprint_reader`](crate::Engine::fingerprint_reader), or from the records
//! kept beside an index). Each (fingerprint, document, position) goes to one of [`SHARDS`]
//! scratch files by the fingerprint's top bits; templates' fingerprints are held in a set.
//! At the end each shard is read back and sorted: fingerprints of a template, or shared by
//! more documents than the cap, are dropped, and the rest appended. Memory holds the
//! document table, one shard, the directory and the filter, never all the entries.

use crate::index_bytes::bloom_bits;
use std::collections::HashSet;

use super::matcher::{coverage, spacing};
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};

use super::format::{
    at, Meta, DOC_BYTES, ENTRY_BYTES, EXACT_BYTES, FORMAT_VERSION, HEADER_BYTES, MAGIC, MAX_DIR_BITS,
    SECTIONS,
};
use super::{Print, MAX_DOCUMENTS, MAX_FINGERPRINTS_PER_DOCUMENT, SHINGLE_WORDS, WINDOW};

/// Scratch files the entries are spread over (by the top 6 bits of the fingerprint).
pub const SHARDS: usize = 64;
/// Bits of the Bloom filter per entry.
const BLOOM_BITS_PER_ENTRY: u64 = 12;

/// What a build did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Documents indexed.
    pub documents: u64,
    /// Template documents subtracted.
    pub templates: u64,
    /// Entries kept.
    pub entries: u64,
    /// Distinct fingerprints dropped as shared by too many documents.
    pub dropped_common: u64,
    /// Distinct fingerprints dropped as a template's.
    pub dropped_excluded: u64,
    /// Documents left with no fingerprint (found only as exact copies).
    pub exact_only: Vec<String>,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{} documents, {} fingerprint entries; {} template documents subtracted",
            self.documents, self.entries, self.templates
        )?;
        writeln!(
            f,
            "  dropped: {} fingerprints shared by too many documents, {} of templates",
            self.dropped_common, self.dropped_excluded
        )?;
        if !self.exact_only.is_empty() {
            let shown: Vec<&str> = self.exact_only.iter().take(10).map(String::as_str).collect();
            let more = if self.exact_only.len() > shown.len() { ", ..." } else { "" };
            writeln!(
                f,
                "  {} documents have no fingerprint (too little text) and match only as exact copies: {}{more}",
                self.exact_only.len(),
                shown.join(", ")
            )?;
        }
        Ok(())
    }
}

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// Reading scratch files or writing the index.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The input cannot be indexed.
    #[error("{0}")]
    Input(String),
}

/// Options of a build.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// The index name.
    pub name: String,
    /// Fingerprints in more documents than this are dropped.
    pub max_doc_frequency: u32,
    /// Build time (Unix seconds).
    pub built_at: u64,
    /// Random bytes that identify this build.
    pub build_id: [u8; 16],
}

#[derive(Debug)]
struct Doc {
    name: String,
    size: u64,
    sha256: [u8; 32],
    kept: u32,
    words: u32,
    /// Fingerprints pushed (their positions are in the positions file, in document order).
    pushed: u32,
    /// Words of the document that its kept fingerprints cover: what shares are of.
    span: u32,
}

/// Builds one index. `F` is a scratch file.
pub struct Builder<F: Read + Write + Seek> {
    opts: BuildOptions,
    docs: Vec<Doc>,
    shards: Vec<BufWriter<F>>,
    /// Every document's (fingerprint, position), in document order (taken at the end).
    positions: Option<BufWriter<F>>,
    templates: HashSet<u64>,
    template_docs: u64,
    pushed: u64,
}

impl<F: Read + Write + Seek> std::fmt::Debug for Builder<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder").field("name", &self.opts.name).field("documents", &self.docs.len()).finish()
    }
}

impl<F: Read + Write + Seek> Builder<F> {
    /// Starts a build; `scratch` makes an empty scratch file.
    pub fn new(opts: BuildOptions, mut scratch: impl FnMut() -> io::Result<F>) -> Result<Self, BuildError> {
        if opts.max_doc_frequency == 0 {
            return Err(BuildError::Input("the document-frequency cap must be at least 1".into()));
        }
        let mut shards = Vec::with_capacity(SHARDS);
        for _ in 0..SHARDS {
            shards.push(BufWriter::with_capacity(64 * 1024, scratch()?));
        }
        let positions = Some(BufWriter::with_capacity(64 * 1024, scratch()?));
        Ok(Self {
            opts,
            docs: Vec::new(),
            shards,
            positions,
            templates: HashSet::new(),
            template_docs: 0,
            pushed: 0,
        })
    }

    /// Subtracts a template's fingerprints from every document.
    pub fn push_template(&mut self, fingerprints: &[u64]) {
        self.template_docs += 1;
        self.templates.extend(fingerprints.iter().copied());
    }

    /// Adds a protected document: its fingerprints and their positions, and its length in
    /// words.
    pub fn push_document(
        &mut self,
        name: &str,
        size: u64,
        sha256: [u8; 32],
        prints: &[Print],
        words: u64,
    ) -> Result<(), BuildError> {
        if self.docs.len() >= MAX_DOCUMENTS {
            return Err(BuildError::Input(format!("an index holds at most {MAX_DOCUMENTS} documents")));
        }
        let doc = self.docs.len() as u32;
        let Some(positions) = self.positions.as_mut() else {
            return Err(BuildError::Input("the build has ended".into()));
        };
        let mut prints: Vec<Print> = prints.to_vec();
        prints.sort_unstable();
        prints.dedup_by_key(|p| p.hash);
        prints.truncate(MAX_FINGERPRINTS_PER_DOCUMENT);
        for p in &prints {
            let s = &mut self.shards[(p.hash >> 58) as usize];
            s.write_all(&p.hash.to_le_bytes())?;
            s.write_all(&doc.to_le_bytes())?;
            s.write_all(&p.at.to_le_bytes())?;
            positions.write_all(&p.hash.to_le_bytes())?;
            positions.write_all(&p.at.to_le_bytes())?;
            self.pushed += 1;
        }
        let words = u32::try_from(words).unwrap_or(u32::MAX);
        let pushed = prints.len() as u32;
        self.docs.push(Doc { name: name.to_string(), size, sha256, kept: 0, words, pushed, span: 0 });
        Ok(())
    }

    /// Sorts, filters and writes the index to `out`.
    pub fn finish<O: Write + Seek>(mut self, out: O) -> Result<(O, Report), BuildError> {
        if self.docs.is_empty() {
            return Err(BuildError::Input("no document to index".into()));
        }
        let mut out = BufWriter::with_capacity(1 << 20, out);
        out.write_all(&[0u8; HEADER_BYTES])?;
        // About four entries per directory bucket: a quarter of the file a bucket per entry
        // would take, and still one cache line per lookup.
        let dir_bits =
            (64 - self.pushed.max(64).leading_zeros() - 1).saturating_sub(2).clamp(6, MAX_DIR_BITS);
        let bloom_words = (self.pushed * BLOOM_BITS_PER_ENTRY / 64).max(64).next_power_of_two();
        let bloom_log2 = bloom_words.trailing_zeros();
        let mut bloom = vec![0u64; bloom_words as usize];
        let mut dir = vec![0u32; (1usize << dir_bits) + 1];
        let mut report = Report { templates: self.template_docs, ..Report::default() };
        let cap = self.opts.max_doc_frequency as usize;
        let mut written: u64 = 0;
        let mut common: HashSet<u64> = HashSet::new();
        let mut kept: Vec<(u64, u32, u32)> = Vec::new();
        for shard in std::mem::take(&mut self.shards) {
            let mut recs: Vec<(u64, u32, u32)> = read_back(shard)?;
            recs.sort_unstable();
            recs.dedup();
            kept.clear();
            let mut i = 0;
            while i < recs.len() {
                let fp = recs[i].0;
                let mut j = i;
                while j < recs.len() && recs[j].0 == fp {
                    j += 1;
                }
                if self.templates.contains(&fp) {
                    report.dropped_excluded += 1;
                } else if j - i > cap {
                    report.dropped_common += 1;
                    common.insert(fp);
                } else {
                    kept.extend_from_slice(&recs[i..j]);
                }
                i = j;
            }
            drop(recs);
            // The file's order: directory bucket, then the low 32 bits, then the document.
            kept.sort_unstable_by_key(|&(fp, doc, _)| (fp >> (64 - dir_bits), fp as u32, doc));
            for &(fp, doc, at) in &kept {
                let (word, bits) = bloom_bits(fp, bloom_words - 1);
                bloom[word as usize] |= bits;
                dir[(fp >> (64 - dir_bits)) as usize + 1] += 1;
                if let Some(d) = self.docs.get_mut(doc as usize) {
                    d.kept += 1;
                }
                out.write_all(&(fp as u32).to_le_bytes())?;
                out.write_all(&doc.to_le_bytes())?;
                out.write_all(&at.to_le_bytes())?;
                written += 1;
            }
        }
        if written > u64::from(u32::MAX) {
            return Err(BuildError::Input("too many fingerprint entries for one index".into()));
        }
        self.measure_spans(&common)?;
        drop(common);
        for i in 1..dir.len() {
            dir[i] += dir[i - 1];
        }
        let entries = (HEADER_BYTES as u64, written * ENTRY_BYTES as u64);
        let dir_sec = (entries.0 + entries.1, dir.len() as u64 * 4);
        for d in &dir {
            out.write_all(&d.to_le_bytes())?;
        }
        let bloom_sec = (dir_sec.0 + dir_sec.1, bloom.len() as u64 * 8);
        for w in &bloom {
            out.write_all(&w.to_le_bytes())?;
        }
        drop(bloom);
        let docs_sec = (bloom_sec.0 + bloom_sec.1, (self.docs.len() * DOC_BYTES) as u64);
        let mut name_off: u64 = 0;
        let mut max_doc_size = 0;
        for d in &self.docs {
            let name_len = d.name.len() as u64;
            if name_off + name_len > u64::from(u32::MAX) {
                return Err(BuildError::Input("the documents' names are too long in all".into()));
            }
            out.write_all(&d.sha256)?;
            out.write_all(&d.size.to_le_bytes())?;
            out.write_all(&d.kept.to_le_bytes())?;
            out.write_all(&(name_off as u32).to_le_bytes())?;
            out.write_all(&(name_len as u32).to_le_bytes())?;
            out.write_all(&d.span.to_le_bytes())?;
            name_off += name_len;
            max_doc_size = max_doc_size.max(d.size);
            if d.kept == 0 {
                report.exact_only.push(d.name.clone());
            }
        }
        let names_sec = (docs_sec.0 + docs_sec.1, name_off);
        for d in &self.docs {
            out.write_all(d.name.as_bytes())?;
        }
        let mut exact: Vec<(u64, u32)> = self
            .docs
            .iter()
            .enumerate()
            .map(|(i, d)| (d.sha256[..8].try_into().map_or(0, u64::from_le_bytes), i as u32))
            .collect();
        exact.sort_unstable();
        let exact_sec = (names_sec.0 + names_sec.1, (exact.len() * EXACT_BYTES) as u64);
        for (prefix, doc) in &exact {
            out.write_all(&prefix.to_le_bytes())?;
            out.write_all(&doc.to_le_bytes())?;
        }
        report.documents = self.docs.len() as u64;
        report.entries = written;
        let meta = Meta {
            name: self.opts.name.clone(),
            documents: report.documents,
            entries: written,
            dropped_common: report.dropped_common,
            dropped_excluded: report.dropped_excluded,
            excluded_documents: self.template_docs,
            max_doc_frequency: self.opts.max_doc_frequency,
            built_at: self.opts.built_at,
        };
        let meta_json = serde_json::to_vec(&meta).map_err(io::Error::other)?;
        let meta_sec = (exact_sec.0 + exact_sec.1, meta_json.len() as u64);
        out.write_all(&meta_json)?;
        let file_len = meta_sec.0 + meta_sec.1;
        let mut h = [0u8; HEADER_BYTES];
        h[..8].copy_from_slice(MAGIC);
        put32(&mut h, at::VERSION, FORMAT_VERSION);
        put32(&mut h, at::HEADER_LEN, HEADER_BYTES as u32);
        h[at::BUILD_ID..at::BUILD_ID + 16].copy_from_slice(&self.opts.build_id);
        put32(&mut h, at::DOCUMENTS, self.docs.len() as u32);
        put32(&mut h, at::SHINGLE_WORDS, SHINGLE_WORDS as u32);
        put32(&mut h, at::WINDOW, WINDOW as u32);
        put32(&mut h, at::DIR_BITS, dir_bits);
        put32(&mut h, at::BLOOM_LOG2, bloom_log2);
        h[at::ENTRIES..at::ENTRIES + 8].copy_from_slice(&written.to_le_bytes());
        h[at::MAX_DOC_SIZE..at::MAX_DOC_SIZE + 8].copy_from_slice(&max_doc_size.to_le_bytes());
        let sections: [(u64, u64); SECTIONS] =
            [docs_sec, names_sec, exact_sec, dir_sec, entries, bloom_sec, meta_sec];
        for (k, (off, len)) in sections.iter().enumerate() {
            let p = at::SECTIONS + 16 * k;
            h[p..p + 8].copy_from_slice(&off.to_le_bytes());
            h[p + 8..p + 16].copy_from_slice(&len.to_le_bytes());
        }
        h[at::FILE_LEN..at::FILE_LEN + 8].copy_from_slice(&file_len.to_le_bytes());
        let mut out = out.into_inner().map_err(|e| e.into_error())?;
        out.seek(SeekFrom::Start(0))?;
        out.write_all(&h)?;
        out.flush()?;
        Ok((out, report))
    }
}

impl<F: Read + Write + Seek> Builder<F> {
    /// Measures each document's span: the words its kept fingerprints cover ([`coverage`],
    /// without a run's reach past its ends), so that a copy counts 100% and template and
    /// common passages (whose fingerprints were dropped) count in no share.
    fn measure_spans(&mut self, common: &HashSet<u64>) -> io::Result<()> {
        let Some(positions) = self.positions.take() else { return Ok(()) };
        let mut f = positions.into_inner().map_err(|e| e.into_error())?;
        f.seek(SeekFrom::Start(0))?;
        let mut r = BufReader::with_capacity(256 * 1024, f);
        let mut rec = [0u8; 12];
        let mut ats = Vec::new();
        for d in &mut self.docs {
            ats.clear();
            for _ in 0..d.pushed {
                r.read_exact(&mut rec)?;
                let hash = rec[..8].try_into().map_or(0, u64::from_le_bytes);
                if !self.templates.contains(&hash) && !common.contains(&hash) {
                    ats.push(rec[8..].try_into().map_or(0, u32::from_le_bytes));
                }
            }
            ats.sort_unstable();
            ats.dedup();
            let mut span = coverage(&ats, spacing(d.words, d.kept), 0).ceil();
            if d.words > 0 {
                span = span.min(f64::from(d.words));
            }
            d.span = if ats.is_empty() { 0 } else { (span as u32).max(1) };
        }
        Ok(())
    }
}

fn put32(h: &mut [u8], at: usize, v: u32) {
    h[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

/// Reads a scratch file back as (fingerprint, document, position) records.
fn read_back<F: Read + Write + Seek>(shard: BufWriter<F>) -> io::Result<Vec<(u64, u32, u32)>> {
    let mut f = shard.into_inner().map_err(|e| e.into_error())?;
    let len = f.stream_position()?;
    f.seek(SeekFrom::Start(0))?;
    let n = len / 16;
    let mut out = Vec::with_capacity(n as usize);
    let mut r = BufReader::with_capacity(256 * 1024, f);
    let mut rec = [0u8; 16];
    for _ in 0..n {
        r.read_exact(&mut rec)?;
        let fp = rec[..8].try_into().map_or(0, u64::from_le_bytes);
        let doc = rec[8..12].try_into().map_or(0, u32::from_le_bytes);
        let at = rec[12..].try_into().map_or(0, u32::from_le_bytes);
        out.push((fp, doc, at));
    }
    Ok(out)
}
