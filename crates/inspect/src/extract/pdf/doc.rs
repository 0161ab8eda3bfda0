//! The file's structure as a reader that distrusts the cross-reference table sees it:
//! object headers by their `N G obj` keywords, streams by `stream` ... `endstream` (their
//! `/Length` used when it checks out), the objects packed in object streams, trailers.
//!
//! One concern in one file, longer than most: reading a file's structure without trusting
//! it (headers, streams, object streams and trailers check one another).
//!
//! Every byte of the file ends up in exactly one place: a stream body, or the syntax
//! between bodies (see `syntax`). Each object is parsed at most once, and never past the
//! next object header, so a broken object cannot make the work quadratic.

use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::{Deref, Range};
use std::rc::Rc;

use memchr::memmem;

use super::crypt::{Method, Security};
use super::filters::{decode, filters_of, Decoded, Filter};
use super::lexer::{is_white, number, Lexer, Tok};
use super::object::{parse, Dict, Obj};
use crate::extract::{Ctx, Member};

/// How far back a stream's dictionary is looked for when no object header owns it.
const DICT_LOOKBACK: usize = 4096;
/// References followed in a row before giving up (a reference to a reference ...).
const MAX_REF_CHAIN: u32 = 16;
/// Bytes a trailer dictionary is read within.
const TRAILER_WINDOW: usize = 64 * 1024;
/// Objects declared by one object stream's header that are read.
const MAX_PACKED: usize = 1 << 20;

/// An `N G obj` header.
#[derive(Debug, Clone, Copy)]
pub(super) struct Header {
    pub num: u32,
    /// The generation `G` (part of an encrypted object's key).
    pub gen: u32,
    /// The first digit of `N`.
    pub start: usize,
    /// The first byte after `obj`.
    pub value: usize,
}

/// One stream of the file.
#[derive(Debug)]
pub(super) struct StreamLoc {
    /// The object number and generation of the header that owns the stream.
    pub obj: Option<(u32, u32)>,
    pub dict: Dict,
    pub body: Range<usize>,
    /// The first byte after the stream (after `endstream` when it is there).
    pub end: usize,
}

#[derive(Debug, Clone, Copy)]
enum Loc {
    /// The object's value starts here in the file; it cannot extend past `limit`.
    File { at: usize, limit: usize, gen: u32 },
    /// Object `index` of the object stream that is stream `stream`.
    Packed { stream: usize, index: usize },
}

/// The objects of a decoded object stream.
#[derive(Debug)]
struct Packed {
    data: Vec<u8>,
    /// Object number and where its value starts in `data`.
    objects: Vec<(u32, usize)>,
}

/// The document's structure.
#[derive(Debug)]
pub(super) struct Doc<'a> {
    pub data: &'a [u8],
    /// Streams in file order.
    pub streams: Vec<StreamLoc>,
    /// Headers outside stream bodies, in file order.
    pub headers: Vec<Header>,
    /// Object number -> (position deciding which definition is newest, location).
    index: HashMap<u32, (usize, Loc)>,
    stream_of: HashMap<u32, usize>,
    packed: HashMap<usize, Rc<Packed>>,
    cache: HashMap<u32, Rc<Obj>>,
    /// The newest trailer's `/Root`.
    pub root: Option<u32>,
    /// Whether a trailer names an `/Encrypt` dictionary.
    pub encrypted: bool,
    /// The newest trailer's `/Encrypt` value and first `/ID` string.
    encrypt: Option<(Obj, Vec<u8>)>,
    /// The keys of an encrypted document the empty user password opened.
    pub security: Option<Security>,
    /// The object holding the `/Encrypt` dictionary (its strings are in clear).
    encrypt_obj: Option<u32>,
}

/// An object, borrowed when it was direct, shared when it came through a reference.
pub(super) enum Val<'o> {
    Direct(&'o Obj),
    Shared(Rc<Obj>),
}

impl Deref for Val<'_> {
    type Target = Obj;
    fn deref(&self) -> &Obj {
        match self {
            Val::Direct(o) => o,
            Val::Shared(o) => o,
        }
    }
}

static NULL: Obj = Obj::Null;

impl<'a> Doc<'a> {
    /// Finds headers, streams and trailers. CPU time is checked as it goes.
    pub fn read(cx: &mut Ctx<'_>, m: &Member, data: &'a [u8]) -> Self {
        let raw = headers(data);
        let mut doc = Doc {
            data,
            streams: Vec::new(),
            headers: Vec::new(),
            index: HashMap::new(),
            stream_of: HashMap::new(),
            packed: HashMap::new(),
            cache: HashMap::new(),
            root: None,
            encrypted: false,
            encrypt: None,
            security: None,
            encrypt_obj: None,
        };
        doc.find_streams(cx, m, &raw);
        // Headers inside stream bodies belong to the stream (an embedded PDF, say).
        let mut s = 0;
        for h in raw {
            while s < doc.streams.len() && doc.streams[s].body.end <= h.start {
                s += 1;
            }
            if s < doc.streams.len() && doc.streams[s].body.contains(&h.start) {
                continue;
            }
            doc.headers.push(h);
        }
        for (i, h) in doc.headers.iter().enumerate() {
            let limit = doc.headers.get(i + 1).map_or(data.len(), |n| n.start);
            doc.index.insert(h.num, (h.start, Loc::File { at: h.value, limit, gen: h.gen }));
        }
        for (i, s) in doc.streams.iter().enumerate() {
            if let Some((o, _)) = s.obj {
                doc.stream_of.insert(o, i);
            }
        }
        doc.read_trailers();
        doc.open_security();
        doc
    }

    fn find_streams(&mut self, cx: &mut Ctx<'_>, m: &Member, raw: &[Header]) {
        let data = self.data;
        let finder = memmem::Finder::new(b"stream");
        let end_finder = memmem::Finder::new(b"endstream");
        let mut pos = 0;
        let mut prev_end = 0;
        // For an indirect `/Length`: the newest raw header of each number.
        let newest: HashMap<u32, usize> = raw.iter().map(|h| (h.num, h.value)).collect();
        // The next `endstream` at or after a position, remembered so that streams without
        // one do not each search to the end of the file.
        let mut next_end: Option<(usize, Option<usize>)> = None;
        while let Some(k) = finder.find(&data[pos..]) {
            let at = pos + k;
            pos = at + 6;
            if self.streams.len() % 256 == 255 && !cx.st.budget.check_time(&m.path) {
                return;
            }
            if at >= 3 && &data[at - 3..at] == b"end" {
                continue;
            }
            let mut b = at + 6;
            while b < data.len() && b < at + 16 && data[b] == b' ' {
                b += 1;
            }
            let body_start = match data.get(b..(b + 2).min(data.len())) {
                Some([b'\r', b'\n']) => b + 2,
                Some([b'\n', ..]) | Some([b'\r', ..]) => b + 1,
                _ => continue,
            };
            let mut p = at;
            while p > prev_end && is_white(data[p - 1]) {
                p -= 1;
            }
            if p < prev_end + 2 || &data[p - 2..p] != b">>" {
                continue;
            }
            // The header that owns the dictionary, if it is after the previous stream.
            let owner = raw.partition_point(|h| h.value <= at).checked_sub(1).map(|i| raw[i]);
            let owner = owner.filter(|h| h.start >= prev_end && at - h.value <= 1 << 20);
            let dict_start = owner.map_or(at.saturating_sub(DICT_LOOKBACK).max(prev_end), |h| h.value);
            let dict = dict_before(&data[..p], dict_start);
            let declared = match dict.get(b"Length") {
                Some(Obj::Num(n)) => Some(*n),
                Some(Obj::Ref(r)) => newest.get(r).and_then(|&at| number_at(data, at)),
                _ => None,
            };
            let fits =
                declared.filter(|n| *n >= 0.0 && body_start as f64 + n <= data.len() as f64).and_then(|n| {
                    let e = body_start + n as usize;
                    let mut j = e;
                    while j < data.len() && j < e + 16 && is_white(data[j]) {
                        j += 1;
                    }
                    data[j..].starts_with(b"endstream").then_some((e, j + 9))
                });
            let (body_end, end) = match fits {
                Some(x) => x,
                None => {
                    // No usable length: up to `endstream`, but never past the next object.
                    let next_header = raw.get(raw.partition_point(|h| h.start < body_start)).map(|h| h.start);
                    let ends = match next_end {
                        Some((from, found))
                            if from <= body_start && found.is_none_or(|e| e >= body_start) =>
                        {
                            found
                        }
                        _ => end_finder.find(&data[body_start..]).map(|e| body_start + e),
                    };
                    next_end = Some((body_start, ends));
                    match (ends, next_header) {
                        (Some(e), Some(h)) if h < e => (h, h),
                        (Some(e), _) => (trim_eol(data, body_start, e), e + 9),
                        (None, Some(h)) => (h, h),
                        (None, None) => (data.len(), data.len()),
                    }
                }
            };
            self.streams.push(StreamLoc {
                obj: owner.map(|h| (h.num, h.gen)),
                dict,
                body: body_start..body_end,
                end,
            });
            prev_end = end;
            pos = end.max(pos);
        }
    }

    /// Reads `trailer` dictionaries (between stream bodies) and cross-reference streams.
    fn read_trailers(&mut self) {
        let data = self.data;
        let mut from = 0;
        let mut gaps: Vec<Range<usize>> = Vec::new();
        for s in &self.streams {
            gaps.push(from..s.body.start);
            from = s.end;
        }
        gaps.push(from..data.len());
        for g in gaps {
            for k in memmem::find_iter(&data[g.clone()], b"trailer") {
                // A trailer is small; a window keeps thousands of broken ones linear.
                let at = g.start + k + 7;
                let mut lex = Lexer::new(&data[..g.end.min(at + TRAILER_WINDOW)], at);
                if let Some(Obj::Dict(d)) = parse(&mut lex) {
                    self.note_trailer(&d);
                }
            }
            // Encryption is judged by the key wherever it is outside stream bodies, not by a
            // trailer we managed to parse: a trailer we misread must not hide it.
            for k in memmem::find_iter(&data[g.clone()], b"/Encrypt") {
                let next = data.get(g.start + k + 8).copied();
                if next.is_none_or(|b| is_white(b) || b == b'<' || b.is_ascii_digit()) {
                    self.encrypted = true;
                }
            }
        }
        let xref: Vec<Dict> =
            self.streams.iter().filter(|s| s.dict.is(b"Type", b"XRef")).map(|s| s.dict.clone()).collect();
        for d in xref {
            self.note_trailer(&d);
        }
    }

    /// Opens an encrypted document with the empty user password, when it can be.
    fn open_security(&mut self) {
        let Some((e, id0)) = self.encrypt.take() else { return };
        self.encrypt_obj = e.reference();
        let v = self.val(&e);
        let Some(d) = v.dict().cloned() else { return };
        drop(v);
        self.security = Security::open(&d, &id0).ok();
    }

    /// Objects whose strings are in clear in an encrypted document: the `/Encrypt`
    /// dictionary and cross-reference streams.
    pub fn clear_objects(&self) -> Vec<u32> {
        let xref = self.streams.iter().filter(|s| s.dict.is(b"Type", b"XRef")).filter_map(|s| s.obj);
        self.encrypt_obj.into_iter().chain(xref.map(|(n, _)| n)).collect()
    }

    fn note_trailer(&mut self, d: &Dict) {
        if let Some(e) = d.get(b"Encrypt").filter(|e| !matches!(e, Obj::Null)) {
            self.encrypted = true;
            let id0 = match d.get(b"ID").and_then(Obj::array).and_then(<[Obj]>::first) {
                Some(Obj::Str(s)) => s.clone(),
                _ => Vec::new(),
            };
            self.encrypt = Some((e.clone(), id0));
        }
        if let Some(r) = d.get(b"Root").and_then(Obj::reference) {
            self.root = Some(r);
        }
    }

    /// Decodes the object streams and indexes the objects in them (a direct definition
    /// later in the file still wins, as an incremental update would). `false` when a
    /// limit stopped the scan.
    pub fn read_object_streams(&mut self, cx: &mut Ctx<'_>, m: &Member) -> bool {
        for i in 0..self.streams.len() {
            if !self.streams[i].dict.is(b"Type", b"ObjStm") {
                continue;
            }
            let first =
                self.streams[i].dict.get(b"First").and_then(Obj::num).unwrap_or(0.0).max(0.0) as usize;
            let Some(d) = self.stream_data(cx, m, i) else { return false };
            let held = d.held;
            if d.undecoded || d.crypt {
                cx.st.budget.release(held);
                continue;
            }
            let data = d.data.into_owned();
            // The decoded stream stays (as `Packed`): held again at its own size.
            cx.st.budget.release(held);
            if !cx.st.budget.hold(data.len() as u64, &m.path) {
                return false;
            }
            let first = first.min(data.len());
            let mut lex = Lexer::new(&data[..first], 0);
            let mut objects = Vec::new();
            while objects.len() < MAX_PACKED {
                let (Some(n), Some(o)) = (lex.next_token(), lex.next_token()) else { break };
                if n.kind != Tok::Number || o.kind != Tok::Number {
                    break;
                }
                let (n, o) = (number(lex.bytes(&n)), number(lex.bytes(&o)));
                if n < 0.0 || n > f64::from(u32::MAX) || o < 0.0 {
                    break;
                }
                objects.push((n as u32, first.saturating_add(o as usize).min(data.len())));
            }
            let at = self.streams[i].body.start;
            for (index, &(num, _)) in objects.iter().enumerate() {
                if self.index.get(&num).is_none_or(|(p, _)| *p < at) {
                    self.index.insert(num, (at, Loc::Packed { stream: i, index }));
                }
            }
            self.packed.insert(i, Rc::new(Packed { data, objects }));
        }
        true
    }

    /// The bytes that hold the header of an object stream (object numbers and offsets),
    /// and the objects after it, for the syntax scan.
    pub fn packed_text(&self, stream: usize) -> Option<&[u8]> {
        let p = self.packed.get(&stream)?;
        let start = p.objects.first().map_or(p.data.len(), |o| o.1);
        Some(&p.data[start.min(p.data.len())..])
    }

    /// Object `num`, parsed once. `Null` when it does not exist.
    pub fn object(&mut self, num: u32) -> Rc<Obj> {
        if let Some(o) = self.cache.get(&num) {
            return o.clone();
        }
        let o = Rc::new(self.parse_object(num).unwrap_or(Obj::Null));
        self.cache.insert(num, o.clone());
        o
    }

    /// Every indexed object with `/Type /Page`, parsed without keeping the others.
    pub fn page_objects(&mut self) -> Vec<u32> {
        let mut nums: Vec<(usize, u32)> = self.index.iter().map(|(n, (p, _))| (*p, *n)).collect();
        nums.sort_unstable();
        let mut pages = Vec::new();
        for (_, n) in nums {
            if let Some(o) = self.cache.get(&n) {
                if o.dict().is_some_and(|d| d.is(b"Type", b"Page")) {
                    pages.push(n);
                }
                continue;
            }
            let o = self.parse_object(n);
            if o.as_ref().and_then(Obj::dict).is_some_and(|d| d.is(b"Type", b"Page")) {
                pages.push(n);
            }
        }
        pages
    }

    fn parse_object(&self, num: u32) -> Option<Obj> {
        match self.index.get(&num).map(|(_, l)| *l) {
            Some(Loc::File { at, limit, gen }) => {
                let mut o = parse(&mut Lexer::new(&self.data[..limit.max(at)], at))?;
                if let Some(sec) = self.security.as_ref().filter(|_| self.encrypt_obj != Some(num)) {
                    decrypt_strings(&mut o, sec, num, gen);
                }
                Some(o)
            }
            Some(Loc::Packed { stream, index }) => self.packed.get(&stream).and_then(|p| {
                let at = p.objects[index].1;
                let limit = p.objects.get(index + 1).map_or(p.data.len(), |o| o.1.max(at));
                parse(&mut Lexer::new(&p.data[..limit], at))
            }),
            None => None,
        }
    }

    /// Follows references from `o`.
    pub fn val<'o>(&mut self, o: &'o Obj) -> Val<'o> {
        let Obj::Ref(mut n) = o else { return Val::Direct(o) };
        for _ in 0..MAX_REF_CHAIN {
            let next = self.object(n);
            match *next {
                Obj::Ref(r) => n = r,
                _ => return Val::Shared(next),
            }
        }
        Val::Direct(&NULL)
    }

    /// The dictionary under `key` of `d`, following references.
    pub fn dict_at(&mut self, d: &Dict, key: &[u8]) -> Option<Rc<Obj>> {
        let v = self.val(d.get(key)?);
        v.dict()?;
        Some(match v {
            Val::Direct(o) => Rc::new(o.clone()),
            Val::Shared(o) => o,
        })
    }

    /// Font resource names anywhere in the document (`/Font << /F1 5 0 R >>`, the first
    /// definition of a name wins), at most `max`: for content read without its resources.
    pub fn font_names(&mut self, max: usize) -> HashMap<Vec<u8>, Obj> {
        let mut names = HashMap::new();
        let mut sources: Vec<Rc<Packed>> = self.packed.values().cloned().collect();
        let data = self.data;
        sources.push(Rc::new(Packed { data: Vec::new(), objects: Vec::new() }));
        for (k, src) in sources.iter().enumerate() {
            let hay: &[u8] = if k + 1 == sources.len() { data } else { &src.data };
            for p in memmem::find_iter(hay, b"/Font") {
                if names.len() >= max {
                    return names;
                }
                if hay.get(p + 5).is_some_and(|&b| !is_white(b) && !super::lexer::is_delim(b)) {
                    continue;
                }
                let mut lex = Lexer::new(hay, p + 5);
                let value = match parse(&mut lex) {
                    Some(Obj::Ref(n)) => (*self.object(n)).clone(),
                    Some(o) => o,
                    None => continue,
                };
                if let Obj::Dict(d) = value {
                    for (name, v) in d.0 {
                        if matches!(v, Obj::Ref(_)) {
                            names.entry(name).or_insert(v);
                        }
                    }
                }
            }
        }
        names
    }

    /// The stream that is object `num`.
    pub fn stream_index(&self, num: u32) -> Option<usize> {
        self.stream_of.get(&num).copied()
    }

    /// Stream `i` after its filters. `None` when a limit stopped the scan.
    pub fn stream_data(&mut self, cx: &mut Ctx<'_>, m: &Member, i: usize) -> Option<Decoded<'a>> {
        let s = &self.streams[i];
        let (filter, parms) = (s.dict.get(b"Filter").cloned(), s.dict.get(b"DecodeParms").cloned());
        let body = s.body.clone();
        let filter = filter.map(|f| self.deep(&f));
        let parms = parms.map(|p| self.deep(&p));
        let mut filters = filters_of(filter.as_ref(), parms.as_ref());
        let data: &'a [u8] = self.data;
        let raw = &data[body];
        let Some(method) = self.stream_method(i, &mut filters) else {
            return decode(cx, m, Cow::Borrowed(raw), 0, &filters);
        };
        let (num, gen) = self.streams[i].obj.unwrap_or((0, 0));
        let Some(sec) = &self.security else { return decode(cx, m, Cow::Borrowed(raw), 0, &filters) };
        let first = filters.first().map(|f| f.name.as_slice());
        let flate = matches!(first, Some(b"FlateDecode" | b"Fl"));
        // Ciphertext is never all text, nor a zlib stream that stops being one once
        // decrypted: such a stream was written in clear (a reader shows it as garbage, an
        // exfiltration reads it as it is).
        let text_filter =
            matches!(first, None | Some(b"ASCIIHexDecode" | b"AHx" | b"ASCII85Decode" | b"A85"));
        if method == Method::Identity || (text_filter && text_like(raw)) {
            return decode(cx, m, Cow::Borrowed(raw), 0, &filters);
        }
        if self.streams[i].obj.is_none() && sec.per_object() {
            // No header, no key: scanned raw like a stream behind an unknown crypt filter.
            return Some(Decoded::crypt(raw));
        }
        if !cx.st.budget.hold(raw.len() as u64, &m.path) {
            return None;
        }
        let held = raw.len() as u64;
        match sec.decrypt(method, num, gen, raw) {
            Ok(d) if flate && zlib_header(raw) && !zlib_header(&d) => {
                cx.st.budget.release(held);
                decode(cx, m, Cow::Borrowed(raw), 0, &filters)
            }
            Ok(d) => decode(cx, m, Cow::Owned(d), held, &filters),
            Err(_) if flate && zlib_header(raw) => {
                cx.st.budget.release(held);
                decode(cx, m, Cow::Borrowed(raw), 0, &filters)
            }
            Err(e) => {
                cx.st.budget.release(held);
                cx.corrupt(&m.path, format!("PDF stream {num} {gen}: {e}"));
                None
            }
        }
    }

    /// How stream `i` is encrypted; `None` when the document is not. A leading `/Crypt`
    /// filter the document defines is taken out of `filters` (it is applied here).
    fn stream_method(&self, i: usize, filters: &mut Vec<Filter>) -> Option<Method> {
        let sec = self.security.as_ref()?;
        let d = &self.streams[i].dict;
        if let Some(f) = filters.first().filter(|f| f.name == b"Crypt") {
            let name =
                f.parms.as_ref().and_then(|p| p.get(b"Name")).and_then(Obj::name).unwrap_or(b"Identity");
            // An unknown filter stays in the chain: its data is scanned raw.
            let method = sec.method_named(name)?;
            filters.remove(0);
            return Some(method);
        }
        Some(if d.is(b"Type", b"XRef") || (d.is(b"Type", b"Metadata") && !sec.encrypt_metadata) {
            Method::Identity
        } else if d.is(b"Type", b"EmbeddedFile") {
            sec.files
        } else {
            sec.streams
        })
    }

    /// A copy of `o` with references resolved one level into arrays (filter lists and
    /// their parameters are often indirect).
    fn deep(&mut self, o: &Obj) -> Obj {
        let top = (*self.val(o)).clone();
        match top {
            Obj::Array(items) => Obj::Array(items.iter().map(|x| (*self.val(x)).clone()).collect()),
            other => other,
        }
    }
}

/// Decrypts the strings of object `num` in place (a string that does not decrypt stays
/// as it is).
fn decrypt_strings(o: &mut Obj, sec: &Security, num: u32, gen: u32) {
    match o {
        Obj::Str(s) => {
            if let Ok(d) = sec.decrypt(sec.strings, num, gen, s) {
                *s = d;
            }
        }
        Obj::Array(items) => items.iter_mut().for_each(|x| decrypt_strings(x, sec, num, gen)),
        Obj::Dict(d) => d.0.iter_mut().for_each(|(_, v)| decrypt_strings(v, sec, num, gen)),
        _ => {}
    }
}

/// Whether `data` is text (printable ASCII and white space), as ciphertext never is.
pub(super) fn text_like(data: &[u8]) -> bool {
    data.len() >= 16 && data.iter().all(|&b| (b' '..=b'~').contains(&b) || is_white(b))
}

/// Whether `data` starts with a zlib header.
fn zlib_header(data: &[u8]) -> bool {
    data.len() >= 2 && data[0] & 0x0f == 8 && (u16::from(data[0]) << 8 | u16::from(data[1])) % 31 == 0
}

/// Every `N G obj` in `data`, in order.
fn headers(data: &[u8]) -> Vec<Header> {
    let mut out = Vec::new();
    for at in memmem::find_iter(data, b"obj") {
        if data.get(at + 3).is_some_and(|&b| !is_white(b) && !super::lexer::is_delim(b)) {
            continue;
        }
        let mut i = at;
        let back_white = |i: &mut usize| {
            let s = *i;
            while *i > 0 && is_white(data[*i - 1]) {
                *i -= 1;
            }
            *i < s
        };
        let back_digits = |i: &mut usize| {
            let s = *i;
            while *i > 0 && data[*i - 1].is_ascii_digit() && s - *i < 10 {
                *i -= 1;
            }
            (*i < s)
                .then(|| std::str::from_utf8(&data[*i..s]).ok().and_then(|t| t.parse::<u32>().ok()))
                .flatten()
        };
        back_white(&mut i);
        let gen = back_digits(&mut i);
        if gen.is_none() || !back_white(&mut i) {
            continue;
        }
        let Some(num) = back_digits(&mut i) else { continue };
        let gen = gen.unwrap_or(0);
        if i > 0 && !is_white(data[i - 1]) && !super::lexer::is_delim(data[i - 1]) {
            continue;
        }
        out.push(Header { num, gen, start: i, value: at + 3 });
    }
    out
}

/// The dictionary that ends at `data.len()` (just before `stream`), parsed from the last
/// `<<` at depth zero after `from`.
fn dict_before(data: &[u8], from: usize) -> Dict {
    let Some(k) = memmem::find(&data[from..], b"<<") else { return Dict::default() };
    match parse(&mut Lexer::new(data, from + k)) {
        Some(Obj::Dict(d)) => d,
        _ => Dict::default(),
    }
}

/// The number at `at` (the value of an object holding an indirect `/Length`).
fn number_at(data: &[u8], at: usize) -> Option<f64> {
    let mut lex = Lexer::new(data, at);
    let t = lex.next_token()?;
    (t.kind == Tok::Number).then(|| number(lex.bytes(&t)))
}

/// The end of a stream body before `endstream` at `e`: one end of line belongs to the
/// keyword.
fn trim_eol(data: &[u8], start: usize, e: usize) -> usize {
    if e >= start + 2 && &data[e - 2..e] == b"\r\n" {
        e - 2
    } else if e > start && matches!(data[e - 1], b'\n' | b'\r') {
        e - 1
    } else {
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_need_two_numbers() {
        let h = headers(b"1 0 obj\n<<>>\nendobj 12 3 obj x obj 4obj 5 0obj");
        let nums: Vec<u32> = h.iter().map(|h| h.num).collect();
        // `5 0obj` is read too: some writers leave the space out.
        assert_eq!(nums, [1, 12, 5]);
        assert_eq!(h[1].start, 20);
    }
}
