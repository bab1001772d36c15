"""The loadtest stage with two source hosts (both on this machine): each repetition is split
between them, started together and merged into one record that keeps each source's part.

Deploys the gunicorn setup first (idempotent), then runs playbooks/loadtest.yml for real.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from harness_helpers import ROOT

from tests.conftest import run_playbook

pytestmark = pytest.mark.bench

TWO_SOURCES = ["-i", "inventory/local", "-i", str(ROOT / "tests/harness/inventory/two_sources.yml")]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    deploy = run_playbook("playbooks/deploy.yml", "-e", "setup=gunicorn")
    assert deploy.returncode == 0, deploy.output[-4000:]
    results = tmp_path_factory.mktemp("results")
    run = run_playbook(
        "playbooks/loadtest.yml", *TWO_SOURCES,
        "-e", "setup=gunicorn", "-e", "profile=smoke", "-e", "loadtest_repetitions=1",
        "-e", "loadtest_latency_rps=50",
        "-e", '{"loadtest_throughput_clients": [1, 3]}', "-e", f"bench_results_dir={results}",
    )  # fmt: skip
    assert run.returncode == 0, run.output[-6000:]
    (run_dir,) = [path for path in results.iterdir() if path.is_dir() and not path.is_symlink()]
    return run_dir


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def assert_merged(rep: dict) -> None:
    merged = rep["loadtest"]
    parts = [source["loadtest"] for source in rep["sources"]]
    assert merged["totalRequests"] == sum(part["totalRequests"] for part in parts)
    assert merged["totalErrors"] == sum(part["totalErrors"] for part in parts) == 0
    histogram: dict[str, int] = {}
    for part in parts:
        for key, count in part["histogramMs"].items():
            histogram[key] = histogram.get(key, 0) + count
    assert merged["histogramMs"] == histogram
    p = merged["percentiles"]
    assert 0 <= p["50"] <= p["90"] <= p["95"] <= p["99"] <= merged["maxLatencyMs"]
    seconds = max(part["elapsedSeconds"] for part in parts)
    assert rep["achieved_rps"] == pytest.approx(merged["totalRequests"] / seconds, abs=0.01)


def test_latency_rate_is_split_and_merged(run_dir: Path) -> None:
    rep = load(run_dir / "2016" / "gunicorn" / "latency" / "rep-1.json")
    assert rep["source_hosts"] == ["localhost", "source2"]
    assert [source["rps"] for source in rep["sources"]] == [25, 25]
    assert rep["loadtest"]["requestsPerSecond"] == 50
    assert rep["achieved_rps"] == pytest.approx(50, rel=0.05)
    # They started from one agreed instant.
    starts = [source["start_lag_ms"] for source in rep["sources"]]
    assert all(lag is not None for lag in starts)
    assert max(starts) - min(starts) < 1000
    assert_merged(rep)


def test_clients_are_split_as_whole_numbers(run_dir: Path) -> None:
    one = load(run_dir / "2016" / "gunicorn" / "throughput" / "c1" / "rep-1.json")
    assert one["source_hosts"] == ["localhost"]
    assert one["plan"]["clients"] == 1
    three = load(run_dir / "2016" / "gunicorn" / "throughput" / "c3" / "rep-1.json")
    assert three["source_hosts"] == ["localhost", "source2"]
    assert [source["clients"] for source in three["sources"]] == [2, 1]
    assert three["loadtest"]["clients"] == 3
    assert_merged(one)
    assert_merged(three)


def test_run_json_says_the_setup_was_measured(run_dir: Path) -> None:
    run = load(run_dir / "run.json")
    assert run["status"] == "complete"
    assert run["setups_completed"] == ["2016/gunicorn"]
    assert run["topology"]["source"] == ["localhost", "source2"]


def test_the_targets_facts_carry_its_stacks_pip_freeze(run_dir: Path) -> None:
    """loadtest.yml deploys nothing, so the pip freeze a bench run reads during its deploy is read
    by the fetch stage here."""
    stack = load(run_dir / "hosts" / "localhost.json")["stacks"]["2016"]
    assert stack["version"].startswith("3.6")
    assert "gunicorn==19.6.0" in stack["pip_freeze"]
