//! Office XML to text, for OOXML and OpenDocument parts.
//!
//! One concern in one file, longer than most: one event loop whose lanes and hiding
//! places (fields, runs, properties) need each other's state.
//!
//! Text is written to four lanes, each its own detection stream:
//!
//! - **body**: the text as displayed. Inside a paragraph (`w:p`, `a:p`, `si`, `text:p`...)
//!   the pieces of every run join, whatever sits between them (proofing marks, bookmarks,
//!   revision wrappers, field characters, smart tags, content controls); paragraph ends,
//!   tabs, breaks and cell boundaries are separators. Outside paragraphs (cell values,
//!   properties, chart caches) every element's text is a value of its own.
//! - **nested**: paragraphs inside paragraphs (text boxes, footnotes and comments anchored
//!   in a run), so that a text box does not split the paragraph it is anchored in.
//! - **alt**: the other view of revised text: deleted (`w:del`, `w:delText`) and hidden
//!   (`w:vanish`) text with up to [`ALT_CONTEXT`] bytes of the paragraph around it, and
//!   the text around insertions without them, so that a value split by a revision matches
//!   in whichever view it is whole.
//! - **side**: everything else that is data but not displayed text: attribute values (alt
//!   text, hidden sheet and defined names, formulas, hyperlink targets), field codes,
//!   comments, processing instructions and the DTD (entities are never expanded, so an
//!   entity bomb is one short value here), and the string literals of each formula joined.
//!
//! The part is read through quick-xml in windows of [`WINDOW`] bytes cut before a `<`, so
//! memory stays bounded whatever the part's size; a single markup item larger than
//! [`MAX_ITEM`], or malformed markup, is read by the lenient tag filter of `text.rs` into the
//! side lane instead. Nesting deeper than [`MAX_STACK`] shares the deepest frame.

use std::io::Read;
use std::sync::Arc;

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use super::literals::{decode_xstring, header_footer_text, join_literals, whole_number_digits};
use super::numfmt::CellFormats;
use super::{meter, Sink};
use crate::extract::{Ctx, Member};
use crate::text;

/// Bytes read per window.
const WINDOW: usize = 256 * 1024;
/// The largest markup item (tag, comment, CDATA) parsed as XML; larger ones are read by the
/// lenient tag filter.
const MAX_ITEM: usize = 4 << 20;
/// Element nesting tracked; deeper elements share the deepest frame.
const MAX_STACK: usize = 256;
/// Bytes of displayed text kept on each side of a revision in the alt lane.
pub(super) const ALT_CONTEXT: usize = 128;
/// Events between two CPU-time checks.
const EVENTS_PER_CHECK: u32 = 16 * 1024;
/// Open elements an end tag is matched against.
const END_SEARCH: usize = 8;
/// Largest formula whose string literals are joined.
const MAX_FORMULA: usize = 64 * 1024;

/// Which vocabulary a part speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// WordprocessingML, SpreadsheetML, PresentationML, DrawingML (OOXML).
    Ooxml,
    /// OpenDocument.
    Odf,
}

/// Which version of the text a piece belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum View {
    /// In both views.
    Shown,
    /// Only in the current view (a tracked insertion).
    Inserted,
    /// Only in the original view (a tracked deletion, or hidden text).
    Removed,
}

/// What an open element means for the text inside it.
#[derive(Debug, Clone, Copy)]
struct Frame {
    /// Paragraphs open, this one included.
    para: u16,
    /// Character data here is document text (`w:t`; anything inside an ODF paragraph).
    text: bool,
    /// Character data here goes to the side lane (field codes, annotation metadata).
    side: bool,
    view: View,
    /// A run (`w:r`): `w:vanish` in its properties hides it.
    run: bool,
    /// A formula element (`<f>`): its text is collected to join its string literals.
    formula: bool,
    /// An Excel header or footer (`oddHeader`...): its text is collected to drop its codes.
    header: bool,
    /// A hash of the element's local name, to match its end tag.
    name: u32,
    /// A SpreadsheetML string or cell value (`si`, `is`, `v`): its `_xHHHH_` escapes are
    /// decoded.
    xstring: bool,
    /// A cell's value (`c/v`): collected, to read it as its number format shows it.
    cell_value: bool,
}

const ROOT: Frame = Frame {
    para: 0,
    text: false,
    side: false,
    view: View::Shown,
    run: false,
    formula: false,
    header: false,
    name: 0,
    xstring: false,
    cell_value: false,
};

/// Attributes that change how an element reads.
#[derive(Debug, Default)]
struct Special {
    /// `w:val="0"` / `false` / `off`.
    val_off: bool,
    /// `text:c`: the number of spaces of a `text:s`.
    count: Option<u16>,
    /// `w:char`: the character of a `w:sym`.
    sym: Option<u32>,
    /// `s`: a cell's style.
    style: Option<u32>,
    /// `t` other than `n`: a cell whose value is no number.
    typed: bool,
}

/// The office-aware reader of one XML part.
#[derive(Debug)]
pub(super) struct XmlText {
    dialect: Dialect,
    stack: Vec<Frame>,
    /// Elements opened past [`MAX_STACK`], sharing the deepest frame.
    overflow: u32,
    body: Sink,
    nested: Sink,
    side: Sink,
    alt: Sink,
    /// The last displayed text of the current body paragraph (original view), kept for the
    /// alt lane.
    tail: Vec<u8>,
    /// Bytes of displayed text still owed to the alt lane after a revision.
    alt_after: usize,
    formula: Vec<u8>,
    /// The end of a SpreadsheetML string that may be the start of an `_xHHHH_` escape the
    /// next text event completes (a character reference cuts text into events).
    xhold: Vec<u8>,
    /// A workbook's number formats, the digit mask of the cell being read, and its value.
    formats: Option<Arc<CellFormats>>,
    mask: Option<u16>,
    cell: Vec<u8>,
    events: u32,
    /// Captured lanes (body, nested, side, alt) instead of detection, for unit tests.
    #[cfg(test)]
    capture: Option<[Vec<u8>; 4]>,
}

impl XmlText {
    pub fn new(m: &Member, dialect: Dialect) -> Self {
        Self {
            dialect,
            stack: Vec::new(),
            overflow: 0,
            body: Sink::new(m),
            nested: Sink::new(m),
            side: Sink::new(m),
            alt: Sink::new(m),
            tail: Vec::new(),
            alt_after: 0,
            formula: Vec::new(),
            xhold: Vec::new(),
            formats: None,
            mask: None,
            cell: Vec::new(),
            events: 0,
            #[cfg(test)]
            capture: None,
        }
    }

    fn top(&self) -> Frame {
        self.stack.last().copied().unwrap_or(ROOT)
    }

    /// Parses one window of the part. `last` when nothing follows it. Returns how many bytes
    /// were consumed: all of them, or the start of a markup item the window cut.
    fn parse(&mut self, cx: &mut Ctx<'_>, window: &[u8], last: bool) -> usize {
        let mut r = Reader::from_reader(window);
        let c = r.config_mut();
        c.check_end_names = false;
        c.allow_unmatched_ends = true;
        c.allow_dangling_amp = true;
        c.check_comments = false;
        c.trim_text(false);
        loop {
            self.events += 1;
            if self.events >= EVENTS_PER_CHECK {
                self.events = 0;
                if !cx.st.budget.check_time(&self.body.m.path) {
                    return window.len();
                }
            }
            match r.read_event() {
                Ok(Event::Eof) => return window.len(),
                Ok(ev) => self.event(cx, ev),
                Err(e) => {
                    let at = usize::try_from(r.error_position()).unwrap_or(window.len()).min(window.len());
                    if !last && matches!(e, quick_xml::Error::Syntax(_)) {
                        // The window ends inside this item: read it again with what follows.
                        return at;
                    }
                    self.lenient(cx, &window[at..]);
                    return window.len();
                }
            }
        }
    }

    /// Malformed or oversized markup: every byte still read, by the lenient tag filter.
    fn lenient(&mut self, cx: &mut Ctx<'_>, data: &[u8]) {
        let (mut out, mut aside, mut markup) = (Vec::new(), Vec::new(), text::Markup::new());
        markup.push(data, &mut out, &mut aside);
        self.side.value(cx, &out);
        self.side.value(cx, &aside);
        self.side.value(cx, markup.hidden_text());
    }

    fn event(&mut self, cx: &mut Ctx<'_>, ev: Event<'_>) {
        if !self.xhold.is_empty() && !matches!(ev, Event::Text(_) | Event::CData(_) | Event::GeneralRef(_)) {
            // No escape completes it.
            let held = std::mem::take(&mut self.xhold);
            self.text_as_is(cx, &held);
        }
        match ev {
            Event::Start(e) => {
                let sp = self.attributes(cx, &e);
                self.open(cx, e.local_name().as_ref(), &sp, false);
            }
            Event::Empty(e) => {
                let sp = self.attributes(cx, &e);
                self.open(cx, e.local_name().as_ref(), &sp, true);
                self.close(cx);
            }
            Event::End(e) => self.end(cx, name_hash(e.local_name().as_ref())),
            Event::Text(t) => self.text(cx, &t),
            Event::CData(t) => self.text(cx, &t),
            Event::GeneralRef(r) => {
                let mut out = [0u8; 4];
                let decoded: &[u8] = match r.resolve_char_ref() {
                    Ok(Some('\u{a0}')) => b" ",
                    Ok(Some(ch)) => ch.encode_utf8(&mut out).as_bytes(),
                    _ => match &*r {
                        b"amp" => b"&",
                        b"lt" => b"<",
                        b"gt" => b">",
                        b"quot" => b"\"",
                        b"apos" => b"'",
                        // An entity the DTD would define: kept as written (the DTD itself is
                        // scanned in the side lane).
                        name => {
                            let mut raw = Vec::with_capacity(name.len() + 2);
                            raw.push(b'&');
                            raw.extend_from_slice(name);
                            raw.push(b';');
                            self.text(cx, &raw);
                            return;
                        }
                    },
                };
                self.text(cx, decoded);
            }
            Event::Comment(t) => self.side.value(cx, &t),
            Event::PI(p) => self.side.value(cx, &p),
            Event::DocType(d) => self.side.value(cx, &d),
            Event::Decl(_) | Event::Eof => {}
        }
    }

    /// Every attribute value goes to the side lane (namespace declarations aside); the few
    /// that change how the element reads are returned.
    fn attributes(&mut self, cx: &mut Ctx<'_>, e: &BytesStart<'_>) -> Special {
        let mut sp = Special::default();
        let mut value = Vec::new();
        for a in e.attributes().with_checks(false) {
            let Ok(a) = a else {
                // Unparseable attributes: their bytes, as they are.
                self.side.value(cx, e.attributes_raw());
                break;
            };
            if a.key.as_namespace_binding().is_some() {
                continue;
            }
            value.clear();
            unescape(&a.value, &mut value);
            let local = a.key.local_name();
            match local.as_ref() {
                b"val" => sp.val_off = matches!(value.as_slice(), b"0" | b"false" | b"off"),
                b"c" => sp.count = std::str::from_utf8(&value).ok().and_then(|s| s.parse().ok()),
                b"char" => {
                    sp.sym = std::str::from_utf8(&value).ok().and_then(|s| u32::from_str_radix(s, 16).ok())
                }
                b"s" => sp.style = std::str::from_utf8(&value).ok().and_then(|s| s.parse().ok()),
                b"t" => sp.typed = value.as_slice() != b"n",
                _ => {}
            }
            self.side.value(cx, &value);
            self.whole_number(cx, &value);
            if matches!(local.as_ref(), b"formula" | b"expression" | b"instr") {
                let mut joined = Vec::new();
                if join_literals(&value, &mut joined) {
                    self.side.value(cx, &joined);
                }
            }
        }
        sp
    }

    fn open(&mut self, cx: &mut Ctx<'_>, name: &[u8], sp: &Special, empty: bool) {
        let parent = self.top();
        let mut f = Frame { run: false, formula: false, header: false, name: name_hash(name), ..parent };
        let odf = self.dialect == Dialect::Odf;
        match name {
            b"p" | b"h" | b"si" | b"is" => {
                f.para = parent.para.saturating_add(1);
                f.text = odf;
                f.side = false;
                f.xstring = !odf && matches!(name, b"si" | b"is");
                self.para_boundary(f.para);
            }
            b"v" if !odf => {
                f.xstring = true;
                f.cell_value = self.mask.is_some();
                self.cell.clear();
            }
            b"c" if !odf => {
                self.mask = match &self.formats {
                    Some(formats) if !sp.typed => sp.style.and_then(|s| formats.mask_of(s)),
                    _ => None,
                };
            }
            b"rPh" | b"Fallback" if !odf => {
                // Phonetic reading of a string, and the fallback of markup compatibility's
                // `mc:AlternateContent` (the same content again, for older readers, after the
                // `mc:Choice` read in its place): a text of its own, read but not spliced
                // into the text around it.
                f.para = parent.para.saturating_add(1);
                f.text = false;
                self.para_boundary(f.para);
            }
            b"t" if !odf => f.text = true,
            b"delText" if !odf => {
                f.text = true;
                f.view = View::Removed;
            }
            b"instrText" | b"delInstrText" if !odf => {
                f.text = false;
                f.side = true;
            }
            b"del" | b"moveFrom" if !empty && !odf => f.view = View::Removed,
            b"ins" | b"moveTo" if !empty && !odf && f.view == View::Shown => f.view = View::Inserted,
            b"r" if !odf => f.run = true,
            b"vanish" | b"specVanish" if !odf && !sp.val_off => {
                // In a run's properties (`w:r/w:rPr/w:vanish`): the run is hidden text.
                let n = self.stack.len();
                if n >= 2 && self.stack[n - 2].run {
                    self.stack[n - 2].view = View::Removed;
                }
            }
            b"f" if !odf && parent.para == 0 => {
                f.formula = true;
                self.formula.clear();
            }
            b"oddHeader" | b"oddFooter" | b"evenHeader" | b"evenFooter" | b"firstHeader" | b"firstFooter"
                if !odf && parent.para == 0 =>
            {
                f.header = true;
                self.formula.clear();
            }
            // Comments, footnote marks and the titles and descriptions of frames: not part
            // of the paragraph's text (a frame's text box holds paragraphs of its own).
            b"annotation" | b"note-citation" | b"frame" | b"title" | b"desc" if odf => f.side = true,
            _ => {}
        }
        if f.para > 0 {
            match name {
                // A tab joins what is on either side of it, as it shows (`4111<w:tab/>1111`
                // in a table-like layout); breaks separate.
                b"tab" | b"ptab" => self.displayed(cx, f, b"\t"),
                b"br" | b"cr" | b"line-break" => self.separate(f),
                b"noBreakHyphen" if !odf => self.displayed(cx, f, b"-"),
                b"s" if odf => {
                    let n = usize::from(sp.count.unwrap_or(1).clamp(1, 64));
                    self.displayed(cx, f, &b" ".repeat(n));
                }
                b"sym" if !odf => {
                    // Symbol fonts map U+F020..U+F07F to ASCII.
                    let c = sp.sym.map(|c| if (0xF020..0xF080).contains(&c) { c - 0xF000 } else { c });
                    if let Some(c) = c.and_then(char::from_u32) {
                        let mut b = [0u8; 4];
                        self.displayed(cx, f, c.encode_utf8(&mut b).as_bytes());
                    }
                }
                _ => {}
            }
        } else {
            self.body.sep();
        }
        if self.stack.len() < MAX_STACK {
            self.stack.push(f);
        } else {
            self.overflow += 1;
        }
    }

    /// An end tag closes the element it names, and elements left open inside it; a stray
    /// end tag (no open element of its name near the top) closes nothing, so malformed
    /// markup cannot shift what later text is read as.
    fn end(&mut self, cx: &mut Ctx<'_>, name: u32) {
        if self.overflow > 0 {
            self.overflow -= 1;
            return;
        }
        let n = self.stack.len();
        if let Some(k) = (0..n.min(END_SEARCH)).find(|&k| self.stack[n - 1 - k].name == name) {
            for _ in 0..=k {
                self.close(cx);
            }
        }
    }

    fn close(&mut self, cx: &mut Ctx<'_>) {
        if self.overflow > 0 {
            self.overflow -= 1;
            return;
        }
        let Some(f) = self.stack.pop() else { return };
        let parent = self.top();
        if f.cell_value {
            // A number shown through a digit mask (`000-00-0000`): read as shown too.
            let mut shown = Vec::new();
            if let (Some(formats), Some(mask)) = (&self.formats, self.mask) {
                if formats.render(mask, &self.cell, &mut shown) {
                    self.body.value(cx, &shown);
                }
            }
            self.cell.clear();
        }
        if f.para > parent.para {
            self.para_boundary(f.para);
        }
        if f.formula {
            let mut joined = Vec::new();
            if join_literals(&self.formula, &mut joined) {
                self.side.value(cx, &joined);
            }
            self.formula.clear();
        }
        if f.header {
            let mut text = Vec::new();
            header_footer_text(&self.formula, &mut text);
            self.body.value(cx, &text);
            self.formula.clear();
        }
        if f.para == 0 {
            self.body.sep();
        }
    }

    /// A cell value or attribute that is a whole number in float form (`4.111111111111111E15`)
    /// is also read as its digits, on the side lane.
    fn whole_number(&mut self, cx: &mut Ctx<'_>, t: &[u8]) {
        let mut digits = Vec::new();
        if whole_number_digits(t, &mut digits) {
            self.side.value(cx, &digits);
        }
    }

    /// A paragraph of depth `para` starts or ends.
    fn para_boundary(&mut self, para: u16) {
        if para <= 1 {
            self.body.sep();
            self.tail.clear();
            self.alt_after = 0;
            self.alt.sep();
        } else {
            self.nested.sep();
        }
    }

    /// A tab or break inside a paragraph.
    fn separate(&mut self, f: Frame) {
        if f.para <= 1 {
            self.body.sep();
            self.tail.clear();
            self.alt.sep();
            self.alt_after = 0;
        } else {
            self.nested.sep();
        }
    }

    fn text(&mut self, cx: &mut Ctx<'_>, t: &[u8]) {
        if self.top().xstring && (!self.xhold.is_empty() || memchr::memchr(b'_', t).is_some()) {
            let mut raw = std::mem::take(&mut self.xhold);
            raw.extend_from_slice(t);
            let mut decoded = Vec::with_capacity(raw.len());
            let held = decode_xstring(&raw, &mut decoded);
            self.xhold.extend_from_slice(raw.get(held..).unwrap_or_default());
            self.text_as_is(cx, &decoded);
            return;
        }
        self.text_as_is(cx, t);
    }

    fn text_as_is(&mut self, cx: &mut Ctx<'_>, t: &[u8]) {
        if t.is_empty() {
            return;
        }
        let f = self.top();
        if f.header {
            if self.formula.len() + t.len() <= MAX_FORMULA {
                self.formula.extend_from_slice(t);
            } else {
                self.body.value(cx, t);
            }
            return;
        }
        if f.formula && self.formula.len() + t.len() <= MAX_FORMULA {
            self.formula.extend_from_slice(t);
        }
        if f.cell_value && self.cell.len() + t.len() <= 64 {
            self.cell.extend_from_slice(t);
        }
        if f.para == 0 {
            if !is_blank(t) {
                self.body.push(cx, t);
                self.whole_number(cx, t);
            }
            return;
        }
        if f.side || !f.text {
            if !is_blank(t) {
                self.side.value(cx, t);
            }
            return;
        }
        if self.dialect == Dialect::Odf {
            // ODF collapses white space inside paragraphs (`text:s` and `text:tab` say more).
            let mut collapsed = Vec::with_capacity(t.len());
            for &b in t {
                if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                    if collapsed.last() != Some(&b' ') {
                        collapsed.push(b' ');
                    }
                } else {
                    collapsed.push(b);
                }
            }
            self.displayed(cx, f, &collapsed);
        } else {
            self.displayed(cx, f, t);
        }
    }

    /// Document text inside a paragraph, routed by its view.
    fn displayed(&mut self, cx: &mut Ctx<'_>, f: Frame, t: &[u8]) {
        if f.para > 1 {
            match f.view {
                View::Removed => self.alt.value(cx, t),
                View::Shown | View::Inserted => self.nested.push(cx, t),
            }
            return;
        }
        match f.view {
            View::Shown => {
                self.body.push(cx, t);
                let mut rest = t;
                if self.alt_after > 0 {
                    let k = self.alt_after.min(t.len());
                    self.alt.push(cx, &t[..k]);
                    self.alt_after -= k;
                    if self.alt_after == 0 {
                        self.alt.sep();
                    }
                    rest = &t[k..];
                }
                self.tail.extend_from_slice(rest);
                if self.tail.len() > 2 * ALT_CONTEXT {
                    let cut = self.tail.len() - ALT_CONTEXT;
                    self.tail.drain(..cut);
                }
            }
            View::Inserted => {
                self.revision(cx);
                self.body.push(cx, t);
            }
            View::Removed => {
                self.revision(cx);
                self.alt.push(cx, t);
            }
        }
    }

    /// A revision in the current body paragraph: the alt lane gets the displayed text
    /// before it (once per cluster of revisions) and owes the text after it.
    fn revision(&mut self, cx: &mut Ctx<'_>) {
        if self.alt_after == 0 {
            let k = self.tail.len().saturating_sub(ALT_CONTEXT);
            let tail = std::mem::take(&mut self.tail);
            self.alt.push(cx, &tail[k..]);
            self.tail = tail;
        }
        self.alt_after = ALT_CONTEXT;
        self.tail.clear();
    }

    pub fn finish(&mut self, cx: &mut Ctx<'_>) {
        let held = std::mem::take(&mut self.xhold);
        self.text_as_is(cx, &held);
        #[cfg(test)]
        if let Some(cap) = &mut self.capture {
            for (k, s) in
                [&mut self.body, &mut self.nested, &mut self.side, &mut self.alt].into_iter().enumerate()
            {
                if s.pending_sep {
                    s.buf.push(b'\n');
                }
                cap[k].extend_from_slice(&s.buf);
                s.buf.clear();
            }
            return;
        }
        for s in [&mut self.body, &mut self.nested, &mut self.side, &mut self.alt] {
            s.finish(cx);
        }
    }
}

/// Reads one XML part: `head` (already read and counted), then the rest of `src`
/// (`compressed` bytes in the archive, for the ratio limit).
pub(super) fn scan_xml(
    cx: &mut Ctx<'_>,
    src: &mut dyn Read,
    m: &Member,
    compressed: Option<u64>,
    dialect: Dialect,
    formats: Option<Arc<CellFormats>>,
    head: Vec<u8>,
) {
    let mut x = XmlText::new(m, dialect);
    x.formats = formats;
    let mut produced = head.len() as u64;
    let mut buf = head;
    let mut eof = false;
    let mut want = WINDOW;
    let mut scratch = vec![0u8; 64 * 1024];
    loop {
        while !eof && buf.len() < want {
            match src.read(&mut scratch) {
                Ok(0) => eof = true,
                Ok(n) => {
                    buf.extend_from_slice(&scratch[..n]);
                    produced += n as u64;
                    if !meter(cx, m, n, produced, compressed) {
                        return;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // Scan what arrived, then report the damage.
                    x.parse(cx, &buf, true);
                    x.finish(cx);
                    cx.corrupt(&m.path, e.to_string());
                    return;
                }
            }
        }
        if eof {
            x.parse(cx, &buf, true);
            break;
        }
        let cut = cut_point(&buf);
        let consumed = if cut == 0 { 0 } else { x.parse(cx, &buf[..cut], false) };
        if cx.stopped() {
            return;
        }
        if consumed == 0 {
            // The window holds a single unfinished item: read more of it, up to the largest
            // item parsed as XML.
            if buf.len() >= MAX_ITEM {
                x.lenient(cx, &buf);
                buf.clear();
                want = WINDOW;
            } else {
                want = (buf.len() * 2).clamp(WINDOW, MAX_ITEM);
            }
            continue;
        }
        buf.drain(..consumed);
        want = buf.len() + WINDOW;
    }
    if !cx.stopped() {
        x.finish(cx);
    }
}

/// Where to cut a window that more bytes follow: before its last `<` (the text before it
/// is complete); with no `<` at all, the whole window is text, short of a character
/// reference that may continue.
fn cut_point(buf: &[u8]) -> usize {
    if let Some(k) = memchr::memrchr(b'<', buf) {
        return k;
    }
    match memchr::memrchr(b'&', buf) {
        Some(k) if buf.len() - k < 32 && memchr::memchr(b';', &buf[k..]).is_none() => k,
        _ => buf.len(),
    }
}

/// FNV-1a of an element's local name.
fn name_hash(name: &[u8]) -> u32 {
    name.iter().fold(0x811C_9DC5u32, |h, &b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193))
}

fn is_blank(t: &[u8]) -> bool {
    t.iter().all(u8::is_ascii_whitespace)
}

/// Decodes the five XML entities and character references; anything else stays as written.
pub(super) fn unescape(raw: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while let Some(k) = memchr::memchr(b'&', &raw[i..]) {
        out.extend_from_slice(&raw[i..i + k]);
        let rest = &raw[i + k + 1..];
        let end = rest.iter().take(12).position(|&b| b == b';');
        let decoded = end.and_then(|e| {
            let name = &rest[..e];
            let c = match name {
                b"amp" => Some('&'),
                b"lt" => Some('<'),
                b"gt" => Some('>'),
                b"quot" => Some('"'),
                b"apos" => Some('\''),
                _ => name.strip_prefix(b"#").and_then(|n| {
                    let (digits, radix) = match n.strip_prefix(b"x") {
                        Some(h) => (h, 16),
                        None => (n, 10),
                    };
                    std::str::from_utf8(digits)
                        .ok()
                        .and_then(|s| u32::from_str_radix(s, radix).ok())
                        .and_then(char::from_u32)
                }),
            }?;
            Some((c, e))
        });
        match decoded {
            Some((c, e)) => {
                let c = if c == '\u{a0}' { ' ' } else { c };
                let mut b = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
                i += k + 1 + e + 1;
            }
            None => {
                out.push(b'&');
                i += k + 1;
            }
        }
    }
    out.extend_from_slice(&raw[i..]);
}

#[cfg(test)]
mod tests;
