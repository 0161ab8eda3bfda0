//! The body on its way into the engine: streamed into a scanner, or held (in memory up to a
//! threshold, then in an anonymous temporary file) when its format needs random access.

use std::io::{Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::time::Duration;

use icap::server::{ByteBudget, Lease};
use inspect::{Engine, ScanContext, Scanner, Verdict};
use sha2::{Digest, Sha256};

/// Bytes kept aside while the scanner has not yet said whether it needs random access. The
/// engine decides from the first 1 KiB; this leaves room for small first chunks.
const PREFIX_KEEP: usize = 64 * 1024;

/// Body bytes scanned after a run before the run may be released early: a candidate that
/// starts in the run may extend [`inspect::detect::LOOKAHEAD`] bytes, and a hotword that
/// decides it may sit [`inspect::detect::HOTWORD_WINDOW`] bytes past its end.
pub const RELEASE_CONTEXT: usize = inspect::detect::LOOKAHEAD + inspect::detect::HOTWORD_WINDOW;

/// The process-wide budgets a body scan takes its memory and spool space from.
#[derive(Debug, Clone)]
pub struct Room {
    /// Memory: the kept prefix and a held body (the engine charges its own buffers too).
    pub memory: ByteBudget,
    /// Spool files on disk.
    pub disk: ByteBudget,
    /// How long to wait for either before answering "busy".
    pub wait: Duration,
}

impl Room {
    /// Budgets that never run out (tests, one-off scans).
    pub fn unlimited() -> Self {
        Self { memory: ByteBudget::new(u64::MAX), disk: ByteBudget::new(u64::MAX), wait: Duration::ZERO }
    }
}

/// The engine's buffers, charged to the same memory budget (never waiting: a refusal stops
/// the scan, and the request gets `503`).
#[derive(Debug)]
pub struct EngineMemory(pub ByteBudget);

impl inspect::MemoryAccount for EngineMemory {
    fn try_charge(&self, n: u64) -> bool {
        self.0.try_take(n)
    }

    fn release(&self, n: u64) {
        self.0.give(n);
    }
}

/// The budgets stayed spent for the whole wait: the request gets `503`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overloaded;

/// Steps in which memory is taken for the kept prefix.
const MEMORY_STEP: u64 = 16 * 1024;

/// A body being scanned.
#[derive(Debug)]
pub struct BodyScan {
    engine: Engine,
    ctx: ScanContext,
    sink: Sink,
    memory_threshold: usize,
    spool_dir: PathBuf,
    /// Started once the body outgrows [`PREFIX_KEEP`]; a shorter body is still whole in
    /// memory at the end and is hashed only if an incident needs it.
    sha: Option<Sha256>,
    size: u64,
    /// What this body holds of the budgets.
    memory: Lease,
    disk: Lease,
    wait: Duration,
    /// The memory budget refused to let the held body grow: it goes to disk now.
    spill_now: bool,
}

/// The body's SHA-256, worked out only when asked for while the body is short (most bodies
/// are allowed, and nobody reads their hash).
#[derive(Debug)]
pub enum BodyHash {
    /// Hashed as the body streamed.
    Done(String),
    /// The whole (short) body, to hash on demand.
    Pending(Vec<u8>),
}

impl BodyHash {
    /// The SHA-256 in hex.
    pub fn hex(self) -> String {
        match self {
            BodyHash::Done(hex) => hex,
            BodyHash::Pending(body) => hex::encode(Sha256::digest(&body)),
        }
    }
}

#[derive(Debug)]
enum Sink {
    /// Fed to the scanner as it arrives; `prefix` is a copy of the start, while it is short.
    Streaming { scanner: Box<Scanner>, prefix: Vec<u8> },
    /// Held for a random-access scan.
    Held { memory: Vec<u8>, file: Option<std::fs::File> },
}

impl BodyScan {
    /// A body scan for `ctx`; held bodies above `memory_threshold` go to a file in `spool_dir`.
    pub fn new(engine: Engine, ctx: ScanContext, memory_threshold: usize, spool_dir: PathBuf) -> Self {
        Self::with_room(engine, ctx, memory_threshold, spool_dir, &Room::unlimited())
    }

    /// [`BodyScan::new`], with memory and spool space taken from `room`.
    pub fn with_room(
        engine: Engine,
        ctx: ScanContext,
        memory_threshold: usize,
        spool_dir: PathBuf,
        room: &Room,
    ) -> Self {
        let scanner = Box::new(engine.scanner(ctx.clone()));
        Self {
            engine,
            ctx,
            sink: Sink::Streaming { scanner, prefix: Vec::new() },
            memory_threshold,
            spool_dir,
            sha: None,
            size: 0,
            memory: Lease::new(&room.memory),
            disk: Lease::new(&room.disk),
            wait: room.wait,
            spill_now: false,
        }
    }

    /// Takes from the budgets what pushing `n` more bytes will hold, waiting a bounded time.
    /// A held body that memory cannot cover goes to disk instead.
    pub async fn make_room(&mut self, n: usize) -> Result<(), Overloaded> {
        let disk_after = match &self.sink {
            Sink::Streaming { prefix, .. } => {
                // The prefix Vec may double past what it holds.
                let after = (prefix.len() + n).min(PREFIX_KEEP) as u64 * 2;
                let need = after.div_ceil(MEMORY_STEP) * MEMORY_STEP;
                return if self.memory.grow_to(need, self.wait).await { Ok(()) } else { Err(Overloaded) };
            }
            Sink::Held { memory, file: None }
                if !self.spill_now && memory.len() + n <= self.memory_threshold =>
            {
                let cap = held_capacity(memory.len(), memory.capacity(), n, self.memory_threshold) as u64;
                if cap <= self.memory.held() || self.memory.try_grow(cap - self.memory.held()) {
                    return Ok(());
                }
                self.spill_now = true;
                memory.len() + n
            }
            Sink::Held { memory, file: None } => memory.len() + n,
            Sink::Held { file: Some(_), .. } => self.size as usize + n,
        };
        if self.disk.grow_to(disk_after as u64, self.wait).await {
            Ok(())
        } else {
            Err(Overloaded)
        }
    }

    /// True when feeding the scanner may cost far more than the bytes fed (a decoder or a
    /// container: better off the async workers).
    pub fn feeds_heavily(&self) -> bool {
        matches!(&self.sink, Sink::Streaming { scanner, .. } if !scanner.is_plain_text())
    }

    /// What the body is scanned as (its URL, file name, types and user).
    pub fn context(&self) -> &ScanContext {
        &self.ctx
    }

    /// True when finishing is cheap: plain text, already scanned as it came.
    pub fn finishes_cheaply(&self) -> bool {
        matches!(&self.sink, Sink::Streaming { scanner, .. } if scanner.is_plain_text())
    }

    /// Takes the next piece of the body.
    pub fn push(&mut self, chunk: &[u8]) -> std::io::Result<()> {
        let spilling = matches!(&self.sink, Sink::Held { memory, file: None }
            if self.spill_now || memory.len() + chunk.len() > self.memory_threshold);
        if self.sha.is_none() && (spilling || self.size + chunk.len() as u64 > PREFIX_KEEP as u64) {
            // Everything so far is still whole in memory: the prefix or the held bytes.
            let mut sha = Sha256::new();
            match &self.sink {
                Sink::Streaming { prefix, .. } => sha.update(prefix),
                Sink::Held { memory, .. } => sha.update(memory),
            }
            self.sha = Some(sha);
        }
        if let Some(sha) = &mut self.sha {
            sha.update(chunk);
        }
        self.size += chunk.len() as u64;
        match &mut self.sink {
            Sink::Streaming { scanner, prefix } => {
                if prefix.len() < PREFIX_KEEP {
                    prefix.extend_from_slice(&chunk[..chunk.len().min(PREFIX_KEEP - prefix.len())]);
                }
                scanner.feed(chunk);
                let whole_copy = self.size <= PREFIX_KEEP as u64;
                if scanner.is_buffering() && whole_copy {
                    // The format needs random access: hold the body ourselves, bounded.
                    let memory = std::mem::take(prefix);
                    self.sink = Sink::Held { memory, file: None };
                }
                Ok(())
            }
            Sink::Held { memory, file } => {
                if let Some(file) = file {
                    return file.write_all(chunk);
                }
                if !self.spill_now && memory.len() + chunk.len() <= self.memory_threshold {
                    // Grown as make_room charged it.
                    let cap =
                        held_capacity(memory.len(), memory.capacity(), chunk.len(), self.memory_threshold);
                    memory.reserve_exact(cap - memory.len());
                    memory.extend_from_slice(chunk);
                    return Ok(());
                }
                std::fs::create_dir_all(&self.spool_dir)?;
                let mut spill = tempfile::tempfile_in(&self.spool_dir)?;
                spill.write_all(memory)?;
                spill.write_all(chunk)?;
                *memory = Vec::new();
                *file = Some(spill);
                self.memory.clear();
                Ok(())
            }
        }
    }

    /// How many leading body bytes may go to the client ahead of the verdict (at most `max`):
    /// the first `max` bytes and [`RELEASE_CONTEXT`] bytes after them, scanned on their own as
    /// plain text and as the body's own type, must match no detector of the policy at any
    /// confidence. So no released run holds a value a detector would report, even one that
    /// needs a hotword nearby or a custom regex's few characters. 0 until that much of the
    /// body has arrived, and whenever anything matched.
    pub fn releasable_prefix(&self, max: usize) -> usize {
        let kept = match &self.sink {
            Sink::Streaming { prefix, .. } => &prefix[..],
            Sink::Held { memory, file: None } => &memory[..],
            Sink::Held { file: Some(_), .. } => return 0,
        };
        let window = &kept[..kept.len().min(max + RELEASE_CONTEXT)];
        let Some(release) = window.len().checked_sub(RELEASE_CONTEXT).filter(|&n| n > 0) else {
            return 0;
        };
        let clean = |verdict: Verdict| verdict.counts.is_empty();
        if clean(self.engine.scan_text(self.ctx.clone(), window))
            && clean(self.engine.scan_bytes(self.ctx.clone(), window))
        {
            release.min(max)
        } else {
            0
        }
    }

    /// Body bytes taken so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// True while the body streams through the scanner (nothing held for random access).
    pub fn is_streaming(&self) -> bool {
        matches!(self.sink, Sink::Streaming { .. })
    }

    /// True when the body went to a temporary file.
    pub fn spooled(&self) -> bool {
        matches!(self.sink, Sink::Held { file: Some(_), .. })
    }

    /// Ends the body and decides (CPU-bound: call it off the async workers). Returns the
    /// verdict, the body's SHA-256 and its size.
    pub fn finish(self) -> std::io::Result<(Verdict, BodyHash, u64)> {
        // Also the whole body when no hash was started (see `push`).
        let (verdict, kept) = match self.sink {
            Sink::Streaming { scanner, prefix } => (scanner.finish(), prefix),
            Sink::Held { memory, file: None } => (self.engine.scan_bytes(self.ctx, &memory), memory),
            Sink::Held { file: Some(mut file), .. } => {
                file.flush()?;
                file.seek(SeekFrom::Start(0))?;
                let reader = std::io::BufReader::with_capacity(256 * 1024, file);
                (self.engine.scan_reader(self.ctx, reader)?, Vec::new())
            }
        };
        let digest = match self.sha {
            Some(sha) => BodyHash::Done(hex::encode(sha.finalize())),
            None => BodyHash::Pending(kept),
        };
        Ok((verdict, digest, self.size))
    }
}

/// The capacity a held body's Vec (`len` bytes in `capacity`) grows to when `n` bytes are
/// added: doubling, within the threshold.
fn held_capacity(len: usize, capacity: usize, n: usize, threshold: usize) -> usize {
    let after = len + n;
    if capacity >= after {
        return capacity;
    }
    after.max(capacity * 2).min(threshold).max(after)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use inspect::testkit::{noise, zip_of};
    use inspect::{Limits, Policy};

    use super::*;

    fn scan(body: &[u8], piece: usize, memory_threshold: usize) -> (String, u64, bool) {
        let engine = Engine::new(Arc::new(Policy::builtin()), Limits::default());
        let dir = tempfile::tempdir().unwrap();
        let mut scan = BodyScan::new(engine, ScanContext::default(), memory_threshold, dir.path().into());
        for chunk in body.chunks(piece.max(1)) {
            scan.push(chunk).unwrap();
        }
        let spooled = scan.spooled();
        let (_, hash, size) = scan.finish().unwrap();
        (hash.hex(), size, spooled)
    }

    #[test]
    fn the_hash_is_the_bodys_whatever_the_path() {
        let zip = zip_of(&[("a.txt", &noise(200_000, 3)[..])]);
        let cases: Vec<(&str, Vec<u8>, usize, usize)> = vec![
            ("empty", Vec::new(), 1, 1 << 20),
            ("short text, hashed on demand", noise(5_632, 1), 700, 1 << 20),
            ("exactly the kept prefix", noise(PREFIX_KEEP, 2), 4096, 1 << 20),
            ("long text, hashed as it streams", noise(300_000, 2), 8191, 1 << 20),
            ("held zip in memory", zip.clone(), 5000, 1 << 20),
            ("held zip spilled early", zip, 5000, 10_000),
        ];
        for (name, body, piece, threshold) in cases {
            let (hash, size, _) = scan(&body, piece, threshold);
            assert_eq!(hash, hex::encode(Sha256::digest(&body)), "{name}");
            assert_eq!(size, body.len() as u64, "{name}");
        }
        assert!(scan(&zip_of(&[("a.txt", &noise(200_000, 3)[..])]), 5000, 10_000).2, "the spill path ran");
    }
}
