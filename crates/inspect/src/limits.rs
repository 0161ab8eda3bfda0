//! Resource limits and the per-object budget that enforces them.
//!
//! Every limit has a named default here; reaching any of them ends the scan with
//! [`CouldNotScan::Limit`] naming the limit, never with a panic or an unbounded buffer.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// Limits for one scanned object (one HTTP body). Defaults are documented per field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Deepest nesting of containers (zip in zip in gzip ...). Default 10.
    pub max_depth: u32,
    /// Archive members, MIME parts and compressed streams opened, in total. Default 10,000.
    pub max_members: u64,
    /// Bytes produced by decompression and archive extraction, in total. A plain body that
    /// needs no decoding is not counted and may have any size. Default 1 GiB.
    pub max_decompressed_bytes: u64,
    /// Largest output/input ratio of one compressed member. Default 100 (100:1).
    pub max_ratio: u64,
    /// The ratio is only judged once a member has produced this much, so that tiny, very
    /// compressible members (an empty XML part) pass. Default 1 MiB.
    pub ratio_grace_bytes: u64,
    /// CPU time spent on one object, summed over all calls. CPU rather than wall time, so a
    /// busy machine does not change verdicts. Default 30 s. In configuration files: seconds
    /// (`max_cpu_time = 30` or `2.5`).
    #[serde(with = "seconds")]
    pub max_cpu_time: Duration,
    /// Largest object kept in memory for formats that need random access (zip, PDF,
    /// multipart, MIME, RTF). Default 256 MiB.
    pub max_buffered_bytes: u64,
    /// Evidence items kept in a verdict; counts stay exact beyond it. Default 50.
    pub max_evidence: usize,
    /// Fonts loaded from one PDF (with their encodings and ToUnicode maps). Default 10,000.
    pub max_pdf_fonts: u64,
    /// Entries of all the CMaps of one PDF together (code spaces, `bfchar` lines, `bfrange`
    /// lines and array items; a range is one entry whatever it spans). Default 1,000,000.
    pub max_cmap_entries: u64,
    /// Largest window (dictionary) a compressed stream may declare: xz and 7z (LZMA)
    /// dictionaries, zstd windows. A decoder holds this much in memory. Default 64 MiB (`xz
    /// -9` and `7z -mx9` use 64 MiB; `zstd --ultra -22` and `--long` use 128 MiB and are
    /// refused).
    pub max_window_bytes: u64,
}

/// Named default of [`Limits::max_depth`].
pub const DEFAULT_MAX_DEPTH: u32 = 10;
/// Named default of [`Limits::max_members`].
pub const DEFAULT_MAX_MEMBERS: u64 = 10_000;
/// Named default of [`Limits::max_decompressed_bytes`].
pub const DEFAULT_MAX_DECOMPRESSED_BYTES: u64 = 1 << 30;
/// Named default of [`Limits::max_ratio`].
pub const DEFAULT_MAX_RATIO: u64 = 100;
/// Named default of [`Limits::ratio_grace_bytes`].
pub const DEFAULT_RATIO_GRACE_BYTES: u64 = 1 << 20;
/// Named default of [`Limits::max_cpu_time`].
pub const DEFAULT_MAX_CPU_TIME: Duration = Duration::from_secs(30);
/// Named default of [`Limits::max_buffered_bytes`].
pub const DEFAULT_MAX_BUFFERED_BYTES: u64 = 256 << 20;
/// Named default of [`Limits::max_evidence`].
pub const DEFAULT_MAX_EVIDENCE: usize = 50;
/// Named default of [`Limits::max_pdf_fonts`].
pub const DEFAULT_MAX_PDF_FONTS: u64 = 10_000;
/// Named default of [`Limits::max_cmap_entries`].
pub const DEFAULT_MAX_CMAP_ENTRIES: u64 = 1_000_000;
/// Named default of [`Limits::max_window_bytes`].
pub const DEFAULT_MAX_WINDOW_BYTES: u64 = 64 << 20;

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_depth: DEFAULT_MAX_DEPTH,
            max_members: DEFAULT_MAX_MEMBERS,
            max_decompressed_bytes: DEFAULT_MAX_DECOMPRESSED_BYTES,
            max_ratio: DEFAULT_MAX_RATIO,
            ratio_grace_bytes: DEFAULT_RATIO_GRACE_BYTES,
            max_cpu_time: DEFAULT_MAX_CPU_TIME,
            max_buffered_bytes: DEFAULT_MAX_BUFFERED_BYTES,
            max_evidence: DEFAULT_MAX_EVIDENCE,
            max_pdf_fonts: DEFAULT_MAX_PDF_FONTS,
            max_cmap_entries: DEFAULT_MAX_CMAP_ENTRIES,
            max_window_bytes: DEFAULT_MAX_WINDOW_BYTES,
        }
    }
}

/// The name of a limit, as reported in a could-not-scan verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum LimitKind {
    /// [`Limits::max_depth`].
    MaxDepth,
    /// [`Limits::max_members`].
    MaxMembers,
    /// [`Limits::max_decompressed_bytes`].
    MaxDecompressedBytes,
    /// [`Limits::max_ratio`].
    MaxRatio,
    /// [`Limits::max_cpu_time`].
    MaxCpuTime,
    /// [`Limits::max_buffered_bytes`].
    MaxBufferedBytes,
    /// [`Limits::max_pdf_fonts`].
    MaxPdfFonts,
    /// [`Limits::max_cmap_entries`].
    MaxCmapEntries,
    /// [`Limits::max_window_bytes`].
    MaxWindowBytes,
    /// The process-wide memory budget ([`MemoryAccount`]) had no room: a server answers
    /// "busy" rather than judging the object.
    MaxMemory,
}

impl LimitKind {
    /// The field name in [`Limits`].
    pub fn name(self) -> &'static str {
        match self {
            Self::MaxDepth => "max_depth",
            Self::MaxMembers => "max_members",
            Self::MaxDecompressedBytes => "max_decompressed_bytes",
            Self::MaxRatio => "max_ratio",
            Self::MaxCpuTime => "max_cpu_time",
            Self::MaxBufferedBytes => "max_buffered_bytes",
            Self::MaxPdfFonts => "max_pdf_fonts",
            Self::MaxCmapEntries => "max_cmap_entries",
            Self::MaxWindowBytes => "max_window_bytes",
            Self::MaxMemory => "max_memory",
        }
    }
}

/// Why (part of) an object could not be scanned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
#[non_exhaustive]
pub enum CouldNotScan {
    /// A limit was reached.
    Limit {
        /// Which limit.
        limit: LimitKind,
        /// Where (member path).
        member: String,
    },
    /// An archive or compression format the engine cannot open (7z, RAR, xz, bzip2, zstd):
    /// its content would otherwise pass unseen.
    Unsupported {
        /// Where (member path).
        member: String,
        /// The format's name.
        format: String,
    },
    /// An encrypted archive or document.
    Encrypted {
        /// Where (member path).
        member: String,
    },
    /// A corrupt or truncated file.
    Corrupt {
        /// Where (member path).
        member: String,
        /// What was wrong, for the incident.
        detail: String,
    },
}

impl CouldNotScan {
    /// A short stable name of the reason: the limit's name, `encrypted` or `corrupt`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Limit { limit, .. } => limit.name(),
            Self::Encrypted { .. } => "encrypted",
            Self::Unsupported { .. } => "unsupported",
            Self::Corrupt { .. } => "corrupt",
        }
    }
}

impl std::fmt::Display for CouldNotScan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Limit { limit, member } => write!(f, "limit {} reached in {member:?}", limit.name()),
            Self::Encrypted { member } => write!(f, "encrypted content in {member:?}"),
            Self::Unsupported { member, format } => write!(f, "unsupported format {format} in {member:?}"),
            Self::Corrupt { member, detail } => write!(f, "corrupt content in {member:?}: {detail}"),
        }
    }
}

/// Memory shared by every scan of a process (a server's budget), charged before the engine
/// lets a buffer grow: the object held for random access (zip, PDF, e-mail, RTF, in a body or
/// inside a container) and the scratch extractors and decoders allocate (decoded parts, RTF
/// text and objects, compound-file streams, 7z dictionaries, decoder windows). A refusal stops the scan with [`LimitKind::MaxMemory`]. What a scan
/// took is given back when its [`Scanner`](crate::Scanner) is dropped. [`Limits`] stay the
/// cap per object.
pub trait MemoryAccount: Send + Sync + std::fmt::Debug {
    /// Takes `n` more bytes; false when the budget cannot cover them.
    fn try_charge(&self, n: u64) -> bool;
    /// Gives `n` bytes back.
    fn release(&self, n: u64);
}

/// Engine time below which a call is timed by the wall clock (a vDSO read) instead of the
/// thread's CPU clock (a system call): small bodies are scanned in microseconds, where two
/// system calls per call would cost more than the scan. Past it, the budget is precise.
const PRECISE_CPU_AFTER: Duration = Duration::from_millis(1);

/// Spending so far for one object, checked against [`Limits`].
#[derive(Debug)]
pub(crate) struct Budget {
    pub limits: Limits,
    pub members: u64,
    pub decompressed: u64,
    /// Bytes held in memory besides the object itself (decoded PDF object streams and
    /// content, fonts and CMaps), judged against [`Limits::max_buffered_bytes`].
    pub held: u64,
    cpu_spent: Duration,
    /// When the current call into the engine began: wall clock always, thread CPU time once
    /// the object has used [`PRECISE_CPU_AFTER`].
    call_start: Option<(Instant, Option<Duration>)>,
    pub stopped: Option<CouldNotScan>,
    /// The process-wide memory this object's buffers are charged to, and what it took.
    memory: Option<std::sync::Arc<dyn MemoryAccount>>,
    charged: u64,
}

impl Drop for Budget {
    fn drop(&mut self) {
        if let Some(memory) = &self.memory {
            memory.release(self.charged);
        }
    }
}

impl Budget {
    pub fn new(limits: Limits, memory: Option<std::sync::Arc<dyn MemoryAccount>>) -> Self {
        Self {
            limits,
            members: 0,
            decompressed: 0,
            held: 0,
            cpu_spent: Duration::ZERO,
            call_start: None,
            stopped: None,
            memory,
            charged: 0,
        }
    }

    /// Charges `n` bytes a buffer is about to take to the process's memory; false (and
    /// stops) when there is no room. Without a [`MemoryAccount`], always true.
    pub fn charge_memory(&mut self, n: u64, member: &str) -> bool {
        let Some(memory) = &self.memory else {
            return !self.is_stopped();
        };
        if !memory.try_charge(n) {
            self.limit(LimitKind::MaxMemory, member);
            return false;
        }
        self.charged += n;
        !self.is_stopped()
    }

    /// Marks the start of a call (feed/finish): CPU time is summed per call, because
    /// successive calls may run on different threads.
    pub fn enter(&mut self) {
        let cpu = if self.cpu_spent >= PRECISE_CPU_AFTER { thread_cpu() } else { None };
        self.call_start = Some((Instant::now(), cpu));
    }

    /// Adds the time of the call that is ending.
    pub fn leave(&mut self) {
        self.cpu_spent = self.cpu_spent();
        self.call_start = None;
    }

    /// CPU time spent so far, including the current call. Wall-clock time stands in for it
    /// while the total is under [`PRECISE_CPU_AFTER`] (it is never less than CPU time).
    pub fn cpu_spent(&self) -> Duration {
        match self.call_start {
            Some((_, Some(cpu_start))) => match thread_cpu() {
                Some(now) => self.cpu_spent + now.saturating_sub(cpu_start),
                None => self.cpu_spent,
            },
            Some((wall_start, None)) => self.cpu_spent + wall_start.elapsed(),
            None => self.cpu_spent,
        }
    }

    pub fn is_stopped(&self) -> bool {
        self.stopped.is_some()
    }

    /// Records the first reason to stop; later ones are ignored.
    pub fn stop(&mut self, why: CouldNotScan) {
        if self.stopped.is_none() {
            self.stopped = Some(why);
        }
    }

    pub fn limit(&mut self, limit: LimitKind, member: &str) {
        self.stop(CouldNotScan::Limit { limit, member: member.to_string() });
    }

    /// Checks the CPU budget; returns false (and stops) when it is spent.
    pub fn check_time(&mut self, member: &str) -> bool {
        if self.is_stopped() {
            return false;
        }
        if self.cpu_spent() > self.limits.max_cpu_time {
            self.limit(LimitKind::MaxCpuTime, member);
            return false;
        }
        true
    }

    /// Counts one more member; false (and stops) past the limit.
    pub fn add_member(&mut self, member: &str) -> bool {
        self.members += 1;
        if self.members > self.limits.max_members {
            self.limit(LimitKind::MaxMembers, member);
            return false;
        }
        !self.is_stopped()
    }

    /// Counts produced bytes; false (and stops) past the total limit.
    pub fn add_decompressed(&mut self, n: u64, member: &str) -> bool {
        self.decompressed = self.decompressed.saturating_add(n);
        if self.decompressed > self.limits.max_decompressed_bytes {
            self.limit(LimitKind::MaxDecompressedBytes, member);
            return false;
        }
        !self.is_stopped()
    }

    /// Counts bytes an extractor keeps in memory besides the object; false (and stops)
    /// past [`Limits::max_buffered_bytes`].
    pub fn hold(&mut self, n: u64, member: &str) -> bool {
        self.held = self.held.saturating_add(n);
        if self.held > self.limits.max_buffered_bytes {
            self.limit(LimitKind::MaxBufferedBytes, member);
            return false;
        }
        // What one object keeps besides its bytes counts against the process as well.
        self.charge_memory(n, member)
    }

    /// Makes room for `extra` more bytes in `buf` (doubling its capacity, as `Vec` would),
    /// holding what it grows by first: charged per growth, not per byte. `held` sums what was
    /// held for this buffer, to [`release`](Self::release) when it is dropped. False (and
    /// stops, leaving `buf` as it was) when the budget has no room.
    pub fn grow(&mut self, buf: &mut Vec<u8>, extra: usize, held: &mut u64, member: &str) -> bool {
        if buf.capacity() - buf.len() >= extra {
            return !self.is_stopped();
        }
        let want = buf.len().saturating_add(extra).max(buf.capacity().saturating_mul(2));
        let more = (want - buf.capacity()) as u64;
        if !self.hold(more, member) {
            return false;
        }
        *held += more;
        buf.reserve_exact(want - buf.len());
        true
    }

    /// Gives back bytes counted by [`hold`](Self::hold) that are no longer kept.
    pub fn release(&mut self, n: u64) {
        self.held = self.held.saturating_sub(n);
        if let Some(memory) = &self.memory {
            let back = n.min(self.charged);
            memory.release(back);
            self.charged -= back;
        }
    }

    /// Judges one member's ratio of produced to consumed bytes.
    pub fn check_ratio(&mut self, produced: u64, consumed: u64, member: &str) -> bool {
        if produced > self.limits.ratio_grace_bytes && produced / consumed.max(1) > self.limits.max_ratio {
            self.limit(LimitKind::MaxRatio, member);
            return false;
        }
        !self.is_stopped()
    }
}

fn thread_cpu() -> Option<Duration> {
    cpu_time::ThreadTime::try_now().ok().map(|t| t.as_duration())
}

/// `Duration` as (fractional) seconds in configuration files.
mod seconds {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs = f64::deserialize(d)?;
        Duration::try_from_secs_f64(secs).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_from_toml() {
        let l: Limits = toml::from_str("max_depth = 3\nmax_cpu_time = 2.5\n").unwrap();
        assert_eq!(l.max_depth, 3);
        assert_eq!(l.max_cpu_time, Duration::from_millis(2500));
        assert_eq!(l.max_members, DEFAULT_MAX_MEMBERS);
        assert!(toml::from_str::<Limits>("max_cpu_time = -1\n").is_err());
        assert!(toml::from_str::<Limits>("max_depht = 3\n").is_err());
    }
}
