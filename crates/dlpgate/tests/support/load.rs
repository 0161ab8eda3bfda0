//! Leaks sent over raw ICAP by a few client threads, and the incident ids their answers named.

use std::io::BufReader;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A body the built-in policy blocks (a test card number).
pub const LEAK: &[u8] = b"card 4111 1111 1111 1111\n";
/// The card number as it must never be stored.
pub const CLEAR: [&str; 2] = ["4111111111111111", "4111 1111 1111 1111"];

/// The value of `X-Incident-ID` in an ICAP head.
pub fn incident_id(head: &str) -> Option<String> {
    head.lines().find_map(|l| l.trim().strip_prefix("X-Incident-ID: ")).map(str::to_string)
}

/// One answer a client received in full.
#[derive(Debug, Clone)]
pub struct Received {
    pub id: String,
    pub blocked: bool,
    /// From the first byte sent to the last byte of the answer.
    pub took: Duration,
}

/// Client threads sending [`LEAK`] over and over (one persistent connection each, opened again
/// when it breaks) until stopped; answers received in full are kept.
pub struct Load {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    pub received: Arc<Mutex<Vec<Received>>>,
    /// Answers that arrived without an incident id.
    pub unnamed: Arc<Mutex<Vec<String>>>,
}

impl Load {
    pub fn start(addr: SocketAddr, clients: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let received = Arc::new(Mutex::new(Vec::new()));
        let unnamed = Arc::new(Mutex::new(Vec::new()));
        let threads = (0..clients)
            .map(|_| {
                let (stop, received, unnamed) = (stop.clone(), received.clone(), unnamed.clone());
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let Ok(stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
                            std::thread::sleep(Duration::from_millis(20));
                            continue;
                        };
                        stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
                        let mut conn = BufReader::new(stream);
                        while !stop.load(Ordering::Relaxed) {
                            let started = Instant::now();
                            match super::reqmod(&mut conn, addr.port(), LEAK) {
                                Ok(answer) => {
                                    let took = started.elapsed();
                                    match incident_id(&answer.head) {
                                        Some(id) => received.lock().unwrap().push(Received {
                                            id,
                                            blocked: answer.blocked,
                                            took,
                                        }),
                                        None => unnamed.lock().unwrap().push(answer.head),
                                    }
                                }
                                Err(_) => break,
                            }
                        }
                    }
                })
            })
            .collect();
        Self { stop, threads, received, unnamed }
    }

    /// Stops the clients and gives what they received.
    pub fn stop(self) -> (Vec<Received>, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            t.join().unwrap();
        }
        let received = self.received.lock().unwrap().clone();
        let unnamed = self.unnamed.lock().unwrap().clone();
        (received, unnamed)
    }

    /// Answers received so far.
    pub fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }
}

/// Deterministic pseudo-random numbers (xorshift), so a failing run can be replayed.
pub struct Rng(pub u64);

impl Rng {
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// Runs `dlpgate` with `args` and gives (success, stdout, stderr).
pub fn dlpgate(args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dlpgate")).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// A GET on the metrics endpoint.
pub fn metrics(port: u16) -> String {
    super::http_get(port, "/metrics")
}

/// The value of the sample whose line starts with `series`.
pub fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
}

/// Every file under `dir` holding one of [`CLEAR`].
pub fn files_with_clear_values(dir: &std::path::Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_with_clear_values(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            if CLEAR.iter().any(|c| bytes.windows(c.len()).any(|w| w == c.as_bytes())) {
                found.push(path.display().to_string());
            }
        }
    }
    found
}
