//! `dlpgate policy push` and `policy history`: the policy versions several nodes follow,
//! kept in the shared PostgreSQL store (`crate::store::policy_versions`). A file is pushed
//! only once it loads exactly as `serve` would load it (its EDM and fingerprint indexes
//! found in --data-dir), so a typo never reaches the nodes.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::store::policy_versions::{PolicyVersions, Pushed};
use crate::store::{PostgresSettings, StoreError};

/// `policy push`.
#[derive(Debug, Args)]
pub struct PushArgs {
    /// The shared store the nodes use: postgres://user@host/db (as `serve --store`).
    #[arg(long)]
    pub store: String,
    /// Where the policy's EDM and fingerprint indexes are (by name), to check they load: the
    /// nodes keep their own copies in their own data directories.
    #[arg(long, default_value = "./dlpgate-data")]
    pub data_dir: PathBuf,
    /// Who pushes, as the history shows it (default: USER@HOST).
    #[arg(long)]
    pub by: Option<String>,
    /// The policy file.
    pub file: PathBuf,
}

/// `policy history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The shared store: postgres://user@host/db.
    #[arg(long)]
    pub store: String,
    /// Versions listed, newest first.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// Print this version's policy text instead of the list (to go back to it: save it and
    /// push it again).
    #[arg(long, value_name = "VERSION")]
    pub text: Option<i64>,
}

/// Validates and stores the file. Exit code: 0 stored (or already the newest), 2 an error.
pub fn push(args: &PushArgs) -> ExitCode {
    if let Err(e) = crate::store::policy_versions::check_url(&args.store) {
        eprintln!("dlpgate: error: {}\nnothing stored", describe(&e));
        return ExitCode::from(2);
    }
    // Read once, and the bytes checked are the bytes stored.
    let text = match std::fs::read_to_string(&args.file) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("cannot read the policy {}: {e}\nnothing stored", args.file.display());
            return ExitCode::from(2);
        }
    };
    let policy =
        match crate::edm::files::parse_policy(&text, &args.data_dir, &args.file.display().to_string()) {
            Ok(policy) => policy,
            Err(e) => {
                eprintln!("{e}\nnothing stored");
                return ExitCode::from(2);
            }
        };
    let by = args.by.clone().unwrap_or_else(default_author);
    let result = PolicyVersions::open(&args.store, &PostgresSettings::default())
        .and_then(|versions| versions.push(&text, policy.name(), &by));
    match result {
        Ok(Pushed::New(version)) => {
            println!(
                "{}: stored as version {version} (policy {:?}, {} rules, version {}); nodes following the store load it within seconds",
                args.file.display(),
                policy.name(),
                policy.rules().len(),
                policy.version()
            );
            ExitCode::SUCCESS
        }
        Ok(Pushed::Unchanged(version)) => {
            println!(
                "{}: unchanged, version {version} already holds it; nothing stored",
                args.file.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("dlpgate: error: {}\nnothing stored", describe(&e));
            ExitCode::from(2)
        }
    }
}

/// Prints one line per version, newest first, or one version's text.
pub fn history(args: &HistoryArgs) -> ExitCode {
    if let Some(version) = args.text {
        return text(&args.store, version);
    }
    let result = PolicyVersions::open(&args.store, &PostgresSettings::default())
        .and_then(|versions| versions.history(args.limit));
    match result {
        Ok(versions) if versions.is_empty() => {
            println!("no policy version stored yet (dlpgate policy push --store URL FILE)");
            ExitCode::SUCCESS
        }
        Ok(versions) => {
            println!("{:>7}  {:<24}  {:<16}  {:<24}  name", "version", "pushed", "sha256", "by");
            for v in versions {
                println!(
                    "{:>7}  {:<24}  {:<16}  {:<24}  {}",
                    v.version,
                    crate::store::format_time(v.pushed),
                    &v.sha256[..v.sha256.len().min(16)],
                    v.pushed_by,
                    v.name
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("dlpgate: error: {}", describe(&e));
            ExitCode::from(2)
        }
    }
}

/// Prints a stored version's text as it was pushed.
fn text(store: &str, version: i64) -> ExitCode {
    match PolicyVersions::open(store, &PostgresSettings::default()).and_then(|v| v.get(version)) {
        Ok(Some(stored)) => {
            print!("{}", stored.text);
            ExitCode::SUCCESS
        }
        Ok(None) => {
            eprintln!("dlpgate: error: no policy version {version} is stored");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("dlpgate: error: {}", describe(&e));
            ExitCode::from(2)
        }
    }
}

/// A store error without the "incident store" its message starts with.
fn describe(e: &StoreError) -> String {
    match e {
        StoreError::Query(detail) => format!("policy versions: {detail}"),
        StoreError::Open { what, detail } => format!("cannot open the policy versions in {what}: {detail}"),
    }
}

/// `USER@HOST`, from the environment and the kernel's host name.
fn default_author() -> String {
    let user =
        std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| "unknown".to_string());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "unknown".to_string());
    format!("{user}@{host}")
}
