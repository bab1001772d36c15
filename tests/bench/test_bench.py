"""The main job end to end: bench.yml on localhost with the smoke plan for every 2016 setup and a
fourth one that exists only in an extra catalogue (test data), so that adding a setup is shown to
be a matter of data.

Everything is real: the 2016 stack under supervisord, redis-server, loadtest and wrk driving
127.0.0.1:8000, the results contract on disk and the analysis package's report.
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
from pathlib import Path

import pytest

from tests.conftest import REPO, PlaybookRun, assert_no_job_file_left, run_playbook

pytestmark = pytest.mark.bench

FOURTH = REPO / "tests" / "bench" / "data" / "fourth-setup.yml"
SETUPS = ["2016/gunicorn", "2016/redis", "2016/ipc", "2016/redis-2w"]
GROUPS = {"2016/gunicorn": "django_http"}
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


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def runs_in(results: Path) -> list[Path]:
    return sorted(p for p in results.iterdir() if p.is_dir() and not p.is_symlink())


@pytest.fixture(scope="module")
def results_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("results")


@pytest.fixture(scope="module")
def job_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the first run's Ansible keeps its background jobs' files (ANSIBLE_ASYNC_DIR)."""
    return tmp_path_factory.mktemp("ansible-async") / "jobs"


@pytest.fixture(scope="module")
def first_run(results_dir: Path, job_dir: Path) -> Path:
    run = run_playbook(
        "bench.yml",
        "-e", "setup=all",
        "-e", "profile=smoke",
        "-e", f"catalogue_extra={FOURTH}",
        "-e", f"bench_results_dir={results_dir}",
        env_extra={"ANSIBLE_ASYNC_DIR": str(job_dir)},
    )  # fmt: skip
    assert run.returncode == 0, run.output[-6000:]
    [run_dir] = runs_in(results_dir)
    return run_dir


def test_run_json_describes_a_complete_run_of_four_setups(first_run: Path) -> None:
    run = load(first_run / "run.json")
    assert run["schema_version"] == 2
    assert run["run_id"] == first_run.name
    assert run["status"] == "complete" and run["failed_stage"] is None
    assert run["setups"] == SETUPS and run["setups_completed"] == SETUPS
    assert run["setups_failed"] == {}
    assert run["order"]["kind"] == "sequential"
    assert [p["setup"] for p in run["order"]["passes"]] == SETUPS
    assert run["started_at"] <= run["ended_at"]
    assert run["plan"]["latency"]["rps"] == SMOKE_RPS and run["inventory"] == "local"


def test_run_json_carries_each_setups_catalogue_row(first_run: Path) -> None:
    rows = load(first_run / "run.json")["catalogue"]
    assert set(rows) == set(SETUPS)
    fourth = rows["2016/redis-2w"]
    assert fourth["description"].startswith("daphne 0.14.3 + two runworkers")
    assert fourth["stack"] == "2016" and fourth["pins"]["daphne"] == "0.14.3"
    assert [p["processes"] for p in fourth["programs"]] == [1, 2]
    assert rows["2016/ipc"]["channel_layer"] == "ipc"


def owners(top: Path) -> set[str]:
    """Who owns each entry under top, itself included. A symlink counts as itself, not as its
    target: a virtualenv's bin/python links to the interpreter it was made from (pyenv's, owned
    by whoever installed pyenv), which no package installed."""
    return {pwd.getpwuid(os.lstat(path).st_uid).pw_name for path in [top, *top.rglob("*")]}


def test_a_run_leaves_no_background_job_file_behind(first_run: Path, job_dir: Path) -> None:
    """The pip freeze read after the deploy and each setup's series run as background jobs,
    whose output Ansible keeps in a file each: once collected, the file goes."""
    assert_no_job_file_left(job_dir)


def test_no_package_and_no_generator_ran_as_root(first_run: Path) -> None:
    # pip and npm installed as the unprivileged channels-bench, and the driver wrote this run's
    # measurements as it: none of their code ran as root.
    account = "channels-bench"
    assert owners(Path("/opt/channels-bench/stacks/2016")) == {account}
    assert owners(Path("/opt/channels-bench/loadtest/node_modules")) == {account}
    series = Path("/var/lib/channels-bench/loadtest") / first_run.name
    measured = [path for path in series.rglob("*.json") if "spec" not in path.name]
    assert measured and {path.owner() for path in measured} == {account}


def test_host_facts_name_the_stack_node_loadtest_and_wrk(first_run: Path) -> None:
    host = load(first_run / "hosts" / "localhost.json")
    assert host["cores"] >= 1 and host["memory_mb"] > 0
    assert host["stacks"]["2016"]["version"].startswith("3.6")
    assert "daphne==0.14.3" in host["stacks"]["2016"]["pip_freeze"]
    assert host["node_version"].startswith("v") and host["loadtest_version"] == "8.2.1"
    assert host["wrk_version"].startswith("4.")


@pytest.mark.parametrize("setup", SETUPS)
def test_each_setup_has_its_config_logs_and_sane_reps(first_run: Path, setup: str) -> None:
    setup_dir = first_run / setup
    conf = (setup_dir / "supervisor.conf").read_text()
    assert f"; Setup: {setup}:" in conf
    assert any((setup_dir / "logs").iterdir())

    latency = sorted((setup_dir / "latency").glob("rep-*.json"))
    throughput = sorted((setup_dir / "throughput" / f"c{SMOKE_CLIENTS}").glob("rep-*.json"))
    assert [p.name for p in latency] == [f"rep-{n}.json" for n in range(1, SMOKE_REPS + 1)]
    assert [p.name for p in throughput] == [f"rep-{n}.json" for n in range(1, SMOKE_REPS + 1)]

    for path in latency:
        rep = load(path)
        assert rep["schema_version"] == 2
        assert rep["setup"] == setup and rep["test"] == "latency"
        assert rep["requested_rps"] == SMOKE_RPS
        assert abs(rep["achieved_rps"] - SMOKE_RPS) / SMOKE_RPS < 0.05, rep["achieved_rps"]
        assert rep["valid"] is (rep["flags"] == [])
        harness = rep["harness"]
        corrected = harness["histograms"]["latency_corrected"]
        assert corrected["count"] == harness["requests"]["responses"] > 0
        assert 0 < corrected["p50"] <= corrected["p99"] <= corrected["max"]
        # loadtest's own result stays in the rep, whole milliseconds and all.
        result = rep["loadtest"]
        assert sum(result["histogramMs"].values()) == result["totalRequests"]
        assert rep["server"]["pids_before"] == rep["server"]["pids_after"]
    for path in throughput:
        rep = load(path)
        assert rep["test"] == "throughput" and rep["plan"]["clients"] == SMOKE_CLIENTS
        assert rep["achieved_rps"] > 0 and rep["reference"]["tool"] == "wrk"
        assert rep["reference"]["rps"] > 0
        assert ("generator_limited" in rep["flags"]) == (
            rep["achieved_rps"] < 0.8 * rep["reference"]["rps"]
        )
    assert (setup_dir / "throughput" / f"c{SMOKE_CLIENTS}" / "reference-1.json").exists()


def test_littles_law_holds_for_the_harness_at_2_clients(first_run: Path) -> None:
    """In a closed loop of c clients, mean latency = c / rate. The harness's microsecond mean
    agrees within 20 %; loadtest's whole-millisecond mean of a sub-millisecond server need not
    (it is kept in the rep and shown here when the assertion fails)."""
    reps = sorted((first_run / "2016/gunicorn/throughput/c2").glob("rep-*.json"))
    assert reps
    for path in reps:
        rep = load(path)
        expected_ms = SMOKE_CLIENTS / rep["achieved_rps"] * 1000
        harness_ms = rep["harness"]["histograms"]["latency_uncorrected"]["mean"] / 1000
        loadtest_ms = rep["loadtest"]["meanLatencyMs"]
        assert abs(harness_ms - expected_ms) / expected_ms < 0.2, (
            f"{path.name}: harness {harness_ms:.3f} ms, loadtest {loadtest_ms} ms, "
            f"clients / rate {expected_ms:.3f} ms"
        )


def test_the_calibration_passes(results_dir: Path) -> None:
    run = run_playbook("playbooks/calibrate.yml", "-e", f"bench_results_dir={results_dir}")
    assert run.returncode == 0, run.output[-5000:]
    run_dir = (results_dir / "latest").resolve()
    calibration = load(run_dir / "calibration.json")
    assert calibration["passed"] is True
    assert [check["delay_ms"] for check in calibration["checks"]] == [1, 10]
    assert all(abs(check["harness_p50_error_ms"]) <= 0.5 for check in calibration["checks"])
    assert load(run_dir / "run.json")["setups"] == ["2016/gunicorn"]


def test_analysis_names_the_fourth_setup_from_run_json(first_run: Path) -> None:
    report = (first_run / "report.md").read_text()
    assert "2016/redis-2w" in report
    assert "two runworkers" in report
    assert (first_run / "ansible.log").stat().st_mode & 0o077 == 0


def bench_gunicorn_smoke(results_dir: Path, *extra: str) -> PlaybookRun:
    """A one-setup smoke run into results_dir, with extra `-e` values."""
    args = ["setup=gunicorn", "profile=smoke", f"bench_results_dir={results_dir}", *extra]
    return run_playbook("bench.yml", *(part for value in args for part in ("-e", value)))


def test_a_second_run_leaves_the_first_untouched(first_run: Path, results_dir: Path) -> None:
    before = checksums(first_run)
    count = len(runs_in(results_dir))
    run = bench_gunicorn_smoke(results_dir, "loadtest_repetitions=1")
    assert run.returncode == 0, run.output[-4000:]
    assert len(runs_in(results_dir)) == count + 1
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
        (["-e", "loadtest_latency_rps=0"], "loadtest_latency_rps must be a finite number above 0"),
        (["-e", "loadtest_latency_rps=inf"], "loadtest_latency_rps must be a finite number"),
        (["-e", "loadtest_warmup_s=abc"], "loadtest_warmup_s must be a finite number"),
        (["-e", "loadtest_keepalive=maybe"], "loadtest_keepalive must be true or false"),
        (["-e", "loadtest_request_timeout_ms=abc"], "loadtest_request_timeout_ms must be a whole"),
        (["-e", "loadtest_latency_duration_s=-5"], "loadtest_latency_duration_s must be a finite"),
        (
            ["-e", '{"loadtest_throughput_clients": []}'],
            "loadtest_throughput_clients must be a list",
        ),
        (["-e", "profile=huge"], "Unknown profile 'huge'"),
        (["-e", "order=random"], "Unknown order 'random'"),
        (["-e", "run_id=../escaped"], "run_id '../escaped' is not of the form"),
        (["-e", "bench_run_dir=/tmp/elsewhere"], "bench_run_dir cannot be set with -e"),
        (["-e", "stack=bogus"], "Unknown stack 'bogus': choose one of 2016"),
        (["-e", "asgi_ipc_version=1.x"], "Version '1.x' of asgi_ipc is malformed"),
        (
            ["-e", '{"setups": ["2016/gunicorn", "2016/nope"]}'],
            "Unknown setup '2016/nope': stack 2016 has 2016/gunicorn, 2016/redis, 2016/ipc",
        ),
        (["-e", '{"setups": ["1999/ipc"]}'], "Unknown stack '1999' in setup '1999/ipc'"),
        (["-e", "bench_results_dir=/proc/channels-bench"], "Cannot create the run directory"),
    ],
)
def test_bad_plans_fail_before_anything_changes(
    extra: list[str], expected: str, tmp_path: Path
) -> None:
    args = ["bench.yml", "-e", "setup=gunicorn", "-e", "profile=smoke"]
    if not any(a.startswith("bench_results_dir") for a in extra):
        args += ["-e", f"bench_results_dir={tmp_path}"]
    run = run_playbook(*args, *extra)
    assert run.returncode != 0
    assert expected in " ".join(run.output.split()), run.output[-3000:]
    assert not list(tmp_path.iterdir()), "the plan made something before it failed"
    assert "PLAY [Check each target before changing anything]" not in run.output
