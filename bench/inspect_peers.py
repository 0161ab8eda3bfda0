#!/usr/bin/env python3
"""Throughput of dlpgate's inspection engine next to two PyPI peers, on the same text.

Peers:
  * presidio-analyzer, pattern recognizers only (credit card, US SSN, IBAN, e-mail), called
    directly with nlp_artifacts=None: no spaCy model is loaded or downloaded;
  * detect-secrets with its default plugins, scanning the same text as a file.

The text is the engine's own benchmark prose (inspect::testkit::prose): English-like words,
ordinary numbers, one sensitive value per MiB.

Usage (from the repository root):
  python3 -m venv /tmp/peers && /tmp/peers/bin/pip install presidio-analyzer detect-secrets
  /tmp/peers/bin/python bench/inspect_peers.py [--mib 16] [--peer-mib 4] [--runs 5]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time


def run(cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def engine(path, runs):
    out = run(["cargo", "run", "-q", "--release", "-p", "inspect", "--features", "testkit",
               "--example", "throughput", "--", "scan", path, str(runs)])
    return json.loads(out.strip().splitlines()[-1])["mb_per_s"]


def presidio(text, runs):
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer, EmailRecognizer, IbanRecognizer, UsSsnRecognizer)
    recognizers = [
        (CreditCardRecognizer(), ["CREDIT_CARD"]),
        (UsSsnRecognizer(), ["US_SSN"]),
        (IbanRecognizer(), ["IBAN_CODE"]),
        (EmailRecognizer(), ["EMAIL_ADDRESS"]),
    ]
    rates, found = [], 0
    for _ in range(runs):
        t = time.perf_counter()
        found = 0
        for rec, entities in recognizers:
            found += len(rec.analyze(text=text, entities=entities, nlp_artifacts=None))
        rates.append(len(text.encode()) / (time.perf_counter() - t) / 1e6)
    return statistics.median(rates), found


def detect_secrets(path, size, runs):
    from detect_secrets import SecretsCollection
    from detect_secrets.settings import default_settings
    rates, found = [], 0
    for _ in range(runs):
        with default_settings():
            t = time.perf_counter()
            secrets = SecretsCollection()
            secrets.scan_file(path)
            rates.append(size / (time.perf_counter() - t) / 1e6)
            found = sum(len(v) for _, v in secrets.data.items())
    return statistics.median(rates), found


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, default=16, help="text size for the engine")
    ap.add_argument("--peer-mib", type=int, default=4, help="text size for the Python peers")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="inspect-peers-")
    big = os.path.join(tmp, "text.txt")
    run(["cargo", "run", "-q", "--release", "-p", "inspect", "--features", "testkit",
         "--example", "throughput", "--", "write", big, str(args.mib)])
    with open(big, "rb") as f:
        data = f.read()
    # The peers get a prefix of the same bytes (they are far slower).
    small = os.path.join(tmp, "peer.txt")
    with open(small, "wb") as f:
        f.write(data[: args.peer_mib << 20])
    text = data[: args.peer_mib << 20].decode()

    ours = engine(big, args.runs)
    ours_small = engine(small, args.runs)
    pres, pres_found = presidio(text, max(1, args.runs // 2))
    ds, ds_found = detect_secrets(small, len(text), max(1, args.runs // 2))

    rows = [
        ("dlpgate inspect (default policy)", f"{args.mib} MiB", ours, None),
        ("dlpgate inspect (default policy)", f"{args.peer_mib} MiB", ours_small, None),
        ("presidio-analyzer patterns (cc, ssn, iban, email)", f"{args.peer_mib} MiB", pres, pres_found),
        ("detect-secrets (default plugins)", f"{args.peer_mib} MiB", ds, ds_found),
    ]
    print(f"{'engine':52} {'text':>7} {'MB/s':>9} {'ratio':>8}")
    for name, size, rate, _ in rows:
        print(f"{name:52} {size:>7} {rate:9.1f} {ours_small / rate:7.0f}x")
    print(json.dumps({"engine_mb_s": ours, "engine_small_mb_s": ours_small,
                      "presidio_mb_s": pres, "presidio_found": pres_found,
                      "detect_secrets_mb_s": ds, "detect_secrets_found": ds_found}))


if __name__ == "__main__":
    sys.exit(main())
