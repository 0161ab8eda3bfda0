//! PDF text drawn one glyph at a time with letter-spacing, and text drawn invisibly inside
//! a value: what a reader sees must be what the engine reads. A valid value drawn that way
//! must block, and decoys (Luhn-invalid card-like numbers, SSNs in invalid ranges, IBANs
//! with a bad checksum, order ids, UUIDs, hashes, timestamps) drawn the same way must be
//! allowed.

mod support;

use std::fmt::Write as _;

use inspect::testkit::evasion::{DECOYS, VALUES};
use inspect::testkit::pdfkit::{flate, literal, page_pdf_raw};
use support::{allows, blocks};

/// Advance of every fixture glyph at size 10 (600/1000 of the size).
const GLYPH: f64 = 6.0;

fn page(content: &str) -> Vec<u8> {
    page_pdf_raw(&flate(content.as_bytes()), "/Filter /FlateDecode")
}

/// Each character of `text` its own string, spread by `gap` points (letter-spacing), in
/// one of the ways producers draw tracked text.
fn tracked(text: &str, gap: f64, how: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut c = String::from("BT /F1 10 Tf 40 800 Td\n");
    match how {
        // One `TJ` array, kerning numbers (thousandths of the size) between the glyphs.
        "TJ" => {
            let pieces: Vec<String> = chars.iter().map(|ch| literal(&ch.to_string())).collect();
            let _ = writeln!(c, "[{}] TJ", pieces.join(&format!(" {} ", -gap * 100.0)));
        }
        // `Td` from glyph to glyph.
        "Td" => {
            for (i, ch) in chars.iter().enumerate() {
                if i > 0 {
                    let _ = write!(c, "{:.2} 0 Td ", GLYPH + gap);
                }
                let _ = write!(c, "{} Tj ", literal(&ch.to_string()));
            }
        }
        // `Tm` at every glyph's place, last glyph first.
        "Tm" => {
            for (i, ch) in chars.iter().enumerate().rev() {
                let x = 40.0 + i as f64 * (GLYPH + gap);
                let _ = write!(c, "1 0 0 1 {x:.2} 800 Tm {} Tj ", literal(&ch.to_string()));
            }
        }
        _ => unreachable!(),
    }
    c.push_str("\nET\n");
    c
}

/// Letter-spaced values, one glyph per string: the gap between every two glyphs is the
/// tracking, not a word break. Group separators are drawn as glyphs, or left out and the
/// groups set further apart.
#[test]
fn letter_spaced_values_read_as_one() {
    for how in ["TJ", "Td", "Tm"] {
        for gap in [1.5, 2.0, 3.0, 5.0] {
            for (det, value) in VALUES {
                blocks(&page(&tracked(value, gap, how)), det);
            }
            for decoy in DECOYS {
                allows(&page(&tracked(decoy, gap, how)));
            }
        }
    }
    // Groups without a separator glyph, 4 points further apart than the glyphs.
    let grouped = |groups: &[&str], gap: f64| {
        let mut c = String::from("BT /F1 10 Tf 40 800 Td [");
        for (g, group) in groups.iter().enumerate() {
            if g > 0 {
                let _ = write!(c, " {} ", -(gap + 4.0) * 100.0);
            }
            let pieces: Vec<String> = group.chars().map(|ch| literal(&ch.to_string())).collect();
            c.push_str(&pieces.join(&format!(" {} ", -gap * 100.0)));
        }
        c.push_str("] TJ ET\n");
        page(&c)
    };
    blocks(&grouped(&["4111", "1111", "1111", "1111"], 2.5), "credit_card");
    allows(&grouped(&["4111", "1111", "1111", "1112"], 2.5));
}

/// Text drawn in render mode 3 (invisible) or 7 (clip only) inside a value, the pen moved
/// back over it by a kerning number: a reader shows the value whole, so it is read whole,
/// and the invisible text on its own.
#[test]
fn invisible_text_inside_a_value() {
    for mode in [3, 7] {
        let content = |a: &str, hidden: &str, b: &str| {
            let back = hidden.len() * 600;
            format!("BT /F1 10 Tf 40 800 Td ({a}) Tj {mode} Tr [({hidden}) {back}] TJ 0 Tr ({b}) Tj ET\n")
        };
        blocks(&page(&content("4111 1111 ", "9999 ", "1111 1111")), "credit_card");
        blocks(&page(&content("SSN 123-", "00", "45-6789")), "us_ssn");
        blocks(&page(&content("see ", "4111 1111 1111 1111", " below")), "credit_card");
        allows(&page(&content("4111 1111 ", "9999 ", "1111 1112")));
        allows(&page(&content("order ", "ORD-2024-000123", " shipped")));
    }
}
