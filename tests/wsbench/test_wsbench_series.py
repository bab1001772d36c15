"""The wsbench role's series entry (tasks_from: series) for real, with ansible-playbook on
localhost against a WebSocket echo server on loopback: the documents published in order, a series
refused before any connection, and the end of a series seen as it comes, not a look later.

Everything goes to this test's own directories (wsbench_root and wsbench_output_dir), never the
harness's; the role builds its virtualenv there with the pyenv interpreter the controller found.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from wsbench_helpers import Server

from tests.conftest import PlaybookRun, assert_no_job_file_left, install_role_home, role_series

PLAYBOOK = """
- name: The wsbench role on this machine, in the test's own directories
  hosts: localhost
  connection: local
  gather_facts: true
  tasks:
    - name: Install
      ansible.builtin.include_role:
        name: wsbench
      when: series is not defined

    - name: Run the series, keeping whatever it published
      when: series is defined
      block:
        - name: Run
          ansible.builtin.include_role:
            name: wsbench
            tasks_from: series
          vars:
            wsbench_series: "{{ series }}"
            wsbench_series_output: "{{ series_dir }}"
      always:
        - name: Keep the published documents
          ansible.builtin.copy:
            content: "{{ wsbench_series_documents | default(none) | to_json }}"
            dest: "{{ documents_file }}"
            mode: "0644"
"""


@pytest.fixture(scope="module")
def role_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The role installed into a directory of this module's own, once (twice: idempotent)."""
    home = tmp_path_factory.mktemp("wsbench-role")
    install_role_home(
        home,
        PLAYBOOK,
        {
            "wsbench_root": str(home / "root"),
            "wsbench_output_dir": str(home / "out"),
            # pytest's directories are root's alone (0700); tests/bench checks the
            # unprivileged account's runs.
            "wsbench_user": "root",
        },
    )
    return home


def run_series(
    home: Path, series: list[dict], name: str, *extra: str, env_extra: dict[str, str] | None = None
) -> tuple[PlaybookRun, list]:
    return role_series(home, {"series": series}, name, *extra, env_extra=env_extra)


def echo(server: Server, rep: int, duration_s: float = 1) -> dict:
    return {
        "test": "ws-echo",
        "url": server.url("/echo/"),
        "connections": 2,
        "rate": 40,
        "duration_s": duration_s,
        "warmup_s": 0.3,
        "rep": rep,
        "output": f"echo/rep-{rep}.json",
    }


def test_a_series_runs_and_publishes_its_documents_in_order(role_home, test_server):
    run, documents = run_series(role_home, [echo(test_server, 1), echo(test_server, 2)], "in-order")
    assert run.returncode == 0, run.output[-4000:]
    assert documents is not None
    assert [d["rep"] for d in documents] == [1, 2]
    assert all(d["harness"]["messages"]["received"] > 0 for d in documents)
    written = role_home / "out" / "in-order" / "echo" / "rep-2.json"
    # The published document is the written one, with the spec's output and rep beside it.
    spec_keys = {"output": "echo/rep-2.json", "rep": 2}
    assert {**json.loads(written.read_text()), **spec_keys} == documents[1]


def test_a_finished_series_leaves_no_job_file_behind(role_home, test_server, tmp_path):
    """Ansible keeps a background job's output in a file until told to remove it: the role
    removes the series' file once it has the output, so that runs do not pile them up."""
    jobs = tmp_path / "async"
    run, documents = run_series(
        role_home, [echo(test_server, 1)], "no-job-file", env_extra={"ANSIBLE_ASYNC_DIR": str(jobs)}
    )
    assert run.returncode == 0, run.output[-4000:]
    assert documents is not None and len(documents) == 1
    assert_no_job_file_left(jobs)


def test_a_series_with_an_existing_output_is_refused_before_any_connection(role_home, test_server):
    run, _ = run_series(role_home, [echo(test_server, 1)], "refused-twice")
    assert run.returncode == 0, run.output[-4000:]
    run, documents = run_series(role_home, [echo(test_server, 1)], "refused-twice")
    assert run.returncode != 0
    assert "was refused before any load" in run.output
    assert documents == []


def test_the_end_of_a_series_is_seen_as_it_comes_not_a_look_later(role_home, test_server):
    """A look waits up to wsbench_poll_interval_s for the end and returns at it: with a minute's
    interval, a series of about 2 s is collected long before the look would have run out."""
    started = time.monotonic()
    run, documents = run_series(
        role_home, [echo(test_server, 1)], "seen-at-once", "-e", "wsbench_poll_interval_s=60"
    )
    took = time.monotonic() - started
    assert run.returncode == 0, run.output[-4000:]
    assert documents is not None and len(documents) == 1
    retries = re.findall(r"RETRYING: \[localhost\]: Measure the WebSocket series", run.output)
    assert retries == [], "one look saw the end: no retry was needed"
    assert took < 45, f"the playbook took {took:.0f} s: the look waited out its interval"
