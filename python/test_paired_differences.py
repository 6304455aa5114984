#!/usr/bin/env python3
"""Checks python/paired_differences.py on crafted scores: the mean and interval of the
paired differences, worked by hand, and that samples only one policy has are left out."""
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from paired_differences import paired  # noqa: E402


def test_mean_and_interval_by_hand():
    a = {("t", 0): 100.0, ("t", 1): 0.0, ("t", 2): 100.0, ("u", 0): 50.0}
    b = {("t", 0): 0.0, ("t", 1): 0.0, ("t", 2): 100.0, ("v", 9): 100.0}
    mean, half, n = paired(a, b)
    # Shared samples: diffs 100, 0, 0 -> mean 33.33, sd 57.735, t(0.975, 2 df) = 4.303:
    # 4.303 * sd / sqrt(3) = 143.43.
    assert n == 3
    assert abs(mean - 100.0 / 3) < 1e-9
    assert abs(half - 4.303 * math.sqrt((2 * (100.0 / 3) ** 2 + (200.0 / 3) ** 2) / 2) / math.sqrt(3)) < 1e-9
    assert abs(half - 143.43) < 0.01


def test_too_few_shared_samples():
    assert paired({("t", 0): 1.0}, {("t", 0): 0.0}) is None
    assert paired({("t", 0): 1.0, ("t", 1): 1.0}, {("t", 2): 0.0}) is None


def test_tagged_files_pair_two_runs_of_one_policy():
    import json
    import subprocess
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for name, scores in (("new", [1, 1, 0]), ("old", [0, 1, 0])):
            paths.append(os.path.join(tmp, name + ".jsonl"))
            with open(paths[-1], "w") as f:
                for i, score in enumerate(scores):
                    f.write(json.dumps({"suite": "s", "length": 8192, "budget": 0.1, "policy": "lsa-indexer",
                                        "task": "t", "index": i, "score": score}) + "\n")
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "paired_differences.py")
        out = subprocess.run([sys.executable, script, paths[0] + "@new", paths[1] + "@old",
                              "--policy", "lsa-indexer@new"], capture_output=True, text=True, check=True).stdout
        # diffs 100, 0, 0: +33.3 over 3 shared samples, against the renamed old run only.
        assert "lsa-indexer@new - lsa-indexer@old" in out, out
        assert "+33.3" in out and "(n=3)" in out, out


def test_multiturn_summary_pairs_tagged_runs_by_conversation():
    import json
    import subprocess
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        # Two conversations of three turns; turns 2..3 scored per conversation.
        for name, scores in (("new", [[1, 1, 1], [1, 1, 0]]), ("old", [[1, 0, 0], [1, 0, 0]])):
            paths.append(os.path.join(tmp, name + ".jsonl"))
            with open(paths[-1], "w") as f:
                for conv, turns in enumerate(scores):
                    for turn, score in enumerate(turns, start=1):
                        f.write(json.dumps({"suite": "multiturn", "length": 8192, "budget": 0.05, "policy": "lsa",
                                            "task": f"multiturn_turn{turn}", "index": conv, "score": score,
                                            "kv_a_mean_percent": 4.7, "pages_recalled": 1,
                                            "chunks_discarded": 0}) + "\n")
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "multiturn_summary.py")
        out = subprocess.run([sys.executable, script, paths[0] + "@new", paths[1] + "@old", "--policy", "lsa@new",
                              "--against", "lsa@old"], capture_output=True, text=True, check=True).stdout
        # Turns 2..3: new 100 and 50, old 0 and 0 -> +75.0 over 2 conversations.
        assert "| lsa@new | 2 |" in out and "| lsa@old | 2 |" in out, out
        assert "- lsa@old: +75.0" in out and "(n=2)" in out, out


if __name__ == "__main__":
    test_mean_and_interval_by_hand()
    test_too_few_shared_samples()
    test_tagged_files_pair_two_runs_of_one_policy()
    test_multiturn_summary_pairs_tagged_runs_by_conversation()
    print("paired differences: 4 tests passed")
