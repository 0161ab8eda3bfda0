//! `dlpgate connector add | list | show | remove | test`: named connections to external ICAP
//! DLP or antivirus servers (the CASB's "Add new external DLP" wizard), kept in
//! `connectors.toml` in the configuration directory.
//!
//! - [`model`]: the connector, its servers, TLS and failure settings, the file.
//! - [`transport`]: TCP + TLS with the connector's SNI name.
//! - [`check`]: the four-step connectivity test.

pub mod check;
pub mod model;
pub mod transport;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};

pub use model::{
    config_dir, load_named, Connector, ConnectorsFile, FailurePolicy, Kind, PinSetting, Server, Tls,
};

use crate::client::verdict::Profile;

/// Where the configuration directory is.
#[derive(Debug, Clone, Args)]
pub struct ConfigDirArg {
    /// Configuration directory holding connectors.toml (default: $XDG_CONFIG_HOME/dlpgate or
    /// ~/.config/dlpgate).
    #[arg(long, env = "DLPGATE_CONFIG_DIR", global = true)]
    pub config_dir: Option<PathBuf>,
}

/// `dlpgate connector ...`.
#[derive(Debug, Args)]
pub struct ConnectorArgs {
    /// The configuration directory.
    #[command(flatten)]
    pub dir: ConfigDirArg,
    /// What to do.
    #[command(subcommand)]
    pub command: ConnectorCommand,
}

/// The connector subcommands.
#[derive(Debug, Subcommand)]
pub enum ConnectorCommand {
    /// Add a connector (or replace one with --force).
    Add(Box<AddArgs>),
    /// List the connectors.
    List,
    /// Show one connector as TOML.
    Show {
        /// Its name.
        name: String,
    },
    /// Remove a connector.
    Remove {
        /// Its name.
        name: String,
    },
    /// Test connectivity: connect, TLS handshake, OPTIONS, a clean and a positive sample.
    Test(check::TestArgs),
}

/// How to reach `icaps://` servers: for `connector add` and for `scan --server`.
#[derive(Debug, Clone, Default, Args)]
pub struct ClientTlsArgs {
    /// With icaps://: the server's public certificate (pinned, as the seed's cert.pem) or its
    /// CA, PEM.
    #[arg(long)]
    pub trust: Option<PathBuf>,
    /// With icaps://: the client certificate to present (or a combined key+cert PEM).
    #[arg(long)]
    pub client_cert: Option<PathBuf>,
    /// Its private key (default: read from --client-cert).
    #[arg(long)]
    pub client_key: Option<PathBuf>,
    /// SNI name to send (default: --server-name, else the server's host).
    #[arg(long)]
    pub sni: Option<String>,
    /// With icaps://: the name (DNS name or IP address) the server certificate must carry.
    /// Default: the host of the server's address (or --sni). `--check-host` is the same.
    #[arg(long, visible_alias = "check-host")]
    pub server_name: Option<String>,
    /// With icaps://: trust a server by its key (a self-signed server): `sha256:` and the SPKI
    /// SHA-256 in hex that `dlpgate cert show` and `connector test` print. Repeat for more.
    #[arg(long = "pin")]
    pub pins: Vec<String>,
    /// The last day the pins are trusted (YYYY-MM-DD, or an RFC 3339 time). Default: a year
    /// from now. The server certificate's own dates are not used for a pinned key.
    #[arg(long, requires = "pins")]
    pub pin_not_after: Option<String>,
}

impl ClientTlsArgs {
    /// The connector's TLS settings; `paths` turns each file name into the one to store.
    pub fn to_tls(
        &self,
        paths: impl Fn(&Option<PathBuf>) -> anyhow::Result<Option<PathBuf>>,
    ) -> anyhow::Result<Tls> {
        Ok(Tls {
            trust: paths(&self.trust)?,
            client_cert: paths(&self.client_cert)?,
            client_key: paths(&self.client_key)?,
            sni: self.sni.clone(),
            server_name: self.server_name.clone(),
            pins: self
                .pins
                .iter()
                .map(|p| PinSetting::new(p, self.pin_not_after.as_deref()))
                .collect::<anyhow::Result<_>>()?,
        })
    }
}

/// `dlpgate connector add`.
#[derive(Debug, Args)]
pub struct AddArgs {
    /// Connection name, e.g. "IWTM connector".
    pub name: String,
    /// Connection type: Generic ICAP – REQMOD or – RESPMOD.
    #[arg(long = "type", value_enum, default_value = "reqmod")]
    pub kind: Kind,
    /// Server address, `icap[s]://host:port/service`, optionally `;weight=N`. Repeat for the
    /// additional servers of load balancing.
    #[arg(long = "server", required = true, value_parser = Server::parse_arg)]
    pub servers: Vec<Server>,
    #[command(flatten)]
    pub tls: ClientTlsArgs,
    /// Connect and handshake timeout, seconds.
    #[arg(long, default_value_t = model::DEFAULT_CONNECT_TIMEOUT_SECS)]
    pub connect_timeout: u64,
    /// Read timeout, seconds.
    #[arg(long, default_value_t = model::DEFAULT_READ_TIMEOUT_SECS)]
    pub read_timeout: u64,
    /// Preview size (default: what the server's OPTIONS announces).
    #[arg(long)]
    pub preview: Option<usize>,
    /// Small files pipelined on one connection at most; 1 turns it off. Default: what the
    /// server announces in `X-Pipeline-Depth` (dlpgate serve does), else off. Set it only for
    /// a server that reads pipelined requests reliably.
    #[arg(long)]
    pub pipeline: Option<usize>,
    /// Files no server could judge: fail-closed (treated as blocked) or fail-open (allowed).
    #[arg(long, value_enum, default_value = "fail-closed")]
    pub failure: FailurePolicy,
    /// How answers are read: generic, symantec or dlpgate.
    #[arg(long, value_enum, default_value = "generic")]
    pub profile: Profile,
    /// Replace a connector of the same name.
    #[arg(long)]
    pub force: bool,
}

/// Runs a connector subcommand.
pub fn run(args: ConnectorArgs) -> ExitCode {
    let dir = config_dir(args.dir.config_dir.as_deref());
    let result = match args.command {
        ConnectorCommand::Add(add) => self::add(&dir, *add),
        ConnectorCommand::List => list(&dir),
        ConnectorCommand::Show { name } => show(&dir, &name),
        ConnectorCommand::Remove { name } => remove(&dir, &name),
        ConnectorCommand::Test(test) => return check::run(&dir, &test),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dlpgate connector: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn absolute(path: Option<PathBuf>) -> anyhow::Result<Option<PathBuf>> {
    match path {
        None => Ok(None),
        Some(p) => Ok(Some(std::fs::canonicalize(&p).with_context(|| format!("{}", p.display()))?)),
    }
}

fn add(dir: &std::path::Path, args: AddArgs) -> anyhow::Result<()> {
    let path = dir.join(model::CONNECTORS_FILE);
    let mut file = ConnectorsFile::load(&path)?;
    let connector = Connector {
        name: args.name.clone(),
        kind: args.kind,
        servers: args.servers,
        tls: args.tls.to_tls(|p| absolute(p.clone()))?,
        connect_timeout: args.connect_timeout,
        read_timeout: args.read_timeout,
        preview: args.preview,
        pipeline: args.pipeline,
        failure: args.failure,
        profile: args.profile,
    };
    connector.validate()?;
    if connector.uses_tls() {
        // Load the files now: a wrong path or a key others can read is refused here, not at
        // the first scan.
        connector.tls_settings()?.build().context("TLS settings")?;
    }
    match file.connectors.iter().position(|c| c.name == args.name) {
        Some(_) if !args.force => bail!("a connector {:?} exists; add --force to replace it", args.name),
        Some(i) => file.connectors[i] = connector,
        None => file.connectors.push(connector),
    }
    file.save(&path)?;
    println!("connector {:?} saved in {}", args.name, path.display());
    println!("next: dlpgate connector test {:?}", args.name);
    Ok(())
}

fn list(dir: &std::path::Path) -> anyhow::Result<()> {
    let path = dir.join(model::CONNECTORS_FILE);
    let file = ConnectorsFile::load(&path)?;
    if file.connectors.is_empty() {
        eprintln!("no connectors in {}; add one with `dlpgate connector add`", path.display());
        return Ok(());
    }
    println!("{:<24} {:<8} {:<9} {:<12} SERVERS", "NAME", "TYPE", "PROFILE", "FAILURE");
    for c in &file.connectors {
        let servers: Vec<String> = c
            .servers
            .iter()
            .map(|s| if s.weight == 1 { s.uri.clone() } else { format!("{} (weight {})", s.uri, s.weight) })
            .collect();
        println!(
            "{:<24} {:<8} {:<9} {:<12} {}",
            c.name,
            c.kind.method().as_str(),
            c.profile.as_str(),
            c.failure.action().replace("block", "fail-closed").replace("allow", "fail-open"),
            servers.join(", ")
        );
    }
    Ok(())
}

fn show(dir: &std::path::Path, name: &str) -> anyhow::Result<()> {
    let connector = load_named(dir, name)?;
    print!("{}", toml::to_string_pretty(&ConnectorsFile { connectors: vec![connector] })?);
    Ok(())
}

fn remove(dir: &std::path::Path, name: &str) -> anyhow::Result<()> {
    let path = dir.join(model::CONNECTORS_FILE);
    let mut file = ConnectorsFile::load(&path)?;
    let before = file.connectors.len();
    file.connectors.retain(|c| c.name != name);
    if file.connectors.len() == before {
        bail!("no connector {name:?} in {}", path.display());
    }
    file.save(&path)?;
    println!("connector {name:?} removed");
    Ok(())
}
