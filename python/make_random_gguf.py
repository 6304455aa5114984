#!/usr/bin/env python3
"""Writes a GGUF v3 file with the metadata and tensor shapes of a manifest written by
python/gguf_shapes.py, and seeded random weights: a stand-in for a model file that
cannot be copied to a machine (speed benchmarks need the shapes and types, not the
trained values). numpy only, no gguf package.

Weights are drawn so that a forward pass stays finite and well scaled:
  * 1-D float tensors (RMSNorm weights, multiplicative in Gemma's GGUF): 1 + 0.1 N(0, 1);
  * float matrices: N(0, 1) / sqrt(cols), cols = dims[0] (the row length);
  * quantized tensors: random bytes for the codes and the in-block sub-scales, then every
    fp16 scale field (d, and dmin or m) set to one value per tensor so that the decoded
    weights have RMS 1/sqrt(cols) and mean about 0 (layouts: src/kernels/quant_blocks.h).
The same manifest and seed give the same bytes; each tensor has its own generator seeded
by (seed, index), so its contents do not depend on the tensors before it.

Usage: python/make_random_gguf.py --like SHAPES.json --seed N -o OUT.gguf
"""
import argparse
import json
import struct
import sys
import time

import numpy as np

FORMATS = {"UINT8": "<B", "INT8": "<b", "UINT16": "<H", "INT16": "<h", "UINT32": "<I",
           "INT32": "<i", "FLOAT32": "<f", "BOOL": "<?", "UINT64": "<Q", "INT64": "<q",
           "FLOAT64": "<d"}
TYPE_IDS = {"UINT8": 0, "INT8": 1, "UINT16": 2, "INT16": 3, "UINT32": 4, "INT32": 5,
            "FLOAT32": 6, "BOOL": 7, "STRING": 8, "ARRAY": 9, "UINT64": 10, "INT64": 11,
            "FLOAT64": 12}
# ggml float types: id -> numpy dtype of the stored values (BF16 handled by hand).
FLOAT_TYPES = {0: np.float32, 1: np.float16, 30: None}


def second_moment(lo, hi):
    """E[x^2] for x uniform on the integers lo..hi: what random bits give a code field."""
    n = hi - lo + 1
    return (n * n - 1) / 12 + ((lo + hi) / 2) ** 2


def kquant_rms(q_max):
    """RMS / d of Q4_K/Q5_K values d*sc*q - dmin*m with sc, m uniform 0..63 and q uniform
    0..q_max, when dmin = d * mean(q), which makes the mean value 0."""
    k = q_max / 2
    sc2, sc1, q2 = second_moment(0, 63), 31.5, second_moment(0, q_max)
    return (sc2 * q2 - 2 * k * sc1 * k * sc1 + k * k * sc2) ** 0.5


# Quantized types: id -> (values per block, bytes per block, byte offset of d, RMS of the
# decoded values per unit of d, {offset of the second fp16 field: its value / d}).
# The second field is Q4_1/Q5_1's additive m (value = d*q + m, so m = -d*mean(q)) or the
# k-quants' dmin (value = d*sc*q - dmin*m). Q6_K keeps d at the END of its block.
QUANT_TYPES = {
    2: (32, 18, 0, second_moment(-8, 7) ** 0.5, {}),                          # Q4_0: d*(q-8)
    3: (32, 20, 0, (second_moment(0, 15) - 7.5 ** 2) ** 0.5, {2: -7.5}),     # Q4_1
    6: (32, 22, 0, second_moment(-16, 15) ** 0.5, {}),                       # Q5_0: d*(q-16)
    7: (32, 24, 0, (second_moment(0, 31) - 15.5 ** 2) ** 0.5, {2: -15.5}),   # Q5_1
    8: (32, 34, 0, second_moment(-128, 127) ** 0.5, {}),                     # Q8_0: d*q
    12: (256, 144, 0, kquant_rms(15), {2: 7.5}),                             # Q4_K
    13: (256, 176, 0, kquant_rms(31), {2: 15.5}),                            # Q5_K
    # Q6_K: d * sc * (q-32), sc a signed byte.
    14: (256, 210, 208, (second_moment(-128, 127) * second_moment(-32, 31)) ** 0.5, {}),
}


def fp16_bytes(x):
    h = np.float16(x)
    assert np.isfinite(h) and h != 0, f"scale {x} does not fit fp16"
    return np.frombuffer(h.tobytes(), np.uint8)


def tensor_data(t, rng):
    """The raw bytes of one tensor."""
    dims, type_id = t["dims"], t["type"]
    n, cols = int(np.prod(dims)), dims[0]
    target_rms = 1 / np.sqrt(cols)
    if type_id in FLOAT_TYPES:
        if len(dims) == 1 or n == cols:
            x = 1 + 0.1 * rng.standard_normal(n, dtype=np.float32)
        else:
            x = rng.standard_normal(n, dtype=np.float32) * np.float32(target_rms)
        if type_id == 30:  # bf16: the top half of the fp32 bits
            return (x.view(np.uint32) >> 16).astype(np.uint16).tobytes()
        return x.astype(FLOAT_TYPES[type_id]).tobytes()
    if type_id not in QUANT_TYPES:
        sys.exit(f"{t['name']}: ggml type {t['type_name']} is not supported")
    block, size, d_at, unit_rms, second = QUANT_TYPES[type_id]
    blocks = np.frombuffer(bytearray(rng.bytes(n // block * size)), np.uint8).reshape(-1, size)
    d = target_rms / unit_rms
    blocks[:, d_at:d_at + 2] = fp16_bytes(d)
    for at, ratio in second.items():
        blocks[:, at:at + 2] = fp16_bytes(d * ratio)
    return blocks.tobytes()


def pack_string(s):
    b = s.encode("utf-8", "surrogateescape")
    return struct.pack("<Q", len(b)) + b


def pack_value(type_name, value, element_type=None):
    if type_name == "STRING":
        return pack_string(value)
    if type_name == "ARRAY":
        # Nested arrays would need their element types, which the manifest does not keep.
        assert element_type != "ARRAY", "nested arrays are not supported"
        return struct.pack("<IQ", TYPE_IDS[element_type], len(value)) + b"".join(
            pack_value(element_type, v) for v in value)
    return struct.pack(FORMATS[type_name], value)


def write_gguf(manifest, seed, path):
    metadata, tensors = manifest["metadata"], manifest["tensors"]
    alignment = next((m["value"] for m in metadata if m["key"] == "general.alignment"), 32)
    header = [b"GGUF", struct.pack("<IQQ", 3, len(tensors), len(metadata))]
    for m in metadata:
        header += [pack_string(m["key"]), struct.pack("<I", TYPE_IDS[m["type"]]),
                   pack_value(m["type"], m["value"], m.get("element_type"))]
    offset = 0  # from the start of the data section; each tensor starts aligned
    for t in tensors:
        header += [pack_string(t["name"]), struct.pack("<I", len(t["dims"])),
                   struct.pack(f"<{len(t['dims'])}Q", *t["dims"]), struct.pack("<IQ", t["type"], offset)]
        offset += -(-t["n_bytes"] // alignment) * alignment
    header = b"".join(header)
    with open(path, "wb") as f:
        f.write(header + bytes(-len(header) % alignment))
        for i, t in enumerate(tensors):
            data = tensor_data(t, np.random.default_rng([seed, i]))
            assert len(data) == t["n_bytes"], f"{t['name']}: {len(data)} bytes, manifest says {t['n_bytes']}"
            f.write(data + bytes(-len(data) % alignment))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--like", required=True, help="manifest from python/gguf_shapes.py")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("-o", "--out", required=True)
    args = ap.parse_args()
    with open(args.like) as f:
        manifest = json.load(f)
    t0 = time.time()
    write_gguf(manifest, args.seed, args.out)
    total = sum(t["n_bytes"] for t in manifest["tensors"])
    print(f"{args.out}: {len(manifest['tensors'])} tensors, {total / 2**20:.1f} MiB of weights, "
          f"seed {args.seed}, {time.time() - t0:.1f} s")


if __name__ == "__main__":
    main()
