//! Server-side TLS settings, built into a rustls config that can be swapped at run time.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use rustls::server::danger::ClientCertVerifier;
use rustls::server::WebPkiClientVerifier;
use rustls::ServerConfig;

use super::files::{display, expiry_warnings, load_certs, load_credentials};
use super::verify::{BundleVerifier, ClientVerifyMode};
use super::TlsError;

/// A TLS protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    /// TLS 1.2.
    Tls12,
    /// TLS 1.3.
    Tls13,
}

/// What the TLS listener needs: credentials, the client bundle and how to verify clients.
#[derive(Debug, Clone)]
pub struct TlsServerSettings {
    /// Certificate chain PEM, or a combined key+cert PEM.
    pub cert: PathBuf,
    /// Private key PEM; `None` reads it from `cert`.
    pub key: Option<PathBuf>,
    /// PEM bundle of client CAs and/or pinned client certificates.
    pub client_ca: Option<PathBuf>,
    /// How a client certificate is accepted.
    pub verify: ClientVerifyMode,
    /// Accept clients without a certificate. Off unless asked for: TLS without client
    /// authentication lets anyone send data to the DLP server.
    pub allow_any_client: bool,
    /// Lowest protocol version accepted.
    pub min_version: TlsVersion,
    /// Highest protocol version accepted.
    pub max_version: TlsVersion,
    /// Allowed cipher suites; `None` for rustls's modern defaults.
    pub cipher_suites: Option<Vec<rustls::SupportedCipherSuite>>,
}

/// The rustls protocol versions from `min` to `max`.
pub(crate) fn protocol_versions(
    min: TlsVersion,
    max: TlsVersion,
) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, TlsError> {
    let versions: Vec<_> =
        [(TlsVersion::Tls12, &rustls::version::TLS12), (TlsVersion::Tls13, &rustls::version::TLS13)]
            .into_iter()
            .filter(|(v, _)| *v >= min && *v <= max)
            .map(|(_, v)| v)
            .collect();
    if versions.is_empty() {
        return Err(TlsError::Config("no TLS version between the minimum and the maximum".to_string()));
    }
    Ok(versions)
}

impl TlsServerSettings {
    /// Settings with the defaults: verify by chain or pin, TLS 1.2 to 1.3.
    pub fn new(cert: PathBuf) -> Self {
        Self {
            cert,
            key: None,
            client_ca: None,
            verify: ClientVerifyMode::default(),
            allow_any_client: false,
            min_version: TlsVersion::Tls12,
            max_version: TlsVersion::Tls13,
            cipher_suites: None,
        }
    }

    /// Builds the rustls config, with warnings to log (group-readable key, expiry).
    pub fn build(&self) -> Result<(Arc<ServerConfig>, Vec<String>), TlsError> {
        let (creds, mut warnings) = load_credentials(&self.cert, self.key.as_deref())?;
        let verifier: Arc<dyn ClientCertVerifier> = match (&self.client_ca, self.allow_any_client) {
            (None, false) => {
                return Err(TlsError::Config(
                    "TLS needs a client CA bundle (--client-ca) to check client certificates; \
                     --allow-any-client accepts any client, which lets anyone send data"
                        .to_string(),
                ))
            }
            (None, true) => WebPkiClientVerifier::no_client_auth(),
            (Some(bundle), allow_any) => {
                let certs = load_certs(bundle)?;
                warnings.extend(expiry_warnings(bundle, &certs));
                Arc::new(
                    BundleVerifier::new(&certs, self.verify, !allow_any)
                        .map_err(|e| TlsError::Config(format!("{}: {e}", bundle.display())))?,
                )
            }
        };
        let versions = protocol_versions(self.min_version, self.max_version)?;
        let mut provider = rustls::crypto::ring::default_provider();
        if let Some(suites) = &self.cipher_suites {
            provider.cipher_suites = suites.clone();
        }
        let provider = Arc::new(provider);
        let config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&versions)
            .map_err(|e| TlsError::Config(e.to_string()))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(creds.chain, creds.key)
            .map_err(|e| {
                TlsError::Config(format!(
                    "certificate {} and key {} do not make a usable pair: {e}",
                    self.cert.display(),
                    display(&self.key)
                ))
            })?;
        Ok((Arc::new(config), warnings))
    }
}

/// The TLS config in force, swapped whole on reload; handshakes in progress keep the one they
/// started with, and live connections are never cut.
#[derive(Debug)]
pub struct ReloadableTls {
    settings: TlsServerSettings,
    current: RwLock<Arc<ServerConfig>>,
}

impl ReloadableTls {
    /// Loads the settings once; an error here stops start-up.
    pub fn new(settings: TlsServerSettings) -> Result<(Self, Vec<String>), TlsError> {
        let (config, warnings) = settings.build()?;
        Ok((Self { settings, current: RwLock::new(config) }, warnings))
    }

    /// The config for the next handshake.
    pub fn current(&self) -> Arc<ServerConfig> {
        match self.current.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Reads the files again. A broken new set is refused and the old one stays in force.
    pub fn reload(&self) -> Result<Vec<String>, TlsError> {
        let (config, warnings) = self.settings.build()?;
        match self.current.write() {
            Ok(mut guard) => *guard = config,
            Err(poisoned) => *poisoned.into_inner() = config,
        }
        Ok(warnings)
    }

    /// The settings the files come from.
    pub fn settings(&self) -> &TlsServerSettings {
        &self.settings
    }
}
