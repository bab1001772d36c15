"""The charts: matplotlib on the Agg canvas, never a window, one function per chart.

Each function takes the run's analysed numbers and returns a figure with its caption, or None
when the run holds nothing that chart is about (the optional charts: then and now, WebSocket).
Latencies go on log axes; a setup that could not sustain a fixed rate is shown as "saturated at
X req/s", never as a latency; whiskers are the min-max range of the repetitions, whose coverage
of the setup's median (1 - 2 * 0.5**n) the caption gives.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

from . import _metrics as m
from . import _seed, _stats, _style, _timeline
from ._load_curve import LoadCurve
from ._model import LATENCY_TEST, Run, TestKey
from ._seed_report import LatencyRow, closed_loop_rows, latency_rows
from ._style import Style
from ._summary import LatencyVerdict, TestSummary, closed_loop_clients, find
from ._then_and_now import RolePair, Side, role_pairs

LOADTEST_NINES = {"p50": 2.0, "p90": 10.0, "p95": 20.0, "p99": 100.0}


@dataclass(frozen=True)
class ChartInput:
    run: Run
    summaries: list[TestSummary]
    verdict: LatencyVerdict
    curves: list[LoadCurve]  # every setup with a fixed-rate test, one point or more
    bin_s: float
    styles: dict[str, Style]


Drawn = tuple[Figure, str]
ChartFunction = Callable[[ChartInput], Drawn | None]


def _caption(run: Run, detail: str) -> str:
    status = run.meta.status or "status unknown"
    return f"Run {run.run_id} ({status}), stack {run.stack_label()}. {detail}"


def _coverage_text(summaries: list[TestSummary]) -> str:
    counts = sorted({len(s.valid_reps) for s in summaries if len(s.valid_reps) > 1})
    if not counts:
        return "Whiskers: min-max of the repetitions."
    covered = ", ".join(f"{_stats.range_coverage(n):.0%} for n = {n}" for n in counts)
    return (
        "Whiskers: min-max over the valid repetitions, which covers the setup's median with "
        f"probability {covered}."
    )


def _line(
    ax: Axes, style: Style, xs: list[float], ys: list[float], label: str, **extra: object
) -> None:
    ax.plot(
        xs,
        ys,
        color=style.colour,
        linestyle=style.linestyle,
        marker=style.marker,
        label=label,
        **extra,  # type: ignore[arg-type]
    )


def _handle(style: Style, label: str) -> Line2D:
    return Line2D(
        [], [], color=style.colour, linestyle=style.linestyle, marker=style.marker, label=label
    )


def _saturated_handle(style: Style, setup: str, rate: float | None) -> Line2D:
    text = f"{setup}: saturated at {rate:,.0f} req/s" if rate is not None else f"{setup}: saturated"
    return Line2D(
        [],
        [],
        color=style.colour,
        linestyle="none",
        marker="x",
        markersize=10,
        markeredgewidth=2.5,
        label=text,
    )


# 1. The percentile distribution at the fixed rate


def percentile_chart(data: ChartInput) -> Drawn:
    run, verdict = data.run, data.verdict
    fig, (ax,) = _style.figure()
    latency = [s for s in data.summaries if s.test == LATENCY_TEST]
    highest = 100.0
    handles: list[Line2D] = []
    for summary in latency:
        style = data.styles[summary.setup]
        if summary.saturated:
            handles.append(_saturated_handle(style, summary.setup, summary.saturated_at))
            continue
        distribution = summary.pooled(verdict.source) if verdict.source else None
        if distribution is not None and distribution.total:
            xs, ys = distribution.curve()
            ax.plot(
                xs,
                [y / 1000 for y in ys],
                color=style.colour,
                linestyle=style.linestyle,
                label=f"{summary.setup} ({len(summary.basis_reps)} reps pooled)",
            )
            ax.plot(xs[-1], ys[-1] / 1000, marker=style.marker, color=style.colour)
            highest = max(highest, xs[-1])
        else:
            _loadtest_percentiles(ax, summary, style)
    _style.nines_axis(ax, highest)
    _style.log_ms_axis(ax)
    rate = f"{verdict.rps:g} req/s" if verdict.rps else "the fixed rate"
    ax.set_title(f"Latency by percentile at {rate}")
    existing, _labels = ax.get_legend_handles_labels()
    entries = [*existing, *handles]
    if len(entries) > 3:
        # Many setups: beside the chart, where the legend hides no line.
        fig.set_figwidth(11.0)
        ax.legend(handles=entries, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    elif entries:
        ax.legend(handles=entries, loc="upper left", frameon=False)
    if not entries:
        _style.no_data(ax, "no latency test in this run")
    detail = (
        f"Basis: {m.basis_text(verdict.source)}. Each line pools every request of a setup's valid "
        "repetitions (exact HdrHistogram merge) and ends at the slowest request (marker). "
        if verdict.source not in (None, m.LOADTEST)
        else "Basis: loadtest's own percentiles, whole milliseconds (median over valid "
        "repetitions; no HdrHistogram in this run). "
    )
    return fig, _caption(
        run, detail + "A setup that could not sustain the rate is named, not drawn."
    )


def _loadtest_percentiles(ax: Axes, summary: TestSummary, style: Style) -> None:
    xs, ys, low, high = [], [], [], []
    for name, x in LOADTEST_NINES.items():
        spread = summary.metrics.get(m.metric(m.LOADTEST, name))
        if spread is not None and spread.median > 0:
            xs.append(x)
            ys.append(spread.median)
            low.append(spread.median - spread.low)
            high.append(spread.high - spread.median)
    if xs:
        ax.errorbar(
            xs,
            ys,
            yerr=[low, high],
            color=style.colour,
            linestyle=style.linestyle,
            marker=style.marker,
            capsize=4,
            label=f"{summary.setup} (loadtest, whole ms)",
        )


# 2. Latency against offered load


def latency_vs_load_chart(data: ChartInput) -> Drawn:
    run = data.run
    fig, axes = _style.figure(columns=2, width=13.0, height=5.4)
    rates: list[float] = []
    for curve in data.curves:
        for ax, statistic in zip(axes, ("p50", "p99"), strict=True):
            rates += _draw_curve(ax, curve, statistic, data.styles[curve.setup])
    latency_rps = run.latency_rps()
    for ax, statistic in zip(axes, ("p50", "p99"), strict=True):
        if latency_rps:
            ax.axvline(latency_rps, color="#777777", linestyle=":", linewidth=1.2)
        if rates and max(rates) / max(min(rates), 1e-9) > 20:
            ax.set_xscale("log")
            _style.plain_log_ticks(ax.xaxis)
        elif rates:
            ax.set_xlim(0, max(rates) * 1.15)
        ax.set_xlabel("achieved rate (req/s)")
        _style.log_ms_axis(ax, f"{statistic} latency (ms, log scale)")
        if not any(_steady(curve, statistic) for curve in data.curves):
            # Only saturation marks: a log axis needs a range of its own.
            ax.set_ylim(1, 1000)
            if data.curves:
                _style.no_data(ax, "no setup kept up at any rate:\nonly where each saturated")
        ax.set_title(f"{statistic} against offered load")
    if not data.curves:
        _style.no_data(axes[0], "no fixed-rate test in this run")
    handles, _labels = axes[0].get_legend_handles_labels()
    # The setups first, then where they saturated.
    handles.sort(key=lambda h: "saturated" in str(h.get_label()))
    if handles:
        axes[1].legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    source = data.curves[0].source if data.curves else None
    return fig, _caption(
        run,
        f"Basis: {m.basis_text(source)}. One point per fixed-rate test (sweep points and the "
        f"latency test; dotted line at {latency_rps or 0:g} req/s): median over valid reps. "
        + _coverage_text([p.summary for c in data.curves for p in c.points])
        + " A vertical line with an x at its foot "
        "marks where a setup could not keep up (rate_shortfall or backlog): the rate it "
        "saturated at; beyond it the setup has no latency, only a growing queue.",
    )


def _steady(curve: LoadCurve, statistic: str) -> list[Any]:
    """The points of a curve where the setup kept up, with the statistic and a rate."""
    return [p for p in curve.points if not p.saturated and getattr(p, statistic) and p.achieved]


def _draw_curve(ax: Axes, curve: LoadCurve, statistic: str, style: Style) -> list[float]:
    steady = _steady(curve, statistic)
    xs = [p.achieved.median for p in steady if p.achieved]
    ys = [getattr(p, statistic).median for p in steady]
    if steady:
        ax.errorbar(
            xs,
            ys,
            xerr=[
                [x - p.achieved.low for x, p in zip(xs, steady, strict=True) if p.achieved],
                [p.achieved.high - x for x, p in zip(xs, steady, strict=True) if p.achieved],
            ],
            yerr=[
                [y - getattr(p, statistic).low for y, p in zip(ys, steady, strict=True)],
                [getattr(p, statistic).high - y for y, p in zip(ys, steady, strict=True)],
            ],
            color=style.colour,
            linestyle=style.linestyle,
            marker=style.marker,
            capsize=3,
            label=curve.setup,
        )
    saturated = curve.first_saturated
    if saturated is not None and saturated.achieved is not None:
        at = saturated.achieved.median
        ax.axvline(at, color=style.colour, linestyle=style.linestyle, linewidth=1.4, alpha=0.9)
        ax.plot(
            [at],
            [0.03],
            transform=ax.get_xaxis_transform(),
            marker="x",
            markersize=12,
            markeredgewidth=2.8,
            color=style.colour,
            linestyle="none",
            label=f"{curve.setup}: saturated at {at:,.0f} req/s",
        )
        xs.append(at)
    return xs


# 3. Throughput over time


def throughput_over_time_chart(data: ChartInput) -> Drawn:
    run, bin_s = data.run, data.bin_s
    clients = closed_loop_clients(data.summaries)
    fig, (ax,) = _style.figure()
    drawn, without, longest, covered = 0, 0, 0.0, 0.0
    handles: list[Line2D] = []
    for setup in run.setups():
        summary = find(data.summaries, setup, TestKey("throughput", clients)) if clients else None
        if summary is None:
            continue
        series = _timeline.series(summary, bin_s)
        without += series.reps_without_timeline
        longest = max([longest, *(r.duration_s or 0.0 for r in summary.basis_reps)])
        if not series.points:
            continue
        style = data.styles[setup]
        edges = [0.0, *(p.end_s for p in series.points)]
        covered = max(covered, edges[-1])
        ax.stairs(
            [p.median for p in series.points],
            edges,
            baseline=None,
            color=style.colour,
            linestyle=style.linestyle,
            linewidth=2.2,
        )
        ax.stairs(
            [p.high for p in series.points],
            edges,
            baseline=[p.low for p in series.points],
            fill=True,
            color=style.colour,
            alpha=0.15,
        )
        ax.plot(
            [p.end_s - bin_s / 2 for p in series.points],
            [p.median for p in series.points],
            marker=style.marker,
            color=style.colour,
            linestyle="none",
        )
        handles.append(_handle(style, setup))
        drawn += 1
    if longest > covered > 0:
        ax.axvspan(covered, longest, color="#eeeeee", zorder=0)
        ax.text(
            (covered + longest) / 2,
            0.5,
            "not a full\ninterval:\nleft out",
            transform=ax.get_xaxis_transform(),
            ha="center",
            va="center",
            color="#555555",
        )
    ax.set_xlim(0, max(longest, covered, bin_s))
    ax.set_xlabel("seconds since the measured start")
    ax.set_ylabel(f"requests completed per {bin_s:g} s")
    ax.set_ylim(bottom=0)

    def to_rate(requests: Any) -> Any:
        return requests / bin_s

    def to_requests(rate: Any) -> Any:
        return rate * bin_s

    ax.secondary_yaxis("right", functions=(to_rate, to_requests)).set_ylabel("req/s")
    title = "Throughput over time" + (f", closed loop at {clients} clients" if clients else "")
    ax.set_title(title)
    if drawn:
        ax.legend(handles=handles, loc="best", frameon=True, framealpha=0.9, edgecolor="none")
    else:
        _style.no_data(
            ax, "no closed-loop timeline in this run\n(the harness records them from schema 2 on)"
        )
    return fig, _caption(
        run,
        f"Requests completed in each full {bin_s:g}-s interval of the measured part, as the seed "
        "drew it (a cut-off last interval and the tail after the stop are left out): line = "
        "median over valid reps, band = min-max. --bin sets the interval."
        + (f" {without} rep(s) had no timeline." if without else ""),
    )


# 4. Throughput against clients


def throughput_vs_clients_chart(data: ChartInput) -> Drawn:
    run = data.run
    fig, (ax,) = _style.figure()
    counts: set[int] = set()
    any_reference = False
    for setup in run.setups():
        own = [s for s in data.summaries if s.setup == setup and s.test.closed_loop]
        own = [s for s in own if m.ACHIEVED_RPS in s.metrics and s.test.clients]
        if not own:
            continue
        style = data.styles[setup]
        xs = [float(s.test.clients or 0) for s in own]
        spreads = [s.metrics[m.ACHIEVED_RPS] for s in own]
        counts.update(int(x) for x in xs)
        label = setup + (" (flagged reps only)" if any(s.basis != "valid" for s in own) else "")
        ax.errorbar(
            xs,
            [s.median for s in spreads],
            yerr=[[s.median - s.low for s in spreads], [s.high - s.median for s in spreads]],
            color=style.colour,
            linestyle=style.linestyle,
            marker=style.marker,
            capsize=4,
            label=label,
        )
        reference = [
            (x, _stats.median(r))
            for x, s in zip(xs, own, strict=True)
            if (
                r := [
                    ref.rps
                    for ref in run.references_of(setup, s.test.clients or 0)
                    if ref.rps is not None
                ]
            )
        ]
        if reference:
            any_reference = True
            ax.plot(
                [x for x, _ in reference],
                [y for _, y in reference],
                color=style.colour,
                linestyle=":",
                linewidth=1.4,
                marker=style.marker,
                markerfacecolor="white",
            )
    ax.set_xscale("log")
    if counts:
        ax.xaxis.set_major_locator(FixedLocator(sorted(counts)))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _p: f"{x:g}"))
        ax.set_xlim(min(counts) / 1.4, max(counts) * 1.4)
    ax.set_xlabel("concurrent clients (log scale)")
    rates = [
        s.metrics[m.ACHIEVED_RPS].median
        for s in data.summaries
        if s.test.closed_loop and m.ACHIEVED_RPS in s.metrics
    ]
    if rates and min(rates) > 0 and max(rates) / min(rates) > 20:
        # Setups an order of magnitude apart: a linear axis would flatten the slow ones.
        ax.set_yscale("log")
        _style.plain_log_ticks(ax.yaxis)
        ax.set_ylabel("achieved rate (req/s, log scale)")
    else:
        ax.set_ylim(bottom=0)
        ax.set_ylabel("achieved rate (req/s)")
    ax.set_title("Throughput against clients (closed loop)")
    handles, _labels = ax.get_legend_handles_labels()
    if any_reference:
        handles.append(
            Line2D(
                [],
                [],
                color="#444444",
                linestyle=":",
                marker="o",
                markerfacecolor="white",
                label="wrk at the same clients",
            )
        )
    if handles:
        ax.legend(handles=handles, loc="upper left", frameon=False)
    else:
        _style.no_data(ax, "no closed-loop test in this run")
    summaries = [s for s in data.summaries if s.test.closed_loop]
    return fig, _caption(
        run,
        "Achieved rate with the load generator throttling itself: median over valid reps. "
        + _coverage_text(summaries)
        + (
            " Dotted with hollow markers: the reference generator (wrk) on the same server, "
            "the rate the server allows."
            if any_reference
            else ""
        ),
    )


# 5. The seed, like for like


def seed_chart(data: ChartInput) -> Drawn:
    run = data.run
    fig, axes = _style.figure(columns=3, width=15.0, height=5.6)
    clients = closed_loop_clients(data.summaries)
    _seed_percentiles(axes[0], latency_rows(run, data.summaries), data.styles)
    rows = closed_loop_rows(run, data.summaries, data.bin_s)
    _seed_bars(
        axes[1],
        [(r.setup, r.seed_rps, r.seed_rps_last, r.run_rps) for r in rows],
        data.styles,
        "req/s",
        f"Closed-loop rate ({_seed.CLIENTS} clients; here {clients})",
    )
    _seed_bars(
        axes[2],
        [(r.setup, r.seed_latency_ms, None, r.run_mean_ms) for r in rows],
        data.styles,
        "ms",
        "Mean latency in the closed loop",
    )
    axes[0].set_title(f"At {_seed.LATENCY_RPS} req/s: loadtest's percentiles")
    axes[1].legend(
        handles=[
            Patch(
                facecolor="white",
                edgecolor="#333333",
                hatch="///",
                label=f"seed, {_seed.SEED_DATE}",
            ),
            Patch(facecolor="#777777", label="this run"),
        ],
        loc="upper right",
        frameon=False,
    )
    return fig, _caption(
        run,
        "Seed figures from the " + _seed.CITATION + ". This run's numbers are the same "
        "statistics (loadtest's whole-ms percentiles and mean). "
        + "".join(
            f"The seed's {name} rate fell from {series.rps_first:g} to {series.rps_last:g} "
            "req/s over its minute (bar: the start, line: the end). "
            for name, series in _seed.THROUGHPUT_PER_5S.items()
            if series.shape == "falling"
        )
        + "The report's seed section lists the known differences.",
    )


def _seed_percentiles(ax: Axes, rows: list[LatencyRow], styles: dict[str, Style]) -> None:
    labels = list(LOADTEST_NINES)
    drawn = False
    for setup in dict.fromkeys(row.setup for row in rows):
        own = [row for row in rows if row.setup == setup]
        style = styles.get(setup, _style.Style("#444444", "-", "o", ""))
        xs = [labels.index(f"p{row.percentile}") for row in own]
        ax.plot(
            xs,
            [row.seed_ms for row in own],
            color=style.colour,
            linestyle="--",
            marker=style.marker,
            markerfacecolor="white",
            label=f"{setup}, seed",
        )
        measured = [(x, row.run.median) for x, row in zip(xs, own, strict=True) if row.run]
        if measured:
            ax.plot(
                [x for x, _ in measured],
                [y for _, y in measured],
                color=style.colour,
                linestyle="-",
                marker=style.marker,
                label=f"{setup}, this run",
            )
        drawn = True
    ax.xaxis.set_major_locator(FixedLocator(range(len(labels))))
    ax.set_xticklabels(labels)
    ax.set_xlim(-0.3, len(labels) - 0.7)
    _style.log_ms_axis(ax)
    if drawn:
        ax.legend(loc="best", frameon=False, fontsize=9.5)
    else:
        _style.no_data(ax, "no latency test of the seed's\nsetups in this run")


def _seed_bars(
    ax: Axes,
    rows: list[tuple[str, float, float | None, float | None]],
    styles: dict[str, Style],
    unit: str,
    title: str,
) -> None:
    for x, (setup, seed_value, seed_last, run_value) in enumerate(rows):
        style = styles.get(setup, _style.Style("#444444", "-", "o", ""))
        ax.bar(
            x - 0.2,
            seed_value,
            width=0.38,
            color="white",
            edgecolor=style.colour,
            hatch="///",
            linewidth=1.5,
        )
        if seed_last is not None and seed_last != seed_value:
            ax.plot([x - 0.39, x - 0.01], [seed_last, seed_last], color="black", linewidth=2.5)
        if run_value is not None:
            ax.bar(x + 0.2, run_value, width=0.38, color=style.colour, edgecolor=style.colour)
            ax.annotate(
                _short(run_value),
                (x + 0.2, run_value),
                xytext=(0, 3),
                textcoords="offset points",
                ha="center",
                fontsize=10.5,
            )
        else:
            ax.text(x + 0.2, 0, "no data", rotation=90, ha="center", va="bottom", fontsize=10.5)
        ax.annotate(
            _short(seed_value),
            (x - 0.2, seed_value),
            xytext=(0, 3),
            textcoords="offset points",
            ha="center",
            fontsize=10.5,
            color="#333333",
        )
    ax.xaxis.set_major_locator(FixedLocator(range(len(rows))))
    ax.set_xticklabels([row[0] for row in rows])
    ax.set_ylabel(unit)
    ax.set_title(title)
    ax.margins(y=0.12)
    if not rows:
        _style.no_data(ax, "none of the seed's setups\nin this run")


def _short(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


# 6. Then and now


def then_and_now_chart(data: ChartInput) -> Drawn | None:
    pairs = role_pairs(data.run, data.summaries)
    if not pairs:
        return None
    stacks = data.run.stacks()
    fig, axes = _style.figure(columns=2, width=13.0, height=5.6)
    then_style = _style.Style(_style.PALETTE[0], "--", "o", "///")
    now_style = _style.Style(_style.PALETTE[1], "-", "s", "")
    for x, pair in enumerate(pairs):
        for offset, side, style in (
            (-0.17, pair.old_side, then_style),
            (0.17, pair.new_side, now_style),
        ):
            _then_now_latency(axes[0], x + offset, side, style)
            _then_now_rate(axes[1], x + offset, side, style)
    rate = data.run.latency_rps()
    statistic = pairs[0].statistic
    axes[0].set_title(f"{statistic} latency at {rate or 0:g} req/s")
    _style.log_ms_axis(axes[0], f"{statistic} latency (ms, log scale)")
    clients = closed_loop_clients(data.summaries)
    axes[1].set_title(f"Closed-loop rate at {clients} clients")
    axes[1].set_ylabel("achieved rate (req/s)")
    axes[1].set_ylim(0, axes[1].get_ylim()[1] * 1.25)
    _then_now_axis_labels(axes, pairs)
    axes[1].legend(
        handles=[
            Patch(
                facecolor="white",
                edgecolor=then_style.colour,
                hatch="///",
                label=f"{stacks[0]} (then)",
            ),
            Patch(facecolor=now_style.colour, label=" / ".join(stacks[1:]) + " (now)"),
        ],
        loc="upper right",
        frameon=False,
    )
    return fig, _caption(
        data.run,
        "Same machine, same run, same role (catalogue `role`): the older stack's setup (left, "
        "hollow) next to the newer one's (right, filled), named under each. Median over valid "
        "repetitions. "
        + _coverage_text(data.summaries)
        + " A setup that could not sustain the fixed rate is marked with an x at the rate it "
        "saturated at, not drawn as a latency.",
    )


def _then_now_axis_labels(axes: Sequence[Axes], pairs: Sequence[RolePair]) -> None:
    """Each setup's name under its own mark (slanted, so that neighbours never overlap), the role
    under the pair."""
    offsets = [x + offset for x in range(len(pairs)) for offset in (-0.17, 0.17)]
    names = [name for pair in pairs for name in (pair.old_side.setup, pair.new_side.setup)]
    for ax in axes:
        ax.xaxis.set_major_locator(FixedLocator(range(len(pairs))))
        ax.set_xticklabels([pair.role for pair in pairs], fontweight="bold")
        # Below the slanted names: a 9-point character is about 5.4 points wide, half of it down.
        ax.tick_params(axis="x", which="major", length=0, pad=14 + 2.8 * max(map(len, names)))
        ax.xaxis.set_minor_locator(FixedLocator(offsets))
        ax.set_xticklabels(names, minor=True, rotation=30, ha="right", fontsize=9)
        ax.set_xlim(-0.6, len(pairs) - 0.4)


def _then_now_note(ax: Axes, x: float, text: str, y: float) -> None:
    """A note standing upright above a mark (saturated, no data): upright, it stays in its own
    column whatever the neighbours say."""
    ax.text(
        x,
        y,
        text,
        transform=ax.get_xaxis_transform(),
        rotation=90,
        ha="center",
        va="bottom",
        fontsize=9.5,
    )


def _then_now_latency(ax: Axes, x: float, side: Side, style: Style) -> None:
    if side.saturated_at is not None:
        ax.plot(
            [x],
            [0.06],
            transform=ax.get_xaxis_transform(),
            marker="x",
            markersize=12,
            markeredgewidth=2.8,
            color=style.colour,
            linestyle="none",
        )
        _then_now_note(ax, x, f"saturated at {side.saturated_at:,.0f} req/s", 0.11)
        return
    spread = side.latency
    if spread is None:
        _then_now_note(ax, x, "no data", 0.03)
        return
    hollow = style.hatch != ""
    ax.errorbar(
        [x],
        [spread.median],
        yerr=[[spread.median - spread.low], [spread.high - spread.median]],
        color=style.colour,
        marker=style.marker,
        markersize=10,
        markerfacecolor="white" if hollow else style.colour,
        capsize=5,
        linestyle="none",
    )
    ax.annotate(
        f"{spread.median:,.3g}",
        (x, spread.high),
        xytext=(0, 8),
        textcoords="offset points",
        ha="center",
        fontsize=9.5,
    )


def _then_now_rate(ax: Axes, x: float, side: Side, style: Style) -> None:
    spread = side.rate
    if spread is None:
        _then_now_note(ax, x, "no data", 0.03)
        return
    hollow = style.hatch != ""
    ax.bar(
        x,
        spread.median,
        width=0.32,
        color="white" if hollow else style.colour,
        edgecolor=style.colour,
        hatch=style.hatch,
        linewidth=1.5,
        yerr=[[spread.median - spread.low], [spread.high - spread.median]],
        capsize=4,
    )
    ax.annotate(
        f"{spread.median:,.0f}",
        (x, spread.high),
        xytext=(0, 4),
        textcoords="offset points",
        ha="center",
        fontsize=9,
    )


# 7. WebSocket tests


def websocket_chart(data: ChartInput) -> Drawn | None:
    echo = [s for s in data.summaries if s.test.kind in ("ws-echo", "ws-fanout")]
    connect = [s for s in data.summaries if s.test.kind == "ws-connect" and s.reps]
    kinds = [k for k in ("ws-echo", "ws-fanout") if any(s.test.kind == k for s in echo)]
    panels = len(kinds) + (2 if connect else 0)
    if panels == 0:
        return None
    rows = 2 if panels > 2 else 1
    columns = 2 if panels > 1 else 1
    fig, axes = _style.figure(
        columns=columns, rows=rows, width=6.5 * columns, height=4.6 * rows + 0.6
    )
    for ax, kind in zip(axes, kinds, strict=False):
        _ws_distribution(ax, [s for s in echo if s.test.kind == kind], data.styles, kind)
    if connect:
        _ws_connect(axes[len(kinds)], axes[len(kinds) + 1], connect, data.styles)
    for ax in axes[panels:]:
        ax.set_visible(False)
    return fig, _caption(
        data.run,
        "WebSocket tests. Latency: every message of the valid repetitions pooled (exact "
        "HdrHistogram merge); ws-echo from the scheduled send, ws-fanout from the publisher's "
        "send to each subscriber's receipt. ws-connect: per step, the server's resident memory "
        "added per held connection and the handshake p99 (median over reps).",
    )


def _ws_distribution(
    ax: Axes, summaries: list[TestSummary], styles: dict[str, Style], kind: str
) -> None:
    highest = 100.0
    for summary in summaries:
        distribution = summary.pooled()
        if distribution is None or not distribution.total:
            continue
        xs, ys = distribution.curve()
        style = styles[summary.setup]
        ax.plot(
            xs,
            [y / 1000 for y in ys],
            color=style.colour,
            linestyle=style.linestyle,
            label=summary.setup,
        )
        highest = max(highest, xs[-1])
    _style.nines_axis(ax, highest)
    _style.log_ms_axis(ax)
    source = summaries[0].latency_source if summaries else None
    ax.set_title(f"{kind}: {m.SOURCE_LABELS.get(source or '', source or 'latency')}")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", frameon=False)
    else:
        _style.no_data(ax, "no histograms")


def _ws_connect(
    memory_ax: Axes, handshake_ax: Axes, summaries: list[TestSummary], styles: dict[str, Style]
) -> None:
    for summary in summaries:
        style = styles[summary.setup]
        by_step: dict[int, list[tuple[float | None, float | None]]] = {}
        for rep in summary.basis_reps:
            for step in rep.steps:
                held = step.held or step.connections
                if held:
                    by_step.setdefault(held, []).append(
                        (step.memory_per_connection_kb, step.handshake_p99_ms)
                    )
        for ax, position in ((memory_ax, 0), (handshake_ax, 1)):
            points = []
            for count in sorted(by_step):
                values = [v[position] for v in by_step[count]]
                known = [value for value in values if value is not None]
                if known:
                    points.append((count, _stats.median(known)))
            if points:
                _line(ax, style, [p[0] for p in points], [p[1] for p in points], summary.setup)
    memory_ax.set_title("ws-connect: server memory per connection")
    memory_ax.set_xlabel("connections held")
    memory_ax.set_ylabel("resident memory added per connection (KiB)")
    top = memory_ax.get_ylim()[1]
    memory_ax.set_ylim(0, top * 1.4)
    handshake_ax.set_title("ws-connect: handshake p99")
    handshake_ax.set_xlabel("connections held")
    _style.log_ms_axis(handshake_ax, "handshake p99 (ms, log scale)")
    for ax in (memory_ax, handshake_ax):
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="upper left", frameon=False)
        else:
            _style.no_data(ax, "not recorded")


@dataclass(frozen=True)
class Chart:
    name: str
    title: str
    draw: ChartFunction


CHARTS = (
    Chart("then-and-now", "Then and now: the same roles on two stacks", then_and_now_chart),
    Chart("latency-percentiles", "Latency by percentile at the fixed rate", percentile_chart),
    Chart("latency-vs-load", "Latency against offered load", latency_vs_load_chart),
    Chart("throughput-over-time", "Throughput over time (closed loop)", throughput_over_time_chart),
    Chart("throughput-vs-clients", "Throughput against clients", throughput_vs_clients_chart),
    Chart("seed-comparison", "This run next to the seed, like for like", seed_chart),
    Chart("websocket", "WebSocket tests", websocket_chart),
)
