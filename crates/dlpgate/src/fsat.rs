//! File operations relative to directory descriptors that never follow a symbolic link and
//! never replace a file: what `scan --quarantine`, `cert` and the data directory need when
//! they work in directories that other users can write to.
//!
//! Names are looked up one at a time, relative to an open directory, with `O_NOFOLLOW`; new
//! files are created with `O_CREAT | O_EXCL` (which also refuses a dangling link); moves use
//! `renameat2(RENAME_NOREPLACE)`. Files that are opened are checked by device and inode
//! ([`FileId`]) against what was seen before.

use std::ffi::OsStr;
use std::os::fd::{AsFd, OwnedFd};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, RenameFlags};
use rustix::io::Errno;

/// Device and inode: which file a name led to, whatever the name is now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileId {
    /// Device.
    pub dev: u64,
    /// Inode.
    pub ino: u64,
}

/// The facts of a `stat` this module uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// Which file.
    pub id: FileId,
    /// Its type.
    pub kind: FileType,
    /// Permission bits (`0o7777`).
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Size in bytes.
    pub size: u64,
    /// Modification time in Unix nanoseconds.
    pub mtime: i128,
    /// Access time, seconds and nanoseconds (kept by a cross-device quarantine).
    pub atime: (i64, i64),
    /// Modification time, seconds and nanoseconds.
    pub mtime_parts: (i64, i64),
}

impl Stat {
    // The field types of `struct stat` differ between architectures: the casts are no-ops
    // on some and widenings on others.
    #[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
    fn from_raw(st: &rustix::fs::Stat) -> Self {
        let mtime_parts = (st.st_mtime as i64, st.st_mtime_nsec as i64);
        Self {
            id: FileId { dev: st.st_dev as u64, ino: st.st_ino as u64 },
            kind: FileType::from_raw_mode(st.st_mode as _),
            mode: (st.st_mode as u32) & 0o7777,
            uid: st.st_uid as u32,
            gid: st.st_gid as u32,
            size: u64::try_from(st.st_size as i64).unwrap_or(0),
            mtime: i128::from(mtime_parts.0) * 1_000_000_000 + i128::from(mtime_parts.1),
            atime: (st.st_atime as i64, st.st_atime_nsec as i64),
            mtime_parts,
        }
    }

    /// `fstat` of an open descriptor.
    pub fn of(fd: impl AsFd) -> std::io::Result<Self> {
        Ok(Self::from_raw(&rustix::fs::fstat(fd)?))
    }

    /// `fstatat(dir, name, AT_SYMLINK_NOFOLLOW)`: a link is described, not followed.
    pub fn at(dir: impl AsFd, name: &OsStr) -> std::io::Result<Self> {
        Ok(Self::from_raw(&rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)?))
    }
}

/// Opens the directory `name` in `dir`, refusing a symbolic link.
pub fn open_dir_at(dir: impl AsFd, name: &OsStr) -> std::io::Result<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    Ok(rustix::fs::openat(dir, name, flags, Mode::empty())?)
}

/// Opens the file `name` in `dir` for reading: never through a symbolic link, and without
/// blocking (a FIFO planted under the name opens at once rather than waiting for a writer).
/// Callers check what was opened with [`Stat::of`].
pub fn open_file_at(dir: impl AsFd, name: &OsStr) -> std::io::Result<std::fs::File> {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
    let fd = rustix::fs::openat(dir, name, flags, Mode::empty())?;
    Ok(std::fs::File::from(fd))
}

/// An error saying that `what` is no longer what the walk saw.
pub fn replaced(what: &str) -> std::io::Error {
    std::io::Error::other(format!("{what} was replaced since it was scanned"))
}

/// Creates the file `name` in `dir` for writing, with `mode`: fails with
/// `AlreadyExists` if anything (a file, a link, even a dangling one) has that name.
pub fn create_excl_at(dir: impl AsFd, name: &OsStr, mode: u32) -> std::io::Result<std::fs::File> {
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = rustix::fs::openat(dir, name, flags, Mode::from_raw_mode(mode))?;
    // The umask may have taken bits away; the mode asked for is the mode wanted.
    rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode))?;
    Ok(std::fs::File::from(fd))
}

/// Opens the directory `name` in `dir`, creating it with `mode` if it does not exist; a link
/// under that name is refused.
pub fn mkdir_open_at(dir: impl AsFd, name: &OsStr, mode: u32) -> std::io::Result<OwnedFd> {
    match rustix::fs::mkdirat(&dir, name, Mode::from_raw_mode(mode)) {
        Ok(()) | Err(Errno::EXIST) => {}
        Err(e) => return Err(e.into()),
    }
    open_dir_at(dir, name)
}

/// Moves `from` in `from_dir` to `to` in `to_dir`, failing with `AlreadyExists` if `to`
/// exists (`renameat2(RENAME_NOREPLACE)`). Neither name is followed if it is a link.
pub fn rename_noreplace(
    from_dir: impl AsFd,
    from: &OsStr,
    to_dir: impl AsFd,
    to: &OsStr,
) -> std::io::Result<()> {
    Ok(rustix::fs::renameat_with(from_dir, from, to_dir, to, RenameFlags::NOREPLACE)?)
}

/// Swaps `a` in `a_dir` and `b` in `b_dir` atomically (`renameat2(RENAME_EXCHANGE)`).
pub fn exchange(a_dir: impl AsFd, a: &OsStr, b_dir: impl AsFd, b: &OsStr) -> std::io::Result<()> {
    Ok(rustix::fs::renameat_with(a_dir, a, b_dir, b, RenameFlags::EXCHANGE)?)
}

/// Removes the file `name` from `dir` only if it is still the file `id` (a link is removed
/// as a link, never followed). False when it was another file, and left alone.
///
/// Between the check and the removal another file could take the name; only a user who can
/// write to `dir` can do that, and that user could remove the file anyway.
pub fn unlink_if_same(dir: impl AsFd, name: &OsStr, id: FileId) -> std::io::Result<bool> {
    if Stat::at(&dir, name)?.id != id {
        return Ok(false);
    }
    rustix::fs::unlinkat(dir, name, AtFlags::empty())?;
    Ok(true)
}

/// True for the error of a name that exists (`EEXIST`).
pub fn is_exists(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::AlreadyExists
}

/// True for the error of a symbolic link met with `O_NOFOLLOW` (`ELOOP`).
pub fn is_link(e: &std::io::Error) -> bool {
    e.raw_os_error() == Some(Errno::LOOP.raw_os_error())
}

/// True for the error of a symbolic link met with `O_NOFOLLOW` (`ELOOP`), or of a name that
/// is not the directory expected (`ENOTDIR`).
pub fn is_link_or_not_dir(e: &std::io::Error) -> bool {
    let code = e.raw_os_error();
    code == Some(Errno::LOOP.raw_os_error()) || code == Some(Errno::NOTDIR.raw_os_error())
}

/// Mode of a private directory (the data directory).
pub const PRIVATE_DIR_MODE: u32 = 0o700;
/// Mode of a private file (the incident database, keys).
pub const PRIVATE_FILE_MODE: u32 = 0o600;

/// Makes `path` a directory only its owner can enter: created with mode 0700 (its missing
/// parents as `mkdir -p` would make them), or, when it exists with a looser mode, tightened
/// if this process owns it. Returns what to tell the operator (a tightened mode, or a loose
/// mode it could not fix).
pub fn ensure_private_dir(path: &std::path::Path) -> std::io::Result<Vec<String>> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    match std::fs::DirBuilder::new().mode(PRIVATE_DIR_MODE).create(path) {
        Ok(()) => return Ok(Vec::new()),
        Err(e) if is_exists(&e) => {}
        Err(e) => return Err(e),
    }
    let meta = std::fs::metadata(path)?;
    if !meta.is_dir() {
        return Err(std::io::Error::other(format!("{} is not a directory", path.display())));
    }
    Ok(tighten(path, meta.mode() & 0o7777, meta.uid(), PRIVATE_DIR_MODE)?.into_iter().collect())
}

/// Makes `path` a file only its owner can read: created empty with mode 0600 (`O_EXCL`,
/// never through a link) when missing, or tightened like [`ensure_private_dir`] when it
/// exists with a looser mode.
pub fn ensure_private_file(path: &std::path::Path) -> std::io::Result<Option<String>> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let created = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(PRIVATE_FILE_MODE)
        .custom_flags(OFlags::NOFOLLOW.bits() as i32)
        .open(path);
    match created {
        Ok(_) => return Ok(None),
        Err(e) if is_exists(&e) => {}
        Err(e) => return Err(e),
    }
    let meta = std::fs::symlink_metadata(path)?;
    if meta.file_type().is_symlink() {
        // Not followed: whoever made the link chose its target and its mode.
        return Ok(Some(format!(
            "{} is a symbolic link: its target's mode is left as it is",
            path.display()
        )));
    }
    tighten(path, meta.mode() & 0o7777, meta.uid(), PRIVATE_FILE_MODE)
}

/// Removes the group and other bits of `path` (mode `mode`, owner `uid`) if it has any: by
/// `chmod` when this process owns it, else a warning to pass on.
fn tighten(path: &std::path::Path, mode: u32, uid: u32, private: u32) -> std::io::Result<Option<String>> {
    use std::os::unix::fs::PermissionsExt;
    if mode & 0o077 == 0 {
        return Ok(None);
    }
    if uid == rustix::process::geteuid().as_raw() {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(private))?;
        return Ok(Some(format!(
            "{} had mode {mode:04o}, readable by other users; changed to {private:04o}",
            path.display()
        )));
    }
    Ok(Some(format!(
        "{} has mode {mode:04o} and belongs to another user (uid {uid}): other users can read it; run: chmod {private:o} {}",
        path.display(),
        path.display()
    )))
}
