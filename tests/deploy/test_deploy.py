"""Deploy each of the seed's setups on localhost for real and check what a user relies on.

These run the real roles: the 2016 stack in a Python 3.6 virtualenv, supervisord, redis-server,
and the setups answering HTTP on 127.0.0.1:8000 (the local inventory's port).
"""

from __future__ import annotations

import http.client
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import run_playbook

pytestmark = pytest.mark.deploy

PORT = 8000
STACK_VENV = Path("/opt/channels-bench/stacks/2016")
CONF_D = Path("/etc/channels-bench/supervisor/conf.d")
SUPERVISORCTL = [
    "/opt/channels-bench/supervisor/bin/supervisorctl",
    "-c",
    "/etc/channels-bench/supervisor/supervisord.conf",
]
PINS_2016 = {
    "django": "1.10.8",
    "channels": "0.17.3",
    "daphne": "0.14.3",
    "asgi-redis": "0.14.0",
    "asgi-ipc": "1.1.0",
    "asgiref": "0.14.0",
    "twisted": "16.2.0",
    "autobahn": "0.16.0",
    "txaio": "2.5.1",
    "redis": "2.10.5",
    "msgpack-python": "0.4.8",
    "gunicorn": "19.6.0",
}
GROUPS = {"gunicorn": "django_http", "redis": "django_channels", "ipc": "django_channels"}
SERVER_HEADER = {"gunicorn": "gunicorn/19.6.0", "redis": None, "ipc": None}


def get(path: str = "/") -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def pip_freeze() -> dict[str, str]:
    out = subprocess.run(
        [str(STACK_VENV / "bin" / "pip"), "freeze", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    pairs = (line.split("==", 1) for line in out.splitlines() if "==" in line)
    return {name.lower().replace("_", "-"): version for name, version in pairs}


def supervisor_status() -> str:
    return subprocess.run([*SUPERVISORCTL, "status"], capture_output=True, text=True).stdout


def deploy(setup: str, *extra: str) -> tuple[int, str, dict[str, int] | None]:
    run = run_playbook("playbooks/deploy.yml", "-e", f"setup={setup}", *extra)
    recap = run.recap() if "PLAY RECAP" in run.output else None
    return run.returncode, run.output, recap


@pytest.mark.parametrize("setup", ["gunicorn", "redis", "ipc"])
def test_each_setup_serves_the_pinned_stack_and_redeploys_unchanged(setup: str) -> None:
    rc, output, _ = deploy(setup)
    assert rc == 0, output[-4000:]

    status, headers, body = get()
    assert status == 200
    assert b"Django Channels load-test view" in body
    if SERVER_HEADER[setup]:
        assert headers.get("Server") == SERVER_HEADER[setup]
    else:
        assert "gunicorn" not in headers.get("Server", "")

    frozen = pip_freeze()
    for package, version in PINS_2016.items():
        assert frozen.get(package) == version, f"{package}: {frozen.get(package)} != {version}"

    # Only the chosen setup's group is configured and running.
    assert sorted(p.name for p in CONF_D.glob("*.conf")) == [f"{GROUPS[setup]}.conf"]
    lines = [line for line in supervisor_status().splitlines() if line.strip()]
    assert lines and all(line.startswith(f"{GROUPS[setup]}:") for line in lines), lines
    assert all(" RUNNING " in line for line in lines), lines

    rc, output, recap = deploy(setup)
    assert rc == 0, output[-4000:]
    assert recap is not None and recap["changed"] == 0, output[-6000:]


def test_python_stack_runs_on_a_36_interpreter() -> None:
    version = subprocess.run(
        [str(STACK_VENV / "bin" / "python"), "-c", "import sys; print(sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert version in {"(3, 4)", "(3, 5)", "(3, 6)"}


@pytest.fixture
def deployed_gunicorn() -> Iterator[None]:
    rc, output, _ = deploy("gunicorn")
    assert rc == 0, output[-4000:]
    yield


def config_snapshot() -> dict[str, str]:
    return {p.name: p.read_text() for p in CONF_D.glob("*.conf")}


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            ["-e", "setup=bogus"],
            "Unknown setup '2016/bogus': stack 2016 has 2016/gunicorn, 2016/redis, 2016/ipc",
        ),
        (["-e", "setup=ipc", "-e", "stack=1999"], "Unknown stack '1999': choose one of 2016"),
        (["-e", "setup=1999/ipc"], "Unknown stack '1999' in setup '1999/ipc'"),
        (
            ["-e", "setup=ipc", "-e", "asgi_ipc_version=1.x"],
            "Version '1.x' of asgi_ipc is malformed",
        ),
        (["-e", "setup=all"], "deploy.yml runs one setup at a time"),
    ],
)
def test_bad_input_fails_before_anything_changes(
    deployed_gunicorn: None, extra: list[str], expected: str
) -> None:
    before = config_snapshot()
    run = run_playbook("playbooks/deploy.yml", *extra)
    assert run.returncode != 0
    assert expected in " ".join(run.output.split()), run.output[-3000:]
    assert config_snapshot() == before
    assert get()[0] == 200


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_port_held_by_another_process_is_named(deployed_gunicorn: None) -> None:
    port = free_port()
    holder = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(50):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        before = config_snapshot()
        run = run_playbook(
            "playbooks/deploy.yml", "-e", "setup=redis", "-e", f"channels_setup_port={port}"
        )
        text = " ".join(run.output.split())
        assert run.returncode != 0
        assert f"Port {port} is already in use by a process this harness did not start" in text
        assert f"pid {holder.pid}" in text
        assert config_snapshot() == before
    finally:
        holder.terminate()
        holder.wait(timeout=10)


def test_a_program_that_cannot_start_fails_the_play_with_its_log(deployed_gunicorn: None) -> None:
    try:
        run = run_playbook(
            "playbooks/deploy.yml",
            "-e",
            "setup=gunicorn",
            "-e",
            "channels_setup_venv=/nonexistent",
            "-e",
            "channels_setup_ready_timeout=6",
        )
        assert run.returncode != 0
        assert "Setup 2016/gunicorn did not answer HTTP 200" in run.output
        assert "==> /var/log/channels-bench/gunicorn.log <==" in run.output
        # What this start wrote: gunicorn is not on the broken PATH.
        assert "No such file or directory" in run.output or "ENOENT" in run.output
    finally:
        rc, output, _ = deploy("gunicorn")
        assert rc == 0, output[-3000:]
