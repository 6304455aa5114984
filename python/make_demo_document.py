#!/usr/bin/env python3
"""Writes the demo prompt: a long diary-like document with one fact (a pass code)
buried in the middle, followed by a question about it."""
import argparse
import random

NAMES = ["Alice", "Bruno", "Chen", "Dana", "Emeka", "Farah", "Goran", "Hana", "Ivan"]
PLACES = ["the harbour", "the library", "the old mill", "the market", "the station"]
THINGS = ["a red kite", "a brass key", "a tin of tea", "a map", "a violin", "a lantern"]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--words", type=int, default=4500)
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=11)
    args = p.parse_args()
    rng = random.Random(args.seed)
    code = rng.randrange(100000, 999999)
    sentences, words = [], 0
    while words < args.words:
        s = (f"{rng.choice(NAMES)} walked to {rng.choice(PLACES)} and found "
             f"{rng.choice(THINGS)} there, then went home before {rng.randrange(1, 12)} o'clock.")
        sentences.append(s)
        words += len(s.split())
    sentences.insert(len(sentences) // 2, f"Important: the secret pass code for the vault is {code}.")
    text = " ".join(sentences)
    # A completion-style question, as RULER's needle tasks ask it: small base models answer
    # this reliably at 2K-16K tokens, while they tend to echo the notes in chat form.
    question = ("Question: What is the secret pass code for the vault?\n"
                "Answer: The secret pass code for the vault is")
    with open(args.out, "w") as f:
        f.write(f"Read the following notes and remember the pass code.\n\n{text}\n\n{question}")
    print(f"demo: wrote {args.out} ({words} words); the answer is {code}")


if __name__ == "__main__":
    main()
