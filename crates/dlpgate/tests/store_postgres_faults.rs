//! PostgreSQL faults under a running `dlpgate serve` (a real temporary cluster): a database
//! stopped and started again under load, one that hangs (SIGSTOP), a statement stuck behind
//! another session's lock; and TLS with verify-full, verify-ca and client certificates. In
//! every case each incident an answer named reaches PostgreSQL, and no verdict waits on the
//! database past the write deadline.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::HashSet;
use std::io::{BufReader, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::load::{dlpgate, incident_id, metrics, sample, Load, LEAK};
use support::postgres::{give_to_postgres, Postgres};
use support::{free_port, reqmod, wait_for_port, Dlpgate};

/// The incident ids PostgreSQL holds.
fn stored_ids(pg: &Postgres) -> HashSet<String> {
    pg.psql("SELECT id FROM dlpgate_incidents").lines().map(str::to_string).collect()
}

/// Waits until every id in `ids` is in PostgreSQL; gives the missing ones.
fn wait_until_stored(pg: &Postgres, ids: &HashSet<String>, timeout: Duration) -> HashSet<String> {
    let deadline = Instant::now() + timeout;
    loop {
        let missing: HashSet<String> = ids.difference(&stored_ids(pg)).cloned().collect();
        if missing.is_empty() || Instant::now() > deadline {
            return missing;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Thaws a frozen server when the test ends, however it ends (stopped backends would outlive it).
struct Thaw<'a>(&'a Postgres);

impl Drop for Thaw<'_> {
    fn drop(&mut self) {
        self.0.signal_all("CONT");
    }
}

#[test]
fn a_database_stopped_and_started_under_load_loses_no_incident() {
    let dir = tempfile::tempdir().unwrap();
    let mut pg = Postgres::start(dir.path());
    let url = pg.url();
    let server = Dlpgate::start_with_data(
        &dir.path().join("data"),
        &["--store", &url, "--store-write-timeout-ms", "500", "--journal-replay-interval-ms", "200"],
    );
    let load = Load::start(server.addr, 4);
    let wait_for = |n: usize| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while load.count() < n {
            assert!(Instant::now() < deadline, "only {} answers\n{}", load.count(), server.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    wait_for(20);
    pg.stop();
    let during = load.count();
    wait_for(during + 20);
    pg.start_again();
    let after = load.count();
    wait_for(after + 20);
    let (received, unnamed) = load.stop();
    assert!(unnamed.is_empty(), "answers without an incident id: {unnamed:?}");
    assert!(received.iter().all(|r| r.blocked));
    let ids: HashSet<String> = received.into_iter().map(|r| r.id).collect();
    let missing = wait_until_stored(&pg, &ids, Duration::from_secs(30));
    assert!(missing.is_empty(), "{} of {} lost\n{}", missing.len(), ids.len(), server.log());
    assert!(!server.log().contains("panicked"));
}

#[test]
fn a_hung_database_never_holds_a_verdict_past_the_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let pg = Postgres::start(dir.path());
    let metrics_port = free_port();
    let server = Dlpgate::start_with_data(
        &dir.path().join("data"),
        &[
            "--store",
            &pg.url(),
            "--store-write-timeout-ms",
            "500",
            "--journal-replay-interval-ms",
            "200",
            "--metrics-listen",
            &format!("127.0.0.1:{metrics_port}"),
        ],
    );
    wait_for_port(metrics_port, Duration::from_secs(10));
    // A first incident goes to the store, so a pooled connection is open when it hangs.
    let stream = TcpStream::connect(server.addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let first = reqmod(&mut BufReader::new(stream), server.port, LEAK).unwrap();
    let first = incident_id(&first.head).unwrap();
    assert!(stored_ids(&pg).contains(&first));

    pg.signal_all("STOP");
    let thaw = Thaw(&pg);
    let load = Load::start(server.addr, 4);
    let deadline = Instant::now() + Duration::from_secs(20);
    while load.count() < 40 {
        assert!(
            Instant::now() < deadline,
            "verdicts stalled with the database: {}\n{}",
            load.count(),
            server.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let (received, unnamed) = load.stop();
    assert!(unnamed.is_empty(), "{unnamed:?}");
    // A liveness bound, not a benchmark: the 500 ms deadline and generous slack for a busy host.
    let slowest = received.iter().map(|r| r.took).max().unwrap();
    assert!(slowest < Duration::from_secs(5), "a verdict waited {slowest:?} on the hung database");
    let m = metrics(metrics_port);
    let journalled = sample(&m, "dlpgate_incidents_journalled_total").unwrap_or(0.0);
    assert!(journalled >= received.len() as f64, "the journal holds them: {m}");
    let data_dir = dir.path().join("data");
    let (ok, _, err) =
        dlpgate(&["incidents", "show", &received[0].id, "--data-dir", data_dir.to_str().unwrap()]);
    assert!(ok || err.contains("no incident"), "{err}");

    // The database wakes up: everything reaches it.
    drop(thaw);
    let ids: HashSet<String> = received.into_iter().map(|r| r.id).collect();
    let missing = wait_until_stored(&pg, &ids, Duration::from_secs(30));
    assert!(missing.is_empty(), "{} of {} lost\n{}", missing.len(), ids.len(), server.log());
    let deadline = Instant::now() + Duration::from_secs(10);
    while sample(&metrics(metrics_port), "dlpgate_incident_journal_pending") != Some(0.0) {
        assert!(Instant::now() < deadline, "{}", metrics(metrics_port));
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_statement_stuck_behind_a_lock_is_abandoned_at_the_statement_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let pg = Postgres::start(dir.path());
    let server = Dlpgate::start_with_data(
        &dir.path().join("data"),
        &["--store", &pg.url(), "--store-write-timeout-ms", "1000", "--journal-replay-interval-ms", "200"],
    );
    // Another session locks the table and keeps its transaction open.
    let mut holder = Command::new(pg.bin.join("psql"))
        .args(["-h", "127.0.0.1", "-p", &pg.port.to_string(), "-U", "postgres", "-q"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = holder.stdin.take().unwrap();
    writeln!(stdin, "BEGIN; LOCK TABLE dlpgate_incidents IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(0);")
        .unwrap();
    stdin.flush().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !pg.psql("SELECT count(*) FROM pg_locks WHERE mode = 'AccessExclusiveLock' AND relation = 'dlpgate_incidents'::regclass").starts_with('1') {
        assert!(Instant::now() < deadline, "the lock was never taken");
        std::thread::sleep(Duration::from_millis(20));
    }

    let stream = TcpStream::connect(server.addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let started = Instant::now();
    let answer = reqmod(&mut BufReader::new(stream), server.port, LEAK).unwrap();
    let took = started.elapsed();
    let id = incident_id(&answer.head).expect("the block names a journalled incident");
    assert!(answer.blocked && took < Duration::from_secs(6), "{took:?}");
    // The server itself gave the statement up (statement_timeout), not only the client.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&pg.log).unwrap().contains("canceling statement due to statement timeout")
    {
        assert!(Instant::now() < deadline, "{}", std::fs::read_to_string(&pg.log).unwrap());
        std::thread::sleep(Duration::from_millis(50));
    }

    // The lock goes away: the journalled incident reaches the table.
    drop(stdin);
    let _ = holder.wait();
    assert!(
        wait_until_stored(&pg, &HashSet::from([id]), Duration::from_secs(20)).is_empty(),
        "{}",
        server.log()
    );
}

/// A cluster that only accepts TLS, with a certificate from `dlpgate cert init`, and clients
/// that present a certificate of the same CA.
fn tls_cluster(dir: &Path) -> (Postgres, std::path::PathBuf) {
    let certs = dir.join("certs");
    let (ok, _, err) = dlpgate(&["cert", "init", "--dir", certs.to_str().unwrap()]);
    assert!(ok, "{err}");
    let pg = Postgres::start_prepared(dir, &["ssl=on"], |data| {
        for name in ["server.crt", "server.key", "ca.crt"] {
            std::fs::copy(certs.join(name), data.join(name)).unwrap();
            give_to_postgres(&data.join(name), "0600");
        }
        let conf = "ssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\nssl_ca_file = 'ca.crt'\n";
        let mut file = std::fs::OpenOptions::new().append(true).open(data.join("postgresql.conf")).unwrap();
        file.write_all(conf.as_bytes()).unwrap();
        std::fs::write(data.join("pg_hba.conf"), "hostssl all all 127.0.0.1/32 trust clientcert=verify-ca\n")
            .unwrap();
        give_to_postgres(&data.join("pg_hba.conf"), "0600");
    });
    (pg, certs)
}

#[test]
fn postgres_over_tls_verifies_the_server_and_refuses_impostors() {
    let dir = tempfile::tempdir().unwrap();
    let (pg, certs) = tls_cluster(dir.path());
    let other = dir.path().join("other-ca");
    assert!(dlpgate(&["cert", "init", "--dir", other.to_str().unwrap()]).0);
    let file = |d: &Path, n: &str| d.join(n).display().to_string();
    let client = format!("sslcert={}&sslkey={}", file(&certs, "client.crt"), file(&certs, "client.key"));
    let url = |host: &str, mode: &str, ca: &str| {
        format!(
            "postgres://postgres:pw-not-shown@{host}:{}/postgres?hostaddr=127.0.0.1&sslmode={mode}&sslrootcert={ca}&{client}",
            pg.port
        )
    };
    let list = |url: &str| dlpgate(&["incidents", "list", "--store", url, "--data-dir", "/nonexistent"]);

    // verify-full with the right CA and a name the certificate has: connected.
    let good = url("127.0.0.1", "verify-full", &file(&certs, "ca.crt"));
    let (ok, _, err) = list(&good);
    assert!(ok, "{err}");
    let (ok, _, err) = list(&url("localhost", "verify-full", &file(&certs, "ca.crt")));
    assert!(ok, "{err}");

    // Another CA (with the same name, so the signature is what fails): refused, and the
    // message says why (and never the password).
    let (ok, _, err) = list(&url("127.0.0.1", "verify-full", &file(&other, "ca.crt")));
    assert!(!ok && err.contains("invalid peer certificate: BadSignature"), "{err}");
    assert!(err.contains("postgres:***@") && !err.contains("pw-not-shown"), "{err}");
    // A name the certificate does not have: refused by verify-full, accepted by verify-ca.
    let (ok, _, err) = list(&url("db.invalid", "verify-full", &file(&certs, "ca.crt")));
    assert!(!ok && err.contains("certificate not valid for name \"db.invalid\""), "{err}");
    let (ok, _, err) = list(&url("db.invalid", "verify-ca", &file(&certs, "ca.crt")));
    assert!(ok, "{err}");
    // Without TLS, or without a client certificate, the server refuses.
    let plain = format!("postgres://postgres@127.0.0.1:{}/postgres", pg.port);
    let (ok, _, err) = list(&plain);
    assert!(!ok && err.contains("no encryption"), "{err}");
    let no_client = format!(
        "postgres://postgres@127.0.0.1:{}/postgres?sslmode=verify-full&sslrootcert={}",
        pg.port,
        file(&certs, "ca.crt")
    );
    let (ok, _, err) = list(&no_client);
    assert!(!ok, "{err}");

    // The server over TLS: a block is committed through the encrypted connection.
    let server = Dlpgate::start_with_data(&dir.path().join("data"), &["--store", &good]);
    let stream = TcpStream::connect(server.addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let answer = reqmod(&mut BufReader::new(stream), server.port, LEAK).unwrap();
    let id = incident_id(&answer.head).unwrap();
    let (ok, shown, err) =
        dlpgate(&["incidents", "show", &id, "--store", &good, "--data-dir", "/nonexistent"]);
    assert!(ok && !shown.contains("journalled"), "{err}{shown}");
    // (The cluster takes nothing but TLS with a client certificate, as refused above.)
    assert!(!server.log().contains("pw-not-shown"));
}
