//! `--quarantine`: a blocked file is moved into the quarantine directory (keeping its path
//! relative to its scan root) and a note is left where it was.
//!
//! A scan often runs as root over directories that their users can write to, so every step
//! works on descriptors and refuses links (see [`crate::fsat`]):
//!
//! - The file's directory is opened again from the scan root, one directory at a time with
//!   `O_NOFOLLOW | O_DIRECTORY`, and must be the directory the walk saw: a directory swapped
//!   for a link between the scan and the move is refused, and nothing outside the tree moves.
//! - The file is opened by name in it (`O_NOFOLLOW | O_NONBLOCK`) and must be the file that
//!   was judged: same device and inode, same size and modification time.
//! - It is moved with `renameat2(RENAME_NOREPLACE)` under a free name (never over a file, nor
//!   through a link planted in the quarantine), and checked to be the same inode once there;
//!   another file that took its name in the meantime is put back.
//! - Across file systems it is copied from the descriptor already open into a file created
//!   with `O_CREAT | O_EXCL | O_NOFOLLOW` relative to the quarantine directory, with its mode
//!   (without set-id bits) and times, synced, and only then is the original removed, by name
//!   relative to its directory and only if that name is still the same inode.
//! - The note is created with `O_CREAT | O_EXCL | O_NOFOLLOW` under a free name, so a link
//!   planted as `x.quarantined.txt` is never written through.

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use rustix::fs::{FileType, Mode, Timespec, Timestamps};
use rustix::io::Errno;

use super::record::Record;
use super::walk::Found;
use crate::fsat::{
    create_excl_at, is_exists, mkdir_open_at, open_dir_at, open_file_at, rename_noreplace, replaced,
    unlink_if_same, Stat,
};

/// Suffix of the note left where a quarantined file was.
pub const TOMBSTONE_SUFFIX: &str = ".quarantined.txt";
/// Free names tried for a moved file or a note (`name`, `name.1`, ...) before giving up.
pub const MAX_NAME_TRIES: u32 = 1000;
/// Mode of the directories made in the quarantine.
pub const DIR_MODE: u32 = 0o700;
/// Mode of the note.
pub const NOTE_MODE: u32 = 0o644;

/// The quarantine directory, open for the whole scan.
#[derive(Debug)]
pub struct Quarantine {
    path: PathBuf,
    fd: OwnedFd,
}

/// Where a quarantined file went.
#[derive(Debug)]
pub struct Moved {
    /// Its path in the quarantine.
    pub dest: PathBuf,
    /// The note left in its place, or why there is none.
    pub note: Result<PathBuf, String>,
}

impl Quarantine {
    /// Opens the directory, creating it (mode 0700) if needed. The path is the operator's and
    /// is followed if it is a link.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(DIR_MODE)
            .create(path)
            .with_context(|| format!("creating the quarantine directory {}", path.display()))?;
        let fd = rustix::fs::open(
            path,
            rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
            Mode::empty(),
        )
        .with_context(|| format!("opening the quarantine directory {}", path.display()))?;
        Ok(Self { path: path.to_path_buf(), fd })
    }

    /// Moves `found` into the quarantine if it is still the file that was judged, and leaves
    /// a note in its place.
    pub fn quarantine(&self, found: &Found, record: &Record) -> anyhow::Result<Moved> {
        let parent = found.walk_parent().context("not quarantined")?;
        let name = found.name();
        let file = open_file_at(&parent, name).map_err(|e| {
            if e.raw_os_error() == Some(Errno::LOOP.raw_os_error()) {
                anyhow::anyhow!("not quarantined: {} is a symbolic link now", found.path.display())
            } else {
                anyhow::Error::new(e).context("not quarantined")
            }
        })?;
        let stat = Stat::of(&file)?;
        if stat.kind != FileType::RegularFile || stat.id != found.id {
            return Err(replaced(&found.path.display().to_string())).context("not quarantined");
        }
        if stat.size != found.size || stat.mtime != found.mtime {
            bail!("not quarantined: changed since it was scanned");
        }
        let rel = safe_relative(&found.rel);
        let (dir, dir_path) = self.subdir(rel.parent())?;
        let base = rel.file_name().unwrap_or(OsStr::new("file"));
        let dest_name = move_file(&parent, name, &file, &stat, &dir, base)
            .with_context(|| format!("moving {} into {}", found.path.display(), dir_path.display()))?;
        let dest = dir_path.join(&dest_name);
        let note = write_note(&parent, name, &note_text(&found.path, &dest, record))
            .map(|n| found.path.with_file_name(n))
            .map_err(|e| format!("{e:#}"));
        Ok(Moved { dest, note })
    }

    /// The directory `rel` below the quarantine, made (0700) where missing; links in the
    /// quarantine are not followed.
    fn subdir(&self, rel: Option<&Path>) -> anyhow::Result<(OwnedFd, PathBuf)> {
        let mut fd = open_dir_at(&self.fd, OsStr::new("."))?;
        let mut path = self.path.clone();
        for comp in rel.into_iter().flat_map(Path::components) {
            path.push(comp);
            fd = mkdir_open_at(&fd, comp.as_os_str(), DIR_MODE)
                .with_context(|| format!("making {} in the quarantine", path.display()))?;
        }
        Ok((fd, path))
    }
}

/// `base`, then `base.1`, `base.2`, ...
fn candidates(base: &OsStr) -> impl Iterator<Item = OsString> + '_ {
    (0..MAX_NAME_TRIES).map(move |n| {
        let mut name = base.to_os_string();
        if n > 0 {
            name.push(format!(".{n}"));
        }
        name
    })
}

/// Moves `name` (open as `file`, described by `stat`) from `parent` into `dir` under a free
/// name, which it returns.
fn move_file(
    parent: &OwnedFd,
    name: &OsStr,
    file: &std::fs::File,
    stat: &Stat,
    dir: &OwnedFd,
    base: &OsStr,
) -> anyhow::Result<OsString> {
    for candidate in candidates(base) {
        match rename_noreplace(parent, name, dir, &candidate) {
            Ok(()) => {
                if Stat::at(dir, &candidate).is_ok_and(|s| s.id == stat.id) {
                    let _ = rustix::fs::fsync(dir);
                    return Ok(candidate);
                }
                // Another file took the name between the check and the move: put it back.
                match rename_noreplace(dir, &candidate, parent, name) {
                    Ok(()) => bail!("the file was replaced while being moved; the other file was put back"),
                    Err(e) => bail!(
                        "the file was replaced while being moved, and the other file could not be put back ({e}); it is in the quarantine as {}",
                        candidate.to_string_lossy()
                    ),
                }
            }
            Err(e) if is_exists(&e) => {}
            // Another file system, or one without RENAME_NOREPLACE: copy.
            Err(e)
                if e.raw_os_error() == Some(Errno::XDEV.raw_os_error())
                    || e.raw_os_error() == Some(Errno::INVAL.raw_os_error()) =>
            {
                return copy_then_remove(parent, name, file, stat, dir, base);
            }
            Err(e) => return Err(e.into()),
        }
    }
    bail!("no free name after {MAX_NAME_TRIES} tries")
}

/// The cross-device move: a copy of the open `file` into a new file in `dir`, synced, then
/// the original removed if its name still leads to it. Returns the new name.
pub(crate) fn copy_then_remove(
    parent: impl AsFd,
    name: &OsStr,
    file: &std::fs::File,
    stat: &Stat,
    dir: impl AsFd,
    base: &OsStr,
) -> anyhow::Result<OsString> {
    let mut created = None;
    for candidate in candidates(base) {
        match create_excl_at(&dir, &candidate, 0o600) {
            Ok(f) => {
                created = Some((f, candidate));
                break;
            }
            Err(e) if is_exists(&e) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let Some((mut dest, dest_name)) = created else { bail!("no free name after {MAX_NAME_TRIES} tries") };
    let copied = (|| -> anyhow::Result<()> {
        let mut source = file;
        let n = std::io::copy(&mut source, &mut dest)?;
        let after = Stat::of(file)?;
        if n != stat.size || after.size != stat.size || after.mtime != stat.mtime {
            bail!("the file changed while it was copied");
        }
        // Its owner when the scan may give it (root), then its mode without set-id bits: a
        // copy made by root must not become a set-id program.
        let _ = rustix::fs::fchown(&dest, Some(uid(stat.uid)), Some(gid(stat.gid)));
        rustix::fs::fchmod(&dest, Mode::from_raw_mode(stat.mode & 0o777))?;
        let times = Timestamps {
            last_access: Timespec { tv_sec: stat.atime.0, tv_nsec: stat.atime.1 as _ },
            last_modification: Timespec { tv_sec: stat.mtime_parts.0, tv_nsec: stat.mtime_parts.1 as _ },
        };
        rustix::fs::futimens(&dest, &times)?;
        dest.flush()?;
        dest.sync_all()?;
        rustix::fs::fsync(&dir)?;
        Ok(())
    })();
    if let Err(e) = copied {
        if let Ok(made) = Stat::of(&dest) {
            let _ = unlink_if_same(&dir, &dest_name, made.id);
        }
        return Err(e);
    }
    if !unlink_if_same(&parent, name, stat.id)? {
        bail!(
            "copied into the quarantine as {}, but the original name now holds another file: left in place",
            dest_name.to_string_lossy()
        );
    }
    Ok(dest_name)
}

fn uid(raw: u32) -> rustix::fs::Uid {
    rustix::fs::Uid::from_raw(raw)
}

fn gid(raw: u32) -> rustix::fs::Gid {
    rustix::fs::Gid::from_raw(raw)
}

/// Writes the note beside `name` in `parent` under a free name (`name.quarantined.txt`, then
/// `name.quarantined.1.txt`, ...), never through a link; returns its name.
fn write_note(parent: &OwnedFd, name: &OsStr, text: &str) -> anyhow::Result<OsString> {
    for n in 0..MAX_NAME_TRIES {
        let mut note = name.to_os_string();
        if n == 0 {
            note.push(TOMBSTONE_SUFFIX);
        } else {
            note.push(format!(".quarantined.{n}.txt"));
        }
        match create_excl_at(parent, &note, NOTE_MODE) {
            Ok(mut f) => {
                f.write_all(text.as_bytes()).context("writing the note")?;
                return Ok(note);
            }
            Err(e) if is_exists(&e) => {}
            Err(e) => return Err(anyhow::Error::new(e).context("writing the note")),
        }
    }
    bail!("no free name for the note after {MAX_NAME_TRIES} tries")
}

fn note_text(path: &Path, dest: &Path, record: &Record) -> String {
    format!(
        "This file was quarantined by dlpgate scan: the content inspection server blocked it.\n\
         file: {}\nmoved to: {}\nsha256: {}\nrules: {}\nreason: {}\nincident: {}\nserver: {}\n\
         Contact your security team to have it released.\n",
        path.display(),
        dest.display(),
        record.sha256.as_deref().unwrap_or("-"),
        if record.rules.is_empty() { "-".to_string() } else { record.rules.join(", ") },
        record.reason.as_deref().unwrap_or("-"),
        record.incident_id.as_deref().unwrap_or("-"),
        record.server.as_deref().unwrap_or("-"),
    )
}

/// A relative path without `..` or a root, so a move never leaves the quarantine directory.
fn safe_relative(rel: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for comp in rel.components() {
        if let std::path::Component::Normal(c) = comp {
            out.push(c);
        }
    }
    if out.as_os_str().is_empty() {
        out.push("file");
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    use super::*;
    use crate::client::verdict::ScanVerdict;
    use crate::scan::walk::{self, Filter, Item};

    fn record() -> Record {
        Record {
            path: "f".into(),
            size: 3,
            sha256: Some("ab".into()),
            verdict: ScanVerdict::Block,
            action: "block".into(),
            rules: vec!["credit-card".into()],
            reason: None,
            server: None,
            latency_ms: Some(1),
            incident_id: Some("inc-1".into()),
            quarantined_to: None,
            resumed: false,
            mtime: None,
        }
    }

    /// The files the walk finds under `root`, by relative path.
    fn walked(root: &Path) -> std::collections::HashMap<PathBuf, Found> {
        let mut out = std::collections::HashMap::new();
        walk::walk(&[root.to_path_buf()], &Filter::new(&[], &[], walk::DEFAULT_MAX_SIZE).unwrap(), |item| {
            if let Item::File(f) = item {
                out.insert(f.rel.clone(), f);
            }
            true
        });
        out
    }

    fn files_under(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if std::fs::symlink_metadata(&path).unwrap().is_dir() {
                out.extend(files_under(&path));
            } else {
                out.push(path);
            }
        }
        out
    }

    #[test]
    fn keeps_the_relative_path_and_leaves_a_note() {
        let dir = tempfile::tempdir().unwrap();
        let tree = dir.path().join("src");
        std::fs::create_dir_all(tree.join("x")).unwrap();
        std::fs::write(tree.join("x/f.txt"), b"abc").unwrap();
        let q = Quarantine::open(&dir.path().join("q")).unwrap();
        let found = &walked(&tree)[Path::new("x/f.txt")];
        let moved = q.quarantine(found, &record()).unwrap();
        assert_eq!(moved.dest, dir.path().join("q/x/f.txt"));
        assert_eq!(std::fs::read(&moved.dest).unwrap(), b"abc");
        assert!(!tree.join("x/f.txt").exists());
        assert_eq!(moved.note.unwrap(), tree.join("x/f.txt.quarantined.txt"));
        let note = std::fs::read_to_string(tree.join("x/f.txt.quarantined.txt")).unwrap();
        assert!(note.contains("quarantined") && note.contains("inc-1"), "{note}");
        let mode = std::fs::metadata(dir.path().join("q/x")).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, DIR_MODE);
        assert_eq!(safe_relative(Path::new("x/../../f.txt")), Path::new("x/f.txt"));
    }

    /// A link planted where the note goes (to a file, or dangling to where a new file would
    /// appear) is never written through: the note takes a free name beside it.
    #[test]
    fn a_planted_note_link_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let tree = dir.path().join("tree");
        std::fs::create_dir_all(&tree).unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"victim").unwrap();
        std::fs::write(tree.join("x.txt"), b"card").unwrap();
        std::os::unix::fs::symlink(&victim, tree.join("x.txt.quarantined.txt")).unwrap();
        std::fs::write(tree.join("y.txt"), b"card").unwrap();
        std::os::unix::fs::symlink(dir.path().join("created"), tree.join("y.txt.quarantined.txt")).unwrap();
        let q = Quarantine::open(&dir.path().join("q")).unwrap();
        let found = walked(&tree);
        for name in ["x.txt", "y.txt"] {
            let moved = q.quarantine(&found[Path::new(name)], &record()).unwrap();
            assert_eq!(moved.note.unwrap(), tree.join(format!("{name}.quarantined.1.txt")));
        }
        assert_eq!(std::fs::read(&victim).unwrap(), b"victim");
        assert!(!dir.path().join("created").exists());
        assert!(std::fs::symlink_metadata(tree.join("x.txt.quarantined.txt")).unwrap().is_symlink());
        assert!(std::fs::read_to_string(tree.join("x.txt.quarantined.1.txt"))
            .unwrap()
            .contains("quarantined"));
    }

    /// The file's directory swapped for a link to another directory holding a file of the
    /// same name between the scan and the quarantine: nothing moves, in or out of the tree.
    #[test]
    fn a_directory_swapped_for_a_link_moves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let tree = dir.path().join("tree");
        std::fs::create_dir_all(tree.join("sub")).unwrap();
        std::fs::write(tree.join("sub/f.txt"), b"card").unwrap();
        let elsewhere = dir.path().join("elsewhere");
        std::fs::create_dir_all(&elsewhere).unwrap();
        std::fs::write(elsewhere.join("f.txt"), b"card").unwrap();
        // Same size and modification time: only the descriptor checks tell them apart.
        let mtime = std::fs::metadata(tree.join("sub/f.txt")).unwrap().modified().unwrap();
        std::fs::File::options()
            .write(true)
            .open(elsewhere.join("f.txt"))
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        let found = walked(&tree).remove(Path::new("sub/f.txt")).unwrap();
        // The swap, after the scan and before the quarantine.
        std::fs::rename(tree.join("sub"), tree.join("sub.old")).unwrap();
        std::os::unix::fs::symlink(&elsewhere, tree.join("sub")).unwrap();
        let qdir = dir.path().join("q");
        let q = Quarantine::open(&qdir).unwrap();
        let e = format!("{:#}", q.quarantine(&found, &record()).unwrap_err());
        assert!(e.contains("no longer a directory"), "{e}");
        assert_eq!(std::fs::read(elsewhere.join("f.txt")).unwrap(), b"card");
        assert_eq!(std::fs::read(tree.join("sub.old/f.txt")).unwrap(), b"card");
        assert!(!elsewhere.join("f.txt.quarantined.txt").exists());
        assert!(files_under(&qdir).is_empty());
        // The root itself swapped: refused as well.
        std::fs::remove_file(tree.join("sub")).unwrap();
        std::fs::rename(tree.join("sub.old"), tree.join("sub")).unwrap();
        std::fs::rename(&tree, dir.path().join("tree.old")).unwrap();
        std::os::unix::fs::symlink(dir.path(), &tree).unwrap();
        let e = format!("{:#}", q.quarantine(&found, &record()).unwrap_err());
        assert!(e.contains("replaced"), "{e}");
        assert!(files_under(&qdir).is_empty());
    }

    /// Names taken in the quarantine (by a file, or by a link to a victim) are left alone.
    #[test]
    fn a_taken_name_in_the_quarantine_is_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let tree = dir.path().join("tree");
        std::fs::create_dir_all(&tree).unwrap();
        std::fs::write(tree.join("f.txt"), b"new").unwrap();
        let qdir = dir.path().join("q");
        std::fs::create_dir_all(&qdir).unwrap();
        std::fs::write(qdir.join("f.txt"), b"earlier").unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"victim").unwrap();
        std::os::unix::fs::symlink(&victim, qdir.join("f.txt.1")).unwrap();
        let q = Quarantine::open(&qdir).unwrap();
        let moved = q.quarantine(&walked(&tree)[Path::new("f.txt")], &record()).unwrap();
        assert_eq!(moved.dest, qdir.join("f.txt.2"));
        assert_eq!(std::fs::read(qdir.join("f.txt")).unwrap(), b"earlier");
        assert_eq!(std::fs::read(&victim).unwrap(), b"victim");
        assert_eq!(std::fs::read(qdir.join("f.txt.2")).unwrap(), b"new");
    }

    /// A file changed or replaced since it was judged stays where it is.
    #[test]
    fn only_the_file_that_was_judged_moves() {
        let dir = tempfile::tempdir().unwrap();
        let tree = dir.path().join("tree");
        std::fs::create_dir_all(&tree).unwrap();
        std::fs::write(tree.join("a.txt"), b"card").unwrap();
        std::fs::write(tree.join("b.txt"), b"card").unwrap();
        let found = walked(&tree);
        std::fs::write(tree.join("a.txt"), b"changed!").unwrap();
        std::fs::write(tree.join("b.new"), b"card").unwrap();
        std::fs::rename(tree.join("b.new"), tree.join("b.txt")).unwrap();
        let qdir = dir.path().join("q");
        let q = Quarantine::open(&qdir).unwrap();
        let e = format!("{:#}", q.quarantine(&found[Path::new("a.txt")], &record()).unwrap_err());
        assert!(e.contains("changed since it was scanned"), "{e}");
        let e = format!("{:#}", q.quarantine(&found[Path::new("b.txt")], &record()).unwrap_err());
        assert!(e.contains("replaced"), "{e}");
        assert!(tree.join("a.txt").exists() && tree.join("b.txt").exists());
        assert!(files_under(&qdir).is_empty());
    }

    /// The copy of a cross-device move keeps the content, the mode (without set-id bits) and
    /// the modification time, and removes the original; across a real device boundary
    /// (/dev/shm is a tmpfs) when there is one.
    #[test]
    fn a_cross_device_move_copies_content_mode_and_times() {
        let dir = tempfile::tempdir().unwrap();
        let tree = dir.path().join("tree");
        std::fs::create_dir_all(&tree).unwrap();
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        for name in ["copied.bin", "moved.bin"] {
            std::fs::write(tree.join(name), &data).unwrap();
            std::fs::set_permissions(tree.join(name), std::fs::Permissions::from_mode(0o4640)).unwrap();
        }
        let found = walked(&tree);
        let original_mtime = std::fs::metadata(tree.join("copied.bin")).unwrap().mtime();

        // The copy path itself.
        let f = &found[Path::new("copied.bin")];
        let parent = f.walk_parent().unwrap();
        let file = open_file_at(&parent, f.name()).unwrap();
        let stat = Stat::of(&file).unwrap();
        let qdir = dir.path().join("q");
        let q = Quarantine::open(&qdir).unwrap();
        let name =
            copy_then_remove(&parent, f.name(), &file, &stat, &q.fd, OsStr::new("copied.bin")).unwrap();
        assert_eq!(name, "copied.bin");
        let meta = std::fs::metadata(qdir.join("copied.bin")).unwrap();
        assert_eq!(meta.permissions().mode() & 0o7777, 0o640, "set-id bit dropped");
        assert_eq!(meta.mtime(), original_mtime);
        assert!(std::fs::read(qdir.join("copied.bin")).unwrap() == data);
        assert!(!tree.join("copied.bin").exists());

        // Across devices, through the whole quarantine.
        let shm = Path::new("/dev/shm");
        let same_device =
            |p: &Path| std::fs::metadata(p).unwrap().dev() == std::fs::metadata(&tree).unwrap().dev();
        if shm.is_dir() && !same_device(shm) {
            let other = tempfile::tempdir_in(shm).unwrap();
            let q = Quarantine::open(other.path()).unwrap();
            let moved = q.quarantine(&found[Path::new("moved.bin")], &record()).unwrap();
            assert_eq!(moved.dest, other.path().join("moved.bin"));
            let meta = std::fs::metadata(&moved.dest).unwrap();
            assert_eq!(meta.permissions().mode() & 0o777, 0o640);
            assert!(std::fs::read(&moved.dest).unwrap() == data);
            assert!(!tree.join("moved.bin").exists());
            assert!(tree.join("moved.bin.quarantined.txt").exists());
        }
    }
}
