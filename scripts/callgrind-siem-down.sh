#!/bin/bash
# Instructions `dlpgate serve` executes (callgrind, the whole process: request path, store and
# SIEM delivery task) for N REQMOD requests that are each an incident, with extra serve
# arguments (docs/BENCHMARKS.md, "SIEM delivery"):
#
#   scripts/callgrind-siem-down.sh LABEL N [serve args...]
#   scripts/callgrind-siem-down.sh none 0; scripts/callgrind-siem-down.sh none 2000
#   scripts/callgrind-siem-down.sh sink 0 --siem syslog+tcp://127.0.0.1:9   # port 9: refused
#   scripts/callgrind-siem-down.sh sink 2000 --siem syslog+tcp://127.0.0.1:9
#
# Per request: (totals at N - totals at 0) / N. Needs a release build and valgrind.
set -u
label=$1; n=$2; shift 2
out=${OUT:-/tmp/callgrind-siem}; mkdir -p "$out"
printf 'card 4111 1111 1111 1111\n' > "$out/leak.txt"
B=$(cd "$(dirname "$0")/.." && pwd)/target/release/dlpgate
port=$((24000+RANDOM%2000)); d=$(mktemp -d)
valgrind --tool=callgrind --callgrind-out-file=$out/$label-$n.out $B --log warn serve --listen 127.0.0.1:$port --data-dir $d "$@" 2>$out/$label-$n.err &
vp=$!
for i in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.2; done
if [ "$n" -gt 0 ]; then $B --log warn bench --server 127.0.0.1:$port --service reqmod --method reqmod --body-file $out/leak.txt --connections 4 --max-requests $n --duration 300 >$out/$label-$n.bench 2>&1; fi
sleep 3
kill -INT $vp; wait $vp
grep -h "summary\|totals" $out/$label-$n.out | tail -1 | sed "s/^/$label $n /"
rm -rf $d
