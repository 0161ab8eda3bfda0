//! OLE2 compound files (legacy Office, Outlook msg, embedded objects): the storage tree is
//! walked with the `cfb` crate and each stream goes to the parser that knows it.
//!
//! A storage is read as a Word document when it holds `WordDocument`, a workbook when it
//! holds `Workbook` (or `Book`), a presentation when it holds `PowerPoint Document`, and a
//! message when it holds `__substg1.0_*` property streams; property-set streams
//! (`\x05SummaryInformation` and the like) anywhere are read by `props`; every other stream
//! is sniffed (an embedded zip, PDF or OLE file goes through the pipeline) or scanned as raw
//! bytes plus UTF-16 runs. Sectors no stream reaches, and bytes after the last sector, are
//! scanned raw by `slack`.
//!
//! Damage: a container the `cfb` crate cannot open, or a stream that cannot be read, makes
//! every byte of the file scanned raw; a parser that loses its way in a stream it knows
//! (record framing, piece table) scans that stream raw. Either way the object is then
//! could-not-scan `Corrupt`, so a damaged structure can never be a place to hide text.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use cfb::CompoundFile;

use super::{clean_name, doc, msg, ppt, props, scan_opaque, slack, xls, RawSink};
use crate::extract::{Ctx, Member};
use crate::identify::FileType;
use crate::limits::LimitKind;

/// Storages nested deeper than this are a depth limit (the tree is bounded by the file,
/// but the walk recurses).
const MAX_STORAGE_LEVELS: u32 = 32;

/// What a stream parser reports besides the text it wrote.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Outcome {
    /// Read to the end.
    Done,
    /// The document is encrypted.
    Encrypted,
    /// Its structure broke; what it could not follow was scanned raw.
    Damaged(String),
}

/// One entry of a storage.
#[derive(Debug)]
pub(super) struct Child {
    pub name: String,
    pub path: PathBuf,
    pub stream: bool,
}

/// State of one compound file's walk.
pub(super) struct Walker<'f, F> {
    comp: &'f mut CompoundFile<F>,
    /// Size of the compound file: no stream holds more.
    file_len: usize,
    /// The first structural damage seen.
    damage: Option<String>,
    /// Scan the whole file raw at the end (a stream could not be read).
    raw_all: bool,
    /// What the streams read so far hold of the budget: charged before each is read, given
    /// back when the walk ends.
    held: u64,
}

impl<F: Read + Seek> Walker<'_, F> {
    pub fn damaged(&mut self, what: String) {
        self.damage.get_or_insert(what);
    }

    /// A stream's bytes, counted against the extraction limits. `None` when it cannot be
    /// read (the file is then scanned raw) or a limit stopped the scan.
    pub fn read(&mut self, cx: &mut Ctx<'_>, path: &Path, m: &Member) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        let cap = cx.st.budget.limits.max_buffered_bytes.saturating_add(1);
        let mut stream = match self.comp.open_stream(path) {
            Ok(s) => s,
            Err(e) => {
                self.damaged(format!("stream {}: {e}", path.display()));
                self.raw_all = true;
                return None;
            }
        };
        // A stream can claim any length; what it really holds is bounded by the file, so
        // the claim only sizes the first allocation (within the buffering limit), which is
        // held before it is made.
        let claimed = usize::try_from(stream.len().min(cap)).unwrap_or(0).min(self.file_len);
        if !cx.st.budget.grow(&mut out, claimed, &mut self.held, &m.path) {
            return None;
        }
        let result = (&mut stream).take(cap).read_to_end(&mut out);
        // Growth past the claim (a stream longer than it said) is charged once known.
        let extra = (out.capacity() as u64).saturating_sub(claimed as u64);
        if extra > 0 && cx.st.budget.hold(extra, &m.path) {
            self.held += extra;
        }
        match result {
            Ok(n) => {
                if n as u64 > cx.st.budget.limits.max_buffered_bytes {
                    cx.st.budget.limit(LimitKind::MaxBufferedBytes, &m.path);
                    return None;
                }
                let b = &mut cx.st.budget;
                (b.add_decompressed(n as u64, &m.path) && b.check_time(&m.path)).then_some(out)
            }
            Err(e) => {
                self.damaged(format!("stream {}: {e}", path.display()));
                self.raw_all = true;
                None
            }
        }
    }

    /// The entries of a storage, or `None` (and raw scanning) when its directory is broken.
    fn children(&mut self, path: &Path) -> Option<Vec<Child>> {
        match self.comp.read_storage(path) {
            Ok(entries) => Some(
                entries
                    .map(|e| Child {
                        name: e.name().to_string(),
                        path: e.path().to_path_buf(),
                        stream: e.is_stream(),
                    })
                    .collect(),
            ),
            Err(e) => {
                self.damaged(format!("storage {}: {e}", path.display()));
                self.raw_all = true;
                None
            }
        }
    }

    fn outcome(&mut self, cx: &mut Ctx<'_>, m: &Member, o: Outcome) {
        match o {
            Outcome::Done => {}
            Outcome::Encrypted => cx.encrypted(&m.path),
            Outcome::Damaged(what) => self.damaged(format!("{}: {what}", m.path)),
        }
    }

    /// Walks one storage: its documents first, then every stream and storage left.
    pub fn storage(&mut self, cx: &mut Ctx<'_>, path: &Path, m: &Member, level: u32) {
        if level > MAX_STORAGE_LEVELS {
            cx.st.budget.limit(LimitKind::MaxDepth, &m.path);
            return;
        }
        let Some(children) = self.children(path) else { return };
        let find = |name: &str| children.iter().find(|c| c.stream && c.name.eq_ignore_ascii_case(name));
        if ["EncryptedPackage", "\u{9}DRMContent", "EncryptedSummary"].iter().any(|n| find(n).is_some()) {
            cx.encrypted(&m.path);
            return;
        }
        let mut taken: Vec<&str> = Vec::new();
        if let Some(word) = find("WordDocument") {
            cx.st.types.insert(FileType::Doc);
            if cx.exempt.contains(&FileType::Doc) {
                return;
            }
            let table0 = find("0Table");
            let table1 = find("1Table");
            let wm = m.child(&word.name);
            let Some(wd) = self.read(cx, &word.path, &wm) else { return };
            let t0 = match table0 {
                Some(t) => self.read(cx, &t.path, &wm),
                None => None,
            };
            let t1 = match table1 {
                Some(t) => self.read(cx, &t.path, &wm),
                None => None,
            };
            if cx.stopped() {
                return;
            }
            let o = doc::scan(cx, &wm, &wd, t0.as_deref(), t1.as_deref());
            self.outcome(cx, &wm, o);
            taken.extend(["WordDocument", "0Table", "1Table"]);
        }
        if let Some(book) = find("Workbook").or_else(|| find("Book")) {
            cx.st.types.insert(FileType::Xls);
            if cx.exempt.contains(&FileType::Xls) {
                return;
            }
            let bm = m.child(&book.name);
            let Some(data) = self.read(cx, &book.path, &bm) else { return };
            let o = xls::scan(cx, &bm, &data);
            self.outcome(cx, &bm, o);
            taken.extend(["Workbook", "Book"]);
        }
        if let Some(pres) = find("PowerPoint Document") {
            cx.st.types.insert(FileType::Ppt);
            if cx.exempt.contains(&FileType::Ppt) {
                return;
            }
            let pm = m.child(&pres.name);
            let user = match find("Current User") {
                Some(u) => self.read(cx, &u.path, &pm),
                None => None,
            };
            let Some(data) = self.read(cx, &pres.path, &pm) else { return };
            let o = ppt::scan(cx, &pm, &data, user.as_deref());
            self.outcome(cx, &pm, o);
            taken.push("PowerPoint Document");
        }
        if cx.stopped() {
            return;
        }
        if children.iter().any(|c| c.stream && msg::is_property_stream(&c.name)) {
            if level == 0 {
                cx.st.types.insert(FileType::Msg);
                if cx.exempt.contains(&FileType::Msg) {
                    return;
                }
            }
            msg::scan_properties(self, cx, &children, m);
            if cx.stopped() {
                return;
            }
        }
        for c in &children {
            if cx.stopped() {
                return;
            }
            if taken.iter().any(|t| t.eq_ignore_ascii_case(&c.name)) {
                continue;
            }
            let cm = m.child(&clean_name(&c.name));
            if !c.stream {
                // A storage is a folder, not a container: no deeper in the member tree's
                // depth, only in its path.
                let sm = Member { path: cm.path, depth: m.depth };
                self.storage(cx, &c.path, &sm, level + 1);
                continue;
            }
            if msg::is_property_stream(&c.name) {
                continue;
            }
            let Some(data) = self.read(cx, &c.path, &cm) else {
                if cx.stopped() {
                    return;
                }
                continue;
            };
            if c.name.starts_with('\u{5}') {
                let o = props::scan(cx, &cm, &data);
                self.outcome(cx, &cm, o);
            } else if c.name.eq_ignore_ascii_case("\u{1}Ole10Native") {
                ole10_native(cx, &cm, &data);
            } else {
                scan_opaque(cx, &data, cm);
            }
        }
    }
}

/// Scans a compound file. The caller identified its magic; depth is checked here.
pub(crate) fn scan_cfb<R: Read + Seek>(cx: &mut Ctx<'_>, mut reader: R, m: &Member) {
    if m.depth >= cx.st.budget.limits.max_depth {
        cx.st.budget.limit(LimitKind::MaxDepth, &m.path);
        return;
    }
    let file_len = reader.seek(SeekFrom::End(0)).ok().and_then(|n| usize::try_from(n).ok()).unwrap_or(0);
    let (damage, raw_all) = match CompoundFile::open(&mut reader) {
        Ok(mut comp) => {
            let mut w = Walker { comp: &mut comp, file_len, damage: None, raw_all: false, held: 0 };
            w.storage(cx, Path::new("/"), m, 0);
            cx.st.budget.release(w.held);
            (w.damage, w.raw_all)
        }
        Err(e) => (Some(format!("compound file: {e}")), true),
    };
    if cx.stopped() {
        return;
    }
    let slack_damage = if raw_all { raw_whole(cx, &mut reader, m) } else { slack::scan(cx, &mut reader, m) };
    if let Some(d) = damage.or(slack_damage) {
        cx.corrupt(&m.path, d);
    }
}

/// Every byte of the file, raw: the fallback when its structure cannot be trusted.
fn raw_whole<R: Read + Seek>(cx: &mut Ctx<'_>, reader: &mut R, m: &Member) -> Option<String> {
    if let Err(e) = reader.seek(SeekFrom::Start(0)) {
        return Some(e.to_string());
    }
    let mut raw = RawSink::new(m);
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                raw.push(cx, &buf[..n]);
                if !cx.st.budget.check_time(&m.path) {
                    return None;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Some(e.to_string()),
        }
    }
    raw.finish(cx);
    None
}

/// An OLE "package" object (`\x01Ole10Native`): a header naming the file, then the file. The
/// file goes through the pipeline under its own name; the header's names are scanned raw.
fn ole10_native(cx: &mut Ctx<'_>, m: &Member, data: &[u8]) {
    // u32 size, u16 flags, label\0, path\0, u32, u32 length, temp path\0, u32 data size, data.
    let parsed = (|| {
        let mut at = 6usize;
        let z = |at: &mut usize| -> Option<String> {
            let rest = data.get(*at..)?;
            let end = memchr::memchr(0, rest)?;
            *at += end + 1;
            Some(String::from_utf8_lossy(&rest[..end]).into_owned())
        };
        let label = z(&mut at)?;
        let _path = z(&mut at)?;
        at = at.checked_add(8)?;
        let _temp = z(&mut at)?;
        let size = super::bytes::u32_at(data, at)? as usize;
        let start = at + 4;
        let end = start.checked_add(size)?;
        Some((label, start, end.min(data.len())))
    })();
    match parsed {
        Some((label, start, end)) if start <= end => {
            let mut raw = RawSink::new(m);
            raw.blob(cx, &data[..start]);
            raw.blob(cx, &data[end..]);
            raw.finish(cx);
            let name = if label.is_empty() { "native".to_string() } else { clean_name(&label) };
            scan_opaque(cx, &data[start..end], m.child(&name));
        }
        _ => scan_opaque(cx, data, m.clone()),
    }
}
