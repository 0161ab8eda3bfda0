#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs the third-party peers the tests start
# (c-icap, squid, stunnel4, ...) when they are missing, then runs fmt, clippy, cargo-deny, a short
# run of every fuzz target and every test.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the interop tests run against, keyed by a file each one installs.
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
declare -A peers=(
  [/usr/bin/c-icap]=c-icap
  [/usr/bin/c-icap-client]=c-icap
  [/usr/lib/$multiarch/c_icap/srv_content_filtering.so]=libc-icap-mod-contentfiltering
  [/usr/sbin/squid]=squid
  [/usr/bin/stunnel4]=stunnel4
  [/usr/bin/openssl]=openssl
  [/usr/bin/curl]=curl
  [/usr/sbin/haproxy]=haproxy
  [/usr/lib/postgresql]=postgresql
  [/usr/bin/systemd-analyze]=systemd
  [/usr/sbin/rsyslogd]=rsyslog
  [/usr/sbin/e2guardian]=e2guardian
  [/usr/lib/$multiarch/rsyslog/lmnsd_gtls.so]=rsyslog-gnutls
  [/usr/bin/chromium]=chromium
  # Compressors whose files the engine must open or refuse (policy_cli.rs).
  [/usr/bin/lz4]=lz4
  [/usr/bin/lzip]=lzip
  [/usr/bin/compress]=ncompress
  [/usr/bin/lzop]=lzop
  [/usr/bin/gcab]=gcab
  [/usr/bin/xz]=xz-utils
  [/usr/bin/7zz]=7zip
  # Encryption tools whose files must be could-not-scan.
  [/usr/bin/gpg]=gpg
)
missing=()
for file in "${!peers[@]}"; do
  [ -e "$file" ] || missing+=("${peers[$file]}")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing test peers: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    $(printf '%s\n' "${missing[@]}" | sort -u) >/dev/null
fi
# Playwright for Python drives chromium in the web console's browser test (the system
# chromium: Playwright's own browser download is not needed).
if ! python3 -c "import playwright" 2>/dev/null; then
  echo "installing Playwright for Python (pip)"
  # A Debian python3 refuses to install into itself (PEP 668) unless told to.
  python3 -m pip install -q playwright || python3 -m pip install -q --break-system-packages playwright
fi
# Debian starts the packaged daemons; the tests start their own on other ports.
for svc in squid c-icap stunnel4 rsyslog e2guardian; do
  (command -v service >/dev/null && service "$svc" stop >/dev/null 2>&1) || true
done

# One build from scratch gains nothing from incremental state, which would double the
# size of target/ (a CI disk filled up with it).
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# Licences, duplicate crates, sources, and advisories when a RustSec database copy is here.
./scripts/deny.sh
if [ -f fuzz/Cargo.toml ]; then
  # The fuzz targets live outside the workspace: built with libFuzzer's instrumentation and
  # each run briefly over its seed corpus (docs/SECURITY.md, "Fuzzing").
  # Their build (about 9 CPU-minutes cold) is kept outside the checkout, so that the next
  # run on this machine only rebuilds what changed.
  fuzz_dir="${FUZZ_TARGET_DIR:-$HOME/.cache/dlpgate/fuzz-target}"
  # Builds of older checkouts pile up in a cache kept across them: past 6 GB it starts over.
  if [ -d "$fuzz_dir" ] && [ "$(du -sm "$fuzz_dir" | cut -f1)" -gt 6144 ]; then
    echo "fuzz build cache over 6 GB: starting it over"
    rm -rf "$fuzz_dir"
  fi
  FUZZ_TARGET_DIR="$fuzz_dir" ./scripts/fuzz.sh smoke "${FUZZ_SMOKE_SECONDS:-10}"
fi
cargo test --workspace --locked
