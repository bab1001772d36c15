"""Throughput over time: re-binning the harness's timeline, checked against plain sums."""

from __future__ import annotations

import pytest
from analysis_helpers import FIXTURES, read_json

from analysis import load_run
from analysis._model import TestKey, Timeline
from analysis._summary import summarize_test
from analysis._timeline import BinError, check_bin, rebin, series


def test_rebinning_sums_whole_groups_of_bins_over_the_measured_part_only():
    timeline = Timeline(bin_s=0.1, completed=tuple(range(1, 84)))  # 8.3 s: 8 s + tail
    assert rebin(timeline, 1.0, duration_s=8.0) == [
        sum(range(1 + 10 * i, 11 + 10 * i)) for i in range(8)
    ]
    # 8 s in 5-s bins: one full bin; the cut-off last one would read low and is left out.
    assert rebin(timeline, 5.0, duration_s=8.0) == [sum(range(1, 51))]
    assert rebin(timeline, 0.1, duration_s=0.3) == [1, 2, 3]


def test_a_bin_that_is_not_a_multiple_of_the_timelines_is_refused():
    timeline = Timeline(bin_s=0.1, completed=(1,) * 80)
    with pytest.raises(BinError, match="not a whole multiple"):
        rebin(timeline, 0.25, 8.0)
    with pytest.raises(BinError, match=r"for example 0\.1, 0\.5, 1"):
        check_bin(0.05, [timeline])
    check_bin(0.5, [timeline])


def test_a_series_is_the_median_over_reps_bin_by_bin():
    run_dir = FIXTURES / "v2-complete"
    run = load_run(run_dir)
    test = TestKey("throughput", 10)
    summary = summarize_test("2016/ipc", test, run.reps_of("2016/ipc", test))
    found = series(summary, 1.0)
    timelines = [
        read_json(run_dir / rep.file)["harness"]["timeline"]["completed"]
        for rep in summary.basis_reps
    ]
    for index, point in enumerate(found.points):
        values = sorted(sum(t[index * 10 : (index + 1) * 10]) for t in timelines)
        assert (point.low, point.median, point.high) == (values[0], values[1], values[2])
    # ipc's rate falls over the run, as in the seed's chart.
    assert found.points[0].median > found.points[-1].median
    assert found.reps_without_timeline == 0
