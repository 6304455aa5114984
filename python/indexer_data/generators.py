"""The document kinds of the indexer corpus, their weights, and the context a generator
runs in. Each generator is `generate(context, rng, target_chars) -> Doc` and must be a
pure function of its random generator and target, so documents are reproducible and can
be regenerated at another length when a tokenizer measures them off target."""
import gen_code
import gen_dialogue
import gen_local
import gen_records
import sources
import vocab

# kind: (generator, weight). Weights favour documents whose last request depends on a fact
# far back (dialogue, lookup notes, records, logs, code); local-text kinds keep the corpus
# close to natural text; essays (the evaluation haystack) get a small share.
KINDS = {
    "dialogue": (gen_dialogue.dialogue, 16),
    "lookup_notes": (gen_local.lookup_notes, 12),
    "server_log": (gen_records.server_log, 10),
    "records_table": (gen_records.records_table, 9),
    "facts_list": (gen_records.facts_list, 9),
    "code_generated": (gen_code.code_generated, 9),
    "code_stdlib": (gen_code.code_stdlib, 8),
    "man_pages": (gen_local.man_pages, 11),
    "debian_docs": (gen_local.debian_docs, 11),
    "essay_prose": (gen_local.essay_prose, 5),
}


class Context:
    """What a generator may draw on: the local text and entity vocabularies of one split."""

    def __init__(self, split, source_val_fraction):
        self.split = split
        self.text = sources.LocalText(split, source_val_fraction)
        self.vocab = vocab.Vocab(split, source_val_fraction)


def kind_counts(documents):
    """How many documents of each kind: proportional to the weights by largest remainder,
    with every kind present once there are at least as many documents as kinds."""
    names = sorted(KINDS)
    total_weight = sum(KINDS[n][1] for n in names)
    exact = {n: documents * KINDS[n][1] / total_weight for n in names}
    counts = {n: int(exact[n]) for n in names}
    if documents >= len(names):
        for n in names:
            counts[n] = max(1, counts[n])
    while sum(counts.values()) > documents:
        largest = max(names, key=lambda n: (counts[n] - exact[n], counts[n]))
        counts[largest] -= 1
    while sum(counts.values()) < documents:
        best = max(names, key=lambda n: (exact[n] - counts[n], KINDS[n][1]))
        counts[best] += 1
    return counts
