//! Client-side TLS: trust a CA, a pinned server certificate or an explicit key pin, present a
//! client certificate, send SNI and check the server's name, as the CASB connector and
//! stunnel's client mode need.
//!
//! The name is checked by default: a certificate that chains to a trusted CA proves only that
//! the CA vouched for *some* server, so without the name any server with a certificate from
//! that CA could answer for any other. A pinned key needs no name (the key is the identity)
//! unless a name is given explicitly.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{
    verify_tls12_signature, verify_tls13_signature, CryptoProvider, WebPkiSupportedAlgorithms,
};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, Error, RootCertStore, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use super::pin::{bundle_pins, check_pins, Pin, PinnedKey};
use super::server::{protocol_versions, TlsVersion};
use super::{describe, load_certs, load_credentials, TlsError};

/// How the server's certificate is accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ServerVerifyMode {
    /// It chains to a CA in the bundle.
    Chain,
    /// Its public key equals that of a certificate in the bundle (the seed's self-signed
    /// server certificate), within the dates of that bundle copy.
    Pin,
    /// Either of the above.
    #[default]
    ChainOrPin,
    /// Nothing is checked (stunnel `verify = 0`). Only on explicit request.
    Insecure,
}

/// Which name the server certificate must carry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum NameCheck {
    /// The name the connection is made for (the SNI name, else the host or IP address of the
    /// server's address), checked for certificates that chain to a CA (the default).
    #[default]
    ServerName,
    /// This DNS name or IP address (`--server-name`, stunnel's `checkHost`), for every
    /// certificate, pinned ones included; a certificate without SANs may carry it as its CN.
    Name(String),
    /// No name (stunnel without `checkHost`). Only on explicit request.
    Off,
}

/// Every setting of a TLS client.
#[derive(Debug, Clone, Default)]
pub struct TlsClientSettings {
    /// PEM bundle of trusted CAs and/or pinned server certificates.
    pub trust: Option<PathBuf>,
    /// How the server certificate is accepted.
    pub verify: ServerVerifyMode,
    /// Keys pinned explicitly, each with its own not-after date; a matching key is accepted
    /// whatever the certificate around it says about its dates or issuer.
    pub pins: Vec<Pin>,
    /// Client certificate chain (or combined key+cert PEM) to present.
    pub cert: Option<PathBuf>,
    /// Its key; `None` reads it from `cert`.
    pub key: Option<PathBuf>,
    /// Which name the server certificate must carry.
    pub name_check: NameCheck,
    /// Allowed cipher suites; `None` for rustls's modern defaults.
    pub cipher_suites: Option<Vec<rustls::SupportedCipherSuite>>,
    /// Lowest protocol version.
    pub min_version: Option<TlsVersion>,
    /// Highest protocol version.
    pub max_version: Option<TlsVersion>,
}

/// Days before a pin's not-after date that start a warning.
pub const PIN_WARNING_DAYS: i64 = 30;

impl TlsClientSettings {
    /// Builds the rustls client config, with warnings to log.
    pub fn build(&self) -> Result<(Arc<ClientConfig>, Vec<String>), TlsError> {
        let mut provider = rustls::crypto::ring::default_provider();
        if let Some(suites) = &self.cipher_suites {
            provider.cipher_suites = suites.clone();
        }
        let provider = Arc::new(provider);
        let mut warnings = Vec::new();
        if let NameCheck::Name(name) = &self.name_check {
            ServerName::try_from(name.as_str())
                .map_err(|e| TlsError::Config(format!("server name {name:?}: {e}")))?;
        }
        let now = describe::now_unix();
        for pin in &self.pins {
            let days = (pin.not_after - now).div_euclid(86_400);
            if days < 0 {
                warnings.push(format!("{pin} EXPIRED {} days ago: servers with that key are refused", -days));
            } else if days < PIN_WARNING_DAYS {
                warnings.push(format!("{pin} expires in {days} days"));
            }
        }
        let verifier: Arc<dyn ServerCertVerifier> = match (&self.trust, self.verify) {
            (_, ServerVerifyMode::Insecure) => {
                warnings.push("the server certificate is NOT verified (verify = 0)".to_string());
                Arc::new(ServerVerifier::insecure(&provider))
            }
            (None, _) if self.pins.is_empty() => {
                return Err(TlsError::Config(
                    "a trusted server certificate or CA bundle (or a pin) is needed to verify the server"
                        .to_string(),
                ))
            }
            (None, mode) => {
                Arc::new(ServerVerifier::new(&[], mode, self, provider.clone()).map_err(TlsError::Config)?)
            }
            (Some(path), mode) => {
                let certs = load_certs(path)?;
                warnings.extend(super::expiry_warnings(path, &certs));
                Arc::new(
                    ServerVerifier::new(&certs, mode, self, provider.clone())
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

/// Verifies the server by explicit pin, then by chain, bundle pin, or either, and checks its
/// name as [`NameCheck`] says.
#[derive(Debug)]
pub struct ServerVerifier {
    mode: ServerVerifyMode,
    chain: Option<Arc<WebPkiServerVerifier>>,
    /// The keys of the bundle's certificates, within each copy's dates.
    bundle_pins: Vec<PinnedKey>,
    /// Explicit pins, within their own dates.
    pins: Vec<PinnedKey>,
    name_check: NameCheck,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerVerifier {
    fn new(
        bundle: &[CertificateDer<'static>],
        mode: ServerVerifyMode,
        settings: &TlsClientSettings,
        provider: Arc<CryptoProvider>,
    ) -> Result<Self, String> {
        let mut roots = RootCertStore::empty();
        for cert in bundle {
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
        Ok(Self {
            mode,
            chain,
            bundle_pins: bundle_pins(bundle)?,
            pins: settings.pins.iter().map(PinnedKey::explicit).collect(),
            name_check: settings.name_check.clone(),
            algorithms,
        })
    }

    fn insecure(provider: &CryptoProvider) -> Self {
        Self {
            mode: ServerVerifyMode::Insecure,
            chain: None,
            bundle_pins: Vec::new(),
            pins: Vec::new(),
            name_check: NameCheck::Off,
            algorithms: provider.signature_verification_algorithms,
        }
    }

    /// The chain, and the name as [`NameCheck`] says.
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
        let verified = chain.verify_server_cert(end_entity, intermediates, server_name, &[], now);
        match (&self.name_check, verified) {
            (NameCheck::ServerName, verified) => verified.map(|_| ()),
            // webpki checks the name last: a name error means the chain itself is good.
            (_, Ok(_) | Err(Error::InvalidCertificate(CertificateError::NotValidForName)))
            | (_, Err(Error::InvalidCertificate(CertificateError::NotValidForNameContext { .. }))) => {
                self.explicit_name(end_entity)
            }
            (_, Err(e)) => Err(e),
        }
    }

    /// A key pinned in the bundle, and an explicit name if one is set.
    fn by_bundle_pin(&self, end_entity: &CertificateDer<'_>, now: UnixTime) -> Result<(), Error> {
        check_pins(&self.bundle_pins, end_entity, now)?;
        self.explicit_name(end_entity)
    }

    /// The name of [`NameCheck::Name`]: a DNS SAN (wildcards in the first label), an IP SAN,
    /// or the CN of a certificate without SANs (as stunnel's `checkHost` and OpenSSL do).
    fn explicit_name(&self, end_entity: &CertificateDer<'_>) -> Result<(), Error> {
        let NameCheck::Name(wanted) = &self.name_check else { return Ok(()) };
        let presented = describe::host_names(end_entity);
        let wanted_ip = wanted.trim_matches(['[', ']']).parse::<std::net::IpAddr>().ok();
        let host = wanted.to_ascii_lowercase();
        let matches = presented.iter().any(|name| match (wanted_ip, name.strip_prefix("*.")) {
            (Some(ip), _) => name.parse::<std::net::IpAddr>().is_ok_and(|n| n == ip),
            (None, Some(suffix)) => host.split_once('.').is_some_and(|(_, rest)| rest == suffix),
            (None, None) => *name == host,
        });
        if matches {
            return Ok(());
        }
        Err(Error::InvalidCertificate(match ServerName::try_from(wanted.as_str()) {
            Ok(expected) => {
                CertificateError::NotValidForNameContext { expected: expected.to_owned(), presented }
            }
            Err(_) => CertificateError::NotValidForName,
        }))
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
        if self.mode == ServerVerifyMode::Insecure {
            return Ok(ServerCertVerified::assertion());
        }
        // An explicit pin decides alone: its key, its dates.
        match check_pins(&self.pins, end_entity, now) {
            Ok(()) => {
                self.explicit_name(end_entity)?;
                return Ok(ServerCertVerified::assertion());
            }
            Err(Error::InvalidCertificate(CertificateError::UnknownIssuer)) => {}
            Err(e) => return Err(e),
        }
        match self.mode {
            ServerVerifyMode::Chain => self.by_chain(end_entity, intermediates, server_name, now)?,
            ServerVerifyMode::Pin => self.by_bundle_pin(end_entity, now)?,
            _ => self.by_chain(end_entity, intermediates, server_name, now).or_else(|chain_error| {
                // Report the more telling error: an expired pinned key says more than
                // "unknown issuer".
                self.by_bundle_pin(end_entity, now).map_err(|pin_error| match pin_error {
                    Error::InvalidCertificate(CertificateError::UnknownIssuer) => chain_error,
                    other => other,
                })
            })?,
        }
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
