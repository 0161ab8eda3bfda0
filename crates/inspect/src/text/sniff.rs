//! Deciding, from a member's first bytes, whether it is quoted-printable text or a form
//! body (`application/x-www-form-urlencoded`). The answers depend on the content only:
//! `None` while more bytes could change them, never once [`SNIFF_MAX`] bytes are known.

use super::normalize::SNIFF_MAX;

/// A form body is one once this many bytes of its first value have no whitespace.
const FORM_DECIDE: usize = 1024;
/// Longest key of a form body's first field.
const FORM_KEY_MAX: usize = 64;
/// Longest line of quoted-printable text, with a soft break and slack (RFC 2045: 76).
const QP_LINE: usize = 78;

/// Whether a member's head is quoted-printable and whether it is a form body; `None` while
/// more bytes could change the answer (never once `head` holds [`SNIFF_MAX`] bytes).
pub(super) fn decide(head: &[u8], at_end: bool) -> Option<(bool, bool)> {
    let head = &head[..head.len().min(SNIFF_MAX)];
    let at_end = at_end || head.len() == SNIFF_MAX;
    Some((quoted_printable(head, at_end)?, form_body(head, at_end)?))
}

/// Evidently quoted-printable: soft line breaks (`=` ending a line) outnumber, at some point,
/// the lines that quoted-printable never has (longer than 76 characters, or with a `=`
/// followed by something other than two upper-case hex digits or a line break). Counting
/// rather than giving up at the first such line keeps a body whose first line is junk (a
/// garbage prefix, a stray byte that UTF-16 decoding makes a character) quoted-printable:
/// otherwise one long line in front would keep its soft breaks from being joined, and a
/// value split across one would pass.
fn quoted_printable(head: &[u8], at_end: bool) -> Option<bool> {
    let (mut line_start, mut k, mut soft, mut foreign) = (0, 0, 0usize, 0usize);
    // Whether the current line is already counted as foreign.
    let mut counted = false;
    let foreign_line = |counted: &mut bool, foreign: &mut usize| {
        if !*counted {
            *counted = true;
            *foreign += 1;
        }
    };
    loop {
        let Some(d) = memchr::memchr2(b'=', b'\n', &head[k..]) else {
            return at_end.then_some(false);
        };
        k += d;
        if k - line_start > QP_LINE {
            foreign_line(&mut counted, &mut foreign);
        }
        if head[k] == b'\n' {
            k += 1;
            line_start = k;
            counted = false;
            continue;
        }
        let upper_hex = |b: &u8| b.is_ascii_digit() || (b'A'..=b'F').contains(b);
        match (head.get(k + 1), head.get(k + 2)) {
            (Some(b'\n'), _) | (Some(b'\r'), Some(b'\n')) => {
                soft += 1;
                if soft > foreign {
                    return Some(true);
                }
                k += if head[k + 1] == b'\n' { 2 } else { 3 };
                line_start = k;
                counted = false;
            }
            (Some(h), Some(l)) if upper_hex(h) && upper_hex(l) => k += 3,
            (Some(h), None) if upper_hex(h) || *h == b'\r' => return at_end.then_some(false),
            (None, _) => return at_end.then_some(false),
            _ => {
                foreign_line(&mut counted, &mut foreign);
                k += 1;
            }
        }
    }
}

/// A form body (`application/x-www-form-urlencoded`): a key of URL characters, `=`, and no
/// whitespace or markup for [`FORM_DECIDE`] bytes (or to the end, a final line break aside).
fn form_body(head: &[u8], at_end: bool) -> Option<bool> {
    let key_char = |b: u8| matches!(b, b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'[' | b']' | b'%' | b'*' | b'~' | b'+');
    let key = head.iter().take(FORM_KEY_MAX + 1).take_while(|&&b| key_char(b)).count();
    match head.get(key) {
        Some(b'=') if key > 0 => {}
        None if key <= FORM_KEY_MAX => return at_end.then_some(false),
        _ => return Some(false),
    }
    let value = &head[key + 1..];
    let window = &value[..value.len().min(FORM_DECIDE)];
    match window.iter().position(|b| b" \t\r\n<>\"{}".contains(b)) {
        Some(p) if matches!(window[p], b'\r' | b'\n') => {
            // Only a line break at the very end is allowed.
            if value[p..].iter().all(|b| matches!(b, b'\r' | b'\n')) {
                at_end.then_some(true)
            } else {
                Some(false)
            }
        }
        Some(_) => Some(false),
        None if window.len() == FORM_DECIDE || at_end => Some(true),
        None => None,
    }
}
