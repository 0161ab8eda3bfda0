//! tar as a streaming push parser: 512-byte headers, member data into child nodes.
//!
//! Every byte is accounted for. Regular members (and the data of any other entry type that
//! has some: links, devices, directories, sparse files, unknown types) go to sniffed child
//! nodes; names are scanned as text; the text fields of headers (link names, user and group
//! names) and the data of metadata entries (pax `x`/`g` records, GNU long names `L`/`K`)
//! are scanned as text; whatever follows the end-of-archive marker, past its zero padding,
//! goes to a fresh sniffed node.

use super::coverage::scan_name;
use super::{Ctx, Member, Node, TextNode};
use crate::identify::{Charset, Markup};

/// Longest pax record block or GNU long name kept to name the next member (the text is
/// scanned whatever its length).
const MAX_NAME_DATA: usize = 64 * 1024;

#[derive(Debug)]
enum Entry {
    /// Member data: into this node.
    Member(Box<Node>),
    /// Metadata (pax records, long names): scanned as text, the start kept when it names
    /// the next member.
    Meta { keep: Vec<u8>, names: Names },
}

/// What a metadata entry says about the next member's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Names {
    /// GNU `L`: its data is the name.
    LongName,
    /// pax `x`: its `path` record, if any, is the name.
    Pax,
    /// GNU `K` (a link target) and pax `g` (global records): nothing.
    Nothing,
}

#[derive(Debug)]
enum TarState {
    Header,
    Data {
        left: u64,
        pad: u64,
        entry: Entry,
    },
    Pad(u64),
    /// After the end-of-archive marker: zero padding, then anything else is trailing data.
    End,
    /// A header that does not parse: it and everything after it are scanned as they are,
    /// and the archive is called corrupt at its end (what it holds is still inspected).
    Damaged {
        detail: &'static str,
        rest: Box<TextNode>,
    },
}

/// A streaming tar reader.
#[derive(Debug)]
pub(crate) struct TarNode {
    m: Member,
    header: Vec<u8>,
    state: TarState,
    next_name: Option<String>,
    zero_blocks: u32,
    entries: u64,
    /// Header text fields and metadata entries.
    meta: Option<Box<TextNode>>,
    /// What follows the end of the archive.
    after: Option<Box<Node>>,
}

impl TarNode {
    pub fn new(m: Member) -> Self {
        Self {
            m,
            header: Vec::with_capacity(512),
            state: TarState::Header,
            next_name: None,
            zero_blocks: 0,
            entries: 0,
            meta: None,
            after: None,
        }
    }

    pub fn write(&mut self, cx: &mut Ctx<'_>, mut data: &[u8]) {
        while !data.is_empty() && !cx.stopped() {
            match &mut self.state {
                TarState::Damaged { rest, .. } => {
                    if cx.st.budget.check_time(&self.m.path) {
                        rest.write(cx, data);
                    }
                    return;
                }
                TarState::End => {
                    if self.after.is_none() {
                        // Zero padding to the end of a record carries nothing.
                        let zeros = data.iter().take_while(|&&b| b == 0).count();
                        data = &data[zeros..];
                        if data.is_empty() {
                            return;
                        }
                        let a = self.m.child("(trailing)");
                        if !cx.st.budget.add_member(&a.path) {
                            return;
                        }
                        self.after = Some(Box::new(Node::new(a, None)));
                    }
                    if let Some(a) = &mut self.after {
                        a.write(cx, data);
                    }
                    return;
                }
                TarState::Header => {
                    let take = (512 - self.header.len()).min(data.len());
                    self.header.extend_from_slice(&data[..take]);
                    data = &data[take..];
                    if self.header.len() == 512 {
                        self.on_header(cx);
                        self.header.clear();
                    }
                }
                TarState::Pad(left) => {
                    let k = (*left).min(data.len() as u64);
                    *left -= k;
                    data = &data[k as usize..];
                    if *left == 0 {
                        self.state = TarState::Header;
                    }
                }
                TarState::Data { left, pad, entry } => {
                    let k = (*left).min(data.len() as u64) as usize;
                    let piece = &data[..k];
                    data = &data[k..];
                    *left -= k as u64;
                    match entry {
                        Entry::Meta { keep, names } => {
                            let room = if *names == Names::Nothing { 0 } else { MAX_NAME_DATA };
                            let room = room.saturating_sub(keep.len()).min(piece.len());
                            keep.extend_from_slice(&piece[..room]);
                            meta_node(&mut self.meta, &self.m).write(cx, piece);
                        }
                        Entry::Member(child) => {
                            if !cx.st.budget.add_decompressed(k as u64, &self.m.path)
                                || !cx.st.budget.check_time(&self.m.path)
                            {
                                return;
                            }
                            child.write(cx, piece);
                        }
                    }
                    if *left == 0 {
                        let pad = *pad;
                        let done = std::mem::replace(&mut self.state, TarState::Pad(pad));
                        if let TarState::Data { entry, .. } = done {
                            self.end_entry(cx, entry);
                        }
                        if pad == 0 {
                            self.state = TarState::Header;
                        }
                    }
                }
            }
        }
    }

    fn end_entry(&mut self, cx: &mut Ctx<'_>, entry: Entry) {
        match entry {
            Entry::Member(mut c) => c.finish(cx),
            Entry::Meta { keep, names } => {
                let name = match names {
                    Names::LongName => Some(c_string(&keep)),
                    Names::Pax => pax_path(&keep),
                    Names::Nothing => None,
                };
                if let Some(n) = name {
                    self.next_name = Some(n);
                }
            }
        }
    }

    fn on_header(&mut self, cx: &mut Ctx<'_>) {
        let h = &self.header;
        if h.iter().all(|&b| b == 0) {
            self.zero_blocks += 1;
            if self.zero_blocks >= 2 {
                self.state = TarState::End;
            }
            return;
        }
        self.zero_blocks = 0;
        if !checksum_ok(h) {
            return self.damaged(cx, "tar header checksum");
        }
        let Some(size) = octal(&h[124..136]) else {
            return self.damaged(cx, "tar size field");
        };
        let pad = (512 - size % 512) % 512;
        let kind = h[156];
        let ustar = &h[257..262] == b"ustar";
        // Text fields besides the name: link name, and the user and group names.
        let mut fields = Vec::new();
        for r in [157..257, 265..297, 297..329] {
            if ustar || r.start == 157 {
                let f = c_string(&h[r]);
                if !f.is_empty() {
                    fields.extend_from_slice(f.as_bytes());
                    fields.push(b'\n');
                }
            }
        }
        let header_name = || {
            let prefix = if ustar { c_string(&h[345..500]) } else { String::new() };
            let name = c_string(&h[0..100]);
            if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            }
        };
        let entry = match kind {
            // The header of a metadata entry names nothing a user chose; its data is scanned
            // as text.
            b'L' => Entry::Meta { keep: Vec::new(), names: Names::LongName },
            b'x' => Entry::Meta { keep: Vec::new(), names: Names::Pax },
            b'K' | b'g' => Entry::Meta { keep: Vec::new(), names: Names::Nothing },
            _ => {
                let name = self.next_name.take().unwrap_or_else(header_name);
                self.entries += 1;
                let label = scan_name(cx, &self.m, &name, self.entries);
                let m = self.m.child(&label);
                if !cx.st.budget.add_member(&m.path) {
                    return;
                }
                Entry::Member(Box::new(Node::new(m, None)))
            }
        };
        if !fields.is_empty() {
            meta_node(&mut self.meta, &self.m).write(cx, &fields);
        }
        if size == 0 {
            if let Entry::Member(mut c) = entry {
                c.finish(cx);
            }
            self.state = TarState::Header;
        } else {
            self.state = TarState::Data { left: size, pad, entry };
        }
    }

    /// Scans the header just read, and all that follows, as bytes: their text, UTF-16 runs
    /// and the containers their signatures announce (sniffing would read another tar).
    fn damaged(&mut self, cx: &mut Ctx<'_>, detail: &'static str) {
        let m = self.m.child("(damaged archive)");
        if !cx.st.budget.add_member(&m.path) {
            self.state = TarState::End;
            return;
        }
        let mut rest = Box::new(damaged_bytes(m));
        rest.write(cx, &self.header);
        self.state = TarState::Damaged { detail, rest };
    }

    pub fn finish(&mut self, cx: &mut Ctx<'_>) {
        if cx.stopped() {
            return;
        }
        if let Some(t) = &mut self.meta {
            t.finish(cx);
        }
        match std::mem::replace(&mut self.state, TarState::End) {
            TarState::Header if self.header.is_empty() => {}
            TarState::End | TarState::Pad(_) => {}
            TarState::Data { entry, .. } => {
                if let Entry::Member(mut c) = entry {
                    c.finish(cx);
                }
                cx.corrupt(&self.m.path, "tar member truncated");
            }
            TarState::Header => {
                let mut rest = damaged_bytes(self.m.child("(damaged archive)"));
                rest.write(cx, &self.header);
                rest.finish(cx);
                cx.corrupt(&self.m.path, "tar header truncated");
            }
            TarState::Damaged { detail, mut rest } => {
                rest.finish(cx);
                cx.corrupt(&self.m.path, detail);
            }
        }
        if let Some(a) = &mut self.after {
            a.finish(cx);
        }
    }
}

/// A damaged archive's bytes, read as text of unknown encoding.
fn damaged_bytes(m: Member) -> TextNode {
    let mut t = TextNode::new(m, Charset::Bytes, Markup::Plain);
    t.watch_embedded();
    t.read_utf16_runs();
    t
}

fn meta_node<'a>(meta: &'a mut Option<Box<TextNode>>, m: &Member) -> &'a mut TextNode {
    meta.get_or_insert_with(|| {
        Box::new(TextNode::new(m.child("(tar headers)"), Charset::Bytes, Markup::Plain))
    })
}

/// A NUL-terminated header field.
fn c_string(f: &[u8]) -> String {
    let end = f.iter().position(|&b| b == 0).unwrap_or(f.len());
    String::from_utf8_lossy(&f[..end]).into_owned()
}

/// The `path` of a pax extended header (`<len> path=<value>\n` records).
fn pax_path(records: &[u8]) -> Option<String> {
    let mut rest = records;
    let mut path = None;
    while !rest.is_empty() {
        let sp = memchr::memchr(b' ', rest)?;
        let len: usize = std::str::from_utf8(&rest[..sp]).ok()?.parse().ok()?;
        let record = rest.get(sp + 1..len)?;
        let record = record.strip_suffix(b"\n").unwrap_or(record);
        if let Some(v) = record.strip_prefix(b"path=") {
            path = Some(String::from_utf8_lossy(v).into_owned());
        }
        rest = &rest[len..];
    }
    path
}

fn octal(f: &[u8]) -> Option<u64> {
    if f.first().is_some_and(|&b| b & 0x80 != 0) {
        // GNU base-256 for large sizes.
        return f[1..].iter().try_fold(0u64, |a, &b| a.checked_mul(256).map(|a| a + u64::from(b)));
    }
    let s: Vec<u8> =
        f.iter().copied().skip_while(|&b| b == b' ').take_while(|&b| (b'0'..=b'7').contains(&b)).collect();
    if s.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(std::str::from_utf8(&s).ok()?, 8).ok()
}

fn checksum_ok(h: &[u8]) -> bool {
    let Some(want) = octal(&h[148..156]) else {
        return false;
    };
    let sum: u64 =
        h.iter().enumerate().map(|(i, &b)| if (148..156).contains(&i) { 32 } else { u64::from(b) }).sum();
    sum == want
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_records() {
        let r = b"30 mtime=1700000000.123456789\n20 path=dir/a b.txt\n";
        assert_eq!(pax_path(r).as_deref(), Some("dir/a b.txt"));
        assert_eq!(pax_path(b"99 path=x\n"), None);
        assert_eq!(pax_path(b"x"), None);
    }
}
