//! Feeds arbitrary bytes to the inspection engine (identify, decode, extract, detect) with a
//! Content-Encoding chosen by the first byte, whole and split at a fuzzer-chosen point: it
//! must never panic, and both feeds must give the same verdict (for input that cannot be
//! scanned: the same decision).
#![no_main]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use inspect::{Engine, Limits, Policy, ScanContext};
use libfuzzer_sys::fuzz_target;

fn engine() -> &'static Engine {
    static E: OnceLock<Engine> = OnceLock::new();
    E.get_or_init(|| {
        let limits = Limits {
            max_decompressed_bytes: 16 << 20,
            max_buffered_bytes: 16 << 20,
            // Generous: a CPU-time stop would make the two feeds differ.
            max_cpu_time: Duration::from_secs(3600),
            ..Limits::default()
        };
        Engine::new(Arc::new(Policy::builtin()), limits)
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, input)) = data.split_first() else {
        return;
    };
    let encoding = match sel % 8 {
        1 => Some("gzip".to_string()),
        2 => Some("deflate".to_string()),
        3 => Some("br".to_string()),
        5 => Some("zstd".to_string()),
        _ => None,
    };
    let content_type = (sel % 8 == 4).then(|| "multipart/form-data; boundary=b".to_string());
    let ctx = ScanContext { content_encoding: encoding, content_type, ..ScanContext::default() };
    let whole = engine().scan_bytes(ctx.clone(), input);
    let split = usize::from(sel).wrapping_mul(31) % (input.len() + 1);
    let mut s = engine().scanner(ctx);
    s.feed(&input[..split]);
    s.feed(&input[split..]);
    let parts = s.finish();
    // In a damaged stream, how much output a decoder flushes before it notices the damage
    // depends on the split, so the first reason found (corrupt, or an unsupported format
    // in what did decode) may differ; the decision must not.
    if whole.could_not_scan.is_some() || parts.could_not_scan.is_some() {
        assert_eq!(whole.decision, parts.decision, "split at {split}");
    } else {
        assert_eq!(canonical(whole), canonical(parts), "split at {split} changed the verdict");
    }
});

/// The verdict with its evidence in one order: members found inside one another (probes,
/// base64 blobs) may finish in an order that depends on the split; what was found may not.
fn canonical(mut v: inspect::Verdict) -> inspect::Verdict {
    v.evidence.sort_by(|a, b| (&a.member, a.offset, &a.detector).cmp(&(&b.member, b.offset, &b.detector)));
    v
}
