#!/usr/bin/env bash
# cargo-deny over the workspace (deny.toml): licences, duplicate crates, sources, and RustSec
# advisories when a copy of the advisory database is on this machine. Installs cargo-deny from
# crates.io the first time (a few minutes of build; later runs find it in ~/.cargo/bin).
#
#   scripts/deny.sh           what CI runs: never touches the network beyond crates.io
#   scripts/deny.sh --fetch   fetch or update the advisory database first (needs GitHub)
set -euo pipefail
cd "$(dirname "$0")/.."

version=0.20.2
cargo_home=${CARGO_HOME:-$HOME/.cargo}
if [ "$(cargo-deny --version 2>/dev/null)" != "cargo-deny $version" ]; then
  echo "installing cargo-deny $version"
  cargo install cargo-deny --locked --version "$version" --quiet
fi

if [ "${1:-}" = --fetch ]; then
  cargo deny fetch db
fi

# cargo-deny keeps each database under db-path in a folder named after its URL.
db="$cargo_home/advisory-dbs/advisory-db-3157b0e258782691"
if [ -d "$db/.git" ]; then
  cargo deny --offline --locked check all
else
  echo "cargo-deny: no RustSec advisory database at $db, so advisories are not checked here"
  echo "  (this machine reaches package registries only; see docs/SECURITY.md, 'Supply chain')"
  cargo deny --offline --locked check bans licenses sources
fi
