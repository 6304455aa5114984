#!/usr/bin/env python3
"""How much of the attention the kept chunks would have served, vs the fraction kept.

Per validation sample: rank the history chunks by a score (nothing excluded; ties to the
newer chunk, as lsa_select), keep the best ceil(f * history) plus the sink and the recency
tail (which the runtime always keeps), and report, averaged over samples:
  recall      golden chunks (the dump's union CSR) kept / golden chunks
  recall_far  the same over golden chunks outside the sink and the tail (what the indexer
              is for: the tail is free)
  mass        window attention mass (mass.npy, or mass_peak.npy with --label-mass peak;
              mean over target layers, normalised over history chunks) on kept chunks
  mass_far    the same share of the contested mass only (outside sink and tail): what the
              indexer decides
  kept        chunks kept / history chunks (above f because of sink and tail)
for the trained indexer, recency (newest first), random, and the oracle (the true mass).
A second table takes only the answer-start samples (the end of the prefill of documents
ending with a request: the first selection for a question) and adds SnapKV's prompt votes
(the last window_steps prompt tokens' attention, from the dump's teacher-forced tail).

Quest is not among the baselines: its score needs the per-step attention query and each
chunk's element-wise key min/max, and the dump holds neither (only the hidden state entering
the layer and the pooled mean key).

python3 evaluate.py --dump DIR --weights W.safetensors [--out-csv eval.csv --out-png eval.png]
"""

import argparse
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from data import Batch, load_documents  # noqa: E402
from model import MemoryIndexer  # noqa: E402

DEFAULT_FRACTIONS = (0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5)


def kept_chunks(scores, history, always_kept, fraction):
    """scores float [N, C], history int [N], always_kept bool [N, C] -> kept bool [N, C]:
    the best ceil(fraction * history) chunks by score (ties to the newer chunk) plus the
    always-kept ones; chunks >= history never."""
    N, C = scores.shape
    valid = np.arange(C)[None, :] < history[:, None]
    s = np.where(valid, scores.astype(np.float64), -np.inf)
    # Stable sort of the reversed row: among equal scores the newer chunk comes first.
    order = C - 1 - np.argsort(-s[:, ::-1], axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(C)[None, :].repeat(N, 0), axis=1)
    budget = np.maximum(1, np.ceil(fraction * history - 1e-9)).astype(np.int64)
    return ((rank < budget[:, None]) | always_kept) & valid


def selection_metrics(scores, history, always_kept, golden, mean_mass, fraction):
    """Per-sample metrics [N] each, for one kept fraction."""
    kept = kept_chunks(scores, history, always_kept, fraction)
    C = scores.shape[1]
    valid = np.arange(C)[None, :] < history[:, None]
    golden = golden & valid
    far = golden & ~always_kept
    m = np.where(valid, mean_mass, 0.0)
    total = m.sum(1)
    contested = np.where(always_kept, 0.0, m)
    contested_total = contested.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "mass_far": np.where(contested_total > 0, (contested * kept).sum(1) / contested_total, np.nan),
            "recall": np.where(golden.sum(1) > 0, (kept & golden).sum(1) / golden.sum(1), np.nan),
            "recall_far": np.where(far.sum(1) > 0, (kept & far).sum(1) / far.sum(1), np.nan),
            "mass": np.where(total > 0, (m * kept).sum(1) / total, np.nan),
            "kept": np.where(history > 0, kept.sum(1) / np.maximum(history, 1), np.nan),
        }


def model_scores(model, docs, docs_per_batch=4):
    """Ensembled indexer scores per document: list of float32 [S, C]."""
    out = []
    with torch.no_grad():
        for i in range(0, len(docs), docs_per_batch):
            group = docs[i:i + docs_per_batch]
            b = Batch(group)
            logits = model.logits_grouped(b.hidden, b.positions, b.keys, b.entries)      # [D, S, T, C]
            scores = model.ensemble(logits, layer_dim=2).numpy()               # [D, S, C]
            for j, doc in enumerate(group):
                out.append(scores[j, :doc.n_samples, :doc.n_chunks])
    return out


def baseline_scores(docs, method, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for doc in docs:
        S, C = doc.n_samples, doc.n_chunks
        if method == "recency":
            out.append(np.tile(np.arange(C, dtype=np.float64), (S, 1)))
        elif method == "random":
            out.append(rng.random((S, C)))
        elif method == "oracle":
            out.append(doc.mass.numpy().mean(1))
        elif method == "snapkv":
            # Only meaningful on the answer-start samples (subset "answer_start"): every
            # sample gets the prompt tail's votes, and the sample window_steps before the end
            # of the prefill is where they come from.
            votes = doc.prompt_votes if doc.prompt_votes is not None else np.zeros(C)
            out.append(np.tile(votes.astype(np.float64), (S, 1)))
        else:
            raise ValueError(method)
    return out


def evaluate_scores(docs, scores_per_doc, fractions=DEFAULT_FRACTIONS, subset="all"):
    """Mean over samples of each metric, per fraction: {fraction: {metric: value}}.
    subset "answer_start": only the prefill-end sample of documents ending with a request
    (the runtime's first selection for a question); NaN where there is none."""
    result = {}
    for f in fractions:
        collected = {}
        for doc, scores in zip(docs, scores_per_doc):
            metrics = selection_metrics(scores, doc.history.numpy(), doc.always_kept.numpy(),
                                        doc.golden.numpy(), doc.mass.numpy().mean(1), f)
            if subset == "answer_start":
                rows = (doc.answer_start.numpy() & doc.ends_with_question)
                metrics = {k: v[rows] for k, v in metrics.items()}
            for k, v in metrics.items():
                collected.setdefault(k, []).append(v)
        values = {k: np.concatenate(v) for k, v in collected.items()}
        result[f] = {k: float(np.nanmean(v)) if np.isfinite(v).any() else float("nan") for k, v in values.items()}
    return result


def threshold_stats(docs, scores_per_doc, threshold=0.5):
    """What the runtime's rule (score > threshold) would keep: fraction of history chunks
    above the threshold, and golden recall of that set (without sink/tail)."""
    above, recall = [], []
    for doc, scores in zip(docs, scores_per_doc):
        valid = np.arange(doc.n_chunks)[None, :] < doc.history.numpy()[:, None]
        sel = (scores > threshold) & valid
        g = doc.golden.numpy() & valid
        above.append(sel.sum(1) / np.maximum(valid.sum(1), 1))
        with np.errstate(invalid="ignore", divide="ignore"):
            recall.append(np.where(g.sum(1) > 0, (sel & g).sum(1) / g.sum(1), np.nan))
    return float(np.nanmean(np.concatenate(above))), float(np.nanmean(np.concatenate(recall)))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dump", required=True)
    p.add_argument("--weights", required=True)
    p.add_argument("--split", default="val")
    p.add_argument("--out-csv", default=None, help="default: <weights>.eval.csv")
    p.add_argument("--out-png", default=None, help="default: <weights>.eval.png")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--label-mass", choices=("mean", "peak"), default="mean",
                   help="the window mass that scores a selection (as train.py --label-mass)")
    a = p.parse_args()
    torch.set_num_threads(a.threads)

    model = MemoryIndexer.load(a.weights).eval()
    # Weights trained on entries score the dump's entry keys, as the runtime does.
    _, docs = load_documents(a.dump, split=a.split, label_mass=a.label_mass,
                             entry_keys=int(model.cfg.get("entry_tokens", 0) or 0) > 0)
    if not docs:
        sys.exit(f"no '{a.split}' documents in {a.dump}")
    methods = {"indexer": model_scores(model, docs)}
    for name in ("recency", "random", "oracle", "snapkv"):
        methods[name] = baseline_scores(docs, name, a.seed)
    # Every sample (the snapkv baseline has votes for the first selection only), and the
    # answer-start samples: the first selection for a final request, where SnapKV's prompt
    # votes are the rival and the whole answer is the window.
    subsets = {"all": [m for m in methods if m != "snapkv"],
               "answer_start": ["indexer", "recency", "snapkv", "oracle"]}
    results = {subset: {name: evaluate_scores(docs, methods[name], subset=subset) for name in names}
               for subset, names in subsets.items()}

    csv_path = a.out_csv or a.weights + ".eval.csv"
    with open(csv_path, "w") as f:
        f.write("subset,method,fraction,kept,recall,recall_far,mass,mass_far\n")
        for subset, by_method in results.items():
            for name, by_fraction in by_method.items():
                for frac, m in by_fraction.items():
                    f.write(f"{subset},{name},{frac},{m['kept']:.5f},{m['recall']:.5f},{m['recall_far']:.5f},"
                            f"{m['mass']:.5f},{m['mass_far']:.5f}\n")

    n_samples = sum(d.n_samples for d in docs)
    n_answer = sum(int((d.answer_start & d.ends_with_question).sum()) for d in docs)
    print(f"{len(docs)} {a.split} documents, {n_samples} samples ({n_answer} answer-start); labels: window "
          f"{a.label_mass} mass; columns: mass recovered / contested mass recovered / golden recall outside "
          "sink+tail, at kept fraction f (+ sink and recency tail)")
    for subset, by_method in results.items():
        print(f"-- {subset}")
        print(f"{'f':>5} {'kept':>6} | " + " | ".join(f"{n:>20}" for n in by_method))
        for frac in DEFAULT_FRACTIONS:
            row = [f"{m[frac]['mass']:.3f} {m[frac]['mass_far']:.3f} {m[frac]['recall_far']:.3f}"
                   for m in by_method.values()]
            print(f"{frac:>5.2f} {by_method['indexer'][frac]['kept']:>6.3f} | " + " | ".join(f"{r:>20}" for r in row))
    threshold = float(model.cfg.get("threshold", 0.5))
    above, recall = threshold_stats(docs, methods["indexer"], threshold)
    print(f"runtime rule score > {threshold:.4f} (the weights' threshold; before the budget cap): keeps "
          f"{above:.3f} of history, golden recall {recall:.3f}")
    print(f"wrote {csv_path}")

    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing: no plot")
        return
    png_path = a.out_png or a.weights + ".eval.png"
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    panels = [("all", "mass", "window attention mass recovered", "Mass recovered, all samples"),
              ("all", "recall_far", "golden recall outside sink/tail", "Golden recall (far), all samples"),
              ("answer_start", "mass", "window attention mass recovered", "Mass recovered, answer start")]
    for ax, (subset, metric, ylabel, title) in zip(axes, panels):
        for name, by_fraction in results[subset].items():
            fr = list(by_fraction)
            ax.plot(fr, [by_fraction[f][metric] for f in fr], marker="o", label=name)
        ax.set(xlabel="kept fraction of history (+ sink, recency tail)", ylabel=ylabel, title=title)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(f"{os.path.basename(a.weights)} on {os.path.basename(os.path.normpath(a.dump))} ({a.split}, "
                 f"{n_samples} samples, {n_answer} at answer start, {a.label_mass} labels)")
    fig.tight_layout()
    fig.savefig(png_path, dpi=110)
    print(f"wrote {png_path}")


if __name__ == "__main__":
    main()
