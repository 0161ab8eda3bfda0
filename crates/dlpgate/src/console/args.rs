//! The console's flags: the listener (shared by `serve --console-listen` and `dlpgate
//! console`), and the `console user` commands.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::auth::Role;

/// Where `dlpgate console` listens when --console-listen is not given (loopback: plain HTTP
/// is allowed there only).
pub const DEFAULT_CONSOLE_LISTEN: &str = "127.0.0.1:9180";

/// The console's listener and sessions.
#[derive(Debug, Clone, Args)]
pub struct ConsoleListenArgs {
    /// Address of the web console (off in `serve` unless given). HTTPS with --console-cert;
    /// plain HTTP only on a loopback address.
    #[arg(long)]
    pub console_listen: Option<SocketAddr>,
    /// The console's certificate chain PEM (or a combined key+cert PEM).
    #[arg(long)]
    pub console_cert: Option<PathBuf>,
    /// The console's private key PEM (default: read from --console-cert). Refused when others
    /// can read it.
    #[arg(long)]
    pub console_key: Option<PathBuf>,
    /// The directory of connectors.toml the console's Connectors page reads and adds to
    /// (default: $XDG_CONFIG_HOME/dlpgate or ~/.config/dlpgate, as `dlpgate connector`).
    #[arg(long)]
    pub console_connector_dir: Option<PathBuf>,
    /// Seconds without a request after which a console session ends.
    #[arg(long, default_value_t = super::auth::DEFAULT_IDLE_TIMEOUT.as_secs())]
    pub console_idle_timeout: u64,
    /// Seconds after the login at which a console session ends, however busy.
    #[arg(long, default_value_t = super::auth::DEFAULT_SESSION_LIFETIME.as_secs())]
    pub console_session_lifetime: u64,
}

/// `dlpgate console`: serve the console alone, against a server's data directory.
#[derive(Debug, Args)]
pub struct ConsoleArgs {
    /// Without a subcommand: serve the console.
    #[command(subcommand)]
    pub command: Option<ConsoleCommand>,
    /// Where the incidents are.
    #[command(flatten)]
    pub store: crate::incidents::StoreArgs,
    /// The policy file the server uses (default: the built-in policy).
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// The listener.
    #[command(flatten)]
    pub listen: ConsoleListenArgs,
}

/// `dlpgate console` subcommands.
#[derive(Debug, Subcommand)]
pub enum ConsoleCommand {
    /// Console accounts: add, list, remove.
    #[command(subcommand)]
    User(UserCommand),
}

/// `dlpgate console user`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add an account. The password is read from --password-file, else from stdin (one line).
    Add {
        /// Login name (letters, digits, `.`, `_`, `-`, `@`; at most 64).
        name: String,
        /// What the account may do.
        #[arg(long, value_enum)]
        role: Role,
        /// A file whose first line is the password.
        #[arg(long)]
        password_file: Option<PathBuf>,
        /// Where the incidents are.
        #[command(flatten)]
        store: crate::incidents::StoreArgs,
    },
    /// List the accounts and their roles.
    List {
        /// Where the incidents are.
        #[command(flatten)]
        store: crate::incidents::StoreArgs,
    },
    /// Remove an account.
    Remove {
        /// Login name.
        name: String,
        /// Where the incidents are.
        #[command(flatten)]
        store: crate::incidents::StoreArgs,
    },
}
