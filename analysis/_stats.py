"""Statistics over repetitions that say what they can: short pure functions, no I/O.

A run has few repetitions per setup and test (three by default), so everything here is exact and
distribution-free, and every interval carries its true coverage instead of a nominal 95 %:

- the min-max range of n repetitions covers the median of the distribution they come from with
  probability 1 - 2 * 0.5**n (75 % at n = 3), whatever that distribution is;
- two sets of repetitions are compared with an exact permutation test of the Mann-Whitney
  statistic (every split of the pooled values enumerated), whose smallest possible two-sided
  p-value is 2 / C(n + m, n): 0.10 with three repetitions a side, so three can never show a
  difference at the 5 % level;
- the interval of a change is the distribution-free interval for a shift (Moses; Hodges-Lehmann's
  estimator at its centre) on the log scale, at the highest coverage the counts allow up to 95 %,
  with that coverage stated;
- many comparisons at once are corrected with Holm's step-down method (family-wise error).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np

# The level a difference must reach to be called real, after correction for multiplicity.
ALPHA = 0.05
# The coverage an interval aims for; it is given lower, and says so, when the counts cannot
# reach it.
TARGET_COVERAGE = 0.95
# Splits of the pooled repetitions enumerated exactly up to this many (C(20, 10) = 184 756);
# beyond it the permutation distribution is sampled, with a fixed seed so output is reproducible.
EXACT_SPLITS_LIMIT = 200_000
PERMUTATION_RESAMPLES = 20_000
# The date of the seed: the same runs always give the same numbers.
RANDOM_SEED = 20160906


@dataclass(frozen=True)
class Spread:
    """Centre and spread of one statistic over repetitions."""

    n: int
    median: float
    low: float  # minimum
    high: float  # maximum

    @property
    def coverage(self) -> float:
        """How often the min-max range covers the median of the distribution the reps come from."""
        return range_coverage(self.n)


@dataclass(frozen=True)
class PValue:
    value: float
    exact: bool  # every split enumerated (True) or the permutation distribution sampled
    smallest_possible: float  # the floor the counts set, whatever the data


@dataclass(frozen=True)
class ShiftInterval:
    """Interval of a change; ``coverage`` is its true coverage under a shift model."""

    low: float
    high: float
    coverage: float

    @property
    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0


def median(values: Sequence[float]) -> float:
    if not values:
        raise ValueError("median of no values")
    return float(np.median(np.asarray(values, dtype=float)))


def spread(values: Sequence[float]) -> Spread:
    if not values:
        raise ValueError("spread of no values")
    return Spread(n=len(values), median=median(values), low=min(values), high=max(values))


def range_coverage(n: int) -> float:
    """P(min <= population median <= max) for n independent draws of a continuous quantity."""
    return 0.0 if n < 2 else 1.0 - 2.0 * 0.5**n


def ranges_separate(base: Sequence[float], contender: Sequence[float]) -> bool:
    return bool(base and contender) and (max(base) < min(contender) or max(contender) < min(base))


def percent_change(base: float, contender: float) -> float | None:
    """Relative change from base to contender in percent; None when base is zero."""
    if base == 0:
        return None
    return (contender / base - 1.0) * 100.0


def u_statistic(base: Sequence[float], contender: Sequence[float]) -> float:
    """Mann-Whitney U: pairs in which the contender is larger, ties counting one half."""
    return sum(1.0 if c > b else 0.5 if c == b else 0.0 for b in base for c in contender)


@cache
def u_null_counts(n: int, m: int) -> tuple[int, ...]:
    """How many of the C(n + m, n) orderings of n base and m contender values (no ties) give
    U = 0, 1, ..., n * m. The largest value is a contender's (it beats all n base values) or a
    base's (it beats none): c(u; n, m) = c(u - n; n, m - 1) + c(u; n - 1, m)."""
    if n == 0 or m == 0:
        return (1,)
    with_contender_top = u_null_counts(n, m - 1)
    with_base_top = u_null_counts(n - 1, m)
    counts = [0] * (n * m + 1)
    for u, count in enumerate(with_contender_top):
        counts[u + n] += count
    for u, count in enumerate(with_base_top):
        counts[u] += count
    return tuple(counts)


def smallest_p_value(n: int, m: int) -> float:
    """The smallest two-sided p-value any data can give with n and m repetitions."""
    if n < 1 or m < 1:
        return 1.0
    return min(1.0, 2.0 / math.comb(n + m, n))


def _midranks(values: Sequence[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda index: values[index])
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for position in range(start, end + 1):
            ranks[order[position]] = (start + end) / 2.0 + 1.0
        start = end + 1
    return ranks


def permutation_p_value(base: Sequence[float], contender: Sequence[float]) -> PValue:
    """Two-sided p-value of the exact permutation test of U: the share of all splits of the
    pooled values into groups of the same sizes whose U is at least as far from n * m / 2.
    Ties are handled exactly (midranks), as the permutation distribution has them too."""
    n, m = len(base), len(contender)
    if n == 0 or m == 0:
        raise ValueError("a permutation test needs values on both sides")
    ranks = _midranks([*contender, *base])
    centre = m * (m + 1) / 2.0 + n * m / 2.0  # the contender's rank sum under no difference
    observed = abs(sum(ranks[:m]) - centre)
    splits = math.comb(n + m, m)
    tolerance = 1e-9
    if splits <= EXACT_SPLITS_LIMIT:
        extreme = sum(
            1
            for chosen in itertools.combinations(ranks, m)
            if abs(sum(chosen) - centre) >= observed - tolerance
        )
        return PValue(extreme / splits, True, smallest_p_value(n, m))
    rng = np.random.default_rng(RANDOM_SEED)
    pooled = np.asarray(ranks)
    sums = np.array(
        [pooled[rng.permutation(n + m)[:m]].sum() for _ in range(PERMUTATION_RESAMPLES)]
    )
    extreme = int(np.sum(np.abs(sums - centre) >= observed - tolerance))
    return PValue((extreme + 1) / (PERMUTATION_RESAMPLES + 1), False, smallest_p_value(n, m))


def shift_interval(
    base: Sequence[float], contender: Sequence[float], target: float = TARGET_COVERAGE
) -> ShiftInterval | None:
    """Distribution-free interval for the shift d in "contender = base + d" (Moses): order
    statistics k and nm + 1 - k of the n * m pairwise differences, which cover d with
    probability 1 - 2 * P(U <= k - 1). The widest k that still reaches target is used; when even
    k = 1 (the full range of differences) falls short, that one is given with its own coverage."""
    n, m = len(base), len(contender)
    if n < 1 or m < 1:
        return None
    differences = sorted(c - b for b in base for c in contender)
    counts = u_null_counts(n, m)
    total = math.comb(n + m, n)
    chosen, coverage = 1, 1.0 - 2.0 * counts[0] / total
    below = 0
    for k in range(1, (n * m + 1) // 2 + 1):
        below += counts[k - 1]
        k_coverage = 1.0 - 2.0 * below / total
        if k_coverage < target:
            break
        chosen, coverage = k, k_coverage
    if coverage <= 0:
        return None
    return ShiftInterval(differences[chosen - 1], differences[n * m - chosen], coverage)


def ratio_interval(
    base: Sequence[float], contender: Sequence[float], target: float = TARGET_COVERAGE
) -> ShiftInterval | None:
    """The shift interval on the log scale, as a change in percent: a latency or a rate changes
    by a factor, and a factor is a shift of its logarithm. None when a value is not positive."""
    if any(value <= 0 for value in (*base, *contender)):
        return None
    interval = shift_interval(
        [math.log(value) for value in base], [math.log(value) for value in contender], target
    )
    if interval is None:
        return None
    return ShiftInterval(
        (math.exp(interval.low) - 1.0) * 100.0,
        (math.exp(interval.high) - 1.0) * 100.0,
        interval.coverage,
    )


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given: a family-wise error rate below
    ALPHA when every adjusted p-value below ALPHA is called real."""
    count = len(p_values)
    order = sorted(range(count), key=lambda index: p_values[index])
    adjusted = [1.0] * count
    running = 0.0
    for position, index in enumerate(order):
        running = max(running, min(1.0, (count - position) * p_values[index]))
        adjusted[index] = running
    return adjusted


def repetitions_needed(family: int = 1, alpha: float = ALPHA, limit: int = 50) -> int | None:
    """Fewest repetitions per side (equal on both) for which a complete separation can reach
    alpha after a Holm correction over family comparisons; None beyond limit."""
    for n in range(1, limit + 1):
        if smallest_p_value(n, n) <= alpha / max(family, 1):
            return n
    return None
