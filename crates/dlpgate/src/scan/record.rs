//! One line of output per file (table or JSON Lines), and the `--state` file that lets an
//! interrupted scan resume.

use std::collections::HashMap;
use std::io::{BufRead, Read, Write};
use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::client::verdict::ScanVerdict;

/// Longest line read from a state file.
pub const MAX_STATE_LINE: usize = 64 * 1024;
/// Most records kept from a state file.
pub const MAX_STATE_RECORDS: usize = 10_000_000;

/// What is known about one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The path as walked.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256, hex.
    pub sha256: Option<String>,
    /// allow, block or error.
    pub verdict: ScanVerdict,
    /// What a caller acts on: `allow` or `block` (for `error`, the connector's failure policy).
    pub action: String,
    /// Rules the server named.
    #[serde(default)]
    pub rules: Vec<String>,
    /// Why (a block reason, or why there is no verdict).
    #[serde(default)]
    pub reason: Option<String>,
    /// The server that judged it.
    #[serde(default)]
    pub server: Option<String>,
    /// Milliseconds from the first byte sent to the end of the answer.
    #[serde(default)]
    pub latency_ms: Option<u64>,
    /// The server's incident id.
    #[serde(default)]
    pub incident_id: Option<String>,
    /// Where `--quarantine` moved it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quarantined_to: Option<String>,
    /// Taken from the `--state` file of an earlier run rather than scanned again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub resumed: bool,
    /// Modification time (Unix ns) when scanned; resume compares it.
    #[serde(default, skip_serializing)]
    pub mtime: Option<i128>,
}

/// One line of the state file: the record plus the modification time.
#[derive(Debug, Serialize, Deserialize)]
struct StateLine {
    #[serde(flatten)]
    record: Record,
    mtime_ns: String,
}

/// The `--state` file: an append-only JSON Lines log of files with a final verdict.
#[derive(Debug)]
pub struct State {
    file: std::fs::File,
    /// Earlier records by path.
    pub done: HashMap<String, Record>,
}

impl State {
    /// Opens (or creates) the state file and reads what an earlier run recorded. A line cut
    /// by a crash is ignored.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let mut done = HashMap::new();
        let mut ends_with_newline = true;
        if let Ok(file) = open_nofollow(path, std::fs::OpenOptions::new().read(true)) {
            let mut reader = std::io::BufReader::new(file);
            let mut line = Vec::new();
            loop {
                line.clear();
                let n = Read::by_ref(&mut reader)
                    .take(MAX_STATE_LINE as u64 + 1)
                    .read_until(b'\n', &mut line)
                    .with_context(|| format!("reading {}", path.display()))?;
                if n == 0 {
                    break;
                }
                ends_with_newline = line.ends_with(b"\n");
                if line.len() > MAX_STATE_LINE {
                    // Skip the rest of an over-long line.
                    let mut rest = Vec::new();
                    let _ = reader.read_until(b'\n', &mut rest);
                    ends_with_newline = rest.ends_with(b"\n") || rest.is_empty();
                    continue;
                }
                if let Ok(state) = serde_json::from_slice::<StateLine>(&line) {
                    if done.len() < MAX_STATE_RECORDS {
                        let mut record = state.record;
                        record.mtime = state.mtime_ns.parse().ok();
                        done.insert(record.path.clone(), record);
                    }
                }
            }
        }
        let mut file = open_nofollow(path, std::fs::OpenOptions::new().create(true).append(true))
            .with_context(|| format!("opening {}", path.display()))?;
        if !ends_with_newline {
            file.write_all(b"\n")?;
        }
        Ok(Self { file, done })
    }

    /// The earlier record of `path`, when the file has not changed since.
    pub fn take_unchanged(&mut self, path: &str, size: u64, mtime: i128) -> Option<Record> {
        let unchanged = self.done.get(path).is_some_and(|r| r.size == size && r.mtime == Some(mtime));
        if unchanged {
            self.done.remove(path)
        } else {
            None
        }
    }

    /// Appends a record (a line per file, written at once so a crash loses at most it).
    pub fn append(&mut self, record: &Record) -> anyhow::Result<()> {
        let line = StateLine {
            record: record.clone(),
            mtime_ns: record.mtime.map(|m| m.to_string()).unwrap_or_default(),
        };
        let mut text = serde_json::to_vec(&line)?;
        text.push(b'\n');
        self.file.write_all(&text).context("writing the state file")?;
        Ok(())
    }
}

/// Opens an output file of the scan (`--state`, `--report`) without following a symbolic
/// link: a scan run as root must not write through a link planted in a shared directory
/// such as /tmp. A new file gets mode 0600 (the report and the state name files and rules).
pub fn open_nofollow(path: &Path, options: &mut std::fs::OpenOptions) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let nofollow = rustix::fs::OFlags::NOFOLLOW.bits() as i32;
    options.mode(0o600).custom_flags(nofollow).open(path).map_err(|e| {
        if crate::fsat::is_link(&e) {
            std::io::Error::other(format!("{} is a symbolic link: refusing to follow it", path.display()))
        } else {
            e
        }
    })
}

/// Bytes in a short human form (KiB, MiB, GiB).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// The table header.
pub const TABLE_HEADER: &str = "VERDICT  ACTION  SIZE        LATENCY  PATH  [RULES | REASON]";

/// One table row.
pub fn table_row(r: &Record) -> String {
    let detail = match r.verdict {
        ScanVerdict::Allow => String::new(),
        _ => {
            let mut parts = Vec::new();
            if !r.rules.is_empty() {
                parts.push(r.rules.join(","));
            }
            if let Some(reason) = &r.reason {
                parts.push(reason.clone());
            }
            if let Some(id) = &r.incident_id {
                parts.push(format!("incident {id}"));
            }
            if let Some(q) = &r.quarantined_to {
                parts.push(format!("quarantined to {q}"));
            }
            format!("  [{}]", parts.join(" | "))
        }
    };
    let latency = r.latency_ms.map_or_else(|| "-".to_string(), |ms| format!("{ms} ms"));
    format!(
        "{:<8} {:<7} {:<11} {:<8} {}{}{}",
        r.verdict.as_str(),
        r.action,
        human_bytes(r.size),
        latency,
        r.path,
        if r.resumed { " (resumed)" } else { "" },
        detail
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn record(path: &str) -> Record {
        Record {
            path: path.into(),
            size: 3,
            sha256: Some("ab".into()),
            verdict: ScanVerdict::Block,
            action: "block".into(),
            rules: vec!["r".into()],
            reason: None,
            server: None,
            latency_ms: Some(1),
            incident_id: None,
            quarantined_to: None,
            resumed: false,
            mtime: Some(42),
        }
    }

    #[test]
    fn state_survives_a_cut_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state");
        let mut state = State::open(&path).unwrap();
        state.append(&record("/a")).unwrap();
        drop(state);
        // A crash in the middle of a line.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"path\":\"/b\",\"si")
            .unwrap();
        let mut state = State::open(&path).unwrap();
        assert_eq!(state.done.len(), 1);
        assert!(state.take_unchanged("/a", 3, 43).is_none(), "changed mtime");
        assert!(state.take_unchanged("/a", 3, 42).is_some());
        state.append(&record("/c")).unwrap();
        drop(state);
        let state = State::open(&path).unwrap();
        assert_eq!(state.done.len(), 2, "the line after the cut one is whole");
    }
}
