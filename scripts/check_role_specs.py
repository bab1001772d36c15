#!/usr/bin/env python3
"""Check that each role's argument spec and defaults describe the same variables.

For every role under roles/ (or the role directories given as arguments):
  - meta/argument_specs.yml and defaults/main.yml both exist (a role without public variables
    may have neither);
  - every key of defaults/main.yml is an option of an entry point, so that no public variable
    goes unchecked by the spec;
  - every option of an entry point that is not `required` has its default in defaults/main.yml
    (a required option is one the caller must give, so it has none);
  - where the spec states a default, it equals the value in defaults/main.yml.
Taken together, the spec's options that are not required and the defaults' keys are one set.
And the catalogue (catalogue.yml) and the specs agree: an option whose choices are the
catalogue's stacks (CATALOGUE_CHOICES) lists exactly the stacks the catalogue has.

Prints one line per finding and exits 1 when there is any, 0 otherwise.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]  # PyYAML ships no type stubs

REPOSITORY = Path(__file__).resolve().parent.parent
CATALOGUE_FILE = REPOSITORY / "catalogue.yml"
SPEC_FILE = Path("meta/argument_specs.yml")
# (role, option) whose `choices` must be the catalogue's stack names.
CATALOGUE_CHOICES = {("python_stack", "python_stack_name")}
DEFAULTS_FILE = Path("defaults/main.yml")


@dataclass(frozen=True)
class Finding:
    role: str
    message: str

    def __str__(self) -> str:
        return f"{self.role}: {self.message}"


def load_mapping(path: Path) -> dict[str, Any]:
    """A YAML file whose top level must be a mapping (an empty file counts as an empty one)."""
    with path.open(encoding="utf-8") as stream:
        loaded = yaml.safe_load(stream)
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ValueError(f"{path}: top level is {type(loaded).__name__}, not a mapping")
    return loaded


def entry_point_options(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """{entry point: {option: its spec}} from an argument_specs.yml document."""
    entry_points = spec.get("argument_specs") or {}
    return {
        str(name): dict((entry or {}).get("options") or {}) for name, entry in entry_points.items()
    }


def same_value(spec_default: Any, default: Any) -> bool:
    # YAML reads `80` and `"80"` differently; a spec may quote a number its defaults leave bare.
    return spec_default == default or str(spec_default) == str(default)


def check_role(role_dir: Path) -> list[Finding]:
    role = role_dir.name
    spec_path = role_dir / SPEC_FILE
    defaults_path = role_dir / DEFAULTS_FILE
    if not spec_path.exists() and not defaults_path.exists():
        return []
    missing = [str(path) for path in (spec_path, defaults_path) if not path.exists()]
    if missing:
        return [Finding(role, f"missing {', '.join(missing)}")]

    try:
        options = entry_point_options(load_mapping(spec_path))
        defaults = load_mapping(defaults_path)
    except (ValueError, yaml.YAMLError) as error:
        return [Finding(role, str(error))]

    findings: list[Finding] = []
    if "main" not in options:
        findings.append(Finding(role, f"{SPEC_FILE} has no 'main' entry point"))

    specified = {name for entry_options in options.values() for name in entry_options}
    for name in sorted(set(defaults) - specified):
        findings.append(
            Finding(role, f"{name} is in {DEFAULTS_FILE} but in no entry point's options")
        )

    for entry_point, entry_options in sorted(options.items()):
        for name, option in sorted(entry_options.items()):
            where = f"{name} (entry point {entry_point})"
            if not isinstance(option, dict):
                findings.append(Finding(role, f"{where} is not a mapping"))
            elif name not in defaults:
                if not option.get("required", False):
                    findings.append(
                        Finding(role, f"{where} is optional but not in {DEFAULTS_FILE}")
                    )
            elif "default" in option and not same_value(option["default"], defaults[name]):
                findings.append(
                    Finding(
                        role,
                        f"{where}: spec default {option['default']!r} differs from "
                        f"{DEFAULTS_FILE} value {defaults[name]!r}",
                    )
                )
    return findings


def check_catalogue(role_dir: Path, catalogue_path: Path = CATALOGUE_FILE) -> list[Finding]:
    """The role's options listed in CATALOGUE_CHOICES offer exactly the catalogue's stacks."""
    role = role_dir.name
    wanted = [option for (owner, option) in CATALOGUE_CHOICES if owner == role]
    spec_path = role_dir / SPEC_FILE
    if not wanted or not spec_path.exists():
        return []
    try:
        stacks = sorted(str(name) for name in (load_mapping(catalogue_path).get("stacks") or {}))
        options = entry_point_options(load_mapping(spec_path))
    except (OSError, ValueError, yaml.YAMLError) as error:
        return [Finding(role, f"cannot compare with the catalogue: {error}")]
    findings = []
    for entry_point, entry_options in sorted(options.items()):
        for name in wanted:
            choices = sorted(str(c) for c in (entry_options.get(name) or {}).get("choices") or [])
            if name in entry_options and choices != stacks:
                findings.append(
                    Finding(
                        role,
                        f"{name} (entry point {entry_point}) offers {choices} but the catalogue "
                        f"({catalogue_path.name}) has the stacks {stacks}",
                    )
                )
    return findings


def role_dirs(arguments: list[str]) -> list[Path]:
    if arguments:
        return [Path(argument) for argument in arguments]
    return sorted(path for path in (REPOSITORY / "roles").iterdir() if path.is_dir())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("roles", nargs="*", help="role directories (default: every one in roles/)")
    arguments = parser.parse_args(argv)

    checked = role_dirs(arguments.roles)
    findings = [
        finding
        for role_dir in checked
        for finding in (*check_role(role_dir), *check_catalogue(role_dir))
    ]
    for finding in findings:
        print(finding)
    print(f"check_role_specs: {len(checked)} role(s), {len(findings)} finding(s)", file=sys.stderr)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
