#!/usr/bin/env python3
"""Close runs whose controller is gone, so that run.json never says "running" for a dead run.

  run_status.py interrupted RUN_DIR    the controller was stopped (Ctrl-C): status interrupted
  run_status.py abandon RESULTS_DIR    every run still "running" whose owner process (run.json
                                       owner.pid on owner.hostname, this host) no longer exists
                                       becomes "abandoned", and a load generator of it still
                                       running here is stopped; prints each one

Only run.json's status, ended_at and failure change; nothing measured is touched. The new
run.json is written to a temporary file and renamed over the old one, so a reader never sees
half a file.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write(path: Path, data: dict[str, Any]) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.chmod(temporary, 0o644)
    os.replace(temporary, path)


def alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 1:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def close(path: Path, status: str, failure: str) -> bool:
    data = read(path)
    if data is None or data.get("status") != "running":
        return False
    data.update({"status": status, "ended_at": now(), "failure": data.get("failure") or failure})
    write(path, data)
    return True


def interrupted(run_dir: Path) -> int:
    closed = close(run_dir / "run.json", "interrupted", "interrupted by the user (SIGINT)")
    print(f"run_status: {run_dir.name}: {'interrupted' if closed else 'left as it was'}")
    return 0


def stop_generators(run_id: str) -> list[int]:
    """SIGTERM to every load generator (driver.mjs, wsbench.py) of the run still running here: an
    orphaned Ansible worker of a killed controller can keep one going until its own bound."""
    stopped = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if f"/{run_id}/" in command and ("driver.mjs" in command or "wsbench.py" in command):
            try:
                os.kill(int(entry.name), signal.SIGTERM)
                stopped.append(int(entry.name))
            except (ProcessLookupError, PermissionError):
                pass
    return stopped


def abandon(results_dir: Path) -> int:
    host = socket.gethostname()
    for path in sorted(results_dir.glob("*/run.json")):
        data = read(path)
        if data is None or data.get("status") != "running":
            continue
        owner = data.get("owner") or {}
        if owner.get("hostname") != host or alive(owner.get("pid")):
            continue
        message = f"its controller (pid {owner.get('pid')} on {host}) ended without closing it"
        if close(path, "abandoned", message):
            stopped = stop_generators(path.parent.name)
            extra = (
                f"; stopped its load generator (pid {', '.join(map(str, stopped))})"
                if stopped
                else ""
            )
            print(f"run_status: {path.parent.name}: abandoned ({message}){extra}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["interrupted", "abandon"])
    parser.add_argument("path", type=Path)
    arguments = parser.parse_args(argv)
    if not arguments.path.is_dir():
        print(f"run_status: {arguments.path}: not a directory", file=sys.stderr)
        return 2
    if arguments.action == "interrupted":
        return interrupted(arguments.path)
    return abandon(arguments.path)


if __name__ == "__main__":
    sys.exit(main())
