//! What to scan: files and directories from the command line (a path with `*`, `?` or `[` is
//! a glob), include and exclude patterns on the path relative to its root, a maximum size.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use anyhow::Context;
use globset::{Glob, GlobSet, GlobSetBuilder};

/// Default largest file sent; larger ones are skipped and counted.
pub const DEFAULT_MAX_SIZE: u64 = 256 * 1024 * 1024;

/// Directories held open for the files found in them, at most.
pub const MAX_OPEN_DIRS: usize = 64;

static OPEN_DIRS: AtomicUsize = AtomicUsize::new(0);

/// A directory held open so that its files are opened by name relative to it: one name to
/// look up rather than the whole path. At most [`MAX_OPEN_DIRS`] at once (a tree of one file
/// per directory would otherwise hold one descriptor per file waiting to be scanned).
#[derive(Debug)]
pub struct Dir(std::fs::File);

impl Dir {
    /// Opens `path`, unless too many are open.
    fn open(path: &Path) -> Option<Arc<Self>> {
        if OPEN_DIRS.fetch_add(1, Ordering::Relaxed) >= MAX_OPEN_DIRS {
            OPEN_DIRS.fetch_sub(1, Ordering::Relaxed);
            return None;
        }
        match std::fs::File::open(path) {
            Ok(file) => Some(Arc::new(Self(file))),
            Err(_) => {
                OPEN_DIRS.fetch_sub(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// Opens the file `name` in this directory for reading.
    pub fn open_file(&self, name: &std::ffi::OsStr) -> std::io::Result<std::fs::File> {
        use rustix::fs::{Mode, OFlags};
        let fd = rustix::fs::openat(&self.0, name, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?;
        Ok(std::fs::File::from(fd))
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        OPEN_DIRS.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One file found.
#[derive(Debug, Clone)]
pub struct Found {
    /// Its path as walked.
    pub path: PathBuf,
    /// Its path relative to the root it was found under (its name for a file argument).
    pub rel: PathBuf,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, Unix nanoseconds (resume checks it).
    pub mtime: i128,
    /// Its directory, when the walk holds it open.
    pub dir: Option<Arc<Dir>>,
}

/// What the walk gives, in order.
#[derive(Debug)]
pub enum Item {
    /// A file to scan.
    File(Found),
    /// A file over the size limit.
    TooLarge(Found),
    /// A path that could not be read.
    Unreadable {
        /// The path.
        path: PathBuf,
        /// Why.
        error: String,
    },
}

/// Filters.
#[derive(Debug, Clone)]
pub struct Filter {
    include: Option<GlobSet>,
    exclude: GlobSet,
    /// Largest file scanned.
    pub max_size: u64,
}

impl Filter {
    /// Builds the filters; patterns match the path relative to its root (`*` also crosses
    /// `/`, so `*.docx` matches at any depth).
    pub fn new(include: &[String], exclude: &[String], max_size: u64) -> anyhow::Result<Self> {
        let set = |patterns: &[String]| -> anyhow::Result<GlobSet> {
            let mut b = GlobSetBuilder::new();
            for p in patterns {
                b.add(Glob::new(p).with_context(|| format!("pattern {p:?}"))?);
            }
            Ok(b.build()?)
        };
        Ok(Self {
            include: if include.is_empty() { None } else { Some(set(include)?) },
            exclude: set(exclude)?,
            max_size,
        })
    }

    fn accepts(&self, rel: &Path) -> bool {
        if self.exclude.is_match(rel) {
            return false;
        }
        self.include.as_ref().is_none_or(|inc| inc.is_match(rel))
    }
}

fn is_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// Walks `paths` in a stable (sorted) order, calling `emit` for each item; stops when `emit`
/// returns false. Symbolic links are not followed (but a path given on the command line is).
pub fn walk(paths: &[PathBuf], filter: &Filter, mut emit: impl FnMut(Item) -> bool) {
    for arg in paths {
        let text = arg.to_string_lossy();
        let (root, glob) = if is_glob(&text) && !arg.exists() {
            // The literal directories before the first pattern component are the root.
            let mut root = PathBuf::new();
            for comp in arg.components() {
                if is_glob(&comp.as_os_str().to_string_lossy()) {
                    break;
                }
                root.push(comp);
            }
            let root = if root.as_os_str().is_empty() { PathBuf::from(".") } else { root };
            match Glob::new(&text) {
                Ok(g) => (root, Some(g.compile_matcher())),
                Err(e) => {
                    if !emit(Item::Unreadable { path: arg.clone(), error: format!("bad pattern: {e}") }) {
                        return;
                    }
                    continue;
                }
            }
        } else {
            (arg.clone(), None)
        };
        let walk = Tree { root: &root, glob: glob.as_ref(), filter };
        // The root itself: followed if it is a link.
        let levels = match std::fs::metadata(&root) {
            Err(e) => vec![Entry::Error(root.clone(), io_error(&root, &e))],
            Ok(meta) if meta.is_dir() => walk.read(&root),
            Ok(meta) if meta.is_file() => {
                let rel = match glob {
                    None => PathBuf::from(root.file_name().unwrap_or(root.as_os_str())),
                    Some(_) => relative(&root, &root),
                };
                walk.file(root.clone(), rel, || Ok(meta)).into_iter().collect()
            }
            Ok(_) => Vec::new(),
        };
        // Depth first, siblings in name order, a directory's files before its later siblings.
        let mut stack = vec![levels.into_iter()];
        while let Some(level) = stack.last_mut() {
            let Some(entry) = level.next() else {
                stack.pop();
                continue;
            };
            let item = match entry {
                Entry::Dir(path) => {
                    stack.push(walk.read(&path).into_iter());
                    continue;
                }
                Entry::File(path, rel, Ok(meta), dir) => {
                    let found = Found { path, rel, size: meta.len(), mtime: mtime_nanos(&meta), dir };
                    if found.size > filter.max_size {
                        Item::TooLarge(found)
                    } else {
                        Item::File(found)
                    }
                }
                Entry::File(path, _, Err(e), _) => {
                    let error = io_error(&path, &e);
                    Item::Unreadable { path, error }
                }
                Entry::Error(path, error) => Item::Unreadable { path, error },
            };
            if !emit(item) {
                return;
            }
        }
    }
}

/// One entry of a directory, read with it.
enum Entry {
    /// A directory, read when its turn comes.
    Dir(PathBuf),
    /// A regular file that passed the filters: its path, relative path, metadata and
    /// directory.
    File(PathBuf, PathBuf, std::io::Result<std::fs::Metadata>, Option<Arc<Dir>>),
    /// Something that could not be read.
    Error(PathBuf, String),
}

/// What one command-line path walks.
struct Tree<'a> {
    root: &'a Path,
    glob: Option<&'a globset::GlobMatcher>,
    filter: &'a Filter,
}

impl Tree<'_> {
    /// The entries of `dir`, sorted by name. The metadata of a file is read now, relative to
    /// the open directory (one name to look up rather than the whole path), and the directory
    /// is closed before the next one is read: one directory open at a time, however deep.
    fn read(&self, dir: &Path) -> Vec<Entry> {
        let read = match std::fs::read_dir(dir) {
            Ok(read) => read,
            Err(e) => return vec![Entry::Error(dir.to_path_buf(), io_error(dir, &e))],
        };
        let mut errors = Vec::new();
        let mut named: Vec<(std::ffi::OsString, std::fs::DirEntry)> = Vec::new();
        for entry in read {
            match entry {
                Ok(entry) => named.push((entry.file_name(), entry)),
                Err(e) => errors.push(Entry::Error(dir.to_path_buf(), io_error(dir, &e))),
            }
        }
        named.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut entries = errors;
        for (_, entry) in named {
            let path = entry.path();
            match entry.file_type() {
                Err(e) => {
                    let error = io_error(&path, &e);
                    entries.push(Entry::Error(path, error));
                }
                Ok(kind) if kind.is_dir() => entries.push(Entry::Dir(path)),
                Ok(kind) if kind.is_file() => {
                    let rel = relative(&path, self.root);
                    entries.extend(self.file(path, rel, || entry.metadata()));
                }
                Ok(_) => {}
            }
        }
        // Opened once the directory has files to scan.
        if entries.iter().any(|e| matches!(e, Entry::File(_, _, Ok(_), _))) {
            let handle = Dir::open(dir);
            for entry in &mut entries {
                if let Entry::File(_, _, Ok(_), slot) = entry {
                    slot.clone_from(&handle);
                }
            }
        }
        entries
    }

    /// A file, if the pattern and the filters take it (its metadata is read only then).
    fn file(
        &self,
        path: PathBuf,
        rel: PathBuf,
        meta: impl FnOnce() -> std::io::Result<std::fs::Metadata>,
    ) -> Option<Entry> {
        if self.glob.is_some_and(|g| !g.is_match(&path)) || !self.filter.accepts(&rel) {
            return None;
        }
        Some(Entry::File(path, rel, meta(), None))
    }
}

/// `path` relative to `root` (the whole path if it is not under it).
fn relative(path: &Path, root: &Path) -> PathBuf {
    path.strip_prefix(root).map_or_else(|_| path.to_path_buf(), Path::to_path_buf)
}

/// An I/O error with the path it happened on.
fn io_error(path: &Path, e: &std::io::Error) -> String {
    format!("IO error for operation on {}: {e}", path.display())
}

/// Modification time in Unix nanoseconds (0 when unknown).
pub fn mtime_nanos(meta: &std::fs::Metadata) -> i128 {
    use std::os::unix::fs::MetadataExt;
    i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn include_exclude_size_and_globs() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("a/b")).unwrap();
        std::fs::write(d.join("a/one.txt"), b"1").unwrap();
        std::fs::write(d.join("a/b/two.txt"), b"22").unwrap();
        std::fs::write(d.join("a/b/big.bin"), vec![0u8; 100]).unwrap();
        std::fs::write(d.join("a/skip.log"), b"x").unwrap();
        let filter = Filter::new(&[], &["*.log".into()], 50).unwrap();
        let mut seen = Vec::new();
        walk(&[d.join("a")], &filter, |item| {
            seen.push(match item {
                Item::File(f) => format!("file {}", f.rel.display()),
                Item::TooLarge(f) => format!("large {}", f.rel.display()),
                Item::Unreadable { path, .. } => format!("bad {}", path.display()),
            });
            true
        });
        assert_eq!(seen, vec!["large b/big.bin", "file b/two.txt", "file one.txt"]);

        // A file argument is named by its file name; a missing path is unreadable.
        let mut seen = Vec::new();
        walk(&[d.join("a/one.txt"), d.join("missing")], &filter, |item| {
            seen.push(match item {
                Item::File(f) => format!("file {} {}", f.rel.display(), f.size),
                Item::TooLarge(f) => format!("large {}", f.rel.display()),
                Item::Unreadable { path, .. } => {
                    format!("bad {}", path.file_name().unwrap().to_string_lossy())
                }
            });
            true
        });
        assert_eq!(seen, vec!["file one.txt 1", "bad missing"]);

        let filter = Filter::new(&["*.txt".into()], &[], DEFAULT_MAX_SIZE).unwrap();
        let mut n = 0;
        walk(&[PathBuf::from(format!("{}/a/*/*.txt", d.display()))], &filter, |item| {
            assert!(matches!(item, Item::File(ref f) if f.rel == Path::new("b/two.txt")), "{item:?}");
            n += 1;
            true
        });
        assert_eq!(n, 1);
    }
}
