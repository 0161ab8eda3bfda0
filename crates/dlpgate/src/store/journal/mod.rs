//! The incident journal: where an incident goes when the store is down or slower than its
//! write deadline, so that the incident id an ICAP answer names is always durable.
//!
//! One append-only file in the data directory, `incidents.journal` (0600, created with
//! `O_EXCL`, opened with `O_NOFOLLOW`), each record fsynced before `append` returns. Records
//! are framed with a length and a CRC-32 (see `frame.rs`); a record a crash cut short is detected
//! and dropped when the journal is opened again, never read as an incident.
//!
//! Replay moves the records into the store: the journal is first renamed to
//! `incidents.journal.replaying` and a fresh one takes the appends, so writers never wait for
//! the store; the renamed file is inserted in batches (idempotent by incident id: a record the
//! store already has is skipped) and removed once all of it is in. A replay that fails keeps
//! the file for the next try.
//!
//! Several `dlpgate serve` may share a data directory (a restart that overlaps the old
//! process, say): each owns one journal slot, found by an exclusive lock (`incidents.journal`
//! for the first, `incidents-1.journal` for the next, ...), and the slots of servers that are
//! gone are replayed by whoever takes their lock next.

mod frame;

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use super::{Incident, StoreError};
pub use frame::MAX_RECORD;
use frame::{Item, Scanner, FILE_MAGIC};

/// The journal file of the first slot in the data directory.
pub const JOURNAL_FILE: &str = "incidents.journal";
/// The first slot's journal being replayed into the store.
pub const REPLAYING_FILE: &str = "incidents.journal.replaying";
/// Servers that can share one data directory, each with its own journal slot.
pub const MAX_SLOTS: usize = 16;
/// Default for the journal's size limit: 1 GiB, some hundreds of thousands of incidents.
pub const DEFAULT_MAX_BYTES: u64 = 1 << 30;
/// Incidents inserted into the store per transaction during a replay.
const REPLAY_BATCH: usize = 256;

/// Why the journal failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JournalError {
    /// A file operation failed.
    #[error("incident journal {path}: {detail}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        detail: String,
    },
    /// Every journal slot is held by another process.
    #[error(
        "every incident journal slot in {dir} is in use ({MAX_SLOTS} dlpgate serve share this --data-dir)"
    )]
    InUse {
        /// The data directory.
        dir: String,
    },
    /// The journal reached its size limit.
    #[error("the incident journal is full ({max} bytes, --journal-max-bytes)")]
    Full {
        /// The limit.
        max: u64,
    },
    /// The incident cannot be journalled.
    #[error("cannot journal the incident: {0}")]
    Encode(String),
}

/// Why a replay stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// The store refused or failed; the records stay journalled.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// The journal could not be read or rotated.
    #[error("{0}")]
    Journal(#[from] JournalError),
}

/// What opening the journal found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct OpenReport {
    /// Incidents waiting for the store.
    pub pending: u64,
    /// Bytes of a record a crash cut short, dropped from the end of the journal.
    pub torn_bytes: u64,
}

/// What a replay did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReplayReport {
    /// Incidents handed to the store (including ones it already had).
    pub replayed: u64,
    /// Damaged bytes skipped; the file that held them is kept as `*.replaying.damaged-<ms>`.
    pub damaged_bytes: u64,
}

/// The files of one journal slot.
#[derive(Debug, Clone)]
struct Slot {
    /// Takes the appends.
    journal: PathBuf,
    /// Being replayed into the store.
    replaying: PathBuf,
    /// A fresh journal being made, before it replaces the one being rotated out.
    next: PathBuf,
    /// Held (flock) by the process that owns the slot.
    lock: PathBuf,
}

impl Slot {
    fn new(dir: &Path, n: usize) -> Self {
        let base = if n == 0 { "incidents".to_string() } else { format!("incidents-{n}") };
        let name = |suffix: &str| dir.join(format!("{base}.journal{suffix}"));
        Self { journal: name(""), replaying: name(".replaying"), next: name(".next"), lock: name(".lock") }
    }

    /// Takes the slot's lock without waiting; `None` when another process holds it.
    fn try_lock(&self) -> Result<Option<File>, JournalError> {
        let lock = open_private(&self.lock, true)?;
        match rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => Ok(Some(lock)),
            Err(rustix::io::Errno::WOULDBLOCK) => Ok(None),
            Err(e) => Err(io_error(&self.lock, &e.into())),
        }
    }
}

/// The journal of one `dlpgate serve`.
#[derive(Debug)]
pub struct Journal {
    dir: PathBuf,
    slot: Slot,
    max_bytes: u64,
    /// Held for the journal's life: the flock is released when it closes.
    _lock: File,
    active: Mutex<Active>,
    /// Records in `incidents.journal.replaying`, not yet confirmed in the store.
    replaying: AtomicU64,
    /// One replay at a time.
    replay_turn: Mutex<()>,
}

/// The file taking appends.
#[derive(Debug)]
struct Active {
    file: File,
    len: u64,
    records: u64,
}

impl Journal {
    /// Opens (creating when missing) a journal in `dir`: the first slot no other process
    /// holds, with what a previous owner left in it; a torn last record is dropped.
    pub fn open(dir: &Path, max_bytes: u64) -> Result<(Self, OpenReport), JournalError> {
        let mut owned = None;
        for n in 0..MAX_SLOTS {
            let slot = Slot::new(dir, n);
            if let Some(lock) = slot.try_lock()? {
                owned = Some((slot, lock));
                break;
            }
        }
        let Some((slot, lock)) = owned else {
            return Err(JournalError::InUse { dir: dir.display().to_string() });
        };
        if slot.next.exists() {
            // A rotation stopped by a crash before the fresh file replaced the old one: it
            // never took an append.
            std::fs::remove_file(&slot.next).map_err(|e| io_error(&slot.next, &e))?;
        }
        let (active, torn_bytes) = open_active(dir, &slot)?;
        let replaying = match scan_file(&slot.replaying)? {
            Some(scan) => scan.records,
            None => 0,
        };
        let report = OpenReport { pending: active.records + replaying, torn_bytes };
        let journal = Self {
            dir: dir.to_path_buf(),
            slot,
            max_bytes,
            _lock: lock,
            active: Mutex::new(active),
            replaying: AtomicU64::new(replaying),
            replay_turn: Mutex::new(()),
        };
        Ok((journal, report))
    }

    /// Appends `incident` and syncs it to disk: durable when this returns `Ok`.
    pub fn append(&self, incident: &Incident) -> Result<(), JournalError> {
        let record = frame::encode(incident).map_err(JournalError::Encode)?;
        let mut active = self.active();
        if active.len + record.len() as u64 > self.max_bytes {
            return Err(JournalError::Full { max: self.max_bytes });
        }
        if let Err(e) = active.file.write_all(&record).and_then(|()| active.file.sync_data()) {
            // A partial record would only be skipped as damage; take it back.
            let len = active.len;
            let _ = active.file.set_len(len);
            return Err(io_error(&self.slot.journal, &e));
        }
        active.len += record.len() as u64;
        active.records += 1;
        Ok(())
    }

    /// Incidents journalled and not yet confirmed in the store.
    pub fn pending(&self) -> u64 {
        self.active().records + self.replaying.load(Ordering::Relaxed)
    }

    /// Moves every journalled incident into the store through `insert` (which must be
    /// idempotent by incident id), in batches. Appends go on meanwhile, into a fresh file.
    /// The slots of servers that are gone are replayed too.
    pub fn replay(
        &self,
        insert: &mut dyn FnMut(&[Incident]) -> Result<(), StoreError>,
    ) -> Result<ReplayReport, ReplayError> {
        let _turn = self.replay_turn.lock().unwrap_or_else(|p| p.into_inner());
        let mut report = ReplayReport::default();
        self.replay_rotated(&self.slot.replaying, insert, &mut report)?;
        self.replaying.store(0, Ordering::Relaxed);
        if self.rotate()? {
            self.replay_rotated(&self.slot.replaying, insert, &mut report)?;
            self.replaying.store(0, Ordering::Relaxed);
        }
        self.replay_orphans(insert, &mut report)?;
        Ok(report)
    }

    /// Replays the slots whose owner is gone (their lock is free), then lets them go.
    fn replay_orphans(
        &self,
        insert: &mut dyn FnMut(&[Incident]) -> Result<(), StoreError>,
        report: &mut ReplayReport,
    ) -> Result<(), ReplayError> {
        for n in 0..MAX_SLOTS {
            let slot = Slot::new(&self.dir, n);
            if slot.lock == self.slot.lock || !(slot.journal.exists() || slot.replaying.exists()) {
                continue;
            }
            let Some(_lock) = slot.try_lock()? else { continue };
            self.replay_rotated(&slot.replaying, insert, report)?;
            if slot.journal.exists() {
                std::fs::rename(&slot.journal, &slot.replaying).map_err(|e| io_error(&slot.journal, &e))?;
                self.replay_rotated(&slot.replaying, insert, report)?;
            }
            let _ = std::fs::remove_file(&slot.next);
        }
        Ok(())
    }

    fn active(&self) -> MutexGuard<'_, Active> {
        self.active.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Renames the journal to `incidents.journal.replaying` and puts a fresh one in its place;
    /// false when it holds nothing.
    fn rotate(&self) -> Result<bool, JournalError> {
        let mut active = self.active();
        if active.records == 0 {
            return Ok(false);
        }
        let Slot { journal, replaying, next, .. } = &self.slot;
        let fresh = create_journal(next)?;
        if let Err(e) = std::fs::rename(journal, replaying) {
            let _ = std::fs::remove_file(next);
            return Err(io_error(journal, &e));
        }
        if let Err(e) = std::fs::rename(next, journal) {
            // Put the old journal back: it still takes the appends.
            let _ = std::fs::rename(replaying, journal);
            let _ = std::fs::remove_file(next);
            return Err(io_error(next, &e));
        }
        sync_dir(&self.dir)?;
        self.replaying.store(active.records, Ordering::Relaxed);
        *active = Active { file: fresh, len: FILE_MAGIC.len() as u64, records: 0 };
        Ok(true)
    }

    /// Inserts the journal file at `path` (when there is one) and removes it.
    fn replay_rotated(
        &self,
        path: &Path,
        insert: &mut dyn FnMut(&[Incident]) -> Result<(), StoreError>,
        report: &mut ReplayReport,
    ) -> Result<(), ReplayError> {
        let file = match open_existing(path)? {
            Some(file) => file,
            None => return Ok(()),
        };
        let mut scanner = Scanner::new(std::io::BufReader::new(file)).map_err(|e| io_error(path, &e))?;
        let mut batch = Vec::with_capacity(REPLAY_BATCH);
        let mut damaged = 0;
        while let Some(item) = scanner.next_item().map_err(|e| io_error(path, &e))? {
            match item {
                Item::Record { incident, .. } => batch.push(*incident),
                Item::Damaged { offset, len } => {
                    tracing::error!(file = %path.display(), offset, len, "damaged bytes in the incident journal skipped");
                    damaged += len;
                }
            }
            if batch.len() == REPLAY_BATCH {
                insert(&batch)?;
                report.replayed += batch.len() as u64;
                batch.clear();
            }
        }
        if !batch.is_empty() {
            insert(&batch)?;
            report.replayed += batch.len() as u64;
        }
        if damaged > 0 {
            // Keep what could not be read, for whoever investigates.
            let mut aside = path.as_os_str().to_owned();
            aside.push(format!(".damaged-{}", super::to_millis(std::time::SystemTime::now())));
            std::fs::rename(path, &aside).map_err(|e| io_error(path, &e))?;
            report.damaged_bytes += damaged;
        } else {
            std::fs::remove_file(path).map_err(|e| io_error(path, &e))?;
        }
        sync_dir(&self.dir)?;
        Ok(())
    }
}

/// What a read-only look at a journal found.
#[derive(Debug, Default)]
pub struct Pending {
    /// The journalled incidents, oldest first.
    pub incidents: Vec<Incident>,
    /// Damaged bytes (a record being written right now shows as damage too).
    pub damaged_bytes: u64,
}

/// The incidents journalled in `dir` (every slot) and not yet replayed, read without taking a
/// lock (for `dlpgate incidents`, while servers run).
pub fn read_pending(dir: &Path) -> Result<Pending, JournalError> {
    let mut pending = Pending::default();
    let paths = (0..MAX_SLOTS).map(|n| Slot::new(dir, n)).flat_map(|slot| [slot.replaying, slot.journal]);
    for path in paths {
        let Some(file) = open_existing(&path)? else { continue };
        let mut scanner = Scanner::new(std::io::BufReader::new(file)).map_err(|e| io_error(&path, &e))?;
        while let Some(item) = scanner.next_item().map_err(|e| io_error(&path, &e))? {
            match item {
                Item::Record { incident, .. } => pending.incidents.push(*incident),
                Item::Damaged { len, .. } => pending.damaged_bytes += len,
            }
        }
    }
    Ok(pending)
}

/// What a scan of a whole file found.
#[derive(Debug)]
struct FileScan {
    records: u64,
    /// Offset just past the last intact record (or the header).
    valid_end: u64,
    len: u64,
}

/// Counts the records of `path`; `None` when it does not exist.
fn scan_file(path: &Path) -> Result<Option<FileScan>, JournalError> {
    let Some(file) = open_existing(path)? else { return Ok(None) };
    let len = file.metadata().map_err(|e| io_error(path, &e))?.len();
    let mut scanner = Scanner::new(std::io::BufReader::new(file)).map_err(|e| io_error(path, &e))?;
    let mut scan = FileScan { records: 0, valid_end: FILE_MAGIC.len().min(len as usize) as u64, len };
    while let Some(item) = scanner.next_item().map_err(|e| io_error(path, &e))? {
        if let Item::Record { end, .. } = item {
            scan.records += 1;
            scan.valid_end = end;
        }
    }
    Ok(Some(scan))
}

/// Opens the journal for appending (creating it when missing); bytes after the last intact
/// record (a record a crash cut short) are cut off, so that new records follow intact ones.
fn open_active(dir: &Path, slot: &Slot) -> Result<(Active, u64), JournalError> {
    let path = slot.journal.clone();
    let Some(scan) = scan_file(&path)? else {
        let file = create_journal(&path)?;
        sync_dir(dir)?;
        return Ok((Active { file, len: FILE_MAGIC.len() as u64, records: 0 }, 0));
    };
    let mut file = open_private(&path, false)?;
    let torn = scan.len - scan.valid_end;
    if scan.valid_end < FILE_MAGIC.len() as u64 {
        // A crash while the file was being created: start it again.
        file.set_len(0).map_err(|e| io_error(&path, &e))?;
        file.write_all(FILE_MAGIC).map_err(|e| io_error(&path, &e))?;
        file.sync_all().map_err(|e| io_error(&path, &e))?;
        return Ok((Active { file, len: FILE_MAGIC.len() as u64, records: 0 }, torn));
    }
    if torn > 0 {
        tracing::warn!(file = %path.display(), bytes = torn, "a record cut short by a crash dropped from the incident journal (its answer was never sent)");
        file.set_len(scan.valid_end).map_err(|e| io_error(&path, &e))?;
        file.sync_all().map_err(|e| io_error(&path, &e))?;
    }
    Ok((Active { file, len: scan.valid_end, records: scan.records }, torn))
}

/// Creates a journal file that must not exist yet (0600, `O_EXCL`), with its header synced.
fn create_journal(path: &Path) -> Result<File, JournalError> {
    let mut file = OpenOptions::new()
        .read(true)
        .append(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(nofollow())
        .open(path)
        .map_err(|e| io_error(path, &e))?;
    file.write_all(FILE_MAGIC).and_then(|()| file.sync_all()).map_err(|e| io_error(path, &e))?;
    Ok(file)
}

/// Opens an existing regular file for appending, never through a symbolic link, and makes it
/// 0600; with `create`, creates it (0600) when missing.
fn open_private(path: &Path, create: bool) -> Result<File, JournalError> {
    let file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(create)
        .mode(0o600)
        .custom_flags(nofollow())
        .open(path)
        .map_err(|e| io_error(path, &e))?;
    let meta = file.metadata().map_err(|e| io_error(path, &e))?;
    if !meta.is_file() {
        return Err(JournalError::Io {
            path: path.display().to_string(),
            detail: "not a regular file".to_string(),
        });
    }
    if meta.permissions().mode() & 0o077 != 0 {
        tracing::warn!(file = %path.display(), "the incident journal was readable by others; made 0600");
        file.set_permissions(std::fs::Permissions::from_mode(0o600)).map_err(|e| io_error(path, &e))?;
    }
    Ok(file)
}

/// Opens a journal file for reading (never through a symbolic link); `None` when missing.
fn open_existing(path: &Path) -> Result<Option<File>, JournalError> {
    match OpenOptions::new().read(true).custom_flags(nofollow()).open(path) {
        Ok(file) => Ok(Some(file)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error(path, &e)),
    }
}

fn nofollow() -> i32 {
    i32::try_from(rustix::fs::OFlags::NOFOLLOW.bits()).unwrap_or(0)
}

/// Makes renames, creations and removals in `dir` durable.
fn sync_dir(dir: &Path) -> Result<(), JournalError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| io_error(dir, &e))
}

fn io_error(path: &Path, e: &std::io::Error) -> JournalError {
    JournalError::Io { path: path.display().to_string(), detail: e.to_string() }
}

#[cfg(test)]
mod tests;
