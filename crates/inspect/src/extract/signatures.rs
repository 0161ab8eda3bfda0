//! The signatures of the containers a host's bytes are watched for ([`super::probe`]), and
//! the search for them: a vectorised test of 4 KiB blocks for the bytes text does not hold
//! (every binary signature has one at a fixed offset), `memchr` for rarer bytes in binary
//! data, and a `memmem` pass for PDF headers, which are all text.

use crate::decode::Format;

/// Longest signature checked in the host's own bytes (bzip2's magic, block magic, CRC and
/// first byte after it).
pub(super) const SIG_MAX: usize = 15;

/// What a signature in the host announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Sig {
    Zip,
    SevenZ,
    Stream(Format),
    /// `%PDF-` and a version, past the first KiB ([`embedded_pdf`]).
    Pdf,
}

pub(super) fn sig_name(sig: Sig) -> &'static str {
    match sig {
        Sig::Zip => "zip member",
        Sig::SevenZ => "7z",
        Sig::Pdf => "pdf",
        Sig::Stream(Format::Bzip2) => "bzip2",
        Sig::Stream(Format::Xz) => "xz",
        Sig::Stream(Format::Zstd) => "zstd",
        Sig::Stream(Format::Lz4) => "lz4",
        Sig::Stream(_) => "gzip",
    }
}

/// A signature: bytes at fixed offsets from its start, `len` bytes in all, and the offset of
/// the byte text searches find it by ([`Anchors::Text`]).
struct SigDef {
    sig: Sig,
    fixed: &'static [(usize, u8)],
    len: usize,
    text_anchor: usize,
}

/// Every signature, with the bytes that must be there. A zip local header's version needed
/// has a zero high byte (`plausible_zip_header`); a 7z's major version is 0; a bzip2
/// stream's fifteenth byte is at most 7 (a zero "randomised" bit, then the top bits of a
/// block's origin pointer, which is below 900,000 < 2^20). An LZ4 frame's descriptor has
/// version 01 and its reserved bits clear.
const SIGS: [SigDef; 7] = [
    SigDef { sig: Sig::Zip, fixed: &[(0, b'P'), (1, b'K'), (2, 3), (3, 4), (5, 0)], len: 6, text_anchor: 2 },
    SigDef {
        sig: Sig::Stream(Format::Gzip),
        fixed: &[(0, 0x1F), (1, 0x8B), (2, 0x08)],
        len: 4,
        text_anchor: 2,
    },
    SigDef {
        sig: Sig::Stream(Format::Xz),
        fixed: &[(0, 0xFD), (1, b'7'), (2, b'z'), (3, b'X'), (4, b'Z'), (5, 0)],
        // The stream header: magic, flags, and the CRC32 of the flags (checked).
        len: 12,
        text_anchor: 0,
    },
    SigDef {
        sig: Sig::Stream(Format::Zstd),
        fixed: &[(0, 0x28), (1, 0xB5), (2, 0x2F), (3, 0xFD)],
        len: 4,
        text_anchor: 3,
    },
    SigDef {
        sig: Sig::SevenZ,
        fixed: &[(0, b'7'), (1, b'z'), (2, 0xBC), (3, 0xAF), (4, 0x27), (5, 0x1C), (6, 0)],
        len: 7,
        text_anchor: 6,
    },
    SigDef {
        sig: Sig::Stream(Format::Bzip2),
        fixed: &[
            (0, b'B'),
            (1, b'Z'),
            (2, b'h'),
            (4, b'1'),
            (5, b'A'),
            (6, b'Y'),
            (7, b'&'),
            (8, b'S'),
            (9, b'Y'),
        ],
        len: SIG_MAX,
        text_anchor: 14,
    },
    SigDef {
        sig: Sig::Stream(Format::Lz4),
        fixed: &[(0, 0x04), (1, 0x22), (2, 0x4D), (3, 0x18)],
        // Magic, FLG and BD.
        len: 6,
        text_anchor: 0,
    },
];

/// How a host is searched for signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Anchors {
    /// ASCII-compatible text: every signature holds a byte of at most 8 or at least 0xFD at
    /// [`SigDef::text_anchor`], which text does not hold. Blocks are tested for such a byte
    /// with one subtraction and one maximum per byte, which the compiler vectorises.
    Text,
    /// Binary data and UTF-16 or UTF-32 text, where those bytes abound: `memchr` passes for
    /// rarer bytes, each signature found by the first of its fixed bytes among them.
    Binary,
}

/// The `memchr` groups of [`Anchors::Binary`].
const BINARY_GROUPS: [&[u8]; 2] = [&[0x03, 0x1F, 0xFD], &[0x1C, b'&', 0x18]];

/// A PDF header, found with its own search: all of its bytes are text. A version
/// (`1.7`, `2.0`) must follow.
const PDF_SIG: &[u8; 5] = b"%PDF-";

/// Bytes a text block is tested in at once.
const TEXT_BLOCK: usize = 4096;

pub(super) fn sig_len(sig: Sig) -> usize {
    if sig == Sig::Pdf {
        return PDF_SIG.len() + 3;
    }
    SIGS.iter().find(|d| d.sig == sig).map_or(SIG_MAX, |d| d.len)
}

/// Whether `b` is a byte [`Anchors::Text`] stops at: at most 8, or at least 0xFD. Shifted
/// down by 9, those are the bytes of 0xF4 or more.
fn text_anchor(b: u8) -> bool {
    b.wrapping_sub(9) >= 0xF4
}

/// The highest byte of a block shifted down by 9 (as [`text_anchor`] shifts), tested 64
/// lanes at a time (the compiler turns the lanes into vector registers): 0xF4 or more when
/// it holds a byte [`text_anchor`] stops at, below [`ASCII_BELOW`] when all its bytes are
/// ASCII (and none is at most 8).
fn block_top(block: &[u8]) -> u8 {
    let mut lanes = [0u8; 64];
    let mut chunks = block.chunks_exact(64);
    for c in &mut chunks {
        for (l, &b) in lanes.iter_mut().zip(c) {
            *l = (*l).max(b.wrapping_sub(9));
        }
    }
    let rest = chunks.remainder().iter().fold(0u8, |m, &b| m.max(b.wrapping_sub(9)));
    lanes.iter().fold(rest, |m, &l| m.max(l))
}

/// A [`block_top`] below this: every byte is ASCII (0x80 shifted down by 9 is 0x77).
pub(super) const ASCII_BELOW: u8 = 0x80 - 9;

/// Every signature that lies whole inside `s`, by where it starts, in order. Returns the
/// highest byte of `s` shifted down by 9 for text anchors (see [`block_top`]), 0xFF for
/// binary ones (not known).
pub(super) fn signatures(s: &[u8], anchors: Anchors, out: &mut Vec<(usize, Sig)>) -> u8 {
    let mut top = 0u8;
    match anchors {
        Anchors::Text => {
            for (k, block) in s.chunks(TEXT_BLOCK).enumerate() {
                let block_max = block_top(block);
                top = top.max(block_max);
                if block_max < 0xF4 {
                    continue;
                }
                for (j, &b) in block.iter().enumerate() {
                    if text_anchor(b) {
                        let i = k * TEXT_BLOCK + j;
                        for def in &SIGS {
                            if let Some(start) = i.checked_sub(def.text_anchor) {
                                check(s, start, def, out);
                            }
                        }
                    }
                }
            }
        }
        Anchors::Binary => {
            top = 0xFF;
            let [a, b] = BINARY_GROUPS;
            let hits =
                memchr::memchr3_iter(a[0], a[1], a[2], s).chain(memchr::memchr3_iter(b[0], b[1], b[2], s));
            let held = |b: u8| BINARY_GROUPS.iter().any(|g| g.contains(&b));
            for i in hits {
                for def in &SIGS {
                    // Found through the first of its fixed bytes that is searched for.
                    let Some(&(off, v)) = def.fixed.iter().find(|&&(_, v)| held(v)) else { continue };
                    if v == s[i] && i >= off {
                        check(s, i - off, def, out);
                    }
                }
            }
        }
    }
    pdf_headers(s, out);
    out.sort_by_key(|&(at, _)| at);
    top
}

/// Every PDF header in `s` with its version (`%PDF-1.7`), whole.
fn pdf_headers(s: &[u8], out: &mut Vec<(usize, Sig)>) {
    // `%` is rare in text, so a `memchr` for it costs less than a two-byte `memmem`
    // prefilter, which prose trips often (0.47 instructions a byte against about 0.1).
    for at in memchr::memchr_iter(b'%', s) {
        if let Some(h) = s.get(at..at + 8) {
            if h.starts_with(PDF_SIG) && h[5].is_ascii_digit() && h[6] == b'.' && h[7].is_ascii_digit() {
                out.push((at, Sig::Pdf));
            }
        }
    }
}

/// Records `def` at `start` if it is there whole.
fn check(s: &[u8], start: usize, def: &SigDef, out: &mut Vec<(usize, Sig)>) {
    let Some(w) = s.get(start..start + def.len) else { return };
    if !def.fixed.iter().all(|&(o, v)| w[o] == v) {
        return;
    }
    let ok = match def.sig {
        // gzip: no reserved flag bits.
        Sig::Stream(Format::Gzip) => w[3] & 0xE0 == 0,
        Sig::Stream(Format::Bzip2) => (b'1'..=b'9').contains(&w[3]) && w[14] <= 7,
        Sig::Stream(Format::Xz) => {
            let mut crc = flate2::Crc::new();
            crc.update(&w[6..8]);
            crc.sum() == u32::from_le_bytes([w[8], w[9], w[10], w[11]])
        }
        // LZ4: version 01, no reserved FLG bit, a block size of 4-7 and no other BD bit.
        Sig::Stream(Format::Lz4) => w[4] >> 6 == 1 && w[4] & 0x02 == 0 && w[5] & 0x8F == 0 && w[5] >= 0x40,
        _ => true,
    };
    if ok {
        out.push((start, def.sig));
    }
}
