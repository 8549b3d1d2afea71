"""The maths of online experiments, free of Django: arm assignment, intervals and tests.

Assignment: a user's bucket is a hash of the experiment's key and the user's id, mapped to
[0, 1); the arms split [0, 1) in proportion to their traffic, so the same user always lands in
the same arm and the shares converge to the traffic split.

Intervals and tests (two-sided, at a confidence level such as 0.95):
- proportions (CTR, conversion rate): Wilson score interval; two arms compared with the pooled
  two-proportion z-test;
- means (revenue per impression): normal interval from the sample variance; two arms compared
  with Welch's t-test (Welch-Satterthwaite degrees of freedom).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy import stats

BUCKET_DIGITS = 15  # hex digits of the hash used: 60 bits, far finer than any traffic split


def assignment_bucket(experiment_key: str, user_key: str) -> float:
    """The user's place in [0, 1) for this experiment (stable across processes and releases)."""
    digest = hashlib.sha256(f"{experiment_key}\x00{user_key}".encode()).hexdigest()
    return int(digest[:BUCKET_DIGITS], 16) / 16**BUCKET_DIGITS


def pick_arm(bucket: float, traffic: Sequence[float]) -> int:
    """Index of the arm whose share of [0, 1) holds ``bucket``; shares proportional to ``traffic``."""
    total = float(sum(traffic))
    if total <= 0 or any(t < 0 for t in traffic):
        raise ValueError(f"Traffic shares must be non-negative with a positive sum, got {list(traffic)}.")
    edge = 0.0
    for index, share in enumerate(traffic):
        edge += share / total
        if bucket < edge:
            return index
    return max(i for i, share in enumerate(traffic) if share > 0)  # bucket ~1.0 after rounding


def z_value(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}.")
    return float(stats.norm.ppf(0.5 + confidence / 2))


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> Interval:
    """Wilson score interval of a proportion; (0, 0, 1) with no trials."""
    if trials < 0 or successes < 0 or successes > trials:
        raise ValueError(f"Need 0 <= successes <= trials, got {successes} of {trials}.")
    if trials == 0:
        return Interval(0.0, 0.0, 1.0)
    z = z_value(confidence)
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return Interval(p, max(0.0, centre - half), min(1.0, centre + half))


def mean_interval(total: float, total_of_squares: float, n: int, confidence: float = 0.95) -> Interval:
    """Normal interval of a mean from the sum and the sum of squares of ``n`` values."""
    if n <= 0:
        return Interval(0.0, 0.0, 0.0)
    mean = total / n
    variance = _sample_variance(total, total_of_squares, n)
    half = z_value(confidence) * math.sqrt(variance / n)
    return Interval(mean, mean - half, mean + half)


@dataclass(frozen=True)
class TestResult:
    difference: float  # treatment minus control
    relative: float | None  # difference / control (None when control is 0)
    statistic: float
    p_value: float


def two_proportion_z_test(successes_a: int, trials_a: int, successes_b: int, trials_b: int) -> TestResult:
    """Is B's proportion different from A's (control)? Pooled two-proportion z-test."""
    if trials_a <= 0 or trials_b <= 0:
        raise ValueError("Both arms need at least one trial.")
    p_a, p_b = successes_a / trials_a, successes_b / trials_b
    pooled = (successes_a + successes_b) / (trials_a + trials_b)
    se = math.sqrt(pooled * (1 - pooled) * (1 / trials_a + 1 / trials_b))
    if se == 0:
        return TestResult(p_b - p_a, None if p_a == 0 else (p_b - p_a) / p_a, 0.0, 1.0)
    z = (p_b - p_a) / se
    return TestResult(p_b - p_a, None if p_a == 0 else (p_b - p_a) / p_a, z, float(2 * stats.norm.sf(abs(z))))


def welch_t_test(sum_a: float, squares_a: float, n_a: int, sum_b: float, squares_b: float, n_b: int) -> TestResult:
    """Is B's mean different from A's (control)? Welch's unequal-variance t-test from sums."""
    if n_a < 2 or n_b < 2:
        raise ValueError("Both arms need at least two values.")
    mean_a, mean_b = sum_a / n_a, sum_b / n_b
    var_a, var_b = _sample_variance(sum_a, squares_a, n_a) / n_a, _sample_variance(sum_b, squares_b, n_b) / n_b
    se = math.sqrt(var_a + var_b)
    relative = None if mean_a == 0 else (mean_b - mean_a) / mean_a
    if se == 0:
        return TestResult(mean_b - mean_a, relative, 0.0, 1.0 if mean_a == mean_b else 0.0)
    t = (mean_b - mean_a) / se
    dof = (var_a + var_b) ** 2 / (var_a**2 / (n_a - 1) + var_b**2 / (n_b - 1))
    return TestResult(mean_b - mean_a, relative, t, float(2 * stats.t.sf(abs(t), dof)))


def novelty(popularity_shares: Sequence[float]) -> float:
    """Mean self-information, -log2(share of users who interacted with the item), of the items
    shown; higher means less obvious items. Shares must lie in (0, 1]."""
    if not popularity_shares:
        return 0.0
    return float(sum(-math.log2(p) for p in popularity_shares) / len(popularity_shares))


def _sample_variance(total: float, total_of_squares: float, n: int) -> float:
    if n < 2:
        return 0.0
    return max(0.0, (total_of_squares - total * total / n) / (n - 1))
