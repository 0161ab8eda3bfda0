//! Text runs to lines, the way the page shows them: runs are grouped by writing direction,
//! sorted into lines across it and by position along it, so text drawn out of order, piece
//! by piece, or turned still reads as it looks. A gap wider than a fraction of the font
//! size becomes a space, one wider than the font size (a table's next column) a tab; a run
//! drawn twice on itself (fake bold) counts once.

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
}

/// Runs of one page, and their text.
#[derive(Debug, Default)]
pub(super) struct Runs {
    pub runs: Vec<Run>,
    pub text: Vec<u8>,
}

impl Runs {
    pub fn clear(&mut self) {
        self.runs.clear();
        self.text.clear();
    }

    /// Appends the lines of the runs to `out` and forgets them.
    pub fn lay_out(&mut self, out: &mut Vec<u8>) {
        let runs = &mut self.runs;
        runs.sort_by(|a, b| a.key.cmp(&b.key).then(b.across.total_cmp(&a.across)));
        let mut i = 0;
        while i < runs.len() {
            // A line: runs of one direction whose positions across are close.
            let first = runs[i];
            let mut j = i + 1;
            while j < runs.len()
                && runs[j].key == first.key
                && (first.across - runs[j].across).abs() <= SAME_LINE * first.size.min(runs[j].size).max(0.0)
            {
                j += 1;
            }
            let line = &mut runs[i..j];
            line.sort_by(|a, b| a.along.total_cmp(&b.along));
            let mut end = f64::NEG_INFINITY;
            let mut last: Option<Run> = None;
            for r in line.iter() {
                let text = &self.text[r.text.0..r.text.1];
                if let Some(p) = last {
                    let same = &self.text[p.text.0..p.text.1] == text;
                    if same && (r.along - p.along).abs() < 0.1 * r.size.max(p.size) {
                        continue;
                    }
                    let gap = (r.along - end) / r.size.max(p.size);
                    let spaced = out.last().is_some_and(u8::is_ascii_whitespace)
                        || text.first().is_some_and(u8::is_ascii_whitespace);
                    if !(-COLUMN_GAP..=COLUMN_GAP).contains(&gap) {
                        // Another column (or text clipped by one): never part of this value.
                        out.push(b'\t');
                    } else if gap > WORD_GAP && !spaced {
                        out.push(b' ');
                    }
                }
                out.extend_from_slice(text);
                end = end.max(r.along + r.advance);
                last = Some(*r);
            }
            out.push(b'\n');
            i = j;
        }
        self.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(rs: &mut Runs, along: f64, across: f64, text: &str) {
        let s = rs.text.len();
        rs.text.extend_from_slice(text.as_bytes());
        let advance = text.len() as f64 * 6.0;
        rs.runs.push(Run { key: (0, true), along, across, advance, size: 10.0, text: (s, rs.text.len()) });
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
}
