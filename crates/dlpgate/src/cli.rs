//! The command line: one subcommand per job of the chain dlpgate replaces.

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

/// ICAP data-loss prevention: server, TLS tunnel and client in one binary.
#[derive(Debug, Parser)]
#[command(name = "dlpgate", version, about, args_override_self = true)]
pub struct Cli {
    /// Log filter, e.g. `info`, `debug` or `dlpgate=debug,icap=trace`.
    #[arg(long, global = true, env = "DLPGATE_LOG", default_value = "info")]
    pub log: String,
    /// Log lines as plain text, or as one JSON object per line (for journald, Loki,
    /// Elasticsearch and other collectors).
    #[arg(long, global = true, env = "DLPGATE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines (coloured on a terminal).
    Text,
    /// One JSON object per line: `timestamp`, `level`, `fields` (with `message`), `target`,
    /// and the spans.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the ICAP server.
    Serve(crate::serve::ServeArgs),
    /// Load-test an ICAP server and report req/s and latency.
    Bench(crate::bench::BenchArgs),
    /// Make and inspect keys and certificates (replaces the seed's openssl commands).
    #[command(subcommand)]
    Cert(crate::cert::CertCommand),
    /// Run a stunnel-compatible TLS tunnel from a stunnel.conf file.
    Tunnel(crate::tunnel::TunnelArgs),
    /// Validate a policy, or test files against it locally.
    #[command(subcommand)]
    Policy(crate::policy_cmd::PolicyCommand),
    /// List, show and export incidents.
    Incidents(crate::incidents::IncidentsArgs),
    /// Named connections to external ICAP DLP servers: add, list, show, remove, test.
    Connector(crate::connector::ConnectorArgs),
    /// Send files through a connector's ICAP servers and report a verdict per file.
    Scan(crate::scan::ScanArgs),
    /// Exact Data Match indexes of your own tables: index, list, remove.
    Edm(crate::edm::EdmArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(crate::manuals::CompletionsArgs),
    /// Write the man pages (dlpgate.1 and one per subcommand).
    Man(crate::manuals::ManArgs),
    /// Document fingerprints of your protected documents: add, list, remove.
    Fingerprint(crate::fingerprint::FingerprintArgs),
    /// The web console alone (against a server's data directory), and its accounts.
    Console(crate::console::ConsoleArgs),
}

/// Runs a parsed command line and gives the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    if let Command::Tunnel(args) = cli.command {
        return run_tunnel(args, &cli.log, cli.log_format);
    }
    init_logging(&cli.log, cli.log_format, None);
    if matches!(
        cli.command,
        Command::Policy(_)
            | Command::Incidents(_)
            | Command::Cert(_)
            | Command::Edm(_)
            | Command::Completions(_)
            | Command::Man(_)
            | Command::Fingerprint(_)
    ) {
        // Commands that only print end quietly when their reader goes away, as Unix tools
        // do (Rust ignores SIGPIPE, so `policy test DIR | head -1` panicked in println!).
        // Not for commands that talk over sockets: a peer's reset must be an error there.
        sigpipe::reset();
    }
    match cli.command {
        Command::Serve(args) => exit_code(crate::serve::run(args)),
        Command::Bench(args) => exit_code(crate::bench::run(args)),
        Command::Cert(cmd) => exit_code(crate::cert::run(cmd)),
        Command::Tunnel(_) => ExitCode::from(2),
        Command::Policy(cmd) => crate::policy_cmd::run(cmd),
        Command::Incidents(args) => exit_code(crate::incidents::run(args)),
        Command::Connector(args) => crate::connector::run(args),
        Command::Scan(args) => crate::scan::run(args),
        Command::Edm(args) => exit_code(crate::edm::run(args)),
        Command::Completions(args) => exit_code(crate::manuals::completions(args, Cli::command())),
        Command::Man(args) => exit_code(crate::manuals::man(args, Cli::command())),
        Command::Fingerprint(args) => exit_code(crate::fingerprint::run(args)),
        Command::Console(args) => exit_code(crate::console::run(args)),
    }
}

fn exit_code(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dlpgate: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// The tunnel reads its log level and file from stunnel.conf (`debug`, `output`), unless
/// `--log` says otherwise.
fn run_tunnel(args: crate::tunnel::TunnelArgs, log: &str, format: LogFormat) -> ExitCode {
    let config = match crate::tunnel::config::load(&args.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("dlpgate tunnel: error: {e}");
            return ExitCode::from(2);
        }
    };
    let filter = if log == "info" { crate::tunnel::log_filter(&config) } else { log.to_string() };
    let output = match config
        .globals
        .output
        .as_ref()
        .map(|p| std::fs::OpenOptions::new().create(true).append(true).open(p))
    {
        Some(Ok(file)) => Some(file),
        Some(Err(e)) => {
            eprintln!("dlpgate tunnel: error: cannot open the output file: {e}");
            return ExitCode::from(2);
        }
        None => None,
    };
    init_logging(&filter, format, output);
    exit_code(crate::tunnel::run(args, config))
}

fn init_logging(filter: &str, format: LogFormat, file: Option<std::fs::File>) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    // Colour only on a terminal: log files and journald get plain text.
    let ansi = file.is_none() && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = match (format, file) {
        (LogFormat::Json, Some(file)) => builder.json().with_writer(std::sync::Mutex::new(file)).try_init(),
        (LogFormat::Json, None) => builder.json().with_writer(std::io::stderr).try_init(),
        (LogFormat::Text, Some(file)) => {
            builder.with_ansi(false).with_writer(std::sync::Mutex::new(file)).try_init()
        }
        (LogFormat::Text, None) => builder.with_ansi(ansi).with_writer(std::io::stderr).try_init(),
    };
}
