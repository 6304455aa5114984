#!/usr/bin/env python3
"""Converts the tiny DeepSeek-V4 checkpoints to GGUF with llama.cpp's own converter.

  .venv-dsv4/bin/python python/deepseek4/convert_gguf.py --llama-cpp LLAMA_CPP_DIR [--only NAME]

LLAMA_CPP_DIR is a llama.cpp source tree with convert_hf_to_gguf.py (the llama-cpp-python
sdist carries one under vendor/llama.cpp; docs/deepseek-v4.md says which version was used).
Writes tests/data/deepseek4/<name>/model.gguf (f32, routed experts MXFP4).

llama.cpp's DeepSeek-V4 converter reads the checkpoint layout DeepSeek publishes, not the one
transformers saves, so two steps come first, both lossless and both done here, not in llama.cpp:
  1. The upstream layout, in a temporary folder: tensor names without transformers' "model."
     prefix and with the few names transformers saves in its own spelling
     (embed_tokens -> embed, hc_head.hc_fn -> hc_head_fn, attn.norm -> attn.kv_norm); each routed expert matrix as
     MXFP4, packed e2m1 codes (uint8 [rows, cols/2], element 2i in the low nibble) plus one
     E8M0 exponent byte per 32 inputs (uint8 [rows, cols/32]), the format DeepSeek ships and
     the only one the converter takes for experts (make_tiny.py drew those weights on the MXFP4
     grid, so the packing is exact, and it is checked); and config.json with the upstream keys
     the converter reads (compress_ratios per layer, num_hash_layers).
  2. One hook in the converter: its check that a BPE tokenizer's pre-tokenizer is a known one
     hashes the ids of a fixed text, which only a real vocabulary can match; the hook names
     "deepseek-v3" (what DeepSeek-V4's own tokenizer is recognised as) for our byte-level
     vocabulary. Tensors and hyper-parameters are converted by llama.cpp's code unchanged.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np
from safetensors.numpy import load_file, save_file

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_tiny  # noqa: E402  (MXFP4 helpers and the config list)

COMPRESS_RATIO = {"sliding_attention": 0, "compressed_sparse_attention": 4,
                  "heavily_compressed_attention": 128}

ROOT_RENAMES = {
    "embed_tokens.weight": "embed.weight",
    "lm_head.weight": "head.weight",
    "hc_head.hc_fn": "hc_head_fn",
    "hc_head.hc_base": "hc_head_base",
    "hc_head.hc_scale": "hc_head_scale",
}


def upstream_name(name):
    if name.startswith("model."):
        name = name[len("model."):]
    # transformers maps upstream "compressor.norm" and "attn.kv_norm" both to "kv_norm" when
    # loading, and writes "norm" for both when saving: the attention's own is "kv_norm" upstream
    match = re.fullmatch(r"(layers\.\d+\.attn)\.norm\.weight", name)
    if match:
        return match.group(1) + ".kv_norm.weight"
    return ROOT_RENAMES.get(name, name)


def pack_mxfp4(weight):
    """fp32 [rows, cols] on the MXFP4 grid -> (packed uint8 [rows, cols/2], scale uint8 [rows, cols/32])."""
    import torch
    tensor = torch.from_numpy(weight)
    codes, exponent = make_tiny.mxfp4_quantize(tensor)
    if not torch.equal(make_tiny.mxfp4_dequantize(codes, exponent), tensor):
        raise ValueError("expert weight is not exactly representable in MXFP4")
    codes = codes.numpy()
    packed = (codes[:, 0::2] | (codes[:, 1::2] << 4)).astype(np.uint8)
    scale = (exponent.numpy() + 127).astype(np.uint8)  # E8M0: 2^(byte - 127)
    return packed, scale


def write_upstream_checkpoint(source, target):
    tensors = load_file(os.path.join(source, "model.safetensors"))
    upstream = {}
    for name, value in tensors.items():
        name = upstream_name(name)
        if ".ffn.experts." in name and name.endswith(".weight"):
            packed, scale = pack_mxfp4(value)
            upstream[name] = packed
            upstream[name[: -len(".weight")] + ".scale"] = scale
        else:
            upstream[name] = value
    save_file(upstream, os.path.join(target, "model.safetensors"))

    with open(os.path.join(source, "config.json")) as f:
        config = json.load(f)
    mlp_types = config["mlp_layer_types"]
    num_hash_layers = sum(1 for t in mlp_types if t == "hash_moe")
    if mlp_types[:num_hash_layers] != ["hash_moe"] * num_hash_layers:
        raise ValueError("the upstream layout has hash-routed layers first only")
    config["compress_ratios"] = [COMPRESS_RATIO[t] for t in config["layer_types"]]
    config["num_hash_layers"] = num_hash_layers
    with open(os.path.join(target, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    for extra in ("tokenizer.json", "tokenizer_config.json", "generation_config.json"):
        shutil.copy(os.path.join(source, extra), target)


# Run inside a child interpreter so that llama.cpp's bundled gguf-py and conversion package
# do not mix with the gguf package of this venv.
CONVERTER_WITH_HOOK = r"""
import sys
llama_cpp_dir, model_dir, out_file = sys.argv[1:4]
sys.path.insert(0, llama_cpp_dir)
sys.argv = ["convert_hf_to_gguf.py", model_dir, "--outtype", "f32", "--outfile", out_file]
import convert_hf_to_gguf
from conversion import base
base.TextModel.get_vocab_base_pre = lambda self, tokenizer: "deepseek-v3"
convert_hf_to_gguf.main()
"""


def convert(name, llama_cpp_dir):
    directory = os.path.join(make_tiny.OUT_ROOT, name)
    out_file = os.path.join(directory, "model.gguf")
    with tempfile.TemporaryDirectory() as upstream_dir:
        # the converter derives default names from the folder's name; keep the config's
        model_dir = os.path.join(upstream_dir, f"tiny-deepseek4-{name}")
        os.makedirs(model_dir)
        write_upstream_checkpoint(directory, model_dir)
        subprocess.run([sys.executable, "-c", CONVERTER_WITH_HOOK, os.path.abspath(llama_cpp_dir),
                        model_dir, out_file], check=True)
    print(f"{name}: {out_file} ({os.path.getsize(out_file):,} bytes)")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--llama-cpp", required=True, help="llama.cpp source tree (has convert_hf_to_gguf.py)")
    parser.add_argument("--only", action="append", choices=sorted(make_tiny.CONFIGS))
    args = parser.parse_args()
    for name in args.only or make_tiny.CONFIGS:
        convert(name, args.llama_cpp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
