"""Read a results directory (docs/results-contract.md, schema 1 or 2) into a Run.

Nothing here raises on a damaged file: every problem is recorded with the file and the key, and
the rest of the run is read. Only a path that is no run at all raises RunReadError.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

from module_utils import channels_bench_rules as rules

from . import _flags, _hdr, _seed
from . import _metrics as m
from ._fields import SUPPORTED_SCHEMA_VERSION, Fields, read_json_object, schema_version
from ._model import (
    TEST_KINDS,
    ConnectStep,
    FlagSource,
    HostFacts,
    Plan,
    Problem,
    Reference,
    RepResult,
    Run,
    RunMeta,
    Setup,
    TestKey,
    Timeline,
    parse_setup_name,
)

_REP_NAME = re.compile(r"rep-(\d+)\.json")
_REFERENCE_NAME = re.compile(r"reference-(\d+)\.json")
_CLIENTS_DIR = re.compile(r"c(\d+)")
_SWEEP_DIR = re.compile(r"(?P<kind>[rf])(?P<value>\d+(?:\.\d+)?(?:e[-+]?\d+)?)")
# What schema 1 called the stack when run.json does not say: the seed's.
DEFAULT_STACK = "2016"


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
    meta, catalogue = _read_meta(path, problems, versions)
    setups = _setup_table(path, meta, catalogue)
    if not (path / "run.json").exists() and not any((path / s.directory).is_dir() for s in setups):
        raise RunReadError(
            f"{path}: not a run directory: it has neither run.json nor any setup directory "
            "with results (<stack>/<setup>/latency, throughput, sweep or ws-*)"
        )
    hosts = _read_hosts(path, problems)
    reps: list[RepResult] = []
    references: list[Reference] = []
    for setup in setups:
        found_reps, found_references = _read_setup(path, setup, meta, problems, versions)
        reps += found_reps
        references += found_references
    already_reported = {problem.file for problem in problems}
    problems += [p for p in _missing_reps(meta, setups, reps) if p.file not in already_reported]
    problems += _version_warnings(versions)
    return Run(
        path=path,
        meta=meta,
        setup_table=setups,
        hosts=hosts,
        reps=reps,
        references=references,
        problems=problems,
    )


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
                f"({SUPPORTED_SCHEMA_VERSION}); the fields it knows are read, others ignored "
                f"({shown})",
                "warning",
            )
        )
    return warnings


# run.json


def _read_meta(
    path: Path, problems: list[Problem], versions: dict[int, list[str]]
) -> tuple[RunMeta, dict[str, Fields]]:
    file = "run.json"
    data = read_json_object(path / file, file, problems)
    if data is None:
        return RunMeta(run_id=path.name), {}
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
    stack_name = stack.text("name")
    default_stack = stack_name or DEFAULT_STACK
    pin_fields = stack.obj("pins")
    placement = fields.obj("placement")
    failed = fields.obj("setups_failed")
    catalogue = fields.obj("catalogue")

    def named(names: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return None if names is None else tuple(_full_name(n, default_stack) for n in names)

    meta = RunMeta(
        run_id=fields.text("run_id") or path.name,
        schema_version=version,
        started_at=fields.text("started_at"),
        ended_at=fields.text("ended_at"),
        status=fields.text("status"),
        failed_stage=fields.text("failed_stage"),
        failure=fields.text("failure"),
        setups=named(fields.texts("setups")) or (),
        setups_completed=named(fields.texts("setups_completed")),
        setups_failed={
            _full_name(name, default_stack): failed.text(name) or "failed"
            for name in failed.names()
        },
        stack_name=stack_name,
        pins={n: pin for n in pin_fields.names() if (pin := pin_fields.text(n)) is not None},
        plan=_read_plan(fields.obj("plan")),
        order_kind=fields.obj("order").text("kind"),
        inventory=fields.text("inventory"),
        topology=_read_topology(fields.obj("topology")),
        placement={key: placement.text(key) for key in placement.names()},
        controller=_read_controller(fields.obj("controller")),
    )
    rows = {name: catalogue.obj(name) for name in catalogue.names()}
    return meta, rows


def _full_name(name: str, default_stack: str) -> str:
    """Schema 1 names a setup bare (`<setup>`); schema 2 as `<stack>/<setup>[@variant]`."""
    return name if parse_setup_name(name) else f"{default_stack}/{name}"


def _read_plan(plan: Fields) -> Plan:
    latency = plan.obj("latency")
    throughput = plan.obj("throughput")
    sweep = plan.obj("sweep")
    reference = plan.obj("reference")
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
        reference_tool=reference.text("tool"),
        sweep_rps=sweep.numbers("rps") or (),
        sweep_fractions=sweep.numbers("fractions") or (),
        sweep_duration_s=sweep.number("duration_s"),
        websocket=plan.raw("websocket") not in (None, False, {}, []),
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


# Setups: run.json's order, the catalogue, and what is on disk


def _is_setup_dir(path: Path) -> bool:
    return path.is_dir() and any((path / kind).is_dir() for kind in TEST_KINDS)


def _on_disk(path: Path) -> list[tuple[str, str]]:
    """(name-or-bare, directory) of every directory holding results: schema 1 puts them right
    under the run, schema 2 one level down (<stack>/<setup>)."""
    found = []
    for child in sorted(p for p in path.iterdir() if p.is_dir() and p.name != "hosts"):
        if _is_setup_dir(child):
            found.append((child.name, child.name))
            continue
        found += [
            (f"{child.name}/{grand.name}", f"{child.name}/{grand.name}")
            for grand in sorted(child.iterdir())
            if _is_setup_dir(grand)
        ]
    return found


def _setup_table(path: Path, meta: RunMeta, catalogue: dict[str, Fields]) -> list[Setup]:
    default_stack = meta.stack_name or DEFAULT_STACK
    directories: dict[str, str] = {}
    for raw, directory in _on_disk(path):
        directories.setdefault(_full_name(raw, default_stack), directory)
    order = [
        *meta.setups,
        *(_full_name(name, default_stack) for name in catalogue),
        *meta.setups_failed,
        *directories,
    ]
    setups = []
    for name in dict.fromkeys(order):
        parsed = parse_setup_name(name)
        if parsed is None:
            continue
        directory = directories.get(name) or (name if meta.schema_version >= 2 else parsed[1])
        row = catalogue.get(name)
        setups.append(_setup(name, directory, parsed, row))
    return setups


def _setup(
    name: str, directory: str, parsed: tuple[str, str, str | None], row: Fields | None
) -> Setup:
    stack, setup, variant = parsed
    if row is None:
        # Runs before the catalogue measured the seed's setups only; the seed module says what
        # they were. Any other setup stays undescribed.
        known = _seed.SEED_SETUPS.get(name) if variant is None else None
        return Setup(
            name=name,
            directory=directory,
            stack=stack,
            setup=setup,
            variant=variant,
            description=known.description if known else None,
            role=known.role if known else None,
        )
    pins = row.obj("pins")
    return Setup(
        name=name,
        directory=directory,
        stack=row.text("stack") or stack,
        setup=row.text("setup") or setup,
        variant=row.text("variant") or variant,
        description=row.text("description"),
        role=row.text("role"),
        pins={k: v for k in pins.names() if (v := pins.text(k)) is not None},
        python=row.text("python"),
        from_catalogue=True,
    )


# hosts/<host>.json


def _read_hosts(path: Path, problems: list[Problem]) -> list[HostFacts]:
    hosts_dir = path / "hosts"
    if not hosts_dir.is_dir():
        problems.append(Problem("hosts/", "missing; the report has no host facts", "warning"))
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
        wrk_version=fields.text("wrk_version"),
        redis_version=fields.text("redis_version"),
    )


# The files of one setup


def _sweep_key(name: str) -> TestKey | None:
    match = _SWEEP_DIR.fullmatch(name)
    if match is None:
        return None
    value = float(match["value"])
    return (
        TestKey("sweep", rate=value) if match["kind"] == "r" else TestKey("sweep", fraction=value)
    )


def _test_dirs(base: Path, relative: str, problems: list[Problem]) -> list[tuple[TestKey, Path]]:
    found: list[tuple[TestKey, Path]] = []
    for kind in TEST_KINDS:
        directory = base / kind
        if not directory.is_dir():
            continue
        if kind not in ("throughput", "sweep"):
            found.append((TestKey(kind), directory))
            continue
        for child in sorted(p for p in directory.iterdir() if p.is_dir()):
            if kind == "throughput" and (match := _CLIENTS_DIR.fullmatch(child.name)):
                found.append((TestKey("throughput", int(match.group(1))), child))
            elif kind == "sweep" and (key := _sweep_key(child.name)) is not None:
                found.append((key, child))
            else:
                expected = "c<clients>" if kind == "throughput" else "r<rate> or f<fraction>"
                problems.append(
                    Problem(
                        f"{relative}/{kind}/{child.name}/",
                        f"not named {expected}; ignored",
                        "warning",
                    )
                )
    return found


def _read_setup(
    path: Path, setup: Setup, meta: RunMeta, problems: list[Problem], versions: dict[int, list[str]]
) -> tuple[list[RepResult], list[Reference]]:
    base = path / setup.directory
    if not base.is_dir():
        return [], []
    reps: list[RepResult] = []
    references: list[Reference] = []
    for test, directory in _test_dirs(base, setup.directory, problems):
        for file_path in sorted(directory.glob("*.json")):
            file = file_path.relative_to(path).as_posix()
            reference = _REFERENCE_NAME.fullmatch(file_path.name)
            if reference and test.kind == "throughput":
                found = _read_reference(
                    file_path, file, setup.name, test, int(reference[1]), problems
                )
                references += [found] if found else []
                continue
            match = _REP_NAME.fullmatch(file_path.name)
            if match is None:
                problems.append(Problem(file, "not named rep-<n>.json; ignored", "warning"))
                continue
            data = read_json_object(file_path, file, problems)
            if data is None:
                continue
            fields = Fields(data, file, problems)
            _note_version(schema_version(fields, file, problems), file, versions)
            rep = _read_rep(data, fields, file, setup, test, int(match.group(1)), meta, problems)
            if rep is not None:
                reps.append(rep)
    return reps, references


def _read_reference(
    file_path: Path, file: str, setup: str, test: TestKey, index: int, problems: list[Problem]
) -> Reference | None:
    data = read_json_object(file_path, file, problems)
    if data is None:
        return None
    fields = Fields(data, file, problems)
    errors = fields.obj("errors")
    latency = fields.obj("latency_ms")
    return Reference(
        setup=setup,
        clients=fields.integer("clients") or test.clients or 0,
        index=index,
        file=file,
        rps=fields.number("rps"),
        requests=fields.integer("requests"),
        errors=int(sum(errors.number(k) or 0 for k in errors.names())),
        tool=fields.text("tool"),
        version=fields.text("version"),
        latency_ms={k: v for k in latency.names() if (v := latency.number(k)) is not None},
    )


def _check_identity(
    fields: Fields, file: str, setup: Setup, test: TestKey, rep: int, problems: list[Problem]
) -> None:
    """The path is authoritative; a file that says otherwise was probably copied around."""
    said = {
        "setup": fields.text("setup"),
        "test": fields.text("test"),
        "rep": fields.integer("rep"),
    }
    accepted: dict[str, tuple[object, ...]] = {
        "setup": (setup.name, setup.directory),
        "test": (test.kind,),
        "rep": (rep,),
    }
    for key, value in said.items():
        if value is not None and value not in accepted[key]:
            problems.append(
                Problem(
                    file,
                    f"says {key} {value!r} but its path means {accepted[key][0]!r}; "
                    "the path is used",
                    "warning",
                )
            )


def _read_rep(
    record: dict[str, Any],
    fields: Fields,
    file: str,
    setup: Setup,
    test: TestKey,
    rep: int,
    meta: RunMeta,
    problems: list[Problem],
) -> RepResult | None:
    _check_identity(fields, file, setup, test, rep, problems)
    notes: list[str] = []
    loadtest = fields.obj("loadtest")
    harness = fields.obj("harness")
    if not test.websocket and not loadtest.names() and not harness.names():
        fields.missing("loadtest", "repetition left out (nor has it the harness's numbers)")
        return None
    metrics: dict[str, float] = {}
    histograms: dict[str, str] = {}
    if loadtest.names():
        metrics.update(_loadtest_metrics(loadtest, notes))
    metrics.update(_histogram_metrics(harness.obj("histograms"), file, histograms, notes, problems))
    metrics.update(_message_metrics(fields, harness))
    enriched = dict(record)
    achieved = _achieved_rps(fields, loadtest, notes)
    if achieved is not None:
        metrics[m.ACHIEVED_RPS] = achieved
        enriched.setdefault("achieved_rps", achieved)
    requested = _requested_rps(fields, test, meta)
    if requested is not None:
        enriched.setdefault("requested_rps", requested)
    reference = fields.obj("reference").number("rps")
    if reference and achieved is not None:
        metrics[m.REFERENCE_SHARE] = achieved / reference * 100
    steps = _connect_steps(fields, harness) if test.kind == "ws-connect" else ()
    if not metrics and not steps:
        if not fields.has("loadtest") and not fields.has("harness"):
            fields.missing("loadtest", "repetition left out")
        else:
            problems.append(
                Problem(file, "no latency, rate or message numbers; repetition left out")
            )
        return None
    flags, valid, flags_from = _flags_of(enriched, fields, file, problems)
    totals = _totals(fields, loadtest, harness)
    return RepResult(
        setup=setup.name,
        test=test,
        rep=rep,
        file=file,
        metrics=metrics,
        histograms=histograms,
        total_requests=totals[0],
        total_errors=totals[1],
        error_codes=totals[2],
        requested_rps=requested,
        flags=flags,
        valid=valid,
        flags_from=flags_from,
        flag_details=_flags.describe_all(enriched, flags),
        notes=tuple(notes),
        duration_s=fields.obj("plan").number("duration_s"),
        timeline=_timeline(harness.obj("timeline")),
        reference_rps=reference,
        capacity_rps=fields.number("capacity_rps") or fields.obj("plan").number("capacity_rps"),
        steps=steps,
    )


def _loadtest_metrics(loadtest: Fields, notes: list[str]) -> dict[str, float]:
    """loadtest's own numbers; percentiles it wrote as false (never reached) or that are missing
    are computed from its histogram with its own rule (the rule book)."""
    metrics: dict[str, float] = {}
    histogram = _histogram_ms(loadtest)
    total = loadtest.integer("totalRequests")
    if total is None and histogram:
        total = sum(histogram.values())
    percentiles = loadtest.obj("percentiles")
    missing = []
    for p in rules.LOADTEST_PERCENTILES:
        value = percentiles.raw(str(p))
        if isinstance(value, int | float) and not isinstance(value, bool):
            metrics[m.metric(m.LOADTEST, f"p{p}")] = float(value)
            continue
        if value not in (None, False):
            percentiles.wrong(str(p), "a number of milliseconds")
        missing.append(p)
    if missing and histogram and total:
        computed = rules.loadtest_percentiles(histogram, total)
        for p in missing:
            value = computed[str(p)]
            if value is not False:
                metrics[m.metric(m.LOADTEST, f"p{p}")] = float(value)
        notes.append(
            "loadtest percentiles "
            + ", ".join(f"p{p}" for p in missing)
            + " computed from histogramMs with loadtest's rule"
        )
    mean = loadtest.number("meanLatencyMs")
    if mean is None and histogram and total:
        mean = rules.loadtest_mean_ms(sum(ms * n for ms, n in histogram.items()), total)
        notes.append("loadtest mean latency computed from histogramMs")
    if mean is not None:
        metrics[m.metric(m.LOADTEST, "mean")] = mean
    highest = loadtest.number("maxLatencyMs")
    if highest is not None:
        metrics[m.metric(m.LOADTEST, "max")] = highest
    return metrics


def _histogram_ms(loadtest: Fields) -> dict[int, int]:
    histogram = {}
    for key, count in loadtest.count_map("histogramMs").items():
        try:
            histogram[int(key)] = count
        except ValueError:
            loadtest.wrong("histogramMs", "keyed by whole milliseconds")
            return {}
    return histogram


def _histogram_metrics(
    histograms: Fields,
    file: str,
    encoded: dict[str, str],
    notes: list[str],
    problems: list[Problem],
) -> dict[str, float]:
    """Every HdrHistogram of the harness, decoded and read exactly (microseconds -> ms). A
    histogram that cannot be decoded falls back to the numbers written beside it."""
    metrics: dict[str, float] = {}
    for name in histograms.names():
        entry = histograms.obj(name)
        text = entry.raw("encoded")
        summary: dict[str, float] = {}
        if isinstance(text, str) and text:
            try:
                found = _hdr.distribution(_hdr.decode(text))
            except _hdr.HdrError as error:
                problems.append(
                    Problem(
                        file,
                        f"harness.histograms.{name}.encoded cannot be decoded ({error}); "
                        "the numbers written beside it are used",
                        "warning",
                    )
                )
            else:
                encoded[name] = text
                summary = found.summary_us()
                summary["count"] = found.total
                written = entry.number("count")
                if written is not None and written != found.total:
                    problems.append(
                        Problem(
                            file,
                            f"harness.histograms.{name} holds {found.total} values but "
                            f"says count {written:g}",
                            "warning",
                        )
                    )
        if not summary:
            summary = _hdr.summary_from_fields({k: entry.raw(k) for k in entry.names()})
            if summary:
                notes.append(f"{name}: no decodable histogram; the harness's written summary used")
        for key, value in summary.items():
            if key in ("count",):
                metrics[m.metric(name, "count")] = value
            elif key != "min":
                metrics[m.metric(name, f"p{key}" if key[0].isdigit() else key)] = value / 1000.0
    return metrics


def _message_metrics(fields: Fields, harness: Fields) -> dict[str, float]:
    """WebSocket message counts, wherever the document keeps them (harness.messages or
    messages); the share lost is computed when the counts allow it."""
    messages = harness.obj("messages") if harness.has("messages") else fields.obj("messages")
    metrics = {}
    for key in ("sent", "expected", "received", "lost", "duplicated", "out_of_order", "errors"):
        value = messages.number(key)
        if value is not None:
            metrics[m.metric("messages", key)] = value
    expected = metrics.get("messages:expected", metrics.get("messages:sent"))
    if "messages:lost" in metrics and expected:
        metrics["messages:loss_share"] = metrics["messages:lost"] / expected * 100
    return metrics


def _connect_steps(fields: Fields, harness: Fields) -> tuple[ConnectStep, ...]:
    entries = harness.objects("steps") if harness.has("steps") else fields.objects("steps")
    steps = []
    previous_connections = 0
    for entry in entries:
        handshake = _step_handshake(entry.obj("handshake"))
        connections = entry.integer("connections")
        # wsbench writes held_at_end and failed; "held" and "failures" are read as well.
        held = entry.integer("held_at_end") if entry.has("held_at_end") else entry.integer("held")
        steps.append(
            ConnectStep(
                connections=connections,
                held=held,
                failures=(
                    entry.integer("failed") if entry.has("failed") else entry.integer("failures")
                ),
                handshake_p50_ms=handshake.get("50"),
                handshake_p99_ms=handshake.get("99"),
                memory_per_connection_kb=_memory_per_connection(
                    entry, held or connections, previous_connections
                ),
            )
        )
        previous_connections = held or connections or previous_connections
    return tuple(steps)


def _step_handshake(entry: Fields) -> dict[str, float]:
    text = entry.raw("encoded")
    if isinstance(text, str) and text:
        try:
            found = _hdr.distribution(_hdr.decode(text)).summary_us()
        except _hdr.HdrError:
            found = {}
        if found:
            return {k: v / 1000 for k, v in found.items()}
    written = _hdr.summary_from_fields({k: entry.raw(k) for k in entry.names()})
    return {k: v / 1000 for k, v in written.items()}


def _memory_per_connection(entry: Fields, held: int | None, previous: int) -> float | None:
    given = entry.number("server_rss_kb_per_connection")
    if given is not None:
        return given
    rss = entry.obj("server_rss_kb")
    before, after = rss.number("before"), rss.number("after")
    added = (held or 0) - previous
    if before is None or after is None or added <= 0:
        return None
    return (after - before) / added


def _achieved_rps(fields: Fields, loadtest: Fields, notes: list[str]) -> float | None:
    # A WebSocket rep's rate is messages/s (achieved_rate), an HTTP rep's requests/s.
    achieved = (
        fields.number("achieved_rps")
        if fields.has("achieved_rps")
        else (fields.number("achieved_rate"))
    )
    if achieved is not None:
        return achieved
    total = loadtest.integer("totalRequests")
    seconds = loadtest.number("totalTimeSeconds")
    if total is not None and seconds:
        notes.append("achieved rate computed as totalRequests / totalTimeSeconds")
        return total / seconds
    effective = loadtest.number("effectiveRps")
    if effective is not None:
        notes.append("achieved rate taken from loadtest's effectiveRps")
    return effective


def _requested_rps(fields: Fields, test: TestKey, meta: RunMeta) -> float | None:
    requested = (
        fields.number("requested_rps")
        if fields.has("requested_rps")
        else (fields.number("requested_rate"))
    )
    if requested is not None or not test.fixed_rate:
        return requested
    planned = fields.obj("plan").number("rps")
    if planned is not None:
        return planned
    if test.kind == "sweep" and test.rate is not None:
        return test.rate
    return meta.plan.latency_rps if test.kind == "latency" else None


def _totals(
    fields: Fields, loadtest: Fields, harness: Fields
) -> tuple[int | None, int, dict[str, int]]:
    requests = harness.obj("requests")
    if requests.names():
        return (
            requests.integer("completed"),
            requests.integer("errors") or 0,
            requests.count_map("error_codes"),
        )
    return (
        loadtest.integer("totalRequests"),
        loadtest.integer("totalErrors") or 0,
        loadtest.count_map("errorCodes"),
    )


def _timeline(timeline: Fields) -> Timeline | None:
    bin_s = timeline.number("bin_s")
    completed = timeline.integers("completed")
    if not bin_s or bin_s <= 0 or completed is None:
        return None
    return Timeline(bin_s=bin_s, completed=completed, errors=timeline.integers("errors") or ())


def _flags_of(
    record: dict[str, Any], fields: Fields, file: str, problems: list[Problem]
) -> tuple[tuple[str, ...], bool, FlagSource]:
    if not fields.has("flags") and not fields.has("valid"):
        flags = tuple(rules.flags(record))
        return flags, not flags, "analysis"
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
    return flags, valid, "harness"


def _missing_reps(meta: RunMeta, setups: list[Setup], reps: list[RepResult]) -> list[Problem]:
    """Reps the plan asked for, of setups the run says it completed, that are not on disk."""
    if meta.setups_completed is None or not meta.plan.repetitions:
        return []
    plan = meta.plan
    repetitions = plan.repetitions or 0
    expected = [TestKey("latency")] if plan.latency_rps is not None else []
    expected += [TestKey("throughput", clients) for clients in plan.throughput_clients]
    expected += [TestKey("sweep", rate=rate) for rate in plan.sweep_rps]
    expected += [TestKey("sweep", fraction=fraction) for fraction in plan.sweep_fractions]
    present = Counter((rep.setup, rep.test, rep.rep) for rep in reps)
    directories = {setup.name: setup.directory for setup in setups}
    problems = []
    for setup in meta.setups_completed:
        for test in expected:
            for number in range(1, repetitions + 1):
                if (setup, test, number) not in present:
                    file = f"{directories.get(setup, setup)}/{test.path}/rep-{number}.json"
                    problems.append(
                        Problem(
                            file,
                            f"missing: the plan asks for {plan.repetitions} repetitions and "
                            f"run.json lists {setup} as completed",
                        )
                    )
    return problems
