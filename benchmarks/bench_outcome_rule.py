#!/usr/bin/env python
"""Operating characteristics of the outcome rule at small n, side by side with the old rule.

For each design (clusters × items, 0/1 and continuous scores; the generator of
``tests/stats/simdata.py``) it simulates a true null and an alternative and prints:

- ``non-tie``: share of null replicates called win or loss by medpair's rule
  (``p < alpha`` and the sign-flip interval on that side of 0);
- ``exact size``: what the design allows, for 0/1 scores: the mean over the null
  replicates of the exact test's size given the units that differ (the largest
  attainable p-value below ``alpha``; ``simdata.exact_test_size``), so the non-tie
  rate an exact test can reach; continuous scores allow ``alpha``;
- ``reach``: share of null replicates whose design can reach ``p < alpha`` at all
  (``min_p < alpha``; the others are ties with a note);
- ``old non-tie`` and ``old p>=a``: the same replicates under the old rule
  (win / loss when the percentile bootstrap interval excludes 0), and how many of
  those null wins / losses had a p-value of at least ``alpha`` beside them;
- ``coverage`` of the true difference by medpair's interval (inverted sign-flip
  test; for unclustered 0/1 scores Tango's score interval widened to 0 when the
  exact test does not reject) and by the percentile bootstrap interval, under the
  alternative, and for unclustered 0/1 scores the coverage of Tango's interval alone;
- then, on 60 clusters of 8 items under a true null, how often the item-level
  exact McNemar test (statsmodels) and the cluster sign-flip ``p_value`` reject.

Usage::

    python benchmarks/bench_outcome_rule.py --reps 400
    python benchmarks/bench_outcome_rule.py --reps 400 --part mcnemar
    python benchmarks/bench_outcome_rule.py --reps 1000 --part rule --scores binary
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "stats"))
from simdata import SIM_DESIGNS, exact_test_size, simulate_paired  # noqa: E402

from medpair_stats import compare_scores  # noqa: E402
from medpair_stats.score_interval import tango_interval  # noqa: E402

ALPHA = 0.05
DELTA = {False: 0.3, True: 0.08}  # the alternatives: continuous, 0/1


def _design(k: int, n: int, binary: bool, reps: int, b: int, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    counts = dict.fromkeys(("non_tie", "size", "reach", "old_non_tie", "old_bad", "cover", "old_cover",
                            "score_cover"), 0.0)
    for rep in range(reps):
        for delta in (0.0, DELTA[binary]):
            med, base, labels = simulate_paired(rng, k, n, binary, delta)
            clusters = labels if k < n else None
            new = compare_scores(med, base, clusters=clusters, n_resamples=b, seed=rep)
            old = compare_scores(med, base, clusters=clusters, n_resamples=b, seed=rep, method="percentile")
            if delta == 0.0:
                old_call = old.ci_low > 0.0 or old.ci_high < 0.0
                counts["non_tie"] += new.outcome != "tie"
                counts["reach"] += new.min_p < ALPHA
                counts["size"] += exact_test_size(np.bincount(labels, weights=med - base), ALPHA) if binary else ALPHA
                counts["old_non_tie"] += old_call
                counts["old_bad"] += old_call and old.p_value >= ALPHA
            else:
                counts["cover"] += new.ci_low <= delta <= new.ci_high
                counts["old_cover"] += old.ci_low <= delta <= old.ci_high
                if binary and clusters is None:
                    score_low, score_high = tango_interval(new.b, new.c, new.n, 1.0 - ALPHA)
                    counts["score_cover"] += score_low <= delta <= score_high
    return {key: value / reps for key, value in counts.items()} | {"old_calls": counts["old_non_tie"]}


def clustered_mcnemar(reps: int, b: int) -> tuple[float, float]:
    """Rejection rates at alpha of item-level exact McNemar and of the cluster sign-flip test, true null."""
    from statsmodels.stats.contingency_tables import mcnemar

    rng = np.random.default_rng(99)
    labels = np.repeat(np.arange(60), 8)
    naive = flip = 0
    for rep in range(reps):
        ease = rng.normal(0.0, 1.0, 60)[labels]
        tilt = rng.normal(0.0, 1.2, 60)[labels]  # per-cluster preference, symmetric between the models
        med = (rng.random(labels.size) < 1 / (1 + np.exp(-(ease + tilt)))).astype(float)
        base = (rng.random(labels.size) < 1 / (1 + np.exp(-(ease - tilt)))).astype(float)
        r = compare_scores(med, base, clusters=labels, n_resamples=b, seed=rep)
        naive += mcnemar(np.array([[0, r.b], [r.c, 0]]), exact=True).pvalue < ALPHA
        flip += r.p_value < ALPHA
    return naive / reps, flip / reps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=400)
    parser.add_argument("--resamples", type=int, default=2000)
    parser.add_argument("--part", choices=("all", "rule", "mcnemar"), default="all")
    parser.add_argument("--scores", choices=("all", "continuous", "binary"), default="all",
                    help="which designs of the rule part to run (0/1 ones are cheap: run them with more --reps)")
    args = parser.parse_args()
    logging.getLogger("medpair_stats").setLevel(logging.ERROR)  # the few-units warning, once per replicate
    binomial_sd = 100 * np.sqrt(0.05 * 0.95 / args.reps)
    if args.part in ("all", "rule"):
        print(f"{args.reps} replicates per design and hypothesis, B = {args.resamples}; binomial sd of a 5% rate "
              f"{binomial_sd:.1f} points, of a 95% coverage {binomial_sd:.1f} points\n")
        print("| scores | clusters | items | non-tie | exact size | reach | old non-tie | old p>=a | coverage "
              "| old coverage |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        score_lines = []
        for binary in {"all": (False, True), "continuous": (False,), "binary": (True,)}[args.scores]:
            for i, (k, n) in enumerate(SIM_DESIGNS):
                res = _design(k, n, binary, args.reps, args.resamples, seed=100 * binary + i)
                bad = f"{res['old_bad'] / res['old_non_tie']:.0%}" if res["old_calls"] else "–"
                print(f"| {'0/1' if binary else 'continuous'} | {k if k < n else '–'} | {n} | "
                      f"{res['non_tie']:.1%} | {res['size']:.1%} | {res['reach']:.0%} | {res['old_non_tie']:.1%} | "
                      f"{bad} | {res['cover']:.1%} | {res['old_cover']:.1%} |")
                if binary and k == n:
                    score_lines.append(f"{n} items: {res['score_cover']:.1%}")
        if score_lines:
            print("\nCoverage of Tango's score interval alone (not widened to 0), unclustered 0/1: "
                  + ", ".join(score_lines))
    if args.part in ("all", "mcnemar"):
        naive, flip = clustered_mcnemar(args.reps, args.resamples)
        print(f"\n60 clusters x 8 items, true null, {args.reps} replicates: item-level exact McNemar rejects "
              f"{naive:.1%}, the cluster sign-flip p-value {flip:.1%} (alpha = {ALPHA})")

if __name__ == "__main__":
    main()
