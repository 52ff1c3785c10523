#!/usr/bin/env bash
# Generates the client of spec/hss-image-sync.yaml in progenitor's builder and positional
# interface styles with build.rs's own code, unchanged but for two lines:
#   * `.with_interface(InterfaceStyle::Builder)` -> the style asked for;
#   * `code.push_str(&super::tables::generate(&spec));` is dropped unless TABLES=1 (the
#     appended tables name `builder::<Op>` and the crate's `crate::spec` / `crate::client`
#     traits, so they compile only with the builder style and the hand-written layer).
# Everything else (settings, lenient::check, spec_field_order, null_lists_as_empty,
# prune_model_builders, prettyplease, header) is build.rs's.
#
# usage: benches/codegen-style/gen.sh            (from anywhere; writes ${TMPDIR:-/tmp}/codegen-style/out/)
# Output: ${TMPDIR:-/tmp}/codegen-style/out/{builder,positional,builder-tables}.rs
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
scratch=${TMPDIR:-/tmp}/codegen-style
gen="$scratch/gen"
mkdir -p "$gen/src" "$scratch/out"
cp "$here/gen.Cargo.toml" "$gen/Cargo.toml"
# The main crate's lock file, so the generator resolves the same progenitor/typify/syn as build.rs.
[ -f "$gen/Cargo.lock" ] || cp "$repo/Cargo.lock" "$gen/Cargo.lock"
version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$repo/Cargo.toml" | head -1)"

variant() { # name style tables
  local name=$1 style=$2 tables=$3 src
  src="$(cat "$repo/build.rs")"
  grep -q '\.with_interface(InterfaceStyle::Builder)' <<<"$src"
  grep -q 'code\.push_str(&super::tables::generate(&spec));' <<<"$src"
  src="${src//.with_interface(InterfaceStyle::Builder)/.with_interface(InterfaceStyle::$style)}"
  if [ "$tables" = 0 ]; then
    src="${src//code.push_str(&super::tables::generate(&spec));/}"
  fi
  printf '%s\n' "$src" >"$gen/src/main.rs"
  cargo build --quiet --manifest-path "$gen/Cargo.toml" 2>/dev/null \
    || cargo build --manifest-path "$gen/Cargo.toml"
  mkdir -p "$scratch/out/$name"
  # build.rs reads spec/ relative to the package root and writes $OUT_DIR/client.rs.
  (cd "$repo" && OUT_DIR="$scratch/out/$name" CARGO_PKG_VERSION="$version" \
    "$gen/target/debug/codegen-style-gen")
  mv "$scratch/out/$name/client.rs" "$scratch/out/$name.rs"
  rmdir "$scratch/out/$name"
}

variant builder-tables Builder 1
variant builder Builder 0
variant positional Positional 0

# Fidelity check: build.rs's settings with the tables reproduce the committed snapshot.
if cmp -s "$scratch/out/builder-tables.rs" "$repo/src/generated/client.rs"; then
  echo "builder-tables.rs == src/generated/client.rs (generator matches build.rs)"
else
  echo "WARNING: builder-tables.rs differs from src/generated/client.rs" >&2
  diff "$scratch/out/builder-tables.rs" "$repo/src/generated/client.rs" | head -20 >&2
fi
wc -l "$scratch/out/"*.rs
