"""Every molecule scenario, run for real: `molecule test -s NAME` (converge, idempotence, verify).

Marked `molecule`: `pytest -m molecule tests/molecule` runs only these. The container image and
engine come from scripts/molecule-prepare.sh, called once here (it does nothing when the image is
current). BENCH_MOLECULE_DRIVER=docker runs the same scenarios with the docker driver.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.molecule

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
LOG_DIR = REPO / ".cache" / "molecule" / "logs"
# Roles first, then the scenario that deploys them together: python_stack fills pip's shared
# cache before channels_setup's three containers want it. New scenarios run after these.
ORDER = ["redis_server", "supervisor", "testproject", "loadtest", "python_stack", "channels_setup"]
# Roles that do not configure a host, so a container cannot test them, and what tests them.
NO_SCENARIO = {
    "ec2_fleet": "runs on the controller against the EC2 API; tests/aws runs it on moto",
    "pyenv": "clones pyenv from GitHub, which this machine cannot reach (EC2 hosts only)",
}
# One scenario on a loaded 2-core machine takes a few minutes; this bounds a hung one.
SCENARIO_TIMEOUT_S = 1500


def scenarios() -> list[str]:
    found = sorted(path.parent.name for path in (REPO / "molecule").glob("*/molecule.yml"))
    known = [name for name in ORDER if name in found]
    return known + [name for name in found if name not in ORDER]


def molecule_env() -> dict[str, str]:
    plain = {"NO_COLOR": "1", "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0", "PY_COLORS": "0"}
    env = {**os.environ, **plain}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.fixture(scope="session")
def prepared_engine() -> str:
    """The driver name, once the engine is installed and the image built."""
    prepared = subprocess.run(
        [str(REPO / "scripts" / "molecule-prepare.sh")],
        cwd=REPO,
        env=molecule_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert prepared.returncode == 0, prepared.stdout + prepared.stderr
    return os.environ.get("BENCH_MOLECULE_DRIVER", "podman")


def test_every_role_has_a_scenario():
    roles = sorted(path.name for path in (REPO / "roles").iterdir() if (path / "tasks").is_dir())
    assert [role for role in roles if role not in scenarios() and role not in NO_SCENARIO] == []


@pytest.mark.parametrize("scenario", scenarios())
def test_scenario(scenario: str, prepared_engine: str) -> None:
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log = LOG_DIR / f"{scenario}.log"
    started = time.monotonic()
    with log.open("w", encoding="utf-8") as output:
        run = subprocess.run(
            [str(VENV_BIN / "molecule"), "test", "-s", scenario, "-d", prepared_engine],
            cwd=REPO,
            env=molecule_env(),
            stdout=output,
            stderr=subprocess.STDOUT,
            timeout=SCENARIO_TIMEOUT_S,
            check=False,
        )
    elapsed = time.monotonic() - started
    print(f"molecule scenario {scenario}: exit {run.returncode} in {elapsed:.0f} s (log: {log})")
    if run.returncode != 0:
        tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-80:])
        pytest.fail(f"molecule test -s {scenario} exited {run.returncode}; log {log}:\n{tail}")
