"""Fixtures of the harness tests."""

from __future__ import annotations

from types import ModuleType

import pytest
from harness_helpers import load_bench_rep


@pytest.fixture(scope="session")
def bench_rep() -> ModuleType:
    return load_bench_rep()
