"""Running the loadtest driver (roles/loadtest/files/driver.mjs) for real in tests.

The driver runs on node with the role's own package.json and package-lock.json installed by
`npm ci` (once per lock, cached under .cache/driver-npm/), so the tests need neither a deployed
role nor anything beyond node, npm and the npm registry. Where node or npm is missing the tests
that need them are skipped.

The test modules import the fixtures they use (`from driver_support import driver_fixture`); each
is known to pytest by its name without `_fixture`.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import driver_servers
import pytest
from harness_helpers import ROOT

ROLE_FILES = ROOT / "roles" / "loadtest" / "files"
DRIVER = ROLE_FILES / "driver.mjs"
NPM_FILES = ROLE_FILES / "npm" / "8.2.1"
CACHE = ROOT / ".cache" / "driver-npm"
# Every driver run of a test ends within this many seconds, or the test fails.
RUN_LIMIT_S = 120

needs_node = pytest.mark.skipif(
    shutil.which("node") is None or shutil.which("npm") is None,
    reason="node and npm are not installed (the loadtest role installs them)",
)
needs_wrk = pytest.mark.skipif(
    shutil.which("wrk") is None, reason="wrk is not installed (apt-get install wrk)"
)


def install_node_modules() -> Path:
    """node_modules of the role's lock, installed by npm ci once per lock (under .cache/), and
    made whole or not at all. RuntimeError when npm fails."""
    digest = hashlib.sha256(
        (NPM_FILES / "package.json").read_bytes() + (NPM_FILES / "package-lock.json").read_bytes()
    ).hexdigest()[:16]
    target = CACHE / digest
    if (target / "node_modules" / "loadtest").is_dir():
        return target / "node_modules"
    CACHE.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="install-", dir=CACHE))
    for name in ("package.json", "package-lock.json"):
        shutil.copy(NPM_FILES / name, work / name)
    completed = subprocess.run(
        ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=work, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    if completed.returncode != 0:
        shutil.rmtree(work, ignore_errors=True)
        output = f"{completed.stdout}\n{completed.stderr}"
        raise RuntimeError(f"npm ci of the role's lock failed:\n{output}")
    try:
        work.rename(target)
    except OSError:
        # Another run installed the same lock meanwhile: use that one.
        shutil.rmtree(work, ignore_errors=True)
    return target / "node_modules"


@pytest.fixture(scope="session", name="node_modules")
def node_modules_fixture() -> Path:
    """node_modules of the role's lock (skipped without node and npm)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are not installed (the loadtest role installs them)")
    try:
        return install_node_modules()
    except RuntimeError as error:
        pytest.fail(str(error))


@dataclass
class DriverRun:
    returncode: int
    stdout: str
    stderr: str
    spec: dict[str, Any]
    documents: list[dict[str, Any]] = field(default_factory=list)

    @property
    def output_dir(self) -> Path:
        return Path(self.spec["output_dir"])

    def progress(self) -> list[dict[str, Any]]:
        path = Path(self.spec["progress"])
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines()]

    def explain(self) -> str:
        return (
            f"exit {self.returncode}\nstderr:\n{self.stderr[-3000:]}\nprogress: {self.progress()}"
        )


class Driver:
    """The driver as the role lays it out: driver.mjs beside node_modules, in a directory of
    its own; specs are written to files there, outputs go to out/."""

    def __init__(self, home: Path, node_modules: Path) -> None:
        self.home = home
        shutil.copy(DRIVER, home / "driver.mjs")
        (home / "node_modules").symlink_to(node_modules)
        self.runs = 0

    def spec(self, url: str, measurements: list[dict[str, Any]], **series: Any) -> dict[str, Any]:
        """A series spec with the tests' defaults: short timeouts, no settling."""
        out = self.home / "out"
        return {
            "url": url,
            "host": "localhost",
            "cpus": None,
            "keepalive": False,
            "request_timeout_ms": 2000,
            "max_request_rate": 100000,
            "output_dir": str(out),
            "progress": str(out / "progress.jsonl"),
            "heartbeat": None,
            "settle": None,
            "wrk": None,
            "measurements": measurements,
        } | series

    def start(self, spec: dict[str, Any], *args: str) -> subprocess.Popen[str]:
        self.runs += 1
        spec_file = self.home / f"spec-{self.runs}.json"
        spec_file.write_text(json.dumps(spec))
        return subprocess.Popen(
            ["node", str(self.home / "driver.mjs"), *args, str(spec_file)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    def finish(self, process: subprocess.Popen[str], spec: dict[str, Any]) -> DriverRun:
        try:
            stdout, stderr = process.communicate(timeout=RUN_LIMIT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
            pytest.fail(f"the driver ran longer than {RUN_LIMIT_S} s:\n{stderr}")
        documents = [json.loads(line) for line in stdout.splitlines() if line.strip()]
        return DriverRun(process.returncode, stdout, stderr, spec, documents)

    def run(self, spec: dict[str, Any], *args: str) -> DriverRun:
        return self.finish(self.start(spec, *args), spec)

    def interrupt(self, spec: dict[str, Any], after_s: float) -> DriverRun:
        """Start a series and send it SIGTERM after_s seconds later."""
        process = self.start(spec)
        time.sleep(after_s)
        process.send_signal(signal.SIGTERM)
        return self.finish(process, spec)

    def check(self, spec_text: str) -> subprocess.CompletedProcess[str]:
        """`driver.mjs --check` with the spec given inline, as JSON text."""
        return subprocess.run(
            ["node", str(self.home / "driver.mjs"), "--check", spec_text],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip

    def node(self, script: str) -> subprocess.CompletedProcess[str]:
        """An ES module script run beside the driver (it can import driver.mjs)."""
        return subprocess.run(
            ["node", "--input-type=module", "-e", script],
            cwd=self.home, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip


@pytest.fixture(name="driver")
def driver_fixture(tmp_path: Path, node_modules: Path) -> Driver:
    return Driver(tmp_path, node_modules)


@pytest.fixture(name="known_server")
def known_server_fixture() -> Iterator[driver_servers.KnownServer]:
    server = driver_servers.start()
    yield server
    driver_servers.stop(server)


def measurement(test: str = "latency", **fields: Any) -> dict[str, Any]:
    """A measurement with short defaults: 40 req/s (or 2 clients) for a second, no warm-up."""
    defaults: dict[str, Any] = {"test": test, "rep": 1, "duration_s": 1, "warmup_s": 0}
    if test in ("latency", "sweep", "calibrate") and "fraction" not in fields:
        defaults["rps"] = 40
    if test in ("throughput", "reference"):
        defaults["clients"] = 2
    if test == "reference":
        del defaults["rep"], defaults["warmup_s"]
    defaults["output"] = f"{test}/rep-{fields.get('rep', 1)}.json"
    return defaults | fields


def rule_record(document: dict[str, Any]) -> dict[str, Any]:
    """A one-source rep record as the rule book reads it, from one driver document."""
    return {
        "test": document["test"],
        "requested_rps": document["rps"],
        "achieved_rps": document["achieved_rps"],
        "loadtest": document["loadtest"],
        "harness": document["harness"],
        "generator": {"cpu_percent_max": document["generator"]["cpu_percent"]},
    }


def idle_event_loop_p99_us() -> float:
    """The p99 delay of an idle node process's event loop over 1.5 s, measured as the driver
    measures it: what the machine's own scheduling adds before a generator does anything."""
    script = (
        "import {monitorEventLoopDelay} from 'node:perf_hooks';"
        "const h = monitorEventLoopDelay({resolution: 1}); h.enable();"
        "setTimeout(() => { h.disable();"
        " console.log(Math.max(0, h.percentile(99) - 1e6) / 1000) }, 1500)"
    )
    completed = subprocess.run(
        ["node", "--input-type=module", "-e", script],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    return float(completed.stdout)
