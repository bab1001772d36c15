"""Filters of the python_stack role: the pins of a stack with their overrides, and where to look
for an interpreter of the stack's Python range."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ansible.errors import AnsibleFilterError

VERSION = re.compile(r"^[0-9]+(\.[0-9]+)*((a|b|rc|\.post|\.dev)[0-9]+)*$")
MINOR = re.compile(r"^3\.([0-9]+)$")


def python_stack_version_overrides(packages: Sequence[str], values: Sequence[Any]) -> dict:
    """`-e <package>_version=X` values, read in the order of `packages` (query('vars', ...,
    default='') gives '' for a package not overridden), as {package: "X"}."""
    if len(packages) != len(values):
        raise AnsibleFilterError("one value is needed per package")
    return {
        str(package): str(value)
        for package, value in zip(packages, values, strict=True)
        if value not in (None, "")
    }


def python_stack_resolve_pins(
    pins: Mapping[str, Any],
    *overrides: Mapping[str, Any] | None,
    additions: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """The stack's pins with each override on top, checked: an override must name a package the
    stack has (a typo in -e asgi_icp_version fails), `additions` are packages the stack does not
    pin that a variant brings along and must not be, and every version must be well formed."""
    resolved = {str(name): str(version) for name, version in pins.items()}
    already = sorted(str(name) for name in additions or {} if name in resolved)
    if already:
        raise AnsibleFilterError(
            f"{', '.join(already)} already pinned by the stack: give it as an override, "
            "not an addition"
        )
    for override in overrides:
        for name, version in (override or {}).items():
            if name not in resolved:
                raise AnsibleFilterError(
                    f"'{name}' is not a package of this stack; its packages are "
                    f"{', '.join(resolved)}"
                )
            resolved[str(name)] = str(version)
    resolved.update({str(name): str(version) for name, version in (additions or {}).items()})
    for name, version in resolved.items():
        if not VERSION.match(version):
            raise AnsibleFilterError(
                f"Version '{version}' of {name} is malformed: expected digits separated by dots, "
                "such as 1.4.2 (optionally with a pre-release suffix such as 1.0rc1)"
            )
    return resolved


def python_stack_requirements(pins: Mapping[str, Any], names: Sequence[str]) -> list[str]:
    """pip's `name==version` for each of `names`, at its pin."""
    missing = [str(name) for name in names if name not in pins]
    if missing:
        raise AnsibleFilterError(f"{', '.join(missing)} not pinned")
    return [f"{name}=={pins[name]}" for name in names]


def _minor(version: str) -> int:
    match = MINOR.match(str(version))
    if not match:
        raise AnsibleFilterError(f"expected a Python version such as 3.6, not {version!r}")
    return int(match[1])


def python_stack_candidates(
    globs: Sequence[str], python_min: str, python_max: str, explicit: str = ""
) -> list[str]:
    """Where to look for an interpreter, in order: the one given, then each glob for each minor
    version of the range from the newest down, then `python3`."""
    minors = range(_minor(python_max), _minor(python_min) - 1, -1)
    found = [explicit] if explicit else []
    found += [pattern.replace("{minor}", f"3.{minor}") for minor in minors for pattern in globs]
    return [*found, "python3"]


def python_stack_in_range(version: str, python_min: str, python_max: str) -> bool:
    """Whether a `3.N` version lies within the stack's range."""
    return _minor(python_min) <= _minor(version) <= _minor(python_max)


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "python_stack_version_overrides": python_stack_version_overrides,
            "python_stack_resolve_pins": python_stack_resolve_pins,
            "python_stack_requirements": python_stack_requirements,
            "python_stack_candidates": python_stack_candidates,
            "python_stack_in_range": python_stack_in_range,
        }
