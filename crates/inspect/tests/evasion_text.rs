//! Evasions by text encoding and layout: for each technique, a valid card, SSN or IBAN
//! written that way must block, and the same technique carrying only decoys (Luhn-invalid
//! card-like numbers, SSNs in invalid ranges, IBANs with a bad checksum, order ids, UUIDs,
//! hashes, timestamps) must be allowed.

use std::sync::Arc;

use inspect::{Engine, Limits, Policy, ScanContext, Verdict};

fn engine() -> Engine {
    Engine::new(Arc::new(Policy::builtin()), Limits::default())
}

fn scan(bytes: &[u8], content_type: Option<&str>) -> Verdict {
    let ctx = ScanContext { content_type: content_type.map(str::to_string), ..ScanContext::default() };
    engine().scan_bytes(ctx, bytes)
}

#[track_caller]
fn blocks(bytes: &[u8], detector: &str) {
    blocks_as(bytes, None, detector);
}

#[track_caller]
fn blocks_as(bytes: &[u8], content_type: Option<&str>, detector: &str) {
    let v = scan(bytes, content_type);
    assert!(
        v.is_block() && v.counts.get(detector).copied().unwrap_or(0) > 0 && v.could_not_scan.is_none(),
        "expected a block by {detector} for {:?}: {v:?}",
        String::from_utf8_lossy(&bytes[..bytes.len().min(400)])
    );
}

#[track_caller]
fn allows(bytes: &[u8]) {
    allows_as(bytes, None);
}

#[track_caller]
fn allows_as(bytes: &[u8], content_type: Option<&str>) {
    let v = scan(bytes, content_type);
    assert!(
        !v.is_block() && v.could_not_scan.is_none(),
        "expected no block for {:?}: {v:?}",
        String::from_utf8_lossy(&bytes[..bytes.len().min(400)])
    );
}

/// A CSV field after a numeric field is a value of its own, not the fraction of a decimal
/// number: `1,4111111111111111` holds a card. Groups of three after a comma stay thousands.
#[test]
fn csv_fields_after_numbers() {
    blocks(b"id,card\n1,4111111111111111\n2,4012888888881881\n", "credit_card");
    blocks(b"id;n;card\n17,42,4111 1111 1111 1111\n", "credit_card");
    blocks(b"row,ssn\n7,123-45-6789\n", "us_ssn");
    allows(b"id,card\n1,4111111111111112\n2,4012888888881882\n");
    allows(b"units 4,111,111,111,111,111 and $1,234,567.89 and 0.4111111111111111\n");
    allows(b"id,order\n1,123456789\n2,987654321\n");
}
