//! Escapes of programming languages and stacked encodings, as a receiver decodes them: a
//! valid value written that way must block, and the same disguise carrying only decoys
//! (Luhn-invalid card-like numbers, SSNs in invalid ranges, IBANs with a bad checksum,
//! order ids, UUIDs, hashes, timestamps) must be allowed.

mod support;

use inspect::testkit::evasion::{document, js_code_point, js_hex, percent, percent_u, DECOYS, VALUES};
use support::{allows, blocks, technique, technique_as};

/// Puts `lead` in front of every value of a [`document`].
fn lead_values(lead: &'static str) -> impl Fn(&str) -> Vec<u8> {
    move |t: &str| t.replace("Reference on file: ", &format!("Reference on file: {lead}")).into_bytes()
}

/// JavaScript, C and Python hex escapes (`\x34`), JavaScript code point escapes
/// (`\u{34}`) and the `%uXXXX` escapes of JavaScript's `escape()`, which IIS and ASP decode
/// in URLs and form fields: in plain text, in a script, in JSON strings (JSON5 allows
/// `\x`; a JSON string may carry JavaScript source with its backslash escaped), in a form
/// body.
#[test]
fn javascript_escapes() {
    technique(|t| js_hex(t).into_bytes());
    technique(|t| js_code_point(t).into_bytes());
    technique(|t| percent_u(t).into_bytes());
    technique_as(Some("text/html"), |t| {
        format!("<html><script>var notes = \"{}\";</script></html>", js_hex(t).replace('\n', "\\n"))
            .into_bytes()
    });
    technique_as(Some("application/json"), |t| {
        format!("{{\"notes\": \"{}\"}}", js_hex(t).replace('\n', "\\n")).into_bytes()
    });
    technique_as(Some("application/json"), |t| {
        format!("{{\"src\": \"{}\"}}", js_hex(t).replace('\\', "\\\\").replace('\n', "\\n")).into_bytes()
    });
    technique_as(Some("application/json"), |t| {
        format!("{{\"notes\": \"{}\"}}", js_code_point(t).replace('\n', "\\n")).into_bytes()
    });
    technique_as(Some("application/x-www-form-urlencoded"), |t| format!("q={}", percent_u(t)).into_bytes());
    // Upper-case hex digits, a `%U`, and escapes of every character, not only digits.
    blocks(b"card \\x34\\x31\\x31\\x31\\x20\\x31\\x31\\x31\\x31 1111 1111", "credit_card");
    blocks(b"card %U0034%u0031%u0031%u0031 1111 1111 1111", "credit_card");
    blocks(b"card \\u{000034}\\u{31}11 1111 1111 1111", "credit_card");
    // What is no escape stays as it is.
    allows(b"path C:\\x86\\u{zz} %uZZ12 \\x4 \\u{110000} %u12");
}

/// One escape character in front of a value makes the decoder eat its first digits
/// (`\x41` is `A`, `%u4111` a CJK letter), while anyone reading the text sees the value:
/// the text around such an escape is read again as it is written.
#[test]
fn a_hex_escape_in_front_of_a_value() {
    for lead in ["\\x", "%u"] {
        for (det, value) in VALUES.iter().filter(|(d, _)| *d != "us_ssn" || lead == "\\x") {
            blocks(&lead_values(lead)(&document(&[value])), det);
        }
        allows(&lead_values(lead)(&document(DECOYS)));
    }
}

/// Quoted-printable over percent-encoding (`=25` is `%`), in text that is evidently
/// quoted-printable, as an e-mail reader decodes it and then a browser or server decodes
/// the URL it holds.
#[test]
fn quoted_printable_over_percent_encoding() {
    let qp_over_percent = |t: &str| {
        let mut out = String::from("Notes=\r\n");
        for line in t.lines() {
            out.push_str(&percent(line).replace('%', "=25"));
            out.push_str("\r\n");
        }
        out.into_bytes()
    };
    technique(qp_over_percent);
}

/// HTML character references over percent-encoding (`&#37;34`): a browser turns the
/// reference into `%` and then decodes the URL (`<a href="?card=&#37;34...">`).
#[test]
fn character_references_over_percent_encoding() {
    technique(|t| {
        format!("<html><body><a href=\"/pay?{}\">pay</a></body></html>", percent(t).replace('%', "&#37;"))
            .into_bytes()
    });
    technique(|t| {
        format!("<html><body><p>{}</p></body></html>", percent(t).replace('%', "&percnt;")).into_bytes()
    });
}
