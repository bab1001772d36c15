"""scripts/check_role_specs.py on small roles made here, and on the repository's own roles."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "check_role_specs.py"

SPEC = """---
argument_specs:
  main:
    options:
      demo_port:
        type: int
        default: 80
      demo_name:
        type: str
  run:
    options:
      demo_url:
        type: str
        required: true
      demo_rate:
        type: float
"""
DEFAULTS = """---
demo_port: 80
demo_name: "{{ inventory_hostname }}"
demo_rate: null
"""


def make_role(root: Path, spec: str = SPEC, defaults: str = DEFAULTS) -> Path:
    role = root / "demo"
    (role / "meta").mkdir(parents=True)
    (role / "defaults").mkdir()
    (role / "meta" / "argument_specs.yml").write_text(spec)
    (role / "defaults" / "main.yml").write_text(defaults)
    return role


def check(*roles: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, roles)], capture_output=True, text=True, check=False
    )


def test_matching_spec_and_defaults_pass(tmp_path):
    run = check(make_role(tmp_path))
    assert run.returncode == 0, run.stdout
    assert run.stdout == ""


def test_default_missing_from_spec_is_a_finding(tmp_path):
    run = check(make_role(tmp_path, defaults=DEFAULTS + "demo_extra: 1\n"))
    assert run.returncode == 1
    assert "demo_extra is in defaults/main.yml but in no entry point's options" in run.stdout


def test_optional_option_without_default_is_a_finding(tmp_path):
    run = check(make_role(tmp_path, defaults=DEFAULTS.replace("demo_rate: null\n", "")))
    assert run.returncode == 1
    assert "demo_rate (entry point run) is optional but not in defaults/main.yml" in run.stdout


def test_differing_default_is_a_finding(tmp_path):
    run = check(make_role(tmp_path, defaults=DEFAULTS.replace("demo_port: 80", "demo_port: 8080")))
    assert run.returncode == 1
    assert "demo_port (entry point main): spec default 80 differs" in run.stdout


def test_missing_spec_is_a_finding(tmp_path):
    role = make_role(tmp_path)
    (role / "meta" / "argument_specs.yml").unlink()
    run = check(role)
    assert run.returncode == 1
    assert "missing" in run.stdout


def test_repository_roles_pass():
    run = check()
    assert run.returncode == 0, run.stdout


def test_stack_choices_must_be_the_catalogues_stacks(tmp_path):
    sys.path.insert(0, str(SCRIPT.parent))
    import check_role_specs

    role = tmp_path / "python_stack"
    (role / "meta").mkdir(parents=True)
    (role / "meta" / "argument_specs.yml").write_text(
        "argument_specs:\n  main:\n    options:\n      python_stack_name:\n"
        "        type: str\n        choices: ['2016']\n"
    )
    catalogue = tmp_path / "catalogue.yml"
    catalogue.write_text("stacks:\n  '2016': {}\n  '2026': {}\n")
    findings = check_role_specs.check_catalogue(role, catalogue)
    assert [str(f) for f in findings] == [
        "python_stack: python_stack_name (entry point main) offers ['2016'] but the catalogue "
        "(catalogue.yml) has the stacks ['2016', '2026']"
    ]
    catalogue.write_text("stacks:\n  '2016': {}\n")
    assert check_role_specs.check_catalogue(role, catalogue) == []
