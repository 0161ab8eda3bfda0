//! dlpgate: an ICAP data-loss prevention server, a TLS tunnel and an ICAP client in one binary.
//!
//! # Layout
//!
//! - [`cli`]: the command line (clap), one subcommand per job.
//! - [`serve`]: `dlpgate serve`: listeners, signals, graceful shutdown.
//! - [`echo`]: the `echo` service, which changes nothing (for interop tests and benchmarks).
//! - [`tunnel`]: `dlpgate tunnel`, a stunnel-compatible TLS tunnel (stunnel.conf parser,
//!   verification mapping, byte-exact forwarding with failover and PROXY headers).
//! - [`metrics`]: the Prometheus endpoint.
//! - [`bench`]: `dlpgate bench`, the ICAP load generator.
//! - [`cert`]: `dlpgate cert`: keys, certificates, a small CA, fingerprints.

pub mod bench;
pub mod cert;
pub mod cli;
pub mod echo;
pub mod metrics;
pub mod serve;
pub mod tunnel;
