//! What to scan: files and directories from the command line (a path with `*`, `?` or `[` is
//! a glob), include and exclude patterns on the path relative to its root, a maximum size.

use std::path::{Path, PathBuf};

use anyhow::Context;
use globset::{Glob, GlobSet, GlobSetBuilder};

/// Default largest file sent; larger ones are skipped and counted.
pub const DEFAULT_MAX_SIZE: u64 = 256 * 1024 * 1024;

/// One file found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Its path as walked.
    pub path: PathBuf,
    /// Its path relative to the root it was found under (its name for a file argument).
    pub rel: PathBuf,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, Unix nanoseconds (resume checks it).
    pub mtime: i128,
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
/// returns false. Symbolic links are not followed.
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
        let is_file_arg = glob.is_none() && root.is_file();
        let walker = walkdir::WalkDir::new(&root).follow_links(false).sort_by_file_name();
        for entry in walker {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    let path = e.path().map_or_else(|| root.clone(), Path::to_path_buf);
                    if !emit(Item::Unreadable { path, error: e.to_string() }) {
                        return;
                    }
                    continue;
                }
            };
            if !entry.file_type().is_file() {
                continue;
            }
            let path = entry.path().to_path_buf();
            if let Some(g) = &glob {
                if !g.is_match(&path) {
                    continue;
                }
            }
            let rel = if is_file_arg {
                PathBuf::from(path.file_name().unwrap_or(path.as_os_str()))
            } else {
                path.strip_prefix(&root).map_or_else(|_| path.clone(), Path::to_path_buf)
            };
            if !filter.accepts(&rel) {
                continue;
            }
            let item = match entry.metadata() {
                Ok(meta) => {
                    let found = Found { path, rel, size: meta.len(), mtime: mtime_nanos(&meta) };
                    if found.size > filter.max_size {
                        Item::TooLarge(found)
                    } else {
                        Item::File(found)
                    }
                }
                Err(e) => Item::Unreadable { path, error: e.to_string() },
            };
            if !emit(item) {
                return;
            }
        }
    }
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
