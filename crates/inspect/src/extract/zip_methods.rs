//! Zip member methods that neither the zip crate (as built here) nor the engine's stream
//! decoders read: LZMA (method 14, written by 7-Zip's `-mm=LZMA` and Python's `ZIP_LZMA`)
//! and PPMd (method 98, 7-Zip's `-mm=PPMd`). Each member starts with a short header of its
//! own (APPNOTE 5.8.8 and 5.10) that sets the decoder's memory, judged before anything is
//! allocated.

use std::io::Read;

use lzma_rust2::LzmaReader;
use ppmd_rust::{Ppmd8Decoder, RestoreMethod};

/// Zip's method number for LZMA.
pub(crate) const LZMA: u16 = 14;
/// Zip's method number for PPMd (variant I, revision 1).
pub(crate) const PPMD: u16 = 98;

/// Why a member's decoder was not made.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The header asks for this much memory, more than the window limit allows.
    Memory(u64),
    /// The header is damaged or cut short.
    Corrupt(String),
}

/// A reader of the decompressed member, at most `size` bytes (its declared size, which is
/// where extractors stop too), over `raw`, its compressed bytes. `memory` is what the decoder
/// holds, to be charged to the object's budget.
pub(crate) struct Opened<'a> {
    pub reader: Box<dyn Read + 'a>,
    pub memory: u64,
}

/// Opens a decoder for `method` (one of [`LZMA`] and [`PPMD`]) over `raw`. `max_window`
/// bounds what the decoder may hold.
pub(crate) fn open<'a>(
    method: u16,
    mut raw: Box<dyn Read + 'a>,
    size: u64,
    max_window: u64,
) -> Result<Opened<'a>, Refusal> {
    match method {
        LZMA => {
            // Version (2 bytes), the properties' length (2 bytes, 5), then the properties:
            // the lc/lp/pb byte and the dictionary size.
            let mut head = [0u8; 9];
            raw.read_exact(&mut head).map_err(|e| Refusal::Corrupt(format!("zip LZMA header: {e}")))?;
            if u16::from_le_bytes([head[2], head[3]]) != 5 {
                return Err(Refusal::Corrupt("zip LZMA header: properties are not 5 bytes".into()));
            }
            let props = head[4];
            let dict = u32::from_le_bytes([head[5], head[6], head[7], head[8]]);
            let (lc, lp) = (u32::from(props % 9), u32::from(props % 45 / 9));
            // The decoder keeps no more history than the member's size.
            let window = u64::from(dict).min(size).max(4096);
            let literals = (0x300u64 * 2) << (lc + lp);
            let memory = window + literals;
            if memory > max_window {
                return Err(Refusal::Memory(memory));
            }
            let reader = LzmaReader::new_with_props(raw, size, props, dict, None)
                .map_err(|e| Refusal::Corrupt(format!("zip LZMA header: {e}")))?;
            Ok(Opened { reader: Box::new(reader.take(size)), memory })
        }
        PPMD => {
            // One little-endian word: order - 1 (4 bits), memory in MiB - 1 (8 bits), the
            // model restoration method (4 bits).
            let mut head = [0u8; 2];
            raw.read_exact(&mut head).map_err(|e| Refusal::Corrupt(format!("zip PPMd header: {e}")))?;
            let word = u16::from_le_bytes(head);
            let order = u32::from(word & 0xF) + 1;
            let mib = u32::from((word >> 4) & 0xFF) + 1;
            let restore = match word >> 12 {
                0 => RestoreMethod::Restart,
                1 => RestoreMethod::CutOff,
                r => return Err(Refusal::Corrupt(format!("zip PPMd header: restoration method {r}"))),
            };
            let memory = u64::from(mib) << 20;
            if memory > max_window {
                return Err(Refusal::Memory(memory));
            }
            let reader = Ppmd8Decoder::new(raw, order, mib << 20, restore)
                .map_err(|e| Refusal::Corrupt(format!("zip PPMd header: {e}")))?;
            Ok(Opened { reader: Box::new(reader.take(size)), memory })
        }
        other => Err(Refusal::Corrupt(format!("zip method {other} has no reader here"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(method: u16, data: &[u8], size: u64, max_window: u64) -> Result<Vec<u8>, Refusal> {
        let mut opened = open(method, Box::new(data), size, max_window)?;
        let mut out = Vec::new();
        opened.reader.read_to_end(&mut out).map_err(|e| Refusal::Corrupt(e.to_string()))?;
        Ok(out)
    }

    /// A zip LZMA member body: the 4-byte header, then a raw LZMA stream as the `.lzma`
    /// encoder writes it after its 13-byte header.
    fn lzma_member(text: &[u8]) -> Vec<u8> {
        let mut alone = Vec::new();
        let options = lzma_rust2::LzmaOptions::with_preset(6);
        let mut w = lzma_rust2::LzmaWriter::new_use_header(&mut alone, &options, Some(text.len() as u64))
            .expect("lzma writer");
        std::io::Write::write_all(&mut w, text).expect("write");
        w.finish().expect("finish");
        let mut member = vec![9, 20, 5, 0];
        member.extend_from_slice(&alone[..5]);
        member.extend_from_slice(&alone[13..]);
        member
    }

    #[test]
    fn lzma_members_decode_to_their_declared_size() {
        let text = b"card 4111 1111 1111 1111 in an lzma member\n".repeat(200);
        let member = lzma_member(&text);
        assert_eq!(read_all(LZMA, &member, text.len() as u64, 64 << 20).expect("decodes"), text);
        // Extractors stop at the declared size, and so does the reader.
        assert_eq!(read_all(LZMA, &member, 10, 64 << 20).expect("decodes"), &text[..10]);
    }

    #[test]
    fn damaged_or_greedy_headers_are_refused() {
        let text = b"some text".repeat(100);
        let mut member = lzma_member(&text);
        assert!(matches!(read_all(LZMA, &member[..6], 900, 64 << 20), Err(Refusal::Corrupt(_))));
        member[2] = 6;
        assert!(matches!(read_all(LZMA, &member, 900, 64 << 20), Err(Refusal::Corrupt(_))));
        // A 64 MiB dictionary over a 64 MiB member, with a 1 MiB window allowed.
        let greedy = [9, 20, 5, 0, 0x5d, 0, 0, 0, 4];
        assert!(matches!(read_all(LZMA, &greedy, 64 << 20, 1 << 20), Err(Refusal::Memory(_))));
        // PPMd: 256 MiB of model, and a restoration method that does not exist.
        assert_eq!(read_all(PPMD, &[0xF5, 0x0F], 10, 64 << 20), Err(Refusal::Memory(256 << 20)));
        assert!(matches!(read_all(PPMD, &[0x05, 0x20], 10, 64 << 20), Err(Refusal::Corrupt(_))));
        assert!(matches!(read_all(PPMD, &[0x05], 10, 64 << 20), Err(Refusal::Corrupt(_))));
    }

    #[test]
    fn ppmd_members_decode() {
        let text = b"card 5500 0000 0000 0004 in a PPMd member\n".repeat(300);
        // order 6, 16 MiB, restart: as 7-Zip writes by default.
        let (order, mib) = (6u16, 16u16);
        let word = (order - 1) | (mib - 1) << 4;
        let mut member = word.to_le_bytes().to_vec();
        let mut enc = ppmd_rust::Ppmd8Encoder::new(
            &mut member,
            u32::from(order),
            u32::from(mib) << 20,
            RestoreMethod::Restart,
        )
        .expect("encoder");
        std::io::Write::write_all(&mut enc, &text).expect("write");
        enc.finish(true).expect("finish");
        assert_eq!(read_all(PPMD, &member, text.len() as u64, 64 << 20).expect("decodes"), text);
    }
}
