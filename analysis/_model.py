"""What a run is, once read: plain frozen dataclasses, independent of files and plots."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

# The seed's order, used for every table and chart so that a setup is always in the same place.
SETUP_ORDER = ("gunicorn", "redis", "ipc")
# Okabe-Ito colours: distinguishable with the common colour-vision deficiencies and in greyscale.
SETUP_COLOURS = {"gunicorn": "#0072B2", "redis": "#D55E00", "ipc": "#009E73"}
_EXTRA_COLOURS = ("#CC79A7", "#E69F00", "#56B4E9", "#000000")

Severity = Literal["error", "warning"]
TestKind = Literal["latency", "throughput"]
# "harness" when the rep file carried flags; "analysis" when derived from the contract's rules.
FlagSource = Literal["harness", "analysis"]


def ordered_setups(names: Iterable[str]) -> list[str]:
    """The known setups in the seed's order, then any others alphabetically."""
    unique = set(names)
    known = [name for name in SETUP_ORDER if name in unique]
    return known + sorted(unique - set(SETUP_ORDER))


def setup_colour(setup: str) -> str:
    if setup in SETUP_COLOURS:
        return SETUP_COLOURS[setup]
    # Stable across charts and runs: derived from the name, not from the position.
    return _EXTRA_COLOURS[sum(setup.encode()) % len(_EXTRA_COLOURS)]


@dataclass(frozen=True)
class Problem:
    """Something wrong with a file of the run; the report lists these and carries on."""

    file: str  # relative to the run directory
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        return f"{self.file}: {self.message}"


@dataclass(frozen=True)
class Metric:
    name: str
    label: str
    unit: str
    higher_is_better: bool = False


METRICS = {
    metric.name: metric
    for metric in (
        Metric("p50_ms", "p50 latency", "ms"),
        Metric("p90_ms", "p90 latency", "ms"),
        Metric("p95_ms", "p95 latency", "ms"),
        Metric("p99_ms", "p99 latency", "ms"),
        Metric("mean_ms", "mean latency", "ms"),
        Metric("achieved_rps", "achieved rate", "req/s", higher_is_better=True),
    )
}
# loadtest's headline number ("Mean latency"), and so most likely what the seed reported.
HEADLINE_LATENCY = "mean_ms"
PERCENTILE_METRICS = ("p50_ms", "p90_ms", "p95_ms", "p99_ms")


@dataclass(frozen=True)
class TestKey:
    """One test of a setup: the fixed-rate latency test or the throughput test at N clients."""

    __test__ = False  # not a pytest test class, despite the name

    kind: TestKind
    clients: int | None = None

    @property
    def label(self) -> str:
        if self.kind == "latency":
            return "latency"
        noun = "client" if self.clients == 1 else "clients"
        return f"throughput, {self.clients} {noun}"

    @property
    def path(self) -> str:
        return "latency" if self.kind == "latency" else f"throughput/c{self.clients}"

    @property
    def sort_key(self) -> tuple[int, int]:
        return (0, 0) if self.kind == "latency" else (1, self.clients or 0)


LATENCY_TEST = TestKey("latency")


@dataclass(frozen=True)
class RepResult:
    """One repetition, reduced to the numbers analysis uses."""

    setup: str
    test: TestKey
    rep: int
    file: str
    metrics: dict[str, float]
    total_requests: int | None
    total_errors: int
    error_codes: dict[str, int]
    requested_rps: float | None
    generator_cpu_percent: float | None
    flags: tuple[str, ...]
    valid: bool
    flags_from: FlagSource = "harness"
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    profile: str | None = None
    warmup_s: float | None = None
    keepalive: bool | None = None
    repetitions: int | None = None
    latency_rps: float | None = None
    latency_duration_s: float | None = None
    throughput_clients: tuple[int, ...] = ()
    throughput_duration_s: float | None = None
    request_timeout_ms: float | None = None


@dataclass(frozen=True)
class HostFacts:
    name: str
    file: str
    roles: tuple[str, ...] = ()
    hostname: str | None = None
    cpu_model: str | None = None
    cores: int | None = None
    memory_mb: int | None = None
    kernel: str | None = None
    os: str | None = None
    instance_type: str | None = None
    python_version: str | None = None
    python_interpreter: str | None = None
    pip_freeze: tuple[str, ...] | None = None
    node_version: str | None = None
    loadtest_version: str | None = None
    redis_version: str | None = None


@dataclass(frozen=True)
class RunMeta:
    run_id: str
    schema_version: int = 1
    started_at: str | None = None
    ended_at: str | None = None
    status: str | None = None
    failed_stage: str | None = None
    failure: str | None = None
    setups: tuple[str, ...] = ()
    setups_completed: tuple[str, ...] | None = None
    stack_name: str | None = None
    pins: dict[str, str] = field(default_factory=dict)
    plan: Plan = field(default_factory=Plan)
    inventory: str | None = None
    topology: dict[str, tuple[str, ...]] = field(default_factory=dict)
    placement: dict[str, str | None] = field(default_factory=dict)
    controller: dict[str, str] = field(default_factory=dict)


SetupState = Literal["measured", "failed", "not run", "incomplete", "running"]


@dataclass(frozen=True)
class SetupStatus:
    setup: str
    state: SetupState
    detail: str

    @property
    def text(self) -> str:
        """State and detail without saying "failed" twice."""
        return self.detail if self.detail.startswith(self.state) else f"{self.state}: {self.detail}"


@dataclass
class Run:
    path: Path
    meta: RunMeta
    hosts: list[HostFacts]
    reps: list[RepResult]
    problems: list[Problem]

    @property
    def run_id(self) -> str:
        return self.meta.run_id

    def setups(self) -> list[str]:
        """Every setup asked for or found on disk, in the fixed order."""
        return ordered_setups([*self.meta.setups, *(rep.setup for rep in self.reps)])

    def tests(self) -> list[TestKey]:
        return sorted({rep.test for rep in self.reps}, key=lambda test: test.sort_key)

    def reps_of(self, setup: str, test: TestKey) -> list[RepResult]:
        found = [rep for rep in self.reps if rep.setup == setup and rep.test == test]
        return sorted(found, key=lambda rep: rep.rep)

    def hosts_with_role(self, role: str) -> list[HostFacts]:
        return [host for host in self.hosts if role in host.roles]

    def stack_label(self) -> str:
        return self.meta.stack_name or "unknown stack"

    def latency_rps(self) -> float | None:
        """The fixed rate of the latency test: the plan's, else what the rep files asked for."""
        if self.meta.plan.latency_rps is not None:
            return self.meta.plan.latency_rps
        asked = {rep.requested_rps for rep in self.reps if rep.test == LATENCY_TEST}
        asked.discard(None)
        return next(iter(asked)) if len(asked) == 1 else None

    def setup_status(self, setup: str) -> SetupStatus:
        return _setup_status(self, setup)


def _setup_status(run: Run, setup: str) -> SetupStatus:
    meta = run.meta
    has_data = any(rep.setup == setup for rep in run.reps)
    if meta.setups_completed is None:
        # Older runs do not say which setups finished; data on disk is the best evidence.
        if has_data:
            return SetupStatus(setup, "measured", "repetitions found (run.json does not say)")
        return SetupStatus(setup, "not run", "no repetitions found")
    if setup in meta.setups_completed:
        return SetupStatus(setup, "measured", "completed")
    if meta.status == "running":
        return SetupStatus(setup, "running", "run still in progress")
    if meta.status == "failed" and setup == _first_incomplete(meta):
        stage = meta.failed_stage or "unknown stage"
        detail = f"failed at {stage}" + (f": {meta.failure}" if meta.failure else "")
        return SetupStatus(setup, "failed", detail)
    if has_data:
        return SetupStatus(setup, "incomplete", "some repetitions, not completed")
    if meta.status == "failed":
        return SetupStatus(setup, "not run", "run stopped before this setup")
    return SetupStatus(setup, "incomplete", "asked for but not in setups_completed")


def _first_incomplete(meta: RunMeta) -> str | None:
    completed = set(meta.setups_completed or ())
    return next((setup for setup in meta.setups if setup not in completed), None)
