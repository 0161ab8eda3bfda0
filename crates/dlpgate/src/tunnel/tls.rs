//! From stunnel's TLS options to rustls settings: verification levels, versions and ciphers.

use icap::tls::{
    ClientVerifyMode, NameCheck, ServerVerifyMode, TlsClientSettings, TlsServerSettings, TlsVersion,
};
use rustls::SupportedCipherSuite;

use super::config::{ConfigError, ServiceConf};

/// The TLS settings of a service, and what to tell the operator about them.
#[derive(Debug)]
pub enum ServiceTls {
    /// `client = no`: accept TLS, connect plain.
    Server(TlsServerSettings),
    /// `client = yes`: accept plain, connect TLS.
    Client(TlsClientSettings),
}

fn config_error(s: &ServiceConf, message: String) -> ConfigError {
    ConfigError { origin: Some(s.origin.clone()), message: format!("[{}] {message}", s.name) }
}

/// Maps a service's options; `notes` collects what to log at start-up.
pub fn service_tls(s: &ServiceConf, notes: &mut Vec<String>) -> Result<ServiceTls, ConfigError> {
    let suites = select_suites(s)?;
    let min = s.ssl_version_min.as_deref().map(|v| version(s, v)).transpose()?;
    let max = s.ssl_version_max.as_deref().map(|v| version(s, v)).transpose()?;
    let explicit = s.verify.is_some() || s.verify_chain.is_some() || s.verify_peer.is_some();
    if s.client {
        let verify = if s.verify == Some(0) {
            notes.push(format!("[{}] verify = 0: the server certificate is NOT checked", s.name));
            ServerVerifyMode::Insecure
        } else if s.ca_file.is_none() {
            return Err(config_error(
                s,
                "has no CAfile, so the server cannot be verified; add CAfile (verify = 0 checks nothing)"
                    .to_string(),
            ));
        } else if s.verify_peer == Some(true) || matches!(s.verify, Some(3 | 4)) {
            ServerVerifyMode::Pin
        } else if s.verify_chain == Some(true) || s.verify == Some(2) {
            ServerVerifyMode::Chain
        } else {
            if !explicit {
                notes.push(format!(
                    "[{}] CAfile without a verify option: stunnel would check nothing; dlpgate verifies the server against CAfile (chain or pinned certificate)",
                    s.name
                ));
            }
            ServerVerifyMode::ChainOrPin
        };
        return Ok(ServiceTls::Client(TlsClientSettings {
            trust: s.ca_file.clone(),
            verify,
            cert: s.cert.clone(),
            key: s.key.clone(),
            pins: Vec::new(),
            // stunnel checks a name only with checkHost.
            name_check: s.check_host.clone().map_or(NameCheck::Off, NameCheck::Name),
            cipher_suites: suites,
            min_version: min,
            max_version: max,
        }));
    }
    let Some(cert) = s.cert.clone() else {
        return Err(config_error(s, "needs `cert`".to_string()));
    };
    let mut settings = TlsServerSettings::new(cert);
    settings.key = s.key.clone();
    settings.cipher_suites = suites;
    if let Some(min) = min {
        settings.min_version = min;
    }
    if let Some(max) = max {
        settings.max_version = max;
    }
    let mandatory = s.require_cert != Some(false);
    match (s.verify, &s.ca_file) {
        (Some(0), _) => {
            notes.push(format!(
                "[{}] verify = 0: ANY client is accepted, with or without a certificate (stunnel's behaviour)",
                s.name
            ));
            settings.allow_any_client = true;
        }
        (_, None) => {
            return Err(config_error(
                s,
                "has no CAfile, so clients cannot be verified; add CAfile (verify = 0 accepts any client)"
                    .to_string(),
            ))
        }
        (level, Some(ca)) => {
            settings.client_ca = Some(ca.clone());
            settings.verify = if s.verify_peer == Some(true) || matches!(level, Some(3 | 4)) {
                ClientVerifyMode::Pin
            } else if s.verify_chain == Some(true) || level == Some(2) {
                ClientVerifyMode::Chain
            } else {
                ClientVerifyMode::ChainOrPin
            };
            settings.allow_any_client = level == Some(1) || !mandatory;
            if settings.allow_any_client {
                notes.push(format!(
                    "[{}] clients without a certificate are accepted (verify = 1 or requireCert = no)",
                    s.name
                ));
            }
            if !explicit {
                notes.push(format!(
                    "[{}] CAfile without a verify option: stunnel would check nothing; dlpgate requires a client certificate that chains to CAfile or is pinned in it (verify = 0 restores stunnel's behaviour)",
                    s.name
                ));
            }
        }
    }
    Ok(ServiceTls::Server(settings))
}

fn version(s: &ServiceConf, value: &str) -> Result<TlsVersion, ConfigError> {
    crate::runtime::parse_tls_version(value)
        .map_err(|e| config_error(s, format!("{e} (rustls has TLSv1.2 and TLSv1.3)")))
}

/// OpenSSL names of the TLS 1.2 suites rustls offers.
fn tls12_suites() -> Vec<(&'static str, SupportedCipherSuite)> {
    use rustls::crypto::ring::cipher_suite as c;
    vec![
        ("ECDHE-ECDSA-AES128-GCM-SHA256", c::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256),
        ("ECDHE-ECDSA-AES256-GCM-SHA384", c::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384),
        ("ECDHE-ECDSA-CHACHA20-POLY1305", c::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256),
        ("ECDHE-RSA-AES128-GCM-SHA256", c::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256),
        ("ECDHE-RSA-AES256-GCM-SHA384", c::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384),
        ("ECDHE-RSA-CHACHA20-POLY1305", c::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256),
    ]
}

/// The TLS 1.3 suites rustls offers, by their RFC 8446 names.
fn tls13_suites() -> Vec<(&'static str, SupportedCipherSuite)> {
    use rustls::crypto::ring::cipher_suite as c;
    vec![
        ("TLS_AES_128_GCM_SHA256", c::TLS13_AES_128_GCM_SHA256),
        ("TLS_AES_256_GCM_SHA384", c::TLS13_AES_256_GCM_SHA384),
        ("TLS_CHACHA20_POLY1305_SHA256", c::TLS13_CHACHA20_POLY1305_SHA256),
    ]
}

/// Selects rustls suites from an OpenSSL cipher string: names, `!`/`-` exclusions, and the
/// keywords `ALL`, `DEFAULT`, `HIGH`, `ECDHE`, `AESGCM`, `CHACHA20`. Names of suites rustls
/// does not have select nothing; a string that selects no suite at all is an error.
fn select_from(list: &str, table: &[(&'static str, SupportedCipherSuite)]) -> Vec<SupportedCipherSuite> {
    let mut chosen: Vec<(&str, SupportedCipherSuite)> = Vec::new();
    for item in list.split([':', ',', ' ']).map(str::trim).filter(|i| !i.is_empty()) {
        let (exclude, name) = match item.strip_prefix(['!', '-']) {
            Some(rest) => (true, rest),
            None => (false, item.trim_start_matches('+')),
        };
        let upper = name.to_ascii_uppercase();
        let matching: Vec<_> = table
            .iter()
            .filter(|(n, _)| match upper.as_str() {
                "ALL" | "DEFAULT" | "HIGH" | "ECDHE" | "EECDH" | "TLSV1.2" => true,
                "AESGCM" => n.contains("GCM"),
                "CHACHA20" => n.contains("CHACHA20"),
                "ECDSA" | "AECDSA" => n.contains("ECDSA"),
                "RSA" | "ARSA" => n.contains("RSA"),
                other => *n == other,
            })
            .collect();
        if exclude {
            chosen.retain(|(n, _)| !matching.iter().any(|(m, _)| m == n));
        } else {
            for m in matching {
                if !chosen.iter().any(|(n, _)| *n == m.0) {
                    chosen.push(*m);
                }
            }
        }
    }
    chosen.into_iter().map(|(_, s)| s).collect()
}

fn select_suites(s: &ServiceConf) -> Result<Option<Vec<SupportedCipherSuite>>, ConfigError> {
    if s.ciphers.is_none() && s.ciphersuites.is_none() {
        return Ok(None);
    }
    let mut suites = Vec::new();
    let all13 = tls13_suites();
    let all12 = tls12_suites();
    match &s.ciphersuites {
        Some((list, origin)) => {
            let picked = select_from(list, &all13);
            if picked.is_empty() {
                return Err(ConfigError {
                    origin: Some(origin.clone()),
                    message: format!(
                        "ciphersuites = {list} selects no TLS 1.3 suite that rustls has ({})",
                        names(&all13)
                    ),
                });
            }
            suites.extend(picked);
        }
        None => suites.extend(all13.iter().map(|(_, s)| *s)),
    }
    match &s.ciphers {
        Some((list, origin)) => {
            let picked = select_from(list, &all12);
            if picked.is_empty() {
                return Err(ConfigError {
                    origin: Some(origin.clone()),
                    message: format!(
                        "ciphers = {list} selects no TLS 1.2 suite that rustls has ({})",
                        names(&all12)
                    ),
                });
            }
            suites.extend(picked);
        }
        None => suites.extend(all12.iter().map(|(_, s)| *s)),
    }
    Ok(Some(suites))
}

fn names(table: &[(&str, SupportedCipherSuite)]) -> String {
    table.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openssl_cipher_strings_map_to_rustls_suites() {
        let t = tls12_suites();
        assert_eq!(select_from("HIGH:!aNULL:!MD5", &t).len(), 6);
        assert_eq!(select_from("ECDHE-RSA-AES256-GCM-SHA384", &t).len(), 1);
        assert_eq!(select_from("AESGCM:!ECDSA", &t).len(), 2);
        assert!(select_from("RC4-SHA:DES-CBC3-SHA", &t).is_empty(), "suites rustls lacks select nothing");
        assert_eq!(select_from("TLS_AES_256_GCM_SHA384", &tls13_suites()).len(), 1);
    }
}
