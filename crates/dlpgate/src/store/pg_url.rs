//! A `postgres://` URL read as libpq reads it: the TLS parameters (`sslmode`, `sslrootcert`,
//! `sslcert`, `sslkey`) are taken here, everything else goes to tokio-postgres; then the
//! timeouts dlpgate needs are added unless the URL sets its own.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use rustls::ClientConfig;

use super::pg_tls::{client_config, Verify};

/// How the store reaches PostgreSQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresSettings {
    /// Time to open a connection (the URL's `connect_timeout` wins).
    pub connect_timeout: Duration,
    /// The server abandons a statement that runs longer (`statement_timeout`); the client gives
    /// up on it at the same deadline.
    pub statement_timeout: Duration,
    /// Connections kept in the pool.
    pub pool_size: usize,
}

impl PostgresSettings {
    /// Default for [`Self::connect_timeout`].
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
    /// Default for [`Self::statement_timeout`] (`dlpgate incidents` reads may take long).
    pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(60);
    /// Default for [`Self::pool_size`].
    pub const DEFAULT_POOL_SIZE: usize = 8;
}

impl Default for PostgresSettings {
    fn default() -> Self {
        Self {
            connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
            statement_timeout: Self::DEFAULT_STATEMENT_TIMEOUT,
            pool_size: Self::DEFAULT_POOL_SIZE,
        }
    }
}

/// The connection settings and the TLS configuration (`None`: no TLS) a URL asks for.
pub fn parse(
    url: &str,
    settings: &PostgresSettings,
) -> Result<(tokio_postgres::Config, Option<ClientConfig>), String> {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let (mut mode, mut root, mut cert, mut key) = (None, None, None, None);
    let mut rest = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let slot = match name {
            "sslmode" => &mut mode,
            "sslrootcert" => &mut root,
            "sslcert" => &mut cert,
            "sslkey" => &mut key,
            _ => {
                rest.push(pair);
                continue;
            }
        };
        *slot = Some(percent_decode(value));
    }
    let verify = match mode.as_deref().unwrap_or("disable") {
        "disable" => None,
        "verify-full" => Some(Verify::Full),
        "verify-ca" => Some(Verify::ChainOnly),
        // libpq: with a root certificate, `require` checks the chain as verify-ca does.
        "require" if root.is_some() => Some(Verify::ChainOnly),
        "require" => {
            return Err("sslmode=require without sslrootcert would trust any server: use \
                        sslmode=verify-full&sslrootcert=/path/to/ca.pem"
                .to_string())
        }
        "allow" | "prefer" => {
            return Err(format!(
                "sslmode={} may fall back to an unencrypted, unverified connection: use \
                 sslmode=verify-full&sslrootcert=/path/to/ca.pem (or sslmode=disable on a trusted network)",
                mode.as_deref().unwrap_or_default()
            ))
        }
        other => {
            return Err(format!("sslmode={other:?}: expected disable, require, verify-ca or verify-full"))
        }
    };
    let tls = match verify {
        None => {
            if root.is_some() || cert.is_some() || key.is_some() {
                return Err(
                    "sslrootcert, sslcert and sslkey need sslmode=verify-full (or verify-ca)".to_string()
                );
            }
            None
        }
        Some(verify) => {
            let root = root.ok_or("sslmode=verify-full and verify-ca need sslrootcert=/path/to/ca.pem")?;
            if root == "system" {
                return Err("sslrootcert=system is not supported: give the CA file".to_string());
            }
            let roots = icap::tls::load_certs(Path::new(&root)).map_err(|e| format!("sslrootcert: {e}"))?;
            let client_auth = match (cert, key) {
                (None, None) => None,
                (Some(cert), key) => {
                    let (credentials, warnings) =
                        icap::tls::load_credentials(Path::new(&cert), key.as_deref().map(Path::new))
                            .map_err(|e| format!("sslcert/sslkey: {e}"))?;
                    for warning in warnings {
                        tracing::warn!("PostgreSQL client certificate: {warning}");
                    }
                    Some(credentials)
                }
                (None, Some(_)) => return Err("sslkey needs sslcert".to_string()),
            };
            Some(client_config(roots, verify, client_auth)?)
        }
    };
    rest.push(if tls.is_some() { "sslmode=require" } else { "sslmode=disable" });
    let url = format!("{base}?{}", rest.join("&"));
    let mut config = tokio_postgres::Config::from_str(&url).map_err(|e| e.to_string())?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(settings.connect_timeout);
    }
    if config.get_application_name().is_none() {
        config.application_name("dlpgate");
    }
    let timeout = format!("-c statement_timeout={}", settings.statement_timeout.as_millis().max(1));
    let options = match config.get_options() {
        Some(o) if !o.is_empty() => format!("{o} {timeout}"),
        _ => timeout,
    };
    config.options(options);
    Ok((config, tls))
}

/// `%XX` escapes decoded (as in file paths given in a URL).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(u8::try_from(hi * 16 + lo).unwrap_or(b'?'));
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(url: &str) -> String {
        parse(url, &PostgresSettings::default()).map(|_| ()).unwrap_err()
    }

    #[test]
    fn timeouts_and_name_are_added_unless_the_url_sets_them() {
        let (config, tls) = parse("postgres://dlp:pw@db:5433/x", &PostgresSettings::default()).unwrap();
        assert!(tls.is_none());
        assert_eq!(config.get_connect_timeout(), Some(&Duration::from_secs(5)));
        assert_eq!(config.get_options(), Some("-c statement_timeout=60000"));
        assert_eq!(config.get_application_name(), Some("dlpgate"));
        assert_eq!(config.get_ssl_mode(), tokio_postgres::config::SslMode::Disable);
        let (config, _) = parse(
            "postgres://db/x?connect_timeout=2&options=-c%20search_path%3Ddlp&application_name=edge",
            &PostgresSettings::default(),
        )
        .unwrap();
        assert_eq!(config.get_connect_timeout(), Some(&Duration::from_secs(2)));
        assert_eq!(config.get_options(), Some("-c search_path=dlp -c statement_timeout=60000"));
        assert_eq!(config.get_application_name(), Some("edge"));
    }

    #[test]
    fn tls_modes_that_would_not_verify_the_server_are_refused() {
        assert!(refused("postgres://db/x?sslmode=prefer").contains("verify-full"));
        assert!(refused("postgres://db/x?sslmode=allow").contains("verify-full"));
        assert!(refused("postgres://db/x?sslmode=require").contains("sslrootcert"));
        assert!(refused("postgres://db/x?sslmode=verify-full").contains("sslrootcert"));
        assert!(refused("postgres://db/x?sslmode=verify-full&sslrootcert=system").contains("not supported"));
        assert!(refused("postgres://db/x?sslmode=bogus").contains("expected disable"));
        assert!(refused("postgres://db/x?sslrootcert=/ca.pem").contains("need sslmode"));
        assert!(refused("postgres://db/x?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem")
            .contains("sslrootcert"));
    }

    #[test]
    fn escapes_in_paths_are_decoded() {
        assert_eq!(percent_decode("/etc/my%20ca.pem"), "/etc/my ca.pem");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%4"), "%4");
    }
}
