//! Reading a large file for the ICAP client without a trip to tokio's blocking pool per read.
//!
//! Most files a scan sends are in the page cache (the walk just saw them). A read of cached
//! data takes microseconds, far less than handing it to another thread and waking the task
//! when it is done (tokio's `fs::File` does that for every read, and copies the data once
//! more). So each read first asks the kernel for cached data only (`preadv2` with
//! `RWF_NOWAIT`), straight into the caller's buffer on the async worker. Only when that would
//! block (data on disk, or a file system that cannot tell, such as many network file systems)
//! does the read go to the blocking pool, so a slow disk or share never stalls the worker.

use std::fs::File;
use std::future::Future;
use std::io::{self, IoSliceMut};
use std::os::unix::fs::FileExt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use rustix::io::{Errno, ReadWriteFlags};
use tokio::io::{AsyncRead, ReadBuf};
use tokio::task::JoinHandle;

use super::READ_BUFFER as BLOCKING_READ;

/// A file read from its start to its end.
#[derive(Debug)]
pub struct FileReader {
    file: Arc<File>,
    offset: u64,
    /// Cached reads are worth trying (false once the file system said it cannot do them).
    nowait: bool,
    /// A read under way on the blocking pool.
    pending: Option<JoinHandle<io::Result<Vec<u8>>>>,
    /// What it brought, and how much of it was handed out.
    buffered: Vec<u8>,
    taken: usize,
}

impl FileReader {
    /// Reads `file` from its start.
    pub fn new(file: File) -> Self {
        Self { file: Arc::new(file), offset: 0, nowait: true, pending: None, buffered: Vec::new(), taken: 0 }
    }

    /// A read of cached data only: `None` when it would have to wait for the disk.
    fn read_cached(&mut self, dst: &mut [u8]) -> Option<io::Result<usize>> {
        if !self.nowait {
            return None;
        }
        let mut bufs = [IoSliceMut::new(dst)];
        loop {
            match rustix::io::preadv2(&*self.file, &mut bufs, self.offset, ReadWriteFlags::NOWAIT) {
                Ok(n) => return Some(Ok(n)),
                Err(Errno::INTR) => {}
                Err(Errno::AGAIN) => return None,
                // Not supported here (an old kernel, a file system without it): never again.
                Err(Errno::OPNOTSUPP | Errno::NOSYS | Errno::INVAL) => {
                    self.nowait = false;
                    return None;
                }
                Err(e) => return Some(Err(e.into())),
            }
        }
    }
}

impl AsyncRead for FileReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            if this.taken < this.buffered.len() {
                let n = buf.remaining().min(this.buffered.len() - this.taken);
                buf.put_slice(&this.buffered[this.taken..this.taken + n]);
                this.taken += n;
                return Poll::Ready(Ok(()));
            }
            if let Some(pending) = this.pending.as_mut() {
                let read = ready!(Pin::new(pending).poll(cx));
                this.pending = None;
                let data = read.map_err(io::Error::other)??;
                this.offset += data.len() as u64;
                this.buffered = data;
                this.taken = 0;
                if this.buffered.is_empty() {
                    return Poll::Ready(Ok(()));
                }
                continue;
            }
            if buf.remaining() == 0 {
                return Poll::Ready(Ok(()));
            }
            if let Some(read) = this.read_cached(buf.initialize_unfilled()) {
                let n = read?;
                buf.advance(n);
                this.offset += n as u64;
                return Poll::Ready(Ok(()));
            }
            let (file, offset) = (this.file.clone(), this.offset);
            let mut data = std::mem::take(&mut this.buffered);
            this.pending = Some(tokio::task::spawn_blocking(move || {
                data.resize(BLOCKING_READ, 0);
                let n = loop {
                    match file.read_at(&mut data, offset) {
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        other => break other?,
                    }
                };
                data.truncate(n);
                Ok(data)
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;

    use super::*;

    #[tokio::test]
    async fn reads_a_file_whole_cached_or_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let data: Vec<u8> = (0..3 * BLOCKING_READ + 12_345).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        // Cached reads (the file was just written), then the blocking pool only.
        for nowait in [true, false] {
            let mut reader = FileReader::new(File::open(&path).unwrap());
            reader.nowait = nowait;
            let mut got = Vec::new();
            reader.read_to_end(&mut got).await.unwrap();
            assert!(got == data, "nowait={nowait}: {} bytes of {}", got.len(), data.len());
        }
        // Small reads through the buffer of a blocking read.
        let mut reader = FileReader::new(File::open(&path).unwrap());
        reader.nowait = false;
        let mut head = [0u8; 1000];
        reader.read_exact(&mut head).await.unwrap();
        assert_eq!(&head[..], &data[..1000]);
        let mut rest = Vec::new();
        reader.read_to_end(&mut rest).await.unwrap();
        assert!(rest == data[1000..]);
    }
}
