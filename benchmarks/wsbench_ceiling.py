#!/usr/bin/env python3
"""The WebSocket client's own ceiling: the highest echo rate it sustains on this host.

    .venv/bin/python benchmarks/wsbench_ceiling.py [--connections 10] [--p99-ms 5] ...

Starts a trivial websockets echo server in a process of its own on 127.0.0.1 (pinned to
--server-cpus), then runs roles/wsbench/files/wsbench.py (pinned to --client-cpus) as a user
runs it, at rising rates, a few seconds each. A rate is sustained when the client sent at least
99 % of it (the rule book's rate_shortfall share), every echo came back, and the p99 of the
corrected latency (from the scheduled send: it grows as soon as the client falls behind) stays
under --p99-ms. A rate that fails is tried once more (the machine is shared); the ceiling is the
highest rate sustained below the first that fails twice. Prints one line per step, with the
client's and the server's CPU share (which of the two set the limit), then the ceiling.

Load goes to loopback only, to the server this script starts; every step is bounded in time
(the client's own bounds) and the list of rates is finite.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CLIENT = REPO / "roles" / "wsbench" / "files" / "wsbench.py"
RATES = [1000, 2000, 3000, 4000, 5000, 6000, 8000, 10000, 12000, 15000, 20000, 25000]
SHORTFALL_SHARE = 0.99

SERVER = """
import asyncio, sys
from websockets.asyncio.server import serve

async def echo(connection):
    async for message in connection:
        await connection.send(message)

async def main():
    async with serve(echo, "127.0.0.1", int(sys.argv[1]), compression=None, ping_interval=None):
        print("ready", flush=True)
        await asyncio.Future()

asyncio.run(main())
"""


@dataclass
class Step:
    rate: int
    sent: int
    received: int
    lost: int
    achieved: float
    p50_us: int
    p99_us: int
    send_lag_p99_us: int
    loop_delay_p99_us: int
    client_cpu: float
    server_cpu: float
    flags: list[str]

    def sustained(self, p99_bound_us: float) -> bool:
        return (
            self.achieved >= SHORTFALL_SHARE * self.rate
            and self.lost == 0
            and self.received == self.sent
            and self.p99_us <= p99_bound_us
        )

    @property
    def client_cpu_us_per_message(self) -> float:
        """The client's CPU time per echoed message (a send and a receipt), in microseconds."""
        return self.client_cpu / 100 * 1e6 / self.achieved if self.achieved else 0.0

    def line(self, p99_bound_us: float) -> str:
        verdict = "ok" if self.sustained(p99_bound_us) else "NOT sustained"
        return (
            f"{self.rate:>6} msg/s: sent {self.achieved:>8.1f}/s  lost {self.lost:>4}  "
            f"p50 {self.p50_us / 1000:6.2f} ms  p99 {self.p99_us / 1000:7.2f} ms  "
            f"send lag p99 {self.send_lag_p99_us / 1000:6.2f} ms  "
            f"loop p99 {self.loop_delay_p99_us / 1000:6.2f} ms  "
            f"client CPU {self.client_cpu:5.1f} % ({self.client_cpu_us_per_message:5.1f} us/msg)  "
            f"server CPU {self.server_cpu:5.1f} %  {verdict}"
        )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_server(port: int, cpus: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        ["taskset", "-c", cpus, sys.executable, "-c", SERVER, str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    if process.stdout.readline().strip() != "ready":
        process.kill()
        raise SystemExit("the echo server did not start")
    return process


def run_step(args: argparse.Namespace, port: int, server: int, rate: int, work: Path) -> Step:
    output = work / f"r{rate}-{time.monotonic_ns()}.json"
    spec = work / f"{output.stem}.spec.json"
    spec.write_text(
        json.dumps(
            {
                "test": "ws-echo",
                "url": f"ws://127.0.0.1:{port}/",
                "output": str(output),
                "connections": args.connections,
                "rate": rate,
                "duration_s": args.duration_s,
                "warmup_s": args.warmup_s,
                "message_timeout_s": 2,
            }
        )
    )
    server_before, wall_before = cpu_seconds(server), time.monotonic()
    completed = subprocess.run(
        ["taskset", "-c", args.client_cpus, sys.executable, str(CLIENT), str(spec)],
        capture_output=True,
        text=True,
        timeout=args.warmup_s + args.duration_s + 120,
        check=False,
    )
    server_cpu = (cpu_seconds(server) - server_before) / (time.monotonic() - wall_before) * 100
    if completed.returncode != 0:
        raise SystemExit(f"the client failed at {rate} msg/s: {completed.stderr}")
    return step_from(rate, json.loads(output.read_text()), server_cpu)


def step_from(rate: int, document: dict[str, Any], server_cpu: float) -> Step:
    harness = document["harness"]
    histograms = harness["histograms"]
    messages = harness["messages"]
    return Step(
        rate=rate,
        sent=messages["sent"],
        received=messages["received"],
        lost=messages["lost"],
        achieved=document["achieved_rate"],
        p50_us=histograms["latency_corrected"]["p50"] or 0,
        p99_us=histograms["latency_corrected"]["p99"] or 0,
        send_lag_p99_us=histograms["send_lag"]["p99"] or 0,
        loop_delay_p99_us=histograms["event_loop_delay"]["p99"] or 0,
        client_cpu=document["generator"]["cpu_percent"] or 0.0,
        server_cpu=server_cpu,
        flags=document["flags"],
    )


def measure(args: argparse.Namespace) -> tuple[int | None, list[Step]]:
    port = free_port()
    server = start_server(port, args.server_cpus)
    steps: list[Step] = []
    ceiling = None
    bound_us = args.p99_ms * 1000
    try:
        with tempfile.TemporaryDirectory(prefix="wsbench-ceiling-") as directory:
            for rate in args.rates:
                step = run_step(args, port, server.pid, rate, Path(directory))
                print(step.line(bound_us), flush=True)
                if not step.sustained(bound_us):
                    step = run_step(args, port, server.pid, rate, Path(directory))
                    print(step.line(bound_us) + " (again)", flush=True)
                steps.append(step)
                if not step.sustained(bound_us):
                    break
                ceiling = rate
    finally:
        server.terminate()
        server.wait(timeout=10)
    return ceiling, steps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--duration-s", type=float, default=3.0)
    parser.add_argument("--warmup-s", type=float, default=1.0)
    parser.add_argument("--p99-ms", type=float, default=5.0, help="bound on the corrected p99")
    parser.add_argument("--client-cpus", default="1", help="taskset CPU list of the client")
    parser.add_argument("--server-cpus", default="0", help="taskset CPU list of the echo server")
    parser.add_argument("--rates", type=int, nargs="+", default=RATES, help="rising echo rates")
    parser.add_argument("--json", type=Path, help="also write the steps here (must not exist)")
    args = parser.parse_args()
    if args.json is not None and args.json.exists():
        parser.error(f"{args.json} exists already")
    print(
        f"wsbench ceiling: {args.connections} connections, {args.duration_s:g} s per rate "
        f"(+{args.warmup_s:g} s warm-up), client on CPU {args.client_cpus}, "
        f"echo server on CPU {args.server_cpus}, p99 bound {args.p99_ms:g} ms"
    )
    ceiling, steps = measure(args)
    print(
        f"ceiling: {ceiling} messages/s sustained with corrected p99 <= {args.p99_ms:g} ms"
        if ceiling
        else "ceiling: not reached at the lowest rate"
    )
    # What one core would carry at the client's measured cost per message, were it the client's
    # alone: the bound a quiet machine approaches; the ceiling above is what this one gave.
    costs = [s.client_cpu_us_per_message for s in steps if s.sustained(args.p99_ms * 1000)]
    if costs:
        cost = min(costs)
        print(f"client CPU per message: {cost:.1f} us (one core: {1e6 / cost:.0f} messages/s)")
    if args.json is not None:
        with args.json.open("x") as stream:
            json.dump({"ceiling": ceiling, "steps": [s.__dict__ for s in steps]}, stream)
    return 0


if __name__ == "__main__":
    sys.exit(main())
