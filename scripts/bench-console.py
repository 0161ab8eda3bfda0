#!/usr/bin/env python3
"""The web console's incident list at scale: fills a SQLite store (or, with --postgres, a
temporary PostgreSQL cluster of the Debian package, run as its `postgres` user) with N
incidents (1,000,000 by default) shaped like real ones, starts `dlpgate console` on it, logs in, and times list
pages under each filter (first page, a deep page by cursor, rule, action, user, client,
service, status, search, time range). Prints the median and the slowest of REPEAT loads per
case, in milliseconds, measured by the client over loopback (whole request, HTML included).

    scripts/bench-console.py [--incidents N] [--binary target/release/dlpgate] [--repeat 15] [--postgres]
"""

import argparse
import csv
import glob
import http.client
import json
import os
import random
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

parser = argparse.ArgumentParser()
parser.add_argument("--incidents", type=int, default=1_000_000)
parser.add_argument("--binary", default="target/release/dlpgate")
parser.add_argument("--repeat", type=int, default=15)
parser.add_argument("--port", type=int, default=19181)
parser.add_argument("--postgres", action="store_true", help="a PostgreSQL store instead of SQLite")
args = parser.parse_args()

work = tempfile.mkdtemp(prefix="bench-console-")
data = os.path.join(work, "data")
password = "benchmark password 1"
COLUMNS = ("id, time_ms, service, method, client_addr, tls_subject, user_name, groups_json, url, file_name, "
           "content_type, size, sha256, rules_json, counts_json, evidence_json, action, reason, severity, "
           "policy_version, claimed_json")
pg_ctl = None
if args.postgres:
    # A throw-away cluster on loopback, owned by the package's `postgres` user.
    bin_dir = sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1]
    cluster = os.path.join(work, "pg")
    os.chmod(work, 0o755)
    subprocess.run(["install", "-d", "-o", "postgres", "-g", "postgres", cluster], check=True)
    as_pg = ["runuser", "-u", "postgres", "--"]
    subprocess.run(as_pg + [f"{bin_dir}/initdb", "-D", cluster, "-A", "trust", "-U", "postgres"],
                   check=True, stdout=subprocess.DEVNULL)
    pg_port = args.port + 1
    pg_ctl = as_pg + [f"{bin_dir}/pg_ctl", "-D", cluster, "-w", "-l", os.path.join(cluster, "log")]
    subprocess.run(pg_ctl + ["-o", f"-p {pg_port} -k {cluster} -c listen_addresses=127.0.0.1 -c fsync=off",
                             "start"], check=True, stdout=subprocess.DEVNULL)
    store = ["--store", f"postgres://postgres@127.0.0.1:{pg_port}/postgres"]
else:
    store = ["--data-dir", data]


def sql(query):
    """One value of a query on the store."""
    if args.postgres:
        out = subprocess.run(["psql", store[1], "-At", "-F", "\t", "-c", query.replace("incidents", "dlpgate_incidents")],
                             check=True, capture_output=True, text=True).stdout.strip()
        return out.split("\t")
    db = sqlite3.connect(os.path.join(data, "incidents.db"))
    row = db.execute(query).fetchone()
    db.close()
    return [str(v) for v in row]


# The store and the console tables, as the binary makes them.
subprocess.run(
    [args.binary, "console", "user", "add", "bench", "--role", "admin"] + store,
    input=password.encode(), check=True, stdout=subprocess.DEVNULL,
)
if args.postgres:
    rows_file = os.path.join(work, "incidents.csv")
    out = open(rows_file, "w", newline="")
    writer = csv.writer(out)
else:
    db = sqlite3.connect(os.path.join(data, "incidents.db"))
    db.execute("PRAGMA synchronous = OFF")
rules = ["credit-card", "us-ssn", "iban", "private-key", "aws-access-key", "github-token", "other-secrets"]
weights = [40, 20, 15, 5, 5, 5, 10]
users = [f"user{n:05d}" for n in range(5000)]
rng = random.Random(7)
# One incident every 2 s up to now: the last 24 hours (the dashboard's) hold 43,200.
start_ms = int(time.time() * 1000) - args.incidents * 2000
t0 = time.time()
batch = []
for n in range(args.incidents):
    time_ms = start_ms + n * 2000 + rng.randrange(1000)
    rule = rng.choices(rules, weights)[0]
    picked = [rule] if rng.random() < 0.9 else sorted({rule, rng.choice(rules)})
    user = rng.choice(users) if rng.random() < 0.8 else None
    action = "block" if rng.random() < 0.85 else "monitor"
    service = "reqmod" if rng.random() < 0.7 else "respmod"
    client = f"10.{rng.randrange(4)}.{rng.randrange(256)}.{rng.randrange(256)}"
    name = f"report-{n}.xlsx" if rng.random() < 0.6 else None
    evidence = json.dumps([{"detector": "credit_card", "masked": "4111********1111", "location": "offset 5"}])
    batch.append((
        f"inc-{time_ms:016x}{n:016x}", time_ms, service, service.upper(), client, None, user,
        json.dumps(["staff"]), f"http://upload.test/{name or 'form'}", name, "text/plain", 4096,
        f"{n:064x}", json.dumps(picked), json.dumps({"credit_card": 1}), evidence, action, None, "high",
        "bench", None,
    ))
    if len(batch) == 50_000:
        if args.postgres:
            writer.writerows(batch)
        else:
            db.executemany(f"INSERT INTO incidents ({COLUMNS}) VALUES ({','.join('?' * 21)})", batch)
            db.commit()
        batch = []
if args.postgres:
    writer.writerows(batch)
    out.close()
    subprocess.run(["psql", store[1], "-q", "-c",
                    f"\\copy dlpgate_incidents ({COLUMNS}) FROM '{rows_file}' WITH (FORMAT csv)"], check=True)
    subprocess.run(["psql", store[1], "-q", "-c", "ANALYZE"], check=True)
else:
    if batch:
        db.executemany(f"INSERT INTO incidents ({COLUMNS}) VALUES ({','.join('?' * 21)})", batch)
        db.commit()
    db.close()
print(f"{args.incidents} incidents written in {time.time() - t0:.0f} s (the trigger fills the rule index)",
      file=sys.stderr)

# An existing store of that size: the console adds nothing more at start-up.
server = subprocess.Popen(
    [args.binary, "console"] + store + ["--console-listen", f"127.0.0.1:{args.port}"],
    stderr=subprocess.DEVNULL,
)
try:
    deadline = time.time() + 600
    while True:
        try:
            http.client.HTTPConnection("127.0.0.1", args.port, timeout=2).request("GET", "/healthz")
            break
        except OSError:
            if time.time() > deadline:
                sys.exit("the console did not start")
            time.sleep(0.2)

    def request(method, path, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=60)
        conn.request(method, path, body=body, headers=headers or {})
        answer = conn.getresponse()
        return answer, answer.read().decode()

    answer, page = request("GET", "/login")
    login_cookie = answer.getheader("Set-Cookie").split(";")[0]
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)
    form = urllib.parse.urlencode({"name": "bench", "password": password, "csrf": token})
    answer, _ = request("POST", "/login", form, {
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": login_cookie})
    session = [c for c in answer.getheaders() if c[0].lower() == "set-cookie" and "session" in c[1]][0][1]
    cookie = {"Cookie": session.split(";")[0]}

    # A cursor deep in the table: the 500,000th newest incident.
    deep = sql(f"SELECT time_ms, id FROM incidents ORDER BY time_ms DESC, id DESC LIMIT 1 OFFSET {args.incidents // 2}")
    rare_user = sql("SELECT user_name FROM incidents WHERE user_name IS NOT NULL LIMIT 1")[0]
    last_ms = int(sql("SELECT max(time_ms) FROM incidents")[0])

    def day(ms):
        return time.strftime("%Y-%m-%dT%H:%M", time.gmtime(ms / 1000))

    cases = [
        ("first page, no filter", "/incidents"),
        ("page at the 500,000th incident (cursor)", f"/incidents?after={deep[0]}:{deep[1]}"),
        ("rule = private-key (5%)", "/incidents?rule=private-key"),
        ("action = monitor (15%)", "/incidents?action=monitor"),
        ("user = one of 5,000", f"/incidents?user={rare_user}"),
        ("client = one address (rare)", "/incidents?client=10.1.2.3"),
        ("service = respmod", "/incidents?service=respmod"),
        ("rule + action + service", "/incidents?rule=iban&action=monitor&service=respmod"),
        ("status = new", "/incidents?status=new"),
        ("one day, 10 days ago", f"/incidents?from={day(last_ms - 11 * 86_400_000)}&to={day(last_ms - 10 * 86_400_000)}"),
        ("search: common text (report-)", "/incidents?q=report-"),
        ("search: one file name (report-77776.)", "/incidents?q=report-77776."),
        ("search: common text, its matches 90% deep (report-10)", "/incidents?q=report-10"),
        ("search: text in ~110 incidents (report-9999)", "/incidents?q=report-9999"),
        ("search: user name part, ~1,600 incidents (user0424)", "/incidents?q=user0424"),
        ("search: user name part, ~16,000 incidents (user042)", "/incidents?q=user042"),
        ("search: rare text + rule (report-9999, iban)", "/incidents?q=report-9999&rule=iban"),
        ("search: exact id", f"/incidents?q={deep[1]}"),
        ("search: text that matches nothing", "/incidents?q=no-such-file"),
        ("search: nothing, every trigram common (report-form)", "/incidents?q=report-form"),
        ("dashboard (24 h: 43,200 incidents)", "/"),
    ]
    print(f"| page ({args.incidents:,} incidents, {'PostgreSQL' if args.postgres else 'SQLite'}) | median ms | slowest ms | rows |")
    print("|---|---|---|---|")
    for label, path in cases:
        times = []
        rows = 0
        for _ in range(args.repeat):
            t = time.perf_counter()
            answer, page = request("GET", path, headers=cookie)
            times.append((time.perf_counter() - t) * 1000)
            if answer.status != 200:
                sys.exit(f"{path}: {answer.status}")
            rows = page.count("<tr>") - 1
        print(f"| {label} | {statistics.median(times):.1f} | {max(times):.1f} | {max(rows, 0)} |")
finally:
    server.terminate()
    server.wait()
    if pg_ctl:
        subprocess.run(pg_ctl + ["-m", "immediate", "stop"], stdout=subprocess.DEVNULL)
    subprocess.run(["rm", "-rf", work])
