#!/usr/bin/env python3
"""Makes tiny random DeepSeek-V4 checkpoints and their transformers reference logits.

  .venv-dsv4/bin/python python/deepseek4/make_tiny.py            # every config
  .venv-dsv4/bin/python python/deepseek4/make_tiny.py --only hca-csa

For each config in CONFIGS this writes tests/data/deepseek4/<name>/:
  config.json, model.safetensors   the HF checkpoint (fp32), as transformers saves it
  tokenizer.json, tokenizer_config.json
                                   a byte-level BPE vocabulary (258 symbols + 14 merges);
                                   only needed so that llama.cpp's converter has a vocabulary
  reference_logits.npz             fp32 logits of transformers' DeepseekV4ForCausalLM for
                                   every position of fixed token sequences, plus greedy
                                   continuations (see write_references)

The weights are random with a fixed seed, drawn at scales that give O(1) activations (the
library's own init, std 0.02 with zero sinks, zero compressor position biases and zero
hyper-connection biases, makes every logit nearly equal, which would hide most mistakes).
The routed experts' weights are rounded to MXFP4 (e2m1 values with one power-of-two scale
per 32 inputs) because DeepSeek ships V4's experts in that format and llama.cpp's converter
only accepts experts in it: with exactly representable values both references see the same
numbers. python/deepseek4/convert_gguf.py writes the GGUF; docs/deepseek-v4.md explains it all.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
import transformers

from transformers import DeepseekV4Config, DeepseekV4ForCausalLM

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
OUT_ROOT = os.path.join(REPO, "tests", "data", "deepseek4")

# Reference sequence lengths. The smallest window is 4 and the compression ratios are 4
# (CSA) and 128 (HCA), so 5 and 17 stay below HCA's first entry, 100 is long enough for
# 25 CSA entries, and 300 closes two HCA windows (128 and 256) with a partial third.
SEQUENCE_LENGTHS = (5, 17, 40, 100, 300)
GREEDY_PROMPT_LENGTH = 17
GREEDY_NEW_TOKENS = 24  # 17 + 24 = 41: the continuation crosses window and CSA boundaries

# The tokenizer: bos, eos, the 256 byte symbols of GPT-2's byte-level alphabet, then these
# merges (byte-level spelling: "Ġ" is a space). The vocabulary size follows from them.
SPECIAL_TOKENS = ("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>")
MERGES = (("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("i", "n"), ("Ġ", "a"), ("e", "r"), ("o", "n"),
          ("Ġ", "s"), ("r", "e"), ("a", "t"), ("e", "n"), ("Ġ", "o"), ("o", "r"), ("Ġ", "w"))
VOCAB_SIZE = len(SPECIAL_TOKENS) + 256 + len(MERGES)  # 272

# transformers' own DeepseekV4 model test (tests/models/deepseek_v4) builds this config;
# every tiny config here starts from it. llama.cpp's loader accepts compression ratios
# 0 (sliding window only), 4 (CSA) and 128 (HCA) only, so those stay at V4's values.
TEST_CONFIG = dict(
    vocab_size=VOCAB_SIZE,  # the test uses 99; a byte-level vocabulary needs 258 or more
    hidden_size=64,
    num_attention_heads=4,
    num_key_value_heads=1,
    num_hidden_layers=2,
    num_experts_per_tok=2,
    moe_intermediate_size=64,
    max_position_embeddings=4096,  # the test's 64 is shorter than the longest sequence
    head_dim=32,
    partial_rotary_factor=8 / 32,  # rope on the last 8 of 32 channels of each head
    q_lora_rank=32,
    o_groups=2,
    o_lora_rank=16,
    n_routed_experts=4,
    n_shared_experts=1,
    mlp_layer_types=["moe", "moe"],
    layer_types=["heavily_compressed_attention", "compressed_sparse_attention"],
    sliding_window=8,
    hc_mult=2,
    hc_sinkhorn_iters=3,
    hc_eps=1.0e-6,
    index_n_heads=2,
    index_head_dim=16,
    index_topk=2,
    num_nextn_predict_layers=0,
    scoring_func="sqrtsoftplus",
    routed_scaling_factor=1.5,
    swiglu_limit=10.0,
    rope_theta=10000.0,
    compress_rope_theta=160000.0,
    bos_token_id=0,
    eos_token_id=1,
)


def variant(**changes):
    config = dict(TEST_CONFIG)
    config.update(changes)
    return config


# What llama.cpp's deepseek4 needs beyond the compression ratios: its graph asserts
# hc_mult == 4 (V4's value), and it multiplies the lightning indexer's queries and keys by a
# Hadamard matrix of at least 64 x 64, so index_head_dim must be a multiple of 64.
LLAMACPP_SHAPE = dict(hc_mult=4, index_head_dim=64)

# name -> (seed, config kwargs, what the variant adds). Every config but "test-hc2" takes
# LLAMACPP_SHAPE.
CONFIGS = {
    "hca-csa": (1701, variant(**LLAMACPP_SHAPE),
                "transformers' test config (one HCA layer, one CSA layer) with 4 hyper-connection "
                "streams instead of 2 and indexer heads of 64 instead of 16"),
    "hash-swa-4l": (1702, variant(
        num_hidden_layers=4,
        layer_types=["heavily_compressed_attention", "compressed_sparse_attention",
                     "sliding_attention", "compressed_sparse_attention"],
        mlp_layer_types=["hash_moe", "moe", "moe", "moe"],
        sliding_window=16, index_topk=4, n_routed_experts=8, moe_intermediate_size=32,
        hc_sinkhorn_iters=20, **LLAMACPP_SHAPE),
        "4 layers with a sliding-only layer, a hash-routed first MoE layer, window 16, "
        "top-k 4, 8 experts, 20 Sinkhorn steps (V4's value)"),
    "csa-wide": (1703, variant(
        num_hidden_layers=3,
        layer_types=["compressed_sparse_attention", "heavily_compressed_attention",
                     "compressed_sparse_attention"],
        mlp_layer_types=["moe", "moe", "moe"],
        num_attention_heads=8, o_groups=4, sliding_window=4, index_n_heads=4, index_topk=8,
        n_routed_experts=6, num_experts_per_tok=3, moe_intermediate_size=32, **LLAMACPP_SHAPE),
        "3 layers starting with CSA, 8 heads in 4 output groups, window 4, indexer 4 heads "
        "with top-k 8, 6 experts top-3"),
    "test-hc2": (1704, variant(),
                 "transformers' test config exactly (2 hyper-connection streams): a transformers "
                 "reference only (llama.cpp's graph asserts hc_mult == 4)"),
}
# configs llama.cpp can run (convert_gguf.py converts all; llamacpp_reference.py runs these)
LLAMACPP_CONFIGS = tuple(name for name in CONFIGS if CONFIGS[name][1]["hc_mult"] == 4)


# ---------------------------------------------------------------------------------------
# weights


def _normal(generator, shape, std, mean=0.0):
    return torch.randn(shape, generator=generator, dtype=torch.float32) * std + mean


E2M1_MAGNITUDES = torch.tensor([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0])


def mxfp4_quantize(weight):
    """[rows, cols] fp32 -> (codes uint8 [rows, cols], exponents int [rows, cols/32]).

    OCP MX rule: a block of 32 shares the scale 2^(floor(log2(amax)) - 2) (2 is e2m1's
    largest exponent), each element is the nearest e2m1 value (0.5 steps up to 2, then
    3, 4, 6; beyond 6 clamps). The code is sign << 3 | magnitude index.
    """
    rows, cols = weight.shape
    assert cols % 32 == 0, "MXFP4 blocks are 32 wide along the input dimension"
    blocks = weight.reshape(rows, cols // 32, 32)
    amax = blocks.abs().amax(dim=-1)
    exponent = torch.where(amax > 0, torch.floor(torch.log2(amax.clamp_min(1e-30))) - 2,
                           torch.full_like(amax, -127)).clamp(-127, 127)
    scaled = blocks / torch.exp2(exponent).unsqueeze(-1)
    distance = (scaled.abs().unsqueeze(-1) - E2M1_MAGNITUDES).abs()
    magnitude_index = distance.argmin(dim=-1)
    sign = (scaled < 0) & (magnitude_index > 0)
    codes = (sign.to(torch.uint8) << 3) | magnitude_index.to(torch.uint8)
    return codes.reshape(rows, cols), exponent.to(torch.int64)


def mxfp4_dequantize(codes, exponent):
    rows, cols = codes.shape
    magnitude = E2M1_MAGNITUDES[(codes & 7).long()]
    value = torch.where((codes >> 3).bool(), -magnitude, magnitude)
    return (value.reshape(rows, cols // 32, 32) * torch.exp2(exponent.float()).unsqueeze(-1)).reshape(rows, cols)


def randomize(model, seed):
    """Draws every parameter and routing buffer from one seeded generator, by name order."""
    generator = torch.Generator().manual_seed(seed)
    config = model.config
    with torch.no_grad():
        for name, param in sorted(model.named_parameters()):
            leaf = name.rsplit(".", 1)[-1]
            if "norm" in name:  # every RMSNorm weight (q_a_norm, kv_norm, layer norms, ...)
                value = _normal(generator, param.shape, 0.1, mean=1.0)
            elif leaf == "sinks":
                value = _normal(generator, param.shape, 1.0)
            elif leaf == "position_bias":
                value = _normal(generator, param.shape, 0.5)
            elif leaf in ("base", "hc_base"):
                value = _normal(generator, param.shape, 0.5)
            elif leaf in ("scale", "hc_scale"):
                value = _normal(generator, param.shape, 0.1, mean=1.0)
            elif name.endswith("embed_tokens.weight"):
                value = _normal(generator, param.shape, 1.0)
            elif name == "lm_head.weight":
                value = _normal(generator, param.shape, 2.0 / param.shape[-1] ** 0.5)
            else:  # projections, hyper-connection fn, experts: fan-in scaling
                value = _normal(generator, param.shape, 1.0 / param.shape[-1] ** 0.5)
            param.copy_(value)

        add_constant_channel(model)

        for layer in model.model.layers:
            gate = layer.mlp.gate
            if hasattr(gate, "e_score_correction_bias"):
                gate.e_score_correction_bias.copy_(_normal(generator, gate.e_score_correction_bias.shape, 0.1))
            if hasattr(gate, "tid2eid"):
                # each token goes to top-k distinct experts, as V4's hash tables do
                picks = torch.stack([torch.randperm(config.n_routed_experts, generator=generator)[: gate.top_k]
                                     for _ in range(config.vocab_size)])
                gate.tid2eid.copy_(picks)
            experts = layer.mlp.experts
            for tensor in (experts.gate_up_proj, experts.down_proj):
                for expert in range(tensor.shape[0]):
                    codes, exponent = mxfp4_quantize(tensor[expert])
                    tensor[expert].copy_(mxfp4_dequantize(codes, exponent))


# The residual stream's constant channel and how strongly the indexer reads it (see below).
CONSTANT_CHANNEL_VALUE = 8.0
INDEXER_WEIGHT_FROM_CONSTANT = 1.5
QUERY_LORA_FROM_CONSTANT = 0.5
INDEXER_NOPE_FROM_CONSTANT = 0.07


def add_constant_channel(model):
    """Gives channel 0 of every embedding the value +8 and lets the lightning indexer read it.

    The indexer scores a compressed entry s for query t as sum_h w[t,h] * relu(q[t,h] . k[s]).
    With plain random weights half of the dot products are negative and half of the head
    weights w are, so a quarter of the entries score exactly 0 (two heads) and about one
    query in seven has a tie at the top-k boundary: which entry wins is then up to the
    sort's tie order, which no two implementations share. Real checkpoints do not look like
    that (their residual streams carry large constant channels, and 64 heads). Here the
    constant channel reaches every layer through the hyper-connections (their mixes are
    convex, so the constant survives), and:
      - weights_proj reads it with +1.5, so w[t,h] > 0;
      - q_a_proj reads it with +0.5 and the indexer's q_b_proj and compressor kv_proj
        map the (then positive) low-rank query and hidden state onto the non-rotated
        channels of every head, so q . k is positive: no relu zeros, no ties.
    """
    config = model.config
    # the rotary tables are sized from the attention head (head_dim * partial_rotary_factor)
    # and applied to the trailing channels of the indexer's heads too
    rope_channels = int(config.head_dim * config.partial_rotary_factor)
    nope_channels = config.index_head_dim - rope_channels
    model.model.embed_tokens.weight[:, 0] = CONSTANT_CHANNEL_VALUE
    for layer in model.model.layers:
        attention = layer.self_attn
        attention.q_a_proj.weight[:, 0] = QUERY_LORA_FROM_CONSTANT
        if config.layer_types[layer.self_attn.layer_idx] != "compressed_sparse_attention":
            continue
        indexer = attention.compressor.indexer
        indexer.scorer.weights_proj.weight[:, 0] = INDEXER_WEIGHT_FROM_CONSTANT
        query = indexer.q_b_proj.weight.view(config.index_n_heads, config.index_head_dim, -1)
        query[:, :nope_channels, :] += INDEXER_NOPE_FROM_CONSTANT
        key = indexer.kv_proj.weight.view(2, config.index_head_dim, -1)  # the two series Ca, Cb
        key[:, :nope_channels, 0] += 1.0


def build_model(name):
    seed, config_kwargs, _ = CONFIGS[name]
    torch.manual_seed(seed)
    config = DeepseekV4Config(**config_kwargs)
    config._attn_implementation = "eager"
    model = DeepseekV4ForCausalLM(config).eval()
    randomize(model, seed)
    return model


# ---------------------------------------------------------------------------------------
# tokenizer


def write_tokenizer(directory):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    vocab = {token: i for i, token in enumerate(SPECIAL_TOKENS)}
    for symbol in bytes_to_unicode().values():
        vocab[symbol] = len(vocab)
    for left, right in MERGES:
        vocab[left + right] = len(vocab)
    assert len(vocab) == VOCAB_SIZE
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=list(MERGES)))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens(list(SPECIAL_TOKENS))
    tokenizer.save(os.path.join(directory, "tokenizer.json"))
    with open(os.path.join(directory, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": SPECIAL_TOKENS[0],
                   "eos_token": SPECIAL_TOKENS[1], "add_bos_token": False, "model_max_length": 4096},
                  f, indent=2, ensure_ascii=False)
        f.write("\n")


# ---------------------------------------------------------------------------------------
# references


def reference_tokens(length, seed):
    """Fixed token ids in [2, vocab): never bos or eos, so no engine treats them specially."""
    rng = np.random.default_rng(seed * 1000 + length)
    return rng.integers(2, VOCAB_SIZE, size=length, dtype=np.int64)


@torch.no_grad()
def full_logits(model, tokens):
    ids = torch.as_tensor(np.asarray(tokens, dtype=np.int64)).unsqueeze(0)
    return model(input_ids=ids, use_cache=True).logits[0].float().numpy()


@torch.no_grad()
def prefill_in_parts(model, tokens, boundaries):
    """Logits of every position when the sequence is fed in several calls through one cache,
    split before each index in boundaries (the path a chunked prefill takes)."""
    cache, parts, start = None, [], 0
    for end in list(boundaries) + [len(tokens)]:
        ids = torch.as_tensor(np.asarray(tokens[start:end], dtype=np.int64)).unsqueeze(0)
        out = model(input_ids=ids, cache=cache, use_cache=True)
        cache = out.cache
        parts.append(out.logits[0].float().numpy())
        start = end
    return np.concatenate(parts)


@torch.no_grad()
def greedy(model, prompt, new_tokens):
    """Greedy decoding through the cache, one token per forward (the decode path:
    compressor buffers, CSA overlap state and the sliding ring all carry over)."""
    ids = torch.as_tensor(np.asarray(prompt, dtype=np.int64)).unsqueeze(0)
    out = model(input_ids=ids, use_cache=True)
    cache, step_logits, tokens = out.cache, [out.logits[0, -1].float()], []
    for _ in range(new_tokens):
        token = int(step_logits[-1].argmax())
        tokens.append(token)
        out = model(input_ids=torch.tensor([[token]]), cache=cache, use_cache=True)
        cache = out.cache
        step_logits.append(out.logits[0, -1].float())
    return np.asarray(tokens, dtype=np.int64), torch.stack(step_logits[:-1]).numpy()


class SelectionMargins:
    """Records, during a forward, how close each discrete choice came to going the other way:
    the gap between the k-th and (k+1)-th score of the lightning indexer (over the entries a
    query may see) and of the MoE router (learned top-k layers). Another implementation whose
    scores differ by more than the gap may pick differently, and its logits then differ by far
    more than rounding; the gaps say how much rounding the references tolerate."""

    def __init__(self, model):
        self.indexer_gap = float("inf")
        self.router_gap = float("inf")
        self.handles = []
        config = model.config
        for layer in model.model.layers:
            compressor = layer.self_attn.compressor
            if compressor is not None and hasattr(compressor, "indexer"):
                self.handles.append(compressor.indexer.scorer.register_forward_hook(
                    self._indexer_hook(config.index_topk, compressor.compress_rate)))
            gate = layer.mlp.gate
            if hasattr(gate, "e_score_correction_bias"):
                self.handles.append(gate.register_forward_hook(self._router_hook(gate)))

    def _indexer_hook(self, top_k, compress_rate):
        def hook(module, inputs, scores):
            scores = scores[0]  # [queries, entries]; prefill from position 0
            for query in range(scores.shape[0]):
                visible = (query + 1) // compress_rate
                if visible > top_k:
                    ranked = torch.sort(scores[query, :visible], descending=True).values
                    self.indexer_gap = min(self.indexer_gap, float(ranked[top_k - 1] - ranked[top_k]))
        return hook

    def _router_hook(self, gate):
        def hook(module, inputs, outputs):
            logits = outputs[0]
            ranked = torch.sort(gate.score_fn(logits) + gate.e_score_correction_bias, dim=-1, descending=True).values
            self.router_gap = min(self.router_gap, float((ranked[:, gate.top_k - 1] - ranked[:, gate.top_k]).min()))
        return hook

    def close(self):
        for handle in self.handles:
            handle.remove()


def write_references(model, name, directory):
    seed = CONFIGS[name][0]
    arrays, summary = {}, {}
    for length in SEQUENCE_LENGTHS:
        tokens = reference_tokens(length, seed)
        margins = SelectionMargins(model)
        logits = full_logits(model, tokens)
        margins.close()
        arrays[f"tokens_{length}"] = tokens.astype(np.int32)
        arrays[f"logits_{length}"] = logits.astype(np.float32)
        top_two = np.sort(logits, axis=-1)[:, -2:]
        summary[length] = dict(logit_std=round(float(logits.std()), 4),
                               argmax_gap_min=float(np.min(top_two[:, 1] - top_two[:, 0])),
                               # None: no query had more visible entries than top-k
                               indexer_gap_min=None if margins.indexer_gap == float("inf") else margins.indexer_gap,
                               router_gap_min=None if margins.router_gap == float("inf") else margins.router_gap)

    prompt = reference_tokens(GREEDY_PROMPT_LENGTH, seed + 1)
    continuation, step_logits = greedy(model, prompt, GREEDY_NEW_TOKENS)
    arrays["greedy_prompt"] = prompt.astype(np.int32)
    arrays["greedy_tokens"] = continuation.astype(np.int32)
    arrays["greedy_step_logits"] = step_logits.astype(np.float32)  # logits that chose each token

    # The decode path against one forward over prompt + continuation: the same numbers up to
    # rounding, or a cache bug in whichever side disagrees.
    whole = full_logits(model, np.concatenate([prompt, continuation]))
    decode_vs_prefill = float(np.abs(whole[GREEDY_PROMPT_LENGTH - 1:-1] - step_logits).max())
    np.savez_compressed(os.path.join(directory, "reference_logits.npz"), **arrays)
    return summary, decode_vs_prefill


def parameter_count(model):
    return sum(p.numel() for p in model.parameters())


def make(name):
    directory = os.path.join(OUT_ROOT, name)
    os.makedirs(directory, exist_ok=True)
    model = build_model(name)
    model.save_pretrained(directory)
    write_tokenizer(directory)
    summary, decode_vs_prefill = write_references(model, name, directory)
    info = dict(name=name, seed=CONFIGS[name][0], description=CONFIGS[name][2],
                parameters=parameter_count(model), sequence_lengths=list(SEQUENCE_LENGTHS),
                greedy_prompt_length=GREEDY_PROMPT_LENGTH, greedy_new_tokens=GREEDY_NEW_TOKENS,
                decode_vs_prefill_max_abs_diff=decode_vs_prefill,
                per_length={str(length): stats for length, stats in summary.items()},
                made_with=dict(torch=torch.__version__, transformers=transformers.__version__,
                               command="python/deepseek4/make_tiny.py"))
    with open(os.path.join(directory, "reference.json"), "w") as f:
        json.dump(info, f, indent=1, allow_nan=False)
        f.write("\n")
    print(f"{name}: {info['parameters']:,} parameters; decode-vs-prefill max |diff| {decode_vs_prefill:.2e}")
    for length, stats in summary.items():
        print(f"  length {length:4d}: logit std {stats['logit_std']:.2f}, smallest gap: argmax "
              f"{stats['argmax_gap_min']:.2g}, indexer top-k {stats['indexer_gap_min']}, "
              f"router top-k {stats['router_gap_min']}")
    return decode_vs_prefill


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", choices=sorted(CONFIGS), help="make just these configs")
    args = parser.parse_args()
    torch.set_num_threads(1)  # the same reduction order on every machine
    transformers.utils.logging.disable_progress_bar()
    for name in args.only or CONFIGS:
        make(name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
