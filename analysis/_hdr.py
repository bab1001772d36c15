"""The harness's HdrHistograms: decode, merge exactly, and read percentiles fast.

The harness writes each histogram compressed and base64-encoded ("HISTFAAA..."), in microseconds
with 3 significant digits. Repetitions and sources are pooled by adding histograms, which is
exact: the pooled percentiles are those of every request of every repetition, not an average of
percentiles. Percentiles follow HdrHistogram's own rule (``get_value_at_percentile``): the
highest value equivalent to the first bucket at which the running count reaches
round(q * total / 100), at least 1.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from hdrh.histogram import HdrHistogram

# Wide enough for any latency a request timeout allows (one hour, in microseconds).
HIGHEST_TRACKABLE_US = 3_600_000_000
SIGNIFICANT_DIGITS = 3
# The percentiles every summary gives ("99.9" is the 99.9th): the harness's, and loadtest's 95th
# so that the two can be set side by side.
SUMMARY_PERCENTILES = ("50", "90", "95", "99", "99.9")


class HdrError(ValueError):
    """An encoded histogram that cannot be decoded."""


def decode(encoded: str) -> HdrHistogram:
    try:
        return HdrHistogram.decode(encoded)
    except (binascii.Error, zlib.error, TypeError, ValueError, IndexError) as error:
        raise HdrError(f"{type(error).__name__}: {error}") from error
    except Exception as error:  # hdrh raises its own exception classes for bad cookies/lengths
        raise HdrError(f"{type(error).__name__}: {error}") from error


def looks_encoded(value: object) -> bool:
    if not isinstance(value, str) or not value.startswith("HIST"):
        return False
    try:
        base64.b64decode(value, validate=True)
    except binascii.Error:
        return False
    return True


def empty() -> HdrHistogram:
    return HdrHistogram(1, HIGHEST_TRACKABLE_US, SIGNIFICANT_DIGITS)


def merge(histograms: Sequence[HdrHistogram]) -> HdrHistogram:
    """One histogram holding every value of the given ones (exact: counts are added). The target
    takes the first one's layout, widened to the highest value any of them tracks, so that
    histograms written alike are added array to array (hdrh's fast path)."""
    if not histograms:
        return empty()
    first = histograms[0]
    merged = HdrHistogram(
        first.lowest_trackable_value,
        max(h.highest_trackable_value for h in histograms),
        first.significant_figures,
    )
    for histogram in histograms:
        merged.add(histogram)
    return merged


@dataclass(frozen=True)
class Distribution:
    """The recorded buckets of one histogram: values (highest equivalent, microseconds,
    ascending) and their counts, with the histogram's own mean, min and max."""

    values: tuple[int, ...]
    counts: tuple[int, ...]
    mean_us: float
    min_us: float
    max_us: float

    @property
    def total(self) -> int:
        return sum(self.counts)

    def percentile(self, q: float) -> float:
        """HdrHistogram's value at percentile q (0-100), in microseconds."""
        if self.total == 0:
            raise ValueError("percentile of an empty histogram")
        if q <= 0:
            return self.min_us
        target = max(1, int(min(q, 100.0) * self.total / 100 + 0.5))
        running = np.cumsum(self.counts)
        index = int(np.searchsorted(running, target, side="left"))
        return float(self.values[min(index, len(self.values) - 1)])

    def summary_us(self) -> dict[str, float]:
        """Percentiles, max, mean and min; nothing for an empty histogram (every request failed)."""
        if self.total == 0:
            return {}
        found = {key: self.percentile(float(key)) for key in SUMMARY_PERCENTILES}
        return {**found, "max": self.max_us, "mean": self.mean_us, "min": self.min_us}

    def curve(self, points_per_decade: int = 40) -> tuple[list[float], list[float]]:
        """The percentile distribution for a "nines" chart: x = 1 / (1 - q) from q = 0 up to
        q = 1 - 1 / total (x = total, where the slowest request is drawn), y = the value there
        (microseconds)."""
        total = self.total
        if total == 0:
            return [], []
        top = 1.0 - 1.0 / total if total > 1 else 0.0
        decades = np.log10(1.0 / (1.0 - top)) if top > 0 else 0.0
        steps = max(2, int(decades * points_per_decade) + 1)
        xs = np.logspace(0.0, decades, steps)
        qs = 1.0 - 1.0 / xs
        ys = [self.percentile(q * 100.0) for q in qs]
        # The line ends at the slowest request, whatever rounding the last step had.
        ys[-1] = self.max_us
        return [float(x) for x in xs], ys


def distribution(histogram: HdrHistogram) -> Distribution:
    """The histogram's recorded buckets, read from its counts array (hdrh's own iterators walk
    every bucket in Python, a thousand times slower). The mean is hdrh's: each bucket counted at
    the middle of its range."""
    counts = np.ctypeslib.as_array(histogram.counts)[: histogram.counts_len]
    indexes = np.nonzero(counts)[0]
    lowest = [histogram.get_value_from_index(int(index)) for index in indexes]
    highest = [histogram.get_highest_equivalent_value(value) for value in lowest]
    found = [int(counts[index]) for index in indexes]
    total = sum(found)
    middle = sum(
        count * (low + ((high - low + 1) >> 1))
        for count, low, high in zip(found, lowest, highest, strict=True)
    )
    return Distribution(
        values=tuple(int(value) for value in highest),
        counts=tuple(found),
        mean_us=middle / total if total else 0.0,
        min_us=float(histogram.get_min_value()) if total else 0.0,
        max_us=float(histogram.get_max_value()) if total else 0.0,
    )


def pooled(encoded: Sequence[str]) -> Distribution:
    """The exact merge of several encoded histograms, as a distribution."""
    return distribution(merge([decode(text) for text in encoded]))


def summary_from_fields(fields: Mapping[str, object]) -> dict[str, float]:
    """The numbers the harness wrote next to an encoded histogram (for a histogram whose
    encoding is missing or cannot be decoded)."""
    found = {}
    for key in (*SUMMARY_PERCENTILES, "max", "mean", "min"):
        value = fields.get(f"p{key}" if key in SUMMARY_PERCENTILES else key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            found[key] = float(value)
    return found
