#!/usr/bin/env bash
# Lays out ${TMPDIR:-/tmp}/codegen-style/{builder,positional}/ from gen.sh's output: same Cargo.toml,
# same lib.rs, one Cargo.lock content (the main crate's lock, pruned by cargo to what the trial
# needs), each its own target/.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
scratch=${TMPDIR:-/tmp}/codegen-style
for style in builder positional; do
  mkdir -p "$scratch/$style/src"
  cp "$here/trial.Cargo.toml" "$scratch/$style/Cargo.toml"
  cp "$here/trial.lib.rs" "$scratch/$style/src/lib.rs"
  cp "$scratch/out/$style.rs" "$scratch/$style/src/generated.rs"
done
cp "$repo/Cargo.lock" "$scratch/builder/Cargo.lock"
cargo metadata --format-version 1 --manifest-path "$scratch/builder/Cargo.toml" >/dev/null  # prunes the lock
cp "$scratch/builder/Cargo.lock" "$scratch/positional/Cargo.lock"
md5sum "$scratch"/*/Cargo.lock

# Supplementary "driven" crates: the same plus a `driver` module that calls every operation
# (driver.common.rs + driver.<style>.rs). They start from a copy of the plain crate's target/,
# so the dependencies are not compiled again.
for style in builder positional; do
  d="$scratch/$style-driven"
  mkdir -p "$d/src"
  cp "$scratch/$style/Cargo.toml" "$scratch/$style/Cargo.lock" "$d/"
  cp "$scratch/$style/src/generated.rs" "$d/src/"
  { cat "$here/trial.lib.rs"; printf '\npub mod driver;\n'; } >"$d/src/lib.rs"
  cat "$here/driver.common.rs" "$here/driver.$style.rs" >"$d/src/driver.rs"
  [ -d "$d/target" ] || { [ -d "$scratch/$style/target" ] && cp -a "$scratch/$style/target" "$d/target"; } || true
done
