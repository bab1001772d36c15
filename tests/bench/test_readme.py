"""The README shows no command that fails and no bound the plan does not enforce.

Every `ansible-playbook bench.yml ...` line of its shell blocks runs through the plan stage (which
checks everything a run is asked for before anything changes: setups, stacks, sweeps, profiles,
orders, plan values); every other playbook line gets a syntax check with its arguments. The
variables table is read against the plan's rules (PLAN_VALUES), and no document reaches outside
the repository.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, run_playbook
from tests.unit.conftest import load

README = REPO / "README.md"


def shell_lines() -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", README.read_text(), flags=re.S)
    lines = [line.split("  #")[0].strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line]


def playbook_commands() -> list[list[str]]:
    commands = [shlex.split(line) for line in shell_lines()]
    return [command for command in commands if command[0] == "ansible-playbook"]


def table_rows(column: int = 2) -> dict[str, str]:
    rows = {}
    for line in README.read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| `") and len(cells) == 3:
            rows[cells[0].strip("`")] = cells[column]
    return rows


def number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def test_the_readme_shows_commands_to_run() -> None:
    playbooks = {command[1] for command in playbook_commands()}
    assert "bench.yml" in playbooks and len(playbook_commands()) >= 8
    assert any("sweep=asgi_ipc:1.1.0,1.4.2" in command for command in playbook_commands())


@pytest.mark.parametrize(
    "command",
    [c for c in playbook_commands() if c[1] == "bench.yml"],
    ids=lambda command: " ".join(command[2:]),
)
def test_each_bench_command_passes_the_plan(command: list[str], tmp_path: Path) -> None:
    run = run_playbook(
        "playbooks/plan.yml", *command[2:], "-e", f"bench_results_dir={tmp_path}", timeout=300
    )
    assert run.returncode == 0, run.output[-4000:]
    assert "PLAY RECAP" in run.output
    assert not warnings(run.output), run.output[-4000:]


# The warnings a run prints knowingly: ansible-core's notice that strategies from outside
# ansible.builtin (ansible.cfg's Mitogen strategy) may go in a future release, and, when a run
# is asked for -e order=..., that `order` is also a play keyword (the variable does not set it).
ACCEPTED_WARNINGS = (
    "Deprecation warnings can be disabled",
    "Use of strategy plugins not included in ansible.builtin",
    "Found variable using reserved name 'order'",
)


def warnings(output: str) -> list[str]:
    """Ansible's warnings in output (a YAML file it reads with a key written twice, a
    deprecated keyword), but the accepted ones."""
    return [
        line
        for line in output.splitlines()
        if "WARNING]" in line and not any(accepted in line for accepted in ACCEPTED_WARNINGS)
    ]


@pytest.mark.parametrize(
    "command",
    [c for c in playbook_commands() if c[1] != "bench.yml"],
    ids=lambda command: " ".join(command[1:]),
)
def test_each_other_playbook_command_is_valid(command: list[str]) -> None:
    assert (REPO / command[1]).is_file()
    run = run_playbook(command[1], "--syntax-check", *command[2:], timeout=300)
    assert run.returncode == 0, run.output[-4000:]


def test_the_variables_table_states_the_plans_bounds() -> None:
    rules = load(REPO / "filter_plugins/bench.py", "bench_filters_readme").PLAN_VALUES
    rows = table_rows()
    for name, rule in rules.items():
        row = rows.get(f"loadtest_{name}")
        assert row is not None, f"loadtest_{name} is missing from the README's variables table"
        if "max" in rule:
            assert number(rule["max"]) in row, (name, row)
        if "min" in rule and not rule.get("exclusive_min"):
            assert number(rule["min"]) in row, (name, row)
        if rule.get("exclusive_min"):
            assert "above" in row, (name, row)
        for choice in rule.get("choices", ()):
            assert f"`{choice}`" in row, (name, row)


def plan_profiles() -> dict[str, dict[str, object]]:
    profiles: dict[str, dict[str, object]] = yaml.safe_load(
        (REPO / "playbooks/vars/plan.yml").read_text()
    )["bench_profiles"]
    return profiles


def test_the_variables_table_states_the_default_profile() -> None:
    defaults = table_rows(column=1)
    for name, value in plan_profiles()["default"].items():
        shown = f"`{value}`" if isinstance(value, list) else number(value)
        row = defaults[f"loadtest_{name}"]
        assert row.split(" (")[0] == shown, (name, row)


def test_the_variables_table_names_every_profile() -> None:
    row = table_rows()["profile"]
    for name in plan_profiles():
        assert f"`{name}`" in row, (name, row)


def test_no_document_reaches_outside_the_repository() -> None:
    for path in [README, *REPO.glob("docs/*.md"), *REPO.glob("roles/*/README.md")]:
        assert "../shared" not in path.read_text(), path
