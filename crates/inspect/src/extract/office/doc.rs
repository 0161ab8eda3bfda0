//! Word 97-2003 documents: the `WordDocument` stream's text, in the order of the piece
//! table (the `CLX` in the `0Table`/`1Table` stream), 8-bit ("compressed", Windows-1252)
//! and UTF-16 pieces alike.
//!
//! The text of every story is there, one after the other: main text, footnotes, headers
//! and footers, comments, endnotes, text boxes, header text boxes; a story boundary is a
//! separator. Special characters are read as Word displays them: paragraph, cell, line,
//! page and column ends and tabs separate, a non-breaking hyphen is a hyphen, the optional
//! hyphen and object anchors are nothing, and a field's instruction (between its begin and
//! separator marks) goes to a side stream while its result stays in the text. Revision
//! marks and hidden text are character properties (in `chpx`): deleted and hidden runs are
//! read out of the text into their own view, as for docx.
//!
//! Bytes of `WordDocument` that no piece covers (the FIB, formatting) and both table
//! streams are scanned raw. An encrypted or obfuscated document is could-not-scan; a piece
//! table that cannot be followed is damage, and `WordDocument` is then scanned raw whole.

use super::bytes::{cp1252_to_utf8, printable_prefix, u16_at, u32_at, utf16le_to_utf8};
use super::chpx::{self, Mark};
use super::ole::Outcome;
use super::xml::ALT_CONTEXT;
use super::{RawSink, Sink};
use crate::extract::{Ctx, Member};

/// `wIdent` of Word 97 and later.
const WORD97: u16 = 0xA5EC;
const F_WHICH_TABLE: u16 = 0x0200;
const F_ENCRYPTED: u16 = 0x0100;
const F_OBFUSCATED: u16 = 0x8000;
/// Characters decoded between two CPU-time checks.
const CHARS_PER_CHECK: usize = 1 << 20;

/// Scans a Word document from its `WordDocument` stream and table streams.
pub(super) fn scan(
    cx: &mut Ctx<'_>,
    m: &Member,
    word: &[u8],
    table0: Option<&[u8]>,
    table1: Option<&[u8]>,
) -> Outcome {
    let mut raw = RawSink::new(m);
    for t in [table0, table1].into_iter().flatten() {
        raw.blob(cx, t);
    }
    let outcome = read(cx, m, word, table0, table1, &mut raw);
    raw.finish(cx);
    outcome
}

fn read(
    cx: &mut Ctx<'_>,
    m: &Member,
    word: &[u8],
    table0: Option<&[u8]>,
    table1: Option<&[u8]>,
    raw: &mut RawSink,
) -> Outcome {
    let Some(ident) = u16_at(word, 0) else {
        raw.blob(cx, word);
        return Outcome::Damaged("WordDocument shorter than its header".into());
    };
    let flags = u16_at(word, 0x0A).unwrap_or(0);
    if ident == WORD97 && flags & (F_ENCRYPTED | F_OBFUSCATED) != 0 {
        return Outcome::Encrypted;
    }
    if ident != WORD97 {
        // Word 6/95 keeps its text as 8-bit bytes in WordDocument: raw reads it all.
        raw.blob(cx, word);
        return Outcome::Done;
    }
    let table = if flags & F_WHICH_TABLE != 0 { table1 } else { table0 };
    let fib = match Fib::parse(word) {
        Some(f) => f,
        None => {
            raw.blob(cx, word);
            return Outcome::Damaged("FIB".into());
        }
    };
    let pieces = match table.and_then(|t| pieces(t, fib.clx)) {
        Some(p) => p,
        None => {
            raw.blob(cx, word);
            return Outcome::Damaged("piece table".into());
        }
    };
    let marks = table.map(|t| chpx::marks(word, t, fib.chpx)).unwrap_or_default();
    let mut covered: Vec<(usize, usize)> = Vec::new();
    let mut t = Text::new(m);
    let mut damage = None;
    let mut since_check = 0usize;
    // Pieces may share bytes, but a piece table that reads the stream over and over is an
    // amplification, not a document.
    let mut budget = word.len().saturating_mul(2);
    for p in &pieces {
        let (start, len) = if p.compressed { (p.fc / 2, p.cps) } else { (p.fc, p.cps.saturating_mul(2)) };
        let Some(bytes) = start.checked_add(len).and_then(|end| word.get(start..end)) else {
            damage.get_or_insert_with(|| format!("piece at {} overruns WordDocument", p.fc));
            continue;
        };
        if bytes.len() > budget {
            damage.get_or_insert_with(|| "pieces read WordDocument more than twice".into());
            break;
        }
        budget -= bytes.len();
        covered.push((start, start + len));
        let width = if p.compressed { 1 } else { 2 };
        let n = bytes.len() / width;
        // Segments of the piece within one story and one revision mark, read in bulk.
        let mut k = 0;
        while k < n {
            let cp = p.cp + k;
            if fib.story_ends.binary_search(&cp).is_ok() {
                t.story_end(cx);
            }
            let story_end = fib.story_ends.iter().find(|&&e| e > cp).map_or(n, |&e| (e - p.cp).min(n));
            let (mark, mark_end) = marks.span(start + k * width);
            let mark_end = (mark_end.saturating_sub(start)).div_ceil(width).min(n);
            let end = story_end.min(mark_end).max(k + 1);
            t.chars(cx, &bytes[k * width..end * width], mark, p.compressed);
            k = end;
        }
        since_check += bytes.len();
        if since_check >= CHARS_PER_CHECK {
            since_check = 0;
            if !cx.st.budget.check_time(&m.path) {
                return Outcome::Done;
            }
        }
    }
    t.finish(cx);
    // What no piece covers.
    covered.sort_unstable();
    let mut at = 0;
    for (s, e) in covered {
        if s > at {
            raw.blob(cx, &word[at..s]);
        }
        at = at.max(e);
    }
    if at < word.len() {
        raw.blob(cx, &word[at..]);
    }
    match damage {
        Some(d) => Outcome::Damaged(d),
        None => Outcome::Done,
    }
}

/// What the FIB says about where things are.
struct Fib {
    /// Offset and length of the CLX in the table stream.
    clx: (usize, usize),
    /// Offset and length of the PlcBteChpx in the table stream.
    chpx: (usize, usize),
    /// Character positions where a story ends.
    story_ends: Vec<usize>,
}

impl Fib {
    fn parse(w: &[u8]) -> Option<Fib> {
        let csw = usize::from(u16_at(w, 32)?);
        let lw = 34 + 2 * csw;
        let cslw = usize::from(u16_at(w, lw)?);
        let rglw = lw + 2;
        let ccp = |k: usize| u32_at(w, rglw + 4 * k).map(|v| v as usize);
        // ccpText, ccpFtn, ccpHdd, (ccpMcr), ccpAtn, ccpEdn, ccpTxbx, ccpHdrTxbx.
        let mut story_ends = Vec::new();
        let mut cp = 0usize;
        if cslw >= 11 {
            for k in [3, 4, 5, 7, 8, 9, 10] {
                cp = cp.saturating_add(ccp(k)?);
                story_ends.push(cp);
            }
        }
        let fc = rglw + 4 * cslw;
        let cb = usize::from(u16_at(w, fc)?);
        let pairs = fc + 2;
        let pair = |k: usize| -> Option<(usize, usize)> {
            if k >= cb {
                return None;
            }
            Some((u32_at(w, pairs + 8 * k)? as usize, u32_at(w, pairs + 8 * k + 4)? as usize))
        };
        Some(Fib { clx: pair(33)?, chpx: pair(12).unwrap_or((0, 0)), story_ends })
    }
}

/// One piece of text: `cps` characters from character position `cp`, at `fc` in
/// WordDocument.
#[derive(Debug)]
struct Piece {
    cp: usize,
    cps: usize,
    fc: usize,
    compressed: bool,
}

/// The piece table of a CLX.
fn pieces(table: &[u8], (at, len): (usize, usize)) -> Option<Vec<Piece>> {
    let clx = table.get(at..at.checked_add(len)?)?;
    let mut i = 0;
    // Prc entries (property modifiers) come first.
    while *clx.get(i)? == 0x01 {
        let cb = usize::from(u16_at(clx, i + 1)?);
        i += 3 + cb;
    }
    if *clx.get(i)? != 0x02 {
        return None;
    }
    let lcb = u32_at(clx, i + 1)? as usize;
    let plc = clx.get(i + 5..(i + 5).checked_add(lcb)?)?;
    if plc.len() < 4 {
        return None;
    }
    let n = (plc.len() - 4) / 12;
    let mut out = Vec::with_capacity(n);
    for k in 0..n {
        let cp = u32_at(plc, 4 * k)? as usize;
        let next = u32_at(plc, 4 * (k + 1))? as usize;
        let pcd = 4 * (n + 1) + 8 * k;
        let raw = u32_at(plc, pcd + 2)?;
        if next < cp {
            return None;
        }
        let compressed = raw & 0x4000_0000 != 0;
        out.push(Piece { cp, cps: next - cp, fc: (raw & 0x3FFF_FFFF) as usize, compressed });
    }
    Some(out)
}

/// Field nesting tracked (deeper fields read as the deepest).
const MAX_FIELDS: usize = 64;

/// Decoded text of a document: displayed text, field instructions, and the other view of
/// revised text (as in `xml`: the text around deleted, hidden and inserted runs, seen as
/// it was before the revision).
struct Text {
    body: Sink,
    side: Sink,
    alt: Sink,
    /// Per open field: whether its separator was seen (its result is being read).
    fields: Vec<bool>,
    /// Characters decoded but not yet written, all with `run_mark`.
    run: Vec<u8>,
    run_mark: Mark,
    run_side: bool,
    /// The last displayed text of the paragraph, for the alt view.
    tail: Vec<u8>,
    /// Displayed bytes still owed to the alt view after a revision.
    alt_after: usize,
}

impl Text {
    fn new(m: &Member) -> Self {
        Self {
            body: Sink::new(m),
            side: Sink::new(m),
            alt: Sink::new(m),
            fields: Vec::new(),
            run: Vec::new(),
            run_mark: Mark::Shown,
            run_side: false,
            tail: Vec::new(),
            alt_after: 0,
        }
    }

    fn story_end(&mut self, cx: &mut Ctx<'_>) {
        self.paragraph(cx);
        self.side.sep();
        self.fields.clear();
    }

    /// A paragraph, cell, line or tab boundary.
    fn paragraph(&mut self, cx: &mut Ctx<'_>) {
        self.flush(cx);
        self.body.sep();
        self.alt.sep();
        self.tail.clear();
        self.alt_after = 0;
    }

    /// Characters with one revision mark: runs of ordinary characters are converted in
    /// bulk, the special characters one by one.
    fn chars(&mut self, cx: &mut Ctx<'_>, bytes: &[u8], mark: Mark, compressed: bool) {
        let special = |c: u32| c < 0x20 || c == 0xA0;
        if compressed {
            let mut rest = bytes;
            while !rest.is_empty() {
                // Printable ASCII as it is, other ordinary bytes through the code page.
                let ascii = printable_prefix(rest);
                let plain = ascii
                    + rest[ascii..].iter().position(|&b| special(u32::from(b))).unwrap_or(rest.len() - ascii);
                if plain > 0 {
                    self.start_run(cx, mark);
                    if ascii == plain {
                        self.run.extend_from_slice(&rest[..plain]);
                    } else {
                        cp1252_to_utf8(&rest[..plain], &mut self.run);
                    }
                }
                if let Some(&b) = rest.get(plain) {
                    self.char(cx, u32::from(b), mark, true);
                }
                rest = rest.get(plain + 1..).unwrap_or(&[]);
            }
        } else {
            let mut rest = bytes;
            while rest.len() >= 2 {
                let plain = rest
                    .chunks_exact(2)
                    .position(|u| special(u32::from(u16::from_le_bytes([u[0], u[1]]))))
                    .unwrap_or(rest.len() / 2);
                if plain > 0 {
                    self.start_run(cx, mark);
                    utf16le_to_utf8(&rest[..plain * 2], &mut self.run);
                }
                if let Some(u) = rest.get(plain * 2..plain * 2 + 2) {
                    self.char(cx, u32::from(u16::from_le_bytes([u[0], u[1]])), mark, false);
                }
                rest = rest.get(plain * 2 + 2..).unwrap_or(&[]);
            }
        }
        if self.run.len() >= 16 * 1024 {
            self.flush(cx);
        }
    }

    /// Makes the pending run one of `mark` in the current field state.
    fn start_run(&mut self, cx: &mut Ctx<'_>, mark: Mark) {
        let side = self.fields.last() == Some(&false);
        if (mark, side) != (self.run_mark, self.run_side) {
            self.flush(cx);
            self.run_mark = mark;
            self.run_side = side;
        }
    }

    /// One character with its revision mark.
    fn char(&mut self, cx: &mut Ctx<'_>, c: u32, mark: Mark, compressed: bool) {
        match c {
            0x13 => {
                self.flush(cx);
                if self.fields.len() < MAX_FIELDS {
                    self.fields.push(false);
                }
                self.side.sep();
                return;
            }
            0x14 | 0x15 => {
                self.flush(cx);
                if c == 0x14 {
                    if let Some(f) = self.fields.last_mut() {
                        *f = true;
                    }
                } else {
                    self.fields.pop();
                }
                self.side.sep();
                return;
            }
            0x0D | 0x07 | 0x0B | 0x0C | 0x0E | 0x09 => {
                if self.fields.last() == Some(&false) {
                    self.flush(cx);
                    self.side.sep();
                } else {
                    self.paragraph(cx);
                }
                return;
            }
            _ => {}
        }
        self.start_run(cx, mark);
        match c {
            0x1E => self.run.push(b'-'),
            0x00..=0x1F => {}
            0xA0 => self.run.push(b' '),
            c if compressed => cp1252_to_utf8(&[c as u8], &mut self.run),
            c => {
                let ch = char::from_u32(c).unwrap_or('\u{FFFD}');
                let mut b = [0u8; 4];
                self.run.extend_from_slice(ch.encode_utf8(&mut b).as_bytes());
            }
        }
        if self.run.len() >= 16 * 1024 {
            self.flush(cx);
        }
    }

    /// Writes the pending run where its mark says.
    fn flush(&mut self, cx: &mut Ctx<'_>) {
        if self.run.is_empty() {
            return;
        }
        let run = std::mem::take(&mut self.run);
        if self.run_side {
            self.side.push(cx, &run);
        } else {
            match self.run_mark {
                Mark::Shown => {
                    self.body.push(cx, &run);
                    let mut rest = &run[..];
                    if self.alt_after > 0 {
                        let k = self.alt_after.min(run.len());
                        self.alt.push(cx, &run[..k]);
                        self.alt_after -= k;
                        if self.alt_after == 0 {
                            self.alt.sep();
                        }
                        rest = &run[k..];
                    }
                    if rest.len() >= ALT_CONTEXT {
                        self.tail.clear();
                    }
                    self.tail.extend_from_slice(&rest[rest.len().saturating_sub(ALT_CONTEXT)..]);
                    if self.tail.len() > 2 * ALT_CONTEXT {
                        let cut = self.tail.len() - ALT_CONTEXT;
                        self.tail.drain(..cut);
                    }
                }
                Mark::Inserted => {
                    self.revision(cx);
                    self.body.push(cx, &run);
                }
                Mark::Removed => {
                    self.revision(cx);
                    self.alt.push(cx, &run);
                }
            }
        }
        self.run = run;
        self.run.clear();
    }

    fn revision(&mut self, cx: &mut Ctx<'_>) {
        if self.alt_after == 0 {
            let k = self.tail.len().saturating_sub(ALT_CONTEXT);
            self.alt.push(cx, &self.tail[k..]);
        }
        self.alt_after = ALT_CONTEXT;
        self.tail.clear();
    }

    fn finish(&mut self, cx: &mut Ctx<'_>) {
        self.flush(cx);
        self.body.finish(cx);
        self.side.finish(cx);
        self.alt.finish(cx);
    }
}
