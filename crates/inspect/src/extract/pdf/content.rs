//! Content streams (sections 8.2 and 9.4): an interpreter that follows the graphics and
//! text state far enough to know where each string is shown and in which font, and that
//! accounts for every byte. Text goes to positioned runs (see `layout`); strings given to
//! other operators, marked-content properties (`/ActualText`), comments, inline image data,
//! and operands no operator takes go to the page's extra lines as they are.
//!
//! One concern in one file: the interpreter's operators share its graphics and text state.

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use super::doc::Doc;
use super::fonts::{Font, FontCache, Stopped};
use super::layout::{Run, Runs};
use super::lexer::{decode_string, is_white, number, text_string, Lexer, Tok, Token};
use super::object::Obj;
use crate::extract::{Ctx, Member};

/// Deepest nesting of form XObjects drawn from a page.
const MAX_FORM_DEPTH: usize = 12;
/// Operands kept before they are given up as unaccounted.
const MAX_OPERANDS: usize = 1024;
/// Deepest `q` nesting followed.
const MAX_SAVE_DEPTH: usize = 256;
/// Runs held before a page is laid out in parts.
const MAX_RUNS: usize = 200_000;

type Matrix = [f64; 6];
const IDENTITY: Matrix = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0];

fn mul(a: &Matrix, b: &Matrix) -> Matrix {
    [
        a[0] * b[0] + a[1] * b[2],
        a[0] * b[1] + a[1] * b[3],
        a[2] * b[0] + a[3] * b[2],
        a[2] * b[1] + a[3] * b[3],
        a[4] * b[0] + a[5] * b[2] + b[4],
        a[4] * b[1] + a[5] * b[3] + b[5],
    ]
}

/// `tm` moved by `tx` along its x axis (`translate(tx, 0) × tm`).
fn advance(tm: &mut Matrix, tx: f64) {
    tm[4] += tx * tm[0];
    tm[5] += tx * tm[1];
}

fn translate(tx: f64, ty: f64) -> Matrix {
    [1.0, 0.0, 0.0, 1.0, tx, ty]
}

/// An operand. Strings are decoded into the interpreter's string buffer: `Str` holds their
/// span there (one allocation per operator, not per string).
#[derive(Debug)]
enum Operand {
    Num(f64),
    Name(Vec<u8>),
    Str(usize, usize),
    Array(Vec<Operand>),
    Other,
}

/// Where a run's glyphs go, for one text matrix shape: the costly part of placing a run,
/// kept while the matrices' linear parts and the font size do not change.
#[derive(Debug, Clone, Copy)]
struct Frame {
    linear: [f64; 4],
    size: f64,
    scale: f64,
    dir: (f64, f64),
    up: (f64, f64),
    key: (i32, bool),
    user_size: f64,
}

/// The parts of the graphics state that place text.
#[derive(Debug, Clone)]
struct Gs {
    ctm: Matrix,
    char_spacing: f64,
    word_spacing: f64,
    scale: f64,
    leading: f64,
    rise: f64,
    font: Option<Rc<Font>>,
    size: f64,
    /// Text render mode (`Tr`): 3 and 7 draw nothing.
    render: i64,
}

/// Text of the pages being read.
pub(super) struct Interp<'c, 'x, 'a> {
    pub cx: &'c mut Ctx<'x>,
    pub m: &'c Member,
    pub doc: &'c mut Doc<'a>,
    pub fonts: &'c mut FontCache,
    /// Streams already read through a page (not read again as orphans).
    pub done: &'c mut [bool],
    runs: Runs,
    extra: Vec<u8>,
    /// Forms being drawn (against cycles) and forms drawn on this page.
    forms: Vec<u32>,
    forms_on_page: HashSet<u32>,
    /// Font resource names of the whole document, for streams read without resources.
    fallback: Option<HashMap<Vec<u8>, Obj>>,
    frame: Option<Frame>,
    /// The font of text shown before any `Tf`.
    unknown: Rc<Font>,
}

impl<'c, 'x, 'a> Interp<'c, 'x, 'a> {
    pub fn new(
        cx: &'c mut Ctx<'x>,
        m: &'c Member,
        doc: &'c mut Doc<'a>,
        fonts: &'c mut FontCache,
        done: &'c mut [bool],
    ) -> Self {
        Self {
            cx,
            m,
            doc,
            fonts,
            done,
            runs: Runs::default(),
            extra: Vec::new(),
            forms: Vec::new(),
            forms_on_page: HashSet::new(),
            fallback: None,
            frame: None,
            unknown: Rc::new(Font::unknown()),
        }
    }

    /// Reads one page's (or orphan stream's) content with `resources`.
    pub fn read(&mut self, data: &[u8], resources: Option<Rc<Obj>>) -> Result<(), Stopped> {
        self.run(data, resources.as_deref(), IDENTITY)
    }

    /// Appends the page's text (lines, then extra lines) to `out` and starts a new page.
    pub fn finish_page(&mut self, out: &mut Vec<u8>) {
        self.runs.lay_out(out);
        if !self.extra.is_empty() {
            out.push(b'\n');
            out.append(&mut self.extra);
            out.push(b'\n');
        }
        out.push(b'\n');
        self.forms_on_page.clear();
    }

    /// Lines that are not placed on the page.
    pub fn extra(&mut self, bytes: &[u8]) {
        if !self.extra.is_empty() && self.extra.last() != Some(&b'\n') {
            self.extra.push(b'\n');
        }
        self.extra.extend_from_slice(bytes);
    }

    fn run(&mut self, data: &[u8], resources: Option<&Obj>, ctm: Matrix) -> Result<(), Stopped> {
        let mut lex = Lexer::new(data, 0);
        let mut ops: Vec<(Operand, Token)> = Vec::new();
        let mut gs = Gs {
            ctm,
            char_spacing: 0.0,
            word_spacing: 0.0,
            scale: 1.0,
            leading: 0.0,
            rise: 0.0,
            font: None,
            size: 0.0,
            render: 0,
        };
        let mut saved: Vec<Gs> = Vec::new();
        let mut unbalanced_saves = 0usize;
        let (mut tm, mut tlm) = (IDENTITY, IDENTITY);
        let mut fonts_here: HashMap<Vec<u8>, Rc<Font>> = HashMap::new();
        let mut forms_here: HashMap<Vec<u8>, Option<u32>> = HashMap::new();
        let mut unaccounted_end: Option<usize> = None;
        let mut count = 0u32;
        let mut buf = Vec::new();
        // Decoded strings of the pending operands.
        let mut strings: Vec<u8> = Vec::new();
        while let Some(t) = lex.next_token() {
            count += 1;
            if count.is_multiple_of(4096) && !self.cx.st.budget.check_time(&self.m.path) {
                return Err(Stopped);
            }
            let operand = match t.kind {
                Tok::Number => Operand::Num(number(lex.bytes(&t))),
                Tok::Name => Operand::Name(lex.bytes(&t)[1..].to_vec()),
                Tok::Literal | Tok::Hex => {
                    let s = strings.len();
                    decode_string(data, &t, &mut strings);
                    Operand::Str(s, strings.len())
                }
                Tok::ArrayOpen => {
                    let (items, end) = self.array(&mut lex, &mut strings);
                    let span = Token { end, ..t };
                    ops.push((Operand::Array(items), span));
                    continue;
                }
                Tok::DictOpen => {
                    let end = self.inline_dict(&mut lex);
                    ops.push((Operand::Other, Token { end, ..t }));
                    continue;
                }
                Tok::Comment => {
                    self.extra(lex.bytes(&t));
                    continue;
                }
                Tok::Keyword => {
                    let op = lex.bytes(&t);
                    let Some(arity) = arity(op) else {
                        // No operator of that name: its operands and it are not accounted for.
                        let start = ops.first().map_or(t.start, |o| o.1.start);
                        self.unaccounted(data, start, t.end, &mut unaccounted_end);
                        ops.clear();
                        strings.clear();
                        continue;
                    };
                    let keep = arity.unwrap_or(ops.len()).min(ops.len());
                    if ops.len() > keep {
                        let (start, end) = (ops[0].1.start, ops[ops.len() - keep - 1].1.end);
                        self.unaccounted(data, start, end, &mut unaccounted_end);
                        ops.drain(..ops.len() - keep);
                    }
                    let args: Vec<Operand> = ops.drain(..).map(|o| o.0).collect();
                    let shows = matches!(op, b"Tj" | b"TJ" | b"'" | b"\"");
                    if !shows {
                        for a in &args {
                            if let Operand::Str(s, e) = a {
                                buf.clear();
                                text_string(&strings[*s..*e], &mut buf);
                                let b = std::mem::take(&mut buf);
                                self.extra(&b);
                                buf = b;
                            }
                        }
                    }
                    if arity.is_some_and(|n| args.len() < n) {
                        strings.clear();
                        continue;
                    }
                    let num = |i: usize| match args.get(i) {
                        Some(Operand::Num(n)) => *n,
                        _ => 0.0,
                    };
                    match op {
                        b"q" => {
                            if saved.len() < MAX_SAVE_DEPTH {
                                saved.push(gs.clone());
                            } else {
                                unbalanced_saves += 1;
                            }
                        }
                        b"Q" => {
                            if unbalanced_saves > 0 {
                                unbalanced_saves -= 1;
                            } else if let Some(g) = saved.pop() {
                                gs = g;
                            }
                        }
                        b"cm" => gs.ctm = mul(&[num(0), num(1), num(2), num(3), num(4), num(5)], &gs.ctm),
                        b"BT" => (tm, tlm) = (IDENTITY, IDENTITY),
                        b"Td" | b"TD" => {
                            if op == b"TD" {
                                gs.leading = -num(1);
                            }
                            tlm = mul(&translate(num(0), num(1)), &tlm);
                            tm = tlm;
                        }
                        b"Tm" => {
                            tlm = [num(0), num(1), num(2), num(3), num(4), num(5)];
                            tm = tlm;
                        }
                        b"T*" => {
                            tlm = mul(&translate(0.0, -gs.leading), &tlm);
                            tm = tlm;
                        }
                        b"Tc" => gs.char_spacing = num(0),
                        b"Tw" => gs.word_spacing = num(0),
                        b"Tz" => gs.scale = num(0) / 100.0,
                        b"TL" => gs.leading = num(0),
                        b"Ts" => gs.rise = num(0),
                        b"Tr" => gs.render = num(0) as i64,
                        b"Tf" => {
                            if let Some(Operand::Name(n)) = args.first() {
                                gs.font = Some(self.font(resources, &mut fonts_here, n)?);
                            }
                            gs.size = num(1);
                        }
                        b"Tj" | b"'" | b"\"" => {
                            if op != b"Tj" {
                                if op == b"\"" {
                                    gs.word_spacing = num(0);
                                    gs.char_spacing = num(1);
                                }
                                tlm = mul(&translate(0.0, -gs.leading), &tlm);
                                tm = tlm;
                            }
                            if let Some(Operand::Str(s, e)) = args.last() {
                                self.show(&gs, &mut tm, &strings[*s..*e]);
                            }
                        }
                        b"TJ" => {
                            if let Some(Operand::Array(items)) = args.first() {
                                for item in items {
                                    match item {
                                        Operand::Str(s, e) => self.show(&gs, &mut tm, &strings[*s..*e]),
                                        Operand::Num(n) => advance(&mut tm, -n / 1000.0 * gs.size * gs.scale),
                                        _ => {}
                                    }
                                }
                            }
                        }
                        b"Do" => {
                            if let Some(Operand::Name(n)) = args.first() {
                                let num = match forms_here.get(n) {
                                    Some(x) => *x,
                                    None => {
                                        let x = self
                                            .resource(resources, b"XObject", n)
                                            .and_then(|o| o.reference());
                                        forms_here.insert(n.clone(), x);
                                        x
                                    }
                                };
                                if let Some(num) = num {
                                    self.draw_form(resources, num, &gs.ctm)?;
                                }
                            }
                        }
                        b"ID" => {
                            // Inline image data: up to `EI` between white space.
                            let start = (lex.pos + 1).min(data.len());
                            let end = inline_image_end(data, start);
                            self.extra(&data[start..end]);
                            lex.pos = (end + 2).min(data.len());
                        }
                        _ => {}
                    }
                    strings.clear();
                    continue;
                }
                Tok::BraceOpen | Tok::BraceClose | Tok::ArrayClose | Tok::DictClose | Tok::Stray => {
                    Operand::Other
                }
            };
            ops.push((operand, t));
            if ops.len() > MAX_OPERANDS {
                let (start, end) = (ops[0].1.start, ops[ops.len() - 1].1.end);
                self.unaccounted(data, start, end, &mut unaccounted_end);
                ops.clear();
                strings.clear();
            }
        }
        if let (Some(first), Some(last)) = (ops.first(), ops.last()) {
            let (start, end) = (first.1.start, last.1.end);
            self.unaccounted(data, start, end, &mut unaccounted_end);
        }
        Ok(())
    }

    /// Bytes no operator accounts for, as they are; spans next to each other (white space
    /// between) stay on one line.
    fn unaccounted(&mut self, data: &[u8], start: usize, end: usize, last_end: &mut Option<usize>) {
        match *last_end {
            Some(e) if e <= start && data[e..start].iter().all(|&b| is_white(b)) => {
                self.extra.extend_from_slice(&data[e..end]);
            }
            _ => self.extra(&data[start..end]),
        }
        *last_end = Some(end);
    }

    /// The items of an array operand (strings and numbers; nested arrays are skipped).
    fn array(&mut self, lex: &mut Lexer<'_>, strings: &mut Vec<u8>) -> (Vec<Operand>, usize) {
        let mut items = Vec::new();
        let mut depth = 0u32;
        while let Some(t) = lex.next_token() {
            match t.kind {
                Tok::ArrayClose if depth == 0 => return (items, t.end),
                Tok::ArrayClose => depth -= 1,
                Tok::ArrayOpen => depth += 1,
                Tok::Number if depth == 0 => items.push(Operand::Num(number(lex.bytes(&t)))),
                Tok::Literal | Tok::Hex if depth == 0 => {
                    let s = strings.len();
                    decode_string(lex.data, &t, strings);
                    items.push(Operand::Str(s, strings.len()));
                }
                Tok::Literal | Tok::Hex => {
                    let mut s = Vec::new();
                    decode_string(lex.data, &t, &mut s);
                    let mut text = Vec::new();
                    text_string(&s, &mut text);
                    self.extra(&text);
                }
                Tok::Keyword => {
                    // An operator inside an array: the array was never closed.
                    lex.pos = t.start;
                    return (items, t.start);
                }
                _ => {}
            }
            if items.len() > MAX_OPERANDS * 64 {
                break;
            }
        }
        (items, lex.pos)
    }

    /// Skips an inline dictionary (marked-content properties, inline image parameters);
    /// its strings (`/ActualText`, `/Alt`, `/E`) are text.
    fn inline_dict(&mut self, lex: &mut Lexer<'_>) -> usize {
        let mut depth = 1u32;
        while let Some(t) = lex.next_token() {
            match t.kind {
                Tok::DictOpen => depth += 1,
                Tok::DictClose => {
                    depth -= 1;
                    if depth == 0 {
                        return t.end;
                    }
                }
                Tok::Literal | Tok::Hex => {
                    let mut s = Vec::new();
                    decode_string(lex.data, &t, &mut s);
                    let mut text = Vec::new();
                    text_string(&s, &mut text);
                    self.extra(&text);
                }
                Tok::Keyword if !matches!(lex.bytes(&t), b"true" | b"false" | b"null" | b"R") => {
                    lex.pos = t.start;
                    return t.start;
                }
                _ => {}
            }
        }
        lex.pos
    }

    fn show(&mut self, gs: &Gs, tm: &mut Matrix, s: &[u8]) {
        let font = gs.font.as_deref().unwrap_or(&self.unknown);
        let start = self.runs.text.len();
        let shown = font.show(s, &mut self.runs.text);
        let tx = (f64::from(shown.width) / 1000.0 * gs.size
            + gs.char_spacing * f64::from(shown.codes)
            + gs.word_spacing * f64::from(shown.spaces))
            * gs.scale;
        let base = mul(tm, &gs.ctm);
        let apply =
            |x: f64, y: f64| (x * base[0] + y * base[2] + base[4], x * base[1] + y * base[3] + base[5]);
        let (p0, p1) = (apply(0.0, gs.rise), apply(tx, gs.rise));
        let linear = [base[0], base[1], base[2], base[3]];
        let f = match self.frame {
            Some(f) if f.linear == linear && f.size == gs.size && f.scale == gs.scale => f,
            _ => {
                let f = frame(linear, gs.size, gs.scale);
                self.frame = Some(f);
                f
            }
        };
        let (dir, up, size) = (f.dir, f.up, f.user_size);
        let finite = |v: f64| if v.is_finite() { v } else { 0.0 };
        if self.runs.text.len() > start {
            self.runs.runs.push(Run {
                key: f.key,
                along: finite(p0.0 * dir.0 + p0.1 * dir.1),
                across: finite(p0.0 * up.0 + p0.1 * up.1),
                advance: finite((p1.0 - p0.0) * dir.0 + (p1.1 - p0.1) * dir.1),
                size: finite(size),
                text: (start, self.runs.text.len()),
                hidden: matches!(gs.render, 3 | 7),
            });
            if self.runs.runs.len() >= MAX_RUNS {
                let mut out = std::mem::take(&mut self.extra);
                self.runs.lay_out(&mut out);
                self.extra = out;
            }
        }
        advance(tm, finite(tx));
    }

    fn font(
        &mut self,
        resources: Option<&Obj>,
        here: &mut HashMap<Vec<u8>, Rc<Font>>,
        name: &[u8],
    ) -> Result<Rc<Font>, Stopped> {
        if let Some(f) = here.get(name) {
            return Ok(f.clone());
        }
        let in_resources = self.resource(resources, b"Font", name);
        let obj = match in_resources {
            Some(o) => Some(o),
            None => self.fallback_font(name),
        };
        let font = match obj {
            Some(o) => self.fonts.load(self.cx, self.m, self.doc, &o)?,
            None => Rc::new(Font::unknown()),
        };
        here.insert(name.to_vec(), font.clone());
        Ok(font)
    }

    /// `/category /name` of a resource dictionary (the value, unresolved).
    fn resource(&mut self, resources: Option<&Obj>, category: &[u8], name: &[u8]) -> Option<Obj> {
        let res = self.doc.val(resources?);
        match res.dict()?.get(category)? {
            Obj::Ref(n) => self.doc.object(*n).dict()?.get(name).cloned(),
            Obj::Dict(d) => d.get(name).cloned(),
            _ => None,
        }
    }

    fn fallback_font(&mut self, name: &[u8]) -> Option<Obj> {
        if self.fallback.is_none() {
            let names = self.doc.font_names(self.cx.st.budget.limits.max_pdf_fonts as usize);
            self.fallback = Some(names);
        }
        self.fallback.as_ref()?.get(name).cloned()
    }

    fn draw_form(&mut self, resources: Option<&Obj>, num: u32, ctm: &Matrix) -> Result<(), Stopped> {
        let Some(i) = self.doc.stream_index(num) else { return Ok(()) };
        if !self.doc.streams[i].dict.is(b"Subtype", b"Form")
            || self.forms.len() >= MAX_FORM_DEPTH
            || self.forms.contains(&num)
            || !self.forms_on_page.insert(num)
        {
            return Ok(());
        }
        self.done[i] = true;
        let dict = self.doc.streams[i].dict.clone();
        let matrix = match dict.get(b"Matrix").map(|x| (*self.doc.val(x)).clone()) {
            Some(Obj::Array(a)) if a.len() == 6 => {
                let mut mtx = IDENTITY;
                for (k, v) in a.iter().enumerate() {
                    mtx[k] = v.num().unwrap_or(IDENTITY[k]);
                }
                mtx
            }
            _ => IDENTITY,
        };
        let own = self.doc.dict_at(&dict, b"Resources");
        let Some(decoded) = self.doc.stream_data(self.cx, self.m, i) else { return Err(Stopped) };
        for l in &decoded.leftovers {
            self.extra(l);
        }
        let r = if decoded.undecoded || decoded.crypt {
            self.extra(&decoded.data);
            Ok(())
        } else {
            self.forms.push(num);
            let res = own.as_deref().or(resources);
            let r = self.run(&decoded.data, res, mul(&matrix, ctm));
            self.forms.pop();
            r
        };
        decoded.release(self.cx);
        r
    }
}

/// Direction, "up" and size in page space of text drawn with `linear` (text matrix times
/// CTM, linear part), font `size` and horizontal `scale`.
fn frame(linear: [f64; 4], size: f64, scale: f64) -> Frame {
    let norm = |x: f64, y: f64| {
        let l = (x * x + y * y).sqrt();
        (l.is_finite() && l > 1e-12).then(|| (x / l, y / l))
    };
    let sx = size * scale;
    let dir =
        norm(linear[0] * sx, linear[1] * sx).or_else(|| norm(linear[0], linear[1])).unwrap_or((1.0, 0.0));
    let (yx, yy) = (linear[2] * size, linear[3] * size);
    let right_handed = dir.0 * yy - dir.1 * yx >= 0.0;
    let up = if right_handed { (-dir.1, dir.0) } else { (dir.1, -dir.0) };
    let angle = dir.1.atan2(dir.0).to_degrees().round() as i32;
    let user_size = (yx * yx + yy * yy).sqrt();
    Frame { linear, size, scale, dir, up, key: (angle, right_handed), user_size }
}

/// Operand count of each operator (`None`: any number); unknown names are not operators.
fn arity(op: &[u8]) -> Option<Option<usize>> {
    Some(Some(match op {
        b"b" | b"B" | b"b*" | b"B*" | b"BI" | b"BT" | b"BX" | b"EI" | b"EMC" | b"ET" | b"EX" | b"f"
        | b"F" | b"f*" | b"h" | b"n" | b"q" | b"Q" | b"s" | b"S" | b"T*" | b"W" | b"W*" => 0,
        b"BMC" | b"CS" | b"cs" | b"Do" | b"G" | b"g" | b"gs" | b"i" | b"j" | b"J" | b"M" | b"MP" | b"ri"
        | b"sh" | b"Tc" | b"Tj" | b"TJ" | b"TL" | b"Tr" | b"Ts" | b"Tw" | b"Tz" | b"w" | b"'" => 1,
        b"BDC" | b"d" | b"d0" | b"DP" | b"l" | b"m" | b"Td" | b"TD" | b"Tf" => 2,
        b"RG" | b"rg" | b"\"" => 3,
        b"K" | b"k" | b"re" | b"v" | b"y" => 4,
        b"c" | b"cm" | b"d1" | b"Tm" => 6,
        // Colour operands vary; an inline image's parameters come before `ID`.
        b"SC" | b"sc" | b"SCN" | b"scn" | b"ID" => return Some(None),
        _ => return None,
    }))
}

/// Where the data of an inline image starting at `start` ends: at `EI` with white space
/// (or the end) on both sides.
fn inline_image_end(data: &[u8], start: usize) -> usize {
    for k in memchr::memmem::find_iter(&data[start..], b"EI") {
        let at = start + k;
        let before = at.checked_sub(1).map(|i| data[i]);
        let after = data.get(at + 2).copied();
        if before.is_some_and(is_white) && after.is_none_or(|b| is_white(b) || super::lexer::is_delim(b)) {
            return at;
        }
    }
    data.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arities() {
        assert_eq!(arity(b"Tj"), Some(Some(1)));
        assert_eq!(arity(b"scn"), Some(None));
        assert_eq!(arity(b"var"), None);
        assert_eq!(inline_image_end(b"ID abcEI x EI\n", 3), 11);
    }
}
