"""`report`: summary.json, the charts and a report.md that can be read on its own."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import _plots, _stats
from ._format import fixed, markdown_table, number, spread_text
from ._model import (
    LATENCY_TEST,
    METRICS,
    HostFacts,
    Problem,
    RepResult,
    Run,
    TestKey,
)
from ._seed import seed_markdown
from ._summary import LatencyVerdict, TestSummary, lowest_latency, summarize_tests

SUMMARY_SCHEMA_VERSION = 1
CHARTS = {
    "latency.png": ("Latency per setup at the fixed rate", _plots.latency_chart),
    "throughput.png": ("Achieved rate per setup and client count", _plots.throughput_chart),
    "latency-percentiles.png": ("Latency percentiles at the fixed rate", _plots.percentile_chart),
    "seed-comparison.png": ("This run next to the seed", _plots.seed_chart),
}
_TABLE_METRICS = ("p50_ms", "p90_ms", "p99_ms", "mean_ms", "achieved_rps")

ChartFunction = Callable[[Run, list[TestSummary], Path], None]


@dataclass(frozen=True)
class ReportResult:
    written: tuple[Path, ...]
    problems: tuple[Problem, ...]


def write_report(run: Run, output: Path) -> ReportResult:
    """Write every output of `report` into output; problems are reported in report.md too."""
    output.mkdir(parents=True, exist_ok=True)
    summaries = summarize_tests(run)
    verdict = lowest_latency(run, summaries)
    problems = list(run.problems)
    written = []
    for name, (_title, draw) in CHARTS.items():
        if _draw_chart(draw, run, summaries, output / name, problems):
            written.append(output / name)
    summary_path = output / "summary.json"
    document = summary_document(run, summaries, verdict, problems)
    summary_path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    report_path = output / "report.md"
    charts = [name for name in CHARTS if output / name in written]
    report_path.write_text(
        report_markdown(run, summaries, verdict, problems, charts), encoding="utf-8"
    )
    return ReportResult(written=(*written, summary_path, report_path), problems=tuple(problems))


def _draw_chart(
    draw: ChartFunction, run: Run, summaries: list[TestSummary], path: Path, problems: list[Problem]
) -> bool:
    # A chart that cannot be drawn must not cost the reader the rest of the report.
    try:
        draw(run, summaries, path)
    except Exception as error:
        problems.append(Problem(path.name, f"could not be drawn: {type(error).__name__}: {error}"))
        return False
    return True


# summary.json


def _spread_json(spread: _stats.Spread) -> dict[str, float | int]:
    return {
        "median": spread.median,
        "min": spread.low,
        "max": spread.high,
        "q1": spread.q1,
        "q3": spread.q3,
        "n": spread.n,
    }


def _rep_json(rep: RepResult) -> dict[str, Any]:
    return {
        "rep": rep.rep,
        "file": rep.file,
        "valid": rep.valid,
        "flags": list(rep.flags),
        "flags_from": rep.flags_from,
        "metrics": rep.metrics,
        "total_requests": rep.total_requests,
        "total_errors": rep.total_errors,
        "notes": list(rep.notes),
    }


def _test_json(summary: TestSummary) -> dict[str, Any]:
    return {
        "setup": summary.setup,
        "test": summary.test.kind,
        "clients": summary.test.clients,
        "basis": summary.basis,
        "reps_total": len(summary.reps),
        "reps_valid": len(summary.valid_reps),
        "metrics": {name: _spread_json(spread) for name, spread in summary.metrics.items()},
        "total_requests": summary.total_requests,
        "total_errors": summary.total_errors,
        "error_codes": summary.error_codes,
        "reps": [_rep_json(rep) for rep in summary.reps],
    }


def _verdict_json(verdict: LatencyVerdict) -> dict[str, Any]:
    interval = verdict.interval
    return {
        "rps": verdict.rps,
        "metric": verdict.metric,
        "best": verdict.best,
        "runner_up": verdict.runner_up,
        "ranking": [{"setup": s, "median": m, "basis": b} for s, m, b in verdict.ranking],
        "difference_ms": verdict.difference,
        "difference_percent": verdict.difference_percent,
        "interval_ms": None if interval is None else [interval.low, interval.high],
        "trusted": verdict.trusted,
        "reasons": list(verdict.reasons),
        "caveats": list(verdict.caveats),
        "missing": list(verdict.missing),
    }


def summary_document(
    run: Run, summaries: list[TestSummary], verdict: LatencyVerdict, problems: list[Problem]
) -> dict[str, Any]:
    """Everything the report says, as numbers; deterministic (no timestamps) for diffing."""
    meta = run.meta
    return {
        "summary_schema_version": SUMMARY_SCHEMA_VERSION,
        "run_id": run.run_id,
        "run_schema_version": meta.schema_version,
        "status": meta.status,
        "failed_stage": meta.failed_stage,
        "stack": meta.stack_name,
        "latency_rps": run.latency_rps(),
        "method": _method_json(),
        "setups": [
            {"setup": status.setup, "state": status.state, "detail": status.detail}
            for status in (run.setup_status(setup) for setup in run.setups())
        ],
        "tests": [_test_json(summary) for summary in summaries],
        "lowest_latency": _verdict_json(verdict),
        "problems": [
            {"file": p.file, "severity": p.severity, "message": p.message} for p in problems
        ],
    }


def _method_json() -> dict[str, Any]:
    return {
        "centre": "median over valid repetitions (flagged ones only when none is valid)",
        "spread": "min-max over the same repetitions; q1/q3 linear",
        "bootstrap": {
            "kind": "percentile, each side resampled independently",
            "statistic": "difference of medians",
            "resamples": _stats.BOOTSTRAP_RESAMPLES,
            "confidence": _stats.BOOTSTRAP_CONFIDENCE,
            "seed": _stats.BOOTSTRAP_SEED,
            "min_valid_reps": _stats.MIN_REPS_FOR_VERDICT,
        },
    }


# report.md


def report_markdown(
    run: Run,
    summaries: list[TestSummary],
    verdict: LatencyVerdict,
    problems: list[Problem],
    charts: list[str],
) -> str:
    sections = [
        _title(run),
        _answer(run, summaries, verdict),
        _problems_section(problems),
        _setups_section(run, summaries),
        _charts_section(charts),
        *_test_sections(run, summaries),
        _flagged_section(summaries),
        _derived_section(summaries),
        seed_markdown(run, summaries),
        _plan_section(run),
        _environment_section(run),
        _method_section(),
    ]
    return "\n".join(section for section in sections if section)


def _title(run: Run) -> str:
    meta = run.meta
    when = f"{meta.started_at or '?'} to {meta.ended_at or '?'}"
    return (
        f"# Load test report: {run.run_id}\n\n"
        f"Stack **{run.stack_label()}**, {meta.inventory or 'unknown'} inventory, "
        f"status **{meta.status or 'unknown'}**, {when}.\n"
    )


def _ordered(verdict: LatencyVerdict) -> str:
    parts = [
        f"{setup} {median:.1f} ms" + (" (flagged reps only)" if basis != "valid" else "")
        for setup, median, basis in verdict.ranking
    ]
    return " < ".join(parts)


def _answer(run: Run, summaries: list[TestSummary], verdict: LatencyVerdict) -> str:
    rate = number(verdict.rps)
    lines = [f"## Which setup had the lowest latency at {rate} rps?", ""]
    if verdict.best is None:
        lines.append("No setup has latency numbers in this run.")
    elif verdict.runner_up is None or verdict.difference is None:
        lines.append(
            f"Only **{verdict.best}** has latency numbers "
            f"({verdict.ranking[0][1]:.1f} ms), so there is nothing to compare it with."
        )
    else:
        best_ms, runner_ms = verdict.ranking[0][1], verdict.ranking[1][1]
        percent = -(verdict.difference_percent or 0.0)
        lines.append(
            f"**{verdict.best}**, at {best_ms:.1f} ms: "
            f"{verdict.difference:.1f} ms ({percent:.1f}%) lower than "
            f"**{verdict.runner_up}** at {runner_ms:.1f} ms, the next lowest. "
            "Latency here is loadtest's mean latency per repetition, median over valid "
            "repetitions."
        )
    trust = "Yes" if verdict.trusted else "No"
    lines += ["", f"**Can I trust it? {trust}**: " + "; ".join(verdict.reasons) + ".", ""]
    if len(verdict.ranking) > 1:
        lines.append(f"All setups, lowest first: {_ordered(verdict)}.")
        lines.append(_p99_order(summaries, verdict))
        lines.append("")
    if verdict.caveats:
        lines += ["Worth knowing:", ""] + [f"- {caveat}" for caveat in verdict.caveats] + [""]
    return "\n".join(lines)


def _p99_order(summaries: list[TestSummary], verdict: LatencyVerdict) -> str:
    p99 = sorted(
        (
            (s.setup, s.metrics["p99_ms"].median)
            for s in summaries
            if s.test == LATENCY_TEST and "p99_ms" in s.metrics
        ),
        key=lambda entry: entry[1],
    )
    order = " < ".join(f"{setup} {value:.1f} ms" for setup, value in p99)
    same = [setup for setup, _ in p99] == [setup for setup, _, _ in verdict.ranking]
    return f"At p99: {order} ({'the same order' if same else 'a different order'})."


def _problems_section(problems: list[Problem]) -> str:
    if not problems:
        return ""
    lines = [
        "## Problems reading the run",
        "",
        "The rest of this report is built from what could be read.",
        "",
    ]
    lines += [f"- {p.severity}: `{p.file}`: {p.message}" for p in problems]
    return "\n".join(lines) + "\n"


def _setups_section(run: Run, summaries: list[TestSummary]) -> str:
    rows = []
    for setup in run.setups():
        status = run.setup_status(setup)
        own = [s for s in summaries if s.setup == setup]
        valid = sum(len(s.valid_reps) for s in own)
        total = sum(len(s.reps) for s in own)
        rows.append([setup, status.state, status.detail, f"{valid} of {total}"])
    table = markdown_table(["setup", "status", "detail", "valid repetitions"], rows)
    return f"## Setups\n\n{table}\n"


def _charts_section(charts: list[str]) -> str:
    if not charts:
        return ""
    lines = ["## Charts", ""]
    for name in charts:
        title = CHARTS[name][0]
        lines += [f"{title}: [{name}]({name})", "", f"![{title}]({name})", ""]
    return "\n".join(lines)


def _test_heading(run: Run, test: TestKey) -> str:
    plan = run.meta.plan
    if test.kind == "latency":
        duration = (
            f", {number(plan.latency_duration_s)} s per repetition"
            if plan.latency_duration_s
            else ""
        )
        return f"### Latency test at {number(run.latency_rps())} rps{duration}"
    duration = (
        f", {number(plan.throughput_duration_s)} s per repetition"
        if plan.throughput_duration_s
        else ""
    )
    return f"### Throughput test with {test.label.split(', ')[1]}{duration}"


def _errors_text(summary: TestSummary) -> str:
    if not summary.total_requests:
        return str(summary.total_errors)
    share = summary.total_errors / summary.total_requests * 100
    return f"{summary.total_errors} of {summary.total_requests} ({share:.2f}%)"


def _test_row(run: Run, setup: str, summary: TestSummary | None) -> list[str]:
    if summary is None:
        status = run.setup_status(setup)
        return [setup, f"no data ({status.state})", *([""] * (len(_TABLE_METRICS) + 1))]
    reps = f"{len(summary.valid_reps)} of {len(summary.reps)}"
    planned = run.meta.plan.repetitions
    if planned is not None and planned != len(summary.reps):
        reps += f" (plan: {planned})"
    if summary.basis != "valid":
        reps += ", none valid: numbers from flagged reps"
    cells = [spread_text(summary.metrics.get(metric)) for metric in _TABLE_METRICS]
    return [setup, reps, *cells, _errors_text(summary)]


def _test_sections(run: Run, summaries: list[TestSummary]) -> list[str]:
    headers = [
        "setup",
        "valid reps",
        *(f"{METRICS[m].label} ({METRICS[m].unit})" for m in _TABLE_METRICS),
        "errors (all reps)",
    ]
    sections = [
        "## Results per test\n\nEach cell: median over valid repetitions, min-max in "
        "brackets. Errors count every repetition, flagged ones included.\n"
    ]
    for test in run.tests():
        rows = []
        for setup in run.setups():
            summary = next((s for s in summaries if s.setup == setup and s.test == test), None)
            rows.append(_test_row(run, setup, summary))
        sections.append(f"{_test_heading(run, test)}\n\n{markdown_table(headers, rows)}\n")
    if not run.tests():
        sections.append("No repetition could be read.\n")
    return sections


def describe_flags(rep: RepResult) -> str:
    """Why a repetition was flagged, in the numbers that triggered it."""
    details = []
    for flag in rep.flags:
        if flag == "rate_shortfall":
            achieved = rep.metrics.get("achieved_rps")
            asked = rep.requested_rps
            share = f" ({achieved / asked * 100:.1f}%)" if achieved is not None and asked else ""
            details.append(
                f"rate_shortfall: achieved {fixed(achieved)} of {number(asked)} rps{share}"
            )
        elif flag == "generator_saturated":
            details.append(
                f"generator_saturated: load generator at "
                f"{fixed(rep.generator_cpu_percent, 0)}% of a core"
            )
        elif flag == "errors":
            codes = ", ".join(f"{code} x{count}" for code, count in sorted(rep.error_codes.items()))
            details.append(f"errors: {rep.total_errors} errors" + (f" ({codes})" if codes else ""))
        else:
            details.append(flag)
    if not details:
        details.append("marked invalid by the harness without a flag")
    text = "; ".join(details)
    return text + (
        " (flags derived by analysis: the file has none)" if rep.flags_from == "analysis" else ""
    )


def _flagged_section(summaries: list[TestSummary]) -> str:
    flagged = [rep for summary in summaries for rep in summary.flagged_reps]
    if not flagged:
        return "## Flagged repetitions\n\nNone: every repetition read is valid.\n"
    rows = [
        [rep.setup, rep.test.label, str(rep.rep), describe_flags(rep), f"`{rep.file}`"]
        for rep in flagged
    ]
    table = markdown_table(["setup", "test", "rep", "why", "file"], rows)
    return (
        "## Flagged repetitions\n\nKept and listed, never averaged in with valid ones.\n\n"
        f"{table}\n"
    )


def _derived_section(summaries: list[TestSummary]) -> str:
    noted = [rep for summary in summaries for rep in summary.reps if rep.notes]
    if not noted:
        return ""
    lines = [
        "## Values computed by analysis",
        "",
        "These repetitions lack a number the results contract has; analysis computed it "
        "from what they do have.",
        "",
    ]
    lines += [f"- `{rep.file}`: {'; '.join(rep.notes)}" for rep in noted]
    return "\n".join(lines) + "\n"


def _plan_section(run: Run) -> str:
    plan = run.meta.plan
    keepalive = "n/a" if plan.keepalive is None else ("on" if plan.keepalive else "off")
    rows = [
        ["profile", plan.profile or "n/a"],
        ["repetitions per test", number(plan.repetitions)],
        ["warm-up per repetition", f"{number(plan.warmup_s)} s"],
        ["latency test", f"{number(plan.latency_rps)} rps for {number(plan.latency_duration_s)} s"],
        [
            "throughput test",
            f"{', '.join(map(str, plan.throughput_clients)) or 'n/a'} clients "
            f"for {number(plan.throughput_duration_s)} s",
        ],
        ["HTTP keep-alive", keepalive],
        ["request timeout", f"{number(plan.request_timeout_ms)} ms"],
        ["setups, in run order", ", ".join(run.meta.setups) or "n/a"],
    ]
    return f"## Plan\n\n{markdown_table(['', 'value'], rows)}\n"


def _host_rows(hosts: list[HostFacts]) -> list[list[str]]:
    def facts(host: HostFacts) -> list[str | None]:
        python = (
            None
            if host.python_version is None
            else (f"{host.python_version} ({host.python_interpreter or 'interpreter unknown'})")
        )
        memory = None if host.memory_mb is None else f"{host.memory_mb} MB"
        return [
            ", ".join(host.roles),
            host.hostname,
            host.cpu_model,
            number(host.cores),
            memory,
            host.os,
            host.kernel,
            host.instance_type,
            python,
            host.node_version,
            host.loadtest_version,
            host.redis_version,
        ]

    names = [
        "roles",
        "hostname",
        "CPU",
        "cores",
        "memory",
        "OS",
        "kernel",
        "instance type",
        "Python",
        "node",
        "loadtest",
        "redis",
    ]
    columns = [facts(host) for host in hosts]
    return [
        [name, *(column[index] or "n/a" for column in columns)] for index, name in enumerate(names)
    ]


def _environment_section(run: Run) -> str:
    meta = run.meta
    lines = ["## Environment", ""]
    run_rows = [
        ["run id", run.run_id],
        ["results schema", str(meta.schema_version)],
        ["inventory", meta.inventory or "n/a"],
    ]
    run_rows += [[f"{role} hosts", ", ".join(hosts)] for role, hosts in meta.topology.items()]
    run_rows += [
        [f"placement: {key}", value or "not pinned"] for key, value in meta.placement.items()
    ]
    run_rows += [[f"controller: {key}", value] for key, value in meta.controller.items()]
    if meta.failure:
        run_rows.append(["failure", f"{meta.failed_stage or '?'}: {meta.failure}"])
    lines += [markdown_table(["", "value"], run_rows), ""]
    pins = sorted(meta.pins.items())
    lines += [f"### Stack {run.stack_label()}", ""]
    lines += [
        markdown_table(["package", "pinned"], [list(pin) for pin in pins])
        if pins
        else "No pins recorded.",
        "",
    ]
    lines += ["### Hosts", ""]
    if run.hosts:
        lines += [
            markdown_table(["", *(host.name for host in run.hosts)], _host_rows(run.hosts)),
            "",
        ]
        for host in run.hosts:
            if host.pip_freeze:
                lines += [
                    f"<details><summary>pip freeze on {host.name}</summary>",
                    "",
                    "```",
                    *host.pip_freeze,
                    "```",
                    "",
                    "</details>",
                    "",
                ]
    else:
        lines += ["No host facts could be read.", ""]
    return "\n".join(lines)


def _method_section() -> str:
    return (
        "## Method\n\n"
        "- Each repetition contributes loadtest's own numbers (percentiles, mean, errors) and the "
        "harness's achieved rate; percentiles missing from a result are computed from its "
        "histogram with loadtest's rule.\n"
        "- Tables and charts show the median over valid repetitions with the min-max range. "
        "Flagged repetitions are listed, not averaged in; a test with no valid repetition shows "
        "its flagged ones, labelled as such.\n"
        f'- "Can I trust it" needs at least {_stats.MIN_REPS_FOR_VERDICT} valid repetitions for '
        "both setups and a 95% percentile-bootstrap interval of the difference of medians "
        f"({_stats.BOOTSTRAP_RESAMPLES} resamples, each setup resampled on its own, seed "
        f"{_stats.BOOTSTRAP_SEED}) that excludes zero. With three repetitions that amounts to the "
        "two setups' ranges not overlapping.\n"
    )
