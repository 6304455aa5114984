"""A notes document with pass codes of several vaults at chosen depths, for questions
whose answers sit in distant parts of a long context."""
import random

NAMES = ["Alice", "Bruno", "Chen", "Dalia", "Emeka", "Farah", "Goran", "Hana", "Ivan", "Jun"]
PLACES = ["library", "market", "harbour", "station", "garden", "bakery", "museum", "bridge"]
THINGS = ["a red kite", "a brass key", "a lantern", "a blue scarf", "an old map", "a tin box"]


def filler(rng):
    return (f"{rng.choice(NAMES)} walked to the {rng.choice(PLACES)} and found {rng.choice(THINGS)} there, "
            f"then went home before {rng.randint(1, 12)} o'clock.")


def make_document(seed, n_sentences, vaults):
    """vaults: {colour: depth in [0, 1]}. Returns (text, {colour: code})."""
    rng = random.Random(seed)
    sentences = [filler(rng) for _ in range(n_sentences)]
    codes = {}
    for colour, depth in sorted(vaults.items(), key=lambda kv: -kv[1]):
        code = str(rng.randint(100000, 999999))
        codes[colour] = code
        sentences.insert(int(depth * len(sentences)), f"Important: the pass code of the {colour} vault is {code}.")
    text = "Read the following notes and remember the pass codes.\n\n" + " ".join(sentences)
    return text, codes


def question(colour):
    return (f"\nQuestion: What is the pass code of the {colour} vault?\n"
            f"Answer: The pass code of the {colour} vault is")
