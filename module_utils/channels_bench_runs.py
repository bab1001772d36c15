"""Runs on disk: closing a run whose controller is gone, and writing run.json safely. Standard
library only: imported by the bench_run Ansible module (ansible.module_utils) and by
scripts/run_status.py."""

from __future__ import annotations

import json
import os
import signal
import socket
import tempfile
from collections.abc import Mapping
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


def write(path: Path, data: Mapping[str, Any]) -> None:
    """run.json through a temporary file renamed over it: a reader never sees half a file."""
    descriptor, temporary = tempfile.mkstemp(prefix=".run-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(data, indent=2) + "\n")
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


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
    """A running run's run.json closed with status; False when it is not running."""
    data = read(path)
    if data is None or data.get("status") != "running":
        return False
    data.update({"status": status, "ended_at": now(), "failure": data.get("failure") or failure})
    write(path, data)
    return True


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


def abandon(results_dir: Path) -> list[str]:
    """Every run still "running" whose owner (run.json owner.pid on this host) is gone becomes
    "abandoned", and a load generator of it still running here is stopped. One line per run."""
    host = socket.gethostname()
    said = []
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
            pids = ", ".join(map(str, stopped))
            extra = f"; stopped its load generator (pid {pids})" if stopped else ""
            said.append(f"{path.parent.name}: abandoned ({message}){extra}")
    return said


def create(results_dir: Path, run_id: str, run: Mapping[str, Any]) -> list[str]:
    """A new run: the results directory (made if missing), runs of dead controllers closed, the
    run's own directory made exclusively (FileExistsError when it exists: a run never writes
    into another), run.json written, and results/latest pointed at it."""
    results_dir.mkdir(mode=0o755, parents=True, exist_ok=True)
    closed = abandon(results_dir)
    run_dir = results_dir / run_id
    run_dir.mkdir(mode=0o755)
    write(run_dir / "run.json", run)
    latest, temporary = results_dir / "latest", results_dir / f".latest-{os.getpid()}"
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(run_id)
    os.replace(temporary, latest)
    return closed
