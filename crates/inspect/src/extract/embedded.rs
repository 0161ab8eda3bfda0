//! Binary objects (executables, unknown binary, legacy Office) are scanned as raw bytes; a
//! zip inside one (a self-extracting installer, a jar in a wrapper) is opened as well.
//!
//! From the first local file header signature on, the bytes are also kept (within
//! [`Limits::max_buffered_bytes`](crate::Limits)); at the end, if they hold a zip whose end
//! record closes the object, its members are scanned. Bytes that do not form a zip were
//! scanned raw already, so a stray signature costs nothing else.

use std::io::Cursor;

use super::zip_layout::ends_with_zip;
use super::{scan_zip, Ctx, Member, TextNode};
use crate::limits::LimitKind;

const LOCAL_HEADER: &[u8; 4] = b"PK\x03\x04";

/// A raw binary object with a watch for an embedded zip.
#[derive(Debug)]
pub(crate) struct BinaryNode {
    m: Member,
    raw: TextNode,
    /// The last bytes seen, for a signature split between writes.
    carry: Vec<u8>,
    seen: u64,
    /// From the first local header on: its offset and the bytes.
    zip: Option<(u64, Vec<u8>)>,
}

impl BinaryNode {
    pub fn new(m: Member, raw: TextNode) -> Self {
        Self { m, raw, carry: Vec::new(), seen: 0, zip: None }
    }

    pub fn write(&mut self, cx: &mut Ctx<'_>, data: &[u8]) {
        self.raw.write(cx, data);
        match &mut self.zip {
            Some((_, buf)) => {
                if (buf.len() + data.len()) as u64 > cx.st.budget.limits.max_buffered_bytes {
                    cx.st.budget.limit(LimitKind::MaxBufferedBytes, &self.m.path);
                    self.zip = None;
                    return;
                }
                buf.extend_from_slice(data);
            }
            None => {
                let split = self.carry.len();
                let mut window = std::mem::take(&mut self.carry);
                window.extend_from_slice(&data[..data.len().min(3)]);
                let start = match memchr::memmem::find(&window, LOCAL_HEADER) {
                    // A signature split between the last write and this one.
                    Some(p) if p < split => {
                        Some((self.seen - (split - p) as u64, [&window[p..split], data].concat()))
                    }
                    _ => memchr::memmem::find(data, LOCAL_HEADER)
                        .map(|p| (self.seen + p as u64, data[p..].to_vec())),
                };
                match start {
                    Some(z) => self.zip = Some(z),
                    None => {
                        let mut tail: Vec<u8> =
                            window[..split].iter().chain(data).rev().take(3).copied().collect();
                        tail.reverse();
                        self.carry = tail;
                    }
                }
            }
        }
        self.seen += data.len() as u64;
    }

    pub fn finish(&mut self, cx: &mut Ctx<'_>) {
        self.raw.finish(cx);
        if let Some((at, buf)) = self.zip.take() {
            let mut r = Cursor::new(buf.as_slice());
            if !cx.stopped() && ends_with_zip(&mut r) {
                scan_zip(cx, r, &self.m.child(&format!("(zip at {at})")));
            }
        }
    }
}
