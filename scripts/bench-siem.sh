#!/usr/bin/env bash
# SIEM delivery benchmark (docs/BENCHMARKS.md, "SIEM delivery"):
#
#   scripts/bench-siem.sh [INCIDENTS] [SECONDS]
#
# 1. Delivery rate per sink: `dlpgate serve` with one sink whose receiver is down makes
#    INCIDENTS incidents (every REQMOD carries a test card number), then the receiver starts
#    and the incidents per second from the first delivered to the last are measured on
#    dlpgate_siem_delivered_total. Receivers: rsyslog over TCP and over TLS (imtcp, gtls),
#    and a Python HTTP server for HEC (it reads each body and answers 200).
# 2. Verdict latency with a sink down: `dlpgate bench` (REQMOD, 8 connections, SECONDS) with
#    no sink, with a sink whose port refuses connections, and with a sink that accepts and
#    never answers (each batch waits for the send timeout). Every request is an incident.
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-20000}
secs=${2:-10}
cargo build --release -p dlpgate >/dev/null
bin=$PWD/target/release/dlpgate
run=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$run"' EXIT
. scripts/c-icap-bench.sh
printf 'card 4111 1111 1111 1111\n' > "$run/leak.txt"
(cd "$run" && mkdir certs && cd certs && "$bin" --log warn cert init --dir . --force >/dev/null)

rsyslog_conf() { # DIR PORT TLS
  mkdir -p "$1"
  local tls='module(load="imtcp")'
  if [ "$3" = tls ]; then
    tls="global(DefaultNetstreamDriver=\"gtls\" DefaultNetstreamDriverCAFile=\"$run/certs/ca.crt\" DefaultNetstreamDriverCertFile=\"$run/certs/server.crt\" DefaultNetstreamDriverKeyFile=\"$run/certs/server.key\")
module(load=\"imtcp\" StreamDriver.Name=\"gtls\" StreamDriver.Mode=\"1\" StreamDriver.AuthMode=\"x509/certvalid\")"
  fi
  cat > "$1/rsyslog.conf" <<EOF
global(workDirectory="$1")
$tls
input(type="imtcp" port="$2" address="127.0.0.1")
template(name="raw" type="string" string="%rawmsg%\n")
action(type="omfile" file="$1/out.log" template="raw")
EOF
}

http_receiver() { # PORT
  python3 - "$1" <<'EOF' &
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers["content-length"]))
        self.send_response(200); self.send_header("content-length", "2"); self.end_headers(); self.wfile.write(b"{}")
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
EOF
  receiver_pid=$!
}

delivered() { # METRICS_PORT
  { curl -s "http://127.0.0.1:$1/metrics" || true; } | awk '/^dlpgate_siem_delivered_total/ {print $2}'
}

incidents() { # DATA_DIR
  python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from incidents').fetchone()[0])" "$1/incidents.db"
}

# One delivery run: SINK_URL RECEIVER(rsyslog-tcp|rsyslog-tls|http) PORT [serve args...]
delivery_run() {
  local url=$1 kind=$2 port=$3; shift 3
  local data=$run/data-$kind metrics=23399 icap=23398
  rm -rf "$data"
  "$bin" --log warn serve --listen 127.0.0.1:$icap --data-dir "$data" --metrics-listen 127.0.0.1:$metrics \
    --siem "$url" --siem-retry-max-ms 200 --siem-poll-ms 50 "$@" & local serve_pid=$!
  wait_ports $icap $metrics
  "$bin" --log warn bench --server 127.0.0.1:$icap --service reqmod --method reqmod --body-file "$run/leak.txt" \
    --body 25 --connections 8 --max-requests "$count" --duration 600 >/dev/null
  local made; made=$(incidents "$data")
  case $kind in
    http) http_receiver "$port" ;;
    *) rsyslog_conf "$run/$kind" "$port" "${kind#rsyslog-}"; rsyslogd -n -f "$run/$kind/rsyslog.conf" -i "$run/$kind/pid" & receiver_pid=$! ;;
  esac
  local first="" t0="" n=0
  while :; do
    n=$(delivered $metrics); n=${n:-0}
    if [ -z "$first" ] && [ "${n%.*}" -gt 0 ]; then first=${n%.*}; t0=$(date +%s.%N); fi
    [ "${n%.*}" -ge "$made" ] && break
    sleep 0.05
  done
  local t1; t1=$(date +%s.%N)
  python3 -c "import sys; f,m,a,b=map(float,sys.argv[1:]); print(f'delivery $kind: {m:.0f} incidents, {(m-f)/(b-a):.0f} incidents/s')" "$first" "$made" "$t0" "$t1"
  kill "$serve_pid" "$receiver_pid"; wait "$serve_pid" "$receiver_pid" 2>/dev/null || true
}

delivery_run "syslog+tcp://127.0.0.1:23401" rsyslog-tcp 23401
delivery_run "syslog+tls://localhost:23402" rsyslog-tls 23402 --siem-ca "$run/certs/ca.crt" \
  --siem-client-cert "$run/certs/client.crt" --siem-client-key "$run/certs/client.key"
echo token > "$run/token"; chmod 600 "$run/token"
delivery_run "http://127.0.0.1:23403/services/collector/event" http 23403 --siem-token-file "$run/token"

# Verdict latency: no sink, a refused sink, a hanging sink (accepts, never reads).
python3 - 23404 <<'EOF' &
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1024)
held = []
while True:
    c, _ = s.accept(); held.append(c)
EOF
wait_ports 23404
latency_run() { # LABEL [serve args...]
  local label=$1; shift
  local data=$run/lat-data icap=23397
  rm -rf "$data"
  "$bin" --log error serve --listen 127.0.0.1:$icap --data-dir "$data" "$@" & local serve_pid=$!
  wait_ports $icap
  "$bin" --log warn bench --server 127.0.0.1:$icap --service reqmod --method reqmod --body-file "$run/leak.txt" \
    --body 25 --connections 8 --duration "$secs" --label "$label" --pid $serve_pid
  kill "$serve_pid"; wait "$serve_pid" 2>/dev/null || true
}
for round in 1 2 3; do
  latency_run "round $round: no sink"
  latency_run "round $round: sink refused" --siem syslog+tcp://127.0.0.1:23405 --siem-retry-max-ms 1000
  latency_run "round $round: sink hanging" --siem syslog+tcp://127.0.0.1:23404 --siem-send-timeout-ms 2000
done
