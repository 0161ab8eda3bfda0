//! Rows, report, progress bar and counts: what the scan says about each file and in sum.

use super::*;

pub(super) fn error_record(path: &str, size: u64, reason: String, failure: FailurePolicy) -> Record {
    Record {
        path: path.to_string(),
        size,
        sha256: None,
        verdict: ScanVerdict::Error,
        action: failure.action().to_string(),
        rules: Vec::new(),
        reason: Some(reason),
        server: None,
        latency_ms: None,
        incident_id: None,
        quarantined_to: None,
        resumed: false,
        mtime: None,
    }
}

/// The row of a special file: never read, so no verdict and nothing for a caller to act on.
pub(super) fn skipped_record(path: &Path, kind: walk::Special) -> Record {
    Record {
        path: path.display().to_string(),
        size: 0,
        sha256: None,
        verdict: ScanVerdict::Skipped,
        action: "skip".to_string(),
        rules: Vec::new(),
        reason: Some(kind.reason().to_string()),
        server: None,
        latency_ms: None,
        incident_id: None,
        quarantined_to: None,
        resumed: false,
        mtime: None,
    }
}

pub(super) fn outcome_record(found: &walk::Found, outcome: FileOutcome, failure: FailurePolicy) -> Record {
    let path = found.path.display().to_string();
    match outcome {
        FileOutcome::Judged { judged, server } => Record {
            path,
            size: found.size,
            sha256: judged.sha256,
            verdict: judged.verdict.decision,
            action: judged.verdict.decision.as_str().to_string(),
            rules: judged.verdict.rules,
            reason: judged.verdict.reason,
            server: Some(server),
            latency_ms: Some(u64::try_from(judged.latency.as_millis()).unwrap_or(u64::MAX)),
            incident_id: judged.verdict.incident_id,
            quarantined_to: None,
            resumed: false,
            mtime: Some(found.mtime),
        },
        FileOutcome::Failed { reason, server } => {
            let mut r = error_record(&path, found.size, reason, failure);
            r.server = server;
            r
        }
    }
}

/// Output, report, progress and counts.
pub(super) struct Output {
    pub(super) json: bool,
    pub(super) stdout: std::io::BufWriter<std::io::Stdout>,
    pub(super) stdout_is_terminal: bool,
    /// When the output was last flushed.
    pub(super) flushed: Instant,
    /// Rows were written since.
    pub(super) unflushed: bool,
    /// The row being written.
    pub(super) row: Vec<u8>,
    /// When the progress bar's message is made again (time since the bar started).
    pub(super) message_due: Duration,
    pub(super) report: Option<std::io::BufWriter<std::fs::File>>,
    pub(super) progress: Option<indicatif::ProgressBar>,
    /// `--quarantine`.
    pub(super) quarantine_dir: Option<quarantine::Quarantine>,
    pub(super) failure: FailurePolicy,
    pub(super) files: u64,
    pub(super) bytes: u64,
    pub(super) allowed: u64,
    pub(super) blocked: u64,
    pub(super) errors: u64,
    pub(super) resumed: u64,
    pub(super) too_large: u64,
    pub(super) quarantined: u64,
    pub(super) quarantine_failed: u64,
    /// FIFOs, sockets and devices (rows with the verdict `skipped`).
    pub(super) skipped: u64,
}

impl Output {
    pub(super) fn new(args: &ScanArgs, failure: FailurePolicy) -> anyhow::Result<Self> {
        let report = match &args.report {
            Some(p) => Some(std::io::BufWriter::new(
                record::open_nofollow(p, std::fs::OpenOptions::new().write(true).create(true).truncate(true))
                    .with_context(|| format!("creating {}", p.display()))?,
            )),
            None => None,
        };
        let quarantine_dir = args.quarantine.as_deref().map(quarantine::Quarantine::open).transpose()?;
        let progress = (!args.no_progress && std::io::stderr().is_terminal()).then(|| {
            let bar = indicatif::ProgressBar::new(0);
            let style = indicatif::ProgressStyle::with_template(
                "{elapsed_precise} [{bar:30}] {pos}/{len} files  {msg}  ETA {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> ");
            bar.set_style(style);
            bar
        });
        let mut out = Self {
            json: args.json,
            stdout: std::io::BufWriter::new(std::io::stdout()),
            stdout_is_terminal: std::io::stdout().is_terminal(),
            flushed: Instant::now(),
            unflushed: false,
            row: Vec::new(),
            message_due: Duration::ZERO,
            report,
            progress,
            quarantine_dir,
            failure,
            files: 0,
            bytes: 0,
            allowed: 0,
            blocked: 0,
            errors: 0,
            resumed: 0,
            too_large: 0,
            quarantined: 0,
            quarantine_failed: 0,
            skipped: 0,
        };
        if !out.json {
            out.line(record::TABLE_HEADER)?;
        }
        Ok(out)
    }

    pub(super) fn found(&mut self, files: u64) {
        if let Some(bar) = &self.progress {
            bar.inc_length(files);
        }
    }

    pub(super) fn too_large(&mut self, found: &walk::Found) {
        self.too_large += 1;
        let text =
            format!("dlpgate scan: skipped {} ({}): over --max-size", found.path.display(), found.size);
        match &self.progress {
            Some(bar) => bar.println(text),
            None => eprintln!("{text}"),
        }
    }

    pub(super) fn line(&mut self, text: &str) -> anyhow::Result<()> {
        let mut row = Vec::with_capacity(text.len() + 1);
        row.extend_from_slice(text.as_bytes());
        row.push(b'\n');
        self.emit(&row)
    }

    /// Writes one row (newline included) to the output and the report.
    pub(super) fn emit(&mut self, row: &[u8]) -> anyhow::Result<()> {
        match &self.progress {
            // The bar and the rows share the terminal: the bar steps aside for each row.
            Some(bar) if self.stdout_is_terminal => bar.suspend(|| {
                let _ = std::io::stdout().write_all(row);
            }),
            // A closed stdout (`| head`) ends the output, not the scan.
            _ => {
                let _ = self.stdout.write_all(row);
                self.unflushed = true;
            }
        }
        if let Some(report) = self.report.as_mut() {
            report.write_all(row).context("writing the report")?;
        }
        Ok(())
    }

    /// Sends what is buffered.
    pub(super) fn flush(&mut self) {
        let _ = self.stdout.flush();
        self.flushed = Instant::now();
        self.unflushed = false;
    }

    pub(super) fn since_flush(&self) -> Duration {
        self.flushed.elapsed()
    }

    /// Moves a blocked file aside; only the file that was judged (one changed or replaced
    /// since is left alone, with the reason in its row).
    pub(super) fn quarantine(&mut self, r: &mut Record, found: &walk::Found) {
        let Some(dir) = &self.quarantine_dir else { return };
        match dir.quarantine(found, r) {
            Ok(moved) => {
                self.quarantined += 1;
                r.quarantined_to = Some(moved.dest.display().to_string());
                if let Err(e) = moved.note {
                    eprintln!("dlpgate scan: quarantined {} but left no note: {e}", found.path.display());
                }
            }
            Err(e) => {
                self.quarantine_failed += 1;
                let why = format!("{e:#}");
                eprintln!("dlpgate scan: cannot quarantine {}: {why}", found.path.display());
                r.reason = Some(match r.reason.take() {
                    Some(reason) => format!("{reason}; {why}"),
                    None => why,
                });
            }
        }
    }

    /// A file judged (or that could not be): quarantine, state, row.
    pub(super) fn done(
        &mut self,
        mut r: Record,
        found: &walk::Found,
        state: &mut Option<record::State>,
    ) -> anyhow::Result<()> {
        if r.verdict == ScanVerdict::Block {
            self.quarantine(&mut r, found);
        }
        if let Some(state) = state.as_mut() {
            if r.verdict != ScanVerdict::Error {
                state.append(&r)?;
            }
        }
        self.write(&r, false)
    }

    pub(super) fn write(&mut self, r: &Record, resumed: bool) -> anyhow::Result<()> {
        if r.verdict != ScanVerdict::Skipped {
            self.files += 1;
            self.bytes += r.size;
        }
        if resumed {
            self.resumed += 1;
        }
        match r.verdict {
            ScanVerdict::Allow => self.allowed += 1,
            ScanVerdict::Block => self.blocked += 1,
            ScanVerdict::Error => self.errors += 1,
            ScanVerdict::Skipped => self.skipped += 1,
        }
        if let Some(bar) = self.progress.as_ref().filter(|_| r.verdict != ScanVerdict::Skipped) {
            bar.inc(1);
            // The bar redraws a few times a second: its message is made as often, not per file.
            let elapsed = bar.elapsed();
            if elapsed >= self.message_due {
                self.message_due = elapsed + PROGRESS_MESSAGE_EVERY;
                let secs = elapsed.as_secs_f64().max(0.001);
                bar.set_message(format!(
                    "{}  {}/s",
                    record::human_bytes(self.bytes),
                    record::human_bytes((self.bytes as f64 / secs) as u64)
                ));
            }
        }
        // One buffer for every row: serialized in place, no string per file.
        let mut row = std::mem::take(&mut self.row);
        row.clear();
        if self.json {
            serde_json::to_writer(&mut row, r)?;
        } else {
            row.extend_from_slice(record::table_row(r).as_bytes());
        }
        row.push(b'\n');
        let written = self.emit(&row);
        self.row = row;
        written
    }

    pub(super) fn finish(
        &mut self,
        pool: &Pool,
        elapsed: Duration,
        interrupted: bool,
        parallel: usize,
        method: Kind,
    ) -> anyhow::Result<u8> {
        self.flush();
        if let Some(bar) = self.progress.take() {
            bar.finish_and_clear();
        }
        let secs = elapsed.as_secs_f64().max(0.001);
        let mut lines = vec![format!(
            "scanned {} files, {} in {:.2} s ({:.1} files/s, {:.1} MB/s): {} allowed, {} blocked, {} error",
            self.files,
            record::human_bytes(self.bytes),
            secs,
            self.files as f64 / secs,
            self.bytes as f64 / secs / 1e6,
            self.allowed,
            self.blocked,
            self.errors,
        )];
        if self.errors > 0 {
            lines.push(format!(
                "{} file(s) have no verdict: {} applies, their action is {}",
                self.errors,
                match self.failure {
                    FailurePolicy::FailClosed => "fail-closed",
                    FailurePolicy::FailOpen => "fail-open",
                },
                self.failure.action()
            ));
        }
        let servers: Vec<String> = pool
            .servers()
            .iter()
            .map(|s| {
                let pipelined =
                    if s.pipeline > 1 { format!(" (up to {} pipelined)", s.pipeline) } else { String::new() };
                format!("{} {} files{pipelined}", s.uri, s.judged.load(Ordering::Relaxed))
            })
            .collect();
        lines.push(format!(
            "{} by {} ({} in flight at most); failovers: {}",
            method.method().as_str(),
            servers.join(", "),
            parallel,
            pool.failovers.load(Ordering::Relaxed)
        ));
        if self.resumed > 0 {
            lines.push(format!("{} files taken from the state file of an earlier run", self.resumed));
        }
        if self.too_large > 0 {
            lines.push(format!("{} files skipped: over --max-size", self.too_large));
        }
        if self.skipped > 0 {
            lines.push(format!(
                "{} skipped: not regular files (FIFOs, sockets, devices), never read",
                self.skipped
            ));
        }
        if self.quarantined > 0 || self.quarantine_failed > 0 {
            lines.push(format!(
                "{} files quarantined, {} could not be",
                self.quarantined, self.quarantine_failed
            ));
        }
        if interrupted {
            lines.push(
                "interrupted: files not reached have no verdict; run again with the same --state to continue"
                    .to_string(),
            );
        }
        for line in &lines {
            eprintln!("{line}");
        }
        let code = if self.errors > 0 || interrupted {
            2
        } else if self.blocked > 0 {
            1
        } else {
            0
        };
        if let Some(mut report) = self.report.take() {
            if self.json {
                let summary = serde_json::json!({ "summary": {
                    "files": self.files, "bytes": self.bytes, "allowed": self.allowed,
                    "blocked": self.blocked, "error": self.errors, "resumed": self.resumed,
                    "too_large": self.too_large, "skipped": self.skipped,
                    "quarantined": self.quarantined, "quarantine_failed": self.quarantine_failed,
                    "failovers": pool.failovers.load(Ordering::Relaxed), "interrupted": interrupted,
                    "exit_code": code, "lines": lines,
                }});
                writeln!(report, "{summary}")?;
            } else {
                for line in &lines {
                    writeln!(report, "# {line}")?;
                }
            }
            report.flush().context("writing the report")?;
        }
        Ok(code)
    }
}
