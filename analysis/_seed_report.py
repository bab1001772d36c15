"""The seed, like for like: each figure the seed published next to the same test and the same
statistic of this run, with the ratio and what is known to differ."""

from __future__ import annotations

from dataclasses import dataclass

from . import _metrics as m
from . import _seed, _stats, _timeline
from ._format import markdown_table, number, spread_text
from ._model import LATENCY_TEST, Run, TestKey
from ._summary import TestSummary, closed_loop_clients, find


@dataclass(frozen=True)
class LatencyRow:
    setup: str
    percentile: str  # "50", "90", "95", "99"
    seed_ms: float
    run: _stats.Spread | None  # loadtest's percentile line, the seed's statistic
    exact: _stats.Spread | None  # the harness's corrected percentile, for reference
    saturated_at: float | None
    reps_text: str


@dataclass(frozen=True)
class ClosedLoopRow:
    setup: str
    clients: int | None
    seed_rps: float
    seed_rps_last: float
    seed_series: _seed.SeedSeries
    run_rate: _stats.Spread | None
    run_bins: _stats.Spread | None  # requests per full 5-s interval, every valid rep
    seed_latency_ms: float
    run_mean: _stats.Spread | None  # loadtest's mean, the seed's likely statistic
    exact_mean: _stats.Spread | None  # the harness's mean (uncorrected: closed loop)
    reps_text: str

    @property
    def run_rps(self) -> float | None:
        return self.run_rate.median if self.run_rate else None

    @property
    def run_mean_ms(self) -> float | None:
        return self.run_mean.median if self.run_mean else None


def _in_run(run: Run, setup: str) -> bool:
    return setup in run.setups()


def latency_rows(run: Run, summaries: list[TestSummary]) -> list[LatencyRow]:
    rows = []
    for setup, figures in _seed.LATENCY_PERCENTILES_MS.items():
        summary = find(summaries, setup, LATENCY_TEST) if _in_run(run, setup) else None
        for percentile, seed_ms in figures.items():
            saturated = summary is not None and summary.saturated
            usable = summary is not None and not saturated
            rows.append(
                LatencyRow(
                    setup=setup,
                    percentile=percentile,
                    seed_ms=seed_ms,
                    run=summary.metrics.get(m.metric(m.LOADTEST, f"p{percentile}"))
                    if usable and summary
                    else None,
                    exact=summary.metrics.get(m.metric(m.CORRECTED, f"p{percentile}"))
                    if usable and summary
                    else None,
                    saturated_at=summary.saturated_at if summary and saturated else None,
                    reps_text=summary.reps_text if summary else "not in this run",
                )
            )
    return rows


def closed_loop_rows(
    run: Run, summaries: list[TestSummary], bin_s: float = _seed.THROUGHPUT_BIN_S
) -> list[ClosedLoopRow]:
    clients = closed_loop_clients(summaries, _seed.CLIENTS)
    rows = []
    for setup, series in _seed.THROUGHPUT_PER_5S.items():
        summary = (
            find(summaries, setup, TestKey("throughput", clients))
            if clients and _in_run(run, setup)
            else None
        )
        bins = _bins(summary, _seed.THROUGHPUT_BIN_S) if summary else []
        rows.append(
            ClosedLoopRow(
                setup=setup,
                clients=clients if summary else None,
                seed_rps=series.rps_first,
                seed_rps_last=series.rps_last,
                seed_series=series,
                run_rate=summary.metrics.get(m.ACHIEVED_RPS) if summary else None,
                run_bins=_stats.spread(bins) if bins else None,
                seed_latency_ms=_seed.CLOSED_LOOP_LATENCY_MS[setup],
                run_mean=summary.metrics.get(m.metric(m.LOADTEST, "mean")) if summary else None,
                exact_mean=summary.metrics.get(m.metric(m.UNCORRECTED, "mean"))
                if summary
                else None,
                reps_text=summary.reps_text if summary else "not in this run",
            )
        )
    return rows


def _bins(summary: TestSummary, bin_s: float) -> list[float]:
    try:
        series = _timeline.series(summary, bin_s)
    except _timeline.BinError:
        return []
    return [float(value) for bins in series.per_rep for value in bins]


# What is known to differ


@dataclass(frozen=True)
class Difference:
    aspect: str
    seed: str
    run: str
    differs: bool


def _target(run: Run) -> str:
    hosts = run.hosts_with_role("target")
    if not hosts:
        return "not recorded"
    host = hosts[0]
    memory = f", {host.memory_mb / 1024:.0f} GiB" if host.memory_mb else ""
    kind = host.instance_type or "local machine"
    return f"{kind}: {host.cores or '?'} cores, {host.cpu_model or 'CPU unknown'}{memory}"


def _server_cpus(run: Run) -> str:
    placement = run.meta.placement
    cores = next((h.cores for h in run.hosts_with_role("target") if h.cores), None)
    if placement.get("server_cpus"):
        return f"CPU {placement['server_cpus']} of {cores or '?'} (pinned)"
    if not placement:
        return "not recorded"
    return f"all {cores or '?'} cores, not pinned"


def _colocated(run: Run) -> bool:
    topology = run.meta.topology
    return bool(set(topology.get("source", ())) & set(topology.get("target", ())))


def _loadtest_version(run: Run) -> str:
    versions = sorted(
        {h.loadtest_version for h in run.hosts_with_role("source") if h.loadtest_version}
    )
    return ", ".join(versions) or "not recorded"


def _pins(run: Run, setup: str) -> dict[str, str]:
    info = run.setup_info(setup)
    return info.pins if info and info.pins else run.meta.pins


def _versions(run: Run, setup: str) -> Difference:
    pins = _pins(run, setup)
    wanted = _seed.SEED_SETUPS[setup].versions
    seed = ", ".join(f"{package} {version}" for package, version in wanted.items())
    here = ", ".join(f"{package} {pins.get(package, '?')}" for package in wanted)
    differs = any(pins.get(package) != version for package, version in wanted.items())
    return Difference("versions", seed, here, differs)


def differences(run: Run, test: str, setup: str, clients: int | None = None) -> list[Difference]:
    """Everything known to differ between the seed's test and this run's, for one setup."""
    plan = run.meta.plan
    source_machine = _seed.LATENCY_SOURCE if test == "latency" else _seed.THROUGHPUT_SOURCE
    seed_target = _seed.LATENCY_TARGET
    found = [
        Difference(
            "target",
            f"{seed_target.instance_type}: {seed_target.vcpus} vCPU, {seed_target.cpu}, "
            f"{seed_target.memory_gib:g} GiB",
            _target(run),
            True,
        ),
        Difference("server CPUs", f"all {seed_target.vcpus} vCPU", _server_cpus(run), True),
        Difference(
            "load generator",
            f"own host, {source_machine.instance_type} ({source_machine.vcpus} vCPU)",
            "same host as the server" if _colocated(run) else "own host",
            _colocated(run),
        ),
        Difference(
            "loadtest",
            _seed.LOADTEST_VERSION,
            _loadtest_version(run),
            not _loadtest_version(run).startswith("1."),
        ),
        Difference("keep-alive", "off", _onoff(plan.keepalive), plan.keepalive is not False),
        Difference("repetitions", "several, count not published", number(plan.repetitions), True),
    ]
    if test == "latency":
        rate = run.latency_rps()
        found.append(
            Difference(
                "rate",
                f"{_seed.LATENCY_RPS} req/s",
                f"{number(rate)} req/s",
                rate != _seed.LATENCY_RPS,
            )
        )
        found.append(
            Difference(
                "duration",
                "not published (the fabfile ran -t 90)",
                f"{number(plan.latency_duration_s)} s",
                True,
            )
        )
    else:
        found.append(
            Difference("clients", str(_seed.CLIENTS), number(clients), clients != _seed.CLIENTS)
        )
        found.append(
            Difference(
                "duration",
                "1 min charted (the fabfile ran -t 90)",
                f"{number(plan.throughput_duration_s)} s",
                True,
            )
        )
    found.append(_versions(run, setup))
    return found


def _onoff(value: bool | None) -> str:
    return "not recorded" if value is None else ("on" if value else "off")


def _differs_in(found: list[Difference]) -> str:
    return ", ".join(d.aspect for d in found if d.differs) or "nothing recorded"


def _ratio(run_value: float | None, seed_value: float) -> str:
    return "n/a" if run_value is None or not seed_value else f"{run_value / seed_value:.2f}x"


# Markdown


def seed_markdown(
    run: Run,
    summaries: list[TestSummary],
    heading: str = "##",
    bin_s: float = _seed.THROUGHPUT_BIN_S,
) -> str:
    lines = [
        f"{heading} Next to the seed ({_seed.SEED_DATE}), like for like",
        "",
        f"Source: {_seed.CITATION}. Repetitions in the seed: {_seed.REPETITIONS}. Each seed "
        "figure stands next to the same test and the same statistic of this run (median over "
        "valid repetitions, min-max in brackets); `run / seed` is the ratio of the two.",
        "",
    ]
    if not any(_in_run(run, setup) for setup in _seed.SEED_SETUPS):
        return "\n".join([*lines, "This run measured none of the seed's setups.", ""])
    lines += _latency_part(run, summaries, heading)
    lines += _closed_loop_part(run, summaries, heading)
    return "\n".join(lines) + "\n"


def _latency_part(run: Run, summaries: list[TestSummary], heading: str) -> list[str]:
    rows = []
    for row in latency_rows(run, summaries):
        if row.saturated_at is not None:
            value = f"saturated at {row.saturated_at:,.0f} req/s: no latency"
        else:
            value = spread_text(row.run, 0) if row.run else row.reps_text
        rows.append(
            [
                row.setup,
                f"p{row.percentile}",
                f"{row.seed_ms:g}",
                value,
                _ratio(row.run.median if row.run else None, row.seed_ms),
                spread_text(row.exact, 2) if row.exact else "n/a",
                row.reps_text,
                _differs_in(differences(run, "latency", row.setup)),
            ]
        )
    table = markdown_table(
        [
            "setup",
            "percentile",
            "seed (ms)",
            "this run, loadtest's rule (ms)",
            "run / seed",
            "this run, exact corrected (ms)",
            "reps",
            "differs in",
        ],
        rows,
    )
    return [
        f"{heading}# 1. Latency at {_seed.LATENCY_RPS} req/s: loadtest's percentile lines",
        "",
        f"{_seed.LATENCY_CHART} Same statistic: loadtest's percentile rule on whole "
        "milliseconds. The harness's exact percentile, timed from the scheduled send, is given "
        "beside it.",
        "",
        table,
        "",
        *_difference_list(run, "latency"),
    ]


def _closed_loop_part(run: Run, summaries: list[TestSummary], heading: str) -> list[str]:
    rows = closed_loop_rows(run, summaries)
    clients = next((row.clients for row in rows if row.clients), None)
    rate_rows, latency_rows_ = [], []
    for row in rows:
        found = differences(run, "throughput", row.setup, row.clients)
        series = row.seed_series
        seed_bins = (
            f"{series.low:,.0f}-{series.high:,.0f}, {series.shape}"
            if series.shape == "flat"
            else f"{series.first:,.0f} falling to {series.last:,.0f}"
        )
        seed_rate = (
            f"{row.seed_rps:,.0f}"
            if row.seed_rps == row.seed_rps_last
            else f"{row.seed_rps:,.0f} falling to {row.seed_rps_last:,.0f}"
        )
        rate_rows.append(
            [
                row.setup,
                seed_rate,
                spread_text(row.run_rate, 0) if row.run_rate else row.reps_text,
                _ratio(row.run_rps, row.seed_rps),
                seed_bins,
                spread_text(row.run_bins, 0) if row.run_bins else "no full 5-s interval",
                _differs_in(found),
            ]
        )
        latency_rows_.append(
            [
                row.setup,
                f"{row.seed_latency_ms:g}",
                spread_text(row.run_mean, 1) if row.run_mean else row.reps_text,
                _ratio(row.run_mean_ms, row.seed_latency_ms),
                spread_text(row.exact_mean, 2) if row.exact_mean else "n/a",
                _differs_in(found),
            ]
        )
    which = (
        f"this run's client count closest to the seed's {_seed.CLIENTS} is **{clients}**"
        if clients
        else "this run has no closed-loop test"
    )
    return [
        f"{heading}# 2. Closed-loop throughput (loadtest throttling itself)",
        "",
        f"The seed ran 10 clients without keep-alive; {which}. The seed's chart counts requests "
        "per 5-s interval over one minute (read off to +-100); this run's are the full 5-s "
        "intervals of its measured part, every valid rep (median, min-max).",
        "",
        markdown_table(
            [
                "setup",
                "seed (req/s)",
                "this run (req/s)",
                "run / seed",
                "seed per 5 s",
                "this run per 5 s",
                "differs in",
            ],
            rate_rows,
        ),
        "",
        f"{heading}# 3. Latency during the closed-loop test: the seed's 6 / 12 / 35 ms",
        "",
        f'"{_seed.CLOSED_LOOP_QUOTE}" '
        f"These belong to the closed-loop test, not to {_seed.LATENCY_RPS} req/s. The "
        f"statistic is {_seed.CLOSED_LOOP_STATISTIC}: this run's loadtest mean at the same "
        "client count is set beside them, and the harness's exact mean after it.",
        "",
        markdown_table(
            [
                "setup",
                "seed (ms)",
                "this run, loadtest mean (ms)",
                "run / seed",
                "this run, exact mean (ms)",
                "differs in",
            ],
            latency_rows_,
        ),
        "",
        *_difference_list(run, "throughput", clients),
    ]


def _difference_list(run: Run, test: str, clients: int | None = None) -> list[str]:
    title = "latency test" if test == "latency" else "closed-loop test"
    published = _seed.LATENCY_PERCENTILES_MS if test == "latency" else _seed.THROUGHPUT_PER_5S
    setups = [s for s in published if _in_run(run, s)]
    lines = [f"Known differences of the {title}:", ""]
    for index, setup in enumerate(setups):
        found = differences(run, test, setup, clients)
        shown = found if index == 0 else [d for d in found if d.aspect == "versions"]
        lines += [
            f"- {d.aspect}"
            + (f" of {setup}" if d.aspect == "versions" else "")
            + f": seed {d.seed}; this run {d.run}"
            + ("" if d.differs else " (the same)")
            for d in shown
        ]
    return [*lines, ""]
