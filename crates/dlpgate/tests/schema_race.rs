//! Several servers started at once on an empty PostgreSQL database (the usual first start of
//! an N-node deployment, or a fleet restarted by its orchestrator) all create their tables and
//! columns without failing: the incident table, the SIEM delivery columns and cursor table,
//! and the policy versions. PostgreSQL's `CREATE TABLE IF NOT EXISTS` is not safe against a
//! concurrent twin (the loser fails on the catalog's unique index), so each server creates
//! them under a transaction-scoped advisory lock.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::postgres::Postgres;
use support::{free_port, Dlpgate};

/// Rounds, each on a fresh database: the race is lost only now and then.
const ROUNDS: usize = 6;
/// Servers started at once in each round.
const SERVERS: usize = 3;

#[test]
fn servers_started_at_once_on_an_empty_database_all_create_their_tables() {
    let dir = tempfile::tempdir().unwrap();
    let pg = Postgres::start(dir.path());
    // A UDP sink needs no receiver, and makes each server prepare the SIEM delivery queue.
    let sink = format!("syslog+udp://127.0.0.1:{}", free_port());
    for round in 0..ROUNDS {
        let db = format!("race{round}");
        pg.psql(&format!("CREATE DATABASE {db}"));
        let url = format!("postgres://postgres@127.0.0.1:{}/{db}", pg.port);
        let barrier = std::sync::Barrier::new(SERVERS);
        let servers: Vec<Dlpgate> = std::thread::scope(|s| {
            let starts: Vec<_> = (0..SERVERS)
                .map(|_| {
                    let (url, sink, barrier) = (&url, &sink, &barrier);
                    s.spawn(move || {
                        barrier.wait();
                        // Panics with the server's log when it exits before listening.
                        Dlpgate::start(&["--store", url, "--siem", sink])
                    })
                })
                .collect();
            starts.into_iter().map(|h| h.join().expect("a server failed to start")).collect()
        });
        // A server listens before its SIEM sinks open the delivery queue: wait for them.
        for mut server in servers {
            server.wait_for_log("SIEM sink started", 1);
            let log = server.log();
            assert!(
                server.guard.child.try_wait().unwrap().is_none(),
                "round {round}: a server exited:\n{log}"
            );
            assert!(!log.contains("ERROR") && !log.contains("panicked"), "round {round}:\n{log}");
        }
        let tables = psql_in(
            &pg,
            &db,
            "SELECT string_agg(table_name, ',') FROM information_schema.tables WHERE table_schema = 'public'",
        );
        for table in ["dlpgate_incidents", "dlpgate_policy_versions", "siem_cursor"] {
            assert!(tables.contains(table), "round {round}: no {table} in {tables}");
        }
    }
}

/// Runs SQL in database `db` and gives its output (unaligned, tuples only).
fn psql_in(pg: &Postgres, db: &str, sql: &str) -> String {
    let out = std::process::Command::new(pg.bin.join("psql"))
        .args(["-h", "127.0.0.1", "-p", &pg.port.to_string(), "-U", "postgres", "-d", db, "-At", "-c", sql])
        .output()
        .unwrap();
    assert!(out.status.success(), "psql {sql}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).to_string()
}
