"""Filters of the bench playbooks: the plan a user asked for, checked and typed; the order of the
passes over the setups; the series of measurements of one pass; how several source hosts share
a measurement; and the run's expected duration.

The catalogue's own rules live in roles/channels_setup/filter_plugins/channels_catalogue.py."""

from __future__ import annotations

import math
import os
import random
import re
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from ansible.errors import AnsibleFilterError

# The rule book (module_utils/channels_bench_rules.py) is plain Python beside the playbooks; the
# bench_rep module imports it as ansible.module_utils, these filters from the repository root.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from module_utils import channels_bench_rules

TRUE_WORDS = {"true", "yes", "on", "1"}
FALSE_WORDS = {"false", "no", "off", "0"}

# Every value of the plan a user may set with -e: its kind and bounds. The README's table of
# variables is checked against this one (tests/harness/test_plan_filters.py).
PLAN_VALUES: Mapping[str, Mapping[str, Any]] = {
    "warmup_s": {"kind": "float", "min": 0.0, "max": 600.0},
    "repetitions": {"kind": "int", "min": 1, "max": 100},
    "latency_rps": {"kind": "float", "min": 0.0, "max": 100000.0, "exclusive_min": True},
    "latency_duration_s": {"kind": "float", "min": 0.0, "max": 3600.0, "exclusive_min": True},
    "throughput_clients": {"kind": "int_list", "min": 1, "max": 10000, "max_items": 20},
    "throughput_duration_s": {"kind": "float", "min": 0.0, "max": 3600.0, "exclusive_min": True},
    "keepalive": {"kind": "bool"},
    "request_timeout_ms": {"kind": "int", "min": 1, "max": 600000},
    "reference_duration_s": {"kind": "float", "min": 0.0, "max": 600.0},
    "sweep_rps": {
        "kind": "float_list",
        "min": 0.0,
        "max": 100000.0,
        "max_items": 20,
        "exclusive_min": True,
        "may_be_empty": True,
    },
    "sweep_fractions": {
        "kind": "float_list",
        "min": 0.0,
        "max": 10.0,
        "max_items": 20,
        "exclusive_min": True,
        "may_be_empty": True,
    },
    "sweep_duration_s": {"kind": "float", "min": 0.0, "max": 3600.0, "exclusive_min": True},
    "calibrate_delays_ms": {"kind": "int_list", "min": 0, "max": 5000, "max_items": 10},
    "calibrate_rps": {"kind": "float", "min": 0.0, "max": 1000.0, "exclusive_min": True},
    "calibrate_duration_s": {"kind": "float", "min": 0.0, "max": 600.0, "exclusive_min": True},
    "tests": {
        "kind": "choice_list",
        "choices": ("latency", "throughput", "calibrate", "ws-echo", "ws-fanout", "ws-connect"),
        "max_items": 6,
    },
    "ws_duration_s": {"kind": "float", "min": 0.0, "max": 3600.0, "exclusive_min": True},
    "ws_echo_connections": {"kind": "int", "min": 1, "max": 20000},
    "ws_echo_rate": {"kind": "float", "min": 0.0, "max": 1000000.0, "exclusive_min": True},
    "ws_fanout_groups": {"kind": "int", "min": 1, "max": 1000},
    "ws_fanout_subscribers": {"kind": "int", "min": 1, "max": 10000},
    "ws_fanout_rate": {"kind": "float", "min": 0.0, "max": 100000.0, "exclusive_min": True},
    "ws_connect_steps": {"kind": "int_list", "min": 1, "max": 20000, "max_items": 10},
    "ws_connect_hold_s": {"kind": "float", "min": 0.0, "max": 600.0, "exclusive_min": True},
}
# The WebSocket tests, which the WebSocket client (roles/wsbench) runs; loadtest's driver runs
# the others.
WS_TESTS = ("ws-echo", "ws-fanout", "ws-connect")


def _problem(name: str, value: Any, want: str) -> str:
    return f"loadtest_{name} must be {want}, not {value!r}"


def _parse_float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) or (
        isinstance(value, str)
        and re.match(r"^\s*[-+]?[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?\s*$", value)
    ):
        number = float(value)
    else:
        return None
    return number if math.isfinite(number) else None


def _parse_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.match(r"^\s*[-+]?[0-9]+\s*$", value):
        return int(value)
    return None


def _parse_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in TRUE_WORDS | FALSE_WORDS:
        return value.strip().lower() in TRUE_WORDS
    return None


def _parse_list(value: Any) -> list[Any] | None:
    if isinstance(value, str):
        text = value.strip().strip("[]")
        return [part.strip() for part in text.split(",") if part.strip()]
    if isinstance(value, Sequence):
        return list(value)
    return None


def _in_bounds(number: float, rule: Mapping[str, Any]) -> bool:
    low, high = rule.get("min"), rule.get("max")
    if low is not None and (number <= low if rule.get("exclusive_min") else number < low):
        return False
    return high is None or number <= high


def _bounds_text(rule: Mapping[str, Any]) -> str:
    low = rule["min"]
    above = "above" if rule.get("exclusive_min") else "at least"
    return f"{above} {low:g} and at most {rule['max']:g}"


def _check_choices(name: str, value: Any, rule: Mapping[str, Any]) -> tuple[Any, str | None]:
    items = _parse_list(value)
    want = f"a list of tests among {', '.join(rule['choices'])} (empty: each setup's own)"
    if items is None or len(items) > rule["max_items"]:
        return None, _problem(name, value, want)
    names = [str(item) for item in items]
    if any(item not in rule["choices"] for item in names) or len(set(names)) != len(names):
        return None, _problem(name, value, want)
    return names, None


def _check_value(name: str, value: Any, rule: Mapping[str, Any]) -> tuple[Any, str | None]:
    kind = rule["kind"]
    if kind == "choice_list":
        return _check_choices(name, value, rule)
    if kind == "bool":
        parsed = _parse_bool(value)
        return parsed, None if parsed is not None else _problem(name, value, "true or false")
    if kind in ("int", "float"):
        parsed = _parse_int(value) if kind == "int" else _parse_float(value)
        want = ("a whole number " if kind == "int" else "a finite number ") + _bounds_text(rule)
        if parsed is None or not _in_bounds(parsed, rule):
            return None, _problem(name, value, want)
        return parsed, None
    items = _parse_list(value)
    parse = _parse_int if kind == "int_list" else _parse_float
    noun = "whole numbers" if kind == "int_list" else "finite numbers"
    want = f"a list of at most {rule['max_items']} {noun}, each {_bounds_text(rule)}" + (
        "" if rule.get("may_be_empty") else ", not empty"
    )
    if items is None or len(items) > rule["max_items"]:
        return None, _problem(name, value, want)
    parsed_items = [parse(item) for item in items]
    if any(item is None or not _in_bounds(item, rule) for item in parsed_items):
        return None, _problem(name, value, want)
    if not parsed_items and not rule.get("may_be_empty"):
        return None, _problem(name, value, want)
    return parsed_items, None


def bench_plan(values: Mapping[str, Any]) -> dict[str, Any]:
    """The plan values, parsed and checked: a value given on the command line arrives as text,
    "300" becomes 300, but "abc", "inf", "maybe" or a number out of bounds fail, all problems
    at once, before anything changes."""
    unknown = sorted(set(values) - set(PLAN_VALUES))
    if unknown:
        raise AnsibleFilterError(f"unknown plan values: {', '.join(unknown)}")
    plan: dict[str, Any] = {}
    problems = []
    for name, rule in PLAN_VALUES.items():
        parsed, problem = _check_value(name, values.get(name), rule)
        if problem:
            problems.append(problem)
        plan[name] = parsed
    if not problems and plan["calibrate_delays_ms"]:
        busy = plan["calibrate_rps"] * max(plan["calibrate_delays_ms"]) / 1000
        if busy > 0.5:
            problems.append(
                f"loadtest_calibrate_rps x the longest of loadtest_calibrate_delays_ms keeps a "
                f"one-worker server busy {busy:.0%} of the time: at most 50 %, or requests queue "
                "and the calibration measures the queue"
            )
    if problems:
        raise AnsibleFilterError("; ".join(problems))
    return plan


def bench_run_id(value: Any, pattern: str) -> str:
    """A run id a user gave (-e run_id=...), checked against the form the harness makes (UTC time
    and 4 hex digits: playbooks/vars/run_id.yml holds the pattern), whole, so that not even a
    trailing newline passes. Nothing else reaches a path: nothing escapes the results directory."""
    text = str(value)
    if not re.fullmatch(pattern.removeprefix("^").removesuffix("$"), text):
        raise AnsibleFilterError(
            f"run_id {text!r} is not of the form 20261128T180511Z-3f9a "
            "(UTC date and time, then 4 lowercase hex digits)"
        )
    return text


def bench_passes(
    setups: Sequence[str], repetitions: int, order: str = "sequential", seed: int | None = None
) -> list[dict[str, Any]]:
    """The passes of a run over its setups. sequential: one pass per setup with every
    repetition. interleaved: one round per repetition, each visiting every setup once, in an
    order shuffled with `seed` (so that drift on a shared machine is spread over the setups)."""
    reps = list(range(1, int(repetitions) + 1))
    if order == "sequential":
        return [{"setup": setup, "round": 1, "reps": reps} for setup in setups]
    if order != "interleaved":
        raise AnsibleFilterError(f"order must be sequential or interleaved, not {order!r}")
    if seed is None:
        raise AnsibleFilterError("an interleaved order needs a seed")
    shuffler = random.Random(int(seed))
    passes = []
    for rep in reps:
        visit = list(setups)
        shuffler.shuffle(visit)
        passes.extend({"setup": setup, "round": rep, "reps": [rep]} for setup in visit)
    return passes


def _number_name(value: float) -> str:
    return f"{value:g}"


def bench_series(
    pass_: Mapping[str, Any],
    plan: Mapping[str, Any],
    tests: Sequence[str],
    base_url: str = "http://target/",
    urls: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """The measurements of one pass, in the order they run: the latency reps, then per client
    count the reference generator once and the throughput reps, then the rate sweep (by rate,
    then by fraction of the capacity the throughput reps found), then the calibration (the
    calibration URL without delay, the baseline, then with each known delay), then the WebSocket
    tests at the setup's WebSocket URLs. `plan['tests']`, when not empty, narrows the setup's
    tests. Outputs are relative to the setup's directory."""
    if plan.get("tests"):
        tests = [test for test in tests if test in plan["tests"]] + (
            ["calibrate"] if "calibrate" in plan["tests"] else []
        )
    warmup = plan["warmup_s"]
    reps = list(pass_["reps"])
    series: list[dict[str, Any]] = []
    if "latency" in tests:
        series += [
            {
                "test": "latency",
                "rep": rep,
                "rps": plan["latency_rps"],
                "duration_s": plan["latency_duration_s"],
                "warmup_s": warmup,
                "output": f"latency/rep-{rep}.json",
            }
            for rep in reps
        ]
    if "throughput" in tests:
        for clients in plan["throughput_clients"]:
            if plan["reference_duration_s"] > 0:
                series.append(
                    {
                        "test": "reference",
                        "clients": clients,
                        "duration_s": plan["reference_duration_s"],
                        "output": f"throughput/c{clients}/reference-{pass_['round']}.json",
                    }
                )
            series += [
                {
                    "test": "throughput",
                    "rep": rep,
                    "clients": clients,
                    "duration_s": plan["throughput_duration_s"],
                    "warmup_s": warmup,
                    "output": f"throughput/c{clients}/rep-{rep}.json",
                }
                for rep in reps
            ]
    if "latency" in tests:
        for rate in plan["sweep_rps"]:
            series += [
                {
                    "test": "sweep",
                    "rep": rep,
                    "rps": rate,
                    "fraction": None,
                    "duration_s": plan["sweep_duration_s"],
                    "warmup_s": warmup,
                    "output": f"sweep/r{_number_name(rate)}/rep-{rep}.json",
                }
                for rep in reps
            ]
        if plan["sweep_fractions"] and "throughput" not in tests:
            raise AnsibleFilterError("a sweep by fractions needs the throughput test")
        for fraction in plan["sweep_fractions"]:
            series += [
                {
                    "test": "sweep",
                    "rep": rep,
                    "rps": None,
                    "fraction": fraction,
                    "duration_s": plan["sweep_duration_s"],
                    "warmup_s": warmup,
                    "output": f"sweep/f{_number_name(fraction)}/rep-{rep}.json",
                }
                for rep in reps
            ]
    if "calibrate" in tests:
        # Rep by rep, each delay after the baseline: drift of a shared machine falls on both.
        delays = [0, *sorted(set(plan["calibrate_delays_ms"]) - {0})]
        series += [
            {
                "test": "calibrate",
                "rep": rep,
                "rps": plan["calibrate_rps"],
                "duration_s": plan["calibrate_duration_s"],
                "warmup_s": warmup,
                "url": f"{base_url.rstrip('/')}/calibrate/{delay}ms",
                "output": f"calibrate/d{delay}/rep-{rep}.json",
            }
            for rep in reps
            for delay in delays
        ]
    series += _ws_series(reps, plan, tests, base_url, urls or {})
    return series


def _ws_series(
    reps: Sequence[int],
    plan: Mapping[str, Any],
    tests: Sequence[str],
    base_url: str,
    urls: Mapping[str, str],
) -> list[dict[str, Any]]:
    """The WebSocket measurements of a pass, in the client's spec keys (roles/wsbench)."""
    ws_base = re.sub(r"^http", "ws", base_url.rstrip("/"))
    keys = {
        "ws-echo": {"connections": plan.get("ws_echo_connections"),
                    "rate": plan.get("ws_echo_rate"), "duration_s": plan.get("ws_duration_s")},
        "ws-fanout": {"groups": plan.get("ws_fanout_groups"),
                      "subscribers": plan.get("ws_fanout_subscribers"),
                      "rate": plan.get("ws_fanout_rate"), "duration_s": plan.get("ws_duration_s")},
        "ws-connect": {"steps": plan.get("ws_connect_steps"),
                       "hold_s": plan.get("ws_connect_hold_s")},
    }  # fmt: skip
    series = []
    for test in WS_TESTS:
        if test not in tests:
            continue
        url_key = test.replace("-", "_")
        if url_key not in urls:
            raise AnsibleFilterError(f"the setup has no {url_key} URL for its {test} test")
        series += [
            {"test": test, "rep": rep, "warmup_s": plan["warmup_s"], **keys[test],
             "url": ws_base + urls[url_key], "output": f"{test}/rep-{rep}.json"}
            for rep in reps
        ]  # fmt: skip
    return series


def bench_runner_series(series: Sequence[Mapping[str, Any]], runner: str) -> list[dict]:
    """The part of a series one load generator runs: `wsbench` the WebSocket tests, `loadtest`
    the others."""
    if runner not in ("loadtest", "wsbench"):
        raise AnsibleFilterError(f"runner must be loadtest or wsbench, not {runner!r}")
    return [dict(m) for m in series if (m["test"] in WS_TESTS) == (runner == "wsbench")]


def bench_pass_series(
    pass_: Mapping[str, Any],
    plan: Mapping[str, Any],
    rows: Mapping[str, Mapping[str, Any]],
    base_url: str = "http://target/",
) -> list[dict[str, Any]]:
    """bench_series for a pass, with the tests and URLs of the pass's setup (its catalogue row)."""
    row = rows[pass_["setup"]]
    return bench_series(pass_, plan, row["tests"], base_url, row.get("urls"))


def bench_controller_pid(_: Any = None) -> int:
    """The pid of the ansible-playbook process that runs this (the run's owner): the outermost of
    the ancestors, in one unbroken line, whose command line is ansible-playbook's (a task's
    worker is a fork of the controller, with its command line, and ends with the task), else the
    parent. A later run finds a run whose owner is gone and calls it abandoned."""
    owner = None
    pid = os.getpid()
    while pid > 1:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                is_playbook = b"ansible-playbook" in handle.read()
            if owner is not None and not is_playbook:
                break
            if is_playbook:
                owner = pid
            with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
                pid = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return owner if owner is not None else os.getppid()


def bench_split_clients(clients: int, sources: int) -> list[int]:
    """Closed-loop clients shared by source hosts as evenly as whole numbers allow: 10 over 3
    is [4, 3, 3]; a host may get 0 when there are fewer clients than hosts."""
    clients, sources = int(clients), int(sources)
    if sources < 1:
        raise AnsibleFilterError("at least one source host is needed")
    return [
        clients // sources + (1 if index < clients % sources else 0) for index in range(sources)
    ]


def bench_source_series(
    series: Sequence[Mapping[str, Any]], sources: Sequence[str], host: str
) -> list[dict[str, Any]]:
    """One source host's part of a series: a fixed rate split evenly, closed-loop clients split
    as bench_split_clients does (a host with none sits that measurement out), and the reference
    generator on the first source only, with every client (it measures the server's limit)."""
    index = list(sources).index(host)
    mine = []
    for measurement in series:
        item = dict(measurement)
        # The reference generator measures the server's limit, and the WebSocket client is one
        # process whose documents are not merged: both run from the first source only.
        if item["test"] == "reference" or item["test"] in WS_TESTS:
            if index != 0:
                continue
        elif item.get("clients") is not None:
            item["clients"] = bench_split_clients(item["clients"], len(sources))[index]
            if item["clients"] == 0:
                continue
        elif item.get("rps") is not None:
            item["rps"] = item["rps"] / len(sources)
        mine.append(item)
    return mine


def bench_measured_s(series: Sequence[Mapping[str, Any]]) -> float:
    """Seconds of load a series plans: every warm-up and every measured or reference run (a
    connection test: each step's hold)."""
    return sum(
        float(m.get("warmup_s") or 0)
        + float(m.get("duration_s") or len(m.get("steps") or []) * float(m.get("hold_s") or 0))
        for m in series
    )


def bench_schedule(
    series: Sequence[Mapping[str, Any]], start_at: float | None, slack_s: float
) -> list[dict[str, Any]]:
    """Start instants for several sources loading together: each measurement gets a slot of its
    warm-up, its duration and slack_s (the wait for a prompt target, the tail of requests in
    flight, node's start), so that hosts that never talk to each other start each one together.
    Without a start instant (one source) the series runs back to back, unchanged."""
    if start_at is None:
        return [dict(measurement) for measurement in series]
    scheduled, at = [], float(start_at)
    for measurement in series:
        scheduled.append(dict(measurement, start_at=round(at, 3)))
        at += float(measurement.get("warmup_s") or 0) + float(measurement["duration_s"]) + slack_s
    return scheduled


def bench_venv_path(row: Mapping[str, Any], root: str) -> str:
    """A setup's virtualenv: one per stack, and one per variant of a version sweep beside it."""
    return f"{root}/{row['stack']}" + (f"@{row['variant']}" if row.get("variant") else "")


def bench_venvs(rows: Mapping[str, Mapping[str, Any]], root: str) -> list[dict[str, Any]]:
    """Each virtualenv the setups need, once, in run order: its path, stack and the pins its
    catalogue rows give (python_stack's preflight then checks them and adds -e overrides).
    Setups of one stack share one; each variant of a version sweep has its own."""
    venvs: dict[str, dict[str, Any]] = {}
    for row in rows.values():
        path = bench_venv_path(row, root)
        added = dict(row.get("added_pins") or {})
        venv = venvs.setdefault(
            path,
            {
                "path": path,
                "stack": row["stack"],
                "pins": {name: pin for name, pin in row["pins"].items() if name not in added},
                "added_pins": added,
                "install_first": list(row.get("install_first") or []),
                "all_pins": row["pins"],
            },
        )
        if venv["all_pins"] != row["pins"]:
            raise AnsibleFilterError(f"setups sharing {path} differ in their pins")
    return list(venvs.values())


def bench_rows_with_venvs(
    rows: Mapping[str, Mapping[str, Any]], root: str, pins: Mapping[str, Mapping[str, str]]
) -> dict[str, dict[str, Any]]:
    """The setups' rows with their virtualenv and its checked pins ({venv path: pins})."""
    resolved = {}
    for name, row in rows.items():
        path = bench_venv_path(row, root)
        resolved[name] = dict(row, venv=path, pins=dict(pins[path]))
    return resolved


def bench_redis_url(redis_host: Mapping[str, Any]) -> str:
    """The channel layer's URL from the redis host's variables (bind, port, password)."""
    password = redis_host.get("redis_server_password") or ""
    bind = redis_host.get("redis_server_bind") or "127.0.0.1"
    port = redis_host.get("redis_server_port") or 6379
    credentials = f":{password}@" if password else ""
    return f"redis://{credentials}{bind}:{port}/0"


def bench_target_url(target: Mapping[str, Any], name: str, path: str = "/") -> str:
    """The URL the load goes to on a target: its bind address, or its private address (else its
    inventory address) when it binds every interface, as on EC2."""
    bind = str(target.get("channels_setup_bind") or "0.0.0.0")
    address = bind
    if bind in ("0.0.0.0", "::"):
        address = str(target.get("bench_private_address") or target.get("ansible_host") or name)
    host = f"[{address}]" if ":" in address else address
    return f"http://{host}:{target.get('channels_setup_port') or 80}{path}"


def bench_with_server_pids(
    series: Sequence[Mapping[str, Any]], status_lines: Sequence[str], same_host: bool
) -> list[dict[str, Any]]:
    """The WebSocket connection test reads the server's memory from /proc: it gets the server
    programs' PIDs (from `supervisorctl status`) when it runs on the server's own host."""
    pids = [int(found) for line in status_lines for found in re.findall(r"\bpid (\d+),", line)]
    return [
        dict(m, server_pids=pids if same_host else []) if m["test"] == "ws-connect" else dict(m)
        for m in series
    ]


def bench_documents(sources: Sequence[str], hostvars: Mapping[str, Any]) -> dict[str, list]:
    """Each source host's documents of the pass: loadtest's driver's, then the WebSocket
    client's."""
    documents = {}
    for host in sources:
        facts = hostvars[host]
        documents[host] = list(facts.get("loadtest_series_documents") or []) + list(
            facts.get("wsbench_series_documents") or []
        )
    return documents


def bench_log_cut_args(logs: Sequence[str], offsets: Mapping[str, Any]) -> list[str]:
    """Each log with the size it had before the load, as arguments `path offset path offset ...`
    for the cutting script; a log that was not there before starts at 0."""
    return [part for log in logs for part in (str(log), str(int(offsets.get(log, 0))))]


def bench_setup_failed(rep_flags: Sequence[Sequence[str]]) -> str:
    """The rule book's verdict on a setup from its reps' flags ("" when it did not fail)."""
    return channels_bench_rules.setup_failed(rep_flags)


def bench_freeze_blocks(text: str, venvs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """fetch.yml's `== <venv>` blocks (version, interpreter, then pip freeze) as
    {<venv's directory name>: {venv, version, interpreter, pip_freeze}}."""
    known = {str(venv["path"]) for venv in venvs}
    blocks: dict[str, Any] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("== "):
            path = line[3:].strip()
            current = []
            if path in known:
                blocks[os.path.basename(path)] = {"venv": path, "lines": current}
        elif current is not None:
            current.append(line)
    return {
        name: {
            "venv": block["venv"],
            "version": block["lines"][0] if block["lines"] else None,
            "interpreter": block["lines"][1] if len(block["lines"]) > 1 else None,
            "pip_freeze": block["lines"][2:],
        }
        for name, block in blocks.items()
    }


# CPython before 3.10 does not build its ssl module against OpenSSL 3 (Ubuntu 22.04 and later).
OPENSSL3_FIRST_PYTHON = (3, 10)


def bench_fleet_image(rows: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The EC2 image of a fleet for these setups: the first of the first stack's `ec2_images`
    (in the run's order) that every stack of the run lists (2026 alone: Ubuntu 24.04; with 2016:
    20.04, where pyenv builds 3.12), and whether the image must keep OpenSSL 1.x (a stack whose
    interpreter range ends before 3.10). Fails when the stacks share no image."""
    stacks: dict[str, Mapping[str, Any]] = {}
    for row in rows.values():
        stacks.setdefault(str(row["stack"]), row)
    if not stacks:
        raise AnsibleFilterError("no setups to choose a fleet image for")
    lists = {stack: list(row.get("ec2_images") or []) for stack, row in stacks.items()}
    first = next(iter(lists.values()))
    shared = [image for image in first if all(image in images for images in lists.values())]
    if not shared:
        listed = "; ".join(
            f"{name}: {', '.join(found) or 'none'}"
            for name, found in lists.items()
        )
        raise AnsibleFilterError(
            f"the stacks of this run share no EC2 image (catalogue.yml ec2_images: {listed}); "
            "measure them in separate runs, or pass -e ec2_fleet_ami_name=PATTERN"
        )
    openssl1 = any(
        tuple(int(part) for part in str(row.get("python_max") or "99").split(".")[:2])
        < OPENSSL3_FIRST_PYTHON
        for row in stacks.values()
    )
    return {"name": shared[0], "openssl1": openssl1}


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "bench_plan": bench_plan,
            "bench_run_id": bench_run_id,
            "bench_passes": bench_passes,
            "bench_series": bench_series,
            "bench_split_clients": bench_split_clients,
            "bench_pass_series": bench_pass_series,
            "bench_runner_series": bench_runner_series,
            "bench_with_server_pids": bench_with_server_pids,
            "bench_documents": bench_documents,
            "bench_controller_pid": bench_controller_pid,
            "bench_source_series": bench_source_series,
            "bench_measured_s": bench_measured_s,
            "bench_schedule": bench_schedule,
            "bench_venvs": bench_venvs,
            "bench_rows_with_venvs": bench_rows_with_venvs,
            "bench_redis_url": bench_redis_url,
            "bench_target_url": bench_target_url,
            "bench_log_cut_args": bench_log_cut_args,
            "bench_setup_failed": bench_setup_failed,
            "bench_freeze_blocks": bench_freeze_blocks,
            "bench_fleet_image": bench_fleet_image,
        }
