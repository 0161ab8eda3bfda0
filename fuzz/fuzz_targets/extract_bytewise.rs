//! Feeds arbitrary bytes to the inspection engine's streaming scanner one byte per `feed`, and
//! whole: every decoder and extractor must give the same verdict however the body is split
//! (the engine promises split invariance), and none may panic. Byte 0 picks the
//! Content-Encoding and Content-Type, as in the `extract` target.
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
        _ => None,
    };
    let content_type = match sel % 8 {
        4 => Some("multipart/form-data; boundary=b".to_string()),
        5 => Some("message/rfc822".to_string()),
        6 => Some("application/x-www-form-urlencoded".to_string()),
        _ => None,
    };
    let ctx = ScanContext { content_encoding: encoding, content_type, ..ScanContext::default() };
    let whole = engine().scan_bytes(ctx.clone(), input);
    let mut s = engine().scanner(ctx);
    for byte in input {
        s.feed(std::slice::from_ref(byte));
    }
    let bytewise = s.finish();
    // As in `extract`: in a damaged stream the first reason found may depend on the split;
    // the decision may not.
    if whole.could_not_scan.is_some() || bytewise.could_not_scan.is_some() {
        assert_eq!(whole.decision, bytewise.decision, "1-byte feeds changed the decision");
    } else {
        assert_eq!(canonical(whole), canonical(bytewise), "1-byte feeds changed the verdict");
    }
});

/// The verdict with its evidence in one order: members found inside one another (probes,
/// base64 blobs) may finish in an order that depends on the split; what was found may not.
fn canonical(mut v: inspect::Verdict) -> inspect::Verdict {
    v.evidence.sort_by(|a, b| (&a.member, a.offset, &a.detector).cmp(&(&b.member, b.offset, &b.detector)));
    v
}
