//! Keeps the body bytes a service has read, so that an unchanged message can be echoed when the
//! client did not offer 204. Memory up to a limit, then an anonymous temporary file.

use std::collections::VecDeque;
use std::io::SeekFrom;

use bytes::Bytes;
use tokio::fs::File;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

#[derive(Debug)]
pub(crate) struct Spool {
    memory: VecDeque<Bytes>,
    memory_bytes: usize,
    memory_limit: usize,
    file: Option<File>,
    rewound: bool,
}

impl Spool {
    pub(crate) fn new(memory_limit: usize) -> Self {
        Self { memory: VecDeque::new(), memory_bytes: 0, memory_limit, file: None, rewound: false }
    }

    pub(crate) async fn push(&mut self, data: &Bytes) -> std::io::Result<()> {
        if self.file.is_none() && self.memory_bytes + data.len() <= self.memory_limit {
            self.memory_bytes += data.len();
            self.memory.push_back(data.clone());
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

    /// The byte at `offset`, while it is still held in memory.
    pub(crate) fn byte_in_memory(&self, offset: usize) -> Option<u8> {
        let mut start = 0;
        for piece in &self.memory {
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
