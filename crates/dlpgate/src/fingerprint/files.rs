//! Where fingerprint indexes live, and how they are loaded and rebuilt.
//!
//! `DATA_DIR/fingerprints/NAME.fpi` is the index a server maps; `NAME.docs` beside it keeps
//! each document's name, size, file hash and fingerprints (and the templates'), so
//! documents can be added and removed without the originals. Both are written to a
//! temporary file and renamed over the old one, so a running server's memory map of the
//! old index stays valid until it lets go of it.

use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use inspect::fingerprint::{read_records, BuildOptions, Builder, FingerprintIndex, Report};

/// Subdirectory of the data directory holding the indexes.
pub const INDEX_DIR: &str = "fingerprints";
pub use crate::index_files::{check_name, Mapped, MAX_NAME_LEN};

/// The index file of `name`.
pub fn index_path(data_dir: &Path, name: &str) -> PathBuf {
    data_dir.join(INDEX_DIR).join(format!("{name}.fpi"))
}

/// The document records of `name`.
pub fn records_path(data_dir: &Path, name: &str) -> PathBuf {
    data_dir.join(INDEX_DIR).join(format!("{name}.docs"))
}

/// Opens the index `name` of `data_dir`: mapped, checked, not read into memory.
pub fn open_index(data_dir: &Path, name: &str) -> Result<Arc<FingerprintIndex>, String> {
    check_name(name)?;
    let path = index_path(data_dir, name);
    let bytes = crate::index_files::map_index(&path, "fingerprint index", || {
        format!(
            "no fingerprint index {name:?} in {} (build it with `dlpgate fingerprint add --name {name} FILE...`)",
            data_dir.display()
        )
    })?;
    let index = FingerprintIndex::open(bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Arc::new(index))
}

/// The files a policy's fingerprint indexes come from, for the reload watcher.
pub fn watched(data_dir: &Path, policy: &inspect::Policy) -> Vec<PathBuf> {
    policy.fingerprint_indexes().iter().map(|i| index_path(data_dir, &i.meta().name)).collect()
}

/// Builds the index `name` from its records file `records`, and renames it into place.
pub fn rebuild(
    data_dir: &Path,
    name: &str,
    records: &Path,
    max_doc_frequency: u32,
) -> anyhow::Result<Report> {
    use anyhow::{anyhow, Context};
    let dir = data_dir.join(INDEX_DIR);
    let mut build_id = [0u8; 16];
    getrandom::fill(&mut build_id).map_err(|e| anyhow!("no randomness: {e}"))?;
    let opts = BuildOptions {
        name: name.to_string(),
        max_doc_frequency,
        built_at: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        build_id,
    };
    let scratch_dir = dir.clone();
    let mut builder =
        Builder::new(opts, || tempfile::tempfile_in(&scratch_dir)).map_err(|e| anyhow!("{e}"))?;
    let input = std::fs::File::open(records).with_context(|| format!("cannot open {}", records.display()))?;
    let mut failed: Option<anyhow::Error> = None;
    read_records(BufReader::with_capacity(1 << 20, input), |r| {
        if r.template {
            builder.push_template(&r.prints.iter().map(|p| p.hash).collect::<Vec<u64>>());
        } else if let Err(e) = builder.push_document(&r.name, r.size, r.sha256, &r.prints, r.words) {
            failed = Some(anyhow!("{e}"));
            return Err(inspect::fingerprint::RecordError::Damaged("stopped".into()));
        }
        Ok(())
    })
    .map_err(|e| failed.take().unwrap_or_else(|| anyhow!("{}: {e}", records.display())))?;
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(&dir)
        .with_context(|| format!("cannot create a file in {}", dir.display()))?;
    let (tmp_file, tmp_path) = tmp.into_parts();
    let (file, report) = builder.finish(tmp_file).map_err(|e| anyhow!("{name}: {e}"))?;
    file.sync_all()?;
    let path = index_path(data_dir, name);
    tmp_path.persist(&path).map_err(|e| anyhow!("cannot write {}: {e}", path.display()))?;
    Ok(report)
}

/// A records file being written beside the index.
#[derive(Debug)]
pub struct RecordsWriter {
    out: BufWriter<std::fs::File>,
    tmp: tempfile::TempPath,
}

impl RecordsWriter {
    /// Starts a new records file in the index directory.
    pub fn new(data_dir: &Path, name: &str) -> anyhow::Result<Self> {
        use anyhow::Context;
        let dir = data_dir.join(INDEX_DIR);
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{name}.docs."))
            .suffix(".tmp")
            .tempfile_in(&dir)
            .with_context(|| format!("cannot create a file in {}", dir.display()))?;
        let (file, tmp) = tmp.into_parts();
        let mut out = BufWriter::with_capacity(1 << 20, file);
        inspect::fingerprint::write_magic(&mut out)?;
        Ok(Self { out, tmp })
    }

    /// Appends one record.
    pub fn push(&mut self, r: &inspect::fingerprint::DocumentRecord) -> std::io::Result<()> {
        inspect::fingerprint::write_record(&mut self.out, r)
    }

    /// Ends the file; [`persist`](Self::persist) renames it into place once the index
    /// built from it is.
    pub fn close(self) -> anyhow::Result<tempfile::TempPath> {
        let mut out = self.out;
        out.flush()?;
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        Ok(self.tmp)
    }

    /// Renames a closed records file over `NAME.docs`.
    pub fn persist(tmp: tempfile::TempPath, data_dir: &Path, name: &str) -> anyhow::Result<()> {
        let path = records_path(data_dir, name);
        tmp.persist(&path).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
        Ok(())
    }
}
