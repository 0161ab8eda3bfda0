//! Drives one whole ICAP connection of the real DLP service (reqmod, respmod, echo) in memory:
//! the fuzzer's bytes go to `icap::server::serve_one` over a `tokio::io::duplex` pipe, in
//! pieces of fuzzer-chosen sizes with fuzzer-chosen stalls between them, so that preview,
//! `100 Continue`, the early head (a client silent mid-body), pipelining, timeouts and every
//! chunk boundary are reached. Time is paused: stalls and timeouts cost no real time.
//!
//! It must never panic; the answer must stay within a bound linear in the input; the
//! connection must end within the server's own timeouts once the client is done; and every
//! incident id the client is shown must already be in the store (durable before the answer).
//!
//! Input: byte 0 = how the client behaves (stall length, whether it closes its side, blocking
//! or monitor mode), byte 1 = seed of the piece sizes and stalls, the rest = the bytes sent.
#![no_main]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::BytesMut;
use dlpgate::dlp::body::Room;
use dlpgate::dlp::stats::ServeMetrics;
use dlpgate::dlp::trust::IdentityTrust;
use dlpgate::dlp::{DlpService, DlpSettings, Mode, PolicySource};
use dlpgate::store::durable::IncidentRecorder;
use dlpgate::store::journal::Journal;
use dlpgate::store::{Incident, IncidentFilter, IncidentStore, StoreError};
use icap::server::{serve_one, Peer, ServerConfig};
use icap_proto::{Limits, ResponseDecoder, ResponseEvent};
use libfuzzer_sys::fuzz_target;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Server settings: the defaults, with small spool thresholds so that short inputs reach the
/// spooling paths too.
fn server_config() -> ServerConfig {
    ServerConfig { spool_memory_limit: 2048, ..ServerConfig::default() }
}

/// The incidents recorded during the current run (the store is shared by every run).
#[derive(Debug, Default)]
struct RunStore(Mutex<Vec<String>>);

impl IncidentStore for RunStore {
    fn record(&self, incident: &Incident) -> Result<(), StoreError> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(incident.id.clone());
        Ok(())
    }

    fn list(&self, _filter: &IncidentFilter) -> Result<Vec<Incident>, StoreError> {
        Ok(Vec::new())
    }

    fn get(&self, _id: &str) -> Result<Option<Incident>, StoreError> {
        Ok(None)
    }
}

struct Fixture {
    blocking: Arc<DlpService>,
    monitor: Arc<DlpService>,
    store: Arc<RunStore>,
    _spool: tempfile::TempDir,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let spool = tempfile::tempdir().expect("a spool directory");
        let store = Arc::new(RunStore::default());
        let service = |mode| {
            let settings = DlpSettings {
                policy: PolicySource::Builtin,
                data_dir: spool.path().to_path_buf(),
                limits: inspect::Limits::default(),
                mode,
                reqmod_service: "reqmod".to_string(),
                respmod_service: "respmod".to_string(),
                preview: 1024,
                max_connections: 16,
                // Small, so that a zip of a few KiB is spooled to a file.
                memory_threshold: 4096,
                spool_dir: spool.path().to_path_buf(),
                room: Room::unlimited(),
                scan_threads: 1,
                identity_trust: IdentityTrust::new(&[], "127.0.0.1:1344".parse().expect("an address"), false),
            };
            let store: Arc<dyn IncidentStore> = store.clone();
            let (journal, _) = Journal::open(spool.path(), 1 << 20).expect("a journal");
            let recorder = Arc::new(IncidentRecorder::new(store, journal, Duration::from_secs(2)));
            Arc::new(
                DlpService::new(settings, recorder, Arc::new(ServeMetrics::default())).expect("the service"),
            )
        };
        Fixture { blocking: service(Mode::Blocking), monitor: service(Mode::Monitor), store, _spool: spool }
    })
}

/// A tiny deterministic generator for piece sizes and stalls.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// The writes the client makes: (bytes, stall after them).
fn plan(input: &[u8], seed: u8, stall: Duration) -> Vec<(Vec<u8>, Duration)> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ u64::from(seed));
    let mut pieces = Vec::new();
    let mut rest = input;
    while !rest.is_empty() {
        let r = rng.next();
        let want = match r % 4 {
            0 => 1,
            1 => 1 + (r >> 8) as usize % 16,
            2 => 1 + (r >> 8) as usize % 700,
            _ => rest.len(),
        };
        let (piece, tail) = rest.split_at(want.min(rest.len()));
        let pause = if (r >> 32) % 3 == 0 { stall } else { Duration::ZERO };
        pieces.push((piece.to_vec(), pause));
        rest = tail;
    }
    pieces
}

/// Most bytes an answer may hold: each request is answered at most once, with at most a
/// block page or the echoed message.
fn output_bound(input_len: usize) -> usize {
    64 * input_len + 64 * 1024
}

/// The incident ids in the ICAP heads of the answers, read with the client-role decoder (an
/// echoed message may hold any text, `X-Incident-ID` included).
fn incident_ids(output: &[u8]) -> Vec<String> {
    let mut decoder = ResponseDecoder::new(Limits::default());
    let mut buf = BytesMut::from(output);
    let mut ids = Vec::new();
    while let Ok(Some(event)) = decoder.decode(&mut buf) {
        if let ResponseEvent::Head(response) = event {
            let found = response.head.headers.get_all("X-Incident-ID");
            ids.extend(found.map(|id| String::from_utf8_lossy(id).into_owned()));
        }
    }
    ids
}

fuzz_target!(|data: &[u8]| {
    let [flags, seed, input @ ..] = data else {
        return;
    };
    let stall = match flags & 3 {
        0 => Duration::ZERO,
        // Past the early-head delay (250 ms).
        1 => Duration::from_millis(300),
        2 => Duration::from_secs(2),
        // Past the read timeout (30 s).
        _ => Duration::from_secs(31),
    };
    let close_when_done = flags & 4 == 0;
    let fixture = fixture();
    let service = if flags & 8 == 0 { fixture.blocking.clone() } else { fixture.monitor.clone() };
    fixture.store.0.lock().unwrap_or_else(|p| p.into_inner()).clear();
    let pieces = plan(input, *seed, stall);
    let config = server_config();
    let stalled: Duration = pieces.iter().map(|(_, pause)| *pause).sum();
    // Once the client is done, the server's own timeouts end the connection.
    let budget = stalled
        + config.idle_timeout
        + config.read_timeout
        + 2 * config.write_timeout
        + Duration::from_secs(5);
    let bound = output_bound(input.len());

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a runtime");
    let output = runtime.block_on(async move {
        let (client, server) = tokio::io::duplex(64 * 1024);
        let peer = Peer { addr: SocketAddr::from(([127, 0, 0, 1], 40000)), tls_subject: None };
        let served = tokio::spawn(serve_one(Box::new(server), peer, service, Arc::new(config)));
        let (mut from_server, mut to_server) = tokio::io::split(client);
        let reader = tokio::spawn(async move {
            let mut out = Vec::new();
            let mut buf = vec![0u8; 16 * 1024];
            while let Ok(n) = from_server.read(&mut buf).await {
                if n == 0 || out.len() > bound {
                    break;
                }
                out.extend_from_slice(&buf[..n]);
            }
            out
        });
        let writer = tokio::spawn(async move {
            for (piece, pause) in pieces {
                if to_server.write_all(&piece).await.is_err() {
                    return;
                }
                if !pause.is_zero() {
                    tokio::time::sleep(pause).await;
                }
            }
            if close_when_done {
                let _ = to_server.shutdown().await;
            } else {
                // Stay connected and silent: only the server's timeouts can end this.
                std::future::pending::<()>().await;
            }
        });
        let ended = tokio::time::timeout(budget, served).await;
        assert!(ended.is_ok(), "the connection was still open {budget:?} after it started");
        writer.abort();
        reader.await.expect("the reader")
    });
    assert!(output.len() <= bound, "{} answer bytes for {} input bytes", output.len(), input.len());
    let recorded = fixture.store.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
    for id in incident_ids(&output) {
        assert!(recorded.contains(&id), "incident {id} was shown to the client but not recorded");
    }
});
