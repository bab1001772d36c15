"""supervisor: a pinned supervisord from its own virtualenv, running what conf.d holds."""

from __future__ import annotations

import re

import pytest


@pytest.fixture(scope="module")
def defaults(role_file) -> dict:
    return role_file("supervisor", "defaults/main.yml")


# The role's paths when Ansible runs as root (defaults/main.yml), as it does in the container.
VENV = "/opt/channels-bench/supervisor"
CONF = "/etc/channels-bench/supervisor/supervisord.conf"
SOCKET = "/opt/channels-bench/run/supervisor.sock"


def supervisorctl(host, *arguments: str):
    return host.run(
        f"{VENV}/bin/supervisorctl -c {CONF} " + " ".join(["%s"] * len(arguments)), *arguments
    )


def test_supervisor_pinned_in_its_venv(pip_freeze, defaults):
    assert pip_freeze(f"{VENV}/bin/python").get("supervisor") == defaults["supervisor_version"]


def test_supervisord_running_from_the_venv(host):
    pid = supervisorctl(host, "pid")
    assert pid.rc == 0, pid.stdout + pid.stderr
    assert re.fullmatch(r"\d+", pid.stdout.strip())
    command_line = host.file(f"/proc/{pid.stdout.strip()}/cmdline").content_string
    assert f"{VENV}/bin/supervisord" in command_line


def test_control_socket_private_to_root(host):
    socket = host.file(SOCKET)
    assert socket.is_socket
    assert socket.user == "root"
    assert socket.mode == 0o700


def test_program_from_include_directory_running(host):
    status = supervisorctl(host, "status", "molecule_sleeper")
    assert re.search(r"^molecule_sleeper\s+RUNNING\s", status.stdout, re.M), status.stdout


def test_supervisord_raised_its_open_file_limit(host, defaults):
    pid = supervisorctl(host, "pid").stdout.strip()
    limits = host.file(f"/proc/{pid}/limits").content_string
    soft = re.search(r"^Max open files\s+(\d+)", limits, re.M)
    assert soft and int(soft.group(1)) >= defaults["supervisor_minfds"]
