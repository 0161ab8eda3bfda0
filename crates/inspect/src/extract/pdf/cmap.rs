//! CMaps (sections 9.7.5 and 9.10.3): codespace ranges say how a shown string splits into
//! codes, `bfchar` and `bfrange` say which text a code stands for. Ranges stay ranges and
//! are looked up by binary search: a `<0000> <FFFF>` range of 80 bytes is one entry, not
//! 65,536. Every entry counts against the document's CMap budget.

use super::glyphs::glyph_text;
use super::lexer::{decode_name, decode_string, Lexer, Tok};

/// A code space: codes of `len` bytes whose bytes each lie between `lo` and `hi`.
#[derive(Debug, Clone, Copy)]
struct Space {
    len: u8,
    lo: [u8; 4],
    hi: [u8; 4],
}

/// Where a destination's UTF-16 units are in the arena.
#[derive(Debug, Clone, Copy)]
struct Units {
    at: u32,
    len: u16,
}

#[derive(Debug, Clone, Copy)]
struct Single {
    len: u8,
    code: u32,
    text: Units,
}

#[derive(Debug, Clone, Copy)]
enum Dst {
    /// The text of `lo`; later codes increment its last unit.
    Incr(Units),
    /// One destination per code: `count` of them from this index of `items`.
    Array { first: u32, count: u32 },
}

#[derive(Debug, Clone, Copy)]
struct Range {
    len: u8,
    lo: u32,
    hi: u32,
    dst: Dst,
}

/// A parsed CMap.
#[derive(Debug, Default)]
pub(super) struct CMap {
    spaces: Vec<Space>,
    singles: Vec<Single>,
    ranges: Vec<Range>,
    items: Vec<Units>,
    units: Vec<u16>,
    /// Code length when no code space is declared: the longest source code seen.
    longest: u8,
}

/// Why a CMap could not be kept.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct OverBudget;

impl CMap {
    /// Parses `data`; each entry takes one from `budget`.
    pub fn parse(data: &[u8], budget: &mut u64) -> Result<CMap, OverBudget> {
        let mut c = CMap::default();
        let mut lex = Lexer::new(data, 0);
        let mut buf = Vec::new();
        while let Some(t) = lex.next_token() {
            if t.kind != Tok::Keyword {
                continue;
            }
            match lex.bytes(&t) {
                b"begincodespacerange" => {
                    while let Some(lo) = hex_token(&mut lex, &mut buf) {
                        let Some(hi) = hex_token(&mut lex, &mut buf) else { break };
                        if lo.len() == hi.len() && (1..=4).contains(&lo.len()) {
                            take(budget)?;
                            let mut s = Space { len: lo.len() as u8, lo: [0; 4], hi: [0; 4] };
                            s.lo[..lo.len()].copy_from_slice(&lo);
                            s.hi[..hi.len()].copy_from_slice(&hi);
                            c.spaces.push(s);
                        }
                    }
                }
                b"beginbfchar" => {
                    while let Some(src) = hex_token(&mut lex, &mut buf) {
                        let Some(dst) = destination(&mut lex, &mut buf) else { break };
                        if (1..=4).contains(&src.len()) {
                            take(budget)?;
                            let text = c.store(&dst);
                            c.note_len(src.len());
                            c.singles.push(Single { len: src.len() as u8, code: code(&src), text });
                        }
                    }
                }
                b"beginbfrange" => {
                    while let Some(lo) = hex_token(&mut lex, &mut buf) {
                        let Some(hi) = hex_token(&mut lex, &mut buf) else { break };
                        let Some(next) = lex.peek() else { break };
                        let dst = if next.kind == Tok::ArrayOpen {
                            lex.next_token();
                            let first = c.items.len() as u32;
                            let span = u64::from(code(&hi).saturating_sub(code(&lo))) + 1;
                            let mut n = 0u64;
                            while let Some(item) = destination(&mut lex, &mut buf) {
                                if n < span {
                                    take(budget)?;
                                    let u = c.store(&item);
                                    c.items.push(u);
                                }
                                n += 1;
                            }
                            if lex.peek().is_some_and(|t| t.kind == Tok::ArrayClose) {
                                lex.next_token();
                            }
                            Dst::Array { first, count: c.items.len() as u32 - first }
                        } else {
                            let Some(d) = destination(&mut lex, &mut buf) else { break };
                            Dst::Incr(c.store(&d))
                        };
                        if lo.len() == hi.len() && (1..=4).contains(&lo.len()) && code(&lo) <= code(&hi) {
                            take(budget)?;
                            c.note_len(lo.len());
                            c.ranges.push(Range { len: lo.len() as u8, lo: code(&lo), hi: code(&hi), dst });
                        }
                    }
                }
                _ => {}
            }
        }
        c.singles.sort_by_key(|s| (s.len, s.code));
        c.ranges.sort_by_key(|r| (r.len, r.lo));
        Ok(c)
    }

    /// Memory this CMap holds, for the budget.
    pub fn heap_bytes(&self) -> u64 {
        (self.spaces.len() * std::mem::size_of::<Space>()
            + self.singles.len() * std::mem::size_of::<Single>()
            + self.ranges.len() * std::mem::size_of::<Range>()
            + self.items.len() * std::mem::size_of::<Units>()
            + self.units.len() * 2) as u64
    }

    /// Whether the map says nothing at all (no code space, no mapping).
    pub fn is_empty(&self) -> bool {
        self.spaces.is_empty() && self.singles.is_empty() && self.ranges.is_empty()
    }

    /// The length of the code starting at `bytes[0]`; `default` when no code space is
    /// declared and nothing was mapped.
    pub fn code_len(&self, bytes: &[u8], default: usize) -> usize {
        if self.spaces.is_empty() {
            let n = if self.longest > 0 { usize::from(self.longest) } else { default };
            return n.clamp(1, 4);
        }
        for n in 1..=4usize {
            let Some(c) = bytes.get(..n) else { break };
            let hit = self.spaces.iter().any(|s| {
                usize::from(s.len) == n && c.iter().enumerate().all(|(i, &b)| s.lo[i] <= b && b <= s.hi[i])
            });
            if hit {
                return n;
            }
        }
        // No code space matches: the shortest one's length (section 9.7.6.3).
        self.spaces.iter().map(|s| usize::from(s.len)).min().unwrap_or(1)
    }

    /// Appends the text of code `bytes` as UTF-8; false when the map does not know it.
    pub fn lookup(&self, bytes: &[u8], out: &mut Vec<u8>) -> bool {
        let (len, code) = (bytes.len() as u8, code(bytes));
        if let Ok(i) = self.singles.binary_search_by_key(&(len, code), |s| (s.len, s.code)) {
            self.push_units(self.singles[i].text, 0, out);
            return true;
        }
        let end = self.ranges.partition_point(|r| (r.len, r.lo) <= (len, code));
        // Ranges may overlap; a few back are looked at.
        for r in self.ranges[..end].iter().rev().take(16) {
            if r.len != len {
                break;
            }
            if code <= r.hi {
                match r.dst {
                    Dst::Incr(u) => self.push_units(u, code - r.lo, out),
                    Dst::Array { first, count } => {
                        let k = code - r.lo;
                        if k >= count {
                            return false;
                        }
                        self.push_units(self.items[(first + k) as usize], 0, out);
                    }
                }
                return true;
            }
        }
        false
    }

    fn push_units(&self, u: Units, add: u32, out: &mut Vec<u8>) {
        let s = &self.units[u.at as usize..u.at as usize + usize::from(u.len)];
        // The common case: one unit that is a character of its own.
        if let [unit] = s {
            if let Some(c) = char::from_u32(u32::from(unit.wrapping_add(add as u16))) {
                let mut b = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
                return;
            }
        }
        let mut units: smallvec_like::Units = smallvec_like::Units::from(s);
        if add > 0 {
            if let Some(last) = units.last_mut() {
                *last = last.wrapping_add(add as u16);
            }
        }
        for c in char::decode_utf16(units.iter().copied()) {
            let c = c.unwrap_or('\u{FFFD}');
            let mut b = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
        }
    }

    fn store(&mut self, text: &[u16]) -> Units {
        let at = self.units.len() as u32;
        let text = &text[..text.len().min(usize::from(u16::MAX))];
        self.units.extend_from_slice(text);
        Units { at, len: text.len() as u16 }
    }

    fn note_len(&mut self, n: usize) {
        self.longest = self.longest.max(n as u8);
    }
}

/// A few UTF-16 units on the stack when they fit.
mod smallvec_like {
    pub enum Units {
        Inline([u16; 8], usize),
        Heap(Vec<u16>),
    }

    impl From<&[u16]> for Units {
        fn from(s: &[u16]) -> Self {
            if s.len() <= 8 {
                let mut a = [0; 8];
                a[..s.len()].copy_from_slice(s);
                Units::Inline(a, s.len())
            } else {
                Units::Heap(s.to_vec())
            }
        }
    }

    impl Units {
        pub fn last_mut(&mut self) -> Option<&mut u16> {
            match self {
                Units::Inline(a, n) => a[..*n].last_mut(),
                Units::Heap(v) => v.last_mut(),
            }
        }

        pub fn iter(&self) -> std::slice::Iter<'_, u16> {
            match self {
                Units::Inline(a, n) => a[..*n].iter(),
                Units::Heap(v) => v.iter(),
            }
        }
    }
}

fn take(budget: &mut u64) -> Result<(), OverBudget> {
    *budget = budget.checked_sub(1).ok_or(OverBudget)?;
    Ok(())
}

/// Big-endian value of up to four code bytes.
fn code(b: &[u8]) -> u32 {
    b.iter().take(4).fold(0, |a, &x| (a << 8) | u32::from(x))
}

/// The next token when it is a hex string: its bytes.
fn hex_token(lex: &mut Lexer<'_>, buf: &mut Vec<u8>) -> Option<Vec<u8>> {
    let t = lex.peek()?;
    if t.kind != Tok::Hex {
        return None;
    }
    lex.next_token();
    buf.clear();
    decode_string(lex.data, &t, buf);
    Some(buf.clone())
}

/// A destination: a string of UTF-16BE bytes, or a glyph name.
fn destination(lex: &mut Lexer<'_>, buf: &mut Vec<u8>) -> Option<Vec<u16>> {
    let t = lex.peek()?;
    buf.clear();
    match t.kind {
        Tok::Hex | Tok::Literal => {
            lex.next_token();
            decode_string(lex.data, &t, buf);
            Some(buf.chunks(2).map(|p| u16::from_be_bytes([p[0], *p.get(1).unwrap_or(&0)])).collect())
        }
        Tok::Name => {
            lex.next_token();
            decode_name(lex.bytes(&t), buf);
            Some(glyph_text(buf).map(|s| s.encode_utf16().collect()).unwrap_or_default())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(c: &CMap, codes: &[&[u8]]) -> String {
        let mut out = Vec::new();
        for k in codes {
            c.lookup(k, &mut out);
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn chars_ranges_and_arrays() {
        let mut budget = 100;
        let c = CMap::parse(
            b"2 begincodespacerange <00> <7F> <8000> <FFFF> endcodespacerange\n2 beginbfchar <0001> <0041> <02> <00420043> endbfchar\n2 beginbfrange <0010> <0019> <0030> <0020> <0021> [<0078> (\\000y)] endbfrange 1 beginbfchar <03> /four endbfchar",
            &mut budget,
        )
        .unwrap();
        assert_eq!(text(&c, &[&[0, 1], &[2], &[0, 0x14], &[0, 0x21], &[3]]), "ABC4y4");
        assert_eq!(c.code_len(&[0x41, 0x80], 2), 1);
        assert_eq!(c.code_len(&[0x81, 0x00], 1), 2);
        assert_eq!(c.code_len(&[0xFF], 1), 1);
        assert!(!c.lookup(&[0, 0x22], &mut Vec::new()));
    }

    #[test]
    fn a_full_range_is_one_entry() {
        let mut budget = 10;
        let c = CMap::parse(b"1 beginbfrange <0000> <FFFF> <0041> endbfrange", &mut budget).unwrap();
        assert_eq!(budget, 9);
        assert!(c.heap_bytes() < 100);
        assert_eq!(text(&c, &[&[0, 1]]), "B");
        let mut budget = 3;
        let many = "<01> <41>\n".repeat(10);
        assert_eq!(
            CMap::parse(format!("beginbfchar {many} endbfchar").as_bytes(), &mut budget).err(),
            Some(OverBudget)
        );
    }
}
