"""Latency against offered load: every fixed-rate test of a setup (the sweep's points and the
latency test) as one curve, and where the setup stops keeping up.

A fixed-rate rep that fell short of its rate or piled requests up in flight (rate_shortfall,
backlog) has no steady latency: its queue grows for as long as the test runs, so its "latency" is
the test's duration, not the server's. Such a point is shown as "saturated at X req/s" (the rate
it did achieve), never as a latency.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import _metrics as m
from . import _stats
from ._model import RepResult, Run
from ._summary import TestSummary


@dataclass(frozen=True)
class LoadPoint:
    summary: TestSummary
    offered_rps: float | None
    achieved: _stats.Spread | None  # over every rep, flagged ones included
    p50: _stats.Spread | None  # over the valid reps, in the curve's source
    p99: _stats.Spread | None
    saturated: bool

    @property
    def setup(self) -> str:
        return self.summary.setup


@dataclass(frozen=True)
class LoadCurve:
    setup: str
    source: str | None
    points: tuple[LoadPoint, ...]  # by offered rate

    @property
    def first_saturated(self) -> LoadPoint | None:
        return next((p for p in self.points if p.saturated), None)

    @property
    def highest_sustained(self) -> LoadPoint | None:
        kept = [p for p in self.points if not p.saturated and p.p50 is not None]
        return kept[-1] if kept else None


def _offered(run: Run, summary: TestSummary) -> float | None:
    test = summary.test
    if test.kind == "sweep" and test.rate is not None:
        return test.rate
    asked = [r.requested_rps for r in summary.reps if r.requested_rps is not None]
    if asked:
        return _stats.median(asked)
    return run.latency_rps() if test.kind == "latency" else None


def _achieved(reps: tuple[RepResult, ...]) -> _stats.Spread | None:
    rates = [r.achieved_rps for r in reps if r.achieved_rps is not None]
    return _stats.spread(rates) if rates else None


def load_curves(run: Run, summaries: list[TestSummary], min_points: int = 2) -> list[LoadCurve]:
    """One curve per setup with at least min_points fixed-rate tests (the latency test alone is
    one point: a chart shows it, the report's curves need two)."""
    curves = []
    for setup in run.setups():
        fixed = [s for s in summaries if s.setup == setup and s.test.fixed_rate]
        if len(fixed) < min_points:
            continue
        steady = [rep for s in fixed if not s.saturated for rep in s.valid_reps]
        source = m.latency_source(fixed[0].test, steady)
        points = []
        for summary in fixed:
            valid = summary.valid_reps
            p50 = p99 = None
            if source is not None and not summary.saturated and valid:
                p50 = _spread_of(valid, m.metric(source, "p50"))
                p99 = _spread_of(valid, m.metric(source, "p99"))
            points.append(
                LoadPoint(
                    summary=summary,
                    offered_rps=_offered(run, summary),
                    achieved=_achieved(summary.reps),
                    p50=p50,
                    p99=p99,
                    saturated=summary.saturated,
                )
            )
        points.sort(key=lambda p: (p.offered_rps is None, p.offered_rps or 0.0))
        curves.append(LoadCurve(setup=setup, source=source, points=tuple(points)))
    return curves


def _spread_of(reps: tuple[RepResult, ...], metric: str) -> _stats.Spread | None:
    values = [rep.metrics[metric] for rep in reps if metric in rep.metrics]
    return _stats.spread(values) if values else None


def answer_at(curve: LoadCurve, rps: float) -> str:
    """What latency the setup has at `rps` req/s, or why it has none."""
    beyond = [
        p
        for p in curve.points
        if p.saturated
        and ((p.offered_rps or 0) <= rps or (p.achieved is not None and p.achieved.median < rps))
    ]
    if beyond:
        point = beyond[0]
        reached = point.achieved.median if point.achieved else None
        sustained = curve.highest_sustained
        text = (
            f"{rps:g} req/s is beyond {curve.setup}'s capacity: offered {point.offered_rps:g}, it "
            f"saturated at {reached:,.0f} req/s"
            if reached is not None
            else f"{rps:g} req/s is beyond {curve.setup}'s capacity (saturated at "
            f"{point.offered_rps:g} offered)"
        )
        if sustained is not None and sustained.p50 and sustained.p99:
            text += (
                f"; the highest rate it sustained was {sustained.offered_rps:g} req/s, at p50 "
                f"{sustained.p50.median:.2f} ms and p99 {sustained.p99.median:.2f} ms"
            )
        return text + "."
    at = next((p for p in curve.points if p.offered_rps == rps and p.p50 and p.p99), None)
    if at is not None and at.p50 and at.p99:
        return f"{curve.setup}: p50 {at.p50.median:.2f} ms, p99 {at.p99.median:.2f} ms."
    return f"{curve.setup} was not measured at {rps:g} req/s."
