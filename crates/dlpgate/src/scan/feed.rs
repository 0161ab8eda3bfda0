//! The walker thread and the batches of found files it hands to the scan loop.

use super::*;

/// What the walker hands over, in batches of [`WALK_BATCH`].
pub(super) enum Walked {
    /// A file to judge.
    Job(walk::Found),
    /// A file judged by an earlier run (`--state`).
    Resumed(Box<Record>),
    /// A path that could not be read.
    Unreadable(Box<Record>),
    /// A file over `--max-size`.
    TooLarge(walk::Found),
    /// A FIFO, socket or device: never read.
    Skipped(Box<Record>),
}

/// Items found, sent a batch at a time: a channel send per file would wake the scan's task
/// once per file.
pub(super) struct Batcher {
    pub(super) tx: mpsc::Sender<Vec<Walked>>,
    pub(super) items: Vec<Walked>,
    /// When the oldest item of the batch was found.
    pub(super) oldest: Instant,
}

impl Batcher {
    /// Adds an item; false when the scan no longer listens.
    pub(super) fn push(&mut self, item: Walked) -> bool {
        if self.items.is_empty() {
            self.oldest = Instant::now();
        }
        self.items.push(item);
        // A slow file system (a network share) does not hold files back for long.
        if self.items.len() >= WALK_BATCH || self.oldest.elapsed() >= WALK_BATCH_WAIT {
            return self.send();
        }
        true
    }

    /// Sends what is waiting.
    pub(super) fn send(&mut self) -> bool {
        if self.items.is_empty() {
            return true;
        }
        let items = std::mem::replace(&mut self.items, Vec::with_capacity(WALK_BATCH));
        self.tx.blocking_send(items).is_ok()
    }
}

/// Walks the paths (on its own thread: the walk blocks on the file system) and hands the
/// files to the scan in batches; files unchanged since an earlier run take its record.
pub(super) fn walker(
    paths: &[PathBuf],
    filter: &walk::Filter,
    mut resumable: std::collections::HashMap<String, Record>,
    failure: FailurePolicy,
    stop: &AtomicBool,
    tx: mpsc::Sender<Vec<Walked>>,
) {
    let mut batch = Batcher { tx, items: Vec::with_capacity(WALK_BATCH), oldest: Instant::now() };
    walk::walk(paths, filter, |item| {
        if stop.load(Ordering::SeqCst) {
            return false;
        }
        let item = match item {
            walk::Item::File(found) => {
                let earlier = if resumable.is_empty() {
                    None
                } else {
                    resumable
                        .remove(&found.path.display().to_string())
                        .filter(|r| r.size == found.size && r.mtime == Some(found.mtime))
                };
                match earlier {
                    Some(mut r) => {
                        r.resumed = true;
                        Walked::Resumed(Box::new(r))
                    }
                    None => Walked::Job(found),
                }
            }
            walk::Item::TooLarge(found) => Walked::TooLarge(found),
            walk::Item::Special { path, kind } => Walked::Skipped(Box::new(skipped_record(&path, kind))),
            walk::Item::Unreadable { path, error } => Walked::Unreadable(Box::new(error_record(
                &path.display().to_string(),
                0,
                format!("cannot read: {error}"),
                failure,
            ))),
        };
        batch.push(item)
    });
    // Files quarantined by an earlier run are no longer where they were: report them.
    for (_, mut r) in resumable {
        if r.quarantined_to.is_some() && paths.iter().any(|p| Path::new(&r.path).starts_with(p)) {
            r.resumed = true;
            if !batch.push(Walked::Resumed(Box::new(r))) {
                return;
            }
        }
    }
    batch.send();
}
