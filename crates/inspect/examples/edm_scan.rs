//! The EDM scan-rate benchmark of `docs/BENCHMARKS.md`, in one process without the server's
//! start-up: an index built by `dlpgate edm index`, a text file, and the CPU time of scans
//! with one `credit_card` rule, and with that rule plus one `edm` rule.
//!
//! ```text
//! cargo run --release -p inspect --example edm_scan -- INDEX.edm KEY_FILE TEXT [ROUNDS]
//! ```
//!
//! Each policy scans the text ROUNDS times (default 5); the medians are printed, and the
//! EDM rule's own cost is their difference.

use std::sync::Arc;

use inspect::edm::{EdmIndex, EdmKey, KEY_BYTES};
use inspect::{Engine, Limits, Policy, ScanContext};

const BASE: &str = "[[rule]]\nname = \"cards\"\ndetectors = [\"credit_card\"]\n";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, index_path, key_path, text_path, ..] = &args[..] else {
        return Err("usage: edm_scan INDEX.edm KEY_FILE TEXT [ROUNDS]".into());
    };
    let rounds: usize = args.get(4).and_then(|a| a.parse().ok()).unwrap_or(5);
    let file = std::fs::File::open(index_path)?;
    // SAFETY: a benchmark's own index file, not changed while it runs.
    #[allow(unsafe_code)]
    let map = unsafe { memmap2::Mmap::map(&file)? };
    let hex = std::fs::read_to_string(key_path)?;
    let secret: [u8; KEY_BYTES] =
        hex::decode(hex.trim())?.try_into().map_err(|_| "the key file does not hold 32 bytes")?;
    let index = Arc::new(EdmIndex::open(Arc::new(map), EdmKey::new(&secret))?);
    let name = index.meta().name.clone();
    let text = std::fs::read(text_path)?;
    let with_edm = format!(
        "{BASE}\n[[rule]]\nname = \"records\"\nedm = {{ index = \"{name}\", min_fields = 2, proximity = 300 }}\n"
    );
    let mut median = Vec::new();
    for (label, toml) in [("base", BASE.to_string()), ("base + edm", with_edm)] {
        let policy = Policy::from_toml_str_with(&toml, &mut |_: &str| Ok(index.clone()))?;
        let engine = Engine::new(Arc::new(policy), Limits::default());
        let mut times = Vec::new();
        let mut findings = 0;
        for _ in 0..rounds {
            let start = cpu_time::ThreadTime::now();
            let v = engine.scan_bytes(ScanContext::default(), &text);
            times.push(start.elapsed().as_secs_f64());
            findings = v.counts.iter().filter(|(k, _)| k.starts_with("edm")).map(|(_, n)| n).sum::<u64>();
        }
        times.sort_by(f64::total_cmp);
        let m = times[times.len() / 2];
        println!(
            "{label:>12}: {:6.1} ms median of {rounds} ({:.1}-{:.1}), {:7.1} MB/s, {findings} rows found",
            m * 1e3,
            times[0] * 1e3,
            times[times.len() - 1] * 1e3,
            text.len() as f64 / m / 1e6
        );
        median.push(m);
    }
    let rule = median[1] - median[0];
    println!("    edm rule: {:6.1} ms, {:7.1} MB/s", rule * 1e3, text.len() as f64 / rule / 1e6);
    Ok(())
}
