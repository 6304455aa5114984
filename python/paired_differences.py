#!/usr/bin/env python3
"""Paired differences of one policy against every other, from `flashmem eval` result
files: for each (suite, length, budget), over the samples both policies have, the mean of
(score of the policy - score of the other) in points, with a Student-t 95% interval of
that mean. Pairing removes the sample-to-sample spread that the per-policy intervals in the
summary carry, so this is the table that says whether two policies differ.

    python python/paired_differences.py results/*.jsonl [--policy lsa]

A file given as PATH@TAG has its policies renamed POLICY@TAG, so that two runs of one
policy (other indexer weights, say) can be paired: `new.jsonl@new old.jsonl@old
--policy lsa-indexer@new`.
"""
import argparse
import collections
import json
import math


# Two-sided 95% quantiles of Student's t for 1..30 degrees of freedom (as in
# src/eval/results_file.cpp); beyond, t ~ z + (z^3 + z) / (4 df).
T_975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
         2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
         2.045, 2.042]


def t_975(df):
    if 1 <= df <= 30:
        return T_975[df - 1]
    z = 1.959964
    return z + (z ** 3 + z) / (4 * df)


def paired(a, b):
    """Mean and 95% half-width of a - b over the keys both have; None when n < 2."""
    keys = sorted(set(a) & set(b))
    if len(keys) < 2:
        return None
    d = [a[k] - b[k] for k in keys]
    n = len(d)
    mean = sum(d) / n
    var = sum((x - mean) ** 2 for x in d) / (n - 1)
    return mean, t_975(n - 1) * math.sqrt(var / n), n


def tagged_rows(spec):
    """The rows of a result file; PATH@TAG renames each row's policy POLICY@TAG."""
    f, _, tag = spec.partition("@")
    for line in open(f):
        if line.strip():
            r = json.loads(line)
            if tag:
                r["policy"] = f"{r['policy']}@{tag}"
            yield r


def main():
    p = argparse.ArgumentParser()
    p.add_argument("files", nargs="+")
    p.add_argument("--policy", default="lsa")
    # score_forced: the long-answer suite's teacher-forced score; rows without it are left out.
    p.add_argument("--field", default="score", choices=["score", "score_first", "score_forced"])
    a = p.parse_args()
    # (suite, length, budget) -> policy -> (task, index) -> score in points; a later row
    # for the same sample replaces an earlier one.
    scores = collections.defaultdict(lambda: collections.defaultdict(dict))
    for spec in a.files:
        for r in tagged_rows(spec):
            if r.get(a.field, -1) < 0:
                continue
            group = (r["suite"], r["length"], r["budget"])
            scores[group][r["policy"]][(r["task"], r["index"])] = 100.0 * r[a.field]
    others = sorted({q for g in scores.values() for q in g if q != a.policy})
    print(f"| suite | length | budget | " + " | ".join(f"{a.policy} - {q}" for q in others) + " |")
    print("|---|---|---|" + "---|" * len(others))
    for group in sorted(scores):
        mine = scores[group].get(a.policy)
        if not mine:
            continue
        cells = []
        for q in others:
            d = paired(mine, scores[group].get(q, {}))
            cells.append("-" if d is None else f"{d[0]:+.1f} ± {d[1]:.1f} (n={d[2]})")
        suite, length, budget = group
        print(f"| {suite} | {length} | {100 * budget:g}% | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
