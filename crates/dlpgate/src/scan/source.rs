//! A found file as something to send: small files read whole, large ones streamed.

use super::*;

/// A file on disk, opened again for each server tried (and only if it is still the file
/// the walk found).
pub(super) struct FileSource<'a> {
    pub(super) found: &'a walk::Found,
}

/// Reads a small file whole, or `None` if it has grown past `INLINE_READ` since the walk.
pub(super) fn read_small(found: &walk::Found) -> std::io::Result<Option<Vec<u8>>> {
    use std::io::Read;
    let walked_size = found.size;
    let mut file = found.open()?;
    // Room for the size the walk saw and one byte more. One read that gives exactly that
    // size ends it: the file is as the walk saw it (its record carries that size too).
    // Otherwise (it changed, or the file system gave a short read) read on to the end.
    let walked = usize::try_from(walked_size.min(INLINE_READ)).unwrap_or(0);
    let mut data = vec![0u8; walked + 1];
    let n = loop {
        match file.read(&mut data) {
            Ok(n) => break n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    };
    data.truncate(n);
    if n as u64 != walked_size {
        file.take(INLINE_READ + 1 - n as u64).read_to_end(&mut data)?;
    }
    Ok((data.len() as u64 <= INLINE_READ).then_some(data))
}

impl Source for FileSource<'_> {
    async fn open(&self) -> std::io::Result<(Box<dyn AsyncRead + Unpin + Send>, u64)> {
        if self.found.size <= INLINE_READ {
            if let Some(data) = read_small(self.found)? {
                let size = data.len() as u64;
                return Ok((Box::new(std::io::Cursor::new(data)), size));
            }
        }
        // One trip to the blocking pool: open, stat, and for a small file read it all.
        let found = self.found.clone();
        let opened = tokio::task::spawn_blocking(move || -> std::io::Result<Opened> {
            use std::io::Read;
            let mut file = found.open()?;
            let size = file.metadata()?.len();
            if size <= SMALL_FILE {
                let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
                Read::by_ref(&mut file).take(SMALL_FILE).read_to_end(&mut data)?;
                let size = data.len() as u64;
                return Ok(Opened::Small(data, size));
            }
            Ok(Opened::Large(file, size))
        })
        .await
        .map_err(std::io::Error::other)??;
        Ok(match opened {
            Opened::Small(data, size) => (Box::new(std::io::Cursor::new(data)), size),
            Opened::Large(file, size) => (Box::new(reader::FileReader::new(file)), size),
        })
    }
}

pub(super) enum Opened {
    Small(Vec<u8>, u64),
    Large(std::fs::File, u64),
}

/// Judges one file; its record, and the file for the writer (quarantine, state).
pub(super) async fn judge_file(
    pool: &Pool,
    settings: send::SendSettings,
    found: walk::Found,
    failure: FailurePolicy,
) -> (Record, walk::Found) {
    let outcome = {
        let name = found.rel.to_string_lossy();
        let source = FileSource { found: &found };
        pool.judge(&settings, &name, &source).await
    };
    (outcome_record(&found, outcome, failure), found)
}

/// Judges small files: one alone as [`judge_file`] does, several read into memory and sent
/// as one pipelined batch ([`Pool::judge_batch`]).
pub(super) async fn judge_small(
    pool: &Pool,
    settings: send::SendSettings,
    mut files: Vec<walk::Found>,
    failure: FailurePolicy,
) -> Vec<(Record, walk::Found)> {
    if files.len() == 1 {
        if let Some(found) = files.pop() {
            return vec![judge_file(pool, settings, found, failure).await];
        }
    }
    let mut judged = Vec::with_capacity(files.len());
    let mut batch: Vec<(walk::Found, Vec<u8>)> = Vec::with_capacity(files.len());
    for found in files {
        match read_small(&found) {
            Ok(Some(data)) => batch.push((found, data)),
            // Grown past the inline size since the walk: streamed on its own.
            Ok(None) => judged.push(judge_file(pool, settings, found, failure).await),
            Err(e) => {
                let outcome =
                    FileOutcome::Failed { reason: format!("cannot read the file: {e}"), server: None };
                judged.push((outcome_record(&found, outcome, failure), found));
            }
        }
    }
    let names: Vec<String> = batch.iter().map(|(f, _)| f.rel.to_string_lossy().into_owned()).collect();
    let files: Vec<(&str, &[u8])> =
        names.iter().zip(&batch).map(|(n, (_, d))| (n.as_str(), d.as_slice())).collect();
    let outcomes = pool.judge_batch(&settings, &files).await;
    for (outcome, (found, _)) in outcomes.into_iter().zip(batch) {
        judged.push((outcome_record(&found, outcome, failure), found));
    }
    judged
}
