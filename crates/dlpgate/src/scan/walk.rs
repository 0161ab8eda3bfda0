//! What to scan: files and directories from the command line (a path with `*`, `?` or `[` is
//! a glob), include and exclude patterns on the path relative to its root, a maximum size.
//!
//! The walk goes by directory descriptors, never by path: each directory is opened relative
//! to its parent with `O_NOFOLLOW | O_DIRECTORY`, so a directory swapped for a symbolic link
//! while the scan runs is not followed out of the tree. Each file found carries its device
//! and inode, and [`Found::open`] opens it again only if it is still that file (with
//! `O_NOFOLLOW | O_NONBLOCK`, so neither a link nor a FIFO planted in its place is read).
//! FIFOs, sockets and device nodes are reported as [`Item::Special`], never opened.

use std::ffi::{OsStr, OsString};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use globset::{Glob, GlobSet, GlobSetBuilder};
use rustix::fs::FileType;

pub use super::found::{Dir, Found, HeldDir, Root, MAX_OPEN_DIRS};
use crate::fsat::{open_dir_at, Stat};

/// Default largest file sent; larger ones are skipped and counted.
pub const DEFAULT_MAX_SIZE: u64 = 256 * 1024 * 1024;

/// Directories below a root walked at most: each level holds its directory open while its
/// entries are walked. A directory deeper than this is reported as unreadable (no verdict).
pub const MAX_DEPTH: usize = 256;

/// What kind of special file was skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Special {
    /// A FIFO (named pipe): reading it waits for a writer, and its data is not at rest.
    Fifo,
    /// A Unix socket.
    Socket,
    /// A character device.
    CharDevice,
    /// A block device (reading one would send a whole disk).
    BlockDevice,
}

impl Special {
    fn of(kind: FileType) -> Option<Self> {
        match kind {
            FileType::Fifo => Some(Self::Fifo),
            FileType::Socket => Some(Self::Socket),
            FileType::CharacterDevice => Some(Self::CharDevice),
            FileType::BlockDevice => Some(Self::BlockDevice),
            _ => None,
        }
    }

    /// Why it was skipped, for the report.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Fifo => "not a regular file: a FIFO (named pipe)",
            Self::Socket => "not a regular file: a socket",
            Self::CharDevice => "not a regular file: a character device",
            Self::BlockDevice => "not a regular file: a block device",
        }
    }
}

/// What the walk gives, in order.
#[derive(Debug)]
#[non_exhaustive]
pub enum Item {
    /// A file to scan.
    File(Found),
    /// A file over the size limit.
    TooLarge(Found),
    /// A FIFO, socket or device node: never opened.
    Special {
        /// The path.
        path: PathBuf,
        /// What it is.
        kind: Special,
    },
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
        let tree = Tree { glob: glob.as_ref(), filter };
        // The root itself: followed if it is a link.
        let go_on = match std::fs::metadata(&root) {
            Err(e) => emit(Item::Unreadable { path: root.clone(), error: io_error(&root, &e) }),
            Ok(meta) if meta.is_dir() => match Root::open(&root) {
                Ok((root, fd)) => tree.walk(Arc::new(root), fd, &mut emit),
                Err(e) => emit(Item::Unreadable { path: root.clone(), error: io_error(&root, &e) }),
            },
            Ok(meta) if meta.is_file() => tree.file_argument(&root, &mut emit),
            Ok(meta) => {
                use std::os::unix::fs::FileTypeExt;
                let t = meta.file_type();
                let kind = if t.is_fifo() {
                    Some(Special::Fifo)
                } else if t.is_socket() {
                    Some(Special::Socket)
                } else if t.is_char_device() {
                    Some(Special::CharDevice)
                } else if t.is_block_device() {
                    Some(Special::BlockDevice)
                } else {
                    None
                };
                kind.is_none_or(|kind| emit(Item::Special { path: root.clone(), kind }))
            }
        };
        if !go_on {
            return;
        }
    }
}

/// One directory being walked: its entries in name order.
struct Level {
    dir: Arc<Dir>,
    path: PathBuf,
    rel: PathBuf,
    entries: std::vec::IntoIter<(OsString, FileType)>,
    /// Held for its files, once one is found (`Some(None)`: no room to hold it).
    held: Option<Option<Arc<HeldDir>>>,
}

impl Level {
    fn held(&mut self) -> Option<Arc<HeldDir>> {
        self.held.get_or_insert_with(|| HeldDir::hold(&self.dir)).clone()
    }
}

/// What one command-line path walks.
struct Tree<'a> {
    glob: Option<&'a globset::GlobMatcher>,
    filter: &'a Filter,
}

impl Tree<'_> {
    /// True when the pattern and the filters take the entry.
    fn takes(&self, path: &Path, rel: &Path) -> bool {
        self.glob.is_none_or(|g| g.is_match(path)) && self.filter.accepts(rel)
    }

    /// A file named on the command line (a link is followed to the file it names): its
    /// directory is the root and its name the relative path.
    fn file_argument(&self, path: &Path, emit: &mut impl FnMut(Item) -> bool) -> bool {
        let name = PathBuf::from(path.file_name().unwrap_or(path.as_os_str()));
        if !self.takes(path, &name) {
            return true;
        }
        let opened = std::fs::canonicalize(path).and_then(|real| {
            let dir = real.parent().map_or_else(|| PathBuf::from("/"), Path::to_path_buf);
            let real_name = real.file_name().map(OsStr::to_os_string).unwrap_or_default();
            let (root, fd) = Root::open(&dir)?;
            let stat = Stat::at(&fd, &real_name)?;
            Ok((Arc::new(root), fd, real_name, stat))
        });
        let (root, fd, real_name, stat) = match opened {
            Ok(o) => o,
            Err(e) => return emit(Item::Unreadable { path: path.to_path_buf(), error: io_error(path, &e) }),
        };
        if let Some(kind) = Special::of(stat.kind) {
            return emit(Item::Special { path: path.to_path_buf(), kind });
        }
        let parent_id = root.id;
        let dir = match Dir::new(fd) {
            Ok(dir) => HeldDir::hold(&Arc::new(dir)),
            Err(_) => None,
        };
        let found = Found {
            path: path.to_path_buf(),
            rel: PathBuf::from(real_name),
            size: stat.size,
            mtime: stat.mtime,
            id: stat.id,
            parent_id,
            root,
            dir,
        };
        emit(self.sized(found))
    }

    fn sized(&self, found: Found) -> Item {
        if found.size > self.filter.max_size {
            Item::TooLarge(found)
        } else {
            Item::File(found)
        }
    }

    /// Depth first, siblings in name order, a directory's files before its later siblings.
    /// False when `emit` said stop.
    fn walk(&self, root: Arc<Root>, fd: OwnedFd, emit: &mut impl FnMut(Item) -> bool) -> bool {
        let mut stack = Vec::new();
        match Dir::new(fd) {
            Ok(dir) => {
                let dir = Arc::new(dir);
                let (entries, error) = read_entries(&dir);
                if let Some(error) = error {
                    if !emit(Item::Unreadable {
                        path: root.path.clone(),
                        error: io_error(&root.path, &error),
                    }) {
                        return false;
                    }
                }
                stack.push(Level {
                    dir,
                    path: root.path.clone(),
                    rel: PathBuf::new(),
                    entries: entries.into_iter(),
                    held: None,
                });
            }
            Err(e) => {
                return emit(Item::Unreadable { path: root.path.clone(), error: io_error(&root.path, &e) })
            }
        }
        loop {
            let depth = stack.len();
            let Some(level) = stack.last_mut() else { break };
            let Some((name, mut kind)) = level.entries.next() else {
                stack.pop();
                continue;
            };
            let path = level.path.join(&name);
            let rel = level.rel.join(&name);
            let mut stat = None;
            if kind == FileType::Unknown || kind == FileType::RegularFile {
                match Stat::at(level.dir.fd(), &name) {
                    Ok(s) => {
                        kind = s.kind;
                        stat = Some(s);
                    }
                    Err(e) => {
                        if self.takes(&path, &rel)
                            && !emit(Item::Unreadable { error: io_error(&path, &e), path })
                        {
                            return false;
                        }
                        continue;
                    }
                }
            }
            let item = match (kind, stat) {
                (FileType::Directory, _) => {
                    if depth > MAX_DEPTH {
                        let error = format!("not walked: more than {MAX_DEPTH} directories deep");
                        if !emit(Item::Unreadable { path, error }) {
                            return false;
                        }
                        continue;
                    }
                    let opened = open_dir_at(level.dir.fd(), &name).and_then(Dir::new);
                    match opened {
                        Ok(dir) => {
                            let dir = Arc::new(dir);
                            let (entries, error) = read_entries(&dir);
                            let error = error.map(|e| io_error(&path, &e));
                            stack.push(Level {
                                dir,
                                path: path.clone(),
                                rel,
                                entries: entries.into_iter(),
                                held: None,
                            });
                            match error {
                                Some(error) => Item::Unreadable { path, error },
                                None => continue,
                            }
                        }
                        Err(e) => Item::Unreadable { error: io_error(&path, &e), path },
                    }
                }
                (FileType::RegularFile, Some(stat)) => {
                    if !self.takes(&path, &rel) {
                        continue;
                    }
                    let found = Found {
                        path,
                        rel,
                        size: stat.size,
                        mtime: stat.mtime,
                        id: stat.id,
                        parent_id: level.dir.id,
                        root: root.clone(),
                        dir: level.held(),
                    };
                    self.sized(found)
                }
                (kind, _) => match Special::of(kind) {
                    Some(special) if self.takes(&path, &rel) => Item::Special { path, kind: special },
                    // Symbolic links are not followed; filtered specials are not reported.
                    _ => continue,
                },
            };
            if !emit(item) {
                return false;
            }
        }
        true
    }
}

/// The entries of `dir` sorted by name, with their types when the file system gives them,
/// and the error that stopped the listing early, if one did.
fn read_entries(dir: &Dir) -> (Vec<(OsString, FileType)>, Option<std::io::Error>) {
    let mut entries = Vec::new();
    let reader = match rustix::fs::Dir::read_from(dir.fd()) {
        Ok(r) => r,
        Err(e) => return (entries, Some(e.into())),
    };
    let mut error = None;
    for entry in reader {
        match entry {
            Ok(entry) => {
                let name = entry.file_name().to_bytes();
                if name == b"." || name == b".." {
                    continue;
                }
                entries.push((OsStr::from_bytes(name).to_os_string(), entry.file_type()));
            }
            Err(e) => {
                error = Some(e.into());
                break;
            }
        }
    }
    entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    (entries, error)
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

    use rustix::fs::Mode;

    use super::*;

    fn names(paths: &[PathBuf], filter: &Filter) -> Vec<String> {
        let mut seen = Vec::new();
        walk(paths, filter, |item| {
            seen.push(match item {
                Item::File(f) => format!("file {}", f.rel.display()),
                Item::TooLarge(f) => format!("large {}", f.rel.display()),
                Item::Special { path, kind } => {
                    format!("special {} {kind:?}", path.file_name().unwrap().to_string_lossy())
                }
                Item::Unreadable { path, .. } => {
                    format!("bad {}", path.file_name().unwrap().to_string_lossy())
                }
            });
            true
        });
        seen
    }

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
        assert_eq!(names(&[d.join("a")], &filter), vec!["large b/big.bin", "file b/two.txt", "file one.txt"]);

        // A file argument is named by its file name; a missing path is unreadable.
        let mut seen = Vec::new();
        walk(&[d.join("a/one.txt"), d.join("missing")], &filter, |item| {
            seen.push(match item {
                Item::File(f) => format!("file {} {}", f.rel.display(), f.size),
                other => format!("{other:?}").chars().take(10).collect(),
            });
            true
        });
        assert_eq!(seen[0], "file one.txt 1");
        assert!(seen[1].starts_with("Unreadable"), "{seen:?}");

        let filter = Filter::new(&["*.txt".into()], &[], DEFAULT_MAX_SIZE).unwrap();
        let mut n = 0;
        walk(&[PathBuf::from(format!("{}/a/*/*.txt", d.display()))], &filter, |item| {
            assert!(matches!(item, Item::File(ref f) if f.rel == Path::new("b/two.txt")), "{item:?}");
            n += 1;
            true
        });
        assert_eq!(n, 1);
    }

    /// FIFOs, sockets and device nodes are reported with what they are, in the tree and on
    /// the command line, and never opened (a FIFO would wait for a writer forever).
    #[test]
    fn special_files_are_reported_not_opened() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("a.txt"), b"a").unwrap();
        rustix::fs::mknodat(rustix::fs::CWD, d.join("fifo"), FileType::Fifo, Mode::from_raw_mode(0o600), 0)
            .unwrap();
        let _socket = std::os::unix::net::UnixListener::bind(d.join("socket")).unwrap();
        // A device node needs root (CAP_MKNOD): /dev/null's numbers.
        let device = rustix::fs::mknodat(
            rustix::fs::CWD,
            d.join("null"),
            FileType::CharacterDevice,
            Mode::from_raw_mode(0o600),
            rustix::fs::makedev(1, 3),
        )
        .is_ok();
        std::os::unix::fs::symlink("/etc/hostname", d.join("link")).unwrap();
        let filter = Filter::new(&[], &[], DEFAULT_MAX_SIZE).unwrap();
        let mut expected = vec!["file a.txt", "special fifo Fifo"];
        if device {
            expected.push("special null CharDevice");
        }
        expected.push("special socket Socket");
        assert_eq!(names(&[d.to_path_buf()], &filter), expected, "links are not followed");
        assert_eq!(names(&[d.join("fifo")], &filter), ["special fifo Fifo"]);
        // Filters apply to them as to files.
        let filter =
            Filter::new(&[], &["fifo".into(), "socket".into(), "null".into()], DEFAULT_MAX_SIZE).unwrap();
        assert_eq!(names(&[d.to_path_buf()], &filter), ["file a.txt"]);
    }
}
