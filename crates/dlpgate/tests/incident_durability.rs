//! No incident lost (SQLite store): an answer that names an incident names a durable record,
//! when the store fails (monitor mode, the journal takes it and replays it once the store is
//! back), and when `dlpgate serve` is killed with SIGKILL at random moments under load.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::HashSet;
use std::io::BufReader;
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use support::load::{dlpgate, files_with_clear_values, incident_id, metrics, sample, Load, Rng, LEAK};
use support::{free_port, reqmod, wait_for_port, Dlpgate};

/// The incident ids the SQLite store in `data` holds.
fn stored_ids(data: &Path) -> HashSet<String> {
    let db = rusqlite::Connection::open(data.join("incidents.db")).unwrap();
    db.busy_timeout(Duration::from_secs(10)).unwrap();
    let mut stmt = db.prepare("SELECT id FROM incidents").unwrap();
    let ids = stmt.query_map([], |r| r.get::<_, String>(0)).unwrap().map(|r| r.unwrap()).collect();
    ids
}

/// Makes every insert into the SQLite store fail, as a broken disk or a full one would.
fn break_store(data: &Path) {
    let db = rusqlite::Connection::open(data.join("incidents.db")).unwrap();
    db.busy_timeout(Duration::from_secs(10)).unwrap();
    db.execute_batch(
        "CREATE TRIGGER broken BEFORE INSERT ON incidents BEGIN SELECT RAISE(ABORT, 'disk on fire'); END;",
    )
    .unwrap();
}

fn repair_store(data: &Path) {
    let db = rusqlite::Connection::open(data.join("incidents.db")).unwrap();
    db.busy_timeout(Duration::from_secs(10)).unwrap();
    db.execute_batch("DROP TRIGGER broken;").unwrap();
}

/// Waits until every id in `ids` is in the store.
fn wait_until_stored(data: &Path, ids: &HashSet<String>, timeout: Duration) -> HashSet<String> {
    let deadline = Instant::now() + timeout;
    loop {
        let missing: HashSet<String> = ids.difference(&stored_ids(data)).cloned().collect();
        if missing.is_empty() || Instant::now() > deadline {
            return missing;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn monitor_mode_with_a_failing_store_names_only_journalled_incidents() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let metrics_port = free_port();
    let server = Dlpgate::start_with_data(
        &data,
        &[
            "--mode",
            "monitor",
            "--journal-replay-interval-ms",
            "200",
            "--metrics-listen",
            &format!("127.0.0.1:{metrics_port}"),
        ],
    );
    wait_for_port(metrics_port, Duration::from_secs(10));
    break_store(&data);

    let stream = TcpStream::connect(server.addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut conn = BufReader::new(stream);
    let mut ids = HashSet::new();
    for _ in 0..5 {
        let answer = reqmod(&mut conn, server.port, LEAK).unwrap();
        assert_eq!(answer.status, 204, "monitor mode allows:\n{}", answer.head);
        ids.insert(incident_id(&answer.head).expect("the allow answer names its incident"));
    }
    assert_eq!(ids.len(), 5);

    // Each named incident is durable already: in the journal, since the store refuses writes.
    let data_dir = data.to_str().unwrap();
    for id in &ids {
        let (ok, shown, err) = dlpgate(&["incidents", "show", id, "--data-dir", data_dir]);
        assert!(ok, "{id} is not recorded anywhere: {err}\n{}", server.log());
        assert!(shown.contains("journalled") && shown.contains("monitor"), "{shown}");
    }
    let (ok, listed, err) = dlpgate(&["incidents", "list", "--data-dir", data_dir]);
    assert!(ok, "{err}");
    assert_eq!(listed.lines().count(), 5, "{listed}");
    assert!(err.contains("5 incident(s) are in the journal"), "list tells the user: {err}");
    let journal = data.join("incidents.journal");
    assert_eq!(std::fs::metadata(&journal).unwrap().permissions().mode() & 0o777, 0o600);
    let m = metrics(metrics_port);
    assert_eq!(sample(&m, "dlpgate_incidents_journalled_total"), Some(5.0), "{m}");
    assert_eq!(sample(&m, "dlpgate_incident_journal_pending"), Some(5.0), "{m}");
    assert!(sample(&m, "dlpgate_store_errors_total").is_some_and(|n| n >= 1.0), "{m}");
    assert!(stored_ids(&data).is_empty());

    // The store comes back: the replay moves every incident into it, once.
    repair_store(&data);
    let missing = wait_until_stored(&data, &ids, Duration::from_secs(20));
    assert!(missing.is_empty(), "never replayed: {missing:?}\n{}", server.log());
    let deadline = Instant::now() + Duration::from_secs(10);
    while sample(&metrics(metrics_port), "dlpgate_incident_journal_pending") != Some(0.0) {
        assert!(Instant::now() < deadline, "{}", metrics(metrics_port));
        std::thread::sleep(Duration::from_millis(50));
    }
    let (ok, listed, err) = dlpgate(&["incidents", "list", "--data-dir", data_dir]);
    assert!(ok && listed.lines().count() == 5 && !err.contains("journal"), "{listed}{err}");

    // Back to the store directly, and no matched value in clear anywhere in the data directory.
    let answer = reqmod(&mut conn, server.port, LEAK).unwrap();
    let id = incident_id(&answer.head).unwrap();
    assert!(wait_until_stored(&data, &HashSet::from([id]), Duration::from_secs(5)).is_empty());
    assert!(files_with_clear_values(&data).is_empty(), "{:?}", files_with_clear_values(&data));
    assert!(!server.log().contains("4111"), "{}", server.log());
}

#[test]
fn sigkill_under_load_loses_no_named_incident() {
    // Rounds of four clients sending leaks while the server is killed (SIGKILL) at a random
    // moment; in every other round the store is held locked by another connection, so that the
    // incidents go through the journal. Every block answer a client received names an
    // incident that is in the store once a last server has replayed the journal.
    let seed =
        std::env::var("DLPGATE_TEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5eed_1234_u64);
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let flags = ["--store-write-timeout-ms", "150", "--journal-replay-interval-ms", "100"];
    let mut received = Vec::new();
    let started = Instant::now();
    for round in 0..6 {
        let mut server = Dlpgate::start_with_data(&data, &flags);
        // Another writer holds SQLite's write lock: the store answers nothing in time.
        let locker = (round % 2 == 1).then(|| {
            let db = rusqlite::Connection::open(data.join("incidents.db")).unwrap();
            db.execute_batch("BEGIN IMMEDIATE;").unwrap();
            db
        });
        let load = Load::start(server.addr, 4);
        let run = Duration::from_millis(150 + rng.below(600));
        let deadline = Instant::now() + Duration::from_secs(10);
        // Let some answers arrive before the kill (the machine may be slow).
        while load.count() < 5 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(run);
        server.guard.child.kill().unwrap();
        let _ = server.guard.child.wait();
        let (got, unnamed) = load.stop();
        assert!(
            unnamed.is_empty(),
            "round {round}: answers without an incident id: {unnamed:?}\n{}",
            server.log()
        );
        assert!(got.iter().all(|r| r.blocked), "round {round}: every leak is blocked");
        received.extend(got.into_iter().map(|r| r.id));
        if locker.is_some() {
            assert!(
                server.log().contains("journalling"),
                "round {round} never used the journal:\n{}",
                server.log()
            );
        }
        drop(locker);
        assert!(!server.log().contains("panicked"), "{}", server.log());
    }
    assert!(received.len() >= 100, "only {} answers in {:?}", received.len(), started.elapsed());

    // A last server replays what the journal holds.
    let server = Dlpgate::start_with_data(&data, &flags);
    let ids: HashSet<String> = received.into_iter().collect();
    let missing = wait_until_stored(&data, &ids, Duration::from_secs(30));
    assert!(
        missing.is_empty(),
        "seed {seed:#x}: {} of {} named incidents lost, e.g. {:?}\n{}",
        missing.len(),
        ids.len(),
        missing.iter().next(),
        server.log()
    );
    assert!(files_with_clear_values(&data).is_empty());
    assert!(started.elapsed() < Duration::from_secs(120), "bounded: {:?}", started.elapsed());
}
