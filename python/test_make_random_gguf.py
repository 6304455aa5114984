#!/usr/bin/env python3
"""Checks python/make_random_gguf.py against the committed manifest of the default model:
the file it writes has the manifest's header (read back by python/gguf_shapes.py and by
the gguf package), finite weights of the intended scale (decoded by gguf-py), the same
bytes for the same seed, and loads and runs in the engine when build/flashmem exists.

Run from anywhere: .venv/bin/python python/test_make_random_gguf.py
Environment: FLASHMEM_MODEL (real model; if present, its header must still match the
committed manifest), FLASHMEM_BUILD (build directory, default build/).
"""
import hashlib
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import gguf

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from gguf_shapes import read_header  # noqa: E402
from make_random_gguf import write_gguf  # noqa: E402

MANIFEST = os.path.join(REPO, "bench", "data", "gemma3-270m-q4_k_m.shapes.json")
MODEL = os.environ.get("FLASHMEM_MODEL", os.path.join(REPO, "models", "gemma3-270m-q4_k_m.gguf"))
FLASHMEM = os.path.join(os.environ.get("FLASHMEM_BUILD", os.path.join(REPO, "build")), "flashmem")


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 24), b""):
            h.update(chunk)
    return h.hexdigest()


def check_manifest_is_current(manifest):
    if not os.path.exists(MODEL):
        print(f"  (no {MODEL}: manifest not compared with the real model)")
        return
    real = read_header(MODEL)
    for key in ("metadata", "dropped", "tensors"):
        assert real[key] == manifest[key], f"{MODEL}: {key} differs from {MANIFEST}"
    print(f"  manifest matches {MODEL}")


def check_header(path, manifest):
    back = read_header(path)
    assert back["version"] == 3
    assert back["metadata"] == manifest["metadata"], "metadata differs"
    assert back["dropped"] == [], "a small manifest should write no large arrays"
    assert back["tensors"] == manifest["tensors"], "tensor table differs"
    # An independent reader: the gguf package parses the same names, types and shapes.
    reader = gguf.GGUFReader(path)
    assert [(t.name, int(t.tensor_type), t.shape.tolist()) for t in reader.tensors] == [
        (t["name"], t["type"], t["dims"]) for t in manifest["tensors"]]
    return reader


def check_values(reader):
    """Decodes the smallest tensor of each (type, rank) with gguf-py."""
    smallest = {}
    for t in reader.tensors:
        key = (t.tensor_type.name, len(t.shape))
        if key not in smallest or t.n_bytes < smallest[key].n_bytes:
            smallest[key] = t
    for (type_name, rank), t in sorted(smallest.items()):
        x = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float64)
        assert np.isfinite(x).all(), f"{t.name}: non-finite values"
        target = 1 / np.sqrt(int(t.shape[0]))
        if rank == 1:  # norm weights, 1 + 0.1 N(0, 1)
            assert abs(x.mean() - 1) < 0.05 and 0.05 < x.std() < 0.2, (t.name, x.mean(), x.std())
        else:
            assert 0.8 < x.std() / target < 1.25, (t.name, x.std(), target)
            assert abs(x.mean()) < 0.1 * target, (t.name, x.mean(), target)
        print(f"  {t.name:28s} {type_name:5s} mean {x.mean():+.2e} std {x.std():.4f} "
              f"(1/sqrt(cols) {target:.4f}), max |x| {np.abs(x).max():.3f}")


def check_engine(path, tmp):
    if not os.path.exists(FLASHMEM):
        print(f"  (no {FLASHMEM}: engine not run)")
        return
    info = subprocess.run([FLASHMEM, "info", "-m", path], capture_output=True, text=True)
    assert info.returncode == 0, f"flashmem info failed: {info.stderr}"
    print("  " + info.stdout.strip().replace("\n", "\n  "))
    # A forward pass over a few ids: the logits must be finite and not all alike.
    out = os.path.join(tmp, "logits.bin")
    run = subprocess.run([FLASHMEM, "logits", "-m", path, "--ids", "2 1000 2000 3000 4000",
                          "-o", out, "-t", "2"], capture_output=True, text=True)
    assert run.returncode == 0, f"flashmem logits failed: {run.stderr}"
    logits = np.fromfile(out, np.float32)
    assert logits.size > 0 and np.isfinite(logits).all() and logits.std() > 1e-3, logits
    print(f"  logits: {logits.size} finite values, mean {logits.mean():+.3f} std {logits.std():.3f}")


def main():
    with open(MANIFEST) as f:
        manifest = json.load(f)
    check_manifest_is_current(manifest)
    with tempfile.TemporaryDirectory() as tmp:
        a, b = os.path.join(tmp, "a.gguf"), os.path.join(tmp, "b.gguf")
        # Once through the command line, once through the function: same seed, same bytes.
        subprocess.run([sys.executable, os.path.join(HERE, "make_random_gguf.py"), "--like", MANIFEST,
                        "--seed", "7", "-o", a], check=True)
        write_gguf(manifest, 7, b)
        assert sha256(a) == sha256(b), "same seed gave different files"
        os.remove(b)
        # A different seed changes every tensor; a small manifest is enough to see it.
        small = dict(manifest, tensors=manifest["tensors"][2:14])
        c, d = os.path.join(tmp, "c.gguf"), os.path.join(tmp, "d.gguf")
        write_gguf(small, 7, c)
        write_gguf(small, 8, d)
        rc, rd = gguf.GGUFReader(c), gguf.GGUFReader(d)
        for tc, td in zip(rc.tensors, rd.tensors):
            assert not np.array_equal(tc.data, td.data), f"{tc.name}: seed did not matter"
        print("  same seed -> identical bytes; another seed -> different tensors")
        check_values(check_header(a, manifest))
        check_engine(a, tmp)
    print("make_random_gguf: all checks passed")


if __name__ == "__main__":
    main()
