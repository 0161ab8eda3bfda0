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
    let len = loop {
        let n = stream.peek(&mut peeked).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("connection closed before the PROXY header".to_string());
        }
        if let Some(len) = header_len(&peeked[..n])? {
            break len;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let mut header = vec![0u8; len];
    stream.read_exact(&mut header).await.map_err(|e| e.to_string())?;
    parse(&header)
}

/// The length of the PROXY header that `start` begins, or `None` while too few bytes have
/// arrived to tell. A v2 header's length comes from its fixed part; a v1 header ends at its
/// CRLF, which must come within [`V1_MAX`] bytes.
fn header_len(start: &[u8]) -> Result<Option<usize>, String> {
    let n = start.len();
    if start[..n.min(12)] == V2_SIGNATURE[..n.min(12)] {
        if n < 16 {
            return Ok(None);
        }
        let body = usize::from(u16::from_be_bytes([start[14], start[15]]));
        if body > V2_MAX_BODY {
            return Err("PROXY v2 header too long".to_string());
        }
        return Ok(Some(16 + body));
    }
    match start.windows(2).position(|w| w == b"\r\n") {
        Some(end) if end + 2 <= V1_MAX => Ok(Some(end + 2)),
        None if n < V1_MAX => Ok(None),
        _ => Err("no valid PROXY header".to_string()),
    }
}

/// Parses the PROXY header at the start of `bytes` as a connection would: the client address
/// it names (`None` for `LOCAL`/`UNKNOWN`) and the header's length, or `Ok(None)` when `bytes`
/// ends before the header does. For fuzzing.
pub fn parse_header(bytes: &[u8]) -> Result<Option<(Option<SocketAddr>, usize)>, String> {
    match header_len(&bytes[..bytes.len().min(232)])? {
        Some(len) if len <= bytes.len() => Ok(Some((parse(&bytes[..len])?, len))),
        _ => Ok(None),
    }
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

    #[test]
    fn header_length_is_known_only_once_it_has_arrived() {
        let v1 = b"PROXY TCP4 192.0.2.7 127.0.0.1 51000 1344\r\nOPTIONS";
        let end = v1.len() - "OPTIONS".len();
        for cut in 0..end {
            assert_eq!(parse_header(&v1[..cut]).unwrap(), None, "cut at {cut}");
        }
        assert_eq!(parse_header(v1).unwrap(), Some((Some("192.0.2.7:51000".parse().unwrap()), end)));
        let mut v2 = V2_SIGNATURE.to_vec();
        v2.extend_from_slice(&[0x21, 0x11, 0x00, 12, 198, 51, 100, 9, 127, 0, 0, 1, 0xC3, 0x50, 0x05, 0x40]);
        for cut in 0..v2.len() {
            assert_eq!(parse_header(&v2[..cut]).unwrap(), None, "cut at {cut}");
        }
        assert_eq!(parse_header(&v2).unwrap(), Some((Some("198.51.100.9:50000".parse().unwrap()), 28)));
        // No CRLF within the longest v1 header, or a v2 body over the limit: refused at once.
        assert!(parse_header(&[b'P'; V1_MAX]).is_err());
        let mut long = V2_SIGNATURE.to_vec();
        long.extend_from_slice(&[0x21, 0x11, 0xff, 0xff]);
        assert!(parse_header(&long).is_err());
    }
}
