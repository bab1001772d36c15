"""The 2026 project (testproject.today) served for real by daphne and by uvicorn with two worker
processes, over a Redis of the test's own: the view at "/", a WebSocket echo round trip, and a
group message through Redis delivered to every subscriber, measured by the WebSocket client.

The stack comes from testproject/testproject/today/requirements.txt: a virtualenv built once
under .cache/ from CPython 3.12 or 3.13 (or the one CHANNELS_BENCH_2026_VENV names). Without
such a Python or without redis-server the tests skip, saying which is missing."""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from wsbench_helpers import REPO, free_port

PROJECT = REPO / "testproject"
REQUIREMENTS = PROJECT / "testproject" / "today" / "requirements.txt"
PIP = "pip==26.3"
SETUPTOOLS = "setuptools==84.2.1"
ASGI = "testproject.today.asgi:application"


def find_python() -> str | None:
    candidates = [
        *sorted(glob.glob("/root/.pyenv/versions/3.1[23].*/bin/python3.1[23]"), reverse=True),
        *sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.1[23].*/bin/python3.1[23]"))),
        shutil.which("python3.13"),
        shutil.which("python3.12"),
    ]
    return next((c for c in candidates if c and os.access(c, os.X_OK)), None)


def build_venv(python: str, target: Path) -> None:
    """Build in place (a venv's scripts name its path), marking it complete only at the end:
    a build that failed half way is removed and built again next time."""
    shutil.rmtree(target, ignore_errors=True)
    subprocess.run([python, "-m", "venv", str(target)], check=True)
    pip = [str(target / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, PIP, SETUPTOOLS], check=True)
    subprocess.run([*pip, "--no-deps", "-r", str(REQUIREMENTS)], check=True)
    subprocess.run([str(target / "bin" / "python"), "-m", "pip", "check"], check=True)
    (target / ".complete").write_text("ok\n")


@pytest.fixture(scope="session")
def stack_bin() -> Path:
    given = os.environ.get("CHANNELS_BENCH_2026_VENV")
    if given:
        return Path(given) / "bin"
    python = find_python()
    if python is None:
        pytest.skip("the 2026 stack needs CPython 3.12 or 3.13 (pyenv install 3.12) to build")
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()[:12]
    venv = REPO / ".cache" / f"stack2026-{digest}"
    if not (venv / ".complete").exists():
        build_venv(python, venv)
    return venv / "bin"


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("the Redis channel layer needs redis-server (apt-get install redis-server)")
    port = free_port()
    directory = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(directory)],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    wait_for_port(port, process, directory / "none.log")
    yield url
    process.terminate()
    process.wait(timeout=10)


def wait_for_port(port: int, process: subprocess.Popen[Any], log: Path) -> None:
    import socket

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    process.kill()
    text = log.read_text() if log.exists() else ""
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}; its log:\n{text}")


def serve(stack_bin: Path, redis_url: str, argv: list[str], log: Path, port: int) -> Any:
    env = dict(os.environ, CHANNELS_BENCH_LAYER="redis", CHANNELS_BENCH_REDIS_URL=redis_url)
    env["PATH"] = f"{stack_bin}{os.pathsep}{env['PATH']}"
    with log.open("w") as stream:
        process = subprocess.Popen(
            [str(stack_bin / argv[0]), *argv[1:]],
            cwd=PROJECT,
            env=env,
            stdout=stream,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    wait_for_port(port, process, log)
    return process


SERVERS = {
    "daphne": lambda port: ["daphne", "-v", "0", "-b", "127.0.0.1", "-p", str(port), ASGI],
    "uvicorn": lambda port: [
        "uvicorn",
        ASGI,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "2",
        "--no-access-log",
        "--log-level",
        "warning",
        "--lifespan",
        "off",
    ],
}


@pytest.fixture(scope="module", params=sorted(SERVERS))
def served(request, stack_bin, redis_url, tmp_path_factory) -> Iterator[int]:
    port = free_port()
    log = tmp_path_factory.mktemp(request.param) / "server.log"
    process = serve(stack_bin, redis_url, SERVERS[request.param](port), log, port)
    yield port
    os.killpg(process.pid, 15)
    process.wait(timeout=20)


def test_the_2016_view_answers_at_the_root(served):
    with urllib.request.urlopen(f"http://127.0.0.1:{served}/", timeout=10) as response:
        body = response.read().decode()
        assert response.status == 200
    # The very view of 2016, not a copy: its text is in the untouched views.py.
    views = (PROJECT / "testproject" / "views.py").read_text()
    assert body.endswith("\n") and f'"{body[:-1]}\\n"' in views


def test_echo_round_trip(served, wsbench: ModuleType, tmp_path):
    document = wsbench.run_spec(
        {
            "test": "ws-echo",
            "url": f"ws://127.0.0.1:{served}/ws/echo/",
            "output": str(tmp_path / "echo.json"),
            "connections": 2,
            "rate": 50,
            "duration_s": 1,
            "warmup_s": 0.2,
        }
    )
    messages = document["harness"]["messages"]
    assert messages["sent"] == pytest.approx(50, abs=2)
    assert messages["received"] == messages["sent"] and messages["lost"] == 0
    assert document["harness"]["errors"] == 0


def test_group_message_through_redis_reaches_every_subscriber(served, wsbench, tmp_path):
    document = wsbench.run_spec(
        {
            "test": "ws-fanout",
            "url": f"ws://127.0.0.1:{served}/ws/fanout/{{group}}/",
            "output": str(tmp_path / "fanout.json"),
            "groups": 2,
            "subscribers": 4,
            "rate": 10,
            "duration_s": 1,
            "warmup_s": 0.2,
            "message_timeout_s": 5,
        }
    )
    subscribers = document["subscribers"]
    assert len(subscribers) == 8
    for subscriber in subscribers:
        assert subscriber["expected"] >= 9
        assert subscriber["received"] == subscriber["expected"] and subscriber["lost"] == 0
        assert subscriber["duplicates"] == subscriber["out_of_order"] == 0
    assert document["harness"]["errors"] == 0


def test_the_held_connection_stays_open(served, wsbench, tmp_path):
    document = wsbench.run_spec(
        {
            "test": "ws-connect",
            "url": f"ws://127.0.0.1:{served}/ws/connect/",
            "output": str(tmp_path / "connect.json"),
            "steps": [5, 10],
            "hold_s": 0.5,
            "warmup_s": 0,
        }
    )
    assert [s["held_at_end"] for s in document["steps"]] == [5, 10]
    assert document["harness"]["errors"] == 0


@pytest.mark.parametrize(
    ("layer", "backend"),
    [
        ("redis", "channels_redis.core.RedisChannelLayer"),
        ("redis-pubsub", "channels_redis.pubsub.RedisPubSubChannelLayer"),
        ("memory", "channels.layers.InMemoryChannelLayer"),
        (None, "channels_redis.core.RedisChannelLayer"),
    ],
)
def test_the_layer_comes_from_the_environment(stack_bin, layer, backend):
    env = {k: v for k, v in os.environ.items() if k != "CHANNELS_BENCH_LAYER"}
    if layer is not None:
        env["CHANNELS_BENCH_LAYER"] = layer
    env["CHANNELS_BENCH_REDIS_URL"] = "redis://127.0.0.1:1/3"
    printed = subprocess.run(
        [str(stack_bin / "python"), "-c", LAYERS_SCRIPT],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert printed.split() == [backend, "redis://127.0.0.1:1/3" if "redis" in backend else "-"]


LAYERS_SCRIPT = """
import os
os.environ["DJANGO_SETTINGS_MODULE"] = "testproject.today.settings"
import django
django.setup()
from django.conf import settings
layer = settings.CHANNEL_LAYERS["default"]
print(layer["BACKEND"], layer.get("CONFIG", {}).get("hosts", ["-"])[0])
"""


def test_an_unknown_layer_stops_the_server_naming_the_choices(stack_bin, tmp_path):
    port = free_port()
    env = dict(os.environ, CHANNELS_BENCH_LAYER="rabbitmq")
    completed = subprocess.run(
        [str(stack_bin / "daphne"), "-b", "127.0.0.1", "-p", str(port), ASGI],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode != 0
    assert "CHANNELS_BENCH_LAYER='rabbitmq'" in completed.stderr
    assert "choose one of redis, redis-pubsub, memory" in completed.stderr
