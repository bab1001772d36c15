"""pytest fixtures of the analysis tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from analysis_helpers import FIXTURES


@pytest.fixture
def run_copy(tmp_path):
    """Copy a fixture run into tmp_path, so that outputs never land next to the fixtures."""

    def copy(name: str) -> Path:
        target = tmp_path / name
        shutil.copytree(FIXTURES / name, target)
        return target

    return copy
