//! Push decoders for gzip, zlib, raw deflate and brotli with bounded output.
//!
//! Input arrives in any chunking; output leaves in pieces of at most [`OUT_CHUNK`] bytes
//! through a callback that may refuse more (a limit was reached). Nothing ever holds a
//! whole decompressed stream, so a bomb costs CPU time bounded by the limits, not memory.

use brotli::{BrotliDecompressStream, BrotliResult, BrotliState, HeapAlloc, HuffmanCode};
use flate2::{Decompress, FlushDecompress, Status};

/// Largest piece of output handed on at once.
pub const OUT_CHUNK: usize = 32 * 1024;
/// Largest gzip header accepted (extra field, name and comment included).
const MAX_GZIP_HEADER: usize = 256 * 1024;

/// Which codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Gzip,
    /// `Content-Encoding: deflate`: zlib, or raw deflate from servers that get it wrong.
    Deflate,
    Brotli,
}

impl Format {
    /// Parses one `Content-Encoding` token.
    pub fn from_token(token: &str) -> Option<Self> {
        match token.trim().to_ascii_lowercase().as_str() {
            "gzip" | "x-gzip" => Some(Self::Gzip),
            "deflate" => Some(Self::Deflate),
            "br" => Some(Self::Brotli),
            _ => None,
        }
    }
}

type Brotli = BrotliState<HeapAlloc<u8>, HeapAlloc<u32>, HeapAlloc<HuffmanCode>>;

enum Inner {
    /// Gzip: collecting a member header.
    GzHeader(Vec<u8>),
    /// Inside a deflate stream (gzip member body, zlib or raw).
    Inflate {
        z: Box<Decompress>,
        gzip: bool,
    },
    /// Gzip: skipping the 8-byte trailer, then maybe another member.
    GzTrailer(usize),
    /// Deflate: deciding zlib or raw from the first two bytes.
    DeflateStart(Vec<u8>),
    Brotli(Box<Brotli>),
    /// The stream ended; trailing bytes are ignored.
    Done,
    /// A brotli stream ended: RFC 7932 allows nothing after it. (The decoder's verdict on
    /// bytes after the end depends on where the input was split; refusing them is stable.)
    BrotliDone,
    /// The stream is corrupt; nothing more is decoded.
    Failed,
}

const CORRUPT_DEFLATE: &str = "corrupt deflate stream";
const CORRUPT_BROTLI: &str = "corrupt brotli stream";

/// A push decoder.
pub(crate) struct Decoder {
    inner: Inner,
    out: Vec<u8>,
    /// Whether any gzip member completed (trailing garbage after one is tolerated).
    members_done: u32,
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder").finish_non_exhaustive()
    }
}

impl Decoder {
    pub fn new(format: Format) -> Self {
        let inner = match format {
            Format::Gzip => Inner::GzHeader(Vec::new()),
            Format::Deflate => Inner::DeflateStart(Vec::new()),
            // Strict RFC 7932: windows of at most 16 MiB (the large-window extension would
            // let a header ask for 1 GiB).
            Format::Brotli => Inner::Brotli(Box::new(BrotliState::new_strict(
                HeapAlloc::new(0),
                HeapAlloc::new(0),
                HeapAlloc::new(HuffmanCode::default()),
            ))),
        };
        Self { inner, out: vec![0; OUT_CHUNK], members_done: 0 }
    }

    /// Decodes `input`, calling `emit` with each piece of output; stops early (Ok) when
    /// `emit` returns false. Errors describe corrupt input.
    pub fn push(&mut self, mut input: &[u8], emit: &mut dyn FnMut(&[u8]) -> bool) -> Result<(), String> {
        while !input.is_empty() {
            match &mut self.inner {
                Inner::Done => return Ok(()),
                Inner::Failed => return Err("corrupt compressed stream".into()),
                Inner::BrotliDone => {
                    self.inner = Inner::Failed;
                    return Err(CORRUPT_BROTLI.into());
                }
                Inner::GzHeader(h) => {
                    let take = input.len().min(MAX_GZIP_HEADER + 1 - h.len().min(MAX_GZIP_HEADER));
                    let before = h.len();
                    h.extend_from_slice(&input[..take]);
                    match gzip_header_len(h) {
                        Ok(Some(n)) => {
                            input = &input[(n - before).min(input.len())..];
                            self.inner = Inner::Inflate { z: Box::new(Decompress::new(false)), gzip: true };
                        }
                        Ok(None) => {
                            if h.len() > MAX_GZIP_HEADER {
                                return Err("gzip header too long".into());
                            }
                            input = &input[take..];
                        }
                        Err(e) => {
                            if self.members_done > 0 {
                                // Padding or garbage after a complete member.
                                self.inner = Inner::Done;
                                return Ok(());
                            }
                            return Err(e);
                        }
                    }
                }
                Inner::GzTrailer(left) => {
                    let k = (*left).min(input.len());
                    *left -= k;
                    input = &input[k..];
                    if *left == 0 {
                        self.inner = Inner::GzHeader(Vec::new());
                    }
                }
                Inner::DeflateStart(h) => {
                    h.push(input[0]);
                    input = &input[1..];
                    if h.len() == 2 {
                        let zlib = h[0] & 0x0f == 8 && (u16::from(h[0]) << 8 | u16::from(h[1])) % 31 == 0;
                        let head = std::mem::take(h);
                        self.inner = Inner::Inflate { z: Box::new(Decompress::new(zlib)), gzip: false };
                        self.push(&head, emit)?;
                    }
                }
                Inner::Inflate { z, gzip } => {
                    let in0 = z.total_in();
                    let out0 = z.total_out();
                    let result = z.decompress(input, &mut self.out, FlushDecompress::None);
                    let used = ((z.total_in() - in0) as usize).min(input.len());
                    let made = ((z.total_out() - out0) as usize).min(self.out.len());
                    input = &input[used..];
                    let gzip = *gzip;
                    // What decoded before damage is still text to scan.
                    if made > 0 && !emit(&self.out[..made]) {
                        return Ok(());
                    }
                    // The library's message depends on where the input was split; a stable
                    // one keeps verdicts independent of chunking.
                    let Ok(status) = result else {
                        self.inner = Inner::Failed;
                        return Err(CORRUPT_DEFLATE.into());
                    };
                    if status == Status::StreamEnd {
                        self.members_done += 1;
                        self.inner = if gzip { Inner::GzTrailer(8) } else { Inner::Done };
                    } else if used == 0 && made == 0 {
                        self.inner = Inner::Failed;
                        return Err(CORRUPT_DEFLATE.into());
                    }
                }
                Inner::Brotli(state) => {
                    let mut avail_in = input.len();
                    let mut in_off = 0;
                    loop {
                        let mut avail_out = self.out.len();
                        let mut out_off = 0;
                        let mut total = 0;
                        let r = BrotliDecompressStream(
                            &mut avail_in,
                            &mut in_off,
                            input,
                            &mut avail_out,
                            &mut out_off,
                            &mut self.out,
                            &mut total,
                            state,
                        );
                        if out_off > 0 && !emit(&self.out[..out_off]) {
                            return Ok(());
                        }
                        match r {
                            BrotliResult::NeedsMoreOutput => continue,
                            BrotliResult::NeedsMoreInput => {
                                input = &[];
                                break;
                            }
                            BrotliResult::ResultSuccess => {
                                self.members_done += 1;
                                if avail_in > 0 {
                                    self.inner = Inner::Failed;
                                    return Err(CORRUPT_BROTLI.into());
                                }
                                self.inner = Inner::BrotliDone;
                                return Ok(());
                            }
                            BrotliResult::ResultFailure => {
                                self.inner = Inner::Failed;
                                return Err(CORRUPT_BROTLI.into());
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Ends the input: an error when the stream was cut short.
    pub fn finish(&mut self) -> Result<(), String> {
        match &self.inner {
            Inner::Done | Inner::BrotliDone => Ok(()),
            Inner::GzHeader(h) if h.is_empty() && self.members_done > 0 => Ok(()),
            Inner::GzTrailer(_) => Ok(()),
            _ => Err("compressed stream is truncated".into()),
        }
    }
}

/// Length of a complete gzip member header, `None` when more bytes are needed.
fn gzip_header_len(h: &[u8]) -> Result<Option<usize>, String> {
    if h.len() < 10 {
        if h.len() >= 2 && h[..2] != [0x1f, 0x8b] {
            return Err("not gzip".into());
        }
        return Ok(None);
    }
    if h[..2] != [0x1f, 0x8b] || h[2] != 8 {
        return Err("not gzip".into());
    }
    let flags = h[3];
    let mut i = 10;
    if flags & 4 != 0 {
        let Some(x) = h.get(i..i + 2) else { return Ok(None) };
        i += 2 + usize::from(u16::from_le_bytes([x[0], x[1]]));
    }
    for bit in [8u8, 16] {
        if flags & bit != 0 {
            match h.get(i..).and_then(|r| memchr::memchr(0, r)) {
                Some(z) => i += z + 1,
                None => return Ok(None),
            }
        }
    }
    if flags & 2 != 0 {
        i += 2;
    }
    Ok((h.len() >= i).then_some(i))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn roundtrip(format: Format, packed: &[u8], chunk: usize) -> Vec<u8> {
        let mut d = Decoder::new(format);
        let mut out = Vec::new();
        for c in packed.chunks(chunk) {
            d.push(c, &mut |o| {
                out.extend_from_slice(o);
                true
            })
            .unwrap();
        }
        d.finish().unwrap();
        out
    }

    #[test]
    fn all_codecs_any_chunking() {
        let text: Vec<u8> = (0..100_000u32).flat_map(|i| i.to_string().into_bytes()).collect();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&text).unwrap();
        let gz = gz.finish().unwrap();
        let mut zl = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        zl.write_all(&text).unwrap();
        let zl = zl.finish().unwrap();
        let mut raw = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        raw.write_all(&text).unwrap();
        let raw = raw.finish().unwrap();
        let mut br = Vec::new();
        {
            let mut w = brotli::CompressorWriter::new(&mut br, 4096, 5, 22);
            w.write_all(&text).unwrap();
        }
        for chunk in [1, 7, 4096, 1 << 20] {
            assert_eq!(roundtrip(Format::Gzip, &gz, chunk), text);
            assert_eq!(roundtrip(Format::Deflate, &zl, chunk), text);
            assert_eq!(roundtrip(Format::Deflate, &raw, chunk), text);
            assert_eq!(roundtrip(Format::Brotli, &br, chunk), text);
        }
    }

    #[test]
    fn bytes_after_a_brotli_stream_are_corrupt_at_any_split() {
        let mut br = Vec::new();
        {
            let mut w = brotli::CompressorWriter::new(&mut br, 4096, 5, 22);
            w.write_all(b"card 4111 1111 1111 1111").unwrap();
        }
        br.extend_from_slice(b"trailing garbage");
        for split in 0..=br.len() {
            let mut d = Decoder::new(Format::Brotli);
            let r1 = d.push(&br[..split], &mut |_| true);
            let r2 = d.push(&br[split..], &mut |_| true);
            assert!(r1.is_err() || r2.is_err(), "split {split}");
        }
    }

    #[test]
    fn truncated_is_an_error() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&[b'a'; 10_000]).unwrap();
        let gz = gz.finish().unwrap();
        let mut d = Decoder::new(Format::Gzip);
        d.push(&gz[..gz.len() / 2], &mut |_| true).unwrap();
        assert!(d.finish().is_err());
    }
}
