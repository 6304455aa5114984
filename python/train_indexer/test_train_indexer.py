#!/usr/bin/env python3
"""Checks for the indexer trainer; plain asserts, exit status 1 on the first failure.

1. The torch network computes python/indexer_reference.py's function (random weights, fp8
   chunk keys, YaRN and plain RoPE, with and without the key projection, max and mean),
   and reproduces the engine's fixtures (tests/data/indexer, F16/BF16 weights included).
2. The vectorized fp8 encoder matches the reference encoder code for code.
3. save -> load of the engine's safetensors layout is bit-exact, names and config included.
4. The recomputed per-layer golden sets reproduce the synthetic dump's union CSR.
5. A short training run on a small synthetic dump beats its random init clearly.

/tmp/torchtest/venv2/bin/python python/train_indexer/test_train_indexer.py
"""

import functools
import json
import os
import sys
import tempfile
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))  # python/: indexer_reference

import indexer_reference as ref  # noqa: E402
from data import load_documents  # noqa: E402
from model import CONFIG_METADATA_KEY, MemoryIndexer, decode_chunk_keys, e4m3_encode  # noqa: E402
import synthetic_dump  # noqa: E402
import train  # noqa: E402


def random_model(cfg, seed):
    model = MemoryIndexer(cfg).reset_parameters(torch.Generator().manual_seed(seed))
    with torch.no_grad():  # give q_norm and the head weights some spread, as trained weights would
        model.q_norm.add_(0.1 * torch.randn(model.q_norm.shape, generator=torch.Generator().manual_seed(seed + 1)))
        model.w_heads.mul_(4.0)
    return model


def reference_scores(model, hidden, position, keys):
    """hidden [T, d], keys [T, C, kd] numpy -> (per-layer logits [T, C], ensembled [C])."""
    cfg = model.cfg
    logits = []
    for t in range(len(cfg["target_layers"])):
        w = {"wq_a": model.wq_a[t].detach().numpy(), "q_norm": model.q_norm[t].detach().numpy(),
             "wq_b": model.wq_b[t].detach().numpy(), "w_heads": model.w_heads[t].detach().numpy()}
        if model.w_key is not None:
            w["w_key"] = model.w_key[t].detach().numpy()
        logits.append(ref.layer_logits(w, cfg, hidden[t], position, keys[t]))
    logits = np.stack(logits)
    s = ref.sigmoid(logits)
    return logits, (s.max(0) if cfg["ensemble"] == "max" else s.mean(0))


def test_matches_numpy_reference():
    base = {"d_model": 96, "n_heads": 4, "head_dim": 32, "rope_dims": 16, "q_lora_rank": 24, "key_dim": 32,
            "target_layers": [3, 7], "ensemble": "max", "rms_norm_eps": 1e-6, "rope_base": 10000.0,
            "max_position": 65536, "round_query_to_bf16": False,
            "yarn": {"factor": 4.0, "original_context": 4096, "beta_fast": 32.0, "beta_slow": 1.0}}
    cases = {
        "yarn_no_projection_max": base,
        "projected_mean": dict(base, key_dim=64, ensemble="mean", yarn=None, rope_base=500000.0),
        "gemma_default": {"d_model": 640, "n_heads": 8, "head_dim": 64, "rope_dims": 32, "q_lora_rank": 128,
                          "key_dim": 256, "target_layers": [5, 11, 17], "ensemble": "max", "rms_norm_eps": 1e-6,
                          "rope_base": 1000000.0, "max_position": 524288, "yarn": None,
                          "round_query_to_bf16": False},
    }
    rng = np.random.default_rng(7)
    for name, cfg in cases.items():
        model = random_model(cfg, seed=len(name))
        T, C = len(cfg["target_layers"]), 37
        raw = (rng.standard_normal((T, C, cfg["key_dim"])) + 0.5 * rng.standard_normal((T, 1, cfg["key_dim"])))
        scales = (np.abs(raw).max(-1) / 448.0).astype(np.float32)
        codes = e4m3_encode(raw / scales[..., None])
        keys_ref = (ref.e4m3_decode(codes) * scales[..., None]).astype(np.float32)   # the reference's decode
        keys = decode_chunk_keys(codes, scales)
        assert np.array_equal(keys, keys_ref), f"{name}: fp8 decode differs from the reference"
        worst_score, worst_logit = 0.0, 0.0
        for position in (0, 5, 1234, 40000, 10 ** 7):
            hidden = (3.0 * rng.standard_normal((T, cfg["d_model"])) + 1.0).astype(np.float32)
            ref_logits, ref_scores = reference_scores(model, hidden, position, keys)
            with torch.no_grad():
                logits = model.logits(torch.from_numpy(hidden), position, torch.from_numpy(keys))
                scores = model.ensemble(logits, layer_dim=0)
            worst_logit = max(worst_logit, float(np.abs(logits.numpy() - ref_logits).max() / (1 + np.abs(ref_logits).max())))
            worst_score = max(worst_score, float(np.abs(scores.numpy() - ref_scores).max()))
            spread = ref_scores.max() - ref_scores.min()
            assert spread > 0.05, f"{name}: degenerate test scores (spread {spread})"
        print(f"  {name}: max |score diff| {worst_score:.2e}, max relative logit diff {worst_logit:.2e}")
        assert worst_score < 1e-5, f"{name}: scores differ from the reference by {worst_score}"
        assert worst_logit < 1e-5, f"{name}: logits differ from the reference by {worst_logit}"

    # Grouped path (documents x samples) equals the one-query path.
    cfg = cases["projected_mean"]
    model = random_model(cfg, seed=3)
    hidden = torch.randn(2, 5, 2, cfg["d_model"])
    positions = torch.randint(0, 70000, (2, 5))
    keys = torch.randn(2, 2, 11, cfg["key_dim"])
    with torch.no_grad():
        grouped = model.logits_grouped(hidden, positions, keys)
        single = model.logits(hidden[1, 3], int(positions[1, 3]), keys[1])
    assert torch.allclose(grouped[1, 3], single, atol=1e-5, rtol=1e-5), "grouped logits differ from single-query"


def test_reads_engine_fixtures_and_reproduces_their_scores():
    """tests/data/indexer/*: weights stored F32/F16/BF16 as the C++ loader reads them, and
    the scores the C++ fixture test matches (to 2.4e-7)."""
    data = os.path.join(os.path.dirname(os.path.dirname(HERE)), "tests", "data", "indexer")
    from safetensors.numpy import load_file
    for case in ("basic", "projected"):
        model = MemoryIndexer.load(os.path.join(data, case + ".weights.safetensors"))
        fx = load_file(os.path.join(data, case + ".fixture.safetensors"))
        keys = torch.from_numpy(decode_chunk_keys(fx["chunk_key_codes"], fx["chunk_key_scales"]))
        with torch.no_grad():
            for qi, position in enumerate(fx["positions"].tolist()):
                logits = model.logits(torch.from_numpy(fx["hidden"][qi]), position, keys)
                scores = model.ensemble(logits, layer_dim=0).numpy()
                diff = float(np.abs(scores - fx["scores"][qi]).max())
                assert diff < 1e-5, f"{case} query {qi}: scores differ from the fixture by {diff}"


def test_fp8_encoder_matches_reference():
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.standard_normal(3000) * 50, rng.standard_normal(500) * 0.01,
                        [0.0, -0.0, 448.0, 500.0, -1e9, 2 ** -10, 0.0009765625 * 3, 240.0, 232.0, 248.0],
                        ref.E4M3_TABLE[:0x7F] + 1e-12, (ref.E4M3_TABLE[:0x7E] + ref.E4M3_TABLE[1:0x7F]) / 2])
    assert np.array_equal(e4m3_encode(x), ref.e4m3_encode(x)), "vectorized e4m3 encode differs from the reference"


def test_save_load_round_trip_is_bit_exact():
    cfg = {"d_model": 64, "n_heads": 4, "head_dim": 32, "rope_dims": 16, "q_lora_rank": 16, "key_dim": 48,
           "target_layers": [5, 11, 17], "ensemble": "max", "rms_norm_eps": 1e-6, "rope_base": 1e6,
           "max_position": 524288, "yarn": None, "round_query_to_bf16": False}
    model = random_model(cfg, seed=11)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "w.safetensors")
        model.save(path)
        from safetensors import safe_open
        with safe_open(path, framework="np") as f:
            names = set(f.keys())
            meta = f.metadata()
            assert f.get_tensor("indexer.layers.11.wq_b").dtype == np.float32
            assert f.get_tensor("indexer.layers.17.w_key").shape == (32, 48)
        expected = {f"indexer.layers.{l}.{n}" for l in (5, 11, 17) for n in ("wq_a", "q_norm", "wq_b", "w_heads", "w_key")}
        assert names == expected, f"tensor names: {sorted(names)}"
        assert json.loads(meta[CONFIG_METADATA_KEY]) == cfg, "config metadata does not round-trip"
        loaded = MemoryIndexer.load(path)
        assert loaded.cfg == cfg
        for name, tensor in model.native_tensors().items():
            assert torch.equal(tensor, loaded.native_tensors()[name]), f"{name} changed in the round trip"
        x = torch.randn(1, 3, 3, 64)
        pos = torch.tensor([[0, 900, 300000]])
        keys = torch.randn(1, 3, 9, 48)
        with torch.no_grad():
            assert torch.equal(model.logits_grouped(x, pos, keys), loaded.logits_grouped(x, pos, keys))


def test_golden_recomputation_matches_dump(dump):
    cfg, docs = load_documents(dump)
    agreement = min(d.golden_agreement for d in docs)
    assert agreement == 1.0, f"recomputed golden union differs from the dump's CSR ({agreement})"
    doc = docs[0]
    # The definition, directly, on one (sample, layer): the smallest prefix by decreasing mass
    # of the contested history (sink and recency tail left out).
    s, t = doc.n_samples - 1, 0
    hist = int(doc.history[s])
    m = doc.mass[s, t, :hist].double().numpy().copy()
    m[doc.always_kept[s, :hist].numpy()] = 0.0
    order = np.argsort(-m, kind="stable")
    need = np.searchsorted(np.cumsum(m[order]), cfg["golden_mass"] * m.sum() - 1e-15) + 1
    chosen = [c for c in order[:need].tolist() if m[c] > 0 or not doc.always_kept[s, c]]
    assert set(chosen) == set(np.flatnonzero(doc.golden_layers[s, t].numpy()).tolist())
    # Always-kept: the sink chunk and the tail from (position - recency) / chunk_tokens.
    tail_from = max(0, (int(doc.positions[s]) - cfg["recency_tokens"]) // cfg["chunk_tokens"])
    kept = np.flatnonzero(doc.always_kept[s].numpy()).tolist()
    assert kept == [0] + list(range(max(1, tail_from), hist)), kept


def test_peak_labels_and_answer_start_weight():
    """--label-mass peak reads mass_peak.npy; the answer-start weight lands on the prefill-end
    sample (step == the teacher-forced tail) of documents ending with a request, only there."""
    with tempfile.TemporaryDirectory() as tmp:
        dump = synthetic_dump.make_dump(os.path.join(tmp, "dump"), documents=2, samples=6, chunks=12,
                                        d_model=16, key_dim=16, target_layers=(1,), val_fraction=0.5, seed=2)
        cfg_path = os.path.join(dump, "dump_config.json")
        with open(cfg_path) as f:
            cfg = json.load(f)
        with open(cfg_path, "w") as f:
            json.dump(dict(cfg, tail_tokens=0), f)           # tail 0: step 0 is the prefill end
        with open(os.path.join(dump, "manifest.jsonl")) as f:
            entries = [json.loads(line) for line in f]
        entries[0]["ending"], entries[1]["ending"] = "question", "continuation"
        with open(os.path.join(dump, "manifest.jsonl"), "w") as f:
            f.writelines(json.dumps(e) + "\n" for e in entries)
        peaks = []
        for e in entries:
            mass = np.load(os.path.join(dump, e["dir"], "mass.npy"))
            peaks.append((mass * 3 + 0.25).astype(np.float32))
            np.save(os.path.join(dump, e["dir"], "mass_peak.npy"), peaks[-1])
        _, docs = load_documents(dump, label_mass="peak")
        for doc, peak in zip(docs, peaks):
            assert np.array_equal(doc.mass.numpy(), peak), "peak labels not read from mass_peak.npy"
        _, mean_docs = load_documents(dump)
        assert not np.array_equal(mean_docs[0].mass.numpy(), peaks[0])
        from data import Batch
        b = Batch(docs, answer_start_weight=5.0)
        steps = [np.load(os.path.join(dump, e["dir"], "steps.npy")) for e in entries]
        expected = np.zeros(b.sample_weight.shape, dtype=np.float32)
        for i, doc in enumerate(docs):
            expected[i, :doc.n_samples] = 1.0
        expected[0, :docs[0].n_samples][steps[0] == 0] = 5.0
        assert (steps[0] == 0).sum() == 1
        assert np.array_equal(b.sample_weight.numpy(), expected), b.sample_weight


def test_entry_keys_score_a_chunk_as_its_best_entry():
    """--entry-keys reads entry_key_codes [T, C, E, kd] and a chunk's logit is the max over
    its E entries' logits, each scored as if it were a chunk of its own."""
    with tempfile.TemporaryDirectory() as tmp:
        dump = synthetic_dump.make_dump(os.path.join(tmp, "dump"), documents=2, samples=5, chunks=10,
                                        d_model=16, key_dim=16, target_layers=(1, 3), val_fraction=0.5, seed=4)
        rng = np.random.default_rng(0)
        for line in open(os.path.join(dump, "manifest.jsonl")):
            d = os.path.join(dump, json.loads(line)["dir"])
            T, C = np.load(os.path.join(d, "key_scales.npy")).shape
            keys = rng.standard_normal((T, C, 4, 16)).astype(np.float32)
            scales = (np.abs(keys).max(-1) / 448).astype(np.float32)
            np.save(os.path.join(d, "entry_key_codes.npy"), e4m3_encode(keys / scales[..., None]))
            np.save(os.path.join(d, "entry_key_scales.npy"), scales)
        cfg, docs = load_documents(dump, entry_keys=True)
        doc = docs[0]
        assert doc.entries == 4 and doc.keys.shape[1] == doc.n_chunks * 4
        model = MemoryIndexer(train.default_config(cfg, 2, 16, 8, 8)).reset_parameters(torch.Generator().manual_seed(3))
        from data import Batch
        b = Batch([doc])
        with torch.no_grad():
            chunked = model.logits_grouped(b.hidden, b.positions, b.keys, b.entries)[0]   # [S, T, C]
            flat = model.logits_grouped(b.hidden, b.positions, b.keys)[0]                 # [S, T, C*4]
        assert chunked.shape[-1] == doc.n_chunks
        expected = flat.view(*flat.shape[:2], doc.n_chunks, 4).amax(-1)
        assert torch.equal(chunked, expected)
        assert not torch.equal(chunked, flat[..., ::4]), "entries other than the first were ignored"


def test_training_beats_random_init(dump):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "trained.safetensors")
        args = ["--dump", dump, "--out", out, "--epochs", "12", "--lr", "3e-3", "--docs-per-batch", "2",
                "--heads", "4", "--head-dim", "32", "--q-lora-rank", "32", "--rope-dims", "16", "--threads", "1", "--seed", "1"]
        torch.manual_seed(1)
        cfg, val_docs = load_documents(dump, split="val")
        init = MemoryIndexer(train.default_config(cfg, 4, 32, 16, 32)).reset_parameters(torch.Generator().manual_seed(1))
        init_recall, init_far, init_mass, _ = train.validate(init, val_docs, 0.1)
        best_mass = train.main(args)
        trained = MemoryIndexer.load(out)
        recall, far, mass, _ = train.validate(trained, val_docs, 0.1)
        print(f"  random init: recall@0.1 {init_recall:.3f} far {init_far:.3f} mass@0.1 {init_mass:.3f}; "
              f"trained: recall@0.1 {recall:.3f} far {far:.3f} mass@0.1 {mass:.3f}")
        assert abs(mass - best_mass) < 1e-6, "saved weights are not the best epoch's"
        assert far > init_far + 0.15, f"far golden recall did not improve clearly ({init_far:.3f} -> {far:.3f})"
        assert mass > init_mass + 0.1, f"mass recovered did not improve clearly ({init_mass:.3f} -> {mass:.3f})"


def main():
    torch.set_num_threads(1)
    tests = [test_matches_numpy_reference, test_reads_engine_fixtures_and_reproduces_their_scores,
             test_fp8_encoder_matches_reference, test_save_load_round_trip_is_bit_exact,
             test_peak_labels_and_answer_start_weight, test_entry_keys_score_a_chunk_as_its_best_entry]
    with tempfile.TemporaryDirectory() as tmp:
        dump = synthetic_dump.make_dump(os.path.join(tmp, "dump"), documents=80, samples=32, chunks=48,
                                        d_model=64, key_dim=48, target_layers=(2, 5), val_fraction=0.15, seed=5,
                                        query_rank=8)
        tests += [functools.partial(test_golden_recomputation_matches_dump, dump),
                  functools.partial(test_training_beats_random_init, dump)]
        for test in tests:
            name = getattr(test, "func", test).__name__
            start = time.time()
            try:
                test()
            except AssertionError as e:
                print(f"FAIL {name}: {e}")
                return 1
            print(f"ok   {name} ({time.time() - start:.1f}s)")
    print("all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
