"""The loadtest role's look at a host (roles/loadtest/library/loadtest_probe.py), run against
this machine's real node, npm, dpkg and wrk and a loadtest directory of the test's own. The role
installs only what it reports missing, so a probe that says "there" wrongly leaves a host
without loadtest or wrk, and one that says "missing" wrongly costs an install on every run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from harness_helpers import ROOT

from tests.unit.conftest import load

NODE = shutil.which("node")
IMPORTS_LOAD = "process.exit(0)"
IMPORTS_FAIL = "import {nothing} from 'no-such-package-here'"


@pytest.fixture(scope="module")
def probe_module() -> ModuleType:
    return load(ROOT / "roles/loadtest/library/loadtest_probe.py", "loadtest_probe")


def params(root: Path, **changes: Any) -> dict[str, Any]:
    return {
        "root": str(root),
        "as_user": [],
        "node_min_version": "16.0.0",
        "need_taskset": False,
        "import_check": IMPORTS_LOAD,
        "wrk_packages": [],
        **changes,
    }


def installed_tree(root: Path, version: str) -> Path:
    package = root / "node_modules" / "loadtest"
    package.mkdir(parents=True)
    (package / "package.json").write_text(json.dumps({"name": "loadtest", "version": version}))
    return root


@pytest.mark.parametrize(
    ("version", "minimum", "expected"),
    [
        ("v20.20.2", "16.0.0", True),
        ("v16.0.0", "16.0.0", True),
        ("v14.21.3", "16.0.0", False),
        ("v9.11.2", "16.0.0", False),
        ("18.19.0-rc1", "16.0.0", True),
        ("", "16.0.0", False),
    ],
)
def test_node_is_judged_by_its_version_numbers(probe_module, version, minimum, expected):
    assert probe_module.at_least(version, minimum) is expected


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("wrk debian/4.1.0-3+b2 [epoll] Copyright (C) 2012 Will Glozer\nUsage: ...", "4.1.0"),
        ("wrk 4.2.0 [kqueue] Copyright (C) 2012 Will Glozer", "4.2.0"),
        ("bash: wrk: command not found", None),
        ("", None),
    ],
)
def test_wrk_version_is_read_from_its_banner(probe_module, output, expected):
    assert probe_module.wrk_version(output) == expected


@pytest.mark.skipif(NODE is None, reason="needs node on the PATH")
def test_an_installed_tree_is_reported_with_its_version_and_owner(probe_module, tmp_path):
    found = probe_module.probe(params(installed_tree(tmp_path, "8.2.1")))
    assert found["installed_version"] == "8.2.1"
    assert found["modules_owner"] == (tmp_path / "node_modules").owner()
    assert found["imports_ok"] is True
    assert found["node_ok"] is True and found["node_version"].startswith("v")
    assert found["npm_ok"] is (shutil.which("npm") is not None)


@pytest.mark.skipif(NODE is None, reason="needs node on the PATH")
def test_a_tree_whose_imports_fail_is_reported_so(probe_module, tmp_path):
    found = probe_module.probe(params(installed_tree(tmp_path, "8.2.1"), import_check=IMPORTS_FAIL))
    assert found["installed_version"] == "8.2.1"
    assert found["imports_ok"] is False


def test_an_empty_directory_has_nothing_installed(probe_module, tmp_path):
    found = probe_module.probe(params(tmp_path / "not-yet"))
    assert found["installed_version"] == ""
    assert found["modules_owner"] is None
    assert found["imports_ok"] is False


def test_node_that_is_too_old_is_not_ok(probe_module, tmp_path):
    found = probe_module.probe(params(tmp_path, node_min_version="999.0.0"))
    assert found["node_ok"] is False


def test_a_host_without_node_npm_timeout_or_wrk(probe_module, tmp_path, monkeypatch):
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    found = probe_module.probe(
        params(installed_tree(tmp_path / "root", "8.2.1"), need_taskset=True)
    )
    assert found["node_version"] == "" and found["node_ok"] is False
    assert found["npm_ok"] is False
    assert found["missing_tools"] == ["timeout", "taskset"]
    assert found["imports_ok"] is False
    assert found["wrk_version"] is None
    assert found["installed_version"] == "8.2.1"


def test_taskset_is_asked_for_only_when_the_generator_is_pinned(
    probe_module, tmp_path, monkeypatch
):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "timeout").symlink_to(shutil.which("timeout") or "/usr/bin/timeout")
    monkeypatch.setenv("PATH", str(bin_dir))
    assert probe_module.probe(params(tmp_path))["missing_tools"] == []
    pinned = probe_module.probe(params(tmp_path, need_taskset=True))
    assert pinned["missing_tools"] == ["taskset"]


@pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="needs dpkg")
def test_wrk_packages_are_asked_of_dpkg(probe_module, tmp_path):
    installed = probe_module.probe(params(tmp_path, wrk_packages=["coreutils"]))
    assert installed["wrk_packages_installed"] is True
    missing = ["coreutils", "no-such-package-channels-bench"]
    assert (
        probe_module.probe(params(tmp_path, wrk_packages=missing))["wrk_packages_installed"]
        is False
    )
    assert probe_module.probe(params(tmp_path))["wrk_packages_installed"] is None
