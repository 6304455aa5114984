#!/usr/bin/env python3
"""Exports the tiny DeepSeek-V4 reference logits in a form the C++ tests read without numpy.

  .venv-dsv4/bin/python python/deepseek4/export_reference.py      (numpy is all it needs)

For every config folder under tests/data/deepseek4/ with a reference_logits.npz (made by
make_tiny.py with transformers), writes beside it (and the same from
reference_logits_llamacpp.npz, llama.cpp's logits from llamacpp_reference.py, as
reference_logits_llamacpp.json / .bin, where that file exists):

  reference_logits.json  {"source": "reference_logits.npz", "n_vocab": V,
                          "sequences": [{"length": N, "tokens": [...], "offset_floats": K}, ...],
                          "greedy": {"prompt": [...], "tokens": [...], "offset_floats": K}}
  reference_logits.bin   float32 little-endian, no header: for each sequence in the JSON's
                         order, its logits [N, V] row-major (position-major), starting at
                         float index K (so at byte 4 K); then the greedy continuation's
                         step logits [len(tokens), V] (row i chose tokens[i]).

The lengths are those the npz holds (5, 17, 40, 100, 300). Re-running it reproduces both
files byte for byte.
"""
import json
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "..", "tests", "data", "deepseek4")


def export(folder, stem):
    npz = np.load(os.path.join(folder, stem + ".npz"))
    lengths = sorted(int(k.split("_")[1]) for k in npz.files if k.startswith("tokens_"))
    sequences, chunks, offset = [], [], 0
    n_vocab = None
    for n in lengths:
        tokens = npz[f"tokens_{n}"].astype(np.int64)
        logits = np.ascontiguousarray(npz[f"logits_{n}"], dtype="<f4")
        assert logits.shape[0] == n == tokens.shape[0]
        n_vocab = logits.shape[1]
        sequences.append({"length": n, "tokens": [int(t) for t in tokens], "offset_floats": offset})
        chunks.append(logits.tobytes())
        offset += logits.size
    greedy = None
    if "greedy_prompt" in npz.files:
        step_logits = np.ascontiguousarray(npz["greedy_step_logits"], dtype="<f4")
        greedy = {"prompt": [int(t) for t in npz["greedy_prompt"]],
                  "tokens": [int(t) for t in npz["greedy_tokens"]], "offset_floats": offset}
        chunks.append(step_logits.tobytes())
        offset += step_logits.size
    with open(os.path.join(folder, stem + ".json"), "w") as f:
        # One sequence per line.
        lines = [json.dumps(s) for s in sequences]
        f.write('{"source": "%s.npz", "n_vocab": %d, "sequences": [\n' % (stem, n_vocab))
        f.write(",\n".join(lines) + "\n]")
        if greedy is not None:
            f.write(',\n"greedy": %s' % json.dumps(greedy))
        f.write("}\n")
    with open(os.path.join(folder, stem + ".bin"), "wb") as f:
        f.write(b"".join(chunks))
    print(f"{os.path.basename(folder)}/{stem}: {len(sequences)} sequences, {offset} floats")


def main():
    for name in sorted(os.listdir(DATA)):
        folder = os.path.join(DATA, name)
        for stem in ("reference_logits", "reference_logits_llamacpp"):
            if os.path.isfile(os.path.join(folder, stem + ".npz")):
                export(folder, stem)


if __name__ == "__main__":
    main()
