//! `dlpgate edm index|list|remove`: Exact Data Match indexes of the organisation's own tables
//! in the data directory, for policies' `edm = { index = ... }` rules.
//!
//! - `csv`: the streaming, bounded CSV reader.
//! - `files`: where indexes and keys live; keys, memory maps, loading a policy's indexes.

pub mod csv;
pub mod files;

use std::collections::HashMap;
use std::io::BufReader;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{anyhow, bail, Context};
use clap::{Args, Subcommand};
use inspect::edm::{BuildOptions, Builder, EdmIndex, EdmKey, Kind, DEFAULT_MAX_BAD_FRACTION};

/// `dlpgate edm`.
#[derive(Debug, Args)]
pub struct EdmArgs {
    /// The data directory the indexes (and, by default, their keys) live in.
    #[arg(long, global = true, default_value = "./dlpgate-data")]
    pub data_dir: PathBuf,
    #[command(subcommand)]
    pub command: EdmCommand,
}

/// The `edm` subcommands.
#[derive(Debug, Subcommand)]
pub enum EdmCommand {
    /// Build (or rebuild) an index from a CSV file whose first row names the columns.
    Index(IndexArgs),
    /// List the indexes: rows, columns, size, key.
    List,
    /// Remove an index (and its key, when it is the data directory's).
    Remove {
        /// The index name.
        name: String,
    },
}

/// `edm index`.
#[derive(Debug, Args)]
pub struct IndexArgs {
    /// The index name policies refer to.
    #[arg(long)]
    pub name: String,
    /// Columns whose values start a match, comma-separated (e.g. `id,email`).
    #[arg(long, value_delimiter = ',', required = true)]
    pub primary: Vec<String>,
    /// A column's kind, `COL=text`, `COL=number` or `COL=phone`, when the guess from the first rows is
    /// wrong (repeatable).
    #[arg(long = "kind", value_name = "COL=KIND")]
    pub kinds: Vec<String>,
    /// Indexing fails when more than this percentage of rows is bad.
    #[arg(long, default_value_t = DEFAULT_MAX_BAD_FRACTION * 100.0)]
    pub max_bad: f64,
    /// The key file (made when missing) instead of DATA_DIR/edm-keys/NAME.key.
    #[arg(long)]
    pub key_file: Option<PathBuf>,
    /// The CSV file (UTF-8, with or without a byte-order mark).
    pub file: PathBuf,
}

/// Runs an `edm` subcommand.
pub fn run(args: EdmArgs) -> anyhow::Result<()> {
    match args.command {
        EdmCommand::Index(index) => build(&args.data_dir, index),
        EdmCommand::List => list(&args.data_dir),
        EdmCommand::Remove { name } => remove(&args.data_dir, &name),
    }
}

fn build(data_dir: &std::path::Path, args: IndexArgs) -> anyhow::Result<()> {
    files::check_name(&args.name).map_err(|e| anyhow!(e))?;
    let mut kinds = HashMap::new();
    for k in &args.kinds {
        let (col, kind) = k
            .split_once('=')
            .ok_or_else(|| anyhow!("--kind {k:?}: write COL=text, COL=number or COL=phone"))?;
        let kind = Kind::from_name(kind.trim())
            .ok_or_else(|| anyhow!("--kind {k:?}: the kind is text, number or phone"))?;
        kinds.insert(col.trim().to_string(), kind);
    }
    if !(0.0..=100.0).contains(&args.max_bad) {
        bail!("--max-bad is a percentage between 0 and 100");
    }
    let started = Instant::now();
    let input =
        std::fs::File::open(&args.file).with_context(|| format!("cannot open {}", args.file.display()))?;
    let mut records = csv::CsvRecords::new(BufReader::with_capacity(1 << 20, input));
    let header: Vec<String> = match records.next_record()? {
        Some((_, fields)) => fields
            .iter()
            .map(|f| String::from_utf8(f.to_vec()))
            .collect::<Result<_, _>>()
            .map_err(|_| anyhow!("{}: the header row is not UTF-8", args.file.display()))?,
        None => bail!("{} is empty: the first row must name the columns", args.file.display()),
    };
    for note in crate::fsat::ensure_private_dir(data_dir)
        .with_context(|| format!("creating the data directory {}", data_dir.display()))?
    {
        eprintln!("note: {note}");
    }
    let dir = data_dir.join(files::INDEX_DIR);
    for note in
        crate::fsat::ensure_private_dir(&dir).with_context(|| format!("creating {}", dir.display()))?
    {
        eprintln!("note: {note}");
    }
    let key_file = args.key_file.clone().unwrap_or_else(|| files::key_path(data_dir, &args.name));
    let (secret, created, notes) = files::load_or_create_key(&key_file).map_err(|e| anyhow!(e))?;
    for note in notes {
        eprintln!("note: {note}");
    }
    let mut build_id = [0u8; 16];
    getrandom::fill(&mut build_id).map_err(|e| anyhow!("no randomness: {e}"))?;
    let opts = BuildOptions {
        name: args.name.clone(),
        primary: args.primary.iter().map(|p| p.trim().to_string()).collect(),
        kinds,
        max_bad_fraction: args.max_bad / 100.0,
        source: args.file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        built_at: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        build_id,
        key_file: match &args.key_file {
            Some(k) => Some(std::path::absolute(k)?.display().to_string()),
            None => None,
        },
    };
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{}.", args.name))
        .suffix(".tmp")
        .tempfile_in(&dir)
        .with_context(|| format!("cannot create a file in {}", dir.display()))?;
    let (tmp_file, tmp_path) = tmp.into_parts();
    let scratch_dir = dir.clone();
    let mut builder =
        Builder::new(&header, opts, EdmKey::new(&secret), tmp_file, || tempfile::tempfile_in(&scratch_dir))
            .map_err(|e| anyhow!("{}: {e}", args.file.display()))?;
    while let Some((line, fields)) = records.next_record().with_context(|| args.file.display().to_string())? {
        builder.push(line, &fields).map_err(|e| anyhow!("{e}"))?;
    }
    let (file, report) = builder.finish().map_err(|e| anyhow!("{}: {e}", args.file.display()))?;
    file.sync_all()?;
    let path = files::index_path(data_dir, &args.name);
    tmp_path.persist(&path).map_err(|e| anyhow!("cannot write {}: {e}", path.display()))?;
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    print!("{report}");
    println!(
        "index {:?}: {} ({:.1} MiB) in {:.1} s; key {}{}",
        args.name,
        path.display(),
        size as f64 / (1 << 20) as f64,
        started.elapsed().as_secs_f64(),
        key_file.display(),
        if created { " (new: keep it apart from copies of the index)" } else { "" }
    );
    Ok(())
}

fn list(data_dir: &std::path::Path) -> anyhow::Result<()> {
    let dir = data_dir.join(files::INDEX_DIR);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            println!("no EDM index in {}", data_dir.display());
            return Ok(());
        }
        Err(e) => return Err(anyhow!("cannot read {}: {e}", dir.display())),
    };
    let mut names: Vec<String> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.strip_suffix(".edm")).map(str::to_string))
        .filter(|n| files::check_name(n).is_ok())
        .collect();
    names.sort();
    if names.is_empty() {
        println!("no EDM index in {}", data_dir.display());
    }
    for name in names {
        let path = files::index_path(data_dir, &name);
        let meta = std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|b| EdmIndex::peek_meta(&b).map_err(|e| e.to_string()));
        let meta = match meta {
            Ok(m) => m,
            Err(e) => {
                println!("{name}: unreadable: {e}");
                continue;
            }
        };
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let columns: Vec<String> =
            meta.columns.iter().map(|c| format!("{}{}", c.name, if c.primary { "*" } else { "" })).collect();
        let status = match files::open_index(data_dir, &name) {
            Ok(_) => "key ok".to_string(),
            Err(e) => format!("NOT USABLE: {e}"),
        };
        println!(
            "{name}: {} rows ({} refused), columns {} (* primary), {:.1} MiB, from {}; {status}",
            meta.rows,
            meta.bad_rows,
            columns.join(", "),
            size as f64 / (1 << 20) as f64,
            meta.source
        );
    }
    Ok(())
}

fn remove(data_dir: &std::path::Path, name: &str) -> anyhow::Result<()> {
    files::check_name(name).map_err(|e| anyhow!(e))?;
    let path = files::index_path(data_dir, name);
    let external =
        std::fs::read(&path).ok().and_then(|b| EdmIndex::peek_meta(&b).ok()).and_then(|m| m.key_file);
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!("no EDM index {name:?} in {}", data_dir.display())
        }
        Err(e) => bail!("cannot remove {}: {e}", path.display()),
    }
    println!("removed {}", path.display());
    let key = files::key_path(data_dir, name);
    match external {
        Some(k) => println!("its key {k} was given with --key-file and is left in place"),
        None => match std::fs::remove_file(&key) {
            Ok(()) => println!("removed {}", key.display()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => bail!("cannot remove {}: {e}", key.display()),
        },
    }
    Ok(())
}
