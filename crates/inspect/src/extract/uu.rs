//! uuencode: files attached inline as `begin MODE NAME` ... `end` blocks, as older mail
//! clients (Outlook Express, Usenet readers) and the `x-uuencode` transfer encoding send
//! them. Each block is decoded and scanned as a member of its own, `(uuencoded NAME)`; the
//! text around and inside the blocks is scanned as text all the same.
//!
//! A line of a block is its length character (`' ' + n`, n bytes up to 45) and the
//! characters of `ceil(n / 3)` groups of four, each `' ' + 6 bits` (a backquote for zero).
//! Mail transport may strip trailing spaces, so a short line is padded with zero bits; a
//! line that does not fit ends the block, as does `end`.

use super::{hold_more, scan_member_bytes, Ctx, Member, TextNode};
pub(crate) use crate::identify::holds_uu_block as holds_block;
use crate::identify::uu_begin_name as begin_name;
use crate::limits::LimitKind;

/// An object whose head holds a `begin` line: streamed through its text node as any text
/// is, and held (up to `max_buffered_bytes`, past which the limit is reported) so that its
/// blocks can be decoded at the end.
#[derive(Debug)]
pub(crate) struct UuNode {
    m: Member,
    text: TextNode,
    held: Vec<u8>,
    /// Whether holding stopped (a limit, or memory short).
    dropped: bool,
}

impl UuNode {
    pub fn new(m: Member, text: TextNode) -> Self {
        Self { m, text, held: Vec::new(), dropped: false }
    }

    pub fn write(&mut self, cx: &mut Ctx<'_>, data: &[u8]) {
        self.text.write(cx, data);
        if !self.dropped && !hold_more(cx, &self.m.path, &mut self.held, data) {
            self.dropped = true;
        }
    }

    /// The text is finished first; blocks too large to hold are then reported as the limit
    /// (could not scan), so the text was read whole either way.
    pub fn finish(&mut self, cx: &mut Ctx<'_>) {
        self.text.finish(cx);
        if cx.stopped() {
            return;
        }
        if self.dropped {
            cx.st.budget.limit(LimitKind::MaxBufferedBytes, &self.m.path);
        } else {
            scan_blocks(cx, &self.held, &self.m);
        }
    }
}

/// Decoded blocks of one text, at most this many (each is a member).
pub(crate) const MAX_UU_BLOCKS: usize = 64;

/// Decodes every block in `text` and scans each as a member below `parent`; what is decoded
/// is held against the scan's memory budget while it is scanned.
pub(crate) fn scan_blocks(cx: &mut Ctx<'_>, text: &[u8], parent: &Member) {
    let mut data = Vec::new();
    for (name, body) in blocks(text).take(MAX_UU_BLOCKS) {
        let cost = body.len() as u64;
        let m = parent.child(&format!("(uuencoded {})", String::from_utf8_lossy(name)));
        if !cx.st.budget.hold(cost, &m.path) {
            return;
        }
        data.clear();
        decode_lines(body, &mut data);
        scan_member_bytes(cx, &data, m, None);
        cx.st.budget.release(cost);
        if cx.stopped() {
            return;
        }
    }
}

/// The blocks of `text`: each file's name and the encoded lines after its `begin` line.
fn blocks(text: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    let mut at = 0;
    std::iter::from_fn(move || {
        while at < text.len() {
            let line_end = memchr::memchr(b'\n', &text[at..]).map_or(text.len(), |j| at + j);
            let line = trim_line(&text[at..line_end]);
            at = (line_end + 1).min(text.len());
            if let Some(name) = begin_name(line) {
                let start = at;
                // The block runs while lines decode.
                while at < text.len() {
                    let e = memchr::memchr(b'\n', &text[at..]).map_or(text.len(), |j| at + j);
                    let l = trim_line(&text[at..e]);
                    if l == b"end" || !is_line(l) {
                        break;
                    }
                    at = (e + 1).min(text.len());
                }
                return Some((name, &text[start..at]));
            }
        }
        None
    })
}

pub(crate) fn trim_line(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The byte count a line's first character gives, when it is one.
fn line_len(line: &[u8]) -> Option<usize> {
    let &first = line.first()?;
    (0x20..=0x60).contains(&first).then(|| usize::from((first - 0x20) & 0x3F))
}

/// Whether `line` is a line of a block: a length, and characters that hold that many bytes
/// (fewer, when trailing spaces were stripped; up to two more, for encoders that add a
/// checksum character).
fn is_line(line: &[u8]) -> bool {
    let Some(n) = line_len(line) else { return false };
    let chars = &line[1..];
    let needed = n.div_ceil(3) * 4;
    chars.len() <= needed + 2
        && chars.iter().all(|b| (0x20..=0x60).contains(b))
        && (n > 0 || chars.len() <= 2)
}

/// Decodes the lines of one block to `out`.
fn decode_lines(body: &[u8], out: &mut Vec<u8>) {
    for line in body.split(|&b| b == b'\n') {
        let line = trim_line(line);
        let Some(n) = line_len(line) else { continue };
        let chars = &line[1..];
        let start = out.len();
        for g in 0..n.div_ceil(3) {
            let c = |i: usize| chars.get(g * 4 + i).map_or(0, |&b| u32::from(b.wrapping_sub(0x20) & 0x3F));
            let v = (c(0) << 18) | (c(1) << 12) | (c(2) << 6) | c(3);
            out.extend_from_slice(&v.to_be_bytes()[1..]);
        }
        out.truncate(start + n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(name: &str, data: &[u8]) -> Vec<u8> {
        crate::testkit::evasion::uuencode(name, data)
    }

    #[test]
    fn blocks_decode_to_their_files() {
        let a: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let b = b"card 4111 1111 1111 1111\n".to_vec();
        let text = [
            b"Hello,\r\n\r\nthe files:\n".to_vec(),
            encode("a.bin", &a),
            b"and\n".to_vec(),
            encode("b.txt", &b),
        ]
        .concat();
        assert!(holds_block(&text));
        let got: Vec<(Vec<u8>, Vec<u8>)> = blocks(&text)
            .map(|(name, body)| {
                let mut out = Vec::new();
                decode_lines(body, &mut out);
                (name.to_vec(), out)
            })
            .collect();
        assert_eq!(got, vec![(b"a.bin".to_vec(), a), (b"b.txt".to_vec(), b)]);
    }

    #[test]
    fn stripped_trailing_spaces_and_crlf_still_decode() {
        // Three zero bytes encode as four spaces when an encoder writes spaces.
        let text = b"begin 644 z\r\n#    \r\nend\r\n";
        let stripped = b"begin 644 z\r\n#\r\nend\r\n";
        for t in [&text[..], &stripped[..]] {
            let (_, body) = blocks(t).next().unwrap();
            let mut out = Vec::new();
            decode_lines(body, &mut out);
            assert_eq!(out, vec![0, 0, 0]);
        }
    }

    #[test]
    fn not_blocks() {
        for t in [&b"we begin 644 x\n"[..], b"begin 64 x\n", b"begin 644\n", b"begin  644 x\n", b"nothing"] {
            assert!(blocks(t).next().is_none(), "{}", String::from_utf8_lossy(t));
        }
        // A block ends at the first line that is not one.
        let t = b"begin 644 x\n#86)C\nThis is prose, not a line of the block at all.\n";
        let (_, body) = blocks(&t[..]).next().unwrap();
        assert_eq!(body, b"#86)C\n");
    }
}
