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
}

impl BinaryNode {
    pub fn new(m: Member, raw: TextNode) -> Self {
        Self { watch: Watch::new(m, Anchors::Binary), raw }
    }

    pub fn write(&mut self, cx: &mut Ctx<'_>, data: &[u8]) {
        self.raw.write(cx, data);
        self.watch.write(cx, data);
    }

    pub fn finish(&mut self, cx: &mut Ctx<'_>) {
        self.raw.finish(cx);
        self.watch.finish(cx);
    }
}
