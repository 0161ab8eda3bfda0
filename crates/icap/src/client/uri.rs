//! `icap://host:port/service` and `icaps://...` addresses.

use std::fmt;
use std::str::FromStr;

/// Default port of `icap://`.
pub const ICAP_PORT: u16 = 1344;
/// Default port of `icaps://` (the seed's stunnel port).
pub const ICAPS_PORT: u16 = 11344;

/// Where an ICAP service lives.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IcapUri {
    /// True for `icaps://`.
    pub tls: bool,
    /// Host name or IP address (without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Service name (the path without its `/`).
    pub service: String,
}

impl IcapUri {
    /// `host:port`, bracketing IPv6 addresses, for connecting.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The same server with another service.
    pub fn with_service(&self, service: &str) -> Self {
        Self { service: service.to_string(), ..self.clone() }
    }
}

impl fmt::Display for IcapUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}/{}", if self.tls { "icaps" } else { "icap" }, self.authority(), self.service)
    }
}

impl FromStr for IcapUri {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (tls, rest) = if let Some(rest) = s.strip_prefix("icaps://") {
            (true, rest)
        } else if let Some(rest) = s.strip_prefix("icap://") {
            (false, rest)
        } else {
            return Err(format!("{s:?} is not an icap:// or icaps:// address"));
        };
        let (authority, service) = rest.split_once('/').unwrap_or((rest, ""));
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or_else(|| format!("unclosed [ in {s:?}"))?;
            (host, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(format!("no host in {s:?}"));
        }
        let port = match port {
            Some(p) => p.parse().map_err(|_| format!("bad port in {s:?}"))?,
            None if tls => ICAPS_PORT,
            None => ICAP_PORT,
        };
        let service = service.split(['?', '#']).next().unwrap_or_default().to_string();
        Ok(Self { tls, host: host.to_string(), port, service })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_schemes_and_default_ports() {
        let u: IcapUri = "icap://127.0.0.1/reqmod".parse().unwrap();
        assert_eq!((u.tls, u.port, u.service.as_str()), (false, 1344, "reqmod"));
        let u: IcapUri = "icaps://dlp.example:2000/respmod?x=1".parse().unwrap();
        assert_eq!(
            (u.tls, u.host.as_str(), u.port, u.service.as_str()),
            (true, "dlp.example", 2000, "respmod")
        );
        let u: IcapUri = "icaps://[::1]/echo".parse().unwrap();
        assert_eq!((u.port, u.authority()), (11344, "[::1]:11344".to_string()));
        assert_eq!(u.to_string(), "icaps://[::1]:11344/echo");
        assert!("http://x/".parse::<IcapUri>().is_err());
        assert!("icap://:1/".parse::<IcapUri>().is_err());
    }
}
