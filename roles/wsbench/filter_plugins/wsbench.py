"""Filters of the wsbench role."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from ansible.errors import AnsibleFilterError


def wsbench_outputs_under(series: Sequence[Mapping[str, Any]], directory: str) -> list[dict]:
    """Each measurement of a series with its relative output made a path under directory (and
    kept as `result`, the name the documents carry); an output that would leave it is refused."""
    placed = []
    inside = directory.rstrip("/") + "/"
    for measurement in series:
        output = str(measurement.get("output", ""))
        path = os.path.normpath(os.path.join(directory, output))
        if not output or os.path.isabs(output) or not path.startswith(inside):
            raise AnsibleFilterError(f"output {output!r} must be a path inside {directory}")
        placed.append(dict(measurement, output=path, result=output))
    return placed


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"wsbench_outputs_under": wsbench_outputs_under}
