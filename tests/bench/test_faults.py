"""Faults on real processes, and what the harness records of them: a server program killed
mid-rep, redis stopped, Ctrl-C of `make bench`, a controller killed outright, a second run while
one holds the host.

Each test starts a real bench run (the smoke plan, one setup) and interferes with it while it
measures, watching the load generator's own progress file to know when.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, VENV_BIN, run_playbook

pytestmark = pytest.mark.bench

GENERATOR_OUTPUT = Path("/var/lib/channels-bench/loadtest")
SUPERVISORCTL = [
    "/opt/channels-bench/supervisor/bin/supervisorctl",
    "-c",
    "/etc/channels-bench/supervisor/supervisord.conf",
]


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def environment() -> dict[str, str]:
    env = dict(os.environ, ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1")
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def start_bench(results: Path, *values: str, script: bool = False) -> subprocess.Popen[str]:
    """A bench run in the background, in a process group of its own (as a terminal runs one)."""
    extra = [part for value in values for part in ("-e", value)]
    if script:
        arguments = ["-e", "profile=smoke", "-e", f"bench_results_dir={results}", *extra]
        env = environment() | {"SETUP": "gunicorn", "BENCH_ARGS": " ".join(arguments)}
        command = [str(REPO / "scripts" / "bench.sh")]
    else:
        env = environment()
        command = [str(VENV_BIN / "ansible-playbook"), "bench.yml", "-e", "profile=smoke",
                   "-e", f"bench_results_dir={results}", *extra]  # fmt: skip
    return subprocess.Popen(
        command, cwd=REPO, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip


def wait_for(
    what: str,
    condition: Callable[[], object],
    process: subprocess.Popen[str],
    timeout_s: float = 600,
) -> object:
    """Wait for condition while the bench run lasts: a run that ended first fails the test at
    once, with its output."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            raise AssertionError(f"the run ended before {what}:\n{output[-4000:]}")
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def run_dir_of(results: Path) -> Path | None:
    runs = [p for p in results.iterdir() if p.is_dir() and not p.is_symlink()]
    return runs[0] if len(runs) == 1 else None


def progress(run_id: str) -> list[dict]:
    events = []
    for path in sorted(GENERATOR_OUTPUT.glob(f"{run_id}/*/*/*/round-*/*.progress.jsonl")):
        events += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return events


def measured(run_id: str, count: int) -> bool:
    return sum(event.get("event") == "measured" for event in progress(run_id)) >= count


def program_pid(name: str) -> int:
    out = subprocess.run([*SUPERVISORCTL, "pid", name], capture_output=True, text=True).stdout
    return int(out.strip())


def finish(process: subprocess.Popen[str], timeout_s: float = 900) -> tuple[int, str]:
    output, _ = process.communicate(timeout=timeout_s)
    return process.returncode, output


@pytest.fixture
def results(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def redis_back() -> Iterator[None]:
    yield
    subprocess.run(["service", "redis-server", "start"], check=False, capture_output=True)


def test_a_server_program_killed_mid_rep_is_recorded(results: Path) -> None:
    process = start_bench(results, "setup=gunicorn")
    run_dir = wait_for("the run directory", lambda: run_dir_of(results), process)
    assert isinstance(run_dir, Path)
    # Latency rep 1 is written: rep 2 (1 s of warm-up, 8 s measured) starts; kill gunicorn 4 s in.
    wait_for("the first rep", lambda: measured(run_dir.name, 1), process)
    time.sleep(4)
    before = program_pid("django_http:gunicorn")
    os.kill(before, signal.SIGKILL)
    code, output = finish(process)
    rep = load(run_dir / "2016" / "gunicorn" / "latency" / "rep-2.json")
    assert "server_restarted" in rep["flags"] and rep["valid"] is False, output[-3000:]
    assert rep["server"]["pids_before"]["gunicorn"] == before
    assert rep["server"]["pids_after"]["gunicorn"] not in (before, None)
    assert [e["event"] for e in rep["server"]["events"]][:1] == ["exited"]
    # The others were not touched by it.
    assert "server_restarted" not in load(run_dir / "2016/gunicorn/latency/rep-1.json")["flags"]
    assert code == 0, output[-3000:]


def test_redis_stopped_fails_every_rep_and_the_setup(results: Path, redis_back: None) -> None:
    process = start_bench(
        results, "setup=redis", "loadtest_request_timeout_ms=1000", "loadtest_settle_max_wait_s=2"
    )
    run_dir = wait_for("the run directory", lambda: run_dir_of(results), process)
    assert isinstance(run_dir, Path)
    # Once the load generator runs, the setup is deployed: stop its channel layer.
    wait_for("the load generator", lambda: progress(run_dir.name) or list(
        GENERATOR_OUTPUT.glob(f"{run_dir.name}/*/*/*/round-1/*.spec.json")), process)  # fmt: skip
    subprocess.run(["service", "redis-server", "stop"], check=True, capture_output=True)
    code, output = finish(process)
    run = load(run_dir / "run.json")
    assert code != 0
    assert run["status"] == "failed" and "2016/redis" in run["setups_failed"], output[-3000:]
    reps = sorted((run_dir / "2016" / "redis").rglob("rep-*.json"))
    assert reps
    assert all("all_failed" in load(path)["flags"] for path in reps)
    assert run["setups_failed"]["2016/redis"].startswith("every repetition failed")
    assert "failed" in (run_dir / "report.md").read_text()


def test_ctrl_c_stops_the_generator_and_nothing_else(results: Path) -> None:
    process = start_bench(results, script=True)
    run_dir = wait_for("the run directory", lambda: run_dir_of(results), process)
    assert isinstance(run_dir, Path)
    wait_for("the first rep", lambda: measured(run_dir.name, 1), process)
    os.killpg(process.pid, signal.SIGINT)
    code, output = finish(process, timeout_s=120)
    assert code == 130, output[-3000:]
    run = load(run_dir / "run.json")
    assert run["status"] == "interrupted"
    # What was measured is kept; no load generator of the run is left; the server still serves.
    assert list(GENERATOR_OUTPUT.glob(f"{run_dir.name}/*/*/*/round-1/latency/rep-1.json"))
    time.sleep(2)
    leftovers = subprocess.run(["pgrep", "-f", f"driver.mjs .*/{run_dir.name}/"],
                               capture_output=True, text=True).stdout  # fmt: skip
    assert leftovers == ""
    status = subprocess.run([*SUPERVISORCTL, "status"], capture_output=True, text=True).stdout
    assert " RUNNING " in status


def test_a_killed_controller_leaves_an_abandoned_run_and_a_free_host(results: Path) -> None:
    process = start_bench(results, "setup=gunicorn")
    run_dir = wait_for("the run directory", lambda: run_dir_of(results), process)
    assert isinstance(run_dir, Path)
    wait_for("the first rep", lambda: measured(run_dir.name, 1), process)
    # SIGKILL: nothing of the controller gets to clean up.
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    assert load(run_dir / "run.json")["status"] == "running"
    # The next run of the same results directory closes it and gets the host.
    run = run_playbook(
        "bench.yml", "-e", "setup=gunicorn", "-e", "profile=smoke",
        "-e", "loadtest_repetitions=1", "-e", f"bench_results_dir={results}",
    )  # fmt: skip
    assert run.returncode == 0, run.output[-4000:]
    closed = load(run_dir / "run.json")
    assert closed["status"] == "abandoned" and closed["ended_at"]
    assert "ended without closing it" in closed["failure"]
    leftovers = subprocess.run(["pgrep", "-f", f"driver.mjs .*/{run_dir.name}/"],
                               capture_output=True, text=True).stdout  # fmt: skip
    assert leftovers == ""


def test_a_second_run_fails_at_once_naming_the_one_that_holds_the_host(results: Path) -> None:
    process = start_bench(results, "setup=gunicorn")
    run_dir = wait_for("the run directory", lambda: run_dir_of(results), process)
    assert isinstance(run_dir, Path)
    wait_for("the first rep", lambda: measured(run_dir.name, 1), process)
    configs = {p: p.read_text() for p in Path("/etc/channels-bench/supervisor/conf.d").glob("*")}
    second = run_playbook("playbooks/deploy.yml", "-e", "setup=redis")
    assert second.returncode != 0
    assert f"localhost is in use by {run_dir.name}" in " ".join(second.output.split())
    # It stopped before changing anything: no play past the lock ran.
    assert "PLAY [Install the stacks and the test project]" not in second.output
    assert {p: p.read_text() for p in configs} == configs
    code, output = finish(process)
    assert code == 0, output[-3000:]
    assert load(run_dir / "run.json")["status"] == "complete"
