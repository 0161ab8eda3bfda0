#!/usr/bin/env bash
# TLS benchmark, one run, one machine, one load generator (`dlpgate bench`, 5.5 KiB RESPMOD,
# 8 connections, client certificate presented):
#   dlpgate icaps | stunnel (verify = 4) -> c-icap | c-icap's own TLS port | dlpgate tunnel -> c-icap
#   | haproxy (TLS, client certificate required) -> c-icap | haproxy (plain TCP, no TLS) -> c-icap
# plus full-handshake rates (a new TLS connection per request) of dlpgate icaps and stunnel.
# Requests per CPU-second add up every process of the server side; the proxy's own CPU per
# request is reported too.
#
#   scripts/bench-tls.sh [SECONDS]        (ONLY=REGEX runs the cases whose label matches)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
cargo build --release -p dlpgate >/dev/null
bin=$PWD/target/release/dlpgate
run=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$run"' EXIT
"$bin" cert init --dir "$run/pki" >/dev/null
pki=$run/pki

cicap=22344; cicap_tls=22345; stunnel_port=22346; dlp=22347; dlp_tls=22348; tunnel_port=22349
haproxy_tls=22350; haproxy_tcp=22351
. scripts/c-icap-bench.sh
c_icap_bench_conf "$run" $cicap \
  "TlsPort 127.0.0.1:$cicap_tls cert=$pki/server.crt key=$pki/server.key client_ca=$pki/ca.crt cafile=$pki/ca.crt" \
  > "$run/c-icap.conf"
# stunnel as the seed uses it, pinning the client certificate (verify = 4), and dlpgate tunnel
# reading the same kind of file.
for kind in stunnel tunnel; do
  port=$stunnel_port; [ $kind = tunnel ] && port=$tunnel_port
  cat > "$run/$kind.conf" <<CONF
foreground = yes
pid =
debug = warning
[icaps]
accept = 127.0.0.1:$port
connect = 127.0.0.1:$cicap
cert = $pki/server.crt
key = $pki/server.key
CAfile = $pki/client.crt
verify = 4
CONF
done
sed -i '/^foreground\|^pid\|^debug/d' "$run/tunnel.conf"

# haproxy 2.6 as ../shared/interop/haproxy.cfg runs it (TCP mode, client certificate required,
# chained to the CA), plus a plain TCP frontend: what a proxy in front of c-icap costs without
# any TLS at all.
cat "$pki/server.key" "$pki/server.crt" > "$run/server-combined.pem"
chmod 600 "$run/server-combined.pem"
cat > "$run/haproxy.cfg" <<CONF
global
    maxconn 4096
    nbthread $(nproc)
defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend icaps_mtls
    bind 127.0.0.1:$haproxy_tls ssl crt $run/server-combined.pem ca-file $pki/ca.crt verify required
    default_backend cicap
frontend icap_tcp
    bind 127.0.0.1:$haproxy_tcp
    default_backend cicap
backend cicap
    server c1 127.0.0.1:$cicap
CONF

c-icap -N -f "$run/c-icap.conf" & cicap_pid=$!
haproxy -q -db -f "$run/haproxy.cfg" & haproxy_pid=$!
stunnel4 "$run/stunnel.conf" & stunnel_pid=$!
"$bin" --log warn serve --listen 127.0.0.1:$dlp --tls-listen 127.0.0.1:$dlp_tls --data-dir "$run/data" \
  --cert "$pki/server.crt" --key "$pki/server.key" --client-ca "$pki/ca.crt" & dlp_pid=$!
"$bin" --log warn tunnel --config "$run/tunnel.conf" ${TUNNEL_THREADS:+--threads $TUNNEL_THREADS} & tunnel_pid=$!
wait_ports $cicap $cicap_tls $stunnel_port $dlp $dlp_tls $tunnel_port $haproxy_tls $haproxy_tcp

load() { # label port pids [proxy pids] [--plain] [extra args...]
  local label=$1 port=$2 pids=$3 proxy=$4; shift 4
  [[ -z "${ONLY:-}" || "$label" =~ $ONLY ]] || return 0
  local tls=(--tls --ca "$pki/ca.crt" --cert "$pki/client.crt" --key "$pki/client.key")
  if [ "${1:-}" = --plain ]; then tls=(); shift; fi
  "$bin" --log warn bench --server 127.0.0.1:$port --service echo --method respmod --connections 8 \
    --body 5632 --duration "$secs" "${tls[@]}" \
    --pid "$pids" ${proxy:+--proxy-pid "$proxy"} --label "$label" --json "$@"
}
load "dlpgate icaps" $dlp_tls $dlp_pid ""
load "stunnel -> c-icap" $stunnel_port "$stunnel_pid,$cicap_pid" $stunnel_pid
load "c-icap TLS port" $cicap_tls $cicap_pid ""
load "dlpgate tunnel -> c-icap" $tunnel_port "$tunnel_pid,$cicap_pid" $tunnel_pid
load "haproxy (TLS) -> c-icap" $haproxy_tls "$haproxy_pid,$cicap_pid" $haproxy_pid
load "haproxy (plain TCP) -> c-icap" $haproxy_tcp "$haproxy_pid,$cicap_pid" $haproxy_pid --plain
load "dlpgate icaps handshakes" $dlp_tls $dlp_pid "" --handshakes
load "stunnel -> c-icap handshakes" $stunnel_port "$stunnel_pid,$cicap_pid" $stunnel_pid --handshakes
