"""bench_rep: merging the sources' loadtest results, flags, and the refusal to overwrite."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest
from harness_helpers import MODULE_PATH, driver_document

REAL_RESULTS = ["latency", "throughput", "latency-errors"]
PLAN = {
    "url": "http://127.0.0.1:8000/",
    "rps": 200,
    "clients": None,
    "duration_s": 3,
    "warmup_s": 0.5,
    "keepalive": False,
    "request_timeout_ms": 10000,
}


def split_result(result: dict, share: int) -> tuple[dict, dict]:
    """Split one loadtest result into two sources' results that together make the same run:
    each latency bucket and error code divided, the accumulated time along with them."""
    parts = (copy.deepcopy(result), copy.deepcopy(result))
    for part in parts:
        part["histogramMs"], part["errorCodes"] = {}, {}
        part["accumulatedMs"] = 0
        part["totalRequests"] = 0
        part["totalErrors"] = 0
    for key, count in result["histogramMs"].items():
        first = count * share // 4
        for part, part_count in zip(parts, (first, count - first), strict=True):
            if part_count:
                part["histogramMs"][key] = part_count
                part["accumulatedMs"] += int(key) * part_count
                part["totalRequests"] += part_count
    for code, count in result["errorCodes"].items():
        first = count // 2
        parts[0]["errorCodes"][code] = first
        parts[1]["errorCodes"][code] = count - first
        parts[0]["totalErrors"] += first
        parts[1]["totalErrors"] += count - first
    for part in parts:
        latencies = [int(key) for key in part["histogramMs"]]
        part["maxLatencyMs"], part["minLatencyMs"] = max(latencies), min(latencies)
    return parts


@pytest.mark.parametrize("name", REAL_RESULTS)
def test_percentiles_follow_loadtest(bench_rep, name):
    result = driver_document(name)["loadtest"]
    histogram = {int(key): count for key, count in result["histogramMs"].items()}
    computed = bench_rep.percentiles_from_histogram(histogram, result["totalRequests"])
    assert computed == result["percentiles"]


def test_percentile_at_zero_ms_moves_on_as_in_loadtest(bench_rep):
    # JavaScript's !0 is true: loadtest keeps looking after finding a percentile at 0 ms.
    assert bench_rep.percentiles_from_histogram({0: 80, 1: 20}, 100)["50"] == 1
    assert bench_rep.percentiles_from_histogram({0: 40, 1: 60}, 100)["50"] == 1


def test_percentile_never_exceeded_is_false(bench_rep):
    # Requests counted in totalRequests but not in the histogram (finished after the stop).
    percentiles = bench_rep.percentiles_from_histogram({3: 50, 4: 39}, 100)
    assert percentiles == {"50": 4, "90": False, "95": False, "99": False}


@pytest.mark.parametrize("name", REAL_RESULTS)
def test_one_source_keeps_loadtest_numbers(bench_rep, name):
    result = driver_document(name)["loadtest"]
    merged = bench_rep.merge_loadtest([result])
    for key in ("histogramMs", "percentiles", "errorCodes", "totalRequests", "totalErrors"):
        assert merged[key] == result[key], key
    assert merged["meanLatencyMs"] == result["meanLatencyMs"]
    assert merged["startTimeMs"] == result["startTimeMs"]
    assert merged["effectiveRps"] == round(result["totalRequests"] / result["elapsedSeconds"], 2)
    assert round(merged["effectiveRps"]) == result["effectiveRps"]


@pytest.mark.parametrize("name", REAL_RESULTS)
@pytest.mark.parametrize("share", [1, 2, 3])
def test_two_sources_merge_into_the_single_run(bench_rep, name, share):
    single = driver_document(name)["loadtest"]
    first, second = split_result(single, share)
    merged = bench_rep.merge_loadtest([first, second])
    for key in (
        "histogramMs",
        "percentiles",
        "errorCodes",
        "totalRequests",
        "totalErrors",
        "meanLatencyMs",
        "maxLatencyMs",
        "minLatencyMs",
        "elapsedSeconds",
        "accumulatedMs",
    ):
        assert merged[key] == single[key], key
    assert merged["effectiveRps"] == round(single["totalRequests"] / single["elapsedSeconds"], 2)
    # Two hosts' monotonic clocks say nothing about each other.
    assert merged["startTimeMs"] is None and merged["stopTimeMs"] is None


def test_several_sources_add_up_rate_and_clients(bench_rep):
    first = driver_document("throughput")["loadtest"]
    second = copy.deepcopy(first)
    second["elapsedSeconds"] = first["elapsedSeconds"] + 0.5
    merged = bench_rep.merge_loadtest([first, second])
    assert merged["clients"] == 2 * first["clients"]
    assert merged["concurrency"] == 2 * first["concurrency"]
    assert merged["totalRequests"] == 2 * first["totalRequests"]
    # The measured part is the longest of the sources'.
    assert merged["elapsedSeconds"] == second["elapsedSeconds"]
    assert merged["effectiveRps"] == round(2 * first["totalRequests"] / second["elapsedSeconds"], 2)
    latency = driver_document("latency")["loadtest"]
    assert bench_rep.merge_loadtest([latency, latency])["requestsPerSecond"] == 400


@pytest.mark.parametrize(
    ("test", "requested", "achieved", "cpu", "errors", "flags"),
    [
        ("latency", 300, 300.0, 30.0, 0, []),
        ("latency", 300, 297.0, 30.0, 0, []),
        ("latency", 300, 296.99, 30.0, 0, ["rate_shortfall"]),
        ("latency", 300, 300.0, 90.0, 0, []),
        ("latency", 300, 300.0, 90.1, 0, ["generator_saturated"]),
        ("latency", 300, 300.0, None, 1, ["errors"]),
        ("latency", 300, 150.0, 99.0, 3, ["rate_shortfall", "generator_saturated", "errors"]),
        ("throughput", None, 12.0, 30.0, 0, []),
        ("throughput", 300, 12.0, 30.0, 0, []),
    ],
)
def test_flags(bench_rep, test, requested, achieved, cpu, errors, flags):
    assert (
        bench_rep.rep_flags(
            test=test,
            requested_rps=requested,
            achieved_rps=achieved,
            generator_cpu_percent_max=cpu,
            total_errors=errors,
        )
        == flags
    )


def record(bench_rep, sources, **overrides):
    arguments = {
        "run_id": "20261128T180511Z-3f9a",
        "setup": "gunicorn",
        "test": "latency",
        "rep": 1,
        "plan": PLAN,
        "sources": sources,
        "requested_rps": 200,
    } | overrides
    return bench_rep.build_record(**arguments)


def test_record_follows_the_contract(bench_rep):
    document = driver_document("latency")
    rep = record(bench_rep, [document], expected_hosts=["localhost"])
    assert set(rep) == {
        "schema_version", "run_id", "setup", "test", "rep", "plan", "source_hosts",
        "started_at", "ended_at", "loadtest", "sources", "requested_rps", "achieved_rps",
        "generator", "flags", "valid",
    }  # fmt: skip
    assert rep["source_hosts"] == ["localhost"]
    assert rep["started_at"] == document["started_at"]
    assert rep["ended_at"] == document["ended_at"]
    assert rep["sources"][0]["loadtest"] == document["loadtest"]
    assert rep["sources"][0]["generator"]["cpu_percent"] == document["generator"]["cpu_percent"]
    assert rep["generator"] == {"cpu_percent_max": document["generator"]["cpu_percent"]}
    assert rep["achieved_rps"] == pytest.approx(200, rel=0.01)
    assert rep["flags"] == [] and rep["valid"] is True


def test_record_of_two_sources(bench_rep):
    first = driver_document("latency")
    second = copy.deepcopy(first)
    second["host"] = "source-2"
    second["started_at"] = "2000-01-01T00:00:00.000Z"
    second["generator"]["cpu_percent"] = 95.0
    rep = record(bench_rep, [first, second], requested_rps=400)
    assert rep["source_hosts"] == ["localhost", "source-2"]
    assert rep["started_at"] == "2000-01-01T00:00:00.000Z"
    assert rep["generator"]["cpu_percent_max"] == 95.0
    assert rep["flags"] == ["generator_saturated"] and rep["valid"] is False


def test_record_flags_errors_and_shortfall(bench_rep):
    rep = record(bench_rep, [driver_document("latency-errors")], requested_rps=200)
    assert rep["flags"] == ["rate_shortfall", "errors"]
    assert rep["valid"] is False
    assert rep["loadtest"]["errorCodes"] == {"-1": 267}


def test_throughput_record_has_no_requested_rate(bench_rep):
    rep = record(bench_rep, [driver_document("throughput")], test="throughput", requested_rps=None)
    assert rep["requested_rps"] is None
    assert rep["flags"] == []


def test_missing_source_fails(bench_rep):
    with pytest.raises(bench_rep.RepError, match="no result from source-2"):
        record(bench_rep, [driver_document("latency")], expected_hosts=["localhost", "source-2"])
    with pytest.raises(bench_rep.RepError, match="twice"):
        record(bench_rep, [driver_document("latency")] * 2)
    with pytest.raises(bench_rep.RepError, match="nothing was measured"):
        record(bench_rep, [])


def test_write_exclusive_refuses_an_existing_file(bench_rep, tmp_path):
    path = tmp_path / "gunicorn" / "latency" / "rep-1.json"
    bench_rep.write_exclusive(str(path), "first\n")
    with pytest.raises(FileExistsError):
        bench_rep.write_exclusive(str(path), "second\n")
    assert path.read_text() == "first\n"


def run_module(tmp_path, arguments):
    args_file = tmp_path / "args.json"
    args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": arguments}))
    completed = subprocess.run(
        [sys.executable, str(MODULE_PATH), str(args_file)],
        capture_output=True,
        text=True,
        check=False,
    )
    return json.loads(completed.stdout)


def test_module_writes_once_and_never_overwrites(tmp_path):
    dest = tmp_path / "run" / "gunicorn" / "latency" / "rep-1.json"
    arguments = {
        "dest": str(dest),
        "run_id": "20261128T180511Z-3f9a",
        "setup": "gunicorn",
        "test": "latency",
        "rep": 1,
        "plan": PLAN,
        "sources": [driver_document("latency")],
        "expected_hosts": ["localhost"],
        "requested_rps": 200,
    }
    first = run_module(tmp_path, arguments)
    assert first.get("failed") is not True, first
    assert first["changed"] is True and first["valid"] is True
    written = dest.read_bytes()
    rep = json.loads(written)
    assert rep["rep"] == 1 and rep["loadtest"]["totalRequests"] == 600

    again = run_module(tmp_path, arguments | {"sources": [driver_document("latency-errors")]})
    assert again["failed"] is True
    assert "never overwritten" in again["msg"]
    assert dest.read_bytes() == written


def test_module_reports_a_missing_source(tmp_path):
    dest = tmp_path / "rep-1.json"
    result = run_module(
        tmp_path,
        {
            "dest": str(dest),
            "run_id": "r",
            "setup": "ipc",
            "test": "throughput",
            "rep": 1,
            "plan": PLAN,
            "sources": [driver_document("throughput")],
            "expected_hosts": ["localhost", "source-2"],
        },
    )
    assert result["failed"] is True and "source-2" in result["msg"]
    assert not dest.exists()
