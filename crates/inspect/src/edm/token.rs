//! Tokens and normal forms: what a table cell and a run of content text become before they
//! are hashed, so that the same value written two ways hashes the same.
//!
//! A token is a run of word bytes (ASCII letters and digits, and every byte of a non-ASCII
//! character) in which single connectors (`.` `-` `_` `@` `+` `'` `/`) may sit between word
//! bytes: `jane.doe@example.com`, `123-45-6789`, `O'Brien` and `01/02/1980` are one token
//! each, `Doe,` is `Doe`. Everything else separates tokens.
//!
//! A value has two forms, one per [`Kind`] of column:
//! - **text**: its tokens lowercased and joined by one space (`"  Jane   DOE "` is
//!   `jane doe`): case and whitespace do not matter, punctuation between words does not,
//!   and neither do accents nor how a character is composed (`José`, `Jose` and `Jose`
//!   with a combining acute are `jose`).
//! - **number**: the letters and digits of its tokens, lowercased, concatenated
//!   (`(555) 123-4567`, `555.123.4567` and `5551234567` are all `5551234567`): the
//!   delimiters people put in phone, account and identity numbers do not matter.
//! - **phone**: the number form's last [`PHONE_DIGITS`] digits, so a number written with its
//!   country code or trunk prefix and without are one (`+1 555 123 4567`, `(555) 123-4567`;
//!   `+44 20 7946 0958`, `020 7946 0958`): the digits that differ between the national and
//!   the international forms all come before the subscriber's last nine.
//!
//! Cells are first folded as the engine folds content (`text::unicode`: digits of every
//! script, Unicode spaces and dashes, invisible characters), so both sides agree.

use crate::text::unicode::{fold, Folded};

use super::MAX_TOKEN_BYTES;

/// How a column's values are normalised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Kind {
    /// Names, addresses, e-mail: case and whitespace ignored.
    Text,
    /// Account and identity numbers: only letters and digits count.
    Number,
    /// Phone numbers: only the last [`PHONE_DIGITS`] digits count.
    Phone,
}

/// Digits of a phone number that its national and international forms share: the
/// shortest national significant numbers in common use (France, Spain, Italy's mobiles,
/// Switzerland) have nine, and longer ones keep their last nine.
pub const PHONE_DIGITS: usize = 9;

/// Most digits of a phone number in any form (E.164 allows 15, plus a `00` or trunk prefix).
pub const MAX_PHONE_DIGITS: usize = 17;

/// Most tokens of a phone number (`+33 1 23 45 67 89` is six): more than other values.
pub const MAX_PHONE_TOKENS: usize = 8;

/// Header words that make a numeric column a phone column (`Phone`, `tel_home`,
/// `MobileNumber`, `cellphone`): one of these words, a word holding `phone`, or one
/// starting with `mobile`.
const PHONE_HEADERS: [&str; 5] = ["phone", "tel", "mobile", "fax", "cell"];

/// Whether a column named `name` holds phone numbers, when its values look numeric.
pub(crate) fn is_phone_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .any(|w| PHONE_HEADERS.contains(&w) || w.contains("phone") || w.starts_with("mobile"))
}

/// Cuts a number form to its phone form, in place; `None` when it is not all digits or
/// longer than a phone number can be.
pub(crate) fn phone_form(form: &mut Vec<u8>) -> Option<()> {
    if form.len() > MAX_PHONE_DIGITS || !form.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let cut = form.len().saturating_sub(PHONE_DIGITS);
    form.drain(..cut);
    Some(())
}

impl Kind {
    /// The byte that separates the two kinds' hash inputs.
    pub(crate) fn tag(self) -> u8 {
        match self {
            Kind::Text => b't',
            Kind::Number => b'n',
            Kind::Phone => b'p',
        }
    }

    /// Parses `text` or `number`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "text" => Some(Kind::Text),
            "number" => Some(Kind::Number),
            "phone" => Some(Kind::Phone),
            _ => None,
        }
    }
}

/// Classes of a byte for the tokeniser ([`CLASS`]), so that reading a token is one table
/// load per byte: a word byte, a connector, an ASCII digit, an ASCII letter or digit, a
/// byte of a non-ASCII character.
pub(crate) const WORD: u8 = 1;
pub(crate) const CONNECTOR: u8 = 2;
pub(crate) const DIGIT: u8 = 4;
pub(crate) const ALNUM: u8 = 8;
pub(crate) const HIGH: u8 = 16;

/// The class bits of every byte.
pub(crate) const CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_alphanumeric() {
            t[b] |= WORD | ALNUM;
        }
        if c.is_ascii_digit() {
            t[b] |= DIGIT;
        }
        if c >= 0x80 {
            t[b] |= WORD | HIGH;
        }
        if matches!(c, b'.' | b'-' | b'_' | b'@' | b'+' | b'\'' | b'/') {
            t[b] |= CONNECTOR;
        }
        b += 1;
    }
    t
};

/// Whether `b` belongs to a word.
#[inline]
pub(crate) fn is_word(b: u8) -> bool {
    CLASS[usize::from(b)] & WORD != 0
}

/// Whether `b` may join two word bytes inside a token.
#[inline]
pub(crate) fn is_connector(b: u8) -> bool {
    CLASS[usize::from(b)] & CONNECTOR != 0
}

/// Whether a token starts at `buf[i]` (not in the middle of one).
#[inline]
pub(crate) fn starts_token(buf: &[u8], i: usize) -> bool {
    if !buf.get(i).copied().is_some_and(is_word) {
        return false;
    }
    match i {
        0 => true,
        1 => !is_word(buf[0]),
        _ => !(is_word(buf[i - 1]) || is_connector(buf[i - 1]) && is_word(buf[i - 2])),
    }
}

/// The end of the token starting at `buf[i]` (`starts_token(buf, i)` holds).
#[inline]
pub(crate) fn token_end(buf: &[u8], i: usize) -> usize {
    let mut j = i + 1;
    while j < buf.len() {
        let b = buf[j];
        if is_word(b) || (is_connector(b) && buf.get(j + 1).copied().is_some_and(is_word)) {
            j += 1;
        } else {
            break;
        }
    }
    j
}

/// The next token at or after `i`: `(start, end)`.
#[inline]
pub(crate) fn next_token(buf: &[u8], mut i: usize) -> Option<(usize, usize)> {
    while i < buf.len() {
        if is_word(buf[i]) {
            return Some((i, token_end(buf, i)));
        }
        i += 1;
    }
    None
}

/// Appends the text form of one token (lowercased) to `out`.
pub(crate) fn push_text(token: &[u8], out: &mut Vec<u8>) {
    if token.is_ascii() {
        out.extend(token.iter().map(u8::to_ascii_lowercase));
    } else {
        out.extend_from_slice(unaccented_lowercase(token).as_bytes());
    }
}

/// Appends the number form of one token (its letters and digits, lowercased) to `out`.
pub(crate) fn push_number(token: &[u8], out: &mut Vec<u8>) {
    if token.is_ascii() {
        out.extend(token.iter().filter(|b| b.is_ascii_alphanumeric()).map(u8::to_ascii_lowercase));
    } else {
        let lower = unaccented_lowercase(token);
        out.extend(lower.bytes().filter(|&b| b.is_ascii_alphanumeric() || b >= 0x80));
    }
}

/// A non-ASCII token decomposed (NFD), without its combining marks, lowercased: `José`
/// composed, `Jose` and an accent, and `JOSE` are one form, so neither the Unicode
/// normalisation a system chose nor an accent dropped on the way hides a value.
fn unaccented_lowercase(token: &[u8]) -> String {
    use unicode_normalization::{char::is_combining_mark, UnicodeNormalization};
    String::from_utf8_lossy(token).nfd().filter(|&c| !is_combining_mark(c)).collect::<String>().to_lowercase()
}

/// A cell after folding and tokenising.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cell {
    /// The folded text.
    pub folded: Vec<u8>,
    /// Token spans in `folded`.
    pub tokens: Vec<(usize, usize)>,
}

impl Cell {
    /// Folds and tokenises one cell.
    pub fn new(raw: &str) -> Self {
        let mut folded = Vec::with_capacity(raw.len());
        let mut tmp = [0u8; 4];
        for c in raw.chars() {
            match fold(u32::from(c)) {
                Folded::Keep => folded.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes()),
                Folded::Drop => {}
                Folded::Ascii(b) => folded.push(b),
            }
        }
        let mut tokens = Vec::new();
        let mut i = 0;
        while let Some((s, e)) = next_token(&folded, i) {
            tokens.push((s, e));
            i = e;
        }
        Self { folded, tokens }
    }

    /// True when the cell has no token (empty, or punctuation only).
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// Whether the cell looks like a number: a digit, and digits at least half of its
    /// letters and digits.
    pub fn looks_numeric(&self) -> bool {
        let (mut digits, mut alnum) = (0usize, 0usize);
        for &(s, e) in &self.tokens {
            for &b in &self.folded[s..e] {
                digits += usize::from(b.is_ascii_digit());
                alnum += usize::from(is_word(b));
            }
        }
        digits > 0 && digits * 2 >= alnum
    }

    /// The normal form for `kind`, or `None` when the cell cannot be found in content: no
    /// token, more tokens than an n-gram holds, a token longer than [`MAX_TOKEN_BYTES`], or
    /// a number without a digit.
    pub fn form(&self, kind: Kind) -> Option<Vec<u8>> {
        let most_tokens = if kind == Kind::Phone { MAX_PHONE_TOKENS } else { super::MAX_NGRAM_TOKENS };
        if self.tokens.is_empty()
            || self.tokens.len() > most_tokens
            || self.tokens.iter().any(|&(s, e)| e - s > MAX_TOKEN_BYTES)
        {
            return None;
        }
        let mut out = Vec::with_capacity(self.folded.len());
        match kind {
            Kind::Text => {
                for (k, &(s, e)) in self.tokens.iter().enumerate() {
                    if k > 0 {
                        out.push(b' ');
                    }
                    push_text(&self.folded[s..e], &mut out);
                }
            }
            Kind::Number | Kind::Phone => {
                for &(s, e) in &self.tokens {
                    push_number(&self.folded[s..e], &mut out);
                }
                if !out.iter().any(u8::is_ascii_digit) {
                    return None;
                }
                if kind == Kind::Phone {
                    phone_form(&mut out)?;
                }
            }
        }
        (out.len() <= super::MAX_FORM_BYTES).then_some(out)
    }

    /// The cell's tokens as byte slices.
    pub fn token_bytes(&self) -> impl Iterator<Item = &[u8]> {
        self.tokens.iter().map(|&(s, e)| &self.folded[s..e])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> String {
        String::from_utf8(Cell::new(s).form(Kind::Text).unwrap_or_default()).unwrap()
    }
    fn number(s: &str) -> String {
        String::from_utf8(Cell::new(s).form(Kind::Number).unwrap_or_default()).unwrap()
    }

    #[test]
    fn text_forms_ignore_case_space_and_outer_punctuation() {
        assert_eq!(text("  Jane   DOE "), "jane doe");
        assert_eq!(text("Doe, Jane."), "doe jane");
        assert_eq!(text("Jane.Doe@Example.COM"), "jane.doe@example.com");
        assert_eq!(text("O'Brien"), "o'brien");
        assert_eq!(text("1 Main Street"), "1 main street");
        // Accents, and whether a character is composed, do not count.
        assert_eq!(text("ÉLODIE Dupré"), "elodie dupre");
        assert_eq!(text("E\u{301}lodie Dupre\u{301}"), "elodie dupre");
        assert_eq!(text("Åsa Øberg"), "asa øberg", "Ø has no decomposition: it stays");
        // A non-breaking space and a zero-width space, as the engine folds them.
        assert_eq!(text("Jane\u{a0}Do\u{200b}e"), "jane doe");
        assert_eq!(text("a b c d e f"), "", "six tokens cannot be an n-gram");
    }

    #[test]
    fn number_forms_drop_delimiters() {
        for s in ["(555) 123-4567", "555.123.4567", "5551234567", "555 123 4567", "555-123-4567"] {
            assert_eq!(number(s), "5551234567", "{s}");
        }
        assert_eq!(number("AB-12 34"), "ab1234");
        assert_eq!(number("n/a"), "");
        // Full-width and Arabic-Indic digits fold to ASCII.
        assert_eq!(number("１２３-٤٥"), "12345");
        assert!(Cell::new("555-123-4567").looks_numeric());
        assert!(!Cell::new("1 Main Street").looks_numeric());
    }

    #[test]
    fn phone_forms_keep_the_digits_both_forms_share() {
        let phone = |s: &str| String::from_utf8(Cell::new(s).form(Kind::Phone).unwrap_or_default()).unwrap();
        for s in ["+1 (555) 123-4567", "(555) 123-4567", "001 555 123 4567", "1-555-123-4567"] {
            assert_eq!(phone(s), "551234567", "{s}");
        }
        assert_eq!(phone("+44 20 7946 0958"), phone("020 7946 0958"));
        assert_eq!(phone("+33 1 23 45 67 89"), phone("01 23 45 67 89"));
        assert_eq!(phone("+49 30 901820"), "930901820");
        assert_eq!(phone("12345"), "12345", "short numbers are kept whole");
        assert_eq!(phone("ext 12"), "", "letters: not a phone number");
        assert_eq!(phone("123456789012345678"), "", "longer than any phone number");
        assert!(is_phone_header("Phone") && is_phone_header("mobile_number") && is_phone_header("Tel."));
        assert!(is_phone_header("telephone") && is_phone_header("MobileNumber"));
        assert!(
            !is_phone_header("hotel") && !is_phone_header("customer_id") && !is_phone_header("cancellations")
        );
    }

    #[test]
    fn token_boundaries() {
        let buf = b"x jane.doe@example.com, (555) 123-4567 -- end-";
        let mut toks = Vec::new();
        let mut i = 0;
        while let Some((s, e)) = next_token(buf, i) {
            assert!(starts_token(buf, s));
            toks.push(std::str::from_utf8(&buf[s..e]).unwrap());
            i = e;
        }
        assert_eq!(toks, ["x", "jane.doe@example.com", "555", "123-4567", "end"]);
        assert!(!starts_token(buf, 7), "inside jane.doe");
    }
}
