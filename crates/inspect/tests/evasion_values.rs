//! Values written the way programs and devices write them, which a word-boundary reading
//! misses: a card in a CSV row followed by more numbers, a float column (`.0`, scientific
//! notation), a name glued with `_`, a magnetic stripe's track 1, an IBAN glued to the next
//! label, digits in enclosed and parenthesized forms. Each must block; each decoy (Luhn-
//! invalid, bad checksum, a real fraction) must be allowed.

mod support;

/// Each case alone, and inside number-dense rows (where the digit scan judges a block's
/// runs all at once rather than one by one).
fn in_rows(case: &[u8]) -> Vec<u8> {
    let rows: String =
        (0..12).map(|k| format!("{k},2024-01-{:02},{},{}.50\n", k + 1, 1000 + k, 20 + k)).collect();
    [rows.as_bytes(), case, b"\n", rows.as_bytes()].concat()
}

fn blocks(case: &[u8], detector: &str) {
    support::blocks(case, detector);
    support::blocks(&in_rows(case), detector);
}

fn allows(case: &[u8]) {
    support::allows(case);
    support::allows(&in_rows(case));
}

#[test]
fn a_card_followed_by_more_fields_in_a_csv_row() {
    blocks(b"id,card,qty,price\n1,4111111111111111,2,19.99\n", "credit_card");
    blocks(b"id,card,qty\n1,4111 1111 1111 1111,2\n", "credit_card");
    blocks(b"id,card,qty\n1,5500-0000-0000-0004,7,3\n", "credit_card");
    blocks(b"id;ssn;n\n1;219-09-9999,5\n", "us_ssn");
    allows(b"id,card,qty,price\n1,4111111111111112,2,19.99\n");
    // A decimal number is still one number.
    allows(b"total 4111111111111111.25 units\n");
}

#[test]
fn floats_with_a_zero_fraction_and_scientific_notation() {
    blocks(b"id,name,card\n1,John,4111111111111111.0\n2,Jane,\n", "credit_card");
    blocks(b"{\"card\":4111111111111111.00}", "credit_card");
    blocks(b"id,name,ssn\n1,John,219099999.0\n", "us_ssn");
    blocks(b"{\"card\":4.111111111111111E+15}", "credit_card");
    blocks(b"card=4.111111111111111e15\n", "credit_card");
    blocks(b"{\"card\":5.500000000000004E15}", "credit_card");
    // A Luhn-invalid one, one whose fraction does not end (a 15-digit integer part and a
    // digit after the point), and one glued to a word.
    allows(b"{\"card\":4.111111111111112E+15}");
    allows(b"{\"v\":4.111111111111111E+14}");
    allows(b"{\"v\":x4.111111111111111E+15}");
    allows(b"id,name,card\n1,John,4111111111111112.0\n");
}

#[test]
fn names_glued_with_underscores() {
    blocks(b"card_4111111111111111_exp\n", "credit_card");
    blocks(b"export_4111-1111-1111-1111.csv\n", "credit_card");
    blocks(b"IBAN_DE89370400440532013000\n", "iban");
    allows(b"card_4111111111111112_exp\n");
    allows(b"IMG_20231104123456789.jpg VID_4111111111111112\n");
}

#[test]
fn magnetic_stripe_track_one() {
    blocks(b"%B4111111111111111^SMITH/JOHN^2812101000000000000?\n", "credit_card");
    blocks(b"log: %B5500000000000004^DOE/JANE ^29011010000000000000?", "credit_card");
    allows(b"%B4111111111111112^SMITH/JOHN^2812101000000000000?\n");
    // Any other letter glued before digits stays a word.
    allows(b"order X4111111111111111 shipped\n");
    allows(b"order AB4111111111111111^ shipped\n");
}

#[test]
fn an_iban_glued_to_the_next_label() {
    blocks(b"IBAN:DE89370400440532013000BIC:COBADEFF\n", "iban");
    blocks(b"IBAN:GB82WEST12345698765432BIC:NWBKGB2L\n", "iban");
    allows(b"IBAN:DE89370400440532013001BIC:COBADEFF\n");
    // A longer code that merely starts like one: lower case, or digits go on.
    allows(b"ref DE89370400440532013000bic\n");
    allows(b"ref DE893704004405320130001234\n");
}

#[test]
fn enclosed_and_parenthesized_digits() {
    let forms: [fn(u8) -> char; 4] = [
        |d| char::from_u32(0x2474 + u32::from(d) - 1).unwrap_or('?'),
        |d| char::from_u32(0x2488 + u32::from(d) - 1).unwrap_or('?'),
        |d| char::from_u32(0x24F5 + u32::from(d) - 1).unwrap_or('?'),
        |d| char::from_u32(0x1F101 + u32::from(d)).unwrap_or('?'),
    ];
    for form in forms {
        let write = |s: &str| {
            s.bytes()
                .map(|b| if (b'1'..=b'9').contains(&b) { form(b - b'0') } else { char::from(b) })
                .collect::<String>()
        };
        blocks(format!("card {}\n", write("4111 1111 1111 1111")).as_bytes(), "credit_card");
        allows(format!("card {}\n", write("4111 1111 1111 1112")).as_bytes());
    }
    blocks("card 4111\u{2024}1111\u{2024}1111\u{2024}1111\n".as_bytes(), "credit_card");
}
