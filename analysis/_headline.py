"""The run's answer in one paragraph: which setup, by how much, and can I trust it.

`python -m analysis headline RUN` prints it, the report opens its answer with it, and `make
bench` prints it at the end of a run."""

from __future__ import annotations

from . import _metrics as m
from ._analysis import Analysis
from ._format import number
from ._model import TestKey
from ._summary import LatencyVerdict, TestSummary, closed_loop_clients, find

_TRUST_WORDS = {"yes": "Yes", "limited": "Only as far as its repetitions go", "no": "No"}


def headline(analysis: Analysis) -> str:
    run = analysis.run
    parts = [f"Run {run.run_id} ended {run.meta.status or 'with no status recorded'}."]
    parts += _latency(analysis.verdict)
    parts += _closed_loop(analysis)
    verdict = analysis.verdict
    if verdict.best is not None:
        trust = _TRUST_WORDS[verdict.trust]
        parts.append(f"Can I trust it? {trust}: {verdict.reasons[0]}.")
    parts.append(_repetitions(analysis.summaries))
    return " ".join(parts)


def _latency(verdict: LatencyVerdict) -> list[str]:
    rate = f"{number(verdict.rps)} req/s" if verdict.rps else "the fixed rate"
    statistic = m.label(verdict.metric)
    parts = []
    if len(verdict.ranking) >= 2 and verdict.ratio is not None:
        best, second = verdict.ranking[0], verdict.ranking[1]
        interval = verdict.interval
        how_sure = (
            f"; {second.setup} is {interval.low:+.0f} % to {interval.high:+.0f} % higher "
            f"(distribution-free interval, {interval.coverage:.0%} coverage)"
            if interval is not None
            else ""
        )
        parts.append(
            f"At {rate}, {best.setup} had the lowest latency: {statistic} {best.median:.2f} ms "
            f"against {second.setup}'s {second.median:.2f} ms, {verdict.ratio:.2f}x "
            f"lower{how_sure}."
        )
    elif verdict.ranking:
        only = verdict.ranking[0]
        parts.append(
            f"At {rate}, only {only.setup} has latency numbers: {statistic} {only.median:.2f} ms."
        )
    else:
        parts.append(f"No setup has latency numbers at {rate}.")
    for summary in verdict.unranked:
        flags = sorted({f for rep in summary.reps for f in rep.flags})
        parts.append(
            f"{summary.setup} is not ranked: no valid repetition ({', '.join(flags) or 'invalid'})."
        )
    for summary in verdict.saturated:
        at = summary.saturated_at
        parts.append(
            f"{summary.setup} could not sustain {rate}"
            + (f": it saturated at {at:,.0f} req/s." if at is not None else ".")
        )
    return parts


def _closed_loop(analysis: Analysis) -> list[str]:
    clients = closed_loop_clients(analysis.summaries)
    if clients is None:
        return []
    rates = []
    for setup in analysis.run.setups():
        summary = find(analysis.summaries, setup, TestKey("throughput", clients))
        if summary is not None and summary.basis == "valid" and m.ACHIEVED_RPS in summary.metrics:
            rates.append((summary.metrics[m.ACHIEVED_RPS].median, setup))
    if not rates:
        return []
    rates.sort(reverse=True)
    best_rate, best = rates[0]
    text = (
        f"In the closed loop at {clients} clients, {best} reached the highest rate, "
        f"{best_rate:,.0f} req/s"
    )
    if len(rates) > 1 and rates[1][0] > 0:
        text += f" ({best_rate / rates[1][0]:.2f}x {rates[1][1]}'s {rates[1][0]:,.0f})"
    return [text + "."]


def _repetitions(summaries: list[TestSummary]) -> str:
    valid = sum(len(s.valid_reps) for s in summaries)
    total = sum(len(s.reps) for s in summaries)
    losses: dict[str, list[str]] = {}
    for summary in summaries:
        for rep in summary.flagged_reps:
            losses.setdefault(summary.setup, []).extend(rep.flags or ("invalid",))
    text = f"{valid} of {total} repetitions valid"
    if losses:
        text += "; flagged: " + "; ".join(
            f"{setup} ({', '.join(sorted(set(flags)))})" for setup, flags in losses.items()
        )
    return text + "."
