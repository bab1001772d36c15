"""The loadtest driver (roles/loadtest/files/driver.mjs) as a series runner, for real: node, the
role's locked loadtest and hdr-histogram-js, wrk, and servers on loopback (driver_servers.py).

What a series promises: one file per measurement, written atomically and never over another;
progress lines; a bad spec or an existing output refused before any load; a clean stop on a stale
heartbeat or SIGTERM that keeps what was written; histograms Python reads back as written; counts
that agree with loadtest's. test_driver_truths.py checks the measurements against known truths.
"""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
from pathlib import Path

import pytest
from driver_servers import KnownServer
from driver_support import (  # noqa: F401 (pytest fixtures)
    Driver,
    driver_fixture,
    known_server_fixture,
    measurement,
    needs_node,
    needs_wrk,
    node_modules_fixture,
    rule_record,
)
from hdrh.histogram import HdrHistogram

from module_utils.channels_bench_rules import flags

pytestmark = needs_node


def files_under(directory: Path) -> set[str]:
    return {str(path.relative_to(directory)) for path in directory.rglob("*") if path.is_file()}


def test_a_series_writes_one_file_per_measurement_and_reports_progress(
    driver: Driver, known_server: KnownServer
):
    measurements = [
        measurement("latency", rps=40, warmup_s=0.5, output="latency/rep-1.json"),
        measurement("throughput", clients=2, output="throughput/c2/rep-1.json"),
        measurement("sweep", fraction=0.25, output="sweep/f0.25/rep-1.json"),
    ]
    run = driver.run(driver.spec(known_server.url + "/", measurements))
    assert run.returncode == 0, run.explain()

    # One file each, nothing else (no temporary file left), and each printed as it was written.
    outputs = {m["output"] for m in measurements}
    assert files_under(run.output_dir) == outputs | {"progress.jsonl"}
    for document in run.documents:
        assert json.loads((run.output_dir / document["output"]).read_text()) == document
    latency, throughput, sweep = run.documents
    assert [d["test"] for d in run.documents] == ["latency", "throughput", "sweep"]

    # loadtest's own Result is kept as loadtest made it.
    assert latency["loadtest"]["requestsPerSecond"] == 40
    assert latency["warmup"]["totalRequests"] == pytest.approx(20, abs=3)
    assert latency["harness"]["requests"]["sent"] == pytest.approx(40, abs=2)
    assert throughput["clients"] == 2 and throughput["rps"] is None
    assert set(throughput["harness"]["histograms"]) == {"latency_uncorrected", "event_loop_delay"}
    assert set(latency["harness"]["histograms"]) == {
        "latency_uncorrected", "latency_corrected", "send_lag", "event_loop_delay",
    }  # fmt: skip

    # The sweep ran at its fraction of the closed loop's rate before it.
    assert sweep["capacity_rps"] == throughput["achieved_rps"] > 0
    assert sweep["rps"] == pytest.approx(0.25 * throughput["achieved_rps"], abs=0.01)
    assert sweep["fraction"] == 0.25

    events = run.progress()
    assert [e["event"] for e in events] == ["started", "measured", "measured", "measured", "done"]
    assert events[0]["of"] == 3 and events[0]["bound_s"] >= events[0]["expected_s"] > 0
    measured = events[1:4]
    assert [e["index"] for e in measured] == [1, 2, 3]
    assert [e["output"] for e in measured] == [m["output"] for m in measurements]
    for event, document in zip(measured, run.documents, strict=True):
        assert event["requests"] == document["harness"]["requests"]["completed"]
        assert event["p50_us"] == document["harness"]["histograms"]["latency_uncorrected"]["p50"]
        assert event["achieved_rps"] == document["achieved_rps"]
        assert event["errors"] == 0
    assert measured[-1]["eta_s"] == 0
    assert measured[0]["elapsed_s"] < measured[2]["elapsed_s"]


def test_check_mode_validates_an_inline_spec_and_prints_its_bounds(driver: Driver, tmp_path: Path):
    spec = driver.spec(
        "http://127.0.0.1:9/",
        [measurement("latency", duration_s=15, warmup_s=3), measurement("throughput")],
        request_timeout_ms=10000,
        settle={"probe_timeout_ms": 2000, "max_wait_s": 60},
    )
    completed = driver.check(json.dumps(spec))
    assert completed.returncode == 0, completed.stderr
    bounds = json.loads(completed.stdout)
    assert bounds["measurements"] == 2
    # 3 + 15 and 1 seconds of load; each bounded by its settle wait and request timeouts too.
    assert bounds["expected_s"] == pytest.approx(3 + 15 + 1, abs=3)
    assert bounds["bound_s"] >= 2 * 62 + 3 + 15 + 1 + 3 * 10
    assert not (tmp_path / "out").exists()
    assert driver.check("{not json").returncode == 2


def test_a_bad_spec_is_refused_with_every_problem_before_any_load(
    driver: Driver, known_server: KnownServer
):
    spec = driver.spec(
        known_server.url + "/",
        [
            measurement("sweep", fraction=0.5, output="sweep.json"),
            measurement("latency", rps=0),
            measurement("throughput", clients=0, output="/abs.json"),
            measurement("reference", output="../outside.json"),
            measurement("latncy", output="typo.json"),
            measurement("latency", output="latency/rep-1.json", extra=1),
        ],
        keepalive="no",
    )
    run = driver.run(spec)
    assert run.returncode == 2
    for problem in [
        "keepalive must be true or false",
        "measurements[0]: a sweep by fraction needs a throughput measurement before it",
        "measurements[1]: the latency test needs rps above 0",
        "measurements[2]: the throughput test needs clients",
        "measurements[2]: output must be a path relative to output_dir",
        "measurements[3]: output must name a file inside output_dir",
        "measurements[3]: a reference measurement needs wrk",
        "measurements[4]: test must be one of latency, throughput, sweep, calibrate, reference",
        'measurements[5]: unknown key "extra"',
        'measurements[5]: output "latency/rep-1.json" is also the output of measurements[1]',
    ]:
        assert problem in run.stderr
    assert known_server.requests == 0
    assert not run.output_dir.exists()


def test_an_existing_output_is_refused_before_any_load(driver: Driver, known_server: KnownServer):
    spec = driver.spec(
        known_server.url + "/",
        [measurement("latency", output="a.json"), measurement("latency", rep=2, output="b.json")],
    )
    (run_dir := Path(spec["output_dir"])).mkdir()
    (run_dir / "b.json").write_text("kept\n")
    run = driver.run(spec)
    assert run.returncode == 2
    assert "b.json exists already; a result is never overwritten" in run.stderr
    assert (run_dir / "b.json").read_text() == "kept\n"
    assert files_under(run_dir) == {"b.json"}
    assert known_server.requests == 0


def wait_for_event(driver_run_spec: dict, event: str, limit_s: float = 20) -> None:
    progress = Path(driver_run_spec["progress"])
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if progress.exists() and f'"event":"{event}"' in progress.read_text():
            return
        time.sleep(0.05)
    raise AssertionError(f"no {event} event within {limit_s} s")


def test_an_output_that_appears_meanwhile_is_kept_and_the_series_fails(
    driver: Driver, known_server: KnownServer
):
    spec = driver.spec(
        known_server.url + "/",
        [
            measurement("latency", duration_s=2, output="a.json"),
            measurement("latency", rep=2, output="b.json"),
        ],
    )
    process = driver.start(spec)
    wait_for_event(spec, "started")
    (Path(spec["output_dir"]) / "b.json").write_text("written by someone else\n")
    run = driver.finish(process, spec)
    assert run.returncode == 1, run.explain()
    assert "appeared during the measurement" in run.stderr
    assert (run.output_dir / "b.json").read_text() == "written by someone else\n"
    assert json.loads((run.output_dir / "a.json").read_text())["test"] == "latency"
    assert files_under(run.output_dir) == {"a.json", "b.json", "progress.jsonl"}
    assert run.progress()[-1]["event"] == "failed"


def test_a_stale_heartbeat_stops_the_series_and_keeps_what_was_written(
    driver: Driver, known_server: KnownServer, tmp_path: Path
):
    heartbeat = tmp_path / "heartbeat"
    heartbeat.touch()
    spec = driver.spec(
        known_server.url + "/",
        [
            measurement("latency", output="a.json"),
            measurement("latency", rep=2, duration_s=20, output="b.json"),
        ],
        heartbeat={"path": str(heartbeat), "stale_s": 1},
    )
    # The controller touches it while the first measurement runs, then dies.
    stop_touching = time.monotonic() + 1.5

    def controller() -> None:
        while time.monotonic() < stop_touching:
            os.utime(heartbeat)
            time.sleep(0.2)

    toucher = threading.Thread(target=controller)
    started = time.monotonic()
    process = driver.start(spec)
    toucher.start()
    run = driver.finish(process, spec)
    toucher.join()
    assert run.returncode == 3, run.explain()
    assert time.monotonic() - started < 10
    assert "the controller is gone" in run.stderr
    assert run.progress()[-1]["event"] == "failed"
    assert "heartbeat" in run.progress()[-1]["message"]
    assert files_under(run.output_dir) == {"a.json", "progress.jsonl"}
    # No load generator outlives it.
    served = known_server.requests
    time.sleep(0.5)
    assert known_server.requests == served


def test_sigterm_stops_the_series_cleanly(driver: Driver, known_server: KnownServer):
    spec = driver.spec(
        known_server.url + "/",
        [
            measurement("latency", output="a.json"),
            measurement("latency", rep=2, duration_s=20, output="b.json"),
        ],
    )
    process = driver.start(spec)
    wait_for_event(spec, "measured")
    time.sleep(0.5)
    process.terminate()
    run = driver.finish(process, spec)
    assert run.returncode == 130, run.explain()
    assert run.progress()[-1] == {"event": "failed", "message": "interrupted", "status": 130}
    assert files_under(run.output_dir) == {"a.json", "progress.jsonl"}
    assert len(run.documents) == 1


@needs_wrk
def test_the_reference_runs_real_wrk_and_reads_its_output(
    driver: Driver, known_server: KnownServer
):
    measurements = [
        measurement("reference", clients=4, output="throughput/c4/reference-1.json"),
        measurement("reference", clients=1, output="throughput/c1/reference-1.json"),
    ]
    run = driver.run(
        driver.spec(known_server.url + "/", measurements, wrk={"path": "wrk", "threads": 2})
    )
    assert run.returncode == 0, run.explain()
    four, one = run.documents
    assert four["tool"] == "wrk" and four["version"] == "4.1.0"
    assert four["clients"] == 4 and four["threads"] == 2
    # wrk needs a connection per thread at least.
    assert one["clients"] == 1 and one["threads"] == 1
    assert four["connection_close"] is True and "Connection: close" in four["argv"]
    assert four["duration_s"] == 1 and four["file"] == "throughput/c4/reference-1.json"
    assert four["requests"] > 20
    assert four["rps"] == pytest.approx(four["requests"] / 1.0, rel=0.2)
    assert four["errors"] == {"connect": 0, "read": 0, "write": 0, "timeout": 0, "status": 0}
    latency = four["latency_ms"]
    assert 0 < latency["p50"] <= latency["p90"] <= latency["p99"] <= latency["max"]
    assert latency["mean"] <= latency["max"]
    # What wrk printed is kept; the figures above are read from it.
    assert f"{four['requests']} requests in" in four["wrk_output"]
    assert run.progress()[1]["achieved_rps"] == four["rps"]


def test_wrk_times_are_read_in_every_unit_it_prints(driver: Driver):
    output = """Running 3s test @ http://127.0.0.1:8000/
  1 threads and 10 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   950.00us  120.00us    1.02s    90.00%
    Req/Sec     2.04k   100.00     2.20k    70.00%
  Latency Distribution
     50%  812.00us
     75%    1.20ms
     90%    2.50ms
     99%    1.50s
  6120 requests in 3.00s, 500.00KB read
  Socket errors: connect 1, read 2, write 3, timeout 4
  Non-2xx or 3xx responses: 5
Requests/sec:   2040.00
Transfer/sec:    166.67KB
"""
    completed = driver.node(
        "import {parseWrk} from './driver.mjs';"
        f"console.log(JSON.stringify(parseWrk({json.dumps(output)})))"
    )
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout) == {
        "requests": 6120,
        "rps": 2040.0,
        "errors": {"connect": 1, "read": 2, "write": 3, "timeout": 4, "status": 5},
        "latency_ms": {"mean": 0.95, "max": 1020.0, "p50": 0.812, "p90": 2.5, "p99": 1500.0},
    }


def test_python_reads_the_histograms_the_driver_writes(driver: Driver, known_server: KnownServer):
    run = driver.run(
        driver.spec(known_server.url + "/", [measurement("latency", rps=100, duration_s=1.5)])
    )
    assert run.returncode == 0, run.explain()
    histograms = run.documents[0]["harness"]["histograms"]
    for name, summary in histograms.items():
        assert summary["encoded"].startswith("HISTFAAA"), name
        decoded = HdrHistogram.decode(summary["encoded"])
        assert decoded.get_total_count() == summary["count"] > 0, name
        for percentile in ("50", "90", "99", "99.9"):
            assert decoded.get_value_at_percentile(float(percentile)) == summary[f"p{percentile}"]
        assert decoded.values_are_equivalent(decoded.get_max_value(), summary["max"]), name
        assert summary["mean"] == pytest.approx(decoded.get_mean_value(), rel=0.01, abs=5), name


def test_the_counts_agree_with_each_other_and_with_loadtest(
    driver: Driver, known_server: KnownServer
):
    measurements = [
        measurement("latency", rps=100, duration_s=1.5, output="fixed.json"),
        measurement("throughput", clients=3, duration_s=1.5, output="closed.json"),
        measurement("latency", rps=20, url=known_server.url + "/status/503", output="errors.json"),
    ]
    run = driver.run(driver.spec(known_server.url + "/", measurements))
    assert run.returncode == 0, run.explain()
    for document in run.documents:
        requests = document["harness"]["requests"]
        assert requests["completed"] == requests["sent"]
        histograms = document["harness"]["histograms"]
        assert requests["responses"] == histograms["latency_uncorrected"]["count"]
        assert requests["completed_before_stop"] + requests["in_flight_at_stop"] == requests["sent"]
        # loadtest counts what ended before it stopped, as the harness does.
        assert requests["completed_before_stop"] == document["loadtest"]["totalRequests"]
        assert sum(document["harness"]["timeline"]["completed"]) == requests["completed"]
        assert "count_mismatch" not in flags(rule_record(document))
    errors = run.documents[2]
    requests = errors["harness"]["requests"]
    assert requests["error_codes"] == {"503": requests["sent"]}
    # loadtest's API files an HTTP error under "-1" (its result object is only made for a status
    # callback): the status codes are the harness's.
    assert errors["loadtest"]["errorCodes"] == {"-1": errors["loadtest"]["totalRequests"]}
    assert "all_failed" in flags(rule_record(errors))


def test_settling_waits_for_a_prompt_answer_and_records_what_it_found(
    driver: Driver, known_server: KnownServer
):
    settle = {"probe_timeout_ms": 100, "max_wait_s": 0.6}
    measurements = [
        measurement("latency", rps=10, url=f"{known_server.url}/delay/300", output="slow.json"),
        measurement("latency", rps=10, output="prompt.json"),
    ]
    run = driver.run(driver.spec(known_server.url + "/", measurements, settle=settle))
    assert run.returncode == 0, run.explain()
    slow, prompt = (document["settle"] for document in run.documents)
    # Never a silent start: the slow target is measured, and recorded as not settled.
    assert slow["ready"] is False and slow["waited_s"] >= 0.6 and slow["probes"] >= 2
    assert slow["last"] == "no answer within 100 ms"
    assert prompt["ready"] is True and prompt["probes"] == 1 and prompt["waited_s"] < 0.1
    assert flags({"settle": slow}) == ["not_settled"]


def test_settling_is_bounded_when_the_server_accepts_no_connection(driver: Driver):
    """A server whose accept queue is full (it listens with no room and never accepts): the
    first probe's connection fills the queue, every later one waits on SYN retries. Each probe
    still ends at its timeout, so settling ends at its bound, not a minute later."""
    with socket.socket() as full:
        full.bind(("127.0.0.1", 0))
        full.listen(0)
        url = f"http://127.0.0.1:{full.getsockname()[1]}/"
        settle = {"probe_timeout_ms": 300, "max_wait_s": 1}
        measurements = [measurement("latency", rps=5, duration_s=1)]
        spec = driver.spec(url, measurements, settle=settle, request_timeout_ms=500)
        started = time.monotonic()
        run = driver.run(spec)
    assert run.returncode == 0, run.explain()
    (document,) = run.documents
    assert document["settle"]["ready"] is False
    assert document["settle"]["probes"] >= 3
    assert document["settle"]["waited_s"] < 1.5
    assert document["settle"]["last"] == "no answer within 300 ms"
    assert time.monotonic() - started < 15


def test_a_start_at_is_kept_to_and_one_too_far_is_refused(
    driver: Driver, known_server: KnownServer
):
    start_at = time.time() + 1.5
    run = driver.run(
        driver.spec(known_server.url + "/", [measurement("latency", rps=10, start_at=start_at)])
    )
    assert run.returncode == 0, run.explain()
    (document,) = run.documents
    assert document["start_at"] == start_at
    assert 0 <= document["start_lag_ms"] < 100
    assert document["started_at"] >= time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(start_at)))

    far = driver.run(
        driver.spec(
            known_server.url + "/",
            [measurement("latency", start_at=time.time() + 400, output="far.json")],
        )
    )
    assert far.returncode == 2
    assert re.search(r"start_at is \d+ s away \(more than 120 s\): check the clocks", far.stderr)
    assert not (far.output_dir / "far.json").exists()


@needs_wrk
def test_keepalive_reuses_connections_in_loadtest_and_wrk(
    driver: Driver, known_server: KnownServer
):
    measurements = [
        measurement("throughput", clients=2, output="loadtest.json"),
        measurement("reference", clients=2, output="wrk.json"),
    ]
    spec = driver.spec(
        known_server.url + "/", measurements, keepalive=True, wrk={"path": "wrk", "threads": 1}
    )
    run = driver.run(spec)
    assert run.returncode == 0, run.explain()
    loadtest, wrk = run.documents
    assert loadtest["loadtest"]["agent"] == "keepalive"
    assert loadtest["harness"]["requests"]["completed"] == loadtest["harness"]["requests"]["sent"]
    assert wrk["connection_close"] is False and "Connection: close" not in wrk["argv"]
    served = loadtest["harness"]["requests"]["sent"] + wrk["requests"]
    assert known_server.connections < served / 10
