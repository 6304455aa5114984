#!/usr/bin/env python3
"""Checks of the indexer corpus generator; plain asserts, run as

  python3 python/indexer_data/test_make_corpus.py

Each test is a function whose name reads as a claim; the script runs them all and exits
non-zero when any fails."""
import json
import os
import shutil
import sys
import tempfile
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import generators  # noqa: E402
import make_corpus  # noqa: E402
import sources  # noqa: E402
import vocab  # noqa: E402

DOCUMENTS = 48
MIN_TOKENS, MAX_TOKENS = 1500, 4000
VAL_FRACTION = 0.25
_corpora = {}


def corpus(seed, tag="a"):
    """Generates (once per seed and tag) a corpus in a temporary folder; returns its path."""
    key = (seed, tag)
    if key not in _corpora:
        out = tempfile.mkdtemp(prefix=f"indexer_corpus_{seed}_{tag}_")
        args = ["--out", out, "--documents", str(DOCUMENTS), "--min-tokens", str(MIN_TOKENS),
                "--max-tokens", str(MAX_TOKENS), "--seed", str(seed), "--val-fraction", str(VAL_FRACTION)]
        with open(os.devnull, "w") as quiet:
            stdout, sys.stdout = sys.stdout, quiet
            try:
                assert make_corpus.main(args) == 0
            finally:
                sys.stdout = stdout
        _corpora[key] = out
    return _corpora[key]


def manifest(out):
    with open(os.path.join(out, "manifest.jsonl"), encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def read_document(out, record):
    with open(os.path.join(out, record["path"]), encoding="utf-8") as f:
        if record["format"] == "chat":
            return json.load(f)
        return f.read()


def document_text(out, record):
    document = read_document(out, record)
    if record["format"] == "chat":
        return "\n\n".join(m["content"] for m in document["messages"])
    return document


def test_same_seed_gives_identical_manifest_and_files():
    first, second = corpus(3, "a"), corpus(3, "b")
    with open(os.path.join(first, "manifest.jsonl"), "rb") as f:
        manifest_a = f.read()
    with open(os.path.join(second, "manifest.jsonl"), "rb") as f:
        manifest_b = f.read()
    assert manifest_a == manifest_b, "manifests differ between two runs with one seed"
    for record in manifest(first):
        with open(os.path.join(first, record["path"]), "rb") as fa, open(os.path.join(second, record["path"]), "rb") as fb:
            assert fa.read() == fb.read(), f"{record['path']} differs between two runs with one seed"


def test_another_seed_gives_other_documents():
    a, b = manifest(corpus(3)), manifest(corpus(4))
    texts_a = {document_text(corpus(3), r)[:2000] for r in a}
    texts_b = {document_text(corpus(4), r)[:2000] for r in b}
    assert len(texts_a & texts_b) <= 2, "two seeds produced mostly the same documents"


def test_manifest_lines_have_the_promised_fields_and_files_exist():
    out = corpus(3)
    records = manifest(out)
    assert len(records) == DOCUMENTS
    assert len({r["id"] for r in records}) == DOCUMENTS, "ids repeat"
    for record in records:
        for field in ("id", "kind", "split", "path", "approx_tokens", "format"):
            assert field in record, f"{record.get('id')}: no {field}"
        assert record["split"] in ("train", "val")
        assert record["format"] in ("text", "chat")
        assert record["kind"] in generators.KINDS
        path = os.path.join(out, record["path"])
        assert os.path.isfile(path), path
        assert path.endswith(".json" if record["format"] == "chat" else ".txt")


def test_every_document_length_is_within_the_requested_range():
    out = corpus(3)
    for record in manifest(out):
        tokens = record["approx_tokens"]
        assert MIN_TOKENS <= tokens <= MAX_TOKENS, f"{record['id']}: {tokens} tokens"
        measured = make_corpus.TokenCounter().count_text(document_text(out, record))
        assert abs(measured - tokens) <= 4 * 64, f"{record['id']}: manifest says {tokens}, text has ~{measured}"


def test_chat_documents_alternate_roles_and_end_with_a_user_request():
    out = corpus(3)
    chats = [r for r in manifest(out) if r["format"] == "chat"]
    assert chats, "no chat documents"
    for record in chats:
        messages = read_document(out, record)["messages"]
        assert messages and messages[-1]["role"] == "user", record["id"]
        for index, message in enumerate(messages):
            assert set(message) == {"role", "content"}, record["id"]
            assert message["role"] == ("user" if index % 2 == 0 else "assistant"), record["id"]
            assert message["content"].strip(), f"{record['id']}: empty message {index}"


def test_every_kind_appears_and_both_endings_occur():
    records = manifest(corpus(3))
    kinds = {r["kind"] for r in records}
    assert kinds == set(generators.KINDS), f"missing kinds: {set(generators.KINDS) - kinds}"
    endings = [r["ending"] for r in records]
    questions = endings.count("question")
    assert 0.4 * len(records) <= questions <= 0.9 * len(records), f"{questions} of {len(records)} end with a request"
    assert {r["format"] for r in records} == {"text", "chat"}


def test_kind_counts_follow_the_weights_and_add_up():
    for documents in (1, 7, 10, 40, 200, 1001):
        counts = generators.kind_counts(documents)
        assert sum(counts.values()) == documents
        if documents >= len(generators.KINDS):
            assert min(counts.values()) >= 1
    counts = generators.kind_counts(1000)
    total_weight = sum(w for _, w in generators.KINDS.values())
    for kind, (_, weight) in generators.KINDS.items():
        assert abs(counts[kind] - 1000 * weight / total_weight) <= 1


def test_validation_share_matches_the_fraction():
    records = manifest(corpus(3))
    val = sum(r["split"] == "val" for r in records)
    assert val == round(DOCUMENTS * VAL_FRACTION), val


def test_train_and_validation_use_disjoint_source_files_and_keys():
    for seed in (3, 4):
        records = manifest(corpus(seed))
        by_split = {"train": (set(), set()), "val": (set(), set())}
        for record in records:
            files, keys = by_split[record["split"]]
            files.update(s for s in record["sources"] if not s.startswith("gen:"))
            keys.update(record["keys"])
        assert by_split["val"][0], "validation documents use no local files"
        shared_files = by_split["train"][0] & by_split["val"][0]
        shared_keys = by_split["train"][1] & by_split["val"][1]
        assert not shared_files, f"files in both splits: {sorted(shared_files)[:5]}"
        assert not shared_keys, f"keys in both splits: {sorted(shared_keys)[:5]}"


def test_entity_vocabularies_of_the_splits_are_disjoint():
    train, val = vocab.Vocab("train", 0.1), vocab.Vocab("val", 0.1)
    for attribute in ("first_names", "surnames", "places", "colors", "nouns", "adjectives", "verbs"):
        a, b = getattr(train, attribute), getattr(val, attribute)
        assert a and b, f"{attribute}: an empty pool"
        assert not set(a) & set(b), f"{attribute}: shared between splits"


def test_source_split_is_stable_and_near_the_fraction():
    identities = [f"man:page{i}.1" for i in range(4000)]
    val = sum(sources.split_of(i, 0.1) == "val" for i in identities)
    assert 300 <= val <= 500, val
    assert [sources.split_of(i, 0.1) for i in identities[:50]] == [sources.split_of(i, 0.1) for i in identities[:50]]


def test_no_document_contains_evaluation_template_phrases():
    for seed in (3, 4):
        out = corpus(seed)
        for record in manifest(out):
            text = document_text(out, record)
            match = sources.BANNED_RE.search(text)
            assert match is None, f"{record['id']}: contains {match.group(0)!r}"


def test_banned_phrase_filter_catches_the_evaluation_templates():
    for phrase in ["One of the special magic numbers for x is: 5.", "What is the magic number for y?",
                   "Make sure to memorize it.", "VAR QPEZ = 12345", "Find all variables that are assigned the value 7",
                   "What are the 10 most common words in the above list?", "the three most frequently appeared words",
                   "Session 3:", "Chat history:", "Current Date: 2023/05/20", "I will quiz you about the numbers",
                   "Answer the question based on the given documents."]:
        assert sources.contains_banned(phrase), phrase
    for phrase in ["The van is on loan to Priya.", "Which room did Omar book?", "session=s-8af3 opened"]:
        assert not sources.contains_banned(phrase), phrase


def test_questions_ask_about_something_stated_in_the_document():
    out = corpus(3)
    checked = 0
    for record in manifest(out):
        if record["ending"] != "question" or not record["answer"]:
            continue
        text = document_text(out, record)
        # The answer (or for structured answers, each part of it) was stated before the end.
        parts = [p.strip() for p in record["answer"].split(", ")]
        body = text[: int(len(text) * 0.95)]
        for part in parts:
            probe = part[:40]
            assert probe in body or probe in " ".join(body.split()), f"{record['id']}: answer {part!r} not in the text"
        checked += 1
    assert checked >= DOCUMENTS // 3, checked


def test_troff_fallback_keeps_titles_and_text():
    source = '.TH DEMO 1\n.SH NAME\ndemo \\- shows things\n.SH DESCRIPTION\n.B demo\nprints \\fIfiles\\fR.\n.TP\n.B \\-v\nverbose\n'
    text = sources._strip_troff(source)
    assert "NAME" in text and "demo - shows things" in text and "prints files." in text and "-v" in text, text


def main():
    tests = [(name, fn) for name, fn in sorted(globals().items()) if name.startswith("test_") and callable(fn)]
    failures = 0
    for name, fn in tests:
        try:
            fn()
            print(f"ok    {name}")
        except Exception:  # report every failing claim, not only the first
            failures += 1
            print(f"FAIL  {name}")
            traceback.print_exc()
    for out in _corpora.values():
        shutil.rmtree(out, ignore_errors=True)
    print(f"{len(tests) - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
