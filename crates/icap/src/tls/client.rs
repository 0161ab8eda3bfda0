//! Client-side TLS: trust a CA or a pinned server certificate, present a client certificate,
//! send SNI and check the host name, as stunnel's client mode and the CASB connector need.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{
    verify_tls12_signature, verify_tls13_signature, CryptoProvider, WebPkiSupportedAlgorithms,
};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, Error, RootCertStore, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use super::server::{protocol_versions, TlsVersion};
use super::{describe, load_certs, load_credentials, TlsError};

/// How the server's certificate is accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ServerVerifyMode {
    /// It chains to a CA in the bundle.
    Chain,
    /// Its public key equals that of a certificate in the bundle (the seed's self-signed
    /// server certificate), within its validity dates.
    Pin,
    /// Either of the above.
    #[default]
    ChainOrPin,
    /// Nothing is checked (stunnel `verify = 0`). Only on explicit request.
    Insecure,
}

/// What a TLS client needs.
#[derive(Debug, Clone, Default)]
pub struct TlsClientSettings {
    /// PEM bundle of trusted CAs and/or pinned server certificates.
    pub trust: Option<PathBuf>,
    /// How the server certificate is accepted.
    pub verify: ServerVerifyMode,
    /// Client certificate chain (or combined key+cert PEM) to present.
    pub cert: Option<PathBuf>,
    /// Its key; `None` reads it from `cert`.
    pub key: Option<PathBuf>,
    /// Name the server certificate must carry (DNS SAN, IP SAN, or CN without SANs). `None`
    /// checks no name, as stunnel does without `checkHost`.
    pub check_host: Option<String>,
    /// Allowed cipher suites; `None` for rustls's modern defaults.
    pub cipher_suites: Option<Vec<rustls::SupportedCipherSuite>>,
    /// Lowest protocol version.
    pub min_version: Option<TlsVersion>,
    /// Highest protocol version.
    pub max_version: Option<TlsVersion>,
}

impl TlsClientSettings {
    /// Builds the rustls client config, with warnings to log.
    pub fn build(&self) -> Result<(Arc<ClientConfig>, Vec<String>), TlsError> {
        let mut provider = rustls::crypto::ring::default_provider();
        if let Some(suites) = &self.cipher_suites {
            provider.cipher_suites = suites.clone();
        }
        let provider = Arc::new(provider);
        let mut warnings = Vec::new();
        let verifier: Arc<dyn ServerCertVerifier> = match (&self.trust, self.verify) {
            (_, ServerVerifyMode::Insecure) => {
                warnings.push("the server certificate is NOT verified (verify = 0)".to_string());
                Arc::new(ServerVerifier::insecure(&provider))
            }
            (None, _) => {
                return Err(TlsError::Config(
                    "a trusted server certificate or CA bundle is needed to verify the server".to_string(),
                ))
            }
            (Some(path), mode) => {
                let certs = load_certs(path)?;
                warnings.extend(super::expiry_warnings(path, &certs));
                Arc::new(
                    ServerVerifier::new(&certs, mode, self.check_host.clone(), provider.clone())
                        .map_err(|e| TlsError::Config(format!("{}: {e}", path.display())))?,
                )
            }
        };
        let versions = protocol_versions(
            self.min_version.unwrap_or(TlsVersion::Tls12),
            self.max_version.unwrap_or(TlsVersion::Tls13),
        )?;
        let builder = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&versions)
            .map_err(|e| TlsError::Config(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let config = match &self.cert {
            Some(cert) => {
                let (creds, more) = load_credentials(cert, self.key.as_deref())?;
                warnings.extend(more);
                builder
                    .with_client_auth_cert(creds.chain, creds.key)
                    .map_err(|e| TlsError::Config(format!("client certificate {}: {e}", cert.display())))?
            }
            None => builder.with_no_client_auth(),
        };
        Ok((Arc::new(config), warnings))
    }
}

/// Verifies the server by chain, pin, or either; the host check follows stunnel's `checkHost`.
#[derive(Debug)]
pub struct ServerVerifier {
    mode: ServerVerifyMode,
    chain: Option<Arc<WebPkiServerVerifier>>,
    pins: Vec<Vec<u8>>,
    check_host: Option<String>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerVerifier {
    fn new(
        bundle: &[CertificateDer<'static>],
        mode: ServerVerifyMode,
        check_host: Option<String>,
        provider: Arc<CryptoProvider>,
    ) -> Result<Self, String> {
        let mut roots = RootCertStore::empty();
        let mut pins = Vec::new();
        for cert in bundle {
            pins.push(describe::parse(cert)?.spki_der);
            let _ = roots.add(cert.clone());
        }
        let algorithms = provider.signature_verification_algorithms;
        let chain = if mode == ServerVerifyMode::Pin || roots.is_empty() {
            None
        } else {
            Some(
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                    .build()
                    .map_err(|e| format!("CA bundle: {e}"))?,
            )
        };
        Ok(Self { mode, chain, pins, check_host, algorithms })
    }

    fn insecure(provider: &CryptoProvider) -> Self {
        Self {
            mode: ServerVerifyMode::Insecure,
            chain: None,
            pins: Vec::new(),
            check_host: None,
            algorithms: provider.signature_verification_algorithms,
        }
    }

    fn by_chain(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        now: UnixTime,
    ) -> Result<(), Error> {
        let Some(chain) = &self.chain else {
            return Err(Error::InvalidCertificate(CertificateError::UnknownIssuer));
        };
        match chain.verify_server_cert(end_entity, intermediates, server_name, &[], now) {
            Ok(_) => Ok(()),
            // The name is checked separately, and only when asked for (stunnel's checkHost).
            Err(Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn by_pin(&self, end_entity: &CertificateDer<'_>, now: UnixTime) -> Result<(), Error> {
        super::verify::check_pin(&self.pins, end_entity, now)
    }

    fn host_matches(&self, end_entity: &CertificateDer<'_>) -> Result<(), Error> {
        let Some(host) = &self.check_host else { return Ok(()) };
        let host = host.to_ascii_lowercase();
        let matches = describe::host_names(end_entity).iter().any(|name| match name.strip_prefix("*.") {
            Some(suffix) => host.split_once('.').is_some_and(|(_, rest)| rest == suffix),
            None => *name == host,
        });
        if matches {
            Ok(())
        } else {
            Err(Error::InvalidCertificate(CertificateError::NotValidForName))
        }
    }
}

impl ServerCertVerifier for ServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        match self.mode {
            ServerVerifyMode::Insecure => return Ok(ServerCertVerified::assertion()),
            ServerVerifyMode::Chain => self.by_chain(end_entity, intermediates, server_name, now)?,
            ServerVerifyMode::Pin => self.by_pin(end_entity, now)?,
            ServerVerifyMode::ChainOrPin => {
                self.by_chain(end_entity, intermediates, server_name, now).or_else(|chain_error| {
                    self.by_pin(end_entity, now).map_err(|pin_error| match pin_error {
                        Error::InvalidCertificate(CertificateError::UnknownIssuer) => chain_error,
                        other => other,
                    })
                })?
            }
        }
        self.host_matches(end_entity)?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
