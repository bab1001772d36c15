"""Helpers of the WebSocket client's tests: where things are, free ports, running the client."""

from __future__ import annotations

import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CLIENT = REPO / "roles" / "wsbench" / "files" / "wsbench.py"
TEST_SERVER = Path(__file__).resolve().parent / "ws_test_server.py"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    port: int
    process: subprocess.Popen[str]

    def url(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}{path}"


def run_client(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The client as a user runs it: its own process, the controller venv's Python."""
    return subprocess.run(
        [sys.executable, str(CLIENT), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
