#!/usr/bin/env bash
# Builds the fuzz targets with libFuzzer's coverage instrumentation (the flags cargo-fuzz
# passes, on the stable compiler through RUSTC_BOOTSTRAP) and runs them.
#
#   scripts/fuzz.sh build                 build every target
#   scripts/fuzz.sh TARGET SECONDS [ARGS] fuzz one target for SECONDS over its seed corpus
#   scripts/fuzz.sh smoke SECONDS         every target briefly, seed 1, at most SECONDS each (CI)
#   scripts/fuzz.sh list                  the target names
#
# New inputs go to fuzz/corpus-new/TARGET (not checked in), crashes to fuzz/artifacts/TARGET/.
# Every run uses -rss_limit_mb=512 -timeout=10; extra ARGS go to libFuzzer as they are
# (-max_len=..., -jobs=..., or a crash file to replay it). FUZZ_ASAN=1 adds AddressSanitizer.
# FUZZ_TARGET_DIR puts the build elsewhere than fuzz/target (CI keeps it across checkouts).
set -euo pipefail
cd "$(dirname "$0")/.."

triple=x86_64-unknown-linux-gnu
flags=(
  -Cpasses=sancov-module
  -Cllvm-args=-sanitizer-coverage-level=4
  -Cllvm-args=-sanitizer-coverage-inline-8bit-counters
  -Cllvm-args=-sanitizer-coverage-pc-table
  -Cllvm-args=-sanitizer-coverage-trace-compares
  --cfg fuzzing
)
if [ "${FUZZ_ASAN:-0}" = 1 ]; then
  flags+=(-Zsanitizer=address)
fi
target_dir=${FUZZ_TARGET_DIR:-fuzz/target}
bin_dir="$target_dir/$triple/release"

targets() {
  sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^dlpgate-fuzz$'
}

# Longest input per target: the byte-at-a-time and whole-connection targets stay small.
max_len() {
  case "$1" in
    extract_bytewise) echo 16384 ;;
    server) echo 32768 ;;
    *) echo 65536 ;;
  esac
}

# Smoke runs in CI: a fixed seed, a fresh folder for new inputs and a fixed number of runs,
# each reached within the time limit here, so that CI runs the same inputs as a run here (a
# prefix of them on a slower machine) and its result does not depend on the machine's speed.
smoke_runs() {
  case "$1" in
    parse_request) echo 1200000 ;;
    parse_response) echo 1000000 ;;
    proxy_header) echo 2500000 ;;
    stunnel_conf) echo 250000 ;;
    client_cert) echo 600000 ;;
    server) echo 30000 ;;
    extract) echo 8000 ;;
    policy_toml) echo 45000 ;;
    extract_bytewise) echo 6000 ;;
    scan_state) echo 6000 ;;
    *) echo 30000 ;;
  esac
}

build() {
  # --target keeps the instrumentation off build scripts and proc macros.
  RUSTC_BOOTSTRAP=1 RUSTFLAGS="${flags[*]}" \
    cargo build --manifest-path fuzz/Cargo.toml --release --locked --target "$triple" --bins \
    --target-dir "$target_dir"
}

run() {
  local target=$1 seconds=$2
  shift 2
  local new="${FUZZ_NEW_DIR:-fuzz/corpus-new}/$target"
  mkdir -p "$new" "fuzz/artifacts/$target"
  # The first folder receives new inputs; the checked-in seeds are only read.
  "$bin_dir/$target" -rss_limit_mb=512 -timeout=10 -max_len="$(max_len "$target")" \
    -max_total_time="$seconds" -print_final_stats=1 \
    -artifact_prefix="fuzz/artifacts/$target/" "$@" "$new" "fuzz/corpus/$target"
}

case "${1:-}" in
  build) build ;;
  list) targets ;;
  smoke)
    seconds=${2:?seconds per target}
    build
    log=$(mktemp)
    # A fresh folder for new inputs: what a smoke run finds depends only on the binary and
    # the checked-in seeds, so a run here repeats CI's exactly.
    FUZZ_NEW_DIR=$(mktemp -d)
    export FUZZ_NEW_DIR
    for target in $(targets); do
      if ! run "$target" "$seconds" -seed=1 -runs="$(smoke_runs "$target")" >"$log" 2>&1; then
        tail -n 60 "$log"
        echo "fuzz target $target failed (input in fuzz/artifacts/$target/)"
        exit 1
      fi
      awk -v t="$target" '/^stat::number_of_executed_units/ {runs = $2} /^stat::peak_rss_mb/ {rss = $2}
        END {print "fuzz " t ": " runs " runs, peak RSS " rss " MB"}' "$log"
    done
    rm -rf "$log" "$FUZZ_NEW_DIR"
    ;;
  "" | -h | --help) sed -n '2,14p' "$0" ;;
  *)
    target=$1
    seconds=${2:?seconds}
    shift 2
    build
    run "$target" "$seconds" "$@"
    ;;
esac
