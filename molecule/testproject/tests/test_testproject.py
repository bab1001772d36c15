"""testproject: the repository's Django project in place, and the account its programs run as."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[3] / "testproject"
DEST = "/srv/channels/testproject"

# The modules the seed's supervisord configs name: they must be where the commands look.
SEED_MODULES = [
    "manage.py",
    "testproject/wsgi_no_channels.py",
    "testproject/asgi.py",
    "testproject/asgi_for_ipc.py",
    "testproject/settings/channels_ipc.py",
]


def source_files() -> list[str]:
    return sorted(
        str(path.relative_to(SOURCE))
        for path in SOURCE.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    )


def test_program_account_exists(host):
    account = host.user("django-channels")
    assert account.exists
    assert account.shell == "/usr/sbin/nologin"
    assert account.uid < 1000, "a system account"


@pytest.mark.parametrize("relative", SEED_MODULES)
def test_seed_module_in_place(host, relative):
    assert host.file(f"{DEST}/{relative}").is_file


@pytest.mark.parametrize("relative", source_files())
def test_file_identical_to_repository(host, relative):
    deployed = host.file(f"{DEST}/{relative}")
    assert deployed.is_file
    assert deployed.sha256sum == hashlib.sha256((SOURCE / relative).read_bytes()).hexdigest()
    assert deployed.mode == 0o644


def test_nothing_else_deployed(host):
    listing = host.check_output("cd %s && find . -type f | sort", DEST)
    deployed = sorted(line.removeprefix("./") for line in listing.splitlines())
    assert deployed == source_files()
