#!/usr/bin/env bash
# Clean debug builds of everything (dependencies and the trial crate), builder and positional
# interleaved, each into a fresh target dir:
#   rm -rf $T && CARGO_INCREMENTAL=0 CARGO_TARGET_DIR=$T cargo build --locked --timings
# usage: clean.sh ROUNDS -> appends to ${TMPDIR:-/tmp}/codegen-style/results/clean.tsv
set -euo pipefail
rounds=${1:-2}
scratch=${TMPDIR:-/tmp}/codegen-style
out="$scratch/results/clean.tsv"
mkdir -p "$scratch/results"
[ -f "$out" ] || printf 'round\tstyle\tprofile\twall_s\tcpu_s\tload1\tunit_s\n' >"$out"
# Round numbers go on from those already in the file.
first=$(( $(tail -n +2 "$out" | cut -f1 | sort -n | tail -1) + 1 ))
for r in $(seq "$first" $((first + rounds - 1))); do
  for style in builder positional; do
    cd "$scratch/$style"
    t="$scratch/$style/target-clean"
    rm -rf "$t"
    load="$(cut -d' ' -f1 /proc/loadavg)"
    CARGO_INCREMENTAL=0 CARGO_TARGET_DIR="$t" /usr/bin/time -f '%e %U %S' -o "$scratch/time.txt" \
      cargo build --locked --timings >/dev/null 2>&1
    read -r wall user sys <"$scratch/time.txt"
    # The trial crate's own unit in cargo's timings report.
    unit="$(python3 - "$t"/cargo-timings/cargo-timing.html <<'PY'
import re, sys, json
html = open(sys.argv[1]).read()
m = re.search(r"const UNIT_DATA = (\[.*?\]);\n", html, re.S)
units = json.loads(m.group(1))
print(next(f"{u['duration']:.2f}" for u in units if u["name"] == "codegen-trial"))
PY
)"
    printf '%s\t%s\tdebug\t%s\t%.2f\t%s\t%s\n' "$r" "$style" "$wall" "$(echo "$user + $sys" | bc)" "$load" "$unit" | tee -a "$out"
  done
done
