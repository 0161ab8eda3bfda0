//! The client side of ICAP that `scan` and `connector test` share: a pool of servers with
//! balancing and failover ([`pool`]), sending one file as a REQMOD or RESPMOD ([`send`]), and
//! reading a third-party answer into allow, block or error by vendor profile ([`verdict`]).

use tokio::io::AsyncRead;

pub mod pool;
pub mod send;
pub mod verdict;

use pool::Source;

/// Bytes in memory (the connectivity test's samples).
#[derive(Debug)]
pub struct BytesSource<'a>(pub &'a [u8]);

impl Source for BytesSource<'_> {
    async fn open(&self) -> std::io::Result<(Box<dyn AsyncRead + Unpin + Send>, u64)> {
        Ok((Box::new(std::io::Cursor::new(self.0.to_vec())), self.0.len() as u64))
    }
}
