"""Aggregate repetitions per setup and test, and answer the run's headline question."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Literal

from . import _stats
from ._model import HEADLINE_LATENCY, LATENCY_TEST, METRICS, RepResult, Run, TestKey

# Which repetitions a summary's numbers come from. Flagged reps are never averaged in with valid
# ones; only when a test has no valid rep at all are the flagged ones summarised, and labelled so.
Basis = Literal["valid", "flagged only", "none"]


@dataclass(frozen=True)
class TestSummary:
    setup: str
    test: TestKey
    reps: tuple[RepResult, ...]
    basis: Basis
    metrics: dict[str, _stats.Spread]

    @property
    def valid_reps(self) -> tuple[RepResult, ...]:
        return tuple(rep for rep in self.reps if rep.valid)

    @property
    def flagged_reps(self) -> tuple[RepResult, ...]:
        return tuple(rep for rep in self.reps if not rep.valid)

    @property
    def basis_reps(self) -> tuple[RepResult, ...]:
        return self.valid_reps if self.basis == "valid" else self.reps

    def values(self, metric: str) -> list[float]:
        return [rep.metrics[metric] for rep in self.basis_reps if metric in rep.metrics]

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
    chosen = valid if valid else reps
    metrics = {}
    for metric in METRICS:
        values = [rep.metrics[metric] for rep in chosen if metric in rep.metrics]
        if values:
            metrics[metric] = _stats.spread(values)
    return TestSummary(setup=setup, test=test, reps=tuple(reps), basis=basis, metrics=metrics)


def summarize_tests(run: Run) -> list[TestSummary]:
    """One summary per setup and test that has any repetition, setups in the fixed order."""
    summaries = []
    for setup in run.setups():
        for test in run.tests():
            reps = run.reps_of(setup, test)
            if reps:
                summaries.append(summarize_test(setup, test, reps))
    return summaries


@dataclass(frozen=True)
class LatencyVerdict:
    """Which setup had the lowest latency at the fixed rate, by how much, and can it be trusted."""

    rps: float | None
    metric: str
    ranking: tuple[tuple[str, float, Basis], ...]  # (setup, median, basis), lowest first
    missing: tuple[str, ...]  # setups asked for with no latency numbers
    difference: float | None  # runner-up median minus best median, in the metric's unit
    difference_percent: float | None  # how much lower the best is, relative to the runner-up
    interval: _stats.Interval | None  # bootstrap interval of runner-up minus best
    trusted: bool
    reasons: tuple[str, ...]  # why it can or cannot be trusted
    caveats: tuple[str, ...]  # true either way, worth knowing

    @property
    def best(self) -> str | None:
        return self.ranking[0][0] if self.ranking else None

    @property
    def runner_up(self) -> str | None:
        return self.ranking[1][0] if len(self.ranking) > 1 else None


def lowest_latency(run: Run, summaries: list[TestSummary]) -> LatencyVerdict:
    metric = HEADLINE_LATENCY
    latency = {s.setup: s for s in summaries if s.test == LATENCY_TEST and metric in s.metrics}
    ranking = tuple(
        sorted(
            ((setup, s.metrics[metric].median, s.basis) for setup, s in latency.items()),
            key=lambda entry: entry[1],
        )
    )
    missing = tuple(setup for setup in run.setups() if setup not in latency)
    caveats = _caveats(run, summaries, missing)
    if len(ranking) < 2:
        reason = "no setup has" if not ranking else "only one setup has"
        return LatencyVerdict(
            rps=run.latency_rps(),
            metric=metric,
            ranking=ranking,
            missing=missing,
            difference=None,
            difference_percent=None,
            interval=None,
            trusted=False,
            reasons=(f"{reason} latency numbers, so there is nothing to compare",),
            caveats=caveats,
        )
    best, runner_up = latency[ranking[0][0]], latency[ranking[1][0]]
    difference = ranking[1][1] - ranking[0][1]
    interval = _stats.bootstrap_median_difference(best.values(metric), runner_up.values(metric))
    reasons = _trust_reasons(best, runner_up, interval)
    return LatencyVerdict(
        rps=run.latency_rps(),
        metric=metric,
        ranking=ranking,
        missing=missing,
        difference=difference,
        difference_percent=_stats.percent_change(ranking[1][1], ranking[0][1]),
        interval=interval,
        trusted=not reasons,
        caveats=caveats,
        reasons=reasons or (_trusted_reason(best, runner_up, interval),),
    )


def _trust_reasons(
    best: TestSummary, runner_up: TestSummary, interval: _stats.Interval
) -> tuple[str, ...]:
    reasons = []
    for summary in (best, runner_up):
        count = len(summary.valid_reps)
        if summary.basis != "valid":
            reasons.append(
                f"{summary.setup} has no valid repetition; its numbers come from flagged ones"
            )
        elif count < _stats.MIN_REPS_FOR_VERDICT:
            reasons.append(
                f"{summary.setup} has {count} valid repetition{'s' * (count != 1)}; "
                f"at least {_stats.MIN_REPS_FOR_VERDICT} are needed"
            )
    if not interval.excludes_zero:
        reasons.append(
            f"the 95% bootstrap interval of the difference ({interval.low:+.1f} to "
            f"{interval.high:+.1f} ms) includes zero: the gap is within run-to-run noise"
        )
    return tuple(reasons)


def _trusted_reason(best: TestSummary, runner_up: TestSummary, interval: _stats.Interval) -> str:
    return (
        f"{len(best.valid_reps)} and {len(runner_up.valid_reps)} valid repetitions, and the 95% "
        f"bootstrap interval of the difference ({interval.low:+.1f} to {interval.high:+.1f} ms) "
        "excludes zero"
    )


def _caveats(run: Run, summaries: list[TestSummary], missing: tuple[str, ...]) -> tuple[str, ...]:
    caveats = []
    for setup in missing:
        status = run.setup_status(setup)
        caveats.append(
            f"{setup} has no latency numbers ({status.text}), so the answer leaves it out"
        )
    flagged = sum(len(s.flagged_reps) for s in summaries if s.test == LATENCY_TEST)
    if flagged:
        caveats.append(
            f"{flagged} flagged latency repetition{'s' * (flagged != 1)} left out of "
            "the medians (see Flagged repetitions)"
        )
    shared = set(run.meta.topology.get("source", ())) & set(run.meta.topology.get("target", ()))
    if shared and not run.meta.placement:
        caveats.append(
            f"the load generator ran on the server's host ({', '.join(sorted(shared))}); "
            "the run does not record whether they had separate CPUs"
        )
    elif shared:
        placement = run.meta.placement
        pinned = placement.get("server_cpus") and placement.get("generator_cpus")
        how = (
            f"on separate CPUs (server {placement['server_cpus']}, generator "
            f"{placement['generator_cpus']})"
            if pinned
            else "without CPU pinning"
        )
        caveats.append(
            f"the load generator ran on the server's host ({', '.join(sorted(shared))}) "
            f"{how}, so the two shared one machine"
        )
    caveats.append(
        "loadtest times from the actual send, so latencies are not corrected for "
        "coordinated omission"
    )
    return tuple(caveats)
