//! The tokio runtime for ICAP: a server that hands requests to a [`server::Service`], and a
//! pooling client. Both drive the sans-IO codec in `icap-proto`.
//!
//! # Layout
//!
//! - [`server`]: accept loop, connection limits, graceful shutdown ([`server::Server`]); the
//!   per-connection request loop; the [`server::Service`] trait and what a service returns;
//!   the bounds on what any client can cost: opening slots for unfinished handshakes
//!   (`opening`), body rate and request deadline (`pace`), the process-wide memory and spool
//!   budgets ([`server::ByteBudget`]).
//! - [`client`]: connection pool per server, OPTIONS cache, preview and 204 handling.
//! - [`tls`]: rustls settings for `icaps://`: credentials, client verification by chain or
//!   pinned key, permission and expiry checks, reload.
//! - [`watch`]: reload anything that lives in files (TLS credentials, a policy) when they
//!   change on disk.

pub mod client;
pub mod server;
pub mod tls;
pub mod watch;

pub use icap_proto as proto;
