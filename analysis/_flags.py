"""Flags in words: the rule book's sentence for each flag and the numbers of the rep that set it.

The rules themselves (which flag, at which threshold) live in one place,
module_utils/channels_bench_rules.py; this module only reads the same record the rule read and
says what it saw. A flag the rule book does not know is shown as written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from module_utils import channels_bench_rules as rules

Record = Mapping[str, Any]
T = rules.THRESHOLDS

# Flags that describe the server's behaviour: a setup that loses reps to them would look better
# if they were simply dropped (its errors and its backlog are part of what it does). The other
# flags describe the instrument, and dropping those reps does not favour the server.
SERVER_FLAGS = frozenset(
    {
        "no_requests",
        "too_few_requests",
        "all_failed",
        "errors",
        "rate_shortfall",
        "backlog",
        "server_restarted",
        "not_settled",
    }
)


def _get(record: Record, *path: str) -> Any:
    value: Any = record
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _g(value: float | None, digits: int = 1) -> str:
    return "?" if value is None else f"{value:,.{digits}f}"


def _requests(record: Record) -> str:
    total = rules.total_requests(record)
    errors = rules.total_errors(record)
    return f"{_g(errors, 0)} of {_g(total, 0)} requests failed"


def _error_codes(record: Record) -> str:
    codes = _get(record, "harness", "requests", "error_codes") or _get(
        record, "loadtest", "errorCodes"
    )
    if not isinstance(codes, Mapping) or not codes:
        return ""
    return " (" + ", ".join(f"{code} x{count}" for code, count in sorted(codes.items())) + ")"


def _no_requests(record: Record) -> str:
    sent = _num(_get(record, "harness", "requests", "sent"))
    return "0 completed" + (f" of {sent:,.0f} sent" if sent is not None else "")


def _too_few(record: Record) -> str:
    return f"{_g(rules.total_requests(record), 0)} completed, fewer than {T['min_requests']:g}"


def _errors(record: Record) -> str:
    return _requests(record) + _error_codes(record)


def _rate(record: Record) -> str:
    asked = _num(record.get("requested_rps"))
    achieved = _num(record.get("achieved_rps"))
    share = f" ({achieved / asked:.1%})" if asked and achieved is not None else ""
    return (
        f"achieved {_g(achieved)} of {_g(asked, 0)} req/s{share}; the rule allows "
        f"{T['rate_shortfall_share']:.0%} to {T['rate_overshoot_share']:.0%}"
    )


def _saturated(record: Record) -> str:
    busiest = _num(_get(record, "generator", "cpu_percent_max"))
    limit = T["generator_saturated_percent"]
    return f"busiest source at {_g(busiest, 0)} % of a core (limit {limit:g} %)"


def _ms(microseconds: float | None) -> float | None:
    return None if microseconds is None else microseconds / 1000


def _lag(record: Record) -> str:
    lag = rules.generator_lag_p99_us(record)
    bound = rules.generator_lag_bound_us(record)
    p99 = rules.latency_p99_us(record)
    return (
        f"p99 of send lag or event-loop delay {_g(_ms(lag), 2)} ms against a bound of "
        f"{_g(_ms(bound), 2)} ms (p99 latency {_g(_ms(p99), 2)} ms)"
    )


def _backlog(record: Record) -> str:
    peak = _num(_get(record, "harness", "requests", "peak_in_flight"))
    bound = rules.backlog_bound(record)
    return f"{_g(peak, 0)} requests in flight at once, more than {_g(bound, 0)}"


def _count_mismatch(record: Record) -> str:
    requests = _get(record, "harness", "requests") or {}
    counted = _num(_get(record, "harness", "histograms", "latency_uncorrected", "count"))
    loadtest = _num(_get(record, "loadtest", "totalRequests"))
    return (
        f"responses {_g(_num(requests.get('responses')), 0)}, histogram count {_g(counted, 0)}, "
        f"completed before the stop {_g(_num(requests.get('completed_before_stop')), 0)}, "
        f"loadtest's total {_g(loadtest, 0)}, timeouts {_g(_num(requests.get('timeouts')), 0)}"
    )


def _start_lag(record: Record) -> str:
    sources = record.get("sources")
    listed = sources if isinstance(sources, list) else []
    lags = [_num(s.get("start_lag_ms")) for s in listed if isinstance(s, Mapping)]
    worst = max((abs(lag) for lag in lags if lag is not None), default=None)
    return f"sources started up to {_g(worst, 0)} ms apart (limit {T['start_lag_ms']:g} ms)"


def _restarted(record: Record) -> str:
    before = _get(record, "server", "pids_before") or {}
    after = _get(record, "server", "pids_after") or {}
    names = sorted(set(before) | set(after))
    changed = [
        f"{n} {before.get(n)} -> {after.get(n)}" for n in names if before.get(n) != after.get(n)
    ]
    return "PIDs " + ", ".join(changed) if changed else "PIDs changed"


def _limited(record: Record) -> str:
    share = rules.headroom(record)
    reference = _num(_get(record, "reference", "rps"))
    return (
        f"{_g(_num(record.get('achieved_rps')))} req/s against wrk's {_g(reference)} "
        f"({_g(None if share is None else share * 100, 0)} %, limit "
        f"{T['generator_limited_share']:.0%})"
    )


def _not_settled(record: Record) -> str:
    waited = _num(_get(record, "settle", "waited_s"))
    return f"still slow after waiting {_g(waited)} s"


_NUMBERS: dict[str, Callable[[Record], str]] = {
    "no_requests": _no_requests,
    "too_few_requests": _too_few,
    "all_failed": _errors,
    "errors": _errors,
    "rate_shortfall": _rate,
    "rate_overshoot": _rate,
    "generator_saturated": _saturated,
    "generator_lag": _lag,
    "backlog": _backlog,
    "count_mismatch": _count_mismatch,
    "start_lag": _start_lag,
    "server_restarted": _restarted,
    "generator_limited": _limited,
    "not_settled": _not_settled,
}


def describe(record: Record, flag: str) -> str:
    """`<flag>: <the rule book's sentence> (<the numbers that set it>)`."""
    sentence = rules.FLAGS.get(flag)
    if sentence is None:
        return f"{flag}: not in the rule book (version {rules.RULES_VERSION}); shown as written"
    numbers = _NUMBERS.get(flag)
    try:
        detail = numbers(record) if numbers else ""
    except (TypeError, ValueError, ZeroDivisionError, AttributeError):
        detail = ""
    return f"{flag}: {sentence}" + (f" ({detail})" if detail else "")


def describe_all(record: Record, flags: tuple[str, ...]) -> dict[str, str]:
    return {flag: describe(record, flag) for flag in flags}


def server_flags(flags: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(flag for flag in flags if flag in SERVER_FLAGS)
