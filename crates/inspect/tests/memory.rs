//! The engine charges what it holds for random access to a process-wide [`MemoryAccount`]
//! before it grows, stops with `max_memory` when there is no room, and gives everything back
//! when the scan ends.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use inspect::testkit::{gzip, noise, tar_of, zip_of};
use inspect::{CouldNotScan, Engine, LimitKind, Limits, MemoryAccount, Policy, ScanContext};

/// A budget of `total` bytes.
#[derive(Debug)]
struct Budget {
    total: u64,
    used: AtomicU64,
    peak: AtomicU64,
}

impl MemoryAccount for Budget {
    fn try_charge(&self, n: u64) -> bool {
        let used = self.used.load(Ordering::SeqCst);
        if used + n > self.total {
            return false;
        }
        self.used.fetch_add(n, Ordering::SeqCst);
        self.peak.fetch_max(used + n, Ordering::SeqCst);
        true
    }

    fn release(&self, n: u64) {
        self.used.fetch_sub(n, Ordering::SeqCst);
    }
}

fn engine(total: u64) -> (Engine, Arc<Budget>) {
    let budget = Arc::new(Budget { total, used: AtomicU64::new(0), peak: AtomicU64::new(0) });
    let engine = Engine::new(Arc::new(Policy::builtin()), Limits::default()).with_memory(budget.clone());
    (engine, budget)
}

fn scan(engine: &Engine, body: &[u8]) -> inspect::Verdict {
    let mut scanner = engine.scanner(ScanContext::default());
    for chunk in body.chunks(64 * 1024) {
        scanner.feed(chunk);
    }
    scanner.finish()
}

#[test]
fn held_objects_are_charged_and_refused_past_the_budget() {
    let zip = zip_of(&[("a.bin", &noise(3 << 20, 1)[..])]);
    // Inside a tar and inside gzip, as well as on its own: the held zip is charged wherever
    // it sits.
    let bodies = [("zip", zip.clone()), ("tar", tar_of(&[("in.zip", &zip[..])])), ("gzip", gzip(&zip))];
    for (name, body) in &bodies {
        let (small, budget) = engine(1 << 20);
        let verdict = scan(&small, body);
        assert!(
            matches!(verdict.could_not_scan, Some(CouldNotScan::Limit { limit: LimitKind::MaxMemory, .. })),
            "{name}: {:?}",
            verdict.could_not_scan
        );
        assert!(budget.peak.load(Ordering::SeqCst) <= 1 << 20, "{name}");
        assert_eq!(budget.used.load(Ordering::SeqCst), 0, "{name}: given back");

        let (roomy, budget) = engine(64 << 20);
        let verdict = scan(&roomy, body);
        assert_eq!(verdict.could_not_scan, None, "{name}");
        let peak = budget.peak.load(Ordering::SeqCst);
        assert!(peak >= zip.len() as u64 && peak <= 4 * zip.len() as u64, "{name}: charged {peak}");
        assert_eq!(budget.used.load(Ordering::SeqCst), 0, "{name}: given back");
    }
}

#[test]
fn text_streams_charge_nothing() {
    let (engine, budget) = engine(0);
    let verdict = scan(&engine, &inspect::testkit::prose(4 << 20, 1, 1 << 20));
    assert_eq!(verdict.could_not_scan, None);
    assert_eq!(budget.peak.load(Ordering::SeqCst), 0);
}

/// Scans `body` whole, with a Content-Encoding.
fn scan_encoded(engine: &Engine, body: &[u8], encoding: Option<&str>) -> inspect::Verdict {
    let cx = ScanContext { content_encoding: encoding.map(str::to_string), ..ScanContext::default() };
    let mut scanner = engine.scanner(cx);
    scanner.feed(body);
    scanner.finish()
}

#[test]
fn engine_scratch_past_the_budget_stops_with_max_memory() {
    use std::io::Write;
    // A brotli body with a 16 MiB window: nothing is held but the decoder's ring buffer.
    let mut br = Vec::new();
    {
        let mut w = brotli::CompressorWriter::new(&mut br, 4096, 1, 24);
        w.write_all(&noise(17 << 20, 9)).unwrap();
    }
    // An RTF document whose text is as large as itself: held (about 4 MiB), then extracted.
    let rtf = format!("{{\\rtf1 {}}}", "plain words and more of them\\par\n".repeat(128_000)).into_bytes();
    let cases = [
        ("brotli", br, Some("br"), 8 << 20, 40 << 20),
        ("rtf", rtf.clone(), None, rtf.len() as u64 * 3 / 2, 32 << 20),
    ];
    for (name, body, encoding, tight, roomy) in cases {
        let (small, budget) = engine(tight);
        let verdict = scan_encoded(&small, &body, encoding);
        assert!(
            matches!(verdict.could_not_scan, Some(CouldNotScan::Limit { limit: LimitKind::MaxMemory, .. })),
            "{name}: {:?}",
            verdict.could_not_scan
        );
        assert!(budget.peak.load(Ordering::SeqCst) <= tight, "{name}");
        assert_eq!(budget.used.load(Ordering::SeqCst), 0, "{name}: given back");

        let (roomy, budget) = engine(roomy);
        let verdict = scan_encoded(&roomy, &body, encoding);
        assert_eq!(verdict.could_not_scan, None, "{name}");
        assert!(budget.peak.load(Ordering::SeqCst) > tight, "{name}: its scratch was charged");
        assert_eq!(budget.used.load(Ordering::SeqCst), 0, "{name}: given back");
    }
}

/// A PDF stream that inflates to 24 MiB: each filter stage's output is charged to the
/// process budget as it grows (it failed before: only the file itself was charged, so the
/// tight budget let the scan through), and all of it is given back after the scan.
#[test]
fn pdf_filter_output_is_charged_as_it_grows() {
    use std::io::Write;
    // Hex text compresses about 2:1, under the ratio limit.
    let text: Vec<u8> = noise(12 << 20, 5).iter().flat_map(|b| format!("{b:02x}").into_bytes()).collect();
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    z.write_all(&text).unwrap();
    let stream = z.finish().unwrap();
    let mut pdf = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n".to_vec();
    pdf.extend_from_slice(
        format!("2 0 obj\n<< /Length {} /Filter /FlateDecode >>\nstream\n", stream.len()).as_bytes(),
    );
    pdf.extend_from_slice(&stream);
    pdf.extend_from_slice(b"\nendstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n");
    let file = pdf.len() as u64;

    let tight = file + (16 << 20);
    let (small, budget) = engine(tight);
    let verdict = scan(&small, &pdf);
    assert!(
        matches!(verdict.could_not_scan, Some(CouldNotScan::Limit { limit: LimitKind::MaxMemory, .. })),
        "{:?} (file {file} bytes)",
        verdict.could_not_scan
    );
    assert!(budget.peak.load(Ordering::SeqCst) <= tight);
    assert_eq!(budget.used.load(Ordering::SeqCst), 0, "given back");

    let (roomy, budget) = engine(file + (64 << 20));
    let verdict = scan(&roomy, &pdf);
    assert_eq!(verdict.could_not_scan, None);
    assert!(budget.peak.load(Ordering::SeqCst) >= file + (24 << 20), "the stream's output was charged");
    assert_eq!(budget.used.load(Ordering::SeqCst), 0, "given back");
}
