//! How a connector opens connections: TCP, and for `icaps://` a rustls handshake that sends
//! the connector's SNI name (the host of the address unless `sni` is set).

use std::sync::Arc;

use icap::client::{ClientConfig, ClientError, Dialer, Dialing, IcapUri};
use icap::server::Io;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;

/// TCP + TLS with a chosen SNI name.
#[derive(Debug, Clone, Default)]
pub struct SniDialer {
    /// Name sent as SNI; `None` sends the address's host.
    pub sni: Option<String>,
}

impl Dialer for SniDialer {
    fn connect<'a>(&'a self, uri: &'a IcapUri, config: &'a ClientConfig) -> Dialing<'a> {
        Box::pin(async move {
            let server = uri.authority();
            let stream = tcp(&server, config).await?;
            if !uri.tls {
                return Ok(Box::new(stream) as Box<dyn Io>);
            }
            let Some(tls) = &config.tls else {
                return Err(ClientError::connect_failed(
                    &server,
                    std::io::Error::other("icaps:// needs TLS settings (a trusted certificate or CA)"),
                ));
            };
            let name = self.sni.clone().unwrap_or_else(|| uri.host.clone());
            let tls = handshake(&server, &name, tls.clone(), stream, config).await?;
            Ok(Box::new(tls) as Box<dyn Io>)
        })
    }
}

/// A TCP connection with `TCP_NODELAY`, within the connect timeout.
pub async fn tcp(server: &str, config: &ClientConfig) -> Result<TcpStream, ClientError> {
    match tokio::time::timeout(config.connect_timeout, TcpStream::connect(server)).await {
        Ok(Ok(s)) => {
            let _ = s.set_nodelay(true);
            Ok(s)
        }
        Ok(Err(e)) => Err(ClientError::connect_failed(server, e)),
        Err(_) => Err(ClientError::connect_failed(
            server,
            std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no answer to connect within {:?}", config.connect_timeout),
            ),
        )),
    }
}

/// The TLS handshake over `stream`, within the connect timeout.
pub async fn handshake(
    server: &str,
    sni: &str,
    tls: Arc<rustls::ClientConfig>,
    stream: TcpStream,
    config: &ClientConfig,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, ClientError> {
    let name = ServerName::try_from(sni.to_string()).map_err(|e| {
        ClientError::connect_failed(server, std::io::Error::other(format!("bad server name {sni}: {e}")))
    })?;
    let connector = tokio_rustls::TlsConnector::from(tls);
    match tokio::time::timeout(config.connect_timeout, connector.connect(name, stream)).await {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => {
            Err(ClientError::handshake_failed(server, &e, format!("TLS handshake failed: {e}{}", advice(&e))))
        }
        Err(_) => Err(ClientError::connect_failed(
            server,
            std::io::Error::new(std::io::ErrorKind::TimedOut, "TLS handshake timed out"),
        )),
    }
}

/// What to do about a refused server certificate, when the refusal says it clearly.
fn advice(e: &std::io::Error) -> &'static str {
    use rustls::CertificateError as C;
    match e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
        Some(rustls::Error::InvalidCertificate(C::NotValidForName | C::NotValidForNameContext { .. })) => {
            " (NotValidForName: the server certificate does not carry the name checked; connect by a name it carries, or give that name with --server-name)"
        }
        Some(rustls::Error::InvalidCertificate(C::UnknownIssuer)) => {
            " (the server certificate is neither issued by a CA of --trust nor pinned there or by --pin)"
        }
        _ => "",
    }
}
