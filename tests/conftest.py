"""Helpers shared by the tests that run the project's real playbooks."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
RECAP = re.compile(
    r"^(?P<host>\S+)\s*:\s*ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)"
    r"\s+failed=(?P<failed>\d+)",
    re.MULTILINE,
)


@dataclass
class PlaybookRun:
    returncode: int
    output: str

    def recap(self, host: str = "localhost") -> dict[str, int]:
        for match in RECAP.finditer(self.output):
            if match["host"] == host:
                return {key: int(match[key]) for key in ("ok", "changed", "unreachable", "failed")}
        raise AssertionError(f"no PLAY RECAP line for {host} in:\n{self.output[-3000:]}")


def run_playbook(
    playbook: str, *extra: str, timeout: int = 1800, env_extra: dict[str, str] | None = None
) -> PlaybookRun:
    """Run ansible-playbook from the repository root, the way a user does (env_extra: more
    environment, such as where Ansible keeps its background jobs' files)."""
    env = dict(os.environ, ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1", **(env_extra or {}))
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    completed = subprocess.run(
        [str(VENV_BIN / "ansible-playbook"), playbook, *extra],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return PlaybookRun(completed.returncode, completed.stdout + completed.stderr)


# A role's series entry run for real by a test module, in a directory of the module's own: its
# play.yml runs the main entry, or the series entry when `series` is given, and writes what the
# series published to `documents_file`; vars.yml points the role at directories under it.


def install_role_home(home: Path, play: str, role_vars: dict[str, Any]) -> None:
    """Write play.yml and vars.yml into home and run the main entry twice: both pass, and the
    second changes nothing."""
    (home / "play.yml").write_text(play)
    (home / "vars.yml").write_text(yaml.safe_dump(role_vars))
    for _ in range(2):
        run = role_playbook(home)
        assert run.returncode == 0, run.output[-4000:]
    assert run.recap()["changed"] == 0, "a second run of the main entry changes nothing"


def assert_no_job_file_left(jobs: Path) -> None:
    """jobs (the run's ANSIBLE_ASYNC_DIR) was used, since a background job created it, and
    holds no job file: each was removed once its output was collected."""
    assert jobs.is_dir(), "the run's background jobs kept their files in ANSIBLE_ASYNC_DIR"
    assert sorted(p.name for p in jobs.iterdir()) == []


def role_playbook(home: Path, *extra: str, env_extra: dict[str, str] | None = None) -> PlaybookRun:
    return run_playbook(
        str(home / "play.yml"),
        "-e", f"@{home / 'vars.yml'}",
        *extra,
        timeout=600,
        env_extra=env_extra,
    )  # fmt: skip


def role_series(
    home: Path,
    values: dict[str, Any],
    name: str,
    *extra: str,
    env_extra: dict[str, str] | None = None,
) -> tuple[PlaybookRun, Any]:
    """Run the series entry with values (series and the play's other inputs), its output in
    <output dir>/name; what it published, as the play wrote it."""
    documents = home / f"{name}.documents.json"
    inputs = {**values, "series_dir": name, "documents_file": str(documents)}
    run = role_playbook(home, "-e", json.dumps(inputs), *extra, env_extra=env_extra)
    return run, json.loads(documents.read_text())


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO
