//! Card numbers written one digit at a time (`4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1`, `4-1-1-...`):
//! an evasion of the grouped shapes the card detector reads. Single digits in a row are far
//! more often tables, grids and lists than values, so such a number counts only with a card
//! hotword near it (`card number`, `visa`, `payment`, ...), and only when the whole row is
//! one: 13 to 19 digits, each alone, joined by one space, dash or dot throughout.
//!
//! The numeric scan finds a row from its digit mask (seven lone digits two bytes apart, in a
//! block it already reads closely), or byte by byte near the end of its range; [`at`] reads
//! the row around it.

use super::{before, context, is_word, numeric::card_valid, Builtin, Confidence, Found};

/// Most digits a card number has.
const MAX_DIGITS: usize = 19;

/// Lone digits in a row of two-byte steps, as a mask: bit j is set when the bytes j, j + 2,
/// ..., j + 12 are digits with no digit next to them (`m`: a block's digit mask). Zero in
/// nearly every block.
#[inline(always)]
pub(super) fn rows(m: u64) -> u64 {
    let lone = m & !(m << 1) & !(m >> 1);
    let two = lone & (lone >> 2);
    let four = two & (two >> 4);
    four & (four >> 4) & (lone >> 12)
}

/// Whether `buf[k]` may be a digit of such a row (for the byte-by-byte path).
#[inline]
pub(super) fn may_start(buf: &[u8], k: usize) -> bool {
    buf.get(k + 2).is_some_and(u8::is_ascii_digit)
        && buf.get(k + 1).is_some_and(|&b| is_joiner(b))
        && !buf.get(k + 3).is_some_and(u8::is_ascii_digit)
}

fn is_joiner(b: u8) -> bool {
    matches!(b, b' ' | b'-' | b'.')
}

/// Reads the row of lone digits through `buf[k]` and reports it as a card number when it
/// starts in `start..end`, has not been read already (`done`: where the last row read
/// ended), and qualifies (see the module).
pub(super) fn at(
    buf: &[u8],
    base: u64,
    k: usize,
    start: usize,
    end: usize,
    found: &mut Found<'_>,
    done: &mut usize,
) {
    if k < *done || !buf[k].is_ascii_digit() {
        return;
    }
    let Some(&sep) = buf.get(k + 1).filter(|&&b| is_joiner(b)) else { return };
    let lone = |j: usize| {
        buf.get(j).is_some_and(u8::is_ascii_digit)
            && !before(buf, j).is_some_and(|b| b.is_ascii_digit())
            && !buf.get(j + 1).is_some_and(u8::is_ascii_digit)
    };
    // Back to the row's first digit, then forward to its last.
    let mut s = k;
    while s >= 2 && buf[s - 1] == sep && lone(s - 2) {
        s -= 2;
    }
    let mut e = s;
    let mut digits = [0u8; MAX_DIGITS];
    let mut n = 0;
    loop {
        if n < MAX_DIGITS {
            digits[n] = buf[e];
        }
        n += 1;
        if buf.get(e + 1) == Some(&sep) && lone(e + 2) {
            e += 2;
        } else {
            break;
        }
    }
    let e = e + 1;
    *done = e;
    if !(start..end).contains(&s) || !(13..=MAX_DIGITS).contains(&n) {
        return;
    }
    // The row is all there is: no word glued to it, no group of digits before or after.
    let glued = |b: Option<u8>| b.is_some_and(is_word);
    if glued(before(buf, s)) || glued(buf.get(e).copied()) || continues(buf, s, e, sep) {
        return;
    }
    let set = found.set;
    if card_valid(&digits[..n]) && set.hotword_near(Builtin::CreditCard.id(), context(buf, s, e)) {
        found.report(Builtin::CreditCard.id(), Confidence::High, base + s as u64, &buf[s..e]);
    }
}

/// Whether the row goes on with the same joiner into a longer group of digits
/// (`12 4 1 1 ...`, `... 1 1 234`): then it is part of something else.
fn continues(buf: &[u8], s: usize, e: usize, sep: u8) -> bool {
    let digit_at = |j: Option<usize>| j.and_then(|j| buf.get(j)).is_some_and(u8::is_ascii_digit);
    (before(buf, s) == Some(sep) && digit_at(s.checked_sub(2)))
        || (buf.get(e) == Some(&sep) && digit_at(Some(e + 1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_of_lone_digits_in_a_mask() {
        let mask =
            |s: &[u8]| s.iter().enumerate().fold(0u64, |m, (j, b)| m | (u64::from(b.is_ascii_digit()) << j));
        assert_ne!(rows(mask(b"card 4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 end")), 0);
        assert_eq!(rows(mask(b"card 4 1 1 1 1 1 end")), 0, "six lone digits");
        assert_eq!(rows(mask(b"4111 1111 1111 1111 and 2024-01-15 12:30")), 0);
        assert_eq!(rows(mask(b"1 2 3 4 5 6 12 14")), 0);
    }
}
