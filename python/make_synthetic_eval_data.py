#!/usr/bin/env python3
"""Writes a stand-in for the evaluation data folder (FLASHMEM_DATA / `flashmem eval --data`):
the same layout as RULER's data (haystack/paul_graham_essays/*.txt, words/{adjective,noun,
verb}list.txt), with made-up words and essays of made-up sentences, all generated here.

The tests and the CI pipeline run on it, so that a fresh clone tests the RULER and
memory-QA generators, the indexer corpus and the eval pipeline end to end. It is not the
data of any reported result: RULER's numbers need RULER's own haystack and word lists
(docs/results.md says which data each table used).

    python python/make_synthetic_eval_data.py DIR
"""
import os
import random
import sys

ONSETS = ["b", "br", "c", "cl", "d", "dr", "f", "fl", "g", "gr", "h", "j", "k", "l", "m", "n", "p", "pl",
          "qu", "r", "s", "st", "t", "tr", "v", "w", "z"]
VOWELS = ["a", "e", "i", "o", "u", "ai", "ea", "oo", "ou"]
CODAS = ["", "n", "m", "r", "l", "s", "t", "nd", "rk", "sh"]


def words(rng, n, suffixes, taken):
    out = []
    while len(out) < n:
        w = "".join(rng.choice(ONSETS) + rng.choice(VOWELS) for _ in range(rng.randint(1, 3)))
        w += rng.choice(CODAS) + rng.choice(suffixes)
        if w not in taken and len(w) > 2:
            taken.add(w)
            out.append(w)
    return out


def essay(rng, nouns, adjectives, verbs, n_words):
    shapes = [
        "The {a} {n} {v}s the {n}.",
        "Most {n}s {v} when the {n} is {a}.",
        "If you {v} a {n}, the {n} becomes {a}.",
        "A {a} {n} rarely {v}s without a {n}.",
        "Nobody expected the {n} to {v} so {a} a {n}.",
        "In the end, every {n} {v}s its own {a} {n}.",
    ]
    text, count = [], 0
    while count < n_words:
        paragraph = []
        for _ in range(rng.randint(3, 7)):
            s = rng.choice(shapes)
            while "{n}" in s or "{a}" in s or "{v}" in s:
                s = s.replace("{n}", rng.choice(nouns), 1).replace("{a}", rng.choice(adjectives), 1)
                s = s.replace("{v}", rng.choice(verbs), 1)
            paragraph.append(s)
            count += len(s.split())
        text.append(" ".join(paragraph))
    return "\n\n".join(text) + "\n"


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    root = sys.argv[1]
    rng = random.Random(20261204)
    taken = set()
    nouns = words(rng, 3000, ["", "", "et", "ion", "er"], taken)
    adjectives = words(rng, 800, ["ous", "ful", "ish", "ic", "y"], taken)
    verbs = words(rng, 900, ["", "ate", "ify", "en"], taken)
    os.makedirs(os.path.join(root, "words"), exist_ok=True)
    essays_dir = os.path.join(root, "haystack", "paul_graham_essays")
    os.makedirs(essays_dir, exist_ok=True)
    for name, items in (("nounlist", nouns), ("adjectivelist", adjectives), ("verblist", verbs)):
        with open(os.path.join(root, "words", name + ".txt"), "w") as f:
            f.write("\n".join(items) + "\n")
    for i in range(50):
        with open(os.path.join(essays_dir, f"essay_{i:02d}.txt"), "w") as f:
            f.write(essay(rng, nouns, adjectives, verbs, rng.randint(1500, 4000)))
    with open(os.path.join(root, "README.md"), "w") as f:
        f.write("Synthetic stand-in for the evaluation data, written by python/make_synthetic_eval_data.py.\n")
    print(f"make_synthetic_eval_data: wrote {root}")


if __name__ == "__main__":
    main()
