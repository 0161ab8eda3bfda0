//! Reading certificates and keys from PEM files, with the permission and expiry checks that
//! stunnel never made.

use std::path::{Path, PathBuf};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::{describe, TlsError};

/// Days before expiry that start a warning.
pub const EXPIRY_WARNING_DAYS: i64 = 30;

/// A certificate chain and its private key.
#[derive(Debug)]
pub struct Credentials {
    /// End-entity certificate first, then intermediates.
    pub chain: Vec<CertificateDer<'static>>,
    /// The private key.
    pub key: PrivateKeyDer<'static>,
}

/// Loads `cert` (a chain, or a combined key+cert PEM) and its key (from `key`, or from `cert`
/// itself as in the seed's `cat key.pem cert.pem` file). Returns warnings to log.
pub fn load_credentials(cert: &Path, key: Option<&Path>) -> Result<(Credentials, Vec<String>), TlsError> {
    let key_path = key.unwrap_or(cert);
    let mut warnings = Vec::new();
    if let Some(warning) = check_key_permissions(key_path)? {
        warnings.push(warning);
    }
    let chain = load_certs(cert)?;
    let key = PrivateKeyDer::from_pem_file(key_path).map_err(|e| TlsError::Pem {
        path: key_path.to_path_buf(),
        what: "a private key",
        detail: e.to_string(),
    })?;
    warnings.extend(expiry_warnings(cert, &chain[..1]));
    Ok((Credentials { chain, key }, warnings))
}

/// Every certificate in a PEM file; an empty file is an error.
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem_error = |detail: String| TlsError::Pem { path: path.to_path_buf(), what: "certificates", detail };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| pem_error(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(e.to_string()))?;
    if certs.is_empty() {
        return Err(pem_error("no CERTIFICATE block found".to_string()));
    }
    for cert in &certs {
        describe::parse(cert).map_err(|e| pem_error(e.to_string()))?;
    }
    Ok(certs)
}

/// Refuses a key file that others can read, with the `chmod` to run; warns when its group can.
pub fn check_key_permissions(path: &Path) -> Result<Option<String>, TlsError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|e| TlsError::Io { path: path.to_path_buf(), source: e })?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o007 != 0 {
        return Err(TlsError::KeyReadableByOthers { path: path.to_path_buf(), mode });
    }
    if mode & 0o070 != 0 {
        return Ok(Some(format!(
            "private key {} is readable by its group (mode {mode:04o}); `chmod 600 {}` keeps it to its owner",
            path.display(),
            path.display()
        )));
    }
    Ok(None)
}

/// Warnings for certificates that expired or expire within [`EXPIRY_WARNING_DAYS`].
pub fn expiry_warnings(path: &Path, certs: &[CertificateDer<'_>]) -> Vec<String> {
    let mut warnings = Vec::new();
    for cert in certs {
        let Ok(info) = describe::parse(cert) else { continue };
        let days = info.days_left();
        if days < 0 {
            warnings.push(format!(
                "certificate {} ({}) EXPIRED {} days ago",
                path.display(),
                info.subject,
                -days
            ));
        } else if days < EXPIRY_WARNING_DAYS {
            warnings.push(format!(
                "certificate {} ({}) expires in {days} days",
                path.display(),
                info.subject
            ));
        }
    }
    warnings
}

/// The path a setting names, for messages.
pub(crate) fn display(path: &Option<PathBuf>) -> String {
    path.as_ref().map_or_else(|| "-".to_string(), |p| p.display().to_string())
}
