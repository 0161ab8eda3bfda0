//! Policy reload under load: while a bounded load runs on persistent connections, the policy
//! file is rewritten (watched), reloaded on SIGHUP, and once replaced by a broken file. No
//! request fails, no connection is dropped, every answer's verdict is the one its ISTag's
//! policy demands, and the broken file is refused with the old policy kept.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::BufReader;
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::{reqmod, Dlpgate};

/// A policy whose card rule has `action`; the rest of the built-in policy does not matter here.
fn policy(action: &str) -> String {
    format!(
        "[policy]\nname = \"reload-{action}\"\ncould_not_scan = \"block\"\n\n\
         [[rule]]\nname = \"credit-card\"\ndetectors = [\"credit_card\"]\nseverity = \"high\"\naction = \"{action}\"\n"
    )
}

/// Replaces the file the way editors and config managers do: write aside, then rename.
fn write_atomically(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[test]
fn the_policy_reloads_under_load_without_a_failed_request() {
    let dir = tempfile::tempdir().unwrap();
    let policy_path = dir.path().join("policy.toml");
    write_atomically(&policy_path, &policy("block"));
    let server = Dlpgate::start(&["--policy", policy_path.to_str().unwrap(), "--log", "info"]);
    let (port, addr) = (server.port, server.addr);

    // Bounded in count and time: the clients stop once the flipping is over, or at MAX.
    const CLIENTS: usize = 4;
    const MAX_REQUESTS: usize = 50_000;
    const FLIPS: usize = 8;
    let card = b"order 17: card 4111 1111 1111 1111, ship today\n".to_vec();
    let clean = b"order 18: paid by bank transfer, ship today\n".to_vec();
    let done = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(BTreeMap::<String, BTreeSet<bool>>::new()));
    let workers: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (card, clean, seen, done) = (card.clone(), clean.clone(), seen.clone(), done.clone());
            std::thread::spawn(move || -> Result<usize, String> {
                let mut sent = 0;
                // One connection per client for the whole run: a reload must not drop it.
                let stream =
                    TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(|e| e.to_string())?;
                stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
                let mut reader = BufReader::new(stream);
                for i in 0..MAX_REQUESTS {
                    if done.load(Ordering::SeqCst) {
                        break;
                    }
                    sent += 1;
                    let leak = (i + c) % 2 == 0;
                    let answer = reqmod(&mut reader, port, if leak { &card } else { &clean })
                        .map_err(|e| format!("client {c} request {i}: {e}"))?;
                    if !(answer.status == 200 || answer.status == 204) {
                        return Err(format!("client {c} request {i}: ICAP {}", answer.status));
                    }
                    if leak {
                        seen.lock().unwrap().entry(answer.istag).or_default().insert(answer.blocked);
                    } else if answer.blocked {
                        return Err(format!("client {c} request {i}: a clean body was blocked"));
                    }
                }
                Ok(sent)
            })
        })
        .collect();

    // Flip the policy while the load runs: by the watcher (atomic rename), by SIGHUP, and
    // once with a broken file that must be refused.
    // Each flip waits until the server says it took the change (changes on disk are
    // debounced for half a second), so that the next one is a change of its own.
    let (mut on_disk, mut hups) = (0, 0);
    let mut flips = 0;
    while flips < FLIPS {
        let action = if flips % 2 == 0 { "monitor" } else { "block" };
        write_atomically(&policy_path, &policy(action));
        on_disk += 1;
        if flips % 2 == 0 {
            Command::new("kill").args(["-HUP", &server.guard.pid().to_string()]).status().unwrap();
            hups += 1;
            server.wait_for_log("SIGHUP: policy", hups);
        }
        server.wait_for_log("policy changed on disk", on_disk);
        if flips == 4 {
            write_atomically(
                &policy_path,
                "[[rule]]\nname = \"broken\"\ndetectors = [\"no_such_detector\"]\n",
            );
            on_disk += 1;
            server.wait_for_log("policy changed on disk", on_disk);
        }
        flips += 1;
    }
    done.store(true, Ordering::SeqCst);
    let mut served = 0;
    for worker in workers {
        served += worker.join().unwrap().unwrap_or_else(|e| panic!("{e}\n{}", server.log()));
    }
    assert!(served > CLIENTS * FLIPS, "the load ran through the reloads: {served} requests");
    eprintln!("{served} requests over {flips} reloads, none failed");

    // Every ISTag judged consistently, and both policies were in force at some point.
    let seen = seen.lock().unwrap();
    for (istag, verdicts) in seen.iter() {
        assert_eq!(verdicts.len(), 1, "ISTag {istag} gave both verdicts for the same body");
    }
    let verdicts: BTreeSet<bool> = seen.values().flatten().copied().collect();
    assert_eq!(verdicts.len(), 2, "both policies were seen in force: {seen:?} after {flips} flips");

    let log = server.log();
    assert!(log.contains("no_such_detector"), "the broken policy was refused, and said why:\n{log}");
    // The server keeps reloading after the refusal: a blocking policy takes over again.
    write_atomically(&policy_path, &policy("block"));
    Command::new("kill").args(["-HUP", &server.guard.pid().to_string()]).status().unwrap();
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut reader = BufReader::new(stream);
    let until = Instant::now() + Duration::from_secs(10);
    while !reqmod(&mut reader, port, &card).unwrap().blocked {
        assert!(Instant::now() < until, "the blocking policy never came back:\n{}", server.log());
        std::thread::sleep(Duration::from_millis(50));
    }
}
