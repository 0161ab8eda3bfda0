//! What a request costs in memory, measured with a counting allocator: a body that arrives one
//! byte per read must cost about its own size in the echo spool, not a read buffer per byte.

#![allow(clippy::unwrap_used, clippy::expect_used)]
// The test's instrument: a global allocator that counts live bytes (it only forwards to the
// system allocator).
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::{Arc, Mutex};

use icap::server::{Exchange, Outcome, Peer, Server, ServerConfig, Service};
use icap_proto::{Method, ServiceOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Live heap bytes of the whole test process.
static LIVE: AtomicIsize = AtomicIsize::new(0);

struct Counting;

// SAFETY: every call forwards to `System` with the caller's arguments; the counter is a plain
// atomic and allocates nothing.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Reads the whole body, notes the live heap growth since `baseline`, then allows (an echo,
/// since the client does not offer 204: the spool holds the body until then).
struct ReadAll {
    options: Arc<ServiceOptions>,
    baseline: isize,
    growth: Arc<Mutex<Option<isize>>>,
}

impl Service for ReadAll {
    fn options(&self, service: &str) -> Option<Arc<ServiceOptions>> {
        (service == "all").then(|| self.options.clone())
    }

    async fn call(&self, exchange: &mut Exchange<'_>) -> Outcome {
        while let Ok(Some(_)) = exchange.next_chunk().await {}
        *self.growth.lock().unwrap() = Some(LIVE.load(Ordering::Relaxed) - self.baseline);
        Outcome::allow()
    }
}

#[tokio::test]
async fn a_body_read_one_byte_at_a_time_costs_its_size_in_the_spool() {
    const BYTES: usize = 2000;
    let options = Arc::new(ServiceOptions::new(vec![Method::Reqmod], "\"t1\"".to_string()));
    let growth = Arc::new(Mutex::new(None));
    let config = ServerConfig { early_head_after: None, ..ServerConfig::default() };
    let baseline = LIVE.load(Ordering::Relaxed);
    let service = ReadAll { options, baseline, growth: growth.clone() };
    let server = Server::new(service, config);
    let (mut client, server_end) = tokio::io::duplex(1 << 16);
    let peer = Peer { addr: "127.0.0.1:9".parse().unwrap(), tls_subject: None };
    server.spawn_connection(Box::new(server_end), peer, server.try_slot().unwrap());
    client
        .write_all(
            b"REQMOD icap://127.0.0.1/all ICAP/1.0\r\nHost: x\r\n\
              Encapsulated: req-hdr=0, req-body=19\r\n\r\nPOST / HTTP/1.1\r\n\r\n",
        )
        .await
        .unwrap();
    // One chunk of one byte per read: the server reads each before the next is written.
    for i in 0..BYTES {
        client.write_all(&[b'1', b'\r', b'\n', b'a' + (i % 26) as u8, b'\r', b'\n']).await.unwrap();
        for _ in 0..4 {
            tokio::task::yield_now().await;
        }
    }
    client.write_all(b"0\r\n\r\n").await.unwrap();
    let mut answer = vec![0u8; 64 * 1024];
    let mut got = Vec::new();
    while !got.ends_with(b"\r\n0\r\n\r\n") {
        let n = tokio::time::timeout(std::time::Duration::from_secs(10), client.read(&mut answer))
            .await
            .expect("the echo comes back")
            .unwrap();
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&answer[..n]);
    }
    let echoed: Vec<u8> = String::from_utf8_lossy(&got)
        .split("\r\n\r\n")
        .nth(2)
        .unwrap()
        .split("\r\n")
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .flat_map(|(_, piece)| piece.bytes().collect::<Vec<_>>())
        .collect();
    let sent: Vec<u8> = (0..BYTES).map(|i| b'a' + (i % 26) as u8).collect();
    assert_eq!(echoed, sent, "the echo is the body");
    let growth = growth.lock().unwrap().expect("the service read the body");
    assert!(
        growth < 1 << 20,
        "{BYTES} body bytes held {growth} bytes of heap ({} per byte)",
        growth / BYTES as isize
    );
}
