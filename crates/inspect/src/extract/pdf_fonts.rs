//! PDF fonts whose strings are glyph codes, not text (Type0/CID fonts, subset fonts): their
//! `/ToUnicode` CMaps say which characters the codes stand for. Objects are found by their
//! `N G obj` headers, never through the xref table.

use std::collections::{HashMap, HashSet};

use memchr::memmem;

/// Entries kept from one CMap; larger maps are cut (a font has at most 65,536 glyphs).
const MAX_ENTRIES: usize = 65_536;

/// Code -> text for one font.
#[derive(Debug, Default)]
pub(crate) struct CMap {
    /// Bytes per code: 1 or 2.
    pub code_len: usize,
    map: HashMap<u32, String>,
}

impl CMap {
    /// Parses the `bfchar` and `bfrange` sections of a ToUnicode CMap.
    pub fn parse(data: &[u8]) -> Self {
        let mut c = CMap { code_len: 1, map: HashMap::new() };
        for (begin, end, range) in
            [(&b"beginbfchar"[..], &b"endbfchar"[..], false), (b"beginbfrange", b"endbfrange", true)]
        {
            let mut pos = 0;
            while let Some(s) = memmem::find(&data[pos..], begin) {
                let s = pos + s + begin.len();
                let e = memmem::find(&data[s..], end).map(|e| s + e).unwrap_or(data.len());
                pos = e;
                let tokens = tokens(&data[s..e]);
                if range {
                    c.ranges(&tokens);
                } else {
                    for pair in tokens.chunks(2) {
                        if let [Tok::Hex(src), Tok::Hex(dst)] = pair {
                            c.insert(src, utf16be(dst));
                        }
                    }
                }
                if c.map.len() >= MAX_ENTRIES {
                    return c;
                }
            }
        }
        c
    }

    fn insert(&mut self, src: &[u8], text: String) {
        if src.len() == 2 {
            self.code_len = 2;
        }
        if self.map.len() < MAX_ENTRIES {
            self.map.insert(code(src), text);
        }
    }

    fn ranges(&mut self, t: &[Tok]) {
        let mut i = 0;
        while i + 2 < t.len() {
            let (Tok::Hex(lo), Tok::Hex(hi)) = (&t[i], &t[i + 1]) else {
                i += 1;
                continue;
            };
            let (lo_c, hi_c) = (code(lo), code(hi));
            if lo.len() == 2 {
                self.code_len = 2;
            }
            let span = hi_c.saturating_sub(lo_c).min(MAX_ENTRIES as u32);
            match &t[i + 2] {
                Tok::Hex(dst) => {
                    let base: Vec<u16> =
                        dst.chunks(2).map(|p| u16::from_be_bytes([p[0], *p.get(1).unwrap_or(&0)])).collect();
                    for k in 0..=span {
                        let mut units = base.clone();
                        if let Some(last) = units.last_mut() {
                            *last = last.wrapping_add(k as u16);
                        }
                        if self.map.len() >= MAX_ENTRIES {
                            return;
                        }
                        self.map.insert(lo_c + k, String::from_utf16_lossy(&units));
                    }
                    i += 3;
                }
                Tok::Array(items) => {
                    for (k, dst) in items.iter().enumerate().take(span as usize + 1) {
                        if self.map.len() >= MAX_ENTRIES {
                            return;
                        }
                        self.map.insert(lo_c + k as u32, utf16be(dst));
                    }
                    i += 3;
                }
            }
        }
    }

    /// Appends the text of a shown string.
    pub fn decode(&self, bytes: &[u8], out: &mut Vec<u8>) {
        for unit in bytes.chunks(self.code_len.max(1)) {
            if let Some(s) = self.map.get(&code(unit)) {
                out.extend_from_slice(s.as_bytes());
            }
        }
    }
}

fn code(b: &[u8]) -> u32 {
    b.iter().take(4).fold(0, |a, &x| (a << 8) | u32::from(x))
}

fn utf16be(b: &[u8]) -> String {
    let units: Vec<u16> = b.chunks(2).map(|p| u16::from_be_bytes([p[0], *p.get(1).unwrap_or(&0)])).collect();
    String::from_utf16_lossy(&units)
}

#[derive(Debug)]
enum Tok {
    Hex(Vec<u8>),
    Array(Vec<Vec<u8>>),
}

fn tokens(d: &[u8]) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut i = 0;
    let mut array: Option<Vec<Vec<u8>>> = None;
    while i < d.len() {
        match d[i] {
            b'<' => {
                let e = memchr::memchr(b'>', &d[i..]).map(|e| i + e).unwrap_or(d.len());
                let h = hex(&d[i + 1..e]);
                match &mut array {
                    Some(a) => a.push(h),
                    None => out.push(Tok::Hex(h)),
                }
                i = e + 1;
            }
            b'[' => {
                array = Some(Vec::new());
                i += 1;
            }
            b']' => {
                if let Some(a) = array.take() {
                    out.push(Tok::Array(a));
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    out
}

fn hex(s: &[u8]) -> Vec<u8> {
    let digits: Vec<u8> = s.iter().filter_map(|&b| (b as char).to_digit(16).map(|v| v as u8)).collect();
    digits.chunks(2).map(|p| p[0] << 4 | p.get(1).copied().unwrap_or(0)).collect()
}

/// The object number in an `N G obj` header ending just before `at` (the position of `obj`).
pub(crate) fn object_number(data: &[u8], at: usize) -> Option<u32> {
    let mut i = at;
    let skip_ws = |i: &mut usize| {
        while *i > 0 && data[*i - 1].is_ascii_whitespace() {
            *i -= 1;
        }
    };
    let number = |i: &mut usize| {
        let e = *i;
        while *i > 0 && data[*i - 1].is_ascii_digit() {
            *i -= 1;
        }
        std::str::from_utf8(&data[*i..e]).ok()?.parse::<u32>().ok()
    };
    skip_ws(&mut i);
    number(&mut i)?;
    skip_ws(&mut i);
    number(&mut i)
}

/// `N 0 R` references following `key` in `dict`.
pub(crate) fn reference_after(dict: &[u8], key: &[u8]) -> Option<u32> {
    let p = memmem::find(dict, key)? + key.len();
    let rest = &dict[p..];
    let s = rest.iter().position(|b| !b.is_ascii_whitespace())?;
    let e = rest[s..].iter().position(|b| !b.is_ascii_digit()).map(|e| s + e)?;
    std::str::from_utf8(&rest[s..e]).ok()?.parse().ok()
}

/// Fonts and their CMaps across a document.
#[derive(Debug, Default)]
pub(crate) struct Fonts {
    /// Font resource name (`F1`) -> font object.
    pub names: HashMap<Vec<u8>, u32>,
    /// Font object -> its ToUnicode CMap object.
    pub to_unicode: HashMap<u32, u32>,
    /// CMap object -> parsed map.
    pub cmaps: HashMap<u32, CMap>,
}

impl Fonts {
    /// The objects whose streams are CMaps.
    pub fn cmap_objects(&self) -> HashSet<u32> {
        self.to_unicode.values().copied().collect()
    }

    /// The CMap of the font a resource name selects, if it has one.
    pub fn by_name(&self, name: &[u8]) -> Option<&CMap> {
        let font = self.names.get(name)?;
        self.cmaps.get(self.to_unicode.get(font)?)
    }

    /// Finds fonts with ToUnicode maps and the resource names that select them.
    pub fn index(data: &[u8]) -> Self {
        let mut f = Fonts::default();
        for p in memmem::find_iter(data, b"/ToUnicode") {
            let Some(cmap) = reference_after(&data[p..(p + 40).min(data.len())], b"/ToUnicode") else {
                continue;
            };
            let from = p.saturating_sub(4096);
            let Some(o) = memmem::rfind(&data[from..p], b" obj") else {
                continue;
            };
            if let Some(font) = object_number(data, from + o) {
                f.to_unicode.insert(font, cmap);
            }
        }
        if f.to_unicode.is_empty() {
            return f;
        }
        // `/Font << /F1 5 0 R /F2 7 0 R >>` dictionaries, wherever they are.
        for p in memmem::find_iter(data, b"/Font") {
            let rest = &data[p + 5..(p + 4096).min(data.len())];
            let Some(s) = rest.iter().position(|b| !b.is_ascii_whitespace()) else {
                continue;
            };
            if !rest[s..].starts_with(b"<<") {
                continue;
            }
            let body = &rest[s + 2..];
            let body = &body[..memmem::find(body, b">>").unwrap_or(body.len())];
            let mut i = 0;
            while let Some(k) = memchr::memchr(b'/', &body[i..]) {
                let ns = i + k + 1;
                let ne = body[ns..]
                    .iter()
                    .position(|b| b.is_ascii_whitespace() || b"/<>[]()".contains(b))
                    .map(|e| ns + e)
                    .unwrap_or(body.len());
                let name = body[ns..ne].to_vec();
                if let Some(obj) = reference_after(&body[ne..], b"") {
                    f.names.entry(name).or_insert(obj);
                }
                i = ne;
            }
        }
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmap_ranges_and_chars() {
        let c = CMap::parse(
            b"1 begincodespacerange <0000> <FFFF> endcodespacerange\n2 beginbfchar <0001> <0041> <0002> <00420043> endbfchar\n1 beginbfrange <0010> <0019> <0030> <0020> <0021> [<0078> <0079>] endbfrange",
        );
        let mut out = Vec::new();
        c.decode(&[0, 1, 0, 2, 0, 0x14, 0, 0x21], &mut out);
        assert_eq!(out, b"ABC4y");
    }

    #[test]
    fn object_numbers() {
        let d = b"xx\n12 0 obj\n<< >>";
        let at = memmem::find(d, b"obj").unwrap();
        assert_eq!(object_number(d, at), Some(12));
        assert_eq!(reference_after(b"/ToUnicode 33 0 R", b"/ToUnicode"), Some(33));
    }
}
