#!/usr/bin/env python3
"""wsbench: one WebSocket measurement per invocation, for the channels-bench harness.

    python wsbench.py SPEC.json       run the measurement SPEC.json describes
    python wsbench.py --self-check    a short echo run against an in-process server on loopback

Tests (spec["test"]):
  ws-echo     M persistent connections, each sending at R/M messages/s on a fixed schedule
              (wrk2's way: latency from the scheduled send, corrected; also from the actual send,
              and the send lag); every echo matched by its sequence number.
  ws-fanout   G groups of S subscribers and one publisher each; every publisher sends R
              numbered messages/s through the server's group_send; per receipt the delivery
              latency (publisher's send to subscriber's receipt: the client runs both ends on one
              monotonic clock); per subscriber the messages lost, duplicated and out of order.
  ws-connect  connections opened in steps and held; per step the handshake latencies, failures
              and the server's resident memory per held connection (/proc/<pid>/status VmRSS of
              the server PIDs given and their descendants: the server must run on this host).

The document (docs/stack-2026.md describes it) is written to spec["output"] through a temporary
file and link(2), which never replaces an existing file, and printed on stdout as one line. An
existing output, or any problem in the spec, stops the client before it opens a connection.
Exit status: 0 written, 1 the run failed (nothing written), 2 bad spec or usage, 130
interrupted (nothing written).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.metadata
import json
import math
import os
import platform
import resource
import secrets
import sys
import tempfile
import time
from array import array
from collections import Counter
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# The harness's rule book (module_utils/channels_bench_rules.py), beside this script: a symlink
# in the repository, a copy where the wsbench role installs it.
import channels_bench_rules as rules
from hdrh.histogram import HdrHistogram  # type: ignore[import-untyped]
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.protocol import State

DOCUMENT_VERSION = 1
TESTS = ("ws-echo", "ws-fanout", "ws-connect")

# Histograms: microseconds, 3 significant digits, up to an hour (the results contract's shape).
SIGNIFICANT_DIGITS = 3
HIGHEST_US = 3_600_000_000
TIMELINE_BIN_S = 0.1
# The event-loop delay sampler's period; a whole number of milliseconds, which epoll's 1 ms
# timeout resolution can wait for without rounding.
LOOP_SAMPLE_MS = 10

# Bounds on what one run may ask for: connections (each a file descriptor and a source port on
# one destination), messages in all, and handshakes in flight at once.
MAX_CONNECTIONS = 20_000
MAX_MESSAGES = 20_000_000
FD_HEADROOM = 64
MAX_PAYLOAD_BYTES = 1_000_000
# Seconds allowed beyond the planned phases before the whole run is abandoned.
RUN_SLACK_S = 30.0
COMMON_KEYS = (
    "test",
    "url",
    "warmup_s",
    "message_timeout_s",
    "connect_timeout_s",
    "connect_concurrency",
    "payload_bytes",
    "host",
    "cpus",
    "client_ceiling_rate",
)
TEST_KEYS = {
    "ws-echo": ("duration_s", "connections", "rate"),
    "ws-fanout": ("duration_s", "groups", "subscribers", "rate", "group_prefix"),
    "ws-connect": ("steps", "hold_s", "server_pids"),
}
GROUP_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


class SpecError(Exception):
    """The spec cannot run; the message lists every problem."""


class RunError(Exception):
    """The run could not be completed; nothing was written."""


def now_ns() -> int:
    return time.monotonic_ns()


def utc_at(instant_ns: int) -> str:
    """The UTC time of a monotonic instant, as the results contract writes times."""
    wall_ns = time.time_ns() - (now_ns() - instant_ns)
    moment = datetime.fromtimestamp(wall_ns / 1e9, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# The spec.


@dataclass(frozen=True)
class Spec:
    test: str
    url: str
    output: Path
    duration_s: float = 0.0
    warmup_s: float = 1.0
    message_timeout_s: float = 5.0
    connect_timeout_s: float = 10.0
    connect_concurrency: int = 20
    payload_bytes: int = 0
    host: str | None = None
    cpus: str | None = None
    client_ceiling_rate: float | None = None
    connections: int = 0
    rate: float = 0.0
    groups: int = 0
    subscribers: int = 0
    group_prefix: str = ""
    steps: tuple[int, ...] = ()
    hold_s: float = 0.0
    server_pids: tuple[int, ...] = ()


class Checker:
    """Reads a spec's fields and collects every problem, so that one error names them all."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw = raw
        self.problems: list[str] = []

    def number(self, key: str, default: float | None, minimum: float, above: bool) -> float:
        value = self.raw.get(key, default)
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        if ok and (value > minimum if above else value >= minimum):
            return float(value)
        relation = "above" if above else "at least"
        self.problems.append(f"{key} must be a number {relation} {minimum:g}, not {value!r}")
        return 0.0

    def count(self, key: str, default: int | None, maximum: int, minimum: int = 1) -> int:
        value = self.raw.get(key, default)
        if isinstance(value, int) and not isinstance(value, bool) and minimum <= value <= maximum:
            return value
        self.problems.append(
            f"{key} must be a whole number from {minimum} to {maximum}, not {value!r}"
        )
        return 0

    def optional_text(self, key: str) -> str | None:
        value = self.raw.get(key)
        if value is None or isinstance(value, str):
            return value
        self.problems.append(f"{key} must be a string or null, not {value!r}")
        return None


def parse_spec(raw: Any) -> Spec:
    """The spec as the client runs it, or SpecError naming every problem found."""
    if not isinstance(raw, Mapping):
        raise SpecError("the spec must be a JSON object")
    check = Checker(raw)
    test = raw.get("test")
    if test not in TESTS:
        check.problems.append(f"test must be one of {', '.join(TESTS)}, not {test!r}")
    else:
        check_keys(check, test)
    url = check_url(check, test)
    output = check_output(check)
    common = common_fields(check)
    specific = test_fields(check, test)
    if check.problems:
        raise SpecError("; ".join(check.problems))
    return Spec(test=str(test), url=url, output=output, **common, **specific)


def check_keys(check: Checker, test: str) -> None:
    unknown = sorted(set(check.raw) - set(plan_keys(test)) - {"output"})
    if unknown:
        check.problems.append(
            f"unknown key(s) {', '.join(unknown)} for {test}: "
            f"the keys are output, {', '.join(plan_keys(test))}"
        )


def plan_keys(test: str) -> tuple[str, ...]:
    """The spec's keys for a test, in the order the document's plan lists them."""
    return COMMON_KEYS + TEST_KEYS[test]


def check_url(check: Checker, test: Any) -> str:
    url = check.raw.get("url")
    if not isinstance(url, str) or not url.startswith(("ws://", "wss://")):
        check.problems.append(f"url must be a ws:// or wss:// URL, not {url!r}")
        return ""
    if test == "ws-fanout" and url.count("{group}") != 1:
        check.problems.append(f"the ws-fanout url must contain {{group}} once, not {url!r}")
    return url


def check_output(check: Checker) -> Path:
    output = check.raw.get("output")
    if not isinstance(output, str) or not output.startswith("/"):
        check.problems.append(f"output must be an absolute path, not {output!r}")
        return Path("/nonexistent")
    return Path(output)


def common_fields(check: Checker) -> dict[str, Any]:
    ceiling = check.raw.get("client_ceiling_rate")
    return {
        "warmup_s": check.number("warmup_s", 1.0, 0, above=False),
        "message_timeout_s": check.number("message_timeout_s", 5.0, 0, above=True),
        "connect_timeout_s": check.number("connect_timeout_s", 10.0, 0, above=True),
        "connect_concurrency": check.count("connect_concurrency", 20, 1000),
        "payload_bytes": check.count("payload_bytes", 0, MAX_PAYLOAD_BYTES, minimum=0),
        "host": check.optional_text("host"),
        "cpus": check.optional_text("cpus"),
        "client_ceiling_rate": (
            None if ceiling is None else check.number("client_ceiling_rate", None, 0, above=True)
        ),
    }


def test_fields(check: Checker, test: Any) -> dict[str, Any]:
    if test == "ws-echo":
        fields = {
            "duration_s": check.number("duration_s", None, 0, above=True),
            "connections": check.count("connections", None, MAX_CONNECTIONS),
            "rate": check.number("rate", None, 0, above=True),
        }
        check_message_bound(check, fields["rate"], fields["duration_s"])
        return fields
    if test == "ws-fanout":
        return fanout_fields(check)
    if test == "ws-connect":
        return connect_fields(check)
    return {}


def fanout_fields(check: Checker) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "duration_s": check.number("duration_s", None, 0, above=True),
        "groups": check.count("groups", None, MAX_CONNECTIONS),
        "subscribers": check.count("subscribers", None, MAX_CONNECTIONS),
        "rate": check.number("rate", None, 0, above=True),
    }
    if fields["groups"] * (fields["subscribers"] + 1) > MAX_CONNECTIONS:
        check.problems.append(
            f"groups x (subscribers + 1) connections must stay within {MAX_CONNECTIONS}"
        )
    prefix = check.raw.get("group_prefix", "wsbench-" + secrets.token_hex(4))
    if not isinstance(prefix, str) or not 1 <= len(prefix) <= 60 or set(prefix) - GROUP_NAME_CHARS:
        check.problems.append(
            f"group_prefix must be 1-60 letters, digits, '-', '_' or '.', not {prefix!r}"
        )
    fields["group_prefix"] = prefix
    receipts = fields["rate"] * fields["groups"] * (fields["subscribers"] + 1)
    check_message_bound(check, receipts, fields["duration_s"])
    return fields


def connect_fields(check: Checker) -> dict[str, Any]:
    steps = check.raw.get("steps")
    valid_steps = (
        isinstance(steps, list)
        and len(steps) > 0
        and all(isinstance(s, int) and not isinstance(s, bool) for s in steps)
        and all(a < b for a, b in zip([0, *steps], steps, strict=False))
        and steps[-1] <= MAX_CONNECTIONS
    )
    if not valid_steps:
        check.problems.append(
            f"steps must be a rising list of connection counts from 1 to {MAX_CONNECTIONS}, "
            f"such as [100, 200, 400], not {steps!r}"
        )
    pids = check.raw.get("server_pids", [])
    if not isinstance(pids, list) or not all(isinstance(p, int) and p > 0 for p in pids):
        check.problems.append(f"server_pids must be a list of process ids, not {pids!r}")
        pids = []
    return {
        "steps": tuple(steps) if valid_steps and isinstance(steps, list) else (),
        "hold_s": check.number("hold_s", None, 0, above=True),
        "server_pids": tuple(pids),
    }


def check_message_bound(check: Checker, rate: float, duration_s: float) -> None:
    warmup = check.raw.get("warmup_s", 1.0)
    warmup = warmup if isinstance(warmup, int | float) else 0.0
    if rate * (duration_s + warmup) > MAX_MESSAGES:
        check.problems.append(
            f"the run would handle {rate * (duration_s + warmup):.0f} messages, "
            f"more than the bound of {MAX_MESSAGES}"
        )


def planned_connections(spec: Spec) -> int:
    if spec.test == "ws-echo":
        return spec.connections
    if spec.test == "ws-fanout":
        return spec.groups * (spec.subscribers + 1)
    return spec.steps[-1] if spec.steps else 0


def client_frames_per_s(spec: Spec) -> float | None:
    """Frames per second the client itself sends and receives: an echo is one of each; a fan-out
    message is one send and S + 1 receipts (the publisher is a member of its group too)."""
    if spec.test == "ws-echo":
        return 2 * spec.rate
    if spec.test == "ws-fanout":
        return spec.groups * spec.rate * (spec.subscribers + 2)
    return None


# Preparing to run: nothing is loaded before these pass.


def raise_fd_limit(needed: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    if needed + FD_HEADROOM > soft:
        raise SpecError(
            f"{needed} connections need {needed + FD_HEADROOM} file descriptors and this process "
            f"may open {soft} (ulimit -n): raise the limit or ask for fewer connections"
        )
    return soft


def check_output_writable(output: Path) -> None:
    if output.exists():
        raise SpecError(f"{output} exists already; a result is never overwritten")
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=output.parent, prefix=f".{output.name}.probe."):
        pass


def write_exclusive(output: Path, text: str) -> None:
    """Write a temporary file beside the output, then link it to the output's name: the link
    fails when the name exists, so a result is never replaced, and never seen half-written."""
    fd, temporary = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o644)
        os.link(temporary, output)
    finally:
        os.unlink(temporary)


# Instruments.


class Histogram:
    """An HdrHistogram in microseconds; values outside its range are clamped, never dropped."""

    def __init__(self) -> None:
        self.hdr = HdrHistogram(1, HIGHEST_US, SIGNIFICANT_DIGITS)

    def record_ns(self, nanoseconds: int) -> None:
        self.hdr.record_value(min(max(nanoseconds // 1000, 0), HIGHEST_US))

    @property
    def count(self) -> int:
        return int(self.hdr.get_total_count())

    def summary(self) -> dict[str, Any]:
        hdr = self.hdr
        empty = self.count == 0
        return {
            "encoded": hdr.encode().decode("ascii"),
            "count": self.count,
            "mean": None if empty else round(hdr.get_mean_value(), 1),
            "min": None if empty else hdr.get_min_value(),
            "p50": None if empty else hdr.get_value_at_percentile(50),
            "p90": None if empty else hdr.get_value_at_percentile(90),
            "p99": None if empty else hdr.get_value_at_percentile(99),
            "p99.9": None if empty else hdr.get_value_at_percentile(99.9),
            "max": None if empty else hdr.get_max_value(),
        }


@dataclass(frozen=True)
class Window:
    """Monotonic instants of one run: warm-up from start, measured from measure to end."""

    start_ns: int
    measure_ns: int
    end_ns: int

    @classmethod
    def starting_in(cls, delay_s: float, warmup_s: float, duration_s: float) -> Window:
        start = now_ns() + int(delay_s * 1e9)
        measure = start + int(warmup_s * 1e9)
        return cls(start, measure, measure + int(duration_s * 1e9))

    def measured(self, instant_ns: int) -> bool:
        return self.measure_ns <= instant_ns < self.end_ns

    @property
    def duration_s(self) -> float:
        return (self.end_ns - self.measure_ns) / 1e9


class Timeline:
    """Counts per 0.1 s bin from the measured start (the tail after the end included)."""

    def __init__(self, window: Window, names: Sequence[str]) -> None:
        self.window = window
        self.bins: dict[str, list[int]] = {name: [] for name in names}

    def add(self, name: str, instant_ns: int) -> None:
        if instant_ns < self.window.measure_ns:
            return
        index = int((instant_ns - self.window.measure_ns) / (TIMELINE_BIN_S * 1e9))
        counts = self.bins[name]
        if index >= len(counts):
            counts.extend([0] * (index + 1 - len(counts)))
        counts[index] += 1

    def document(self) -> dict[str, Any]:
        planned = round(self.window.duration_s / TIMELINE_BIN_S)
        length = max([len(c) for c in self.bins.values()] + [planned])
        padded = {name: counts + [0] * (length - len(counts)) for name, counts in self.bins.items()}
        return {"bin_s": TIMELINE_BIN_S, **padded}


class LoopLagSampler:
    """How late the event loop runs a callback due every LOOP_SAMPLE_MS, over the measured part:
    the generator's own delay, like node's monitorEventLoopDelay for the HTTP driver."""

    def __init__(self, window: Window) -> None:
        self.window = window
        self.histogram = Histogram()

    async def run(self) -> None:
        period = LOOP_SAMPLE_MS * 1_000_000
        due = self.window.measure_ns
        while due < self.window.end_ns:
            await asyncio.sleep(max(0.0, (due - now_ns()) / 1e9))
            woke = now_ns()
            if due >= self.window.measure_ns:
                self.histogram.record_ns(woke - due)
            due += period
            if woke - due > period:
                # Late by more than a period: the next samples start from now, not in a burst.
                due = woke + period - (woke - due) % period


@dataclass
class CpuMeter:
    """This process's CPU time over a wall-clock span, as a share of one core."""

    wall_ns: int = 0
    user_s: float = 0.0
    system_s: float = 0.0

    def start(self) -> None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        self.wall_ns, self.user_s, self.system_s = now_ns(), usage.ru_utime, usage.ru_stime

    def stop(self) -> dict[str, Any]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        wall_s = (now_ns() - self.wall_ns) / 1e9
        user, system = usage.ru_utime - self.user_s, usage.ru_stime - self.system_s
        percent = round((user + system) / wall_s * 100, 1) if wall_s > 0 else None
        return {
            "cpu_percent": percent,
            "cpu_user_s": round(user, 3),
            "cpu_system_s": round(system, 3),
        }


async def sleep_until(instant_ns: int) -> None:
    delay = (instant_ns - now_ns()) / 1e9
    if delay > 0:
        await asyncio.sleep(delay)


async def measure_cpu(window: Window, meter: CpuMeter, result: dict[str, Any]) -> None:
    await sleep_until(window.measure_ns)
    meter.start()
    await sleep_until(window.end_ns)
    result.update(meter.stop())


# Connections.


@dataclass
class Errors:
    """Every failure, by kind: nothing the client sees go wrong is left uncounted."""

    kinds: Counter[str] = field(default_factory=Counter)

    def add(self, kind: str, amount: int = 1) -> None:
        self.kinds[kind] += amount

    @property
    def total(self) -> int:
        return sum(self.kinds.values())


def failure_kind(error: BaseException) -> str:
    if isinstance(error, InvalidStatus):
        return f"http_{error.response.status_code}"
    if isinstance(error, TimeoutError):
        return "timeout"
    return type(error).__name__


async def open_connection(url: str, spec: Spec) -> ClientConnection:
    # No compression (the server's cost of a frame, not zlib's), no keepalive pings of the
    # client's own, never through a proxy the environment may name.
    return await connect(
        url,
        compression=None,
        ping_interval=None,
        open_timeout=spec.connect_timeout_s,
        close_timeout=2,
        max_queue=4096,
        proxy=None,
        user_agent_header="channels-bench-wsbench",
    )


async def open_many(
    urls: Sequence[str], spec: Spec, errors: Errors, handshakes: Histogram | None = None
) -> list[ClientConnection | None]:
    """Open one connection per URL, spec.connect_concurrency handshakes at a time; a failure is
    counted by kind and leaves None in its place."""
    gate = asyncio.Semaphore(spec.connect_concurrency)

    async def one(url: str) -> ClientConnection | None:
        async with gate:
            began = now_ns()
            try:
                connection = await open_connection(url, spec)
            except Exception as error:  # refused, timed out, rejected, a protocol violation
                errors.add("connect_" + failure_kind(error))
                return None
            if handshakes is not None:
                handshakes.record_ns(now_ns() - began)
            return connection

    return list(await asyncio.gather(*(one(url) for url in urls)))


async def close_all(connections: Sequence[ClientConnection | None]) -> None:
    open_ones = [c for c in connections if c is not None]
    await asyncio.gather(*(c.close() for c in open_ones), return_exceptions=True)


def payload(group: int, seq: int, scheduled_ns: int, sent_ns: int, padding: str) -> str:
    return f'{{"g":{group},"seq":{seq},"sched":{scheduled_ns},"sent":{sent_ns},"pad":"{padding}"}}'


@dataclass
class Sender:
    """One connection's schedule: message seq is due at first_ns + seq / rate, and goes out as
    soon as it is due (late ones at once, never skipped: the lag is measured, as in wrk2)."""

    connection: ClientConnection
    group: int
    first_ns: int
    rate: float
    count: int
    sent_ns: array[int] = field(init=False)

    def __post_init__(self) -> None:
        self.sent_ns = array("q", bytes(8 * self.count))

    def due_ns(self, seq: int) -> int:
        return self.first_ns + round(seq * 1e9 / self.rate)

    def sent_count(self) -> int:
        """Messages that went out (the schedule stops at the end or on a failure)."""
        sent = self.sent_ns
        low, high = 0, len(sent)
        while low < high:
            middle = (low + high) // 2
            if sent[middle]:
                low = middle + 1
            else:
                high = middle
        return low

    def measured_range(self, window: Window) -> range:
        """Sequence numbers scheduled in the measured part that were sent."""
        first = max(0, math.ceil((window.measure_ns - self.first_ns) * self.rate / 1e9))
        # The rounding of due_ns decides at the edge, in either direction.
        while first > 0 and self.due_ns(first - 1) >= window.measure_ns:
            first -= 1
        while first < self.count and self.due_ns(first) < window.measure_ns:
            first += 1
        return range(first, max(first, self.sent_count()))


class SendRecorder:
    """What every sender reports: counts, send lag and the timeline."""

    def __init__(self, window: Window, timeline: Timeline, errors: Errors) -> None:
        self.window = window
        self.timeline = timeline
        self.errors = errors
        self.send_lag = Histogram()
        self.sent = 0
        self.warmup_sent = 0
        self.in_flight = 0
        self.peak_in_flight = 0

    def sent_one(self, scheduled_ns: int, sent_ns: int) -> None:
        if self.window.measured(scheduled_ns):
            self.sent += 1
            self.send_lag.record_ns(sent_ns - scheduled_ns)
            self.timeline.add("sent", sent_ns)
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        else:
            self.warmup_sent += 1


async def run_sender(sender: Sender, window: Window, padding: str, record: SendRecorder) -> None:
    for seq in range(sender.count):
        due = sender.due_ns(seq)
        if due >= window.end_ns:
            return
        await sleep_until(due)
        sent = now_ns()
        try:
            await sender.connection.send(payload(sender.group, seq, due, sent, padding))
        except ConnectionClosed:
            record.errors.add("send_closed")
            return
        sender.sent_ns[seq] = sent
        record.sent_one(due, sent)


def message_count(rate: float, window: Window) -> int:
    return math.ceil(rate * (window.end_ns - window.start_ns) / 1e9) + 1


# Receivers.


@dataclass
class Receipts:
    """One receiver's view of one sender's numbered messages."""

    seen: bytearray
    received: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    highest: int = -1
    subscribed_ns: int = 0
    closed_ns: int | None = None

    def take(self, seq: int) -> bool:
        """Record a receipt; True when it is the first of that number."""
        if self.seen[seq]:
            self.duplicates += 1
            return False
        self.seen[seq] = 1
        if seq < self.highest:
            self.out_of_order += 1
        self.highest = max(self.highest, seq)
        return True


class ReceiptRecorder:
    """Latencies of the measured messages' first receipts, and every anomaly counted."""

    def __init__(
        self, window: Window, timeline: Timeline, errors: Errors, sends: SendRecorder
    ) -> None:
        self.window = window
        self.timeline = timeline
        self.errors = errors
        self.sends = sends
        self.uncorrected = Histogram()
        self.corrected = Histogram()
        self.received = 0
        self.warmup_received = 0

    def take(self, message: str | bytes, receipts: Receipts, group: int, echo: bool) -> None:
        arrived = now_ns()
        try:
            data = json.loads(message)
            seq, scheduled, sent = int(data["seq"]), int(data["sched"]), int(data["sent"])
            ok = int(data["g"]) == group and 0 <= seq < len(receipts.seen)
        except (ValueError, KeyError, TypeError):
            ok = False
        if not ok:
            self.errors.add("unexpected_message")
            return
        if not receipts.take(seq):
            return
        if not self.window.measured(scheduled):
            self.warmup_received += 1
            return
        self.received += 1
        if echo:
            self.sends.in_flight -= 1
        self.uncorrected.record_ns(arrived - sent)
        self.corrected.record_ns(arrived - scheduled)
        self.timeline.add("received", arrived)


async def run_receiver(
    connection: ClientConnection,
    receipts: Receipts,
    group: int,
    record: ReceiptRecorder,
    echo: bool,
    keep: bool = True,
) -> None:
    """Read until the connection closes; keep=False reads and drops (a publisher's copies)."""
    try:
        async for message in connection:
            if keep:
                record.take(message, receipts, group, echo)
    except ConnectionClosed:
        pass
    except Exception as error:  # a protocol violation of the server's: counted, not raised
        record.errors.add("receive_" + failure_kind(error))
    receipts.closed_ns = now_ns()


async def wait_for(condition: Callable[[], bool], timeout_s: float) -> bool:
    deadline = now_ns() + int(timeout_s * 1e9)
    while not condition():
        if now_ns() >= deadline:
            return False
        await asyncio.sleep(0.02)
    return True


# ws-echo.


async def run_echo(spec: Spec, generator: dict[str, Any]) -> dict[str, Any]:
    errors = Errors()
    connections = await open_many([spec.url] * spec.connections, spec, errors)
    live = [c for c in connections if c is not None]
    window = Window.starting_in(0.05, spec.warmup_s, spec.duration_s)
    timeline = Timeline(window, ["sent", "received"])
    sends = SendRecorder(window, timeline, errors)
    record = ReceiptRecorder(window, timeline, errors, sends)
    per_connection = spec.rate / spec.connections
    count = message_count(per_connection, window)
    senders = [
        Sender(c, i, window.start_ns + round(i * 1e9 / spec.rate), per_connection, count)
        for i, c in enumerate(live)
    ]
    receipts = [Receipts(bytearray(count)) for _ in live]
    readers = [
        asyncio.create_task(run_receiver(s.connection, r, s.group, record, echo=True))
        for s, r in zip(senders, receipts, strict=True)
    ]
    padding = "x" * spec.payload_bytes
    await measured_phase(
        window, [run_sender(s, window, padding, sends) for s in senders], generator
    )
    in_flight_at_stop = sends.in_flight
    await wait_for(lambda: sends.in_flight <= 0 or all_closed(receipts), spec.message_timeout_s)
    await close_all(live)
    await asyncio.gather(*readers, return_exceptions=True)
    expected = sends.sent
    lost = sum(
        len(r) - rc.seen[r.start : r.stop].count(1)
        for s, rc in zip(senders, receipts, strict=True)
        for r in [s.measured_range(window)]
    )
    early = sum(1 for rc in receipts if rc.closed_ns is not None and rc.closed_ns < window.end_ns)
    if early:
        errors.add("closed_by_server", early)
    messages = {
        "sent": expected,
        "received": record.received,
        "lost": lost,
        "duplicates": sum(r.duplicates for r in receipts),
        "out_of_order": sum(r.out_of_order for r in receipts),
        "in_flight_at_stop": in_flight_at_stop,
        "peak_in_flight": sends.peak_in_flight,
    }
    return {
        "window": window,
        "requested_rate": spec.rate,
        "connections": {"asked": spec.connections, "opened": len(live)},
        "messages": messages,
        "errors": errors,
        "warmup": {"sent": sends.warmup_sent, "received": record.warmup_received},
        "histograms": {
            "latency_uncorrected": record.uncorrected,
            "latency_corrected": record.corrected,
            "send_lag": sends.send_lag,
        },
        "timeline": timeline,
    }


def all_closed(receipts: Sequence[Receipts]) -> bool:
    return all(r.closed_ns is not None for r in receipts)


async def measured_phase(
    window: Window, senders: Sequence[Coroutine[Any, Any, None]], generator: dict[str, Any]
) -> None:
    """Run the senders with the CPU meter and the loop-lag sampler over the measured part."""
    sampler = LoopLagSampler(window)
    side = [
        asyncio.create_task(sampler.run()),
        asyncio.create_task(measure_cpu(window, CpuMeter(), generator)),
    ]
    await asyncio.gather(*senders)
    await sleep_until(window.end_ns)
    await asyncio.gather(*side)
    generator["loop_lag"] = sampler.histogram


# ws-fanout.


@dataclass
class Subscriber:
    group: int
    connection: ClientConnection
    receipts: Receipts


def group_urls(spec: Spec) -> list[str]:
    return [spec.url.replace("{group}", f"{spec.group_prefix}-g{g}") for g in range(spec.groups)]


async def open_fanout(
    spec: Spec, errors: Errors
) -> tuple[list[ClientConnection | None], list[list[ClientConnection | None]]]:
    """Subscribers first, then publishers: once a subscriber's handshake is done it is in its
    group (the consumer joins before it accepts), so every message sent after is expected."""
    urls = group_urls(spec)
    flat = await open_many([u for u in urls for _ in range(spec.subscribers)], spec, errors)
    subscribers = [
        flat[g * spec.subscribers : (g + 1) * spec.subscribers] for g in range(spec.groups)
    ]
    publishers = await open_many(urls, spec, errors)
    return publishers, subscribers


async def run_fanout(spec: Spec, generator: dict[str, Any]) -> dict[str, Any]:
    errors = Errors()
    publishers, subscriber_sets = await open_fanout(spec, errors)
    window = Window.starting_in(0.2, spec.warmup_s, spec.duration_s)
    timeline = Timeline(window, ["sent", "received"])
    sends = SendRecorder(window, timeline, errors)
    record = ReceiptRecorder(window, timeline, errors, sends)
    count = message_count(spec.rate, window)
    stagger = 1e9 / (spec.rate * spec.groups)
    senders = [
        Sender(p, g, window.start_ns + round(g * stagger), spec.rate, count)
        for g, p in enumerate(publishers)
        if p is not None
    ]
    subscribers = [
        Subscriber(g, c, Receipts(bytearray(count), subscribed_ns=now_ns()))
        for g, subs in enumerate(subscriber_sets)
        if publishers[g] is not None
        for c in subs
        if c is not None
    ]
    readers = [
        asyncio.create_task(run_receiver(s.connection, s.receipts, s.group, record, echo=False))
        for s in subscribers
    ] + [
        asyncio.create_task(
            run_receiver(s.connection, Receipts(bytearray(0)), s.group, record, False, keep=False)
        )
        for s in senders
    ]
    padding = "x" * spec.payload_bytes
    await measured_phase(
        window, [run_sender(s, window, padding, sends) for s in senders], generator
    )
    in_flight_at_stop = expected_receipts(senders, subscribers, window) - record.received
    await wait_for(
        lambda: record.received >= expected_receipts(senders, subscribers, window),
        spec.message_timeout_s,
    )
    await close_all([s.connection for s in subscribers] + [s.connection for s in senders])
    await asyncio.gather(*readers, return_exceptions=True)
    per_subscriber = [subscriber_losses(s, senders, window) for s in subscribers]
    early = sum(1 for s in per_subscriber if s["closed_early"])
    if early:
        errors.add("closed_by_server", early)
    messages = {
        "sent": sends.sent,
        "expected": sum(s["expected"] for s in per_subscriber),
        "received": record.received,
        "lost": sum(s["lost"] for s in per_subscriber),
        "duplicates": sum(s["duplicates"] for s in per_subscriber),
        "out_of_order": sum(s["out_of_order"] for s in per_subscriber),
        "in_flight_at_stop": in_flight_at_stop,
    }
    return {
        "window": window,
        "requested_rate": spec.rate * spec.groups,
        "connections": {
            "asked": planned_connections(spec),
            "opened": len(subscribers) + len(senders),
            "publishers": len(senders),
            "subscribers": len(subscribers),
        },
        "messages": messages,
        "subscribers": per_subscriber,
        "errors": errors,
        "warmup": {"sent": sends.warmup_sent, "received": record.warmup_received},
        "histograms": {
            "latency_uncorrected": record.uncorrected,
            "latency_corrected": record.corrected,
            "send_lag": sends.send_lag,
        },
        "timeline": timeline,
    }


def expected_range(sender: Sender, receipts: Receipts, window: Window) -> range:
    """The measured messages this subscriber should have had: those its group's publisher sent
    while it was subscribed (a subscriber the server closed expects none sent after)."""
    measured = sender.measured_range(window)
    start, stop = measured.start, measured.stop
    while start < stop and sender.sent_ns[start] < receipts.subscribed_ns:
        start += 1
    if receipts.closed_ns is not None:
        while stop > start and sender.sent_ns[stop - 1] >= receipts.closed_ns:
            stop -= 1
    return range(start, stop)


def expected_receipts(senders: Sequence[Sender], subs: Sequence[Subscriber], window: Window) -> int:
    by_group = {s.group: s for s in senders}
    return sum(len(expected_range(by_group[s.group], s.receipts, window)) for s in subs)


def subscriber_losses(sub: Subscriber, senders: Sequence[Sender], window: Window) -> dict[str, Any]:
    sender = next(s for s in senders if s.group == sub.group)
    expected = expected_range(sender, sub.receipts, window)
    seen = sub.receipts.seen[expected.start : expected.stop].count(1)
    closed = sub.receipts.closed_ns
    return {
        "group": sub.group,
        "expected": len(expected),
        "received": seen,
        "lost": len(expected) - seen,
        "duplicates": sub.receipts.duplicates,
        "out_of_order": sub.receipts.out_of_order,
        "closed_early": closed is not None and closed < window.end_ns,
    }


# ws-connect.


def descendants(pids: Sequence[int]) -> list[int]:
    """The PIDs given and every process below them (a server's workers), as /proc shows now."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            # The command name may hold spaces and parentheses: the fields after its last ")".
            stat = (entry / "stat").read_text()
            parent = int(stat[stat.rindex(")") + 2 :].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    found: list[int] = []
    queue = list(pids)
    while queue:
        pid = queue.pop()
        if pid not in found:
            found.append(pid)
            queue.extend(children.get(pid, []))
    return sorted(found)


def resident_kb(pids: Sequence[int]) -> tuple[int | None, list[int]]:
    """Summed VmRSS of the server's processes, with the PIDs read; None without any."""
    total, read = 0, []
    for pid in descendants(pids):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
                    read.append(pid)
    return (total if read else None), read


async def connect_warmup(spec: Spec, errors: Errors) -> dict[str, Any]:
    """Open and close one connection at a time for warmup_s (at most 1000), not counted."""
    deadline = now_ns() + int(spec.warmup_s * 1e9)
    opened = 0
    while now_ns() < deadline and opened < 1000:
        connections = await open_many([spec.url], spec, errors)
        await close_all(connections)
        opened += 1
    return {"opened": opened - errors.total, "failed": errors.total}


async def run_step(spec: Spec, target: int, held: list[ClientConnection]) -> dict[str, Any]:
    errors = Errors()
    handshakes = Histogram()
    rss_before, _ = resident_kb(spec.server_pids)
    began = now_ns()
    new = await open_many([spec.url] * (target - len(held)), spec, errors, handshakes)
    opened = [c for c in new if c is not None]
    failed = len(new) - len(opened)
    held.extend(opened)
    open_s = (now_ns() - began) / 1e9
    await asyncio.sleep(spec.hold_s)
    rss_after, pids = resident_kb(spec.server_pids)
    still_open = [c for c in held if c.state is State.OPEN]
    dropped = len(held) - len(still_open)
    if dropped:
        errors.add("closed_by_server", dropped)
    held[:] = still_open
    per_connection = (
        round((rss_after - rss_before) / len(opened), 2)
        if rss_after is not None and rss_before is not None and opened
        else None
    )
    return {
        "connections": target,
        "opened": len(opened),
        "failed": failed,
        "dropped": dropped,
        "held_at_end": len(held),
        "open_s": round(open_s, 3),
        "hold_s": spec.hold_s,
        "errors": dict(errors.kinds),
        "handshake": handshakes.summary(),
        "server_rss_kb_before": rss_before,
        "server_rss_kb_after": rss_after,
        "server_rss_kb_per_connection": per_connection,
        "server_pids_read": pids,
        "_handshakes": handshakes,
        "_errors": errors,
    }


async def run_connect(spec: Spec, generator: dict[str, Any]) -> dict[str, Any]:
    warmup = await connect_warmup(spec, Errors())
    meter = CpuMeter()
    window = Window.starting_in(0, 0, run_bound_s(spec))
    sampler = LoopLagSampler(window)
    sampler_task = asyncio.create_task(sampler.run())
    meter.start()
    held: list[ClientConnection] = []
    steps = []
    errors = Errors()
    handshakes = Histogram()
    for target in spec.steps:
        step = await run_step(spec, target, held)
        handshakes.hdr.add(step.pop("_handshakes").hdr)
        errors.kinds.update(step.pop("_errors").kinds)
        steps.append(step)
    generator.update(meter.stop())
    sampler_task.cancel()
    await asyncio.gather(sampler_task, return_exceptions=True)
    generator["loop_lag"] = sampler.histogram
    ended = Window(window.start_ns, window.measure_ns, now_ns())
    await close_all(held)
    return {
        "window": ended,
        "requested_rate": None,
        "connections": {"asked": spec.steps[-1], "held_at_end": len(held)},
        "steps": steps,
        "errors": errors,
        "warmup": warmup,
        "histograms": {"handshake": handshakes},
        "timeline": None,
    }


# The document.


def versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {"python_version": platform.python_version()}
    for name in ("websockets", "hdrhistogram"):
        try:
            found[f"{name}_version"] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[f"{name}_version"] = None
    return found


def affinity() -> str:
    cpus = sorted(os.sched_getaffinity(0))
    return ",".join(str(c) for c in cpus)


def build_document(
    spec: Spec, measured: dict[str, Any], generator: dict[str, Any]
) -> dict[str, Any]:
    window: Window = measured["window"]
    histograms = {name: h.summary() for name, h in measured["histograms"].items()}
    histograms["event_loop_delay"] = generator.pop("loop_lag").summary()
    messages = measured.get("messages")
    errors: Errors = measured["errors"]
    document: dict[str, Any] = {
        "tool": "wsbench",
        "document_version": DOCUMENT_VERSION,
        "test": spec.test,
        "host": spec.host,
        "url": spec.url,
        "plan": {key: plan_value(getattr(spec, key)) for key in plan_keys(spec.test)},
        # The measured part, warm-up excluded.
        "started_at": utc_at(window.measure_ns),
        "ended_at": utc_at(window.end_ns),
        "duration_s": round(window.duration_s, 3),
        "warmup": measured["warmup"],
        "requested_rate": measured["requested_rate"],
        "achieved_rate": (
            round(messages["sent"] / window.duration_s, 2) if messages is not None else None
        ),
        "harness": {
            "unit": "us",
            "significant_digits": SIGNIFICANT_DIGITS,
            "clock": "monotonic",
            "connections": measured["connections"],
            "messages": messages,
            "errors": errors.total,
            "error_kinds": dict(errors.kinds),
            "histograms": histograms,
            "timeline": measured["timeline"].document() if measured["timeline"] else None,
        },
        "generator": generator_document(spec, generator),
    }
    for extra in ("subscribers", "steps"):
        if extra in measured:
            document[extra] = measured[extra]
    document["flags"] = flags(document)
    document["valid"] = not document["flags"]
    return document


def plan_value(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def generator_document(spec: Spec, generator: dict[str, Any]) -> dict[str, Any]:
    return {
        **generator,
        # The rule book reads the busiest source's share here (one source: this one).
        "cpu_percent_max": generator.get("cpu_percent"),
        "cpus": spec.cpus,
        "affinity": affinity(),
        "client_frames_per_s": client_frames_per_s(spec),
        "client_ceiling_rate": spec.client_ceiling_rate,
        **versions(),
    }


# Flags: the rule book's (module_utils/channels_bench_rules.py, beside this file as
# channels_bench_rules.py), the same rules the harness applies to every rep.


def flags(document: Mapping[str, Any]) -> list[str]:
    return list(rules.flags(document))


# Running.

RUNNERS = {"ws-echo": run_echo, "ws-fanout": run_fanout, "ws-connect": run_connect}


def run_bound_s(spec: Spec) -> float:
    """The whole run ends within this, or is abandoned with nothing written."""
    handshake_rounds = math.ceil(planned_connections(spec) / spec.connect_concurrency) + 1
    connecting = handshake_rounds * spec.connect_timeout_s
    phases = spec.warmup_s + spec.duration_s + spec.message_timeout_s
    if spec.test == "ws-connect":
        phases = spec.warmup_s + len(spec.steps) * (spec.hold_s + spec.connect_timeout_s)
    return connecting + phases + RUN_SLACK_S


async def measure(spec: Spec) -> dict[str, Any]:
    generator: dict[str, Any] = {}
    try:
        async with asyncio.timeout(run_bound_s(spec)):
            measured = await RUNNERS[spec.test](spec, generator)
    except TimeoutError as error:
        raise RunError(
            f"the run took longer than its bound of {run_bound_s(spec):.0f} s"
        ) from error
    return build_document(spec, measured, generator)


def run_spec(raw_spec: Mapping[str, Any]) -> dict[str, Any]:
    """Check, measure, write: the whole of one invocation. Raises SpecError before any load."""
    spec = parse_spec(raw_spec)
    raise_fd_limit(planned_connections(spec))
    check_output_writable(spec.output)
    document = asyncio.run(measure(spec))
    write_exclusive(spec.output, json.dumps(document) + "\n")
    return document


def read_spec_file(path: str) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise SpecError(f"cannot read the spec {path}: {error.strerror}") from error
    except ValueError as error:
        raise SpecError(f"the spec {path} is not JSON: {error}") from error


# The self-check: a short echo run against an echo server in this process, on loopback.


async def self_check_run(output: Path) -> dict[str, Any]:
    from websockets.asyncio.server import ServerConnection, serve

    async def echo(connection: ServerConnection) -> None:
        async for message in connection:
            await connection.send(message)

    async with serve(echo, "127.0.0.1", 0, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        raw = {
            "test": "ws-echo",
            "url": f"ws://127.0.0.1:{port}/",
            "output": str(output),
            "connections": 2,
            "rate": 100,
            "duration_s": 0.5,
            "warmup_s": 0.2,
            "message_timeout_s": 2,
        }
        spec = parse_spec(raw)
        return await measure(spec)


def self_check() -> int:
    with tempfile.TemporaryDirectory(prefix="wsbench-self-check-") as directory:
        output = Path(directory) / "self-check.json"
        document = asyncio.run(self_check_run(output))
    messages = document["harness"]["messages"]
    ok = messages["sent"] > 0 and messages["received"] == messages["sent"] and not messages["lost"]
    print(
        f"wsbench self-check: {'ok' if ok else 'FAILED'}: sent {messages['sent']}, "
        f"received {messages['received']}, lost {messages['lost']}, "
        f"p50 {document['harness']['histograms']['latency_uncorrected']['p50']} us"
    )
    return 0 if ok else 1


# A series' own keys of a measurement, beside its spec: the repetition, and the name of its
# result as the caller knows it (the document carries both).
SERIES_KEYS = ("rep", "result")


def spec_of(measurement: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in measurement.items() if key not in SERIES_KEYS}


def check_series(raw: Any) -> list[Mapping[str, Any]]:
    """A series' measurements, each checked as one spec, every problem listed before any load."""
    if not isinstance(raw, Mapping) or not isinstance(raw.get("measurements"), list):
        raise SpecError('a series is {"measurements": [spec, ...], "progress": path or null}')
    measurements = list(raw["measurements"])
    problems, outputs = [], set()
    for index, measurement in enumerate(measurements):
        try:
            spec = parse_spec(spec_of(measurement))
            check_output_writable(spec.output)
        except SpecError as error:
            problems.append(f"measurements[{index}]: {error}")
            continue
        if spec.output in outputs:
            problems.append(f"measurements[{index}]: {spec.output} is another's output too")
        outputs.add(spec.output)
    if not measurements:
        problems.append("a series needs at least one measurement")
    if problems:
        raise SpecError("; ".join(problems))
    return measurements


def progress_line(index: int, total: int, document: Mapping[str, Any], started: float,
                  planned: list[float]) -> dict[str, Any]:  # fmt: skip
    """One measurement of a series for people (the callback's progress line)."""
    histograms = document["harness"]["histograms"]
    latency = (
        histograms.get("latency_corrected") or histograms.get("delivery")
        or histograms.get("handshake") or {}
    )  # fmt: skip
    return {
        "event": "measured", "index": index, "of": total, "test": document["test"],
        "rep": document.get("rep"), "rps": document.get("requested_rate"),
        "achieved_rps": document.get("achieved_rate"), "p50_us": latency.get("p50"),
        "p99_us": latency.get("p99"), "errors": document["harness"]["errors"],
        "output": document.get("output"), "elapsed_s": round(time.monotonic() - started, 1),
        "eta_s": round(sum(planned[index:]), 1),
    }  # fmt: skip


def run_series(path: str) -> int:
    """Every measurement of a series file in turn: each document written and printed as it comes,
    a progress line appended for each; the first failure ends the series (exit 1), what was
    measured before it stays."""
    raw = read_spec_file(path)
    measurements = check_series(raw)
    progress = raw.get("progress")
    planned = [float(m.get("warmup_s", 1)) + float(m.get("duration_s", 0)) for m in measurements]
    started = time.monotonic()
    for index, measurement in enumerate(measurements, start=1):
        try:
            document = run_spec(spec_of(measurement)) | {
                "rep": measurement.get("rep"),
                "output": measurement.get("result", measurement["output"]),
            }
        except RunError as error:
            event = {"event": "failed", "index": index, "message": str(error)}
            _append(progress, event)
            print(f"wsbench: measurement {index}: {error}", file=sys.stderr)
            return 1
        print(json.dumps(document), flush=True)
        _append(progress, progress_line(index, len(measurements), document, started, planned))
    _append(progress, {"event": "done"})
    return 0


def _append(path: str | None, event: Mapping[str, Any]) -> None:
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(event) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="wsbench.py",
        description="One WebSocket measurement (ws-echo, ws-fanout or ws-connect) per run.",
    )
    parser.add_argument("spec", nargs="?", help="path of the measurement's spec (JSON)")
    parser.add_argument(
        "--self-check",
        action="store_true",
        help="run a short echo test against an in-process server",
    )
    parser.add_argument(
        "--series",
        action="store_true",
        help="the file is a series: {measurements: [spec, ...], progress: path}, run in turn",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="with --series: check it and print its measurements and time bound, run nothing",
    )
    args = parser.parse_args(argv)
    if args.self_check:
        return self_check()
    if args.series and args.spec:
        try:
            if args.check:
                measurements = check_series(read_spec_file(args.spec))
                bound = sum(run_bound_s(parse_spec(spec_of(m))) for m in measurements)
                print(json.dumps({"measurements": len(measurements), "bound_s": round(bound)}))
                return 0
            return run_series(args.spec)
        except SpecError as error:
            print(f"wsbench: {error}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("wsbench: interrupted; what was measured before stays", file=sys.stderr)
            return 130
    if not args.spec:
        parser.error("a spec file is needed (or --self-check)")
    try:
        document = run_spec(read_spec_file(args.spec))
    except SpecError as error:
        print(f"wsbench: {error}", file=sys.stderr)
        return 2
    except RunError as error:
        print(f"wsbench: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("wsbench: interrupted; nothing written", file=sys.stderr)
        return 130
    print(json.dumps(document))
    return 0


if __name__ == "__main__":
    sys.exit(main())
