//! What EDM and fingerprint indexes share in the data directory: their names, and mapping
//! an index file read-only (the one `unsafe` block both rely on).

use std::path::Path;
use std::sync::Arc;

/// Longest index name.
pub const MAX_NAME_LEN: usize = 64;

/// Refuses a name that is not 1-64 ASCII letters, digits, `_` or `-` (it becomes a file
/// name in the data directory).
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty()
        || name.len() > MAX_NAME_LEN
        || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(format!(
            "index name {name:?} must be 1 to {MAX_NAME_LEN} ASCII letters, digits, '_' or '-'"
        ));
    }
    Ok(())
}

/// The bytes of an index file, mapped.
#[derive(Debug)]
pub struct Mapped(memmap2::Mmap);

impl AsRef<[u8]> for Mapped {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// Maps the index file at `path` read-only. `what` names it in errors (`EDM index`), and
/// `missing` says how to make it when there is none.
pub fn map_index(path: &Path, what: &str, missing: impl FnOnce() -> String) -> Result<Arc<Mapped>, String> {
    let file = std::fs::File::open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            missing()
        } else {
            format!("cannot open the {what} {}: {e}", path.display())
        }
    })?;
    map(&file).map(Arc::new).map_err(|e| format!("cannot map {}: {e}", path.display()))
}

#[allow(unsafe_code)]
fn map(file: &std::fs::File) -> std::io::Result<Mapped> {
    // SAFETY: the map is read-only, and index files are never changed in place: `edm index`
    // and `fingerprint add|remove` write a new file and rename it over the old one, so the
    // mapped inode keeps its bytes. The files sit in a 0700 directory of the server's user;
    // only that user truncating an index by hand could change mapped bytes (the process
    // would then get SIGBUS).
    let map = unsafe { memmap2::Mmap::map(file)? };
    Ok(Mapped(map))
}
