#!/usr/bin/env bash
# Echo benchmark: dlpgate's echo service next to c-icap's srv_echo, same machine, same run,
# same load generator (`dlpgate bench`). Prints one line per case with req/s and requests per
# server CPU-second (all of the server's processes, read from /proc).
#
#   scripts/bench-echo.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
cargo build --release -p dlpgate >/dev/null
bin=target/release/dlpgate
run=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$run"' EXIT

cicap_port=21344
dlp_port=21345
. scripts/c-icap-bench.sh
c_icap_bench_conf "$run" $cicap_port > "$run/c-icap.conf"
c-icap -N -f "$run/c-icap.conf" &
cicap_pid=$!
"$bin" --log warn serve --listen 127.0.0.1:$dlp_port --data-dir "$run/data" &
dlp_pid=$!
wait_ports $cicap_port $dlp_port

# preview 1024: each server's own choice after the preview (dlpgate answers 204 at once;
# srv_echo asks for the rest with 100 Continue and echoes it). preview 0: the whole body
# reaches the server in every case.
for preview in 1024 0; do
  for conns in 8 32; do
    for body in 64 5632 65536; do
      for target in c-icap dlpgate; do
        if [ "$target" = c-icap ]; then port=$cicap_port; pid=$cicap_pid; else port=$dlp_port; pid=$dlp_pid; fi
        "$bin" --log warn bench --server 127.0.0.1:$port --service echo --method respmod \
          --connections "$conns" --body "$body" --preview "$preview" --duration "$secs" \
          --pid "$pid" --label "$target preview=$preview" --json
      done
    done
  done
done
