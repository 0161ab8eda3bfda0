//! PROXY protocol v1 and v2 (as haproxy and `dlpgate tunnel` send them), so that a server
//! behind a TCP balancer or a tunnel records the real client address.
//!
//! The header is read with `peek` and then consumed exactly, so no ICAP or TLS byte after it
//! is taken from the stream. Parsing is the `ppp` crate's.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// Longest v1 header (107 bytes) and the v2 fixed part.
const V1_MAX: usize = 107;
const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
/// Longest v2 address block accepted (TLVs included).
const V2_MAX_BODY: usize = 2048;

/// Reads the PROXY header that must start the stream; returns the client address it names, or
/// `None` for a `LOCAL`/`UNKNOWN` header (a balancer's health check), meaning "use the peer".
pub(crate) async fn read_header(
    stream: &mut TcpStream,
    timeout: Duration,
) -> Result<Option<SocketAddr>, String> {
    tokio::time::timeout(timeout, read(stream))
        .await
        .map_err(|_| "PROXY header not received in time".to_string())?
}

async fn read(stream: &mut TcpStream) -> Result<Option<SocketAddr>, String> {
    let mut peeked = [0u8; 232];
    let n = loop {
        let n = stream.peek(&mut peeked).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("connection closed before the PROXY header".to_string());
        }
        let enough = if peeked[..n.min(12)] == V2_SIGNATURE[..n.min(12)] {
            n >= 16
        } else {
            peeked[..n].windows(2).any(|w| w == b"\r\n") || n >= V1_MAX
        };
        if enough {
            break n;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let len = if n >= 16 && peeked[..12] == *V2_SIGNATURE {
        let body = usize::from(u16::from_be_bytes([peeked[14], peeked[15]]));
        if body > V2_MAX_BODY {
            return Err("PROXY v2 header too long".to_string());
        }
        16 + body
    } else {
        match peeked[..n].windows(2).position(|w| w == b"\r\n") {
            Some(end) if end + 2 <= V1_MAX => end + 2,
            _ => return Err("no valid PROXY header".to_string()),
        }
    };
    let mut header = vec![0u8; len];
    stream.read_exact(&mut header).await.map_err(|e| e.to_string())?;
    parse(&header)
}

fn parse(header: &[u8]) -> Result<Option<SocketAddr>, String> {
    match ppp::HeaderResult::parse(header) {
        ppp::HeaderResult::V1(Ok(h)) => Ok(match h.addresses {
            ppp::v1::Addresses::Tcp4(a) => Some(SocketAddr::from((a.source_address, a.source_port))),
            ppp::v1::Addresses::Tcp6(a) => Some(SocketAddr::from((a.source_address, a.source_port))),
            ppp::v1::Addresses::Unknown => None,
        }),
        ppp::HeaderResult::V2(Ok(h)) => Ok(match h.addresses {
            ppp::v2::Addresses::IPv4(a) => Some(SocketAddr::from((a.source_address, a.source_port))),
            ppp::v2::Addresses::IPv6(a) => Some(SocketAddr::from((a.source_address, a.source_port))),
            _ => None,
        }),
        ppp::HeaderResult::V1(Err(e)) => Err(format!("malformed PROXY v1 header: {e}")),
        ppp::HeaderResult::V2(Err(e)) => Err(format!("malformed PROXY v2 header: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_v1_and_v2() {
        assert_eq!(
            parse(b"PROXY TCP4 192.0.2.7 127.0.0.1 51000 1344\r\n").unwrap(),
            Some("192.0.2.7:51000".parse().unwrap())
        );
        assert_eq!(parse(b"PROXY UNKNOWN\r\n").unwrap(), None);
        let mut v2 = V2_SIGNATURE.to_vec();
        v2.extend_from_slice(&[0x21, 0x11, 0x00, 12, 198, 51, 100, 9, 127, 0, 0, 1, 0xC3, 0x50, 0x05, 0x40]);
        assert_eq!(parse(&v2).unwrap(), Some("198.51.100.9:50000".parse().unwrap()));
        assert!(parse(b"PROXY TCP4 nonsense\r\n").is_err());
    }
}
