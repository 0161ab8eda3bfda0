//! Excel 97-2003 workbooks (BIFF8, the `Workbook` stream).
//!
//! Text records are read with their `CONTINUE` records, so strings split across records
//! (the shared string table, comment text) read as one: the shared strings (`SST`, with
//! their phonetic blocks scanned raw), cell strings (`LABEL`, `RSTRING`), formula results
//! (`STRING`), the string literals of formulas (`ptgStr` tokens of `FORMULA`, `SHRFMLA`,
//! `ARRAY` and defined names; a formula's literals are also joined), sheet names (hidden
//! ones too), defined names, comment authors (`NOTE`) and texts (`TXO`), headers and
//! footers. Numeric cells (`NUMBER`, `RK`, `MULRK`, cached formula results) are written as
//! decimal text. Every other record is scanned raw, continuations included. `FILEPASS`
//! means the workbook is encrypted. A record that overruns the stream, or a string table
//! that overruns its records, is damage: the rest is scanned raw.

use super::bytes::{cp1252_to_utf8, u16_at, u32_at, utf16le_to_utf8};
use super::literals::header_footer_text;
use super::ole::Outcome;
use super::{RawSink, Sink};
use crate::extract::{Ctx, Member};

const BOF: u16 = 0x0809;
const FILEPASS: u16 = 0x002F;
const CONTINUE: u16 = 0x003C;
const SST: u16 = 0x00FC;
const LABEL: u16 = 0x0204;
const RSTRING: u16 = 0x00D6;
const STRING: u16 = 0x0207;
const FORMULA: u16 = 0x0006;
const SHRFMLA: u16 = 0x04BC;
const ARRAY: u16 = 0x0221;
const NAME: u16 = 0x0018;
const BOUNDSHEET: u16 = 0x0085;
const NOTE: u16 = 0x001C;
const TXO: u16 = 0x01B6;
const HEADER: u16 = 0x0014;
const FOOTER: u16 = 0x0015;
const NUMBER: u16 = 0x0203;
const RK: u16 = 0x027E;
const MULRK: u16 = 0x00BD;
const LABELSST: u16 = 0x00FD;
/// Records between two CPU-time checks.
const RECORDS_PER_CHECK: usize = 8192;

/// Scans a `Workbook` stream.
pub(super) fn scan(cx: &mut Ctx<'_>, m: &Member, data: &[u8]) -> Outcome {
    // Excel 5/95 (BIFF5/7) keeps 8-bit strings without the BIFF8 layout: raw is complete.
    if u16_at(data, 0) == Some(BOF) && u16_at(data, 4).is_some_and(|v| v < 0x0600) {
        let mut raw = RawSink::new(m);
        raw.push(cx, data);
        raw.finish(cx);
        return Outcome::Done;
    }
    let mut b = Book { text: Sink::new(m), raw: RawSink::new(m), damage: None };
    let outcome = b.records(cx, m, data);
    b.text.finish(cx);
    b.raw.finish(cx);
    match (outcome, b.damage) {
        (Outcome::Done, Some(d)) => Outcome::Damaged(d),
        (o, _) => o,
    }
}

struct Book {
    text: Sink,
    raw: RawSink,
    damage: Option<String>,
}

impl Book {
    fn records(&mut self, cx: &mut Ctx<'_>, m: &Member, data: &[u8]) -> Outcome {
        let mut at = 0usize;
        let mut count = 0usize;
        let mut parts: Vec<&[u8]> = Vec::new();
        while at + 4 <= data.len() {
            count += 1;
            if count.is_multiple_of(RECORDS_PER_CHECK) && !cx.st.budget.check_time(&m.path) {
                return Outcome::Done;
            }
            let (ty, len) = (u16_at(data, at).unwrap_or(0), usize::from(u16_at(data, at + 2).unwrap_or(0)));
            let Some(body) = data.get(at + 4..at + 4 + len) else {
                self.damage = Some(format!("record {ty:#06x} at {at} overruns the stream"));
                self.raw.blob(cx, &data[at..]);
                return Outcome::Done;
            };
            at += 4 + len;
            // The record's continuations.
            parts.clear();
            parts.push(body);
            while let (Some(CONTINUE), Some(n)) = (u16_at(data, at), u16_at(data, at + 2)) {
                let n = usize::from(n);
                let Some(c) = data.get(at + 4..at + 4 + n) else { break };
                parts.push(c);
                at += 4 + n;
            }
            if ty == FILEPASS {
                return Outcome::Encrypted;
            }
            if !self.record(cx, ty, &parts) {
                for p in &parts {
                    self.raw.push(cx, p);
                }
                self.raw.boundary(cx);
            }
        }
        if at < data.len() {
            self.raw.blob(cx, &data[at..]);
        }
        Outcome::Done
    }

    /// Reads a text-bearing record; false for records scanned raw.
    fn record(&mut self, cx: &mut Ctx<'_>, ty: u16, parts: &[&[u8]]) -> bool {
        let body = parts[0];
        let mut r = Reader::new(parts);
        let mut out = Vec::new();
        match ty {
            SST => {
                r.skip(8);
                while !r.done() {
                    out.clear();
                    match r.rich_string(&mut out) {
                        Some(ext) => {
                            self.text.value(cx, &out);
                            self.raw.blob(cx, &ext);
                        }
                        None => {
                            self.text.value(cx, &out);
                            self.damage
                                .get_or_insert_with(|| "shared string table overruns its records".into());
                            let rest = r.rest();
                            self.raw.blob(cx, &rest);
                            break;
                        }
                    }
                }
            }
            LABEL | RSTRING => {
                r.skip(6);
                let ok = r.string16(&mut out).is_some();
                self.text.value(cx, &out);
                if !ok {
                    return false;
                }
                // Formatting runs of RSTRING: not text.
            }
            STRING | HEADER | FOOTER => {
                if body.is_empty() {
                    return true;
                }
                let ok = r.string16(&mut out).is_some();
                if ty == STRING {
                    self.text.value(cx, &out);
                } else {
                    let mut text = Vec::new();
                    header_footer_text(&out, &mut text);
                    self.text.value(cx, &text);
                }
                if !ok {
                    return false;
                }
            }
            BOUNDSHEET => {
                r.skip(6);
                let ok = r.string8(&mut out).is_some();
                self.text.value(cx, &out);
                if !ok {
                    return false;
                }
            }
            NOTE => {
                r.skip(8);
                let ok = r.string16(&mut out).is_some();
                self.text.value(cx, &out);
                if !ok {
                    return false;
                }
            }
            TXO => {
                // The text is in the first continuation(s), each starting with a flags byte;
                // the formatting runs follow (scanned raw with any other leftover).
                let cch = usize::from(u16_at(body, 10).unwrap_or(0));
                r.part = 1;
                r.at = 0;
                if parts.len() > 1 && cch > 0 {
                    let high = r.byte().unwrap_or(0) & 1 != 0;
                    let ok = r.chars(cch, high, &mut out).is_some();
                    self.text.value(cx, &out);
                    if !ok {
                        return false;
                    }
                }
            }
            NAME => {
                let cch = usize::from(body.get(3).copied().unwrap_or(0));
                let cce = usize::from(u16_at(body, 4).unwrap_or(0));
                r.skip(14);
                let Some(flags) = r.byte() else { return false };
                if r.chars(cch, flags & 1 != 0, &mut out).is_none() {
                    return false;
                }
                self.text.value(cx, &out);
                let rest = r.rest();
                self.formula(cx, &rest, Some(cce));
            }
            FORMULA | SHRFMLA | ARRAY => {
                let start = match ty {
                    FORMULA => 20,
                    SHRFMLA => 8,
                    _ => 12,
                };
                if ty == FORMULA {
                    // A cached number, unless the bytes mark a string, boolean or error.
                    if let Some(v) = body.get(6..14) {
                        if v[6..8] != [0xFF, 0xFF] {
                            let mut a = [0u8; 8];
                            a.copy_from_slice(v);
                            self.number(cx, f64::from_le_bytes(a));
                        }
                    }
                }
                let Some(f) = body.get(start..) else { return false };
                self.formula(cx, f, None);
                r.part = 1;
            }
            NUMBER => {
                let Some(v) = body.get(6..14) else { return false };
                let mut a = [0u8; 8];
                a.copy_from_slice(v);
                self.number(cx, f64::from_le_bytes(a));
                r.part = 1;
            }
            RK => {
                let Some(rk) = u32_at(body, 6) else { return false };
                self.number(cx, rk_value(rk));
                r.part = 1;
            }
            MULRK => {
                let mut k = 6;
                while k + 6 <= body.len() {
                    if let Some(rk) = u32_at(body, k) {
                        self.number(cx, rk_value(rk));
                    }
                    k += 6;
                }
                r.part = 1;
            }
            LABELSST => r.part = 1,
            _ => return false,
        }
        // What the record holds beyond what was read (formatting runs, padding, an odd
        // continuation): scanned raw, so nothing appended to a record is skipped.
        let rest = r.rest();
        if !rest.is_empty() {
            self.raw.blob(cx, &rest);
        }
        true
    }

    fn number(&mut self, cx: &mut Ctx<'_>, v: f64) {
        if !v.is_finite() {
            return;
        }
        let s = if v.fract() == 0.0 && v.abs() < 1e17 { format!("{}", v as i64) } else { format!("{v}") };
        self.text.value(cx, s.as_bytes());
    }

    /// A parsed formula (`cce`, then tokens, then extra data): its string literals become
    /// text, and so does what `&` and `CONCATENATE` make of literals (the tokens are
    /// evaluated on a stack of "literal or unknown"); what is not a token is scanned raw.
    fn formula(&mut self, cx: &mut Ctx<'_>, f: &[u8], cce: Option<usize>) {
        let (cce, tokens_at) = match cce {
            Some(n) => (n, 0),
            None => (usize::from(u16_at(f, 0).unwrap_or(0)), 2),
        };
        let end = (tokens_at + cce).min(f.len());
        let tokens = f.get(tokens_at..end).unwrap_or(&[]);
        let mut stack = Stack::default();
        let mut i = 0;
        while i < tokens.len() {
            let ptg = tokens[i];
            i += 1;
            let size = match ptg {
                0x17 => {
                    let cch = usize::from(tokens.get(i).copied().unwrap_or(0));
                    let high = tokens.get(i + 1).is_some_and(|&b| b & 1 != 0);
                    let bytes = if high { cch * 2 } else { cch };
                    let Some(s) = tokens.get(i + 2..i + 2 + bytes) else { break };
                    let mut out = Vec::new();
                    if high {
                        utf16le_to_utf8(s, &mut out);
                    } else {
                        cp1252_to_utf8(s, &mut out);
                    }
                    self.text.value(cx, &out);
                    stack.push(Some(out));
                    2 + bytes
                }
                0x19 => {
                    let t = tokens.get(i).copied().unwrap_or(0);
                    if t & 0x10 != 0 {
                        // SUM of one argument.
                        stack.apply(1, false);
                    }
                    if t & 0x04 != 0 {
                        let k = usize::from(u16_at(tokens, i + 1).unwrap_or(0));
                        3 + 2 * (k + 1)
                    } else {
                        3
                    }
                }
                0x08 => {
                    if let Some(joined) = stack.apply(2, true) {
                        self.text.value(cx, &joined);
                    }
                    0
                }
                0x03..=0x11 => {
                    stack.apply(2, false);
                    0
                }
                0x12..=0x14 => {
                    stack.apply(1, false);
                    0
                }
                p if p >= 0x20 && p & 0x1F == 0x02 => {
                    // A function of `cargs` arguments; CONCATENATE (336) joins them.
                    let cargs = usize::from(tokens.get(i).copied().unwrap_or(0) & 0x7F);
                    let iftab = u16_at(tokens, i + 1).unwrap_or(0) & 0x7FFF;
                    if let Some(joined) = stack.apply(cargs, iftab == 336) {
                        self.text.value(cx, &joined);
                    }
                    3
                }
                p if p >= 0x20 && p & 0x1F == 0x01 => {
                    // A function of fixed arity (taken as one argument: a guess that only
                    // affects what later concatenations see).
                    stack.apply(1, false);
                    2
                }
                p => match ptg_size(p) {
                    Some(s) => {
                        // Operands push a value; parentheses and the memory tokens that wrap
                        // a subexpression do not.
                        let wraps = p == 0x15 || (p >= 0x20 && matches!(p & 0x1F, 0x06..=0x09));
                        if !wraps {
                            stack.push(None);
                        }
                        s
                    }
                    None => break,
                },
            };
            i += size;
        }
        // Tokens not understood, and the extra data (array constants hold strings).
        if i < tokens.len() {
            self.raw.blob(cx, &tokens[i..]);
        }
        if let Some(extra) = f.get(end..) {
            self.raw.blob(cx, extra);
        }
    }
}

/// Values of a formula being evaluated: a string made of literals, or unknown.
#[derive(Default)]
struct Stack {
    values: Vec<Option<Vec<u8>>>,
}

/// Values kept on the stack; deeper ones are dropped (and read as unknown).
const MAX_STACK: usize = 256;
/// The longest string a formula's literals make.
const MAX_JOINED: usize = 64 * 1024;

impl Stack {
    fn push(&mut self, v: Option<Vec<u8>>) {
        if self.values.len() >= MAX_STACK {
            self.values.remove(0);
        }
        self.values.push(v);
    }

    /// Replaces the top `n` values by one: their concatenation when `concat` and all are
    /// known (returned when it joined two or more), else unknown.
    fn apply(&mut self, n: usize, concat: bool) -> Option<Vec<u8>> {
        let k = self.values.len().saturating_sub(n);
        let args: Vec<Option<Vec<u8>>> = self.values.drain(k..).collect();
        let joined = (concat && args.len() == n && n >= 2 && args.iter().all(Option::is_some)).then(|| {
            let mut out = Vec::new();
            for a in args.iter().flatten() {
                out.extend_from_slice(a);
            }
            out.truncate(MAX_JOINED);
            out
        });
        self.push(joined.clone());
        joined
    }
}

/// The operand size of a BIFF8 formula token other than `ptgStr` and `ptgAttr`.
fn ptg_size(ptg: u8) -> Option<usize> {
    match ptg {
        0x01 | 0x02 => Some(4),
        0x03..=0x16 => Some(0),
        0x1C | 0x1D => Some(1),
        0x1E => Some(2),
        0x1F => Some(8),
        0x20..=0x7F => match ptg & 0x1F {
            0x00 => Some(7),
            0x01 | 0x09 => Some(2),
            0x02 => Some(3),
            0x03 | 0x04 | 0x0A | 0x0C => Some(4),
            0x05 | 0x0B | 0x0D => Some(8),
            0x06..=0x08 | 0x19 | 0x1A | 0x1C => Some(6),
            0x1B | 0x1D => Some(10),
            _ => None,
        },
        _ => None,
    }
}

fn rk_value(rk: u32) -> f64 {
    let v = if rk & 2 != 0 { f64::from((rk as i32) >> 2) } else { f64::from_bits(u64::from(rk & !3) << 32) };
    if rk & 1 != 0 {
        v / 100.0
    } else {
        v
    }
}

/// Reads across a record and its continuations.
struct Reader<'a> {
    parts: &'a [&'a [u8]],
    part: usize,
    at: usize,
}

impl<'a> Reader<'a> {
    fn new(parts: &'a [&'a [u8]]) -> Self {
        Self { parts, part: 0, at: 0 }
    }

    /// Moves past exhausted parts; false at the end.
    fn settle(&mut self) -> bool {
        while let Some(p) = self.parts.get(self.part) {
            if self.at < p.len() {
                return true;
            }
            self.part += 1;
            self.at = 0;
        }
        false
    }

    fn done(&mut self) -> bool {
        !self.settle()
    }

    fn byte(&mut self) -> Option<u8> {
        if !self.settle() {
            return None;
        }
        let b = *self.parts.get(self.part)?.get(self.at)?;
        self.at += 1;
        Some(b)
    }

    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes([self.byte()?, self.byte()?]))
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes([self.byte()?, self.byte()?, self.byte()?, self.byte()?]))
    }

    /// Skips `n` bytes (stopping at the end).
    fn skip(&mut self, mut n: usize) {
        while n > 0 && self.settle() {
            let left = self.parts[self.part].len() - self.at;
            let k = left.min(n);
            self.at += k;
            n -= k;
        }
    }

    /// `n` bytes (fewer at the end).
    fn take(&mut self, mut n: usize) -> Vec<u8> {
        let mut out = Vec::new();
        while n > 0 && self.settle() {
            let p = self.parts[self.part];
            let k = (p.len() - self.at).min(n);
            out.extend_from_slice(&p[self.at..self.at + k]);
            self.at += k;
            n -= k;
        }
        out
    }

    /// Everything left.
    fn rest(&mut self) -> Vec<u8> {
        self.take(usize::MAX)
    }

    /// `cch` characters, 8-bit or UTF-16 as `high` says; a continuation met in the middle
    /// starts with a flags byte that says it again.
    fn chars(&mut self, mut cch: usize, mut high: bool, out: &mut Vec<u8>) -> Option<()> {
        while cch > 0 {
            if self.parts.get(self.part).is_some_and(|p| self.at >= p.len()) {
                self.part += 1;
                self.at = 0;
                high = self.parts.get(self.part)?.first()? & 1 != 0;
                self.at = 1;
            }
            let p = *self.parts.get(self.part)?;
            let width = if high { 2 } else { 1 };
            let avail = (p.len() - self.at) / width;
            if avail == 0 {
                return None;
            }
            let k = avail.min(cch);
            let bytes = &p[self.at..self.at + k * width];
            if high {
                utf16le_to_utf8(bytes, out);
            } else {
                cp1252_to_utf8(bytes, out);
            }
            self.at += k * width;
            cch -= k;
        }
        Some(())
    }

    /// `XLUnicodeString`: u16 count, flags, characters.
    fn string16(&mut self, out: &mut Vec<u8>) -> Option<()> {
        let cch = usize::from(self.u16()?);
        let flags = self.byte()?;
        self.chars(cch, flags & 1 != 0, out)
    }

    /// `ShortXLUnicodeString`: u8 count, flags, characters.
    fn string8(&mut self, out: &mut Vec<u8>) -> Option<()> {
        let cch = usize::from(self.byte()?);
        let flags = self.byte()?;
        self.chars(cch, flags & 1 != 0, out)
    }

    /// `XLUnicodeRichExtendedString` of the shared string table; returns its phonetic block.
    fn rich_string(&mut self, out: &mut Vec<u8>) -> Option<Vec<u8>> {
        let cch = usize::from(self.u16()?);
        let flags = self.byte()?;
        let runs = if flags & 0x08 != 0 { usize::from(self.u16()?) } else { 0 };
        let ext = if flags & 0x04 != 0 { self.u32()? as usize } else { 0 };
        self.chars(cch, flags & 1 != 0, out)?;
        self.skip(runs * 4);
        let ext = self.take(ext);
        Some(ext)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_split_across_continuations() {
        // "4111 1111 " in 8-bit, then a continuation switching to UTF-16 for the rest.
        let first: Vec<u8> =
            [&8u32.to_le_bytes()[..], &1u32.to_le_bytes(), &19u16.to_le_bytes(), &[0], b"4111 1111 "]
                .concat();
        let mut second = vec![1u8];
        second.extend("1111 1111".encode_utf16().flat_map(u16::to_le_bytes));
        let parts: Vec<&[u8]> = vec![&first, &second];
        let mut r = Reader::new(&parts);
        r.skip(8);
        let mut out = Vec::new();
        assert!(r.rich_string(&mut out).is_some());
        assert_eq!(String::from_utf8(out).unwrap(), "4111 1111 1111 1111");
        assert!(r.done());
    }

    #[test]
    fn formula_literals_and_numbers() {
        assert_eq!(rk_value((123_456_789 << 2) | 2), 123_456_789.0);
        assert_eq!(rk_value(((12_345 << 2) | 2) | 1), 123.45);
        assert_eq!(ptg_size(0x44), Some(4));
        assert_eq!(ptg_size(0x3B), Some(10));
    }
}
