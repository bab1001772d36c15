#!/usr/bin/python
"""Ansible module bench_rep: turn one pass's measurements (each source host's driver documents)
into the rep files of the results contract: sources merged, the server's restarts attributed,
flagged with the rule book, written atomically and never over an existing file."""

from __future__ import annotations

import json
import os
import re
import tarfile
import tempfile
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from ansible.module_utils.basic import AnsibleModule  # type: ignore[import-untyped]
from ansible.module_utils.channels_bench_rules import (  # type: ignore[import-untyped]
    flags as rule_flags,
)
from ansible.module_utils.channels_bench_rules import (  # type: ignore[import-untyped]
    loadtest_mean_ms,
    loadtest_percentiles,
)

DOCUMENTATION = r"""
---
module: bench_rep
short_description: Write the rep files of one pass of the channels-bench results contract
description:
  - For each measurement of the pass's series, merges the driver documents of every source host
    that took part into one record, exactly - loadtest's results as loadtest merges its own
    (histograms and error codes summed, percentiles recomputed with loadtest's rule), the
    harness's HdrHistograms by adding them, counts and timelines summed - and keeps each
    source's own document under C(sources).
  - Attaches to each closed-loop rep the reference generator's (wrk's) result at the same client
    count in the same pass, and writes that result to its own file too.
  - Attributes restarts of the server's programs to the reps they happened in, from the programs'
    PIDs before and after the pass and the lines supervisord logged meanwhile.
  - Flags each rep with the rule book (module_utils/channels_bench_rules.py) and sets C(valid).
  - Writes each file atomically (a temporary file, then a hard link to the final name), which
    fails when the name exists, so nothing is ever overwritten or left half-written.
  - A measurement with no document (a source failed before it) is reported under C(missing);
    everything that was measured is written.
  - Runs on the controller (localhost); needs the hdrhistogram package when several sources
    took part.
options:
  run_dir:
    description: The run's results directory.
    type: path
    required: true
  run_id:
    description: The run's id.
    type: str
    required: true
  setup:
    description: The setup measured, as <stack>/<setup>; its directory under run_dir.
    type: str
    required: true
  round:
    description: The pass's round (1 in a sequential run).
    type: int
    default: 1
  plan:
    description: The run's checked plan (warmup_s, keepalive, request_timeout_ms, ...).
    type: dict
    required: true
  url:
    description: The URL the load went to.
    type: str
    required: true
  series:
    description:
      - The pass's measurements as planned
        (test, rep, rps, clients, fraction, duration_s, warmup_s, output).
    type: list
    elements: dict
    required: true
  sources:
    description: The source hosts, in inventory order.
    type: list
    elements: str
    required: true
  documents:
    description: Each source host's driver documents (each names its C(output)).
    type: dict
    required: true
  archives:
    description:
      - Archives (tar.gz, on the controller) of what the hosts' logs gained during the pass and
        of the setup's supervisord config, made by playbooks/files/server_state.py. Each log goes
        to C(logs_dir) of the setup's directory, the config to supervisor.conf (once); each
        archive is removed once unpacked.
    type: list
    elements: path
    default: []
  logs_dir:
    description: Where in the setup's directory the logs go.
    type: str
    default: logs
  server:
    description:
      - The target's programs around the pass - group, status_before and status_after
        (supervisorctl status lines), supervisord_log (what it logged meanwhile), tz_offset
        (its local time's offset, such as +0000). Empty when not known.
    type: dict
    default: {}
  schema_version:
    description: Schema version of the results contract written.
    type: int
    default: 2
"""

EXAMPLES = r"""
- name: Write the pass's rep files
  bench_rep:
    run_dir: "{{ bench_run_dir }}"
    run_id: "{{ bench_run_id }}"
    setup: 2016/ipc
    plan: "{{ bench_plan }}"
    url: http://127.0.0.1:8000/
    series: "{{ bench_series }}"
    sources: "{{ groups['source'] }}"
    documents: {localhost: "{{ loadtest_series_documents }}"}
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
reps:
  description:
    - Each rep written - output, test, rep, clients, flags, valid, achieved_rps, p50_us, p99_us.
  type: list
  elements: dict
  returned: success
missing:
  description: Outputs of measurements that no source documented.
  type: list
  elements: str
  returned: success
lines:
  description: One line per rep written, for people.
  type: list
  elements: str
  returned: success
"""

HISTOGRAM_SUMMARY = ("count", "mean", "min", "p50", "p90", "p99", "p99.9", "max")
SUPERVISORD_LINE = re.compile(
    r"^(?P<time>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3}) \w+ "
    r"(?P<event>spawned|exited|stopped): '?(?P<name>[^' ]+)'?(?: with pid (?P<pid>\d+))?"
)
STATUS_LINE = re.compile(
    r"^(?P<group>[^:\s]+):(?P<name>\S+)\s+(?P<state>[A-Z]+)(?:\s+pid (?P<pid>\d+),)?"
)


class RepError(ValueError):
    """A pass that cannot be recorded as asked."""


# loadtest's results


def _count_map(result: Mapping[str, Any], key: str) -> Counter[str]:
    counts: Counter[str] = Counter()
    raw = result.get(key) or {}
    if not isinstance(raw, Mapping):
        raise RepError(f"{key} must be an object, not {raw!r}")
    for name, count in raw.items():
        counts[str(name)] += int(count)
    return counts


def _number(result: Mapping[str, Any], key: str) -> float:
    value = result.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RepError(f"loadtest result lacks the number {key} (got {value!r})")
    return float(value)


def measured_seconds(result: Mapping[str, Any]) -> float:
    """loadtest's elapsedSeconds (totalTimeSeconds in results of before 8.x)."""
    if isinstance(result.get("elapsedSeconds"), int | float):
        return float(result["elapsedSeconds"])
    return _number(result, "totalTimeSeconds")


def _sum_or_none(values: Iterable[Any]) -> float | None:
    numbers = list(values)
    if not numbers or any(isinstance(v, bool) or not isinstance(v, int | float) for v in numbers):
        return None
    total = sum(numbers)
    return int(total) if all(isinstance(v, int) for v in numbers) else total


def merge_loadtest(results: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One loadtest result out of the results of sources that loaded the target together, as
    loadtest's own Result.combine would make it (percentiles by the rule book's loadtest rule)."""
    if not results:
        raise RepError("no loadtest result to merge")
    if len(results) == 1:
        return dict(results[0])
    histogram: Counter[int] = Counter()
    for result in results:
        for latency_ms, count in _count_map(result, "histogramMs").items():
            histogram[int(latency_ms)] += count
    error_codes: Counter[str] = Counter()
    for result in results:
        error_codes.update(_count_map(result, "errorCodes"))
    total_requests = sum(int(_number(r, "totalRequests")) for r in results)
    accumulated_ms = sum(
        float(r["accumulatedMs"])
        if isinstance(r.get("accumulatedMs"), int | float)
        else _number(r, "meanLatencyMs") * _number(r, "totalRequests")
        for r in results
    )
    seconds = max(measured_seconds(r) for r in results)
    if seconds <= 0:
        raise RepError("no measured time: every source's elapsedSeconds is 0")
    first = results[0]
    merged = {
        "url": first.get("url"),
        "agent": first.get("agent"),
        "maxSeconds": first.get("maxSeconds"),
        "maxRequests": _sum_or_none(r.get("maxRequests") for r in results),
        "requestsPerSecond": _sum_or_none(r.get("requestsPerSecond") for r in results),
        "concurrency": _sum_or_none(r.get("concurrency") for r in results),
        "clients": _sum_or_none(r.get("clients") for r in results),
        "elapsedSeconds": seconds,
        "totalTimeSeconds": seconds,
        "totalRequests": total_requests,
        "totalErrors": sum(int(_number(r, "totalErrors")) for r in results),
        "accumulatedMs": accumulated_ms,
        "maxLatencyMs": max(int(_number(r, "maxLatencyMs")) for r in results),
        "minLatencyMs": min(int(_number(r, "minLatencyMs")) for r in results),
        "errorCodes": dict(sorted(error_codes.items())),
        "histogramMs": {str(ms): histogram[ms] for ms in sorted(histogram) if histogram[ms]},
        "meanLatencyMs": loadtest_mean_ms(accumulated_ms, total_requests),
        "effectiveRps": round(total_requests / seconds),
        "percentiles": loadtest_percentiles(histogram, total_requests),
        # Readings of each host's own monotonic clock: not comparable between hosts.
        "startTimeMs": None,
        "stopTimeMs": None,
    }
    merged["rps"] = merged["effectiveRps"]
    return merged


# The harness's own measurement


def _histogram_class() -> Any:
    try:
        from hdrh.histogram import HdrHistogram  # type: ignore[import-untyped]
    except ImportError as error:
        raise RepError(
            "merging several sources' histograms needs the hdrhistogram package in the "
            "controller's Python (requirements/controller.txt)"
        ) from error
    return HdrHistogram


def histogram_summary(histogram: Any) -> dict[str, Any]:
    """The contract's summary of an HdrHistogram: count, mean, min, percentiles, max (us)."""
    count = histogram.get_total_count()
    if not count:
        return {key: None for key in HISTOGRAM_SUMMARY} | {"count": 0}
    return {
        "count": count,
        "mean": round(histogram.get_mean_value(), 1),
        "min": histogram.get_min_value(),
        "p50": histogram.get_value_at_percentile(50),
        "p90": histogram.get_value_at_percentile(90),
        "p99": histogram.get_value_at_percentile(99),
        "p99.9": histogram.get_value_at_percentile(99.9),
        "max": histogram.get_max_value(),
    }


def merge_histograms(parts: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Histograms of several sources added exactly (HdrHistogram's merge), re-encoded."""
    if len(parts) == 1:
        return dict(parts[0])
    histogram_class = _histogram_class()
    merged = None
    for part in parts:
        decoded = histogram_class.decode(part["encoded"])
        if merged is None:
            merged = decoded
        else:
            merged.add(decoded)
    encoded = merged.encode()
    return {"encoded": encoded.decode() if isinstance(encoded, bytes) else encoded} | (
        histogram_summary(merged)
    )


def _sum_lists(lists: Sequence[Sequence[float]]) -> list[float]:
    length = max((len(values) for values in lists), default=0)
    return [sum(values[i] for values in lists if i < len(values)) for i in range(length)]


def merge_harness(parts: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The harness's measurements of several sources as one: counts and timelines summed,
    histograms merged. The event loop delay stays the worst source's (it is per generator)."""
    parts = [part for part in parts if isinstance(part, Mapping)]
    if not parts:
        return None
    if len(parts) == 1:
        return dict(parts[0])
    requests: dict[str, Any] = {}
    for key in {key for part in parts for key in part.get("requests", {})}:
        values = [part["requests"].get(key) for part in parts]
        if key == "error_codes":
            codes: Counter[str] = Counter()
            for value in values:
                codes.update(value or {})
            requests[key] = dict(sorted(codes.items()))
        else:
            requests[key] = _sum_or_none(value or 0 for value in values)
    histograms: dict[str, Any] = {}
    for name in {name for part in parts for name in part.get("histograms", {})}:
        found = [part["histograms"][name] for part in parts if name in part.get("histograms", {})]
        if name == "event_loop_delay":
            histograms[name] = max(found, key=lambda h: h.get("p99") or 0)
        else:
            histograms[name] = merge_histograms(found)
    timelines = [part.get("timeline") or {} for part in parts]
    merged = {
        key: value for key, value in parts[0].items() if key not in ("requests", "histograms")
    }
    merged.update({"requests": requests, "histograms": histograms})
    merged["timeline"] = {
        "bin_s": timelines[0].get("bin_s"),
        "completed": _sum_lists([t.get("completed") or [] for t in timelines]),
        "errors": _sum_lists([t.get("errors") or [] for t in timelines]),
    }
    return merged


# The server's programs


def _utc(text: str, tz_offset: str) -> datetime:
    local = datetime.strptime(text, "%Y-%m-%d %H:%M:%S,%f")
    sign = -1 if tz_offset.startswith("-") else 1
    digits = tz_offset.lstrip("+-").replace(":", "") or "0000"
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
    return (local - sign * offset).replace(tzinfo=UTC)


def program_pids(status_lines: Iterable[str]) -> dict[str, int | None]:
    """{process name: pid} from `supervisorctl status group:*` (None for one not running)."""
    pids: dict[str, int | None] = {}
    for line in status_lines:
        match = STATUS_LINE.match(line.strip())
        if match:
            pids[match["name"]] = int(match["pid"]) if match["pid"] else None
    return pids


def server_events(log: str, tz_offset: str) -> list[dict[str, Any]]:
    """supervisord's spawned/exited lines, with their UTC time."""
    events = []
    for line in log.splitlines():
        match = SUPERVISORD_LINE.match(line)
        if match:
            events.append(
                {
                    "time": _utc(match["time"], tz_offset),
                    "event": match["event"],
                    "name": match["name"],
                    "pid": int(match["pid"]) if match["pid"] else None,
                }
            )
    return events


def _pids_at(before: Mapping[str, Any], events: Sequence[Mapping[str, Any]], at: datetime) -> dict:
    pids = dict(before)
    for event in events:
        if event["time"] > at or event["name"] not in pids:
            continue
        pids[event["name"]] = event["pid"] if event["event"] == "spawned" else None
    return pids


def server_during(
    server: Mapping[str, Any], started: datetime, ended: datetime
) -> dict[str, Any] | None:
    """The programs' PIDs at the start and end of a measured run, and what happened between."""
    if not server.get("status_before"):
        return None
    events = server_events(server.get("supervisord_log") or "", server.get("tz_offset") or "+0000")
    before = program_pids(server["status_before"])
    inside = [
        {
            "time": _iso(event["time"]),
            "event": event["event"],
            "name": event["name"],
            "pid": event["pid"],
        }
        for event in events
        if started <= event["time"] <= ended and event["name"] in before
    ]
    return {
        "group": server.get("group"),
        "pids_before": _pids_at(before, events, started),
        "pids_after": _pids_at(before, events, ended),
        "events": inside,
    }


# Records


def _instant(text: Any, what: str) -> datetime:
    if not isinstance(text, str):
        raise RepError(f"{what} must be a UTC ISO time, not {text!r}")
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as error:
        raise RepError(f"{what} must be a UTC ISO time, not {text!r}") from error


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _source_entry(host: str, document: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(document.get("loadtest"), Mapping):
        raise RepError(f"the document of source {host} lacks its loadtest object")
    return {
        "host": host,
        "rps": document.get("rps"),
        "clients": document.get("clients"),
        "started_at": document.get("started_at"),
        "ended_at": document.get("ended_at"),
        "start_lag_ms": document.get("start_lag_ms"),
        "warmup": document.get("warmup"),
        "settle": document.get("settle"),
        "loadtest": dict(document["loadtest"]),
        "harness": document.get("harness"),
        "generator": dict(document.get("generator") or {}),
    }


def _achieved(merged: Mapping[str, Any], harness: Mapping[str, Any] | None) -> float:
    seconds = measured_seconds(merged)
    if seconds <= 0:
        return 0.0
    before_stop = (harness or {}).get("requests", {}).get("completed_before_stop")
    completed = before_stop if isinstance(before_stop, int | float) else merged["totalRequests"]
    return round(completed / seconds, 2)


def _settle(entries: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    settles = [entry["settle"] for entry in entries if isinstance(entry.get("settle"), Mapping)]
    if not settles:
        return None
    return {
        "ready": all(settle.get("ready", True) for settle in settles),
        "waited_s": max(float(settle.get("waited_s") or 0) for settle in settles),
    }


def build_record(
    *,
    run_id: str,
    setup: str,
    measurement: Mapping[str, Any],
    plan: Mapping[str, Any],
    url: str,
    documents: Mapping[str, Mapping[str, Any]],
    reference: Mapping[str, Any] | None = None,
    server: Mapping[str, Any] | None = None,
    schema_version: int = 2,
) -> dict[str, Any]:
    """The rep file of the results contract for one measurement of the pass."""
    if not documents:
        raise RepError("no source document: nothing was measured")
    entries = [_source_entry(host, document) for host, document in documents.items()]
    merged = merge_loadtest([entry["loadtest"] for entry in entries])
    harness = merge_harness([entry["harness"] for entry in entries])
    test = measurement["test"]
    fixed_rate = measurement.get("clients") is None
    rates = [entry["rps"] for entry in entries if isinstance(entry.get("rps"), int | float)]
    requested = round(sum(rates), 6) if fixed_rate and rates else None
    started = [_instant(entry["started_at"], f"started_at of {entry['host']}") for entry in entries]
    ended = [_instant(entry["ended_at"], f"ended_at of {entry['host']}") for entry in entries]
    cpu = [
        float(entry["generator"]["cpu_percent"])
        for entry in entries
        if isinstance(entry["generator"].get("cpu_percent"), int | float)
    ]
    record = {
        "schema_version": schema_version,
        "run_id": run_id,
        "setup": setup,
        "test": test,
        "rep": measurement["rep"],
        "plan": {
            "url": url,
            "rps": requested,
            "clients": measurement.get("clients"),
            "fraction": measurement.get("fraction"),
            "duration_s": float(measurement["duration_s"]),
            "warmup_s": float(measurement.get("warmup_s") or 0),
            "keepalive": plan.get("keepalive"),
            "request_timeout_ms": plan.get("request_timeout_ms"),
        },
        "source_hosts": [entry["host"] for entry in entries],
        "started_at": _iso(min(started)),
        "ended_at": _iso(max(ended)),
        "loadtest": merged,
        "harness": harness,
        "reference": dict(reference) if reference else None,
        "server": server_during(server or {}, min(started), max(ended)),
        "settle": _settle(entries),
        "sources": entries,
        "requested_rps": requested,
        "achieved_rps": _achieved(merged, harness),
        "generator": {"cpu_percent_max": max(cpu) if cpu else None},
    }
    record["flags"] = rule_flags(record)
    record["valid"] = not record["flags"]
    return record


def build_ws_record(
    *,
    run_id: str,
    setup: str,
    measurement: Mapping[str, Any],
    host: str,
    document: Mapping[str, Any],
    server: Mapping[str, Any] | None = None,
    schema_version: int = 2,
) -> dict[str, Any]:
    """The rep file of a WebSocket measurement: the client's document (one source: its
    measurement is not merged) in the contract's frame, flagged with the rule book."""
    started = _instant(document.get("started_at"), f"started_at of {host}")
    ended = _instant(document.get("ended_at"), f"ended_at of {host}")
    generator = dict(document.get("generator") or {})
    record: dict[str, Any] = {
        "schema_version": schema_version,
        "run_id": run_id,
        "setup": setup,
        "test": measurement["test"],
        "rep": measurement["rep"],
        "plan": {
            "url": document.get("url"),
            **dict(document.get("plan") or {}),
            "warmup_s": float(measurement.get("warmup_s") or 0),
        },
        "source_hosts": [host],
        "started_at": _iso(started),
        "ended_at": _iso(ended),
        "requested_rate": document.get("requested_rate"),
        "achieved_rate": document.get("achieved_rate"),
        "harness": document.get("harness"),
        "server": server_during(server or {}, started, ended),
        "sources": [
            {
                "host": host,
                "tool": document.get("tool"),
                "document_version": document.get("document_version"),
                "warmup": document.get("warmup"),
                "generator": generator,
            }
        ],
        "generator": {
            key: generator.get(key)
            for key in ("cpu_percent_max", "client_frames_per_s", "client_ceiling_rate")
        },
    }
    for extra in ("subscribers", "steps"):
        if extra in document:
            record[extra] = document[extra]
    record["flags"] = rule_flags(record)
    record["valid"] = not record["flags"]
    return record


REFERENCE_KEYS = (
    "tool", "version", "clients", "threads", "duration_s", "connection_close", "requests", "rps",
    "errors", "latency_ms",
)  # fmt: skip


def reference_record(
    run_id: str, setup: str, measurement: Mapping[str, Any], document: Mapping[str, Any]
) -> dict[str, Any]:
    """The reference generator's result of one client count, as written beside the reps: the
    contract's reference object (which each rep at that client count copies), and wrk's own
    command line and output."""
    reference = {key: document.get(key) for key in REFERENCE_KEYS}
    reference["file"] = measurement["output"]
    return {
        "schema_version": 2,
        "run_id": run_id,
        "setup": setup,
        "test": "reference",
        "clients": measurement.get("clients"),
        "host": document.get("host"),
        "started_at": document.get("started_at"),
        "ended_at": document.get("ended_at"),
        "reference": reference,
        "wrk": {key: document.get(key) for key in ("argv", "timeout_s", "url", "wrk_output")},
    }


def write_exclusive(path: str, text: str) -> None:
    """Write path atomically: a temporary file in the same directory, then a hard link to path,
    which fails with FileExistsError when path exists (it is left untouched)."""
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=".rep-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o644)
        os.link(temporary, path)
    finally:
        os.unlink(temporary)


def unpack_archives(setup_dir: str, archives: Sequence[str], logs_dir: str) -> list[str]:
    """Each archive's logs into setup_dir/logs_dir and its config into setup_dir/supervisor.conf
    (kept from the first pass that wrote it), written like the reps; the archives are removed."""
    written = []
    for archive_path in archives:
        with tarfile.open(archive_path, "r:gz") as archive:
            for member in archive.getmembers():
                name = os.path.basename(member.name)
                if not member.isfile() or not name or name.startswith("."):
                    continue
                if member.name == "supervisor.conf":
                    path = os.path.join(setup_dir, "supervisor.conf")
                    if os.path.exists(path):
                        continue
                elif member.name == f"logs/{name}":
                    path = os.path.join(setup_dir, logs_dir, name)
                else:
                    continue
                data = archive.extractfile(member)
                text = data.read().decode("utf-8", "replace") if data else ""
                try:
                    write_exclusive(path, text)
                except FileExistsError as error:
                    raise RepError(f"{path} exists already: a log is never overwritten") from error
                written.append(path)
        os.unlink(archive_path)
    for incoming in {os.path.dirname(path) for path in archives}:
        if os.path.isdir(incoming) and not os.listdir(incoming):
            os.rmdir(incoming)
    return written


def _documents_by_output(
    documents: Mapping[str, Sequence[Mapping[str, Any]]],
) -> dict[str, dict[str, Mapping[str, Any]]]:
    found: dict[str, dict[str, Mapping[str, Any]]] = {}
    for host, host_documents in documents.items():
        for document in host_documents or []:
            output = document.get("output")
            if not isinstance(output, str):
                raise RepError(f"a document of source {host} does not name its output")
            found.setdefault(output, {})[host] = document
    return found


def _latency_of(record: Mapping[str, Any]) -> Mapping[str, Any]:
    histograms = (record.get("harness") or {}).get("histograms") or {}
    for name in ("latency_corrected", "latency_uncorrected", "delivery", "handshake"):
        if histograms.get(name):
            return dict(histograms[name])
    return {}


def _line(setup: str, record: Mapping[str, Any], index: int, total: int) -> str:
    latency = _latency_of(record)
    if str(record["test"]).startswith("ws-"):
        asked = record.get("requested_rate")
        messages = (record.get("harness") or {}).get("messages") or {}
        counted = f", {messages.get('lost', 0)} lost" if messages else ""
        timing = (
            f"p50 {latency['p50'] / 1000:.2f} ms, p99 {latency['p99'] / 1000:.2f} ms"
            if latency.get("p50") is not None
            else "no latency"
        )
        rate = f"{asked:g} msg/s asked, " if asked else ""
        flags = ", ".join(record["flags"]) or "valid"
        return (
            f"[{setup}] {index}/{total} {record['test']} rep {record['rep']}: {rate}{timing}"
            f"{counted}; {flags}"
        )
    what = record["test"] + (f" c{record['plan']['clients']}" if record["plan"]["clients"] else "")
    asked = f"{record['requested_rps']:g} asked, " if record["requested_rps"] else ""
    timing = (
        f"p50 {latency['p50'] / 1000:.2f} ms, p99 {latency['p99'] / 1000:.2f} ms"
        if latency.get("p50") is not None
        else f"p50 {record['loadtest'].get('percentiles', {}).get('50')} ms (loadtest)"
    )
    flags = ", ".join(record["flags"]) or "valid"
    return (
        f"[{setup}] {index}/{total} {what} rep {record['rep']}: {asked}"
        f"{record['achieved_rps']:g} req/s, {timing}; {flags}"
    )


def write_pass(params: Mapping[str, Any]) -> dict[str, Any]:
    """Every rep file of the pass that a document exists for; what is missing is reported."""
    setup_dir = os.path.join(params["run_dir"], params["setup"])
    by_output = _documents_by_output(params["documents"])
    references: dict[Any, Mapping[str, Any]] = {}
    reps, missing, lines = [], [], []
    measured = [m for m in params["series"] if m["test"] != "reference"]
    for measurement in params["series"]:
        documents = by_output.get(measurement["output"], {})
        documents = {host: documents[host] for host in params["sources"] if host in documents}
        if not documents:
            missing.append(measurement["output"])
            continue
        if measurement["test"] == "reference":
            record = reference_record(
                params["run_id"], params["setup"], measurement, next(iter(documents.values()))
            )
            references[measurement.get("clients")] = record["reference"]
        elif str(measurement["test"]).startswith("ws-"):
            host, document = next(iter(documents.items()))
            record = build_ws_record(
                run_id=params["run_id"],
                setup=params["setup"],
                measurement=measurement,
                host=host,
                document=document,
                server=params["server"],
                schema_version=params["schema_version"],
            )
        else:
            record = build_record(
                run_id=params["run_id"],
                setup=params["setup"],
                measurement=measurement,
                plan=params["plan"],
                url=params["url"],
                documents=documents,
                reference=references.get(measurement.get("clients")),
                server=params["server"],
                schema_version=params["schema_version"],
            )
        path = os.path.join(setup_dir, measurement["output"])
        try:
            write_exclusive(path, json.dumps(record, indent=2) + "\n")
        except FileExistsError as error:
            raise RepError(f"{path} exists already: a rep file is never overwritten") from error
        if measurement["test"] == "reference":
            continue
        reps.append(_summary(measurement, record))
        lines.append(_line(params["setup"], record, len(reps), len(measured)))
    logs = unpack_archives(setup_dir, params["archives"], params["logs_dir"])
    return {"reps": reps, "missing": missing, "lines": lines, "logs": logs}


def _summary(measurement: Mapping[str, Any], record: Mapping[str, Any]) -> dict[str, Any]:
    latency = _latency_of(record)
    return {
        "output": measurement["output"],
        "test": record["test"],
        "rep": record["rep"],
        "clients": record["plan"].get("clients"),
        "flags": record["flags"],
        "valid": record["valid"],
        "achieved_rps": record.get("achieved_rps", record.get("achieved_rate")),
        "p50_us": latency.get("p50"),
        "p99_us": latency.get("p99"),
    }


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "run_dir": {"type": "path", "required": True},
            "run_id": {"type": "str", "required": True},
            "setup": {"type": "str", "required": True},
            "round": {"type": "int", "default": 1},
            "plan": {"type": "dict", "required": True},
            "url": {"type": "str", "required": True},
            "series": {"type": "list", "elements": "dict", "required": True},
            "sources": {"type": "list", "elements": "str", "required": True},
            "documents": {"type": "dict", "required": True},
            "server": {"type": "dict", "default": {}},
            "archives": {"type": "list", "elements": "path", "default": []},
            "logs_dir": {"type": "str", "default": "logs"},
            "schema_version": {"type": "int", "default": 2},
        },
        supports_check_mode=False,
    )
    try:
        result = write_pass(module.params)
    except (RepError, KeyError, TypeError, ValueError, OSError) as error:
        module.fail_json(msg=f"cannot record {module.params['setup']}: {error}")
    module.exit_json(changed=bool(result["reps"]), **result)


if __name__ == "__main__":
    main()
