#!/usr/bin/env python3
"""Writes the training corpus of the Memory Indexer: long documents whose continuation (or
answer to a final request) needs tokens far back in the context. The dump runs the model
over them and records which chunks its attention actually uses.

  python python/indexer_data/make_corpus.py --out DIR --documents N \\
      --min-tokens 2000 --max-tokens 8000 --seed S --val-fraction 0.1

DIR/manifest.jsonl has one line per document: id, kind, split, path (relative to DIR),
approx_tokens, format ("text": a .txt to continue; "chat": a .json of messages whose last one
is a user request), plus sources, keys, ending and answer for inspection. Validation
documents draw on source files and entity vocabularies that training documents never use.
See docs/indexer-corpus.md."""
import argparse
import json
import os
import random
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import generators  # noqa: E402
import sources  # noqa: E402

MAX_ATTEMPTS = 10
DOC_NAME_RE = re.compile(r"^\d{5}-[a-z_]+\.(txt|json)$")


class TokenCounter:
    """chars / chars_per_token, or the count printed by an outside command that reads the
    text on stdin (e.g. the model's tokenizer)."""

    def __init__(self, command=None, chars_per_token=4.0):
        self.command = command
        self.chars_per_token = chars_per_token

    def count_text(self, text):
        if not self.command:
            return int(round(len(text) / self.chars_per_token))
        result = subprocess.run(self.command, shell=True, input=text.encode("utf-8"),
                                capture_output=True, check=True)
        return int(result.stdout.split()[0])

    def count(self, doc):
        if doc.format == "chat":
            # A few tokens per turn for the chat template's markers.
            return self.count_text(doc.content()) + 4 * len(doc.messages)
        return self.count_text(doc.text)


def plan(documents, seed, val_fraction, min_tokens, max_tokens):
    """The kind, split, seed and length target of every document, all from one generator."""
    rng = random.Random(seed)
    counts = generators.kind_counts(documents)
    kinds = [k for k in sorted(counts) for _ in range(counts[k])]
    rng.shuffle(kinds)
    val_count = int(round(documents * val_fraction))
    if val_fraction > 0 and documents > 1:
        val_count = max(1, val_count)
    # Stratified by kind (largest remainder), so validation covers the kinds in proportion.
    positions = {k: [i for i, kind in enumerate(kinds) if kind == k] for k in sorted(counts)}
    exact = {k: len(positions[k]) * val_count / documents for k in positions}
    per_kind = {k: int(exact[k]) for k in positions}
    for k in sorted(positions, key=lambda k: (int(exact[k]) - exact[k], k))[: val_count - sum(per_kind.values())]:
        per_kind[k] += 1
    val_indices = set()
    for k in sorted(positions):
        val_indices.update(rng.sample(positions[k], per_kind[k]))
    specs = []
    for index, kind in enumerate(kinds):
        specs.append({"index": index, "kind": kind,
                      "split": "val" if index in val_indices else "train",
                      "seed": rng.getrandbits(64),
                      "target_tokens": rng.randint(min_tokens, max_tokens)})
    return specs


def generate_document(spec, context, counter, min_tokens, max_tokens):
    """Generates until the measured length is within [min_tokens, max_tokens]: the target in
    characters is corrected by the measured characters-per-token ratio; after a few tries
    the document's seed is varied (deterministically) in case its sources ran short."""
    generate = generators.KINDS[spec["kind"]][0]
    # Aim inside the range a little, since generators overshoot by up to one block.
    span = max_tokens - min_tokens
    aim = min(max(spec["target_tokens"], min_tokens + 0.03 * span), max_tokens - 0.05 * span)
    target_chars = aim * counter.chars_per_token
    best, variant = None, 0
    for attempt in range(MAX_ATTEMPTS):
        if attempt >= 4:
            variant += 1  # rescaling did not land in range: perhaps the sources ran short
        doc = generate(context, random.Random(spec["seed"] + variant * 1_000_003), int(target_chars))
        if sources.contains_banned(doc.content()):
            variant += 1  # words met by chance spell an evaluation template: another draw
            continue
        tokens = counter.count(doc)
        if min_tokens <= tokens <= max_tokens:
            return doc, tokens
        if best is None or abs(tokens - aim) < abs(best[1] - aim):
            best = (doc, tokens)
        # Whatever the cause (tokenizer ratio, generator overshoot), scale the character
        # target by how far the measured length missed.
        target_chars *= aim / max(tokens, 1)
    if best is None:
        raise RuntimeError(f"document {spec['index']} ({spec['kind']}): every draw contained a banned phrase")
    return best


def write_corpus(out_dir, specs, counter, min_tokens, max_tokens, source_val_fraction, log=sys.stderr):
    docs_dir = os.path.join(out_dir, "docs")
    os.makedirs(docs_dir, exist_ok=True)
    for name in sorted(os.listdir(docs_dir)):  # documents of an earlier run, ours by their names
        if DOC_NAME_RE.match(name):
            os.remove(os.path.join(docs_dir, name))
    contexts = {}
    lines = []
    for spec in specs:
        split = spec["split"]
        if split not in contexts:
            contexts[split] = generators.Context(split, source_val_fraction)
        doc, tokens = generate_document(spec, contexts[split], counter, min_tokens, max_tokens)
        doc_id = f"{spec['index']:05d}-{doc.kind}"
        extension = "json" if doc.format == "chat" else "txt"
        path = os.path.join("docs", f"{doc_id}.{extension}")
        with open(os.path.join(out_dir, path), "w", encoding="utf-8") as f:
            if doc.format == "chat":
                json.dump({"messages": doc.messages}, f, ensure_ascii=False, indent=1)
                f.write("\n")
            else:
                f.write(doc.text)
        lines.append(json.dumps({
            "id": doc_id, "kind": doc.kind, "split": split, "path": path, "approx_tokens": tokens,
            "format": doc.format, "ending": doc.ending, "answer": doc.answer,
            "keys": doc.keys, "sources": doc.sources}, ensure_ascii=False))
        if not (min_tokens <= tokens <= max_tokens):
            print(f"warning: {doc_id} has {tokens} tokens, outside [{min_tokens}, {max_tokens}]", file=log)
    with open(os.path.join(out_dir, "manifest.jsonl"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return [json.loads(line) for line in lines]


def summary(records):
    out = {}
    for r in records:
        entry = out.setdefault(r["kind"], {"train": 0, "val": 0, "question": 0, "chat": 0, "tokens": 0})
        entry[r["split"]] += 1
        entry["question"] += r["ending"] == "question"
        entry["chat"] += r["format"] == "chat"
        entry["tokens"] += r["approx_tokens"]
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--documents", type=int, default=200)
    p.add_argument("--min-tokens", type=int, default=2000)
    p.add_argument("--max-tokens", type=int, default=8000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--source-val-fraction", type=float, default=None,
                   help="share of source files and entity names reserved for validation "
                        "(default: the validation fraction, at least 0.1)")
    p.add_argument("--tokenizer-cmd", default=None,
                   help="shell command that reads a text on stdin and prints its token count")
    p.add_argument("--chars-per-token", type=float, default=4.0)
    args = p.parse_args(argv)
    if not 0 < args.min_tokens <= args.max_tokens:
        p.error("need 0 < --min-tokens <= --max-tokens")
    if not 0 <= args.val_fraction < 1:
        p.error("--val-fraction must be in [0, 1)")
    source_val_fraction = args.source_val_fraction
    if source_val_fraction is None:
        source_val_fraction = min(0.5, max(0.1, args.val_fraction))
    counter = TokenCounter(args.tokenizer_cmd, args.chars_per_token)
    specs = plan(args.documents, args.seed, args.val_fraction, args.min_tokens, args.max_tokens)
    records = write_corpus(args.out, specs, counter, args.min_tokens, args.max_tokens, source_val_fraction)
    total = sum(r["approx_tokens"] for r in records)
    print(f"wrote {len(records)} documents, ~{total} tokens, to {args.out}")
    for kind, entry in sorted(summary(records).items()):
        print(f"  {kind:<15} train {entry['train']:>4}  val {entry['val']:>3}  "
              f"question {entry['question']:>4}  chat {entry['chat']:>4}  tokens {entry['tokens']:>8}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
