#!/usr/bin/env python3
"""Medians, spread and per-round builder/positional ratios of measure.sh's and clean.sh's TSVs.
usage: analyze.py ${TMPDIR:-/tmp}/codegen-style/results/own.tsv [...]"""
import csv, statistics, sys
from collections import defaultdict

for path in sys.argv[1:]:
    rows = list(csv.DictReader(open(path), delimiter="\t"))
    metrics = [m for m in ("wall_s", "cpu_s", "unit_s") if m in rows[0]]
    print(f"## {path}\n")
    for profile in ("debug", "release"):
        data = defaultdict(dict)
        for r in rows:
            if r["profile"] == profile:
                data[int(r["round"])][r["style"]] = r
        rounds = sorted(k for k, v in data.items() if len(v) == 2)
        if not rounds:
            continue
        print(f"### {profile} ({len(rounds)} rounds)\n")
        print("| metric | builder: median [min-max] | positional: median [min-max] | "
              "per-round B-P: median [min-max] | per-round B/P: median [min-max] | B/P each round |")
        print("|---|---|---|---|---|---|")
        for m in metrics:
            b = [float(data[i]["builder"][m]) for i in rounds]
            p = [float(data[i]["positional"][m]) for i in rounds]
            d = [x - y for x, y in zip(b, p)]
            q = [x / y for x, y in zip(b, p)]
            span = lambda v, f: f"{statistics.median(v):{f}} [{min(v):{f}} to {max(v):{f}}]"
            print(f"| {m} | {span(b, '.2f')} | {span(p, '.2f')} | {span(d, '+.2f')} | "
                  f"{span(q, '.2f')} | {' '.join(f'{x:.2f}' for x in q)} |")
        loads = [float(r["load1"]) for r in rows if r["profile"] == profile]
        print(f"\nload average (1 min) before the runs: {min(loads):.2f} to {max(loads):.2f}\n")
