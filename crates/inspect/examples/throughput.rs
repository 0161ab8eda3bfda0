//! Writes the benchmark text, or scans a file with the default policy and prints MB/s (the
//! median of several runs, one core). Used by `bench/inspect_peers.py` to compare with
//! Python peers on the very same bytes.
//!
//! ```text
//! cargo run --release -p inspect --features testkit --example throughput -- write text.txt 16
//! cargo run --release -p inspect --features testkit --example throughput -- write doc.xls 8
//! cargo run --release -p inspect --features testkit --example throughput -- scan text.txt 5
//! ```
//!
//! `write-dense` and `write-ledger` write the number-dense texts of the benchmarks instead
//! (`write-docx`: prose as a Word document), and
//! `bodies PATH N` scans the file as N-byte bodies, one scanner each (for callgrind: the
//! instructions per 5.5 KiB body, fixed costs included).

use std::sync::Arc;
use std::time::Instant;

use inspect::{Engine, Limits, Policy, ScanContext};

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let cmd = args.get(1).map(String::as_str).unwrap_or("");
    let path = args.get(2).cloned().unwrap_or_else(|| "text.txt".into());
    match cmd {
        "write" | "write-dense" | "write-ledger" | "write-docx" => {
            let mib: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(16);
            let text = match cmd {
                "write" => inspect::testkit::prose(mib << 20, 7, 1 << 20),
                "write-dense" => inspect::testkit::numbers::number_dense(mib << 20, 7, 1 << 20),
                "write-docx" => {
                    let text = String::from_utf8_lossy(&inspect::testkit::prose(mib << 20, 11, 1 << 20)).into_owned();
                    inspect::testkit::docx(&text.lines().collect::<Vec<_>>())
                }
                _ => inspect::testkit::numbers::ledger(mib << 20, 7),
            };
            // For `write`, the extension picks a document format around the same prose.
            let lines: Vec<&str> = std::str::from_utf8(&text).unwrap_or_default().lines().collect();
            let bytes = match (cmd, path.rsplit('.').next()) {
                ("write", Some("docx")) => inspect::testkit::docx(&lines),
                ("write", Some("xlsx")) => inspect::testkit::xlsx(&lines),
                ("write", Some("doc")) => inspect::testkit::legacy::doc(&lines),
                ("write", Some("xls")) => inspect::testkit::legacy::xls(&lines),
                _ => text.clone(),
            };
            std::fs::write(&path, bytes)?;
        }
        "bodies" => {
            let size: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(5632);
            let data = std::fs::read(&path)?;
            let engine = Engine::new(Arc::new(Policy::builtin()), Limits::default());
            let t = Instant::now();
            let mut blocked = 0;
            let mut n = 0;
            for body in data.chunks(size.max(1)) {
                blocked += usize::from(engine.scan_bytes(ScanContext::default(), body).is_block());
                n += 1;
            }
            let secs = t.elapsed().as_secs_f64();
            println!("{n} bodies of {size} bytes, {blocked} blocked, {:.2} us per body, {:.1} MB/s", secs * 1e6 / n as f64, data.len() as f64 / secs / 1e6);
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
        _ => eprintln!(
            "usage: throughput write|write-dense|write-ledger|write-docx PATH [MiB] | scan PATH [runs] | bodies PATH [size]"
        ),
    }
    Ok(())
}
