"""The loadtest role's variables: defaults, argument specs and the plan agree."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from harness_helpers import ROOT

ROLE = ROOT / "roles" / "loadtest"


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def test_defaults_are_the_specs_options():
    defaults = set(load(ROLE / "defaults" / "main.yml"))
    specs = load(ROLE / "meta" / "argument_specs.yml")["argument_specs"]
    optional = {
        name
        for entry in specs.values()
        for name, option in entry["options"].items()
        if not option.get("required")
    }
    assert defaults == optional
    assert all(name.startswith("loadtest_") for name in defaults)


def test_spec_defaults_match_the_defaults_file():
    defaults = load(ROLE / "defaults" / "main.yml")
    specs = load(ROLE / "meta" / "argument_specs.yml")["argument_specs"]
    for entry in specs.values():
        for name, option in entry["options"].items():
            if "default" in option:
                assert option["default"] == defaults[name], name


def test_role_defaults_are_the_plans():
    defaults = load(ROLE / "defaults" / "main.yml")
    plan = load(ROOT / "playbooks" / "vars" / "plan.yml")
    assert defaults["loadtest_keepalive"] == plan["loadtest_keepalive"]
    assert defaults["loadtest_request_timeout_ms"] == plan["loadtest_request_timeout_ms"]


def test_every_release_has_its_lock():
    releases = load(ROLE / "vars" / "main.yml")["loadtest_releases"]
    choices = load(ROLE / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"][
        "loadtest_version"
    ]["choices"]
    assert set(releases) == set(choices)
    for version in releases:
        files = ROLE / "files" / "npm" / version
        package = json.loads((files / "package.json").read_text())
        lock = json.loads((files / "package-lock.json").read_text())
        # loadtest at the release, and the driver's histograms at the version it was checked with.
        pins = {"loadtest": version, "hdr-histogram-js": "3.0.1"}
        assert package["dependencies"] == pins
        assert lock["packages"][""]["dependencies"] == pins
        for name, pinned in pins.items():
            assert lock["packages"][f"node_modules/{name}"]["version"] == pinned
