//! Numeric types driven by digit runs: credit_card, us_ssn, phone, and iban (in `iban`),
//! found at the digits after its country code.
//!
//! The scan finds the digits of each 64-byte block as a bit mask ([`classes`]: SSE2 on
//! x86-64), skips blocks without one, and looks at each
//! run of digits once, at its first digit, with its length from the mask.
//! [`worth_examining`] (or, in a block of three runs or more, [`worth_a_look`], for all the
//! block's runs at once) then refuses most runs from their length and the bytes around them
//! alone: in number-dense text most runs are dates,
//! amounts, times, parts of ids or later groups of a grouped number. Only the rest go to
//! [`candidate`], where a run may start a token of digit groups joined by one kind of
//! separator, and the token's shape decides which validators run.

use super::classes::{self, digit_mask8, BlockClasses, CLASS, COMMA, DOT, LETTER, PLUS, WORD};
use super::{before, context, is_word, spaced, Builtin, Confidence, Found};

const MAX_GROUPS: usize = 8;

/// Digit groups joined by one separator, starting at a run of digits.
#[derive(Debug, Default)]
struct Token {
    groups: [(usize, usize); MAX_GROUPS],
    n: usize,
    sep: u8,
    /// The first separator's length and the group it follows (0: only a line break
    /// joined groups so far): every separator of a token is the same bytes
    /// (`4111 1111 1111 1111  12` is a card and a number, not one token).
    sep_len: u8,
    sep_group: u8,
    /// Where a line break stood for a space separator (at most one per token).
    broken: Option<usize>,
    end: usize,
}

impl Token {
    /// The bytes that join its groups (a space when only a line break did).
    fn separator<'b>(&self, buf: &'b [u8]) -> &'b [u8] {
        if self.sep_len == 0 {
            return b" ";
        }
        let s = self.groups[usize::from(self.sep_group)].1;
        &buf[s..s + usize::from(self.sep_len)]
    }

    fn lens(&self) -> impl Iterator<Item = usize> + '_ {
        self.groups[..self.n].iter().map(|&(s, e)| e - s)
    }

    fn shape_is(&self, shape: &[usize]) -> bool {
        self.n == shape.len() && self.lens().zip(shape).all(|(a, &b)| a == b)
    }

    fn digits(&self, buf: &[u8], out: &mut Vec<u8>) {
        out.clear();
        for &(s, e) in &self.groups[..self.n] {
            out.extend_from_slice(&buf[s..e]);
        }
    }
}

/// The end of the run of digits at `i`: eight bytes a step by the digit mask (groups,
/// ids and card numbers are read in one or two steps), the last few bytes one by one.
fn run_end(buf: &[u8], mut i: usize) -> usize {
    while let Some(w) = buf.get(i..i + 8) {
        let mut a = [0u8; 8];
        a.copy_from_slice(w);
        let ones = digit_mask8(u64::from_le_bytes(a)).trailing_ones() as usize;
        i += ones;
        if ones < 8 {
            return i;
        }
    }
    while i < buf.len() && buf[i].is_ascii_digit() {
        i += 1;
    }
    i
}

/// The token of groups joined by one kind of separator ([`separator_at`]) from the run of
/// digits `buf[start..first_end]`; with `wrap`, one line break may stand for blanks.
#[inline(always)]
fn tokenize(buf: &[u8], start: usize, first_end: usize, wrap: bool, t: &mut Token) {
    // Only `n` groups are read: the array is left as it is.
    (t.n, t.sep, t.sep_len, t.sep_group, t.broken, t.end) = (0, 0, 0, 0, None, 0);
    let mut i = start;
    let mut e = first_end;
    loop {
        t.groups[t.n] = (i, e);
        t.n += 1;
        t.end = e;
        if t.n == MAX_GROUPS || e - i > 19 {
            break;
        }
        // A token's separators are the same bytes throughout; a line break alone
        // (`sep_len` 0) stood for blanks of any kind.
        if let Some((c, next)) = separator_at(buf, e) {
            let fits = t.sep == 0
                || (t.sep_len == 0 && is_blank(&c))
                || (t.sep == c
                    && usize::from(t.sep_len) == next - e
                    && (next == e + 1 || same_bytes(t.separator(buf), &buf[e..next])));
            if fits {
                if t.sep_len == 0 {
                    // At most MAX_BLANKS bytes, and at most MAX_GROUPS groups.
                    t.sep_len = u8::try_from(next - e).unwrap_or(u8::MAX);
                    t.sep_group = u8::try_from(t.n - 1).unwrap_or(u8::MAX);
                }
                t.sep = c;
                i = next;
                e = run_end(buf, i);
                continue;
            }
        }
        // Once, a line break where blanks would be.
        if wrap && t.broken.is_none() && (t.sep == 0 || is_blank(&t.sep)) {
            if let Some(next) = line_break(buf, e).filter(|&j| buf.get(j).is_some_and(u8::is_ascii_digit)) {
                t.broken = Some(e);
                if t.sep == 0 {
                    t.sep = b' ';
                }
                i = next;
                e = run_end(buf, i);
                continue;
            }
        }
        break;
    }
}

/// Most blanks (spaces and tabs) that join two groups of a number: two spaces, or a tab
/// from a table cell or a Word `<w:tab/>`, are how people and programs lay groups out.
const MAX_BLANKS: usize = 3;

fn is_blank(b: &u8) -> bool {
    matches!(b, b' ' | b'\t')
}

/// The separator after a group that ends at `e`, as its first byte, and where the next
/// group starts: `-` or `.`, or 1 to [`MAX_BLANKS`] spaces and tabs, followed by a digit.
#[inline]
fn separator_at(buf: &[u8], e: usize) -> Option<(u8, usize)> {
    let c = *buf.get(e)?;
    if !matches!(c, b' ' | b'-' | b'.' | b'\t') {
        return None;
    }
    // One byte, then a digit: nearly every grouped number.
    if buf.get(e + 1).is_some_and(u8::is_ascii_digit) {
        return Some((c, e + 1));
    }
    if is_blank(&c) {
        blanks_before(buf, e, u8::is_ascii_digit).map(|next| (c, next))
    } else {
        None
    }
}

/// Where 1 to [`MAX_BLANKS`] blanks from `e` end, when a byte that `next` accepts follows.
pub(super) fn blanks_before(buf: &[u8], e: usize, next: impl Fn(&u8) -> bool) -> Option<usize> {
    let n = buf.iter().skip(e).take(MAX_BLANKS + 1).take_while(|b| is_blank(b)).count();
    ((1..=MAX_BLANKS).contains(&n) && buf.get(e + n).is_some_and(next)).then_some(e + n)
}

/// Whether a group and the separator `sep` come right before `i`: the run at `i` then
/// continues a token and does not start one.
fn separator_before(buf: &[u8], i: usize, sep: &[u8]) -> bool {
    let n = sep.len();
    i > n && same_bytes(&buf[i - n..i], sep) && buf[i - n - 1].is_ascii_digit()
}

/// Slice equality for separators of a few bytes, without a call to `memcmp`.
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// Shortest line, from its start to the break, on which a grouped value may wrap: lines of
/// wrapped text are long, rows of a table of numbers often short.
const MIN_WRAPPED_LINE: usize = 40;

/// One line break at `e` (`\n` or `\r\n`, with spaces or tabs before and after it): the
/// index after it.
pub(super) fn line_break(buf: &[u8], e: usize) -> Option<usize> {
    let blank = |j: usize| buf.iter().skip(j).take_while(|&&b| b == b' ' || b == b'\t').count();
    let mut j = e + blank(e);
    if buf.get(j) == Some(&b'\r') {
        j += 1;
    }
    if buf.get(j) != Some(&b'\n') {
        return None;
    }
    j += 1;
    Some(j + blank(j))
}

/// Whether the line holding `s` is at least [`MIN_WRAPPED_LINE`] bytes long up to `brk`.
fn wrapped_line(buf: &[u8], s: usize, brk: usize) -> bool {
    let from = brk.saturating_sub(MIN_WRAPPED_LINE);
    brk >= MIN_WRAPPED_LINE && memchr::memchr2(b'\n', b'\r', &buf[from..s]).is_none()
}

/// Examines every digit run that starts in `buf[start..end]`.
pub(super) fn scan(buf: &[u8], base: u64, start: usize, end: usize, found: &mut Found<'_>) {
    let mut i = start;
    let mut digits = Vec::with_capacity(32);
    let mut prev_digit = before(buf, i).is_some_and(|b| b.is_ascii_digit());
    // The digits and classes of the block's first lane (16 bytes), when the block before
    // judged only its first [`JUDGED`] bytes and so has read them: each byte is classified
    // once.
    let mut carried: Option<(u64, BlockClasses, Before)> = None;
    // Where the last row of lone digits read ended ([`spaced`]).
    let mut spaced_done = 0;
    while i + 64 <= end {
        let Ok(block) = <&[u8; 64]>::try_from(&buf[i..i + 64]) else {
            break;
        };
        let known = carried.take();
        let m = match known {
            Some((digits, ..)) => digits | classes::digits::<1>(block),
            None => classes::digits::<0>(block),
        };
        if m == 0 {
            prev_digit = false;
            i += 64;
            continue;
        }
        // Run starts: digits whose previous byte is not one.
        let all_starts = m & !((m << 1) | u64::from(prev_digit));
        // Blocks of prose and of number-dense text hold a run or two: the bulk test
        // pays off from three. It judges the runs that start in the first
        // [`JUDGED`] bytes, whose lengths and next groups the block holds, and the next
        // block starts after them.
        let two = all_starts & all_starts.wrapping_sub(1);
        let three = two & two.wrapping_sub(1);
        let (mut starts, stride, judged) = if three != 0 {
            let (c, before) = match known {
                Some((_, c, before)) => (classes::classes::<1>(block, c), before),
                None => (classes::classes::<0>(block, BlockClasses::default()), Before::from_table(buf, i)),
            };
            carried = Some((m >> JUDGED, c.shifted(JUDGED as u32), Before::from_block(&c, m)));
            // A card written one digit at a time makes a block of many runs.
            let mut rows = spaced::rows(m);
            while rows != 0 {
                let k = i + rows.trailing_zeros() as usize;
                spaced::at(buf, base, k, start, end, found, &mut spaced_done);
                rows &= rows - 1;
            }
            (worth_a_look(buf, i, &c, before, m, all_starts & ((1 << JUDGED) - 1)), JUDGED, true)
        } else {
            (all_starts, 64, false)
        };
        while starts != 0 {
            let j = starts.trailing_zeros() as usize;
            // The run's end, from the mask while it stays inside the block.
            let ones = (m >> j).trailing_ones() as usize;
            let e = if j + ones < 64 { i + j + ones } else { run_end(buf, i + 64) };
            // The bulk test keeps few runs [`worth_examining`] would refuse, and
            // [`candidate`] refuses those: a second look would cost more than it saves.
            if judged || worth_examining(buf, i + j, e) {
                candidate(buf, base, i + j, e, found, &mut digits);
            }
            starts &= starts - 1;
        }
        prev_digit = (m >> (stride - 1)) & 1 == 1;
        i += stride;
    }
    while i < end {
        if buf[i].is_ascii_digit() && !before(buf, i).is_some_and(|b| b.is_ascii_digit()) {
            if spaced::may_start(buf, i) {
                spaced::at(buf, base, i, start, end, found, &mut spaced_done);
            }
            let e = run_end(buf, i);
            if worth_examining(buf, i, e) {
                candidate(buf, base, i, e, found, &mut digits);
            }
        }
        i += 1;
    }
}

/// The run starts of a block (digit mask `m`, run starts `starts`, at `buf[i..i + 64]`)
/// that can begin a match: in a CSV row most runs (dates, amounts, times, parts of ids,
/// later groups of a grouped number) can not by their length and the bytes around them,
/// and all of those come from masks for all runs at once, a few operations per block
/// instead of a look per run. The kept runs go to [`candidate`] without
/// [`worth_examining`]: every run it refuses that a match could start at is refused here
/// too, and the few it refuses that are kept here, [`candidate`] refuses.
///
/// A run is kept after a `+`, or when it is two digits or more after two letters (an IBAN
/// country code, of either case) that are a word of their own; after any other word byte
/// it is refused; otherwise runs of 9 or 13 digits or more are kept, runs of 3 and 4 only
/// before what can follow the first group of a phone number, SSN or grouped card, and no
/// other. Only runs that start in the first [`JUDGED`] bytes are judged (`starts` holds no
/// other): their lengths, and those of the groups after them, are exact from the mask.
#[inline(always)]
fn worth_a_look(buf: &[u8], i: usize, c: &BlockClasses, before: Before, m: u64, starts: u64) -> u64 {
    // Bit j of `geN`: the run of digits from j is N long or longer (within the block).
    let ge2 = m & (m >> 1);
    let ge3 = ge2 & (m >> 2);
    let ge4 = ge2 & (ge2 >> 2);
    let ge5 = ge4 & (m >> 4);
    let ge6 = ge4 & (ge2 >> 4);
    let ge7 = ge4 & (ge3 >> 4);
    let ge8 = ge4 & (ge4 >> 4);
    let ge9 = ge8 & (m >> 8);
    let ge10 = ge8 & (ge2 >> 8);
    let ge13 = ge8 & (ge5 >> 8);
    // Bit j: the byte j + n is of the class (`after(x, n)`), for a run of n at j.
    let after = |x: u64, n: u32| x >> n;
    // Three digits, then `)`, or a separator (a tab is one) and a group of two or three
    // (SSN, phone), or two blanks (maybe a third, then a group).
    let len3 = ge3 & !ge4;
    let groups_2_3 = ge2 & !ge4;
    let three = len3
        & (after(c.close_paren, 3)
            | (after(c.sep, 3) & after(groups_2_3, 4))
            | (after(c.blank, 3) & after(c.blank, 4)));
    // Four digits, then a separator, a group of four or six and what can join a third
    // group (a grouped card, maybe wrapped after its first or second group; an invoice
    // number, `INV-2024-000123`, has no third), or two blanks (more blanks and a group, or
    // a line break: a card wrapped after its first group). After four digits and a line
    // break, a group of another length starts no card, SSN or phone number.
    let len4 = ge4 & !ge5;
    let len6 = ge6 & !ge7;
    let second = (after(len4, 5) & after(c.sep, 9)) | (after(len6, 5) & after(c.sep, 11));
    // A group of four that continues a group before it with the same one-byte separator
    // (`4111 1111 ...` at its second group) starts no token.
    let continues = (c.join << 1) & (m << 2) & classes::same_around_four(buf, i) & after(m, 5);
    let four = len4 & ((after(c.sep, 4) & second) | (after(c.blank, 4) & after(c.blank, 5))) & !continues;
    let by_length = three | four | (ge9 & !ge10) | ge13;
    // The bytes before the block come in as the low bits of `before`.
    let prev_word = (c.word << 1) | (before.word >> 2);
    let prev_plus = (c.plus << 1) | before.plus;
    let prev_letter = (c.letter << 1) | (before.letter >> 1);
    let prev2_letter = (c.letter << 2) | before.letter;
    // An IBAN's country code is a word of its own: `ee77` in a hex id is no IBAN.
    let prev3_word = ((c.word | m) << 3) | before.word;
    // One letter right before 13 digits or more: the `B` of a magnetic stripe's track 1
    // ([`track_one`] decides).
    let lone_letter = ge13 & prev_letter & !prev2_letter;
    starts
        & ((by_length & !prev_word)
            | prev_plus
            | (prev_letter & prev2_letter & !prev3_word & ge2)
            | lone_letter)
}

/// The classes of the three bytes before a block that [`worth_a_look`] reads, as the low
/// bits of masks (the byte right before the block highest): a block that follows a judged
/// one takes them from that block's masks instead of three table loads.
#[derive(Debug, Clone, Copy)]
struct Before {
    /// Word bytes, digits included (`CLASS`'s `WORD`), at `i - 3..i`.
    word: u64,
    /// Letters at `i - 2..i`.
    letter: u64,
    /// A `+` at `i - 1`.
    plus: u64,
}

impl Before {
    /// From the byte table, for a block at `buf[i..]`.
    fn from_table(buf: &[u8], i: usize) -> Self {
        let class_at = |back: usize| if i >= back { CLASS[usize::from(buf[i - back])] } else { 0 };
        let (b1, b2, b3) = (class_at(1), class_at(2), class_at(3));
        let flag = |class: u8, bit: u8| u64::from(class & bit != 0);
        Self {
            word: (flag(b1, WORD) << 2) | (flag(b2, WORD) << 1) | flag(b3, WORD),
            letter: (flag(b1, LETTER) << 1) | flag(b2, LETTER),
            plus: flag(b1, PLUS),
        }
    }

    /// For the block [`JUDGED`] bytes after a block with classes `c` and digits `m`.
    #[inline(always)]
    fn from_block(c: &BlockClasses, m: u64) -> Self {
        const J: u32 = JUDGED as u32;
        Self {
            word: ((c.word | m) >> (J - 3)) & 7,
            letter: (c.letter >> (J - 2)) & 3,
            plus: (c.plus >> (J - 1)) & 1,
        }
    }
}

/// How many of a block's first bytes [`worth_a_look`] judges the runs of: a run of 12
/// digits starting in them, or one of 4 and a group of 6 after it, ends inside the block.
const JUDGED: usize = 48;
const _: () = assert!(JUDGED == 48, "a block carries its last lane (bytes 48..64) to the next");

/// Runs of these lengths are worth a look whatever comes before them (and of 13 or more).
const BY_LENGTH: u32 = (1 << 3) | (1 << 4) | (1 << 9);

/// Whether the run of digits `buf[i..e]` can begin a match at all, from the few bytes
/// around it. Most runs in number-dense text (dates, amounts, times, ids inside words,
/// later groups of a grouped number, short numbers) stop here; the answer is exact: a run
/// refused here would be refused by [`candidate`] too.
#[inline(always)]
fn worth_examining(buf: &[u8], i: usize, e: usize) -> bool {
    let class = |k: usize| CLASS[usize::from(buf[k])];
    let prev = if i > 0 { class(i - 1) } else { 0 };
    let len = e - i;
    // Runs of 3, 4 and 9 digits, and of 13 or more, are worth a look by their length; any
    // other only after a `+` or an IBAN country code.
    if len < 13 && BY_LENGTH & (1 << len) == 0 {
        return prev & PLUS != 0
            || (prev & LETTER != 0
                && len >= 2
                && i >= 2
                && class(i - 2) & LETTER != 0
                && super::iban::country_code(buf[i - 2], buf[i - 1]));
    }
    if prev & (WORD | PLUS | DOT | COMMA) != 0 {
        // Two letters of an IBAN country code directly before.
        if prev & LETTER != 0
            && i >= 2
            && class(i - 2) & LETTER != 0
            && super::iban::country_code(buf[i - 2], buf[i - 1])
        {
            return true;
        }
        if prev & PLUS != 0 {
            return true;
        }
        if (prev & WORD != 0 && !track_one(buf, i, e))
            || (decimal_part(buf, i, len)
                && before(buf, i - 1).is_some_and(|b| b.is_ascii_digit())
                && !matches!(buf.get(e), Some(b'E' | b'e')))
        {
            return false;
        }
    }
    if len >= 13 || len == 9 {
        return true;
    }
    match (len, buf.get(e)) {
        // A card in groups (4-4-4..., 4-6-4, 4-6-5: a third group always follows, after the
        // same separator or, after blanks, a line break), unless the run continues a group
        // before it with the same separator (then it is not the token's start). An invoice
        // number (`INV-2024-000123`) stops at the third group.
        (4, Some(b' ' | b'-' | b'.' | b'\t' | b'\r' | b'\n')) => match separator_at(buf, e) {
            Some((sep, next)) => {
                let e2 = run_end(buf, next);
                let digit_at = |j: usize| buf.get(j).is_some_and(u8::is_ascii_digit);
                matches!(e2 - next, 4 | 6)
                    && (separator_at(buf, e2).is_some_and(|(k, _)| k == sep)
                        || (is_blank(&sep) && line_break(buf, e2).is_some_and(digit_at)))
                    && !separator_before(buf, i, &buf[e..next])
            }
            // A card wrapped after its first group.
            None => matches!(buf.get(e), Some(b' ' | b'\t' | b'\r' | b'\n')) && line_break(buf, e).is_some(),
        },
        // `(555) ...`
        (3, Some(b')')) => before(buf, i) == Some(b'('),
        // An SSN in groups (3-2-4), a phone number (3-3-4).
        (3, Some(b' ' | b'-' | b'.' | b'\t')) => {
            separator_at(buf, e).is_some_and(|(_, next)| matches!(run_end(buf, next) - next, 2 | 3))
        }
        _ => false,
    }
}

/// Whether a run of `len` digits at `i`, when a digit comes two bytes before, is part of
/// a decimal number rather than a value of its own: the fraction after a point
/// (`0.4111...`), or a thousands group of three after a comma (`4,111,111`) that does not
/// go on in groups joined by a dash or space. Any other run after a comma is a field of its
/// own, as in CSV (`1,4111111111111111`, `7,123-45-6789`).
#[inline(always)]
fn decimal_part(buf: &[u8], i: usize, len: usize) -> bool {
    match before(buf, i) {
        Some(b'.') => true,
        Some(b',') => {
            len == 3
                && !(matches!(buf.get(i + 3), Some(b'-' | b' '))
                    && buf.get(i + 4).is_some_and(u8::is_ascii_digit))
        }
        _ => false,
    }
}

/// Whether a byte glued to a run of digits makes it part of a word: letters and digits.
/// `_` is not one: `card_4111111111111111_exp` is how names and keys are written.
#[inline(always)]
fn glued(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

/// Whether a `.` at `e` starts a fraction of zeros only (`4111111111111111.0`, as pandas
/// writes a column of numbers with a gap in it): the number is the integer before it.
fn zero_fraction(buf: &[u8], e: usize) -> bool {
    let zeros = buf.iter().skip(e + 1).take_while(|&&b| b == b'0').count();
    (1..=6).contains(&zeros) && !buf.get(e + 1 + zeros).is_some_and(|&b| glued(b))
}

/// Whether the run `buf[i..e]` is the account number of a magnetic stripe's track 1
/// (`%B4111111111111111^SMITH/JOHN^2812...`): `B` before it, itself not glued to a word,
/// and `^` after it.
#[inline]
fn track_one(buf: &[u8], i: usize, e: usize) -> bool {
    i >= 1 && buf[i - 1] == b'B' && buf.get(e) == Some(&b'^') && !before(buf, i - 1).is_some_and(glued)
}

/// A card written as a floating-point number in scientific notation, where the fraction
/// `buf[i..e]` follows one digit and a point (`4.111111111111111E+15`, as Java and
/// spreadsheets write a large double): the integer it stands for, when it has no
/// fraction left, is judged as a card.
fn exponent_form(buf: &[u8], base: u64, i: usize, e: usize, found: &mut Found<'_>, digits: &mut Vec<u8>) {
    if i < 2 || before(buf, i - 2).is_some_and(|b| glued(b) || b == b'.') {
        return;
    }
    let mut j = e + 1;
    if !matches!(buf.get(e), Some(b'E' | b'e')) {
        return;
    }
    if buf.get(j) == Some(&b'+') {
        j += 1;
    }
    let exp_end = run_end(buf, j);
    if !(1..=2).contains(&(exp_end - j)) || buf.get(exp_end).is_some_and(|&b| glued(b) || b == b'.') {
        return;
    }
    let exp = buf[j..exp_end].iter().fold(0usize, |a, &b| a * 10 + usize::from(b - b'0'));
    let frac = e - i;
    if frac > exp || !(12..=18).contains(&exp) {
        return;
    }
    digits.clear();
    digits.push(buf[i - 2]);
    digits.extend_from_slice(&buf[i..e]);
    digits.resize(exp + 1, b'0');
    if card_valid(digits) {
        found.report(Builtin::CreditCard.id(), Confidence::High, base + (i - 2) as u64, &buf[i - 2..exp_end]);
    }
}

/// Runs every numeric validator whose shape fits the run of digits `buf[i..e]`.
#[inline(never)]
fn candidate(buf: &[u8], base: u64, i: usize, e: usize, found: &mut Found<'_>, digits: &mut Vec<u8>) {
    let set = found.set;
    let prev = before(buf, i);
    debug_assert_eq!(e, run_end(buf, i));
    // IBAN: the two letters of a country code directly before the check digits.
    if set.enabled(Builtin::Iban)
        && i >= 2
        && buf[i - 2].is_ascii_alphabetic()
        && buf[i - 1].is_ascii_alphabetic()
        && !before(buf, i - 2).is_some_and(glued)
    {
        super::iban::at(buf, base, i - 2, found);
    }
    if prev.is_some_and(glued) && !track_one(buf, i, e) {
        return;
    }
    if decimal_part(buf, i, e - i) && before(buf, i - 1).is_some_and(|b| b.is_ascii_digit()) {
        if set.enabled(Builtin::CreditCard) {
            exponent_form(buf, base, i, e, found, digits);
        }
        return;
    }
    // A token that takes a line break in is one reading; the same digits up to the break
    // are another, tried when the first finds nothing (`4111 1111 1111 1111` on one line
    // and a number at the start of the next must not hide the card).
    // Every card and SSN token starts with a group of 3 or 4 digits, or is one run of 9 or
    // of 13 or more: any other run can only begin a phone number (`+49 ...`).
    let len = e - i;
    if matches!(len, 3 | 4 | 9) || len >= 13 {
        let mut token = Token::default();
        tokenize(buf, i, e, true, &mut token);
        if buf.get(token.end).is_some_and(|&b| glued(b)) && token.n == 1 {
            return;
        }
        if !validate_token(buf, base, i, &token, found, digits) && second_reading_may_find(&token) {
            tokenize(buf, i, e, false, &mut token);
            validate_token(buf, base, i, &token, found, digits);
        }
    }
    if set.enabled(Builtin::Phone) {
        phone(buf, base, i, e, found);
    }
}

/// Whether the token read up to the line break `t` took in can hold a value that `t` itself
/// did not: only a token of three groups or more can (grouped cards and SSNs); its first
/// group alone (a long card, a 9-digit SSN) was judged the same way in `t`.
fn second_reading_may_find(t: &Token) -> bool {
    t.broken.is_some_and(|brk| t.groups[..t.n].iter().filter(|g| g.1 <= brk).count() >= 3)
}

/// Runs the card and SSN validators on the token `t` starting at the run `i`; whether one
/// reported a value.
fn validate_token(
    buf: &[u8],
    base: u64,
    i: usize,
    t: &Token,
    found: &mut Found<'_>,
    digits: &mut Vec<u8>,
) -> bool {
    let set = found.set;
    let mut reported = false;
    let continues = |e: usize| {
        buf.get(e).is_some_and(|&b| glued(b))
            || (buf.get(e) == Some(&b'.')
                && buf.get(e + 1).is_some_and(u8::is_ascii_digit)
                && !zero_fraction(buf, e))
    };
    let after_ok = !continues(t.end);
    // A token that continues a group before it (`12 3456 ...`) is not a token of its own.
    let left_maximal = !(t.n > 1 && separator_before(buf, i, t.separator(buf)));
    let (s0, e0) = t.groups[0];
    let first_alone = t.n == 1 || is_blank(&t.sep) || (t.sep == b'.' && zero_fraction(buf, e0));
    let first_ok = first_alone && !continues(e0);

    if set.enabled(Builtin::CreditCard) {
        let len0 = e0 - s0;
        if first_ok && (13..=19).contains(&len0) && card_valid(&buf[s0..e0]) {
            reported = true;
            found.report(Builtin::CreditCard.id(), Confidence::High, base + s0 as u64, &buf[s0..e0]);
        } else if t.n > 1
            && after_ok
            && left_maximal
            && CARD_SHAPES.iter().any(|s| t.shape_is(s))
            && t.broken.is_none_or(|brk| wrapped_line(buf, s0, brk))
        {
            t.digits(buf, digits);
            if card_valid(digits) {
                reported = true;
                found.report(Builtin::CreditCard.id(), Confidence::High, base + s0 as u64, &buf[s0..t.end]);
            }
        }
    }
    if set.enabled(Builtin::UsSsn) {
        if t.shape_is(&[3, 2, 4]) && after_ok && left_maximal && t.broken.is_none() {
            t.digits(buf, digits);
            if ssn_valid(digits) {
                reported = true;
                found.report(Builtin::UsSsn.id(), Confidence::High, base + s0 as u64, &buf[s0..t.end]);
            }
        } else if first_ok
            && e0 - s0 == 9
            && ssn_valid(&buf[s0..e0])
            && set.hotword_near(Builtin::UsSsn.id(), context(buf, s0, e0))
        {
            reported = true;
            found.report(Builtin::UsSsn.id(), Confidence::High, base + s0 as u64, &buf[s0..e0]);
        }
    }
    reported
}

const CARD_SHAPES: [&[usize]; 6] =
    [&[4, 4, 4, 4], &[4, 4, 4, 4, 3], &[4, 6, 5], &[4, 6, 4], &[4, 4, 4, 1], &[4, 4, 4, 3]];

fn num(d: &[u8], n: usize) -> u32 {
    d.iter().take(n).fold(0, |a, &b| a * 10 + u32::from(b - b'0'))
}

/// Brand prefix and length, then Luhn. `d` holds ASCII digits only.
pub(crate) fn card_valid(d: &[u8]) -> bool {
    let len = d.len();
    if !(13..=19).contains(&len) {
        return false;
    }
    let (p2, p3, p4) = (num(d, 2), num(d, 3), num(d, 4));
    let brand = (d[0] == b'4' && matches!(len, 13 | 16 | 19))
        || (((51..=55).contains(&p2) || (2221..=2720).contains(&p4)) && len == 16)
        || ((p2 == 34 || p2 == 37) && len == 15)
        || ((p4 == 6011 || (644..=649).contains(&p3) || p2 == 65) && len >= 16)
        || ((3528..=3589).contains(&p4) && len >= 16)
        || (((300..=305).contains(&p3) || p2 == 36 || p2 == 38) && len >= 14)
        || (p2 == 62 && len >= 16);
    brand && luhn(d)
}

/// The Luhn checksum over ASCII digits.
pub(crate) fn luhn(d: &[u8]) -> bool {
    // Every second digit from the right is doubled, its digits summed: 0 2 4 6 8 1 3 5 7 9.
    const DOUBLED: [u32; 10] = [0, 2, 4, 6, 8, 1, 3, 5, 7, 9];
    let mut sum = 0u32;
    let mut pairs = d.rchunks_exact(2);
    for p in &mut pairs {
        sum += u32::from(p[1].wrapping_sub(b'0')) + DOUBLED[usize::from(p[0].wrapping_sub(b'0')).min(9)];
    }
    if let [first] = pairs.remainder() {
        sum += u32::from(first.wrapping_sub(b'0'));
    }
    sum.is_multiple_of(10)
}

/// Area not 000, 666 or 900-999; group not 00; serial not 0000. Nine ASCII digits.
pub(crate) fn ssn_valid(d: &[u8]) -> bool {
    if d.len() != 9 {
        return false;
    }
    let area = num(d, 3);
    let group = num(&d[3..], 2);
    let serial = num(&d[5..], 4);
    area != 0 && area != 666 && area < 900 && group != 0 && serial != 0
}

/// A phone number from the run of digits `buf[i..e]`.
fn phone(buf: &[u8], base: u64, i: usize, e: usize, found: &mut Found<'_>) {
    // `+CC 20 7946 0958`, `(555) 123-4567`, `555-123-4567`, `555.123.4567`, `555 123 4567`.
    let plus = before(buf, i) == Some(b'+');
    let paren = before(buf, i) == Some(b'(');
    // Without a `+`, every accepted shape starts with three digits.
    if !plus && e - i != 3 {
        return;
    }
    let s = if plus || paren { i - 1 } else { i };
    if before(buf, s).is_some_and(|b| is_word(b) || matches!(b, b'-' | b'.' | b'+')) {
        return;
    }
    let mut lens = [0usize; 6];
    let mut n = 0;
    let mut total = 0;
    let mut j = i;
    let mut sep = 0u8;
    loop {
        if n == lens.len() {
            return;
        }
        let e = run_end(buf, j);
        lens[n] = e - j;
        n += 1;
        total += e - j;
        j = e;
        if total > 15 {
            return;
        }
        if paren && n == 1 {
            if buf.get(j) != Some(&b')') {
                return;
            }
            j += 1;
            if buf.get(j) == Some(&b' ') {
                j += 1;
            }
            if !buf.get(j).is_some_and(u8::is_ascii_digit) {
                return;
            }
            continue;
        }
        match buf.get(j) {
            Some(&c)
                if matches!(c, b' ' | b'-' | b'.')
                    && buf.get(j + 1).is_some_and(u8::is_ascii_digit)
                    && (sep == 0 || sep == c || (plus && n == 1)) =>
            {
                if !(plus && n == 1) {
                    sep = c;
                }
                j += 1;
            }
            _ => break,
        }
    }
    if buf.get(j).is_some_and(|&b| is_word(b)) {
        return;
    }
    let lens = &lens[..n];
    let ok = if plus {
        (10..=15).contains(&total) && n >= 2 && lens.iter().all(|&l| l <= 5)
    } else {
        lens == [3, 3, 4] && (paren || sep != 0)
    };
    if !ok {
        return;
    }
    let mut conf = Confidence::Medium;
    if found.set.hotword_near(Builtin::Phone.id(), context(buf, s, j)) {
        conf = conf.raised();
    }
    found.report(Builtin::Phone.id(), conf, base + s as u64, &buf[s..j]);
}

#[cfg(test)]
mod tests;
