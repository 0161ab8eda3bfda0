//! Throughput of the default policy on one core.
//!
//! - `plain_text`: 16 MiB of prose with a sensitive value every MiB, scanned in 64 KiB chunks.
//! - `number_dense`: the same with one word in twenty a number of 6-10 digits.
//! - `ledger_csv`: 16 MiB of a CSV export full of order ids, amounts, dates, phone numbers,
//!   UUIDs and card-like numbers that fail the Luhn check (allowed).
//! - `small_bodies/*`: 5.5 KiB bodies, one scanner each, as an ICAP server sees them: the
//!   fixed costs per object (scanner, sniffing, verdict) count.
//! - `docx`, `xlsx`, `zip`: the same kind of prose inside documents, counted in extracted
//!   bytes (uncompressed member sizes).
//! - `xls`, `doc`: the same prose in Excel and Word 97-2003 files, counted in file bytes.
//!
//! `cargo bench -p inspect --features testkit --bench scan`

use std::hint::black_box;
use std::io::Read;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use inspect::testkit::legacy::{doc, xls};
use inspect::testkit::numbers::{ledger, number_dense};
use inspect::testkit::{docx, prose, xlsx, zip_of};
use inspect::{Engine, Limits, Policy, ScanContext};

fn engine() -> Engine {
    Engine::new(Arc::new(Policy::builtin()), Limits::default())
}

/// Sum of the uncompressed sizes of a zip's members.
fn extracted(z: &[u8]) -> u64 {
    let mut a = zip::ZipArchive::new(std::io::Cursor::new(z)).expect("zip");
    let mut n = 0;
    for i in 0..a.len() {
        let mut f = a.by_index(i).expect("member");
        let mut v = Vec::new();
        f.read_to_end(&mut v).expect("read");
        n += v.len() as u64;
    }
    n
}

fn plain_text(c: &mut Criterion) {
    let e = engine();
    let mut g = c.benchmark_group("inspect");
    g.sample_size(20);
    let texts = [
        ("plain_text", prose(16 << 20, 7, 1 << 20), true),
        ("number_dense", number_dense(16 << 20, 7, 1 << 20), true),
        ("ledger_csv", ledger(16 << 20, 7), false),
    ];
    for (name, text, block) in texts {
        g.throughput(Throughput::Bytes(text.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut s = e.scanner(ScanContext::default());
                for chunk in text.chunks(64 * 1024) {
                    s.feed(chunk);
                }
                let v = s.finish();
                assert_eq!(v.is_block(), block);
                black_box(v)
            })
        });
    }
    g.finish();
}

/// Bodies of 5.5 KiB, each in a scanner of its own, fed in one piece.
fn small_bodies(c: &mut Criterion) {
    const BODY: usize = 5632;
    const N: usize = 64;
    let e = engine();
    let mut g = c.benchmark_group("inspect/small_bodies");
    g.sample_size(20);
    let texts = [
        ("prose", prose(BODY * N, 3, 0)),
        ("number_dense", number_dense(BODY * N, 3, 0)),
        ("ledger_csv", ledger(BODY * N, 3)),
    ];
    for (name, text) in texts {
        g.throughput(Throughput::Bytes(text.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| {
                for body in text.chunks(BODY) {
                    let v = e.scan_bytes(ScanContext::default(), body);
                    assert!(!v.is_block());
                    black_box(v);
                }
            })
        });
    }
    g.finish();
}

fn documents(c: &mut Criterion) {
    let text = String::from_utf8(prose(8 << 20, 11, 1 << 20)).expect("ascii");
    let lines: Vec<&str> = text.lines().collect();
    let e = engine();
    let docs = [
        ("docx", docx(&lines)),
        ("xlsx", xlsx(&lines)),
        ("zip", zip_of(&[("a.txt", text.as_bytes()), ("b.csv", text.as_bytes())])),
    ];
    let mut g = c.benchmark_group("inspect");
    g.sample_size(10);
    for (name, doc) in docs {
        g.throughput(Throughput::Bytes(extracted(&doc)));
        g.bench_function(name, |b| {
            b.iter(|| {
                let v = e.scan_bytes(ScanContext::default(), &doc);
                assert!(v.is_block() && v.could_not_scan.is_none());
                black_box(v)
            })
        });
    }
    for (name, file) in [("xls", xls(&lines)), ("doc", doc(&lines))] {
        g.throughput(Throughput::Bytes(file.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| {
                let v = e.scan_bytes(ScanContext::default(), &file);
                assert!(v.is_block() && v.could_not_scan.is_none());
                black_box(v)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, plain_text, small_bodies, documents);
criterion_main!(benches);
