"""Statistics over repetitions: short pure functions, no I/O, no plotting.

A run has few repetitions per setup and test (three by default), so everything here is chosen to
behave honestly at small n: the median rather than the mean, min-max rather than a standard
deviation, and a percentile bootstrap whose interval widens to "the ranges overlap" when the data
cannot say more.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_CONFIDENCE = 0.95
# Fixed so that the same runs always give the same intervals and verdicts; the date of the seed.
BOOTSTRAP_SEED = 20160906
# Below this many valid repetitions per side a bootstrap interval is too coarse to call anything.
MIN_REPS_FOR_VERDICT = 3

LOADTEST_PERCENTILES = (50, 90, 95, 99)


@dataclass(frozen=True)
class Spread:
    """Centre and spread of one metric over repetitions."""

    n: int
    median: float
    low: float  # minimum
    high: float  # maximum
    q1: float
    q3: float


@dataclass(frozen=True)
class Interval:
    """A confidence interval; ``excludes_zero`` is what makes a difference "real"."""

    low: float
    high: float

    @property
    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0


def median(values: Sequence[float]) -> float:
    if not values:
        raise ValueError("median of no values")
    return float(np.median(np.asarray(values, dtype=float)))


def min_max(values: Sequence[float]) -> tuple[float, float]:
    if not values:
        raise ValueError("min-max of no values")
    return float(min(values)), float(max(values))


def quartiles(values: Sequence[float]) -> tuple[float, float]:
    """First and third quartile, linear interpolation between order statistics."""
    if not values:
        raise ValueError("quartiles of no values")
    q1, q3 = np.percentile(np.asarray(values, dtype=float), [25, 75])
    return float(q1), float(q3)


def spread(values: Sequence[float]) -> Spread:
    low, high = min_max(values)
    q1, q3 = quartiles(values)
    return Spread(n=len(values), median=median(values), low=low, high=high, q1=q1, q3=q3)


def percent_change(base: float, contender: float) -> float | None:
    """Relative change from base to contender in percent; None when base is zero."""
    if base == 0:
        return None
    return (contender / base - 1.0) * 100.0


def _resampled_medians(
    values: Sequence[float], rng: np.random.Generator, resamples: int
) -> np.ndarray:
    data = np.asarray(values, dtype=float)
    picks = rng.integers(0, len(data), size=(resamples, len(data)))
    return np.asarray(np.median(data[picks], axis=1))


def _interval(samples: np.ndarray, confidence: float) -> Interval:
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = np.percentile(samples, [tail, 100.0 - tail])
    return Interval(low=float(low), high=float(high))


def bootstrap_median_difference(
    base: Sequence[float],
    contender: Sequence[float],
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    confidence: float = BOOTSTRAP_CONFIDENCE,
    seed: int = BOOTSTRAP_SEED,
) -> Interval:
    """Percentile-bootstrap interval of median(contender) - median(base).

    Each side is resampled with replacement on its own (the repetitions of two setups or two runs
    are independent). A fresh generator per call keeps every interval reproducible on its own,
    whatever else was computed before it.
    """
    if not base or not contender:
        raise ValueError("bootstrap needs at least one value on each side")
    rng = np.random.default_rng(seed)
    base_medians = _resampled_medians(base, rng, resamples)
    contender_medians = _resampled_medians(contender, rng, resamples)
    return _interval(contender_medians - base_medians, confidence)


def bootstrap_percent_change(
    base: Sequence[float],
    contender: Sequence[float],
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    confidence: float = BOOTSTRAP_CONFIDENCE,
    seed: int = BOOTSTRAP_SEED,
) -> Interval | None:
    """Percentile-bootstrap interval of the change of the median in percent; None if base has 0."""
    if not base or not contender:
        raise ValueError("bootstrap needs at least one value on each side")
    rng = np.random.default_rng(seed)
    base_medians = _resampled_medians(base, rng, resamples)
    contender_medians = _resampled_medians(contender, rng, resamples)
    if np.any(base_medians == 0):
        return None
    return _interval((contender_medians / base_medians - 1.0) * 100.0, confidence)


def percentiles_from_histogram(
    histogram_ms: Mapping[int, int], total_requests: int | None = None
) -> dict[int, float]:
    """loadtest's own percentile rule, for reps whose result lacks ``percentiles``.

    loadtest (lib/result.js) walks the per-millisecond histogram upwards and reports, for each
    percentile p, the first millisecond at which the cumulative share of requests exceeds p.
    """
    counted_total = sum(histogram_ms.values())
    total = total_requests if total_requests else counted_total
    if total <= 0:
        return {}
    found: dict[int, float] = {}
    cumulative = 0
    for latency_ms in sorted(histogram_ms):
        cumulative += histogram_ms[latency_ms]
        share = cumulative / total * 100.0
        for percentile in LOADTEST_PERCENTILES:
            if percentile not in found and share > percentile:
                found[percentile] = float(latency_ms)
    return found


def mean_from_histogram(histogram_ms: Mapping[int, int]) -> float | None:
    total = sum(histogram_ms.values())
    if total <= 0:
        return None
    return sum(ms * count for ms, count in histogram_ms.items()) / total
