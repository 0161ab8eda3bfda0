//! `dlpgate policy`: validate a policy file, run the engine locally on files, and store
//! versions in the shared PostgreSQL store for the nodes that follow it ([`push`]).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Subcommand};
use inspect::{Decision, Engine, Limits, Policy, ScanContext};

pub mod push;

/// The `policy` subcommands.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Validate a policy file; errors name their line.
    Check(CheckArgs),
    /// Scan files (or folders) with a policy and print each verdict with masked evidence.
    /// Exit code: 0 all allowed, 1 something blocked, 2 an error.
    Test(TestArgs),
    /// Print the built-in default policy (a starting point for your own).
    Default,
    /// Validate a policy file as `serve` does, then store it as the newest version in the
    /// shared PostgreSQL store: every node started with that --store and no --policy loads it
    /// within seconds.
    Push(push::PushArgs),
    /// List the policy versions stored with `push`, newest first.
    History(push::HistoryArgs),
}

/// `policy check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The policy file.
    pub file: PathBuf,
    /// Where the policy's EDM indexes are (by name).
    #[arg(long, default_value = "./dlpgate-data")]
    pub data_dir: PathBuf,
}

/// `policy test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// Policy file (default: the built-in policy).
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// Judge as a download (RESPMOD) instead of an upload (REQMOD).
    #[arg(long)]
    pub download: bool,
    /// One JSON object per file (JSON Lines).
    #[arg(long)]
    pub json: bool,
    /// Where the policy's EDM indexes are (by name).
    #[arg(long, default_value = "./dlpgate-data")]
    pub data_dir: PathBuf,
    /// Files or folders (walked recursively).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

/// Runs a `policy` subcommand.
pub fn run(cmd: PolicyCommand) -> ExitCode {
    match cmd {
        PolicyCommand::Check(args) => match load(&args.file, &args.data_dir) {
            Ok(policy) => {
                println!(
                    "{}: OK, policy {:?}, {} rules, version {}",
                    args.file.display(),
                    policy.name(),
                    policy.rules().len(),
                    policy.version()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(2)
            }
        },
        PolicyCommand::Default => {
            print!("{}", inspect::DEFAULT_POLICY_TOML);
            ExitCode::SUCCESS
        }
        PolicyCommand::Test(args) => test(&args),
        PolicyCommand::Push(args) => push::push(&args),
        PolicyCommand::History(args) => push::history(&args),
    }
}

fn load(path: &Path, data_dir: &Path) -> Result<Policy, String> {
    crate::edm::files::load_policy(path, data_dir)
}

fn test(args: &TestArgs) -> ExitCode {
    let policy = match &args.policy {
        Some(path) => match load(path, &args.data_dir) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(2);
            }
        },
        None => Policy::builtin(),
    };
    let engine = Engine::new(Arc::new(policy), Limits::default());
    let mut files = Vec::new();
    for path in &args.paths {
        walk(path, &mut files);
    }
    let (mut blocked, mut errors) = (false, false);
    for file in files {
        let filename = file.file_name().map(|n| n.to_string_lossy().into_owned());
        let ctx = ScanContext {
            method: if args.download { inspect::Method::Respmod } else { inspect::Method::Reqmod },
            // The file name is inspected too, as a server inspects an upload's.
            meta: filename.iter().map(|n| inspect::MetaText::filename(n)).collect(),
            filename,
            ..ScanContext::default()
        };
        let verdict = match std::fs::File::open(&file)
            .and_then(|f| engine.scan_reader(ctx, std::io::BufReader::new(f)))
        {
            Ok(v) => v,
            Err(e) => {
                eprintln!("{}: {e}", file.display());
                errors = true;
                continue;
            }
        };
        blocked |= verdict.decision == Decision::Block;
        if args.json {
            let line = serde_json::json!({ "path": file.display().to_string(), "verdict": verdict });
            println!("{line}");
            continue;
        }
        let decision = format!("{:?}", verdict.decision).to_uppercase();
        println!("{decision:8} {}", file.display());
        if !verdict.rules.is_empty() {
            let rules: Vec<String> =
                verdict.rules.iter().map(|r| format!("{} ({:?})", r.name, r.action)).collect();
            println!("         rules: {}", rules.join(", "));
        }
        if let Some(c) = &verdict.could_not_scan {
            println!("         could not scan: {c}");
        }
        for e in &verdict.evidence {
            let at = if e.member.is_empty() { String::new() } else { format!("{} ", e.member) };
            println!("         {} {} at {at}offset {} ({:?})", e.detector, e.masked, e.offset, e.confidence);
        }
    }
    if errors {
        ExitCode::from(2)
    } else if blocked {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn walk(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        let Ok(entries) = std::fs::read_dir(path) else {
            out.push(path.to_path_buf());
            return;
        };
        let mut children: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        children.sort();
        for child in children {
            walk(&child, out);
        }
    } else {
        out.push(path.to_path_buf());
    }
}
