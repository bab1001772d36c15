"""How much the load generator itself costs: the loadtest driver's closed loop against wrk, the
reference generator, on the same server, connection policy and core.

    .venv/bin/python benchmarks/instrument.py http://127.0.0.1:18180/ [--clients 1,10,50]
        [--duration 5] [--cpus 1] [--keepalive]

For each client count it runs one series in the driver (which runs wrk as a child, so both are
pinned alike): wrk for --duration seconds, the driver's closed loop for as long after a
one-second warm-up, and wrk again (the machine's drift between the two shows as wrk's spread),
and prints

- rate: the driver's rate over wrk's mean rate (the rule book flags generator_limited below 0.8);
- per request: each tool's time per request in its closed loop, clients / rate, and the
  driver's overhead, the difference. Not wrk's mean latency: wrk 4.1 "corrects" its latency
  statistics after the run (stats_correct, with the mean interval as the expected one), so its
  mean is not the mean of what it timed, and it times from the request's write on an open
  connection, leaving connects out;
- the harness's own mean latency and Little's check of it, mean latency over clients / rate
  (1.0 in a closed loop whose clients are always busy: it catches a clock timing something else
  than the requests);
- the driver's CPU share and its event loop's p99 delay.

Only loopback URLs are accepted: the load never leaves this machine.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "harness"))

from driver_support import DRIVER, install_node_modules  # noqa: E402 (after the path above)

# How long one series may run before it counts as hung, beyond its own bound.
SLACK_S = 60


def loopback_url(url: str) -> str:
    """The URL, when its host is a loopback address (or localhost, resolving to one only);
    else SystemExit. No other name is looked up."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SystemExit(f"instrument: not an http(s) URL: {url}")
    if parts.hostname == "localhost":
        infos = socket.getaddrinfo("localhost", parts.port or 80, proto=socket.IPPROTO_TCP)
        addresses = sorted({str(info[4][0]) for info in infos})
    else:
        addresses = [parts.hostname]
    for address in addresses:
        try:
            loopback = ipaddress.ip_address(address).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise SystemExit(
                f"instrument: {url} does not name a loopback address ({address}): the load only "
                "ever goes to 127.0.0.0/8, ::1 or localhost"
            )
    return url


def series_spec(url: str, clients: int, duration: int, keepalive: bool, out: Path) -> dict:
    return {
        "url": url,
        "host": socket.gethostname(),
        "keepalive": keepalive,
        "request_timeout_ms": 10000,
        "output_dir": str(out),
        "progress": None,
        "settle": {"probe_timeout_ms": 2000, "max_wait_s": 10},
        "wrk": {"path": "wrk", "threads": 1},
        "measurements": [
            {"test": "reference", "clients": clients, "duration_s": duration,
             "output": f"c{clients}/reference-1.json"},
            {"test": "throughput", "rep": 1, "clients": clients, "duration_s": duration,
             "warmup_s": 1, "output": f"c{clients}/driver.json"},
            {"test": "reference", "clients": clients, "duration_s": duration,
             "output": f"c{clients}/reference-2.json"},
        ],
    }  # fmt: skip


def run_series(home: Path, spec: dict, cpus: str | None) -> list[dict[str, Any]]:
    spec_file = home / "spec.json"
    spec_file.write_text(json.dumps(spec))
    check = subprocess.run(
        ["node", str(home / "driver.mjs"), "--check", str(spec_file)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if check.returncode != 0:
        raise SystemExit(f"instrument: the driver refused the series:\n{check.stderr}")
    bound = json.loads(check.stdout)["bound_s"]
    command = ["node", str(home / "driver.mjs"), str(spec_file)]
    if cpus:
        command = ["taskset", "-c", cpus, *command]
    completed = subprocess.run(
        command, capture_output=True, text=True, timeout=bound + SLACK_S, check=False
    )
    if completed.returncode != 0:
        raise SystemExit(f"instrument: the driver failed:\n{completed.stderr}")
    return [json.loads(line) for line in completed.stdout.splitlines() if line.strip()]


def figures(clients: int, wrks: list[dict[str, Any]], driver: dict[str, Any]) -> dict[str, Any]:
    wrk_rps = sum(wrk["rps"] for wrk in wrks) / len(wrks)
    driver_rps = driver["achieved_rps"]
    harness_mean_us = driver["harness"]["histograms"]["latency_uncorrected"]["mean"]
    return {
        "clients": clients,
        "wrk_rps": wrk_rps,
        "wrk_spread": (max(w["rps"] for w in wrks) - min(w["rps"] for w in wrks)) / wrk_rps,
        "driver_rps": driver_rps,
        "rate": driver_rps / wrk_rps,
        "wrk_per_request_us": clients / wrk_rps * 1e6,
        "driver_per_request_us": clients / driver_rps * 1e6,
        "overhead_us": clients / driver_rps * 1e6 - clients / wrk_rps * 1e6,
        "harness_mean_us": harness_mean_us,
        "little": harness_mean_us / (clients / driver_rps * 1e6),
        "driver_cpu_percent": driver["generator"]["cpu_percent"],
        "event_loop_p99_us": driver["harness"]["histograms"]["event_loop_delay"]["p99"],
        "errors": driver["harness"]["requests"]["errors"]
        + sum(sum(wrk["errors"].values()) for wrk in wrks),
    }


# Title, figure, format: each column as wide as its title.
COLUMNS = [
    ("clients", "clients", "d"),
    ("wrk rps", "wrk_rps", ".0f"),
    ("spread", "wrk_spread", ".0%"),
    ("drv rps", "driver_rps", ".0f"),
    ("rate", "rate", ".2f"),
    ("wrk/req us", "wrk_per_request_us", ".0f"),
    ("drv/req us", "driver_per_request_us", ".0f"),
    ("overhead us", "overhead_us", ".0f"),
    ("mean us", "harness_mean_us", ".0f"),
    ("Little", "little", ".2f"),
    ("cpu%", "driver_cpu_percent", ".1f"),
    ("loop p99 us", "event_loop_p99_us", ".0f"),
    ("errors", "errors", "d"),
]


def print_table(rows: list[dict[str, Any]]) -> None:
    print(" ".join(title for title, _, _ in COLUMNS))
    for row in rows:
        print(" ".join(f"{row[key]:>{len(title)}{spec}}" for title, key, spec in COLUMNS))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", type=loopback_url, help="the server to load (loopback only)")
    parser.add_argument("--clients", default="1,10,50", help="client counts, comma-separated")
    parser.add_argument("--duration", type=int, default=5, help="seconds per tool and count")
    parser.add_argument("--cpus", default=None, help="taskset CPU list for driver and wrk")
    parser.add_argument("--keepalive", action="store_true", help="keep connections open")
    args = parser.parse_args(argv)
    clients = [int(count) for count in args.clients.split(",")]
    if not clients or min(clients) < 1 or not 1 <= args.duration <= 60:
        parser.error("client counts must be at least 1 and the duration 1 to 60 s")
    for tool in ("node", "npm", "wrk"):
        if shutil.which(tool) is None:
            raise SystemExit(f"instrument: {tool} is not installed")
    node_modules = install_node_modules()
    rows = []
    with tempfile.TemporaryDirectory(prefix="instrument-") as directory:
        home = Path(directory)
        shutil.copy(DRIVER, home / "driver.mjs")
        (home / "node_modules").symlink_to(node_modules)
        for count in clients:
            spec = series_spec(args.url, count, args.duration, args.keepalive, home / "out")
            first, driver, second = run_series(home, spec, args.cpus)
            rows.append(figures(count, [first, second], driver))
    policy = "keep-alive" if args.keepalive else "Connection: close"
    print(f"{args.url}, {policy}, {args.duration} s each, pinned to CPU {args.cpus or '(none)'}")
    print_table(rows)
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
