//! Document fingerprints: the precision/recall table of `docs/POLICY.md`, the scan-rate
//! benchmark of `docs/BENCHMARKS.md`, and generated documents for the build benchmark.
//!
//! ```text
//! cargo run --release -p inspect --features testkit --example fingerprints -- eval 200 40
//! cargo run --release -p inspect --features testkit --example fingerprints -- bench 10000 32
//! cargo run --release -p inspect --features testkit --example fingerprints -- write-docs /tmp/fpdocs 100000
//! cargo run --release -p inspect --features testkit --example fingerprints -- fuzz-seeds fuzz/corpus/fingerprint_files
//! ```
//!
//! `eval N C` indexes N generated documents (a shared licence header subtracted as a
//! template) and scans C variants of each kind, with one rule per share. `bench N MIB`
//! indexes N documents in memory and scans MIB MiB of unrelated prose, and then of
//! protected text, with and without one fingerprint rule (medians of 5, one core).

use std::io::Cursor;
use std::sync::Arc;
use std::time::Instant;

use inspect::fingerprint::{BuildOptions, Builder, FingerprintIndex, DEFAULT_MAX_DOC_FREQUENCY};
use inspect::testkit::fingerprints::{cases, licence_header, protected_document, KINDS};
use inspect::{Engine, IndexResolver, Limits, Policy, ScanContext};
use sha2::Digest;

const SHARES: [f64; 6] = [0.05, 0.1, 0.2, 0.3, 0.5, 0.7];

struct One(Arc<FingerprintIndex>);

impl IndexResolver for One {
    fn edm(&mut self, name: &str) -> Result<Arc<inspect::edm::EdmIndex>, String> {
        Err(format!("no EDM index {name}"))
    }
    fn fingerprint(&mut self, _: &str) -> Result<Arc<FingerprintIndex>, String> {
        Ok(self.0.clone())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let n = |i: usize, d: usize| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(d);
    match args.get(1).map(String::as_str) {
        Some("eval") => eval(n(2, 200), n(3, 40)),
        Some("bench") => bench(n(2, 10_000), n(3, 32)),
        Some("write-docs") => {
            let dir = std::path::PathBuf::from(args.get(2).ok_or("write-docs DIR N")?);
            std::fs::create_dir_all(&dir)?;
            for i in 0..n(3, 100_000) {
                std::fs::write(dir.join(format!("doc{i:06}.txt")), document(i))?;
            }
            // The licence header every document starts with, for `--exclude`.
            std::fs::write(dir.with_extension("licence.txt"), licence_header())?;
            Ok(())
        }
        Some("fuzz-seeds") => {
            // The `fingerprint_files` fuzz target reads its first byte as a selector.
            let dir = std::path::PathBuf::from(args.get(2).ok_or("fuzz-seeds DIR")?);
            std::fs::create_dir_all(&dir)?;
            let docs: Vec<String> = (0..2).map(|i| protected_document(i, 40)).collect();
            let mut index = vec![1u8];
            index.extend(index_of(&docs, None)?);
            std::fs::write(dir.join("index_small"), index)?;
            let mut records = vec![0u8];
            inspect::fingerprint::write_magic(&mut records)?;
            let r = inspect::fingerprint::DocumentRecord {
                name: "a/b.docx".into(),
                template: false,
                size: 3,
                sha256: [7; 32],
                prints: [1, 2, 3]
                    .map(|hash| inspect::fingerprint::Print { hash, at: hash as u32 * 5 })
                    .to_vec(),
                words: 30,
            };
            inspect::fingerprint::write_record(&mut records, &r)?;
            inspect::fingerprint::write_record(
                &mut records,
                &inspect::fingerprint::DocumentRecord { template: true, ..r },
            )?;
            std::fs::write(dir.join("records_small"), records)?;
            Ok(())
        }
        _ => Err("usage: fingerprints eval N C | bench N MIB | write-docs DIR N | fuzz-seeds DIR".into()),
    }
}

/// Protected document `i`: the licence header, then about 1,500 words (10 KiB) of its own.
fn document(i: usize) -> String {
    format!("{}\n\n{}", licence_header(), protected_document(i as u64, 1_500))
}

fn index_of(docs: &[String], template: Option<&str>) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let reader = Engine::new(Arc::new(Policy::for_fingerprinting()), Limits::default());
    let prints = |b: &[u8]| reader.fingerprint_reader(ScanContext::default(), Cursor::new(b));
    let opts = BuildOptions {
        name: "contracts".into(),
        max_doc_frequency: DEFAULT_MAX_DOC_FREQUENCY,
        built_at: 0,
        build_id: [1; 16],
    };
    let mut b = Builder::new(opts, || Ok(Cursor::new(Vec::new())))?;
    if let Some(t) = template {
        let hashes: Vec<u64> = prints(t.as_bytes())?.prints.iter().map(|p| p.hash).collect();
        b.push_template(&hashes);
    }
    for (i, d) in docs.iter().enumerate() {
        let sha: [u8; 32] = sha2::Sha256::digest(d.as_bytes()).into();
        let c = prints(d.as_bytes())?;
        b.push_document(&format!("doc{i}.txt"), d.len() as u64, sha, &c.prints, c.words)?;
    }
    Ok(b.finish(Cursor::new(Vec::new()))?.0.into_inner())
}

fn engine(index: &[u8], policy: &str) -> Result<Engine, Box<dyn std::error::Error>> {
    let index = Arc::new(FingerprintIndex::open(Arc::new(index.to_vec()))?);
    let policy = Policy::from_toml_str_with_indexes(policy, &mut One(index))?;
    Ok(Engine::new(Arc::new(policy), Limits::default()))
}

fn eval(n: usize, c: usize) -> Result<(), Box<dyn std::error::Error>> {
    let docs: Vec<String> = (0..n).map(document).collect();
    let index = index_of(&docs, Some(&licence_header()))?;
    let mut policy = String::from("[policy]\nname = \"eval\"\ndisable = [\"phone\", \"email\"]\n");
    for s in SHARES {
        policy.push_str(&format!(
            "\n[[rule]]\nname = \"share-{s}\"\nfingerprint = {{ index = \"contracts\", min_containment = {s} }}\n"
        ));
    }
    let engine = engine(&index, &policy)?;
    // Per kind and share: cases blocked for the right document.
    let mut hits = vec![[0usize; SHARES.len()]; KINDS.len()];
    let mut total = vec![0usize; KINDS.len()];
    // Per kind, the share of its document found (the best share of any document for cases
    // that must pass), from the lowest rule's evidence.
    let mut shares: Vec<Vec<f64>> = vec![Vec::new(); KINDS.len()];
    let (mut tp, mut fp, mut positives) = ([0usize; SHARES.len()], [0usize; SHARES.len()], 0);
    for case in cases(&docs, c) {
        let k = KINDS.iter().position(|&k| k == case.kind).unwrap_or(0);
        total[k] += 1;
        positives += usize::from(case.doc.is_some());
        let ctx = ScanContext { filename: Some(case.filename.clone()), ..ScanContext::default() };
        let v = engine.scan_bytes(ctx, &case.bytes);
        let lowest = format!("fingerprint:contracts:{}", SHARES[0]);
        let best = v
            .evidence
            .iter()
            .filter(|e| e.detector == lowest)
            .filter(|e| case.doc.is_none_or(|d| e.masked.starts_with(&format!("contracts: doc{d}.txt:"))))
            .map(|e| share_of(&e.masked))
            .fold(0.0, f64::max);
        shares[k].push(best);
        for (j, s) in SHARES.iter().enumerate() {
            let detector = format!("fingerprint:contracts:{s}");
            let found: Vec<&str> =
                v.evidence.iter().filter(|e| e.detector == detector).map(|e| e.masked.as_str()).collect();
            let right = case
                .doc
                .is_some_and(|d| found.iter().any(|m| m.starts_with(&format!("contracts: doc{d}.txt:"))));
            if right {
                hits[k][j] += 1;
                tp[j] += 1;
            } else if !found.is_empty() {
                hits[k][j] += usize::from(case.doc.is_none());
                fp[j] += 1;
            }
        }
    }
    println!(
        "{n} protected documents (~10 KiB each, a shared licence header subtracted), {c} cases per kind\n"
    );
    print!("| case | median share found | ");
    println!("{} |", SHARES.iter().map(|s| format!("{s}")).collect::<Vec<_>>().join(" | "));
    println!("|---|---|{}", "---|".repeat(SHARES.len()));
    for (k, kind) in KINDS.iter().enumerate() {
        let cells: Vec<String> =
            hits[k].iter().map(|&h| format!("{:.0}%", 100.0 * h as f64 / total[k].max(1) as f64)).collect();
        let verb = if k >= KINDS.len() - 2 { "wrongly blocked" } else { "found" };
        shares[k].sort_by(f64::total_cmp);
        let median = shares[k].get(shares[k].len() / 2).copied().unwrap_or(0.0);
        let median = if median > 1.0 { "exact copy".to_string() } else { format!("{:.0}%", 100.0 * median) };
        println!("| {kind} ({verb}) | {median} | {} |", cells.join(" | "));
    }
    let p: Vec<String> =
        (0..SHARES.len()).map(|j| format!("{:.3}", tp[j] as f64 / (tp[j] + fp[j]).max(1) as f64)).collect();
    let r: Vec<String> =
        (0..SHARES.len()).map(|j| format!("{:.3}", tp[j] as f64 / positives.max(1) as f64)).collect();
    println!("| **precision** | | {} |", p.join(" | "));
    println!("| **recall** (all positive kinds) | | {} |", r.join(" | "));
    Ok(())
}

/// The share an evidence string gives (`...: 43% of its text ...`); 2.0 for an exact
/// copy; 0 below the lowest rule (no evidence).
fn share_of(masked: &str) -> f64 {
    if masked.ends_with("exact copy") {
        return 2.0;
    }
    masked
        .split(": ")
        .nth(2)
        .and_then(|s| s.split('%').next())
        .and_then(|p| p.parse::<f64>().ok())
        .map_or(0.0, |p| p / 100.0)
}

fn bench(n: usize, mib: usize) -> Result<(), Box<dyn std::error::Error>> {
    let docs: Vec<String> = (0..n).map(document).collect();
    let t = Instant::now();
    let index = index_of(&docs, Some(&licence_header()))?;
    println!(
        "{n} documents indexed in memory in {:.1} s: {:.1} MiB",
        t.elapsed().as_secs_f64(),
        index.len() as f64 / (1 << 20) as f64
    );
    let prose = inspect::testkit::prose(mib << 20, 7, 1 << 20);
    let mut protected = Vec::new();
    let mut i = 0;
    while protected.len() < mib << 20 {
        protected.extend_from_slice(docs[i % n].as_bytes());
        protected.push(b'\n');
        i += 97;
    }
    for (label, text) in [("unrelated prose", &prose), ("protected documents", &protected)] {
        let start = cpu_time::ThreadTime::now();
        let n = inspect::fingerprint::fingerprints_of_text(text).len();
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{label:>20}: shingling and winnowing alone {:7.1} MB/s, {n} fingerprints",
            text.len() as f64 / secs / 1e6
        );
    }
    let rule =
        "\n[[rule]]\nname = \"contracts\"\nfingerprint = { index = \"contracts\", min_containment = 0.3 }\n";
    let only = format!("[policy]\nname = \"fp\"\ndisable = [{}]\n{rule}", all_builtins());
    let with_default = format!("{}{rule}", inspect::DEFAULT_POLICY_TOML);
    let engines = [
        ("default policy", Engine::new(Arc::new(Policy::builtin()), Limits::default())),
        ("default policy + fingerprint rule", engine(&index, &with_default)?),
        ("fingerprint rule alone", engine(&index, &only)?),
    ];
    for (label, text) in [("unrelated prose", &prose), ("protected documents", &protected)] {
        for (name, e) in &engines {
            let mut times = Vec::new();
            let mut blocked = false;
            for _ in 0..5 {
                let start = cpu_time::ThreadTime::now();
                let v = e.scan_bytes(ScanContext::default(), text);
                times.push(start.elapsed().as_secs_f64());
                blocked = v.is_block();
            }
            times.sort_by(f64::total_cmp);
            println!(
                "{label:>20}, {name:>34}: {:7.1} MB/s (CPU time, median of 5), blocked {blocked}",
                text.len() as f64 / times[2] / 1e6
            );
        }
    }
    Ok(())
}

fn all_builtins() -> String {
    inspect::Builtin::ALL.iter().map(|b| format!("{:?}", b.name())).collect::<Vec<_>>().join(", ")
}
