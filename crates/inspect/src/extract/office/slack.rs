//! The bytes of a compound file that no stream reaches: free and orphaned sectors (where
//! deleted streams leave their data), unreached mini sectors, and anything after the last
//! whole sector. The `cfb` crate only shows streams, so the allocation tables are read
//! here: every chain the header and the directory start is followed (each sector once, so
//! loops end), and what is left is scanned as raw bytes plus UTF-16 runs.

use std::io::{Read, Seek, SeekFrom};

use super::bytes::{u16_at, u32_at};
use super::RawSink;
use crate::extract::{Ctx, Member};

/// Size of a directory entry.
const DIR_ENTRY: usize = 128;
/// Size of a mini sector.
const MINI: usize = 64;
/// Sectors walked between two CPU-time checks.
const STEPS_PER_CHECK: usize = 4096;

/// Scans what no stream reaches. Returns a description of damage found on the way.
pub(super) fn scan<R: Read + Seek>(cx: &mut Ctx<'_>, r: &mut R, m: &Member) -> Option<String> {
    match Slack::read(cx, r, m) {
        Ok(()) => None,
        Err(e) => Some(format!("unallocated sectors: {e}")),
    }
}

struct Slack<'r, R> {
    r: &'r mut R,
    len: u64,
    size: usize,
    sectors: usize,
    reached: Vec<bool>,
    fat: Vec<u32>,
    steps: usize,
}

impl<'r, R: Read + Seek> Slack<'r, R> {
    fn read(cx: &mut Ctx<'_>, r: &'r mut R, m: &Member) -> std::io::Result<()> {
        let len = r.seek(SeekFrom::End(0))?;
        let mut header = [0u8; 512];
        r.seek(SeekFrom::Start(0))?;
        r.read_exact(&mut header)?;
        let shift = u16_at(&header, 0x1E).unwrap_or(9);
        if shift != 9 && shift != 12 {
            return Err(std::io::Error::other("sector size"));
        }
        let size = 1usize << shift;
        let sectors = usize::try_from(len.saturating_sub(size as u64) / size as u64).unwrap_or(usize::MAX);
        let mut s = Slack { r, len, size, sectors, reached: vec![false; sectors], fat: Vec::new(), steps: 0 };
        let word = |at: usize| u32_at(&header, at).unwrap_or(u32::MAX);
        // The DIFAT: 109 entries in the header, then a chain of sectors of entries.
        let mut difat: Vec<u32> = (0..109).map(|k| word(0x4C + 4 * k)).collect();
        let mut next = word(0x44);
        while let Some(i) = s.take(next) {
            let sector = s.sector(i)?;
            let n = size / 4;
            difat.extend((0..n - 1).filter_map(|k| u32_at(&sector, 4 * k)));
            next = u32_at(&sector, 4 * (n - 1)).unwrap_or(u32::MAX);
            if !s.tick(cx, m) {
                return Ok(());
            }
        }
        for d in difat {
            if let Some(i) = s.take(d) {
                let sector = s.sector(i)?;
                s.fat.extend((0..size / 4).filter_map(|k| u32_at(&sector, 4 * k)));
                if s.fat.len() > sectors + size {
                    break;
                }
            }
        }
        let dir = s.chain(cx, m, word(0x30))?;
        let minifat_bytes = s.chain(cx, m, word(0x3C))?;
        let minifat: Vec<u32> =
            (0..minifat_bytes.len() / 4).filter_map(|k| u32_at(&minifat_bytes, 4 * k)).collect();
        let cutoff = u64::from(word(0x38));
        let mut mini_stream = Vec::new();
        let mut mini_starts = Vec::new();
        // Bytes of reached sectors past the end of their stream.
        let mut slack: Vec<Vec<u8>> = Vec::new();
        for e in dir.chunks_exact(DIR_ENTRY) {
            let kind = e[0x42];
            let start = u32_at(e, 0x74).unwrap_or(u32::MAX);
            let low = u64::from(u32_at(e, 0x78).unwrap_or(0));
            let high = u64::from(u32_at(e, 0x7C).unwrap_or(0));
            let stream_len = if shift == 9 { low } else { low | high << 32 };
            match kind {
                5 => {
                    mini_stream = s.chain(cx, m, start)?;
                    let used = usize::try_from(stream_len).unwrap_or(usize::MAX).min(mini_stream.len());
                    // The rest of the mini stream's last sector.
                    slack.push(mini_stream[used..].to_vec());
                    mini_stream.truncate(used);
                }
                2 if stream_len >= cutoff => {
                    let ids = s.chain_marks(cx, m, start);
                    // The rest of the stream's last sector.
                    let full = usize::try_from(stream_len / size as u64).unwrap_or(usize::MAX);
                    if let Some(&last) = ids.get(full) {
                        let within = (stream_len % size as u64) as usize;
                        let sector = s.sector(last)?;
                        slack.push(sector.get(within..).unwrap_or(&[]).to_vec());
                    }
                }
                2 => mini_starts.push((start, stream_len)),
                _ => {}
            }
            if cx.stopped() {
                return Ok(());
            }
        }
        let mut raw = RawSink::new(m);
        for bytes in &slack {
            raw.blob(cx, bytes);
        }
        // The padding of a 4096-byte header sector.
        if size > header.len() {
            s.r.seek(SeekFrom::Start(header.len() as u64))?;
            let mut pad = Vec::new();
            s.r.by_ref().take((size - header.len()) as u64).read_to_end(&mut pad)?;
            raw.blob(cx, &pad);
        }
        // Sectors no chain reached, in runs.
        let mut i = 0;
        while i < sectors {
            if s.reached[i] {
                i += 1;
                continue;
            }
            let start = i;
            while i < sectors && !s.reached[i] {
                i += 1;
            }
            let bytes = s.span(start, i - start)?;
            raw.blob(cx, &bytes);
            if !cx.st.budget.check_time(&m.path) {
                return Ok(());
            }
        }
        // After the last whole sector.
        let tail_start = (sectors as u64 + 1) * size as u64;
        if s.len > tail_start {
            s.r.seek(SeekFrom::Start(tail_start))?;
            let mut tail = Vec::new();
            s.r.by_ref().take(s.len - tail_start).read_to_end(&mut tail)?;
            raw.blob(cx, &tail);
        }
        // Mini sectors no small stream reached.
        let minis = mini_stream.len().div_ceil(MINI);
        let mut reached = vec![false; minis];
        for (start, stream_len) in mini_starts {
            let mut k = start as usize;
            let mut used = 0u64;
            while k < minis && !reached[k] {
                reached[k] = true;
                // The rest of the stream's last mini sector.
                if used < stream_len && stream_len < used + MINI as u64 {
                    let from = k * MINI + (stream_len - used) as usize;
                    raw.blob(
                        cx,
                        mini_stream.get(from..((k + 1) * MINI).min(mini_stream.len())).unwrap_or(&[]),
                    );
                }
                used += MINI as u64;
                k = minifat.get(k).map_or(usize::MAX, |&n| n as usize);
            }
        }
        let mut k = 0;
        while k < minis {
            if reached[k] {
                k += 1;
                continue;
            }
            let start = k;
            while k < minis && !reached[k] {
                k += 1;
            }
            let end = (k * MINI).min(mini_stream.len());
            raw.blob(cx, &mini_stream[start * MINI..end]);
        }
        raw.finish(cx);
        Ok(())
    }

    /// Marks sector `id` reached; `Some` when it is a sector not reached before.
    fn take(&mut self, id: u32) -> Option<usize> {
        let i = usize::try_from(id).ok()?;
        if i >= self.sectors || self.reached[i] {
            return None;
        }
        self.reached[i] = true;
        Some(i)
    }

    fn tick(&mut self, cx: &mut Ctx<'_>, m: &Member) -> bool {
        self.steps += 1;
        !self.steps.is_multiple_of(STEPS_PER_CHECK) || cx.st.budget.check_time(&m.path)
    }

    fn sector(&mut self, i: usize) -> std::io::Result<Vec<u8>> {
        self.span(i, 1)
    }

    /// `n` sectors from sector `i` (short at the end of the file).
    fn span(&mut self, i: usize, n: usize) -> std::io::Result<Vec<u8>> {
        let at = (i as u64 + 1) * self.size as u64;
        self.r.seek(SeekFrom::Start(at))?;
        let mut out = Vec::with_capacity(n * self.size);
        self.r.by_ref().take((n * self.size) as u64).read_to_end(&mut out)?;
        Ok(out)
    }

    /// Follows a chain, marking and reading its sectors.
    fn chain(&mut self, cx: &mut Ctx<'_>, m: &Member, start: u32) -> std::io::Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut next = start;
        while let Some(i) = self.take(next) {
            out.extend_from_slice(&self.sector(i)?);
            next = self.fat.get(i).copied().unwrap_or(u32::MAX);
            if !self.tick(cx, m) {
                break;
            }
        }
        Ok(out)
    }

    /// Follows a chain, marking its sectors; returns them in order.
    fn chain_marks(&mut self, cx: &mut Ctx<'_>, m: &Member, start: u32) -> Vec<usize> {
        let mut ids = Vec::new();
        let mut next = start;
        while let Some(i) = self.take(next) {
            ids.push(i);
            next = self.fat.get(i).copied().unwrap_or(u32::MAX);
            if !self.tick(cx, m) {
                break;
            }
        }
        ids
    }
}
