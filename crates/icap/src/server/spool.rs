//! Keeps the body bytes a service has read, so that an unchanged message can be echoed when the
//! client did not offer 204. Memory up to a limit, then an anonymous temporary file.
//!
//! Bytes are copied into blocks the spool owns. Keeping the decoder's `Bytes` instead would pin
//! the connection's whole read buffer per piece: a body sent one byte per read would hold a
//! 64 KiB buffer per byte.

use std::collections::VecDeque;
use std::io::SeekFrom;

use bytes::{Bytes, BytesMut};
use tokio::fs::File;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

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
}

impl Spool {
    pub(crate) fn new(memory_limit: usize) -> Self {
        Self {
            memory: VecDeque::new(),
            tail: BytesMut::new(),
            memory_bytes: 0,
            memory_limit,
            file: None,
            rewound: false,
        }
    }

    pub(crate) async fn push(&mut self, data: &[u8]) -> std::io::Result<()> {
        if self.file.is_none() && self.memory_bytes + data.len() <= self.memory_limit {
            self.memory_bytes += data.len();
            self.copy_to_memory(data);
            return Ok(());
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

    /// Appends a copy of `data` to the tail block, starting a new block when it is full.
    fn copy_to_memory(&mut self, data: &[u8]) {
        if self.tail.capacity() - self.tail.len() < data.len() {
            if !self.tail.is_empty() {
                self.memory.push_back(std::mem::take(&mut self.tail).freeze());
            }
            self.tail = BytesMut::with_capacity(data.len().max(BLOCK));
        }
        self.tail.extend_from_slice(data);
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
