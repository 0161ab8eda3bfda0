//! The console's listener: HTTPS with rustls (plain HTTP on loopback only), HTTP/1.1 from
//! hyper, bounded connections, and deadlines on handshakes and request heads.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tower::ServiceExt;

use super::ConsoleListenArgs;

/// Connections served at once; more wait in the kernel's backlog.
pub const MAX_CONNECTIONS: usize = 256;
/// Time for a TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Time for a request head to arrive (slow-loris).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// The rustls config for --console-cert, or none for plain HTTP, which only a loopback
/// address may serve: a session cookie and passwords never cross a network in clear.
pub fn tls_config(
    addr: SocketAddr,
    args: &ConsoleListenArgs,
) -> anyhow::Result<Option<Arc<rustls::ServerConfig>>> {
    let Some(cert) = &args.console_cert else {
        if args.console_key.is_some() {
            bail!("--console-key needs --console-cert");
        }
        if !addr.ip().is_loopback() {
            bail!(
                "--console-listen {addr} is not a loopback address: the console serves plain HTTP on \
                 loopback only; give --console-cert and --console-key to serve HTTPS there"
            );
        }
        return Ok(None);
    };
    // The same loading as the icaps:// listener: a key others can read is refused.
    let (creds, warnings) = icap::tls::load_credentials(cert, args.console_key.as_deref())
        .context("loading the console's certificate and key")?;
    for warning in warnings {
        tracing::warn!("console TLS: {warning}");
    }
    let mut config =
        rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .context("console TLS versions")?
            .with_no_client_auth()
            .with_single_cert(creds.chain, creds.key)
            .context("the console's certificate and key do not make a usable pair")?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Some(Arc::new(config)))
}

/// Accepts connections forever, each served on its own task.
pub async fn serve(listener: TcpListener, tls: Option<Arc<rustls::ServerConfig>>, app: Router) {
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else { return };
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::debug!(error = %e, "console accept");
                // Out of descriptors, say: do not spin.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let (app, acceptor) = (app.clone(), acceptor.clone());
        tokio::spawn(async move {
            let _slot = slot;
            match acceptor {
                None => connection(TokioIo::new(stream), peer, app).await,
                Some(acceptor) => {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => connection(TokioIo::new(tls), peer, app).await,
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "console TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "console TLS handshake timed out"),
                    }
                }
            }
        });
    }
}

async fn connection<I>(io: TokioIo<I>, peer: SocketAddr, app: Router)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        app.clone().oneshot(request)
    });
    let served = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .serve_connection(io, service)
        .await;
    if let Err(e) = served {
        tracing::debug!(%peer, error = %e, "console connection");
    }
}
