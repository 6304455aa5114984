#!/usr/bin/env python3
"""The engine's indexer scores against the trainer's, on a dump's held-out documents.

Runs `flashmem score-dump` (the C++ MemoryIndexer on the dump's hidden states and fp8
chunk keys) and the PyTorch model of train_indexer/model.py on the same inputs; reports
Pearson correlation and the max abs difference over every (sample, chunk) score, and fails
when Pearson < 0.99 (the training issue's bar) or max abs diff > --max-diff.

    python check_cpp_scores.py --flashmem build/flashmem --dump DUMP --weights W.safetensors
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from data import load_documents  # noqa: E402
from evaluate import model_scores  # noqa: E402
from model import MemoryIndexer  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--flashmem", required=True)
    p.add_argument("--dump", required=True)
    p.add_argument("--weights", required=True)
    p.add_argument("--split", default="val")
    p.add_argument("--max-diff", type=float, default=1e-3)
    a = p.parse_args(argv)
    torch.set_num_threads(2)
    model = MemoryIndexer.load(a.weights)
    model.eval()
    _, docs = load_documents(a.dump, split=a.split, entry_keys=int(model.cfg.get("entry_tokens", 0) or 0) > 0)
    torch_scores = model_scores(model, docs)
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([a.flashmem, "score-dump", "--indexer", a.weights, "--dump", a.dump, "--split", a.split,
                        "-o", out], check=True)
        cpp = [np.load(os.path.join(out, d.id + ".scores.npy")) for d in docs]
    x = np.concatenate([s.ravel() for s in torch_scores]).astype(np.float64)
    y = np.concatenate([s.ravel() for s in cpp]).astype(np.float64)
    pearson = float(np.corrcoef(x, y)[0, 1]) if x.std() > 0 and y.std() > 0 else float(np.array_equal(x, y))
    diff = float(np.abs(x - y).max())
    print(f"{len(docs)} {a.split} documents, {x.size} scores: Pearson {pearson:.6f}, max abs diff {diff:.3g}, "
          f"score range [{x.min():.4f}, {x.max():.4f}]")
    if pearson < 0.99 or diff > a.max_diff:
        print("FAIL: the engine's scores differ from the trainer's")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
