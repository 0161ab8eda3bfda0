//! TLS for ICAP (`icaps://`) on rustls: verification by chain (with the server's name) or by
//! pinned key (within dates the operator controls) in both roles, key-file permission checks,
//! and reload without dropping connections.

mod client;
mod describe;
mod files;
mod pin;
mod server;
mod verify;

use std::path::PathBuf;

pub use client::{NameCheck, ServerVerifier, ServerVerifyMode, TlsClientSettings, PIN_WARNING_DAYS};
pub use describe::{host_names, parse as describe_cert, CertInfo};
pub use files::{
    check_key_permissions, expiry_warnings, load_certs, load_credentials, Credentials, EXPIRY_WARNING_DAYS,
};
pub use pin::Pin;
pub use server::{ReloadableTls, TlsServerSettings, TlsVersion};
pub use verify::{BundleVerifier, ClientVerifyMode};

/// Why TLS settings could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A PEM file holds nothing usable.
    #[error("{path}: expected {what}: {detail}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What was looked for.
        what: &'static str,
        /// Why it failed.
        detail: String,
    },
    /// The private key file is readable by every user.
    #[error(
        "private key {path} is readable by other users (mode {mode:04o}); refusing to use it. Run: chmod 600 {path}",
        path = path.display()
    )]
    KeyReadableByOthers {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The settings do not make a working configuration.
    #[error("{0}")]
    Config(String),
}

impl crate::watch::Reload for ReloadableTls {
    fn watched_files(&self) -> Vec<std::path::PathBuf> {
        let s = self.settings();
        [Some(s.cert.clone()), s.key.clone(), s.client_ca.clone()].into_iter().flatten().collect()
    }

    fn reload(&self) -> Result<Vec<String>, String> {
        ReloadableTls::reload(self).map_err(|e| e.to_string())
    }

    fn what(&self) -> &'static str {
        "TLS credentials"
    }
}
