"""Session hand-off through Redis against the local tiers (issue 19's bench). One long notes
document per context length; turn 1 is a full prefill on process A; then the same
conversation continues three ways, each prefilling only the new question:
  - on A itself (its idle pages sank to its host tier),
  - on process B, which loads A's state from the shared store (redis-server on loopback),
  - on process C restarted from its --disk session file (pages on its disk tier).
Time to first token is the wall time of a 1-token request. Store traffic and time come from
B's /metrics. Then aggregate decode throughput: N concurrent streams on one process (-t 2)
against the same streams through `flashmem route` over two processes (-t 1 each). On this
2-core machine that measures the overhead of the split, not scaling. Prints markdown tables.

  python bench/distributed.py [--contexts 8000,32000] [--streams 8]
"""
import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "server"))
from facts_document import question  # noqa: E402
from redis_fixture import Redis  # noqa: E402
from serve_capacity import document_of  # noqa: E402
from server_fixture import Router, Server  # noqa: E402


class Tuned(Server):
    """A server with its own thread count (the fixture's default is -t 2)."""

    def __init__(self, *args, threads=2):
        super().__init__(*args)
        self.threads = threads

    def command(self):
        cmd = super().command()
        cmd[cmd.index("-t") + 1] = str(self.threads)
        return cmd


def turn(server, prompt, session, max_tokens=1):
    t0 = time.perf_counter()
    status, _, out = server.post_json("/v1/completions", {"prompt": prompt, "max_tokens": max_tokens,
                                                          "temperature": 0, "session": session})
    assert status == 200, (status, out)
    return time.perf_counter() - t0, out["choices"][0]["text"], out["usage"]


def store_metrics(server):
    _, _, body = server.request("GET", "/metrics")
    return {m.group(1): float(m.group(2)) for m in re.finditer(r'flashmem_store\{what="(\w+)"\} ([0-9.e+-]+)', body.decode())}


def hand_off(tokens, device_mib):
    prompt1, _ = document_of(tokens, seed=4242, depth=0.3)
    redis = Redis().start()
    disk = tempfile.mkdtemp(prefix="fm-bench-disk-")
    budget = ["--device-budget", str(device_mib)]
    try:
        with Server("--store", redis.url, *budget) as a, Server("--store", redis.url, *budget) as b:
            t_full, answer1, usage1 = turn(a, prompt1, "s")
            prompt2 = prompt1 + answer1 + question("red")
            t_local, answer2, usage2 = turn(a, prompt2, "s")
            prompt3 = prompt2 + answer2 + question("red")
            before = store_metrics(b)
            t_redis, _, usage3 = turn(b, prompt3, "s")
            after = store_metrics(b)
            written = store_metrics(a)
        c = Server("--disk", disk, "--host-budget", "1", *budget).start()
        turn(c, prompt1, "s")
        c.stop()
        with Server("--disk", disk, "--host-budget", "1", *budget) as c2:
            t_disk, _, usage_disk = turn(c2, prompt2, "s")
        assert usage2["prompt_tokens_details"]["cached_tokens"] > 0
        assert usage3["prompt_tokens_details"]["cached_tokens"] > 0
        assert usage_disk["prompt_tokens_details"]["cached_tokens"] > 0
        pages = after.get("pages_read", 0) - before.get("pages_read", 0)
        return {
            "tokens": usage1["prompt_tokens"],
            "full": t_full, "local": t_local, "redis": t_redis, "disk": t_disk,
            "read_mib": (after["bytes_read"] - before["bytes_read"]) / 2**20,
            "load_s": after["load_seconds"] - before["load_seconds"],
            "pages": pages,
            "written_mib": written["bytes_written"] / 2**20,
            "save_s": written["save_seconds"],
        }
    finally:
        redis.close()
        shutil.rmtree(disk, ignore_errors=True)


def throughput(streams, max_tokens):
    prompts = [f"Write a short story about a lighthouse keeper number {i}." for i in range(streams)]

    def run(server):
        done = []

        def one(p):
            status, _, out = server.post_json("/v1/completions", {"prompt": p, "max_tokens": max_tokens,
                                                                  "temperature": 0})
            assert status == 200, out
            done.append(out["usage"]["completion_tokens"])
        t0 = time.perf_counter()
        threads = [threading.Thread(target=one, args=(p,)) for p in prompts]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return sum(done) / (time.perf_counter() - t0)

    with Tuned("--parallel", str(streams), threads=2) as one_process:
        single = run(one_process)
    redis = Redis().start()
    try:
        with Tuned("--parallel", str(streams), "--store", redis.url, threads=1) as d1, \
                Tuned("--parallel", str(streams), "--store", redis.url, threads=1) as d2, \
                Router("--decode", f"{d1.url()},{d2.url()}") as router:
            split = run(router)
    finally:
        redis.close()
    return single, split


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--contexts", default="8000,32000")
    ap.add_argument("--device-mib", type=int, default=512)
    ap.add_argument("--streams", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=64)
    args = ap.parse_args()
    print(f"| context (tokens) | full prefill | same process (host tier) | other process via Redis | restart from disk file | Redis read | Redis load | per page | written by A (turns 1, 2) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n in [int(x) for x in args.contexts.split(",")]:
        r = hand_off(n, args.device_mib)
        per_page = 1000 * r["load_s"] / r["pages"] if r["pages"] else float("nan")
        print(f"| {r['tokens']} | {r['full']:.2f} s | {r['local']:.2f} s | {r['redis']:.2f} s | {r['disk']:.2f} s | "
              f"{r['read_mib']:.1f} MiB | {r['load_s']:.2f} s | {per_page:.2f} ms | {r['written_mib']:.1f} MiB in {r['save_s']:.2f} s |",
              flush=True)
    single, split = throughput(args.streams, args.max_tokens)
    print()
    print("| streams | one process (-t 2) | two processes (-t 1 each) via route | ratio |")
    print("|---|---|---|---|")
    print(f"| {args.streams} | {single:.1f} tok/s | {split:.1f} tok/s | {split / single:.2f}x |")


if __name__ == "__main__":
    main()
