//! OLE2 compound files for tests: any tree of streams, property sets, and Outlook messages
//! (no Linux tool writes `.msg`, so they are built here from the specification: property
//! streams, recipients, attachments, an embedded message, compressed RTF).

use std::io::{Cursor, Write};

/// A compound file of `(path, data)` streams (storages are created as the paths need).
pub fn ole_of(streams: &[(&str, &[u8])]) -> Vec<u8> {
    build(streams, &[])
}

/// Like [`ole_of`], then removes the streams in `removed` (their sectors stay in the file,
/// unallocated, as they do when Office deletes a stream).
pub fn ole_with_removed(streams: &[(&str, &[u8])], removed: &[&str]) -> Vec<u8> {
    build(streams, removed)
}

fn build(streams: &[(&str, &[u8])], removed: &[&str]) -> Vec<u8> {
    let result = (|| -> std::io::Result<Vec<u8>> {
        let mut comp = cfb::CompoundFile::create(Cursor::new(Vec::new()))?;
        for (path, data) in streams {
            if let Some((dir, _)) = path.rsplit_once('/') {
                if !dir.is_empty() {
                    comp.create_storage_all(dir)?;
                }
            }
            let mut s = comp.create_stream(path)?;
            s.write_all(data)?;
        }
        for path in removed {
            comp.remove_stream(path)?;
        }
        comp.flush()?;
        Ok(comp.into_inner().into_inner())
    })();
    result.expect("building a test fixture")
}

/// LZFu "compressed" RTF holding `rtf` as literals only (valid for any decoder).
pub fn lzfu(rtf: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    let chunks: Vec<&[u8]> = rtf.chunks(8).collect();
    let full = if rtf.len().is_multiple_of(8) { chunks.len() } else { chunks.len() - 1 };
    for c in &chunks[..full] {
        body.push(0);
        body.extend_from_slice(c);
    }
    let rest: &[u8] = if full < chunks.len() { chunks[full] } else { &[] };
    // The last control byte: the remaining literals, then the end reference.
    body.push(1 << rest.len());
    body.extend_from_slice(rest);
    let wpos = (207 + rtf.len()) % 4096;
    body.extend_from_slice(&((wpos << 4) as u16).to_be_bytes());
    let mut out = Vec::new();
    out.extend_from_slice(&((body.len() + 12) as u32).to_le_bytes());
    out.extend_from_slice(&(rtf.len() as u32).to_le_bytes());
    out.extend_from_slice(b"LZFu");
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&body);
    out
}

fn utf16(s: &str) -> Vec<u8> {
    let mut v: Vec<u8> = s.encode_utf16().flat_map(u16::to_le_bytes).collect();
    v.extend_from_slice(&[0, 0]);
    v
}

/// Hiding places of messages that [`msg_with`] can fill.
pub const MSG_PLACES: &[&str] = &[
    "subject",
    "body",
    "html_body",
    "rtf_body",
    "headers",
    "sender_name",
    "recipient_address",
    "attachment_text",
    "attachment_name",
    "attachment_docx",
    "embedded_message_body",
    "embedded_message_attachment",
];

/// A message with `secret` in `place` (one of [`MSG_PLACES`]) and ordinary text elsewhere.
pub fn msg_with(place: &str, secret: &str) -> Vec<u8> {
    const FILLER: &str = "Please find the minutes of Tuesday's meeting attached.";
    let at = |p: &str| if p == place { secret } else { FILLER };
    let html = format!(
        "<html><body><p>{}</p></body></html>",
        at("html_body").replace('&', "&amp;").replace('<', "&lt;")
    );
    let rtf_text = at("rtf_body").replace('\\', "\\\\").replace('{', "\\{").replace('}', "\\}");
    let rtf = format!(
        "{{\\rtf1\\ansi\\ansicpg1252\\fromtext \\deff0{{\\fonttbl{{\\f0 Arial;}}}}\\f0 {rtf_text}\\par}}"
    );
    let headers =
        format!("Received: from mail.example.com\r\nX-Ref: {}\r\nSubject: minutes\r\n", at("headers"));
    let attachment_name =
        if place == "attachment_name" { format!("{secret}.txt") } else { "minutes.txt".into() };
    let docx = super::docx(&[at("attachment_docx")]);
    let inner_prefix = "__attach_version1.0_#00000001/__substg1.0_3701000D";
    let inner_body = utf16(at("embedded_message_body"));
    let inner_attachment = at("embedded_message_attachment").as_bytes().to_vec();
    let streams: Vec<(String, Vec<u8>)> = vec![
        ("__properties_version1.0".into(), vec![0; 32]),
        ("__substg1.0_001A001F".into(), utf16("IPM.Note")),
        ("__substg1.0_0037001F".into(), utf16(at("subject"))),
        ("__substg1.0_1000001F".into(), utf16(at("body"))),
        ("__substg1.0_10130102".into(), html.into_bytes()),
        ("__substg1.0_10090102".into(), lzfu(rtf.as_bytes())),
        ("__substg1.0_007D001F".into(), utf16(&headers)),
        ("__substg1.0_0C1A001F".into(), utf16(at("sender_name"))),
        ("__substg1.0_0C1F001F".into(), utf16("ann@example.com")),
        ("__recip_version1.0_#00000000/__properties_version1.0".into(), vec![0; 8]),
        ("__recip_version1.0_#00000000/__substg1.0_3001001F".into(), utf16("Bob Example")),
        ("__recip_version1.0_#00000000/__substg1.0_3003001F".into(), utf16(at("recipient_address"))),
        ("__attach_version1.0_#00000000/__properties_version1.0".into(), vec![0; 8]),
        ("__attach_version1.0_#00000000/__substg1.0_3707001F".into(), utf16(&attachment_name)),
        (
            "__attach_version1.0_#00000000/__substg1.0_37010102".into(),
            at("attachment_text").as_bytes().to_vec(),
        ),
        ("__attach_version1.0_#00000002/__properties_version1.0".into(), vec![0; 8]),
        ("__attach_version1.0_#00000002/__substg1.0_3707001F".into(), utf16("report.docx")),
        ("__attach_version1.0_#00000002/__substg1.0_37010102".into(), docx),
        ("__attach_version1.0_#00000001/__properties_version1.0".into(), vec![0; 8]),
        ("__attach_version1.0_#00000001/__substg1.0_3707001F".into(), utf16("forwarded.msg")),
        (format!("{inner_prefix}/__properties_version1.0"), vec![0; 24]),
        (format!("{inner_prefix}/__substg1.0_0037001F"), utf16("Fwd: numbers")),
        (format!("{inner_prefix}/__substg1.0_1000001F"), inner_body),
        (format!("{inner_prefix}/__attach_version1.0_#00000000/__substg1.0_3707001F"), utf16("inner.txt")),
        (format!("{inner_prefix}/__attach_version1.0_#00000000/__substg1.0_37010102"), inner_attachment),
    ];
    let refs: Vec<(&str, &[u8])> = streams.iter().map(|(p, d)| (p.as_str(), d.as_slice())).collect();
    ole_of(&refs)
}

/// A property-set stream (as `\x05SummaryInformation`) with one 8-bit string property per
/// item of `strings` (title, subject, author, ... in order, property ids from 2).
pub fn summary_information(strings: &[&str]) -> Vec<u8> {
    let mut props: Vec<(u32, Vec<u8>)> = vec![(1, [2u32.to_le_bytes(), 1252u32.to_le_bytes()].concat())];
    for (k, s) in strings.iter().enumerate() {
        let mut v = [0x1Eu32.to_le_bytes(), (s.len() as u32 + 1).to_le_bytes()].concat();
        v.extend_from_slice(s.as_bytes());
        v.push(0);
        v.resize(v.len().next_multiple_of(4), 0);
        props.push((k as u32 + 2, v));
    }
    let head = 8 + 8 * props.len();
    let size = head + props.iter().map(|p| p.1.len()).sum::<usize>();
    let mut set = Vec::new();
    set.extend_from_slice(&(size as u32).to_le_bytes());
    set.extend_from_slice(&(props.len() as u32).to_le_bytes());
    let mut at = head;
    for (id, v) in &props {
        set.extend_from_slice(&id.to_le_bytes());
        set.extend_from_slice(&(at as u32).to_le_bytes());
        at += v.len();
    }
    for (_, v) in &props {
        set.extend_from_slice(v);
    }
    let mut out = vec![0xFE, 0xFF, 0, 0, 6, 2, 0, 0];
    out.extend_from_slice(&[0u8; 16]);
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&[
        0xE0, 0x85, 0x9F, 0xF2, 0xF9, 0x4F, 0x68, 0x10, 0xAB, 0x91, 0x08, 0x00, 0x2B, 0x27, 0xB3, 0xD9,
    ]);
    out.extend_from_slice(&48u32.to_le_bytes());
    out.extend_from_slice(&set);
    out
}
