#!/usr/bin/env python3
"""Side-by-side speed of flashmem and llama.cpp (llama-cpp-python) on the same GGUF.

For each context length N: prefill N tokens, then decode D tokens greedily, on the same
token ids, with the same thread count, one engine after the other in this one run. The
table reports tokens/s for both and the ratio ours / llama.cpp. llama.cpp runs with
swa_full=False (its CLI default, the faster setting for Gemma 3) and, with --swa-full-too,
also with llama-cpp-python's default swa_full=True.

Usage:
  .venv/bin/python bench/bench_vs_llamacpp.py --model MODEL.gguf --contexts 512,4096 \
      [--threads 2] [--decode 32] [--flashmem build/flashmem] [--markdown out.md]
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time


def token_ids(n, n_vocab, seed=1234):
    # Ordinary-text-looking ids: skip the low ids where control/byte tokens live.
    rng = random.Random(seed)
    return [rng.randrange(1000, min(n_vocab, 200000)) for _ in range(n)]


def last_logits(llm):
    import llama_cpp
    import numpy as np

    ptr = llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1)
    return np.ctypeslib.as_array(ptr, shape=(llm.n_vocab(),))


def bench_llamacpp(model, ids, n_decode, threads, swa_full, batch, flash_attn=False):
    from llama_cpp import Llama

    kwargs = dict(model_path=model, n_ctx=len(ids) + n_decode + 16, n_threads=threads,
                  n_threads_batch=threads, n_batch=batch, n_ubatch=batch, verbose=False,
                  flash_attn=flash_attn)
    try:
        llm = Llama(swa_full=swa_full, **kwargs)
    except TypeError:
        if not swa_full:
            return None
        llm = Llama(**kwargs)
    t0 = time.perf_counter()
    llm.eval(ids)
    t1 = time.perf_counter()
    tok = int(last_logits(llm).argmax())
    t2 = time.perf_counter()
    for _ in range(n_decode):
        llm.eval([tok])
        tok = int(last_logits(llm).argmax())
    t3 = time.perf_counter()
    del llm
    return {"prefill_tok_s": len(ids) / (t1 - t0), "decode_tok_s": n_decode / (t3 - t2)}


def bench_flashmem(binary, model, context, n_decode, threads, extra, ids_file=None):
    cmd = [binary, "bench", "-m", model, "--context", str(context), "--decode", str(n_decode),
           "-t", str(threads), "--json"] + extra
    if ids_file:
        cmd += ["--ids", ids_file]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--contexts", default="512,4096,16384,32768")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--decode", type=int, default=32)
    p.add_argument("--batch", type=int, default=512)
    p.add_argument("--flashmem", default="build/flashmem")
    p.add_argument("--swa-full-too", action="store_true",
                   help="also run llama-cpp-python's default swa_full=True (slow at long context)")
    p.add_argument("--swa-full-max", type=int, default=16384,
                   help="largest context at which the swa_full=True run is made")
    p.add_argument("--no-flash-attn", action="store_true",
                   help="llama.cpp without flash attention (its CLI enables it on CPU by default)")
    p.add_argument("--markdown")
    p.add_argument("--flashmem-args", default="")
    args = p.parse_args()

    from llama_cpp import Llama

    n_vocab = Llama(model_path=args.model, vocab_only=True, verbose=False).n_vocab()
    rows = []
    for n in [int(x) for x in args.contexts.split(",")]:
        ids = token_ids(n, n_vocab)
        with tempfile.NamedTemporaryFile("w", suffix=".ids", delete=False) as f:
            f.write(" ".join(map(str, ids)))
        ours = bench_flashmem(args.flashmem, args.model, n, args.decode, args.threads,
                              [a for a in args.flashmem_args.split() if a], f.name)
        os.unlink(f.name)
        fa = not args.no_flash_attn
        ref = bench_llamacpp(args.model, ids, args.decode, args.threads, False, args.batch, fa)
        ref_full = (bench_llamacpp(args.model, ids, args.decode, args.threads, True, args.batch, fa)
                    if args.swa_full_too and n <= args.swa_full_max else None)
        rows.append((n, ours, ref, ref_full))
        print(f"context {n}: flashmem {ours['prefill_tok_s']:.1f}/{ours['decode_tok_s']:.1f} "
              f"llama.cpp {ref['prefill_tok_s']:.1f}/{ref['decode_tok_s']:.1f}", file=sys.stderr)

    print(f"model {os.path.basename(args.model)}, {args.threads} threads, {args.decode} decode "
          f"steps; llama.cpp: llama-cpp-python, swa_full=False, flash_attn="
          f"{not args.no_flash_attn}, n_batch={args.batch}; flashmem kernels {rows[0][1]['isa']}")
    lines = ["| context | prefill tok/s flashmem | llama.cpp | ratio | decode tok/s flashmem "
             "| llama.cpp | ratio | decode roofline fraction |",
             "|---|---|---|---|---|---|---|---|"]
    for n, o, r, rf in rows:
        lp = f"{r['prefill_tok_s']:.1f}"
        ld = f"{r['decode_tok_s']:.1f}"
        if rf:
            lp += f" (swa_full: {rf['prefill_tok_s']:.1f})"
            ld += f" (swa_full: {rf['decode_tok_s']:.1f})"
        lines.append(
            f"| {n} | {o['prefill_tok_s']:.1f} | {lp} | {o['prefill_tok_s']/r['prefill_tok_s']:.2f}x "
            f"| {o['decode_tok_s']:.1f} | {ld} | {o['decode_tok_s']/r['decode_tok_s']:.2f}x "
            f"| {o['roofline_fraction']:.2f} ({o['bytes_per_token']/1e6:.0f} MB/token at "
            f"{o['bandwidth_gb_s']:.1f} GB/s) |")
    table = "\n".join(lines)
    print(table)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table + "\n")


if __name__ == "__main__":
    main()
