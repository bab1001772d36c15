"""Load the harness's plain-Python pieces (filter plugins, the rule book) as modules."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def catalogue_filters() -> ModuleType:
    return load(ROOT / "roles/channels_setup/filter_plugins/channels_catalogue.py", "cat_filters")


@pytest.fixture(scope="session")
def bench_filters() -> ModuleType:
    return load(ROOT / "filter_plugins/bench.py", "bench_filters")


@pytest.fixture(scope="session")
def catalogue() -> dict:
    import yaml

    return yaml.safe_load((ROOT / "catalogue.yml").read_text())


@pytest.fixture(scope="session")
def python_stack_filters() -> ModuleType:
    return load(ROOT / "roles/python_stack/filter_plugins/python_stack.py", "python_stack_filters")
