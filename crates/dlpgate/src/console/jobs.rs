//! Scan jobs started from the console: `dlpgate scan --connector NAME --json PATH` run as a
//! child process (the same code, limits and exit codes as on the command line), its JSON lines
//! read as they come for progress, and the results kept with the masked evidence of each
//! blocked file's incident from the store.
//!
//! Jobs live in this process's memory only: a restart forgets them, and a child left running
//! by a killed console finds its output closed and stops; nothing is written to disk (no
//! quarantine, no state file), so a restart leaves nothing half done. Bounded by
//! [`MAX_RUNNING_JOBS`], [`MAX_FILES_PER_JOB`], [`JOBS_KEPT`] and [`JOB_TIME_LIMIT`].

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt};

use crate::scan::record::Record;
use crate::store::IncidentStore;

/// Jobs running at once; another is refused until one ends.
pub const MAX_RUNNING_JOBS: usize = 2;
/// Regular files a job's path may hold (counted before the scan starts); more is refused.
pub const MAX_FILES_PER_JOB: usize = 10_000;
/// Jobs remembered (running and finished); the oldest finished one is forgotten first.
pub const JOBS_KEPT: usize = 20;
/// A job still running after this is stopped.
pub const JOB_TIME_LIMIT: Duration = Duration::from_secs(3600);
/// Bytes of the scan's error output kept for the page.
pub const MAX_STDERR_BYTES: usize = 8 * 1024;
/// Longest JSON line read from the scan (a record is far shorter).
const MAX_LINE_BYTES: usize = 256 * 1024;

/// Where a job is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JobStatus {
    /// Counting the files.
    Counting,
    /// Files going through the connector.
    Running,
    /// Every file has a result (some may be errors: see the counts).
    Finished,
    /// Stopped by a user.
    Cancelled,
    /// Could not run, or stopped for a reason given.
    Failed(String),
}

impl JobStatus {
    /// Still going.
    pub fn is_active(&self) -> bool {
        matches!(self, Self::Counting | Self::Running)
    }
}

/// One file's result.
#[derive(Debug, Clone)]
pub struct FileResult {
    /// The scan's record (path, verdict, rules, reason, incident id).
    pub record: Record,
    /// The masked evidence of its incident, when the store has it.
    pub evidence: Vec<String>,
}

/// What the job page shows.
#[derive(Debug, Clone)]
pub struct JobView {
    /// Its number.
    pub id: u64,
    /// The path scanned.
    pub path: String,
    /// The connector used.
    pub connector: String,
    /// Who started it.
    pub started_by: String,
    /// When (ms since the epoch).
    pub started_ms: i64,
    /// When it ended.
    pub ended_ms: Option<i64>,
    /// Where it is.
    pub status: JobStatus,
    /// Files found by the count.
    pub total_files: usize,
    /// Files with a result.
    pub done_files: usize,
    /// Bytes of the files with a result.
    pub done_bytes: u64,
    /// Results: allowed, blocked, without a verdict.
    pub allowed: usize,
    /// See above.
    pub blocked: usize,
    /// See above.
    pub errors: usize,
    /// Not sent (FIFOs, sockets, devices).
    pub skipped: usize,
    /// Every file's result, in the order they came.
    pub results: Vec<FileResult>,
    /// The end of the scan's error output.
    pub stderr: String,
}

struct Job {
    view: Mutex<JobView>,
    cancel: tokio::sync::Notify,
}

impl Job {
    fn update(&self, change: impl FnOnce(&mut JobView)) {
        change(&mut self.view.lock().unwrap_or_else(|p| p.into_inner()));
    }

    fn view(&self) -> JobView {
        self.view.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// The console's scan jobs.
#[derive(Default)]
pub struct ScanJobs {
    jobs: Mutex<VecDeque<Arc<Job>>>,
    next: AtomicU64,
}

impl std::fmt::Debug for ScanJobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScanJobs").finish_non_exhaustive()
    }
}

/// What a job needs to run.
#[derive(Debug, Clone)]
pub struct JobSpec {
    /// An absolute path the server can read (a file or a directory).
    pub path: PathBuf,
    /// A connector of `connectors.toml`.
    pub connector: String,
    /// Where `connectors.toml` is.
    pub connector_dir: PathBuf,
    /// Who starts it.
    pub user: String,
}

impl ScanJobs {
    /// Checks the path and starts a job in the background; its number, or why not.
    pub fn start(&self, spec: JobSpec, store: Arc<dyn IncidentStore>) -> Result<u64, String> {
        check_path(&spec.path)?;
        let exe = std::env::current_exe().map_err(|e| format!("cannot find the dlpgate binary: {e}"))?;
        let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        if jobs.iter().filter(|j| j.view().status.is_active()).count() >= MAX_RUNNING_JOBS {
            return Err(format!(
                "{MAX_RUNNING_JOBS} scan jobs are running already: wait for one to end, or cancel one"
            ));
        }
        while jobs.len() >= JOBS_KEPT {
            match jobs.iter().position(|j| !j.view().status.is_active()) {
                Some(oldest) => drop(jobs.remove(oldest)),
                None => break,
            }
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let job = Arc::new(Job {
            view: Mutex::new(JobView {
                id,
                path: spec.path.display().to_string(),
                connector: spec.connector.clone(),
                started_by: spec.user.clone(),
                started_ms: crate::console::db::now_ms(),
                ended_ms: None,
                status: JobStatus::Counting,
                total_files: 0,
                done_files: 0,
                done_bytes: 0,
                allowed: 0,
                blocked: 0,
                errors: 0,
                skipped: 0,
                results: Vec::new(),
                stderr: String::new(),
            }),
            cancel: tokio::sync::Notify::new(),
        });
        jobs.push_back(job.clone());
        drop(jobs);
        tokio::spawn(async move {
            let outcome = tokio::time::timeout(JOB_TIME_LIMIT, run(&job, &exe, &spec, store)).await;
            let status = match outcome {
                Ok(status) => status,
                Err(_) => JobStatus::Failed(format!("stopped after {} s", JOB_TIME_LIMIT.as_secs())),
            };
            job.update(|v| {
                v.status = status;
                v.ended_ms = Some(crate::console::db::now_ms());
            });
        });
        Ok(id)
    }

    /// Every job, newest first.
    pub fn list(&self) -> Vec<JobView> {
        self.jobs.lock().unwrap_or_else(|p| p.into_inner()).iter().rev().map(|j| j.view()).collect()
    }

    /// One job.
    pub fn get(&self, id: u64) -> Option<JobView> {
        self.find(id).map(|j| j.view())
    }

    /// Asks a running job to stop; false when there is no such job running.
    pub fn cancel(&self, id: u64) -> bool {
        match self.find(id) {
            Some(job) if job.view().status.is_active() => {
                job.cancel.notify_one();
                true
            }
            _ => false,
        }
    }

    fn find(&self, id: u64) -> Option<Arc<Job>> {
        self.jobs.lock().unwrap_or_else(|p| p.into_inner()).iter().find(|j| j.view().id == id).cloned()
    }
}

/// An absolute path (no pattern) that exists and that this process can read.
pub fn check_path(path: &Path) -> Result<(), String> {
    let shown = path.display();
    if !path.is_absolute() {
        return Err(format!("{shown}: give an absolute path (the server's working directory is not yours)"));
    }
    if path.to_string_lossy().contains(['*', '?', '[']) {
        return Err(format!("{shown}: a path, not a pattern (* ? [ are not allowed)"));
    }
    let meta = std::fs::metadata(path).map_err(|e| format!("{shown}: {e}"))?;
    if meta.is_dir() {
        std::fs::read_dir(path).map(drop).map_err(|e| format!("{shown}: cannot list it: {e}"))
    } else if meta.is_file() {
        std::fs::File::open(path).map(drop).map_err(|e| format!("{shown}: cannot read it: {e}"))
    } else {
        Err(format!("{shown}: neither a file nor a directory"))
    }
}

/// Regular files under `path` (links not followed, as the scan does), stopping past `limit`.
fn count_files(path: &Path, limit: usize) -> usize {
    let mut count = 0;
    let mut dirs = vec![path.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&dir) else { continue };
        if meta.is_file() {
            count += 1;
        } else if meta.is_dir() {
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            for entry in entries.flatten() {
                match entry.file_type() {
                    Ok(t) if t.is_dir() => dirs.push(entry.path()),
                    Ok(t) if t.is_file() => count += 1,
                    _ => {}
                }
                if count > limit {
                    return count;
                }
            }
        }
    }
    count
}

/// Counts, runs the scan, reads its lines; the final status.
async fn run(job: &Job, exe: &Path, spec: &JobSpec, store: Arc<dyn IncidentStore>) -> JobStatus {
    let path = spec.path.clone();
    let total = match tokio::task::spawn_blocking(move || count_files(&path, MAX_FILES_PER_JOB)).await {
        Ok(n) => n,
        Err(e) => return JobStatus::Failed(format!("counting the files: {e}")),
    };
    if total > MAX_FILES_PER_JOB {
        return JobStatus::Failed(format!(
            "the path holds more than {MAX_FILES_PER_JOB} files: scan a narrower path (or use dlpgate scan)"
        ));
    }
    job.update(|v| {
        v.total_files = total;
        v.status = JobStatus::Running;
    });
    let mut command = tokio::process::Command::new(exe);
    // `--` before the path: nothing in it is read as a flag.
    command
        .arg("scan")
        .arg("--config-dir")
        .arg(&spec.connector_dir)
        .args(["--connector", &spec.connector, "--json", "--no-progress", "--"])
        .arg(&spec.path)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => return JobStatus::Failed(format!("cannot start the scan: {e}")),
    };
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return JobStatus::Failed("the scan's output is not readable".to_string());
    };
    let stderr_task = tokio::spawn(async move {
        let mut kept = Vec::new();
        let _ = stderr.take(MAX_STDERR_BYTES as u64).read_to_end(&mut kept).await;
        String::from_utf8_lossy(&kept).into_owned()
    });
    let mut lines = tokio::io::BufReader::new(stdout);
    let mut line = Vec::new();
    loop {
        line.clear();
        let mut limited = (&mut lines).take(MAX_LINE_BYTES as u64);
        let read = tokio::select! {
            read = limited.read_until(b'\n', &mut line) => read,
            () = job.cancel.notified() => {
                let _ = child.kill().await;
                return JobStatus::Cancelled;
            }
        };
        match read {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let Ok(record) = serde_json::from_slice::<Record>(&line) else { continue };
        let evidence = match &record.incident_id {
            Some(id) if record.action == "block" => evidence_of(&store, id).await,
            _ => Vec::new(),
        };
        job.update(|v| {
            v.done_files += 1;
            v.done_bytes += record.size;
            match record.verdict.as_str() {
                "allow" => v.allowed += 1,
                "block" => v.blocked += 1,
                "skipped" => v.skipped += 1,
                _ => v.errors += 1,
            }
            v.results.push(FileResult { record, evidence });
        });
    }
    let status = child.wait().await;
    let stderr = stderr_task.await.unwrap_or_default();
    job.update(|v| v.stderr = stderr.clone());
    match status {
        // 0: all allowed, 1: something blocked, 2: a file without a verdict (counted).
        Ok(s) if matches!(s.code(), Some(0 | 1)) => JobStatus::Finished,
        Ok(s) if s.code() == Some(2) && job.view().done_files > 0 => JobStatus::Finished,
        Ok(s) => JobStatus::Failed(match stderr.trim() {
            "" => format!("the scan ended with {s}"),
            text => text.lines().last().unwrap_or(text).to_string(),
        }),
        Err(e) => JobStatus::Failed(format!("waiting for the scan: {e}")),
    }
}

/// The masked evidence of an incident the store holds (none when it holds no such incident:
/// the connector's server may record elsewhere).
async fn evidence_of(store: &Arc<dyn IncidentStore>, id: &str) -> Vec<String> {
    let (store, id) = (store.clone(), id.to_string());
    match tokio::task::spawn_blocking(move || store.get(&id)).await {
        Ok(Ok(Some(incident))) => {
            incident.evidence.iter().map(|e| format!("{}: {}", e.detector, e.masked)).collect()
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_checked_before_a_job_starts() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.txt"), b"a").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/b.txt"), b"b").unwrap();
        assert!(check_path(dir.path()).is_ok());
        assert!(check_path(&dir.path().join("a.txt")).is_ok());
        assert!(check_path(Path::new("relative/dir")).unwrap_err().contains("absolute"));
        assert!(check_path(&dir.path().join("*.txt")).unwrap_err().contains("pattern"));
        assert!(check_path(&dir.path().join("missing")).unwrap_err().contains("No such file"));
        assert_eq!(count_files(dir.path(), 10), 2);
        assert_eq!(count_files(dir.path(), 1), 2, "stops once past the limit");
    }
}
