//! Minimal Excel 97-2003 and Word 97-2003 files of any size, built from the specifications
//! (what the parsers need and nothing more), for the corpus and the benchmarks. Real files
//! made by LibreOffice are in `tests/fixtures/office`.

use super::ole::ole_of;

/// Largest record payload of BIFF8.
const MAX_RECORD: usize = 8224;

fn record(out: &mut Vec<u8>, ty: u16, body: &[u8]) {
    out.extend_from_slice(&ty.to_le_bytes());
    out.extend_from_slice(&(body.len() as u16).to_le_bytes());
    out.extend_from_slice(body);
}

/// A workbook whose one sheet has a cell per line (column A, then B past 65,536 rows), the
/// strings in a shared string table that continues over as many records as it needs, split
/// mid-string as Excel splits them.
pub fn xls(lines: &[&str]) -> Vec<u8> {
    // Excel's limit per string is 32,767 characters: longer lines become several cells.
    let strings: Vec<&str> = lines
        .iter()
        .flat_map(|l| {
            let mut parts = Vec::new();
            let mut rest = *l;
            while rest.chars().count() > 32_000 {
                let cut = rest.char_indices().nth(32_000).map_or(rest.len(), |(i, _)| i);
                parts.push(&rest[..cut]);
                rest = &rest[cut..];
            }
            parts.push(rest);
            parts
        })
        .collect();
    let mut sst_records: Vec<Vec<u8>> = Vec::new();
    let mut cur = Vec::new();
    cur.extend_from_slice(&(strings.len() as u32).to_le_bytes());
    cur.extend_from_slice(&(strings.len() as u32).to_le_bytes());
    for s in &strings {
        let wide = !s.is_ascii();
        let units: Vec<u16> = s.encode_utf16().collect();
        if cur.len() + 4 > MAX_RECORD {
            sst_records.push(std::mem::take(&mut cur));
        }
        cur.extend_from_slice(&(units.len() as u16).to_le_bytes());
        cur.push(u8::from(wide));
        let width = if wide { 2 } else { 1 };
        let mut k = 0;
        while k < units.len() {
            if cur.len() + width > MAX_RECORD {
                sst_records.push(std::mem::take(&mut cur));
                cur.push(u8::from(wide));
            }
            let n = ((MAX_RECORD - cur.len()) / width).min(units.len() - k);
            for &u in &units[k..k + n] {
                if wide {
                    cur.extend_from_slice(&u.to_le_bytes());
                } else {
                    cur.push(u as u8);
                }
            }
            k += n;
        }
    }
    sst_records.push(cur);
    let bof = |dt: u16| [&0x0600u16.to_le_bytes()[..], &dt.to_le_bytes(), &[0; 12]].concat();
    let mut globals = Vec::new();
    record(&mut globals, 0x0809, &bof(0x0005));
    let sheet_name = b"Sheet1";
    let boundsheet_at = globals.len();
    let mut bs = vec![0u8; 4];
    bs.extend_from_slice(&[0, 0, sheet_name.len() as u8, 0]);
    bs.extend_from_slice(sheet_name);
    record(&mut globals, 0x0085, &bs);
    for (k, r) in sst_records.iter().enumerate() {
        record(&mut globals, if k == 0 { 0x00FC } else { 0x003C }, r);
    }
    record(&mut globals, 0x000A, &[]);
    let sheet_at = globals.len() as u32;
    globals[boundsheet_at + 4..boundsheet_at + 8].copy_from_slice(&sheet_at.to_le_bytes());
    record(&mut globals, 0x0809, &bof(0x0010));
    for i in 0..strings.len() {
        let (row, col) = ((i % 65_536) as u16, (i / 65_536) as u16);
        let cell =
            [&row.to_le_bytes()[..], &col.to_le_bytes(), &15u16.to_le_bytes(), &(i as u32).to_le_bytes()]
                .concat();
        record(&mut globals, 0x00FD, &cell);
    }
    record(&mut globals, 0x000A, &[]);
    ole_of(&[("Workbook", &globals)])
}

/// Where the text starts in `WordDocument`.
const TEXT_AT: usize = 0x800;

/// A Word document with one paragraph per line: a FIB, the text as one piece (8-bit when it
/// is all ASCII, UTF-16 otherwise), and the piece table in `1Table`.
pub fn doc(lines: &[&str]) -> Vec<u8> {
    let mut text: Vec<u16> = Vec::new();
    for l in lines {
        text.extend(l.encode_utf16());
        text.push(0x0D);
    }
    let compressed = text.iter().all(|&u| u < 0x80);
    let mut word = vec![0u8; TEXT_AT];
    // FibBase: wIdent, nFib, lid, fWhichTblStm.
    word[0..2].copy_from_slice(&0xA5ECu16.to_le_bytes());
    word[2..4].copy_from_slice(&0x00C1u16.to_le_bytes());
    word[6..8].copy_from_slice(&0x0409u16.to_le_bytes());
    word[0x0A..0x0C].copy_from_slice(&0x0200u16.to_le_bytes());
    // csw = 14, then fibRgW; cslw = 22, then fibRgLw with ccpText; cbRgFcLcb = 93 pairs.
    let mut at = 32;
    word[at..at + 2].copy_from_slice(&14u16.to_le_bytes());
    at += 2 + 28;
    word[at..at + 2].copy_from_slice(&22u16.to_le_bytes());
    let rglw = at + 2;
    word[rglw + 12..rglw + 16].copy_from_slice(&(text.len() as u32).to_le_bytes());
    at = rglw + 88;
    word[at..at + 2].copy_from_slice(&93u16.to_le_bytes());
    let pairs = at + 2;
    if compressed {
        word.extend(text.iter().map(|&u| u as u8));
    } else {
        word.extend(text.iter().flat_map(|u| u.to_le_bytes()));
    }
    let fc = if compressed { (TEXT_AT as u32 * 2) | 0x4000_0000 } else { TEXT_AT as u32 };
    let mut plc = Vec::new();
    plc.extend_from_slice(&0u32.to_le_bytes());
    plc.extend_from_slice(&(text.len() as u32).to_le_bytes());
    plc.extend_from_slice(&0u16.to_le_bytes());
    plc.extend_from_slice(&fc.to_le_bytes());
    plc.extend_from_slice(&0u16.to_le_bytes());
    let mut table = vec![0x02];
    table.extend_from_slice(&(plc.len() as u32).to_le_bytes());
    table.extend_from_slice(&plc);
    // fcClx / lcbClx: pair 33.
    word[pairs + 33 * 8..pairs + 33 * 8 + 4].copy_from_slice(&0u32.to_le_bytes());
    word[pairs + 33 * 8 + 4..pairs + 33 * 8 + 8].copy_from_slice(&(table.len() as u32).to_le_bytes());
    ole_of(&[("WordDocument", &word), ("1Table", &table)])
}
