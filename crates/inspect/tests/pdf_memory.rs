//! Memory of PDF fonts (issue 12, finding 1): a CMap range of 80 bytes covering 65,536 codes
//! used to become 65,536 map entries, in every one of an unbounded number of CMaps. Measured
//! as the process's peak resident memory, so this file holds one test.

use std::sync::Arc;

use inspect::testkit::pdfkit::cmap_bomb;
use inspect::{Engine, Limits, Policy, ScanContext};

/// A `/proc/self/status` field, in KiB.
fn status_kib(field: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = s.lines().find(|l| l.starts_with(field)).expect("the field");
    line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).expect("a size in KiB")
}

#[test]
fn thousands_of_full_range_cmaps_stay_small() {
    let pdf = cmap_bomb(3_000);
    assert!(pdf.len() < 1 << 20, "{} bytes", pdf.len());
    let engine = Engine::new(Arc::new(Policy::builtin()), Limits::default());
    // Reset the peak to the current resident size (Linux 4.0 and later).
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
    let before = status_kib("VmRSS:");
    let v = engine.scan_bytes(ScanContext::default(), &pdf);
    let peak = status_kib("VmHWM:").saturating_sub(before);
    assert!(v.could_not_scan.is_none(), "{v:?}");
    // 3,000 maps of 65,536 entries each would be gigabytes; as ranges they are kilobytes.
    assert!(peak < 48 << 10, "peak {} MiB over the start", peak >> 10);
}
