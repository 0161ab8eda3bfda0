//! Compressed RTF (MS-OXRTFCP), the body of most Outlook messages: a 16-byte header, then
//! LZ77 with a 4096-byte dictionary primed with common RTF words. A back reference copies
//! at most 17 bytes for 2 bytes of input, so output is bounded by the input's size; it is
//! capped by the caller's limit too.

const COMPRESSED: u32 = 0x7546_5A4C; // "LZFu"
const UNCOMPRESSED: u32 = 0x414C_454D; // "MELA"

/// The dictionary's initial content.
const PREBUF: &[u8] = b"{\\rtf1\\ansi\\mac\\deff0\\deftab720{\\fonttbl;}{\\f0\\fnil \\froman \\fswiss \\fmodern \\fscript \\fdecor MS Sans SerifSymbolArialTimes New RomanCourier{\\colortbl\\red0\\green0\\blue0\r\n\\par \\pard\\plain\\f0\\fs20\\b\\i\\u\\tab\\tx";

/// Why a stream could not be decompressed (what was produced is returned alongside).
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Error {
    Header,
    Truncated,
}

/// Decompresses `data` into at most `cap` bytes. On error, the output so far is kept.
pub(super) fn decompress(data: &[u8], cap: usize, out: &mut Vec<u8>) -> Result<(), Error> {
    let word = |at: usize| data.get(at..at + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    let (Some(comp_size), Some(raw_size), Some(kind)) = (word(0), word(4), word(8)) else {
        return Err(Error::Header);
    };
    let body_end = 4usize.saturating_add(comp_size as usize).min(data.len());
    let body = data.get(16..body_end).unwrap_or(&[]);
    let cap = cap.min(raw_size as usize);
    match kind {
        UNCOMPRESSED => {
            let n = body.len().min(cap);
            out.extend_from_slice(&body[..n]);
            Ok(())
        }
        COMPRESSED => lz(body, cap, out),
        _ => Err(Error::Header),
    }
}

fn lz(body: &[u8], cap: usize, out: &mut Vec<u8>) -> Result<(), Error> {
    let mut dict = [0u8; 4096];
    dict[..PREBUF.len()].copy_from_slice(PREBUF);
    let mut wpos = PREBUF.len();
    let mut i = 0;
    while i < body.len() {
        let control = body[i];
        i += 1;
        for bit in 0..8 {
            if out.len() >= cap {
                return Ok(());
            }
            if control & (1 << bit) == 0 {
                let Some(&b) = body.get(i) else { return Err(Error::Truncated) };
                i += 1;
                out.push(b);
                dict[wpos] = b;
                wpos = (wpos + 1) % 4096;
            } else {
                let (Some(&hi), Some(&lo)) = (body.get(i), body.get(i + 1)) else {
                    return Err(Error::Truncated);
                };
                i += 2;
                let v = usize::from(u16::from_be_bytes([hi, lo]));
                let offset = v >> 4;
                let len = (v & 0xF) + 2;
                if offset == wpos {
                    return Ok(());
                }
                for k in 0..len {
                    if out.len() >= cap {
                        return Ok(());
                    }
                    let b = dict[(offset + k) % 4096];
                    out.push(b);
                    dict[wpos] = b;
                    wpos = (wpos + 1) % 4096;
                }
            }
        }
    }
    // The end marker is missing: everything was still read.
    Err(Error::Truncated)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_specification_examples() {
        assert_eq!(PREBUF.len(), 207);
        // MS-OXRTFCP 4.1.1 and 4.1.2.
        let simple = [
            0x2d, 0x00, 0x00, 0x00, 0x2b, 0x00, 0x00, 0x00, 0x4c, 0x5a, 0x46, 0x75, 0xf1, 0xc5, 0xc7, 0xa7,
            0x03, 0x00, 0x0a, 0x00, 0x72, 0x63, 0x70, 0x67, 0x31, 0x32, 0x35, 0x42, 0x32, 0x0a, 0xf3, 0x20,
            0x68, 0x65, 0x6c, 0x09, 0x00, 0x20, 0x62, 0x77, 0x05, 0xb0, 0x6c, 0x64, 0x7d, 0x0a, 0x80, 0x0f,
            0xa0,
        ];
        let mut out = Vec::new();
        assert_eq!(decompress(&simple, 1 << 20, &mut out), Ok(()));
        assert_eq!(out, b"{\\rtf1\\ansi\\ansicpg1252\\pard hello world}\r\n");
        let repeated = [
            0x1a, 0x00, 0x00, 0x00, 0x1c, 0x00, 0x00, 0x00, 0x4c, 0x5a, 0x46, 0x75, 0xe2, 0xd4, 0x4b, 0x51,
            0x41, 0x00, 0x04, 0x20, 0x57, 0x58, 0x59, 0x5a, 0x0d, 0x6e, 0x7d, 0x01, 0x0e, 0xb0,
        ];
        out.clear();
        assert_eq!(decompress(&repeated, 1 << 20, &mut out), Ok(()));
        assert_eq!(out, b"{\\rtf1 WXYZWXYZWXYZWXYZWXYZ}");
        // Truncation keeps what was read; the cap holds.
        for cut in 0..simple.len() {
            let mut out = Vec::new();
            let _ = decompress(&simple[..cut], 1 << 20, &mut out);
        }
        out.clear();
        assert_eq!(decompress(&simple, 5, &mut out), Ok(()));
        assert_eq!(out.len(), 5);
    }
}
