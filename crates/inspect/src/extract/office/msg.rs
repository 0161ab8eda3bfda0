//! Outlook messages (`.msg`): each property is a `__substg1.0_XXXXYYYY` stream (`XXXX` the
//! property, `YYYY` its type) in the message's storage, and recipients, attachments and
//! embedded messages are storages of the same shape, which the walker in `ole` reaches.
//!
//! String properties (UTF-16 `001F`, 8-bit `001E`, and their multi-valued forms) become
//! text: subject, plain body, sender and recipient names and addresses, transport headers,
//! attachment names. The compressed RTF body (`1009`) is decompressed and read as RTF; the
//! HTML body (`1013`) and every other binary property go through the pipeline (so an
//! attachment's data, `3701`, is scanned as a member named after its file name, `3707` or
//! `3704`). An embedded message (`3701000D`) is a storage, walked like the message.

use std::io::{Read, Seek};

use super::bytes::{cp1252_to_utf8, utf16le_to_utf8};
use super::lzfu;
use super::ole::{Child, Walker};
use super::{clean_name, scan_opaque, RawSink, Sink};

use crate::extract::{scan_member_bytes, Ctx, Member};

const PREFIX: &str = "__substg1.0_";

/// Whether a stream name is a property stream of a message.
pub(super) fn is_property_stream(name: &str) -> bool {
    name.len() >= PREFIX.len() + 8 && name.get(..PREFIX.len()).is_some_and(|p| p.eq_ignore_ascii_case(PREFIX))
}

/// The property id and type of a property stream's name.
fn tag(name: &str) -> Option<(u16, u16)> {
    let hex = name.get(PREFIX.len()..PREFIX.len() + 8)?;
    Some((u16::from_str_radix(hex.get(..4)?, 16).ok()?, u16::from_str_radix(hex.get(4..)?, 16).ok()?))
}

/// A readable name for evidence.
fn prop_name(id: u16) -> Option<&'static str> {
    Some(match id {
        0x0037 => "subject",
        0x0E1D => "normalized_subject",
        0x0070 => "topic",
        0x1000 => "body",
        0x1009 => "body.rtf",
        0x1013 => "body.html",
        0x007D => "headers",
        0x0C1A => "sender_name",
        0x0C1F => "sender_address",
        0x5D01 => "sender_smtp",
        0x0042 => "sent_as_name",
        0x0065 => "sent_as_address",
        0x0E04 => "to",
        0x0E03 => "cc",
        0x0E02 => "bcc",
        0x3001 => "display_name",
        0x3003 => "address",
        0x39FE => "smtp_address",
        0x3707 => "attachment_long_name",
        0x3704 => "attachment_name",
        0x370E => "attachment_mime_type",
        _ => return None,
    })
}

const TY_UNICODE: u16 = 0x001F;
const TY_STRING8: u16 = 0x001E;
const TY_BINARY: u16 = 0x0102;
const MULTI: u16 = 0x1000;
const RTF_COMPRESSED: u16 = 0x1009;
const ATTACH_DATA: u16 = 0x3701;

/// Reads the property streams among `children`, the entries of one message, recipient or
/// attachment storage.
pub(super) fn scan_properties<F: Read + Seek>(
    w: &mut Walker<'_, F>,
    cx: &mut Ctx<'_>,
    children: &[Child],
    m: &Member,
) {
    let props: Vec<(&Child, u16, u16)> = children
        .iter()
        .filter(|c| c.stream && is_property_stream(&c.name))
        .filter_map(|c| tag(&c.name).map(|(id, ty)| (c, id, ty)))
        .collect();
    // An attachment's file name names its data.
    let mut attachment = None;
    for want in [0x3707, 0x3704, 0x3001] {
        if let Some((c, _, ty)) = props.iter().find(|p| p.1 == want && p.2 & !MULTI != TY_BINARY) {
            if let Some(d) = w.read(cx, &c.path, m) {
                let name = string(&d, *ty);
                let name = String::from_utf8_lossy(&name).trim().to_string();
                if !name.is_empty() {
                    attachment = Some(name);
                    break;
                }
            }
        }
    }
    for (c, id, ty) in props {
        if cx.stopped() {
            return;
        }
        let pm = m.child(prop_name(id).unwrap_or(&clean_name(&c.name)));
        let Some(data) = w.read(cx, &c.path, &pm) else {
            if cx.stopped() {
                return;
            }
            continue;
        };
        match (id, ty & !MULTI) {
            (_, TY_UNICODE | TY_STRING8) => {
                let mut sink = Sink::new(&pm);
                sink.push(cx, &string(&data, ty));
                sink.finish(cx);
            }
            (RTF_COMPRESSED, TY_BINARY) => {
                // A back reference makes at most 17 bytes of 2, so the output is bounded by
                // nine times the input: that much is held before it is made.
                let cap = usize::try_from(cx.st.budget.limits.max_buffered_bytes)
                    .unwrap_or(usize::MAX)
                    .min(data.len().saturating_mul(9));
                if !cx.st.budget.hold(cap as u64, &pm.path) {
                    return;
                }
                let mut rtf_bytes = Vec::with_capacity(cap);
                let result = lzfu::decompress(&data, cap, &mut rtf_bytes);
                if !cx.st.budget.add_decompressed(rtf_bytes.len() as u64, &pm.path) {
                    return;
                }
                // The RTF reader accounts for every group: text, tables, objects, pictures.
                scan_member_bytes(cx, &rtf_bytes, pm.clone(), None);
                drop(rtf_bytes);
                cx.st.budget.release(cap as u64);
                if let Err(e) = result {
                    // What could not be decompressed is scanned as it is.
                    let mut raw = RawSink::new(&pm);
                    raw.push(cx, &data);
                    raw.finish(cx);
                    w.damaged(format!("{}: compressed RTF: {e:?}", pm.path));
                }
            }
            (ATTACH_DATA, TY_BINARY) => {
                let name = attachment.as_deref().map_or_else(|| "attachment".to_string(), clean_name);
                scan_opaque(cx, &data, m.child(&name));
            }
            _ => scan_opaque(cx, &data, pm),
        }
    }
}

/// A string property's text: UTF-16, or 8-bit (UTF-8 when it is valid, else Windows-1252).
fn string(data: &[u8], ty: u16) -> Vec<u8> {
    let mut out = Vec::new();
    if ty & !MULTI == TY_UNICODE {
        utf16le_to_utf8(data, &mut out);
    } else {
        let end = memchr::memchr(0, data).unwrap_or(data.len());
        match std::str::from_utf8(&data[..end]) {
            Ok(s) => out.extend_from_slice(s.as_bytes()),
            Err(_) => cp1252_to_utf8(&data[..end], &mut out),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn property_names() {
        assert_eq!(tag("__substg1.0_0037001F"), Some((0x37, 0x1F)));
        assert_eq!(tag("__substg1.0_3701000D"), Some((0x3701, 0x0D)));
        assert!(is_property_stream("__SUBSTG1.0_1000001F-00000001"));
        // Names are anything the file says: no slicing inside a character.
        for name in [
            "__substg1.0_\u{e9}\u{e9}\u{e9}\u{e9}",
            "__substg1.0_00\u{e9}1F\u{e9}x",
            "x\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}",
        ] {
            let _ = is_property_stream(name);
            assert_eq!(tag(name), None);
        }
    }
}
