#!/usr/bin/env bash
# Own-crate compile of the two trial crates, interleaved: each round times
#   builder debug, positional debug, builder release, positional release
# as `touch src/lib.rs && cargo build --locked [--release]`, with dependencies already built.
# Debug runs with CARGO_INCREMENTAL=0: cargo compiles a registry dependency (as a user gets
# hss-image-sync) without incremental compilation, and with it a touched but unchanged lib.rs
# is an incremental-cache hit (0.5 s) that measures nothing.
# usage: measure.sh ROUNDS          -> the plain crates, appends to results/own.tsv
#        measure.sh ROUNDS driven   -> the *-driven crates, appends to results/driven.tsv
set -euo pipefail
rounds=${1:-7}
variant=${2:-}
scratch=${TMPDIR:-/tmp}/codegen-style
out="$scratch/results/${variant:-own}.tsv"
mkdir -p "$scratch/results"
[ -f "$out" ] || printf 'round\tstyle\tprofile\twall_s\tcpu_s\tload1\n' >"$out"
one() { # round style profile
  local dir="$scratch/$2${variant:+-$variant}" args=(build --locked) log
  [ "$3" = release ] && args+=(--release)
  log="$(mktemp)"
  cd "$dir"
  touch src/lib.rs
  local load; load="$(cut -d' ' -f1 /proc/loadavg)"
  CARGO_INCREMENTAL=0 /usr/bin/time -f '%e %U %S' -o "$log.time" cargo "${args[@]}" >"$log" 2>&1
  grep -q 'Compiling codegen-trial' "$log" || { echo "no recompile in $dir" >&2; cat "$log" >&2; exit 1; }
  read -r wall user sys <"$log.time"
  printf '%s\t%s\t%s\t%s\t%.2f\t%s\n' "$1" "$2" "$3" "$wall" "$(echo "$user + $sys" | bc)" "$load" | tee -a "$out"
  rm -f "$log" "$log.time"
}
# Round numbers go on from those already in the file.
first=$(( $(tail -n +2 "$out" | cut -f1 | sort -n | tail -1) + 1 ))
for r in $(seq "$first" $((first + rounds - 1))); do
  for profile in debug release; do
    for style in builder positional; do one "$r" "$style" "$profile"; done
  done
done
