"""What a run is, once read: plain frozen dataclasses, independent of files and plots."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from module_utils import channels_bench_rules as rules

Severity = Literal["error", "warning"]
# "harness" when the rep file carried flags; "analysis" when the rule book was applied to it.
FlagSource = Literal["harness", "analysis"]
# Where a rep's latency numbers come from: the harness's HdrHistograms (microseconds, exact) or
# loadtest's own result (whole milliseconds).
LatencyBasis = Literal["hdr", "loadtest"]

HTTP_TESTS = ("latency", "throughput", "sweep")
WEBSOCKET_TESTS = ("ws-echo", "ws-fanout", "ws-connect")
TEST_KINDS = (*HTTP_TESTS, *WEBSOCKET_TESTS)

_SETUP_NAME = re.compile(r"(?P<stack>[^/@\s]+)/(?P<setup>[^/@\s]+)(?:@(?P<variant>\S+))?")


@dataclass(frozen=True)
class Problem:
    """Something wrong with a file of the run; the report lists these and carries on."""

    file: str  # relative to the run directory
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        return f"{self.file}: {self.message}"


def parse_setup_name(name: str) -> tuple[str, str, str | None] | None:
    """`<stack>/<setup>[@<package>=<version>]` as (stack, setup, variant); None if malformed."""
    match = _SETUP_NAME.fullmatch(name)
    if match is None:
        return None
    return match["stack"], match["setup"], match["variant"]


@dataclass(frozen=True)
class Setup:
    """One measured setup: its name everywhere, where its files are, and its catalogue row."""

    name: str  # "<stack>/<setup>", or "<stack>/<setup>@<package>=<version>" for a variant
    directory: str  # relative to the run: the name in schema 2, the bare name in schema 1
    stack: str
    setup: str
    variant: str | None = None
    description: str | None = None
    role: str | None = None  # what it stands for across stacks (catalogue `role`)
    pins: dict[str, str] = field(default_factory=dict)
    python: str | None = None
    from_catalogue: bool = False

    @property
    def base(self) -> str:
        """The name without its variant: the setup a version sweep varies."""
        return f"{self.stack}/{self.setup}"


@dataclass(frozen=True)
class TestKey:
    """One test of a setup: the fixed-rate latency test, the closed loop at N clients, a sweep
    point at a rate or a fraction of capacity, or a WebSocket test."""

    __test__ = False  # not a pytest test class, despite the name

    kind: str
    clients: int | None = None
    rate: float | None = None  # sweep/r<rate>
    fraction: float | None = None  # sweep/f<fraction>

    @property
    def fixed_rate(self) -> bool:
        return self.kind in rules.FIXED_RATE_TESTS

    @property
    def closed_loop(self) -> bool:
        return self.kind in rules.CLOSED_LOOP_TESTS

    @property
    def websocket(self) -> bool:
        return self.kind in WEBSOCKET_TESTS

    @property
    def label(self) -> str:
        if self.kind == "throughput":
            return f"closed loop, {self.clients} client{'s' * (self.clients != 1)}"
        if self.kind == "sweep" and self.rate is not None:
            return f"sweep at {self.rate:g} req/s"
        if self.kind == "sweep":
            return f"sweep at {self.fraction:g} x capacity"
        return self.kind

    @property
    def path(self) -> str:
        if self.kind == "throughput":
            return f"throughput/c{self.clients}"
        if self.kind == "sweep" and self.rate is not None:
            return f"sweep/r{self.rate:g}"
        if self.kind == "sweep":
            return f"sweep/f{self.fraction:g}"
        return self.kind

    @property
    def sort_key(self) -> tuple[int, float, float]:
        order = TEST_KINDS.index(self.kind) if self.kind in TEST_KINDS else len(TEST_KINDS)
        return (order, float(self.clients or 0) + (self.fraction or 0), self.rate or 0.0)


LATENCY_TEST = TestKey("latency")


@dataclass(frozen=True)
class Timeline:
    """Completions per bin from the measured start (the tail after the stop included)."""

    bin_s: float
    completed: tuple[int, ...]
    errors: tuple[int, ...] = ()


@dataclass(frozen=True)
class ConnectStep:
    """One step of ws-connect: connections asked for, held, failed; handshake latency; memory."""

    connections: int | None
    held: int | None
    failures: int | None
    handshake_p50_ms: float | None
    handshake_p99_ms: float | None
    memory_per_connection_kb: float | None


@dataclass(frozen=True)
class RepResult:
    """One repetition, reduced to the numbers analysis uses.

    ``metrics`` holds every statistic by one name, `<source>:<statistic>`: `loadtest:p50`
    (loadtest's whole milliseconds), `latency_corrected:p99` (an HdrHistogram of the harness, in
    milliseconds), `messages:lost`, and `achieved_rps` (requests per second)."""

    setup: str
    test: TestKey
    rep: int
    file: str
    metrics: dict[str, float]
    histograms: dict[str, str]  # name -> encoded HdrHistogram, for exact pooling
    total_requests: int | None
    total_errors: int
    error_codes: dict[str, int]
    requested_rps: float | None
    flags: tuple[str, ...]
    valid: bool
    flags_from: FlagSource = "harness"
    flag_details: dict[str, str] = field(default_factory=dict)  # flag -> the numbers behind it
    notes: tuple[str, ...] = ()
    duration_s: float | None = None  # the measured part
    timeline: Timeline | None = None
    reference_rps: float | None = None  # wrk at the same clients (closed loop)
    capacity_rps: float | None = None  # sweep by fraction: the capacity it was a fraction of
    steps: tuple[ConnectStep, ...] = ()

    @property
    def latency_basis(self) -> LatencyBasis | None:
        if any(name.startswith("latency_") for name in self.histograms) or any(
            key.startswith("latency_uncorrected:") for key in self.metrics
        ):
            return "hdr"
        return "loadtest" if any(k.startswith("loadtest:p") for k in self.metrics) else None

    @property
    def achieved_rps(self) -> float | None:
        return self.metrics.get("achieved_rps")

    @property
    def saturated(self) -> bool:
        """A fixed-rate rep that did not keep up with its rate: it has no steady latency."""
        return self.test.fixed_rate and bool({"rate_shortfall", "backlog"} & set(self.flags))


@dataclass(frozen=True)
class Reference:
    """One run of the reference generator (wrk) at a client count, before a series."""

    setup: str
    clients: int
    index: int
    file: str
    rps: float | None
    requests: int | None
    errors: int
    tool: str | None
    version: str | None
    latency_ms: dict[str, float] = field(default_factory=dict)


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
    reference_tool: str | None = None
    sweep_rps: tuple[float, ...] = ()
    sweep_fractions: tuple[float, ...] = ()
    sweep_duration_s: float | None = None
    websocket: bool = False


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
    wrk_version: str | None = None
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
    setups_failed: dict[str, str] = field(default_factory=dict)
    stack_name: str | None = None
    pins: dict[str, str] = field(default_factory=dict)
    plan: Plan = field(default_factory=Plan)
    order_kind: str | None = None
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
    setup_table: list[Setup]  # in the run's order
    hosts: list[HostFacts]
    reps: list[RepResult]
    references: list[Reference]
    problems: list[Problem]

    @property
    def run_id(self) -> str:
        return self.meta.run_id

    def setups(self) -> list[str]:
        """Every setup asked for or found on disk, in the run's order."""
        return [setup.name for setup in self.setup_table]

    def setup_info(self, name: str) -> Setup | None:
        return next((setup for setup in self.setup_table if setup.name == name), None)

    def stacks(self) -> list[str]:
        return list(dict.fromkeys(setup.stack for setup in self.setup_table))

    def tests(self) -> list[TestKey]:
        return sorted({rep.test for rep in self.reps}, key=lambda test: test.sort_key)

    def reps_of(self, setup: str, test: TestKey) -> list[RepResult]:
        found = [rep for rep in self.reps if rep.setup == setup and rep.test == test]
        return sorted(found, key=lambda rep: rep.rep)

    def references_of(self, setup: str, clients: int) -> list[Reference]:
        return [r for r in self.references if r.setup == setup and r.clients == clients]

    def hosts_with_role(self, role: str) -> list[HostFacts]:
        return [host for host in self.hosts if role in host.roles]

    def stack_label(self) -> str:
        stacks = self.stacks()
        if len(stacks) > 1:
            return " and ".join(stacks)
        return self.meta.stack_name or (stacks[0] if stacks else "unknown stack")

    def latency_rps(self) -> float | None:
        """The fixed rate of the latency test: the plan's, else what the rep files asked for."""
        if self.meta.plan.latency_rps is not None:
            return self.meta.plan.latency_rps
        asked = {rep.requested_rps for rep in self.reps if rep.test == LATENCY_TEST}
        asked.discard(None)
        return next(iter(asked)) if len(asked) == 1 else None

    def setup_status(self, setup: str) -> SetupStatus:
        return _setup_status(self, setup)


_CLOSED = ("complete", "failed", "interrupted", "abandoned")


def _setup_status(run: Run, setup: str) -> SetupStatus:
    meta = run.meta
    has_data = any(rep.setup == setup for rep in run.reps)
    if setup in meta.setups_failed:
        return SetupStatus(setup, "failed", f"failed: {meta.setups_failed[setup]}")
    if meta.setups_completed is None:
        # Older runs do not say which setups finished; data on disk is the best evidence.
        if has_data:
            return SetupStatus(setup, "measured", "repetitions found (run.json does not say)")
        return SetupStatus(setup, "not run", "no repetitions found")
    if setup in meta.setups_completed:
        return SetupStatus(setup, "measured", "completed")
    if meta.status in (None, "running"):
        return SetupStatus(setup, "running", "run still in progress (or its harness died)")
    if meta.status == "failed" and setup == _first_incomplete(meta) and not meta.setups_failed:
        stage = meta.failed_stage or "unknown stage"
        detail = f"failed at {stage}" + (f": {meta.failure}" if meta.failure else "")
        return SetupStatus(setup, "failed", detail)
    if has_data:
        return SetupStatus(setup, "incomplete", f"some repetitions; the run ended {meta.status}")
    if meta.status in _CLOSED:
        return SetupStatus(setup, "not run", f"the run ended ({meta.status}) before this setup")
    return SetupStatus(setup, "incomplete", "asked for but not in setups_completed")


def _first_incomplete(meta: RunMeta) -> str | None:
    completed = set(meta.setups_completed or ())
    return next((setup for setup in meta.setups if setup not in completed), None)
