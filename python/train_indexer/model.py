"""The Memory Indexer in PyTorch: the function src/memory/indexer.h computes, trainable.

Same arithmetic as the C++ MemoryIndexer and python/indexer_reference.py (docs/indexer.md),
per target layer t, hidden h [d_model] at position p:
    a   = RMSNorm(W_qa h) * q_norm                        eps inside the sqrt
    q   = (W_qb a).reshape(n_heads, head_dim)
    q_h = Hadamard(RoPE(q_h, p))  RoPE on the last rope_dims dims, pairs (2i, 2i+1), YaRN
                                  optional; Sylvester Hadamard divided by sqrt(head_dim)
    w   = (W_w h) * head_dim^-1/2 * n_heads^-1/2
    key = fp8_e4m3(codes) * scale, through W_k [head_dim, key_dim] when key_dim != head_dim
    logit(chunk) = sum_h w_h relu(key . q_h);  score = sigmoid(logit); ensemble max|mean.
The key projection is folded into the query (key . (W_k^T q_h) == (W_k key) . q_h), as
the C++ does, so the per-chunk work is key_dim * n_heads.

Weights of all target layers are stacked on a leading [n_layers] axis so one einsum serves
every layer. The file layout is the engine's (src/memory/indexer_loader.cpp): nn.Linear
[out, in] matrices named "indexer.layers.<model layer id>.<name>", F32, config JSON under
__metadata__["flashmemory.indexer"].
"""

import json
import math

import numpy as np
import torch
from torch import nn

CONFIG_METADATA_KEY = "flashmemory.indexer"

# ----------------------------------------------------------------------------------------
# fp8 e4m3 (OCP "FN": no infinity, S.1111.111 is NaN, max 448), as src/core/fp8.h
# ----------------------------------------------------------------------------------------


def _e4m3_value(code):
    sign = -1.0 if code & 0x80 else 1.0
    exponent, mantissa = (code >> 3) & 0xF, code & 0x7
    if exponent == 0xF and mantissa == 0x7:
        return math.nan
    if exponent == 0:
        return sign * (mantissa / 8.0) * 2.0 ** -6
    return sign * (1.0 + mantissa / 8.0) * 2.0 ** (exponent - 7)


E4M3_TABLE = np.array([_e4m3_value(c) for c in range(256)], dtype=np.float32)  # [256]


def decode_chunk_keys(codes, scales):
    """codes uint8 [..., key_dim], scales float32 [...] -> float32 [..., key_dim]:
    the fp8 value times the chunk's scale, one float32 rounding (as the runtime)."""
    values = E4M3_TABLE[np.asarray(codes)]
    return (values * np.asarray(scales, dtype=np.float32)[..., None]).astype(np.float32)


def e4m3_encode(x):
    """Vectorized float -> e4m3 code: nearest value, ties to the even code, |x| >= 448
    saturates, NaN -> 0x7f. Same result as indexer_reference.e4m3_encode (tested)."""
    x = np.asarray(x, dtype=np.float64)
    positive = E4M3_TABLE[:0x7F].astype(np.float64)  # codes 0x00..0x7e, increasing
    magnitude = np.minimum(np.abs(x), 448.0)
    upper = np.clip(np.searchsorted(positive, magnitude, side="left"), 1, 0x7E)
    lower = upper - 1
    d_low, d_up = magnitude - positive[lower], positive[upper] - magnitude
    code = np.where(d_low < d_up, lower, np.where(d_up < d_low, upper, np.where(lower % 2 == 0, lower, upper)))
    code = np.where(magnitude >= positive[0x7E], 0x7E, code)
    code = np.where(magnitude <= 0.0, 0, code)
    sign = np.where(np.signbit(x), 0x80, 0)
    out = (sign | code).astype(np.uint8)
    out[np.isnan(x)] = 0x7F
    return out


# ----------------------------------------------------------------------------------------
# Config (the JSON object of src/memory/indexer_config.h)
# ----------------------------------------------------------------------------------------


def default_config(dump_config, n_heads=8, head_dim=64, rope_dims=32, q_lora_rank=128, ensemble="max"):
    """Indexer config for a dump: model-side fields from dump_config.json."""
    return {
        "d_model": int(dump_config["d_model"]), "n_heads": n_heads, "head_dim": head_dim,
        "rope_dims": rope_dims, "q_lora_rank": q_lora_rank, "key_dim": int(dump_config["key_dim"]),
        "target_layers": [int(t) for t in dump_config["target_layers"]], "ensemble": ensemble,
        "rms_norm_eps": 1e-6, "rope_base": float(dump_config["rope_base"]), "max_position": 524288,
        "yarn": None, "round_query_to_bf16": False,
        # Gemma's residual stream has norms ~1e4: normalise it before the projections.
        "input_rms_norm": True,
    }


def validate_config(cfg):
    hd = cfg["head_dim"]
    assert hd > 0 and hd & (hd - 1) == 0, "head_dim must be a power of two (Hadamard)"
    assert 0 <= cfg["rope_dims"] <= hd and cfg["rope_dims"] % 2 == 0, "rope_dims: even, <= head_dim"
    assert cfg["ensemble"] in ("max", "mean")
    assert len(cfg["target_layers"]) > 0


def rope_frequencies(cfg):
    """[rope_dims / 2] float32, bit-for-bit as indexer_rope_frequencies() in C++."""
    dim = cfg["rope_dims"]
    if dim == 0:
        return np.zeros(0, dtype=np.float32)
    base = np.float32(cfg["rope_base"])
    exponents = (np.arange(0, dim, 2).astype(np.float32) / np.float32(dim)).astype(np.float32)
    power = (np.float64(base) ** exponents.astype(np.float64)).astype(np.float32)
    freqs = (np.float32(1.0) / power).astype(np.float32)
    yarn = cfg.get("yarn")
    if not yarn:
        return freqs

    def correction_dim(rotations):
        return dim * math.log(yarn["original_context"] / (rotations * 2 * math.pi)) / (2 * math.log(cfg["rope_base"]))

    low = max(math.floor(correction_dim(yarn["beta_fast"])), 0)
    high = min(math.ceil(correction_dim(yarn["beta_slow"])), dim // 2 - 1)
    ramp = np.array([0.0 if i < low else 1.0 if i >= high else (i - low) / max(high - low, 1)
                     for i in range(dim // 2)], dtype=np.float32)
    factor = np.float32(yarn["factor"])
    return (freqs * (np.float32(1) - ramp) + (freqs / factor) * ramp).astype(np.float32)


def _round_to_bf16_straight_through(x):
    # Forward: round to nearest even bf16 (the C++ round_to_bf16); backward: identity.
    return x + (x.to(torch.bfloat16).to(x.dtype) - x).detach()


# ----------------------------------------------------------------------------------------
# The network
# ----------------------------------------------------------------------------------------


class MemoryIndexer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        validate_config(cfg)
        self.cfg = dict(cfg)
        n_layers = len(cfg["target_layers"])
        d, r = cfg["d_model"], cfg["q_lora_rank"]
        nh, hd, kd = cfg["n_heads"], cfg["head_dim"], cfg["key_dim"]
        self.wq_a = nn.Parameter(torch.zeros(n_layers, r, d))           # W_qa [q_lora_rank, d_model]
        self.q_norm = nn.Parameter(torch.ones(n_layers, r))             # [q_lora_rank]
        self.wq_b = nn.Parameter(torch.zeros(n_layers, nh * hd, r))     # W_qb [n_heads*head_dim, q_lora_rank]
        self.w_heads = nn.Parameter(torch.zeros(n_layers, nh, d))       # W_w [n_heads, d_model]
        self.has_key_projection = kd != hd
        if self.has_key_projection:
            self.w_key = nn.Parameter(torch.zeros(n_layers, hd, kd))    # W_k [head_dim, key_dim]
        else:
            self.register_parameter("w_key", None)
        freqs = torch.from_numpy(rope_frequencies(cfg))
        self.register_buffer("rope_freqs", freqs, persistent=False)     # [rope_dims / 2]
        sylvester = np.ones((1, 1))
        while sylvester.shape[0] < hd:
            sylvester = np.block([[sylvester, sylvester], [sylvester, -sylvester]])
        self.register_buffer("hadamard", torch.from_numpy(sylvester.astype(np.float32)), persistent=False)
        # Python float -> float32 once, as the C++ weight_scale.
        self.head_weight_scale = float(np.float32(hd ** -0.5 * nh ** -0.5))

    def reset_parameters(self, generator=None):
        """Random init (nn.Linear-like fan-in scaling). train.py rescales w_heads from data."""
        cfg = self.cfg
        d, r, kd = cfg["d_model"], cfg["q_lora_rank"], cfg["key_dim"]
        with torch.no_grad():
            self.wq_a.normal_(0.0, d ** -0.5, generator=generator)
            self.q_norm.fill_(1.0)
            self.wq_b.normal_(0.0, r ** -0.5, generator=generator)
            self.w_heads.normal_(0.0, d ** -0.5, generator=generator)
            if self.w_key is not None:
                self.w_key.normal_(0.0, kd ** -0.5, generator=generator)
        return self

    # -- query side ----------------------------------------------------------------------
    def _rope(self, q, positions):
        """q [..., n_heads, head_dim]; positions int [...] (broadcast over heads)."""
        rope_dims = self.cfg["rope_dims"]
        if rope_dims == 0:
            return q
        p = positions.to(torch.int64).clamp(0, self.cfg["max_position"] - 1).to(torch.float32)
        angles = p[..., None] * self.rope_freqs                       # [..., rope_dims/2] fp32
        cos = torch.cos(angles.double()).float()[..., None, :]        # [..., 1, rope_dims/2]
        sin = torch.sin(angles.double()).float()[..., None, :]
        hd = q.shape[-1]
        plain, rotated = q[..., : hd - rope_dims], q[..., hd - rope_dims:]
        re, im = rotated[..., 0::2], rotated[..., 1::2]
        out = torch.stack((re * cos - im * sin, re * sin + im * cos), dim=-1).flatten(-2)
        return torch.cat((plain, out), dim=-1)

    def query(self, hidden, positions):
        """hidden [..., n_layers, d_model], positions int [...] ->
        query_by_key [..., n_layers, n_heads, key_dim] (q_h, through W_k when present) and
        head_weights [..., n_layers, n_heads] (scale included)."""
        cfg = self.cfg
        nh, hd = cfg["n_heads"], cfg["head_dim"]
        if cfg.get("input_rms_norm"):
            hidden = hidden / torch.sqrt(torch.mean(hidden * hidden, dim=-1, keepdim=True)
                                         + float(np.float32(cfg["rms_norm_eps"])))
        a = torch.einsum("...ld,lrd->...lr", hidden, self.wq_a)
        a = a / torch.sqrt(torch.mean(a * a, dim=-1, keepdim=True) + float(np.float32(cfg["rms_norm_eps"])))
        a = a * self.q_norm
        q = torch.einsum("...lr,lor->...lo", a, self.wq_b)
        q = q.reshape(*q.shape[:-1], nh, hd)                           # [..., L, nh, hd]
        if cfg.get("round_query_to_bf16"):
            q = _round_to_bf16_straight_through(q)
        q = self._rope(q, positions[..., None])
        if cfg.get("round_query_to_bf16") and cfg["rope_dims"] > 0:
            q = torch.cat((q[..., : hd - cfg["rope_dims"]],
                           _round_to_bf16_straight_through(q[..., hd - cfg["rope_dims"]:])), dim=-1)
        q = (q @ self.hadamard.T) / math.sqrt(hd)
        if self.w_key is not None:
            q = torch.einsum("...lnh,lhk->...lnk", q, self.w_key)     # W_k^T q_h  [..., L, nh, kd]
        w = torch.einsum("...ld,lnd->...ln", hidden, self.w_heads) * self.head_weight_scale
        return q, w

    # -- scoring -------------------------------------------------------------------------
    def logits_grouped(self, hidden, positions, keys, entries=1):
        """Samples grouped by document, which share their chunk keys.
        hidden [D, S, L, d_model], positions [D, S], keys [D, L, C * entries, key_dim]
        (dequantized; entries consecutive keys per chunk) -> per-layer logits [D, S, L, C]:
        a chunk's logit is its best entry's, as the runtime's --indexer-entry-tokens."""
        q, w = self.query(hidden, positions)                            # [D,S,L,nh,kd], [D,S,L,nh]
        per_head = torch.relu(torch.einsum("dslnk,dlck->dslcn", q, keys))
        logits = torch.einsum("dslcn,dsln->dslc", per_head, w)
        if entries == 1:
            return logits
        D, S, L, CE = logits.shape
        return logits.view(D, S, L, CE // entries, entries).amax(-1)

    def logits(self, hidden, position, keys):
        """One query: hidden [L, d_model], position int, keys [L, C, key_dim] -> [L, C]."""
        pos = torch.as_tensor([[position]], dtype=torch.int64)
        return self.logits_grouped(hidden[None, None], pos, keys[None])[0, 0]

    def ensemble(self, per_layer_logits, layer_dim=-2):
        """Per-layer logits -> ensembled scores in [0, 1] (sigmoid, then max or mean)."""
        s = torch.sigmoid(per_layer_logits)
        return s.amax(dim=layer_dim) if self.cfg["ensemble"] == "max" else s.mean(dim=layer_dim)

    # -- file format ---------------------------------------------------------------------
    def native_tensors(self):
        """name -> float32 contiguous CPU tensor, in the engine's layout."""
        out = {}
        for i, layer in enumerate(self.cfg["target_layers"]):
            prefix = f"indexer.layers.{layer}."
            out[prefix + "wq_a"] = self.wq_a[i]
            out[prefix + "q_norm"] = self.q_norm[i]
            out[prefix + "wq_b"] = self.wq_b[i]
            out[prefix + "w_heads"] = self.w_heads[i]
            if self.w_key is not None:
                out[prefix + "w_key"] = self.w_key[i]
        return {k: v.detach().to(torch.float32).contiguous().cpu().clone() for k, v in out.items()}

    def save(self, path):
        from safetensors.torch import save_file
        save_file(self.native_tensors(), path, metadata={CONFIG_METADATA_KEY: json.dumps(self.cfg)})

    @classmethod
    def load(cls, path):
        """From a native-layout file (F32/F16/BF16 accepted, as the C++ loader). Config
        from __metadata__, else from <path>.json."""
        from safetensors import safe_open
        with safe_open(path, framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
        if CONFIG_METADATA_KEY in meta:
            cfg = json.loads(meta[CONFIG_METADATA_KEY])
        else:
            with open(path + ".json") as side:
                cfg = json.load(side)
        cfg.setdefault("key_dim", cfg["head_dim"])
        cfg.setdefault("yarn", None)
        cfg.setdefault("round_query_to_bf16", False)
        cfg.setdefault("max_position", 524288)
        cfg.setdefault("rms_norm_eps", 1e-6)
        cfg.setdefault("ensemble", "max")
        model = cls(cfg)
        with torch.no_grad():
            for i, layer in enumerate(cfg["target_layers"]):
                prefix = f"indexer.layers.{layer}."
                for name in ("wq_a", "q_norm", "wq_b", "w_heads") + (("w_key",) if model.w_key is not None else ()):
                    t = tensors[prefix + name]
                    target = getattr(model, name)[i]
                    if tuple(t.shape) != tuple(target.shape):
                        raise ValueError(f"{path}: tensor {prefix + name} has shape {tuple(t.shape)}, "
                                         f"expected {tuple(target.shape)}")
                    target.copy_(t.to(torch.float32))
        return model
