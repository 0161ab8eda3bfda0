#!/usr/bin/env bash
# DLP benchmark: dlpgate's respmod service (default policy, every body scanned) next to c-icap
# srv_echo (which inspects nothing), same run, same load generator.
#
#   scripts/bench-dlp.sh [SECONDS] [BODY]
#
# BODY is `x` (the default: bodies of `x` bytes, which no detector looks at twice), `dense`:
# number-dense text (prose where one word in twenty is a 6-10 digit number, written by
# `inspect`'s throughput example), which makes the numeric detectors work on every body, or
# `ledger`: a CSV export (order ids, amounts, dates, phone numbers, Luhn-invalid card numbers,
# UUIDs), nearly all digits.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
kind=${2:-x}
cargo build --release -p dlpgate >/dev/null
bin=$PWD/target/release/dlpgate
run=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$run"' EXIT
body=()
label=""
if [ "$kind" = dense ] || [ "$kind" = ledger ]; then
  cargo build --release -p inspect --features testkit --example throughput >/dev/null
  target/release/examples/throughput "write-$kind" "$run/$kind.txt" 1
  body=(--body-file "$run/$kind.txt")
  label=" $kind"
  [ "$kind" = dense ] && label=" number-dense"
fi
cicap=23344; dlp=23345
. scripts/c-icap-bench.sh
c_icap_bench_conf "$run" $cicap > "$run/c-icap.conf"
c-icap -N -f "$run/c-icap.conf" & cicap_pid=$!
"$bin" --log warn serve --listen 127.0.0.1:$dlp --data-dir "$run/data" & dlp_pid=$!
wait_ports $cicap $dlp
b() { "$bin" --log warn bench --duration "$secs" --json "${body[@]}" "$@"; }
b --server 127.0.0.1:$cicap --service echo --body 5632 --connections 8 --pid $cicap_pid --label "c-icap srv_echo 5.5KiB$label"
b --server 127.0.0.1:$dlp --service respmod --body 5632 --connections 8 --pid $dlp_pid --label "dlpgate DLP 5.5KiB$label"
b --server 127.0.0.1:$dlp --service respmod --body 65536 --connections 8 --pid $dlp_pid --label "dlpgate DLP 64KiB$label"
b --server 127.0.0.1:$dlp --service respmod --body 10485760 --connections 2 --pid $dlp_pid --label "dlpgate DLP 10MiB$label"
