//! RTF to text: control words dropped (paragraph and cell breaks kept as line breaks),
//! hex and Unicode escapes decoded.
//!
//! Nothing is dropped unseen: destinations that are not document text (font and style
//! tables, `\*` groups such as comments or generator names) go to a second text stream,
//! and binary destinations (pictures, embedded objects, data stores, written as hex or
//! `\bin` bytes) are decoded into blobs, each scanned as a member of its own.
//!
//! Destinations that are text of their own (document properties, annotations, footnotes,
//! headers and footers, field codes, shape properties, bookmarks, index entries, any `\*`
//! group) go to the second stream too, each on lines of its own: their text is neither
//! glued to the next one's nor spliced into the running text they are anchored in. Hidden
//! text (`\v`, deleted revisions) goes to a third stream, with the shown text around it on
//! its line (up to [`HIDDEN_CONTEXT`] bytes each side): the text stream reads as displayed,
//! and hidden text is still read.
//!
//! `\'hh` escapes (and 8-bit bytes) are read in the code page of the font (`\fcharsetN`,
//! `\cpgN` in the font table; for `\hich` and `\dbch` text, of the font associated with
//! it, `\afN`) or of the document (`\ansicpgN`), double-byte characters whole; Windows-1252 bytes are kept as they are (the normaliser reads them). The `N`
//! fallback characters after a `\uN` (`\ucN`, a property of the group) are skipped
//! exactly, surrogate pairs joined.

use encoding_rs::Encoding;

use crate::limits::Budget;

/// Destinations whose content is not document text but is still text someone wrote.
const ASIDE: &[&[u8]] = &[
    b"fonttbl",
    b"colortbl",
    b"stylesheet",
    b"xmlnstbl",
    b"listtable",
    b"listoverridetable",
    b"rsidtbl",
    b"generator",
    b"latentstyles",
    b"filetbl",
    b"revtbl",
];

/// Destinations holding binary data as hex digits (or `\bin`).
const BINARY: &[&[u8]] = &[b"pict", b"objdata", b"datastore", b"themedata", b"colorschememapping"];

/// Largest number of open groups tracked; deeper groups share their parent's destination.
const MAX_GROUPS: usize = 1024;

/// Fonts whose code page is tracked; later ones are read in the document's code page.
const MAX_FONTS: usize = 256;

/// Bytes of shown text the hidden stream gets on each side of hidden text.
const HIDDEN_CONTEXT: usize = 128;

/// Where the content of a group goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dest {
    Text,
    Aside,
    /// Into the blob with this index.
    Binary(usize),
    /// Hidden text (only as where text is pushed, never a group's destination).
    Hidden,
}

/// What a group sets for the text inside it (restored when it ends).
#[derive(Debug, Clone, Copy)]
struct Group {
    dest: Dest,
    /// Fallback characters after a `\uN` (`\ucN`).
    uc: u32,
    /// The code page of `\'hh` bytes; `None` for Windows-1252 (kept as they are).
    enc: Option<&'static Encoding>,
    /// Hidden text (`\v`, `\deleted`).
    hidden: bool,
    /// A destination of its own: a line break at its start and end.
    separate: bool,
    /// Inside the font table: `\fN` names the font being defined.
    fonttbl: bool,
    /// The kind of characters that follow (`\loch`, `\hich`, `\dbch`), and the code pages
    /// of the fonts associated with high-ANSI and double-byte characters (`\hich\afN`,
    /// `\dbch\afN`, as Word writes them), when given.
    kind: Kind,
    hich: Option<Option<&'static Encoding>>,
    dbch: Option<Option<&'static Encoding>>,
}

/// Which characters the text is made of (`\loch`, `\hich`, `\dbch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Loch,
    Hich,
    Dbch,
}

impl Group {
    /// The code page of the group's `\'hh` and 8-bit bytes: the associated font's for
    /// high-ANSI or double-byte text, else the font's.
    fn bytes_enc(&self) -> Option<&'static Encoding> {
        match self.kind {
            Kind::Loch => self.enc,
            Kind::Hich => self.hich.unwrap_or(self.enc),
            Kind::Dbch => self.dbch.unwrap_or(self.enc),
        }
    }
}

/// What an RTF document holds.
#[derive(Debug, Default)]
pub(crate) struct Extracted {
    /// The document text.
    pub text: Vec<u8>,
    /// The text of other destinations.
    pub aside: Vec<u8>,
    /// Hidden text, with the shown text around it.
    pub hidden: Vec<u8>,
    /// Binary destinations, decoded.
    pub blobs: Vec<Vec<u8>>,
    /// What the buffers above hold of the budget ([`Budget::release`] it with them).
    pub held: u64,
}

/// Input bytes between two CPU-time checks.
const TIME_CHECK_BYTES: usize = 1 << 20;

impl Extracted {
    /// Appends to a destination, growing its buffer within the budget; false when it has no
    /// room (the budget is then stopped).
    fn push(&mut self, b: &mut Budget, member: &str, dest: Dest, bytes: &[u8]) -> bool {
        let held = &mut self.held;
        match dest {
            Dest::Text => {
                b.grow(&mut self.text, bytes.len(), held, member) && {
                    self.text.extend_from_slice(bytes);
                    true
                }
            }
            Dest::Aside => {
                b.grow(&mut self.aside, bytes.len(), held, member) && {
                    self.aside.extend_from_slice(bytes);
                    true
                }
            }
            Dest::Hidden => {
                b.grow(&mut self.hidden, bytes.len(), held, member) && {
                    self.hidden.extend_from_slice(bytes);
                    true
                }
            }
            Dest::Binary(k) => {
                // Text inside a binary destination is hex digits; anything else is ignored
                // (whitespace between the digits).
                let Some(blob) = self.blobs.get_mut(k) else { return true };
                if !b.grow(blob, bytes.len(), held, member) {
                    return false;
                }
                blob.extend(bytes.iter().filter_map(|&c| hex_digit(c)));
                true
            }
        }
    }

    /// Appends raw bytes (`\bin`, `\'hh`) to blob `k` as nibbles.
    fn push_raw(&mut self, b: &mut Budget, member: &str, k: usize, raw: &[u8]) -> bool {
        let Some(blob) = self.blobs.get_mut(k) else { return true };
        if !b.grow(blob, 2 * raw.len(), &mut self.held, member) {
            return false;
        }
        blob.extend(raw.iter().flat_map(|&v| [v >> 4, v & 15]));
        true
    }
}

/// The reader's state besides the open groups.
struct Reader<'a> {
    x: Extracted,
    b: &'a mut Budget,
    member: &'a str,
    /// Fonts of the font table with a code page of their own, sorted by number (at most
    /// [`MAX_FONTS`]), and whether `\cpgN` (which wins over `\fcharsetN`) set it.
    fonts: Vec<(i64, Option<&'static Encoding>, bool)>,
    /// The font the font table is defining.
    font: Option<i64>,
    /// The document's code page (`\ansicpgN`) and default font (`\deffN`).
    doc_enc: Option<&'static Encoding>,
    deff: Option<i64>,
    /// A double-byte character's first byte, waiting for its second.
    lead: Option<u8>,
    /// A high surrogate (`\uN`), waiting for its low one.
    high: Option<u32>,
    /// The control word before was `\hich` or `\dbch`: an `\afN` now is their font.
    after: Option<Kind>,
    /// Shown text still owed to the hidden stream after hidden text, and the stream it is
    /// shown in ([`Dest::Text`] or [`Dest::Aside`]).
    owed: usize,
    owed_from: Dest,
    /// How far the text and the other text are in the hidden stream as context.
    seen: [usize; 2],
}

impl Reader<'_> {
    /// Text of group `g`: hidden text to the hidden stream, with the shown text before it on
    /// its line; shown text after hidden text to the hidden stream too, up to
    /// [`HIDDEN_CONTEXT`] bytes or the end of its line.
    #[inline]
    fn out(&mut self, g: &Group, bytes: &[u8]) {
        if g.hidden && matches!(g.dest, Dest::Text | Dest::Aside) {
            self.hidden(g.dest, bytes);
            return;
        }
        self.x.push(self.b, self.member, g.dest, bytes);
        if self.owed > 0 {
            self.owe(g.dest, bytes);
        }
    }

    /// Shown text after hidden text, owed to the hidden stream.
    fn owe(&mut self, dest: Dest, bytes: &[u8]) {
        if dest == self.owed_from {
            let line = memchr::memchr(b'\n', bytes).map_or(bytes.len(), |k| k + 1);
            let k = line.min(self.owed);
            let shown = bytes.get(..k).unwrap_or_default();
            self.x.push(self.b, self.member, Dest::Hidden, shown);
            self.owed = if shown.last() == Some(&b'\n') { 0 } else { self.owed - k };
            let (n, at) = self.shown_len(dest);
            self.seen[at] = n.saturating_sub(bytes.len() - k);
        }
    }

    /// The length of the text or other text, and its index in [`Reader::seen`].
    fn shown_len(&self, dest: Dest) -> (usize, usize) {
        if dest == Dest::Aside {
            (self.x.aside.len(), 1)
        } else {
            (self.x.text.len(), 0)
        }
    }

    fn hidden(&mut self, from: Dest, bytes: &[u8]) {
        let (n, at) = self.shown_len(from);
        if self.owed == 0 || self.owed_from != from {
            // A new piece of hidden text: on a line of its own, after the shown text before
            // it on its line (what the hidden stream does not have yet).
            let src = if at == 1 { &self.x.aside } else { &self.x.text };
            let mut start = n.saturating_sub(HIDDEN_CONTEXT).max(self.seen[at]).min(n);
            if let Some(nl) = memchr::memrchr(b'\n', src.get(start..).unwrap_or_default()) {
                start += nl + 1;
            }
            // Not from the middle of a UTF-8 character.
            while src.get(start).is_some_and(|&c| c & 0xC0 == 0x80) {
                start += 1;
            }
            let mut context = [0u8; HIDDEN_CONTEXT];
            let before = src.get(start..).unwrap_or_default();
            let k = before.len().min(HIDDEN_CONTEXT);
            context[..k].copy_from_slice(&before[..k]);
            self.x.push(self.b, self.member, Dest::Hidden, b"\n");
            self.x.push(self.b, self.member, Dest::Hidden, &context[..k]);
        }
        self.x.push(self.b, self.member, Dest::Hidden, bytes);
        self.owed = HIDDEN_CONTEXT;
        self.owed_from = from;
        self.seen[at] = n;
    }

    /// A `\'hh` byte: in a binary destination data, elsewhere text in the group's code page.
    fn byte(&mut self, g: &Group, v: u8) {
        if let Dest::Binary(k) = g.dest {
            self.x.push_raw(self.b, self.member, k, &[v]);
            return;
        }
        let Some(enc) = g.bytes_enc() else {
            self.out(g, &[v]);
            return;
        };
        if let Some(lead) = self.lead.take() {
            if is_trail(v) {
                self.decode(g, enc, &[lead, v]);
                return;
            }
        }
        if is_lead(enc, v) {
            self.lead = Some(v);
        } else {
            self.decode(g, enc, &[v]);
        }
    }

    /// A run of literal characters: bytes from 0x80 up are in the group's code page too (a
    /// double-byte character's second byte may be an ASCII letter after a `\'hh` lead).
    fn run(&mut self, g: &Group, run: &[u8]) {
        self.high = None;
        let enc = match (g.bytes_enc(), g.dest) {
            (Some(enc), Dest::Text | Dest::Aside) => enc,
            _ => {
                self.lead = None;
                self.out(g, run);
                return;
            }
        };
        let mut rest = run;
        if let Some(lead) = self.lead.take() {
            if let Some((&t, after)) = rest.split_first().filter(|p| is_trail(*p.0)) {
                self.decode(g, enc, &[lead, t]);
                rest = after;
            }
        }
        while !rest.is_empty() {
            let k = rest.iter().position(|&c| c >= 0x80).unwrap_or(rest.len());
            let (ascii, tail) = rest.split_at(k);
            if !ascii.is_empty() {
                self.out(g, ascii);
            }
            let Some((&v, after)) = tail.split_first() else { break };
            rest = after;
            if !is_lead(enc, v) {
                self.decode(g, enc, &[v]);
                continue;
            }
            match rest.split_first() {
                Some((&t, after)) if is_trail(t) => {
                    self.decode(g, enc, &[v, t]);
                    rest = after;
                }
                // A lead byte without its second byte stands for nothing.
                Some(_) => {}
                None => self.lead = Some(v),
            }
        }
    }

    /// One character's bytes (or a byte that is none), decoded to UTF-8.
    fn decode(&mut self, g: &Group, enc: &'static Encoding, src: &[u8]) {
        let mut buf = [0u8; 16];
        let mut d = enc.new_decoder_without_bom_handling();
        let (_, _, n, _) = d.decode_to_utf8(src, &mut buf, true);
        self.out(g, buf.get(..n).unwrap_or_default());
    }

    /// The code page of font `n`: its own, or the document's.
    fn font_enc(&self, n: Option<i64>) -> Option<&'static Encoding> {
        match n.map(|n| self.fonts.binary_search_by_key(&n, |f| f.0)) {
            Some(Ok(k)) => self.fonts.get(k).and_then(|f| f.1),
            _ => self.doc_enc,
        }
    }

    /// The font being defined has code page `enc` (from `\cpgN` when `cpg`).
    fn set_font(&mut self, enc: Option<&'static Encoding>, cpg: bool) {
        let Some(n) = self.font else { return };
        match self.fonts.binary_search_by_key(&n, |f| f.0) {
            Ok(k) => {
                if let Some(f) = self.fonts.get_mut(k).filter(|f| cpg || !f.2) {
                    *f = (n, enc, cpg);
                }
            }
            Err(k) if self.fonts.len() < MAX_FONTS => self.fonts.insert(k, (n, enc, cpg)),
            Err(_) => {}
        }
    }
}

/// A control word at `s` (its first letter): the word, its numeric parameter, and where
/// what follows it starts (after the space that ends it, if any).
#[inline]
fn control_word(data: &[u8], s: usize) -> (&[u8], Option<i64>, usize) {
    let mut i = s;
    while data.get(i).is_some_and(u8::is_ascii_alphabetic) && i - s < 32 {
        i += 1;
    }
    let word = data.get(s..i).unwrap_or_default();
    let ns = i;
    if data.get(i) == Some(&b'-') {
        i += 1;
    }
    while data.get(i).is_some_and(u8::is_ascii_digit) && i - ns < 11 {
        i += 1;
    }
    let arg: Option<i64> =
        data.get(ns..i).and_then(|t| std::str::from_utf8(t).ok()).and_then(|t| t.parse().ok());
    if data.get(i) == Some(&b' ') {
        i += 1;
    }
    (word, arg, i)
}

/// Skips the `n` fallback characters after `\uN` from `i`: a byte, a `\'hh` escape, a
/// control symbol, or a control word with its parameter (`\binN` with its data) is one
/// each; line breaks are none; a brace ends the fallback (it never reaches past its group).
fn skip_fallback(data: &[u8], mut i: usize, mut n: u32) -> usize {
    while n > 0 {
        match data.get(i) {
            None | Some(b'{' | b'}') => break,
            Some(b'\r' | b'\n') => {
                i += 1;
                continue;
            }
            Some(b'\\') => match data.get(i + 1) {
                Some(b'\'') => i += 4,
                Some(c) if c.is_ascii_alphabetic() => {
                    let (word, arg, end) = control_word(data, i + 1);
                    i = end;
                    if word == b"bin" {
                        i = i.saturating_add(usize::try_from(arg.unwrap_or(0)).unwrap_or(0));
                    }
                }
                _ => i += 2,
            },
            Some(_) => i += 1,
        }
        n -= 1;
    }
    i.min(data.len())
}

/// The first byte of a double-byte character in `enc` (none in single-byte code pages).
fn is_lead(enc: &'static Encoding, v: u8) -> bool {
    if enc == encoding_rs::SHIFT_JIS {
        matches!(v, 0x81..=0x9F | 0xE0..=0xFC)
    } else if enc == encoding_rs::GBK || enc == encoding_rs::BIG5 || enc == encoding_rs::EUC_KR {
        (0x81..=0xFE).contains(&v)
    } else {
        false
    }
}

/// A byte that may be a double-byte character's second (never a digit, a space or a
/// control character: those are characters of their own after a stray lead byte).
fn is_trail(v: u8) -> bool {
    (0x40..=0xFE).contains(&v) && v != 0x7F
}

/// The encoding of Windows code page `cp`; `None` for Windows-1252 (bytes kept as they
/// are, read as Windows-1252 or UTF-8 by the normaliser) and code pages it does not know.
fn code_page(cp: i64) -> Option<&'static Encoding> {
    use encoding_rs as e;
    Some(match cp {
        874 => e::WINDOWS_874,
        932 | 10001 => e::SHIFT_JIS,
        936 | 10008 | 20936 | 54936 => e::GBK,
        949 | 10003 | 51949 => e::EUC_KR,
        950 | 10002 => e::BIG5,
        1250 => e::WINDOWS_1250,
        1251 => e::WINDOWS_1251,
        1253 => e::WINDOWS_1253,
        1254 => e::WINDOWS_1254,
        1255 => e::WINDOWS_1255,
        1256 => e::WINDOWS_1256,
        1257 => e::WINDOWS_1257,
        1258 => e::WINDOWS_1258,
        866 => e::IBM866,
        10000 => e::MACINTOSH,
        10007 => e::X_MAC_CYRILLIC,
        20866 => e::KOI8_R,
        21866 => e::KOI8_U,
        28592 => e::ISO_8859_2,
        28593 => e::ISO_8859_3,
        28594 => e::ISO_8859_4,
        28595 => e::ISO_8859_5,
        28596 => e::ISO_8859_6,
        28597 => e::ISO_8859_7,
        28598 => e::ISO_8859_8,
        28605 => e::ISO_8859_15,
        _ => return None,
    })
}

/// The code page of font character set `n` (`\fcharsetN`; 1, the default, is not one).
fn charset(n: i64) -> Option<&'static Encoding> {
    code_page(match n {
        77 => 10000,
        78 => 932,
        79 => 949,
        80 => 936,
        81 => 950,
        128 => 932,
        129 => 949,
        134 => 936,
        136 => 950,
        161 => 1253,
        162 => 1254,
        163 => 1258,
        177 => 1255,
        178 => 1256,
        186 => 1257,
        204 => 1251,
        222 => 874,
        238 => 1250,
        _ => 1252,
    })
}

/// Destinations that are text of their own, not displayed in the running text they sit in
/// (a field's result, `\fldrslt`, is): their text goes to the other text, each on lines
/// of its own. Any `\*` destination is one too.
fn is_separate(word: &[u8]) -> bool {
    matches!(
        word,
        // Document properties.
        b"info" | b"title" | b"subject" | b"author" | b"operator" | b"keywords" | b"comment"
            | b"doccomm" | b"company" | b"category" | b"manager" | b"hlinkbase" | b"userprops"
            | b"propname" | b"staticval" | b"docvar" | b"password"
            // Annotations.
            | b"annotation" | b"atnid" | b"atnauthor" | b"atndate" | b"atnref" | b"atntime"
            | b"atnicn" | b"atnparent" | b"atrfstart" | b"atrfend"
            // Footnotes and endnotes, their separators; headers and footers.
            | b"footnote" | b"ftnsep" | b"ftnsepc" | b"ftncn" | b"aftnsep" | b"aftnsepc" | b"aftncn"
            | b"header" | b"headerl" | b"headerr" | b"headerf" | b"footer" | b"footerl"
            | b"footerr" | b"footerf"
            // Field codes and form fields.
            | b"fldinst" | b"datafield" | b"ffname" | b"ffdeftext" | b"ffformat" | b"ffhelptext"
            | b"ffstattext" | b"ffentrymcr" | b"ffexitmcr" | b"ffl"
            // Shapes: properties, text boxes, the copy for older readers.
            | b"shpinst" | b"sp" | b"sn" | b"sv" | b"shptxt" | b"shprslt" | b"dptxbxtext"
            // Bookmarks, index and table-of-contents entries.
            | b"bkmkstart" | b"bkmkend" | b"xe" | b"txe" | b"rxe" | b"tc"
            // List level texts and names, embedded objects' names.
            | b"leveltext" | b"levelnumbers" | b"listname" | b"objclass" | b"objname"
            | b"objalias" | b"objtopic" | b"objitem"
    )
}

/// Extracts an RTF document. Its buffers grow within `b` (held, see [`Extracted::held`]),
/// and the CPU budget is checked as it goes; when either stops the scan, what was extracted
/// so far is returned.
pub(crate) fn extract(data: &[u8], b: &mut Budget, member: &str) -> Extracted {
    let mut r = Reader {
        x: Extracted::default(),
        b,
        member,
        fonts: Vec::new(),
        font: None,
        doc_enc: None,
        deff: None,
        lead: None,
        high: None,
        after: None,
        owed: 0,
        owed_from: Dest::Text,
        seen: [0; 2],
    };
    let mut next_check = TIME_CHECK_BYTES;
    let root = Group {
        dest: Dest::Text,
        uc: 1,
        enc: None,
        hidden: false,
        separate: false,
        fonttbl: false,
        kind: Kind::Loch,
        hich: None,
        dbch: None,
    };
    let mut groups: Vec<Group> = vec![root];
    // Hex digits arrive one at a time: blobs hold nibbles until the end, then are packed.
    let mut extra_depth = 0usize;
    let mut i = 0;
    while let Some(&c0) = data.get(i) {
        if r.b.is_stopped() {
            break;
        }
        if i >= next_check {
            next_check = i + TIME_CHECK_BYTES;
            if !r.b.check_time(member) {
                break;
            }
        }
        let g = groups.last().copied().unwrap_or(root);
        match c0 {
            b'{' => {
                i += 1;
                (r.lead, r.high) = (None, None);
                if groups.len() < MAX_GROUPS {
                    let mut child = Group { separate: false, ..g };
                    // `{\*\...}`: an optional destination, text of its own (inside a binary
                    // destination too: its letters are no hex digits of the data).
                    if data.get(i..i + 2) == Some(b"\\*") {
                        child.dest = Dest::Aside;
                        // Not the pieces of the HTML an e-mail's RTF body encapsulates: they
                        // make one text.
                        let rest = data.get(i + 2..).unwrap_or_default();
                        child.separate = !(rest.starts_with(b"\\htmltag") || rest.starts_with(b"\\mhtmltag"));
                        if child.separate {
                            r.out(&child, b"\n");
                        }
                    }
                    groups.push(child);
                } else {
                    extra_depth += 1;
                }
            }
            b'}' => {
                i += 1;
                (r.lead, r.high) = (None, None);
                if extra_depth > 0 {
                    extra_depth -= 1;
                } else if groups.len() > 1 {
                    if let Some(done) = groups.pop() {
                        if done.separate {
                            r.out(&done, b"\n");
                        }
                        // After the font table, text without `\fN` is in the default font.
                        if let Some(parent) = groups.last_mut().filter(|p| done.fonttbl && !p.fonttbl) {
                            if r.deff.is_some() {
                                parent.enc = r.font_enc(r.deff);
                            }
                        }
                    }
                }
            }
            b'\\' => {
                i += 1;
                let Some(&c) = data.get(i) else { break };
                if c.is_ascii_alphabetic() {
                    let (word, arg, end) = control_word(data, i);
                    i = end;
                    r.lead = None;
                    let high = r.high.take();
                    let after = r.after.take();
                    if word == b"bin" {
                        // Raw bytes follow.
                        let n = usize::try_from(arg.unwrap_or(0)).unwrap_or(0).min(data.len() - i);
                        let raw = data.get(i..i + n).unwrap_or_default();
                        match g.dest {
                            Dest::Binary(k) => {
                                r.x.push_raw(r.b, member, k, raw);
                            }
                            _ => r.out(&g, raw),
                        }
                        i += n;
                        continue;
                    }
                    if BINARY.contains(&word) {
                        if r.x.blobs.len() == r.x.blobs.capacity() {
                            // The list of blobs grows within the budget too: `\pict` is
                            // five bytes, a blob's entry 24.
                            let more = r.x.blobs.capacity().max(4);
                            let cost = (more * std::mem::size_of::<Vec<u8>>()) as u64;
                            if !r.b.hold(cost, member) {
                                break;
                            }
                            r.x.held += cost;
                            r.x.blobs.reserve_exact(more);
                        }
                        r.x.blobs.push(Vec::new());
                        if let Some(last) = groups.last_mut() {
                            last.dest = Dest::Binary(r.x.blobs.len() - 1);
                        }
                        continue;
                    }
                    let Some(top) = groups.last_mut() else { break };
                    if ASIDE.contains(&word) {
                        if top.dest == Dest::Text {
                            top.dest = Dest::Aside;
                        }
                        top.fonttbl |= word == b"fonttbl";
                        continue;
                    }
                    if is_separate(word) {
                        if !top.separate {
                            top.separate = true;
                            if top.dest == Dest::Text {
                                top.dest = Dest::Aside;
                            }
                            let t = *top;
                            r.out(&t, b"\n");
                        }
                        continue;
                    }
                    match word {
                        b"par" | b"line" | b"row" | b"sect" | b"page" | b"cell" => r.out(&g, b"\n"),
                        b"tab" => r.out(&g, b"\t"),
                        b"uc" => top.uc = u32::try_from(arg.unwrap_or(1).max(0)).unwrap_or(u32::MAX),
                        b"u" => {
                            let v = arg.unwrap_or(0);
                            let v = u32::try_from(if v < 0 { v + 65536 } else { v }).unwrap_or(0xFFFD);
                            let ch = match v {
                                0xD800..=0xDBFF => {
                                    r.high = Some(v);
                                    None
                                }
                                // A low surrogate: with the high one before it, a character
                                // outside the Basic Multilingual Plane.
                                0xDC00..=0xDFFF => high.and_then(|h| {
                                    char::from_u32(0x10000 + ((h - 0xD800) << 10) + (v - 0xDC00))
                                }),
                                _ => Some(char::from_u32(v).unwrap_or('\u{FFFD}')),
                            };
                            if let Some(ch) = ch {
                                let mut buf = [0u8; 4];
                                r.out(&g, ch.encode_utf8(&mut buf).as_bytes());
                            }
                            // Skip the fallback characters that follow.
                            i = skip_fallback(data, i, g.uc);
                        }
                        // Hidden text and deleted revisions: not displayed.
                        b"v" | b"deleted" => top.hidden = arg != Some(0),
                        b"plain" => {
                            top.hidden = false;
                            top.enc = r.font_enc(r.deff);
                            (top.kind, top.hich, top.dbch) = (Kind::Loch, None, None);
                        }
                        b"loch" => top.kind = Kind::Loch,
                        b"hich" => (top.kind, r.after) = (Kind::Hich, Some(Kind::Hich)),
                        b"dbch" => (top.kind, r.after) = (Kind::Dbch, Some(Kind::Dbch)),
                        b"af" if !g.fonttbl => match after {
                            Some(Kind::Hich) => top.hich = Some(r.font_enc(arg)),
                            Some(Kind::Dbch) => top.dbch = Some(r.font_enc(arg)),
                            _ => {}
                        },
                        b"f" if g.fonttbl => r.font = arg,
                        b"f" => {
                            top.enc = r.font_enc(arg);
                            match top.kind {
                                Kind::Loch => {}
                                Kind::Hich => top.hich = Some(top.enc),
                                Kind::Dbch => top.dbch = Some(top.enc),
                            }
                        }
                        b"fcharset" if g.fonttbl && arg != Some(1) => {
                            r.set_font(charset(arg.unwrap_or(0)), false)
                        }
                        b"cpg" if g.fonttbl => r.set_font(code_page(arg.unwrap_or(1252)), true),
                        b"ansicpg" => {
                            r.doc_enc = code_page(arg.unwrap_or(1252));
                            top.enc = r.doc_enc;
                        }
                        b"mac" => {
                            r.doc_enc = Some(encoding_rs::MACINTOSH);
                            top.enc = r.doc_enc;
                        }
                        b"deff" => r.deff = arg,
                        _ => {}
                    }
                } else if c == b'\'' {
                    let h = data.get(i + 1..i + 3);
                    i += 3;
                    r.high = None;
                    match h
                        .and_then(|h| std::str::from_utf8(h).ok())
                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                    {
                        Some(v) => r.byte(&g, v),
                        None => r.lead = None,
                    }
                } else {
                    i += 1;
                    (r.lead, r.high) = (None, None);
                    let text: &[u8] = match c {
                        b'~' => b" ",
                        b'_' => b"-",
                        b'\\' => b"\\",
                        b'{' => b"{",
                        b'}' => b"}",
                        b'\n' | b'\r' => b"\n",
                        _ => b"",
                    };
                    if !text.is_empty() {
                        r.out(&g, text);
                    }
                }
            }
            b'\r' | b'\n' => i += 1,
            _ => {
                // A run of plain characters.
                let rest = data.get(i..).unwrap_or_default();
                let end = rest.iter().position(|&c| matches!(c, b'{' | b'}' | b'\\' | b'\r' | b'\n'));
                let end = end.unwrap_or(rest.len());
                r.run(&g, rest.get(..end).unwrap_or_default());
                i += end;
            }
        }
    }
    let mut x = r.x;
    // Blobs hold nibbles: pack them into bytes, in place.
    for blob in &mut x.blobs {
        let n = blob.len() / 2;
        for j in 0..n {
            blob[j] = blob[2 * j] << 4 | blob[2 * j + 1];
        }
        blob.truncate(n);
    }
    x.blobs.retain(|b| !b.is_empty());
    x
}

fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::Limits;

    fn extract_all(data: &[u8]) -> Extracted {
        extract(data, &mut Budget::new(Limits::default(), None), "")
    }

    #[test]
    fn rtf_text() {
        let x = extract_all(
            br"{\rtf1\ansi{\fonttbl{\f0 Arial;}}{\*\generator x;}\f0 Card \b 4111 1111\b0  1111 1111\par SSN\'3a 123-45-6789\u8364?}",
        );
        let s = String::from_utf8(x.text).unwrap();
        assert!(s.contains("Card 4111 1111 1111 1111\n"), "{s:?}");
        assert!(s.contains("SSN: 123-45-6789€"), "{s:?}");
        assert!(!s.contains("Arial"), "{s:?}");
        let aside = String::from_utf8(x.aside).unwrap();
        assert!(aside.contains("Arial") && aside.contains("x;"), "{aside:?}");
    }

    #[test]
    fn binary_destinations_are_decoded() {
        let x = extract_all(br"{\rtf1 text{\*\objdata 48656c6c6f 20 776f726c64}{\pict\bin3 abc}}");
        assert_eq!(x.blobs, vec![b"Hello world".to_vec(), b"abc".to_vec()]);
    }

    fn text(x: &[u8]) -> String {
        String::from_utf8_lossy(x).into_owned()
    }

    #[test]
    fn unicode_fallbacks_are_skipped_exactly() {
        let x = extract_all(
            br"{\rtf1 \uc0 \u52 \u49\u50 {\uc2 \u51\'81\'40\u52\b0 x\u53\bin2 yz}\u54 ?\u-10187\u-8242 ?.}",
        );
        assert_eq!(text(&x.text), "4123456?\u{1d7ce}?.");
    }

    #[test]
    fn destinations_are_text_of_their_own() {
        let x = extract_all(
            br"{\rtf1{\info{\title 41}{\author x}}Card 41{\field{\fldinst HL 7}{\fldrslt 11}}{\footnote 9}22{\b 33}{\*\atnref 1}}",
        );
        assert_eq!(text(&x.text), "Card 41112233");
        let aside = text(&x.aside);
        for line in ["41", "x", "HL 7", "9", "1"] {
            assert!(aside.lines().any(|l| l == line), "{line:?} in {aside:?}");
        }
    }

    #[test]
    fn encapsulated_html_is_one_text() {
        let x = extract_all(br#"{\rtf1\fromhtml1 {\*\htmltag84 <a title="4111 }{\*\htmltag84 1111">}x}"#);
        assert_eq!(text(&x.aside), "<a title=\"4111 1111\">");
    }

    #[test]
    fn hidden_text_is_apart_with_the_text_around_it() {
        let x = extract_all(br"{\rtf1 a\par Card 41{\v 99}11 \v 88\v0 22\par b}");
        assert_eq!(text(&x.text), "a\nCard 4111 22\nb");
        assert_eq!(text(&x.hidden), "\nCard 419911 8822\n");
    }

    #[test]
    fn code_pages() {
        // Shift_JIS by the document, a literal second byte; GBK by the font; Windows-1252 bytes kept.
        let x = extract_all(
            br"{\rtf1\ansi\ansicpg932\deff0{\fonttbl{\f0\fcharset0 A;}{\f1\fcharset128 B;}{\f2\cpg936\fcharset0 C;}}\f1 \'81F\'82\'4f{\f2\'a3\'b1}\f0\'e9}",
        );
        assert_eq!(x.text, "：０１".bytes().chain([0xE9]).collect::<Vec<u8>>(), "{:?}", text(&x.text));
        // Word: Latin text in `\loch\fN`, double-byte text in the font after `\dbch\afN`
        // (`\afN` after another word is the complex-script font).
        let x = extract_all(
            br"{\rtf1\ansi\ansicpg932\deff0{\fonttbl{\f0\fcharset0 A;}{\f13\fcharset128 B;}}\loch\f0\hich\af0\dbch\af13 {\rtlch\af0 \ltrch\'82\'4f}\loch\f0 \'e9}",
        );
        assert_eq!(x.text, "０".bytes().chain([0xE9]).collect::<Vec<u8>>(), "{:?}", text(&x.text));
        // A stray lead byte stands for nothing and eats no digit.
        let x = extract_all(br"{\rtf1\ansicpg936 \'814\'81 5{\'81}6\'81}");
        assert_eq!(text(&x.text), "4 56", "{:?}", x.text);
    }

    #[test]
    fn token_soup_never_panics() {
        // Pieces of every construct the reader tracks, in pseudo-random order.
        let pieces: &[&[u8]] = &[
            b"{",
            b"}",
            b"\\uc0 ",
            b"\\uc3 ",
            b"\\u-10187 ",
            b"\\u-8242",
            b"\\u52 ",
            b"\\'81",
            b"\\'4",
            b"F",
            b"4",
            b"\\v ",
            b"\\v0 ",
            b"\\plain ",
            b"\\*",
            b"\\info",
            b"\\title ",
            b"\\fonttbl",
            b"\\f1 ",
            b"\\fcharset128 ",
            b"\\cpg936 ",
            b"\\ansicpg949 ",
            b"\\deff1 ",
            b"\\bin3 ",
            b"\\pict ",
            b"ab",
            b"\\par ",
            b"\r\n",
            b"\\",
            b"\xe9",
            b"\\footnote ",
            b"\\deleted ",
            b"\\'a3\\'b1",
        ];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..3000 {
            let mut doc = b"{\\rtf1".to_vec();
            for _ in 0..64 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                doc.extend_from_slice(pieces[(seed % pieces.len() as u64) as usize]);
            }
            let x = extract_all(&doc);
            assert!(x.hidden.len() <= 2 * doc.len() + 64, "{}", text(&doc));
        }
    }
}
