//! What `serve --siem URL [--siem-format F]` names: a receiver (syslog over UDP, TCP or TLS,
//! Splunk's HTTP Event Collector, or a JSON webhook) and the format of what it is sent.

use std::path::PathBuf;

use hyper::Uri;

/// The format of each incident sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
#[non_exhaustive]
pub enum SiemFormat {
    /// ArcSight CEF 0 (in the syslog message's text for syslog sinks).
    Cef,
    /// RFC 5424 with the incident as structured data.
    Rfc5424,
    /// JSON with Elastic Common Schema field names.
    Json,
}

/// Where incidents go.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Receiver {
    /// `syslog+udp://host:port`: one datagram per message, best effort.
    SyslogUdp(HostPort),
    /// `syslog+tcp://host:port`: RFC 6587 octet counting.
    SyslogTcp(HostPort),
    /// `syslog+tls://host:port`: RFC 5425 (octet counting inside TLS).
    SyslogTls(HostPort),
    /// `https://…/services/collector/event` (or `http://` to loopback): Splunk HEC.
    SplunkHec(HttpTarget),
    /// Any other `https://…` (or `http://` to loopback): a JSON webhook.
    Webhook(HttpTarget),
}

/// A host name or address and a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPort {
    /// Host name or IP address (without brackets).
    pub host: String,
    /// Port.
    pub port: u16,
}

impl std::fmt::Display for HostPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// An HTTP(S) endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpTarget {
    /// The whole URL.
    pub uri: Uri,
    /// Where to connect.
    pub addr: HostPort,
    /// TLS (https) or plain HTTP (loopback only).
    pub tls: bool,
}

/// The default syslog-over-TLS port (RFC 5425).
pub const SYSLOG_TLS_PORT: u16 = 6514;
/// The default syslog port over UDP and TCP.
pub const SYSLOG_PORT: u16 = 514;
/// The path that makes an https URL a Splunk HEC endpoint.
pub const HEC_PATH: &str = "/services/collector/event";

impl Receiver {
    /// Parses a `--siem` URL. Plain `http://` is refused unless its host is loopback: a
    /// token and incidents do not cross a network in clear.
    pub fn parse(url: &str) -> Result<Self, String> {
        let uri: Uri = url.parse().map_err(|e| format!("--siem {url:?}: not a URL: {e}"))?;
        let scheme = uri.scheme_str().unwrap_or_default().to_ascii_lowercase();
        let authority = uri.authority().ok_or_else(|| format!("--siem {url:?}: no host"))?;
        if authority.as_str().contains('@') {
            return Err(format!(
                "--siem {url:?}: credentials go in a token file (--siem-token-file), not the URL"
            ));
        }
        let host = authority.host().trim_start_matches('[').trim_end_matches(']').to_string();
        if host.is_empty() {
            return Err(format!("--siem {url:?}: no host"));
        }
        let with_port =
            |default: u16| HostPort { host: host.clone(), port: authority.port_u16().unwrap_or(default) };
        let path = uri.path();
        let no_path = || {
            if path.is_empty() || path == "/" {
                Ok(())
            } else {
                Err(format!("--siem {url:?}: a syslog URL has no path"))
            }
        };
        match scheme.as_str() {
            "syslog+udp" => no_path().map(|()| Self::SyslogUdp(with_port(SYSLOG_PORT))),
            "syslog+tcp" => no_path().map(|()| Self::SyslogTcp(with_port(SYSLOG_PORT))),
            "syslog+tls" => no_path().map(|()| Self::SyslogTls(with_port(SYSLOG_TLS_PORT))),
            "https" | "http" => {
                let tls = scheme == "https";
                if !tls && !is_loopback(&host) {
                    return Err(format!("--siem {url:?}: plain http only to a loopback address; use https"));
                }
                let target =
                    HttpTarget { uri: uri.clone(), addr: with_port(if tls { 443 } else { 80 }), tls };
                if path.trim_end_matches('/') == HEC_PATH {
                    Ok(Self::SplunkHec(target))
                } else {
                    Ok(Self::Webhook(target))
                }
            }
            other => Err(format!(
                "--siem {url:?}: unknown scheme {other:?} (syslog+udp, syslog+tcp, syslog+tls, https)"
            )),
        }
    }

    /// The format used when `--siem-format` does not say: RFC 5424 for syslog, JSON for HTTP.
    pub fn default_format(&self) -> SiemFormat {
        match self {
            Self::SyslogUdp(_) | Self::SyslogTcp(_) | Self::SyslogTls(_) => SiemFormat::Rfc5424,
            Self::SplunkHec(_) | Self::Webhook(_) => SiemFormat::Json,
        }
    }

    /// True for the sinks that send a token.
    pub fn is_http(&self) -> bool {
        matches!(self, Self::SplunkHec(_) | Self::Webhook(_))
    }

    /// True for the sinks that speak TLS.
    pub fn is_tls(&self) -> bool {
        match self {
            Self::SyslogTls(_) => true,
            Self::SplunkHec(t) | Self::Webhook(t) => t.tls,
            _ => false,
        }
    }
}

/// True when `host` is a loopback address or `localhost`.
fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|a| a.is_loopback())
}

/// One sink as configured.
#[derive(Debug, Clone)]
pub struct SinkSpec {
    /// Its name in metrics, logs and the cursor table: the URL without its query.
    pub name: String,
    /// Where to.
    pub receiver: Receiver,
    /// What format.
    pub format: SiemFormat,
    /// The HEC or bearer token file (HTTP sinks).
    pub token_file: Option<PathBuf>,
}

/// Pairs `--siem` URLs with `--siem-format`s (in order; a sink without one gets its scheme's
/// default) and the HTTP sinks with `--siem-token-file`s (in order of the HTTP sinks).
pub fn sink_specs(
    urls: &[String],
    formats: &[SiemFormat],
    token_files: &[PathBuf],
) -> Result<Vec<SinkSpec>, String> {
    if formats.len() > urls.len() {
        return Err(format!(
            "{} --siem-format for {} --siem: one at most per sink",
            formats.len(),
            urls.len()
        ));
    }
    let mut tokens = token_files.iter();
    let mut specs: Vec<SinkSpec> = Vec::with_capacity(urls.len());
    for (n, url) in urls.iter().enumerate() {
        let receiver = Receiver::parse(url)?;
        let name = url.split(['?', '#']).next().unwrap_or(url).to_string();
        if specs.iter().any(|s| s.name == name) {
            return Err(format!("--siem {name} given twice"));
        }
        let token_file = if receiver.is_http() {
            Some(tokens.next().cloned().ok_or_else(|| {
                format!("--siem {name}: an HTTP sink needs its --siem-token-file (in the order of the HTTP sinks)")
            })?)
        } else {
            None
        };
        let format = formats.get(n).copied().unwrap_or_else(|| receiver.default_format());
        specs.push(SinkSpec { name, receiver, format, token_file });
    }
    if tokens.next().is_some() {
        return Err("more --siem-token-file than HTTP --siem sinks".to_string());
    }
    Ok(specs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_their_receivers() {
        let hp = |h: &str, p| HostPort { host: h.into(), port: p };
        assert_eq!(
            Receiver::parse("syslog+udp://10.0.0.1").unwrap(),
            Receiver::SyslogUdp(hp("10.0.0.1", 514))
        );
        assert_eq!(Receiver::parse("syslog+tcp://siem:1514").unwrap(), Receiver::SyslogTcp(hp("siem", 1514)));
        assert_eq!(Receiver::parse("syslog+tls://[::1]").unwrap(), Receiver::SyslogTls(hp("::1", 6514)));
        let Receiver::SplunkHec(t) = Receiver::parse("https://splunk:8088/services/collector/event").unwrap()
        else {
            panic!("not HEC")
        };
        assert_eq!((t.addr, t.tls), (hp("splunk", 8088), true));
        assert!(matches!(Receiver::parse("https://hooks.example/dlp?x=1").unwrap(), Receiver::Webhook(_)));
        assert!(matches!(Receiver::parse("http://127.0.0.1:8080/hook").unwrap(), Receiver::Webhook(_)));
        assert!(matches!(
            Receiver::parse("http://localhost/services/collector/event").unwrap(),
            Receiver::SplunkHec(_)
        ));
    }

    #[test]
    fn bad_urls_are_refused_with_a_reason() {
        for (url, why) in [
            ("http://10.1.2.3/hook", "loopback"),
            ("ftp://x/", "unknown scheme"),
            ("syslog+tcp://x:514/path", "no path"),
            ("https://user:pw@x/hook", "token file"),
            ("not a url", "not a URL"),
            ("syslog+tcp://:514", "no host"),
        ] {
            let e = Receiver::parse(url).unwrap_err();
            assert!(e.contains(why), "{url}: {e}");
        }
    }

    #[test]
    fn formats_and_tokens_pair_in_order() {
        let urls: Vec<String> = ["syslog+tcp://a:1", "https://b/services/collector/event", "https://c/hook"]
            .map(String::from)
            .into();
        let tokens = [PathBuf::from("/hec"), PathBuf::from("/hook")];
        let specs = sink_specs(&urls, &[SiemFormat::Cef], &tokens).unwrap();
        assert_eq!(specs[0].format, SiemFormat::Cef);
        assert_eq!(specs[1].format, SiemFormat::Json);
        assert_eq!(specs[0].token_file, None);
        assert_eq!(specs[1].token_file.as_deref(), Some(std::path::Path::new("/hec")));
        assert_eq!(specs[2].token_file.as_deref(), Some(std::path::Path::new("/hook")));
        assert!(sink_specs(&urls, &[], &tokens[..1]).unwrap_err().contains("--siem-token-file"));
        assert!(sink_specs(&urls[..1], &[SiemFormat::Cef, SiemFormat::Json], &[]).is_err());
        assert!(sink_specs(&[urls[0].clone(), urls[0].clone()], &[], &[]).unwrap_err().contains("twice"));
    }
}
