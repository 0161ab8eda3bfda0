//! Building an index from rows, in bounded memory.
//!
//! Rows are pushed one at a time (the caller reads the CSV). Each good row is written to the
//! row table at once; its primary hashes go to one of [`SHARDS`] scratch files by their top
//! bits, and a digest of the whole row to another set, for duplicates. At the end each
//! shard is read back, sorted and appended: memory holds one shard, the directory and the
//! prefilter, never the table. The first [`KIND_SAMPLE_ROWS`] rows are held to decide each
//! column's kind before any is hashed.

use std::collections::HashMap;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};

use super::format::{at, Column, Meta, FORMAT_VERSION, HEADER_BYTES, MAGIC};
use super::keyed::{cell_tag, text_tag, EdmKey};
use super::token::{is_phone_header, push_text, Cell, Kind};
use super::{MAX_COLUMNS, MAX_ROWS};
use crate::index_bytes::{bloom_bits, fmix};

/// Scratch files the primary hashes (and the row digests) are spread over.
pub const SHARDS: usize = 256;
/// Rows held to decide which columns are numbers.
pub const KIND_SAMPLE_ROWS: usize = 1000;
/// Share of sampled non-empty cells that must look like numbers for a number column.
pub const NUMBER_COLUMN_SHARE: f64 = 0.9;
/// Default share of bad rows above which indexing fails (Symantec's default too).
pub const DEFAULT_MAX_BAD_FRACTION: f64 = 0.05;
/// Line numbers kept per kind of bad row for the report.
pub const MAX_REPORTED_LINES: usize = 20;

/// Why a row was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum BadRow {
    /// Not as many fields as the header.
    FieldCount,
    /// Every primary cell is empty (or cannot be found in content).
    EmptyPrimary,
    /// The same row again.
    Duplicate,
    /// A cell is not UTF-8.
    NotUtf8,
}

impl BadRow {
    /// How the report names it.
    pub fn describe(self) -> &'static str {
        match self {
            BadRow::FieldCount => "wrong number of fields",
            BadRow::EmptyPrimary => "empty primary",
            BadRow::Duplicate => "duplicate row",
            BadRow::NotUtf8 => "not UTF-8",
        }
    }
}

/// What a build did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    /// Data records read.
    pub records: u64,
    /// Rows indexed.
    pub rows: u64,
    /// Refused rows per reason: count and the first line numbers.
    pub bad: std::collections::BTreeMap<BadRow, (u64, Vec<u64>)>,
    /// Non-empty cells that can never be found.
    pub unmatchable_cells: u64,
    /// Entries of the primary table.
    pub entries: u64,
    /// Columns with their kinds.
    pub columns: Vec<Column>,
}

impl Report {
    /// All refused rows.
    pub fn bad_total(&self) -> u64 {
        self.bad.values().map(|(n, _)| n).sum()
    }

    fn add_bad(&mut self, why: BadRow, line: u64) {
        let e = self.bad.entry(why).or_default();
        e.0 += 1;
        if e.1.len() < MAX_REPORTED_LINES {
            e.1.push(line);
        }
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{} records, {} rows indexed, {} refused", self.records, self.rows, self.bad_total())?;
        for (why, (n, lines)) in &self.bad {
            let lines: Vec<String> = lines.iter().map(u64::to_string).collect();
            let more = if *n as usize > lines.len() { ", ..." } else { "" };
            writeln!(f, "  {n} {}: line {}{more}", why.describe(), lines.join(", "))?;
        }
        if self.unmatchable_cells > 0 {
            writeln!(
                f,
                "  {} cells can never match (more than {} tokens, or a token over {} bytes)",
                self.unmatchable_cells,
                super::MAX_NGRAM_TOKENS,
                super::MAX_TOKEN_BYTES
            )?;
        }
        for c in &self.columns {
            let role = if c.primary { "primary" } else { "corroborating" };
            writeln!(f, "  column {:?}: {} ({role})", c.name, kind_name(c.kind))?;
        }
        Ok(())
    }
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Text => "text",
        Kind::Number => "number",
        Kind::Phone => "phone",
    }
}

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// Reading scratch files or writing the index.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The header or the options are unusable.
    #[error("{0}")]
    Header(String),
    /// Too many bad rows.
    #[error("{bad} of {records} rows are bad ({share:.1}%, over the {max:.1}% allowed; --max-bad changes it):\n{report}")]
    TooManyBad {
        /// Bad rows.
        bad: u64,
        /// Records read.
        records: u64,
        /// Their share, in percent.
        share: f64,
        /// The allowed share, in percent.
        max: f64,
        /// The whole report.
        report: Box<Report>,
    },
    /// No row to index.
    #[error("no row to index:\n{0}")]
    Empty(Box<Report>),
}

/// Options of a build.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// The index name.
    pub name: String,
    /// Primary column names.
    pub primary: Vec<String>,
    /// Kinds forced by the user, by column name; the others are inferred.
    pub kinds: HashMap<String, Kind>,
    /// Indexing fails above this share of bad rows.
    pub max_bad_fraction: f64,
    /// The source file name, for the description.
    pub source: String,
    /// Build time (Unix seconds).
    pub built_at: u64,
    /// Random bytes that identify this build.
    pub build_id: [u8; 16],
    /// A key file outside the data directory, recorded in the description.
    pub key_file: Option<String>,
}

/// Builds one index. `O` is the index file, `F` a scratch file.
pub struct Builder<O: Write + Seek, F: Read + Write + Seek> {
    key: EdmKey,
    opts: BuildOptions,
    columns: Vec<Column>,
    out: BufWriter<O>,
    shards: Vec<BufWriter<F>>,
    digests: Vec<BufWriter<F>>,
    sample: Option<Vec<(u64, u64, Vec<String>)>>,
    report: Report,
    entries: u64,
    form: Vec<u8>,
    token_hashes: Vec<u64>,
}

impl<O: Write + Seek, F: Read + Write + Seek> std::fmt::Debug for Builder<O, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder").field("name", &self.opts.name).field("report", &self.report).finish()
    }
}

impl<O: Write + Seek, F: Read + Write + Seek> Builder<O, F> {
    /// Starts a build with the CSV header's column names.
    pub fn new(
        header: &[String],
        opts: BuildOptions,
        key: EdmKey,
        out: O,
        mut scratch: impl FnMut() -> io::Result<F>,
    ) -> Result<Self, BuildError> {
        if header.is_empty() || header.len() > MAX_COLUMNS {
            return Err(BuildError::Header(format!(
                "a table needs 1 to {MAX_COLUMNS} columns, not {}",
                header.len()
            )));
        }
        let mut seen = std::collections::HashSet::new();
        for h in header {
            if h.trim().is_empty() {
                return Err(BuildError::Header("a column of the header row has no name".into()));
            }
            if !seen.insert(h.trim()) {
                return Err(BuildError::Header(format!(
                    "column {:?} appears twice in the header row",
                    h.trim()
                )));
            }
        }
        if opts.primary.is_empty() {
            return Err(BuildError::Header("name at least one primary column".into()));
        }
        for p in &opts.primary {
            if !header.iter().any(|h| h.trim() == p) {
                return Err(BuildError::Header(format!(
                    "primary column {p:?} is not in the header row ({})",
                    header.iter().map(|h| h.trim()).collect::<Vec<_>>().join(", ")
                )));
            }
        }
        for k in opts.kinds.keys() {
            if !header.iter().any(|h| h.trim() == k) {
                return Err(BuildError::Header(format!(
                    "--kind names column {k:?}, which is not in the header row"
                )));
            }
        }
        if !(0.0..=1.0).contains(&opts.max_bad_fraction) {
            return Err(BuildError::Header("the bad-row share must be between 0 and 100%".into()));
        }
        let columns = header
            .iter()
            .map(|h| {
                Column::new(h.trim().to_string(), Kind::Text, opts.primary.iter().any(|p| p == h.trim()))
            })
            .collect();
        let mut shards = Vec::with_capacity(SHARDS);
        let mut digests = Vec::with_capacity(SHARDS);
        for _ in 0..SHARDS {
            shards.push(BufWriter::with_capacity(16 * 1024, scratch()?));
            digests.push(BufWriter::with_capacity(8 * 1024, scratch()?));
        }
        let mut out = BufWriter::with_capacity(1 << 20, out);
        out.write_all(&[0u8; HEADER_BYTES])?;
        Ok(Self {
            key,
            opts,
            columns,
            out,
            shards,
            digests,
            sample: Some(Vec::new()),
            report: Report::default(),
            entries: 0,
            form: Vec::new(),
            token_hashes: Vec::new(),
        })
    }

    /// Adds one data record that starts on `line`. Bad rows are counted, not errors.
    pub fn push(&mut self, line: u64, fields: &[&[u8]]) -> Result<(), BuildError> {
        self.report.records += 1;
        if fields.len() != self.columns.len() {
            self.report.add_bad(BadRow::FieldCount, line);
            return Ok(());
        }
        let mut cells = Vec::with_capacity(fields.len());
        for f in fields {
            match std::str::from_utf8(f) {
                Ok(s) => cells.push(s.to_string()),
                Err(_) => {
                    self.report.add_bad(BadRow::NotUtf8, line);
                    return Ok(());
                }
            }
        }
        if let Some(sample) = &mut self.sample {
            sample.push((line, self.report.records, cells));
            if sample.len() >= KIND_SAMPLE_ROWS {
                self.settle_kinds()?;
            }
            return Ok(());
        }
        let record = self.report.records;
        self.index_row(line, record, &cells)
    }

    /// Decides the kinds from the sample, then indexes it.
    fn settle_kinds(&mut self) -> Result<(), BuildError> {
        let Some(sample) = self.sample.take() else { return Ok(()) };
        for (c, col) in self.columns.iter_mut().enumerate() {
            if let Some(k) = self.opts.kinds.get(&col.name) {
                col.kind = *k;
                continue;
            }
            let (mut numeric, mut filled) = (0usize, 0usize);
            for (_, _, cells) in &sample {
                let cell = Cell::new(&cells[c]);
                if !cell.is_empty() {
                    filled += 1;
                    numeric += usize::from(cell.looks_numeric());
                }
            }
            if filled > 0 && numeric as f64 >= NUMBER_COLUMN_SHARE * filled as f64 {
                col.kind = if is_phone_header(&col.name) { Kind::Phone } else { Kind::Number };
            }
        }
        for (line, record, cells) in sample {
            self.index_row(line, record, &cells)?;
        }
        Ok(())
    }

    fn index_row(&mut self, line: u64, record: u64, cells: &[String]) -> Result<(), BuildError> {
        let mut tags = Vec::with_capacity(cells.len());
        let mut primaries: Vec<(u64, u64)> = Vec::new();
        let mut digest_input = Vec::new();
        let mut unmatchable = 0;
        for (c, raw) in cells.iter().enumerate() {
            let cell = Cell::new(raw);
            let kind = self.columns[c].kind;
            let form = cell.form(kind);
            let Some(form) = form else {
                unmatchable += u64::from(!cell.is_empty() && (kind == Kind::Text || cell.looks_numeric()));
                tags.push(0u32);
                digest_input.push(0xFF);
                continue;
            };
            let tag = match kind {
                Kind::Text => {
                    self.token_hashes.clear();
                    for t in cell.token_bytes() {
                        self.form.clear();
                        push_text(t, &mut self.form);
                        self.token_hashes.push(self.key.token(&self.form));
                    }
                    text_tag(&self.token_hashes)
                }
                Kind::Number | Kind::Phone => self.key.number_tag(&form),
            };
            self.columns[c].widen(cell.tokens.len(), &form);
            tags.push(cell_tag(tag));
            digest_input.extend_from_slice(&form);
            digest_input.push(0xFF);
            if self.columns[c].primary {
                primaries.push((self.key.primary(kind, &form), tag));
            }
        }
        if primaries.is_empty() {
            self.report.add_bad(BadRow::EmptyPrimary, line);
            return Ok(());
        }
        if self.report.rows >= MAX_ROWS {
            return Err(BuildError::Header(format!("an index holds at most {MAX_ROWS} rows")));
        }
        self.report.unmatchable_cells += unmatchable;
        let row = self.report.rows as u32;
        self.report.rows += 1;
        let line32 = u32::try_from(line).unwrap_or(u32::MAX);
        let record = u32::try_from(record).unwrap_or(u32::MAX);
        self.out.write_all(&record.to_le_bytes())?;
        self.out.write_all(&line32.to_le_bytes())?;
        for t in &tags {
            self.out.write_all(&t.to_le_bytes())?;
        }
        let digest = fmix(self.key.token(&digest_input));
        let d = &mut self.digests[(digest >> 56) as usize];
        d.write_all(&digest.to_le_bytes())?;
        d.write_all(&row.to_le_bytes())?;
        d.write_all(&line32.to_le_bytes())?;
        for (hash, tag) in primaries {
            let s = &mut self.shards[(hash >> 56) as usize];
            s.write_all(&hash.to_le_bytes())?;
            s.write_all(&row.to_le_bytes())?;
            s.write_all(&tag.to_le_bytes())?;
            self.entries += 1;
        }
        Ok(())
    }

    /// Sorts, writes the tables and the header, and checks the share of bad rows.
    pub fn finish(mut self) -> Result<(O, Report), BuildError> {
        self.settle_kinds()?;
        let rows = self.report.rows as usize;
        // Duplicates: the first of equal rows stays; the others leave the primary table.
        let mut dup = vec![0u64; rows.div_ceil(64)];
        for shard in std::mem::take(&mut self.digests) {
            let mut recs: Vec<(u64, u32, u32)> =
                read_back(shard, 16, |b| (le64(&b[..8]), le32(&b[8..12]), le32(&b[12..16])))?;
            recs.sort_unstable();
            for w in recs.windows(2) {
                if w[0].0 == w[1].0 {
                    let r = w[1].1 as usize;
                    if let Some(word) = dup.get_mut(r / 64) {
                        *word |= 1 << (r % 64);
                    }
                    self.report.add_bad(BadRow::Duplicate, u64::from(w[1].2));
                    self.report.rows -= 1;
                }
            }
        }
        let bad = self.report.bad_total();
        let records = self.report.records;
        if records > 0 && bad as f64 > self.opts.max_bad_fraction * records as f64 {
            return Err(BuildError::TooManyBad {
                bad,
                records,
                share: 100.0 * bad as f64 / records as f64,
                max: 100.0 * self.opts.max_bad_fraction,
                report: Box::new(self.finished_report()),
            });
        }
        if self.report.rows == 0 {
            return Err(BuildError::Empty(Box::new(self.finished_report())));
        }
        let rows_len = (rows * (8 + 4 * self.columns.len())) as u64;
        let entries_at = HEADER_BYTES as u64 + rows_len;
        let dir_bits = (64 - self.entries.max(16).leading_zeros() - 1).clamp(4, super::MAX_DIR_BITS);
        let bloom_log2 = (64 - (self.entries.max(64) / 4).next_power_of_two().leading_zeros() - 1).max(6);
        let mut bloom = vec![0u64; 1usize << bloom_log2];
        let mut dir = vec![0u32; (1usize << dir_bits) + 1];
        let mut written: u64 = 0;
        for shard in std::mem::take(&mut self.shards) {
            let mut recs: Vec<(u64, u32, u64)> =
                read_back(shard, 20, |b| (le64(&b[..8]), le32(&b[8..12]), le64(&b[12..20])))?;
            recs.sort_unstable();
            recs.dedup_by_key(|r| (r.0, r.1));
            for (hash, row, tag) in recs {
                let r = row as usize;
                if dup.get(r / 64).is_some_and(|w| w & (1 << (r % 64)) != 0) {
                    continue;
                }
                let (word, bits) = bloom_bits(tag, (1u64 << bloom_log2) - 1);
                bloom[word as usize] |= bits;
                dir[(hash >> (64 - dir_bits)) as usize + 1] += 1;
                self.out.write_all(&hash.to_le_bytes())?;
                self.out.write_all(&row.to_le_bytes())?;
                written += 1;
            }
        }
        for i in 1..dir.len() {
            dir[i] += dir[i - 1];
        }
        let entries_len = written * super::format::ENTRY_BYTES as u64;
        let dir_at = entries_at + entries_len;
        for d in &dir {
            self.out.write_all(&d.to_le_bytes())?;
        }
        let bloom_at = dir_at + dir.len() as u64 * 4;
        for w in &bloom {
            self.out.write_all(&w.to_le_bytes())?;
        }
        let meta_at = bloom_at + bloom.len() as u64 * 8;
        self.report.entries = written;
        let report = self.finished_report();
        let meta = Meta {
            name: self.opts.name.clone(),
            columns: self.columns.clone(),
            records: report.records,
            rows: report.rows,
            bad_rows: report.bad_total(),
            unmatchable_cells: report.unmatchable_cells,
            source: self.opts.source.clone(),
            built_at: self.opts.built_at,
            key_file: self.opts.key_file.clone(),
        };
        let meta_json = serde_json::to_vec(&meta).map_err(io::Error::other)?;
        self.out.write_all(&meta_json)?;
        let file_len = meta_at + meta_json.len() as u64;
        let mut header = [0u8; HEADER_BYTES];
        header[..8].copy_from_slice(MAGIC);
        header[at::VERSION..at::VERSION + 4].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        header[at::HEADER_LEN..at::HEADER_LEN + 4].copy_from_slice(&(HEADER_BYTES as u32).to_le_bytes());
        header[at::KEY_CHECK..at::KEY_CHECK + 8].copy_from_slice(&self.key.check());
        header[at::BUILD_ID..at::BUILD_ID + 16].copy_from_slice(&self.opts.build_id);
        header[at::COLUMNS..at::COLUMNS + 4].copy_from_slice(&(self.columns.len() as u32).to_le_bytes());
        header[at::ROWS..at::ROWS + 4].copy_from_slice(&(rows as u32).to_le_bytes());
        header[at::ENTRIES..at::ENTRIES + 8].copy_from_slice(&written.to_le_bytes());
        header[at::DIR_BITS..at::DIR_BITS + 4].copy_from_slice(&dir_bits.to_le_bytes());
        header[at::BLOOM_LOG2..at::BLOOM_LOG2 + 4].copy_from_slice(&bloom_log2.to_le_bytes());
        let sections = [
            (HEADER_BYTES as u64, rows_len),
            (dir_at, dir.len() as u64 * 4),
            (entries_at, entries_len),
            (bloom_at, bloom.len() as u64 * 8),
            (meta_at, meta_json.len() as u64),
        ];
        for (k, (off, len)) in sections.iter().enumerate() {
            let p = at::SECTIONS + 16 * k;
            header[p..p + 8].copy_from_slice(&off.to_le_bytes());
            header[p + 8..p + 16].copy_from_slice(&len.to_le_bytes());
        }
        header[at::FILE_LEN..at::FILE_LEN + 8].copy_from_slice(&file_len.to_le_bytes());
        let mut out = self.out.into_inner().map_err(|e| e.into_error())?;
        out.seek(SeekFrom::Start(0))?;
        out.write_all(&header)?;
        out.flush()?;
        Ok((out, report))
    }

    fn finished_report(&self) -> Report {
        Report { columns: self.columns.clone(), ..self.report.clone() }
    }
}

/// Reads a scratch file back as fixed-size records.
fn read_back<F: Read + Write + Seek, T>(
    shard: BufWriter<F>,
    size: usize,
    parse: impl Fn(&[u8]) -> T,
) -> io::Result<Vec<T>> {
    let mut f = shard.into_inner().map_err(|e| e.into_error())?;
    let len = f.stream_position()?;
    f.seek(SeekFrom::Start(0))?;
    let mut out = Vec::with_capacity((len / size as u64) as usize);
    let mut r = BufReader::with_capacity(64 * 1024, f);
    let mut rec = vec![0u8; size];
    for _ in 0..len / size as u64 {
        r.read_exact(&mut rec)?;
        out.push(parse(&rec));
    }
    Ok(out)
}

fn le64(b: &[u8]) -> u64 {
    b.try_into().map_or(0, u64::from_le_bytes)
}

fn le32(b: &[u8]) -> u32 {
    b.try_into().map_or(0, u32::from_le_bytes)
}
