"""One run, analysed: the numbers the report, the charts and the headline are all made from."""

from __future__ import annotations

from dataclasses import dataclass

from ._load_curve import LoadCurve, load_curves
from ._model import Run
from ._summary import LatencyVerdict, TestSummary, lowest_latency, summarize_tests
from ._then_and_now import RolePair, role_pairs
from ._timeline import DEFAULT_BIN_S


@dataclass(frozen=True)
class Analysis:
    run: Run
    summaries: list[TestSummary]
    verdict: LatencyVerdict
    curves: list[LoadCurve]  # setups with two fixed-rate tests or more
    pairs: list[RolePair]  # then and now: the same role on two stacks
    bin_s: float  # the throughput-over-time interval
    bin_note: str | None = None  # why bin_s is not the one asked for


def analyse(run: Run, bin_s: float = DEFAULT_BIN_S, bin_note: str | None = None) -> Analysis:
    summaries = summarize_tests(run)
    return Analysis(
        run=run,
        summaries=summaries,
        verdict=lowest_latency(run, summaries),
        curves=load_curves(run, summaries),
        pairs=role_pairs(run, summaries),
        bin_s=bin_s,
        bin_note=bin_note,
    )
