"""Fixtures of the WebSocket client's tests: the client itself, and servers on loopback."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from types import ModuleType

import pytest
from wsbench_helpers import CLIENT, TEST_SERVER, Server, free_port


@pytest.fixture(scope="session")
def wsbench() -> ModuleType:
    """The client as a module (its directory holds the rule book it imports)."""
    sys.path.insert(0, str(CLIENT.parent))
    import wsbench as module

    return module


@pytest.fixture(scope="session")
def test_server() -> Iterator[Server]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(TEST_SERVER), str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if line.strip() != "ready":
        process.kill()
        raise RuntimeError(f"the test server did not start: {line}{process.stdout.read()}")
    yield Server(port, process)
    process.terminate()
    process.wait(timeout=10)
