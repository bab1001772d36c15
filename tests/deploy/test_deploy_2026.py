"""Deploy each setup of the 2026 stack on localhost for real: the pinned stack in a CPython 3.12
virtualenv, the server under supervisord, the plain view over HTTP, a WebSocket echo round trip,
and a group message through the redis channel layer to every subscriber."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

import pytest
from websockets.sync.client import connect

from tests.conftest import run_playbook
from tests.deploy.test_deploy import SUPERVISORCTL, config_snapshot, get

pytestmark = pytest.mark.deploy

VENV = Path("/opt/channels-bench/stacks/2026")
ASGI = ["2026/daphne", "2026/daphne-n", "2026/uvicorn", "2026/gunicorn-uvicorn", "2026/granian"]
WS = "ws://127.0.0.1:8000"


def deploy(setup: str, *extra: str) -> str:
    run = run_playbook("playbooks/deploy.yml", "-e", f"setup={setup}", *extra)
    assert run.returncode == 0, run.output[-5000:]
    return run.output


def echo_round_trip() -> str:
    with connect(f"{WS}/ws/echo/", open_timeout=10) as websocket:
        websocket.send("hello 2026")
        return str(websocket.recv(timeout=10))


def group_message(subscribers: int = 3) -> list[str]:
    """A message sent by one member of a new group reaches every member (the sender too)."""
    group = f"g{uuid.uuid4().hex[:8]}"
    with ExitStack() as stack:
        members = [
            stack.enter_context(connect(f"{WS}/ws/fanout/{group}/", open_timeout=10))
            for _ in range(subscribers)
        ]
        time.sleep(0.5)  # each joins the group before it accepts; let the last one settle
        members[0].send(json.dumps({"seq": 1, "sent_ns": time.monotonic_ns()}))
        return [str(member.recv(timeout=10)) for member in members]


def running_programs() -> list[str]:
    out = subprocess.run([*SUPERVISORCTL, "status"], capture_output=True, text=True).stdout
    return [line.split()[0] for line in out.splitlines() if " RUNNING " in line]


def test_the_2026_stack_runs_on_python_312_at_its_pins() -> None:
    deploy("2026/gunicorn")
    version = subprocess.run(
        [str(VENV / "bin" / "python"), "-c", "import sys; print(sys.version_info[:2])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert version == "(3, 12)"
    frozen = subprocess.run(
        [str(VENV / "bin" / "pip"), "freeze"], capture_output=True, text=True, check=True
    ).stdout.lower().replace("_", "-")
    for pin in ("django==5.2.19", "channels==4.3.2", "daphne==4.2.3", "channels-redis==4.3.0",
                "uvicorn==0.54.0", "granian==2.8.9", "gunicorn==27.0.1"):  # fmt: skip
        assert pin in frozen, pin
    status, _, body = get()
    assert status == 200 and b"Django Channels load-test view" in body


@pytest.mark.parametrize("setup", ASGI)
def test_each_asgi_setup_serves_http_an_echo_and_a_group_message(setup: str) -> None:
    deploy(setup)
    status, _, body = get()
    assert status == 200 and b"Django Channels load-test view" in body
    assert echo_round_trip() == "hello 2026"
    received = group_message()
    assert len(received) == 3 and len(set(received)) == 1
    assert json.loads(received[0])["seq"] == 1


def test_daphne_n_runs_n_processes_on_one_port() -> None:
    # Unpinned, the server may use both cores: N = 2 daphnes behind supervisord's one socket.
    deploy("2026/daphne-n", "-e", "bench_pin_cpus=false")
    programs = running_programs()
    # supervisord runs an fcgi-program as a group of its own, named after the setup's group.
    assert sorted(p for p in programs if p.startswith("today_asgi:")) == [
        "today_asgi:today_asgi_00", "today_asgi:today_asgi_01",
    ]
    # Every connection is served, whichever process takes it.
    assert all(echo_round_trip() == "hello 2026" for _ in range(6))
    deploy("2026/daphne")


def test_the_memory_layer_carries_a_group_message_within_one_process() -> None:
    deploy("2026/daphne@layer=memory")
    received = group_message(subscribers=2)
    assert len(received) == 2 and len(set(received)) == 1


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["-e", "setup=2026/bogus"], "Unknown setup '2026/bogus': stack 2026 has 2026/gunicorn"),
        (["-e", "setup=ipc", "-e", "stack=2026"], "Unknown setup '2026/ipc': stack 2026 has"),
        (
            ["-e", "setup=2026/uvicorn", "-e", '{"channels_setup_processes": {"uvicorn": 3}}'],
            "3 uvicorn processes is more than the 1 cores available to the server",
        ),
        (
            ["-e", "setup=2026/uvicorn@layer=memory", "-e", "bench_pin_cpus=false",
             "-e", '{"channels_setup_processes": {"uvicorn": 2}}'],
            "its channel layer works with 1 process at most",
        ),
        (["-e", "setup=2026/daphne@layer=rabbitmq"], "choose one of redis, redis-pubsub, memory"),
    ],
)  # fmt: skip
def test_bad_2026_input_fails_before_anything_changes(extra: list[str], expected: str) -> None:
    before = config_snapshot()
    run = run_playbook("playbooks/deploy.yml", *extra)
    assert run.returncode != 0
    assert expected in " ".join(run.output.split()), run.output[-3000:]
    assert config_snapshot() == before
