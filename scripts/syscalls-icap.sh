#!/bin/bash
# Syscalls of c-icap srv_echo and of `dlpgate serve` (strace -c -f on the running servers)
# while `dlpgate bench` sends N RESPMOD requests of 5.5 KiB of KIND text (`dense`, `ledger`:
# the throughput example's), 8 connections, after a 2,000-request warm-up of each. The counts
# include the load generator's one-second warm-up: compare per-call ratios (recvfrom to
# sendto), or divide by the requests the server saw.
#
#   scripts/syscalls-icap.sh target/release/dlpgate dense 10000
set -u
BIN=$1; kind=$2; n=$3
cd "$(dirname "$0")/.."
run=$(mktemp -d)
. scripts/c-icap-bench.sh
target/release/examples/throughput write-$kind $run/body.txt 1
cicap=$((25000+RANDOM%1000)); dlp=$((cicap+1))
c_icap_bench_conf "$run" $cicap > "$run/c-icap.conf"
c-icap -N -f "$run/c-icap.conf" & cp=$!
$BIN --log warn serve --listen 127.0.0.1:$dlp --data-dir "$run/data" & dp=$!
wait_ports $cicap $dlp
# warm up, then trace
$BIN --log warn bench --server 127.0.0.1:$cicap --service echo --body 5632 --body-file $run/body.txt --connections 8 --max-requests 2000 --duration 30 >/dev/null
$BIN --log warn bench --server 127.0.0.1:$dlp --service respmod --body 5632 --body-file $run/body.txt --connections 8 --max-requests 2000 --duration 30 >/dev/null
for who in cicap dlp; do
  if [ $who = cicap ]; then port=$cicap; pids=$(pgrep -P $cp | tr '\n' ' ')" $cp"; svc=echo; else port=$dlp; pids=$dp; svc=respmod; fi
  args=""; for p in $pids; do args="$args -p $p"; done
  strace -c -f $args -o $run/$who.strace & sp=$!
  sleep 1
  $BIN --log warn bench --server 127.0.0.1:$port --service $svc --body 5632 --body-file $run/body.txt --connections 8 --max-requests $n --duration 60 > $run/$who.bench
  sleep 0.5; kill -INT $sp; wait $sp 2>/dev/null
  echo "== $who ($n requests)"; cat $run/$who.bench; grep -v "^-" $run/$who.strace | head -8
done
kill $cp $dp; wait 2>/dev/null
rm -rf $run
