"""The rendered supervisord groups keep the seed's configs (shared/seed/...rst) line for line."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

import pytest

from tests.conftest import REPO, run_playbook

SEED = REPO.parent / "shared" / "seed" / "loadtesting-2016-09-06.rst"
SEED_BLOCK_TITLES = {
    "gunicorn": "Gunicorn (19.6.0)",
    "redis": "Redis (0.14.0) and Daphne (0.14.3)",
    "ipc": "IPC (1.1.0) and Daphne (0.14.3)",
}
# The one deliberate difference: every program runs as an unprivileged account.
PROGRAM_USER = "django-channels"


def seed_config(setup: str) -> configparser.ConfigParser:
    text = SEED.read_text()
    start = text.index(f"**{SEED_BLOCK_TITLES[setup]}**")
    block = text[start:].split(".. code-block:: bash", 1)[1]
    lines = []
    for line in block.splitlines()[1:]:
        if line.strip() and not line.startswith("  "):
            break
        lines.append(line[2:])
    return parse("\n".join(lines))


def parse(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=None)
    parser.read_string(text)
    return parser


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not SEED.exists():
        pytest.fail(f"the seed write-up is missing: {SEED}")
    out = tmp_path_factory.mktemp("rendered")
    run = run_playbook("tests/deploy/render_templates.yml", "-e", f"render_dir={out}")
    assert run.returncode == 0, run.output[-3000:]
    return out


@pytest.mark.parametrize("setup", ["gunicorn", "redis", "ipc"])
def test_rendered_group_matches_the_seed(rendered: Path, setup: str) -> None:
    ours = parse((rendered / f"{setup}.conf").read_text())
    seed = seed_config(setup)
    assert ours.sections() == seed.sections()
    for section in seed.sections():
        for key, value in seed[section].items():
            if key == "user":
                assert ours[section][key] == PROGRAM_USER
            else:
                assert ours[section][key] == value, f"[{section}] {key}"


def test_programs_find_the_stack_and_free_the_port(rendered: Path) -> None:
    for setup in ("gunicorn", "redis", "ipc"):
        ours = parse((rendered / f"{setup}.conf").read_text())
        for section in (s for s in ours.sections() if s.startswith("program:")):
            assert "/opt/channels-bench/venv/bin" in ours[section]["environment"]
            assert ours[section]["stopasgroup"] == "true"
            assert ours[section]["killasgroup"] == "true"
            assert re.search(r"\.log$", ours[section]["stdout_logfile"])
