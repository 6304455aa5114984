"""Reading a `flashmem dump` directory (docs/indexer-training.md) into training examples.

A training example is one sample s of a document (the query: hidden[s, t] for every target
layer t, at positions[s]) against the document's candidate chunks [0, history_chunks[s]).
Samples of one document share its chunk keys, so examples stay grouped by document and a
batch is a few documents padded to a common sample count and chunk count, with masks.

Labels, per sample and target layer: the layer's golden chunks, recomputed from mass.npy
(the smallest set of history chunks holding >= golden_mass of the layer's history mass).
The sink chunk(s) and the recency tail (chunks overlapping the last recency_tokens before
positions[s]) are kept by the runtime whatever the indexer says and are nearly always
golden, so they are marked `always_kept` and the loss can skip or down-weight them.
"""

import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import decode_chunk_keys  # noqa: E402


def golden_per_layer(mass, history, golden_mass, excluded=None):
    """mass [S, T, C], history [S] -> bool [S, T, C]: per sample and layer the smallest set
    of history chunks whose mass, taken in decreasing order, reaches golden_mass of the
    layer's history mass. Ties: the lower chunk index first (stable sort). excluded
    (bool [S, C], optional): chunks left out of the choice and of the total (the sink and
    recency tail the runtime keeps anyway): the golden set is then the contested one."""
    S, T, C = mass.shape
    in_history = np.arange(C)[None, None, :] < history[:, None, None]
    if excluded is not None:
        in_history = in_history & ~excluded[:, None, :]
    m = np.where(in_history, mass.astype(np.float64), 0.0)
    order = np.argsort(-m, axis=-1, kind="stable")
    sorted_mass = np.take_along_axis(m, order, axis=-1)
    before = np.cumsum(sorted_mass, axis=-1) - sorted_mass          # mass taken before each
    total = m.sum(-1, keepdims=True)
    take_sorted = (before < golden_mass * total) & (total > 0)
    take_sorted &= np.take_along_axis(in_history, order, axis=-1)
    golden = np.zeros_like(take_sorted)
    np.put_along_axis(golden, order, take_sorted, axis=-1)
    return golden


def read_dump_config(dump_dir):
    with open(os.path.join(dump_dir, "dump_config.json")) as f:
        return json.load(f)


def read_manifest(dump_dir):
    with open(os.path.join(dump_dir, "manifest.jsonl")) as f:
        return [json.loads(line) for line in f if line.strip()]


def always_kept_chunks(positions, history, n_chunks, cfg):
    """bool [S, C]: chunks the runtime keeps regardless of scores (lsa_select: the sink's
    ceil(sink_tokens / chunk_tokens) chunks and the tail from (n_tokens - recency) / T on)."""
    ct = int(cfg["chunk_tokens"])
    c = np.arange(n_chunks)[None, :]
    sink = c < (int(cfg["sink_tokens"]) + ct - 1) // ct
    tail_from = np.maximum(0, (positions.astype(np.int64) - int(cfg["recency_tokens"])) // ct)
    tail = c >= tail_from[:, None]
    return (sink | tail) & (c < history[:, None])


class Document:
    """One document's arrays, in memory as torch tensors (float32 unless noted).
    hidden [S, T, d_model]; positions int64 [S]; history int64 [S]; keys [T, C, key_dim]
    (dequantized); mass [S, T, C]; golden_layers bool [S, T, C] (recomputed per layer);
    golden bool [S, C] (the dump's union CSR); always_kept bool [S, C]."""

    def __init__(self, dump_dir, entry, cfg, label_mass="mean", entry_keys=False):
        d = os.path.join(dump_dir, entry["dir"])

        def load(name):
            return np.load(os.path.join(d, name + ".npy"), mmap_mode="r")

        self.id, self.split = entry["id"], entry["split"]
        hidden = np.array(load("hidden"), dtype=np.float32)  # copies: torch wants writable arrays
        positions = np.asarray(load("positions")).astype(np.int64)
        history = np.asarray(load("history_chunks")).astype(np.int64)
        codes, scales = load("key_codes"), load("key_scales")
        # "peak": each chunk's largest single-step mass over the window (mass_peak.npy), which
        # keeps the one step that copies a distant fact from being averaged away.
        mass = np.array(load({"mean": "mass", "peak": "mass_peak"}[label_mass]), dtype=np.float32)
        S, T, C = mass.shape
        steps = np.asarray(load("steps")).astype(np.int64)
        # The sample at the end of the prefill (step == the teacher-forced tail): the query
        # the runtime's first selection uses, its window the answer to the final request.
        tail = min(int(cfg.get("tail_tokens", 128)), int(entry.get("n_prompt_tokens", 0)) // 4)
        self.answer_start = torch.from_numpy(steps == tail)
        # SnapKV's votes for that query: the attention of the last window_steps prompt tokens,
        # which is the mean window mass of the sample window_steps before the prefill end
        # (when the teacher-forced tail reaches that far back).
        votes = np.flatnonzero(steps == tail - int(cfg["window_steps"]))
        mean_mass = mass if label_mass == "mean" else np.array(load("mass"), dtype=np.float32)
        self.prompt_votes = mean_mass[votes[0]].mean(0) if len(votes) else None   # [C] or None
        self.ends_with_question = entry.get("ending") == "question"
        assert hidden.shape[:2] == (S, T) and codes.shape[:2] == (T, C), f"{d}: inconsistent shapes"
        assert (history <= C).all() and (history >= 0).all(), f"{d}: history_chunks out of range"

        always_kept = always_kept_chunks(positions, history, C, cfg)
        # Labels on the contested history: the sink alone holds about half of the history
        # mass on Gemma 3, so a golden set over all of it would be little more than the sink.
        golden_layers = golden_per_layer(mass, history, float(cfg["golden_mass"]),
                                         always_kept if cfg.get("golden_contested", False) else None)
        indptr, indices = np.asarray(load("golden_indptr")), np.asarray(load("golden_indices"))
        golden = np.zeros((S, C), dtype=bool)
        rows = np.repeat(np.arange(S), np.diff(indptr))
        golden[rows, indices] = True
        recomputed = golden_layers.sum(1) >= int(cfg.get("golden_min_layers", 1))
        # Agreement of the recomputed union with the dump's: a check on both sides.
        self.golden_agreement = float((recomputed == golden).mean()) if golden.size else 1.0

        self.hidden = torch.from_numpy(hidden)
        self.positions = torch.from_numpy(positions)
        self.history = torch.from_numpy(history)
        if entry_keys:  # [T, C, E, kd] -> [T, C * E, kd], a chunk's entries consecutive
            entry_codes, entry_scales = load("entry_key_codes"), load("entry_key_scales")
            assert entry_codes.shape[:2] == (T, C), f"{d}: entry keys do not match the chunks"
            E = entry_codes.shape[2]
            codes = np.asarray(entry_codes).reshape(T, C * E, -1)
            scales = np.asarray(entry_scales).reshape(T, C * E)
        self.entries = E if entry_keys else 1
        self.keys = torch.from_numpy(decode_chunk_keys(codes, scales))
        self.mass = torch.from_numpy(mass)
        self.golden_layers = torch.from_numpy(golden_layers)
        self.golden = torch.from_numpy(golden)
        self.always_kept = torch.from_numpy(always_kept)
        self.n_samples, self.n_layers, self.n_chunks = S, T, C


def load_documents(dump_dir, split=None, limit=None, golden_mass=None, label_mass="mean", entry_keys=False):
    """golden_mass, when given, replaces the dump's for the per-layer labels; label_mass
    "peak" reads the window's per-step peak mass in place of its mean; entry_keys reads the
    finer entry keys (dump --entry-tokens) in place of one pooled key per chunk."""
    cfg = read_dump_config(dump_dir)
    if golden_mass is not None:
        cfg = dict(cfg, golden_mass=float(golden_mass))
    docs = []
    for entry in read_manifest(dump_dir):
        if split is not None and entry["split"] != split:
            continue
        if entry.get("n_samples", 1) == 0:
            continue
        docs.append(Document(dump_dir, entry, cfg, label_mass, entry_keys))
        if limit and len(docs) >= limit:
            break
    return cfg, docs


class Batch:
    """Documents padded to common sample and chunk counts.
    hidden [D, S, T, d]; positions [D, S]; keys [D, T, C, kd]; sample_valid bool [D, S];
    chunk_valid bool [D, S, C] (c < history); golden_layers [D, S, T, C]; golden [D, S, C];
    always_kept [D, S, C]; mass [D, S, T, C]."""

    def __init__(self, docs, answer_start_weight=1.0):
        D = len(docs)
        S = max(doc.n_samples for doc in docs)
        C = max(doc.n_chunks for doc in docs)
        T, d = docs[0].hidden.shape[1], docs[0].hidden.shape[2]
        kd = docs[0].keys.shape[2]
        self.entries = docs[0].entries
        assert all(doc.entries == self.entries for doc in docs), "documents mix entry sizes"
        E = self.entries
        self.hidden = torch.zeros(D, S, T, d)
        self.positions = torch.zeros(D, S, dtype=torch.int64)
        self.keys = torch.zeros(D, T, C * E, kd)
        self.sample_valid = torch.zeros(D, S, dtype=torch.bool)
        self.history = torch.zeros(D, S, dtype=torch.int64)
        self.golden_layers = torch.zeros(D, S, T, C, dtype=torch.bool)
        self.golden = torch.zeros(D, S, C, dtype=torch.bool)
        self.always_kept = torch.zeros(D, S, C, dtype=torch.bool)
        self.mass = torch.zeros(D, S, T, C)
        # Per-sample loss weight: answer_start_weight on the prefill-end sample of documents
        # that end with a request, 1 elsewhere.
        self.sample_weight = torch.zeros(D, S)
        for i, doc in enumerate(docs):
            s, c = doc.n_samples, doc.n_chunks
            self.hidden[i, :s] = doc.hidden
            self.positions[i, :s] = doc.positions
            self.keys[i, :, :c * E] = doc.keys
            self.sample_valid[i, :s] = True
            self.history[i, :s] = doc.history
            self.golden_layers[i, :s, :, :c] = doc.golden_layers
            self.golden[i, :s, :c] = doc.golden
            self.always_kept[i, :s, :c] = doc.always_kept
            self.mass[i, :s, :, :c] = doc.mass
            boost = doc.answer_start & doc.ends_with_question
            self.sample_weight[i, :s] = torch.where(boost, answer_start_weight, 1.0)
        self.chunk_valid = torch.arange(C)[None, None, :] < self.history[:, :, None]
        self.chunk_valid &= self.sample_valid[:, :, None]


def batches(docs, docs_per_batch, generator=None, shuffle=True, answer_start_weight=1.0):
    order = torch.randperm(len(docs), generator=generator).tolist() if shuffle else list(range(len(docs)))
    for i in range(0, len(order), docs_per_batch):
        yield Batch([docs[j] for j in order[i:i + docs_per_batch]], answer_start_weight)


def loss_weights(batch, neg_ratio, always_kept_weight, generator=None):
    """Per-layer weights [D, S, T, C] for the loss: every golden chunk; negatives sampled
    at about neg_ratio per positive of the same sample and layer (all when neg_ratio <= 0);
    always-kept chunks scaled by always_kept_weight (0 drops them)."""
    valid = batch.chunk_valid[:, :, None, :].expand_as(batch.golden_layers)
    always = batch.always_kept[:, :, None, :].expand_as(valid)
    positive = batch.golden_layers & valid
    negative = ~batch.golden_layers & valid
    if neg_ratio > 0:
        n_pos = (positive & ~always).sum(-1, keepdim=True).clamp(min=1).float()
        n_neg = (negative & ~always).sum(-1, keepdim=True).clamp(min=1).float()
        keep_probability = (neg_ratio * n_pos / n_neg).clamp(max=1.0)
        draw = torch.rand(negative.shape, generator=generator)
        negative = negative & (draw < keep_probability)
    weights = (positive | negative).float()
    return torch.where(always, weights * always_kept_weight, weights)
