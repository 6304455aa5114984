#!/usr/bin/env python3
"""Trains the Memory Indexer from dump shards, without the backbone (docs/indexer-training.md).

Each target layer's network learns that layer's golden chunks (binary: golden or not, from
mass.npy); the layers are trained jointly, one loss summed over them; the runtime ensembles
their sigmoids by max. Negatives are subsampled per sample and layer (--neg-ratio per
positive); the sink and recency-tail chunks, which the runtime keeps anyway, are left out
of the loss (--always-kept-weight 0) or down-weighted.

Validation on the split == "val" documents after every epoch: golden recall when keeping
the best --keep-fraction of history (+ sink and tail, as the runtime), recall of the golden
chunks outside sink and tail, and attention mass recovered at 10% kept. The best epoch by
mass recovered at 10% is saved in the engine's safetensors layout.

python3 train.py --dump DIR --out indexer.safetensors [--epochs 30 --lr 2e-3 --neg-ratio 4]
"""

import argparse
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from data import batches, load_documents, loss_weights  # noqa: E402
from evaluate import baseline_scores, evaluate_scores, model_scores  # noqa: E402
from model import MemoryIndexer, default_config  # noqa: E402


def per_element_loss(logits, targets, kind, gamma):
    bce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    if kind == "bce":
        return bce
    p = torch.sigmoid(logits)
    p_true = torch.where(targets > 0.5, p, 1 - p)
    return (1 - p_true).pow(gamma) * bce


def listwise_loss(logits, batch):
    """Cross-entropy between each layer's softmax over the contested chunks and that layer's
    share of the window's attention mass on them: trains the ranking by mass directly,
    without a golden cut-off. logits [D, S, T, C] -> mean over (sample, layer) with mass."""
    contested = batch.chunk_valid & ~batch.always_kept                     # [D, S, C]
    mask = contested[:, :, None, :].expand_as(logits)
    mass = torch.where(mask, batch.mass, torch.zeros_like(batch.mass))
    total = mass.sum(-1, keepdim=True)
    target = mass / total.clamp(min=1e-12)
    log_p = torch.log_softmax(logits.masked_fill(~mask, -1e9), dim=-1)
    per_row = -(target * torch.where(mask, log_p, torch.zeros_like(log_p))).sum(-1)  # [D, S, T]
    has = (total[..., 0] > 0) & batch.sample_valid[:, :, None]
    weight = batch.sample_weight[:, :, None].expand_as(per_row)[has]
    return (per_row[has] * weight).sum() / weight.sum() if has.any() else per_row.sum() * 0


@torch.no_grad()
def calibrate_head_weights(model, docs, target_std=2.0, docs_per_batch=4):
    """Residual-stream hidden states are large and offset, so W_w h at random init can put
    every logit deep in sigmoid saturation. Logits are linear in W_w: rescale it per layer so
    that logits over history chunks have std target_std on a few training documents."""
    from data import Batch
    b = Batch(docs[:docs_per_batch])
    logits = model.logits_grouped(b.hidden, b.positions, b.keys, b.entries)               # [D, S, T, C]
    mask = b.chunk_valid[:, :, None, :].expand_as(logits)
    for t in range(logits.shape[2]):
        values = logits[:, :, t][mask[:, :, t]]
        std = float(values.std()) if values.numel() > 1 else 0.0
        if std > 0:
            model.w_heads[t] *= target_std / std


def validate(model, val_docs, keep_fraction):
    """recall and far recall at keep_fraction, mass at 10% kept over all samples, and mass at
    10% kept over the answer-start samples (the first selection of a request)."""
    scores = model_scores(model, val_docs)
    result = evaluate_scores(val_docs, scores, fractions=sorted({keep_fraction, 0.1}))
    answer = evaluate_scores(val_docs, scores, fractions=[0.1], subset="answer_start")
    return (result[keep_fraction]["recall"], result[keep_fraction]["recall_far"], result[0.1]["mass"],
            answer[0.1]["mass"])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dump", required=True)
    p.add_argument("--out", required=True, help="weights .safetensors (best epoch by validation)")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--neg-ratio", type=float, default=4.0, help="negatives per positive; <= 0: all")
    p.add_argument("--always-kept-weight", type=float, default=0.0,
                   help="loss weight of sink and recency-tail chunks (0: excluded)")
    p.add_argument("--loss", choices=("bce", "focal", "listwise"), default="listwise")
    p.add_argument("--focal-gamma", type=float, default=2.0)
    p.add_argument("--heads", type=int, default=8)
    p.add_argument("--head-dim", type=int, default=64)
    p.add_argument("--q-lora-rank", type=int, default=128)
    p.add_argument("--rope-dims", type=int, default=32)
    p.add_argument("--ensemble", choices=("max", "mean"), default="max")
    p.add_argument("--docs-per-batch", type=int, default=4)
    p.add_argument("--keep-fraction", type=float, default=0.1, help="kept fraction for validation recall")
    p.add_argument("--golden-mass", type=float, default=None,
                   help="per-layer label mass fraction (default: the dump's)")
    p.add_argument("--label-mass", choices=("mean", "peak"), default="mean",
                   help="listwise target: the window's mean attention mass per chunk, or each "
                        "chunk's peak single-step mass (mass_peak.npy)")
    p.add_argument("--entry-keys", action="store_true",
                   help="score entries (the dump's --entry-tokens keys), a chunk as its best entry; "
                        "the weights' config records the entry size for the runtime")
    p.add_argument("--answer-start-weight", type=float, default=1.0,
                   help="loss weight of the prefill-end sample of documents ending with a request")
    p.add_argument("--select-on", choices=("all", "answer-start"), default="all",
                   help="validation mass at 10%% kept that picks the best epoch: over all samples, "
                        "or over the answer-start samples")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--limit-docs", type=int, default=0, help="read at most this many documents per split")
    a = p.parse_args(argv)

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    np.random.seed(a.seed)
    generator = torch.Generator().manual_seed(a.seed)

    t0 = time.time()
    dump_cfg, train_docs = load_documents(a.dump, split="train", limit=a.limit_docs or None,
                                          golden_mass=a.golden_mass, label_mass=a.label_mass,
                                          entry_keys=a.entry_keys)
    _, val_docs = load_documents(a.dump, split="val", limit=a.limit_docs or None, golden_mass=a.golden_mass,
                                 label_mass=a.label_mass, entry_keys=a.entry_keys)
    if not train_docs or not val_docs:
        sys.exit(f"{a.dump}: need both train and val documents (have {len(train_docs)}, {len(val_docs)})")
    agreement = np.mean([d.golden_agreement for d in train_docs + val_docs])
    n_train = sum(d.n_samples for d in train_docs)
    print(f"loaded {len(train_docs)} train ({n_train} samples) and {len(val_docs)} val documents in "
          f"{time.time() - t0:.1f}s; recomputed golden union agrees with the dump's CSR on "
          f"{agreement * 100:.2f}% of (sample, chunk) cells")

    cfg = default_config(dump_cfg, n_heads=a.heads, head_dim=a.head_dim, rope_dims=a.rope_dims,
                         q_lora_rank=a.q_lora_rank, ensemble=a.ensemble)
    if a.entry_keys:
        cfg["entry_tokens"] = int(dump_cfg["entry_tokens"])
    model = MemoryIndexer(cfg).reset_parameters(generator)
    calibrate_head_weights(model, train_docs)
    print("config:", cfg)

    for name in ("recency", "random", "oracle"):
        r = evaluate_scores(val_docs, baseline_scores(val_docs, name, a.seed), sorted({a.keep_fraction, 0.1}))
        print(f"baseline {name:>8}: recall@{a.keep_fraction:g} {r[a.keep_fraction]['recall']:.3f}  "
              f"far {r[a.keep_fraction]['recall_far']:.3f}  mass@0.1 {r[0.1]['mass']:.3f}")

    decay, no_decay = [], []
    for name, param in model.named_parameters():
        (no_decay if name == "q_norm" else decay).append(param)
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": a.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=a.lr)
    steps_per_epoch = math.ceil(len(train_docs) / a.docs_per_batch)
    total_steps = max(1, steps_per_epoch * a.epochs)
    warmup = min(50, total_steps // 10)

    def lr_at(step):  # linear warm-up, cosine decay to 5%
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total_steps - warmup)
        return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_at)

    recall, far, mass, answer_mass = validate(model, val_docs, a.keep_fraction)
    print(f"\n{'epoch':>5} {'loss':>8} {'recall@' + format(a.keep_fraction, 'g'):>11} {'far':>7} "
          f"{'mass@0.1':>9} {'answer@0.1':>10} {'time_s':>7}")
    print(f"{0:>5} {'-':>8} {recall:>11.4f} {far:>7.4f} {mass:>9.4f} {answer_mass:>10.4f} {time.time() - t0:>7.1f}")
    best = -1.0
    for epoch in range(1, a.epochs + 1):
        model.train()
        total, count = 0.0, 0
        for batch in batches(train_docs, a.docs_per_batch, generator, answer_start_weight=a.answer_start_weight):
            logits = model.logits_grouped(batch.hidden, batch.positions, batch.keys, batch.entries)   # [D, S, T, C]
            if a.loss == "listwise":
                loss = listwise_loss(logits, batch)
            else:
                weights = loss_weights(batch, a.neg_ratio, a.always_kept_weight, generator)
                losses = per_element_loss(logits, batch.golden_layers.float(), a.loss, a.focal_gamma)
                loss = (losses * weights).sum() / weights.sum().clamp(min=1.0)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            total += float(loss.detach())
            count += 1
        model.eval()
        recall, far, mass, answer_mass = validate(model, val_docs, a.keep_fraction)
        selected = answer_mass if a.select_on == "answer-start" else mass
        marker = ""
        if selected > best:
            best = selected
            model.save(a.out)
            marker = "  saved"
        print(f"{epoch:>5} {total / max(count, 1):>8.4f} {recall:>11.4f} {far:>7.4f} {mass:>9.4f} "
              f"{answer_mass:>10.4f} {time.time() - t0:>7.1f}{marker}", flush=True)
    print(f"best {'answer@0.1' if a.select_on == 'answer-start' else 'mass@0.1'} {best:.4f}; weights in {a.out}")
    best_model = MemoryIndexer.load(a.out)
    threshold, f1 = calibrate_threshold(best_model, val_docs)
    best_model.cfg["threshold"] = threshold
    best_model.save(a.out)
    print(f"threshold {threshold:.4f} (F1 {f1:.3f} against the golden chunks outside sink and tail, "
          f"validation documents), stored in the weights' config")
    return best


def calibrate_threshold(model, docs):
    """The score threshold with the best F1 against the labels' union on the contested chunks
    (history outside sink and recency tail): the published rule keeps chunks above 0.5,
    which assumes calibrated probabilities; negative subsampling shifts them."""
    from evaluate import model_scores
    scores, labels = [], []
    for doc, s in zip(docs, model_scores(model, docs)):
        c = np.arange(doc.n_chunks)[None, :]
        contested = (c < doc.history.numpy()[:, None]) & ~doc.always_kept.numpy()
        scores.append(s[contested])
        labels.append(doc.golden_layers.numpy().any(axis=1)[contested])  # the training labels' union
    scores, labels = np.concatenate(scores), np.concatenate(labels)
    order = np.argsort(-scores)
    tp = np.cumsum(labels[order])
    k = np.arange(1, len(order) + 1)
    f1 = 2 * tp / (k + labels.sum())
    i = int(np.argmax(f1))
    # Between the last kept score and the next, clamped inside (0, 1) for the runtime.
    t = scores[order[i]] if i + 1 == len(order) else 0.5 * (scores[order[i]] + scores[order[i + 1]])
    return float(np.clip(t, 1e-6, 1 - 1e-6)), float(f1[i])


if __name__ == "__main__":
    main()
