#!/usr/bin/env bash
# Scan benchmark: `dlpgate scan` against a local `dlpgate serve` (reqmod, default policy),
# release build, files in the page cache:
#   - a tree of 10,000 small files (1-4 KiB of text);
#   - a tree of 100 files of 10 MiB.
# Reports files/s, MB/s, and the CPU time of the client next to the server's (from
# /proc/PID/stat), so the client's share of the work shows.
#
#   scripts/bench-scan.sh [SMALL_FILES] [LARGE_FILES]
#
# DLPGATE_BIN=path runs that binary (an older build, to compare) instead of building one.
# SCAN_ARGS="..." adds arguments to each scan (SCAN_ARGS="--pipeline 1": no pipelining).
set -euo pipefail
cd "$(dirname "$0")/.."
small=${1:-10000}
large=${2:-100}
target=${CARGO_TARGET_DIR:-$PWD/target}
if [ -z "${DLPGATE_BIN:-}" ]; then
    cargo build --release -p dlpgate >/dev/null
fi
bin=${DLPGATE_BIN:-$target/release/dlpgate}
run=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$run"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

python3 - "$run" "$small" "$large" <<'PY'
import os, random, sys
run, small, large = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(7)
words = b"the quarterly report lists invoices orders shipments and notes for the team ".split()
for i in range(small):
    d = os.path.join(run, "small", f"d{i % 100:02d}")
    os.makedirs(d, exist_ok=True)
    size = rnd.randint(1024, 4096)
    text = b" ".join(rnd.choice(words) for _ in range(size // 5))[:size]
    with open(os.path.join(d, f"f{i:05d}.txt"), "wb") as f:
        f.write(text)
os.makedirs(os.path.join(run, "large"), exist_ok=True)
block = bytes(rnd.getrandbits(8) for _ in range(1 << 16))
for i in range(large):
    with open(os.path.join(run, "large", f"big{i:03d}.bin"), "wb") as f:
        for _ in range(160):  # 160 x 64 KiB = 10 MiB
            f.write(block)
PY

"$bin" --log warn serve --listen 127.0.0.1:$port --data-dir "$run/data" & server=$!
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done

cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }  # utime + stime, clock ticks
hz=$(getconf CLK_TCK)

bench() {
    local label=$1 tree=$2
    local files bytes before after
    files=$(find "$tree" -type f | wc -l)
    bytes=$(find "$tree" -type f -printf '%s\n' | awk '{s += $1} END {print s}')
    cat "$tree"/*/* "$tree"/* >/dev/null 2>&1 || true   # page cache
    before=$(cpu $server)
    /usr/bin/time -f "%e %U %S" -o "$run/time" \
        "$bin" --log warn scan --no-progress --json ${SCAN_ARGS:-} --server "icap://127.0.0.1:$port/reqmod" "$tree" \
        >"$run/out.jsonl" 2>"$run/err" || true
    after=$(cpu $server)
    read -r wall user sys <"$run/time"
    local verdicts
    verdicts=$(grep -c '"verdict":"allow"' "$run/out.jsonl" || true)
    python3 - "$label" "$files" "$bytes" "$wall" "$user" "$sys" "$before" "$after" "$hz" "$verdicts" <<'PY'
import sys
label, files, nbytes, wall, user, sys_, before, after, hz, allowed = sys.argv[1:]
files, nbytes, wall, user, sys_ = int(files), int(nbytes), float(wall), float(user), float(sys_)
server = (int(after) - int(before)) / int(hz)
client = user + sys_
print(f"{label}: {files} files, {nbytes/1e6:.0f} MB in {wall:.2f} s: {files/wall:.0f} files/s, "
      f"{nbytes/1e6/wall:.1f} MB/s; CPU client {client:.2f} s, server {server:.2f} s "
      f"(client share {100*client/(client+server):.0f}%); {allowed} allowed")
PY
}

echo "dlpgate scan -> dlpgate serve (reqmod), $(nproc) cores, $(uname -r)"
bench "small files" "$run/small"
bench "10 MiB files" "$run/large"
