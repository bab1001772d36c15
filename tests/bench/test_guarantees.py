"""What the harness promises about what it deploys and keeps: a redeploy serves new code, and a
secret never reaches a world-readable file or the results."""

from __future__ import annotations

import http.client
import json
import secrets
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, run_playbook

pytestmark = pytest.mark.bench

# Where the harness writes on this machine (besides the results directory).
HARNESS_PATHS = [
    Path("/etc/channels-bench"),
    Path("/opt/channels-bench/supervisor"),
    Path("/var/log/channels-bench"),
    Path("/srv/channels"),
    Path("/var/lib/channels-bench"),
    Path("/run/channels-bench"),
]


def get_root() -> bytes:
    connection = http.client.HTTPConnection("127.0.0.1", 8000, timeout=10)
    try:
        connection.request("GET", "/")
        return connection.getresponse().read()
    finally:
        connection.close()


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def smoke(results: Path, *values: str) -> None:
    args = ["profile=smoke", "loadtest_repetitions=1", f"bench_results_dir={results}", *values]
    run = run_playbook("bench.yml", *(part for value in args for part in ("-e", value)))
    assert run.returncode == 0, run.output[-5000:]


@pytest.fixture
def changed_project(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A copy of the test project whose view answers with a marker of its own."""
    project = tmp_path / "testproject"
    shutil.copytree(REPO / "testproject", project, ignore=shutil.ignore_patterns("__pycache__"))
    marker = f"changed-{secrets.token_hex(4)}"
    views = project / "testproject" / "views.py"
    views.write_text(views.read_text().replace("load-test view.", f"load-test view. {marker}"))
    yield project, marker
    # Back to the repository's own project, served as before.
    run = run_playbook("playbooks/deploy.yml", "-e", "setup=gunicorn")
    assert run.returncode == 0, run.output[-3000:]
    assert marker.encode() not in get_root()


def test_a_changed_view_is_served_by_the_next_bench(changed_project, tmp_path: Path) -> None:
    project, marker = changed_project
    smoke(tmp_path / "before", "setup=gunicorn")
    before = load(next((tmp_path / "before").glob("2*/run.json")))
    smoke(tmp_path / "after", "setup=gunicorn", f"testproject_source={project}/")
    assert marker.encode() in get_root()
    after = load(next((tmp_path / "after").glob("2*/run.json")))
    digest_before = before["deployed"]["2016/gunicorn"]["project_digest"]
    digest_after = after["deployed"]["2016/gunicorn"]["project_digest"]
    assert digest_before != digest_after
    # And it is the new code that was measured: the program started after the deploy.
    assert after["deployed"]["2016/gunicorn"]["restarted"] is True


@pytest.fixture
def redis_password() -> Iterator[str]:
    password = f"s3cret-{secrets.token_hex(8)}"
    yield password
    # redis and the redis setup back to no password (loopback only), as the other tests expect.
    run = run_playbook("playbooks/deploy.yml", "-e", "setup=redis")
    assert run.returncode == 0, run.output[-3000:]


def files_with(text: str, roots: list[Path], *, readable_by_others: bool = False) -> list[str]:
    """The files under roots holding text (only those any account may read, when asked)."""
    found = []
    for root in roots:
        for path in root.rglob("*") if root.exists() else []:
            try:
                mode = path.lstat().st_mode
                if not stat.S_ISREG(mode) or (readable_by_others and not mode & stat.S_IROTH):
                    continue
                if text.encode() in path.read_bytes():
                    found.append(f"{path} ({stat.filemode(mode)})")
            except OSError:
                continue
    return found


def test_the_redis_password_stays_out_of_results_and_readable_files(
    redis_password: str, tmp_path: Path
) -> None:
    results = tmp_path / "results"
    smoke(results, "setup=redis", f"redis_server_password={redis_password}")
    # Not in the results at all, whatever their mode: run.json, reps, configs, logs, ansible.log.
    assert files_with(redis_password, [results]) == []
    # On the host, only in files no other account can read.
    assert files_with(redis_password, HARNESS_PATHS, readable_by_others=True) == []
    secret_file = Path("/etc/channels-bench/secrets/redis-url")
    assert redis_password in secret_file.read_text()
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    run = load(next(results.glob("2*/run.json")))
    assert run["status"] == "complete" and run["setups_completed"] == ["2016/redis"]
