//! Where EDM indexes and their keys live, and how they are loaded.
//!
//! `DATA_DIR/edm/NAME.edm` is the index; `DATA_DIR/edm-keys/NAME.key` its key (64 hex
//! digits, mode 0600, in a 0700 directory), unless `edm index --key-file` put it elsewhere,
//! which the index records. A copied index without its key is useless: keep the key off
//! the machines the index is copied to, or on a different volume.
//!
//! An index is written to a temporary file and renamed over the old one, so a running
//! server's memory map of the old file stays valid until it lets go of it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use inspect::edm::{EdmIndex, EdmKey, KEY_BYTES};

/// Subdirectory of the data directory holding the indexes.
pub const INDEX_DIR: &str = "edm";
/// Subdirectory of the data directory holding the keys.
pub const KEY_DIR: &str = "edm-keys";
pub use crate::index_files::{check_name, Mapped, MAX_NAME_LEN};

/// The index file of `name`.
pub fn index_path(data_dir: &Path, name: &str) -> PathBuf {
    data_dir.join(INDEX_DIR).join(format!("{name}.edm"))
}

/// The default key file of `name`.
pub fn key_path(data_dir: &Path, name: &str) -> PathBuf {
    data_dir.join(KEY_DIR).join(format!("{name}.key"))
}

/// Reads a key file, refusing one that other users can read (with the `chmod` to run).
/// Returns the key and a warning when its group can read it.
pub fn load_key(path: &Path) -> Result<([u8; KEY_BYTES], Option<String>), String> {
    let warning =
        icap::tls::check_key_permissions(path).map_err(|e| format!("EDM key {}: {e}", path.display()))?;
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the EDM key {}: {e}", path.display()))?;
    let bytes = hex::decode(text.trim())
        .ok()
        .and_then(|b| <[u8; KEY_BYTES]>::try_from(b).ok())
        .ok_or_else(|| format!("{} is not an EDM key ({} hex digits)", path.display(), 2 * KEY_BYTES))?;
    Ok((bytes, warning))
}

/// Loads the key at `path`, or makes a new random one there (mode 0600, its directory 0700
/// when it is the data directory's). Returns the key, whether it is new, and warnings.
pub fn load_or_create_key(path: &Path) -> Result<([u8; KEY_BYTES], bool, Vec<String>), String> {
    if path.exists() {
        let (key, warning) = load_key(path)?;
        return Ok((key, false, warning.into_iter().collect()));
    }
    let mut notes = Vec::new();
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        if dir.file_name().is_some_and(|n| n == KEY_DIR) {
            notes.extend(
                crate::fsat::ensure_private_dir(dir)
                    .map_err(|e| format!("cannot make the key directory {}: {e}", dir.display()))?,
            );
        }
    }
    let mut key = [0u8; KEY_BYTES];
    getrandom::fill(&mut key).map_err(|e| format!("no randomness for a key: {e}"))?;
    let file = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(crate::fsat::PRIVATE_FILE_MODE)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(path)
    };
    let mut file = file.map_err(|e| format!("cannot create the key {}: {e}", path.display()))?;
    std::io::Write::write_all(&mut file, format!("{}\n", hex::encode(key)).as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("cannot write the key {}: {e}", path.display()))?;
    Ok((key, true, notes))
}

/// Opens the index `name` of `data_dir` with its key: mapped, checked, not read into memory.
pub fn open_index(data_dir: &Path, name: &str) -> Result<Arc<EdmIndex>, String> {
    check_name(name)?;
    let path = index_path(data_dir, name);
    let bytes = crate::index_files::map_index(&path, "EDM index", || {
        format!(
            "no EDM index {name:?} in {} (build it with `dlpgate edm index --name {name} ...`)",
            data_dir.display()
        )
    })?;
    let meta = EdmIndex::peek_meta((*bytes).as_ref()).map_err(|e| format!("{}: {e}", path.display()))?;
    let key_file = meta.key_file.map(PathBuf::from).unwrap_or_else(|| key_path(data_dir, name));
    let (key, warning) = load_key(&key_file)?;
    if let Some(w) = warning {
        tracing::warn!("{w}");
    }
    let index = EdmIndex::open(bytes, EdmKey::new(&key))
        .map_err(|e| format!("{} with key {}: {e}", path.display(), key_file.display()))?;
    Ok(Arc::new(index))
}

/// The files a policy's indexes come from (index and key), for the reload watcher.
pub fn watched(data_dir: &Path, policy: &inspect::Policy) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for index in policy.edm_indexes() {
        let name = &index.meta().name;
        out.push(index_path(data_dir, name));
        out.push(
            index.meta().key_file.clone().map(PathBuf::from).unwrap_or_else(|| key_path(data_dir, name)),
        );
    }
    out
}

/// Loads a policy file, finding its EDM and fingerprint indexes in `data_dir`.
pub fn load_policy(path: &Path, data_dir: &Path) -> Result<inspect::Policy, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the policy {}: {e}", path.display()))?;
    parse_policy(&text, data_dir, &path.display().to_string())
}

/// Parses a policy text (a stored version), finding its EDM and fingerprint indexes in
/// `data_dir`; errors start with `what` and name their line.
pub fn parse_policy(text: &str, data_dir: &Path, what: &str) -> Result<inspect::Policy, String> {
    inspect::Policy::from_toml_str_with_indexes(text, &mut DataDir(data_dir))
        .map_err(|e| format!("{what}: {e}"))
}

/// The indexes of a data directory, as a policy being loaded asks for them.
struct DataDir<'a>(&'a Path);

impl inspect::IndexResolver for DataDir<'_> {
    fn edm(&mut self, name: &str) -> Result<Arc<EdmIndex>, String> {
        open_index(self.0, name)
    }
    fn fingerprint(&mut self, name: &str) -> Result<Arc<inspect::fingerprint::FingerprintIndex>, String> {
        crate::fingerprint::files::open_index(self.0, name)
    }
}
