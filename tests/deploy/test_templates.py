"""The catalogue's 2016 setups, rendered by the generic supervisord template, keep the seed's
configs (tests/deploy/seed/, copied from the seed's write-up) line for line."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

import pytest

from tests.conftest import run_playbook

SEED = Path(__file__).resolve().parent / "seed"
SETUPS = ["gunicorn", "redis", "ipc"]
# The one deliberate difference: every program runs as an unprivileged account. The seed ran the
# programs that bind port 80 as root; ours start as root and drop to the account with setpriv,
# keeping only the right to bind the port (and no supervisord user= line, which would drop it).
PROGRAM_USER = "django-channels"
SETPRIV = (
    f"setpriv --reuid={PROGRAM_USER} --regid={PROGRAM_USER} --init-groups"
    " --inh-caps=-all,+net_bind_service --ambient-caps=-all,+net_bind_service"
    " --bounding-set=-all,+net_bind_service -- "
)


def parse(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=None)
    parser.read_string(text)
    return parser


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rendered")
    run = run_playbook("tests/deploy/render_templates.yml", "-e", f"render_dir={out}")
    assert run.returncode == 0, run.output[-3000:]
    return out


@pytest.mark.parametrize("setup", SETUPS)
def test_rendered_group_matches_the_seed(rendered: Path, setup: str) -> None:
    ours = parse((rendered / f"2016-{setup}.conf").read_text())
    seed = parse((SEED / f"{setup}.conf").read_text())
    assert ours.sections() == seed.sections()
    for section in seed.sections():
        # The seed ran the ipc worker as root too; it binds nothing, so ours is unprivileged.
        binds_as_root = re.search(r"(:| -p )80\b", seed[section].get("command", "")) is not None
        for key, value in seed[section].items():
            if key == "user":
                assert ours[section].get(key) == (None if binds_as_root else PROGRAM_USER)
            elif key == "command" and binds_as_root:
                assert ours[section][key] == SETPRIV + value, f"[{section}] {key}"
            else:
                assert ours[section][key] == value, f"[{section}] {key}"


@pytest.mark.parametrize("setup", SETUPS)
def test_programs_find_the_stack_and_free_the_port(rendered: Path, setup: str) -> None:
    ours = parse((rendered / f"2016-{setup}.conf").read_text())
    for section in (s for s in ours.sections() if s.startswith("program:")):
        assert "/opt/channels-bench/stacks/2016/bin" in ours[section]["environment"]
        assert ours[section]["stopasgroup"] == "true"
        assert ours[section]["killasgroup"] == "true"
        assert re.search(r"\.log$", ours[section]["stdout_logfile"])
        # What is deployed is part of the config, so that new code restarts the programs.
        assert 'CHANNELS_BENCH_DEPLOYED="project:0123 venv:4567"' in ours[section]["environment"]


def test_the_redis_password_stays_out_of_the_config(rendered: Path) -> None:
    text = (rendered / "2016-redis.conf").read_text()
    assert "s3cret" not in text
    assert 'CHANNELS_BENCH_REDIS_URL_FILE="/etc/channels-bench/secrets/redis-url"' in text
