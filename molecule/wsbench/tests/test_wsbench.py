"""wsbench: the client's virtualenv at its pins, the client running, and a real measurement."""

from __future__ import annotations

import json

import pytest

ROOT = "/opt/channels-bench/wsbench"
PYTHON = f"{ROOT}/venv/bin/python"
ECHO_PORT = 18390


@pytest.fixture(scope="module")
def pins(role_file) -> dict:
    return role_file("wsbench", "vars/main.yml")["wsbench_requirements"]


ECHO_SERVER = (
    "import asyncio\n"
    "from websockets.asyncio.server import serve\n"
    "async def echo(c):\n"
    "    async for m in c: await c.send(m)\n"
    "async def main():\n"
    f"    async with serve(echo, '127.0.0.1', {ECHO_PORT}): await asyncio.Future()\n"
    "asyncio.run(main())\n"
)


def with_echo_server(host, command: str):
    """Run command while a websockets echo server (from the client's own venv) listens on the
    container's loopback: both in one `podman exec`, which ends whatever it started."""
    host.check_output("printf %%s %s > /tmp/molecule-echo.py", ECHO_SERVER)
    return host.run(
        f"{PYTHON} /tmp/molecule-echo.py >/tmp/molecule-echo.log 2>&1 & server=$!;"
        f" for try in $(seq 300); do (exec 3<>/dev/tcp/127.0.0.1/{ECHO_PORT}) 2>/dev/null && break;"
        f" sleep 0.1; done; {command}; status=$?; kill $server; cat /tmp/molecule-echo.log >&2;"
        " exit $status"
    )


def test_python_in_range(host):
    version = host.check_output("%s -c 'import sys; print(*sys.version_info[:2])'", PYTHON)
    assert (3, 11) <= tuple(map(int, version.split())) <= (3, 13)


def test_packages_at_their_pins(host, pip_freeze, canonical, pins):
    frozen = pip_freeze(PYTHON)
    for name, version in pins.items():
        assert frozen.get(canonical(name)) == version, name


def test_pip_ran_as_the_unprivileged_account(host):
    assert host.user("channels-bench").uid != 0
    assert host.check_output("find %s/venv ! -user channels-bench -print -quit", ROOT) == ""


def test_help_and_self_check(host):
    assert "ws-fanout" in host.check_output("%s %s/wsbench.py --help", PYTHON, ROOT)
    assert host.check_output("%s %s/wsbench.py --self-check", PYTHON, ROOT).startswith(
        "wsbench self-check: ok"
    )


def test_an_echo_measurement_is_written_once(host):
    host.run("rm -rf /tmp/molecule-wsbench")
    spec = {
        "test": "ws-echo",
        "url": f"ws://127.0.0.1:{ECHO_PORT}/",
        "output": "/tmp/molecule-wsbench/echo.json",
        "connections": 2,
        "rate": 50,
        "duration_s": 1,
        "warmup_s": 0.2,
    }
    host.check_output(
        "mkdir -p /tmp/molecule-wsbench && echo %s > /tmp/molecule-wsbench/spec.json",
        json.dumps(spec),
    )
    run = with_echo_server(
        host, f"timeout 60 {PYTHON} {ROOT}/wsbench.py /tmp/molecule-wsbench/spec.json"
    )
    assert run.rc == 0, run.stdout + run.stderr
    document = json.loads(host.file(spec["output"]).content_string)
    messages = document["harness"]["messages"]
    assert messages["sent"] > 0 and messages["received"] == messages["sent"]
    again = host.run("timeout 60 %s %s/wsbench.py /tmp/molecule-wsbench/spec.json", PYTHON, ROOT)
    assert again.rc == 2 and "exists already" in again.stderr
