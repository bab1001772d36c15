"""The harness's one rule book: loadtest's percentile rule and the flag rules with their thresholds.

Standard library only, so that two callers can import the same file:
- the `bench_rep` Ansible module (`from ansible.module_utils.channels_bench_rules import ...`,
  found through `module_utils = module_utils` in ansible.cfg), which flags each repetition it
  writes;
- the `analysis` package (`from module_utils.channels_bench_rules import ...`), which applies the
  same rules to repetitions written before the harness flagged them itself.

A rule reads a rep record as the results contract defines it (docs/results-contract.md), schema 1
or 2; a rule whose inputs a record lacks (an older schema, a test that does not measure them) does
not apply, and never flags.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

RULES_VERSION = 2

# loadtest's percentiles (loadtest 8.x lib/result.js).
LOADTEST_PERCENTILES = (50, 90, 95, 99)
# The harness's percentiles, read from its HdrHistograms; "99.9" is the 99.9th percentile.
HARNESS_PERCENTILES = ("50", "90", "99", "99.9")

# Tests that hold a rate fixed (open loop) and tests that let the clients set it (closed loop).
FIXED_RATE_TESTS = frozenset({"latency", "sweep", "calibrate", "ws-echo", "ws-fanout"})
CLOSED_LOOP_TESTS = frozenset({"throughput"})
# WebSocket tests count messages (harness.messages) where HTTP tests count requests.
MESSAGE_TESTS = frozenset({"ws-echo", "ws-fanout"})

# Every threshold of every rule, in one table; docs/results-contract.md lists them with the flags.
THRESHOLDS: Mapping[str, float] = {
    # A fixed-rate rep that completed less than this share of the rate asked fell behind.
    "rate_shortfall_share": 0.99,
    # ... and more than this share sent bursts (catch-up) or double counts.
    "rate_overshoot_share": 1.05,
    # A source whose load generator used more than this much of one core set the pace itself.
    "generator_saturated_percent": 90.0,
    # At a fixed rate, the generator's own delay (send lag or event-loop delay, p99) is too large
    # when it exceeds both this floor and this share of the p99 latency it measured: then the
    # generator makes a good part of the tail. The floor is above what a healthy generator shows
    # on a shared machine: loadtest's millisecond timer scatters sends up to 2 ms, and node's and
    # asyncio's event loops wake a few milliseconds late now and then.
    "generator_lag_floor_us": 5000.0,
    "generator_lag_share_of_p99": 0.25,
    # More than a second's worth of requests in flight at a fixed rate (plus a floor): a queue
    # growing without bound, not a latency.
    "backlog_floor_requests": 10.0,
    "backlog_seconds": 1.0,
    # Fewer requests than this say nothing about percentiles.
    "min_requests": 20.0,
    # Sources that started further apart than this did not load the target together.
    "start_lag_ms": 100.0,
    # A closed-loop rep below this share of the reference generator's rate on the same server
    # measured the load generator, not the server.
    "generator_limited_share": 0.8,
    # The WebSocket client's rate asked (frames/s, both ways) above this share of the echo rate
    # it was measured to sustain on its own (benchmarks/wsbench_ceiling.py) measures the client.
    "client_ceiling_share": 0.5,
}

# Every flag, with the sentence the report prints for it.
FLAGS: Mapping[str, str] = {
    "no_requests": "no request completed",
    "too_few_requests": "fewer requests than percentiles need",
    "all_failed": "every request failed",
    "errors": "some requests failed",
    "rate_shortfall": "completed less than the rate asked",
    "rate_overshoot": "completed more than the rate asked",
    "generator_saturated": "the load generator used (nearly) a whole core",
    "generator_lag": "the load generator's own delay is large against the latency measured",
    "backlog": "requests piled up in flight at a fixed rate",
    "count_mismatch": "the harness's histogram and request counts disagree",
    "start_lag": "the sources did not start together",
    "server_restarted": "a server program restarted during the repetition",
    "generator_limited": "the load generator, not the server, limited the rate",
    "not_settled": "the target was still slow from earlier load when the repetition started",
    "no_messages": "no message was received",
    "too_few_messages": "fewer messages than percentiles need",
    "messages_lost": "some messages never arrived",
    "messages_duplicated": "some messages arrived more than once",
    "messages_out_of_order": "some messages arrived after a later one",
    "generator_ceiling": "the rate asked is above the share of the client's measured ceiling",
}


def js_round(value: float) -> int:
    """JavaScript's Math.round: halves go up (Python's round() goes to even)."""
    return math.floor(value + 0.5)


def loadtest_percentiles(
    histogram_ms: Mapping[Any, int], total_requests: int
) -> dict[str, int | bool]:
    """loadtest's rule (Result.computePercentiles), exactly: walk the millisecond histogram
    upwards; percentile p is the first millisecond at which the requests counted so far exceed p
    percent of total_requests. One never exceeded stays false, as loadtest writes it.

    Kept as loadtest has it: a percentile found at 0 ms is falsy in JavaScript (`!0`), so it is
    overwritten at the next millisecond that has requests. {0: 60, 1: 40} gives p50 = 1, not 0:
    that is what loadtest itself prints for those requests."""
    found: dict[str, int | bool] = {str(p): False for p in LOADTEST_PERCENTILES}
    if total_requests <= 0:
        return found
    histogram = {int(ms): int(count) for ms, count in histogram_ms.items()}
    counted = 0
    for latency_ms in sorted(histogram):
        if not histogram[latency_ms]:
            continue
        counted += histogram[latency_ms]
        percent = counted / total_requests * 100
        for p in LOADTEST_PERCENTILES:
            if not found[str(p)] and percent > p:
                found[str(p)] = latency_ms
    return found


def loadtest_mean_ms(accumulated_ms: float, total_requests: int) -> float | None:
    """loadtest's meanLatencyMs: rounded to a tenth the JavaScript way."""
    if total_requests <= 0:
        return None
    return js_round(accumulated_ms / total_requests * 10) / 10


# Reading a rep record. Each reader returns None where the record does not say.


def _get(record: Mapping[str, Any], *path: str) -> Any:
    value: Any = record
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _numbers(values: Iterable[Any]) -> list[float]:
    return [number for number in (_number(value) for value in values) if number is not None]


def _sources(record: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    sources = record.get("sources")
    return [s for s in sources if isinstance(s, Mapping)] if isinstance(sources, list) else []


def total_requests(record: Mapping[str, Any]) -> float | None:
    """Requests that completed in the measured part: the harness's count, else loadtest's."""
    harness = _number(_get(record, "harness", "requests", "completed"))
    return harness if harness is not None else _number(_get(record, "loadtest", "totalRequests"))


def total_errors(record: Mapping[str, Any]) -> float | None:
    """Failed requests, or the WebSocket client's errors (handshakes, connections, frames)."""
    for path in (("harness", "requests", "errors"), ("harness", "errors")):
        value = _number(_get(record, *path))
        if value is not None:
            return value
    return _number(_get(record, "loadtest", "totalErrors"))


def _rates(record: Mapping[str, Any]) -> tuple[float | None, float | None]:
    """The rate asked and achieved: requests/s (HTTP), messages/s (WebSocket)."""
    if record.get("test") in MESSAGE_TESTS:
        return _number(record.get("requested_rate")), _number(record.get("achieved_rate"))
    return _number(record.get("requested_rps")), _number(record.get("achieved_rps"))


def _summary_value(record: Mapping[str, Any], histogram: str, key: str) -> float | None:
    return _number(_get(record, "harness", "histograms", histogram, key))


def latency_p99_us(record: Mapping[str, Any]) -> float | None:
    """The p99 latency measured, in microseconds: from the scheduled send where the harness has
    it, else from the actual send, else loadtest's whole milliseconds."""
    for histogram in ("latency_corrected", "latency_uncorrected"):
        value = _summary_value(record, histogram, "p99")
        if value is not None:
            return value
    loadtest_p99 = _number(_get(record, "loadtest", "percentiles", "99"))
    return None if loadtest_p99 is None else loadtest_p99 * 1000


def generator_lag_p99_us(record: Mapping[str, Any]) -> float | None:
    """The larger of the send lag's and the event loop delay's p99 (each the worst source)."""
    values = _numbers(
        [
            _summary_value(record, "send_lag", "p99"),
            _summary_value(record, "event_loop_delay", "p99"),
        ]
    )
    return max(values) if values else None


def _server_restarted(record: Mapping[str, Any]) -> bool:
    before = _get(record, "server", "pids_before")
    after = _get(record, "server", "pids_after")
    if not isinstance(before, Mapping) or not isinstance(after, Mapping):
        return False
    return dict(before) != dict(after)


def _start_lag_ms(record: Mapping[str, Any]) -> float | None:
    lags = _numbers(source.get("start_lag_ms") for source in _sources(record))
    if len(_sources(record)) < 2 or not lags:
        return None
    return max(abs(lag) for lag in lags)


def _request_count_flags(record: Mapping[str, Any]) -> list[str]:
    if record.get("test") in MESSAGE_TESTS or str(record.get("test", "")).startswith("ws-"):
        errors = total_errors(record)
        return ["errors"] if errors else []
    total = total_requests(record)
    errors = total_errors(record) or 0.0
    if total is None:
        return []
    if total == 0:
        return ["no_requests"]
    flags = []
    if total < THRESHOLDS["min_requests"]:
        flags.append("too_few_requests")
    if errors >= total:
        flags.append("all_failed")
    if errors > 0:
        flags.append("errors")
    return flags


def _rate_flags(record: Mapping[str, Any]) -> list[str]:
    if record.get("test") not in FIXED_RATE_TESTS:
        return []
    asked, achieved = _rates(record)
    if not asked or achieved is None:
        return []
    if achieved < THRESHOLDS["rate_shortfall_share"] * asked:
        return ["rate_shortfall"]
    if achieved > THRESHOLDS["rate_overshoot_share"] * asked:
        return ["rate_overshoot"]
    return []


def generator_lag_bound_us(record: Mapping[str, Any]) -> float | None:
    """The most send lag or event-loop delay (p99) a fixed-rate rep may show: the floor, or a
    quarter of its p99 latency when that is more. None where the rule does not apply (closed
    loop: the reference generator judges the generator there)."""
    if record.get("test") not in FIXED_RATE_TESTS:
        return None
    p99 = latency_p99_us(record)
    if p99 is None:
        return None
    return max(THRESHOLDS["generator_lag_floor_us"], THRESHOLDS["generator_lag_share_of_p99"] * p99)


def backlog_bound(record: Mapping[str, Any]) -> float | None:
    """The most requests (or echoes) a fixed-rate rep may have in flight at once: the floor plus
    a second's worth of the rate asked. None where the rule does not apply (a fan-out's
    deliveries are not answers)."""
    asked, _ = _rates(record)
    if record.get("test") not in FIXED_RATE_TESTS - {"ws-fanout"} or not asked:
        return None
    return THRESHOLDS["backlog_floor_requests"] + asked * THRESHOLDS["backlog_seconds"]


def _peak_in_flight(record: Mapping[str, Any]) -> float | None:
    for path in (
        ("harness", "requests", "peak_in_flight"),
        ("harness", "messages", "peak_in_flight"),
    ):
        value = _number(_get(record, *path))
        if value is not None:
            return value
    return None


def _generator_flags(record: Mapping[str, Any]) -> list[str]:
    flags = []
    busiest = _number(_get(record, "generator", "cpu_percent_max"))
    if busiest is not None and busiest > THRESHOLDS["generator_saturated_percent"]:
        flags.append("generator_saturated")
    lag, bound = generator_lag_p99_us(record), generator_lag_bound_us(record)
    if lag is not None and bound is not None and lag > bound:
        flags.append("generator_lag")
    return flags


def _backlog_flags(record: Mapping[str, Any]) -> list[str]:
    peak = _peak_in_flight(record)
    bound = backlog_bound(record)
    return ["backlog"] if peak is not None and bound is not None and peak > bound else []


def _count_flags(record: Mapping[str, Any]) -> list[str]:
    """The instrument checks itself: every response it counted is in its histogram, and loadtest
    saw as many completions in the measured time as the harness did (give or take the requests
    that timed out, which loadtest may count twice)."""
    requests = _get(record, "harness", "requests")
    if not isinstance(requests, Mapping):
        return []
    responses = _number(requests.get("responses"))
    counted = _summary_value(record, "latency_uncorrected", "count")
    if responses is not None and counted is not None and responses != counted:
        return ["count_mismatch"]
    before_stop = _number(requests.get("completed_before_stop"))
    loadtest_total = _number(_get(record, "loadtest", "totalRequests"))
    timeouts = _number(requests.get("timeouts")) or 0.0
    if (
        before_stop is not None
        and loadtest_total is not None
        and abs(before_stop - loadtest_total) > max(1.0, timeouts)
    ):
        return ["count_mismatch"]
    return []


def _reference_flags(record: Mapping[str, Any]) -> list[str]:
    if record.get("test") not in CLOSED_LOOP_TESTS:
        return []
    reference = _number(_get(record, "reference", "rps"))
    achieved = _number(record.get("achieved_rps"))
    if not reference or achieved is None:
        return []
    return (
        ["generator_limited"]
        if achieved < THRESHOLDS["generator_limited_share"] * reference
        else []
    )


def _message_flags(record: Mapping[str, Any]) -> list[str]:
    """A WebSocket test's messages: none or too few received, lost, duplicated, reordered."""
    messages = _get(record, "harness", "messages")
    if not isinstance(messages, Mapping):
        return []
    flags = []
    received = _number(messages.get("received"))
    if received == 0:
        flags.append("no_messages")
    elif received is not None and received < THRESHOLDS["min_requests"]:
        flags.append("too_few_messages")
    for key, flag in (
        ("lost", "messages_lost"),
        ("duplicates", "messages_duplicated"),
        ("out_of_order", "messages_out_of_order"),
    ):
        if _number(messages.get(key)):
            flags.append(flag)
    return flags


def client_ceiling_bound(record: Mapping[str, Any]) -> float | None:
    """The most frames per second the WebSocket client may be asked for: a share of twice the
    echo rate it sustained on its own (an echo is two frames). None when its ceiling is unknown."""
    ceiling = _number(_get(record, "generator", "client_ceiling_rate"))
    if not ceiling:
        return None
    return THRESHOLDS["client_ceiling_share"] * 2 * ceiling


def _ceiling_flags(record: Mapping[str, Any]) -> list[str]:
    frames = _number(_get(record, "generator", "client_frames_per_s"))
    bound = client_ceiling_bound(record)
    return (
        ["generator_ceiling"] if frames is not None and bound is not None and frames > bound else []
    )


def _run_flags(record: Mapping[str, Any]) -> list[str]:
    flags = []
    lag = _start_lag_ms(record)
    if lag is not None and lag > THRESHOLDS["start_lag_ms"]:
        flags.append("start_lag")
    if _server_restarted(record):
        flags.append("server_restarted")
    if _get(record, "settle", "ready") is False:
        flags.append("not_settled")
    return flags


def flags(record: Mapping[str, Any]) -> list[str]:
    """Every flag the rep record earns, in the order of FLAGS. A flagged rep is kept and shown,
    never averaged in with valid ones."""
    found = set(
        _request_count_flags(record)
        + _rate_flags(record)
        + _generator_flags(record)
        + _backlog_flags(record)
        + _count_flags(record)
        + _reference_flags(record)
        + _run_flags(record)
        + _message_flags(record)
        + _ceiling_flags(record)
    )
    return [flag for flag in FLAGS if flag in found]


def headroom(record: Mapping[str, Any]) -> float | None:
    """A closed-loop rep's rate as a share of the reference generator's on the same server."""
    reference = _number(_get(record, "reference", "rps"))
    achieved = _number(record.get("achieved_rps"))
    if not reference or achieved is None:
        return None
    return achieved / reference


# A rep with one of these measured nothing at all.
FAILED_REP_FLAGS = ("all_failed", "no_requests")


def setup_failed(rep_flags: Iterable[Iterable[str]]) -> str:
    """Why a setup counts as failed ("" when it does not): every one of its reps measured nothing
    (flagged all_failed or no_requests). A setup that errs now and then is not failed; its
    flagged reps are listed against it."""
    flag_lists = [list(flags) for flags in rep_flags]
    if flag_lists and all(set(flags) & set(FAILED_REP_FLAGS) for flags in flag_lists):
        return f"every repetition failed ({len(flag_lists)} of {len(flag_lists)})"
    return ""
