"""python_stack: a virtualenv on CPython 3.6 holding exactly the 2016 stack's pins."""

from __future__ import annotations

import pytest

VENV = "/opt/channels-bench/stacks/2016"
PYTHON = f"{VENV}/bin/python"

# The modules the three setups import (gunicorn, daphne with either channel layer, runworker).
STACK_MODULES = ["django", "channels", "daphne", "asgi_redis", "asgi_ipc", "gunicorn", "twisted"]


@pytest.fixture(scope="module")
def release(catalogue) -> dict:
    return catalogue["stacks"]["2016"]


@pytest.fixture(scope="module")
def frozen(pip_freeze) -> dict[str, str]:
    return pip_freeze(PYTHON)


def test_venv_runs_cpython_36(host):
    version = host.check_output(
        "%s -c %s", PYTHON, "import sys; print('%d.%d' % sys.version_info[:2])"
    )
    assert version == "3.6"


def test_every_pin_installed_at_its_version(frozen, release, canonical):
    expected = {canonical(name): version for name, version in release["pins"].items()}
    wrong = {
        name: frozen.get(name) for name, version in expected.items() if frozen.get(name) != version
    }
    assert not wrong, f"installed versions differing from the pins: {wrong}"


def test_pip_and_setuptools_at_the_stack_versions(frozen, release):
    assert frozen.get("pip") == release["pip_version"]
    assert frozen.get("setuptools") == release["setuptools_version"]


def test_nothing_unpinned_pulled_in(frozen, release, canonical):
    allowed = {canonical(name) for name in release["pins"]} | {"pip", "setuptools", "wheel"}
    assert sorted(set(frozen) - allowed) == []


def test_installed_requirements_recorded(host):
    rendered = host.file(f"{VENV}/channels-bench-requirements.txt")
    installed = host.file(f"{VENV}/channels-bench-requirements.installed")
    assert installed.is_file
    assert installed.sha256sum == rendered.sha256sum


@pytest.mark.parametrize("module", STACK_MODULES)
def test_module_imports_as_the_program_account(host, module):
    # nobody stands in for the programs' account: it must get through /root to the interpreter.
    result = host.run("sudo -u nobody %s -c %s", PYTHON, f"import {module}")
    assert result.rc == 0, result.stderr


def test_pip_ran_as_the_unprivileged_owner_not_root(host):
    # Every file pip and the packages' build scripts wrote belongs to channels-bench: none of
    # their code ran as root. The programs' account can read the stack but not change it.
    assert host.user("channels-bench").uid != 0
    not_owned = host.check_output("find %s ! -user channels-bench -print -quit", VENV)
    assert not_owned == ""
    where = "import django, os; print(os.path.dirname(django.__file__))"
    site = host.check_output("%s -c %s", PYTHON, where)
    assert host.run("sudo -u nobody test -w %s", site).rc != 0
