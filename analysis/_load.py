"""Read a results directory (docs/results-contract.md) into a Run, collecting problems."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace
from pathlib import Path

from . import _stats
from ._fields import SUPPORTED_SCHEMA_VERSION, Fields, read_json_object, schema_version
from ._model import (
    FlagSource,
    HostFacts,
    Plan,
    Problem,
    RepResult,
    Run,
    RunMeta,
    TestKey,
    ordered_setups,
)

_REP_NAME = re.compile(r"rep-(\d+)\.json")
_CLIENTS_DIR = re.compile(r"c(\d+)")
# The contract's flag rules, applied only to reps that predate the harness writing flags.
RATE_SHORTFALL_SHARE = 0.99
GENERATOR_SATURATED_PERCENT = 90.0


class RunReadError(Exception):
    """The path is not a run directory at all; nothing useful can be written."""


def load_run(path: Path) -> Run:
    """Read everything the harness wrote under path. Damaged files become Run.problems."""
    if not path.exists():
        raise RunReadError(f"{path}: no such directory")
    if not path.is_dir():
        raise RunReadError(f"{path}: not a directory (expected a run directory under results/)")
    problems: list[Problem] = []
    versions: dict[int, list[str]] = {}
    meta = _read_meta(path, problems, versions)
    setup_dirs = _setup_dirs(path)
    if not (path / "run.json").exists() and not setup_dirs:
        raise RunReadError(
            f"{path}: not a run directory: it has neither run.json nor any <setup>/latency or "
            "<setup>/throughput results"
        )
    hosts = _read_hosts(path, problems)
    reps: list[RepResult] = []
    for setup in setup_dirs:
        reps.extend(_read_setup_reps(path, setup, meta, problems, versions))
    already_reported = {problem.file for problem in problems}
    problems.extend(
        problem for problem in _missing_reps(meta, reps) if problem.file not in already_reported
    )
    problems.extend(_version_warnings(versions))
    return Run(path=path, meta=meta, hosts=hosts, reps=reps, problems=problems)


def _note_version(version: int, file: str, versions: dict[int, list[str]]) -> None:
    versions.setdefault(version, []).append(file)


def _version_warnings(versions: dict[int, list[str]]) -> list[Problem]:
    warnings = []
    for version, files in sorted(versions.items()):
        if version <= SUPPORTED_SCHEMA_VERSION:
            continue
        shown = ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
        warnings.append(
            Problem(
                files[0],
                f"schema_version {version} is newer than this analysis knows "
                f"({SUPPORTED_SCHEMA_VERSION}); read as version {SUPPORTED_SCHEMA_VERSION}, "
                f"fields it does not know are ignored ({shown})",
                "warning",
            )
        )
    return warnings


# run.json


def _read_meta(path: Path, problems: list[Problem], versions: dict[int, list[str]]) -> RunMeta:
    file = "run.json"
    data = read_json_object(path / file, file, problems)
    if data is None:
        return RunMeta(run_id=path.name)
    fields = Fields(data, file, problems)
    if not fields.has("schema_version"):
        problems.append(
            Problem(
                file,
                "no schema_version (a run from before the contract was versioned); "
                "read as version 1",
                "warning",
            )
        )
    version = schema_version(fields, file, problems)
    _note_version(version, file, versions)
    stack = fields.obj("stack")
    pin_fields = stack.obj("pins")
    pins = {name: pin for name in pin_fields.names() if (pin := pin_fields.text(name)) is not None}
    placement = fields.obj("placement")
    return RunMeta(
        run_id=fields.text("run_id") or path.name,
        schema_version=version,
        started_at=fields.text("started_at"),
        ended_at=fields.text("ended_at"),
        status=fields.text("status"),
        failed_stage=fields.text("failed_stage"),
        failure=fields.text("failure"),
        setups=fields.texts("setups") or (),
        setups_completed=fields.texts("setups_completed"),
        stack_name=stack.text("name"),
        pins=pins,
        plan=_read_plan(fields.obj("plan")),
        inventory=fields.text("inventory"),
        topology=_read_topology(fields.obj("topology")),
        placement={key: placement.text(key) for key in placement.names()},
        controller=_read_controller(fields.obj("controller")),
    )


def _read_plan(plan: Fields) -> Plan:
    latency = plan.obj("latency")
    throughput = plan.obj("throughput")
    return Plan(
        profile=plan.text("profile"),
        warmup_s=plan.number("warmup_s"),
        keepalive=plan.boolean("keepalive"),
        repetitions=plan.integer("repetitions"),
        latency_rps=latency.number("rps"),
        latency_duration_s=latency.number("duration_s"),
        throughput_clients=throughput.integers("clients") or (),
        throughput_duration_s=throughput.number("duration_s"),
        request_timeout_ms=plan.number("request_timeout_ms"),
    )


def _read_topology(topology: Fields) -> dict[str, tuple[str, ...]]:
    roles = {}
    for role in topology.names():
        hosts = topology.texts(role)
        if hosts is not None:
            roles[role] = hosts
    return roles


def _read_controller(controller: Fields) -> dict[str, str]:
    found = {}
    for key in controller.names():
        value = controller.raw(key)
        if isinstance(value, bool):
            found[key] = "yes" if value else "no"
        elif (text := controller.text(key)) is not None:
            found[key] = text
    return found


# hosts/<host>.json


def _read_hosts(path: Path, problems: list[Problem]) -> list[HostFacts]:
    hosts_dir = path / "hosts"
    if not hosts_dir.is_dir():
        problems.append(Problem("hosts/", "missing; the report has no host facts"))
        return []
    hosts = []
    for host_path in sorted(hosts_dir.glob("*.json")):
        file = f"hosts/{host_path.name}"
        data = read_json_object(host_path, file, problems)
        if data is not None:
            hosts.append(_read_host(Fields(data, file, problems), host_path.stem, file))
    return hosts


def _read_host(fields: Fields, default_name: str, file: str) -> HostFacts:
    python = fields.obj("python")
    return HostFacts(
        name=fields.text("host") or default_name,
        file=file,
        roles=fields.texts("roles") or (),
        hostname=fields.text("hostname"),
        cpu_model=fields.text("cpu_model"),
        cores=fields.integer("cores"),
        memory_mb=fields.integer("memory_mb"),
        kernel=fields.text("kernel"),
        os=fields.text("os"),
        instance_type=fields.text("instance_type"),
        python_version=python.text("version"),
        python_interpreter=python.text("interpreter"),
        pip_freeze=python.texts("pip_freeze"),
        node_version=fields.text("node_version"),
        loadtest_version=fields.text("loadtest_version"),
        redis_version=fields.text("redis_version"),
    )


# <setup>/latency/rep-<n>.json and <setup>/throughput/c<clients>/rep-<n>.json


def _setup_dirs(path: Path) -> list[str]:
    on_disk = [
        child.name
        for child in path.iterdir()
        if child.is_dir() and ((child / "latency").is_dir() or (child / "throughput").is_dir())
    ]
    return ordered_setups(on_disk) if on_disk else []


def _rep_files(path: Path, setup: str, problems: list[Problem]) -> list[tuple[TestKey, Path]]:
    found: list[tuple[TestKey, Path]] = []
    latency_dir = path / setup / "latency"
    if latency_dir.is_dir():
        found.extend((TestKey("latency"), rep) for rep in sorted(latency_dir.glob("*.json")))
    throughput_dir = path / setup / "throughput"
    if throughput_dir.is_dir():
        for clients_dir in sorted(throughput_dir.iterdir()):
            match = _CLIENTS_DIR.fullmatch(clients_dir.name)
            if not clients_dir.is_dir():
                continue
            if match is None:
                problems.append(
                    Problem(
                        f"{setup}/throughput/{clients_dir.name}/",
                        "not named c<clients>; ignored",
                        "warning",
                    )
                )
                continue
            test = TestKey("throughput", int(match.group(1)))
            found.extend((test, rep) for rep in sorted(clients_dir.glob("*.json")))
    return found


def _read_setup_reps(
    path: Path, setup: str, meta: RunMeta, problems: list[Problem], versions: dict[int, list[str]]
) -> list[RepResult]:
    reps = []
    for test, rep_path in _rep_files(path, setup, problems):
        file = rep_path.relative_to(path).as_posix()
        match = _REP_NAME.fullmatch(rep_path.name)
        if match is None:
            problems.append(Problem(file, "not named rep-<n>.json; ignored", "warning"))
            continue
        data = read_json_object(rep_path, file, problems)
        if data is None:
            continue
        fields = Fields(data, file, problems)
        _note_version(schema_version(fields, file, problems), file, versions)
        rep = _read_rep(fields, file, setup, test, int(match.group(1)), meta, problems)
        if rep is not None:
            reps.append(rep)
    return reps


def _check_identity(
    fields: Fields, file: str, setup: str, test: TestKey, rep: int, problems: list[Problem]
) -> None:
    """The path is authoritative; a file that says otherwise was probably copied around."""
    said = {
        "setup": fields.text("setup"),
        "test": fields.text("test"),
        "rep": fields.integer("rep"),
    }
    expected = {"setup": setup, "test": test.kind, "rep": rep}
    for key, value in said.items():
        if value is not None and value != expected[key]:
            problems.append(
                Problem(
                    file,
                    f"says {key} {value!r} but its path means {expected[key]!r}; the path is used",
                    "warning",
                )
            )


def _read_rep(
    fields: Fields,
    file: str,
    setup: str,
    test: TestKey,
    rep: int,
    meta: RunMeta,
    problems: list[Problem],
) -> RepResult | None:
    _check_identity(fields, file, setup, test, rep, problems)
    if not isinstance(fields.raw("loadtest"), dict):
        if fields.has("loadtest"):
            fields.wrong("loadtest", "an object")
        else:
            fields.missing("loadtest", "repetition left out")
        return None
    loadtest = fields.obj("loadtest")
    notes: list[str] = []
    histogram = _histogram(loadtest)
    total_requests = loadtest.integer("totalRequests")
    metrics = _latency_metrics(loadtest, histogram, total_requests, notes)
    achieved = _achieved_rps(fields, loadtest, total_requests, notes)
    if achieved is not None:
        metrics["achieved_rps"] = achieved
    if not metrics:
        problems.append(
            Problem(file, "no latency or rate numbers in loadtest; repetition left out")
        )
        return None
    plan = fields.obj("plan")
    requested = fields.number("requested_rps")
    if requested is None and test.kind == "latency":
        requested = plan.number("rps") or meta.plan.latency_rps
    total_errors = loadtest.integer("totalErrors") or 0
    generator_cpu = fields.obj("generator").number("cpu_percent_max")
    result = RepResult(
        setup=setup,
        test=test,
        rep=rep,
        file=file,
        metrics=metrics,
        total_requests=total_requests,
        total_errors=total_errors,
        error_codes=loadtest.count_map("errorCodes"),
        requested_rps=requested,
        generator_cpu_percent=generator_cpu,
        flags=(),
        valid=True,
        notes=tuple(notes),
    )
    return _with_flags(result, fields, file, problems)


def _histogram(loadtest: Fields) -> dict[int, int]:
    histogram = {}
    for key, count in loadtest.count_map("histogramMs").items():
        try:
            histogram[int(key)] = count
        except ValueError:
            loadtest.wrong("histogramMs", "keyed by whole milliseconds")
            return {}
    return histogram


def _latency_metrics(
    loadtest: Fields, histogram: dict[int, int], total_requests: int | None, notes: list[str]
) -> dict[str, float]:
    metrics: dict[str, float] = {}
    percentiles = loadtest.obj("percentiles")
    for percentile in _stats.LOADTEST_PERCENTILES:
        # loadtest writes false for a percentile it never reached; that is "unknown", not 0 ms.
        value = percentiles.raw(str(percentile))
        if isinstance(value, int | float) and not isinstance(value, bool):
            metrics[f"p{percentile}_ms"] = float(value)
        elif value not in (None, False):
            percentiles.wrong(str(percentile), "a number of milliseconds")
    missing = [p for p in _stats.LOADTEST_PERCENTILES if f"p{p}_ms" not in metrics]
    if missing and histogram:
        computed = _stats.percentiles_from_histogram(histogram, total_requests)
        for percentile in missing:
            if percentile in computed:
                metrics[f"p{percentile}_ms"] = computed[percentile]
        notes.append(
            "percentiles " + ", ".join(f"p{p}" for p in missing) + " computed from histogramMs"
        )
    mean = loadtest.number("meanLatencyMs")
    if mean is None and histogram:
        mean = _stats.mean_from_histogram(histogram)
        notes.append("mean latency computed from histogramMs")
    if mean is not None:
        metrics["mean_ms"] = mean
    return metrics


def _achieved_rps(
    fields: Fields, loadtest: Fields, total_requests: int | None, notes: list[str]
) -> float | None:
    achieved = fields.number("achieved_rps")
    if achieved is not None:
        return achieved
    seconds = loadtest.number("totalTimeSeconds")
    if total_requests is not None and seconds:
        notes.append("achieved rate computed as totalRequests / totalTimeSeconds")
        return total_requests / seconds
    effective = loadtest.number("effectiveRps")
    if effective is not None:
        notes.append("achieved rate taken from loadtest's effectiveRps")
    return effective


def _with_flags(rep: RepResult, fields: Fields, file: str, problems: list[Problem]) -> RepResult:
    if not fields.has("flags") and not fields.has("valid"):
        flags = derive_flags(rep)
        return _replace_flags(rep, flags, valid=not flags, flags_from="analysis")
    flags = fields.texts("flags") or ()
    valid = fields.boolean("valid")
    if valid is None:
        valid = not flags
    elif valid and flags:
        problems.append(
            Problem(
                file,
                f"valid is true but flags are set ({', '.join(flags)}); treated as flagged",
                "warning",
            )
        )
        valid = False
    return _replace_flags(rep, flags, valid=valid, flags_from="harness")


def _replace_flags(
    rep: RepResult, flags: tuple[str, ...], *, valid: bool, flags_from: FlagSource
) -> RepResult:
    return replace(rep, flags=flags, valid=valid, flags_from=flags_from)


def derive_flags(rep: RepResult) -> tuple[str, ...]:
    """The contract's flag rules, for reps written before the harness flagged them itself."""
    flags = []
    achieved = rep.metrics.get("achieved_rps")
    if (
        rep.test.kind == "latency"
        and rep.requested_rps
        and achieved is not None
        and achieved < RATE_SHORTFALL_SHARE * rep.requested_rps
    ):
        flags.append("rate_shortfall")
    if (
        rep.generator_cpu_percent is not None
        and rep.generator_cpu_percent > GENERATOR_SATURATED_PERCENT
    ):
        flags.append("generator_saturated")
    if rep.total_errors > 0:
        flags.append("errors")
    return tuple(flags)


def _missing_reps(meta: RunMeta, reps: list[RepResult]) -> list[Problem]:
    """Reps the plan asked for, of setups the run says it completed, that are not on disk."""
    if meta.setups_completed is None or not meta.plan.repetitions:
        return []
    expected_tests = []
    if meta.plan.latency_rps is not None:
        expected_tests.append(TestKey("latency"))
    expected_tests.extend(
        TestKey("throughput", clients) for clients in meta.plan.throughput_clients
    )
    present = Counter((rep.setup, rep.test, rep.rep) for rep in reps)
    problems = []
    for setup in meta.setups_completed:
        for test in expected_tests:
            for number in range(1, meta.plan.repetitions + 1):
                if (setup, test, number) not in present:
                    problems.append(_missing_rep_problem(setup, test, number, meta))
    return problems


def _missing_rep_problem(setup: str, test: TestKey, number: int, meta: RunMeta) -> Problem:
    file = f"{setup}/{test.path}/rep-{number}.json"
    return Problem(
        file,
        f"missing: the plan asks for {meta.plan.repetitions} repetitions and run.json "
        f"lists {setup} as completed",
    )
