"""Load on `flashmem serve` (or any OpenAI-compatible server) over loopback: N concurrent
streaming completions, aggregate decode tok/s, p50/p99 time to first token and
inter-token latency. Prints a markdown table.

  python bench/serve_load.py --streams 1,4,8 [--url http://127.0.0.1:8080] [--tokens 64]

Without --url it starts build/flashmem serve on the default model (--parallel = the most
streams) and stops it afterwards. Point --url at llama.cpp's llama-server to compare."""
import argparse
import json
import os
import statistics
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "server"))
from facts_document import make_document  # noqa: E402


def stream_one(url, prompt, max_tokens, out):
    body = json.dumps({"prompt": prompt, "max_tokens": max_tokens, "temperature": 0, "stream": True}).encode()
    req = urllib.request.Request(url + "/v1/completions", data=body, headers={"Content-Type": "application/json"})
    t0 = time.perf_counter()
    times = []
    with urllib.request.urlopen(req, timeout=600) as resp:
        for line in resp:
            line = line.strip()
            if not line.startswith(b"data: ") or line == b"data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            if chunk.get("choices") and chunk["choices"][0].get("text"):
                times.append(time.perf_counter())
    out.append((t0, times))


def percentile(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))] if xs else float("nan")


def run(url, streams, max_tokens, words, seed):
    results = []
    # Prompts never repeat across runs, so no server answers one from its prompt cache.
    prompts = [make_document(seed + i, words // 20, {"red": 0.5})[0] + "\nThe story continues:" for i in range(streams)]
    threads = [threading.Thread(target=stream_one, args=(url, p, max_tokens, results)) for p in prompts]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    tokens = sum(len(t) for _, t in results)
    ttft = [t[0] - t0 for t0, t in results if t]
    itl = [b - a for _, t in results for a, b in zip(t, t[1:])]
    first_done = max(t[0] for _, t in results if t)
    last = max(t[-1] for _, t in results if t)
    decode_tokens = sum(sum(1 for x in t if x > first_done) for _, t in results)
    return {"streams": streams, "tokens": tokens, "wall": wall, "agg": tokens / wall,
            "decode_agg": decode_tokens / max(1e-9, last - first_done),
            "ttft50": percentile(ttft, 50), "ttft99": percentile(ttft, 99),
            "itl50": percentile(itl, 50) * 1000, "itl99": percentile(itl, 99) * 1000}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url")
    ap.add_argument("--streams", default="1,4,8")
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--words", type=int, default=200, help="prompt length in words")
    ap.add_argument("--server-args", default="", help="extra flashmem serve options")
    args = ap.parse_args()
    streams = [int(s) for s in args.streams.split(",")]
    server = None
    url = args.url
    if not url:
        from server_fixture import Server
        server = Server("--parallel", str(max(streams)), *args.server_args.split()).start()
        url = f"http://127.0.0.1:{server.port}"
    try:
        run(url, 1, 4, args.words, seed=1)  # warm up
        print("| streams | tokens | aggregate tok/s (wall) | decode tok/s (all streams running) | TTFT p50 / p99 s | ITL p50 / p99 ms |")
        print("|---|---|---|---|---|---|")
        for n in streams:
            r = run(url, n, args.tokens, args.words, seed=1000 * n)
            print(f"| {n} | {r['tokens']} | {r['agg']:.1f} | {r['decode_agg']:.1f} | {r['ttft50']:.2f} / {r['ttft99']:.2f} "
                  f"| {r['itl50']:.1f} / {r['itl99']:.1f} |")
    finally:
        if server:
            server.stop()


if __name__ == "__main__":
    main()
