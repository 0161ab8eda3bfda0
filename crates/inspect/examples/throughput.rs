//! Writes the benchmark text, or scans a file with the default policy and prints MB/s (the
//! median of several runs, one core). Used by `bench/inspect_peers.py` to compare with
//! Python peers on the very same bytes.
//!
//! ```text
//! cargo run --release -p inspect --features testkit --example throughput -- write text.txt 16
//! cargo run --release -p inspect --features testkit --example throughput -- write doc.xls 8
//! cargo run --release -p inspect --features testkit --example throughput -- scan text.txt 5
//! ```

use std::sync::Arc;
use std::time::Instant;

use inspect::{Engine, Limits, Policy, ScanContext};

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let cmd = args.get(1).map(String::as_str).unwrap_or("");
    let path = args.get(2).cloned().unwrap_or_else(|| "text.txt".into());
    match cmd {
        "write" => {
            let mib: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(16);
            let text = inspect::testkit::prose(mib << 20, 7, 1 << 20);
            // The extension picks a document format around the same prose.
            let lines: Vec<&str> = std::str::from_utf8(&text).unwrap_or_default().lines().collect();
            let bytes = match path.rsplit('.').next() {
                Some("docx") => inspect::testkit::docx(&lines),
                Some("xlsx") => inspect::testkit::xlsx(&lines),
                Some("doc") => inspect::testkit::legacy::doc(&lines),
                Some("xls") => inspect::testkit::legacy::xls(&lines),
                _ => text.clone(),
            };
            std::fs::write(&path, bytes)?;
        }
        "scan" => {
            let runs: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(5);
            let data = std::fs::read(&path)?;
            let engine = Engine::new(Arc::new(Policy::builtin()), Limits::default());
            let mut rates = Vec::new();
            let mut counts = Default::default();
            for _ in 0..runs.max(1) {
                let t = Instant::now();
                let mut s = engine.scanner(ScanContext::default());
                for chunk in data.chunks(64 * 1024) {
                    s.feed(chunk);
                }
                let v = s.finish();
                rates.push(data.len() as f64 / t.elapsed().as_secs_f64() / 1e6);
                counts = v.counts;
            }
            rates.sort_by(f64::total_cmp);
            println!(
                "{{\"engine\": \"dlpgate-inspect\", \"bytes\": {}, \"mb_per_s\": {:.1}, \"counts\": {:?}}}",
                data.len(),
                rates[rates.len() / 2],
                format!("{counts:?}")
            );
        }
        _ => eprintln!("usage: throughput write PATH [MiB] | throughput scan PATH [runs]"),
    }
    Ok(())
}
