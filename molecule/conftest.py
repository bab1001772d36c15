"""Shared fixtures of the scenarios' testinfra tests (pytest finds this file above each tests/).

molecule runs testinfra with its Ansible inventory. For a podman container testinfra would then
run every command through a round of Ansible (a second or more each); the fixtures below reach
the same container through its engine (`podman exec`, `docker exec`) instead.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import testinfra
import yaml

REPOSITORY = Path(__file__).resolve().parent.parent

# Ansible connection plugins that run a container engine's exec, and that engine's testinfra
# backend.
ENGINE_CONNECTIONS = {
    "podman": "podman",
    "containers.podman.podman": "podman",
    "docker": "docker",
    "community.docker.docker": "docker",
}


@pytest.fixture(scope="module")
def inventory_vars(_testinfra_host) -> dict[str, Any]:
    """The host's variables in molecule's inventory (as written, not templated)."""
    return dict(_testinfra_host.ansible.get_variables())


@pytest.fixture(scope="module")
def host(_testinfra_host, inventory_vars):
    """The instance under test, through its container engine where it is a container."""
    engine = ENGINE_CONNECTIONS.get(str(inventory_vars.get("ansible_connection", "")))
    if engine is None:
        return _testinfra_host
    return testinfra.get_host(f"{engine}://{inventory_vars['inventory_hostname']}")


def _canonical(name: str) -> str:
    """A pip project name in its canonical form (PEP 503): `asgi_redis` -> `asgi-redis`."""
    return re.sub(r"[-_.]+", "-", name).lower()


@pytest.fixture(scope="session")
def canonical():
    """The function that puts a pip project name in canonical form."""
    return _canonical


@pytest.fixture(scope="session")
def catalogue() -> dict[str, Any]:
    """The repository's catalogue.yml: the stacks and setups the roles install and run."""
    with (REPOSITORY / "catalogue.yml").open(encoding="utf-8") as stream:
        return dict(yaml.safe_load(stream))


@pytest.fixture(scope="session")
def role_file():
    """Reads a YAML file of a role here, e.g. role_file("python_stack", "vars/main.yml")."""

    def read(role: str, relative: str) -> dict[str, Any]:
        with (REPOSITORY / "roles" / role / relative).open(encoding="utf-8") as stream:
            return dict(yaml.safe_load(stream))

    return read


@pytest.fixture(scope="module")
def pip_freeze(host):
    """`pip freeze` of the environment of a python, as {canonical project name: version}."""

    def freeze(python: str) -> dict[str, str]:
        listing = host.check_output("%s -m pip freeze --all --disable-pip-version-check", python)
        frozen = {}
        for line in listing.splitlines():
            name, separator, version = line.partition("==")
            if separator:
                frozen[_canonical(name)] = version.strip()
        return frozen

    return freeze
