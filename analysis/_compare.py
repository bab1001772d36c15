"""`compare BASE CONTENDER`: which differences between two runs are real, and whether the two
runs measured the same thing in the first place."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from . import _stats
from ._format import markdown_table, number, signed_percent, spread_text
from ._model import METRICS, HostFacts, Metric, Run, TestKey, ordered_setups
from ._summary import TestSummary, summarize_tests

COMPARED_METRICS = ("mean_ms", "p50_ms", "p90_ms", "p99_ms", "achieved_rps")


@dataclass(frozen=True)
class MetricComparison:
    setup: str
    test: TestKey
    metric: Metric
    base: _stats.Spread | None
    contender: _stats.Spread | None
    change_percent: float | None
    interval: _stats.Interval | None  # of the change of the median, in percent
    verdict: str


def judge(
    base: list[float], contender: list[float], higher_is_better: bool
) -> tuple[float | None, _stats.Interval | None, str]:
    """Change of the median in percent, its bootstrap interval, and the verdict in words."""
    if not base or not contender:
        side = "base" if not base else "contender"
        return None, None, f"no valid reps in {side}"
    change = _stats.percent_change(_stats.median(base), _stats.median(contender))
    interval = _stats.bootstrap_percent_change(base, contender)
    fewest = min(len(base), len(contender))
    if fewest < _stats.MIN_REPS_FOR_VERDICT:
        return (
            change,
            interval,
            (
                f"too few reps ({len(base)} and {len(contender)}; "
                f"{_stats.MIN_REPS_FOR_VERDICT} needed)"
            ),
        )
    if interval is None or change is None:
        return change, interval, "undefined (base is zero)"
    if not interval.excludes_zero:
        return change, interval, "within noise"
    better = (change > 0) == higher_is_better
    return change, interval, f"**real**: {'better' if better else 'worse'}"


def compare_tests(base: Run, contender: Run) -> list[MetricComparison]:
    base_summaries = {(s.setup, s.test): s for s in summarize_tests(base)}
    contender_summaries = {(s.setup, s.test): s for s in summarize_tests(contender)}
    comparisons = []
    for key in _shared_keys(base_summaries, contender_summaries):
        for name in COMPARED_METRICS:
            comparison = _compare_metric(
                base_summaries[key], contender_summaries[key], METRICS[name]
            )
            if comparison is not None:
                comparisons.append(comparison)
    return comparisons


def _valid_values(summary: TestSummary, metric: str) -> list[float]:
    return [rep.metrics[metric] for rep in summary.valid_reps if metric in rep.metrics]


def _compare_metric(
    base: TestSummary, contender: TestSummary, metric: Metric
) -> MetricComparison | None:
    if metric.name == "achieved_rps" and base.test.kind == "latency":
        # At a fixed rate the achieved rate is the plan, not a result; shortfalls are flagged.
        return None
    base_values = _valid_values(base, metric.name)
    contender_values = _valid_values(contender, metric.name)
    if not base_values and not contender_values:
        return None
    change, interval, verdict = judge(base_values, contender_values, metric.higher_is_better)
    return MetricComparison(
        setup=base.setup,
        test=base.test,
        metric=metric,
        base=_stats.spread(base_values) if base_values else None,
        contender=_stats.spread(contender_values) if contender_values else None,
        change_percent=change,
        interval=interval,
        verdict=verdict,
    )


def _shared_keys(
    base: dict[tuple[str, TestKey], TestSummary], contender: dict[tuple[str, TestKey], TestSummary]
) -> list[tuple[str, TestKey]]:
    shared = set(base) & set(contender)
    order = ordered_setups(setup for setup, _ in shared)
    return sorted(shared, key=lambda key: (key[1].sort_key, order.index(key[0])))


# Methodology


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
        return ", ".join(str(item) for item in value)
    return str(value)


def _differ(aspect: str, base: object, contender: object) -> list[Difference]:
    base_text, contender_text = _text(base), _text(contender)
    return [] if base_text == contender_text else [Difference(aspect, base_text, contender_text)]


def _plan_differences(base: Run, contender: Run) -> list[Difference]:
    b, c = base.meta.plan, contender.meta.plan
    pairs = [
        ("plan: profile", b.profile, c.profile),
        ("plan: latency rate (rps)", b.latency_rps, c.latency_rps),
        ("plan: latency duration (s)", b.latency_duration_s, c.latency_duration_s),
        ("plan: throughput clients", b.throughput_clients, c.throughput_clients),
        ("plan: throughput duration (s)", b.throughput_duration_s, c.throughput_duration_s),
        ("plan: repetitions", b.repetitions, c.repetitions),
        ("plan: warm-up (s)", b.warmup_s, c.warmup_s),
        ("plan: keep-alive", b.keepalive, c.keepalive),
        ("plan: request timeout (ms)", b.request_timeout_ms, c.request_timeout_ms),
    ]
    return [d for aspect, x, y in pairs for d in _differ(aspect, x, y)]


def _stack_differences(base: Run, contender: Run) -> list[Difference]:
    differences = _differ("stack", base.meta.stack_name, contender.meta.stack_name)
    for package in sorted(set(base.meta.pins) | set(contender.meta.pins)):
        differences += _differ(
            f"pin: {package}", base.meta.pins.get(package), contender.meta.pins.get(package)
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


def _interval_text(interval: _stats.Interval | None) -> str:
    return "n/a" if interval is None else f"{interval.low:+.1f}% to {interval.high:+.1f}%"


def _comparison_rows(comparisons: list[MetricComparison]) -> list[list[str]]:
    return [
        [
            c.setup,
            f"{c.metric.label} ({c.metric.unit})",
            spread_text(c.base),
            spread_text(c.contender),
            signed_percent(c.change_percent),
            _interval_text(c.interval),
            c.verdict,
        ]
        for c in comparisons
    ]


def render_comparison(base: Run, contender: Run) -> str:
    comparisons = compare_tests(base, contender)
    differences = methodology_differences(base, contender)
    lines = [f"# Comparison: {base.run_id} (base) vs {contender.run_id} (contender)", ""]
    lines += _glance_section(comparisons)
    lines += _differences_section(differences)
    lines += [
        "## Results",
        "",
        "Each value: median over valid repetitions, min-max in brackets. Change: contender "
        "relative to base. Flagged repetitions are left out on both sides.",
        "",
    ]
    tests = sorted({c.test for c in comparisons}, key=lambda test: test.sort_key)
    headers = ["setup", "metric", "base", "contender", "change", "95% CI of change", "verdict"]
    for test in tests:
        rows = _comparison_rows([c for c in comparisons if c.test == test])
        lines += [f"### {test.label}", "", markdown_table(headers, rows), ""]
    if not tests:
        lines += ["The two runs share no setup and test with data.", ""]
    lines += _unshared_section(base, contender)
    lines += _problems_lines(base, "base") + _problems_lines(contender, "contender")
    lines += ['## How "real" is decided', "", _method_text(), ""]
    return "\n".join(lines)


def _glance_section(comparisons: list[MetricComparison]) -> list[str]:
    real = [c for c in comparisons if c.verdict.startswith("**real**")]
    lines = ["## Real differences", ""]
    if not real:
        return [
            *lines,
            "None: every compared difference is within run-to-run noise or "
            "could not be judged (see the tables).",
            "",
        ]
    lines += [
        f"- {c.setup}, {c.test.label}: {c.metric.label} {signed_percent(c.change_percent)} "
        f"({c.verdict.removeprefix('**real**: ')})"
        for c in real
    ]
    return [
        *lines,
        "",
        f"{len(real)} of {len(comparisons)} compared values differ by more than run-to-run noise.",
        "",
    ]


def _differences_section(differences: list[Difference]) -> list[str]:
    if not differences:
        return [
            "## Methodology",
            "",
            "No differences found in stack pins, plan, inventory, placement, host facts or "
            "tool versions: the runs measured the same thing the same way.",
            "",
        ]
    rows = [[d.aspect, d.base, d.contender] for d in differences]
    return [
        "## Methodology differences",
        "",
        f"**{len(differences)} recorded differences between how the runs were made.** A "
        "change below may come from these rather than from what you meant to compare.",
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
        f"Percentile bootstrap over the valid repetitions: each run's repetitions are resampled "
        f"with replacement on their own, {_stats.BOOTSTRAP_RESAMPLES} times (numpy default_rng, "
        f"seed {_stats.BOOTSTRAP_SEED}, so the output is the same every time), and the change of "
        f"the median in percent is computed for each resample. A difference is **real** when the "
        f"{_stats.BOOTSTRAP_CONFIDENCE:.0%} interval of that change excludes zero and both runs "
        f"have at least {_stats.MIN_REPS_FOR_VERDICT} valid repetitions; otherwise it is within "
        "noise. With three repetitions per side this amounts to the two ranges not overlapping, "
        "which is deliberately conservative. Better/worse: lower latency and higher achieved "
        "rate are better. The achieved rate of the fixed-rate latency test is not compared: it "
        "is set by the plan, and shortfalls are flagged."
    )
