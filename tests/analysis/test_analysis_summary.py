"""Aggregation, the headline verdict and the comparison logic, without plots or subprocesses."""

from __future__ import annotations

import statistics

from analysis_helpers import FIXTURES, read_json, rep_files, rep_values

from analysis import load_run
from analysis._compare import judge, methodology_differences
from analysis._model import LATENCY_TEST
from analysis._summary import lowest_latency, summarize_tests


def _latency_summaries(name: str):
    run = load_run(FIXTURES / name)
    summaries = summarize_tests(run)
    return run, summaries, {s.setup: s for s in summaries if s.test == LATENCY_TEST}


def test_medians_and_ranges_are_those_of_the_fixture_reps():
    run_dir = FIXTURES / "complete"
    _, _, latency = _latency_summaries("complete")
    for setup in ("gunicorn", "redis", "ipc"):
        values = rep_values(run_dir, setup, "meanLatencyMs")
        spread = latency[setup].metrics["mean_ms"]
        assert spread.median == statistics.median(values)
        assert (spread.low, spread.high) == (min(values), max(values))
        p99 = [
            read_json(path)["loadtest"]["percentiles"]["99"] for path in rep_files(run_dir, setup)
        ]
        assert latency[setup].metrics["p99_ms"].median == statistics.median(p99)


def test_flagged_reps_stay_out_of_the_median_unless_none_is_valid():
    run_dir = FIXTURES / "flagged"
    _, _, latency = _latency_summaries("flagged")
    gunicorn = latency["gunicorn"]
    assert gunicorn.basis == "valid"
    assert len(gunicorn.valid_reps) == 2
    assert gunicorn.metrics["mean_ms"].median == statistics.median(
        rep_values(run_dir, "gunicorn", "meanLatencyMs")
    )
    ipc = latency["ipc"]
    assert ipc.basis == "flagged only"
    assert ipc.metrics["mean_ms"].median == statistics.median(
        rep_values(run_dir, "ipc", "meanLatencyMs", valid_only=False)
    )


def test_complete_run_names_the_lowest_setup_and_trusts_it():
    run, summaries, latency = _latency_summaries("complete")
    verdict = lowest_latency(run, summaries)
    medians = {setup: s.metrics["mean_ms"].median for setup, s in latency.items()}
    ordered = sorted(medians, key=medians.__getitem__)
    assert [entry[0] for entry in verdict.ranking] == ordered
    assert verdict.best == ordered[0]
    assert verdict.difference == medians[ordered[1]] - medians[ordered[0]]
    assert verdict.trusted
    assert verdict.interval is not None and verdict.interval.low > 0


def test_too_few_valid_reps_means_no_trust_and_says_why():
    run, summaries, _ = _latency_summaries("flagged")
    verdict = lowest_latency(run, summaries)
    assert not verdict.trusted
    assert any("2 valid repetitions" in reason for reason in verdict.reasons)


def test_a_failed_setup_is_left_out_of_the_answer_and_named():
    run, summaries, _ = _latency_summaries("failed-setup")
    verdict = lowest_latency(run, summaries)
    assert verdict.missing == ("ipc",)
    assert any(
        caveat.startswith("ipc has no latency numbers (failed at loadtest")
        for caveat in verdict.caveats
    )
    assert [entry[0] for entry in verdict.ranking] == ["gunicorn", "redis"]


def test_judge_calls_separated_ranges_real_and_says_which_way():
    change, interval, verdict = judge([35.0, 36.0, 37.0], [14.0, 15.0, 16.0], False)
    assert verdict == "**real**: better"
    assert change is not None and change < 0
    assert interval is not None and interval.high < 0
    assert judge([100.0, 101.0, 99.0], [80.0, 81.0, 79.0], True)[2] == "**real**: worse"


def test_judge_calls_overlapping_ranges_noise_and_refuses_too_few_reps():
    assert judge([6.0, 6.3, 6.6], [6.1, 6.4, 6.5], False)[2] == "within noise"
    assert judge([6.0, 6.3], [9.0, 9.4], False)[2].startswith("too few reps")
    assert judge([], [9.0, 9.4, 9.1], False)[2] == "no valid reps in base"


def test_methodology_differences_list_what_changed_and_nothing_for_a_run_against_itself():
    complete = load_run(FIXTURES / "complete")
    contender = load_run(FIXTURES / "contender")
    aspects = {
        d.aspect: (d.base, d.contender) for d in methodology_differences(complete, contender)
    }
    assert aspects["pin: asgi_ipc"] == ("1.1.0", "1.4.2")
    assert aspects["target pip freeze: asgi_ipc"] == ("1.1.0", "1.4.2")
    assert "pin: django" not in aspects
    assert methodology_differences(complete, complete) == []
