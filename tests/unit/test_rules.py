"""The rule book (module_utils/channels_bench_rules.py), tested once: loadtest's percentile rule,
every flag at and around its threshold, and a setup's failure."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from module_utils import channels_bench_rules as rules

FIXTURES = Path(__file__).resolve().parents[1] / "harness" / "fixtures"


def clean(test: str = "latency") -> dict:
    """A rep record that earns no flag: 3,000 requests at the 200 req/s asked."""
    fixed = test != "throughput"
    return {
        "test": test,
        "requested_rps": 200.0 if fixed else None,
        "achieved_rps": 200.0 if fixed else 1500.0,
        "loadtest": {"totalRequests": 3000, "totalErrors": 0, "percentiles": {"50": 2}},
        "harness": {
            "requests": {
                "completed": 3000,
                "responses": 3000,
                "errors": 0,
                "timeouts": 0,
                "completed_before_stop": 3000,
                "peak_in_flight": 3,
            },
            "histograms": {
                "latency_uncorrected": {"count": 3000, "p50": 2000, "p99": 6000},
                "send_lag": {"count": 3000, "p99": 200},
                "event_loop_delay": {"count": 900, "p99": 400},
            },
        },
        "reference": {"rps": 1600.0} if not fixed else None,
        "generator": {"cpu_percent_max": 30.0},
        "server": {"pids_before": {"gunicorn": 10}, "pids_after": {"gunicorn": 10}},
        "settle": {"ready": True, "waited_s": 0.0},
        "sources": [{"host": "a", "start_lag_ms": None}],
    }


def with_value(record: dict, path: str, value: object) -> dict:
    changed = copy.deepcopy(record)
    *parents, last = path.split(".")
    target = changed
    for key in parents:
        target = target[key]
    target[last] = value
    return changed


@pytest.mark.parametrize("name", ["latency", "throughput", "latency-errors"])
def test_percentiles_are_loadtests_own(name: str) -> None:
    result = json.loads((FIXTURES / f"driver-{name}.json").read_text())["loadtest"]
    assert (
        rules.loadtest_percentiles(result["histogramMs"], result["totalRequests"])
        == (result["percentiles"])
    )


def test_a_percentile_found_at_zero_ms_moves_on_as_in_loadtest() -> None:
    # JavaScript's !0 is true: loadtest overwrites a percentile found at 0 ms at the next bucket.
    assert rules.loadtest_percentiles({0: 60, 1: 40}, 100)["50"] == 1
    assert rules.loadtest_percentiles({"0": 80, "1": 20}, 100)["50"] == 1


def test_a_percentile_never_exceeded_stays_false() -> None:
    assert rules.loadtest_percentiles({3: 50, 4: 39}, 100) == {
        "50": 4,
        "90": False,
        "95": False,
        "99": False,
    }


def test_the_mean_rounds_halves_up_like_javascript() -> None:
    assert rules.loadtest_mean_ms(0.25, 1) == 0.3
    assert rules.loadtest_mean_ms(1.0, 0) is None


@pytest.mark.parametrize("test", ["latency", "throughput"])
def test_a_clean_rep_earns_no_flag(test: str) -> None:
    assert rules.flags(clean(test)) == []


@pytest.mark.parametrize(
    ("test", "path", "value", "flag"),
    [
        ("latency", "harness.requests.completed", 0, "no_requests"),
        ("latency", "harness.requests.completed", 19, "too_few_requests"),
        ("latency", "harness.requests.errors", 3000, "all_failed"),
        ("latency", "harness.requests.errors", 1, "errors"),
        ("latency", "achieved_rps", 197.9, "rate_shortfall"),
        ("latency", "achieved_rps", 210.1, "rate_overshoot"),
        ("latency", "generator.cpu_percent_max", 90.1, "generator_saturated"),
        ("latency", "harness.histograms.send_lag.p99", 5001, "generator_lag"),
        ("latency", "harness.histograms.event_loop_delay.p99", 5001, "generator_lag"),
        ("latency", "harness.requests.peak_in_flight", 211, "backlog"),
        ("latency", "harness.histograms.latency_uncorrected.count", 2999, "count_mismatch"),
        ("latency", "harness.requests.completed_before_stop", 2998, "count_mismatch"),
        ("latency", "server.pids_after", {"gunicorn": 11}, "server_restarted"),
        ("latency", "settle.ready", False, "not_settled"),
        ("throughput", "reference.rps", 1875.1, "generator_limited"),
    ],
)
def test_each_flag_at_its_threshold(test: str, path: str, value: object, flag: str) -> None:
    assert flag in rules.flags(with_value(clean(test), path, value))


@pytest.mark.parametrize(
    ("test", "path", "value"),
    [
        ("latency", "harness.requests.completed", 20),
        ("latency", "achieved_rps", 198.0),
        ("latency", "achieved_rps", 210.0),
        ("latency", "generator.cpu_percent_max", 90.0),
        ("latency", "harness.histograms.send_lag.p99", 5000),
        # A closed loop's generator is judged by the reference generator, not by its lag.
        ("throughput", "harness.histograms.event_loop_delay.p99", 50000),
        ("latency", "harness.requests.peak_in_flight", 210),
        ("latency", "harness.requests.completed_before_stop", 2999),
        ("throughput", "reference.rps", 1875.0),
        # A closed loop has no rate asked: shortfall and backlog do not apply.
        ("throughput", "harness.requests.peak_in_flight", 5000),
    ],
)
def test_just_inside_a_threshold_earns_no_flag(test: str, path: str, value: object) -> None:
    assert rules.flags(with_value(clean(test), path, value)) == []


def test_the_generator_lag_bound_grows_with_the_latency_measured() -> None:
    slow = with_value(clean(), "harness.histograms.latency_uncorrected.p99", 40000)
    assert rules.flags(with_value(slow, "harness.histograms.send_lag.p99", 10000)) == []
    lagging = with_value(slow, "harness.histograms.send_lag.p99", 10001)
    assert "generator_lag" in rules.flags(lagging)
    # Below the floor nothing is flagged, however fast the server.
    fast = with_value(clean(), "harness.histograms.latency_uncorrected.p99", 500)
    assert rules.flags(with_value(fast, "harness.histograms.send_lag.p99", 5000)) == []


def test_start_lag_needs_several_sources() -> None:
    lagging = with_value(clean(), "sources", [{"start_lag_ms": 150}])
    assert rules.flags(lagging) == []
    two = with_value(clean(), "sources", [{"start_lag_ms": 2}, {"start_lag_ms": -150}])
    assert rules.flags(two) == ["start_lag"]


def test_a_schema_1_record_is_judged_on_loadtests_numbers() -> None:
    old = {
        "test": "latency",
        "requested_rps": 300,
        "achieved_rps": 250.0,
        "loadtest": {"totalRequests": 3750, "totalErrors": 2},
        "generator": {"cpu_percent_max": 95.0},
    }
    assert rules.flags(old) == ["errors", "rate_shortfall", "generator_saturated"]


def test_a_setup_fails_only_when_every_rep_measured_nothing() -> None:
    assert rules.setup_failed([["all_failed", "errors"], ["no_requests"]]).startswith("every")
    assert rules.setup_failed([["all_failed"], ["errors"]]) == ""
    assert rules.setup_failed([]) == ""


def test_every_flag_has_its_sentence() -> None:
    assert set(rules.FLAGS) >= {"no_requests", "generator_limited", "server_restarted"}
    assert all(text and not text.endswith(".") for text in rules.FLAGS.values())
