//! `dlpgate fingerprint add|list|remove`: document fingerprint indexes of the organisation's
//! protected documents in the data directory, for policies' `fingerprint = { index = ... }`
//! rules.
//!
//! - `files`: where indexes and their document records live; memory maps; rebuilding.
//!
//! A document's text comes from the engine's own extraction (every format a scan reads),
//! so a protected .docx is found in a PDF or an e-mail of the same text.

pub mod files;

use std::collections::HashSet;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{anyhow, bail, Context};
use clap::{Args, Subcommand};
use inspect::fingerprint::{read_records, DocumentRecord, DEFAULT_MAX_DOC_FREQUENCY};
use inspect::{Engine, Limits, Policy, ScanContext};
use sha2::Digest;

/// `dlpgate fingerprint`.
#[derive(Debug, Args)]
pub struct FingerprintArgs {
    /// The data directory the indexes live in.
    #[arg(long, global = true, default_value = "./dlpgate-data")]
    pub data_dir: PathBuf,
    #[command(subcommand)]
    pub command: FingerprintCommand,
}

/// The `fingerprint` subcommands.
#[derive(Debug, Subcommand)]
pub enum FingerprintCommand {
    /// Add documents (files, or folders walked recursively) to an index, made when missing.
    /// A document added again under the same name replaces the old one.
    Add(AddArgs),
    /// List the indexes, or the documents of one.
    List {
        /// An index whose documents to list.
        name: Option<String>,
    },
    /// Remove an index, or one document (or template) of it.
    Remove {
        /// The index name.
        name: String,
        /// A document's name as `list NAME` shows it.
        doc: Option<String>,
    },
}

/// `fingerprint add`.
#[derive(Debug, Args)]
pub struct AddArgs {
    /// The index name policies refer to.
    #[arg(long)]
    pub name: String,
    /// A template or boilerplate document (licence header, letterhead, standard terms)
    /// whose passages never count (repeatable).
    #[arg(long, value_name = "FILE")]
    pub exclude: Vec<PathBuf>,
    /// Passages found in more documents than this are dropped as boilerplate (default 64,
    /// or what the index was built with).
    #[arg(long)]
    pub max_doc_frequency: Option<u32>,
    /// Files or folders of documents to protect.
    #[arg(required_unless_present = "exclude")]
    pub paths: Vec<PathBuf>,
}

/// Runs a `fingerprint` subcommand.
pub fn run(args: FingerprintArgs) -> anyhow::Result<()> {
    match args.command {
        FingerprintCommand::Add(add) => add_documents(&args.data_dir, add),
        FingerprintCommand::List { name } => list(&args.data_dir, name.as_deref()),
        FingerprintCommand::Remove { name, doc } => remove(&args.data_dir, &name, doc.as_deref()),
    }
}

/// A file to read, and the name it is indexed under.
struct Input {
    path: PathBuf,
    name: String,
    template: bool,
}

fn add_documents(data_dir: &Path, args: AddArgs) -> anyhow::Result<()> {
    files::check_name(&args.name).map_err(|e| anyhow!(e))?;
    let started = Instant::now();
    let mut inputs = Vec::new();
    for p in &args.paths {
        collect(p, &mut inputs)?;
    }
    for p in &args.exclude {
        let meta = std::fs::metadata(p).with_context(|| format!("--exclude {}", p.display()))?;
        if !meta.is_file() {
            bail!("--exclude {}: not a file", p.display());
        }
        inputs.push(Input {
            path: p.clone(),
            name: format!("(template) {}", display_name(p)),
            template: true,
        });
    }
    if inputs.iter().all(|i| i.template) && !args.paths.is_empty() {
        bail!(
            "no document found in {}",
            args.paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
        );
    }
    let mut seen = HashSet::new();
    for i in &inputs {
        if !seen.insert(i.name.clone()) {
            bail!("two documents would be named {:?}: add them separately, from different folders", i.name);
        }
    }
    for dir in [data_dir.to_path_buf(), data_dir.join(files::INDEX_DIR)] {
        for note in
            crate::fsat::ensure_private_dir(&dir).with_context(|| format!("creating {}", dir.display()))?
        {
            eprintln!("note: {note}");
        }
    }
    let previous = previous_cap(data_dir, &args.name);
    let cap = args.max_doc_frequency.or(previous).unwrap_or(DEFAULT_MAX_DOC_FREQUENCY);
    if cap == 0 {
        bail!("--max-doc-frequency must be at least 1");
    }
    let mut out = files::RecordsWriter::new(data_dir, &args.name)?;
    // The documents kept from before, unless added again.
    let old = files::records_path(data_dir, &args.name);
    let mut kept = 0u64;
    if let Ok(f) = std::fs::File::open(&old) {
        read_records(BufReader::with_capacity(1 << 20, f), |r| {
            if !seen.contains(&r.name) {
                out.push(&r)?;
                kept += 1;
            }
            Ok(())
        })
        .map_err(|e| anyhow!("{}: {e}", old.display()))?;
    }
    let engine = Engine::new(Arc::new(Policy::for_fingerprinting()), Limits::default());
    let (mut added, mut templates) = (0u64, 0u64);
    for input in &inputs {
        let record = read_document(&engine, input)?;
        if record.prints.is_empty() && input.template {
            eprintln!("note: template {} has too little text to subtract anything", input.path.display());
        }
        out.push(&record)?;
        if input.template {
            templates += 1;
        } else {
            added += 1;
        }
    }
    let tmp = out.close()?;
    let report = files::rebuild(data_dir, &args.name, &tmp, cap)?;
    files::RecordsWriter::persist(tmp, data_dir, &args.name)?;
    let path = files::index_path(data_dir, &args.name);
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    print!("{report}");
    println!(
        "index {:?}: {added} documents and {templates} templates added, {kept} kept; {} ({:.1} MiB) in {:.1} s",
        args.name,
        path.display(),
        size as f64 / (1 << 20) as f64,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Reads one file: its hash, size and fingerprints through the engine.
fn read_document(engine: &Engine, input: &Input) -> anyhow::Result<DocumentRecord> {
    use std::io::{Read, Seek};
    let path = &input.path;
    let cannot = || format!("cannot read {}", path.display());
    let mut file = BufReader::with_capacity(256 * 1024, std::fs::File::open(path).with_context(cannot)?);
    let (mut sha, mut size, mut buf) = (sha2::Sha256::new(), 0u64, vec![0u8; 256 * 1024]);
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                sha.update(&buf[..n]);
                size += n as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e).with_context(cannot),
        }
    }
    if size == 0 && !input.template {
        bail!("{} is empty: an empty document cannot be protected", path.display());
    }
    file.rewind().with_context(cannot)?;
    let ctx = ScanContext { filename: Some(display_name(path)), ..ScanContext::default() };
    let collected = engine.fingerprint_reader(ctx, file).with_context(cannot)?;
    if let Some(c) = &collected.could_not_scan {
        eprintln!(
            "note: {}: part of it could not be read ({c:?}); it is indexed with the text that could",
            path.display()
        );
    }
    if collected.prints.is_empty() && !input.template {
        eprintln!("note: {}: too little text for fingerprints; only exact copies will match", path.display());
    }
    Ok(DocumentRecord {
        name: input.name.clone(),
        template: input.template,
        size,
        sha256: sha.finalize().into(),
        prints: collected.prints,
        words: collected.words,
    })
}

/// Walks `path`: a file is named by its file name, a folder's files by their path from the
/// folder's own name (`contracts/2024/msa.docx`). Links and special files are skipped.
fn collect(path: &Path, out: &mut Vec<Input>) -> anyhow::Result<()> {
    let meta = std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    if meta.is_file() {
        out.push(Input { path: path.to_path_buf(), name: display_name(path), template: false });
        return Ok(());
    }
    if !meta.is_dir() {
        bail!("{} is neither a file nor a folder", path.display());
    }
    let base = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut stack = vec![(path.to_path_buf(), base)];
    while let Some((dir, prefix)) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .with_context(|| format!("cannot read the folder {}", dir.display()))?
            .flatten()
            .collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let Ok(kind) = e.file_type() else { continue };
            let leaf = e.file_name().to_string_lossy().into_owned();
            let name = if prefix.is_empty() { leaf } else { format!("{prefix}/{leaf}") };
            if kind.is_dir() {
                stack.push((e.path(), name));
            } else if kind.is_file() {
                out.push(Input { path: e.path(), name, template: false });
            } else {
                eprintln!("note: skipping {} (a link or a special file)", e.path().display());
            }
        }
    }
    Ok(())
}

fn display_name(path: &Path) -> String {
    path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
}

/// The document-frequency cap the existing index was built with.
fn previous_cap(data_dir: &Path, name: &str) -> Option<u32> {
    // Mapped, not read: an index of 100,000 documents is a few hundred MiB.
    files::open_index(data_dir, name).ok().map(|i| i.meta().max_doc_frequency)
}

fn list(data_dir: &Path, name: Option<&str>) -> anyhow::Result<()> {
    if let Some(name) = name {
        files::check_name(name).map_err(|e| anyhow!(e))?;
        let path = files::records_path(data_dir, name);
        let f = std::fs::File::open(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                anyhow!("no fingerprint index {name:?} in {}", data_dir.display())
            } else {
                anyhow!("cannot read {}: {e}", path.display())
            }
        })?;
        read_records(BufReader::new(f), |r| {
            let what = if r.template { "template" } else { "document" };
            println!(
                "{}: {what}, {} bytes, {} fingerprints, sha256 {}",
                r.name,
                r.size,
                r.prints.len(),
                hex::encode(r.sha256)
            );
            Ok(())
        })
        .map_err(|e| anyhow!("{}: {e}", path.display()))?;
        return Ok(());
    }
    let dir = data_dir.join(files::INDEX_DIR);
    let mut names: Vec<String> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .flatten()
            .filter_map(|e| e.file_name().to_str().and_then(|n| n.strip_suffix(".fpi")).map(str::to_string))
            .filter(|n| files::check_name(n).is_ok())
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => bail!("cannot read {}: {e}", dir.display()),
    };
    names.sort();
    if names.is_empty() {
        println!("no fingerprint index in {}", data_dir.display());
    }
    for name in names {
        let path = files::index_path(data_dir, &name);
        match files::open_index(data_dir, &name) {
            Ok(index) => {
                let m = index.meta();
                let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                println!(
                    "{name}: {} documents, {} fingerprint entries, {} templates subtracted, {} common passages dropped (cap {}), {:.1} MiB",
                    m.documents,
                    m.entries,
                    m.excluded_documents,
                    m.dropped_common,
                    m.max_doc_frequency,
                    size as f64 / (1 << 20) as f64
                );
            }
            Err(e) => println!("{name}: NOT USABLE: {e}"),
        }
    }
    Ok(())
}

fn remove(data_dir: &Path, name: &str, doc: Option<&str>) -> anyhow::Result<()> {
    files::check_name(name).map_err(|e| anyhow!(e))?;
    let index = files::index_path(data_dir, name);
    let records = files::records_path(data_dir, name);
    if !index.exists() && !records.exists() {
        bail!("no fingerprint index {name:?} in {}", data_dir.display());
    }
    let Some(doc) = doc else {
        for p in [&index, &records] {
            match std::fs::remove_file(p) {
                Ok(()) => println!("removed {}", p.display()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => bail!("cannot remove {}: {e}", p.display()),
            }
        }
        return Ok(());
    };
    let cap = previous_cap(data_dir, name).unwrap_or(DEFAULT_MAX_DOC_FREQUENCY);
    let mut out = files::RecordsWriter::new(data_dir, name)?;
    let (mut found, mut left) = (false, 0u64);
    let f = std::fs::File::open(&records).with_context(|| format!("cannot read {}", records.display()))?;
    read_records(BufReader::with_capacity(1 << 20, f), |r| {
        if r.name == doc {
            found = true;
        } else {
            left += u64::from(!r.template);
            out.push(&r)?;
        }
        Ok(())
    })
    .map_err(|e| anyhow!("{}: {e}", records.display()))?;
    if !found {
        bail!("index {name:?} has no document {doc:?} (`dlpgate fingerprint list {name}` lists them)");
    }
    if left == 0 {
        bail!("{doc:?} is the last document of {name:?}: remove the index with `dlpgate fingerprint remove {name}`");
    }
    let tmp = out.close()?;
    let report = files::rebuild(data_dir, name, &tmp, cap)?;
    files::RecordsWriter::persist(tmp, data_dir, name)?;
    print!("{report}");
    println!("removed {doc:?} from {name:?}");
    Ok(())
}
