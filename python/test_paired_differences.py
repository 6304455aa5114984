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


if __name__ == "__main__":
    test_mean_and_interval_by_hand()
    test_too_few_shared_samples()
    print("paired differences: 2 tests passed")
