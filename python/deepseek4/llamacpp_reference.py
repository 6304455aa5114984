#!/usr/bin/env python3
"""llama.cpp's logits on the tiny DeepSeek-V4 GGUFs: a second reference beside transformers'.

  .venv-dsv4/bin/python python/deepseek4/llamacpp_reference.py [--only NAME] [--no-write]

Needs llama-cpp-python (0.3.36 here; its llama.cpp has the deepseek4 architecture) and the
model.gguf files from convert_gguf.py. For every config it evaluates the same token sequences
as reference_logits.npz in one batch each (logits for every position), greedy-decodes the
same prompt one token per call, prints max and mean |llama.cpp - transformers| per length and
whether the greedy tokens agree, also against transformers with llama.cpp's Q8_0 rounding of
the routed experts' inputs (see below), and writes reference_logits_llamacpp.npz (same keys)
and llamacpp_vs_transformers.json (the numbers printed).
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_tiny  # noqa: E402

GGML_TYPE_F32 = 0


# ---------------------------------------------------------------------------------------
# What llama.cpp computes differently on purpose: its CPU matmul for MXFP4 weights takes the
# activations as Q8_0 (blocks of 32: scale d = amax / 127 stored as fp16, q = round(x / d)),
# so the routed experts see rounded inputs twice (hidden state in, SwiGLU output before the
# down projection). Everything else in the GGUF is F32 and multiplied in F32. Running
# transformers with the same rounding separates that from any real difference.


def q8_0_round(x):
    """x [..., n] fp32, n a multiple of 32 -> the values a Q8_0 block round trip gives."""
    blocks = x.reshape(-1, 32)
    amax = blocks.abs().amax(dim=-1, keepdim=True)
    d = amax / 127
    inverse = torch.where(d > 0, 1.0 / d, torch.zeros_like(d))
    q = torch.round(blocks * inverse)
    return (q * d.half().float()).reshape(x.shape)


def experts_with_q8_0_activations(experts):
    """A forward for one DeepseekV4Experts module that rounds its inputs as llama.cpp does."""
    def forward(hidden_states, top_k_index, top_k_weights):
        rounded = q8_0_round(hidden_states.float())
        final = torch.zeros_like(hidden_states)
        for expert in range(experts.num_experts):
            token_idx, slot = torch.where(top_k_index == expert)
            if token_idx.numel() == 0:
                continue
            gate_up = torch.nn.functional.linear(rounded[token_idx], experts.gate_up_proj[expert])
            hidden = q8_0_round(experts._apply_gate(gate_up))
            out = torch.nn.functional.linear(hidden, experts.down_proj[expert])
            final.index_add_(0, token_idx, out * top_k_weights[token_idx, slot, None])
        return final
    return forward


def transformers_with_llamacpp_rounding(name):
    model = make_tiny.build_model(name)
    for layer in model.model.layers:
        layer.mlp.experts.forward = experts_with_q8_0_activations(layer.mlp.experts)
    return model


def load(path, context_tokens):
    from llama_cpp import Llama
    # f32 K/V cache (the default f16 would round every cached key), one micro-batch for the
    # longest sequence, every position's logits kept.
    return Llama(model_path=path, n_ctx=context_tokens, n_batch=context_tokens, n_ubatch=context_tokens,
                 logits_all=True, type_k=GGML_TYPE_F32, type_v=GGML_TYPE_F32, n_threads=2,
                 verbose=False)


def sequence_logits(llm, tokens):
    llm.reset()
    llm.eval([int(t) for t in tokens])
    return np.array(llm.scores[: len(tokens)], dtype=np.float32)


def greedy(llm, prompt, new_tokens):
    llm.reset()
    llm.eval([int(t) for t in prompt])
    tokens, step_logits = [], []
    for _ in range(new_tokens):
        logits = np.array(llm.scores[llm.n_tokens - 1], dtype=np.float32)
        step_logits.append(logits)
        tokens.append(int(logits.argmax()))
        llm.eval([tokens[-1]])
    return np.asarray(tokens, dtype=np.int32), np.stack(step_logits)


def compare(name, write):
    import llama_cpp
    directory = os.path.join(make_tiny.OUT_ROOT, name)
    reference = np.load(os.path.join(directory, "reference_logits.npz"))
    longest = max(make_tiny.SEQUENCE_LENGTHS)
    llm = load(os.path.join(directory, "model.gguf"), context_tokens=max(longest, 64))
    rounded_model = transformers_with_llamacpp_rounding(name)
    arrays = {}
    report = dict(name=name, llama_cpp_python=llama_cpp.__version__, per_length={},
                  note="vs_transformers: against reference_logits.npz; vs_transformers_q8_0_experts: "
                       "against transformers with the routed experts' inputs rounded to Q8_0 as "
                       "llama.cpp's MXFP4 matmul does (llamacpp_reference.py)")
    for length in make_tiny.SEQUENCE_LENGTHS:
        tokens = reference[f"tokens_{length}"]
        logits = sequence_logits(llm, tokens)
        expected = reference[f"logits_{length}"]
        rounded = make_tiny.full_logits(rounded_model, tokens)
        diff = np.abs(logits - expected)
        diff_rounded = np.abs(logits - rounded)
        report["per_length"][str(length)] = dict(
            vs_transformers=dict(max_abs_diff=float(diff.max()), mean_abs_diff=float(diff.mean()),
                                 worst_position=int(diff.max(axis=-1).argmax()),
                                 argmax_agreement=float(np.mean(logits.argmax(-1) == expected.argmax(-1)))),
            vs_transformers_q8_0_experts=dict(max_abs_diff=float(diff_rounded.max()),
                                              mean_abs_diff=float(diff_rounded.mean()),
                                              worst_position=int(diff_rounded.max(axis=-1).argmax())))
        arrays[f"tokens_{length}"] = tokens
        arrays[f"logits_{length}"] = logits
    prompt = reference["greedy_prompt"]
    continuation, step_logits = greedy(llm, prompt, len(reference["greedy_tokens"]))
    rounded_continuation, _ = make_tiny.greedy(rounded_model, prompt, len(continuation))
    arrays["greedy_prompt"] = prompt
    arrays["greedy_tokens"] = continuation
    arrays["greedy_step_logits"] = step_logits
    same = continuation == reference["greedy_tokens"]
    report["greedy_tokens_equal"] = bool(same.all())
    report["greedy_first_difference"] = None if same.all() else int(np.argmin(same))
    report["greedy_step_logits_max_abs_diff"] = float(np.abs(step_logits - reference["greedy_step_logits"]).max())
    report["greedy_tokens_equal_q8_0_experts"] = bool(np.array_equal(continuation, rounded_continuation))

    print(f"{name}:")
    for length, row in report["per_length"].items():
        plain, q8 = row["vs_transformers"], row["vs_transformers_q8_0_experts"]
        print(f"  length {length:>4}: max |diff| {plain['max_abs_diff']:.3g}, mean {plain['mean_abs_diff']:.3g}, "
              f"argmax agreement {plain['argmax_agreement']:.3f}; with Q8_0 expert inputs: max "
              f"{q8['max_abs_diff']:.3g}, mean {q8['mean_abs_diff']:.3g}")
    print(f"  greedy {len(continuation)} tokens equal: {report['greedy_tokens_equal']} "
          f"(with Q8_0 expert inputs: {report['greedy_tokens_equal_q8_0_experts']}); decode-step logits "
          f"max |diff| {report['greedy_step_logits_max_abs_diff']:.3g}")
    if write:
        np.savez_compressed(os.path.join(directory, "reference_logits_llamacpp.npz"), **arrays)
        with open(os.path.join(directory, "llamacpp_vs_transformers.json"), "w") as f:
            json.dump(report, f, indent=1)
            f.write("\n")
    return report


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", choices=sorted(make_tiny.LLAMACPP_CONFIGS))
    parser.add_argument("--no-write", action="store_true", help="print the comparison only")
    args = parser.parse_args()
    for name in args.only or make_tiny.LLAMACPP_CONFIGS:
        compare(name, write=not args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
