//! Tests of the numeric detectors: the run filter against examining every run, run ends,
//! skipped second readings, checksums.

use super::*;
use crate::detect::Hits;

/// Every run examined, without [`worth_examining`].
fn scan_unfiltered(buf: &[u8], found: &mut Found<'_>) {
    let mut digits = Vec::new();
    for i in 0..buf.len() {
        if buf[i].is_ascii_digit() && !before(buf, i).is_some_and(|b| b.is_ascii_digit()) {
            candidate(buf, 0, i, run_end(buf, i), found, &mut digits);
        }
    }
}

#[test]
fn the_run_filter_refuses_only_runs_that_cannot_match() {
    let policy = crate::policy::Policy::builtin();
    let pieces: &[&[u8]] = &[
        b"4111",
        b"1111",
        b"411111111111111",
        b"1",
        b"12",
        b"123",
        b"555",
        b"4567",
        b"45",
        b"6789",
        b"123456789",
        b"3782",
        b"822463",
        b"10005",
        b"DE89",
        b"GB",
        b"0532",
        b"WEST",
        b"de89",
        b"gb",
        b"west",
        b"SSN ",
        b" ",
        b"-",
        b".",
        b",",
        b"+",
        b"(",
        b")",
        b"\n",
        b"\t",
        b"  ",
        b"a",
        b"_",
        b"/",
        b":",
        b"4111.1111.1111.1111",
        b"4111\t1111\t1111\t1111",
        b"123.45.6789",
        b"123\t45\t6789",
        b"555\t123\t4567",
        b"123  45  6789",
        b"4111  1111  1111  1111",
        b"\r\n",
        b" \n",
        b"ee",
        b"3782 822463 10005",
        b"INV-2024-000123",
        b"4111 1111 1111 1111",
        b"123-45-6789",
        b"(555) 123-4567",
        b"+44 20 7946 0958",
        b"DE89 3704 0044 0532 0130 00",
        b"555.123.4567",
        b"4111111111111111",
    ];
    let mut x = 0x2545_f491_4f6c_dd1d_u64;
    let mut matched = 0;
    for _ in 0..20_000 {
        let mut text = Vec::new();
        for _ in 0..12 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            text.extend_from_slice(pieces[(x % pieces.len() as u64) as usize]);
        }
        let mut a = Hits::new(1000);
        let mut b = Hits::new(1000);
        scan(&text, 0, 0, text.len(), &mut Found { set: &policy.detectors, hits: &mut a, member: "" });
        scan_unfiltered(&text, &mut Found { set: &policy.detectors, hits: &mut b, member: "" });
        let (a, b) = (format!("{a:?}"), format!("{b:?}"));
        matched += usize::from(a.contains("offset"));
        assert_eq!(a, b, "{:?}", String::from_utf8_lossy(&text));
    }
    assert!(matched > 1000, "{matched}");
}

/// Ledgers and number-dense text with values in every shape, scanned with and without
/// the run filter: the same findings.
#[cfg(feature = "testkit")]
#[test]
fn dense_text_is_filtered_exactly() {
    let policy = crate::policy::Policy::builtin();
    let values: &[&[u8]] = &[
        b"4111 1111 1111 1111",
        b"4111-1111-1111-1111",
        b"4111111111111111",
        b"4111 1111\n1111 1111",
        b"4111 1111 1111\n1111",
        b"3782 822463 10005",
        b"123-45-6789",
        b"123\t45\t6789",
        b"123  45  6789",
        b"4111  1111  1111  1111",
        b"4111 1111 \n1111 1111",
        b"4111\r\n1111 1111 1111",
        b"4111 \n1111 1111 1111",
        b"x de89370400440532013000",
        b"SSN 123456789",
        b"+44 20 7946 0958",
        b"(555) 123-4567",
        b"DE89 3704 0044 0532 0130 00",
        b"DE89370400440532013000",
        b"555.123.4567",
    ];
    let mut texts = vec![
        crate::testkit::numbers::ledger(256 << 10, 5),
        crate::testkit::numbers::number_dense(256 << 10, 5, 0),
    ];
    for t in texts.iter_mut() {
        let mut out = Vec::new();
        for (n, line) in t.split_inclusive(|&b| b == b'\n').enumerate() {
            let v = values[n % values.len()];
            // Between a comma, space, letter or line break and a comma, space or dash, at
            // varying places in the row.
            let at = (n * 7) % line.len();
            out.extend_from_slice(&line[..at]);
            out.extend_from_slice(&[b",", b" ", b"x", b"\n"][n % 4][..]);
            out.extend_from_slice(v);
            out.extend_from_slice(&[b",", b" ", b"-"][n % 3][..]);
            out.extend_from_slice(&line[at..]);
        }
        *t = out;
    }
    for text in texts {
        let mut a = Hits::new(100_000);
        let mut b = Hits::new(100_000);
        scan(&text, 0, 0, text.len(), &mut Found { set: &policy.detectors, hits: &mut a, member: "" });
        scan_unfiltered(&text, &mut Found { set: &policy.detectors, hits: &mut b, member: "" });
        let (a, b) = (format!("{a:?}"), format!("{b:?}"));
        assert!(a.matches("offset").count() > 20, "{}", a.matches("offset").count());
        assert_eq!(a, b);
    }
}

/// What [`second_reading_may_find`] skips finds nothing: on random texts of digit groups,
/// spaces, dashes and line breaks, every token with a break before its third group that
/// reports nothing read with the break reports nothing read up to it either.
#[test]
fn skipped_second_readings_find_nothing() {
    let policy = crate::policy::Policy::builtin();
    let pieces: &[&[u8]] = &[
        b"4111",
        b"1111",
        b"4111111111111111",
        b"411111111111111",
        b"123",
        b"45",
        b"6789",
        b"123456789",
        b"3782",
        b"822463",
        b"10005",
        b"12",
        b" ",
        b" ",
        b"-",
        b"\n",
        b" \n ",
        b"\r\n",
        b"SSN ",
        b"card ",
        b"a",
        b",",
        b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx ",
        b"123 45 6789",
        b"4111 1111 1111",
        b"4111 1111 1111 1111",
        b"3782 822463 10005",
        b"4111 1111",
        b"\n",
    ];
    let mut x = 0x1234_5678_9abc_def1_u64;
    let (mut skipped, mut checked) = (0, 0);
    let mut digits = Vec::new();
    for _ in 0..40_000 {
        let mut text = Vec::new();
        for _ in 0..14 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            text.extend_from_slice(pieces[(x % pieces.len() as u64) as usize]);
        }
        for i in 0..text.len() {
            if !text[i].is_ascii_digit() || before(&text, i).is_some_and(|b| b.is_ascii_digit()) {
                continue;
            }
            let e = run_end(&text, i);
            let wrapped = token(&text, i, e, true);
            if wrapped.broken.is_none() {
                continue;
            }
            let mut hits = Hits::new(100);
            let found_wrapped = validate_token(
                &text,
                0,
                i,
                &wrapped,
                &mut Found { set: &policy.detectors, hits: &mut hits, member: "" },
                &mut digits,
            );
            if found_wrapped || second_reading_may_find(&wrapped) {
                checked += 1;
                continue;
            }
            skipped += 1;
            let mut hits = Hits::new(100);
            let t = token(&text, i, e, false);
            let mut f = Found { set: &policy.detectors, hits: &mut hits, member: "" };
            assert!(
                !validate_token(&text, 0, i, &t, &mut f, &mut digits),
                "{:?}",
                String::from_utf8_lossy(&text)
            );
        }
    }
    assert!(skipped > 1000 && checked > 300, "{skipped} {checked}");
}

#[test]
fn run_ends_match_the_byte_loop() {
    // Every start in buffers of every length up to 40 with digits in random places,
    // so runs end at every offset within and across the eight-byte steps and at the end.
    let mut x = 0x9E37_79B9_7F4A_7C15_u64;
    for len in 0..40 {
        for _ in 0..50 {
            let buf: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    if x.is_multiple_of(5) {
                        b'/' + (x >> 8) as u8 % 12
                    } else {
                        b'0' + (x >> 8) as u8 % 10
                    }
                })
                .collect();
            for i in 0..=len {
                let plain = i + buf[i..].iter().take_while(|b| b.is_ascii_digit()).count();
                assert_eq!(run_end(&buf, i), plain, "{buf:?} from {i}");
            }
        }
    }
}

#[test]
fn digit_masks() {
    let mut block = [b'a'; 64];
    for j in [0usize, 7, 8, 9, 33, 63] {
        block[j] = b'0' + (j % 10) as u8;
    }
    block[20] = b'/';
    block[21] = b':';
    block[22] = 0xB0;
    block[23] = 0xB9;
    let want = (1 << 0) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 33) | (1 << 63);
    assert_eq!(classes::digits::<0>(&block), want);
    // The eight-byte steps of `run_end` read the same digits.
    let swar = block
        .as_chunks::<8>()
        .0
        .iter()
        .enumerate()
        .fold(0u64, |m, (k, w)| m | digit_mask8(u64::from_le_bytes(*w)) << (8 * k));
    assert_eq!(swar, want);
}

#[test]
fn luhn_and_brands() {
    assert!(card_valid(b"4111111111111111"));
    assert!(!card_valid(b"4111111111111112"));
    assert!(card_valid(b"5500000000000004"));
    assert!(card_valid(b"2223000048400011"));
    assert!(card_valid(b"378282246310005"));
    assert!(card_valid(b"6011111111111117"));
    assert!(card_valid(b"3530111333300000"));
    assert!(card_valid(b"30569309025904"));
    assert!(card_valid(b"6200000000000005"));
    assert!(card_valid(b"4222222222222"));
    // Luhn-valid but no brand.
    assert!(!card_valid(b"1234567812345670"));
}

#[test]
fn ssn_ranges() {
    assert!(ssn_valid(b"123456789"));
    assert!(!ssn_valid(b"000123456"));
    assert!(!ssn_valid(b"666123456"));
    assert!(!ssn_valid(b"900123456"));
    assert!(!ssn_valid(b"123003456"));
    assert!(!ssn_valid(b"123450000"));
}

/// The token [`tokenize`] reads from the run `buf[i..e]`.
fn token(buf: &[u8], i: usize, e: usize, wrap: bool) -> Token {
    let mut t = Token::default();
    tokenize(buf, i, e, wrap, &mut t);
    t
}
