//! Finding a row of an index in a stream of text.
//!
//! The hot path, per token of content: is an n-gram (1 to [`MAX_NGRAM_TOKENS`] tokens)
//! starting here shaped like some primary value (token count, form length, a digit for
//! numbers)? Only then is its SipHash tag computed (each token's hash once) and the
//! prefilter asked; only when the filter says yes is the HMAC computed and the sorted table
//! read. A primary found, the text within `proximity` bytes of it is tokenised again and the
//! tags of all its n-grams compared with the row's other cells.
//!
//! The stream keeps its own window: `proximity + MAX_NGRAM_SPAN` bytes before the region
//! being examined and as many after it, so a row whose fields straddle chunk boundaries is
//! found whatever the chunking.

use std::collections::HashMap;
use std::sync::Arc;

use super::format::EdmIndex;
use super::keyed::{cell_tag, text_tag};
use super::lanes;
use super::token::{
    is_word, next_token, phone_form, push_number, push_text, token_end, Kind, MAX_PHONE_DIGITS,
    MAX_PHONE_TOKENS,
};
#[cfg(test)]
use super::token::{ALNUM, CLASS, CONNECTOR, DIGIT, HIGH, WORD};
use super::{MAX_NGRAM_SPAN, MAX_NGRAM_TOKENS, MAX_ROWS_PER_VALUE};

/// Text examined per round.
const BLOCK: usize = 256 * 1024;
/// Rows remembered as reported, so one mention counts once.
const MAX_REPORTED: usize = 4096;

/// One `edm = { ... }` of a policy, compiled.
#[derive(Debug, Clone)]
pub struct EdmSpec {
    /// The detector name in counts and evidence (`edm:customers`).
    pub detector: String,
    /// The index.
    pub index: Arc<EdmIndex>,
    /// Fields of one row needed, the primary counted.
    pub min_fields: usize,
    /// Bytes around the primary within which the others must lie.
    pub proximity: usize,
    primary: Shape,
    any: Shape,
}

/// Which n-grams can be a value of some column.
#[derive(Debug, Clone, Copy, Default)]
struct Shape {
    /// Bit n: a text value of n tokens exists.
    text_tokens: u8,
    text_len: (usize, usize),
    number: bool,
    number_len: (usize, usize),
    /// ASCII digits and letters of the text forms, and of the number forms.
    text_digits: (usize, usize),
    text_letters: (usize, usize),
    number_digits: (usize, usize),
    number_letters: (usize, usize),
    /// A phone column: lengths of its phone forms.
    phone: bool,
    phone_len: (usize, usize),
}

impl Shape {
    /// Whether [`grams`] can find anything starting at `t`: the loop's first step for `t`
    /// alone (whether it yields a one-token value, whether it goes on to a second token),
    /// without the loop. The cheap test most tokens of prose and of customer-like text fail
    /// (`Customer`, a name, a street: too many letters for an id, too short for an e-mail).
    #[inline]
    fn may_start(&self, t: &Tok) -> bool {
        if !t.ascii {
            return true;
        }
        let (len, digits, alnum) = (t.end() - t.start(), t.digits(), t.alnum());
        let letters = alnum - digits;
        if len > MAX_NGRAM_SPAN || len > super::MAX_TOKEN_BYTES {
            return false;
        }
        let text_counts = within(self.text_digits, digits) && within(self.text_letters, letters);
        let text_one = self.text_tokens & 2 != 0 && within(self.text_len, len) && text_counts;
        let text_more = MAX_NGRAM_TOKENS > 1
            && self.text_tokens >> 2 != 0
            && len < self.text_len.1
            && digits <= self.text_digits.1
            && letters <= self.text_letters.1;
        let number_counts = within(self.number_digits, digits) && within(self.number_letters, letters);
        let number_one = self.number && digits > 0 && within(self.number_len, alnum) && number_counts;
        let number_more = self.number
            && alnum < self.number_len.1
            && digits <= self.number_digits.1
            && letters <= self.number_letters.1;
        let phone = self.phone && letters == 0 && alnum <= MAX_PHONE_DIGITS;
        text_one || text_more || number_one || number_more || phone
    }
}

/// `range` widened to take `lo..=hi`.
fn widen(range: &mut (usize, usize), lo: u16, hi: u16) {
    *range = (range.0.min(lo.into()), range.1.max(hi.into()));
}

/// Whether `n` lies in `range`.
#[inline]
fn within(range: (usize, usize), n: usize) -> bool {
    (range.0..=range.1).contains(&n)
}

impl Shape {
    fn of(index: &EdmIndex, primary_only: bool) -> Self {
        let mut s = Shape {
            text_len: (usize::MAX, 0),
            number_len: (usize::MAX, 0),
            phone_len: (usize::MAX, 0),
            text_digits: (usize::MAX, 0),
            text_letters: (usize::MAX, 0),
            number_digits: (usize::MAX, 0),
            number_letters: (usize::MAX, 0),
            ..Shape::default()
        };
        for c in &index.meta().columns {
            if (primary_only && !c.primary) || !c.has_values() {
                continue;
            }
            match c.kind {
                Kind::Text => {
                    for n in c.min_tokens..=c.max_tokens.min(MAX_NGRAM_TOKENS as u8) {
                        s.text_tokens |= 1 << n;
                    }
                    widen(&mut s.text_len, c.min_len, c.max_len);
                    widen(&mut s.text_digits, c.min_digits, c.max_digits);
                    widen(&mut s.text_letters, c.min_letters, c.max_letters);
                }
                Kind::Number => {
                    s.number = true;
                    widen(&mut s.number_len, c.min_len, c.max_len);
                    widen(&mut s.number_digits, c.min_digits, c.max_digits);
                    widen(&mut s.number_letters, c.min_letters, c.max_letters);
                }
                Kind::Phone => {
                    s.phone = true;
                    widen(&mut s.phone_len, c.min_len, c.max_len);
                }
            }
        }
        s
    }
}

impl EdmSpec {
    /// Compiles a rule's parameters against a loaded index.
    pub fn new(detector: String, index: Arc<EdmIndex>, min_fields: usize, proximity: usize) -> Self {
        let primary = Shape::of(&index, true);
        let any = Shape::of(&index, false);
        Self { detector, index, min_fields, proximity, primary, any }
    }

    fn margin(&self) -> usize {
        self.proximity + MAX_NGRAM_SPAN
    }
}

/// A token of the window: its span, its ASCII letters and digits, whether it is all ASCII,
/// its SipHash once computed. 24 bytes: a round reads 30,000 of them and walks them twice.
#[derive(Debug, Clone, Copy)]
struct Tok {
    s: u32,
    e: u32,
    /// Saturated at 255: a token longer than [`MAX_TOKEN_BYTES`](super::MAX_TOKEN_BYTES)
    /// is in no n-gram, whatever it holds.
    digits: u8,
    alnum: u8,
    ascii: bool,
    /// 0 until computed (a hash that is 0 is computed again, to the same value).
    sip: u64,
}

// Offsets in a window fit the 32 bits of a token's span.
const _: () = assert!(BLOCK + 4 * (super::MAX_PROXIMITY + MAX_NGRAM_SPAN) < u32::MAX as usize);

impl Tok {
    fn new(s: usize, e: usize, digits: usize, alnum: usize, ascii: bool) -> Self {
        let small = |n: usize| u8::try_from(n).unwrap_or(u8::MAX);
        Self { s: s as u32, e: e as u32, digits: small(digits), alnum: small(alnum), ascii, sip: 0 }
    }
    #[inline]
    fn start(&self) -> usize {
        self.s as usize
    }
    #[inline]
    fn end(&self) -> usize {
        self.e as usize
    }
    #[inline]
    fn digits(&self) -> usize {
        self.digits.into()
    }
    #[inline]
    fn alnum(&self) -> usize {
        self.alnum.into()
    }
}

fn tokens(buf: &[u8], from: usize, to: usize, out: &mut Vec<Tok>) {
    out.clear();
    tokens_onto(buf, from, to, out);
}

/// [`tokens`] appended to `out`, read from the byte-class masks of [`lanes`].
fn tokens_onto(buf: &[u8], from: usize, to: usize, out: &mut Vec<Tok>) {
    let mut i = from;
    // A token that started before `from` belongs to the text before.
    if i > 0 && i < buf.len() && is_word(buf[i]) && !super::token::starts_token(buf, i) {
        i = token_end(buf, i);
    }
    lanes::walk(buf, i, to, |s, e, digits, alnum, ascii| out.push(Tok::new(s, e, digits, alnum, ascii)));
}

/// [`tokens_onto`] a byte at a time: what the masks must agree with.
#[cfg(test)]
fn tokens_onto_bytes(buf: &[u8], from: usize, to: usize, out: &mut Vec<Tok>) {
    let mut i = from;
    // A token that started before `from` belongs to the text before.
    if i > 0 && i < buf.len() && is_word(buf[i]) && !super::token::starts_token(buf, i) {
        i = token_end(buf, i);
    }
    // One pass and one table load per byte: the token's end, and what its bytes hold.
    let class = |j: usize| CLASS[usize::from(buf[j])];
    let n = buf.len();
    loop {
        while i < n && class(i) & WORD == 0 {
            i += 1;
        }
        if i >= n || i >= to {
            break;
        }
        let s = i;
        let mut held = class(i);
        let mut alnum = usize::from(held & ALNUM != 0);
        let mut digits = usize::from(held & DIGIT != 0);
        i += 1;
        while i < n {
            let c = class(i);
            if c & WORD != 0 {
                held |= c;
                alnum += usize::from(c & ALNUM != 0);
                digits += usize::from(c & DIGIT != 0);
            } else if !(c & CONNECTOR != 0 && i + 1 < n && class(i + 1) & WORD != 0) {
                break;
            }
            i += 1;
        }
        out.push(Tok::new(s, i, digits, alnum, held & HIGH == 0));
    }
}

/// The normal form of the n-gram that is exactly `span` (its tokens, as `grams` saw them).
fn form_of(span: &[u8], kind: Kind, out: &mut Vec<u8>) {
    let mut i = 0;
    while let Some((s, e)) = next_token(span, i) {
        match kind {
            Kind::Text => {
                if i > 0 {
                    out.push(b' ');
                }
                push_text(&span[s..e], out);
            }
            Kind::Number | Kind::Phone => push_number(&span[s..e], out),
        }
        i = e;
    }
    if kind == Kind::Phone && phone_form(out).is_none() {
        out.clear();
    }
}

/// One n-gram candidate: kind, tag, span.
#[derive(Debug, Clone, Copy)]
struct Gram {
    kind: Kind,
    tag: u64,
    s: usize,
    e: usize,
}

/// Buffers reused from n-gram to n-gram: the form being built, the tokens' hashes.
#[derive(Debug, Default)]
struct Work {
    form: Vec<u8>,
    hashes: Vec<u64>,
}

/// Calls `f` with every n-gram starting at token `i` that fits `shape`.
fn grams(
    spec: &EdmSpec,
    buf: &[u8],
    toks: &mut [Tok],
    i: usize,
    shape: &Shape,
    work: &mut Work,
    mut f: impl FnMut(Gram),
) {
    let Work { form: scratch, hashes } = work;
    let key = spec.index.key();
    let (mut text_len, mut alnum, mut digits, mut ascii) = (0usize, 0usize, 0usize, true);
    hashes.clear();
    // Phone numbers may have more tokens than other values (`+33 1 23 45 67 89`).
    let most = if shape.phone { MAX_PHONE_TOKENS } else { MAX_NGRAM_TOKENS };
    for n in 1..=most {
        let other = n <= MAX_NGRAM_TOKENS;
        let j = i + n - 1;
        let Some(&t) = toks.get(j) else { break };
        if t.end() - toks[i].start() > MAX_NGRAM_SPAN || t.end() - t.start() > super::MAX_TOKEN_BYTES {
            break;
        }
        text_len += (t.end() - t.start()) + usize::from(n > 1);
        alnum += t.alnum();
        digits += t.digits();
        ascii &= t.ascii;
        // An ASCII n-gram's forms have its letters and digits: they must be some value's.
        let letters = alnum - digits;
        let text_counts = within(shape.text_digits, digits) && within(shape.text_letters, letters);
        let number_counts = within(shape.number_digits, digits) && within(shape.number_letters, letters);
        if other
            && shape.text_tokens & (1 << n) != 0
            && (!ascii || (within(shape.text_len, text_len) && text_counts))
        {
            while hashes.len() < n {
                let k = i + hashes.len();
                let h = match toks[k].sip {
                    0 => {
                        scratch.clear();
                        push_text(&buf[toks[k].start()..toks[k].end()], scratch);
                        let h = key.token(scratch);
                        toks[k].sip = h;
                        h
                    }
                    h => h,
                };
                hashes.push(h);
            }
            // The text form itself is built later, only for tags the prefilter passes.
            let tag = text_tag(&hashes[..n]);
            f(Gram { kind: Kind::Text, tag, s: toks[i].start(), e: t.end() });
        }
        let as_number =
            other && shape.number && (!ascii || (within(shape.number_len, alnum) && number_counts));
        // A phone form is all digits: an ASCII letter anywhere rules it out.
        let as_phone = shape.phone && letters == 0 && (!ascii || alnum <= MAX_PHONE_DIGITS);
        if digits > 0 && (as_number || as_phone) {
            scratch.clear();
            for tk in &toks[i..=j] {
                push_number(&buf[tk.start()..tk.end()], scratch);
            }
            if as_number && (shape.number_len.0..=shape.number_len.1).contains(&scratch.len()) {
                let tag = key.number_tag(scratch);
                f(Gram { kind: Kind::Number, tag, s: toks[i].start(), e: t.end() });
            }
            if as_phone
                && phone_form(scratch).is_some()
                && (shape.phone_len.0..=shape.phone_len.1).contains(&scratch.len())
            {
                let tag = key.number_tag(scratch);
                f(Gram { kind: Kind::Phone, tag, s: toks[i].start(), e: t.end() });
            }
        }
        // Longer n-grams only grow: stop when none can fit (most tokens, when the primary
        // values are one token long).
        let more_other = n < MAX_NGRAM_TOKENS;
        // Letters and digits only grow too.
        let text_room =
            text_len < shape.text_len.1 && digits <= shape.text_digits.1 && letters <= shape.text_letters.1;
        let number_room = alnum < shape.number_len.1
            && digits <= shape.number_digits.1
            && letters <= shape.number_letters.1;
        let more_text = more_other && shape.text_tokens >> (n + 1) != 0 && (!ascii || text_room);
        let more_number = more_other && shape.number && (!ascii || number_room);
        let more_phone = shape.phone && letters == 0 && (!ascii || alnum < MAX_PHONE_DIGITS);
        if !more_text && !more_number && !more_phone {
            break;
        }
    }
}

/// The n-grams (start, end, 32-bit tag) of the text around one round's primaries, in token
/// order. Tokens are read only around the windows asked (in text order), as far as they
/// reach, and each n-gram is computed once however many windows it is in (dense primaries
/// would otherwise hash the same text again and again).
#[derive(Debug, Default)]
struct GramCache {
    toks: Vec<Tok>,
    /// Tokens are read up to here (a token starting before it is in `toks`).
    read_to: usize,
    /// Tokens whose n-grams are in `grams`.
    done: usize,
    grams: Vec<(usize, usize, u32)>,
    work: Work,
}

impl GramCache {
    /// Forgets the text of an earlier round.
    fn clear(&mut self) {
        self.toks.clear();
        self.grams.clear();
        self.read_to = 0;
        self.done = 0;
    }

    /// The range of `grams` that starts in `lo..hi`. Windows are asked with `lo` never
    /// decreasing.
    fn window(&mut self, spec: &EdmSpec, buf: &[u8], lo: usize, hi: usize) -> std::ops::Range<usize> {
        // An n-gram starting before `hi` ends within `MAX_NGRAM_SPAN` of it.
        let need = (hi + MAX_NGRAM_SPAN).min(buf.len());
        if self.toks.is_empty() || lo >= self.read_to {
            // Nothing read reaches this window: start again at its start.
            self.clear();
            tokens(buf, lo, need, &mut self.toks);
            self.read_to = need;
        } else if need > self.read_to {
            let from = self.toks.last().map_or(self.read_to, |t| t.end().max(self.read_to));
            tokens_onto(buf, from, need, &mut self.toks);
            self.read_to = need;
        }
        // Tokens before this window's start are never needed again.
        let first = self.toks.partition_point(|t| t.start() < lo);
        if first > self.done {
            self.done = first;
        }
        while self.done < self.toks.len() && self.toks[self.done].start() < hi {
            let out = &mut self.grams;
            if spec.any.may_start(&self.toks[self.done]) {
                grams(spec, buf, &mut self.toks, self.done, &spec.any, &mut self.work, |c: Gram| {
                    out.push((c.s, c.e, cell_tag(c.tag)));
                });
            }
            self.done += 1;
        }
        let from = self.grams.partition_point(|g| g.0 < lo);
        let to = self.grams.partition_point(|g| g.0 < hi);
        from..to
    }
}

/// The rolling window of one spec over one member's text.
#[derive(Debug, Default)]
pub(crate) struct EdmStream {
    buf: Vec<u8>,
    base: u64,
    next: u64,
    toks: Vec<Tok>,
    candidates: Vec<Gram>,
    rows: Vec<u32>,
    cache: GramCache,
    reported: HashMap<u32, u64>,
}

/// Where a stream reports a row found: `(detector, offset, masked evidence)`. The detection
/// stream records it as a high-confidence match of the member (this module stays below
/// `detect`).
pub(crate) type Sink<'a> = dyn FnMut(&str, u64, String) + 'a;

impl EdmStream {
    pub fn write(&mut self, spec: &EdmSpec, sink: &mut Sink<'_>, mut data: &[u8]) {
        let full = BLOCK + 2 * spec.margin();
        while !data.is_empty() {
            let take = full.saturating_sub(self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.buf.len() >= full {
                self.run(spec, sink, false);
            }
        }
    }

    pub fn finish(&mut self, spec: &EdmSpec, sink: &mut Sink<'_>) {
        self.run(spec, sink, true);
        self.base += self.buf.len() as u64;
        self.next = self.base;
        self.buf.clear();
        self.reported.clear();
    }

    fn run(&mut self, spec: &EdmSpec, sink: &mut Sink<'_>, last: bool) {
        let margin = spec.margin();
        let end = if last { self.buf.len() } else { self.buf.len().saturating_sub(margin) };
        let start = (self.next.saturating_sub(self.base) as usize).min(end);
        if start < end {
            self.examine(spec, sink, start, end);
        }
        self.next = self.base + end as u64;
        if !last {
            let keep = end.saturating_sub(margin);
            self.buf.drain(..keep);
            self.base += keep as u64;
        }
    }

    /// Looks for primaries starting in `buf[start..end]`.
    fn examine(&mut self, spec: &EdmSpec, sink: &mut Sink<'_>, start: usize, end: usize) {
        let buf = std::mem::take(&mut self.buf);
        let mut toks = std::mem::take(&mut self.toks);
        tokens(&buf, start, (end + MAX_NGRAM_SPAN).min(buf.len()), &mut toks);
        let mut work = Work::default();
        // Three passes: the tags of every primary-shaped n-gram, then the prefilter over all
        // of them (independent loads the processor overlaps, where one lookup per n-gram
        // would wait for each cache miss in turn), then the HMAC and the table for the few
        // that pass.
        let mut candidates = std::mem::take(&mut self.candidates);
        candidates.clear();
        for i in 0..toks.len() {
            if toks[i].start() >= end {
                break;
            }
            if spec.primary.may_start(&toks[i]) {
                grams(spec, &buf, &mut toks, i, &spec.primary, &mut work, |g| candidates.push(g));
            }
        }
        spec.index.prefilter().retain(&mut candidates, |g| g.tag);
        let mut hits: Vec<(Gram, u64)> = Vec::new();
        let mut rows = Vec::new();
        for g in &candidates {
            work.form.clear();
            form_of(&buf[g.s..g.e], g.kind, &mut work.form);
            let hash = spec.index.key().primary(g.kind, &work.form);
            rows.clear();
            spec.index.rows_of(hash, 1, &mut rows);
            if !rows.is_empty() {
                hits.push((*g, hash));
            }
        }
        self.candidates = candidates;
        if !hits.is_empty() {
            let mut cache = std::mem::take(&mut self.cache);
            cache.clear();
            for (g, hash) in hits {
                self.corroborate(spec, sink, &buf, &mut cache, g, hash);
            }
            self.cache = cache;
        }
        self.toks = toks;
        self.buf = buf;
    }

    /// Checks the rows of a primary found at `g` against the text around it.
    fn corroborate(
        &mut self,
        spec: &EdmSpec,
        sink: &mut Sink<'_>,
        buf: &[u8],
        cache: &mut GramCache,
        g: Gram,
        hash: u64,
    ) {
        self.rows.clear();
        spec.index.rows_of(hash, MAX_ROWS_PER_VALUE, &mut self.rows);
        let lo = g.s.saturating_sub(spec.proximity);
        let hi = (g.e + spec.proximity).min(buf.len());
        let primary_tag = cell_tag(g.tag);
        let mut range: Option<std::ops::Range<usize>> = None;
        for &row in &self.rows {
            let Some(view) = spec.index.row(row) else { continue };
            let cols = &spec.index.meta().columns;
            let Some(pc) = (0..cols.len())
                .find(|&c| cols[c].primary && cols[c].kind == g.kind && view.tag(c) == primary_tag)
            else {
                continue;
            };
            let at = self.base + g.s as u64;
            if self.reported.get(&row).is_some_and(|&o| at.saturating_sub(o) <= spec.proximity as u64) {
                continue;
            }
            let r = range.get_or_insert_with(|| cache.window(spec, buf, lo, hi)).clone();
            let window = &cache.grams[r];
            // Within the window, and not the primary itself.
            let near = |t: u32| window.iter().any(|w| w.2 == t && w.1 <= hi && (w.1 <= g.s || w.0 >= g.e));
            let mut matched = vec![cols[pc].name.as_str()];
            for (c, col) in cols.iter().enumerate() {
                let t = view.tag(c);
                if c == pc || t == 0 {
                    continue;
                }
                if near(t) {
                    matched.push(col.name.as_str());
                }
            }
            if matched.len() >= spec.min_fields {
                if self.reported.len() >= MAX_REPORTED {
                    self.reported.clear();
                }
                self.reported.insert(row, at);
                let masked = format!(
                    "{} row {} (line {}): {}",
                    spec.index.meta().name,
                    view.record(),
                    view.line(),
                    matched.join(", ")
                );
                sink(&spec.detector, at, masked);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edm::{EdmKey, Kind};

    /// The primary-shaped n-grams of `text`, as (kind, text).
    fn primary_grams(spec: &EdmSpec, text: &str) -> Vec<(Kind, String)> {
        let buf = text.as_bytes();
        let mut toks = Vec::new();
        tokens(buf, 0, buf.len(), &mut toks);
        let mut out = Vec::new();
        let mut work = Work::default();
        for i in 0..toks.len() {
            grams(spec, buf, &mut toks, i, &spec.primary, &mut work, |g| {
                out.push((g.kind, text[g.s..g.e].to_string()))
            });
        }
        out
    }

    /// Tokens with more digits or letters than any primary value (a phone number where the
    /// ids are a letter and six digits) are not candidates, nor are the n-grams they start.
    #[test]
    fn only_ngrams_with_a_primarys_letters_and_digits_are_candidates() {
        let rows: Vec<Vec<String>> = (0..50)
            .map(|i| vec![format!("C{:06}", 100_000 + i), format!("user{i}@example.com"), format!("Name{i}")])
            .collect();
        let (bytes, _) = crate::edm::tests::build(&["id", "email", "name"], &rows, &["id", "email"]).unwrap();
        let index = Arc::new(EdmIndex::open(Arc::new(bytes), EdmKey::new(&[7; 32])).unwrap());
        let id = &index.meta().columns[0];
        assert_eq!(
            (id.kind, id.min_digits, id.max_digits, id.min_letters, id.max_letters),
            (Kind::Number, 6, 6, 1, 1)
        );
        let spec = EdmSpec::new("edm:customers".into(), index, 2, 300);
        let got = primary_grams(
            &spec,
            "call 5551234 or (555) 12 34 or c100042 or x-555123 or ab12345, user77@example.org",
        );
        let want =
            [(Kind::Number, "c100042"), (Kind::Number, "x-555123"), (Kind::Text, "user77@example.org")];
        assert_eq!(got, want.map(|(k, t)| (k, t.to_string())));
    }

    /// `may_start` passes over a token only when the n-gram loop finds nothing from it, for
    /// the primary shape and for every column's (random text of ids, e-mails, phone numbers,
    /// names and non-ASCII words).
    #[test]
    fn may_start_refuses_only_tokens_that_start_nothing() {
        let rows: Vec<Vec<String>> = (0..50)
            .map(|i| {
                vec![
                    format!("C{:06}", 100_000 + i),
                    format!("user{i}@example.com"),
                    format!("Name{i} Van Last"),
                    format!("(555) 01{:01}-{:04}", i % 10, i * 37),
                ]
            })
            .collect();
        let (bytes, _) =
            crate::edm::tests::build(&["id", "email", "name", "phone"], &rows, &["id", "email"]).unwrap();
        let index = Arc::new(EdmIndex::open(Arc::new(bytes), EdmKey::new(&[7; 32])).unwrap());
        let spec = EdmSpec::new("edm:customers".into(), index, 2, 300);
        let words = [
            "C100042",
            "c1",
            "user7@example.com",
            "Name3",
            "Van",
            "Last",
            "(555)",
            "012-0037",
            "+1",
            "55",
            "Jos\u{e9}",
            "\u{c5}sa",
            "x",
            "123456789012345678",
            "a.b",
            "-",
            "Customer",
            "7",
        ];
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..2000 {
            let mut text = String::new();
            for _ in 0..(x % 12) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                text.push_str(words[(x % words.len() as u64) as usize]);
                text.push(if x & 64 == 0 { ' ' } else { '-' });
            }
            let buf = text.as_bytes();
            let mut toks = Vec::new();
            tokens(buf, 0, buf.len(), &mut toks);
            let mut work = Work::default();
            for shape in [&spec.primary, &spec.any] {
                for i in 0..toks.len() {
                    let mut found = 0;
                    grams(&spec, buf, &mut toks, i, shape, &mut work, |_| found += 1);
                    assert!(found == 0 || shape.may_start(&toks[i]), "{text:?} token {i}");
                }
            }
        }
    }

    /// An index written before letters and digits were recorded reads as "any".
    #[test]
    fn columns_without_letter_and_digit_counts_take_any() {
        let old = r#"{"name":"id","kind":"number","primary":true,"min_tokens":1,"max_tokens":1,"min_len":7,"max_len":7}"#;
        let c: crate::edm::Column = serde_json::from_str(old).unwrap();
        assert_eq!((c.min_digits, c.max_digits, c.min_letters, c.max_letters), (0, u16::MAX, 0, u16::MAX));
    }

    /// The mask tokeniser reads what the byte-at-a-time one reads, from any start and to
    /// any end, across 64-byte blocks (tokens longer than a block, ending on its edge).
    #[test]
    fn mask_tokens_agree_with_byte_tokens() {
        let alphabet: &[u8] = b"aZ09.-_@+'/ ,;\t\n\xc3\xa9\xe2\x80\x8b";
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for round in 0..4000 {
            let len = (next() % 300) as usize;
            // Some rounds with long words, to cross the blocks inside a token.
            let spaces = if round % 3 == 0 { 40 } else { 4 };
            let mut buf = Vec::with_capacity(len);
            for _ in 0..len {
                let r = next();
                buf.push(if r % spaces == 0 { b' ' } else { alphabet[(r >> 8) as usize % alphabet.len()] });
            }
            let from = (next() as usize) % (len + 1);
            let to = from + (next() as usize) % (len + 2 - from);
            let (mut got, mut want) = (Vec::new(), Vec::new());
            tokens_onto(&buf, from, to, &mut got);
            tokens_onto_bytes(&buf, from, to, &mut want);
            let view =
                |v: &[Tok]| -> Vec<_> { v.iter().map(|t| (t.s, t.e, t.digits, t.alnum, t.ascii)).collect() };
            assert_eq!(view(&got), view(&want), "{from}..{to} of {:?}", String::from_utf8_lossy(&buf));
        }
    }

    /// The one-pass tokeniser reads the tokens `next_token` reads, with what they hold.
    #[test]
    fn tokens_agree_with_next_token() {
        let alphabet: &[u8] = b"aZ09.-_@+'/ ,;\t\n\xc3\xa9\xe2\x80\x8b";
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..3000 {
            let len = (x % 40) as usize;
            let mut buf = Vec::with_capacity(len);
            for _ in 0..len {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                buf.push(alphabet[(x % alphabet.len() as u64) as usize]);
            }
            let mut got = Vec::new();
            tokens(&buf, 0, buf.len(), &mut got);
            let mut want = Vec::new();
            let mut i = 0;
            while let Some((s, e)) = next_token(&buf, i) {
                let t = &buf[s..e];
                want.push((
                    s,
                    e,
                    t.iter().filter(|b| b.is_ascii_digit()).count(),
                    t.is_ascii(),
                    t.iter().filter(|b| b.is_ascii_alphanumeric()).count(),
                ));
                i = e;
            }
            let got: Vec<_> =
                got.iter().map(|t| (t.start(), t.end(), t.digits(), t.ascii, t.alnum())).collect();
            assert_eq!(got, want, "{:?}", String::from_utf8_lossy(&buf));
        }
    }
}
