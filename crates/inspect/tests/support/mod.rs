//! What the evasion tests share: scanning with the default policy, and asserting a block by
//! one detector or a clean pass, for a value and its decoys disguised one way.
#![allow(dead_code)]

use std::sync::Arc;

use inspect::testkit::evasion::{document, DECOYS, VALUES};
use inspect::{Engine, Limits, Policy, ScanContext, Verdict};

pub fn engine() -> Engine {
    Engine::new(Arc::new(Policy::builtin()), Limits::default())
}

pub fn scan(bytes: &[u8], content_type: Option<&str>) -> Verdict {
    let ctx = ScanContext { content_type: content_type.map(str::to_string), ..ScanContext::default() };
    engine().scan_bytes(ctx, bytes)
}

#[track_caller]
pub fn blocks_as(bytes: &[u8], content_type: Option<&str>, detector: &str) {
    let v = scan(bytes, content_type);
    assert!(
        v.is_block() && v.counts.get(detector).copied().unwrap_or(0) > 0 && v.could_not_scan.is_none(),
        "expected a block by {detector} for {:?}: {v:?}",
        String::from_utf8_lossy(&bytes[..bytes.len().min(400)])
    );
}

#[track_caller]
pub fn blocks(bytes: &[u8], detector: &str) {
    blocks_as(bytes, None, detector);
}

#[track_caller]
pub fn allows_as(bytes: &[u8], content_type: Option<&str>) {
    let v = scan(bytes, content_type);
    assert!(
        !v.is_block() && v.could_not_scan.is_none(),
        "expected no block for {:?}: {v:?}",
        String::from_utf8_lossy(&bytes[..bytes.len().min(400)])
    );
}

#[track_caller]
pub fn allows(bytes: &[u8]) {
    allows_as(bytes, None);
}

/// Every valid value disguised by `disguise` blocks; the decoys disguised the same way
/// pass. `disguise` gets the whole document and returns the bytes to scan.
#[track_caller]
pub fn technique_as(content_type: Option<&str>, disguise: impl Fn(&str) -> Vec<u8>) {
    for (det, value) in VALUES {
        blocks_as(&disguise(&document(&[value])), content_type, det);
    }
    allows_as(&disguise(&document(DECOYS)), content_type);
}

#[track_caller]
pub fn technique(disguise: impl Fn(&str) -> Vec<u8>) {
    technique_as(None, disguise);
}
