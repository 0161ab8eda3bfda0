//! Keeps the body bytes a service has read, so that an unchanged message can be echoed when the
//! client did not offer 204. Memory up to a limit, then an anonymous temporary file.
//!
//! Memory comes from the process's memory budget (refused: the spool goes to disk sooner), the
//! file from the spool-disk budget (waited for, then refused as "storage full").
//!
//! Bytes are copied into blocks the spool owns. Keeping the decoder's `Bytes` instead would pin
//! the connection's whole read buffer per piece: a body sent one byte per read would hold a
//! 64 KiB buffer per byte.

use std::collections::VecDeque;
use std::io::SeekFrom;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::fs::File;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use super::budget::{ByteBudget, Lease};

/// Size of the blocks body bytes are copied into.
const BLOCK: usize = 16 * 1024;

#[derive(Debug)]
pub(crate) struct Spool {
    /// Full blocks, oldest first.
    memory: VecDeque<Bytes>,
    /// The block being filled.
    tail: BytesMut,
    memory_bytes: usize,
    memory_limit: usize,
    file: Option<File>,
    rewound: bool,
    /// The memory of the blocks, and the file's size, taken from the budgets.
    memory_lease: Lease,
    disk_lease: Lease,
    wait: Duration,
}

impl Spool {
    pub(crate) fn new(memory_limit: usize, memory: &ByteBudget, disk: &ByteBudget, wait: Duration) -> Self {
        Self {
            memory: VecDeque::new(),
            tail: BytesMut::new(),
            memory_bytes: 0,
            memory_limit,
            file: None,
            rewound: false,
            memory_lease: Lease::new(memory),
            disk_lease: Lease::new(disk),
            wait,
        }
    }

    pub(crate) async fn push(&mut self, data: &[u8]) -> std::io::Result<()> {
        if self.file.is_none()
            && self.memory_bytes + data.len() <= self.memory_limit
            && self.copy_to_memory(data)
        {
            self.memory_bytes += data.len();
            return Ok(());
        }
        if !self.disk_lease.grow(data.len() as u64, self.wait).await {
            return Err(std::io::Error::new(std::io::ErrorKind::StorageFull, "spool budget exhausted"));
        }
        let file = match &mut self.file {
            Some(file) => file,
            None => {
                let std_file = tokio::task::spawn_blocking(tempfile::tempfile)
                    .await
                    .map_err(std::io::Error::other)??;
                self.file.insert(File::from_std(std_file))
            }
        };
        file.write_all(data).await
    }

    /// Appends a copy of `data` to the tail block, starting a new block when it is full;
    /// false when the memory budget has no room for a new block.
    fn copy_to_memory(&mut self, data: &[u8]) -> bool {
        if self.tail.capacity() - self.tail.len() < data.len() {
            let block = data.len().max(BLOCK);
            if !self.memory_lease.try_grow(block as u64) {
                return false;
            }
            if !self.tail.is_empty() {
                self.memory.push_back(std::mem::take(&mut self.tail).freeze());
            }
            self.tail = BytesMut::with_capacity(block);
        }
        self.tail.extend_from_slice(data);
        true
    }

    /// The byte at `offset`, while it is still held in memory.
    pub(crate) fn byte_in_memory(&self, offset: usize) -> Option<u8> {
        let mut start = 0;
        for piece in self.memory.iter().map(|b| &b[..]).chain([&self.tail[..]]) {
            if offset < start + piece.len() {
                return piece.get(offset - start).copied();
            }
            start += piece.len();
        }
        None
    }

    /// The spooled pieces in order, one per call; `None` when all were given back.
    pub(crate) async fn next_piece(&mut self) -> std::io::Result<Option<Bytes>> {
        if let Some(piece) = self.memory.pop_front() {
            return Ok(Some(piece));
        }
        if !self.tail.is_empty() {
            return Ok(Some(std::mem::take(&mut self.tail).freeze()));
        }
        let Some(file) = &mut self.file else {
            return Ok(None);
        };
        if !self.rewound {
            file.flush().await?;
            file.seek(SeekFrom::Start(0)).await?;
            self.rewound = true;
        }
        let mut buf = vec![0u8; 64 * 1024];
        let n = file.read(&mut buf).await?;
        if n == 0 {
            self.file = None;
            return Ok(None);
        }
        buf.truncate(n);
        Ok(Some(Bytes::from(buf)))
    }
}
