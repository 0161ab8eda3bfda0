//! A Prometheus endpoint (`/metrics`) and `/healthz`, off unless `--metrics-listen` is given.
//!
//! The registry and text encoding come from prometheus-client; the endpoint answers plain
//! HTTP/1.1 GETs, one per connection, which is all a scraper sends.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use prometheus_client::encoding::text::encode;
use prometheus_client::registry::Registry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Longest request head the endpoint reads.
const MAX_REQUEST: usize = 8 * 1024;
/// How long a scraper may take to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections served at once; more are closed at once. A scraper needs one.
pub const MAX_CONNECTIONS: usize = 16;

/// Serves `registry` on `addr` until the process ends.
pub async fn serve(addr: SocketAddr, registry: Arc<Registry>) -> anyhow::Result<()> {
    let listener = TcpListener::bind(addr).await.with_context(|| format!("metrics listener on {addr}"))?;
    tracing::info!(listen = %addr, "metrics on http://{addr}/metrics");
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                // Out of descriptors, say: do not spin.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            let Ok(slot) = slots.clone().try_acquire_owned() else {
                drop(stream);
                continue;
            };
            let registry = registry.clone();
            tokio::spawn(async move {
                let _slot = slot;
                let mut buf = Vec::with_capacity(512);
                let read = tokio::time::timeout(REQUEST_TIMEOUT, async {
                    let mut chunk = [0u8; 1024];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < MAX_REQUEST {
                        let n = stream.read(&mut chunk).await?;
                        if n == 0 {
                            break;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    Ok::<_, std::io::Error>(())
                })
                .await;
                if !matches!(read, Ok(Ok(()))) {
                    return;
                }
                let line = String::from_utf8_lossy(&buf);
                let path = line.split_whitespace().nth(1).unwrap_or("/");
                let (status, kind, body) = match path {
                    "/metrics" => {
                        let mut text = String::new();
                        match encode(&mut text, &registry) {
                            Ok(()) => {
                                ("200 OK", "application/openmetrics-text; version=1.0.0; charset=utf-8", text)
                            }
                            Err(_) => {
                                ("500 Internal Server Error", "text/plain", "encoding failed\n".to_string())
                            }
                        }
                    }
                    "/healthz" => ("200 OK", "text/plain", "ok\n".to_string()),
                    _ => ("404 Not Found", "text/plain", "try /metrics or /healthz\n".to_string()),
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                // A scraper that does not read is not waited for.
                let _ = tokio::time::timeout(REQUEST_TIMEOUT, async {
                    let _ = stream.write_all(head.as_bytes()).await;
                    let _ = stream.write_all(body.as_bytes()).await;
                    let _ = stream.shutdown().await;
                })
                .await;
            });
        }
    });
    Ok(())
}
