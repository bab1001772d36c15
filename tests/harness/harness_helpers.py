"""Paths and loaders shared by the harness tests (a module of its own: every test directory
has a conftest.py, so `from conftest import ...` would be ambiguous)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
MODULE_PATH = ROOT / "library" / "bench_rep.py"


def load_bench_rep() -> ModuleType:
    """library/bench_rep.py, the Ansible module, imported as a plain module. Ansible hands it the
    rule book as ansible.module_utils.channels_bench_rules; here the same file is put there."""
    sys.path.insert(0, str(ROOT))
    from module_utils import channels_bench_rules

    sys.modules["ansible.module_utils.channels_bench_rules"] = channels_bench_rules
    spec = importlib.util.spec_from_file_location("bench_rep", MODULE_PATH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_rep"] = module
    spec.loader.exec_module(module)
    return module


def driver_document(name: str) -> dict[str, Any]:
    """A document the driver wrote from a real loadtest 8.2.1 run against the gunicorn setup."""
    return json.loads((FIXTURES / f"driver-{name}.json").read_text())
