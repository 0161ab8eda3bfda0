//! A connector (the CASB's "external DLP" connection) and the `connectors.toml` file that holds
//! them: serde, then [`Connector::validate`], as the rest of the configuration.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use icap::client::{ClientConfig, IcapUri};
use icap_proto::Method;
use serde::{Deserialize, Serialize};

use crate::client::verdict::Profile;

/// File name of the connectors file in the configuration directory.
pub const CONNECTORS_FILE: &str = "connectors.toml";
/// Default weight of a server.
pub const DEFAULT_WEIGHT: u32 = 1;
/// Largest weight of a server.
pub const MAX_WEIGHT: u32 = 1000;
/// Default connect (and TLS handshake) timeout, seconds.
pub const DEFAULT_CONNECT_TIMEOUT_SECS: u64 = 5;
/// Default read timeout, seconds.
pub const DEFAULT_READ_TIMEOUT_SECS: u64 = 60;
/// Largest pipeline depth a connector may ask for.
pub const MAX_PIPELINE: usize = 64;
/// Largest connectors file read.
pub const MAX_FILE_SIZE: u64 = 1024 * 1024;
/// How long a pin added without `--pin-not-after` is trusted, days: a pin is an exception to
/// the CA's word and should be looked at again, at least yearly.
pub const DEFAULT_PIN_DAYS: i64 = 365;

/// The ICAP method a connector uses: the seed's "Generic ICAP – REQMOD" or "– RESPMOD".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Files go as uploads (an HTTP POST whose body is the file).
    #[default]
    Reqmod,
    /// Files go as downloads (an HTTP 200 response whose body is the file).
    Respmod,
}

impl Kind {
    /// The ICAP method.
    pub fn method(self) -> Method {
        match self {
            Self::Reqmod => Method::Reqmod,
            Self::Respmod => Method::Respmod,
        }
    }
}

/// What happens to a file that no server could judge. It gets the verdict `error` either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum FailurePolicy {
    /// Treat it as blocked (the safe default).
    #[default]
    FailClosed,
    /// Treat it as allowed.
    FailOpen,
}

impl FailurePolicy {
    /// The action a caller takes on an `error` file: `block` or `allow`.
    pub fn action(self) -> &'static str {
        match self {
            Self::FailClosed => "block",
            Self::FailOpen => "allow",
        }
    }
}

/// One server of a connector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    /// `icap://host:port/service` or `icaps://...`.
    pub uri: String,
    /// Share of the work, relative to the other servers.
    #[serde(default = "default_weight")]
    pub weight: u32,
}

fn default_weight() -> u32 {
    DEFAULT_WEIGHT
}

impl Server {
    /// Parses `URI` or `URI;weight=N`.
    pub fn parse_arg(s: &str) -> Result<Self, String> {
        let (uri, weight) = match s.split_once(";weight=") {
            Some((uri, w)) => (uri, w.parse::<u32>().map_err(|_| format!("bad weight in {s:?}"))?),
            None => (s, DEFAULT_WEIGHT),
        };
        uri.parse::<IcapUri>()?;
        Ok(Self { uri: uri.to_string(), weight })
    }

    /// The parsed address.
    pub fn icap_uri(&self) -> anyhow::Result<IcapUri> {
        self.uri.parse::<IcapUri>().map_err(anyhow::Error::msg)
    }
}

/// TLS settings for `icaps://` servers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// The server's certificate (pinned) or the CA that issued it, PEM.
    pub trust: Option<PathBuf>,
    /// Client certificate chain to present (or a combined key+cert PEM).
    pub client_cert: Option<PathBuf>,
    /// Its private key (default: read from `client_cert`).
    pub client_key: Option<PathBuf>,
    /// Name sent as SNI (default: `server_name`, else the server's host).
    pub sni: Option<String>,
    /// Name (DNS name or IP address) the server certificate must carry; none checks the
    /// server's host (or `sni`). Files of earlier versions call it `check_host`.
    #[serde(default, alias = "check_host", skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// Pinned server keys (for self-signed servers), each trusted until its own date.
    #[serde(default, rename = "pin", skip_serializing_if = "Vec::is_empty")]
    pub pins: Vec<PinSetting>,
}

/// A pinned server key as the connectors file keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinSetting {
    /// `sha256:` and the SPKI SHA-256 in hex (`dlpgate cert show`, `connector test` print it).
    pub sha256: String,
    /// The last moment the pin is trusted, RFC 3339 (set when the pin is added).
    pub not_after: String,
}

impl PinSetting {
    /// A pin from `--pin` and `--pin-not-after` (a date or RFC 3339 time; default: now plus
    /// [`DEFAULT_PIN_DAYS`]).
    pub fn new(pin: &str, not_after: Option<&str>) -> anyhow::Result<Self> {
        let until = match not_after {
            Some(text) => parse_pin_date(text)?,
            None => time::OffsetDateTime::now_utc() + time::Duration::days(DEFAULT_PIN_DAYS),
        };
        let parsed = icap::tls::Pin::parse(pin, until.unix_timestamp()).map_err(anyhow::Error::msg)?;
        let not_after = until
            .format(&time::format_description::well_known::Rfc3339)
            .context("formatting the pin date")?;
        Ok(Self { sha256: parsed.to_string(), not_after })
    }

    /// The pin.
    pub fn pin(&self) -> anyhow::Result<icap::tls::Pin> {
        let until =
            time::OffsetDateTime::parse(&self.not_after, &time::format_description::well_known::Rfc3339)
                .with_context(|| {
                    format!("pin {}: not_after {:?} is not an RFC 3339 time", self.sha256, self.not_after)
                })?;
        icap::tls::Pin::parse(&self.sha256, until.unix_timestamp()).map_err(anyhow::Error::msg)
    }
}

/// `2027-01-01` (the end of that day, UTC) or an RFC 3339 time.
pub fn parse_pin_date(text: &str) -> anyhow::Result<time::OffsetDateTime> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(t) = time::OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(t);
    }
    let day = time::Date::parse(text, time::macros::format_description!("[year]-[month]-[day]"))
        .with_context(|| format!("--pin-not-after {text:?}: expected YYYY-MM-DD or an RFC 3339 time"))?;
    Ok(day.with_time(time::Time::from_hms(23, 59, 59).unwrap_or(time::Time::MIDNIGHT)).assume_utc())
}

impl Tls {
    /// The SNI name: `sni`, else `server_name` (an IP address is never sent as SNI).
    pub fn sni_name(&self) -> Option<String> {
        self.sni.clone().or_else(|| self.server_name.clone())
    }
}

/// A named connection to one or more ICAP servers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Connector {
    /// Its name.
    pub name: String,
    /// reqmod or respmod.
    #[serde(rename = "type")]
    pub kind: Kind,
    /// The servers, balanced by weight.
    pub servers: Vec<Server>,
    /// TLS settings.
    #[serde(default)]
    pub tls: Tls,
    /// Connect and TLS handshake timeout, seconds.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: u64,
    /// Read timeout, seconds.
    #[serde(default = "default_read_timeout")]
    pub read_timeout: u64,
    /// Preview size; none takes the server's.
    #[serde(default)]
    pub preview: Option<usize>,
    /// Small files pipelined on one connection at most (1: none); none takes what the server
    /// announces in `X-Pipeline-Depth` (dlpgate serve does), else none. Set it only for a
    /// server that reads pipelined requests reliably.
    #[serde(default)]
    pub pipeline: Option<usize>,
    /// fail-closed or fail-open.
    #[serde(default)]
    pub failure: FailurePolicy,
    /// How answers are read.
    #[serde(default)]
    pub profile: Profile,
}

fn default_connect_timeout() -> u64 {
    DEFAULT_CONNECT_TIMEOUT_SECS
}

fn default_read_timeout() -> u64 {
    DEFAULT_READ_TIMEOUT_SECS
}

impl Connector {
    /// Checks what serde cannot: a name, servers with valid addresses and weights, TLS files
    /// for icaps.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.name.is_empty() || self.name.chars().any(|c| c.is_control()) {
            bail!("a connector needs a printable name");
        }
        if self.servers.is_empty() {
            bail!("connector {:?} has no server", self.name);
        }
        for server in &self.servers {
            let uri = server.icap_uri().with_context(|| format!("connector {:?}", self.name))?;
            if server.weight == 0 || server.weight > MAX_WEIGHT {
                bail!("connector {:?}: weight of {} must be 1..={MAX_WEIGHT}", self.name, server.uri);
            }
            if uri.tls && self.tls.trust.is_none() && self.tls.pins.is_empty() {
                bail!(
                    "connector {:?}: {} is icaps:// but no trusted server certificate or CA is set (--trust FILE, or --pin sha256:... for a self-signed server)",
                    self.name,
                    server.uri
                );
            }
        }
        if self.pipeline.is_some_and(|n| n == 0 || n > MAX_PIPELINE) {
            bail!("connector {:?}: pipeline must be 1..={MAX_PIPELINE}", self.name);
        }
        if self.connect_timeout == 0 || self.read_timeout == 0 {
            bail!("connector {:?}: timeouts must be at least 1 second", self.name);
        }
        for name in self.tls.server_name.iter().chain(&self.tls.sni) {
            rustls_pki_types::ServerName::try_from(name.as_str())
                .map_err(|e| anyhow::anyhow!("connector {:?}: server name {name:?}: {e}", self.name))?;
        }
        for pin in &self.tls.pins {
            pin.pin().with_context(|| format!("connector {:?}", self.name))?;
        }
        Ok(())
    }

    /// True when a server uses icaps.
    pub fn uses_tls(&self) -> bool {
        self.servers.iter().any(|s| s.uri.starts_with("icaps://"))
    }

    /// The rustls settings, when a server uses icaps: the server's name is checked (the
    /// `server_name`, else the name connected to), pins within their dates.
    pub fn tls_settings(&self) -> anyhow::Result<icap::tls::TlsClientSettings> {
        Ok(icap::tls::TlsClientSettings {
            trust: self.tls.trust.clone(),
            cert: self.tls.client_cert.clone(),
            key: self.tls.client_key.clone(),
            pins: self.tls.pins.iter().map(PinSetting::pin).collect::<anyhow::Result<_>>()?,
            name_check: match &self.tls.server_name {
                Some(name) => icap::tls::NameCheck::Name(name.clone()),
                None => icap::tls::NameCheck::ServerName,
            },
            ..Default::default()
        })
    }

    /// The client settings: timeouts, preview, TLS.
    pub fn client_config(&self) -> anyhow::Result<ClientConfig> {
        let mut config = ClientConfig {
            connect_timeout: Duration::from_secs(self.connect_timeout),
            read_timeout: Duration::from_secs(self.read_timeout),
            user_agent: crate::runtime::PRODUCT.to_string(),
            ..ClientConfig::default()
        };
        if self.uses_tls() {
            let (tls, warnings) = self.tls_settings()?.build().context("TLS settings")?;
            for w in warnings {
                tracing::warn!(connector = %self.name, "{w}");
            }
            config.tls = Some(tls);
        }
        Ok(config)
    }

    /// A connector made of `--server` options given on the command line.
    pub fn ad_hoc(servers: Vec<Server>, kind: Kind, tls: Tls) -> Self {
        Self {
            name: "command line".to_string(),
            kind,
            servers,
            tls,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT_SECS,
            read_timeout: DEFAULT_READ_TIMEOUT_SECS,
            preview: None,
            pipeline: None,
            failure: FailurePolicy::default(),
            profile: Profile::default(),
        }
    }
}

/// The connectors file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectorsFile {
    /// The connectors, in the order they were added.
    #[serde(default, rename = "connector")]
    pub connectors: Vec<Connector>,
}

impl ConnectorsFile {
    /// Reads the file; a missing file is an empty list.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        if meta.len() > MAX_FILE_SIZE {
            bail!("{} is over {MAX_FILE_SIZE} bytes", path.display());
        }
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let file: Self = toml::from_str(&text).with_context(|| format!("{}", path.display()))?;
        for c in &file.connectors {
            c.validate().with_context(|| format!("{}", path.display()))?;
        }
        Ok(file)
    }

    /// Writes the file atomically (temporary file, then rename), readable by its owner only.
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        use std::io::Write;
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("creating {}", dir.display()))?;
        let text = toml::to_string_pretty(self).context("serialising the connectors")?;
        let mut tmp =
            tempfile::NamedTempFile::new_in(dir).with_context(|| format!("writing in {}", dir.display()))?;
        tmp.write_all(b"# dlpgate connectors: edit with `dlpgate connector add|remove`, or by hand.\n\n")?;
        tmp.write_all(text.as_bytes())?;
        tmp.as_file().set_permissions(std::fs::Permissions::from_mode(0o600))?;
        tmp.persist(path).with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }

    /// The connector called `name`.
    pub fn find(&self, name: &str) -> Option<&Connector> {
        self.connectors.iter().find(|c| c.name == name)
    }
}

/// The configuration directory: `--config-dir` / `DLPGATE_CONFIG_DIR`, else
/// `$XDG_CONFIG_HOME/dlpgate`, else `~/.config/dlpgate`, else `./.dlpgate`.
pub fn config_dir(explicit: Option<&Path>) -> PathBuf {
    if let Some(dir) = explicit {
        return dir.to_path_buf();
    }
    if let Some(xdg) = std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(xdg).join("dlpgate");
    }
    if let Some(home) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(home).join(".config").join("dlpgate");
    }
    PathBuf::from(".dlpgate")
}

/// Loads the connector `name` from the configuration directory.
pub fn load_named(dir: &Path, name: &str) -> anyhow::Result<Connector> {
    let path = dir.join(CONNECTORS_FILE);
    let file = ConnectorsFile::load(&path)?;
    match file.find(name) {
        Some(c) => Ok(c.clone()),
        None => {
            let names: Vec<&str> = file.connectors.iter().map(|c| c.name.as_str()).collect();
            bail!(
                "no connector {name:?} in {} (known: {}); add one with `dlpgate connector add`",
                path.display(),
                if names.is_empty() { "none".to_string() } else { names.join(", ") }
            )
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn round_trip_and_validate() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c").join(CONNECTORS_FILE);
        let mut file = ConnectorsFile::default();
        file.connectors.push(Connector::ad_hoc(
            vec![Server::parse_arg("icap://127.0.0.1:1344/reqmod;weight=3").unwrap()],
            Kind::Reqmod,
            Tls::default(),
        ));
        file.save(&path).unwrap();
        let back = ConnectorsFile::load(&path).unwrap();
        assert_eq!(back, file);
        assert_eq!(back.connectors[0].servers[0].weight, 3);
    }

    #[test]
    fn icaps_needs_trust() {
        let c = Connector::ad_hoc(
            vec![Server::parse_arg("icaps://h/reqmod").unwrap()],
            Kind::Reqmod,
            Tls::default(),
        );
        assert!(c.validate().unwrap_err().to_string().contains("--trust"));
        assert!(Server::parse_arg("http://x").is_err());
        assert!(Server::parse_arg("icap://x/s;weight=a").is_err());
    }
}
