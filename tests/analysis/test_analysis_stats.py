"""The statistics module: pure functions, checked against hand-worked values and loadtest's rule."""

from __future__ import annotations

import pytest
from analysis_helpers import FIXTURES, read_json

from analysis import _stats


def test_median_and_spread_of_an_odd_and_an_even_count():
    assert _stats.median([3.0, 1.0, 2.0]) == 2.0
    assert _stats.median([4.0, 1.0, 2.0, 3.0]) == 2.5
    spread = _stats.spread([5.0, 1.0, 3.0, 2.0, 4.0])
    assert (spread.n, spread.median, spread.low, spread.high) == (5, 3.0, 1.0, 5.0)
    assert (spread.q1, spread.q3) == (2.0, 4.0)


def test_statistics_of_nothing_are_an_error_not_zero():
    with pytest.raises(ValueError):
        _stats.median([])
    with pytest.raises(ValueError):
        _stats.spread([])


def test_percent_change_is_relative_to_base_and_undefined_for_a_zero_base():
    assert _stats.percent_change(10.0, 12.5) == pytest.approx(25.0)
    assert _stats.percent_change(10.0, 5.0) == pytest.approx(-50.0)
    assert _stats.percent_change(0.0, 5.0) is None


def test_bootstrap_separates_ranges_that_do_not_overlap():
    interval = _stats.bootstrap_median_difference([6.0, 6.2, 5.9], [12.1, 12.6, 13.0])
    assert interval.excludes_zero
    # The difference of medians (12.6 - 6.0) lies inside its own interval.
    assert interval.low <= 6.6 <= interval.high


def test_bootstrap_calls_overlapping_ranges_noise():
    interval = _stats.bootstrap_median_difference([6.0, 6.3, 6.6], [6.1, 6.4, 6.5])
    assert not interval.excludes_zero


def test_bootstrap_is_deterministic_and_depends_on_the_seed():
    base, contender = [1.0, 2.0, 3.0, 4.0], [2.0, 3.0, 5.0, 6.0]
    first = _stats.bootstrap_percent_change(base, contender)
    again = _stats.bootstrap_percent_change(base, contender)
    other_seed = _stats.bootstrap_percent_change(base, contender, seed=1)
    assert first == again
    assert first != other_seed


def test_bootstrap_percent_change_is_none_when_a_base_resample_is_zero():
    assert _stats.bootstrap_percent_change([0.0, 0.0, 0.0], [1.0, 2.0, 3.0]) is None


def test_percentiles_from_histogram_follow_loadtests_strictly_greater_rule():
    # 10 requests: 50% reached exactly at 2 ms, so loadtest reports p50 at the next bucket.
    histogram = {1: 2, 2: 3, 3: 4, 9: 1}
    assert _stats.percentiles_from_histogram(histogram) == {50: 3.0, 90: 9.0, 95: 9.0, 99: 9.0}


def test_percentiles_from_histogram_reproduce_every_fixture_reps_own_percentiles():
    # The fixtures' percentiles were written by an independent implementation of loadtest's rule.
    rep_paths = sorted((FIXTURES / "complete").glob("*/latency/rep-*.json"))
    assert rep_paths
    for path in rep_paths:
        loadtest = read_json(path)["loadtest"]
        histogram = {int(ms): count for ms, count in loadtest["histogramMs"].items()}
        computed = _stats.percentiles_from_histogram(histogram, loadtest["totalRequests"])
        expected = {int(p): float(ms) for p, ms in loadtest["percentiles"].items()}
        assert computed == expected, path


def test_mean_from_histogram_matches_loadtests_rounded_mean():
    loadtest = read_json(FIXTURES / "complete" / "redis" / "latency" / "rep-1.json")["loadtest"]
    histogram = {int(ms): count for ms, count in loadtest["histogramMs"].items()}
    assert _stats.mean_from_histogram(histogram) == pytest.approx(
        loadtest["meanLatencyMs"], abs=0.05
    )
    assert _stats.mean_from_histogram({}) is None
