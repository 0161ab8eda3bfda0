#!/usr/bin/env python3
"""What the console's triggers cost the server's incident inserts in SQLite.

Makes a store with the binary (`dlpgate console user add`, which adds the console's tables, the
rule-index trigger and the search index's table), then inserts incidents shaped like the
server's (the same columns, WAL, synchronous=FULL, one transaction per incident as
`SqliteStore::record` does, and also in batches of 1,000, which shows the CPU cost without the
disk flush) under three set-ups: the bare incident table (no console), the store as the console
leaves it now (the rule-index trigger; the search index is filled by the console, not on
insert), and with a search-index insert trigger as this work's first version had. Prints
incidents per second and CPU microseconds per incident, the median of ROUNDS rounds each.

    scripts/bench-incident-insert.py [--binary target/release/dlpgate] [--single 2000] [--batched 50000] [--rounds 5]
"""

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import tempfile
import time

parser = argparse.ArgumentParser()
parser.add_argument("--binary", default="target/release/dlpgate")
parser.add_argument("--single", type=int, default=2000, help="incidents inserted one per transaction")
parser.add_argument("--batched", type=int, default=50000, help="incidents inserted 1,000 per transaction")
parser.add_argument("--rounds", type=int, default=5)
args = parser.parse_args()

COLUMNS = ("id, time_ms, service, method, client_addr, tls_subject, user_name, groups_json, url, file_name, "
           "content_type, size, sha256, rules_json, counts_json, evidence_json, action, reason, severity, "
           "policy_version, claimed_json")
SEARCH_TRIGGERS = ["console_incident_search_delete", "console_incident_search_update"]
# The search index's insert trigger of this work's first version (the console now indexes new
# incidents itself): measured for comparison.
INSERT_TRIGGER = """CREATE TRIGGER console_incident_search_insert AFTER INSERT ON incidents BEGIN
    INSERT INTO console_incident_search (rowid, file_name, url, user_name)
        VALUES (NEW.rowid, NEW.file_name, NEW.url, NEW.user_name);
END"""
serial = 0


def row():
    global serial
    serial += 1
    n = serial
    return (f"inc-{n:032x}", 1_700_000_000_000 + n, "reqmod", "REQMOD", f"10.0.{n % 256}.{n % 251}", None,
            f"user{n % 5000:05d}", json.dumps(["staff"]), f"https://upload.example.test/files/report-{n}.xlsx",
            f"report-{n}.xlsx", "text/plain", 4096, f"{n:064x}", json.dumps(["credit-card"]),
            json.dumps({"credit_card": 1}),
            json.dumps([{"detector": "credit_card", "masked": "4111********1111", "location": "offset 5"}]),
            "block", None, "high", "bench", None)


def setup(kind):
    work = tempfile.mkdtemp(prefix="bench-insert-")
    data = os.path.join(work, "data")
    subprocess.run([args.binary, "console", "user", "add", "bench", "--role", "admin", "--data-dir", data],
                   input=b"benchmark password 1", check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = sqlite3.connect(os.path.join(data, "incidents.db"), isolation_level=None)
    if kind in ("bare", "rules"):
        for trigger in SEARCH_TRIGGERS:
            db.execute(f"DROP TRIGGER {trigger}")
    if kind == "bare":
        db.execute("DROP TRIGGER console_incident_rules_fill")
    if kind == "trigger":
        db.execute(INSERT_TRIGGER)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = FULL")
    return work, db


def rate(db, count, per_tx):
    """Incidents per second (wall clock) and CPU microseconds per incident (this process:
    SQLite runs in it, so the triggers' work is counted; the machine's other load is not)."""
    insert = f"INSERT INTO incidents ({COLUMNS}) VALUES ({','.join('?' * 21)}) ON CONFLICT (id) DO NOTHING"
    rows = [row() for _ in range(count)]
    t, cpu = time.perf_counter(), time.process_time()
    for start in range(0, count, per_tx):
        db.execute("BEGIN")
        db.executemany(insert, rows[start:start + per_tx])
        db.execute("COMMIT")
    return count / (time.perf_counter() - t), (time.process_time() - cpu) * 1e6 / count


SETUPS = [("bare", "incident table only (no console)"),
          ("search", "with the console (rule-index trigger; the search index written by the console): now"),
          ("trigger", "+ a search-index insert trigger (this work's first version)")]
results = {kind: ([], [], []) for kind, _ in SETUPS}
# Round robin, so that the machine's load falls on every set-up alike.
for _ in range(args.rounds):
    for kind, _ in SETUPS:
        work, db = setup(kind)
        single, _ = rate(db, args.single, 1)
        batched, cpu = rate(db, args.batched, 1000)
        db.close()
        subprocess.run(["rm", "-rf", work])
        results[kind][0].append(single)
        results[kind][1].append(batched)
        results[kind][2].append(cpu)
print("| set-up | one per transaction (as `record`), incidents/s | 1,000 per transaction, incidents/s | CPU µs per incident (batched) |")
print("|---|---|---|---|")
for kind, label in SETUPS:
    single, batched, cpu = (statistics.median(v) for v in results[kind])
    print(f"| {label} | {single:,.0f} | {batched:,.0f} | {cpu:.1f} |")
