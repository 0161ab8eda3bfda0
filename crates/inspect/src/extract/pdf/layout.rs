//! Text runs to lines, the way the page shows them: runs are grouped by writing direction,
//! sorted into lines across it and by position along it, so text drawn out of order, piece
//! by piece, or turned still reads as it looks. A gap wider than a fraction of the font
//! size becomes a space, one wider than the font size (a table's next column) a tab; a run
//! drawn twice on itself (fake bold) counts once. Glyphs drawn one by one with the same
//! gap between each (letter-spacing: a `TJ` array with kerning between glyphs, a `Td` or
//! `Tm` per glyph) read as one word: the tracking is taken off every gap of the run of
//! single glyphs before it is judged, so a card printed letter-spaced reads as a card and
//! its groups, set further apart, still part.

/// Gap, in font sizes, above which two runs on a line are separate words.
const WORD_GAP: f64 = 0.15;
/// Gap, in font sizes, beyond which (either way) two runs are in different columns.
const COLUMN_GAP: f64 = 1.0;
/// Distance across the line, in font sizes, within which runs share a line.
const SAME_LINE: f64 = 0.4;

/// One string shown at one place.
#[derive(Debug, Clone, Copy)]
pub(super) struct Run {
    /// Writing direction (degrees) and handedness: runs only line up with their own kind.
    pub key: (i32, bool),
    /// Position along the writing direction, and across it ("up" for the glyphs).
    pub along: f64,
    pub across: f64,
    /// Length along the writing direction.
    pub advance: f64,
    /// Font size in page units.
    pub size: f64,
    /// The run's text in the arena.
    pub text: (usize, usize),
    /// Drawn invisibly (render mode 3 or 7): laid out apart from what is shown, never
    /// joined to it.
    pub hidden: bool,
}

/// A run kept on a line: its index, the gap before it in font sizes, whether it is one
/// character.
#[derive(Debug, Clone, Copy)]
struct Kept {
    index: usize,
    gap: f64,
    single: bool,
}

/// Runs of one page, and their text.
#[derive(Debug, Default)]
pub(super) struct Runs {
    pub runs: Vec<Run>,
    pub text: Vec<u8>,
    /// The runs of the line being laid out (scratch).
    kept: Vec<Kept>,
}

impl Runs {
    pub fn clear(&mut self) {
        self.runs.clear();
        self.text.clear();
    }

    /// Appends the lines of the runs to `out` and forgets them.
    pub fn lay_out(&mut self, out: &mut Vec<u8>) {
        let runs = &mut self.runs;
        runs.sort_by(|a, b| (a.hidden, a.key).cmp(&(b.hidden, b.key)).then(b.across.total_cmp(&a.across)));
        let mut i = 0;
        while i < runs.len() {
            // A line: runs of one direction whose positions across are close.
            let first = runs[i];
            let mut j = i + 1;
            while j < runs.len()
                && runs[j].key == first.key
                && runs[j].hidden == first.hidden
                && (first.across - runs[j].across).abs() <= SAME_LINE * first.size.min(runs[j].size).max(0.0)
            {
                j += 1;
            }
            let line = &mut runs[i..j];
            line.sort_by(|a, b| a.along.total_cmp(&b.along));
            // The runs kept (a run drawn twice on itself counts once), and the gap before each.
            let kept = &mut self.kept;
            kept.clear();
            let mut end = f64::NEG_INFINITY;
            let mut last: Option<Run> = None;
            for (index, r) in line.iter().enumerate() {
                let text = &self.text[r.text.0..r.text.1];
                let mut gap = 0.0;
                if let Some(p) = last {
                    let same = &self.text[p.text.0..p.text.1] == text;
                    if same && (r.along - p.along).abs() < 0.1 * r.size.max(p.size) {
                        continue;
                    }
                    gap = (r.along - end) / r.size.max(p.size);
                }
                let single = std::str::from_utf8(text).is_ok_and(|t| t.chars().count() == 1);
                kept.push(Kept { index, gap, single });
                end = end.max(r.along + r.advance);
                last = Some(*r);
            }
            for n in 0..kept.len() {
                let Kept { index, gap, .. } = kept[n];
                let text = &self.text[line[index].text.0..line[index].text.1];
                if n > 0 {
                    let spaced = out.last().is_some_and(u8::is_ascii_whitespace)
                        || text.first().is_some_and(u8::is_ascii_whitespace);
                    if !(-COLUMN_GAP..=COLUMN_GAP).contains(&gap) {
                        // Another column (or text clipped by one): never part of this value.
                        out.push(b'\t');
                    } else if gap - tracking(kept, n) > WORD_GAP && !spaced {
                        out.push(b' ');
                    }
                }
                out.extend_from_slice(text);
            }
            out.push(b'\n');
            i = j;
        }
        self.clear();
    }
}

/// The letter-spacing in effect at the gap before `kept[n]`: when that gap joins two single
/// glyphs and at least one neighbouring gap does too, the smallest of these gaps (within a
/// line, not below zero); otherwise none. Two glyphs alone are no evidence of tracking.
fn tracking(kept: &[Kept], n: usize) -> f64 {
    let joins_singles = |k: usize| k >= 1 && k < kept.len() && kept[k - 1].single && kept[k].single;
    if !joins_singles(n) {
        return 0.0;
    }
    let neighbours = [n.checked_sub(1), Some(n + 1)];
    let gaps = neighbours.into_iter().flatten().filter(|&k| joins_singles(k)).map(|k| kept[k].gap);
    let Some(least) = gaps.filter(|g| (0.0..=COLUMN_GAP).contains(g)).reduce(f64::min) else {
        return 0.0;
    };
    least.min(kept[n].gap).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(rs: &mut Runs, along: f64, across: f64, text: &str) {
        let s = rs.text.len();
        rs.text.extend_from_slice(text.as_bytes());
        let advance = text.len() as f64 * 6.0;
        rs.runs.push(Run {
            key: (0, true),
            along,
            across,
            advance,
            size: 10.0,
            text: (s, rs.text.len()),
            hidden: false,
        });
    }

    #[test]
    fn out_of_order_runs_read_in_place() {
        let mut rs = Runs::default();
        run(&mut rs, 64.0, 700.0, "1111");
        run(&mut rs, 40.0, 700.0, "4111");
        run(&mut rs, 40.0, 688.0, "next line");
        run(&mut rs, 92.0, 700.2, "2222");
        run(&mut rs, 92.0, 700.2, "2222");
        run(&mut rs, 150.0, 700.0, "next column");
        let mut out = Vec::new();
        rs.lay_out(&mut out);
        assert_eq!(String::from_utf8(out).unwrap(), "41111111 2222\tnext column\nnext line\n");
    }

    #[test]
    fn letter_spacing_is_taken_off_the_gaps() {
        // Glyphs 2.5 points apart (0.25 of the size), groups 6.5 apart; a lone pair of
        // glyphs 2.5 apart stays two words, and a tracked run next to a word keeps its space.
        let mut rs = Runs::default();
        let mut x = 40.0;
        for (k, ch) in "4111111111111111".chars().enumerate() {
            if k > 0 {
                x += if k % 4 == 0 { 12.5 } else { 8.5 };
            }
            run(&mut rs, x, 700.0, &ch.to_string());
        }
        run(&mut rs, 40.0, 680.0, "a");
        run(&mut rs, 48.5, 680.0, "b");
        run(&mut rs, 40.0, 660.0, "Card:");
        for (k, ch) in "4111".chars().enumerate() {
            run(&mut rs, 72.5 + 8.5 * k as f64, 660.0, &ch.to_string());
        }
        let mut out = Vec::new();
        rs.lay_out(&mut out);
        assert_eq!(String::from_utf8(out).unwrap(), "4111 1111 1111 1111\na b\nCard: 4111\n");
    }
}
