#!/usr/bin/env python3
"""Writes a JSON manifest of a GGUF file's header: every metadata key (type and value)
and every tensor (name, ggml type, dims in ggml order), without the tensor data.

python/make_random_gguf.py turns the manifest back into a GGUF of the same shapes with
seeded random weights, for machines where the real model cannot be copied. Arrays of more
than 1024 elements (the tokenizer's tokens, scores, token types, merges) are left out,
and listed under "dropped" with their element type and length.

Standard library only (no numpy, no gguf package), so it runs anywhere Python does.
Format: github.com/ggml-org/ggml/blob/master/docs/gguf.md

Usage: python/gguf_shapes.py MODEL.gguf -o SHAPES.json
"""
import argparse
import json
import os
import struct

MAX_ARRAY = 1024

# GGUF metadata value types: id -> (name, struct format for scalars).
VALUE_TYPES = {
    0: ("UINT8", "<B"), 1: ("INT8", "<b"), 2: ("UINT16", "<H"), 3: ("INT16", "<h"),
    4: ("UINT32", "<I"), 5: ("INT32", "<i"), 6: ("FLOAT32", "<f"), 7: ("BOOL", "<?"),
    8: ("STRING", None), 9: ("ARRAY", None), 10: ("UINT64", "<Q"), 11: ("INT64", "<q"),
    12: ("FLOAT64", "<d"),
}

# ggml tensor types: id -> (name, values per block, bytes per block).
GGML_TYPES = {
    0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20),
    6: ("Q5_0", 32, 22), 7: ("Q5_1", 32, 24), 8: ("Q8_0", 32, 34), 9: ("Q8_1", 32, 36),
    10: ("Q2_K", 256, 84), 11: ("Q3_K", 256, 110), 12: ("Q4_K", 256, 144),
    13: ("Q5_K", 256, 176), 14: ("Q6_K", 256, 210), 15: ("Q8_K", 256, 292),
    24: ("I8", 1, 1), 25: ("I16", 1, 2), 26: ("I32", 1, 4), 27: ("I64", 1, 8),
    28: ("F64", 1, 8), 30: ("BF16", 1, 2),
}


def tensor_bytes(type_id, dims):
    _, block, size = GGML_TYPES[type_id]
    n = 1
    for d in dims:
        n *= d
    assert n % block == 0, f"{n} values is not a whole number of {block}-value blocks"
    return n // block * size


class Reader:
    def __init__(self, f):
        self.f = f

    def unpack(self, fmt):
        data = self.f.read(struct.calcsize(fmt))
        if len(data) != struct.calcsize(fmt):
            raise ValueError(f"truncated header at offset {self.f.tell()}")
        return struct.unpack(fmt, data)[0]

    def string(self):
        n = self.unpack("<Q")
        # surrogateescape keeps any non-UTF-8 bytes, and make_random_gguf.py writes them back.
        return self.f.read(n).decode("utf-8", "surrogateescape")

    def value(self, type_id):
        """Returns (value, element type name or None, length or None); value is None for a
        large array, which is skipped."""
        name, fmt = VALUE_TYPES[type_id]
        if fmt:
            return self.unpack(fmt), None, None
        if name == "STRING":
            return self.string(), None, None
        elem, n = self.unpack("<I"), self.unpack("<Q")
        elem_name, elem_fmt = VALUE_TYPES[elem]
        if n > MAX_ARRAY and elem_fmt:  # fixed-size elements: seek past them
            self.f.seek(n * struct.calcsize(elem_fmt), os.SEEK_CUR)
            return None, elem_name, n
        items = [self.value(elem)[0] for _ in range(n)]
        return (None if n > MAX_ARRAY else items), elem_name, n


def read_header(path):
    """The manifest dict for a GGUF file."""
    with open(path, "rb") as f:
        r = Reader(f)
        if f.read(4) != b"GGUF":
            raise ValueError(f"{path}: not a GGUF file")
        version = r.unpack("<I")
        if version not in (2, 3):
            raise ValueError(f"{path}: GGUF version {version} not supported (2, 3)")
        n_tensors, n_kv = r.unpack("<Q"), r.unpack("<Q")
        metadata, dropped = [], []
        for _ in range(n_kv):
            key = r.string()
            type_id = r.unpack("<I")
            value, elem, n = r.value(type_id)
            entry = {"key": key, "type": VALUE_TYPES[type_id][0]}
            if elem is not None:
                entry["element_type"] = elem
            if elem is not None and value is None:
                dropped.append(dict(entry, length=n))
                continue
            metadata.append(dict(entry, value=value))
        tensors = []
        for _ in range(n_tensors):
            name = r.string()
            dims = [r.unpack("<Q") for _ in range(r.unpack("<I"))]
            type_id = r.unpack("<I")
            r.unpack("<Q")  # data offset: make_random_gguf.py lays tensors out afresh
            tensors.append({"name": name, "type": type_id, "type_name": GGML_TYPES[type_id][0],
                            "dims": dims, "n_bytes": tensor_bytes(type_id, dims)})
    return {"version": version, "metadata": metadata, "dropped": dropped, "tensors": tensors}


def to_json(manifest):
    """JSON with one metadata key or tensor per line, so that diffs stay readable."""
    parts = []
    for key, value in manifest.items():
        if isinstance(value, list):
            rows = ",\n  ".join(json.dumps(v) for v in value)
            value_text = f"[\n  {rows}\n ]" if value else "[]"
        else:
            value_text = json.dumps(value)
        parts.append(f" {json.dumps(key)}: {value_text}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("-o", "--out", required=True)
    args = ap.parse_args()
    manifest = dict(source=os.path.basename(os.path.realpath(args.model)), **read_header(args.model))
    with open(args.out, "w") as f:
        f.write(to_json(manifest))
    types = sorted({t["type_name"] for t in manifest["tensors"]})
    print(f"{args.out}: {len(manifest['metadata'])} keys ({len(manifest['dropped'])} dropped), "
          f"{len(manifest['tensors'])} tensors, types {' '.join(types)}")


if __name__ == "__main__":
    main()
