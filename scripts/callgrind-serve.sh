#!/bin/bash
# Instructions `dlpgate serve` executes (callgrind, the whole process) over N RESPMOD requests
# of 5.5 KiB of BODYFILE, 8 connections (docs/BENCHMARKS.md, "Ledger and the ICAP request
# path"). Per request: (totals at N - totals at 0) / the requests the server saw, which the
# load generator's one-second warm-up adds to: take them from the calls of
# `BodyScan::finish` (`callgrind_annotate --tree=calling OUT | grep "BodyScan::finish ("`).
#
#   scripts/callgrind-serve.sh target/release/dlpgate LABEL N BODYFILE
set -u
B=$1; label=$2; n=$3; body=$4
out=${OUT:-/tmp/callgrind-serve}; mkdir -p $out
port=$((26000+RANDOM%2000)); d=$(mktemp -d)
valgrind --tool=callgrind --callgrind-out-file=$out/$label-$n.out $B --log warn serve --listen 127.0.0.1:$port --data-dir $d 2>$out/$label-$n.err &
vp=$!
for i in $(seq 300); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.2; done
if [ "$n" -gt 0 ]; then $B --log warn bench --server 127.0.0.1:$port --service respmod --body 5632 --body-file $body --connections 8 --max-requests $n --duration 300 >$out/$label-$n.bench 2>&1; fi
sleep 2
kill -INT $vp; wait $vp
echo "$label $n $(grep -h totals $out/$label-$n.out | tail -1)"
rm -rf $d
