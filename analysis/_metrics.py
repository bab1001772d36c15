"""One name per statistic: `<source>:<statistic>`, its label, unit and direction.

A source is an HdrHistogram of the harness (`latency_corrected`, `latency_uncorrected`,
`send_lag`, `event_loop_delay`, and the WebSocket tests' own, such as `delivery`), `loadtest`
(loadtest's whole milliseconds), or `messages` (WebSocket message counts). Latencies are in
milliseconds everywhere in analysis; rates in requests per second.
"""

from __future__ import annotations

from collections.abc import Iterable

from ._model import RepResult, TestKey

ACHIEVED_RPS = "achieved_rps"
REFERENCE_SHARE = "reference_share"
LOADTEST = "loadtest"
CORRECTED = "latency_corrected"
UNCORRECTED = "latency_uncorrected"
# Statistics of a latency source, in the order tables show them.
LATENCY_STATISTICS = ("p50", "p90", "p95", "p99", "p99.9", "max", "mean")
# What the report calls each source, and what the reader needs to know about its numbers.
SOURCE_LABELS = {
    CORRECTED: "corrected",
    UNCORRECTED: "uncorrected",
    LOADTEST: "loadtest",
    "send_lag": "send lag",
    "event_loop_delay": "event-loop delay",
    "delivery": "delivery",
    "handshake": "handshake",
}
BASIS_TEXT = {
    CORRECTED: "harness HdrHistogram (us, exact), timed from the scheduled send",
    UNCORRECTED: "harness HdrHistogram (us, exact), timed from the actual send",
    LOADTEST: "loadtest's own numbers, whole milliseconds, timed from the actual send",
}
# Sources that time a request or a message end to end (the others time the generator itself).
LATENCY_SOURCES = frozenset({CORRECTED, UNCORRECTED, LOADTEST, "delivery", "handshake", "latency"})
# The histogram a WebSocket test is judged by, first found first.
WEBSOCKET_LATENCY_SOURCES = (CORRECTED, "delivery", UNCORRECTED, "latency", "handshake")
_MESSAGE_LABELS = {
    "sent": "messages sent",
    "received": "messages received",
    "expected": "messages expected",
    "lost": "messages lost",
    "duplicated": "messages duplicated",
    "out_of_order": "messages out of order",
    "errors": "errors",
    "loss_share": "messages lost (%)",
}


def metric(source: str, statistic: str) -> str:
    return f"{source}:{statistic}"


def split(name: str) -> tuple[str, str]:
    source, _, statistic = name.partition(":")
    return source, statistic


def label(name: str) -> str:
    if name == ACHIEVED_RPS:
        return "achieved rate"
    if name == REFERENCE_SHARE:
        return "share of wrk's rate"
    source, statistic = split(name)
    if source == "messages":
        return _MESSAGE_LABELS.get(statistic, f"messages {statistic}")
    if source in LATENCY_SOURCES:
        return f"{statistic} latency ({SOURCE_LABELS.get(source, source)})"
    return f"{statistic} {SOURCE_LABELS.get(source, source)}"


def unit(name: str) -> str:
    if name == ACHIEVED_RPS:
        return "req/s"
    if name == REFERENCE_SHARE:
        return "%"
    source, statistic = split(name)
    if source == "messages":
        return "%" if statistic == "loss_share" else ""
    return "ms"


def higher_is_better(name: str) -> bool:
    return name in (ACHIEVED_RPS, REFERENCE_SHARE) or name in (
        "messages:received",
        "messages:sent",
    )


def has_all(reps: Iterable[RepResult], name: str) -> bool:
    chosen = list(reps)
    return bool(chosen) and all(name in rep.metrics for rep in chosen)


def latency_source(test: TestKey, reps: Iterable[RepResult]) -> str | None:
    """The best latency source every given rep has: for a fixed rate the corrected histogram
    (from the scheduled send), then the uncorrected one, then loadtest's whole milliseconds."""
    chosen = list(reps)
    if test.websocket:
        candidates: tuple[str, ...] = WEBSOCKET_LATENCY_SOURCES
    elif test.fixed_rate:
        candidates = (CORRECTED, UNCORRECTED, LOADTEST)
    else:
        candidates = (UNCORRECTED, LOADTEST)
    return next((s for s in candidates if has_all(chosen, metric(s, "p50"))), None)


def basis_text(source: str | None) -> str:
    if source is None:
        return "no latency numbers"
    return BASIS_TEXT.get(source, f"harness HdrHistogram `{source}` (us, exact)")
