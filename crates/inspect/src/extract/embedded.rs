//! Binary objects (executables, unknown binary, legacy Office) are scanned as raw bytes;
//! containers inside one (a zip after a self-extractor's stub, a jar in a wrapper, a gzip
//! resource, a 7z) are opened as well, by the same probes as in text (`probe`).

use super::probe::{Anchors, Watch};
use super::{Ctx, Member, TextNode};

/// A raw binary object with a watch for embedded containers.
#[derive(Debug)]
pub(crate) struct BinaryNode {
    raw: TextNode,
    watch: Watch,
    /// Bytes so far.
    seen: u64,
    /// Whether bytes were left out since the last one scanned (`Watch::unstored`).
    cut: bool,
}

impl BinaryNode {
    pub fn new(m: Member, raw: TextNode) -> Self {
        Self { watch: Watch::new(m, Anchors::Binary), raw, seen: 0, cut: false }
    }

    pub fn write(&mut self, cx: &mut Ctx<'_>, data: &[u8]) {
        self.watch.write(cx, data);
        if !self.watch.has_stored() {
            self.raw.write(cx, data);
        } else {
            // Stored zip member data is its member's to scan: left out here, with a line
            // break in its place so the bytes around it do not join.
            for piece in self.watch.unstored(self.seen, data.len(), &mut self.cut) {
                self.raw.write(cx, piece.map_or(b"\n".as_slice(), |r| &data[r]));
            }
        }
        self.seen += data.len() as u64;
    }

    pub fn finish(&mut self, cx: &mut Ctx<'_>) {
        self.raw.finish(cx);
        self.watch.finish(cx);
    }
}
