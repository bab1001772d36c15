"""`report`: summary.json, the charts (PNG and SVG) and a report.md that reads on its own."""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from module_utils import channels_bench_rules as rules

from . import _headline, _plots, _stats, _style
from . import _metrics as m
from ._analysis import Analysis, analyse
from ._format import fixed, markdown_table, number, spread_text
from ._load_curve import answer_at, load_curves
from ._model import LATENCY_TEST, HostFacts, Problem, RepResult, Run, TestKey
from ._seed_report import seed_markdown
from ._summary import (
    LatencyVerdict,
    TestSummary,
    closed_loop_clients,
    common_source,
    find,
    headline_statistic,
)
from ._then_and_now import version_sweeps
from ._timeline import DEFAULT_BIN_S, BinError, series

SUMMARY_SCHEMA_VERSION = 2
_LATENCY_COLUMNS = ("p50", "p90", "p95", "p99", "p99.9", "max", "mean")


@dataclass(frozen=True)
class ReportResult:
    written: tuple[Path, ...]
    problems: tuple[Problem, ...]


def write_report(
    run: Run,
    output: Path,
    bin_s: float = DEFAULT_BIN_S,
    bin_note: str | None = None,
    workers: int | None = None,
) -> ReportResult:
    """Write every output of `report` into output; problems are reported in report.md too.
    The charts are drawn by up to `workers` processes (default: one per core, at most
    MAX_CHART_WORKERS)."""
    output.mkdir(parents=True, exist_ok=True)
    analysis = analyse(run, bin_s, bin_note)
    problems = list(run.problems)
    written: list[Path] = []
    charts: list[_plots.Chart] = []
    for chart, (paths, chart_problems) in zip(
        _plots.CHARTS, draw_charts(analysis, output, workers), strict=True
    ):
        problems += chart_problems
        if paths:
            written += paths
            charts.append(chart)
    summary_path = output / "summary.json"
    summary_path.write_text(
        json.dumps(summary_document(analysis, problems), indent=2) + "\n", encoding="utf-8"
    )
    report_path = output / "report.md"
    report_path.write_text(report_markdown(analysis, problems, charts), encoding="utf-8")
    return ReportResult(written=(*written, summary_path, report_path), problems=tuple(problems))


def chart_input(analysis: Analysis) -> _plots.ChartInput:
    run = analysis.run
    return _plots.ChartInput(
        run=run,
        summaries=analysis.summaries,
        verdict=analysis.verdict,
        curves=load_curves(run, analysis.summaries, min_points=1),
        bin_s=analysis.bin_s,
        styles=_style.styles(run.setups()),
    )


Drawn = tuple[list[Path], list[Problem]]
MAX_CHART_WORKERS = 4
# What a forked chart worker draws from: set in the parent just before the fork.
_SHARED: tuple[Analysis, Path] | None = None


def draw_charts(analysis: Analysis, output: Path, workers: int | None = None) -> list[Drawn]:
    """Each chart of _plots.CHARTS, in that order: its files and its problems. Drawing is most
    of a report's time, so on Linux the charts are drawn by forked workers (fork shares the
    analysis without pickling it); a worker that dies costs its chart only, drawn again here,
    and where no process can be forked every chart is drawn here."""
    count = min(_cores() if workers is None else workers, MAX_CHART_WORKERS, len(_plots.CHARTS))
    if count < 2 or sys.platform != "linux":
        return _draw_all_here(analysis, output)
    global _SHARED  # the fork hands it to the workers
    _SHARED = (analysis, output)
    try:
        with ProcessPoolExecutor(count, mp_context=multiprocessing.get_context("fork")) as pool:
            futures = [pool.submit(_draw_in_worker, i) for i in range(len(_plots.CHARTS))]
            return [_drawn(future, index, analysis, output) for index, future in enumerate(futures)]
    except OSError:  # fork refused (a process limit, memory)
        return _draw_all_here(analysis, output)
    finally:
        _SHARED = None


def _draw_all_here(analysis: Analysis, output: Path) -> list[Drawn]:
    return [_draw_here(index, analysis, output) for index in range(len(_plots.CHARTS))]


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _drawn(future: Future[Drawn], index: int, analysis: Analysis, output: Path) -> Drawn:
    try:
        return future.result()
    except BrokenProcessPool:
        return _draw_here(index, analysis, output)


def _draw_in_worker(index: int) -> Drawn:
    assert _SHARED is not None, "a chart worker runs only in a fork of draw_charts"
    return _draw_here(index, *_SHARED)


def _draw_here(index: int, analysis: Analysis, output: Path) -> Drawn:
    problems: list[Problem] = []
    return draw_chart(_plots.CHARTS[index], analysis, output, problems), problems


def draw_chart(
    chart: _plots.Chart, analysis: Analysis, output: Path, problems: list[Problem]
) -> list[Path]:
    # A chart that cannot be drawn must not cost the reader the rest of the report.
    try:
        with _style.chart_context():
            drawn = chart.draw(chart_input(analysis))
            if drawn is None:
                return []
            figure, caption = drawn
            return _style.save(figure, caption, output / chart.name)
    except Exception as error:
        problems.append(
            Problem(f"{chart.name}.png", f"could not be drawn: {type(error).__name__}: {error}")
        )
        return []


# summary.json


def _spread_json(spread: _stats.Spread) -> dict[str, float | int]:
    return {
        "median": spread.median,
        "min": spread.low,
        "max": spread.high,
        "n": spread.n,
        "range_coverage": spread.coverage,
    }


def _rep_json(rep: RepResult) -> dict[str, Any]:
    return {
        "rep": rep.rep,
        "file": rep.file,
        "valid": rep.valid,
        "flags": list(rep.flags),
        "flags_from": rep.flags_from,
        "flag_details": rep.flag_details,
        "latency_basis": rep.latency_basis,
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
        "rate": summary.test.rate,
        "fraction": summary.test.fraction,
        "basis": summary.basis,
        "latency_source": summary.latency_source,
        "reps_total": len(summary.reps),
        "reps_valid": len(summary.valid_reps),
        "reps_lost_to_server_flags": len(summary.server_losses),
        "saturated_at_rps": summary.saturated_at if summary.saturated else None,
        "metrics": {name: _spread_json(spread) for name, spread in summary.metrics.items()},
        "total_requests": summary.total_requests,
        "total_errors": summary.total_errors,
        "error_codes": summary.error_codes,
        "reps": [_rep_json(rep) for rep in summary.reps],
    }


def _verdict_json(verdict: LatencyVerdict) -> dict[str, Any]:
    return {
        "rps": verdict.rps,
        "metric": verdict.metric,
        "basis": m.basis_text(verdict.source),
        "best": verdict.best,
        "runner_up": verdict.runner_up,
        "ratio": verdict.ratio,
        "ranking": [
            {"setup": r.setup, "median_ms": r.median, "reps": r.summary.reps_text}
            for r in verdict.ranking
        ],
        "saturated": [
            {"setup": s.setup, "saturated_at_rps": s.saturated_at} for s in verdict.saturated
        ],
        "p_value": None if verdict.p_value is None else verdict.p_value.value,
        "interval_percent": None
        if verdict.interval is None
        else {
            "low": verdict.interval.low,
            "high": verdict.interval.high,
            "coverage": verdict.interval.coverage,
        },
        "trust": verdict.trust,
        "reasons": list(verdict.reasons),
        "caveats": list(verdict.caveats),
        "missing": list(verdict.missing),
    }


def summary_document(analysis: Analysis, problems: list[Problem]) -> dict[str, Any]:
    """Everything the report says, as numbers; deterministic (no timestamps) for diffing."""
    run = analysis.run
    meta = run.meta
    return {
        "summary_schema_version": SUMMARY_SCHEMA_VERSION,
        "run_id": run.run_id,
        "run_schema_version": meta.schema_version,
        "status": meta.status,
        "failed_stage": meta.failed_stage,
        "stacks": run.stacks(),
        "latency_rps": run.latency_rps(),
        "rules_version": rules.RULES_VERSION,
        "headline": _headline.headline(analysis),
        "setups": [
            {
                "setup": setup.name,
                "stack": setup.stack,
                "variant": setup.variant,
                "role": setup.role,
                "description": setup.description,
                "state": run.setup_status(setup.name).state,
                "detail": run.setup_status(setup.name).detail,
            }
            for setup in run.setup_table
        ],
        "tests": [_test_json(summary) for summary in analysis.summaries],
        "lowest_latency": _verdict_json(analysis.verdict),
        "problems": [
            {"file": p.file, "severity": p.severity, "message": p.message} for p in problems
        ],
    }


# report.md


def report_markdown(analysis: Analysis, problems: list[Problem], charts: list[_plots.Chart]) -> str:
    run = analysis.run
    sections = [
        _title(run),
        _then_and_now_section(analysis),
        _answer_section(analysis),
        _problems_section(problems),
        _setups_section(analysis),
        _charts_section(charts),
        _results_section(analysis),
        _load_section(analysis),
        _over_time_section(analysis),
        _sweeps_section(analysis),
        _flagged_section(analysis.summaries),
        _derived_section(analysis.summaries),
        seed_markdown(run, analysis.summaries),
        _statistics_section(analysis),
        _plan_section(run),
        _environment_section(run),
        _method_section(),
    ]
    return "\n".join(section for section in sections if section)


_STATUS_TEXT = {
    "complete": "every stage ran; analysis ran after run.json was closed",
    "failed": "a stage failed",
    "interrupted": "the run was stopped before it finished; what was measured is reported",
    "abandoned": "the harness that ran it is gone; what was measured is reported",
    "running": "run.json is still open: either the run is in progress or its harness died",
}


def _title(run: Run) -> str:
    meta = run.meta
    status = meta.status or "unknown"
    why = _STATUS_TEXT.get(status, "")
    failure = ""
    if meta.failed_stage or meta.failure:
        failure = (
            f" Failed stage: {meta.failed_stage or '?'}"
            + (f": {meta.failure}" if meta.failure else "")
            + "."
        )
    return (
        f"# Load test report: {run.run_id}\n\n"
        f"**Final status: {status}**" + (f" ({why})" if why else "") + f".{failure} "
        f"Stack {run.stack_label()}, {meta.inventory or 'unknown'} inventory, "
        f"{meta.started_at or '?'} to {meta.ended_at or '?'}; results schema "
        f"{meta.schema_version}.\n"
    )


def _side_text(
    spread: _stats.Spread | None, saturated_at: float | None, digits: int = 2, note: str = ""
) -> str:
    if saturated_at is not None:
        return f"saturated at {saturated_at:,.0f} req/s"
    return spread_text(spread, digits) if spread is not None else (note or "n/a")


def _ratio_text(old: _stats.Spread | None, new: _stats.Spread | None) -> str:
    if old is None or new is None or old.median == 0:
        return "n/a"
    return f"{new.median / old.median:.2f}x"


def _then_and_now_section(analysis: Analysis) -> str:
    if not analysis.pairs:
        return ""
    run = analysis.run
    clients = closed_loop_clients(analysis.summaries)
    rows = []
    for pair in analysis.pairs:
        old, new = pair.old_side, pair.new_side
        rows.append(
            [
                pair.role,
                f"{pair.old} ({old.reps_text})",
                f"{pair.new} ({new.reps_text})",
                _side_text(old.latency, old.saturated_at, note=old.note or ""),
                _side_text(new.latency, new.saturated_at, note=new.note or ""),
                _ratio_text(old.latency, new.latency),
                _side_text(old.rate, None, 0),
                _side_text(new.rate, None, 0),
                _ratio_text(old.rate, new.rate),
            ]
        )
    stacks = run.stacks()
    statistic = analysis.pairs[0].statistic
    table = markdown_table(
        [
            "role",
            f"then: {stacks[0]}",
            f"now: {' / '.join(stacks[1:])}",
            f"{statistic} at {number(run.latency_rps())} req/s, then (ms)",
            "now (ms)",
            "now / then",
            f"closed loop at {clients} clients, then (req/s)",
            "now (req/s)",
            "now / then",
        ],
        rows,
    )
    return (
        f"## Then and now: {' vs '.join(stacks)}\n\n"
        "Same machine, same run, the same role (catalogue `role`) on each stack. Median over "
        "valid repetitions, min-max in brackets; latency basis per pair as in the results "
        f"below.\n\n{table}\n\n![Then and now](then-and-now.png)\n"
    )


def _answer_section(analysis: Analysis) -> str:
    verdict = analysis.verdict
    lines = [
        f"## The answer: lowest latency at {number(verdict.rps)} req/s",
        "",
        _headline.headline(analysis),
        "",
    ]
    if verdict.ranking:
        unit = "ms"
        order = " < ".join(
            f"{r.setup} {r.median:.2f} {unit} ({r.summary.reps_text})" for r in verdict.ranking
        )
        lines += [f"Ranking by {m.label(verdict.metric)}: {order}.", ""]
        p99 = _p99_order(analysis)
        if p99:
            lines += [p99, ""]
    for summary in verdict.saturated:
        rate = summary.saturated_at
        lines.append(
            f"- {summary.setup} could not sustain {number(verdict.rps)} req/s: saturated at "
            f"{rate:,.0f} req/s in {len(summary.saturated_reps)} of {len(summary.reps)} "
            "repetitions, so it has no steady latency at this rate."
            if rate is not None
            else f"- {summary.setup} could not sustain {number(verdict.rps)} req/s."
        )
    for summary in verdict.unranked:
        flags = sorted({f for rep in summary.reps for f in rep.flags})
        lines.append(
            f"- {summary.setup} is not ranked: {summary.reps_text} repetitions at this rate "
            f"(flags: {', '.join(flags) or 'none'}); a setup is never ranked on flagged ones."
        )
    if verdict.saturated or verdict.unranked:
        lines.append("")
    if len(verdict.reasons) > 1:
        lines += ["Why not:", ""] + [f"- {reason}" for reason in verdict.reasons] + [""]
    lines += ["Worth knowing:", ""] + [f"- {caveat}" for caveat in verdict.caveats] + [""]
    return "\n".join(lines)


def _p99_order(analysis: Analysis) -> str:
    verdict = analysis.verdict
    metric = m.metric(verdict.source or m.LOADTEST, "p99")
    values = sorted(
        (
            (r.setup, r.summary.metrics[metric].median)
            for r in verdict.ranking
            if metric in r.summary.metrics
        ),
        key=lambda entry: entry[1],
    )
    if len(values) < 2:
        return ""
    same = [s for s, _ in values] == [r.setup for r in verdict.ranking]
    order = " < ".join(f"{setup} {value:.2f} ms" for setup, value in values)
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


def _setups_section(analysis: Analysis) -> str:
    run = analysis.run
    rows = []
    for setup in run.setup_table:
        status = run.setup_status(setup.name)
        own = [s for s in analysis.summaries if s.setup == setup.name]
        valid = sum(len(s.valid_reps) for s in own)
        total = sum(len(s.reps) for s in own)
        lost = sorted({f for s in own for rep in s.flagged_reps for f in rep.flags})
        rows.append(
            [
                setup.name,
                setup.description or "n/a",
                setup.role or "n/a",
                status.text,
                f"**{valid} of {total}**",
                ", ".join(lost) or "none",
            ]
        )
    table = markdown_table(
        ["setup", "what runs", "role", "status", "valid reps", "flags of the others"], rows
    )
    return (
        "## Setups\n\nIn the run's order. Flagged repetitions count against their setup: "
        f"they are kept, shown, and never pooled with the valid ones.\n\n{table}\n"
    )


def _charts_section(charts: list[_plots.Chart]) -> str:
    if not charts:
        return ""
    lines = ["## Charts", "", "Each chart as PNG and SVG (same name)."]
    for chart in charts:
        lines += [
            "",
            f"{chart.title}: [{chart.name}.png]({chart.name}.png), "
            f"[{chart.name}.svg]({chart.name}.svg)",
            "",
            f"![{chart.title}]({chart.name}.png)",
        ]
    return "\n".join(lines) + "\n"


# Results per test


def _errors_text(summary: TestSummary) -> str:
    if not summary.total_requests:
        return str(summary.total_errors)
    share = summary.total_errors / summary.total_requests * 100
    return f"{summary.total_errors} of {summary.total_requests} ({share:.2f}%)"


def _reps_cell(run: Run, summary: TestSummary) -> str:
    text = summary.reps_text
    planned = run.meta.plan.repetitions
    if planned is not None and planned != len(summary.reps) and not summary.test.websocket:
        text += f" (plan: {planned})"
    if summary.basis == "flagged only":
        text += "; none valid: numbers from flagged reps"
    return text


def _latency_cells(summary: TestSummary, source: str) -> list[str]:
    digits = 0 if source == m.LOADTEST else 2
    return [
        spread_text(summary.metrics.get(m.metric(source, statistic)), digits)
        if m.metric(source, statistic) in summary.metrics
        else "n/a"
        for statistic in _LATENCY_COLUMNS
    ]


def _sources_of(summary: TestSummary) -> list[str]:
    candidates = (
        (m.CORRECTED, m.UNCORRECTED, m.LOADTEST)
        if summary.test.fixed_rate
        else (m.UNCORRECTED, m.LOADTEST)
    )
    return [s for s in candidates if m.metric(s, "p50") in summary.metrics]


def _fixed_rate_table(run: Run, summaries: list[TestSummary]) -> str:
    rows = []
    for summary in summaries:
        asked = [r.requested_rps for r in summary.reps if r.requested_rps is not None]
        achieved = f"{number(_stats.median(asked)) if asked else '?'} -> " + spread_text(
            summary.metrics.get(m.ACHIEVED_RPS), 1
        )
        reps = _reps_cell(run, summary)
        if summary.saturated:
            rows.append(
                [
                    summary.setup,
                    reps,
                    achieved,
                    "saturated",
                    f"saturated at {summary.saturated_at or 0:,.0f} req/s: no steady latency",
                    *([""] * (len(_LATENCY_COLUMNS) - 1)),
                    _errors_text(summary),
                ]
            )
            continue
        for index, source in enumerate(_sources_of(summary)):
            rows.append(
                [
                    summary.setup if index == 0 else "",
                    reps if index == 0 else "",
                    achieved if index == 0 else "",
                    m.SOURCE_LABELS[source],
                    *_latency_cells(summary, source),
                    _errors_text(summary) if index == 0 else "",
                ]
            )
    return markdown_table(
        [
            "setup",
            "valid reps",
            "asked -> achieved (req/s)",
            "basis",
            *(f"{c} (ms)" for c in _LATENCY_COLUMNS),
            "errors (all reps)",
        ],
        rows,
    )


def _closed_loop_table(run: Run, summaries: list[TestSummary]) -> str:
    rows = []
    for summary in summaries:
        source = summary.latency_source or m.LOADTEST
        references = [
            r.rps
            for r in run.references_of(summary.setup, summary.test.clients or 0)
            if r.rps is not None
        ]
        share = summary.metrics.get(m.REFERENCE_SHARE)
        achieved = summary.metrics.get(m.ACHIEVED_RPS)
        if share is None and references and achieved is not None:
            # Reps without their own reference: the share against the reference files' median.
            share_text = f"{achieved.median / _stats.median(references) * 100:.0f} (files)"
        else:
            share_text = spread_text(share, 0)
        rows.append(
            [
                summary.setup,
                _reps_cell(run, summary),
                spread_text(summary.metrics.get(m.ACHIEVED_RPS), 1),
                spread_text(_stats.spread(references), 1) if references else "n/a",
                share_text,
                m.SOURCE_LABELS.get(source, source),
                *(
                    spread_text(
                        summary.metrics.get(m.metric(source, s)), 0 if source == m.LOADTEST else 2
                    )
                    for s in ("p50", "p99", "mean")
                ),
                _errors_text(summary),
            ]
        )
    return markdown_table(
        [
            "setup",
            "valid reps",
            "achieved (req/s)",
            "wrk (req/s)",
            "of wrk's rate (%)",
            "basis",
            "p50 (ms)",
            "p99 (ms)",
            "mean (ms)",
            "errors (all reps)",
        ],
        rows,
    )


def _websocket_table(run: Run, summaries: list[TestSummary]) -> str:
    rows = []
    for summary in summaries:
        source = summary.latency_source
        latency = [
            spread_text(summary.metrics.get(m.metric(source, s)), 2) if source else "n/a"
            for s in ("p50", "p99", "p99.9", "max")
        ]
        counts = [
            spread_text(summary.metrics.get(m.metric("messages", k)), 0)
            if m.metric("messages", k) in summary.metrics
            else "n/a"
            for k in ("sent", "received", "lost", "duplicated", "out_of_order")
        ]
        loss = summary.metrics.get("messages:loss_share")
        rows.append(
            [
                summary.setup,
                _reps_cell(run, summary),
                m.SOURCE_LABELS.get(source or "", source or "n/a"),
                *latency,
                *counts,
                spread_text(loss, 3) if loss else "n/a",
            ]
        )
    return markdown_table(
        [
            "setup",
            "valid reps",
            "latency",
            "p50 (ms)",
            "p99 (ms)",
            "p99.9 (ms)",
            "max (ms)",
            "sent",
            "received",
            "lost",
            "duplicated",
            "out of order",
            "lost (%)",
        ],
        rows,
    )


def _connect_table(summaries: list[TestSummary]) -> str:
    rows = []
    for summary in summaries:
        for rep in summary.reps:
            for step in rep.steps:
                rows.append(
                    [
                        summary.setup,
                        str(rep.rep),
                        number(step.connections),
                        number(step.held),
                        number(step.failures),
                        fixed(step.handshake_p50_ms, 2),
                        fixed(step.handshake_p99_ms, 2),
                        fixed(step.memory_per_connection_kb, 1),
                        "valid" if rep.valid else "flagged",
                    ]
                )
    if not rows:
        return "The ws-connect documents hold no steps."
    return markdown_table(
        [
            "setup",
            "rep",
            "connections asked",
            "held",
            "failures",
            "handshake p50 (ms)",
            "handshake p99 (ms)",
            "server memory per connection (KiB)",
            "repetition",
        ],
        rows,
    )


def _test_heading(run: Run, test: TestKey, summaries: list[TestSummary]) -> str:
    plan = run.meta.plan
    if test == LATENCY_TEST:
        duration = (
            f", {number(plan.latency_duration_s)} s per repetition"
            if plan.latency_duration_s
            else ""
        )
        return f"### Latency test at {number(run.latency_rps())} req/s{duration}"
    if test.kind == "throughput":
        duration = (
            f", {number(plan.throughput_duration_s)} s per repetition"
            if plan.throughput_duration_s
            else ""
        )
        noun = "client" if test.clients == 1 else "clients"
        return f"### Closed loop at {test.clients} {noun}{duration}"
    if test.kind == "sweep":
        extra = " (each setup's capacity: its best closed-loop rep)" if test.fraction else ""
        return f"### Rate sweep: {test.label}{extra}"
    return f"### WebSocket: {test.kind}"


def _results_section(analysis: Analysis) -> str:
    run = analysis.run
    parts = [
        "## Results per test\n\nEach cell: median over valid repetitions, min-max in brackets "
        "(with n repetitions the range covers a setup's median with probability "
        "1 - 2 x 0.5^n: 75 % at n = 3). Fixed-rate tests give each basis on its own row: "
        "`corrected` (HdrHistogram, timed from the scheduled send: what a user waits), "
        "`uncorrected` (from the actual send) and `loadtest` (loadtest's whole milliseconds). "
        "Errors count every repetition, flagged ones included.\n"
    ]
    for test in run.tests():
        summaries = [s for s in analysis.summaries if s.test == test]
        if test.fixed_rate:
            table = _fixed_rate_table(run, summaries)
        elif test.closed_loop:
            table = _closed_loop_table(run, summaries)
        elif test.kind == "ws-connect":
            table = _connect_table(summaries)
        else:
            table = _websocket_table(run, summaries)
        parts.append(f"{_test_heading(run, test, summaries)}\n\n{table}\n")
    if not run.tests():
        parts.append("No repetition could be read.\n")
    return "\n".join(parts)


def _load_section(analysis: Analysis) -> str:
    curves = [c for c in analysis.curves if len(c.points) > 1]
    if not curves:
        return ""
    rps = analysis.run.latency_rps() or 300.0
    lines = [
        "## Latency against offered load",
        "",
        "Every fixed-rate test of a setup (the sweep's points and the latency test). A point the "
        "setup could not keep up with (rate_shortfall, backlog) is saturated: its rate is its "
        "ceiling there, and it has no latency. Chart: [latency-vs-load.png](latency-vs-load.png).",
        "",
    ]
    for curve in curves:
        rows = []
        for point in curve.points:
            rows.append(
                [
                    point.summary.test.label,
                    number(point.offered_rps),
                    spread_text(point.achieved, 1),
                    "saturated" if point.saturated else spread_text(point.p50, 2),
                    "" if point.saturated else spread_text(point.p99, 2),
                    point.summary.reps_text,
                ]
            )
        lines += [
            f"### {curve.setup} ({m.basis_text(curve.source)})",
            "",
            markdown_table(
                ["test", "offered (req/s)", "achieved (req/s)", "p50 (ms)", "p99 (ms)", "reps"],
                rows,
            ),
            "",
            f"**At {rps:g} req/s**: {answer_at(curve, rps)}",
            "",
        ]
    return "\n".join(lines)


def _over_time_section(analysis: Analysis) -> str:
    closed = [s for s in analysis.summaries if s.test.closed_loop]
    if not closed:
        return ""
    rows = []
    for summary in sorted(
        closed, key=lambda s: (s.test.sort_key, analysis.run.setups().index(s.setup))
    ):
        try:
            found = series(summary, analysis.bin_s)
        except BinError as error:
            return f"## Throughput over time\n\n{error}.\n"
        if not found.points:
            text = "no timeline" if found.reps_without_timeline else "no full interval"
        else:
            text = "; ".join(f"{p.median:,.0f}" for p in found.points)
        rows.append([summary.setup, str(summary.test.clients), summary.reps_text, text])
    note = f" Note: {analysis.bin_note}." if analysis.bin_note else ""
    clients = closed_loop_clients(analysis.summaries)
    return (
        f"## Throughput over time\n\nRequests completed per full {analysis.bin_s:g}-s interval "
        "of each closed-loop test, median over valid repetitions, interval by interval (a "
        "cut-off last interval and the tail after the stop are left out; `--bin` changes the "
        f"interval).{note} The chart shows {clients} clients, the count closest to the seed's "
        "10: [throughput-over-time.png](throughput-over-time.png).\n\n"
        + markdown_table(
            ["setup", "clients", "valid reps", f"requests per {analysis.bin_s:g} s"], rows
        )
        + "\n"
    )


def _sweeps_section(analysis: Analysis) -> str:
    groups = version_sweeps(analysis.run)
    if not groups:
        return ""
    run = analysis.run
    clients = closed_loop_clients(analysis.summaries)
    lines = [
        "## Version sweeps",
        "",
        "Setups that differ only by one package's version, side by side; ratios against the first.",
        "",
    ]
    for base, members in groups:
        summaries = [find(analysis.summaries, name, LATENCY_TEST) for name in members]
        kept = [s for s in summaries if s is not None and not s.saturated]
        source = common_source(LATENCY_TEST, kept)
        metric = m.metric(source or m.LOADTEST, headline_statistic(source))
        rows = []
        first_latency: _stats.Spread | None = None
        first_rate: _stats.Spread | None = None
        for index, (name, latency) in enumerate(zip(members, summaries, strict=True)):
            closed = (
                find(analysis.summaries, name, TestKey("throughput", clients)) if clients else None
            )
            usable = latency is not None and not latency.saturated and latency.basis == "valid"
            value = latency.metrics.get(metric) if usable and latency else None
            rate = (
                closed.metrics.get(m.ACHIEVED_RPS) if closed and closed.basis == "valid" else None
            )
            if index == 0:
                # Ratios are against the first: the base when it was measured.
                first_latency, first_rate = value, rate
            info = run.setup_info(name)
            saturated_at = latency.saturated_at if latency and latency.saturated else None
            rows.append(
                [
                    name,
                    info.variant if info and info.variant else "base",
                    _side_text(value, saturated_at, note="no valid repetition"),
                    _ratio_text(first_latency, value) if index else "",
                    spread_text(rate, 0),
                    _ratio_text(first_rate, rate) if index else "",
                ]
            )
        lines += [
            f"### {base}",
            "",
            markdown_table(
                [
                    "setup",
                    "variant",
                    f"{m.label(metric)} at {number(run.latency_rps())} req/s (ms)",
                    "ratio",
                    f"closed loop at {clients} clients (req/s)",
                    "ratio",
                ],
                rows,
            ),
            "",
        ]
    return "\n".join(lines)


def _flagged_section(summaries: list[TestSummary]) -> str:
    flagged = [rep for summary in summaries for rep in summary.flagged_reps]
    if not flagged:
        return "## Flagged repetitions\n\nNone: every repetition read is valid.\n"
    rows = []
    for rep in flagged:
        details = [rep.flag_details.get(flag, flag) for flag in rep.flags]
        why = "; ".join(details) or "marked invalid by the harness without a flag"
        if rep.flags_from == "analysis":
            why += (
                f" (flagged by analysis with the rule book v{rules.RULES_VERSION}: "
                "the file has no flags)"
            )
        rows.append([rep.setup, rep.test.label, str(rep.rep), why, f"`{rep.file}`"])
    table = markdown_table(["setup", "test", "rep", "why", "file"], rows)
    return (
        "## Flagged repetitions\n\nKept and listed, never pooled with valid ones; each flag with "
        "the rule book's sentence and the numbers that set it.\n\n" + table + "\n"
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


def _statistics_section(analysis: Analysis) -> str:
    counts = sorted({len(s.valid_reps) for s in analysis.summaries if s.valid_reps}) or [3]
    planned = analysis.run.meta.plan.repetitions
    if planned:
        counts = sorted({*counts, planned})
    rows = []
    for n in counts:
        smallest = _stats.smallest_p_value(n, n)
        rows.append(
            [
                str(n),
                f"{_stats.range_coverage(n):.1%}",
                f"{smallest:.3g}",
                "yes" if smallest <= _stats.ALPHA else "no",
            ]
        )
    needed = [
        f"{family} comparison{'s' * (family != 1)}: {_stats.repetitions_needed(family)}"
        for family in (1, 10, 30)
    ]
    return (
        "## What the repetitions can support\n\n"
        "Rep-to-rep spread is the only noise a single run measures (not run-to-run: a different "
        "day or a busier neighbour on a shared host is not in it). With n valid repetitions per "
        "setup:\n\n"
        + markdown_table(
            [
                "n",
                "min-max covers the median",
                "smallest two-sided p of two setups",
                "can reach 5 %",
            ],
            rows,
        )
        + "\n\nRepetitions per setup needed for a complete separation to count at 5 % after "
        "Holm's correction: " + "; ".join(needed) + ". Ask for them with "
        "`-e loadtest_repetitions=N` (the default 3 keeps the whole default run within 15 "
        "minutes on 2 cores).\n"
    )


def _plan_section(run: Run) -> str:
    plan = run.meta.plan
    keepalive = "n/a" if plan.keepalive is None else ("on" if plan.keepalive else "off")
    sweep = (
        ", ".join(
            [
                *(f"{r:g} req/s" for r in plan.sweep_rps),
                *(f"{f:g} x capacity" for f in plan.sweep_fractions),
            ]
        )
        or "none"
    )
    rows = [
        ["profile", plan.profile or "n/a"],
        ["repetitions per test", number(plan.repetitions)],
        ["warm-up per repetition", f"{number(plan.warmup_s)} s"],
        [
            "latency test",
            f"{number(plan.latency_rps)} req/s for {number(plan.latency_duration_s)} s",
        ],
        [
            "closed loop",
            f"{', '.join(map(str, plan.throughput_clients)) or 'n/a'} clients "
            f"for {number(plan.throughput_duration_s)} s",
        ],
        ["reference generator", plan.reference_tool or "none"],
        [
            "rate sweep",
            sweep + (f", {number(plan.sweep_duration_s)} s" if plan.sweep_duration_s else ""),
        ],
        ["HTTP keep-alive", keepalive],
        ["request timeout", f"{number(plan.request_timeout_ms)} ms"],
        ["order", run.meta.order_kind or "n/a"],
        ["setups, in run order", ", ".join(run.meta.setups) or "n/a"],
    ]
    return f"## Plan\n\n{markdown_table(['', 'value'], rows)}\n"


_HOST_FIELDS = (
    ("roles", lambda h: ", ".join(h.roles)),
    ("hostname", lambda h: h.hostname),
    ("CPU", lambda h: h.cpu_model),
    ("cores", lambda h: None if h.cores is None else str(h.cores)),
    ("memory", lambda h: None if h.memory_mb is None else f"{h.memory_mb} MB"),
    ("OS", lambda h: h.os),
    ("kernel", lambda h: h.kernel),
    ("instance type", lambda h: h.instance_type),
    (
        "Python",
        lambda h: (
            None
            if h.python_version is None
            else f"{h.python_version} ({h.python_interpreter or 'interpreter unknown'})"
        ),
    ),
    ("node", lambda h: h.node_version),
    ("loadtest", lambda h: h.loadtest_version),
    ("wrk", lambda h: h.wrk_version),
    ("redis", lambda h: h.redis_version),
)


def _host_rows(hosts: list[HostFacts]) -> list[list[str]]:
    return [[name, *(fact(host) or "n/a" for host in hosts)] for name, fact in _HOST_FIELDS]


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
    for setup in run.setup_table:
        if setup.pins:
            lines += [
                f"### Pins of {setup.name}",
                "",
                markdown_table(
                    ["package", "pinned"], [list(p) for p in sorted(setup.pins.items())]
                ),
                "",
            ]
    pins = sorted(meta.pins.items())
    lines += [f"### Default stack ({meta.stack_name or 'unknown'})", ""]
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
        "- Latency numbers come from the harness's HdrHistograms (microseconds, 3 significant "
        "digits, decoded and read exactly) where a repetition has them, else from loadtest's own "
        "result (whole milliseconds; missing percentiles computed from its histogram with "
        "loadtest's rule, module_utils/channels_bench_rules.py). Each table names its basis.\n"
        "- Per test: the median over valid repetitions with the min-max range. Percentile "
        "charts pool the valid repetitions by adding their histograms (exact).\n"
        "- Flags: as written in each repetition; for repetitions without flags, the rule book "
        "applied by analysis (and said so). A setup's valid-repetition count is always shown, "
        "and a verdict is not trusted when the winning setup lost repetitions to flags about "
        "its own behaviour (errors, rate_shortfall, backlog, ...), since dropping those "
        "flatters it.\n"
        '- "Can I trust it": an exact permutation test (Mann-Whitney statistic, every split '
        "enumerated) of the winner against the runner-up over their valid repetitions: **yes** "
        f"at p <= {_stats.ALPHA:g}; **limited** when the repetitions do not overlap but their "
        "count cannot reach that level (3 and 3: p = 0.10 at best); **no** otherwise. The "
        "interval of the change is the distribution-free interval for a shift of the log values "
        "(Moses), at the highest coverage up to 95 % the counts allow, with its true coverage.\n"
    )
