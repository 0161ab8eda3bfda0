//! Peak memory while scanning a 1 GiB stream: feeds generated prose (or number-dense text,
//! or a CSV ledger) in 64 KiB chunks and prints throughput and the process's peak RSS (VmHWM).
//!
//! `cargo run --release -p inspect --features testkit --example rss [GiB] [prose|dense|ledger]`

use std::sync::Arc;
use std::time::Instant;

use inspect::{Engine, Limits, Policy, ScanContext};

fn vm_hwm_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    let gib: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1);
    let total = gib << 30;
    let kind = std::env::args().nth(2).unwrap_or_else(|| "prose".into());
    // One 4 MiB block of text, fed again and again: the generator must not dominate.
    let block = match kind.as_str() {
        "dense" => inspect::testkit::numbers::number_dense(4 << 20, 1, 1 << 20),
        "ledger" => inspect::testkit::numbers::ledger(4 << 20, 1),
        _ => inspect::testkit::prose(4 << 20, 1, 1 << 20),
    };
    let engine = Engine::new(Arc::new(Policy::builtin()), Limits::default());
    let mut scanner = engine.scanner(ScanContext::default());
    let start = Instant::now();
    let mut fed = 0u64;
    while fed < total {
        for chunk in block.chunks(64 * 1024) {
            scanner.feed(chunk);
        }
        fed += block.len() as u64;
    }
    let verdict = scanner.finish();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "scanned {} MiB of {kind} in {secs:.2} s = {:.0} MB/s; decision {:?}; matches {:?}; peak RSS {} KiB",
        fed >> 20,
        fed as f64 / secs / 1e6,
        verdict.decision,
        verdict.counts,
        vm_hwm_kib().unwrap_or(0)
    );
}
