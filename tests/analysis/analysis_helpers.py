"""Helpers for the analysis tests: the real command line, and expectations read straight from
the fixture JSON (never from the code under test)."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "results"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "MPLBACKEND": "Agg"}
    return subprocess.run(
        [sys.executable, "-m", "analysis", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=120,
        check=False,
    )


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def rep_files(run_dir: Path, setup: str, test_path: str = "latency") -> list[Path]:
    return sorted((run_dir / setup / test_path).glob("rep-*.json"))


def rep_values(
    run_dir: Path, setup: str, key: str, test_path: str = "latency", valid_only: bool = True
) -> list[float]:
    """A loadtest field of every (valid) rep of a setup, as the fixture holds it."""
    values = []
    for path in rep_files(run_dir, setup, test_path):
        rep = read_json(path)
        if valid_only and not rep.get("valid", True):
            continue
        values.append(float(rep["loadtest"][key]))
    return values


def fixture_median(run_dir: Path, setup: str, key: str, test_path: str = "latency") -> float:
    return statistics.median(rep_values(run_dir, setup, key, test_path))
