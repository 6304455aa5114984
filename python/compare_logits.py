#!/usr/bin/env python3
"""Compares flashmem's next-token logits with llama.cpp's for the same ids and GGUF.

  .venv/bin/python python/compare_logits.py --model MODEL.gguf --text "The capital of France is"
Prints max/mean |diff|, the top-10 of each engine and whether they agree.
"""
import argparse
import os
import subprocess
import tempfile

import numpy as np
import llama_cpp
from llama_cpp import Llama


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--text", default="The capital of France is")
    p.add_argument("--flashmem", default="build/flashmem")
    args = p.parse_args()
    llm = Llama(model_path=args.model, n_ctx=4096, verbose=False, swa_full=False, n_threads=2)
    ids = llm.tokenize(args.text.encode(), add_bos=True, special=True)
    llm.eval(ids)
    ref = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1),
                                shape=(llm.n_vocab(),)).copy()
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "logits.bin")
        subprocess.run([args.flashmem, "logits", "-m", args.model, "--ids",
                        " ".join(map(str, ids)), "-o", out], check=True)
        ours = np.fromfile(out, dtype=np.float32)
    diff = np.abs(ours - ref)
    print(f"{len(ids)} ids; max |diff| {diff.max():.4f} mean {diff.mean():.5f}; "
          f"logit range {ref.min():.2f}..{ref.max():.2f}")
    print("llama.cpp top10:", np.argsort(-ref)[:10].tolist())
    print("ours      top10:", np.argsort(-ours)[:10].tolist())


if __name__ == "__main__":
    main()
