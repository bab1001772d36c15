"""Text formatting shared by the report, the comparison and the seed table."""

from __future__ import annotations

from collections.abc import Sequence

from ._stats import Spread


def number(value: float | None) -> str:
    """A value as given in a plan or a version (300, 0.5): no forced decimals."""
    return "n/a" if value is None else f"{value:g}"


def fixed(value: float | None, digits: int = 1) -> str:
    """A measured value, always with the same number of decimals so columns line up."""
    return "n/a" if value is None else f"{value:.{digits}f}"


def signed_percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.1f}%"


def spread_text(spread: Spread | None, digits: int = 1) -> str:
    """Median with the min-max range of the repetitions: ``6.1 (5.9-6.4)``."""
    if spread is None:
        return "n/a"
    if spread.n == 1:
        return f"{spread.median:,.{digits}f} (1 rep)"
    return f"{spread.median:,.{digits}f} ({spread.low:,.{digits}f}-{spread.high:,.{digits}f})"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = [
        "| " + " | ".join(_cell(h) for h in headers) + " |",
        "|" + "|".join("---" for _ in headers) + "|",
    ]
    lines.extend("| " + " | ".join(_cell(c) for c in row) + " |" for row in rows)
    return "\n".join(lines)
