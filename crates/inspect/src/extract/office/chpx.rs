//! Character properties of a Word 97-2003 document that change which text is shown:
//! revision marks (`sprmCFRMarkDel`, `sprmCFRMarkIns`) and hidden text (`sprmCFVanish`,
//! `sprmCFSpecVanish`), read from the `PlcBteChpx` in the table stream and the 512-byte
//! `ChpxFkp` pages it points at in `WordDocument`. Styles and piece modifiers can set these
//! too; they are not read (such text reads as displayed text).

use super::bytes::{u16_at, u32_at};

const PAGE: usize = 512;
const SPRM_DEL: u16 = 0x0800;
const SPRM_INS: u16 = 0x0801;
const SPRM_VANISH: u16 = 0x083C;
const SPRM_SPEC_VANISH: u16 = 0x0818;

/// How a character reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mark {
    /// In both views.
    Shown,
    /// Only in the current view (a tracked insertion).
    Inserted,
    /// Only in the original view (a tracked deletion, or hidden text).
    Removed,
}

/// Byte ranges of `WordDocument` with a mark other than [`Mark::Shown`], sorted.
#[derive(Debug, Default)]
pub(super) struct Marks {
    ranges: Vec<(usize, usize, Mark)>,
}

impl Marks {
    /// The mark of the character at byte `fc` of `WordDocument`, and where it changes.
    pub fn span(&self, fc: usize) -> (Mark, usize) {
        let k = self.ranges.partition_point(|r| r.1 <= fc);
        match self.ranges.get(k) {
            Some(&(s, e, mark)) if s <= fc => (mark, e),
            Some(&(s, _, _)) => (Mark::Shown, s),
            None => (Mark::Shown, usize::MAX),
        }
    }
}

/// Reads the marked ranges; anything unreadable reads as shown.
pub(super) fn marks(word: &[u8], table: &[u8], (at, len): (usize, usize)) -> Marks {
    let mut out = Marks::default();
    let Some(plc) = at.checked_add(len).and_then(|end| table.get(at..end)) else {
        return out;
    };
    if plc.len() < 4 {
        return out;
    }
    let n = (plc.len() - 4) / 8;
    // Each page is read once, however often the table names it.
    let mut seen = vec![false; word.len() / PAGE];
    for k in 0..n {
        let Some(pn) = u32_at(plc, 4 * (n + 1) + 4 * k) else { break };
        let pn = (pn & 0x003F_FFFF) as usize;
        let (Some(page), Some(flag)) = (word.get(pn * PAGE..(pn + 1) * PAGE), seen.get_mut(pn)) else {
            continue;
        };
        if std::mem::replace(flag, true) {
            continue;
        }
        fkp(page, &mut out.ranges);
    }
    // Sorted and without overlaps, so that a search by end finds the range of any byte.
    out.ranges.sort_unstable_by_key(|r| r.0);
    let mut end = 0;
    out.ranges.retain_mut(|r| {
        r.0 = r.0.max(end);
        end = end.max(r.1);
        r.0 < r.1
    });
    out
}

/// One `ChpxFkp` page: `crun` runs, each with its FC range and a CHPX (size byte, sprms).
fn fkp(page: &[u8], out: &mut Vec<(usize, usize, Mark)>) {
    let crun = usize::from(page[PAGE - 1]);
    if 4 * (crun + 1) + crun > PAGE - 1 {
        return;
    }
    for r in 0..crun {
        let (Some(start), Some(end)) = (u32_at(page, 4 * r), u32_at(page, 4 * (r + 1))) else { return };
        let offset = usize::from(page[4 * (crun + 1) + r]) * 2;
        if offset == 0 || end <= start {
            continue;
        }
        let Some(&cb) = page.get(offset) else { continue };
        let Some(grpprl) = page.get(offset + 1..offset + 1 + usize::from(cb)) else { continue };
        if let Some(mark) = mark_of(grpprl) {
            out.push((start as usize, end as usize, mark));
        }
    }
}

/// The mark a list of sprms sets, if any.
fn mark_of(grpprl: &[u8]) -> Option<Mark> {
    let mut mark = None;
    let mut i = 0;
    while let Some(sprm) = u16_at(grpprl, i) {
        i += 2;
        let size = match sprm >> 13 {
            0 | 1 => 1,
            2 | 4 | 5 => 2,
            3 => 4,
            7 => 3,
            _ => 1 + usize::from(*grpprl.get(i)?),
        };
        let on = grpprl.get(i).is_some_and(|&v| v == 1 || v == 0x81);
        match sprm {
            SPRM_DEL | SPRM_VANISH | SPRM_SPEC_VANISH if on => mark = Some(Mark::Removed),
            SPRM_INS if on && mark.is_none() => mark = Some(Mark::Inserted),
            _ => {}
        }
        i += size;
    }
    mark
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sprms_mark_ranges() {
        let mut page = vec![0u8; PAGE];
        // Two runs: [100, 110) deleted, [110, 120) plain.
        for (k, fc) in [100u32, 110, 120].iter().enumerate() {
            page[4 * k..4 * k + 4].copy_from_slice(&fc.to_le_bytes());
        }
        page[PAGE - 1] = 2;
        page[12] = 200 / 2;
        page[200] = 3;
        page[201..204].copy_from_slice(&[0x00, 0x08, 0x01]);
        let mut ranges = Vec::new();
        fkp(&page, &mut ranges);
        let marks = Marks { ranges };
        assert_eq!(marks.span(105), (Mark::Removed, 110));
        assert_eq!(marks.span(110), (Mark::Shown, usize::MAX));
        assert_eq!(marks.span(99), (Mark::Shown, 100));
        assert_eq!(mark_of(&[0x01, 0x08, 0x01]), Some(Mark::Inserted));
        assert_eq!(mark_of(&[0x3C, 0x08, 0x00]), None);
    }
}
