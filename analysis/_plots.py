"""The charts: matplotlib on the Agg canvas, never a window, one function per chart.

Every chart puts the setups in the seed's order with a fixed colour each, shows the median over
valid repetitions with min-max whiskers and every repetition as a dot (flagged ones as crosses,
kept out of the median), and names the run and stack in its caption.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ._model import (
    HEADLINE_LATENCY,
    LATENCY_TEST,
    METRICS,
    PERCENTILE_METRICS,
    Run,
    setup_colour,
)
from ._seed import SEED_DATE, SEED_LATENCY_MS, SEED_RPS
from ._summary import TestSummary

SETUP_DESCRIPTIONS = {
    "gunicorn": "gunicorn (WSGI)",
    "redis": "daphne + asgi_redis",
    "ipc": "daphne + asgi_ipc",
}
_FLAGGED_MARKER = "x"
_DPI = 150


def _describe(setup: str) -> str:
    return f"{setup}\n{SETUP_DESCRIPTIONS[setup]}" if setup in SETUP_DESCRIPTIONS else setup


def _rps_text(rps: float | None) -> str:
    return f"{rps:g} rps" if rps is not None else "the fixed rate"


def _figure() -> tuple[Figure, Axes]:
    figure = Figure(figsize=(8.5, 5.2))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.grid(axis="y", color="#dddddd", linewidth=0.8)
    axes.set_axisbelow(True)
    axes.spines[["top", "right"]].set_visible(False)
    return figure, axes


def _caption(run: Run, detail: str) -> str:
    inventory = f", {run.meta.inventory} inventory" if run.meta.inventory else ""
    return f"Run {run.run_id}, stack {run.stack_label()}{inventory}. {detail}"


def _save(figure: Figure, caption: str, path: Path) -> None:
    lines = textwrap.wrap(caption, width=125)
    bottom = 0.03 + 0.035 * len(lines)
    figure.tight_layout(rect=(0, bottom, 1, 1))
    figure.text(0.01, 0.015, "\n".join(lines), fontsize=7.5, color="#444444", va="bottom")
    figure.savefig(path, dpi=_DPI)


def _whiskers(summary: TestSummary, metric: str) -> tuple[float, list[float], list[float]]:
    spread = summary.metrics[metric]
    return spread.median, [spread.median - spread.low], [spread.high - spread.median]


def _highest_point(summary: TestSummary, metric: str) -> float:
    """Top of the whisker or of the highest dot, flagged ones included: where a label can go."""
    return max(summary.metrics[metric].high, *(r.metrics.get(metric, 0.0) for r in summary.reps))


def _rep_offsets(count: int, width: float) -> list[float]:
    """Evenly spread, deterministic horizontal positions for the dots of the repetitions."""
    if count <= 1:
        return [0.0]
    return [-width / 2 + width * index / (count - 1) for index in range(count)]


def _draw_reps(axes: Axes, x: float, summary: TestSummary, metric: str, width: float) -> None:
    reps = [rep for rep in summary.reps if metric in rep.metrics]
    for offset, rep in zip(_rep_offsets(len(reps), width), reps, strict=True):
        if rep.valid:
            axes.plot(
                x + offset,
                rep.metrics[metric],
                "o",
                markersize=4,
                color="black",
                markerfacecolor="white",
                zorder=4,
            )
        else:
            axes.plot(
                x + offset,
                rep.metrics[metric],
                _FLAGGED_MARKER,
                markersize=6,
                color="#b00020",
                zorder=4,
            )


def _rep_legend(axes: Axes, any_flagged: bool, extra: Sequence[Patch | Line2D] = ()) -> None:
    handles: list[Patch | Line2D] = [
        *extra,
        Line2D(
            [],
            [],
            marker="o",
            linestyle="",
            color="black",
            markerfacecolor="white",
            label="repetition",
        ),
    ]
    if any_flagged:
        handles.append(
            Line2D(
                [],
                [],
                marker=_FLAGGED_MARKER,
                linestyle="",
                color="#b00020",
                label="flagged repetition (not in the median)",
            )
        )
    axes.legend(handles=handles, loc="upper left", fontsize=8, frameon=False)


def _no_data(axes: Axes, message: str) -> None:
    axes.text(
        0.5,
        0.5,
        message,
        transform=axes.transAxes,
        ha="center",
        va="center",
        fontsize=12,
        color="#666666",
    )


def _latency_by_setup(summaries: list[TestSummary]) -> dict[str, TestSummary]:
    return {
        s.setup: s for s in summaries if s.test == LATENCY_TEST and HEADLINE_LATENCY in s.metrics
    }


def latency_chart(run: Run, summaries: list[TestSummary], path: Path) -> None:
    """The seed's first chart: latency per setup at the fixed rate."""
    figure, axes = _figure()
    metric = HEADLINE_LATENCY
    by_setup = _latency_by_setup(summaries)
    setups = run.setups()
    top = max((s.metrics[metric].high for s in by_setup.values()), default=1.0)
    for x, setup in enumerate(setups):
        summary = by_setup.get(setup)
        if summary is None:
            status = run.setup_status(setup)
            axes.text(
                x,
                top * 0.05,
                f"no data\n({status.state})",
                ha="center",
                va="bottom",
                fontsize=9,
                color="#666666",
            )
            continue
        median, below, above = _whiskers(summary, metric)
        flagged_only = summary.basis != "valid"
        axes.bar(
            x,
            median,
            width=0.6,
            color=setup_colour(setup),
            alpha=0.85,
            hatch="//" if flagged_only else None,
            edgecolor="white" if flagged_only else None,
        )
        axes.errorbar(x, median, yerr=[below, above], color="black", capsize=8, linewidth=1.2)
        label = f"{median:.1f} ms" + (" (flagged reps only)" if flagged_only else "")
        axes.annotate(
            label,
            (x, _highest_point(summary, metric)),
            xytext=(0, 6),
            textcoords="offset points",
            ha="center",
            fontsize=9,
        )
        _draw_reps(axes, x, summary, metric, width=0.3)
    axes.set_xticks(range(len(setups)), [_describe(setup) for setup in setups])
    axes.set_xlim(-0.6, len(setups) - 0.4)
    axes.set_ylim(0, top * 1.2)
    axes.set_ylabel(f"{METRICS[metric].label} ({METRICS[metric].unit})")
    axes.set_title(f"Latency at a fixed {_rps_text(run.latency_rps())}")
    if not by_setup:
        _no_data(axes, "no latency data in this run")
    _rep_legend(axes, any(s.flagged_reps for s in by_setup.values()))
    _save(
        figure,
        _caption(
            run,
            "Bars: median over valid repetitions of loadtest's mean latency; "
            "whiskers: min-max; dots: each repetition.",
        ),
        path,
    )


def throughput_chart(run: Run, summaries: list[TestSummary], path: Path) -> None:
    """The seed's second chart: achieved rate per setup with loadtest throttling itself."""
    figure, axes = _figure()
    metric = "achieved_rps"
    throughput = [s for s in summaries if s.test.kind == "throughput" and metric in s.metrics]
    clients = sorted({s.test.clients or 0 for s in throughput})
    setups = run.setups()
    for index, setup in enumerate(setups):
        own = sorted((s for s in throughput if s.setup == setup), key=lambda s: s.test.sort_key)
        if not own:
            continue
        shift = (index - (len(setups) - 1) / 2) * 0.08
        xs = [clients.index(s.test.clients or 0) + shift for s in own]
        medians = [s.metrics[metric].median for s in own]
        below = [s.metrics[metric].median - s.metrics[metric].low for s in own]
        above = [s.metrics[metric].high - s.metrics[metric].median for s in own]
        axes.errorbar(
            xs,
            medians,
            yerr=[below, above],
            color=setup_colour(setup),
            marker="o",
            capsize=5,
            linewidth=1.8,
            label=setup,
        )
        for x, summary in zip(xs, own, strict=True):
            _draw_reps(axes, x, summary, metric, width=0.05)
    axes.set_xticks(range(len(clients)), [str(count) for count in clients])
    axes.set_xlabel("concurrent clients (loadtest -c, no --rps)")
    axes.set_ylabel("achieved rate (req/s)")
    axes.set_ylim(bottom=0)
    axes.set_title("Throughput: achieved rate with loadtest throttling itself")
    if throughput:
        handles = [
            Line2D([], [], color=setup_colour(s), marker="o", label=s)
            for s in setups
            if any(t.setup == s for t in throughput)
        ]
        _rep_legend(axes, any(s.flagged_reps for s in throughput), handles)
    else:
        _no_data(axes, "no throughput data in this run")
    _save(
        figure,
        _caption(
            run,
            "Points: median over valid repetitions of the achieved rate; "
            "whiskers: min-max; dots: each repetition.",
        ),
        path,
    )


def percentile_chart(run: Run, summaries: list[TestSummary], path: Path) -> None:
    """loadtest's percentiles per setup at the fixed rate: where the tails differ."""
    figure, axes = _figure()
    latency = [s for s in summaries if s.test == LATENCY_TEST]
    setups = run.setups()
    highest, lowest = 0.0, float("inf")
    for index, setup in enumerate(setups):
        summary = next((s for s in latency if s.setup == setup), None)
        if summary is None:
            continue
        metrics = [m for m in PERCENTILE_METRICS if m in summary.metrics]
        shift = (index - (len(setups) - 1) / 2) * 0.08
        xs = [PERCENTILE_METRICS.index(m) + shift for m in metrics]
        spreads = [summary.metrics[m] for m in metrics]
        axes.errorbar(
            xs,
            [s.median for s in spreads],
            yerr=[[s.median - s.low for s in spreads], [s.high - s.median for s in spreads]],
            color=setup_colour(setup),
            marker="o",
            capsize=5,
            linewidth=1.8,
            label=setup + (" (flagged reps only)" if summary.basis != "valid" else ""),
        )
        highest = max([highest, *(s.high for s in spreads)])
        lowest = min([lowest, *(s.low for s in spreads if s.low > 0)])
    axes.set_xticks(
        range(len(PERCENTILE_METRICS)), [METRICS[m].label.split()[0] for m in PERCENTILE_METRICS]
    )
    axes.set_xlabel("percentile of requests (loadtest)")
    axes.set_ylabel("latency (ms)")
    if highest > 0 and highest / lowest > 20:
        # Tails an order of magnitude apart would flatten the fast setups on a linear axis.
        axes.set_yscale("log")
        axes.set_ylabel("latency (ms, log scale)")
    else:
        axes.set_ylim(bottom=0)
    axes.set_title(f"Latency percentiles at a fixed {_rps_text(run.latency_rps())}")
    if latency:
        axes.legend(loc="upper left", fontsize=8, frameon=False)
    else:
        _no_data(axes, "no latency data in this run")
    _save(
        figure,
        _caption(
            run,
            "Points: median over valid repetitions of each percentile as "
            "loadtest reports it; whiskers: min-max.",
        ),
        path,
    )


def seed_chart(run: Run, summaries: list[TestSummary], path: Path) -> None:
    """The seed's published latencies next to this run's, per setup."""
    figure, axes = _figure()
    metric = HEADLINE_LATENCY
    by_setup = _latency_by_setup(summaries)
    setups = [s for s in run.setups() if s in SEED_LATENCY_MS] or list(SEED_LATENCY_MS)
    top = max([*SEED_LATENCY_MS.values(), *(s.metrics[metric].high for s in by_setup.values())])
    for x, setup in enumerate(setups):
        colour = setup_colour(setup)
        seed_ms = SEED_LATENCY_MS[setup]
        axes.bar(
            x - 0.2,
            seed_ms,
            width=0.38,
            color="white",
            edgecolor=colour,
            hatch="///",
            linewidth=1.5,
        )
        axes.annotate(
            f"{seed_ms:g} ms",
            (x - 0.2, seed_ms),
            xytext=(0, 3),
            textcoords="offset points",
            ha="center",
            fontsize=8,
        )
        summary = by_setup.get(setup)
        if summary is None:
            axes.text(x + 0.2, top * 0.03, "no data", ha="center", fontsize=8, color="#666666")
            continue
        median, below, above = _whiskers(summary, metric)
        axes.bar(x + 0.2, median, width=0.38, color=colour, alpha=0.85)
        axes.errorbar(x + 0.2, median, yerr=[below, above], color="black", capsize=6)
        axes.annotate(
            f"{median:.1f} ms",
            (x + 0.2, median + above[0]),
            xytext=(0, 3),
            textcoords="offset points",
            ha="center",
            fontsize=8,
        )
    axes.set_xticks(range(len(setups)), [_describe(setup) for setup in setups])
    axes.set_ylim(0, top * 1.15)
    axes.set_ylabel(f"{METRICS[metric].label} ({METRICS[metric].unit})")
    axes.set_title(
        f"This run at {_rps_text(run.latency_rps())} next to the seed ({SEED_DATE}, {SEED_RPS} rps)"
    )
    axes.legend(
        handles=[
            Patch(
                facecolor="white",
                edgecolor="#555555",
                hatch="///",
                label=f"seed, {SEED_DATE} (EC2 m3.2xlarge, published)",
            ),
            Patch(facecolor="#777777", label="this run: median, whiskers min-max"),
        ],
        loc="upper left",
        fontsize=8,
        frameon=False,
    )
    _save(
        figure,
        _caption(
            run,
            "The seed published one number per setup and no raw data; the "
            "statistic is not stated (loadtest's headline number is the mean).",
        ),
        path,
    )
