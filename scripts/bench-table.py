#!/usr/bin/env python3
"""Turns `dlpgate bench --json` lines (from scripts/bench-echo.sh) into a markdown table that
puts each dlpgate case next to the same case against c-icap, with the ratios."""
import json
import sys

rows = [json.loads(l) for l in sys.stdin if l.startswith("{")]
cases = {}
for r in rows:
    target, _, variant = r["label"].partition(" ")
    cases.setdefault((variant, r["connections"], r["body"]), {})[target] = r

print("| case | conns | body | c-icap req/s | dlpgate req/s | c-icap req/CPU-s | dlpgate req/CPU-s | ratio per CPU-s | c-icap p99 ms | dlpgate p99 ms |")
print("|---|---|---|---|---|---|---|---|---|---|")
for (variant, conns, body), pair in cases.items():
    c, d = pair.get("c-icap"), pair.get("dlpgate")
    if not (c and d):
        continue
    ratio = d["req_per_cpu_s"] / c["req_per_cpu_s"] if c["req_per_cpu_s"] else float("nan")
    print(f"| {variant} | {conns} | {body} B | {c['rps']:,.0f} | {d['rps']:,.0f} | {c['req_per_cpu_s']:,.0f} | "
          f"{d['req_per_cpu_s']:,.0f} | **{ratio:.2f}x** | {c['p99_ms']:.2f} | {d['p99_ms']:.2f} |")
