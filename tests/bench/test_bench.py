"""The main job end to end: bench.yml on localhost for all three setups with a very short plan.

Everything is real: the 2016 stack under supervisord, redis-server, loadtest from npm driving
127.0.0.1:8000, the results contract on disk and the analysis package's charts.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tests.conftest import PlaybookRun, run_playbook

pytestmark = pytest.mark.bench

SETUPS = ["gunicorn", "redis", "ipc"]
# The smoke profile (playbooks/vars/plan.yml): 20 req/s, 2 repetitions, 2 clients.
SMOKE_RPS = 20
SMOKE_REPS = 2
SMOKE_CLIENTS = 2


def checksums(run_dir: Path) -> dict[str, str]:
    return {
        str(path.relative_to(run_dir)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(run_dir.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def results_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("results")


@pytest.fixture(scope="module")
def first_run(results_dir: Path) -> Path:
    run = run_playbook(
        "bench.yml",
        "-e",
        "setup=all",
        "-e",
        "profile=smoke",
        "-e",
        f"bench_results_dir={results_dir}",
    )
    assert run.returncode == 0, run.output[-6000:]
    runs = [p for p in results_dir.iterdir() if p.is_dir() and not p.is_symlink()]
    assert len(runs) == 1, runs
    return runs[0]


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def test_run_json_describes_a_complete_run(first_run: Path) -> None:
    run = load(first_run / "run.json")
    assert run["schema_version"] == 1
    assert run["run_id"] == first_run.name
    assert run["status"] == "complete" and run["failed_stage"] is None
    assert run["setups"] == SETUPS and run["setups_completed"] == SETUPS
    assert run["stack"]["name"] == "2016" and run["stack"]["pins"]["daphne"] == "0.14.3"
    assert run["plan"]["latency"]["rps"] == SMOKE_RPS
    assert run["inventory"] == "local"
    assert run["started_at"] <= run["ended_at"]


def test_host_facts_name_the_stack_node_and_loadtest(first_run: Path) -> None:
    host = load(first_run / "hosts" / "localhost.json")
    assert host["cores"] >= 1 and host["memory_mb"] > 0
    assert host["python"]["version"].startswith("3.6")
    assert "daphne==0.14.3" in host["python"]["pip_freeze"]
    assert host["node_version"].startswith("v")
    assert host["loadtest_version"] == "8.2.1"


@pytest.mark.parametrize("setup", SETUPS)
def test_each_setup_has_its_config_logs_and_sane_reps(first_run: Path, setup: str) -> None:
    setup_dir = first_run / setup
    conf = (setup_dir / "supervisor.conf").read_text()
    assert ("[group:django_http]" if setup == "gunicorn" else "[group:django_channels]") in conf
    assert any((setup_dir / "logs").iterdir())

    latency = sorted((setup_dir / "latency").glob("rep-*.json"))
    throughput = sorted((setup_dir / "throughput" / f"c{SMOKE_CLIENTS}").glob("rep-*.json"))
    assert [p.name for p in latency] == [f"rep-{n}.json" for n in range(1, SMOKE_REPS + 1)]
    assert [p.name for p in throughput] == [f"rep-{n}.json" for n in range(1, SMOKE_REPS + 1)]

    for path in latency:
        rep = load(path)
        result = rep["loadtest"]
        assert rep["setup"] == setup and rep["test"] == "latency"
        assert rep["requested_rps"] == SMOKE_RPS
        assert abs(rep["achieved_rps"] - SMOKE_RPS) / SMOKE_RPS < 0.05, rep["achieved_rps"]
        assert result["totalErrors"] == 0 and "errors" not in rep["flags"]
        # A slow setup completes a little less than it was sent in a short run: that is flagged.
        shortfall = rep["achieved_rps"] < 0.99 * SMOKE_RPS
        assert ("rate_shortfall" in rep["flags"]) == shortfall
        assert rep["valid"] is (rep["flags"] == [])
        p = result["percentiles"]
        assert 0 <= p["50"] <= p["90"] <= p["95"] <= p["99"] <= result["maxLatencyMs"]
        assert sum(result["histogramMs"].values()) == result["totalRequests"]
    for path in throughput:
        rep = load(path)
        assert rep["test"] == "throughput" and rep["plan"]["clients"] == SMOKE_CLIENTS
        assert rep["achieved_rps"] > 0 and rep["loadtest"]["totalErrors"] == 0


def test_the_charts_and_report_are_written(first_run: Path) -> None:
    for name in ("latency.png", "throughput.png"):
        assert (first_run / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "gunicorn" in (first_run / "report.md").read_text()


def bench_gunicorn_smoke(results_dir: Path, *extra: str) -> PlaybookRun:
    """A one-setup smoke run into results_dir, with extra `-e` values."""
    args = ["setup=gunicorn", "profile=smoke", f"bench_results_dir={results_dir}", *extra]
    return run_playbook("bench.yml", *(part for value in args for part in ("-e", value)))


def test_a_second_run_leaves_the_first_untouched(first_run: Path, results_dir: Path) -> None:
    before = checksums(first_run)
    run = bench_gunicorn_smoke(results_dir, "loadtest_repetitions=1")
    assert run.returncode == 0, run.output[-4000:]
    runs = [p for p in results_dir.iterdir() if p.is_dir() and not p.is_symlink()]
    assert len(runs) == 2
    assert checksums(first_run) == before


def test_an_existing_run_id_is_refused(first_run: Path, results_dir: Path) -> None:
    before = checksums(first_run)
    run = bench_gunicorn_smoke(results_dir, f"run_id={first_run.name}")
    assert run.returncode != 0
    assert "Cannot create the run directory" in run.output
    assert checksums(first_run) == before


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["-e", "loadtest_latency_rps=0"], "loadtest_latency_rps must be a rate above 0"),
        (["-e", "loadtest_latency_duration_s=-5"], "loadtest_latency_duration_s must be above 0"),
        (
            ["-e", '{"loadtest_throughput_clients": []}'],
            "loadtest_throughput_clients must be a non-empty list",
        ),
        (["-e", "profile=huge"], "Unknown profile 'huge'"),
        (["-e", "bench_results_dir=/proc/channels-bench"], "Cannot create the run directory"),
    ],
)
def test_bad_plans_fail_before_any_load(extra: list[str], expected: str, tmp_path: Path) -> None:
    args = ["bench.yml", "-e", "setup=gunicorn", "-e", "profile=smoke"]
    if not any(a.startswith("bench_results_dir") for a in extra):
        args += ["-e", f"bench_results_dir={tmp_path}"]
    run = run_playbook(*args, *extra)
    assert run.returncode != 0
    assert expected in " ".join(run.output.split()), run.output[-3000:]
    assert not list(tmp_path.rglob("rep-*.json"))
    assert "PLAY [Check each target before changing anything]" not in run.output
