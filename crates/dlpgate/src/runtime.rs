//! What every long-running command shares: the signals that stop and reload it, the open-files
//! limit, and the TLS version flag. Commands depend on this module; it depends on none of them.

use std::sync::Arc;

use icap::watch::Reload;

/// Product and version, as the `Server` header of answers and the `User-Agent` of requests
/// name it.
pub const PRODUCT: &str = concat!("dlpgate/", env!("CARGO_PKG_VERSION"));

/// Raises the soft open-files limit to the hard limit, so that many connections fit; gives
/// the limit now in force (0 when it cannot be read).
pub fn raise_nofile_limit() -> u64 {
    rlimit::increase_nofile_limit(u64::MAX).unwrap_or(0)
}

/// Parses `1.2` or `1.3` (also `TLSv1.2`, as stunnel writes it).
pub fn parse_tls_version(s: &str) -> Result<icap::tls::TlsVersion, String> {
    match s.trim_start_matches("TLSv").trim_start_matches("tlsv") {
        "1.2" => Ok(icap::tls::TlsVersion::Tls12),
        "1.3" => Ok(icap::tls::TlsVersion::Tls13),
        other => Err(format!("unsupported TLS version {other:?}: 1.2 or 1.3")),
    }
}

/// Reloads on SIGHUP (certificate, key and client bundle); a broken set keeps the old one.
pub async fn reload_on_sighup<R: Reload>(target: Arc<R>) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        tracing::error!("cannot listen for SIGHUP; TLS reload on signal is off");
        return;
    };
    while hup.recv().await.is_some() {
        match Reload::reload(target.as_ref()) {
            Ok(warnings) => {
                tracing::info!("SIGHUP: {} reloaded", target.what());
                for warning in warnings {
                    tracing::warn!("{warning}");
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "SIGHUP: {} reload refused; the previous ones stay", target.what())
            }
        }
    }
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for SIGTERM");
            std::future::pending::<()>().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: draining in-flight requests"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: draining in-flight requests"),
    }
}
