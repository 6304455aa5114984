"""How many long sessions `flashmem serve` holds at once under one device budget: the same
budget, the same documents, `full` against `lsa` (issue 14's bench (a)). Every request is a
long notes document with a pass code at a chosen depth and the question for it; all are sent
at once, and /health is polled for the number of sequences admitted together. Each answer
is checked against the code, and the two policies' answers on the same documents are
compared. Prints a markdown table.

  python bench/serve_capacity.py [--tokens 30000] [--device-budget 110] [--requests 6]

Measured, not estimated: admission reserves what a sequence's policy must hold on the
device (src/memory/residency_estimate.h) and the per-sequence arenas enforce it; this
script reads the peak of /metrics' device-resident bytes as well, to show the budget held.
Loopback only; the full policy runs --full-requests documents (it holds one at a time, so
more would only take longer)."""
import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "server"))
from facts_document import make_document, question  # noqa: E402
from server_fixture import BINARY, MODEL, Server  # noqa: E402


def count_tokens(text):
    out = subprocess.run([BINARY, "tokenize", "-m", MODEL, "-p", text], capture_output=True, text=True, check=True)
    return len(out.stdout.split())


def document_of(tokens, seed, depth):
    """A document of about `tokens` tokens (measured on a sample, then scaled) and its code."""
    probe, _ = make_document(seed, 100, {"red": depth})
    per_sentence = count_tokens(probe) / 100
    text, codes = make_document(seed, int(tokens / per_sentence), {"red": depth})
    return text + question("red"), codes["red"]


def ask(url, session, prompt, out, key):
    body = json.dumps({"prompt": prompt, "max_tokens": 12, "temperature": 0, "session": session}).encode()
    req = urllib.request.Request(url + "/v1/completions", data=body, headers={"Content-Type": "application/json"})
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=3600) as resp:
            reply = json.loads(resp.read())
        out[key] = {"text": reply["choices"][0]["text"], "seconds": time.perf_counter() - t0,
                    "prompt_tokens": reply["usage"]["prompt_tokens"]}
    except urllib.error.HTTPError as e:
        out[key] = {"error": f"{e.code} {e.read()[:200]!r}", "seconds": time.perf_counter() - t0}


def metric(text, name, label):
    m = re.search(r"^" + re.escape(name) + r"\{[^}]*" + re.escape(label) + r"[^}]*\} ([0-9.e+]+)$", text, re.M)
    return float(m.group(1)) if m else 0.0


def run_policy(policy_args, budget_mib, docs, parallel):
    server = Server("--device-budget", str(budget_mib), "--parallel", str(parallel), "--queue", "64",
                    "--queue-timeout", "3600",
                    *policy_args).start()
    url = f"http://127.0.0.1:{server.port}"
    answers = {}
    threads = [threading.Thread(target=ask, args=(url, f"cap{i}", d[0], answers, i)) for i, d in enumerate(docs)]
    peak_active, peak_device = 0, 0.0
    start = time.perf_counter()
    for t in threads:
        t.start()
    try:
        while any(t.is_alive() for t in threads):
            with urllib.request.urlopen(url + "/health", timeout=30) as r:
                peak_active = max(peak_active, json.loads(r.read())["active"])
            with urllib.request.urlopen(url + "/metrics", timeout=30) as r:
                peak_device = max(peak_device, metric(r.read().decode(), "flashmem_kv_resident_bytes", 'tier="device"'))
            time.sleep(0.5)
        for t in threads:
            t.join()
    finally:
        server.stop()
    return {"peak_active": peak_active, "peak_device_mib": peak_device / 2**20, "answers": answers,
            "wall": time.perf_counter() - start}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, default=30000, help="document length in tokens (the model's context is 32K)")
    ap.add_argument("--device-budget", type=int, default=110, help="MiB, the same for both policies")
    ap.add_argument("--requests", type=int, default=6, help="documents sent at once under lsa")
    ap.add_argument("--full-requests", type=int, default=2)
    ap.add_argument("--budget", default="10%", help="lsa's --budget")
    ap.add_argument("--seed", type=int, default=7100)
    args = ap.parse_args()
    docs = [document_of(args.tokens, args.seed + i, 0.3) for i in range(args.requests)]
    runs = {
        "full": run_policy(["--policy", "full"], args.device_budget, docs[:args.full_requests], args.full_requests),
        "lsa": run_policy(["--policy", "lsa", "--budget", args.budget], args.device_budget, docs, args.requests),
    }
    print(f"device budget {args.device_budget} MiB, documents of ~{args.tokens} tokens, lsa at {args.budget}\n")
    print("| policy | requests | held at once (peak active) | peak device KV MiB | right answers | wall s |")
    print("|---|---|---|---|---|---|")
    for name, r in runs.items():
        right = sum(1 for i, a in r["answers"].items() if docs[i][1] in a.get("text", ""))
        print(f"| {name} | {len(r['answers'])} | {r['peak_active']} | {r['peak_device_mib']:.1f} | {right}/{len(r['answers'])} "
              f"| {r['wall']:.0f} |")
    ratio = runs["lsa"]["peak_active"] / max(1, runs["full"]["peak_active"])
    print(f"\nsessions held at once, lsa / full: {ratio:.1f}x")
    for i in range(args.full_requests):
        f, l = runs["full"]["answers"].get(i, {}), runs["lsa"]["answers"].get(i, {})
        same = f.get("text", "").strip().split("\n")[0] == l.get("text", "").strip().split("\n")[0]
        print(f"document {i} (code {docs[i][1]}): full {f.get('text', f.get('error'))!r} | lsa "
              f"{l.get('text', l.get('error'))!r} | same first line: {same}")
    for name, r in runs.items():
        for i, a in sorted(r["answers"].items()):
            if "error" in a:
                print(f"{name} document {i}: {a['error']}")


if __name__ == "__main__":
    main()
