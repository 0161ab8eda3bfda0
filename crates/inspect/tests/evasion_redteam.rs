//! Evasions of a red-team pass over the default policy and the formats of docs/POLICY.md,
//! each as real software writes it: a valid value hidden that way must block, and the same
//! hiding place carrying only decoys (Luhn-invalid card-like numbers, SSNs in invalid
//! ranges, IBANs with a bad checksum, order ids, UUIDs, hashes, timestamps) must be
//! allowed.

mod support;

use inspect::testkit::evasion::{DECOYS, VALUES};
use support::{allows, allows_as, blocks, blocks_as, technique, technique_as};

/// RFC 2047: white space between two encoded words is not part of the text, so a value
/// split over adjacent encoded words (as mail clients split long subjects, folding the
/// header between them) reads whole.
#[test]
fn a_value_split_over_adjacent_encoded_words() {
    let mail = |subject: &str| {
        format!("From: a@example.com\r\nTo: b@example.com\r\nSubject: {subject}\r\nMIME-Version: 1.0\r\n\r\nhello\r\n")
            .into_bytes()
    };
    let split = |value: &str, fold: &str| {
        let q = value.replace(' ', "_");
        let (a, b) = q.split_at(q.len() / 2);
        mail(&format!("Ref =?utf-8?q?{a}?={fold}=?UTF-8?Q?{b}?= ok"))
    };
    for fold in [" ", "\r\n ", "\r\n\t", "  "] {
        for (det, value) in VALUES {
            blocks(&split(value, fold), det);
        }
        for decoy in DECOYS {
            allows(&split(decoy, fold));
        }
    }
    // Base64 words too, each a whole number of characters.
    blocks(&mail("=?utf-8?b?NDExMSAxMTEx?=\r\n =?utf-8?b?IDExMTEgMTExMQ==?="), "credit_card");
    // Text between words is kept: two words apart stay apart.
    allows(&mail("=?utf-8?q?4111_1111?= x =?utf-8?q?1111_1111?= and 1111 1111"));
}

/// Combining marks after digits (`4́1́1́1́`, keycap emoji `4️⃣`): a reader sees the digits,
/// the marks only decorate them.
#[test]
fn combining_marks_on_digits() {
    for mark in [
        "\u{0301}",
        "\u{0336}",
        "\u{20E3}",
        "\u{FE0F}\u{20E3}",
        "\u{0332}",
        "\u{1AB0}",
        "\u{1DC0}",
        "\u{FE20}",
    ] {
        technique(|t| {
            t.chars()
                .flat_map(|c| {
                    if c.is_ascii_digit() { format!("{c}{mark}") } else { c.to_string() }
                        .chars()
                        .collect::<Vec<_>>()
                })
                .collect::<String>()
                .into_bytes()
        });
    }
    // Letters keep their marks apart from the digits: accented text stays text.
    allows("Caf\u{0065}\u{0301} cr\u{0065}\u{0300}me, 2024-01-15".as_bytes());
}

/// Table cells of one row: a value laid out one group per cell (as a spreadsheet saved as
/// HTML, or a mail template, does) reads like a TSV row, cells apart by a tab.
#[test]
fn groups_in_the_cells_of_a_table_row() {
    let row = |v: &str, sep: char| {
        let cells: String = v.split(sep).map(|g| format!("<td>{g}</td>")).collect();
        format!("<html><body><table><tr><td>Card</td>{cells}</tr><tr><td>x</td></tr></table></body></html>")
            .into_bytes()
    };
    blocks_as(&row("4111 1111 1111 1111", ' '), Some("text/html"), "credit_card");
    blocks_as(&row("123-45-6789", '-'), Some("text/html"), "us_ssn");
    blocks_as(&row("DE89 3704 0044 0532 0130 00", ' '), Some("text/html"), "iban");
    allows_as(&row("4111 1111 1111 1112", ' '), Some("text/html"));
    allows_as(&row("666-12-3456", '-'), Some("text/html"));
    // Rows stay apart: a column of groups is no value.
    let column = "<table><tr><td>4111</td></tr><tr><td>1111</td></tr><tr><td>1111</td></tr><tr><td>1111</td></tr></table>";
    allows_as(column.as_bytes(), Some("text/html"));
}

/// Hidden elements inside a value (`display:none`, `visibility:hidden`, the `hidden`
/// attribute): a browser shows the value whole, so it is read whole, and the hidden text
/// on its own.
#[test]
fn hidden_elements_inside_a_value() {
    for hide in [
        "style=\"display:none\"",
        "style=\"color:red; DISPLAY: none !important\"",
        "style='visibility:hidden'",
        "hidden",
        "aria-hidden=\"true\" style=\"display: none\"",
    ] {
        let html = |a: &str, hidden: &str, b: &str| {
            format!("<html><body><p>{a}<span {hide}>{hidden}</span>{b}</p></body></html>").into_bytes()
        };
        blocks_as(&html("card 4111 1111 ", "9999 ", "1111 1111"), Some("text/html"), "credit_card");
        blocks_as(&html("ssn 123-", "<b>00</b>", "45-6789"), Some("text/html"), "us_ssn");
        blocks_as(&html("see ", "4111 1111 1111 1111", " below"), Some("text/html"), "credit_card");
        blocks_as(
            &html("see ", "4111<b> 1111</b> <i>1111</i> 1111", " below"),
            Some("text/html"),
            "credit_card",
        );
        allows_as(&html("card 4111 1111 ", "9999 ", "1111 1112"), Some("text/html"));
        allows_as(&html("order ", "ORD-2024-000123", " shipped"), Some("text/html"));
    }
    technique_as(Some("text/html"), |t| {
        let mut html = String::from("<html><body><p>");
        for (k, ch) in t.chars().enumerate() {
            html.push(ch);
            if k % 3 == 1 {
                html.push_str("<span style=\"display:none\">7</span>");
            }
        }
        html.push_str("</p></body></html>");
        html.into_bytes()
    });
}
