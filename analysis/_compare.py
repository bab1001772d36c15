"""`compare BASE CONTENDER`: first what differs in how the two runs were made, then which
differences in their results are larger than rep-to-rep noise, corrected for how many were
looked at (Holm)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from . import _flags, _stats
from . import _metrics as m
from ._format import markdown_table, number, signed_percent, spread_text
from ._model import HostFacts, Run, TestKey
from ._summary import TestSummary, headline_statistic, summarize_tests


@dataclass(frozen=True)
class Cell:
    """One statistic of one test of one setup, in both runs."""

    setup: str
    test: TestKey
    metric: str
    base: _stats.Spread | None
    contender: _stats.Spread | None
    change_percent: float | None
    p_value: _stats.PValue | None
    interval: _stats.ShiftInterval | None  # of the change, percent
    untrusted: tuple[str, ...]  # reasons the verdict cannot be trusted either way
    note: str  # why there is no test, when there is none
    adjusted: float | None = None  # Holm-adjusted p-value over every tested cell

    @property
    def real(self) -> bool:
        return self.adjusted is not None and self.adjusted <= _stats.ALPHA

    @property
    def better(self) -> bool | None:
        if self.change_percent is None or self.change_percent == 0:
            return None
        return (self.change_percent > 0) == m.higher_is_better(self.metric)

    @property
    def verdict(self) -> str:
        if self.p_value is None:
            return self.note
        holm = f"p = {self.p_value.value:.3g}, Holm {self.adjusted:.3g}"
        if self.real:
            text = f"**real**: {'better' if self.better else 'worse'} ({holm})"
        elif self.p_value.value <= self.p_value.smallest_possible * (1 + 1e-9):
            text = (
                f"not shown ({holm}; {self.p_value.smallest_possible:.3g} is the smallest p "
                "these repetitions allow)"
            )
        else:
            text = f"within noise ({holm})"
        if self.untrusted:
            text += "; untrusted: " + "; ".join(self.untrusted)
        return text


def _statistics(test: TestKey, source: str | None, base: TestSummary) -> list[str]:
    if test.closed_loop:
        found = [m.ACHIEVED_RPS]
        if source:
            found.append(m.metric(source, headline_statistic(source)))
        return found
    if test.kind == "ws-connect":
        return []
    found = (
        [m.metric(source, headline_statistic(source)), m.metric(source, "p99")] if source else []
    )
    if test.websocket and "messages:loss_share" in base.metrics:
        found.append("messages:loss_share")
    return found


def _losses(summary: TestSummary, side: str) -> list[str]:
    lost = summary.server_losses
    if not lost:
        return []
    flags = sorted({f for rep in lost for f in _flags.server_flags(rep.flags)})
    return [f"{side} lost {len(lost)} of {len(summary.reps)} reps to {', '.join(flags)}"]


def _cell(base: TestSummary, contender: TestSummary, metric: str) -> Cell:
    base_values = base.valid_values(metric)
    contender_values = contender.valid_values(metric)
    untrusted = tuple(_losses(base, "base") + _losses(contender, "contender"))
    spread_b = _stats.spread(base_values) if base_values else None
    spread_c = _stats.spread(contender_values) if contender_values else None
    change = (
        _stats.percent_change(spread_b.median, spread_c.median) if spread_b and spread_c else None
    )
    note = ""
    if not base_values or not contender_values:
        note = f"no valid reps in {'base' if not base_values else 'contender'}"
    elif min(len(base_values), len(contender_values)) < 2:
        note = f"too few valid reps ({len(base_values)} and {len(contender_values)})"
    if note:
        return Cell(
            base.setup, base.test, metric, spread_b, spread_c, change, None, None, untrusted, note
        )
    return Cell(
        setup=base.setup,
        test=base.test,
        metric=metric,
        base=spread_b,
        contender=spread_c,
        change_percent=change,
        p_value=_stats.permutation_p_value(base_values, contender_values),
        interval=_stats.ratio_interval(base_values, contender_values),
        untrusted=untrusted,
        note="",
    )


def _saturation_cell(base: TestSummary, contender: TestSummary) -> Cell | None:
    if not (base.saturated or contender.saturated):
        return None

    def side(summary: TestSummary) -> str:
        return (
            f"saturated at {summary.saturated_at or 0:,.0f} req/s"
            if summary.saturated
            else "kept up"
        )

    return Cell(
        base.setup,
        base.test,
        m.ACHIEVED_RPS,
        base.metrics.get(m.ACHIEVED_RPS),
        contender.metrics.get(m.ACHIEVED_RPS),
        None,
        None,
        None,
        (),
        f"base {side(base)}, contender {side(contender)}: no latency to compare",
    )


def compare_cells(base: Run, contender: Run) -> list[Cell]:
    """Every shared setup and test, every compared statistic; Holm over those with a test."""
    base_summaries = {(s.setup, s.test): s for s in summarize_tests(base)}
    contender_summaries = {(s.setup, s.test): s for s in summarize_tests(contender)}
    cells: list[Cell] = []
    for key in _shared_keys(base, base_summaries, contender_summaries):
        b, c = base_summaries[key], contender_summaries[key]
        saturated = _saturation_cell(b, c) if b.test.fixed_rate else None
        if saturated is not None:
            cells.append(saturated)
            continue
        source = m.latency_source(b.test, [*b.valid_reps, *c.valid_reps])
        cells += [_cell(b, c, metric) for metric in _statistics(b.test, source, b)]
    tested = [(index, cell.p_value.value) for index, cell in enumerate(cells) if cell.p_value]
    adjusted = _stats.holm([p for _, p in tested])
    for (index, _), value in zip(tested, adjusted, strict=True):
        cells[index] = replace(cells[index], adjusted=value)
    return cells


def _shared_keys(
    base: Run,
    b: dict[tuple[str, TestKey], TestSummary],
    c: dict[tuple[str, TestKey], TestSummary],
) -> list[tuple[str, TestKey]]:
    shared = set(b) & set(c)
    order = {name: index for index, name in enumerate(base.setups())}
    return sorted(shared, key=lambda key: (key[1].sort_key, order.get(key[0], len(order)), key[0]))


# What differs in method


@dataclass(frozen=True)
class Difference:
    aspect: str
    base: str
    contender: str


def _text(value: object) -> str:
    if value is None or value == () or value == "":
        return "n/a"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return number(value)
    if isinstance(value, tuple | list):
        return ", ".join(_text(item) for item in value) or "n/a"
    return str(value)


def _differ(aspect: str, base: object, contender: object) -> list[Difference]:
    base_text, contender_text = _text(base), _text(contender)
    return [] if base_text == contender_text else [Difference(aspect, base_text, contender_text)]


def _bases(run: Run) -> str:
    """Which latency bases the run's numbers have: exact histograms, loadtest's, or both."""
    found = {rep.latency_basis for rep in run.reps if rep.latency_basis}
    names = {"hdr": "harness HdrHistograms", "loadtest": "loadtest's whole ms only"}
    return ", ".join(names[b] for b in sorted(found)) or "n/a"


def _plan_differences(base: Run, contender: Run) -> list[Difference]:
    b, c = base.meta.plan, contender.meta.plan
    pairs = [
        ("plan: profile", b.profile, c.profile),
        ("plan: latency rate (req/s)", b.latency_rps, c.latency_rps),
        ("plan: latency duration (s)", b.latency_duration_s, c.latency_duration_s),
        ("plan: closed-loop clients", b.throughput_clients, c.throughput_clients),
        ("plan: closed-loop duration (s)", b.throughput_duration_s, c.throughput_duration_s),
        ("plan: repetitions", b.repetitions, c.repetitions),
        ("plan: warm-up (s)", b.warmup_s, c.warmup_s),
        ("plan: keep-alive", b.keepalive, c.keepalive),
        ("plan: request timeout (ms)", b.request_timeout_ms, c.request_timeout_ms),
        ("plan: reference generator", b.reference_tool, c.reference_tool),
        ("plan: sweep rates", b.sweep_rps, c.sweep_rps),
        ("plan: sweep fractions", b.sweep_fractions, c.sweep_fractions),
        ("order of setups", base.meta.order_kind, contender.meta.order_kind),
    ]
    return [d for aspect, x, y in pairs for d in _differ(aspect, x, y)]


def _stack_differences(base: Run, contender: Run) -> list[Difference]:
    differences = _differ("results schema", base.meta.schema_version, contender.meta.schema_version)
    differences += _differ("latency basis", _bases(base), _bases(contender))
    differences += _differ("default stack", base.meta.stack_name, contender.meta.stack_name)
    for package in sorted(set(base.meta.pins) | set(contender.meta.pins)):
        differences += _differ(
            f"pin: {package}", base.meta.pins.get(package), contender.meta.pins.get(package)
        )
    for name in base.setups():
        b, c = base.setup_info(name), contender.setup_info(name)
        if b is None or c is None or not (b.pins or c.pins):
            continue
        for package in sorted(set(b.pins) | set(c.pins)):
            differences += _differ(
                f"{name} pin: {package}", b.pins.get(package), c.pins.get(package)
            )
    return differences


def _colocated(run: Run) -> str:
    topology = run.meta.topology
    if "source" not in topology or "target" not in topology:
        return "n/a"
    return "yes" if set(topology["source"]) & set(topology["target"]) else "no"


def _placement(run: Run, key: str) -> str:
    # Absent: the run predates placement being recorded. Null: recorded as not pinned.
    if key not in run.meta.placement:
        return "not recorded"
    return run.meta.placement[key] or "not pinned"


def _run_differences(base: Run, contender: Run) -> list[Difference]:
    b, c = base.meta, contender.meta
    differences = _differ("inventory", b.inventory, c.inventory)
    differences += _differ("setups measured", b.setups_completed, c.setups_completed)
    differences += _differ(
        "load generator on a target host", _colocated(base), _colocated(contender)
    )
    for role in sorted(set(b.topology) | set(c.topology)):
        differences += _differ(
            f"{role} host count", len(b.topology.get(role, ())), len(c.topology.get(role, ()))
        )
    for key in sorted(set(b.placement) | set(c.placement)):
        differences += _differ(
            f"placement: {key}", _placement(base, key), _placement(contender, key)
        )
    for key in ("ansible", "git_commit", "git_dirty"):
        differences += _differ(f"harness: {key}", b.controller.get(key), c.controller.get(key))
    return differences


HostFact = Callable[[HostFacts], object]
_HOST_FACTS: dict[str, tuple[str, HostFact]] = {
    "CPU": ("", lambda h: h.cpu_model),
    "cores": ("", lambda h: h.cores),
    "memory (GB)": ("", lambda h: None if h.memory_mb is None else round(h.memory_mb / 1024)),
    "instance type": ("", lambda h: h.instance_type),
    "OS": ("", lambda h: h.os),
    "kernel": ("", lambda h: h.kernel),
    "Python": ("target", lambda h: h.python_version),
    "node": ("source", lambda h: h.node_version),
    "loadtest": ("source", lambda h: h.loadtest_version),
    "wrk": ("source", lambda h: h.wrk_version),
    "redis": ("redis", lambda h: h.redis_version),
}


def _role_values(hosts: Iterable[HostFacts], fact: HostFact) -> str:
    return ", ".join(sorted({_text(fact(host)) for host in hosts})) or "n/a"


def _host_differences(base: Run, contender: Run) -> list[Difference]:
    differences = []
    roles = sorted({role for run in (base, contender) for h in run.hosts for role in h.roles})
    for role in roles:
        for name, (only_role, fact) in _HOST_FACTS.items():
            if only_role and only_role != role:
                continue
            differences += _differ(
                f"{role} hosts: {name}",
                _role_values(base.hosts_with_role(role), fact),
                _role_values(contender.hosts_with_role(role), fact),
            )
    return differences + _freeze_differences(base, contender)


def _freeze(run: Run) -> dict[str, str]:
    packages: dict[str, str] = {}
    for host in run.hosts_with_role("target"):
        for line in host.pip_freeze or ():
            name, _, version = line.partition("==")
            packages[name.lower().replace("-", "_")] = version or line
    return packages


def _freeze_differences(base: Run, contender: Run) -> list[Difference]:
    b, c = _freeze(base), _freeze(contender)
    if not b or not c:
        return []
    return [
        d
        for name in sorted(set(b) | set(c))
        for d in _differ(f"target pip freeze: {name}", b.get(name), c.get(name))
    ]


def methodology_differences(base: Run, contender: Run) -> list[Difference]:
    """Everything recorded about how the two runs were made that is not the same."""
    return (
        _stack_differences(base, contender)
        + _plan_differences(base, contender)
        + _run_differences(base, contender)
        + _host_differences(base, contender)
    )


# Markdown


def _interval_text(cell: Cell) -> str:
    interval = cell.interval
    if interval is None:
        return "n/a"
    return f"{interval.low:+.1f}% to {interval.high:+.1f}% ({interval.coverage:.1%})"


def _rows(cells: list[Cell]) -> list[list[str]]:
    digits = {m.ACHIEVED_RPS: 1}
    return [
        [
            c.setup,
            f"{m.label(c.metric)} ({m.unit(c.metric)})",
            spread_text(c.base, digits.get(c.metric, 2)),
            spread_text(c.contender, digits.get(c.metric, 2)),
            signed_percent(c.change_percent),
            _interval_text(c),
            c.verdict,
        ]
        for c in cells
    ]


def render_comparison(base: Run, contender: Run) -> str:
    cells = compare_cells(base, contender)
    lines = [f"# Comparison: {base.run_id} (base) vs {contender.run_id} (contender)", ""]
    lines += _differences_section(methodology_differences(base, contender))
    lines += _verdict_section(cells, base, contender)
    lines += [
        "## Results",
        "",
        "Each value: median over valid repetitions, min-max in brackets (the spread is "
        "rep-to-rep, within each run). Change: contender relative to base. The interval is the "
        "distribution-free interval of the change with its true coverage in brackets. Flagged "
        "repetitions are left out on both sides and named under the verdict when they favour a "
        "side.",
        "",
    ]
    tests = sorted({c.test for c in cells}, key=lambda test: test.sort_key)
    headers = [
        "setup",
        "statistic",
        "base",
        "contender",
        "change",
        "interval (coverage)",
        "verdict",
    ]
    for test in tests:
        lines += [
            f"### {test.label}",
            "",
            markdown_table(headers, _rows([c for c in cells if c.test == test])),
            "",
        ]
    if not tests:
        lines += ["The two runs share no setup and test with data.", ""]
    lines += _unshared_section(base, contender)
    lines += _problems_lines(base, "base") + _problems_lines(contender, "contender")
    lines += ['## How "real" is decided', "", _method_text(), ""]
    return "\n".join(lines)


def _verdict_section(cells: list[Cell], base: Run, contender: Run) -> list[str]:
    tested = [c for c in cells if c.p_value is not None]
    real = [c for c in tested if c.real]
    family = len(tested)
    lines = [
        "## Real differences",
        "",
        f"Holm's correction over all {family} tested cells (setup x test x statistic), "
        f"family-wise error rate {_stats.ALPHA:.0%}.",
        "",
    ]
    if real:
        lines += [
            f"- {c.setup}, {c.test.label}: {m.label(c.metric)} {signed_percent(c.change_percent)} "
            f"({'better' if c.better else 'worse'}; Holm p = {c.adjusted:.3g})"
            + (f"; untrusted: {'; '.join(c.untrusted)}" if c.untrusted else "")
            for c in real
        ]
        lines += ["", f"{len(real)} of {family} cells differ by more than rep-to-rep noise.", ""]
    else:
        lines += ["None: no cell differs by more than rep-to-rep noise after the correction.", ""]
    floor = min((c.p_value.smallest_possible for c in tested if c.p_value), default=None)
    if floor is not None and floor * family > _stats.ALPHA:
        needed = _stats.repetitions_needed(family)
        lines += [
            f"**These runs cannot show a difference at all**: with their repetitions the smallest "
            f"possible p-value is {floor:.3g}, and Holm needs {_stats.ALPHA / max(family, 1):.3g} "
            f"for the first of {family} cells. Rerun both with -e loadtest_repetitions="
            f"{needed} (or more) to be able to.",
            "",
        ]
    lines += [
        "A real difference here is larger than the rep-to-rep noise within these two runs; "
        "run-to-run variation (another day, another state of the machine, neighbours on a shared "
        "host) is not measured by one run per side.",
        "",
    ]
    return lines


def _differences_section(differences: list[Difference]) -> list[str]:
    if not differences:
        return [
            "## What differs in method",
            "",
            "Nothing recorded differs (schema, latency basis, pins, plan, inventory, placement, "
            "host facts, tool versions): the runs measured the same thing the same way.",
            "",
        ]
    rows = [[d.aspect, d.base, d.contender] for d in differences]
    return [
        "## What differs in method (read this first)",
        "",
        f"**{len(differences)} recorded differences between how the runs were made.** A change "
        "below may come from these rather than from what you meant to compare.",
        "",
        markdown_table(["aspect", "base", "contender"], rows),
        "",
    ]


def _unshared_section(base: Run, contender: Run) -> list[str]:
    base_keys = {(r.setup, r.test) for r in base.reps}
    contender_keys = {(r.setup, r.test) for r in contender.reps}
    only = [(key, "base") for key in base_keys - contender_keys]
    only += [(key, "contender") for key in contender_keys - base_keys]
    if not only:
        return []
    lines = ["## Not compared", ""]
    lines += [
        f"- {setup}, {test.label}: only in {side}"
        for (setup, test), side in sorted(only, key=lambda e: (e[0][0], e[0][1].sort_key))
    ]
    return [*lines, ""]


def _problems_lines(run: Run, side: str) -> list[str]:
    if not run.problems:
        return []
    lines = [f"## Problems reading the {side} run ({run.run_id})", ""]
    lines += [f"- {p.severity}: `{p.file}`: {p.message}" for p in run.problems]
    return [*lines, ""]


def _method_text() -> str:
    return (
        "Per cell, the valid repetitions of each run are compared with an exact permutation "
        "test of the Mann-Whitney statistic: every split of the pooled values into groups of "
        f"the two sizes is enumerated (sampled, {_stats.PERMUTATION_RESAMPLES} times with seed "
        f"{_stats.RANDOM_SEED}, beyond {_stats.EXACT_SPLITS_LIMIT} splits), so the p-value is "
        "exact and assumes nothing about the distribution. With n and m repetitions it cannot "
        "go below 2 / C(n + m, n): 0.10 for 3 and 3. The p-values of all cells are adjusted "
        f"with Holm's step-down method, and a cell is **real** when its adjusted p-value is at "
        f"most {_stats.ALPHA:g}. The interval is Moses' distribution-free interval for a shift of "
        "the log values (a change by a factor), at the highest coverage up to 95 % the counts "
        "allow: its true coverage is given with it (90 % for 3 and 3). Compared statistics: at "
        "a fixed rate the p50 and p99 latency (the mean when only loadtest's whole milliseconds "
        "exist, on both sides); in the closed loop the achieved rate and the p50. Both sides "
        "use the same basis: the best latency source both runs have. A cell is **untrusted** "
        "when a side lost repetitions to flags about the server's own behaviour, which flatter "
        "that side when left out."
    )
