//! Byte accounting: every byte of an object is inspected as text, or consumed by a parser
//! that extracted it, or the object is could-not-scan.
//!
//! Random-access extractors (zip, 7z) record what their parser consumed in a [`Coverage`];
//! [`scan_gaps`] then scans every byte nobody consumed (a prefix before the first member,
//! gaps between members, data after the end) as a member of its own, sniffed like any
//! object, so a zip appended to a JPEG or a CSV in front of a zip is found. Streaming
//! extractors hand what follows their end to a fresh sniffed node instead. Names that users
//! choose (archive member names, uploaded file names) are text too: [`scan_name`].

use std::io::{Read, Seek, SeekFrom};

use super::{pump_bytes, Ctx, Member, TextNode};
use crate::identify::{Charset, Markup};

/// Byte ranges of an object that a parser consumed.
#[derive(Debug, Default)]
pub(crate) struct Coverage {
    ranges: Vec<(u64, u64)>,
}

impl Coverage {
    /// Records `start..end` as consumed (empty or inverted ranges are ignored).
    pub fn add(&mut self, start: u64, end: u64) {
        if start < end {
            self.ranges.push((start, end));
        }
    }

    /// The ranges of `0..len` that nothing consumed, in order.
    pub fn gaps(&mut self, len: u64) -> Vec<(u64, u64)> {
        self.ranges.sort_unstable();
        let mut gaps = Vec::new();
        let mut at = 0u64;
        for &(s, e) in &self.ranges {
            let s = s.min(len);
            if s > at {
                gaps.push((at, s));
            }
            at = at.max(e.min(len));
        }
        if at < len {
            gaps.push((at, len));
        }
        gaps
    }
}

/// Scans each byte range of `reader` that `coverage` leaves out as a sniffed member of its
/// own, named by its offsets. Reads the gaps in place: nothing is loaded whole.
pub(crate) fn scan_gaps<R: Read + Seek>(
    cx: &mut Ctx<'_>,
    reader: &mut R,
    coverage: &mut Coverage,
    len: u64,
    m: &Member,
) {
    for (start, end) in coverage.gaps(len) {
        if cx.stopped() {
            return;
        }
        let gm = m.child(&format!("(bytes {start}-{end})"));
        if let Err(e) = reader.seek(SeekFrom::Start(start)) {
            cx.corrupt(&gm.path, e.to_string());
            return;
        }
        pump_bytes(cx, &mut reader.by_ref().take(end - start), gm);
    }
}

/// Scans a name someone chose (an archive member name, an uploaded file name) as text, and
/// returns the label to use for it in member paths: the name itself, or a placeholder when
/// it holds something a detector reports, so evidence paths never carry the clear value.
pub(crate) fn scan_name(cx: &mut Ctx<'_>, parent: &Member, name: &str, index: u64) -> String {
    let label = sanitize(name);
    if name.is_empty() || cx.stopped() {
        return label;
    }
    let before = cx.st.hits.total();
    let mut t =
        TextNode::new(parent.child(&format!("(name of member {index})")), Charset::Bytes, Markup::Plain);
    t.write(cx, name.as_bytes());
    t.finish(cx);
    if cx.st.hits.total() > before {
        format!("(member {index}, name withheld)")
    } else {
        label
    }
}

/// Member names go into evidence and logs: keep them printable and short.
pub(crate) fn sanitize(name: &str) -> String {
    name.chars().map(|c| if c.is_control() { '?' } else { c }).take(256).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_are_what_no_range_covers() {
        let mut c = Coverage::default();
        c.add(10, 20);
        c.add(15, 30);
        c.add(40, 50);
        c.add(60, 55);
        assert_eq!(c.gaps(70), vec![(0, 10), (30, 40), (50, 70)]);
        assert_eq!(c.gaps(45), vec![(0, 10), (30, 40)]);
        let mut full = Coverage::default();
        full.add(0, 5);
        assert!(full.gaps(5).is_empty());
        assert_eq!(Coverage::default().gaps(3), vec![(0, 3)]);
    }
}
