//! stunnel.conf, read as stunnel reads it: global options, then `[service]` sections of
//! `key = value` lines, `;` or `#` comments, and `include` of a file or a folder of `.conf`
//! files. An option dlpgate does not support is an error naming its file and line: nothing is
//! silently ignored.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where an option came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The file.
    pub file: PathBuf,
    /// 1-based line number.
    pub line: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// A configuration error, with where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Where.
    pub origin: Option<Origin>,
    /// What.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.origin {
            Some(origin) => write!(f, "{origin}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

fn error(origin: &Origin, message: impl Into<String>) -> ConfigError {
    ConfigError { origin: Some(origin.clone()), message: message.into() }
}

/// Global options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Globals {
    /// `pid`: file to write the process id to (empty: none).
    pub pid: Option<PathBuf>,
    /// `foreground`: accepted for compatibility; dlpgate always runs in the foreground.
    pub foreground: Option<String>,
    /// `debug`: a syslog level name or number.
    pub debug: Option<String>,
    /// `output`: log file (stderr when absent).
    pub output: Option<PathBuf>,
}

/// How backends are chosen among several `connect` lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Failover {
    /// Round robin (stunnel's default).
    #[default]
    RoundRobin,
    /// In the order given: the first that answers.
    Priority,
}

/// One `[service]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceConf {
    /// The section name.
    pub name: String,
    /// Where the section starts.
    pub origin: Origin,
    /// `accept`: the address to listen on.
    pub accept: Option<String>,
    /// `connect`, in order (may repeat).
    pub connect: Vec<String>,
    /// `failover`.
    pub failover: Failover,
    /// `client = yes`: accept plain, connect with TLS. Otherwise accept TLS, connect plain.
    pub client: bool,
    /// `cert`.
    pub cert: Option<PathBuf>,
    /// `key` (defaults to `cert`).
    pub key: Option<PathBuf>,
    /// `CAfile`.
    pub ca_file: Option<PathBuf>,
    /// `verify` 0-4.
    pub verify: Option<u8>,
    /// `verifyChain`.
    pub verify_chain: Option<bool>,
    /// `verifyPeer`.
    pub verify_peer: Option<bool>,
    /// `requireCert`.
    pub require_cert: Option<bool>,
    /// `checkHost`.
    pub check_host: Option<String>,
    /// `sni`.
    pub sni: Option<String>,
    /// `sslVersionMin`.
    pub ssl_version_min: Option<String>,
    /// `sslVersionMax`.
    pub ssl_version_max: Option<String>,
    /// `ciphers` (TLS 1.2, OpenSSL names).
    pub ciphers: Option<(String, Origin)>,
    /// `ciphersuites` (TLS 1.3).
    pub ciphersuites: Option<(String, Origin)>,
    /// `TIMEOUTclose`.
    pub timeout_close: Duration,
    /// `TIMEOUTidle`.
    pub timeout_idle: Duration,
    /// `TIMEOUTconnect`.
    pub timeout_connect: Duration,
    /// `TIMEOUTbusy`.
    pub timeout_busy: Duration,
    /// `protocol = proxy`: send a PROXY protocol v1 header to the backend.
    pub proxy_protocol: bool,
}

/// stunnel's default `TIMEOUTclose`.
pub const DEFAULT_TIMEOUT_CLOSE: Duration = Duration::from_secs(60);
/// stunnel's default `TIMEOUTidle` (12 hours).
pub const DEFAULT_TIMEOUT_IDLE: Duration = Duration::from_secs(43_200);
/// stunnel's default `TIMEOUTconnect`.
pub const DEFAULT_TIMEOUT_CONNECT: Duration = Duration::from_secs(10);
/// stunnel's default `TIMEOUTbusy`.
pub const DEFAULT_TIMEOUT_BUSY: Duration = Duration::from_secs(300);

impl ServiceConf {
    fn new(name: String, origin: Origin, defaults: Option<&ServiceConf>) -> Self {
        match defaults {
            Some(d) => Self { name, origin, accept: None, connect: Vec::new(), ..d.clone() },
            None => Self {
                name,
                origin,
                accept: None,
                connect: Vec::new(),
                failover: Failover::default(),
                client: false,
                cert: None,
                key: None,
                ca_file: None,
                verify: None,
                verify_chain: None,
                verify_peer: None,
                require_cert: None,
                check_host: None,
                sni: None,
                ssl_version_min: None,
                ssl_version_max: None,
                ciphers: None,
                ciphersuites: None,
                timeout_close: DEFAULT_TIMEOUT_CLOSE,
                timeout_idle: DEFAULT_TIMEOUT_IDLE,
                timeout_connect: DEFAULT_TIMEOUT_CONNECT,
                timeout_busy: DEFAULT_TIMEOUT_BUSY,
                proxy_protocol: false,
            },
        }
    }
}

/// Longest timeout accepted: 10 years, far beyond any use, and small enough that the tunnel
/// can always add it to the clock (a larger one would overflow the deadline).
pub const MAX_TIMEOUT: Duration = Duration::from_secs(10 * 365 * 86_400);

/// A whole configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunnelConfig {
    /// Global options.
    pub globals: Globals,
    /// Services in file order.
    pub services: Vec<ServiceConf>,
}

/// Most nested `include`s followed, against include loops.
const MAX_INCLUDE_DEPTH: usize = 8;

/// Reads and checks a stunnel.conf file.
pub fn load(path: &Path) -> Result<TunnelConfig, ConfigError> {
    let mut parser =
        Parser { globals: Globals::default(), defaults: None, services: Vec::new(), current: None };
    parser.file(path, 0)?;
    parser.finish()
}

/// Parses stunnel.conf text (`path` is only used in messages and for relative includes).
pub fn parse(text: &str, path: &Path) -> Result<TunnelConfig, ConfigError> {
    let mut parser =
        Parser { globals: Globals::default(), defaults: None, services: Vec::new(), current: None };
    parser.text(text, path, 0)?;
    parser.finish()
}

struct Parser {
    globals: Globals,
    /// Service-level options given in the global section apply to every service.
    defaults: Option<ServiceConf>,
    services: Vec<ServiceConf>,
    current: Option<ServiceConf>,
}

impl Parser {
    fn file(&mut self, path: &Path, depth: usize) -> Result<(), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            origin: None,
            message: format!("cannot read {}: {e}", path.display()),
        })?;
        self.text(&text, path, depth)
    }

    fn text(&mut self, text: &str, path: &Path, depth: usize) -> Result<(), ConfigError> {
        for (i, raw) in text.lines().enumerate() {
            let origin = Origin { file: path.to_path_buf(), line: i + 1 };
            let line = raw.trim();
            if line.is_empty() || line.starts_with(';') || line.starts_with('#') {
                continue;
            }
            if let Some(name) = line.strip_prefix('[') {
                let name = name
                    .strip_suffix(']')
                    .ok_or_else(|| error(&origin, format!("malformed section header {line:?}")))?
                    .trim();
                if name.is_empty() {
                    return Err(error(&origin, "empty section name"));
                }
                if let Some(done) = self.current.take() {
                    self.services.push(done);
                }
                self.current = Some(ServiceConf::new(name.to_string(), origin, self.defaults.as_ref()));
                continue;
            }
            let (key, value) = line
                .split_once('=')
                .ok_or_else(|| error(&origin, format!("expected `option = value`: {line:?}")))?;
            let (key, value) = (key.trim(), value.trim());
            if key.eq_ignore_ascii_case("include") {
                self.include(value, path, depth, &origin)?;
                continue;
            }
            self.option(key, value, &origin)?;
        }
        Ok(())
    }

    fn include(
        &mut self,
        value: &str,
        from: &Path,
        depth: usize,
        origin: &Origin,
    ) -> Result<(), ConfigError> {
        if depth >= MAX_INCLUDE_DEPTH {
            return Err(error(origin, "includes nested too deeply (a loop?)"));
        }
        let target = from.parent().unwrap_or(Path::new(".")).join(value);
        if target.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(&target)
                .map_err(|e| error(origin, format!("cannot read {}: {e}", target.display())))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "conf"))
                .collect();
            files.sort();
            for file in files {
                self.file(&file, depth + 1)?;
            }
            Ok(())
        } else {
            self.file(&target, depth + 1).map_err(|e| match e.origin {
                None => error(origin, e.message),
                Some(_) => e,
            })
        }
    }

    fn option(&mut self, key: &str, value: &str, origin: &Origin) -> Result<(), ConfigError> {
        let lower = key.to_ascii_lowercase();
        // Global-only options.
        match lower.as_str() {
            "pid" | "foreground" | "debug" | "output" => {
                if self.current.is_some() && lower != "debug" {
                    return Err(error(
                        origin,
                        format!("`{key}` is a global option; move it above the first [section]"),
                    ));
                }
                match lower.as_str() {
                    "pid" => self.globals.pid = (!value.is_empty()).then(|| PathBuf::from(value)),
                    "foreground" => {
                        if !matches!(value.to_ascii_lowercase().as_str(), "yes" | "no" | "quiet") {
                            return Err(error(origin, "foreground must be yes, no or quiet"));
                        }
                        self.globals.foreground = Some(value.to_string());
                    }
                    "debug" => self.globals.debug = Some(value.to_string()),
                    _ => self.globals.output = Some(PathBuf::from(value)),
                }
                return Ok(());
            }
            _ => {}
        }
        let target = match &mut self.current {
            Some(service) => service,
            None => {
                self.defaults.get_or_insert_with(|| ServiceConf::new(String::new(), origin.clone(), None))
            }
        };
        apply_service_option(target, &lower, key, value, origin)
    }

    fn finish(mut self) -> Result<TunnelConfig, ConfigError> {
        if let Some(done) = self.current.take() {
            self.services.push(done);
        }
        if self.services.is_empty() {
            return Err(ConfigError { origin: None, message: "no [service] section".to_string() });
        }
        for s in &self.services {
            if s.accept.is_none() {
                return Err(error(&s.origin, format!("[{}] has no `accept`", s.name)));
            }
            if s.connect.is_empty() {
                return Err(error(&s.origin, format!("[{}] has no `connect`", s.name)));
            }
            if !s.client && s.cert.is_none() {
                return Err(error(&s.origin, format!("[{}] is a TLS server and needs `cert`", s.name)));
            }
        }
        Ok(TunnelConfig { globals: self.globals, services: self.services })
    }
}

fn apply_service_option(
    s: &mut ServiceConf,
    lower: &str,
    key: &str,
    value: &str,
    origin: &Origin,
) -> Result<(), ConfigError> {
    match lower {
        "accept" => s.accept = Some(value.to_string()),
        "connect" => s.connect.push(value.to_string()),
        "failover" => {
            s.failover = match value.to_ascii_lowercase().as_str() {
                "rr" => Failover::RoundRobin,
                "prio" => Failover::Priority,
                _ => return Err(error(origin, "failover must be rr or prio")),
            }
        }
        "client" => s.client = yes_no(value, origin)?,
        "cert" => s.cert = Some(PathBuf::from(value)),
        "key" => s.key = Some(PathBuf::from(value)),
        "cafile" => s.ca_file = Some(PathBuf::from(value)),
        "verify" => match value.parse::<u8>() {
            Ok(n) if n <= 4 => s.verify = Some(n),
            _ => return Err(error(origin, "verify must be a number from 0 to 4")),
        },
        "verifychain" => s.verify_chain = Some(yes_no(value, origin)?),
        "verifypeer" => s.verify_peer = Some(yes_no(value, origin)?),
        "requirecert" => s.require_cert = Some(yes_no(value, origin)?),
        "checkhost" => s.check_host = Some(value.to_string()),
        "sni" => s.sni = Some(value.to_string()),
        "sslversionmin" => s.ssl_version_min = Some(value.to_string()),
        "sslversionmax" => s.ssl_version_max = Some(value.to_string()),
        "ciphers" => s.ciphers = Some((value.to_string(), origin.clone())),
        "ciphersuites" => s.ciphersuites = Some((value.to_string(), origin.clone())),
        "timeoutclose" => s.timeout_close = seconds(value, origin)?,
        "timeoutidle" => s.timeout_idle = seconds(value, origin)?,
        "timeoutconnect" => s.timeout_connect = seconds(value, origin)?,
        "timeoutbusy" => s.timeout_busy = seconds(value, origin)?,
        "protocol" => {
            if value.eq_ignore_ascii_case("proxy") {
                s.proxy_protocol = true;
            } else {
                return Err(error(origin, format!("protocol = {value} is not supported (only proxy)")));
            }
        }
        _ => return Err(error(origin, format!("option `{key}` is not supported by dlpgate tunnel"))),
    }
    Ok(())
}

fn yes_no(value: &str, origin: &Origin) -> Result<bool, ConfigError> {
    match value.to_ascii_lowercase().as_str() {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err(error(origin, format!("expected yes or no, got {value:?}"))),
    }
}

fn seconds(value: &str, origin: &Origin) -> Result<Duration, ConfigError> {
    let secs = value
        .parse::<u64>()
        .map_err(|_| error(origin, format!("expected a number of seconds, got {value:?}")))?;
    if secs > MAX_TIMEOUT.as_secs() {
        return Err(error(
            origin,
            format!("a timeout is at most {} seconds (10 years)", MAX_TIMEOUT.as_secs()),
        ));
    }
    Ok(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seeds_file_parses() {
        let text = "[microsoft-cas]\naccept = 0.0.0.0:11344\nconnect = 10.0.0.5:1344\ncert = /etc/ssl/private/stunnel-key.pem\nCAfile = /etc/ssl/certs/CAfile.pem\nTIMEOUTclose = 1\n";
        let c = parse(text, Path::new("stunnel.conf")).unwrap();
        let s = &c.services[0];
        assert_eq!(s.name, "microsoft-cas");
        assert_eq!(s.accept.as_deref(), Some("0.0.0.0:11344"));
        assert_eq!(s.connect, ["10.0.0.5:1344"]);
        assert_eq!(s.timeout_close, Duration::from_secs(1));
        assert_eq!(s.verify, None);
        assert!(!s.client);
    }

    #[test]
    fn unsupported_options_name_their_line() {
        let text = "foreground = yes\n\n[s]\naccept = 1\nconnect = 2\ncert = c\nsetuid = stunnel4\n";
        let e = parse(text, Path::new("x.conf")).unwrap_err();
        assert_eq!(e.origin.as_ref().map(|o| o.line), Some(7));
        assert!(e.to_string().contains("x.conf:7") && e.to_string().contains("setuid"), "{e}");
    }

    #[test]
    fn globals_defaults_and_repeated_connect() {
        let text = "; comment\npid =\ndebug = info\nverify = 2\n[a]\nclient = yes\naccept = 127.0.0.1:1\nconnect = h1:1\nconnect = h2:1\nfailover = prio\nprotocol = proxy\n";
        let c = parse(text, Path::new("x.conf")).unwrap();
        assert_eq!(c.globals.pid, None);
        let s = &c.services[0];
        assert_eq!(s.verify, Some(2), "service options in the global section apply to services");
        assert_eq!(s.connect.len(), 2);
        assert_eq!(s.failover, Failover::Priority);
        assert!(s.proxy_protocol && s.client);
    }

    #[test]
    fn malformed_lines_are_errors() {
        for text in [
            "[s\naccept=1",
            "[s]\njunk",
            "[s]\nverify = 7",
            "[s]\nclient = maybe",
            "[s]\naccept = 1\ncert = c\n",
        ] {
            assert!(parse(text, Path::new("x")).is_err(), "{text:?}");
        }
    }

    #[test]
    fn timeouts_beyond_any_deadline_are_refused() {
        // The tunnel adds its timeouts to the clock; a value it cannot add would panic there.
        for option in ["TIMEOUTclose", "TIMEOUTidle", "TIMEOUTconnect", "TIMEOUTbusy"] {
            let text = format!("[s]\naccept = 1\nconnect = 2\ncert = c\n{option} = 18446744073709551615\n");
            let e = parse(&text, Path::new("x.conf")).unwrap_err();
            assert_eq!(e.origin.as_ref().map(|o| o.line), Some(5), "{option}");
            assert!(e.message.contains("at most"), "{option}: {e}");
        }
        let text =
            format!("[s]\naccept = 1\nconnect = 2\ncert = c\nTIMEOUTidle = {}\n", MAX_TIMEOUT.as_secs());
        let idle = parse(&text, Path::new("x.conf")).unwrap().services[0].timeout_idle;
        assert!(std::time::Instant::now().checked_add(idle + idle).is_some());
    }
}
