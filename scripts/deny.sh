#!/usr/bin/env bash
# cargo-deny over the workspace (deny.toml): licences, duplicate crates, sources, and RustSec
# advisories. Installs cargo-deny from crates.io the first time (a few minutes of build; later
# runs find it in ~/.cargo/bin). Never touches the network beyond crates.io unless asked.
#
#   scripts/deny.sh               what CI runs: advisories from a fetched copy of the database
#                                 when one is on this machine, else from the vendored snapshot
#   scripts/deny.sh --fetch       fetch or update the advisory database first (needs GitHub)
#   scripts/deny.sh --vendor DIR  refresh the vendored snapshot from a checkout of
#                                 https://github.com/rustsec/advisory-db at DIR
set -euo pipefail
cd "$(dirname "$0")/.."

version=0.20.2
cargo_home=${CARGO_HOME:-$HOME/.cargo}
vendored=third_party/rustsec-advisory-db
# A vendored snapshot older than this fails the check: refresh it (--vendor). A fetched copy
# is held to deny.toml's maximum-db-staleness (90 days) instead.
vendored_max_age_days=180

if [ "${1:-}" = --vendor ]; then
  src=${2:?usage: scripts/deny.sh --vendor PATH_TO_ADVISORY_DB_CHECKOUT}
  commit=$(git -C "$src" rev-parse HEAD)
  date=$(git -C "$src" show -s --format=%cI HEAD)
  rm -rf "$vendored/crates" "$vendored/LICENSES"
  git -C "$src" archive HEAD crates LICENSE.txt LICENSES | tar -x -C "$vendored"
  sed -i -e "s/^commit = .*/commit = \"$commit\"/" -e "s/^date = .*/date = \"$date\"/" "$vendored/SNAPSHOT"
  echo "vendored RustSec advisory database $commit of $date"
  exit 0
fi

if [ "$(cargo-deny --version 2>/dev/null)" != "cargo-deny $version" ]; then
  echo "installing cargo-deny $version"
  cargo install cargo-deny --locked --version "$version" --quiet
fi

if [ "${1:-}" = --fetch ]; then
  cargo deny fetch db
fi

# cargo-deny reads the lock file offline, every platform's crates included (wasm-bindgen,
# windows-sys ...), which a build on this machine never downloads.
cargo fetch --locked --quiet

# cargo-deny keeps each database under db-path in a folder named after its URL.
db_folder=advisory-db-3157b0e258782691
if [ -d "$cargo_home/advisory-dbs/$db_folder/.git" ]; then
  echo "cargo-deny: advisories from the fetched database in $cargo_home/advisory-dbs"
  cargo deny --offline --locked check all
  exit 0
fi

# The vendored snapshot, made into the git checkout cargo-deny reads (it takes the database's
# age from the checkout: the commit's date, or HEAD's modification time when that is newer, so
# both are the snapshot's date). Rebuilt when the snapshot changes.
commit=$(sed -n 's/^commit = "\(.*\)"/\1/p' "$vendored/SNAPSHOT")
date=$(sed -n 's/^date = "\(.*\)"/\1/p' "$vendored/SNAPSHOT")
work=target/deny
db="$work/advisory-dbs/$db_folder"
if [ "$(cat "$db/.snapshot" 2>/dev/null)" != "$commit" ]; then
  rm -rf "$db"
  mkdir -p "$db"
  cp -R "$vendored/crates" "$db/crates"
  git -C "$db" init -q
  git -C "$db" add crates
  GIT_AUTHOR_DATE=$date GIT_COMMITTER_DATE=$date git -C "$db" \
    -c user.name=dlpgate -c user.email=dlpgate@localhost -c commit.gpgsign=false \
    commit -q -m "RustSec advisory database $commit (vendored)"
  echo "$commit" >"$db/.snapshot"
fi
touch -d "$date" "$db/.git/HEAD"
age_days=$((($(date +%s) - $(date -d "$date" +%s)) / 86400))
echo "cargo-deny: advisories from the vendored RustSec snapshot $commit of $date ($age_days days old)"
sed -e "s|^db-path = .*|db-path = \"$PWD/$work/advisory-dbs\"|" \
  -e "s|^maximum-db-staleness = .*|maximum-db-staleness = \"P${vendored_max_age_days}D\"|" \
  deny.toml >"$work/deny.toml"
cargo deny --config "$work/deny.toml" --offline --locked check all
