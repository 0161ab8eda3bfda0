//! Client-certificate verification: by chain (stunnel `verify = 2`), by pinned public key
//! (stunnel `verify = 4`), or either.
//!
//! Pin mode needs a verifier of its own: the seed's client certificate is self-signed by
//! `openssl req -new -x509`, so it carries CA:TRUE and no SAN, and webpki refuses such a
//! certificate as an end entity.

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, WebPkiSupportedAlgorithms};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, Error, RootCertStore, SignatureScheme,
};
use rustls_pki_types::{CertificateDer, UnixTime};

use super::pin::{bundle_pins, check_pins, PinnedKey};

/// How a client certificate is accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientVerifyMode {
    /// It chains to a CA in the bundle.
    Chain,
    /// Its public key equals the key of a certificate in the bundle, and now is within the
    /// validity dates of that bundle copy (never the presented certificate's own dates).
    Pin,
    /// Either of the above (the default).
    #[default]
    ChainOrPin,
}

impl std::str::FromStr for ClientVerifyMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "chain" => Ok(Self::Chain),
            "pin" => Ok(Self::Pin),
            "chain-or-pin" | "either" => Ok(Self::ChainOrPin),
            other => Err(format!("unknown client verification mode {other:?} (chain, pin or chain-or-pin)")),
        }
    }
}

/// Verifies client certificates against a bundle, by chain, pin, or either.
#[derive(Debug)]
pub struct BundleVerifier {
    mode: ClientVerifyMode,
    chain: Option<Arc<dyn ClientCertVerifier>>,
    pins: Vec<PinnedKey>,
    subjects: Vec<DistinguishedName>,
    algorithms: WebPkiSupportedAlgorithms,
    mandatory: bool,
}

impl BundleVerifier {
    /// A verifier for the certificates of `bundle`. `mandatory` false accepts clients without a
    /// certificate (but still verifies one that is presented).
    pub fn new(
        bundle: &[CertificateDer<'static>],
        mode: ClientVerifyMode,
        mandatory: bool,
    ) -> Result<Self, String> {
        let provider = rustls::crypto::ring::default_provider();
        let algorithms = provider.signature_verification_algorithms;
        let mut roots = RootCertStore::empty();
        let pins = bundle_pins(bundle)?;
        for cert in bundle {
            // A certificate that cannot be a trust anchor can still be pinned.
            let _ = roots.add(cert.clone());
        }
        let chain = if mode == ClientVerifyMode::Pin || roots.is_empty() {
            None
        } else {
            let builder =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots.clone()), Arc::new(provider));
            let builder = if mandatory { builder } else { builder.allow_unauthenticated() };
            Some(builder.build().map_err(|e| format!("client CA bundle: {e}"))?)
        };
        if mode == ClientVerifyMode::Chain && chain.is_none() {
            return Err("the client CA bundle holds no usable CA certificate".to_string());
        }
        let subjects = roots.subjects();
        Ok(Self { mode, chain, pins, subjects, algorithms, mandatory })
    }

    fn verify_pin(
        &self,
        end_entity: &CertificateDer<'_>,
        now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        check_pins(&self.pins, end_entity, now).map(|()| ClientCertVerified::assertion())
    }
}

impl ClientCertVerifier for BundleVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.subjects
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        let by_chain = || match &self.chain {
            Some(chain) => chain.verify_client_cert(end_entity, intermediates, now),
            None => Err(Error::InvalidCertificate(CertificateError::UnknownIssuer)),
        };
        match self.mode {
            ClientVerifyMode::Chain => by_chain(),
            ClientVerifyMode::Pin => self.verify_pin(end_entity, now),
            ClientVerifyMode::ChainOrPin => by_chain().or_else(|chain_error| {
                // Report the more telling error: an expired pinned key says more than
                // "unknown issuer".
                self.verify_pin(end_entity, now).map_err(|pin_error| match pin_error {
                    Error::InvalidCertificate(CertificateError::UnknownIssuer) => chain_error,
                    other => other,
                })
            }),
        }
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
