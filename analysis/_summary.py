"""Aggregate repetitions per setup and test, and answer the run's headline question."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import cache
from typing import Literal

from . import _flags, _hdr, _stats
from . import _metrics as m
from ._model import LATENCY_TEST, RepResult, Run, TestKey

# Which repetitions a summary's numbers come from. Flagged reps are never pooled with valid
# ones; only when a test has no valid rep at all are the flagged ones summarised, labelled so.
Basis = Literal["valid", "flagged only", "none"]
Trust = Literal["yes", "limited", "no"]


@cache
def _pooled(encoded: tuple[str, ...]) -> _hdr.Distribution:
    return _hdr.pooled(encoded)


@dataclass(frozen=True)
class TestSummary:
    __test__ = False  # not a pytest test class, despite the name

    setup: str
    test: TestKey
    reps: tuple[RepResult, ...]
    basis: Basis
    metrics: dict[str, _stats.Spread]
    latency_source: str | None  # the latency source every basis rep has (see _metrics)

    @property
    def valid_reps(self) -> tuple[RepResult, ...]:
        return tuple(rep for rep in self.reps if rep.valid)

    @property
    def flagged_reps(self) -> tuple[RepResult, ...]:
        return tuple(rep for rep in self.reps if not rep.valid)

    @property
    def basis_reps(self) -> tuple[RepResult, ...]:
        return self.valid_reps if self.basis == "valid" else self.reps

    @property
    def reps_text(self) -> str:
        """ "2 of 3 valid": flagged reps count against a setup, so this is always shown."""
        return f"{len(self.valid_reps)} of {len(self.reps)} valid"

    @property
    def server_losses(self) -> tuple[RepResult, ...]:
        """Reps lost to flags about the server's own behaviour: dropping them flatters it."""
        return tuple(rep for rep in self.flagged_reps if _flags.server_flags(rep.flags))

    @property
    def saturated(self) -> bool:
        """A fixed-rate test in which no rep kept up with the rate."""
        return bool(self.reps) and not self.valid_reps and all(r.saturated for r in self.reps)

    @property
    def saturated_reps(self) -> tuple[RepResult, ...]:
        return tuple(rep for rep in self.reps if rep.saturated)

    @property
    def saturated_at(self) -> float | None:
        """The median rate the saturated reps did achieve: the setup's ceiling at this load."""
        rates = [r.achieved_rps for r in self.saturated_reps if r.achieved_rps is not None]
        return _stats.median(rates) if rates else None

    def values(self, metric: str) -> list[float]:
        return [rep.metrics[metric] for rep in self.basis_reps if metric in rep.metrics]

    def valid_values(self, metric: str) -> list[float]:
        return [rep.metrics[metric] for rep in self.valid_reps if metric in rep.metrics]

    def latency(self, statistic: str) -> _stats.Spread | None:
        if self.latency_source is None:
            return None
        return self.metrics.get(m.metric(self.latency_source, statistic))

    def pooled(self, source: str | None = None) -> _hdr.Distribution | None:
        """Every request of the basis reps in one histogram (exact merge); None when a rep
        lacks the histogram (a pooled figure must not silently leave a rep out)."""
        name = source or self.latency_source
        if name is None or name == m.LOADTEST:
            return None
        encoded = [rep.histograms.get(name) for rep in self.basis_reps]
        if not encoded or any(text is None for text in encoded):
            return None
        return _pooled(tuple(text for text in encoded if text is not None))

    @property
    def total_requests(self) -> int:
        return sum(rep.total_requests or 0 for rep in self.reps)

    @property
    def total_errors(self) -> int:
        return sum(rep.total_errors for rep in self.reps)

    @property
    def error_codes(self) -> dict[str, int]:
        counts: Counter[str] = Counter()
        for rep in self.reps:
            counts.update(rep.error_codes)
        return dict(sorted(counts.items()))


def summarize_test(setup: str, test: TestKey, reps: list[RepResult]) -> TestSummary:
    valid = [rep for rep in reps if rep.valid]
    basis: Basis = "valid" if valid else ("flagged only" if reps else "none")
    chosen = valid or reps
    names = sorted({name for rep in chosen for name in rep.metrics})
    metrics = {}
    for name in names:
        values = [rep.metrics[name] for rep in chosen if name in rep.metrics]
        if values:
            metrics[name] = _stats.spread(values)
    return TestSummary(
        setup=setup,
        test=test,
        reps=tuple(reps),
        basis=basis,
        metrics=metrics,
        latency_source=m.latency_source(test, chosen),
    )


def summarize_tests(run: Run) -> list[TestSummary]:
    """One summary per setup and test that has any repetition, setups in the run's order."""
    summaries = []
    for test in run.tests():
        for setup in run.setups():
            reps = run.reps_of(setup, test)
            if reps:
                summaries.append(summarize_test(setup, test, reps))
    return summaries


def find(summaries: list[TestSummary], setup: str, test: TestKey) -> TestSummary | None:
    return next((s for s in summaries if s.setup == setup and s.test == test), None)


def closed_loop_clients(summaries: list[TestSummary], near: int = 10) -> int | None:
    """The run's client count closest to `near` (the seed's 10), the smaller on a tie."""
    counts = {s.test.clients for s in summaries if s.test.closed_loop and s.test.clients}
    return min(counts, key=lambda c: (abs(c - near), c)) if counts else None


def common_source(test: TestKey, summaries: list[TestSummary]) -> str | None:
    """The best latency source all the given summaries share (one basis for a ranking)."""
    reps = [rep for s in summaries for rep in s.basis_reps]
    return m.latency_source(test, reps)


def headline_statistic(source: str | None) -> str:
    """p50 from exact histograms; loadtest's whole milliseconds make p50 a 1-ms step, so its
    mean (which has decimals) ranks them instead."""
    return "mean" if source == m.LOADTEST else "p50"


# The headline verdict: which setup had the lowest latency at the fixed rate


@dataclass(frozen=True)
class Ranked:
    summary: TestSummary
    median: float
    spread: _stats.Spread

    @property
    def setup(self) -> str:
        return self.summary.setup


@dataclass(frozen=True)
class LatencyVerdict:
    rps: float | None
    source: str | None
    statistic: str
    ranking: tuple[Ranked, ...]  # lowest first; setups with valid reps at the rate only
    saturated: tuple[TestSummary, ...]  # could not sustain the rate: no steady latency
    unranked: tuple[TestSummary, ...]  # no valid repetition: never ranked on flagged ones
    missing: tuple[str, ...]  # asked for, with no latency numbers
    p_value: _stats.PValue | None  # exact permutation test, best vs runner-up
    interval: _stats.ShiftInterval | None  # change from best to runner-up, percent
    trust: Trust
    reasons: tuple[str, ...]
    caveats: tuple[str, ...]

    @property
    def best(self) -> str | None:
        return self.ranking[0].setup if self.ranking else None

    @property
    def runner_up(self) -> str | None:
        return self.ranking[1].setup if len(self.ranking) > 1 else None

    @property
    def metric(self) -> str:
        return m.metric(self.source or m.LOADTEST, self.statistic)

    @property
    def ratio(self) -> float | None:
        if len(self.ranking) < 2 or self.ranking[0].median <= 0:
            return None
        return self.ranking[1].median / self.ranking[0].median


def lowest_latency(run: Run, summaries: list[TestSummary]) -> LatencyVerdict:
    latency = [s for s in summaries if s.test == LATENCY_TEST]
    saturated = tuple(s for s in latency if s.saturated)
    # A setup ranks on valid repetitions only: one whose every request failed fast must not win.
    kept_up = [s for s in latency if s.basis == "valid" and s.latency_source is not None]
    unranked = tuple(s for s in latency if not s.saturated and s not in kept_up)
    source = common_source(LATENCY_TEST, kept_up)
    statistic = headline_statistic(source)
    metric = m.metric(source or m.LOADTEST, statistic)
    ranking = tuple(
        sorted(
            (
                Ranked(s, s.metrics[metric].median, s.metrics[metric])
                for s in kept_up
                if metric in s.metrics
            ),
            key=lambda entry: entry.median,
        )
    )
    measured = {s.setup for s in latency}
    missing = tuple(setup for setup in run.setups() if setup not in measured)
    caveats = _caveats(run, latency, missing, source)
    if len(ranking) < 2:
        reason = "no setup" if not ranking else "only one setup"
        return LatencyVerdict(
            rps=run.latency_rps(),
            source=source,
            statistic=statistic,
            ranking=ranking,
            saturated=saturated,
            unranked=unranked,
            missing=missing,
            p_value=None,
            interval=None,
            trust="no",
            reasons=(f"{reason} had valid repetitions at the rate: nothing to compare",),
            caveats=caveats,
        )
    best, runner_up = ranking[0].summary, ranking[1].summary
    base, other = best.values(metric), runner_up.values(metric)
    if len(ranking) > 2:
        caveats = (
            *caveats,
            f"The winner and the runner-up were picked by their medians among {len(ranking)} "
            "setups; the test does not correct for that choice, so its p-value is somewhat "
            "optimistic.",
        )
    p_value = _stats.permutation_p_value(base, other)
    interval = _stats.ratio_interval(base, other)
    trust, reasons = judge_pair(best, runner_up, base, other, p_value)
    return LatencyVerdict(
        rps=run.latency_rps(),
        source=source,
        statistic=statistic,
        ranking=ranking,
        saturated=saturated,
        unranked=unranked,
        missing=missing,
        p_value=p_value,
        interval=interval,
        trust=trust,
        reasons=reasons,
        caveats=caveats,
    )


def judge_pair(
    best: TestSummary,
    runner_up: TestSummary,
    base: list[float],
    other: list[float],
    p_value: _stats.PValue,
) -> tuple[Trust, tuple[str, ...]]:
    """Can "best is lower than runner-up" be trusted, and why (or why not)."""
    against = []
    for summary in (best, runner_up):
        if summary.basis != "valid":
            against.append(f"{summary.setup} has no valid repetition; its numbers are flagged ones")
        elif len(summary.valid_reps) < 2:
            against.append(f"{summary.setup} has {summary.reps_text} repetitions: no spread")
    lost = best.server_losses
    if lost:
        flags = sorted({f for rep in lost for f in _flags.server_flags(rep.flags)})
        against.append(
            f"{best.setup} lost {len(lost)} of {len(best.reps)} repetitions to "
            f"{', '.join(flags)}; leaving them out flatters it"
        )
    if against:
        return "no", tuple(against)
    n, k = len(base), len(other)
    if p_value.value <= _stats.ALPHA:
        return "yes", (
            f"exact permutation test over {n} and {k} valid repetitions: p = {p_value.value:.3g} "
            f"(two-sided), below {_stats.ALPHA:g}",
        )
    if _stats.ranges_separate(base, other):
        return "limited", (
            f"the {n} and {k} repetitions do not overlap, which with no real difference happens "
            f"with probability {p_value.value:.2g} (2 / C({n + k}, {n})); {n} and {k} "
            f"repetitions cannot show more, so this is {1 - p_value.value:.0%} confidence, not "
            f"95 % (ask for -e loadtest_repetitions={_stats.repetitions_needed()} for a 5 % test)",
        )
    return "no", (
        f"the repetitions overlap (exact permutation test p = {p_value.value:.2g}): the gap is "
        "within rep-to-rep noise",
    )


def _caveats(
    run: Run, latency: list[TestSummary], missing: tuple[str, ...], source: str | None
) -> tuple[str, ...]:
    caveats = [f"Latency basis: {m.basis_text(source)}."]
    for setup in missing:
        caveats.append(f"{setup} has no latency numbers ({run.setup_status(setup).text}).")
    flagged = sum(len(s.flagged_reps) for s in latency)
    if flagged:
        caveats.append(
            f"{flagged} flagged latency repetition{'s' * (flagged != 1)} kept out of the "
            "medians and listed under Flagged repetitions; they count against their setup."
        )
    shared = set(run.meta.topology.get("source", ())) & set(run.meta.topology.get("target", ()))
    placement = run.meta.placement
    if shared:
        if not placement:
            how = "; the run does not record whether they had separate CPUs"
        elif placement.get("server_cpus") and placement.get("generator_cpus"):
            how = (
                f" on separate CPUs (server {placement['server_cpus']}, generator "
                f"{placement['generator_cpus']})"
            )
        else:
            how = " without CPU pinning"
        caveats.append(
            f"The load generator ran on the server's host ({', '.join(sorted(shared))}){how}."
        )
    if source == m.LOADTEST:
        caveats.append(
            "loadtest times from the actual send and cuts each latency to whole milliseconds: "
            "no correction for coordinated omission, and sub-millisecond latencies read low."
        )
    return tuple(caveats)
