#!/bin/bash
# Instructions c-icap srv_echo executes (callgrind on every process, one child) over N
# RESPMOD requests of 5.5 KiB of BODYFILE, 8 connections, sent by `dlpgate bench`: the
# counterpart of scripts/callgrind-serve.sh. Per request: the child's totals / the calls of
# srv_echo's handler (`callgrind_annotate --tree=calling OUT | grep srv_echo.so`).
#
#   scripts/callgrind-c-icap.sh N BODYFILE [DLPGATE_BIN]
set -u
n=$1; body=$2
B=$(cd "$(dirname "$0")/.." && pwd)/target/release/dlpgate; B=${3:-$B}
cd "$(dirname "$0")/.."; . scripts/c-icap-bench.sh
out=${OUT:-/tmp/callgrind-c-icap}; rm -rf $out; mkdir -p $out
run=$(mktemp -d); port=$((28000+RANDOM%1000))
c_icap_bench_conf "$run" $port | sed 's/^StartServers .*/StartServers 1/; s/^MaxServers .*/MaxServers 1/' > $run/c-icap.conf
valgrind --tool=callgrind --trace-children=yes --callgrind-out-file=$out/cicap-%p.out c-icap -N -f $run/c-icap.conf 2>$out/err &
vp=$!
wait_ports $port
if [ "$n" -gt 0 ]; then $B --log warn bench --server 127.0.0.1:$port --service echo --body 5632 --body-file $body --connections 8 --max-requests $n --duration 300 > $out/bench 2>&1; fi
sleep 2
kill -TERM $vp; sleep 3; wait $vp
cat $out/bench 2>/dev/null
for f in $out/cicap-*.out; do echo "$f $(grep -h totals $f | tail -1)"; done
rm -rf $run
