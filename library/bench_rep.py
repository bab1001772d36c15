#!/usr/bin/python
"""Ansible module bench_rep: merge the sources' loadtest results of one repetition, flag it,
and write its rep file of the results contract, never over an existing one."""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from ansible.module_utils.basic import AnsibleModule  # type: ignore[import-untyped]

DOCUMENTATION = r"""
---
module: bench_rep
short_description: Write one repetition of the channels-bench results contract
description:
  - Merges the loadtest results of every source host of one repetition into one record, exactly
    as loadtest merges its own results - latency histograms and error codes summed, percentiles
    recomputed from the merged histogram with loadtest's rule, totals summed - and keeps each
    source's own result under C(sources).
  - The achieved rate is the total requests over the measured seconds, the longest measured part
    of the sources (they start together). loadtest's per-host monotonic clock readings
    (C(startTimeMs), C(stopTimeMs)) are kept for one source and set to null for several.
  - Flags the repetition (C(rate_shortfall), C(generator_saturated), C(errors)) and sets C(valid).
  - Creates the rep file exclusively - it fails when the file exists - so nothing is overwritten.
  - Runs on the controller (localhost); the parent directories are created.
options:
  dest:
    description: Path of the rep file, such as results/RUN/ipc/latency/rep-1.json.
    type: path
    required: true
  run_id:
    description: The run's id.
    type: str
    required: true
  setup:
    description: The setup measured (gunicorn, redis, ipc).
    type: str
    required: true
  test:
    description: The test.
    type: str
    required: true
    choices: [latency, throughput]
  rep:
    description: Number of the repetition, from 1.
    type: int
    required: true
  plan:
    description:
      - The plan of the repetition
        (url, rps, clients, duration_s, warmup_s, keepalive, request_timeout_ms).
    type: dict
    required: true
  sources:
    description:
      - The loadtest driver's document of each source host
        (host, rps, clients, started_at, ended_at, loadtest, generator).
    type: list
    elements: dict
    required: true
  expected_hosts:
    description: Source hosts that must all have a result; the module fails when one is missing.
    type: list
    elements: str
  requested_rps:
    description: The rate asked for in total (latency test); null for the throughput test.
    type: float
  rate_shortfall_share:
    description:
      - A latency repetition that achieved less than this share of the requested rate is
        flagged rate_shortfall.
    type: float
    default: 0.99
  generator_saturated_percent:
    description:
      - A source whose generator used more than this share of a core (percent) flags
        generator_saturated.
    type: float
    default: 90.0
  schema_version:
    description: Schema version of the results contract written.
    type: int
    default: 1
"""

EXAMPLES = r"""
- name: Write the latency rep
  bench_rep:
    dest: "{{ bench_run_dir }}/ipc/latency/rep-1.json"
    run_id: "{{ bench_run_id }}"
    setup: ipc
    test: latency
    rep: 1
    plan: {url: "http://127.0.0.1:8000/", rps: 300, clients: null, duration_s: 20, warmup_s: 3,
           keepalive: false, request_timeout_ms: 10000}
    sources: "{{ ansible_play_hosts | map('extract', hostvars, 'loadtest_result') | list }}"
    expected_hosts: "{{ ansible_play_hosts }}"
    requested_rps: 300
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
dest:
  description: The rep file written.
  type: str
  returned: always
achieved_rps:
  description: Total requests over the measured seconds.
  type: float
  returned: success
flags:
  description: The repetition's flags; empty when it is valid.
  type: list
  elements: str
  returned: success
valid:
  description: Whether the repetition counts (no flag set).
  type: bool
  returned: success
summary:
  description:
    - totalRequests, totalErrors, meanLatencyMs, percentiles and errorCodes of the merged
      result, and the busiest generator's CPU use.
  type: dict
  returned: success
"""

# loadtest's percentiles (lib/result.js).
LOADTEST_PERCENTILES = (50, 90, 95, 99)


class RepError(ValueError):
    """A repetition that cannot be recorded as asked."""


def js_round(value: float) -> int:
    """JavaScript's Math.round: halves go up (Python's round() goes to even)."""
    return math.floor(value + 0.5)


def percentiles_from_histogram(
    histogram_ms: Mapping[int, int], total_requests: int
) -> dict[str, int | bool]:
    """loadtest's rule (Result.computePercentiles): walk the millisecond histogram upwards; each
    percentile p is the first millisecond at which the requests counted so far exceed p percent
    of totalRequests. One never exceeded stays false, as loadtest writes it.

    Kept from loadtest as it is: a percentile found at 0 ms counts as not found yet (JavaScript's
    `!0`), so it moves to the next millisecond that has requests."""
    found: dict[str, int | bool] = {str(p): False for p in LOADTEST_PERCENTILES}
    if total_requests <= 0:
        return found
    counted = 0
    for latency_ms in sorted(histogram_ms):
        if not histogram_ms[latency_ms]:
            continue
        counted += histogram_ms[latency_ms]
        percent = counted / total_requests * 100
        for p in LOADTEST_PERCENTILES:
            if not found[str(p)] and percent > p:
                found[str(p)] = latency_ms
    return found


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
    """One loadtest result out of the results of sources that loaded the target together."""
    if not results:
        raise RepError("no loadtest result to merge")
    histogram: Counter[int] = Counter()
    for result in results:
        for latency_ms, count in _count_map(result, "histogramMs").items():
            histogram[int(latency_ms)] += count
    error_codes: Counter[str] = Counter()
    for result in results:
        error_codes.update(_count_map(result, "errorCodes"))
    total_requests = sum(int(_number(r, "totalRequests")) for r in results)
    total_errors = sum(int(_number(r, "totalErrors")) for r in results)
    accumulated_ms = sum(
        float(r["accumulatedMs"])
        if isinstance(r.get("accumulatedMs"), int | float)
        else _number(r, "meanLatencyMs") * _number(r, "totalRequests")
        for r in results
    )
    seconds = max(measured_seconds(r) for r in results)
    if seconds <= 0:
        raise RepError("no measured time: every source's elapsedSeconds is 0")
    latencies = [int(_number(r, "maxLatencyMs")) for r in results]
    minimums = [int(_number(r, "minLatencyMs")) for r in results]

    # One source: its own result, with the derived numbers recomputed the same way as for several.
    merged: dict[str, Any] = dict(results[0]) if len(results) == 1 else {}
    merged.pop("instanceIndex", None)
    first = results[0]
    merged.update(
        {
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
            "totalErrors": total_errors,
            "accumulatedMs": accumulated_ms,
            "maxLatencyMs": max(latencies),
            "minLatencyMs": min(minimums),
            "errorCodes": dict(sorted(error_codes.items())),
            "histogramMs": {str(ms): histogram[ms] for ms in sorted(histogram) if histogram[ms]},
            "meanLatencyMs": (
                js_round(accumulated_ms / total_requests * 10) / 10 if total_requests else None
            ),
            "effectiveRps": round(total_requests / seconds, 2),
            "percentiles": percentiles_from_histogram(histogram, total_requests),
        }
    )
    merged["rps"] = merged["effectiveRps"]
    if len(results) > 1:
        # Readings of each host's own monotonic clock: not comparable between hosts.
        merged["startTimeMs"] = None
        merged["stopTimeMs"] = None
    return merged


def rep_flags(
    *,
    test: str,
    requested_rps: float | None,
    achieved_rps: float,
    generator_cpu_percent_max: float | None,
    total_errors: int,
    rate_shortfall_share: float = 0.99,
    generator_saturated_percent: float = 90.0,
) -> list[str]:
    """The contract's flags; a flagged repetition is kept and reported, not averaged."""
    flags = []
    if test == "latency" and requested_rps and achieved_rps < rate_shortfall_share * requested_rps:
        flags.append("rate_shortfall")
    busiest = generator_cpu_percent_max
    if busiest is not None and busiest > generator_saturated_percent:
        flags.append("generator_saturated")
    if total_errors > 0:
        flags.append("errors")
    return flags


def _instant(text: Any, what: str) -> datetime:
    if not isinstance(text, str):
        raise RepError(f"{what} must be a UTC ISO time, not {text!r}")
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as error:
        raise RepError(f"{what} must be a UTC ISO time, not {text!r}") from error


def _source_entry(source: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(source.get("host"), str):
        raise RepError(f"a source result lacks its host: {sorted(source)}")
    if not isinstance(source.get("loadtest"), Mapping):
        raise RepError(f"the result of source {source['host']} lacks its loadtest object")
    generator = source.get("generator") or {}
    return {
        "host": source["host"],
        "rps": source.get("rps"),
        "clients": source.get("clients"),
        "started_at": source.get("started_at"),
        "ended_at": source.get("ended_at"),
        "start_lag_ms": source.get("start_lag_ms"),
        "warmup": source.get("warmup"),
        "loadtest": dict(source["loadtest"]),
        "generator": dict(generator),
    }


def build_record(
    *,
    run_id: str,
    setup: str,
    test: str,
    rep: int,
    plan: Mapping[str, Any],
    sources: Sequence[Mapping[str, Any]],
    requested_rps: float | None,
    expected_hosts: Sequence[str] | None = None,
    rate_shortfall_share: float = 0.99,
    generator_saturated_percent: float = 90.0,
    schema_version: int = 1,
) -> dict[str, Any]:
    """The rep file of the results contract for one repetition."""
    if not sources:
        raise RepError("no source result: nothing was measured")
    entries = [_source_entry(source) for source in sources]
    hosts = [entry["host"] for entry in entries]
    if len(set(hosts)) != len(hosts):
        raise RepError(f"a source host appears twice: {hosts}")
    if expected_hosts is not None and set(hosts) != set(expected_hosts):
        missing = sorted(set(expected_hosts) - set(hosts))
        extra = sorted(set(hosts) - set(expected_hosts))
        raise RepError(
            "the sources do not match the hosts that loaded the target"
            + (f"; no result from {', '.join(missing)}" if missing else "")
            + (f"; unexpected result from {', '.join(extra)}" if extra else "")
        )
    merged = merge_loadtest([entry["loadtest"] for entry in entries])
    achieved_rps = round(merged["totalRequests"] / merged["elapsedSeconds"], 2)
    cpu_values = [
        float(entry["generator"]["cpu_percent"])
        for entry in entries
        if isinstance(entry["generator"].get("cpu_percent"), int | float)
    ]
    cpu_max = max(cpu_values) if cpu_values else None
    started = [_instant(entry["started_at"], f"started_at of {entry['host']}") for entry in entries]
    ended = [_instant(entry["ended_at"], f"ended_at of {entry['host']}") for entry in entries]
    requested = float(requested_rps) if test == "latency" and requested_rps is not None else None
    flags = rep_flags(
        test=test,
        requested_rps=requested,
        achieved_rps=achieved_rps,
        generator_cpu_percent_max=cpu_max,
        total_errors=merged["totalErrors"],
        rate_shortfall_share=rate_shortfall_share,
        generator_saturated_percent=generator_saturated_percent,
    )
    return {
        "schema_version": schema_version,
        "run_id": run_id,
        "setup": setup,
        "test": test,
        "rep": rep,
        "plan": dict(plan),
        "source_hosts": hosts,
        "started_at": entries[started.index(min(started))]["started_at"],
        "ended_at": entries[ended.index(max(ended))]["ended_at"],
        "loadtest": merged,
        "sources": entries,
        "requested_rps": requested,
        "achieved_rps": achieved_rps,
        "generator": {"cpu_percent_max": cpu_max},
        "flags": flags,
        "valid": not flags,
    }


def write_exclusive(path: str, text: str) -> None:
    """Create path with text; FileExistsError when it exists (it is left untouched)."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def summary(record: Mapping[str, Any]) -> dict[str, Any]:
    merged = record["loadtest"]
    return {
        key: merged[key]
        for key in ("totalRequests", "totalErrors", "meanLatencyMs", "percentiles", "errorCodes")
    } | {"cpu_percent_max": record["generator"]["cpu_percent_max"]}


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "dest": {"type": "path", "required": True},
            "run_id": {"type": "str", "required": True},
            "setup": {"type": "str", "required": True},
            "test": {"type": "str", "required": True, "choices": ["latency", "throughput"]},
            "rep": {"type": "int", "required": True},
            "plan": {"type": "dict", "required": True},
            "sources": {"type": "list", "elements": "dict", "required": True},
            "expected_hosts": {"type": "list", "elements": "str"},
            "requested_rps": {"type": "float"},
            "rate_shortfall_share": {"type": "float", "default": 0.99},
            "generator_saturated_percent": {"type": "float", "default": 90.0},
            "schema_version": {"type": "int", "default": 1},
        },
        supports_check_mode=True,
    )
    params = module.params
    dest = params["dest"]
    if os.path.lexists(dest):
        module.fail_json(msg=f"{dest} exists already: a rep file is never overwritten", dest=dest)
    try:
        record = build_record(
            run_id=params["run_id"],
            setup=params["setup"],
            test=params["test"],
            rep=params["rep"],
            plan=params["plan"],
            sources=params["sources"],
            requested_rps=params["requested_rps"],
            expected_hosts=params["expected_hosts"],
            rate_shortfall_share=params["rate_shortfall_share"],
            generator_saturated_percent=params["generator_saturated_percent"],
            schema_version=params["schema_version"],
        )
    except (RepError, KeyError, TypeError, ValueError) as error:
        what = f"{params['setup']} {params['test']} rep {params['rep']}"
        module.fail_json(msg=f"cannot record {what}: {error}")
    result = {
        "changed": True,
        "dest": dest,
        "achieved_rps": record["achieved_rps"],
        "flags": record["flags"],
        "valid": record["valid"],
        "summary": summary(record),
    }
    if not module.check_mode:
        try:
            write_exclusive(dest, json.dumps(record, indent=2) + "\n")
        except FileExistsError:
            module.fail_json(msg=f"{dest} exists already: a rep file is never overwritten")
        except OSError as error:
            module.fail_json(msg=f"cannot write {dest}: {error}", dest=dest)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
