#!/usr/bin/env python3
"""Checks FlashMemory's GGUF reader against an outside reference: the `gguf` PyPI package.

It runs tools/gguf_dump (our reader, printing JSON) on each file and compares, against
gguf.GGUFReader: version, alignment, data-section offset, every metadata key with its type
and full value (strings compared as raw bytes), and every tensor's name, type, dims,
absolute data offset and byte size. Exit status 0 when everything matches.

Build the dumper first (from the repository root; it is not part of the CMake build):

    mkdir -p build-tools
    g++ -std=c++20 -O2 -Isrc tools/gguf_dump.cpp src/format/*.cpp src/core/*.cpp \
        -lpthread -o build-tools/gguf_dump

(The script runs exactly that command itself when build-tools/gguf_dump is missing.)

Usage:
    .venv/bin/python python/gguf_dump_reference.py MODEL.gguf [MODEL2.gguf ...]
    .venv/bin/python python/gguf_dump_reference.py --summary MODEL.gguf   # also print
        the metadata keys (big arrays summarised) and the tensors of the first block
        plus every tensor outside the blocks
"""

import argparse
import json
import math
import os
import subprocess
import sys

import numpy as np
from gguf import GGUFReader, GGUFValueType

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_DUMPER = os.path.join(REPO, "build-tools", "gguf_dump")


def build_dumper(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    sources = [os.path.join("tools", "gguf_dump.cpp")]
    for folder in ("src/format", "src/core"):
        sources += sorted(os.path.join(folder, f) for f in os.listdir(os.path.join(REPO, folder))
                          if f.endswith(".cpp"))
    cmd = ["g++", "-std=c++20", "-O2", "-Isrc", *sources, "-lpthread", "-o", path]
    print("building:", " ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, cwd=REPO, check=True)


def run_dumper(dumper, model):
    out = subprocess.run([dumper, model], capture_output=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"gguf_dump failed on {model}: {out.stderr.decode(errors='replace')}")
    return json.loads(out.stdout.decode("utf-8"))


def ours_to_python(value, vtype):
    """Our JSON value of type `vtype` ("uint8", "string", "array", ...) -> comparable Python
    value: strings as bytes, floats as float (the dumper writes 1e6 as 1000000 and
    non-finite floats as strings)."""
    if vtype == "array":
        return [ours_to_python(v, value["element_type"]) for v in value["items"]]
    if vtype == "string":
        return value.encode("latin-1")
    if vtype in ("float32", "float64"):
        return float(value)
    return value


def reference_value(field):
    """GGUFReader field -> comparable Python value."""
    main = field.types[0]
    if main == GGUFValueType.ARRAY:
        sub = field.types[-1]
        if len(field.types) > 2:
            return None  # GGUFReader does not decode nested arrays; skip the value check
        if sub == GGUFValueType.STRING:
            return [bytes(field.parts[i]) for i in field.data]
        return [scalar(field.parts[i][0], sub) for i in field.data]
    if main == GGUFValueType.STRING:
        return bytes(field.parts[-1])
    return scalar(field.parts[-1][0], main)


def scalar(x, vtype):
    if vtype == GGUFValueType.BOOL:
        return bool(x)
    if vtype in (GGUFValueType.FLOAT32, GGUFValueType.FLOAT64):
        return float(x)
    return int(x)


def same(a, b):
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b and type(a) == type(b)


def compare(model, ours, reader):
    problems = []
    fields = {k: f for k, f in reader.fields.items() if not k.startswith("GGUF.")}
    version = int(reader.fields["GGUF.version"].parts[-1][0])
    for name, want, got in (("version", version, ours["version"]),
                            ("alignment", int(reader.alignment), ours["alignment"]),
                            ("data_offset", int(reader.data_offset), ours["data_offset"])):
        if want != got:
            problems.append(f"{name}: reference {want}, ours {got}")

    meta = ours["metadata"]
    if set(meta) != set(fields):
        problems.append(f"metadata keys differ: only reference {sorted(set(fields) - set(meta))}, "
                        f"only ours {sorted(set(meta) - set(fields))}")
    for key in sorted(set(meta) & set(fields)):
        field = fields[key]
        ref_type = field.types[0].name.lower()
        if meta[key]["type"] != ref_type:
            problems.append(f"metadata '{key}': type reference {ref_type}, ours {meta[key]['type']}")
            continue
        if ref_type == "array" and meta[key]["value"]["element_type"] != field.types[-1].name.lower():
            problems.append(f"metadata '{key}': element type differs")
            continue
        want = reference_value(field)
        if want is not None and not same(want, ours_to_python(meta[key]["value"], meta[key]["type"])):
            problems.append(f"metadata '{key}': values differ")

    if len(reader.tensors) != len(ours["tensors"]):
        problems.append(f"tensor count: reference {len(reader.tensors)}, ours {len(ours['tensors'])}")
    for ref, mine in zip(reader.tensors, ours["tensors"]):
        want = {"name": ref.name, "type": ref.tensor_type.name, "dims": [int(d) for d in ref.shape],
                "file_offset": int(ref.data_offset), "n_bytes": int(ref.n_bytes)}
        got = {k: mine[k] for k in want}
        if want != got:
            problems.append(f"tensor '{ref.name}': reference {want}, ours {got}")
    return problems


def summarise(model, ours):
    print(f"\n=== {os.path.basename(model)}: GGUF v{ours['version']}, alignment {ours['alignment']}, "
          f"{len(ours['metadata'])} metadata keys, {len(ours['tensors'])} tensors ===")
    print("-- metadata")
    for key, entry in ours["metadata"].items():
        value = entry["value"]
        if isinstance(value, dict):
            items = value["items"]
            shown = [ours_to_python(v, value["element_type"]) for v in items[:4]]
            shown = [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in shown]
            print(f"{key}: array<{value['element_type']}>[{len(items)}] first {shown}")
        else:
            if isinstance(value, str):
                value = value.encode("latin-1").decode("utf-8", "replace")
            if isinstance(value, str) and len(value) > 100:
                value = value[:100] + f"... ({len(value)} chars)"
            print(f"{key}: {entry['type']} = {value}")
    print("-- tensors (outside the blocks, then block 0)")
    counts = {}
    for t in ours["tensors"]:
        counts[t["type"]] = counts.get(t["type"], 0) + 1
    for t in ours["tensors"]:
        if not t["name"].startswith("blk.") or t["name"].startswith("blk.0."):
            print(f"{t['name']:32s} {t['type']:5s} dims {t['dims']} ({t['n_bytes']} bytes)")
    print("-- tensor types over the whole file:", dict(sorted(counts.items())))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+")
    parser.add_argument("--dump-binary", default=DEFAULT_DUMPER)
    parser.add_argument("--summary", action="store_true")
    args = parser.parse_args()
    if not os.path.exists(args.dump_binary):
        build_dumper(args.dump_binary)
    failed = False
    for model in args.models:
        ours = run_dumper(args.dump_binary, model)
        problems = compare(model, ours, GGUFReader(model))
        if problems:
            failed = True
            print(f"MISMATCH {model}:")
            for p in problems[:50]:
                print("  " + p)
        else:
            print(f"OK {model}: version {ours['version']}, {len(ours['metadata'])} metadata keys "
                  f"(all values), {len(ours['tensors'])} tensors match gguf.GGUFReader")
        if args.summary:
            summarise(model, ours)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
