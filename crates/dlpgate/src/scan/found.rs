//! A file the walk found, and how it is opened again: relative to its directory (held open
//! while it waits, up to [`MAX_OPEN_DIRS`]) or from its scan root one directory at a time
//! with `O_NOFOLLOW | O_DIRECTORY`, and only if it is still the same file (device and inode).

use std::ffi::OsStr;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use rustix::fs::{FileType, Mode, OFlags};

use crate::fsat::{open_dir_at, open_file_at, replaced, FileId, Stat};

/// Directories held open for the files found in them, at most (beyond the ones being walked).
pub const MAX_OPEN_DIRS: usize = 64;

static OPEN_DIRS: AtomicUsize = AtomicUsize::new(0);

/// A directory open for the walk.
#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
    /// Which directory.
    pub id: FileId,
}

impl Dir {
    pub(super) fn new(fd: OwnedFd) -> std::io::Result<Self> {
        let id = Stat::of(&fd)?.id;
        Ok(Self { fd, id })
    }

    /// Its descriptor.
    pub fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// A directory held open for the files found in it, so that they are opened by name relative
/// to it (one name to look up rather than the whole path). At most [`MAX_OPEN_DIRS`] at once:
/// a tree of one file per directory would otherwise hold one descriptor per file waiting.
#[derive(Debug)]
pub struct HeldDir(Arc<Dir>);

impl HeldDir {
    /// Holds `dir`, unless too many are held.
    pub(super) fn hold(dir: &Arc<Dir>) -> Option<Arc<Self>> {
        if OPEN_DIRS.fetch_add(1, Ordering::Relaxed) >= MAX_OPEN_DIRS {
            OPEN_DIRS.fetch_sub(1, Ordering::Relaxed);
            return None;
        }
        Some(Arc::new(Self(dir.clone())))
    }
}

impl Drop for HeldDir {
    fn drop(&mut self) {
        OPEN_DIRS.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A scan root: the directory a command-line path names (followed if it is a link, as the
/// user gave it), and which directory it was when the walk started. Reopened by path later
/// only if it is still that directory.
#[derive(Debug)]
pub struct Root {
    /// The path.
    pub path: PathBuf,
    /// Which directory.
    pub id: FileId,
}

impl Root {
    pub(super) fn open(path: &Path) -> std::io::Result<(Self, OwnedFd)> {
        let fd = open_root(path)?;
        let id = Stat::of(&fd)?.id;
        Ok((Self { path: path.to_path_buf(), id }, fd))
    }

    /// Opens the root again, if it is still the directory that was walked.
    pub fn reopen(&self) -> std::io::Result<OwnedFd> {
        let fd = open_root(&self.path)?;
        if Stat::of(&fd)?.id != self.id {
            return Err(replaced(&format!("the scan root {}", self.path.display())));
        }
        Ok(fd)
    }
}

fn open_root(path: &Path) -> std::io::Result<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    Ok(rustix::fs::open(path, flags, Mode::empty())?)
}

/// One file found.
#[derive(Debug, Clone)]
pub struct Found {
    /// Its path as walked.
    pub path: PathBuf,
    /// Its path relative to its root (its name for a file argument).
    pub rel: PathBuf,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, Unix nanoseconds (resume checks it).
    pub mtime: i128,
    /// Which file it is.
    pub id: FileId,
    /// Which directory holds it.
    pub parent_id: FileId,
    /// The root it was found under.
    pub root: Arc<Root>,
    /// Its directory, when the walk holds it open.
    pub dir: Option<Arc<HeldDir>>,
}

impl Found {
    /// Its name in its directory.
    pub fn name(&self) -> &OsStr {
        self.rel.file_name().unwrap_or(self.rel.as_os_str())
    }

    /// Its directory, opened again from the root: each directory below the root with
    /// `O_NOFOLLOW | O_DIRECTORY`, so a directory swapped for a link is refused, and the
    /// last one only if it is still the directory the file was found in.
    pub fn walk_parent(&self) -> std::io::Result<OwnedFd> {
        let mut fd = self.root.reopen()?;
        let mut walked = self.root.path.clone();
        if let Some(parent) = self.rel.parent() {
            for comp in parent.components() {
                let std::path::Component::Normal(name) = comp else {
                    return Err(std::io::Error::other(format!("unexpected path {}", self.rel.display())));
                };
                walked.push(name);
                fd = open_dir_at(&fd, name).map_err(|e| {
                    if crate::fsat::is_link_or_not_dir(&e) {
                        std::io::Error::other(format!(
                            "{} is no longer a directory (a link or a file now)",
                            walked.display()
                        ))
                    } else {
                        e
                    }
                })?;
            }
        }
        if Stat::of(&fd)?.id != self.parent_id {
            return Err(replaced(&format!("the directory {}", walked.display())));
        }
        Ok(fd)
    }

    /// Opens the file for reading, if it is still the file the walk found (same device and
    /// inode, a regular file); never through a link, never blocking on a FIFO.
    pub fn open(&self) -> std::io::Result<std::fs::File> {
        let file = match &self.dir {
            Some(held) => open_file_at(held.0.fd(), self.name()),
            None => open_file_at(self.walk_parent()?, self.name()),
        }
        .map_err(|e| self.open_error(e))?;
        let stat = Stat::of(&file)?;
        if stat.kind != FileType::RegularFile || stat.id != self.id {
            return Err(replaced(&self.path.display().to_string()));
        }
        // Reads of a regular file ignore O_NONBLOCK, but some FUSE file systems do not.
        rustix::fs::fcntl_setfl(&file, OFlags::empty())?;
        Ok(file)
    }

    fn open_error(&self, e: std::io::Error) -> std::io::Error {
        if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) {
            return std::io::Error::other(format!("{} is a symbolic link now", self.path.display()));
        }
        e
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::Duration;

    use super::*;
    use crate::scan::walk::{walk, Filter, Item, DEFAULT_MAX_SIZE};

    fn found(path: &Path) -> Found {
        let mut out = None;
        walk(
            &[path.parent().unwrap().to_path_buf()],
            &Filter::new(&[], &[], DEFAULT_MAX_SIZE).unwrap(),
            |item| {
                if let Item::File(f) = item {
                    if f.path == path {
                        out = Some(f);
                    }
                }
                true
            },
        );
        out.unwrap()
    }

    /// Opens `found` on another thread: an open that blocks fails the test instead of hanging it.
    fn open_within(found: &Found) -> std::io::Result<std::fs::File> {
        let (tx, rx) = std::sync::mpsc::channel();
        let found = found.clone();
        std::thread::spawn(move || {
            let _ = tx.send(found.open());
        });
        rx.recv_timeout(Duration::from_secs(5)).expect("opening the file blocked")
    }

    /// A file replaced after the walk by a FIFO, a link or another file is not read: the open
    /// neither waits for a writer nor follows the link, and says the file was replaced.
    #[test]
    fn a_file_replaced_after_the_walk_is_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("tree")).unwrap();
        std::fs::write(d.join("secret"), b"not in the tree").unwrap();
        let path = d.join("tree/f.txt");
        for replacement in ["fifo", "link", "file"] {
            std::fs::write(&path, b"scanned").unwrap();
            let held = found(&path);
            assert!(held.dir.is_some());
            let mut unheld = held.clone();
            unheld.dir = None;
            assert_eq!(std::io::read_to_string(open_within(&held).unwrap()).unwrap(), "scanned");
            assert_eq!(std::io::read_to_string(open_within(&unheld).unwrap()).unwrap(), "scanned");
            // Made beside it and renamed over it: while the scanned file still exists, the
            // new one cannot take its inode number.
            let new = d.join("tree/new");
            match replacement {
                "fifo" => {
                    rustix::fs::mknodat(rustix::fs::CWD, &new, FileType::Fifo, Mode::from_raw_mode(0o600), 0)
                        .unwrap()
                }
                "link" => std::os::unix::fs::symlink(d.join("secret"), &new).unwrap(),
                _ => std::fs::write(&new, b"another").unwrap(),
            }
            std::fs::rename(&new, &path).unwrap();
            for f in [&held, &unheld] {
                let e = open_within(f).unwrap_err().to_string();
                assert!(e.contains("replaced") || e.contains("symbolic link"), "{replacement}: {e}");
            }
            std::fs::remove_file(&path).unwrap();
        }
    }

    /// A directory swapped for a link after the walk: the file is opened again from the root,
    /// one directory at a time without following links, and the swap is refused.
    #[test]
    fn a_directory_swapped_for_a_link_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("tree/sub")).unwrap();
        std::fs::create_dir_all(d.join("elsewhere")).unwrap();
        std::fs::write(d.join("tree/sub/f.txt"), b"scanned").unwrap();
        std::fs::write(d.join("elsewhere/f.txt"), b"outside").unwrap();
        let mut f = None;
        walk(&[d.join("tree")], &Filter::new(&[], &[], DEFAULT_MAX_SIZE).unwrap(), |item| {
            if let Item::File(found) = item {
                f = Some(found);
            }
            true
        });
        let mut f = f.unwrap();
        f.dir = None;
        assert_eq!(f.rel, Path::new("sub/f.txt"));
        std::fs::rename(d.join("tree/sub"), d.join("tree/sub.old")).unwrap();
        std::os::unix::fs::symlink(d.join("elsewhere"), d.join("tree/sub")).unwrap();
        let e = open_within(&f).unwrap_err().to_string();
        assert!(e.contains("no longer a directory"), "{e}");
        // A real directory in its place is another directory.
        std::fs::remove_file(d.join("tree/sub")).unwrap();
        std::fs::create_dir(d.join("tree/sub")).unwrap();
        std::fs::write(d.join("tree/sub/f.txt"), b"scanned").unwrap();
        let e = open_within(&f).unwrap_err().to_string();
        assert!(e.contains("replaced"), "{e}");
    }
}
