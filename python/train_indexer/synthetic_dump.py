#!/usr/bin/env python3
"""Writes a synthetic dump in the exact layout of `flashmem dump` (docs/indexer-training.md),
for testing the trainer before (and without) the model.

The planted structure: per target layer a fixed random "true query" map P_t [key_dim, d_model]
(shared by every document, as a real model's W_q is). For each sample a few history chunks
are targets; the hidden state carries the sum of their keys through P_t^T plus noise, and
the attention mass is a softmax over chunks of (P_t h) . key, plus a sink bonus on chunk 0
and a recency bonus on the tail. So the chunks that get the mass are the ones whose key
matches a projection of the hidden state: what the indexer's q_h . key can learn.

python3 synthetic_dump.py --out DIR [--documents 200 --samples 64 --chunks 100
                                     --d-model 640 --key-dim 256 --target-layers 5,11,17]
"""

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from data import always_kept_chunks, golden_per_layer  # noqa: E402
from model import decode_chunk_keys, e4m3_encode  # noqa: E402


def write_document(doc_dir, rng, cfg, projections, n_samples, n_chunks):
    T = len(cfg["target_layers"])
    d, kd, ct = cfg["d_model"], cfg["key_dim"], cfg["chunk_tokens"]
    n_tokens = n_chunks * ct - int(rng.integers(0, ct))
    n_prompt = int(n_tokens * 0.7)
    C = (n_tokens + ct - 1) // ct

    # Pooled chunk keys: a per-dimension offset (real pooled keys share a mean direction)
    # plus per-chunk variation; fp8 codes and scales as the runtime writes them.
    keys = (0.3 * rng.standard_normal((T, 1, kd)) + rng.standard_normal((T, C, kd))).astype(np.float32)
    amax = np.abs(keys).max(-1)
    scales = np.where(amax > 0, amax / np.float32(448.0), np.float32(1.0)).astype(np.float32)
    codes = e4m3_encode(keys / scales[..., None])
    keys = decode_chunk_keys(codes, scales)                          # what the model sees

    # Sample positions spread over the last 60% of the document, increasing.
    lowest = max(2 * ct, int(n_tokens * 0.4))
    positions = np.sort(rng.integers(lowest, n_tokens, size=n_samples)).astype(np.int32)
    history = (positions // ct).astype(np.int32)
    steps = np.maximum(positions - positions[0], 0).astype(np.int32)
    generated = (positions >= n_prompt).astype(np.uint8)

    hidden = np.zeros((n_samples, T, d), dtype=np.float32)
    mass = np.zeros((n_samples, T, C), dtype=np.float32)
    sink_chunks = (cfg["sink_tokens"] + ct - 1) // ct
    for s in range(n_samples):
        hist = int(history[s])
        tail_from = max(0, (int(positions[s]) - cfg["recency_tokens"]) // ct)
        n_targets = int(rng.integers(1, 4))
        # Targets shared by all layers half the time (a fact every layer looks up).
        shared = rng.choice(hist, size=min(n_targets, hist), replace=False)
        for t in range(T):
            targets = shared if rng.random() < 0.5 else rng.choice(hist, size=min(n_targets, hist), replace=False)
            signal = keys[t, targets].sum(0) / np.sqrt(len(targets))  # [kd]
            h = projections[t].T @ signal * 3.0 + rng.standard_normal(d)
            h = h * 4.0 + 2.0                                             # residual-stream-like scale and offset
            hidden[s, t] = h
            query = projections[t] @ ((h - 2.0) / 4.0)                    # [kd]
            logit = 1.2 * (keys[t, :hist] @ query) / np.sqrt(kd)
            logit[:sink_chunks] += 6.0
            logit[tail_from:hist] += 4.0
            w = np.exp(logit - logit.max())
            mass[s, t, :hist] = 0.8 * w / w.sum()                        # rest went to the open chunk

    excluded = always_kept_chunks(positions.astype(np.int64), history.astype(np.int64), C, cfg)
    golden_layers = golden_per_layer(mass, history, cfg["golden_mass"], excluded)
    golden = golden_layers.sum(1) >= cfg["golden_min_layers"]         # [S, C]
    mean_mass = mass.mean(1)
    indptr = np.zeros(n_samples + 1, dtype=np.int64)
    indices, scores = [], []
    for s in range(n_samples):
        chunks = np.flatnonzero(golden[s])
        indices.append(chunks.astype(np.int32))
        scores.append(mean_mass[s, chunks].astype(np.float32))
        indptr[s + 1] = indptr[s] + len(chunks)

    os.makedirs(doc_dir, exist_ok=True)
    arrays = {"hidden": hidden, "positions": positions, "history_chunks": history, "steps": steps,
              "generated": generated, "key_codes": codes, "key_scales": scales, "mass": mass,
              "golden_indptr": indptr, "golden_indices": np.concatenate(indices).astype(np.int32),
              "golden_scores": np.concatenate(scores).astype(np.float32)}
    for name, array in arrays.items():
        np.save(os.path.join(doc_dir, name + ".npy"), array)
    return {"n_prompt_tokens": n_prompt, "n_tokens": int(n_tokens), "n_samples": n_samples, "n_chunks": int(C)}


def make_dump(out, documents=200, samples=64, chunks=100, d_model=640, key_dim=256,
              target_layers=(5, 11, 17), val_fraction=0.1, seed=0, query_rank=16):
    rng = np.random.default_rng(seed)
    cfg = {"model": "synthetic", "chunk_tokens": 64, "window_steps": 64,
           "target_layers": list(target_layers), "d_model": d_model, "key_dim": key_dim,
           "n_kv_heads": 1, "kv_head_dim": key_dim, "golden_mass": 0.9, "golden_min_layers": 1, "golden_contested": True,
           "sink_tokens": 4, "recency_tokens": 128, "rope_base": 1000000.0, "rms_eps": 1e-6}
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "dump_config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    # Low-rank like real query maps (and within reach of a q_lora_rank / head_dim bottleneck).
    projections = [(rng.standard_normal((key_dim, query_rank)) @ rng.standard_normal((query_rank, d_model)))
                   .astype(np.float32) / np.sqrt(d_model * query_rank) for _ in target_layers]
    n_val = max(1, int(round(documents * val_fraction)))
    with open(os.path.join(out, "manifest.jsonl"), "w") as manifest:
        for i in range(documents):
            doc_id = f"{i:05d}-synthetic"
            n_chunks = int(rng.integers(max(8, chunks // 2), chunks * 3 // 2 + 1))
            info = write_document(os.path.join(out, doc_id), rng, cfg, projections, samples, n_chunks)
            entry = {"id": doc_id, "split": "val" if i % max(1, documents // n_val) == 0 and n_val > 0 else "train",
                     "dir": doc_id, **info}
            manifest.write(json.dumps(entry) + "\n")
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True)
    p.add_argument("--documents", type=int, default=200)
    p.add_argument("--samples", type=int, default=64)
    p.add_argument("--chunks", type=int, default=100, help="mean chunks per document")
    p.add_argument("--d-model", type=int, default=640)
    p.add_argument("--key-dim", type=int, default=256)
    p.add_argument("--target-layers", default="5,11,17")
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--query-rank", type=int, default=16, help="rank of the planted hidden -> query map")
    a = p.parse_args()
    make_dump(a.out, a.documents, a.samples, a.chunks, a.d_model, a.key_dim,
              [int(x) for x in a.target_layers.split(",")], a.val_fraction, a.seed, a.query_rank)
    print(f"wrote {a.documents} documents to {a.out}")


if __name__ == "__main__":
    main()
