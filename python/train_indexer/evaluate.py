#!/usr/bin/env python3
"""How much of the attention the kept chunks would have served, vs the fraction kept.

Per validation sample: rank the history chunks by a score (nothing excluded; ties to the
newer chunk, as lsa_select), keep the best ceil(f * history) plus the sink and the recency
tail (which the runtime always keeps), and report, averaged over samples:
  recall      golden chunks (the dump's union CSR) kept / golden chunks
  recall_far  the same over golden chunks outside the sink and the tail (what the indexer
              is for: the tail is free)
  mass        window attention mass (mass.npy, mean over target layers, normalised over
              history chunks) on kept chunks
  kept        chunks kept / history chunks (above f because of sink and tail)
for the trained indexer, recency (newest first), random, and the oracle (true mean mass).

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
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
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
            logits = model.logits_grouped(b.hidden, b.positions, b.keys)      # [D, S, T, C]
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
    a = p.parse_args()
    torch.set_num_threads(a.threads)

    _, docs = load_documents(a.dump, split=a.split)
    if not docs:
        sys.exit(f"no '{a.split}' documents in {a.dump}")
    model = MemoryIndexer.load(a.weights).eval()
    methods = {"indexer": model_scores(model, docs)}
    for name in ("recency", "random", "oracle"):
        methods[name] = baseline_scores(docs, name, a.seed)
    results = {name: evaluate_scores(docs, s) for name, s in methods.items()}

    csv_path = a.out_csv or a.weights + ".eval.csv"
    with open(csv_path, "w") as f:
        f.write("method,fraction,kept,recall,recall_far,mass\n")
        for name, by_fraction in results.items():
            for frac, m in by_fraction.items():
                f.write(f"{name},{frac},{m['kept']:.5f},{m['recall']:.5f},{m['recall_far']:.5f},{m['mass']:.5f}\n")

    n_samples = sum(d.n_samples for d in docs)
    print(f"{len(docs)} {a.split} documents, {n_samples} samples; columns: mass recovered / golden recall "
          "(far: outside sink+tail) at kept fraction f (+ sink and recency tail)")
    print(f"{'f':>5} {'kept':>6} | " + " | ".join(f"{n:>22}" for n in results))
    for frac in DEFAULT_FRACTIONS:
        row = [f"{results[n][frac]['mass']:.3f} {results[n][frac]['recall']:.3f} {results[n][frac]['recall_far']:.3f}"
               for n in results]
        print(f"{frac:>5.2f} {results['indexer'][frac]['kept']:>6.3f} | " + " | ".join(f"{r:>22}" for r in row))
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
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for name, by_fraction in results.items():
        fr = list(by_fraction)
        axes[0].plot(fr, [by_fraction[f]["mass"] for f in fr], marker="o", label=name)
        axes[1].plot(fr, [by_fraction[f]["recall_far"] for f in fr], marker="o", label=name)
    axes[0].set(xlabel="kept fraction of history (+ sink, recency tail)", ylabel="window attention mass recovered",
                title="Mass recovered")
    axes[1].set(xlabel="kept fraction of history (+ sink, recency tail)",
                ylabel="golden recall outside sink/tail", title="Golden recall (far)")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(f"{os.path.basename(a.weights)} on {os.path.basename(os.path.normpath(a.dump))} ({a.split}, "
                 f"{n_samples} samples)")
    fig.tight_layout()
    fig.savefig(png_path, dpi=110)
    print(f"wrote {png_path}")


if __name__ == "__main__":
    main()
