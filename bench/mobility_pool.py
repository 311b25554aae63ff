#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Pools several runs of bench/run_mobility_bench.sh and says, per pattern,
whether ntmd's handover is shorter than Nebula's beyond the noise.

One run gives 10 moves per pattern and system; on a 2-core machine the
median of 10 moves moves by +-0.5 ms from run to run, as much as the
differences between the two systems.  So one run's "beats" column flips
from run to run.  This script reads the per-move lines of every report
given ("Every move (...)": sys label round from to CN gap_ms cfg_ms lost
reordered baseline_gap_ms route move_took_ms), and for each pattern and
figure (cfg, gap):

  - the median of all moves of each system, pooled over the runs;
  - the difference of the medians (ntmd - Nebula) with a 95% bootstrap
    interval, resampled within each run (a run's machine state is shared
    by its two systems), 2,000 resamples, fixed seed;
  - P(ntmd < Nebula): the chance that a random ntmd move of the pattern
    is shorter than a random Nebula move of it (0.5: no difference);
  - the verdict: "ntmd ahead" when the whole interval is below 0,
    "Nebula ahead" when it is above, "level" when it holds 0.

The interval covers the spread of the moves within each half of a run, not
a drift of the machine between the halves (ntmd's and Nebula's), so it is
too narrow when the halves differ; alternating ORDER between runs and
pooling several runs is what limits that.

A move that did not recover ("null") counts as longer than any figure.
Runs should be of one code version; the script does not check that.

Figures: gap, cfg (from the configured moment), took (the move itself:
the script's ip commands, part of every gap), after (gap - took: what the
software adds to the outage), and cfg's two parts where
the reports have them: sent (when the first probe that got through after
that moment was sent: 0 to one interval of pacing unless probes were lost)
and delay (that probe's one-way delay); lost (probes of the move never
delivered: a count, not ms).

--back pools the lines of the call's other direction instead (sys ntm-back /
neb-back: the CN -> m stream of the same moves, in reports since BOTH_WAYS).

Usage: mobility_pool.py REPORT... [--figure cfg,gap,after,took,sent,delay,lost] [--back] [--seed N]
"""
import argparse
import math
import random
import re
import statistics
import sys
from collections import defaultdict

# figure -> column of the per-move line; took is the move itself (the
# script's ip commands); sent and delay (cfg = sent + delay) only in
# reports written since they were added.
COLS = {"gap": 6, "cfg": 7, "lost": 8, "took": 12, "sent": 13, "delay": 14}
FIGURES = (*COLS, "after")  # after = gap - took, derived in read_runs
MOVE = re.compile(r"^\s+(ntm|neb) (\d+~?) \d+ \S+ \S+ \S+ ")
MOVE_BACK = re.compile(r"^\s+(ntm|neb)-back (\d+~?) \d+ \S+ \S+ \S+ ")


def read_runs(paths, back=False):
    """[(path, {(sys, label, figure): [values]})]; sys is ntm or neb"""
    pattern = MOVE_BACK if back else MOVE
    runs = []
    for path in paths:
        moves = defaultdict(list)
        with open(path, encoding="utf-8") as f:
            for line in f:
                if not pattern.match(line):
                    continue
                w = line.split()
                w[0] = w[0].removesuffix("-back")
                if len(w) < 13:
                    continue
                for fig, col in COLS.items():
                    if col >= len(w):
                        continue
                    v = w[col]
                    moves[(w[0], w[1], fig)].append(math.inf if v == "null" else float(v))
                # The gap less the move's own ip commands: what the
                # software adds to the outage.
                moves[(w[0], w[1], "after")].append(
                    math.inf if w[6] == "null" else float(w[6]) - float(w[12]))
        if not moves:
            print(f"mobility_pool: {path}: no per-move lines", file=sys.stderr)
            continue
        runs.append((path, moves))
    return runs


def median(xs):
    return statistics.median(xs) if xs else math.nan


def diff(a, b):
    if math.isinf(a) and math.isinf(b):
        return 0.0
    return a - b


def p_less(a, b):
    """P(x < y) for x from a, y from b, ties counted half."""
    n = 0.0
    for x in a:
        for y in b:
            n += 1.0 if x < y else 0.5 if x == y else 0.0
    return n / (len(a) * len(b))


def fmt(x):
    if math.isnan(x):
        return "—"
    if math.isinf(x):
        return "∞" if x > 0 else "-∞"
    return f"{x:.2f}"


def label_key(label):
    return (int(label.rstrip("~")), label.endswith("~"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("reports", nargs="+")
    ap.add_argument("--figure", default="cfg,gap",
                    help="comma-separated, of cfg, gap, after, took, sent, delay, lost (default cfg,gap)")
    ap.add_argument("--back", action="store_true", help="the CN -> m stream (ntm-back / neb-back lines)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--resamples", type=int, default=2000)
    args = ap.parse_args()
    runs = read_runs(args.reports, args.back)
    if not runs:
        sys.exit("mobility_pool: no run with per-move lines")
    rng = random.Random(args.seed)
    figures = [f for f in args.figure.split(",") if f]
    for f in figures:
        if f not in FIGURES:
            sys.exit(f"mobility_pool: unknown figure '{f}' ({', '.join(FIGURES)})")
    labels = sorted({k[1] for _, m in runs for k in m if k[0] == "neb"}, key=label_key)
    print(f"Runs pooled: {len(runs)} ({', '.join(p.rsplit('/', 1)[-1] for p, _ in runs)}); "
          f"bootstrap: {args.resamples} resamples within each run, seed {args.seed}."
          + (" The CN → m stream." if args.back else ""))
    for fig in figures:
        print()
        unit = "probes" if fig == "lost" else "ms"
        print(f"**{fig}**, {unit} (median of the pooled moves; difference = ntmd − Nebula, 95% interval)")
        print()
        print("| # | n ntmd / Nebula | ntmd | Nebula | difference | 95% interval | P(ntmd < Nebula) | verdict | per run: ntmd − Nebula |")
        print("|---|---:|---:|---:|---:|---|---:|---|---|")
        tally = defaultdict(int)
        for label in labels:
            per_run = []
            for _, m in runs:
                a, b = m.get(("ntm", label, fig), []), m.get(("neb", label, fig), [])
                if a and b:
                    per_run.append((a, b))
            if not per_run:
                continue
            all_a = [x for a, _ in per_run for x in a]
            all_b = [y for _, b in per_run for y in b]
            d = diff(median(all_a), median(all_b))
            boot = []
            for _ in range(args.resamples):
                ra = [x for a, _ in per_run for x in rng.choices(a, k=len(a))]
                rb = [y for _, b in per_run for y in rng.choices(b, k=len(b))]
                boot.append(diff(median(ra), median(rb)))
            boot.sort()
            lo = boot[int(0.025 * len(boot))]
            hi = boot[min(len(boot) - 1, int(0.975 * len(boot)))]
            verdict = "ntmd ahead" if hi < 0 else "Nebula ahead" if lo > 0 else "level"
            tally[verdict] += 1
            runs_txt = ", ".join(fmt(diff(median(a), median(b))) for a, b in per_run)
            print(f"| {label} | {len(all_a)} / {len(all_b)} | {fmt(median(all_a))} | {fmt(median(all_b))} | "
                  f"{fmt(d)} | {fmt(lo)} … {fmt(hi)} | {p_less(all_a, all_b):.2f} | {verdict} | {runs_txt} |")
        print()
        if tally:
            print(f"{fig}: " + ", ".join(f"{k} on {v}" for k, v in sorted(tally.items())) +
                  " of the patterns Nebula runs.")
        else:
            print(f"{fig}: no pattern has this figure for both systems in these reports.")


if __name__ == "__main__":
    main()
