//! What a person wants to know about a certificate: subject, SANs, validity, fingerprints.

use rustls_pki_types::CertificateDer;
use sha2::{Digest, Sha256};
use x509_parser::prelude::*;

/// The readable facts of one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// Subject distinguished name, as `CN=..., O=...`.
    pub subject: String,
    /// Issuer distinguished name.
    pub issuer: String,
    /// DNS names and IP addresses of the subjectAltName extension.
    pub sans: Vec<String>,
    /// Start of validity, Unix seconds.
    pub not_before: i64,
    /// End of validity, Unix seconds.
    pub not_after: i64,
    /// True when basicConstraints says CA:TRUE.
    pub is_ca: bool,
    /// SHA-256 of the SubjectPublicKeyInfo, hex (what pin mode compares, and `openssl
    /// x509 -pubkey | openssl pkey -pubin -outform der | sha256sum` prints).
    pub spki_sha256: String,
    /// SHA-256 of the whole certificate, hex.
    pub cert_sha256: String,
    /// The DER SubjectPublicKeyInfo.
    pub spki_der: Vec<u8>,
}

impl CertInfo {
    /// Whole days until `not_after` (negative once expired).
    pub fn days_left(&self) -> i64 {
        (self.not_after - now_unix()).div_euclid(86_400)
    }

    /// True when `unix` lies within the validity period.
    pub fn valid_at(&self, unix: i64) -> bool {
        self.not_before <= unix && unix <= self.not_after
    }
}

pub(crate) fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Parses a DER certificate.
pub fn parse(cert: &CertificateDer<'_>) -> Result<CertInfo, String> {
    let (_, x509) =
        X509Certificate::from_der(cert.as_ref()).map_err(|e| format!("not an X.509 certificate: {e}"))?;
    let mut sans = Vec::new();
    if let Ok(Some(ext)) = x509.subject_alternative_name() {
        for name in &ext.value.general_names {
            match name {
                GeneralName::DNSName(d) => sans.push(format!("DNS:{d}")),
                GeneralName::IPAddress(ip) => sans.push(format!("IP:{}", format_ip(ip))),
                GeneralName::RFC822Name(m) => sans.push(format!("email:{m}")),
                GeneralName::URI(u) => sans.push(format!("URI:{u}")),
                _ => {}
            }
        }
    }
    let is_ca = x509.basic_constraints().ok().flatten().is_some_and(|bc| bc.value.ca);
    let spki_der = x509.public_key().raw.to_vec();
    Ok(CertInfo {
        subject: x509.subject().to_string(),
        issuer: x509.issuer().to_string(),
        sans,
        not_before: x509.validity().not_before.timestamp(),
        not_after: x509.validity().not_after.timestamp(),
        is_ca,
        spki_sha256: hex::encode(Sha256::digest(&spki_der)),
        cert_sha256: hex::encode(Sha256::digest(cert.as_ref())),
        spki_der,
    })
}

/// The names a host check accepts: DNS SANs, IP SANs, and the CN when there are no SANs
/// (as stunnel's `checkHost` and OpenSSL do).
pub fn host_names(cert: &CertificateDer<'_>) -> Vec<String> {
    let Ok((_, x509)) = X509Certificate::from_der(cert.as_ref()) else { return Vec::new() };
    let mut names = Vec::new();
    if let Ok(Some(ext)) = x509.subject_alternative_name() {
        for name in &ext.value.general_names {
            match name {
                GeneralName::DNSName(d) => names.push(d.to_ascii_lowercase()),
                GeneralName::IPAddress(ip) => names.push(format_ip(ip)),
                _ => {}
            }
        }
    }
    if names.is_empty() {
        for cn in x509.subject().iter_common_name() {
            if let Ok(cn) = cn.as_str() {
                names.push(cn.to_ascii_lowercase());
            }
        }
    }
    names
}

fn format_ip(bytes: &[u8]) -> String {
    match bytes.len() {
        4 => std::net::Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]).to_string(),
        16 => {
            let mut octets = [0u8; 16];
            octets.copy_from_slice(bytes);
            std::net::Ipv6Addr::from(octets).to_string()
        }
        _ => hex::encode(bytes),
    }
}
