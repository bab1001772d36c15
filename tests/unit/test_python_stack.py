"""The python_stack role's pin rules (roles/python_stack/filter_plugins/python_stack.py)."""

from __future__ import annotations

from types import ModuleType

import pytest
from ansible.errors import AnsibleFilterError

PINS = {"django": "1.10.8", "twisted": "16.2.0"}


def test_an_override_must_name_a_package_of_the_stack(python_stack_filters: ModuleType) -> None:
    resolve = python_stack_filters.python_stack_resolve_pins
    assert resolve(PINS, {"twisted": "17.9.0"}, None) == {"django": "1.10.8", "twisted": "17.9.0"}
    with pytest.raises(AnsibleFilterError, match="'twisted_' is not a package of this stack"):
        resolve(PINS, {"twisted_": "17.9.0"})


def test_additions_add_packages_the_stack_does_not_pin(python_stack_filters: ModuleType) -> None:
    resolve = python_stack_filters.python_stack_resolve_pins
    pins = resolve(PINS, {"twisted": "17.9.0"}, additions={"incremental": "17.5.0"})
    assert pins == {"django": "1.10.8", "twisted": "17.9.0", "incremental": "17.5.0"}
    with pytest.raises(AnsibleFilterError, match="twisted already pinned by the stack"):
        resolve(PINS, additions={"twisted": "17.9.0"})
    with pytest.raises(AnsibleFilterError, match="Version 'latest' of incremental is malformed"):
        resolve(PINS, additions={"incremental": "latest"})


def test_requirements_are_written_at_their_pins(python_stack_filters: ModuleType) -> None:
    requirements = python_stack_filters.python_stack_requirements
    assert requirements(PINS, ["twisted"]) == ["twisted==16.2.0"]
    with pytest.raises(AnsibleFilterError, match="incremental not pinned"):
        requirements(PINS, ["incremental"])
