//! What a scan allocates besides its streaming buffers is charged to the process's
//! [`MemoryAccount`]: decoded e-mail parts, RTF text and objects, decoder windows (brotli, xz),
//! 7z dictionaries and compound-file streams. Measured with a counting allocator: the heap's
//! peak growth during a scan stays within what the account was charged plus a fixed allowance
//! for the engine's streaming buffers (detection windows, decoder output, pump buffers).

#![allow(clippy::unwrap_used, clippy::expect_used)]
// The test's instrument: a global allocator that counts live bytes and their peak (it only
// forwards to the system allocator).
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use inspect::testkit::ole::ole_of;
use inspect::testkit::seven_z;
use inspect::testkit::{noise, prose};
use inspect::{Engine, Limits, MemoryAccount, Policy, ScanContext};

static LIVE: AtomicI64 = AtomicI64::new(0);
static PEAK: AtomicI64 = AtomicI64::new(0);

struct Counting;

fn grew(n: i64) {
    let live = LIVE.fetch_add(n, Ordering::Relaxed) + n;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

// SAFETY: every call forwards to `System` with the caller's arguments; the counters are plain
// atomics and allocate nothing.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size() as i64);
        // SAFETY: forwarded unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        grew(layout.size() as i64);
        // SAFETY: forwarded unchanged.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as i64, Ordering::Relaxed);
        // SAFETY: forwarded unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        grew(new_size as i64 - layout.size() as i64);
        // SAFETY: forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// An account with room for everything, recording its peak.
#[derive(Debug, Default)]
struct Account {
    used: AtomicU64,
    peak: AtomicU64,
}

impl MemoryAccount for Account {
    fn try_charge(&self, n: u64) -> bool {
        let used = self.used.fetch_add(n, Ordering::SeqCst) + n;
        self.peak.fetch_max(used, Ordering::SeqCst);
        true
    }

    fn release(&self, n: u64) {
        self.used.fetch_sub(n, Ordering::SeqCst);
    }
}

/// What the engine may allocate uncharged at once: its streaming buffers (a 256 KiB
/// detection window and scratch per text member, 64 KiB pump buffers, 32 KiB decoder output,
/// an inflate window), evidence and member names. The scratch of each case is far larger.
const STREAMING_ALLOWANCE: i64 = 6 << 20;

/// Scans `body` whole; returns the heap's peak growth and the account's peak.
fn measure(body: &[u8], encoding: Option<&str>) -> (i64, u64, inspect::Verdict) {
    let account = Arc::new(Account::default());
    let engine = Engine::new(Arc::new(Policy::builtin()), Limits::default()).with_memory(account.clone());
    let cx = ScanContext { content_encoding: encoding.map(str::to_string), ..ScanContext::default() };
    let baseline = LIVE.load(Ordering::SeqCst);
    PEAK.store(baseline, Ordering::SeqCst);
    let mut scanner = engine.scanner(cx);
    scanner.feed(body);
    let verdict = scanner.finish();
    let heap = PEAK.load(Ordering::SeqCst) - baseline;
    assert_eq!(account.used.load(Ordering::SeqCst), 0, "everything given back");
    (heap, account.peak.load(Ordering::SeqCst), verdict)
}

fn hex(data: &[u8]) -> String {
    let digits = b"0123456789abcdef";
    let hex: Vec<u8> =
        data.iter().flat_map(|&b| [digits[usize::from(b >> 4)], digits[usize::from(b & 15)]]).collect();
    String::from_utf8(hex).unwrap()
}

fn email_with_base64(attachment: &[u8]) -> Vec<u8> {
    let b64 = inspect::testkit::evasion::base64_wrapped(attachment, 76, "\r\n");
    format!(
        "From: a@example.com\r\nTo: b@example.com\r\nSubject: s\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"B\"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\n\
         hello\r\n--B\r\nContent-Type: application/octet-stream\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{b64}\r\n--B--\r\n"
    )
    .into_bytes()
}

fn brotli(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut w = brotli::CompressorWriter::new(&mut out, 4096, 1, 24);
        w.write_all(data).unwrap();
    }
    out
}

/// xz at the fastest preset with a dictionary of `dict_size` bytes, which the reader must hold.
fn xz(data: &[u8], dict_size: u32) -> Vec<u8> {
    let mut options = lzma_rust2::XzOptions::with_preset(0);
    options.lzma_options.dict_size = dict_size;
    let mut out = Vec::new();
    let mut w = lzma_rust2::XzWriter::new(&mut out, options).unwrap();
    w.write_all(data).unwrap();
    w.finish().unwrap();
    out
}

#[test]
fn engine_scratch_is_charged() {
    let attachment = noise(8 << 20, 3);
    let started = std::time::Instant::now();
    // A little more than the 16 MiB windows, so that they fill.
    let text = prose(18 << 20, 5, 0);
    let cases: Vec<(&str, Vec<u8>, Option<&str>)> = vec![
        ("e-mail with a base64 attachment", email_with_base64(&attachment), None),
        (
            "RTF with an 8 MiB object",
            format!("{{\\rtf1 x{{\\*\\objdata {}}}}}", hex(&attachment)).into_bytes(),
            None,
        ),
        (
            "RTF with 8 MiB of text",
            format!("{{\\rtf1 {}}}", String::from_utf8_lossy(&text[..8 << 20])).into_bytes(),
            None,
        ),
        ("brotli with a 16 MiB window", brotli(&text), Some("br")),
        ("xz with a 16 MiB dictionary", xz(&text, 16 << 20), None),
        // LZMA2's default 8 MiB dictionary (the writer shrinks it for smaller content).
        ("7z with an 8 MiB dictionary", seven_z(&[("a.txt", &text[..])], None, false), None),
        ("compound file with an 8 MiB stream", ole_of(&[("Payload", &attachment[..])]), None),
    ];
    eprintln!("inputs made in {:?}", started.elapsed());
    let mut failures = Vec::new();
    for (name, body, encoding) in &cases {
        let started = std::time::Instant::now();
        let (heap, charged, verdict) = measure(body, *encoding);
        eprintln!("{name}: scanned in {:?}", started.elapsed());
        let line = format!(
            "{name}: heap grew {:.1} MiB, charged {:.1} MiB, verdict {:?}",
            heap as f64 / 1048576.0,
            charged as f64 / 1048576.0,
            verdict.could_not_scan
        );
        eprintln!("{line}");
        if heap > charged as i64 + STREAMING_ALLOWANCE {
            failures.push(line);
        }
    }
    assert!(failures.is_empty(), "uncharged scratch:\n{}", failures.join("\n"));
}
