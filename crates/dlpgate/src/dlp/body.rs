//! The body on its way into the engine: streamed into a scanner, or held (in memory up to a
//! threshold, then in an anonymous temporary file) when its format needs random access.

use std::io::{Seek, SeekFrom, Write};
use std::path::PathBuf;

use inspect::{Engine, ScanContext, Scanner, Verdict};
use sha2::{Digest, Sha256};

/// Bytes kept aside while the scanner has not yet said whether it needs random access. The
/// engine decides from the first 1 KiB; this leaves room for small first chunks.
const PREFIX_KEEP: usize = 64 * 1024;

/// A body being scanned.
#[derive(Debug)]
pub struct BodyScan {
    engine: Engine,
    ctx: ScanContext,
    sink: Sink,
    memory_threshold: usize,
    spool_dir: PathBuf,
    sha: Sha256,
    size: u64,
}

#[derive(Debug)]
enum Sink {
    /// Fed to the scanner as it arrives; `prefix` is a copy of the start, while it is short.
    Streaming { scanner: Box<Scanner>, prefix: Vec<u8> },
    /// Held for a random-access scan.
    Held { memory: Vec<u8>, file: Option<std::fs::File> },
}

impl BodyScan {
    /// A body scan for `ctx`; held bodies above `memory_threshold` go to a file in `spool_dir`.
    pub fn new(engine: Engine, ctx: ScanContext, memory_threshold: usize, spool_dir: PathBuf) -> Self {
        let scanner = Box::new(engine.scanner(ctx.clone()));
        Self {
            engine,
            ctx,
            sink: Sink::Streaming { scanner, prefix: Vec::new() },
            memory_threshold,
            spool_dir,
            sha: Sha256::new(),
            size: 0,
        }
    }

    /// Takes the next piece of the body.
    pub fn push(&mut self, chunk: &[u8]) -> std::io::Result<()> {
        self.sha.update(chunk);
        self.size += chunk.len() as u64;
        match &mut self.sink {
            Sink::Streaming { scanner, prefix } => {
                if prefix.len() < PREFIX_KEEP {
                    prefix.extend_from_slice(&chunk[..chunk.len().min(PREFIX_KEEP - prefix.len())]);
                }
                scanner.feed(chunk);
                let whole_copy = self.size <= PREFIX_KEEP as u64;
                if scanner.is_buffering() && whole_copy {
                    // The format needs random access: hold the body ourselves, bounded.
                    let memory = std::mem::take(prefix);
                    self.sink = Sink::Held { memory, file: None };
                }
                Ok(())
            }
            Sink::Held { memory, file } => {
                if let Some(file) = file {
                    return file.write_all(chunk);
                }
                if memory.len() + chunk.len() <= self.memory_threshold {
                    memory.extend_from_slice(chunk);
                    return Ok(());
                }
                std::fs::create_dir_all(&self.spool_dir)?;
                let mut spill = tempfile::tempfile_in(&self.spool_dir)?;
                spill.write_all(memory)?;
                spill.write_all(chunk)?;
                *memory = Vec::new();
                *file = Some(spill);
                Ok(())
            }
        }
    }

    /// Body bytes taken so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// True while the body streams through the scanner (nothing held for random access).
    pub fn is_streaming(&self) -> bool {
        matches!(self.sink, Sink::Streaming { .. })
    }

    /// True when the body went to a temporary file.
    pub fn spooled(&self) -> bool {
        matches!(self.sink, Sink::Held { file: Some(_), .. })
    }

    /// Ends the body and decides (CPU-bound: call it off the async workers). Returns the
    /// verdict, the body's SHA-256 (hex) and its size.
    pub fn finish(self) -> std::io::Result<(Verdict, String, u64)> {
        let digest = hex::encode(self.sha.finalize());
        let verdict = match self.sink {
            Sink::Streaming { scanner, .. } => scanner.finish(),
            Sink::Held { memory, file: None } => self.engine.scan_bytes(self.ctx, &memory),
            Sink::Held { file: Some(mut file), .. } => {
                file.flush()?;
                file.seek(SeekFrom::Start(0))?;
                self.engine.scan_reader(self.ctx, std::io::BufReader::with_capacity(256 * 1024, file))?
            }
        };
        Ok((verdict, digest, self.size))
    }
}
