"""Filters of the channels_setup role that turn data into supervisord's and the shell's syntax."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError

ENVIRONMENT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def supervisor_environment(environment: Mapping[str, Any]) -> str:
    """supervisord's `environment = K="v",K2="v2"`: keys sorted, values quoted, and `%` doubled
    (supervisord expands %(name)s in its values). A value with a double quote is refused: the
    format has no escape for it."""
    parts = []
    for key in sorted(environment):
        value = "" if environment[key] is None else str(environment[key])
        if not ENVIRONMENT_NAME.match(str(key)):
            raise AnsibleFilterError(f"environment variable name {key!r} is not a valid name")
        if '"' in value or "\n" in value:
            raise AnsibleFilterError(
                f"environment variable {key} holds a double quote or a newline, which "
                "supervisord's environment line cannot carry"
            )
        parts.append(f'{key}="{value.replace("%", "%%")}"')
    return ",".join(parts)


def log_sizes_shell(sizes: list[str]) -> str:
    """Lines `<path> <bytes>` (what the role measured before a start) as a bash associative
    array literal, each path quoted for the shell: `declare -A before=(...)`."""
    entries = []
    for line in sizes:
        path, _, size = str(line).rpartition(" ")
        if not path or not size.isdigit():
            raise AnsibleFilterError(f"expected '<path> <bytes>', not {line!r}")
        entries.append(f"[{shlex.quote(path)}]={size}")
    return "declare -A before=(" + " ".join(entries) + ")"


def cpu_list_count(cpus: str) -> int:
    """How many CPUs a taskset list names: "0" is 1, "0-3,6" is 5."""
    count = 0
    for part in str(cpus).split(","):
        low, _, high = part.strip().partition("-")
        if not low.isdigit() or (high and not high.isdigit()):
            raise AnsibleFilterError(f"{cpus!r} is not a CPU list such as 0 or 0-3,6")
        count += int(high) - int(low) + 1 if high else 1
    return count


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "supervisor_environment": supervisor_environment,
            "log_sizes_shell": log_sizes_shell,
            "cpu_list_count": cpu_list_count,
        }
