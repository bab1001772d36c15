"""The statistics: exact small-sample methods, each checked against brute force or simulation
(the known truth that would catch it lying), never against its own output."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from analysis import _stats


def _brute_u_counts(n: int, m: int) -> list[int]:
    """Every way to interleave n base and m contender values, counted by U (independent)."""
    counts = [0] * (n * m + 1)
    for positions in itertools.combinations(range(n + m), m):
        chosen = set(positions)
        u = 0
        for c in positions:
            u += sum(1 for b in range(c) if b not in chosen)
        counts[u] += 1
    return counts


@pytest.mark.parametrize(("n", "m"), [(1, 1), (2, 3), (3, 3), (4, 2), (5, 5)])
def test_the_null_distribution_of_u_is_every_interleaving_counted(n, m):
    assert list(_stats.u_null_counts(n, m)) == _brute_u_counts(n, m)
    assert sum(_stats.u_null_counts(n, m)) == math.comb(n + m, n)


def _brute_p(base: list[float], contender: list[float]) -> float:
    """Two-sided permutation p of the difference of means (ties and all), by enumeration."""
    pooled = [*base, *contender]
    observed = abs(np.mean(contender) - np.mean(base))
    extreme = total = 0
    for chosen in itertools.combinations(range(len(pooled)), len(contender)):
        c = [pooled[i] for i in chosen]
        b = [pooled[i] for i in range(len(pooled)) if i not in chosen]
        total += 1
        extreme += abs(np.mean(c) - np.mean(b)) >= observed - 1e-12
    return extreme / total


def test_three_reps_a_side_can_never_reach_five_percent():
    separated = _stats.permutation_p_value([6.0, 6.1, 6.2], [12.0, 12.5, 13.0])
    assert separated.value == pytest.approx(0.1)
    assert separated.smallest_possible == pytest.approx(0.1)
    assert separated.exact
    assert _stats.smallest_p_value(4, 4) == pytest.approx(2 / 70)


def test_identical_runs_give_p_one_and_separated_ones_the_floor():
    same = [3.0, 4.0, 5.0, 6.0]
    assert _stats.permutation_p_value(same, same).value == pytest.approx(1.0)
    base, contender = list(range(8)), [x + 100.0 for x in range(8)]
    assert _stats.permutation_p_value(base, contender).value == pytest.approx(2 / math.comb(16, 8))


def test_a_rank_test_agrees_with_brute_force_when_ranks_and_means_order_alike():
    # Rank statistic and mean statistic order these splits the same way: identical p-values.
    base, contender = [1.0, 2.0, 4.0], [3.0, 5.0, 6.0]
    assert _stats.permutation_p_value(base, contender).value == pytest.approx(
        _brute_p(base, contender)
    )


def test_ties_are_handled_exactly():
    # All values tied: no split is more extreme than another.
    assert _stats.permutation_p_value([1.0, 1.0], [1.0, 1.0, 1.0]).value == pytest.approx(1.0)


def test_the_shift_interval_of_three_and_three_is_the_range_of_differences_at_90_percent():
    interval = _stats.shift_interval([1.0, 2.0, 3.0], [11.0, 12.0, 13.5])
    assert interval is not None
    assert (interval.low, interval.high) == (8.0, 12.5)
    assert interval.coverage == pytest.approx(0.9)


def test_the_shift_interval_reaches_95_percent_when_the_counts_allow():
    interval = _stats.shift_interval(list(range(8)), [x + 10.0 for x in range(8)])
    assert interval is not None
    assert interval.coverage >= 0.95
    assert interval.low <= 10.0 <= interval.high


def test_the_stated_coverage_of_the_shift_interval_is_its_true_coverage():
    # Simulation against a known shift: the share of intervals that contain it.
    rng = np.random.default_rng(1)
    for n, m in ((3, 3), (5, 4)):
        stated = _stats.shift_interval([0.0] * n, [1.0] * m)
        assert stated is not None
        covered = 0
        trials = 3000
        for _ in range(trials):
            base = rng.lognormal(0.0, 0.5, n)
            contender = rng.lognormal(0.0, 0.5, m) + 2.0
            interval = _stats.shift_interval(list(base), list(contender))
            assert interval is not None
            covered += interval.low <= 2.0 <= interval.high
        assert covered / trials == pytest.approx(stated.coverage, abs=0.025)


def test_the_range_of_n_reps_covers_the_median_as_often_as_it_says():
    rng = np.random.default_rng(2)
    for n in (2, 3, 5):
        samples = rng.exponential(1.0, size=(20000, n))
        median = math.log(2)
        covered = np.mean((samples.min(axis=1) <= median) & (samples.max(axis=1) >= median))
        assert covered == pytest.approx(_stats.range_coverage(n), abs=0.01)
    assert _stats.range_coverage(3) == 0.75
    assert _stats.range_coverage(1) == 0.0


def test_the_ratio_interval_is_a_shift_of_logarithms_in_percent():
    interval = _stats.ratio_interval([10.0, 11.0, 12.0], [20.0, 22.0, 24.0])
    assert interval is not None
    assert interval.low == pytest.approx((20 / 12 - 1) * 100)
    assert interval.high == pytest.approx((24 / 10 - 1) * 100)
    assert _stats.ratio_interval([0.0, 1.0], [1.0, 2.0]) is None


def test_holm_adjusts_step_down_and_keeps_the_order_given():
    assert _stats.holm([0.01, 0.04, 0.03, 0.2]) == pytest.approx([0.04, 0.09, 0.09, 0.2])
    assert _stats.holm([0.5]) == [0.5]


def test_the_repetitions_needed_grow_with_the_number_of_comparisons():
    assert _stats.repetitions_needed(1) == 4  # 2 / C(8, 4) = 0.029
    assert _stats.repetitions_needed(10) == 6  # 2 / C(12, 6) = 0.0022 <= 0.005
    assert _stats.smallest_p_value(3, 3) > _stats.ALPHA


def test_median_and_spread():
    assert _stats.median([4.0, 1.0, 2.0, 3.0]) == 2.5
    spread = _stats.spread([5.0, 1.0, 3.0])
    assert (spread.n, spread.median, spread.low, spread.high) == (3, 3.0, 1.0, 5.0)
    with pytest.raises(ValueError):
        _stats.median([])
    assert _stats.percent_change(0.0, 5.0) is None
    assert _stats.ranges_separate([1.0, 2.0], [3.0]) and not _stats.ranges_separate([1, 3], [2])
