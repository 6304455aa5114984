#!/usr/bin/env python3
"""Plots of evaluation results (results/*.jsonl written by `flashmem eval`): accuracy
against KV footprint (a) per policy, and accuracy against length per policy, at the
headline budget (10%); and, for long-text fidelity run at several budgets, top-1
agreement with full and KL(full || policy) against the budget.

    python python/eval_plots.py results/*.jsonl --out docs/results
"""
import argparse
import collections
import json
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


HEADLINE_BUDGET = 0.1


def main():
    p = argparse.ArgumentParser()
    p.add_argument("files", nargs="+")
    p.add_argument("--out", default="docs/results")
    a = p.parse_args()
    rows = [json.loads(line) for f in a.files for line in open(f) if line.strip()]
    os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
    budgets = {r["budget"] for r in rows}
    headline = HEADLINE_BUDGET if HEADLINE_BUDGET in budgets else min(budgets)
    for suite in sorted({r["suite"] for r in rows}):
        sub = [r for r in rows if r["suite"] == suite and r["budget"] == headline]
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
        left.set_title(f"{suite}: accuracy against footprint ({100 * headline:g}% budget)")
        right.set_xlabel("context length (tokens)")
        right.set_ylabel("accuracy %")
        right.set_title(f"{suite}: accuracy against length")
        right.legend(fontsize=8)
        fig.tight_layout()
        path = f"{a.out}-{suite}.png"
        fig.savefig(path, dpi=110)
        print("wrote", path)
    fidelity = [r for r in rows if r["suite"] == "fidelity"]
    if len({r["budget"] for r in fidelity}) > 1:
        plot_fidelity_against_budget(fidelity, f"{a.out}-fidelity-budget.png")


def plot_fidelity_against_budget(rows, path):
    """Top-1 agreement with full and KL from full against the budget, one line per
    (policy, length); full itself is the reference and is left out."""
    agree = collections.defaultdict(list)
    kl = collections.defaultdict(list)
    for r in rows:
        if r["policy"] == "full":
            continue
        agree[(r["policy"], r["length"], r["budget"])].append(r["score"])
        kl[(r["policy"], r["length"], r["budget"])].append(r["mean_kl"])
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    # Only lengths run at several budgets make lines; one colour per policy (tab10 has
    # ten, one per policy), one line style per length.
    policies = sorted({k[0] for k in agree})
    colour = {p: plt.cm.tab10(i % 10) for i, p in enumerate(policies)}
    budgets_at = collections.defaultdict(set)
    for _, length, budget in agree:
        budgets_at[length].add(budget)
    lengths = sorted(n for n, budgets in budgets_at.items() if len(budgets) > 1)
    styles = ["-", "--", ":", "-."]
    for policy, length in sorted({(k[0], k[1]) for k in agree if k[1] in lengths}):
        budgets = sorted(k[2] for k in agree if k[0] == policy and k[1] == length)
        xs = [100 * b for b in budgets]
        label = f"{policy} {length // 1024}K"
        style = dict(marker="o", color=colour[policy], linestyle=styles[lengths.index(length) % len(styles)],
                     label=label)
        left.plot(xs, [100 * mean(agree[(policy, length, b)]) for b in budgets], **style)
        right.plot(xs, [mean(kl[(policy, length, b)]) for b in budgets], **style)
    left.set_xlabel("budget, % of the context")
    left.set_ylabel("top-1 agreement with full %")
    left.set_title("fidelity against budget")
    right.set_xlabel("budget, % of the context")
    right.set_ylabel("KL(full || policy), nats/token")
    right.set_yscale("log")
    right.set_title("divergence from full against budget")
    right.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print("wrote", path)


def mean(values):
    return sum(values) / len(values)


if __name__ == "__main__":
    main()
