//! How the client opens a byte stream to a server: [`Dialer`], with [`TcpDialer`] (TCP,
//! and rustls for `icaps://`) as the default. Another transport (a proxy, a test double that
//! counts or breaks connections) plugs in with [`Client::with_dialer`].
//!
//! [`Client::with_dialer`]: super::Client::with_dialer

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use tokio::net::TcpStream;

use super::{ClientConfig, ClientError, IcapUri};
use crate::server::Io;

/// What [`Dialer::connect`] returns: a boxed stream, ready for ICAP bytes.
pub type Dialing<'a> = Pin<Box<dyn Future<Output = Result<Box<dyn Io>, ClientError>> + Send + 'a>>;

/// Opens connections. Implementations apply `config.connect_timeout` themselves.
pub trait Dialer: Send + Sync + fmt::Debug + 'static {
    /// A new connection to `uri`'s server (the service part is not needed here).
    fn connect<'a>(&'a self, uri: &'a IcapUri, config: &'a ClientConfig) -> Dialing<'a>;
}

/// TCP with `TCP_NODELAY`; for `icaps://`, a rustls handshake with [`ClientConfig::tls`].
#[derive(Debug, Clone, Copy, Default)]
pub struct TcpDialer;

impl Dialer for TcpDialer {
    fn connect<'a>(&'a self, uri: &'a IcapUri, config: &'a ClientConfig) -> Dialing<'a> {
        Box::pin(connect_tcp(uri, config))
    }
}

async fn connect_tcp(uri: &IcapUri, config: &ClientConfig) -> Result<Box<dyn Io>, ClientError> {
    let server = uri.authority();
    let stream = match tokio::time::timeout(config.connect_timeout, TcpStream::connect(&server)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Err(ClientError::connect_failed(&server, e)),
        Err(_) => {
            return Err(ClientError::timeout(
                &server,
                format!("no answer to connect within {:?}", config.connect_timeout),
            ))
        }
    };
    let _ = stream.set_nodelay(true);
    if !uri.tls {
        return Ok(Box::new(stream));
    }
    let Some(tls) = &config.tls else {
        return Err(ClientError::tls(&server, "icaps:// needs TLS settings (a trusted certificate or CA)"));
    };
    let name = rustls_pki_types::ServerName::try_from(uri.host.clone())
        .map_err(|e| ClientError::tls(&server, format!("bad server name {}: {e}", uri.host)))?;
    let connector = tokio_rustls::TlsConnector::from(tls.clone());
    match tokio::time::timeout(config.connect_timeout, connector.connect(name, stream)).await {
        Ok(Ok(s)) => Ok(Box::new(s)),
        Ok(Err(e)) => Err(ClientError::handshake_failed(&server, &e, format!("TLS handshake failed: {e}"))),
        Err(_) => Err(ClientError::timeout(&server, "TLS handshake timed out")),
    }
}
