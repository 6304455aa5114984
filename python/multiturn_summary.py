#!/usr/bin/env python3
"""The multi-turn suite by conversation: for each (length, budget), every policy's score on
turn 1, on turns 2..K and on all turns, its measured device footprint (a) after the last
turn, pages recalled and chunks discarded; then lsa's paired differences against the other
policies over conversations (a conversation's turns are averaged first, so the interval
counts conversations, not the turns inside one, which are not independent).

    python python/multiturn_summary.py results/multiturn.jsonl [--policy lsa]

A file given as PATH@TAG has its policies renamed POLICY@TAG (as in paired_differences.py),
so that two runs of one policy can be compared: `new.jsonl@new old.jsonl@old --policy
lsa@new --against full@old,lsa@old`.
"""
import argparse
import collections
import math

from paired_differences import paired, t_975, tagged_rows


def mean_ci(values):
    n = len(values)
    m = sum(values) / n
    if n < 2:
        return m, float("nan")
    var = sum((x - m) ** 2 for x in values) / (n - 1)
    return m, t_975(n - 1) * math.sqrt(var / n)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("files", nargs="+")
    p.add_argument("--policy", default="lsa")
    p.add_argument("--against", default="full,snapkv,oracle,lsa-indexer,quest,streaming")
    a = p.parse_args()
    # (length, budget) -> policy -> index -> turn -> row
    rows = collections.defaultdict(lambda: collections.defaultdict(lambda: collections.defaultdict(dict)))
    for spec in a.files:
        for r in tagged_rows(spec):
            if r["suite"] == "multiturn":
                turn = int(r["task"].rsplit("turn", 1)[1])
                rows[(r["length"], r["budget"])][r["policy"]][r["index"]][turn] = r
    for (length, budget), by_policy in sorted(rows.items()):
        print(f"### {length} tokens, {100 * budget:g}% budget\n")
        print("| policy | conversations | turn 1 | turns 2..K | all turns | device KV (a) after the last turn | pages recalled | chunks discarded |")
        print("|---|---|---|---|---|---|---|---|")
        per_conv = {}
        for policy, convs in sorted(by_policy.items(), key=lambda kv: -sum(
                r["score"] for c in kv[1].values() for r in c.values())):
            complete = {i: t for i, t in convs.items() if len(t) == max(len(x) for x in convs.values())}
            k = max(len(t) for t in complete.values())
            first = [100 * t[1]["score"] for t in complete.values()]
            later = {i: 100 * sum(t[j]["score"] for j in range(2, k + 1)) / (k - 1) for i, t in complete.items()}
            every = [100 * sum(r["score"] for r in t.values()) / k for t in complete.values()]
            per_conv[policy] = later
            last = [t[k] for t in complete.values()]
            fa = sum(r["kv_a_mean_percent"] for r in last) / len(last)
            rec = sum(r["pages_recalled"] for r in last) / len(last)
            dis = sum(r["chunks_discarded"] for r in last) / len(last)
            cells = [mean_ci(first), mean_ci(list(later.values())), mean_ci(every)]
            print(f"| {policy} | {len(complete)} | " + " | ".join(f"{m:.1f} ± {h:.1f}" for m, h in cells) +
                  f" | {fa:.1f}% | {rec:.1f} | {dis:.0f} |")
        print()
        if a.policy in per_conv:
            print(f"Paired over conversations, turns 2..K, {a.policy} minus:")
            for other in a.against.split(","):
                if other in per_conv and other != a.policy:
                    d = paired(per_conv[a.policy], per_conv[other])
                    if d:
                        print(f"- {other}: {d[0]:+.1f} ± {d[1]:.1f} points (n={d[2]})")
            print()


if __name__ == "__main__":
    main()
