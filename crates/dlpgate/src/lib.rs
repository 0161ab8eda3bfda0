//! dlpgate: an ICAP data-loss prevention server, a TLS tunnel and an ICAP client in one binary.
//!
//! # Layout
//!
//! - [`cli`]: the command line (clap), one subcommand per job.
//! - [`config_file`]: `serve --config FILE`, the TOML file behind every flag.
//! - [`serve`]: `dlpgate serve`: listeners, signals, graceful shutdown.
//! - [`dlp`]: the DLP service: engine on the body, block page, incidents, metrics.
//! - [`incidents`]: `dlpgate incidents list|show|export`.
//! - [`store`]: the incident store (SQLite, PostgreSQL), its journal for when the store is down,
//!   the recorder that makes each incident durable before its answer leaves, the
//!   delivery queue the SIEM sinks read, and the stored policy versions.
//! - [`fsat`]: file operations relative to directory descriptors that never follow a link
//!   nor replace a file (quarantine, key files, the data directory).
//! - [`tunnel`]: `dlpgate tunnel`, a stunnel-compatible TLS tunnel (stunnel.conf parser,
//!   verification mapping, byte-exact forwarding with failover and PROXY headers).
//! - [`edm`]: `dlpgate edm index|list|remove`: Exact Data Match indexes and their keys in the
//!   data directory, mapped for policies' `edm` rules.
//! - [`fingerprint`]: `dlpgate fingerprint add|list|remove`: document fingerprint indexes
//!   of protected documents in the data directory, mapped for policies' `fingerprint` rules.
//! - [`policy_cmd`]: `dlpgate policy check|test|default`, and `push|history`: the policy
//!   versions in the shared PostgreSQL store that nodes follow (`serve::follow`).
//! - [`metrics`]: the Prometheus endpoint.
//! - [`runtime`]: what long-running commands share: shutdown and reload signals, the TLS
//!   version flag.
//! - [`bench`](mod@bench): `dlpgate bench`, the ICAP load generator.
//! - [`cert`]: `dlpgate cert`: keys, certificates, a small CA, fingerprints.
//! - [`connector`]: `dlpgate connector add|list|show|remove|test`: named connections to
//!   external ICAP DLP servers in `connectors.toml`, and the connectivity test.
//! - [`client`]: the ICAP client side that `scan` and `connector test` share: server pool
//!   with balancing and failover, sending a file, reading a third-party answer into
//!   allow/block/error (profiles generic, symantec, dlpgate).
//! - [`scan`]: `dlpgate scan`: walk, balance and fail over across servers, output, quarantine,
//!   resume.
//! - [`manuals`]: `dlpgate completions SHELL` and `dlpgate man`, generated from [`cli`].
//! - [`index_files`]: index names and the read-only map EDM and fingerprint indexes share.
//! - [`siem`]: incidents as SIEMs read them (CEF, RFC 5424, ECS JSON), and the `serve --siem`
//!   sinks that deliver them at least once (syslog UDP/TCP/TLS, Splunk HEC, webhooks).
//! - [`console`]: the web console (`serve --console-listen`, `dlpgate console`): accounts,
//!   sessions (kept in the store), incidents with triage, export and full-text search, the
//!   policy and its tester, the dashboard with the server's live metrics, scan jobs.

pub mod bench;
pub mod cert;
pub mod cli;
pub mod client;
pub mod config_file;
pub mod connector;
pub mod console;
pub mod dlp;
pub mod edm;
pub mod fingerprint;
pub mod fsat;
pub mod incidents;
pub mod index_files;
pub mod manuals;
pub mod metrics;
pub mod policy_cmd;
pub mod runtime;
pub mod scan;
pub mod serve;
pub mod siem;
pub mod store;
pub mod tunnel;
