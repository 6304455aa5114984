#!/usr/bin/env python3
"""Reference token ids and logits from llama.cpp (llama-cpp-python) for the parity tests.

For each prompt: the prompt's token ids (llama.cpp's tokenizer, with BOS), the greedy
continuation of --tokens tokens (argmax of llama.cpp's logits at every step), and the
top-40 (id, logit) pairs of the first step. One long prompt of --long tokens, built from
a generated text, is continued for --long-tokens tokens so that both the sliding-window
and the global layers are exercised past the window.

At every greedy step the margin between llama.cpp's two best logits is stored too: the
parity test allows a different choice only where llama.cpp itself was nearly undecided
(python/llamacpp_self_noise.py measures how far llama.cpp's own logits move when the same
prompt is merely batched differently: about 0.1-0.25 mean and up to ~1.2 max on these models).

The output JSON is committed (tests/data/reference/) so CI does not need to build
llama.cpp; rerun this script to regenerate it:
  .venv/bin/python python/make_reference.py --model MODEL.gguf --out tests/data/reference/gemma3_270m.json
"""
import argparse
import json
import random

import numpy as np
from llama_cpp import Llama
import llama_cpp

PROMPTS = [
    "The capital of France is",
    "Once upon a time, in a small village by the sea,",
    "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n",
    "Q: What is 17 times 23?\nA:",
    "The three primary colors are",
    "In 1969, Neil Armstrong",
    "Here is a list of fruits:\n1. Apple\n2.",
    "The quick brown fox",
    "Photosynthesis is the process by which",
    "#include <stdio.h>\n\nint main(void) {\n",
    "Translate to French: 'Good morning, how are you?'\nFrench:",
    "The best way to learn a new language is",
    "Dear hiring manager,\n\nI am writing to apply for",
    "SELECT name, age FROM users WHERE",
    "Water boils at a temperature of",
    "The theory of relativity, proposed by Albert Einstein,",
    "Recipe for pancakes:\nIngredients:\n-",
    "It was a dark and stormy night;",
    "The mitochondria is",
    "Breaking news: scientists have discovered",
    "日本の首都は",
    "Les Misérables est un roman de",
    "import numpy as np\nx = np.arange(10)\nprint(",
    "<start_of_turn>user\nWrite a haiku about autumn.<end_of_turn>\n<start_of_turn>model\n",
]

FIRST_NAMES = ["Alice", "Bruno", "Chen", "Dana", "Emeka", "Farah", "Goran", "Hana", "Ivan",
               "Jonas", "Keiko", "Liam", "Mara", "Nils", "Olga", "Pedro", "Quinn", "Rosa"]
CITIES = ["Lisbon", "Osaka", "Nairobi", "Quito", "Tallinn", "Perth", "Bergen", "Austin",
          "Hanoi", "Porto", "Krakow", "Durban", "Leeds", "Malmo", "Tucson", "Cork"]
ITEMS = ["lamp", "bicycle", "violin", "teapot", "camera", "kayak", "globe", "clock",
         "telescope", "notebook", "compass", "lantern", "piano", "sextant"]
VERBS = ["bought", "repaired", "painted", "sold", "borrowed", "found", "lost", "built"]


def generated_text(n_words, seed=7):
    """A long, varied but deterministic text: a diary of small events and facts."""
    rng = random.Random(seed)
    parts, words = [], 0
    day = 1
    while words < n_words:
        who, city, item = rng.choice(FIRST_NAMES), rng.choice(CITIES), rng.choice(ITEMS)
        kind = rng.randrange(4)
        if kind == 0:
            s = f"On day {day}, {who} {rng.choice(VERBS)} a {item} in {city} for {rng.randrange(5, 900)} coins."
        elif kind == 1:
            s = f"{who} wrote in the log: the {item} weighs {rng.randrange(1, 90)} kilograms and is kept in {city}."
        elif kind == 2:
            s = f"Entry {day}: the weather in {city} was {rng.choice(['mild', 'stormy', 'cold', 'humid', 'clear'])}, and {who} stayed inside."
        else:
            s = f"Note: {who} and {rng.choice(FIRST_NAMES)} met near the {item} shop in {city} at {rng.randrange(1, 12)} o'clock."
        if rng.random() < 0.2:
            s += "\n"
        parts.append(s)
        words += len(s.split())
        day += 1
    return " ".join(parts)


def last_logits(llm):
    ptr = llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1)
    return np.ctypeslib.as_array(ptr, shape=(llm.n_vocab(),)).copy()


def greedy(llm, ids, n_tokens):
    """Greedy tokens, and at each step llama.cpp's margin between its best and second-best
    logit: a small margin marks a near-tie that rounding noise may legitimately flip."""
    llm.reset()
    llm.eval(ids)
    first = last_logits(llm)
    out, margins = [], []
    logits = first
    for i in range(n_tokens):
        top2 = np.partition(-logits, 1)[:2]
        tok = int(np.argmax(logits))
        out.append(tok)
        margins.append(round(float(top2[1] - top2[0]), 5))
        if i + 1 < n_tokens:
            llm.eval([tok])
            logits = last_logits(llm)
    top = np.argsort(-first, kind="stable")[:40]
    return out, margins, [[int(t), float(first[t])] for t in top]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--prompts", type=int, default=len(PROMPTS))
    p.add_argument("--tokens", type=int, default=64)
    p.add_argument("--long", type=int, default=8192)
    p.add_argument("--long-tokens", type=int, default=32)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()

    n_ctx = max(1024, args.long + args.long_tokens + 64)
    llm = Llama(model_path=args.model, n_ctx=n_ctx, n_threads=args.threads,
                n_threads_batch=args.threads, n_batch=512, verbose=False, swa_full=False)
    cases = []
    for text in PROMPTS[: args.prompts]:
        ids = llm.tokenize(text.encode(), add_bos=True, special=True)
        out, margins, top = greedy(llm, ids, args.tokens)
        cases.append({"name": text[:40], "prompt_ids": ids, "greedy_ids": out,
                      "greedy_margins": margins, "first_top40": top})
        print(f"{len(ids):5d} prompt tokens -> {llm.detokenize(out)[:60]!r}", flush=True)
    if args.long > 0:
        text = generated_text(args.long)  # more words than tokens needed; cut by ids
        ids = llm.tokenize(text.encode(), add_bos=True, special=False)[: args.long]
        out, margins, top = greedy(llm, ids, args.long_tokens)
        cases.append({"name": f"long-{args.long}", "prompt_ids": ids, "greedy_ids": out,
                      "greedy_margins": margins, "first_top40": top})
        print(f"long {len(ids)} tokens -> {llm.detokenize(out)[:60]!r}", flush=True)
    with open(args.out, "w") as f:
        json.dump({"model": args.model.split("/")[-1], "llama_cpp_python": llama_cpp.__version__,
                   "cases": cases}, f, separators=(",", ":"))


if __name__ == "__main__":
    main()
