#!/usr/bin/env python3
"""Anchor benchmark: Hugging Face transformers' own Gemma 3 decode speed, Gemma 3 270M shapes.

Builds Gemma3ForCausalLM (text only) with the shapes of Gemma 3 270M and random bf16 weights,
builds transformers' StaticCache (sliding layers keep a 512-token window, full layers
max_cache_len tokens), fills the cache tensors with random bf16 values instead of a prefill,
sets every layer's length to C, and times greedy decode steps at positions C, C+1, ...:

  * eager    -- the model's forward as is;
  * compiled -- the forward under torch.compile(mode="reduce-overhead", fullgraph=True)
                (inductor + CUDA graphs), one fresh compile per cell (static shapes), with the
                sliding layers' python-int length held at C (see below);
  * compiled-asis -- the same without holding it (not run by default).

Why hold it: transformers 5.x's StaticSlidingWindowLayer keeps a python int
(cumulative_length_int) next to its tensor length. Dynamo specialises the first compile on its
value, recompiles on the second step with it as a SymInt graph input (the graph returns s+1), and
inductor's CUDA-graph trees key their recordings on int inputs, so as-is every decode step should
record a new CUDA graph (read from torch 2.11's cudagraph_trees.py and seen as the SymInt input on
CPU; generate() would hit the same). Once the window is full (C >= sliding_window) the
int only picks the 'full' branch (roll the window by one, write the new token last) and the
sliding mask offsets, which give the same all-true 512-wide mask for any value >= 512; so setting
it back to C before each step changes no computed value and leaves one static graph and one CUDA
graph. Full-attention layers and their mask use the tensor length and the true position.

Each step does what generate() does for a compilable cache: build the per-layer-type 4D masks
outside the compiled region (transformers.masking_utils.create_masks_for_generate), run the
forward with explicit position_ids, take the argmax, feed it back. No 2D padding mask is passed
(no padding). Warm-up steps run first; then the cache length is rewound to C so the timed steps
sit at C .. C+steps-1.

  python python/bench_hf_gemma3.py                       # GPU defaults: C 4096,32768 x B 1,16
  python python/bench_hf_gemma3.py --device cpu --tiny --contexts 64,128 --batches 1,2 \
      --steps 4 --modes eager                             # CPU smoke test

Prints a markdown table and, with --out, writes {"meta": ..., "rows": [...]} as JSON (rewritten
after every cell, so a killed run keeps what it finished).
"""
import time

T0 = time.perf_counter()  # the time budget counts from here, imports included

import argparse
import gc
import json
import os
import platform
import shutil
import sys
import traceback


def log(*a):
    print(*a, flush=True)


def elapsed():
    return time.perf_counter() - T0


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cuda")
    p.add_argument("--contexts", default="4096,32768", help="comma-separated context lengths C")
    p.add_argument("--batches", default="1,16", help="comma-separated batch sizes B")
    p.add_argument("--steps", type=int, default=64, help="timed decode steps per cell")
    p.add_argument("--warmup", type=int, default=3,
                   help="untimed steps before timing (compiled needs >= 3: compile, record, replay)")
    p.add_argument("--modes", default="eager,compiled")
    p.add_argument("--tiny", action="store_true",
                   help="tiny config (hidden 64, 4 layers s/f/s/f, vocab 512, window 32) for CPU tests")
    p.add_argument("--attn", default="sdpa", help="attn_implementation (sdpa, eager, ...)")
    p.add_argument("--no-fullgraph", action="store_true", help="compile without fullgraph=True")
    p.add_argument("--compile-mode", default="reduce-overhead")
    p.add_argument("--time-budget-s", type=float, default=140.0,
                   help="skip the remaining cells once this many seconds have passed since start")
    p.add_argument("--compile-estimate-s", type=float, default=35.0,
                   help="assumed length of the first compiled cell, to skip it when it would pass the "
                        "budget (later cells use the last compiled cell's measured length)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="write the rows as JSON here")
    return p.parse_args(argv)


def make_config(args, max_pos):
    from transformers import Gemma3TextConfig

    if args.tiny:
        dims = dict(vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=4,
                    num_attention_heads=4, num_key_value_heads=1, head_dim=16,
                    sliding_window=32, query_pre_attn_scalar=16)
        full_every = 2  # s, f, s, f
    else:  # Gemma 3 270M
        dims = dict(vocab_size=262144, hidden_size=640, intermediate_size=2048, num_hidden_layers=18,
                    num_attention_heads=4, num_key_value_heads=1, head_dim=256,
                    sliding_window=512, query_pre_attn_scalar=256)
        full_every = 6  # layers 5, 11, 17 full
    n = dims["num_hidden_layers"]
    layer_types = ["full_attention" if (i + 1) % full_every == 0 else "sliding_attention" for i in range(n)]
    cfg = Gemma3TextConfig(
        **dims,
        layer_types=layer_types,
        # transformers 5.x: per-layer-type rope parameters (4.x: rope_theta / rope_local_base_freq)
        rope_parameters={
            "full_attention": {"rope_type": "default", "rope_theta": 1_000_000.0},
            "sliding_attention": {"rope_type": "default", "rope_theta": 10_000.0},
        },
        max_position_embeddings=max_pos,
        hidden_activation="gelu_pytorch_tanh",
        rms_norm_eps=1e-6,
        tie_word_embeddings=True,
        final_logit_softcapping=None,
        attn_logit_softcapping=None,
        attention_bias=False,
        use_cache=True,
        pad_token_id=0, bos_token_id=2, eos_token_id=1,
    )
    return cfg


def describe_config(cfg):
    keys = ["vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
            "num_key_value_heads", "head_dim", "sliding_window", "query_pre_attn_scalar",
            "max_position_embeddings", "tie_word_embeddings", "rope_parameters", "layer_types"]
    d = {k: getattr(cfg, k, None) for k in keys}
    d["attn_implementation"] = getattr(cfg, "_attn_implementation", None)
    return d


class Cell:
    """One (context, batch, mode) measurement on a freshly built StaticCache."""

    def __init__(self, torch, model, cfg, dev, C, B, args, pin=False):
        self.torch, self.model, self.cfg, self.dev = torch, model, cfg, dev
        self.C, self.B, self.args, self.pin = C, B, args, pin

    def build_cache(self):
        torch = self.torch
        from transformers import StaticCache

        C, B, cfg = self.C, self.B, self.cfg
        max_len = C + max(self.args.steps, self.args.warmup) + 8
        cache = StaticCache(config=cfg, max_cache_len=max_len)
        cache.early_initialization(batch_size=B, num_heads=cfg.num_key_value_heads, head_dim=cfg.head_dim,
                                   dtype=torch.bfloat16, device=self.dev)
        gen = torch.Generator(device=self.dev)
        gen.manual_seed(self.args.seed + 1000 * C + B)
        for layer in cache.layers:
            # in place: the tensors keep the static addresses that CUDA graphs rely on
            layer.keys.normal_(generator=gen)
            layer.values.normal_(generator=gen)
        self.cache, self.max_len = cache, max_len
        self.set_length(C)
        return cache

    def set_length(self, n):
        """Pretend n tokens have been seen: what a prefill of n tokens would leave in the lengths."""
        for layer in self.cache.layers:
            if getattr(layer, "is_sliding", False):
                layer.cumulative_length_int = n
                layer.cumulative_length.fill_(min(n, layer.max_cache_len))
            else:
                layer.cumulative_length.fill_(n)

    def masks(self, pos):
        torch = self.torch
        from transformers.masking_utils import create_masks_for_generate

        return create_masks_for_generate(
            config=self.cfg,
            inputs_embeds=torch.empty((self.B, 1, 0), dtype=torch.bfloat16, device=self.dev),
            attention_mask=None,
            past_key_values=self.cache,
            position_ids=pos,
        )

    def pin_sliding_length(self):
        """Hold the sliding layers' python-int length at C (see the module docstring)."""
        for layer in self.cache.layers:
            if getattr(layer, "is_sliding", False):
                layer.cumulative_length_int = self.C

    def step(self, fwd, tok, pos, compiled):
        if self.pin:
            self.pin_sliding_length()
        masks = self.masks(pos)
        if compiled:
            self.torch.compiler.cudagraph_mark_step_begin()
        out = fwd(input_ids=tok, position_ids=pos, attention_mask=masks, past_key_values=self.cache,
                  use_cache=True)
        logits = out.logits[:, -1, :]
        return logits, logits.argmax(-1, keepdim=True), masks

    def sync(self):
        if self.dev.type == "cuda":
            self.torch.cuda.synchronize()


class CompileEvents:
    """Counts dynamo compiles and CUDA-graph recordings (torch._dynamo.callback_handler)."""

    def __init__(self, torch):
        self.counts = {}
        try:
            torch._dynamo.callback_handler.register_start_callback(self._cb)
            self.ok = True
        except Exception:
            self.ok = False

    def _cb(self, args):
        k = getattr(getattr(args, "callback_trigger", None), "name", str(args))
        self.counts[k] = self.counts.get(k, 0) + 1

    def snapshot(self):
        return dict(self.counts) if self.ok else None

    @staticmethod
    def diff(after, before):
        if after is None or before is None:
            return None
        return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}


def run_cell(torch, model, cfg, dev, C, B, mode, args, ref_logits):
    """Returns a dict row; raises on failure (the caller records the error)."""
    row = {"context": C, "batch": B, "mode": mode}
    compiled = mode in ("compiled", "compiled-asis")
    # pinning is only exact while the sliding layers are full (C >= window) for the whole run
    pin = mode == "compiled" and C >= cfg.sliding_window
    row["pinned_sliding_length"] = pin
    cell = Cell(torch, model, cfg, dev, C, B, args, pin=pin)
    t_setup = time.perf_counter()
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    if compiled:
        torch._dynamo.reset()  # also clears the callbacks, so register after it
        events = CompileEvents(torch)
        fwd = torch.compile(model, mode=args.compile_mode, fullgraph=not args.no_fullgraph)
    else:
        events = None
        fwd = model
    cache = cell.build_cache()
    checks = {}
    full_idx = cfg.layer_types.index("full_attention")
    slide_idx = cfg.layer_types.index("sliding_attention")
    gen = torch.Generator(device="cpu")
    gen.manual_seed(args.seed + C + B)
    if compiled:
        torch._dynamo.utils.counters.clear()
    # no_grad like generate() (inference_mode tensors would differ in dispatch keys from the
    # first input and make dynamo recompile)
    with torch.no_grad():
        tok0 = torch.randint(0, cfg.vocab_size, (B, 1), generator=gen).to(dev)
        # --- sanity checks on the first step, at position C
        pos = torch.full((B, 1), C, dtype=torch.long, device=dev)
        full_k_before = cache.layers[full_idx].keys[:, :, C].clone()
        t_first = time.perf_counter()
        logits, nxt, masks = cell.step(fwd, tok0, pos, compiled)
        cell.sync()
        first_step_s = time.perf_counter() - t_first
        mf, ms = masks["full_attention"], masks["sliding_attention"]
        checks["full_mask_shape"] = list(mf.shape) if mf is not None else None
        checks["sliding_mask_shape"] = list(ms.shape) if ms is not None else None
        if mf is not None and mf.dtype == torch.bool:
            checks["full_mask_attended"] = int(mf[0, 0, -1].sum())  # expect C+1
        if ms is not None and ms.dtype == torch.bool:
            checks["sliding_mask_attended"] = int(ms[0, 0, -1].sum())  # expect min(C+1, window)
        checks["full_len_after_step"] = int(cache.layers[full_idx].cumulative_length)  # expect C+1
        checks["sliding_len_after_step"] = int(cache.layers[slide_idx].cumulative_length_int)
        checks["full_cache_slot_C_written"] = bool(
            (cache.layers[full_idx].keys[:, :, C] != full_k_before).any())
        checks["first_logits_finite"] = bool(torch.isfinite(logits).all())
        checks["first_logits_shape"] = list(logits.shape)
        checks["first_logits_absmax"] = float(logits.float().abs().max())
        first = logits.float().clone()
        if ref_logits is not None:
            checks["max_abs_diff_vs_eager_first_step"] = float((first - ref_logits).abs().max())
            checks["argmax_equal_vs_eager_first_step"] = bool(
                (first.argmax(-1) == ref_logits.argmax(-1)).all())
        # --- remaining warm-up steps (compile, CUDA-graph record, replay)
        tok, p = nxt, pos
        for _ in range(max(args.warmup, 1) - 1):
            p = p + 1
            _, tok, _ = cell.step(fwd, tok, p, compiled)
        cell.sync()
        row["warmup_s"] = round(time.perf_counter() - t_first, 3)
        row["first_step_s"] = round(first_step_s, 3)
        ev_warm = events.snapshot() if events else None
        # --- rewind to C and time
        cell.set_length(C)
        tok = tok0
        pos = torch.full((B, 1), C, dtype=torch.long, device=dev)
        cell.sync()
        t = time.perf_counter()
        for _ in range(args.steps):
            logits, tok, _ = cell.step(fwd, tok, pos, compiled)
            pos = pos + 1
        cell.sync()
        secs = time.perf_counter() - t
        checks["last_logits_finite"] = bool(torch.isfinite(logits).all())
        checks["full_len_after_timed"] = int(cache.layers[full_idx].cumulative_length)  # C+steps
        checks["last_position"] = int(pos[0, 0]) - 1
        if compiled:
            ev_end = events.snapshot()
            checks["compile_events_warmup"] = ev_warm  # expect DYNAMO 1 (+1 per recompile), CUDAGRAPH_RECORDING 1 on GPU
            checks["compile_events_timed"] = CompileEvents.diff(ev_end, ev_warm)  # expect {} (nothing in the timed loop)
            c = torch._dynamo.utils.counters
            checks["dynamo_unique_graphs"] = int(c["stats"].get("unique_graphs", 0))
            checks["dynamo_graph_breaks"] = int(sum(c["graph_break"].values()))
            checks["cudagraph_skips"] = int(c["inductor"].get("cudagraph_skips", 0))  # expect 0 on GPU
    row.update(
        status="ok",
        steps=args.steps,
        seconds=round(secs, 4),
        ms_per_step=round(1000 * secs / args.steps, 3),
        per_seq_tok_s=round(args.steps / secs, 2),
        agg_tok_s=round(B * args.steps / secs, 2),
        max_cache_len=cell.max_len,
        cell_s=round(time.perf_counter() - t_setup, 2),
        peak_mem_gib=round(torch.cuda.max_memory_allocated(dev) / 2**30, 2) if dev.type == "cuda" else None,
        checks=checks,
    )
    return row, (first if not compiled else None)


def fmt_table(rows):
    lines = ["| context | batch | mode | per-seq tok/s | aggregate tok/s | ms/step | note |",
             "|---:|---:|---|---:|---:|---:|---|"]
    for r in rows:
        if r.get("status") == "ok":
            note = ""
            if "warmup_s" in r and r["mode"] != "eager":
                note = f"warm-up incl. compile {r['warmup_s']} s"
            lines.append(f"| {r['context']} | {r['batch']} | {r['mode']} | {r['per_seq_tok_s']:.1f} | "
                         f"{r['agg_tok_s']:.1f} | {r['ms_per_step']:.3f} | {note} |")
        else:
            msg = (r.get("error") or r.get("reason") or "").replace("|", "/").replace("\n", " ")[:120]
            lines.append(f"| {r['context']} | {r['batch']} | {r['mode']} | - | - | - | "
                         f"{r.get('status')}: {msg} |")
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    contexts = [int(x) for x in args.contexts.split(",") if x]
    batches = [int(x) for x in args.batches.split(",") if x]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    for m in modes:
        if m not in ("eager", "compiled", "compiled-asis"):
            sys.exit(f"unknown mode {m!r}")

    import torch
    import transformers
    from transformers import Gemma3ForCausalLM

    meta = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "torch_cuda": torch.version.cuda,
        "device": args.device,
        "argv": sys.argv[1:],
        "c_compiler": shutil.which("cc") or shutil.which("gcc") or shutil.which("clang"),
    }
    try:
        import triton

        meta["triton"] = triton.__version__
    except Exception as e:  # compiled mode on CUDA needs triton
        meta["triton"] = f"unavailable: {type(e).__name__}"
    log(f"python {meta['python']}  torch {torch.__version__} (cuda {torch.version.cuda})  "
        f"transformers {transformers.__version__}  triton {meta['triton']}  C compiler {meta['c_compiler']}")
    dev = torch.device(args.device)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            sys.exit("CUDA requested but torch.cuda.is_available() is False")
        if dev.index is None:
            dev = torch.device("cuda", torch.cuda.current_device())
        torch.cuda.set_device(dev)
        props = torch.cuda.get_device_properties(dev)
        meta["gpu"] = torch.cuda.get_device_name(dev)
        meta["gpu_mem_gib"] = round(props.total_memory / 2**30, 1)
        meta["capability"] = list(torch.cuda.get_device_capability(dev))
        log(f"GPU: {meta['gpu']} ({meta['gpu_mem_gib']} GiB, sm_{props.major}{props.minor})")
    else:
        log(f"device: {dev} ({platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
            f"torch threads {torch.get_num_threads()})")

    torch.manual_seed(args.seed)
    max_pos = max(32768, max(contexts) + max(args.steps, args.warmup) + 64)
    cfg = make_config(args, max_pos)
    t = time.perf_counter()
    with torch.device(dev):
        model = Gemma3ForCausalLM._from_config(cfg, dtype=torch.bfloat16, attn_implementation=args.attn)
    model.eval()
    cfg = model.config
    if dev.type == "cuda":
        torch.cuda.synchronize()
    n_params = sum(p.numel() for p in model.parameters())
    tied = model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
    meta.update(config=describe_config(cfg), params=n_params, lm_head_tied=tied,
                weight_dtype=str(next(model.parameters()).dtype), model_build_s=round(time.perf_counter() - t, 2),
                steps=args.steps, warmup=args.warmup, compile_mode=args.compile_mode,
                fullgraph=not args.no_fullgraph, time_budget_s=args.time_budget_s)
    log(f"model: Gemma3ForCausalLM {n_params/1e6:.1f}M params, {meta['weight_dtype']}, lm_head tied: {tied}, "
        f"attn {cfg._attn_implementation}, layer_types "
        f"{''.join('F' if t == 'full_attention' else 's' for t in cfg.layer_types)}, "
        f"built in {meta['model_build_s']} s (t={elapsed():.1f} s)")

    rows = []
    ref = {}  # (C, B) -> eager first-step logits, to compare the compiled step with

    def save():
        if args.out:
            tmp = args.out + ".tmp"
            with open(tmp, "w") as f:
                json.dump({"meta": meta, "rows": rows}, f, indent=1)
            os.replace(tmp, args.out)

    # eager cells first (cheap), then compiled cells (a compile each)
    plan = [(m, C, B) for m in modes for C in contexts for B in batches]
    last_compiled_cell_s = args.compile_estimate_s
    for mode, C, B in plan:
        base = {"context": C, "batch": B, "mode": mode}
        now = elapsed()
        if now > args.time_budget_s:
            rows.append({**base, "status": "skipped",
                         "reason": f"time budget {args.time_budget_s:.0f} s passed (t={now:.0f} s)"})
            log(f"[skip] C={C} B={B} {mode}: time budget {args.time_budget_s:.0f} s passed (t={now:.0f} s)")
            save()
            continue
        if mode != "eager" and last_compiled_cell_s is not None and now + last_compiled_cell_s > args.time_budget_s:
            rows.append({**base, "status": "skipped",
                         "reason": f"would pass the time budget: t={now:.0f} s + expected compiled cell "
                                   f"{last_compiled_cell_s:.0f} s > {args.time_budget_s:.0f} s"})
            log(f"[skip] C={C} B={B} {mode}: predicted to pass the time budget "
                f"(t={now:.0f} s + {last_compiled_cell_s:.0f} s)")
            save()
            continue
        log(f"[run ] C={C} B={B} {mode} (t={now:.1f} s)")
        t_cell = time.perf_counter()
        try:
            row, first = run_cell(torch, model, cfg, dev, C, B, mode, args, ref.get((C, B)))
            if first is not None:
                ref[(C, B)] = first
            rows.append(row)
            log(f"[ok  ] C={C} B={B} {mode}: {row['ms_per_step']:.3f} ms/step, {row['per_seq_tok_s']:.1f} tok/s/seq, "
                f"{row['agg_tok_s']:.1f} tok/s total; warm-up {row['warmup_s']} s; checks {json.dumps(row['checks'])}")
        except Exception as e:  # one failing cell (compile error, OOM, ...) must not end the run
            tb = traceback.format_exc()
            rows.append({**base, "status": "error", "error": f"{type(e).__name__}: {e}"[:2000],
                         "traceback_tail": tb[-3000:]})
            log(f"[FAIL] C={C} B={B} {mode}: {type(e).__name__}: {str(e)[:1500]}")
            log(tb[-3000:])
        finally:
            if mode != "eager":
                last_compiled_cell_s = time.perf_counter() - t_cell
                try:
                    torch._dynamo.reset()
                except Exception:
                    pass
            gc.collect()
            if dev.type == "cuda":
                torch.cuda.empty_cache()
        save()

    if dev.type == "cuda":
        meta["max_memory_allocated_gib"] = round(torch.cuda.max_memory_allocated(dev) / 2**30, 2)
    meta["total_s"] = round(elapsed(), 1)
    save()
    log("")
    log(f"HF transformers {transformers.__version__} Gemma 3 {'TINY' if args.tiny else '270M-shaped'} decode, "
        f"random bf16 weights, StaticCache, {args.steps} timed steps, attn {cfg._attn_implementation}, "
        f"{meta.get('gpu', str(dev))}")
    log(fmt_table(rows))
    skipped = [r for r in rows if r["status"] == "skipped"]
    failed = [r for r in rows if r["status"] == "error"]
    if skipped:
        log(f"NOTE: {len(skipped)} cell(s) skipped for the time budget ({args.time_budget_s:.0f} s).")
    if failed:
        log(f"NOTE: {len(failed)} cell(s) failed; errors above and in the JSON rows.")
    log(f"total {meta['total_s']} s")
    if not args.out:
        log("JSON rows:")
        log(json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
