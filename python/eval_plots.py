#!/usr/bin/env python3
"""Plots of evaluation results (results/*.jsonl written by `flashmem eval`): accuracy
against KV footprint (a) per policy, and accuracy against length per policy.

    python python/eval_plots.py results/*.jsonl --out docs/results
"""
import argparse
import collections
import json
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("files", nargs="+")
    p.add_argument("--out", default="docs/results")
    a = p.parse_args()
    rows = [json.loads(line) for f in a.files for line in open(f) if line.strip()]
    os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
    for suite in sorted({r["suite"] for r in rows}):
        sub = [r for r in rows if r["suite"] == suite]
        acc = collections.defaultdict(list)
        kv = collections.defaultdict(list)
        for r in sub:
            acc[(r["policy"], r["length"])].append(r["score"])
            kv[(r["policy"], r["length"])].append(r["kv_a_mean_percent"])
        policies = sorted({k[0] for k in acc})
        lengths = sorted({k[1] for k in acc})
        fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
        for policy in policies:
            xs = [sum(kv[(policy, n)]) / len(kv[(policy, n)]) for n in lengths if (policy, n) in kv]
            ys = [100 * sum(acc[(policy, n)]) / len(acc[(policy, n)]) for n in lengths if (policy, n) in acc]
            left.scatter(xs, ys, label=policy)
            right.plot([n for n in lengths if (policy, n) in acc], ys, marker="o", label=policy)
        left.set_xlabel("KV footprint (a): global layers, % of full attention")
        left.set_ylabel("accuracy %")
        left.set_title(f"{suite}: accuracy against footprint")
        right.set_xlabel("context length (tokens)")
        right.set_ylabel("accuracy %")
        right.set_title(f"{suite}: accuracy against length")
        right.legend(fontsize=8)
        fig.tight_layout()
        path = f"{a.out}-{suite}.png"
        fig.savefig(path, dpi=110)
        print("wrote", path)


if __name__ == "__main__":
    main()
