//! `dlpgate scan`'s flags, and the connector they name or make up.

use super::*;

/// `dlpgate scan` arguments.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// The configuration directory.
    #[command(flatten)]
    pub dir: ConfigDirArg,
    /// Connector to send the files to (see `dlpgate connector list`).
    #[arg(long, conflicts_with = "servers")]
    pub connector: Option<String>,
    /// Server address `icap[s]://host:port/service` (optionally `;weight=N`); several form
    /// one pool, balanced and failed over.
    #[arg(long = "server", value_parser = Server::parse_arg)]
    pub servers: Vec<Server>,
    /// reqmod (files as uploads) or respmod (as downloads). Default: the connector's type, or
    /// what the service's OPTIONS announces, or reqmod.
    #[arg(long, value_enum)]
    pub method: Option<Kind>,
    /// How answers are read (default: the connector's profile, or generic).
    #[arg(long, value_enum)]
    pub profile: Option<Profile>,
    /// Files no server could judge: fail-closed (treated as blocked) or fail-open. Default:
    /// the connector's policy, or fail-closed.
    #[arg(long, value_enum)]
    pub failure: Option<FailurePolicy>,
    #[command(flatten)]
    pub tls: crate::connector::ClientTlsArgs,
    /// Only files whose path (relative to the argument) matches one of these globs.
    #[arg(long)]
    pub include: Vec<String>,
    /// Skip files whose relative path matches one of these globs.
    #[arg(long)]
    pub exclude: Vec<String>,
    /// Largest file sent, bytes; larger ones are skipped and counted.
    #[arg(long, default_value_t = walk::DEFAULT_MAX_SIZE)]
    pub max_size: u64,
    /// Send REQMOD bodies as multipart/form-data (a browser upload) rather than raw.
    #[arg(long)]
    pub multipart: bool,
    /// Files in flight at once (default: the servers' Max-Connections, at most 32).
    #[arg(long)]
    pub parallel: Option<usize>,
    /// Small files pipelined on one connection at most; 1 turns it off. Default: the
    /// connector's, else what the server announces in `X-Pipeline-Depth` (at most 8), else off.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub pipeline: Option<u16>,
    /// JSON Lines on stdout, one object per file.
    #[arg(long)]
    pub json: bool,
    /// Move blocked files into this directory (keeping their relative path) and leave a note
    /// in their place.
    #[arg(long)]
    pub quarantine: Option<PathBuf>,
    /// Also write the report (the output and the summary) to this file.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Record progress in this file; a later run with the same file skips the files already
    /// judged (unchanged since).
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// No progress bar, even on a terminal.
    #[arg(long)]
    pub no_progress: bool,
    /// Files and directories to scan (a path with * ? [ is a glob).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

/// The connector the arguments name or make.
pub(super) fn connector_of(args: &ScanArgs) -> anyhow::Result<Connector> {
    let mut connector = match &args.connector {
        Some(name) => {
            let dir = connector::config_dir(args.dir.config_dir.as_deref());
            connector::load_named(&dir, name)?
        }
        None if args.servers.is_empty() => {
            anyhow::bail!(
                "say where to send the files: --connector NAME or --server icap://host:port/service"
            )
        }
        None => Connector::ad_hoc(
            args.servers.clone(),
            args.method.unwrap_or_default(),
            args.tls.to_tls(|p| Ok(p.clone()))?,
        ),
    };
    if let Some(p) = args.profile {
        connector.profile = p;
    }
    if let Some(f) = args.failure {
        connector.failure = f;
    }
    // A named connector takes --server-name too (to check another name than its own).
    if let (Some(_), Some(name)) = (&args.connector, &args.tls.server_name) {
        connector.tls.server_name = Some(name.clone());
    }
    connector.validate()?;
    Ok(connector)
}
