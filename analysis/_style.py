"""How charts look: one style per setup by its place in the run's order, readable in greyscale
(line style and marker differ, not only colour) and at half size (large type, thick lines)."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import matplotlib
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, NullFormatter, NullLocator

# Okabe-Ito: distinguishable with the common colour-vision deficiencies (yellow left out: it
# vanishes on white).
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
LineStyle = Literal["-", "--", "-.", ":"]
LINESTYLES: tuple[LineStyle, ...] = ("-", "--", "-.", ":")
MARKERS = ("o", "s", "^", "D", "v", "P", "X")
HATCHES = ("", "//", "..", "xx", "\\\\", "oo", "--")
DPI = 150
FLAGGED_COLOUR = "#b00020"
# Matplotlib types rcParams keys as literals; this table is checked by matplotlib at run time.
RC: dict[Any, Any] = {
    "font.size": 12,
    "axes.titlesize": 13,
    "axes.labelsize": 12,
    "legend.fontsize": 10.5,
    "xtick.labelsize": 11,
    "ytick.labelsize": 11,
    "lines.linewidth": 2.2,
    "lines.markersize": 7,
    "svg.fonttype": "none",
    "svg.hashsalt": "channels-bench",
}


@dataclass(frozen=True)
class Style:
    colour: str
    linestyle: LineStyle
    marker: str
    hatch: str


def styles(setups: Sequence[str]) -> dict[str, Style]:
    """The same setup has the same look in every chart of a run: its place in the run's order."""
    return {
        name: Style(
            PALETTE[index % len(PALETTE)],
            LINESTYLES[index % len(LINESTYLES)],
            MARKERS[index % len(MARKERS)],
            HATCHES[index % len(HATCHES)],
        )
        for index, name in enumerate(setups)
    }


@contextmanager
def chart_context() -> Iterator[None]:
    with matplotlib.rc_context(RC):
        yield


def figure(
    columns: int = 1, width: float = 8.0, height: float = 5.0, rows: int = 1
) -> tuple[Figure, list[Axes]]:
    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(rows, columns, index + 1) for index in range(rows * columns)]
    for ax in axes:
        ax.grid(True, which="major", color="#dddddd", linewidth=0.8)
        ax.set_axisbelow(True)
        ax.spines[["top", "right"]].set_visible(False)
    return fig, axes


def no_data(ax: Axes, message: str) -> None:
    ax.text(
        0.5,
        0.5,
        message,
        transform=ax.transAxes,
        ha="center",
        va="center",
        fontsize=13,
        color="#555555",
        wrap=True,
    )


# The percentile distribution's "nines" axis: x = 1 / (1 - q).
NINES = {
    1.0: "",
    2.0: "50%",
    10.0: "90%",
    100.0: "99%",
    1000.0: "99.9%",
    10000.0: "99.99%",
    100000.0: "99.999%",
}


def nines_axis(ax: Axes, highest: float) -> None:
    ax.set_xscale("log")
    ticks = [x for x in NINES if x <= max(highest, 10.0) * 1.0001]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: NINES.get(x, "")))
    ax.set_xlim(1.0, max(ticks[-1], highest) * 1.05)
    ax.set_xlabel("percentile of requests (log scale of 1 / (1 - q))")


def log_ms_axis(ax: Axes, label: str = "latency (ms, log scale)") -> None:
    ax.set_yscale("log")
    plain_log_ticks(ax.yaxis)
    ax.set_ylabel(label)


def plain_log_ticks(axis: Axis) -> None:
    """Label a log axis at 1, 2 and 5 of each decade, in plain numbers (no 10^x)."""
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0), numticks=30))
    axis.set_major_formatter(FuncFormatter(_ms))
    axis.set_minor_formatter(NullFormatter())


def _ms(value: float, _pos: int | None) -> str:
    if value >= 1:
        return f"{value:,.0f}"
    return f"{value:g}"


def save(fig: Figure, caption: str, base: Path) -> list[Path]:
    """PNG and SVG of the figure, with the caption under it."""
    lines = textwrap.wrap(caption, width=int(fig.get_figwidth() * 12))
    bottom = (0.15 + 0.2 * len(lines)) / fig.get_figheight()
    fig.tight_layout(rect=(0, bottom, 1, 1))
    fig.text(0.01, 0.012, "\n".join(lines), fontsize=10.5, color="#333333", va="bottom")
    png, svg = base.with_suffix(".png"), base.with_suffix(".svg")
    fig.savefig(png, dpi=DPI)
    FigureCanvasSVG(fig)
    fig.savefig(svg, metadata={"Date": None})
    return [png, svg]
