"""Every molecule scenario, run for real: `molecule test -s NAME` (converge, idempotence, verify).

Marked `molecule`: `pytest -m molecule tests/molecule` runs only these; `-k NAME` one of them.
The container engine and image come from scripts/molecule-prepare.sh, called once here (it does
nothing when the image is current). BENCH_MOLECULE_DRIVER=docker runs the same scenarios with
the docker driver; BENCH_MOLECULE_WORKERS sets how many scenarios run at once (default 2).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.molecule

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
LOG_DIR = REPO / ".cache" / "molecule" / "logs"
# Longest first, so that two workers finish together: channels_setup (three containers, the
# whole deploy) takes about as long as the rest put together. New scenarios run last.
ORDER = ["channels_setup", "loadtest", "python_stack", "supervisor", "redis_server", "testproject"]
# Roles that do not configure a host, so a container cannot test them, and what tests them.
NO_SCENARIO = {
    "ec2_fleet": "runs on the controller against the EC2 API; tests/aws runs it on moto",
    "pyenv": "clones pyenv from GitHub, which this machine cannot reach (EC2 hosts only)",
}
# Scenarios at once. Much of a scenario's time is spent waiting on `podman exec` and the network,
# so two overlap well on two cores; more only contend for them.
WORKERS = int(os.environ.get("BENCH_MOLECULE_WORKERS", "2"))
# A scenario takes minutes on a loaded 2-core machine; this bounds a hung one.
SCENARIO_TIMEOUT_S = 1800


@dataclass(frozen=True)
class ScenarioRun:
    scenario: str
    returncode: int
    elapsed_s: float
    log: Path

    def tail(self, lines: int = 80) -> str:
        text = self.log.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])


def scenarios() -> list[str]:
    found = sorted(path.parent.name for path in (REPO / "molecule").glob("*/molecule.yml"))
    return [name for name in ORDER if name in found] + [name for name in found if name not in ORDER]


def molecule_env() -> dict[str, str]:
    plain = {"NO_COLOR": "1", "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0", "PY_COLORS": "0"}
    env = {**os.environ, **plain}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    # Container names are global on the host: another checkout's run must not destroy ours.
    checkout = hashlib.sha256(str(REPO).encode()).hexdigest()[:6]
    env.setdefault("BENCH_MOLECULE_PREFIX", f"molecule-{checkout}")
    return env


def run_scenario(scenario: str, driver: str) -> ScenarioRun:
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log = LOG_DIR / f"{scenario}.log"
    started = time.monotonic()
    with log.open("w", encoding="utf-8") as output:
        try:
            returncode = subprocess.run(
                [str(VENV_BIN / "molecule"), "test", "-s", scenario, "-d", driver],
                cwd=REPO,
                env=molecule_env(),
                stdout=output,
                stderr=subprocess.STDOUT,
                timeout=SCENARIO_TIMEOUT_S,
                check=False,
            ).returncode
        except subprocess.TimeoutExpired:
            output.write(f"\n== killed after {SCENARIO_TIMEOUT_S} s\n")
            returncode = -1
    return ScenarioRun(scenario, returncode, time.monotonic() - started, log)


@pytest.fixture(scope="session")
def driver() -> str:
    """The molecule driver, once its engine is installed and the image built."""
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


@pytest.fixture(scope="session")
def scenario_runs(request: pytest.FixtureRequest, driver: str) -> Iterator[dict[str, Future]]:
    """Starts the selected scenarios, WORKERS at a time; each test waits for its own."""
    selected = [
        item.callspec.params["scenario"]
        for item in request.session.items
        if getattr(item, "originalname", "") == "test_scenario" and hasattr(item, "callspec")
    ]
    with ThreadPoolExecutor(max_workers=max(1, WORKERS)) as pool:
        yield {name: pool.submit(run_scenario, name, driver) for name in selected}


def test_every_role_has_a_scenario() -> None:
    roles = sorted(path.name for path in (REPO / "roles").iterdir() if (path / "tasks").is_dir())
    missing = [role for role in roles if role not in scenarios() and role not in NO_SCENARIO]
    assert missing == []


@pytest.mark.parametrize("scenario", scenarios())
def test_scenario(scenario: str, scenario_runs: dict[str, Future]) -> None:
    run: ScenarioRun = scenario_runs[scenario].result()
    outcome = f"molecule test -s {scenario}: exit {run.returncode} in {run.elapsed_s:.0f} s"
    print(f"{outcome} (log: {run.log})")
    if run.returncode != 0:
        pytest.fail(f"{outcome}; the end of {run.log}:\n{run.tail()}")
