"""Setups set side by side: the same role on two stacks (then and now), and the variants of a
version sweep (the same setup with one package at another version)."""

from __future__ import annotations

from dataclasses import dataclass

from . import _metrics as m
from . import _stats
from ._model import LATENCY_TEST, Run, TestKey
from ._summary import TestSummary, closed_loop_clients, common_source, find, headline_statistic


@dataclass(frozen=True)
class Side:
    setup: str
    latency: _stats.Spread | None  # the headline statistic at the fixed rate
    saturated_at: float | None  # when it could not sustain the fixed rate
    rate: _stats.Spread | None  # closed-loop achieved rate at the chosen clients
    reps_text: str
    note: str | None = None  # why a number is missing


@dataclass(frozen=True)
class RolePair:
    role: str
    old: str
    new: str
    source: str | None
    statistic: str
    old_side: Side
    new_side: Side

    @property
    def old_latency(self) -> _stats.Spread | None:
        return self.old_side.latency

    @property
    def new_latency(self) -> _stats.Spread | None:
        return self.new_side.latency

    @property
    def old_rate(self) -> _stats.Spread | None:
        return self.old_side.rate

    @property
    def new_rate(self) -> _stats.Spread | None:
        return self.new_side.rate


def _side(summaries: list[TestSummary], setup: str, metric: str, clients: int | None) -> Side:
    latency = find(summaries, setup, LATENCY_TEST)
    closed = find(summaries, setup, TestKey("throughput", clients)) if clients else None
    saturated = latency is not None and latency.saturated
    reps = [s for s in (latency, closed) if s is not None]
    valid = sum(len(s.valid_reps) for s in reps)
    total = sum(len(s.reps) for s in reps)
    usable = latency is not None and not saturated and latency.basis == "valid"
    return Side(
        setup=setup,
        latency=latency.metrics.get(metric) if usable and latency else None,
        saturated_at=latency.saturated_at if latency is not None and saturated else None,
        rate=closed.metrics.get(m.ACHIEVED_RPS) if closed and closed.basis == "valid" else None,
        reps_text=f"{valid} of {total} valid",
        note=None if usable or saturated else "no valid repetition",
    )


def role_pairs(run: Run, summaries: list[TestSummary]) -> list[RolePair]:
    """The first stack of the run against each later one, setup by setup of the same role
    (variants of a version sweep left out: they are compared with their own base)."""
    stacks = run.stacks()
    if len(stacks) < 2:
        return []
    plain = [s for s in run.setup_table if s.variant is None and s.role]
    old_stack, clients = stacks[0], closed_loop_clients(summaries)
    pairs = []
    for old in (s for s in plain if s.stack == old_stack):
        for new in (s for s in plain if s.stack != old_stack and s.role == old.role):
            both = [
                x
                for x in (
                    find(summaries, old.name, LATENCY_TEST),
                    find(summaries, new.name, LATENCY_TEST),
                )
                if x is not None and not x.saturated
            ]
            source = common_source(LATENCY_TEST, both)
            statistic = headline_statistic(source)
            metric = m.metric(source or m.LOADTEST, statistic)
            pairs.append(
                RolePair(
                    role=old.role or "",
                    old=old.name,
                    new=new.name,
                    source=source,
                    statistic=statistic,
                    old_side=_side(summaries, old.name, metric, clients),
                    new_side=_side(summaries, new.name, metric, clients),
                )
            )
    return pairs


def version_sweeps(run: Run) -> list[tuple[str, list[str]]]:
    """(base name, [the base if measured, then its variants]) for every setup with variants."""
    groups: dict[str, list[str]] = {}
    for setup in run.setup_table:
        if setup.variant is not None:
            groups.setdefault(setup.base, [])
            groups[setup.base].append(setup.name)
    names = set(run.setups())
    return [
        (base, ([base] if base in names else []) + variants) for base, variants in groups.items()
    ]
