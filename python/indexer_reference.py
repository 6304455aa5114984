#!/usr/bin/env python3
"""Reference Memory Indexer (numpy, float32) and the fixture the C++ tests check against.

Written from the published description of the FlashMemory-DeepSeek-V4 indexer (the
release's README and retriever.py, summarised in docs/indexer.md),
not from our C++. numpy instead of PyTorch: torch is not installed in the project venv and
its PyPI wheel pulls gigabytes of CUDA libraries; every step here is a few lines of array
arithmetic, done in float32 in the order the published code uses.

Per target layer, hidden h [d_model] at token position p:
    a   = RMSNorm(W_qa h) * q_norm                        (eps inside the sqrt)
    q   = (W_qb a).reshape(n_heads, head_dim)
    q_h = Hadamard(RoPE(q_h))    RoPE: last rope_dims dims, interleaved pairs (2i, 2i+1),
                                 YaRN-corrected frequencies; Hadamard: Sylvester, / sqrt(head_dim)
    w   = (W_w h) * head_dim^-0.5 * n_heads^-0.5
    k   = fp8_e4m3(codes) * scale  (then W_k k when key_dim != head_dim)
    score = sigmoid(sum_h w_h * relu(k . q_h)); layers ensembled by max or mean.
Chunk key: mean over the chunk's tokens of fp16 post-RoPE keys [tokens, kv_heads, kv_dim],
flattened to [kv_heads * kv_dim]; scale = amax / 448; codes = e4m3(key / scale) with
round-to-nearest-even and saturation.

Usage: python/indexer_reference.py [--out tests/data/indexer]
Writes, per case, <case>.weights.safetensors (weights + config in __metadata__) and
<case>.fixture.safetensors (inputs and expected outputs).
"""

import argparse
import json
import math
import os
import struct

import numpy as np

F32 = np.float32

# ----------------------------------------------------------------------------------------
# fp8 e4m3 (OCP "FN": no inf, S.1111.111 is NaN, max 448)
# ----------------------------------------------------------------------------------------


def e4m3_value(code):
    """Value of an 8-bit code, from the format definition."""
    sign = -1.0 if code & 0x80 else 1.0
    exponent = (code >> 3) & 0xF
    mantissa = code & 0x7
    if exponent == 0xF and mantissa == 0x7:
        return math.nan
    if exponent == 0:
        return sign * (mantissa / 8.0) * 2.0 ** -6
    return sign * (1.0 + mantissa / 8.0) * 2.0 ** (exponent - 7)


E4M3_TABLE = np.array([e4m3_value(c) for c in range(256)], dtype=np.float64)
# Non-negative finite codes in increasing value: 0x00 .. 0x7e.
_POSITIVE_CODES = np.arange(0x7F)
_POSITIVE_VALUES = E4M3_TABLE[:0x7F]


def e4m3_encode(x):
    """Nearest representable value, ties to the even code; |x| >= 448 saturates."""
    x = np.asarray(x, dtype=np.float64)
    out = np.zeros(x.shape, dtype=np.uint8)
    flat_in, flat_out = x.reshape(-1), out.reshape(-1)
    for i, v in enumerate(flat_in):
        if math.isnan(v):
            flat_out[i] = 0x7F
            continue
        sign = 0x80 if math.copysign(1.0, v) < 0 else 0
        a = min(abs(v), 448.0)
        dist = np.abs(_POSITIVE_VALUES - a)
        best = np.flatnonzero(dist == dist.min())
        code = best[0] if len(best) == 1 else [c for c in best if c % 2 == 0][0]
        flat_out[i] = sign | int(_POSITIVE_CODES[code])
    return out


def e4m3_decode(codes):
    return E4M3_TABLE[np.asarray(codes)].astype(F32)


# ----------------------------------------------------------------------------------------
# bf16 / safetensors
# ----------------------------------------------------------------------------------------


def to_bf16_bits(x):
    bits = np.asarray(x, dtype=F32).view(np.uint32).astype(np.uint64)
    bits = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16  # round to nearest even (no NaNs here)
    return bits.astype(np.uint16)


def from_bf16_bits(bits):
    return (np.asarray(bits, dtype=np.uint32) << 16).view(F32)


DTYPES = {np.dtype(np.float32): "F32", np.dtype(np.float16): "F16", np.dtype(np.uint8): "U8",
          np.dtype(np.int64): "I64", np.dtype(np.int32): "I32"}


def write_safetensors(path, tensors, metadata=None):
    """tensors: name -> (dtype string, numpy array of matching byte layout)."""
    header, blobs, offset = {}, [], 0
    for name, (dtype, array) in tensors.items():
        raw = np.ascontiguousarray(array).tobytes()
        header[name] = {"dtype": dtype, "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)  # pad so the data section is 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def plain(array):
    return (DTYPES[array.dtype], array)


# ----------------------------------------------------------------------------------------
# The network
# ----------------------------------------------------------------------------------------


def rope_frequencies(cfg):
    dim = cfg["rope_dims"]
    base = F32(cfg["rope_base"])
    exponents = np.arange(0, dim, 2).astype(F32) / F32(dim)
    # float32 power, correctly rounded (computed in float64, then rounded once).
    freqs = (F32(1.0) / (np.float64(base) ** exponents.astype(np.float64)).astype(F32)).astype(F32)
    yarn = cfg.get("yarn")
    if not yarn:
        return freqs

    def correction_dim(rotations):
        return dim * math.log(yarn["original_context"] / (rotations * 2 * math.pi)) / (2 * math.log(cfg["rope_base"]))

    low = max(math.floor(correction_dim(yarn["beta_fast"])), 0)
    high = min(math.ceil(correction_dim(yarn["beta_slow"])), dim // 2 - 1)
    ramp = np.zeros(dim // 2, dtype=F32)
    for i in range(dim // 2):
        ramp[i] = 0.0 if i < low else 1.0 if i >= high else (i - low) / max(high - low, 1)
    factor = F32(yarn["factor"])
    return (freqs * (F32(1) - ramp) + (freqs / factor) * ramp).astype(F32)


def apply_rope(q, position, freqs, cfg):
    """q: [n_heads, head_dim]; rotates the last rope_dims dims as complex pairs."""
    rope_dims = cfg["rope_dims"]
    position = min(max(position, 0), cfg["max_position"] - 1)
    angles = (F32(position) * freqs).astype(F32)
    cos = np.cos(angles.astype(np.float64)).astype(F32)
    sin = np.sin(angles.astype(np.float64)).astype(F32)
    out = q.copy()
    pairs = out[:, q.shape[1] - rope_dims:].reshape(q.shape[0], rope_dims // 2, 2)
    re, im = pairs[..., 0].copy(), pairs[..., 1].copy()
    pairs[..., 0] = re * cos - im * sin
    pairs[..., 1] = re * sin + im * cos
    out[:, q.shape[1] - rope_dims:] = pairs.reshape(q.shape[0], rope_dims)
    return out


def hadamard_matrix(n):
    h = np.ones((1, 1), dtype=np.float64)
    while h.shape[0] < n:
        h = np.block([[h, h], [h, -h]])
    return h


def hadamard(x):
    """Normalized Walsh-Hadamard along the last dim, as an explicit matrix product."""
    n = x.shape[-1]
    return ((x.astype(np.float64) @ hadamard_matrix(n).T) / math.sqrt(n)).astype(F32)


def layer_logits(weights, cfg, hidden, position, keys):
    """keys: [n_chunks, key_dim] float32 (dequantized). Returns [n_chunks] logits."""
    a = weights["wq_a"] @ hidden
    a = (a / np.sqrt(np.mean(a * a) + F32(cfg["rms_norm_eps"])) * weights["q_norm"]).astype(F32)
    q = (weights["wq_b"] @ a).reshape(cfg["n_heads"], cfg["head_dim"]).astype(F32)
    q = apply_rope(q, position, rope_frequencies(cfg), cfg)
    q = hadamard(q)
    w = (weights["w_heads"] @ hidden) * F32(cfg["head_dim"] ** -0.5 * cfg["n_heads"] ** -0.5)
    if cfg["key_dim"] != cfg["head_dim"]:
        keys = keys @ weights["w_key"].T  # [n_chunks, head_dim]
    per_head = np.maximum(keys @ q.T, 0)  # [n_chunks, n_heads]
    return (per_head * w[None, :]).sum(-1).astype(F32)


def sigmoid(x):
    return (1.0 / (1.0 + np.exp(-x.astype(np.float64)))).astype(F32)


def chunk_key(token_keys_fp16):
    """[tokens, kv_heads, kv_dim] fp16 -> (codes [key_dim] u8, scale f32)."""
    tokens = token_keys_fp16.reshape(token_keys_fp16.shape[0], -1).astype(F32)
    total = np.zeros(tokens.shape[1], dtype=F32)
    for row in tokens:  # sequential fp32 sum, then one division
        total = (total + row).astype(F32)
    pooled = (total / F32(tokens.shape[0])).astype(F32)
    amax = F32(np.max(np.abs(pooled)))
    scale = F32(amax / F32(448.0)) if amax > 0 else F32(1.0)
    return e4m3_encode((pooled / scale).astype(F32)), scale


# ----------------------------------------------------------------------------------------
# Fixture
# ----------------------------------------------------------------------------------------


def make_case(out_dir, name, cfg, kv_heads, kv_dim, seed, n_chunks=20, chunk_tokens=8,
              positions=(5, 1234, 40000)):
    rng = np.random.default_rng(seed)
    d, r, nh, hd = cfg["d_model"], cfg["q_lora_rank"], cfg["n_heads"], cfg["head_dim"]
    assert cfg["key_dim"] == kv_heads * kv_dim
    layers = cfg["target_layers"]

    weight_tensors, per_layer = {}, []
    for layer in layers:
        wq_a = (rng.standard_normal((r, d)) / math.sqrt(d)).astype(F32)
        q_norm = (1.0 + 0.1 * rng.standard_normal(r)).astype(np.float16)
        wq_b_bits = to_bf16_bits(rng.standard_normal((nh * hd, r)) * 2.0 / math.sqrt(r))
        w_heads = (rng.standard_normal((nh, d)) * 0.5 / math.sqrt(d)).astype(F32)
        prefix = f"indexer.layers.{layer}."
        weight_tensors[prefix + "wq_a"] = plain(wq_a)
        weight_tensors[prefix + "q_norm"] = plain(q_norm)                # stored F16
        weight_tensors[prefix + "wq_b"] = ("BF16", wq_b_bits)            # stored BF16
        weight_tensors[prefix + "w_heads"] = plain(w_heads)
        weights = {"wq_a": wq_a, "q_norm": q_norm.astype(F32), "wq_b": from_bf16_bits(wq_b_bits),
                   "w_heads": w_heads}
        if cfg["key_dim"] != hd:
            w_key = (rng.standard_normal((hd, cfg["key_dim"])) / math.sqrt(cfg["key_dim"])).astype(F32)
            weight_tensors[prefix + "w_key"] = plain(w_key)
            weights["w_key"] = w_key
        per_layer.append(weights)
    write_safetensors(os.path.join(out_dir, f"{name}.weights.safetensors"), weight_tensors,
                      {"flashmemory.indexer": json.dumps(cfg)})

    n_layers, n_queries = len(layers), len(positions)
    # Post-RoPE keys of each chunk's tokens; a per-chunk offset makes chunks differ.
    token_keys = (rng.standard_normal((n_layers, n_chunks, chunk_tokens, kv_heads, kv_dim))
                  + 1.5 * rng.standard_normal((n_layers, n_chunks, 1, kv_heads, kv_dim))).astype(np.float16)
    codes = np.zeros((n_layers, n_chunks, cfg["key_dim"]), dtype=np.uint8)
    scales = np.zeros((n_layers, n_chunks), dtype=F32)
    for l in range(n_layers):
        for c in range(n_chunks):
            codes[l, c], scales[l, c] = chunk_key(token_keys[l, c])
    keys = e4m3_decode(codes) * scales[..., None]  # [L, N, key_dim]

    hidden = rng.standard_normal((n_queries, n_layers, d)).astype(F32)
    per_layer_logits = np.zeros((n_queries, n_layers, n_chunks), dtype=F32)
    for qi, position in enumerate(positions):
        for l in range(n_layers):
            per_layer_logits[qi, l] = layer_logits(per_layer[l], cfg, hidden[qi, l], position, keys[l])
    per_layer_scores = sigmoid(per_layer_logits)
    if cfg["ensemble"] == "max":
        scores = per_layer_scores.max(axis=1)
    else:
        scores = per_layer_scores.mean(axis=1).astype(F32)

    write_safetensors(os.path.join(out_dir, f"{name}.fixture.safetensors"), {
        "token_keys": ("F16", token_keys),                    # [L, N, T, kv_heads, kv_dim]
        "chunk_key_codes": ("U8", codes),                     # [L, N, key_dim] expected
        "chunk_key_scales": plain(scales),                    # [L, N] expected
        "hidden": plain(hidden),                              # [Q, L, d_model]
        "positions": plain(np.array(positions, dtype=np.int64)),  # [Q]
        "per_layer_logits": plain(per_layer_logits),          # [Q, L, N] expected, pre-sigmoid
        "per_layer_scores": plain(per_layer_scores),          # [Q, L, N] expected
        "scores": plain(scores.astype(F32)),                  # [Q, N] expected, ensembled
    })
    spread = per_layer_scores.reshape(-1)
    print(f"{name}: scores min {spread.min():.3f} mean {spread.mean():.3f} max {spread.max():.3f}, "
          f"{(spread > 0.5).mean() * 100:.0f}% above 0.5")


def main():
    parser = argparse.ArgumentParser()
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser.add_argument("--out", default=os.path.join(repo, "tests", "data", "indexer"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)

    basic = {"d_model": 64, "n_heads": 4, "head_dim": 32, "rope_dims": 16, "q_lora_rank": 16,
             "key_dim": 32, "target_layers": [3, 7], "ensemble": "max", "rms_norm_eps": 1e-6,
             "rope_base": 10000.0, "max_position": 65536, "round_query_to_bf16": False,
             "yarn": {"factor": 4.0, "original_context": 4096, "beta_fast": 32.0, "beta_slow": 1.0}}
    make_case(args.out, "basic", basic, kv_heads=2, kv_dim=16, seed=1)

    projected = dict(basic, key_dim=64, ensemble="mean", yarn=None, target_layers=[1, 4], rope_base=500000.0)
    make_case(args.out, "projected", projected, kv_heads=2, kv_dim=32, seed=2)


if __name__ == "__main__":
    main()
