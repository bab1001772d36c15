"""Throughput over time: the harness's per-bin completions, re-binned (5 s by default, as the
seed drew them), for each closed-loop repetition."""

from __future__ import annotations

import math
from dataclasses import dataclass

from . import _stats
from ._model import RepResult, Timeline
from ._summary import TestSummary

DEFAULT_BIN_S = 5.0


class BinError(ValueError):
    """A bin that is not a whole multiple of the timeline's own."""


def rebin(timeline: Timeline, bin_s: float, duration_s: float | None) -> list[int]:
    """Completions per bin_s, over the measured part only (the tail after the stop is not a
    full interval of load) and full bins only (a cut-off last bin would read low)."""
    factor = bin_s / timeline.bin_s
    if factor < 1 - 1e-9 or abs(factor - round(factor)) > 1e-6:
        raise BinError(
            f"a bin of {bin_s:g} s is not a whole multiple of the timeline's {timeline.bin_s:g} s"
        )
    width = round(factor)
    span = duration_s if duration_s else len(timeline.completed) * timeline.bin_s
    full = min(math.floor(span / bin_s + 1e-9), len(timeline.completed) // width)
    return [sum(timeline.completed[i * width : (i + 1) * width]) for i in range(full)]


def check_bin(bin_s: float, timelines: list[Timeline]) -> None:
    """Refuse, before anything is written, a bin no timeline of the run can be re-binned to."""
    for timeline_bin in sorted({t.bin_s for t in timelines}):
        factor = bin_s / timeline_bin
        if factor < 1 - 1e-9 or abs(factor - round(factor)) > 1e-6:
            choices = ", ".join(f"{timeline_bin * k:g}" for k in (1, 5, 10, 20, 50))
            raise BinError(
                f"--bin {bin_s:g}: the run's timelines count completions per {timeline_bin:g} s, "
                f"so the interval must be a whole multiple of it (for example {choices})"
            )


def usable_bin(requested: float | None, timelines: list[Timeline]) -> tuple[float, str | None]:
    """The interval to re-bin to: the one asked for (refused if it does not fit, see check_bin),
    else the default 5 s, or, when the run's timelines do not divide 5 s, the nearest whole
    multiple of their bin, with a note saying so."""
    if requested is not None:
        check_bin(requested, timelines)
        return requested, None
    try:
        check_bin(DEFAULT_BIN_S, timelines)
    except BinError:
        own = max({t.bin_s for t in timelines})
        chosen = max(1, round(DEFAULT_BIN_S / own)) * own
        check_bin(chosen, timelines)
        return chosen, (
            f"the run's timelines count per {own:g} s, so throughput over time uses "
            f"{chosen:g}-s intervals instead of {DEFAULT_BIN_S:g} s"
        )
    return DEFAULT_BIN_S, None


@dataclass(frozen=True)
class SeriesPoint:
    end_s: float  # the end of the bin, seconds from the measured start
    median: float  # requests completed in the bin: median over reps
    low: float
    high: float
    n: int


@dataclass(frozen=True)
class Series:
    setup: str
    clients: int | None
    bin_s: float
    points: tuple[SeriesPoint, ...]
    per_rep: tuple[tuple[int, ...], ...]  # each basis rep's bins
    reps_without_timeline: int


def series(summary: TestSummary, bin_s: float = DEFAULT_BIN_S) -> Series:
    """Requests per bin over the basis reps of one closed-loop test, bin by bin."""
    per_rep = []
    missing = 0
    for rep in summary.basis_reps:
        bins = rep_bins(rep, bin_s)
        if bins is None:
            missing += 1
        else:
            per_rep.append(tuple(bins))
    points = []
    for index in range(max((len(bins) for bins in per_rep), default=0)):
        values = [float(bins[index]) for bins in per_rep if index < len(bins)]
        spread = _stats.spread(values)
        points.append(
            SeriesPoint((index + 1) * bin_s, spread.median, spread.low, spread.high, spread.n)
        )
    return Series(
        setup=summary.setup,
        clients=summary.test.clients,
        bin_s=bin_s,
        points=tuple(points),
        per_rep=tuple(per_rep),
        reps_without_timeline=missing,
    )


def rep_bins(rep: RepResult, bin_s: float) -> list[int] | None:
    if rep.timeline is None:
        return None
    return rebin(rep.timeline, bin_s, rep.duration_s)
