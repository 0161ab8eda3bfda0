//! Identifying content by what it is, not by what it claims to be: magic bytes first, then
//! structure. Extensions and Content-Type are only used for a multipart boundary.

use serde::{Deserialize, Serialize};

use crate::decode::Format;

/// Bytes looked at before deciding a type (enough for a tar header's `ustar` at 257).
pub const SNIFF_LEN: usize = 1024;

/// A file type, as recorded in verdicts and used by rule conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FileType {
    /// Plain text (UTF-8, UTF-16 or Latin-1), CSV included.
    Text,
    /// HTML.
    Html,
    /// XML.
    Xml,
    /// JSON.
    Json,
    /// Rich text format.
    Rtf,
    /// PDF.
    Pdf,
    /// A zip archive that is not an office document.
    Zip,
    /// Word (OOXML).
    Docx,
    /// Excel (OOXML).
    Xlsx,
    /// PowerPoint (OOXML).
    Pptx,
    /// OpenDocument text.
    Odt,
    /// OpenDocument spreadsheet.
    Ods,
    /// OpenDocument presentation.
    Odp,
    /// gzip.
    Gzip,
    /// bzip2.
    Bzip2,
    /// xz.
    Xz,
    /// Zstandard.
    Zstd,
    /// LZ4 (frames or the legacy format).
    Lz4,
    /// `.lzma` (LZMA-alone).
    Lzma,
    /// lzip.
    Lzip,
    /// A zlib stream.
    Zlib,
    /// A 7z archive.
    SevenZip,
    /// tar.
    Tar,
    /// multipart/form-data or another multipart body.
    Multipart,
    /// A MIME e-mail message.
    Email,
    /// An OLE compound file (legacy Office).
    Ole,
    /// Word 97-2003 (an OLE file holding `WordDocument`).
    Doc,
    /// Excel 97-2003 (an OLE file holding `Workbook`).
    Xls,
    /// PowerPoint 97-2003 (an OLE file holding `PowerPoint Document`).
    Ppt,
    /// An Outlook message (an OLE file of `__substg1.0_` properties).
    Msg,
    /// An image.
    Image,
    /// Audio or video.
    Media,
    /// An executable (ELF, PE, Mach-O, Java class).
    Executable,
    /// An archive or document protected by a password.
    EncryptedArchive,
    /// An archive or compressed stream the engine cannot open (RAR, cab, `.Z` ...).
    UnsupportedArchive,
    /// Anything else: scanned as raw bytes.
    Binary,
}

impl FileType {
    /// Whether a policy may exempt this type: only types whose structure the engine
    /// validates before skipping anything (images and media are walked, zip and office
    /// documents opened), so that magic bytes alone never decide.
    pub fn can_be_exempt(self) -> bool {
        matches!(
            self,
            Self::Image
                | Self::Media
                | Self::Zip
                | Self::Docx
                | Self::Xlsx
                | Self::Pptx
                | Self::Odt
                | Self::Ods
                | Self::Odp
        )
    }
}

/// How to read a text stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Charset {
    /// ASCII-compatible bytes (UTF-8, Latin-1, ...): scanned as they are.
    Bytes,
    /// UTF-16 little endian.
    Utf16Le,
    /// UTF-16 big endian.
    Utf16Be,
    /// UTF-16 little endian after one stray byte (no byte order mark): the byte is left to
    /// the byte-by-byte reading every wide text also gets.
    Utf16LeOdd,
    /// UTF-16 big endian after one stray byte.
    Utf16BeOdd,
    /// UTF-32 little endian (by its byte order mark).
    Utf32Le,
    /// UTF-32 big endian (by its byte order mark).
    Utf32Be,
    /// UTF-32 without a byte order mark, little or big endian, after 0 to 3 stray bytes.
    Utf32LeAfter(u8),
    Utf32BeAfter(u8),
    /// A legacy double-byte encoding of Chinese, Japanese or Korean, decoded to UTF-8 (the
    /// bytes are read as they are too).
    Legacy(LegacyCjk),
    /// EBCDIC (code page 037 and its kin), decoded to UTF-8.
    Ebcdic,
    /// UTF-7 (by its signature `+/v8`, or a label), decoded to UTF-8.
    Utf7,
}

/// Legacy encodings of Chinese, Japanese and Korean text. Read as bytes, their full-width
/// digits are no digits, and in Shift_JIS and Big5 the second byte of a character may be
/// an ASCII letter that glues itself to a value after it (`：` is `0x81 0x46`, `.F`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum LegacyCjk {
    ShiftJis,
    EucJp,
    EucKr,
    Gbk,
    Big5,
    /// Seven-bit Japanese with escape sequences, as Japanese mail is traditionally sent.
    Iso2022Jp,
}

impl LegacyCjk {
    pub fn encoding(self) -> &'static encoding_rs::Encoding {
        match self {
            LegacyCjk::ShiftJis => encoding_rs::SHIFT_JIS,
            LegacyCjk::EucJp => encoding_rs::EUC_JP,
            LegacyCjk::EucKr => encoding_rs::EUC_KR,
            LegacyCjk::Gbk => encoding_rs::GB18030,
            LegacyCjk::Big5 => encoding_rs::BIG5,
            LegacyCjk::Iso2022Jp => encoding_rs::ISO_2022_JP,
        }
    }
}

impl Charset {
    /// Whether it is UTF-16 or UTF-32, whose ASCII characters are not ASCII bytes (legacy CJK
    /// encodings keep ASCII as it is).
    pub fn is_wide(self) -> bool {
        !matches!(self, Charset::Bytes | Charset::Legacy(_) | Charset::Ebcdic | Charset::Utf7)
    }

    /// Stray bytes before the first code unit.
    pub fn skip(self) -> usize {
        match self {
            Charset::Utf16LeOdd | Charset::Utf16BeOdd => 1,
            Charset::Utf32LeAfter(n) | Charset::Utf32BeAfter(n) => usize::from(n),
            _ => 0,
        }
    }
}

/// How to turn a text stream into scannable text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Markup {
    /// As is.
    Plain,
    /// Tags stripped, entities decoded (HTML and XML).
    Tags,
    /// String escapes decoded.
    Json,
    /// Folded lines joined: vCard, iCalendar, LDIF.
    Folded,
}

/// What the pipeline does with an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    Text(Charset, Markup),
    /// A compressed stream: gzip, bzip2, xz or zstd.
    Compressed(Format),
    Tar,
    Zip,
    Pdf,
    Rtf,
    Multipart(String),
    Email,
    SevenZ,
    /// Text holding a uuencoded file (a `begin 644 NAME` line in its head), read as this
    /// text and for its blocks.
    Uuencoded(Charset, Markup),
    /// Scanned as raw bytes, with this type recorded.
    Raw(FileType),
    /// An encrypted container (OOXML with a password).
    Encrypted,
    /// A compressed format that cannot be opened, by name.
    Unsupported(&'static str),
}

impl Kind {
    /// Whether the kind opens members one level deeper.
    pub fn is_container(&self) -> bool {
        matches!(
            self,
            Kind::Compressed(_)
                | Kind::Tar
                | Kind::Zip
                | Kind::SevenZ
                | Kind::Multipart(_)
                | Kind::Email
                | Kind::Pdf
                | Kind::Rtf
                | Kind::Uuencoded(..)
        )
    }

    pub fn file_type(&self) -> FileType {
        match self {
            Kind::Text(_, Markup::Plain) => FileType::Text,
            Kind::Text(_, Markup::Tags) => FileType::Html,
            Kind::Text(_, Markup::Json) => FileType::Json,
            Kind::Text(_, Markup::Folded) => FileType::Text,
            Kind::Compressed(Format::Bzip2) => FileType::Bzip2,
            Kind::Compressed(Format::Xz) => FileType::Xz,
            Kind::Compressed(Format::Zstd) => FileType::Zstd,
            Kind::Compressed(Format::Lz4) => FileType::Lz4,
            Kind::Compressed(Format::Lzma) => FileType::Lzma,
            Kind::Compressed(Format::Lzip) => FileType::Lzip,
            Kind::Compressed(Format::Deflate) => FileType::Zlib,
            Kind::Compressed(Format::Radix(_)) => FileType::Text,
            Kind::Compressed(_) => FileType::Gzip,
            Kind::SevenZ => FileType::SevenZip,
            Kind::Tar => FileType::Tar,
            Kind::Zip => FileType::Zip,
            Kind::Pdf => FileType::Pdf,
            Kind::Rtf => FileType::Rtf,
            Kind::Multipart(_) => FileType::Multipart,
            Kind::Email => FileType::Email,
            Kind::Uuencoded(c, m) => Kind::Text(*c, *m).file_type(),
            Kind::Raw(t) => *t,
            Kind::Encrypted => FileType::EncryptedArchive,
            Kind::Unsupported(_) => FileType::UnsupportedArchive,
        }
    }
}

/// The boundary parameter of a `multipart/*` Content-Type.
pub(crate) fn multipart_boundary(content_type: &str) -> Option<String> {
    let lower = content_type.to_ascii_lowercase();
    if !lower.trim_start().starts_with("multipart/") {
        return None;
    }
    let idx = lower.find("boundary=")?;
    let raw = content_type.get(idx + "boundary=".len()..)?;
    let raw = raw.trim_start();
    let b = if let Some(rest) = raw.strip_prefix('"') {
        rest.split('"').next()?
    } else {
        raw.split([';', ' ', '\t', '\r', '\n']).next()?
    };
    (!b.is_empty() && b.len() <= 200).then(|| b.to_string())
}

fn starts_with_at(head: &[u8], at: usize, magic: &[u8]) -> bool {
    head.get(at..at + magic.len()) == Some(magic)
}

/// Archive and compression formats the engine cannot open, by their magic: their content is
/// compressed (or, in a disk image, may be), so reading their bytes as they are would let
/// whatever they hold through. Each is could-not-scan (`unsupported`), with its name.
/// Whether `head` starts an encrypted file of a format that says so: `openssl enc`
/// (`Salted__`), an OpenPGP message encrypted to a password or a key (`gpg -c`, `gpg -e`,
/// binary or armored: a session-key packet first), a CMS/PKCS #7 enveloped-data structure
/// (`openssl cms -encrypt`, S/MIME `smime.p7m` once its base64 is decoded). Their content
/// cannot be read: could-not-scan, as an encrypted zip is.
fn encrypted_format(head: &[u8]) -> bool {
    if head.starts_with(b"Salted__") && head.len() >= 16 {
        return true;
    }
    // OpenPGP: a public-key (tag 1) or symmetric-key (tag 3) encrypted session key packet,
    // old format with a one- or two-byte length, or new format, then its version.
    let pgp_packet = |h: &[u8]| -> bool {
        let (tag, version) = match h {
            [b @ (0x84 | 0x8C), _, v, ..] => ((b >> 2) & 0xF, *v),
            [b @ (0x85 | 0x8D), _, _, v, ..] => ((b >> 2) & 0xF, *v),
            [b @ (0xC1 | 0xC3), len, rest @ ..] if *len < 192 => (b & 0x3F, *rest.first().unwrap_or(&0)),
            _ => return false,
        };
        (tag == 1 && matches!(version, 3 | 6)) || (tag == 3 && matches!(version, 4..=6))
    };
    if pgp_packet(head) {
        return true;
    }
    let text = head.trim_ascii_start();
    if text.starts_with(b"-----BEGIN PGP MESSAGE-----") {
        // The armor's base64 starts after the header lines and a blank line.
        let body = memchr::memmem::find(text, b"\n\n")
            .or_else(|| memchr::memmem::find(text, b"\r\n\r\n"))
            .map(|i| text[i..].trim_ascii_start());
        let mut packet = [0u8; 6];
        let decoded = body.and_then(|b| {
            let b = &b[..b.len().min(8)];
            base64_prefix(b, &mut packet)
        });
        return decoded.is_some_and(|n| pgp_packet(&packet[..n]));
    }
    // DER: a SEQUENCE, then the enveloped-data content type (1.2.840.113549.1.7.3).
    head.first() == Some(&0x30)
        && memchr::memmem::find(&head[..head.len().min(24)], b"\x06\x09\x2A\x86\x48\x86\xF7\x0D\x01\x07\x03")
            .is_some()
}

/// Decodes the base64 characters at the start of `b` (a multiple of four) into `out`.
fn base64_prefix(b: &[u8], out: &mut [u8; 6]) -> Option<usize> {
    let value = |c: u8| -> Option<u32> {
        Some(u32::from(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        }))
    };
    let mut n = 0;
    for quad in b.chunks_exact(4).take(2) {
        let v = quad.iter().try_fold(0u32, |a, &c| value(c).map(|x| (a << 6) | x))?;
        out[n..n + 3].copy_from_slice(&v.to_be_bytes()[1..]);
        n += 3;
    }
    Some(n)
}

fn unsupported_format(head: &[u8]) -> Option<&'static str> {
    let m = |magic: &[u8]| head.starts_with(magic);
    let at = |i: usize, magic: &[u8]| starts_with_at(head, i, magic);
    let name = if m(b"Rar!\x1A\x07") {
        "rar"
    } else if m(&[0x1F, 0x9D]) && head.get(2).is_some_and(|f| f & 0x60 == 0 && (9..=16).contains(&(f & 0x1F)))
    {
        // Unix `compress` (LZW): the flags byte has its reserved bits clear and 9-16 bit codes.
        "compress (.Z)"
    } else if m(b"MSCF\0\0\0\0") {
        "cab"
    } else if m(&[0x60, 0xEA])
        && head.len() >= 4
        && (1..=2600).contains(&u16::from_le_bytes([head[2], head[3]]))
    {
        "arj"
    } else if head.len() >= 7 && at(2, b"-l") && matches!(head[4], b'h' | b'z') && head[6] == b'-' {
        "lha"
    } else if at(7, b"**ACE**") {
        "ace"
    } else if m(b"\x89LZO\x00\r\n\x1a\n") {
        "lzop"
    } else if m(b"\xff\x06\x00\x00sNaPpY") {
        "snappy"
    } else if m(b"SZDD\x88\xf0\x27\x33") || m(b"KWAJ\x88\xf0\x27\xd1") {
        "ms-compress"
    } else if m(b"7kSu") || (m(b"zPQ") && matches!(head.get(3), Some(1 | 2)) && head.get(4) == Some(&1)) {
        "zpaq"
    } else if m(b"xar!\x00\x1c") {
        "xar"
    } else if m(b"hsqs") || m(b"sqsh") {
        "squashfs"
    } else if m(b"MSWIM\0\0\0") {
        "wim"
    } else if (m(b"SIT!") && at(10, b"rLau")) || m(b"StuffIt (c)1997") {
        "stuffit"
    } else if m(b"bvx2") || m(b"bvxn") || m(b"bvx1") {
        "lzfse"
    } else {
        return None;
    };
    Some(name)
}

/// Decides the kind of an object from its first bytes (all of it when shorter than
/// [`SNIFF_LEN`]) and, for multipart only, its declared Content-Type.
pub(crate) fn identify(head: &[u8], content_type: Option<&str>) -> Kind {
    if let Some(b) = content_type.and_then(multipart_boundary) {
        return Kind::Multipart(b);
    }
    let m = |magic: &[u8]| head.starts_with(magic);
    // gzip: the magic, deflate (the only method), no reserved flag bits.
    if m(&[0x1f, 0x8b, 0x08]) && head.get(3).is_none_or(|f| f & 0xE0 == 0) {
        return Kind::Compressed(Format::Gzip);
    }
    if m(b"PK\x03\x04") || m(b"PK\x05\x06") || m(b"PK\x07\x08") {
        return Kind::Zip;
    }
    if head.len() >= 262 && starts_with_at(head, 257, b"ustar") {
        return Kind::Tar;
    }
    if memchr::memmem::find(&head[..head.len().min(1024)], b"%PDF-").is_some() {
        return Kind::Pdf;
    }
    if m(b"7z\xBC\xAF\x27\x1C") {
        return Kind::SevenZ;
    }
    if let Some(name) = unsupported_format(head) {
        return Kind::Unsupported(name);
    }
    if encrypted_format(head) {
        return Kind::Encrypted;
    }
    if crate::decode::LZ4_MAGICS.iter().any(|magic| m(magic)) {
        return Kind::Compressed(Format::Lz4);
    }
    if m(b"LZIP") && head.get(4).is_some_and(|v| *v <= 1) {
        return Kind::Compressed(Format::Lzip);
    }
    if crate::decode::zlib_head_decodes(head) {
        return Kind::Compressed(Format::Deflate);
    }
    if crate::decode::lzma_head_decodes(head) {
        return Kind::Compressed(Format::Lzma);
    }
    if m(b"\xFD7zXZ\x00") {
        return Kind::Compressed(Format::Xz);
    }
    // A zstd frame, or a skippable frame (which may come first).
    if m(b"\x28\xB5\x2F\xFD")
        || (head.len() >= 4 && head[0] & 0xF0 == 0x50 && starts_with_at(head, 1, b"\x2A\x4D\x18"))
    {
        return Kind::Compressed(Format::Zstd);
    }
    // `BZh`, the block size, then the magic of a block or of the end of an empty stream.
    if m(b"BZh")
        && head.get(3).is_some_and(|b| (b'1'..=b'9').contains(b))
        && (starts_with_at(head, 4, b"1AY&SY") || starts_with_at(head, 4, b"\x17\x72\x45\x38\x50\x90"))
    {
        return Kind::Compressed(Format::Bzip2);
    }
    if m(b"{\\rtf") {
        return Kind::Rtf;
    }
    if m(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        // An encrypted OOXML document is an OLE file holding an `EncryptedPackage` stream.
        let name: Vec<u8> = "EncryptedPackage".bytes().flat_map(|b| [b, 0]).collect();
        return if memchr::memmem::find(head, &name).is_some() {
            Kind::Encrypted
        } else {
            Kind::Raw(FileType::Ole)
        };
    }
    if m(b"\x7fELF")
        || (m(b"MZ") && head.len() >= 64)
        || m(&[0xFE, 0xED, 0xFA, 0xCE])
        || m(&[0xFE, 0xED, 0xFA, 0xCF])
        || m(&[0xCE, 0xFA, 0xED, 0xFE])
        || m(&[0xCF, 0xFA, 0xED, 0xFE])
        || m(&[0xCA, 0xFE, 0xBA, 0xBE])
    {
        return Kind::Raw(FileType::Executable);
    }
    if m(b"\x89PNG")
        || m(&[0xFF, 0xD8, 0xFF])
        || m(b"GIF8")
        || m(b"II*\0")
        || m(b"MM\0*")
        || (m(b"RIFF") && starts_with_at(head, 8, b"WEBP"))
    {
        return Kind::Raw(FileType::Image);
    }
    if m(b"ID3")
        || m(b"fLaC")
        || m(b"OggS")
        || m(&[0x1A, 0x45, 0xDF, 0xA3])
        || starts_with_at(head, 4, b"ftyp")
        || (m(b"RIFF") && (starts_with_at(head, 8, b"WAVE") || starts_with_at(head, 8, b"AVI ")))
    {
        return Kind::Raw(FileType::Media);
    }
    // Raw deflate, which has no magic. Repetitive text deflates to mostly printable bytes
    // (`RJ)..RJ)..`), and stored blocks are the text itself with a 5-byte header between
    // blocks that may cut a value in two (a header can be printable, and UTF-8: `@ C3 80 3C
    // 7F`). A stored block's length and its complement are checked in a few operations;
    // Huffman-coded data is practically never a KiB without a control byte (one byte in ten
    // is one), so only a head with control bytes is tried for it. Before the UTF-16 test,
    // which one zero byte in a short head can pass.
    let control = control_bytes(head);
    if (control > 0 || crate::decode::stored_block_head(head))
        && crate::decode::raw_deflate_head_decodes(head)
    {
        return Kind::Compressed(Format::Deflate);
    }
    // Text: byte order marks, then a UTF-16 heuristic, then the structure of the text.
    let (charset, body) = if m(&[0xEF, 0xBB, 0xBF]) {
        (Charset::Bytes, &head[3..])
    } else if m(&[0xFF, 0xFE, 0, 0]) {
        (Charset::Utf32Le, &head[4..])
    } else if m(&[0, 0, 0xFE, 0xFF]) {
        (Charset::Utf32Be, &head[4..])
    } else if m(&[0xFF, 0xFE]) {
        (Charset::Utf16Le, &head[2..])
    } else if m(&[0xFE, 0xFF]) {
        (Charset::Utf16Be, &head[2..])
    } else if utf7_signature(head) {
        let mut text = Vec::new();
        crate::charsets::decode_all(crate::charsets::Label::Utf7, head, &mut text);
        return Kind::Text(
            Charset::Utf7,
            markup_of(text.strip_prefix("\u{feff}".as_bytes()).unwrap_or(&text)),
        );
    } else {
        (utf32_guess(head).or_else(|| utf16_guess(head)).unwrap_or(Charset::Bytes), head)
    };
    if charset != Charset::Bytes {
        // Structure sniffing on the ASCII projection of UTF-16.
        let (skip, step) = match charset {
            Charset::Utf16Be | Charset::Utf16LeOdd => (1, 2),
            Charset::Utf16BeOdd => (2, 2),
            Charset::Utf32Le => (0, 4),
            Charset::Utf32Be => (3, 4),
            Charset::Utf32LeAfter(n) => (usize::from(n), 4),
            Charset::Utf32BeAfter(n) => (usize::from(n) + 3, 4),
            _ => (0, 2),
        };
        let ascii: Vec<u8> = body.iter().skip(skip).step_by(step).copied().collect();
        return Kind::Text(charset, markup_of(&ascii));
    }
    if let Some(b) = multipart_first_line(body) {
        return Kind::Multipart(b);
    }
    if looks_like_email(body) {
        return Kind::Email;
    }
    let markup = markup_of(body);
    let control = if body.len() == head.len() { control } else { control_bytes(body) };
    if markup == Markup::Plain && !is_mostly_text(control, body.len()) {
        return Kind::Raw(FileType::Binary);
    }
    // A whole object in hex, narrow base64, base32 or base 85 lines (`xxd -p`, `base64 -w
    // 60`, `base32`, `<~...~>`), maybe behind a title line.
    if markup == Markup::Plain {
        if let Some(e) = crate::decode::radix_head_format(body) {
            return Kind::Compressed(Format::Radix(e));
        }
    }
    if crate::ebcdic::looks_like(body) && !is_utf8_head(body) {
        let mut ascii = Vec::new();
        crate::ebcdic::decode(body, &mut ascii);
        return Kind::Text(Charset::Ebcdic, markup_of(&ascii));
    }
    let charset = legacy_guess(body).map_or(Charset::Bytes, Charset::Legacy);
    if holds_uu_block(body) {
        return Kind::Uuencoded(charset, markup);
    }
    Kind::Text(charset, markup)
}

/// The UTF-7 signature (the byte order mark U+FEFF in UTF-7): `+/v8`, `+/v9`, `+/v+` or
/// `+/v/` (the last base64 character carries bits of the next character).
fn utf7_signature(head: &[u8]) -> bool {
    head.starts_with(b"+/v") && matches!(head.get(3), Some(b'8' | b'9' | b'+' | b'/'))
}

/// Fewest bytes above 0x7F in a head for it to be judged as a legacy CJK encoding: four
/// characters (a CSV export may be all ASCII but for a few labels).
const LEGACY_MIN_HIGH: usize = 8;

/// A legacy CJK encoding for a head that is not UTF-8 and has at least [`LEGACY_MIN_HIGH`]
/// bytes above 0x7F, as Mozilla's detector (`chardetng`, made for
/// unlabelled legacy web content) guesses it; `None` for any other guess (Windows-1252 and
/// the other single-byte encodings stay bytes, folded as Windows-1252 by the normaliser).
fn legacy_guess(head: &[u8]) -> Option<LegacyCjk> {
    // ISO-2022-JP is ASCII: its switches to JIS X 0208 (`ESC $ B`, `ESC $ @`) tell it.
    if memchr::memchr(0x1B, head).is_some()
        && (memchr::memmem::find(head, b"\x1b$B").is_some()
            || memchr::memmem::find(head, b"\x1b$@").is_some())
    {
        return Some(LegacyCjk::Iso2022Jp);
    }
    // Most heads are ASCII: told word by word, before a count of their high bytes.
    if head.is_ascii() {
        return None;
    }
    let high = head.iter().filter(|&&b| b >= 0x80).count();
    if high < LEGACY_MIN_HIGH || is_utf8_head(head) {
        return None;
    }
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    detector.feed(head, false);
    let guess = detector.guess(None, chardetng::Utf8Detection::Deny);
    [LegacyCjk::ShiftJis, LegacyCjk::EucJp, LegacyCjk::EucKr, LegacyCjk::Gbk, LegacyCjk::Big5]
        .into_iter()
        .find(|l| l.encoding() == guess || (*l == LegacyCjk::Gbk && guess == encoding_rs::GBK))
}

/// UTF-16 without a BOM. Each of four readings (either byte order, from the first byte or
/// after one stray byte) is judged on its code units: *wide* units have a high byte text
/// read byte by byte rarely holds (zero: ASCII and Latin-1; 0xFF: full-width forms), *bad*
/// units are no text (NUL, control characters, C1 controls, private use, noncharacters).
/// A reading is UTF-16 when at least 40% of its units are wide and at most 10% bad; of
/// several, the one with the fewest bad units (then the most wide ones, then no stray
/// byte, then little endian). Judging units rather than where zero bytes fall keeps text
/// with no zero byte (full-width digits, CJK around them), and a stray byte in front moves
/// the reading, not the verdict: big-endian text after one byte is no little-endian text
/// once its characters change between ASCII and full-width.
///
/// Text mostly in Chinese, Japanese or Korean has few wide units: a reading is also UTF-16
/// when wide and *script* units (CJK punctuation and kana, CJK ideographs, Hangul
/// syllables) are at least 70% of its units, script units at least 30%, none is bad, a
/// quarter of the script units have a low byte outside printable ASCII (Latin-1 or
/// Windows-1252 text read in pairs makes "ideographs" of two ASCII letters), and the head
/// is not UTF-8 (CJK in UTF-8 has no zero or 0xFF byte anyway).
fn utf16_guess(head: &[u8]) -> Option<Charset> {
    if head.len() < 8 {
        return None;
    }
    // Without a zero or 0xFF byte it is not UTF-16 of this kind (the common case, with SIMD),
    // but it may be Japanese: kana and kanji only.
    if memchr::memchr2(0, 0xFF, head).is_none() {
        return kana_guess(head);
    }
    // (by wide units, fewer bad, more wide or script units): the larger wins.
    type Rank = (bool, std::cmp::Reverse<usize>, usize);
    let mut best: Option<(Charset, Rank)> = None;
    for (charset, skip) in UTF16_READINGS {
        let big = matches!(charset, Charset::Utf16Be | Charset::Utf16BeOdd);
        let (mut wide, mut bad, mut units) = (0usize, 0usize, 0usize);
        let (mut script, mut script_off_ascii) = (0usize, 0usize);
        for pair in head[skip..].chunks_exact(2) {
            let (hi, lo) = if big { (pair[0], pair[1]) } else { (pair[1], pair[0]) };
            units += 1;
            // A zero low byte under an ASCII letter is ASCII read one byte off, not script.
            if lo != 0 && matches!(hi, 0x30 | 0x31 | 0x4E..=0x9F | 0xAC..=0xD7) {
                script += 1;
                script_off_ascii += usize::from(!(0x20..=0x7E).contains(&lo));
            }
            match (hi, lo) {
                (0, 0) => bad += 1,
                (0, 0x09 | 0x0A | 0x0C | 0x0D) => wide += 1,
                (0, 0x01..=0x1F | 0x7F..=0x9F) => bad += 1,
                (0, _) => wide += 1,
                (0xFF, 0x01..=0xEF) => wide += 1,
                (0xFF, 0xF0..=0xFF) if lo != 0xFD => bad += 1,
                (0xE0..=0xF8, _) => bad += 1,
                _ => {}
            }
        }
        let mostly_wide = wide * 10 >= units * 4 && bad * 10 <= units;
        let mostly_script = bad == 0
            && (wide + script) * 10 >= units * 7
            && script * 10 >= units * 3
            && script_off_ascii * 4 >= script
            && !is_utf8_head(head);
        if units < 4 || !(mostly_wide || mostly_script) {
            continue;
        }
        // A reading by its wide units comes before one by its script units.
        let key = (mostly_wide, std::cmp::Reverse(bad), if mostly_wide { wide } else { wide + script });
        if best.is_none_or(|(_, k)| key > k) {
            best = Some((charset, key));
        }
    }
    best.map(|(charset, _)| charset)
}

/// The four readings of UTF-16 without a byte order mark: either byte order, from the first
/// byte or after one stray byte.
const UTF16_READINGS: [(Charset, usize); 4] =
    [(Charset::Utf16Le, 0), (Charset::Utf16Be, 0), (Charset::Utf16LeOdd, 1), (Charset::Utf16BeOdd, 1)];

/// Shortest head, in code units, that [`kana_guess`] judges.
const MIN_KANA_UNITS: usize = 16;

/// UTF-16 Japanese with no zero or 0xFF byte in its head: no ASCII, no full-width form, only
/// kana, kanji and `、。` (numbers further on, in full-width digits, would otherwise be
/// read as bytes and missed). A reading qualifies when kana and kanji (high byte 0x30 or
/// 0x4E-0x9F) are at least 90% of its units, kana (0x30) at least 20%, and a quarter of
/// them have a low byte below 0xA1; the head is not UTF-8.
///
/// Legacy encodings of the same text fail: their bytes are never 0x30 in pairs (Shift_JIS
/// kana have a high byte of 0x82 or 0x83), and EUC-JP, EUC-KR and GB2312 have both bytes of
/// every character at 0xA1 or above. Readings that differ only by a stray byte (the high
/// bytes line up either way) are told apart by their distinct units: in the right one a
/// unit is a character, and text repeats its characters more than its pairs of characters.
/// The text is read byte by byte as well (a second detection stream), as all UTF-16 is.
fn kana_guess(head: &[u8]) -> Option<Charset> {
    // Nearly every head that gets here: text in ASCII.
    if head.is_ascii() {
        return None;
    }
    let mut best: Option<(Charset, usize)> = None;
    let mut units_seen = Vec::with_capacity(head.len() / 2);
    for (charset, skip) in UTF16_READINGS {
        let big = matches!(charset, Charset::Utf16Be | Charset::Utf16BeOdd);
        let (mut units, mut kana, mut kanji, mut low) = (0usize, 0usize, 0usize, 0usize);
        units_seen.clear();
        for pair in head[skip..].chunks_exact(2) {
            let (hi, lo) = if big { (pair[0], pair[1]) } else { (pair[1], pair[0]) };
            units += 1;
            match hi {
                0x30 => kana += 1,
                0x4E..=0x9F => kanji += 1,
                _ => continue,
            }
            low += usize::from(lo < 0xA1);
            units_seen.push(u16::from_be_bytes([hi, lo]));
        }
        let script = kana + kanji;
        if units < MIN_KANA_UNITS || script * 10 < units * 9 || kana * 5 < units || low * 4 < script {
            continue;
        }
        units_seen.sort_unstable();
        units_seen.dedup();
        let distinct = units_seen.len();
        if best.is_none_or(|(_, d)| distinct < d) {
            best = Some((charset, distinct));
        }
    }
    best.filter(|_| !is_utf8_head(head)).map(|(charset, _)| charset)
}

/// Whether `text` holds a uuencode `begin MODE NAME` line.
pub(crate) fn holds_uu_block(text: &[u8]) -> bool {
    memchr::memmem::find_iter(text, b"begin ").any(|i| {
        let line = &text[i..];
        let line = &line[..memchr::memchr(b'\n', line).unwrap_or(line.len())];
        (i == 0 || text[i - 1] == b'\n') && uu_begin_name(line.strip_suffix(b"\r").unwrap_or(line)).is_some()
    })
}

/// The name of a uuencode `begin MODE NAME` line (MODE: three or four octal digits).
pub(crate) fn uu_begin_name(line: &[u8]) -> Option<&[u8]> {
    let rest = line.strip_prefix(b"begin ")?;
    let digits = rest.iter().take_while(|b| (b'0'..=b'7').contains(b)).count();
    if !(3..=4).contains(&digits) || rest.get(digits) != Some(&b' ') {
        return None;
    }
    let name = &rest[digits + 1..];
    name.first().is_some_and(|b| !b.is_ascii_whitespace()).then_some(name)
}

/// Whether `head` is UTF-8, a character cut at its end allowed.
fn is_utf8_head(head: &[u8]) -> bool {
    match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none(),
    }
}

/// UTF-32 without a BOM (Python's `utf-32-le` and `utf-32-be` codecs write none), in either
/// byte order and after 0 to 3 stray bytes: the reading whose code units are characters of
/// text (at most 10% that are not: NUL, control characters, surrogates, beyond U+10FFFF)
/// and whose characters are mostly below U+0800 or full-width (at least 60%); of several,
/// the fewest units that are no text, then the most ASCII (a stray byte shifts ASCII
/// into the second byte of each unit), then whole units to the head's end, then the fewest
/// stray bytes.
fn utf32_guess(head: &[u8]) -> Option<Charset> {
    // Every unit of a BMP character has two zero bytes.
    if head.len() < 16 || memchr::memchr(0, head).is_none() {
        return None;
    }
    let mut best: Option<(Charset, (usize, usize, bool))> = None;
    for skip in 0..4u8 {
        for big in [false, true] {
            let (mut bad, mut plain, mut ascii, mut units) = (0usize, 0usize, 0usize, 0usize);
            for unit in head[usize::from(skip)..].chunks_exact(4) {
                let bytes = [unit[0], unit[1], unit[2], unit[3]];
                let v = if big { u32::from_be_bytes(bytes) } else { u32::from_le_bytes(bytes) };
                units += 1;
                match v {
                    0x09 | 0x0A | 0x0C | 0x0D | 0x20..=0x7E => {
                        plain += 1;
                        ascii += 1;
                    }
                    0..=0x1F | 0x7F..=0x9F | 0xD800..=0xDFFF | 0x11_0000.. => bad += 1,
                    0xA0..=0x07FF | 0x3000..=0x303F | 0xFF01..=0xFFEF => plain += 1,
                    _ => {}
                }
            }
            if units < 4 || plain * 10 < units * 6 || bad * 10 > units {
                continue;
            }
            let charset = if big { Charset::Utf32BeAfter(skip) } else { Charset::Utf32LeAfter(skip) };
            // Whole units to the end of a short object (`7` then big-endian `4111...` is
            // also little-endian `74111...` but for its last byte).
            let whole = (head.len() - usize::from(skip)).is_multiple_of(4);
            let score = (usize::MAX - bad, ascii, whole);
            if best.is_none_or(|(_, s)| score > s) {
                best = Some((charset, score));
            }
        }
    }
    best.map(|(charset, _)| charset)
}

fn markup_of(text: &[u8]) -> Markup {
    let t = trim_start(text);
    let lower: Vec<u8> = t.iter().take(256).map(u8::to_ascii_lowercase).collect();
    if lower.starts_with(b"<?xml")
        || lower.starts_with(b"<!doctype")
        || lower.starts_with(b"<html")
        || lower.starts_with(b"<!--")
        || (lower.first() == Some(&b'<') && lower.get(1).is_some_and(u8::is_ascii_alphabetic))
    {
        return Markup::Tags;
    }
    if matches!(t.first(), Some(b'{') | Some(b'['))
        && t.iter().skip(1).find(|b| !b.is_ascii_whitespace()).is_some_and(|&b| {
            matches!(b, b'"' | b'{' | b'[' | b']' | b'}') || b.is_ascii_digit() || b == b'-'
        })
    {
        return Markup::Json;
    }
    // vCard, iCalendar and LDIF (an LDIF file starts with its version or a first entry).
    if lower.starts_with(b"begin:vcard")
        || lower.starts_with(b"begin:vcalendar")
        || lower.starts_with(b"version: 1\n")
        || lower.starts_with(b"version: 1\r\n")
        || lower.starts_with(b"dn: ")
        || lower.starts_with(b"dn:: ")
    {
        return Markup::Folded;
    }
    Markup::Plain
}

fn trim_start(t: &[u8]) -> &[u8] {
    let k = t.iter().take_while(|b| b.is_ascii_whitespace()).count();
    &t[k..]
}

/// Text unless control bytes other than whitespace are frequent.
#[cfg(test)]
fn mostly_text(head: &[u8]) -> bool {
    is_mostly_text(control_bytes(head), head.len())
}

/// At most one control byte in 20.
fn is_mostly_text(control_bytes: usize, len: usize) -> bool {
    control_bytes * 20 <= len
}

/// The control bytes of a head, but the whitespace and escape text holds.
fn control_bytes(head: &[u8]) -> usize {
    // Counted without branches, in byte-wide counters a block at a time: the compiler turns
    // it into vector compares (this runs over every sniffed byte of every text body).
    let is_ctrl =
        |b: u8| u8::from((b < 0x20) & (b != b'\t') & (b != b'\n') & (b != b'\r') & (b != 0x0c) & (b != 0x1b));
    head.chunks(255).map(|block| usize::from(block.iter().fold(0u8, |n, &b| n + is_ctrl(b)))).sum()
}

/// `--boundary` on the first line, followed by part headers.
pub(crate) fn multipart_first_line(body: &[u8]) -> Option<String> {
    let rest = body.strip_prefix(b"--")?;
    let eol = memchr::memchr(b'\n', rest)?;
    let line = rest[..eol].strip_suffix(b"\r").unwrap_or(&rest[..eol]);
    if line.is_empty() || line.len() > 200 || !line.iter().all(|&b| b.is_ascii_graphic() || b == b' ') {
        return None;
    }
    let after: Vec<u8> = rest[eol + 1..].iter().take(200).map(u8::to_ascii_lowercase).collect();
    if after.starts_with(b"content-") {
        return String::from_utf8(line.to_vec()).ok();
    }
    None
}

fn looks_like_email(body: &[u8]) -> bool {
    // An mbox file (a Thunderbird or Takeout export) starts with a `From ` line.
    let body = match body.strip_prefix(b"From ") {
        Some(rest) => match memchr::memchr(b'\n', rest) {
            Some(n) => &rest[n + 1..],
            None => return false,
        },
        None => body,
    };
    // The first line is a header field, whichever: Python's `email` writes `Subject:` first,
    // `openssl smime` writes `To:`, DKIM and ARC signers put their own first.
    let first = &body[..memchr::memchr(b'\n', body).unwrap_or(body.len())];
    let Some(colon) = memchr::memchr(b':', first) else {
        return false;
    };
    let name = &first[..colon];
    if name.is_empty() || name.len() > 76 || !name.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'-') {
        return false;
    }
    // Several header lines, and one of them a MIME or address header.
    let all: Vec<u8> = body.iter().map(u8::to_ascii_lowercase).collect();
    let at_line_start =
        |h: &[u8]| all.starts_with(h) || memchr::memmem::find(&all, &[b"\n", h].concat()).is_some();
    at_line_start(b"from:")
        && (at_line_start(b"subject:")
            || at_line_start(b"to:")
            || at_line_start(b"mime-version:")
            || at_line_start(b"content-type:"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_raw_deflate_stream_is_deflate() {
        let raw = [
            0xcb, 0x4b, 0xcc, 0x4d, 0xd5, 0x49, 0x4e, 0x2c, 0x4a, 0xe1, 0xca, 0xca, 0xcf, 0xc8, 0xd3, 0x31,
            0x31, 0x34, 0x34, 0x54, 0x30, 0x44, 0x21, 0xb8, 0x00,
        ];
        assert!(
            matches!(identify(&raw, None), Kind::Compressed(Format::Deflate)),
            "{:?}",
            identify(&raw, None)
        );
    }

    #[test]
    fn encrypted_files_by_their_head() {
        let gpg_c =
            [0x8C, 0x0D, 0x04, 0x09, 0x03, 0x02, 0xA4, 0xB2, 0x90, 0xAE, 0xCF, 0xF5, 0x3B, 0xA0, 0xFF, 0xD2];
        let armored =
            b"-----BEGIN PGP MESSAGE-----\n\njA0ECQMCp9TxyzabcdEFG\n=abcd\n-----END PGP MESSAGE-----\n";
        let cms = [
            0x30, 0x82, 0x01, 0x6B, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x03, 0xA0,
            0x82,
        ];
        for head in [&b"Salted__\x4a\x23\x7d\x92\xfe\x44\xfb\x82 more"[..], &gpg_c, armored, &cms] {
            assert_eq!(identify(head, None), Kind::Encrypted, "{head:?}");
        }
        // Signed data (a detached S/MIME signature), a clear-signed message, text that
        // mentions the armor, and bytes that merely start like a packet are not.
        let mut signed = cms;
        signed[14] = 0x02;
        let clear = b"-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\ncard 4111 1111 1111 1111\n";
        let mention = b"Paste your key below.\n-----BEGIN PGP MESSAGE-----\n\nhello world\n";
        for head in [&signed[..], clear, mention, &[0x8C, 0x0D, 0x01, 0x09][..], b"Salted__"] {
            assert_ne!(identify(head, None), Kind::Encrypted, "{head:?}");
        }
    }

    #[test]
    fn utf16_without_a_byte_order_mark() {
        let be = |t: &str| t.encode_utf16().flat_map(u16::to_be_bytes).collect::<Vec<u8>>();
        let le = |t: &str| t.encode_utf16().flat_map(u16::to_le_bytes).collect::<Vec<u8>>();
        let kind = |b: &[u8]| match identify(b, None) {
            Kind::Text(c, _) => c,
            other => panic!("{other:?}"),
        };
        assert_eq!(kind(&be("card ４１１１ １１１１")), Charset::Utf16Be);
        assert_eq!(kind(&le("卡号４１１１１１１１")), Charset::Utf16Le);
        assert_eq!(kind(&le("plain ascii")), Charset::Utf16Le);
        // Mostly CJK, few wide units: still UTF-16; Latin-1 text with a ÿ, CJK in UTF-8 and
        // random bytes are not.
        let cjk = format!(
            "卡号：４１１１ １１１１。{}",
            "这是一份关于季度财务报告的文件，包含多项数据和分析。".repeat(20)
        );
        assert_eq!(kind(&le(&cjk)), Charset::Utf16Le);
        assert_eq!(kind(&be(&cjk)), Charset::Utf16Be);
        assert_eq!(kind(&le(&"한국어 문서입니다 카드 번호는 없습니다 ".repeat(30))), Charset::Utf16Le);
        let latin1: Vec<u8> =
            "Na\u{ff}ve text in Latin-1, with a few words. ".repeat(30).chars().map(|c| c as u8).collect();
        assert_eq!(kind(&latin1), Charset::Bytes);
        assert_eq!(kind(cjk.as_bytes()), Charset::Bytes);
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..200 {
            let noise: Vec<u8> = (0..4096)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x >> 24) as u8
                })
                .collect();
            assert!(!matches!(identify(&noise, None), Kind::Text(..)), "random bytes read as text");
        }
        // A stray byte: big-endian text with ASCII and full-width characters.
        assert_eq!(kind(&[&b"x"[..], &be("a ４１ b ４１ c ４")].concat()), Charset::Utf16BeOdd);
        assert_eq!(kind(&[&b"x"[..], &le("a ４１ b ４１ c ４")].concat()), Charset::Utf16LeOdd);
        // Not UTF-16: text, Latin-1 with a few 0xFF bytes, binary with zeros everywhere.
        assert_eq!(kind(b"plain text, nothing wide"), Charset::Bytes);
        assert_eq!(kind(b"caf\xe9 \xff na\xefve \xffa \xffb ok"), Charset::Bytes);
        assert!(!matches!(
            identify(&[0u8, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7], None),
            Kind::Text(Charset::Utf16Be, _)
        ));
    }

    /// Japanese in legacy encodings (generated by Python's codecs), with no zero or 0xFF byte.
    const SHIFT_JIS: &[u8] = b"\x96\x7b\x8f\x91\x97\xde\x82\xcd\x8e\x6c\x94\xbc\x8a\xfa\x82\xcc\x8d\xe0\x96\xb1\x95\xf1\x8d\x90\x82\xc9\x8a\xd6\x82\xb7\x82\xe9\x82\xe0\x82\xcc\x82\xc5\x81\x41\x95\xa1\x90\x94\x82\xcc\x83\x66\x81\x5b\x83\x5e\x82\xc6\x95\xaa\x90\xcd\x82\xf0\x8a\xdc\x82\xdd\x82\xdc\x82\xb7\x81\x42";
    const EUC_JP: &[u8] = b"\xcb\xdc\xbd\xf1\xce\xe0\xa4\xcf\xbb\xcd\xc8\xbe\xb4\xfc\xa4\xce\xba\xe2\xcc\xb3\xca\xf3\xb9\xf0\xa4\xcb\xb4\xd8\xa4\xb9\xa4\xeb\xa4\xe2\xa4\xce\xa4\xc7\xa1\xa2\xca\xa3\xbf\xf4\xa4\xce\xa5\xc7\xa1\xbc\xa5\xbf\xa4\xc8\xca\xac\xc0\xcf\xa4\xf2\xb4\xde\xa4\xdf\xa4\xde\xa4\xb9\xa1\xa3";
    /// Chinese in GBK and Korean in EUC-KR.
    const GBK: &[u8] = b"\xd5\xe2\xca\xc7\xd2\xbb\xb7\xdd\xb9\xd8\xd3\xda\xbc\xbe\xb6\xc8\xb2\xc6\xce\xf1\xb1\xa8\xb8\xe6\xb5\xc4\xce\xc4\xbc\xfe\xa1\xa3\xb0\xfc\xba\xac\xb6\xe0\xcf\xee\xca\xfd\xbe\xdd\xba\xcd\xb7\xd6\xce\xf6\xa1\xa3";
    const EUC_KR: &[u8] = b"\xc0\xcc\x20\xb9\xae\xbc\xad\xb4\xc2\x20\xba\xd0\xb1\xe2\xba\xb0\x20\xc0\xe7\xb9\xab\x20\xba\xb8\xb0\xed\xbc\xad\xbf\xa1\x20\xb0\xfc\xc7\xd1\x20\xb0\xcd\xc0\xb8\xb7\xce\x20\xbf\xa9\xb7\xaf\x20\xb5\xa5\xc0\xcc\xc5\xcd\xbf\xcd\x20\xba\xd0\xbc\xae\xc0\xbb\x20\xc6\xf7\xc7\xd4\xc7\xd5\xb4\xcf\xb4\xd9\x2e";

    /// Japanese in UTF-16 with no zero or 0xFF byte in its head (kana, kanji, `、。`) is
    /// UTF-16, in its byte order and after a stray byte; the same text in legacy encodings
    /// is that legacy encoding, and single-byte text stays bytes.
    #[test]
    fn kana_and_kanji_only_utf16_and_legacy_cjk() {
        let japanese = "本書類は四半期の財務報告に関するもので、複数のデータと分析を含みます。".repeat(20);
        let be: Vec<u8> = japanese.encode_utf16().flat_map(u16::to_be_bytes).collect();
        let le: Vec<u8> = japanese.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let head = |b: &[u8]| b[..b.len().min(1024)].to_vec();
        assert!(memchr::memchr2(0, 0xFF, &head(&le)).is_none());
        let charset = |b: &[u8]| match identify(&head(b), None) {
            Kind::Text(c, _) => c,
            other => panic!("{other:?}"),
        };
        assert_eq!(charset(&le), Charset::Utf16Le);
        assert_eq!(charset(&be), Charset::Utf16Be);
        assert_eq!(charset(&[&b"x"[..], &le].concat()), Charset::Utf16LeOdd);
        assert_eq!(charset(&[&[0x96u8][..], &be].concat()), Charset::Utf16BeOdd);
        for (legacy, name) in [
            (SHIFT_JIS, LegacyCjk::ShiftJis),
            (EUC_JP, LegacyCjk::EucJp),
            (GBK, LegacyCjk::Gbk),
            (EUC_KR, LegacyCjk::EucKr),
        ] {
            let text = legacy.repeat(20);
            assert_eq!(charset(&text), Charset::Legacy(name));
            assert_eq!(charset(&[&b"x"[..], &text].concat()), Charset::Legacy(name));
        }
        // UTF-8 Japanese is UTF-8; Latin-1, Windows-1252 and Cyrillic text are bytes.
        assert_eq!(charset(japanese.as_bytes()), Charset::Bytes);
        let single_byte = |t: &str, table: &dyn Fn(char) -> u8| t.chars().map(table).collect::<Vec<u8>>();
        let latin1 =
            single_byte(&"Ça coûte très cher à Zürich, naïve façade. ".repeat(20), &|c| c as u8);
        assert_eq!(charset(&latin1), Charset::Bytes);
        // Windows-1251: А-я are 0xC0-0xFF.
        let cyrillic = single_byte(
            &"Отчёт за квартал содержит данные и анализ ".repeat(20),
            &|c| match c {
                'А'..='я' => (c as u32 - 'А' as u32 + 0xC0) as u8,
                'ё' => 0xB8,
                _ => c as u8,
            },
        );
        assert_eq!(charset(&cyrillic), Charset::Bytes);
        // Western text with a few accented letters, smart quotes and a euro sign.
        for t in [
            "Die Rechnung f\u{fc}r M\u{e4}rz betr\u{e4}gt 1.234,56 \u{20ac}, zahlbar bis 15.04. Gr\u{fc}\u{df}e aus K\u{f6}ln.\n",
            "\u{201c}Le caf\u{e9} co\u{fb}te 3 \u{20ac}\u{201d}, dit-il \u{e0} l\u{2019}h\u{f4}tel. Num\u{e9}ro 4111 1111 1111 1111.\n",
            "La se\u{f1}ora Mu\u{f1}oz pag\u{f3} con tarjeta; a\u{f1}o fiscal, \u{bf}qu\u{e9} m\u{e1}s?\n",
        ] {
            let cp1252 = encoding_rs::WINDOWS_1252.encode(&t.repeat(12)).0.into_owned();
            assert_eq!(charset(&cp1252), Charset::Bytes, "{t}");
        }
    }

    #[test]
    fn mostly_text_counts_control_bytes_as_the_plain_definition_does() {
        let plain = |head: &[u8]| {
            let ctrl = head
                .iter()
                .filter(|&&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0c | 0x1b))
                .count();
            ctrl * 20 <= head.len()
        };
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        for len in [0usize, 1, 19, 20, 21, 254, 255, 256, 511, 4096, 8192] {
            for density in [0u64, 3, 5, 6, 50] {
                let head: Vec<u8> = (0..len)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        if x % 100 < density {
                            (x >> 8) as u8 % 0x20
                        } else {
                            b'a' + (x >> 8) as u8 % 26
                        }
                    })
                    .collect();
                assert_eq!(mostly_text(&head), plain(&head), "len {len}, density {density}");
            }
        }
        // Every byte value, alone among text.
        for b in 0..=255u8 {
            let mut head = vec![b'a'; 19];
            head.push(b);
            assert_eq!(mostly_text(&head), plain(&head), "byte {b:#x}");
            assert_eq!(mostly_text(&[b]), plain(&[b]), "byte {b:#x} alone");
        }
    }

    #[test]
    fn compressed_formats_without_a_reader_are_unsupported() {
        for (head, name) in [
            (&b"\x1F\x9D\x90text"[..], "compress (.Z)"),
            (b"MSCF\0\0\0\0\x45\x01\0\0", "cab"),
            (b"\x60\xEA\x2A\x00\x1E", "arj"),
            (b"\x25\x9B-lh5-\x10\0", "lha"),
            (b"\x00\x00\x00\x00\x00\x00\x00**ACE**", "ace"),
            (b"\x89LZO\x00\r\n\x1a\n\x10", "lzop"),
            (b"\xff\x06\x00\x00sNaPpY", "snappy"),
            (b"SZDD\x88\xf0\x27\x33A", "ms-compress"),
            (b"hsqs\x10\0\0\0", "squashfs"),
            (b"MSWIM\0\0\0\xd0", "wim"),
            (b"bvx2\x10\0\0\0", "lzfse"),
        ] {
            assert_eq!(identify(head, None), Kind::Unsupported(name), "{head:?}");
        }
        // Their magic bytes as the start of text are text.
        for text in [&b"SIT! and stay"[..], b"hsq", b"x^2 + y^2 = z^2, said the note"] {
            assert!(matches!(identify(text, None), Kind::Text(..)), "{text:?}");
        }
    }

    #[test]
    fn zlib_and_lzma_alone_are_known_by_decoding_their_head() {
        let text = b"a plain text that compresses, a plain text that compresses, once more";
        assert_eq!(identify(&crate::testkit::zlib(text), None), Kind::Compressed(Format::Deflate));
        assert_eq!(identify(&crate::testkit::lzma(text), None), Kind::Compressed(Format::Lzma));
        assert_eq!(identify(&crate::testkit::lzip(text), None), Kind::Compressed(Format::Lzip));
        assert_eq!(identify(&crate::testkit::lz4(text), None), Kind::Compressed(Format::Lz4));
        assert_eq!(identify(&crate::testkit::lz4_legacy(text), None), Kind::Compressed(Format::Lz4));
        // A valid header in front of data that does not decode is not the format.
        let mut zlib = crate::testkit::zlib(text);
        zlib[2..].fill(0xFF);
        assert_ne!(identify(&zlib, None), Kind::Compressed(Format::Deflate));
        let mut lzma = crate::testkit::lzma(&[text.as_slice(); 40].concat());
        lzma[13..].iter_mut().step_by(3).for_each(|b| *b = !*b);
        assert_ne!(identify(&lzma, None), Kind::Compressed(Format::Lzma));
        // Headers as binary data writes them by chance: no properties, an odd dictionary size,
        // a dictionary of zero (which once overflowed the check).
        for head in [
            [0x00, 0, 0, 0x80, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3],
            [0x5D, 0x01, 0x23, 0x45, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3],
            [0x5D, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3],
        ] {
            assert!(!crate::decode::lzma_head_decodes(&head), "{head:?}");
        }
    }

    #[test]
    fn magic_beats_names() {
        assert_eq!(identify(b"\x1f\x8b\x08\0", None), Kind::Compressed(Format::Gzip));
        assert_eq!(identify(b"PK\x03\x04rest", Some("text/plain")), Kind::Zip);
        assert_eq!(identify(b"%PDF-1.7\n", None), Kind::Pdf);
        assert_eq!(identify(b"{\\rtf1\\ansi", None), Kind::Rtf);
        assert_eq!(identify(b"\x7fELF\x02\x01", None), Kind::Raw(FileType::Executable));
        assert_eq!(identify(b"7z\xBC\xAF\x27\x1C\0\x04", None), Kind::SevenZ);
        assert_eq!(identify(b"Rar!\x1A\x07\x01\x00", None), Kind::Unsupported("rar"));
        assert_eq!(identify(b"BZh91AY&SY\x01", None), Kind::Compressed(Format::Bzip2));
        assert_eq!(identify(b"\xFD7zXZ\x00\x00\x04", None), Kind::Compressed(Format::Xz));
        assert_eq!(identify(b"\x28\xB5\x2F\xFD\x00", None), Kind::Compressed(Format::Zstd));
        assert_eq!(identify(b"BZh is not bzip2", None), Kind::Text(Charset::Bytes, Markup::Plain));
        assert_eq!(identify(b"hello world", None), Kind::Text(Charset::Bytes, Markup::Plain));
        assert_eq!(identify(b"<html><body>", None), Kind::Text(Charset::Bytes, Markup::Tags));
        assert_eq!(identify(b"{\"a\": 1}", None), Kind::Text(Charset::Bytes, Markup::Json));
        assert_eq!(
            identify(b"h\0e\0l\0l\0o\0 \0w\0o\0r\0l\0d\0", None),
            Kind::Text(Charset::Utf16Le, Markup::Plain)
        );
        assert_eq!(
            identify(b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx", None),
            Kind::Multipart("XyZ".into())
        );
        assert_eq!(
            identify(b"x", Some("multipart/form-data; boundary=\"ab c\"")),
            Kind::Multipart("ab c".into())
        );
        assert_eq!(identify(b"From: a@b.c\r\nTo: d@e.f\r\nSubject: hi\r\n\r\nbody", None), Kind::Email);
    }
}
