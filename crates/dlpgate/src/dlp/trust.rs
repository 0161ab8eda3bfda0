//! Who may say who the end user is.
//!
//! `X-Authenticated-User`, `X-Authenticated-Groups` and `X-Client-IP` are whatever the ICAP
//! client writes: any client that can reach the listener could name any user, and so switch a
//! rule scoped to users or groups on or off. They are believed only from the clients in
//! `--trust-identity-from`: addresses or networks (the address the PROXY protocol header
//! names, when the listener takes one) and verified TLS client certificates by common name.
//! From any other client they are recorded in the incident as claimed, and never used.
//!
//! The default is loopback, and only when the plain listener is on a loopback address
//! without the PROXY protocol: that is Squid on the same host, and every client able to
//! connect is a local process. Any other listener (a routable address, or one behind a proxy
//! whose clients are elsewhere) trusts nobody until told whom.

use std::net::{IpAddr, SocketAddr};

/// One entry of `--trust-identity-from`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdentitySource {
    /// Clients in this network (an address alone is a /32 or /128).
    Net(IpNet),
    /// Clients whose verified TLS certificate has this common name (`CN=squid`).
    CommonName(String),
    /// `none`: nobody.
    Nobody,
}

impl IdentitySource {
    /// Parses `10.0.0.0/8`, `192.0.2.7`, `::1/128`, `CN=squid` or `none`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("none") {
            return Ok(Self::Nobody);
        }
        if let Some(cn) = text.strip_prefix("CN=").or_else(|| text.strip_prefix("cn=")) {
            if cn.is_empty() {
                return Err("CN= needs a name".to_string());
            }
            return Ok(Self::CommonName(cn.to_string()));
        }
        IpNet::parse(text).map(Self::Net).map_err(|e| {
            format!("{e}; expected an address, a network (10.0.0.0/8), CN=<certificate name> or none")
        })
    }
}

/// An IPv4 or IPv6 network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// Parses `ADDR` or `ADDR/PREFIX`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let addr: IpAddr =
            addr.trim_matches(['[', ']']).parse().map_err(|_| format!("{text:?} is not an address"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{text:?}: bad prefix length"))?,
        };
        Ok(Self { addr, prefix })
    }

    /// True when `ip` is in the network (an IPv4 address mapped into IPv6 counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                prefix_eq(u128::from(u32::from(net)) << 96, u128::from(u32::from(ip)) << 96, self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => prefix_eq(u128::from(net), u128::from(ip), self.prefix),
            _ => false,
        }
    }
}

fn prefix_eq(a: u128, b: u128, prefix: u8) -> bool {
    let mask = if prefix == 0 { 0 } else { u128::MAX << (128 - u32::from(prefix)) };
    a & mask == b & mask
}

impl std::fmt::Display for IpNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// The clients whose identity headers are believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdentityTrust {
    nets: Vec<IpNet>,
    common_names: Vec<String>,
}

impl IdentityTrust {
    /// From `--trust-identity-from`; when it is not given, loopback if the plain listener is
    /// on a loopback address without the PROXY protocol, else nobody.
    pub fn new(given: &[IdentitySource], listen: SocketAddr, proxy_protocol: bool) -> Self {
        let mut trust = Self::default();
        if given.is_empty() {
            if listen.ip().is_loopback() && !proxy_protocol {
                trust.nets = Self::loopback();
            }
            return trust;
        }
        for source in given {
            match source {
                IdentitySource::Net(net) => trust.nets.push(*net),
                IdentitySource::CommonName(cn) => trust.common_names.push(cn.clone()),
                IdentitySource::Nobody => {}
            }
        }
        trust
    }

    /// 127.0.0.0/8 and ::1.
    pub fn loopback() -> Vec<IpNet> {
        vec![
            IpNet { addr: IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 0)), prefix: 8 },
            IpNet { addr: IpAddr::V6(std::net::Ipv6Addr::LOCALHOST), prefix: 128 },
        ]
    }

    /// True when a client at `addr` (the PROXY protocol's address when the listener takes
    /// one), with the verified certificate subject `tls_subject` if any, is believed.
    pub fn trusts(&self, addr: IpAddr, tls_subject: Option<&str>) -> bool {
        self.nets.iter().any(|n| n.contains(addr))
            || tls_subject.and_then(common_name).is_some_and(|cn| self.common_names.iter().any(|c| *c == cn))
    }
}

/// The common name of a subject as `icap::tls` writes it (`CN=squid, O=Example`), when it
/// has exactly one: a CN value that itself holds `, CN=` would make two, and match nothing.
fn common_name(subject: &str) -> Option<&str> {
    let mut names = subject.split(", ").filter_map(|part| part.strip_prefix("CN="));
    let name = names.next()?;
    names.next().is_none().then_some(name)
}

impl std::fmt::Display for IdentityTrust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts: Vec<String> = self.nets.iter().map(ToString::to_string).collect();
        parts.extend(self.common_names.iter().map(|cn| format!("CN={cn}")));
        if parts.is_empty() {
            f.write_str("nobody")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn networks_names_and_the_default() {
        let sources: Vec<IdentitySource> = ["10.1.0.0/16", "192.0.2.7", "2001:db8::/32", "CN=squid"]
            .iter()
            .map(|s| IdentitySource::parse(s).unwrap())
            .collect();
        let trust = IdentityTrust::new(&sources, "0.0.0.0:1344".parse().unwrap(), false);
        assert!(trust.trusts(ip("10.1.200.3"), None));
        assert!(!trust.trusts(ip("10.2.0.1"), None));
        assert!(trust.trusts(ip("192.0.2.7"), None) && !trust.trusts(ip("192.0.2.8"), None));
        assert!(trust.trusts(ip("::ffff:192.0.2.7"), None), "IPv4 mapped into IPv6");
        assert!(trust.trusts(ip("2001:db8:5::1"), None) && !trust.trusts(ip("2001:db9::1"), None));
        assert!(!trust.trusts(ip("127.0.0.1"), None), "an explicit list replaces the default");
        assert!(trust.trusts(ip("198.51.100.1"), Some("CN=squid, O=Example")));
        assert!(trust.trusts(ip("198.51.100.1"), Some("O=Example, CN=squid")));
        assert!(!trust.trusts(ip("198.51.100.1"), Some("CN=squid2")));
        assert!(!trust.trusts(ip("198.51.100.1"), Some("CN=evil, CN=squid")), "a CN holding \", CN=\"");
        assert!(!trust.trusts(ip("198.51.100.1"), None));
        assert_eq!(trust.to_string(), "10.1.0.0/16, 192.0.2.7/32, 2001:db8::/32, CN=squid");

        // Default: loopback only for a loopback listener without PROXY.
        let local = IdentityTrust::new(&[], "127.0.0.1:1344".parse().unwrap(), false);
        assert!(local.trusts(ip("127.0.0.1"), None) && local.trusts(ip("::1"), None));
        assert!(!local.trusts(ip("192.0.2.7"), None));
        for (listen, proxy) in [("0.0.0.0:1344", false), ("127.0.0.1:1344", true)] {
            let trust = IdentityTrust::new(&[], listen.parse().unwrap(), proxy);
            assert!(!trust.trusts(ip("127.0.0.1"), None), "{listen} proxy={proxy}");
            assert_eq!(trust.to_string(), "nobody");
        }
        let none = IdentityTrust::new(
            &[IdentitySource::parse("none").unwrap()],
            "127.0.0.1:1".parse().unwrap(),
            false,
        );
        assert!(!none.trusts(ip("127.0.0.1"), None));
        for bad in ["10.0.0.0/33", "host.example", "CN=", "::1/129"] {
            assert!(IdentitySource::parse(bad).is_err(), "{bad}");
        }
    }
}
