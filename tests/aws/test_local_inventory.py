"""On the local inventory, bench.yml's provision and teardown stages do nothing, and quickly: no
AWS credentials, region or endpoint are needed (none are set here)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent

pytestmark = pytest.mark.aws


def run(*args: str) -> tuple[int, str, float]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(ANSIBLE_NOCOLOR="1", AWS_EC2_METADATA_DISABLED="true")
    started = time.monotonic()
    completed = subprocess.run(
        [str(VENV_BIN / "ansible-playbook"), *args],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return completed.returncode, completed.stdout + completed.stderr, time.monotonic() - started


def test_provision_and_teardown_do_nothing_in_a_local_bench_run() -> None:
    # bench_run_dir is what plan.yml sets in a bench run.
    returncode, output, seconds = run(
        "playbooks/provision.yml", "playbooks/teardown.yml", "-e", "bench_run_dir=/nonexistent"
    )
    assert returncode == 0, output[-3000:]
    assert "ec2_fleet" not in output
    assert seconds < 60


def test_teardown_on_its_own_asks_which_run() -> None:
    returncode, output, _ = run("playbooks/teardown.yml")
    assert returncode != 0
    assert "Tear down which run? Pass -e run_id=RUN" in " ".join(output.split())
