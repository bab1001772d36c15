"""The strategy (strategy_plugins/mitogen_linear.py): modules that respawn themselves under the
system's Python run as Ansible runs them, so that an apt install works on a fresh machine, where
Mitogen's in-process run of apt failed with "module '__main__' has no attribute '_module_fqn'"."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import run_playbook
from tests.unit.conftest import ROOT, load

RESPAWN_CALL = re.compile(r"\brespawn_module\(")
IMPORT = re.compile(
    r"^\s*from\s+(ansible(?:_collections)?\.[\w.]+)\s+import\s+([\w, ()]+)", re.MULTILINE
)


@pytest.fixture(scope="module")
def strategy() -> ModuleType:
    return load(ROOT / "strategy_plugins/mitogen_linear.py", "bench_mitogen_linear")


@functools.cache
def site_packages() -> Path:
    import ansible

    return Path(ansible.__file__).resolve().parent.parent


def module_files() -> dict[str, Path]:
    """Every module of ansible-core and of the collections the `ansible` package bundles, by
    fully qualified name."""
    site = site_packages()
    found = {
        f"ansible.builtin.{path.stem}": path for path in (site / "ansible/modules").glob("*.py")
    }
    for path in (site / "ansible_collections").glob("*/*/plugins/modules/*.py"):
        namespace, collection = path.relative_to(site / "ansible_collections").parts[:2]
        found[f"{namespace}.{collection}.{path.stem}"] = path
    return found


def imported_files(source: str) -> list[Path]:
    """The files of the module_utils a module imports (`from X import a, b`: X/a.py or X.py)."""
    site = site_packages()
    files = []
    for package, names in IMPORT.findall(source):
        base = site / package.replace(".", "/")
        files.append(base.with_suffix(".py"))
        files += [
            base / f"{name.strip()}.py" for name in names.strip("()").split(",") if name.strip()
        ]
    return [path for path in files if path.is_file()]


@functools.cache
def calls_respawn(path: Path) -> bool:
    return bool(RESPAWN_CALL.search(path.read_text(encoding="utf-8", errors="replace")))


def can_respawn(path: Path) -> bool:
    source = path.read_text(encoding="utf-8", errors="replace")
    return bool(RESPAWN_CALL.search(source)) or any(map(calls_respawn, imported_files(source)))


def test_every_module_that_can_respawn_is_run_as_ansible_runs_it(strategy):
    """A module of a later ansible-core or collection that respawns must join the list."""
    respawning = {name for name, path in module_files().items() if can_respawn(path)}
    assert {"ansible.builtin.apt", "ansible.builtin.dnf", "ansible.posix.selinux"} <= respawning
    missing = respawning - strategy.RESPAWNING_MODULES
    assert not missing, f"add to RESPAWNING_MODULES: {sorted(missing)}"


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        ("apt", True),
        ("ansible.legacy.apt", True),
        ("ansible.builtin.apt", True),
        ("ansible.builtin.package", True),
        ("ansible.posix.selinux", True),
        ("ansible.builtin.command", False),
        ("copy", False),
        ("community.general.apt_rpm", False),
        ("community.general.apt", False),
    ],
)
def test_a_task_s_module_is_recognised_however_it_is_named(strategy, action, expected):
    assert strategy.respawns(action) is expected


PLAY = """
- name: Modules that respawn under the system's Python, through the project's strategy
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Read the installed packages through python3-apt
      ansible.builtin.package_facts:
        manager: apt
    - name: Ask apt, in check mode, for a package that is installed
      ansible.builtin.apt:
        name: coreutils
        state: present
      check_mode: true
      register: apt_check
    - name: Show what they found
      ansible.builtin.debug:
        msg: >-
          coreutils {{ ansible_facts['packages']['coreutils'][0]['version'] }};
          apt changed={{ apt_check.changed }}
"""


@pytest.mark.skipif(
    not list(Path("/usr/lib/python3/dist-packages").glob("apt_pkg*")),
    reason="needs Debian's python3-apt",
)
def test_apt_modules_run_under_the_project_strategy(tmp_path):
    """On the local inventory, whose modules run under the controller's Python (a virtualenv
    without python3-apt), so that apt and package_facts respawn under the system's."""
    playbook = tmp_path / "respawn.yml"
    playbook.write_text(PLAY)
    run = run_playbook(str(playbook), "-i", "inventory/local", timeout=300)
    assert run.returncode == 0, run.output[-4000:]
    assert "_module_fqn" not in run.output
    assert re.search(r"coreutils \d[^;]*; apt changed=False", run.output), run.output[-3000:]
