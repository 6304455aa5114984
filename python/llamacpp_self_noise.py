#!/usr/bin/env python3
"""How much llama.cpp's own next-token logits move when the same prompt is evaluated in
one batch versus one token at a time (different kernels: GEMM vs GEMV, different
summation orders), on the same GGUF. This is the noise floor below which no second engine
can be expected to agree with llama.cpp, and it sets the parity tests' tolerances.

  .venv/bin/python python/llamacpp_self_noise.py MODEL.gguf
"""
import sys

import numpy as np
import llama_cpp
from llama_cpp import Llama

TEXTS = [b"Photosynthesis is the process by which plants use the light of the sun to make sugar out of",
         b"The capital of France is", b"def fibonacci(n):\n    return"]


def logits(llm):
    return np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1),
                                 shape=(llm.n_vocab(),)).copy()


def main():
    model = sys.argv[1]
    for text in TEXTS:
        llm = Llama(model, n_ctx=512, verbose=False, swa_full=False, n_batch=512)
        ids = llm.tokenize(text, add_bos=True)
        llm.eval(ids)
        batched = logits(llm)
        llm.reset()
        for t in ids:
            llm.eval([t])
        tokenwise = logits(llm)
        d = np.abs(batched - tokenwise)
        top = np.argsort(-batched)[:40]
        print(f"{len(ids):3d} ids: batched vs token-by-token |diff| mean {d.mean():.4f} "
              f"max {d.max():.4f}; over the top-40: max {d[top].max():.4f}")


if __name__ == "__main__":
    main()
