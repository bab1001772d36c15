"""Typed reads from parsed JSON that record what is wrong instead of raising.

A results directory is written by a harness that may have been interrupted, may be older or newer
than this code, or may have been edited by hand. Every read names the file and the key, so that a
person can find the problem, and returns None so that the rest of the run can still be reported.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._model import Problem

SUPPORTED_SCHEMA_VERSION = 2


def _shorten(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def read_json_object(path: Path, file: str, problems: list[Problem]) -> dict[str, Any] | None:
    """The JSON object in path, or None with a problem naming the file and what is wrong."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        problems.append(Problem(file, "missing"))
        return None
    except (OSError, UnicodeDecodeError) as error:
        problems.append(Problem(file, f"cannot be read: {error}"))
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        problems.append(
            Problem(
                file, f"not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})"
            )
        )
        return None
    if not isinstance(data, dict):
        kind = type(data).__name__.replace("dict", "object").replace("list", "array")
        problems.append(Problem(file, f"should hold a JSON object, holds a JSON {kind}"))
        return None
    return data


class Fields:
    """Typed access to one JSON object of one file."""

    def __init__(
        self, data: Mapping[str, Any], file: str, problems: list[Problem], prefix: str = ""
    ) -> None:
        self._data = data
        self._file = file
        self._problems = problems
        self._prefix = prefix

    def has(self, key: str) -> bool:
        return key in self._data and self._data[key] is not None

    def raw(self, key: str) -> Any:
        return self._data.get(key)

    def names(self) -> list[str]:
        return list(self._data)

    def wrong(self, key: str, expected: str) -> None:
        value = _shorten(self._data.get(key))
        self._problems.append(
            Problem(self._file, f"{self._prefix}{key} should be {expected}, got {value}")
        )

    def missing(self, key: str, consequence: str) -> None:
        self._problems.append(Problem(self._file, f"{self._prefix}{key} missing; {consequence}"))

    def text(self, key: str) -> str | None:
        value = self._data.get(key)
        if value is None:
            return None
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        self.wrong(key, "a string")
        return None

    def number(self, key: str) -> float | None:
        value = self._data.get(key)
        if value is None:
            return None
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        self.wrong(key, "a number")
        return None

    def integer(self, key: str) -> int | None:
        value = self.number(key)
        if value is None:
            return None
        if not value.is_integer():
            self.wrong(key, "a whole number")
            return None
        return int(value)

    def boolean(self, key: str) -> bool | None:
        value = self._data.get(key)
        if value is None:
            return None
        if isinstance(value, bool):
            return value
        self.wrong(key, "true or false")
        return None

    def texts(self, key: str) -> tuple[str, ...] | None:
        value = self._data.get(key)
        if value is None:
            return None
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return tuple(value)
        self.wrong(key, "a list of strings")
        return None

    def integers(self, key: str) -> tuple[int, ...] | None:
        value = self._data.get(key)
        if value is None:
            return None
        if isinstance(value, list) and all(
            isinstance(item, int) and not isinstance(item, bool) for item in value
        ):
            return tuple(value)
        self.wrong(key, "a list of whole numbers")
        return None

    def numbers(self, key: str) -> tuple[float, ...] | None:
        value = self._data.get(key)
        if value is None:
            return None
        if isinstance(value, list) and all(
            isinstance(item, int | float) and not isinstance(item, bool) for item in value
        ):
            return tuple(float(item) for item in value)
        self.wrong(key, "a list of numbers")
        return None

    def objects(self, key: str) -> list[Fields]:
        """The objects of the list at key; other entries reported and skipped."""
        value = self._data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.wrong(key, "a list of objects")
            return []
        found = []
        for index, item in enumerate(value):
            if isinstance(item, dict):
                found.append(
                    Fields(item, self._file, self._problems, f"{self._prefix}{key}[{index}].")
                )
            else:
                self._problems.append(
                    Problem(self._file, f"{self._prefix}{key}[{index}] should be an object")
                )
        return found

    def obj(self, key: str) -> Fields:
        """The nested object at key; an empty one (and a problem if the type is wrong) otherwise."""
        value = self._data.get(key)
        if isinstance(value, dict):
            return Fields(value, self._file, self._problems, f"{self._prefix}{key}.")
        if value is not None:
            self.wrong(key, "an object")
        return Fields({}, self._file, self._problems, f"{self._prefix}{key}.")

    def count_map(self, key: str) -> dict[str, int]:
        """A map of name -> count (histogramMs, errorCodes); bad entries reported and dropped."""
        nested = self.obj(key)
        counts: dict[str, int] = {}
        for name in nested.names():
            count = nested.integer(name)
            if count is not None:
                counts[name] = count
        return counts


def schema_version(fields: Fields, file: str, problems: list[Problem]) -> int:
    """The file's schema_version: missing means 1 (before versioning); unknown newer is tried."""
    if not fields.has("schema_version"):
        return 1
    version = fields.integer("schema_version")
    if version is None or version < 1:
        if version is not None:
            fields.wrong("schema_version", "a version number from 1 up")
        problems.append(Problem(file, "schema_version unreadable; read as version 1", "warning"))
        return 1
    return version
