//! A card number written one digit at a time, next to a card hotword, blocks; rows of
//! single digits that are tables, grids or decoys do not.

#![allow(clippy::unwrap_used)] // tests may unwrap

use std::sync::Arc;

use inspect::{Engine, Limits, Policy, ScanContext};

fn engine() -> Engine {
    Engine::new(Arc::new(Policy::builtin()), Limits::default())
}

/// Verdicts of `text` whole and fed in pieces of 1, 7 and 64 bytes, after a lead of
/// `lead` bytes of prose (so the row falls at every offset of a block).
fn blocks_everywhere(e: &Engine, text: &str) -> Vec<(usize, bool)> {
    let mut out = Vec::new();
    for lead in 0..80 {
        let data = format!("{}{text}", "a".repeat(lead) + " ");
        let whole = e.scan_bytes(ScanContext::default(), data.as_bytes());
        for piece in [1, 7, 64] {
            let mut s = e.scanner(ScanContext::default());
            for c in data.as_bytes().chunks(piece) {
                s.feed(c);
            }
            assert_eq!(s.finish(), whole, "lead {lead}, pieces of {piece}: {text:?}");
        }
        out.push((lead, whole.is_block()));
    }
    out
}

#[test]
fn cards_spelled_one_digit_at_a_time_block_near_a_hotword() {
    let e = engine();
    for text in [
        "card number: 4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 thanks",
        "visa 4-0-1-2-8-8-8-8-8-8-8-8-1-8-8-1",
        "payment with 5.5.0.0.0.0.0.0.0.0.0.0.0.0.0.4 today",
        "Mastercard\n5 5 0 0 0 0 0 0 0 0 0 0 0 0 0 4",
        "amex 3 7 8 2 8 2 2 4 6 3 1 0 0 0 5",
    ] {
        for (lead, blocked) in blocks_everywhere(&e, text) {
            assert!(blocked, "lead {lead}: {text:?}");
        }
        let v = e.scan_bytes(ScanContext::default(), text.as_bytes());
        assert!(v.evidence.iter().all(|ev| !ev.masked.contains("4 1 1 1 1")), "{v:?}");
    }
}

#[test]
fn rows_of_single_digits_that_are_no_card_pass() {
    let e = engine();
    for text in [
        // No hotword: a grid row.
        "row 4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 end",
        // Luhn fails.
        "card number 4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 2",
        // A longer row of digits, of which a card-shaped part is only a part.
        "card number 9 4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1",
        // Mixed joiners, and a two-digit group after the row.
        "card number 4 1 1 1-1 1 1 1 1 1 1 1 1 1 1 1",
        "card number 4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 12",
        // Commas are data, not a card.
        "card number 4,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1",
    ] {
        for (lead, blocked) in blocks_everywhere(&e, text) {
            assert!(!blocked, "lead {lead}: {text:?}");
        }
    }
}
