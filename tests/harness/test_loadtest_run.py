"""The loadtest role's run entry (tasks_from: run) for real, with ansible-playbook on localhost:
a series in one driver run, its documents published in order, a series refused before any load,
and one that fails part way publishing what it measured.

Everything goes to this test's own directories (loadtest_root and loadtest_output_dir), never the
harness's; the role finds node and npm on the machine and is told not to install wrk. Skipped where
node, npm or wrk are missing, so that the role never installs anything here.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from driver_servers import KnownServer
from driver_support import known_server_fixture  # noqa: F401 (pytest fixture)

from tests.conftest import PlaybookRun, assert_no_job_file_left, install_role_home, role_series

pytestmark = pytest.mark.skipif(
    any(shutil.which(tool) is None for tool in ("node", "npm", "wrk")),
    reason="node, npm and wrk are needed (the loadtest role installs them)",
)

PLAYBOOK = """
- name: The loadtest role on this machine, in the test's own directories
  hosts: localhost
  connection: local
  gather_facts: true
  tasks:
    - name: Install
      ansible.builtin.include_role:
        name: loadtest
      when: series is not defined

    - name: Run the series, keeping whatever it published
      when: series is defined
      block:
        - name: Run
          ansible.builtin.include_role:
            name: loadtest
            tasks_from: run
          vars:
            loadtest_run_url: "{{ url }}"
            loadtest_run_series: "{{ series }}"
            loadtest_run_output: "{{ series_dir }}"
      always:
        - name: Keep the published documents
          ansible.builtin.copy:
            content: "{{ loadtest_series_documents | default(none) | to_json }}"
            dest: "{{ documents_file }}"
            mode: "0644"
"""


@pytest.fixture(scope="module")
def role_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The role installed into a directory of this module's own, once (twice: idempotent)."""
    home = tmp_path_factory.mktemp("loadtest-role")
    install_role_home(
        home,
        PLAYBOOK,
        {
            "loadtest_root": str(home / "root"),
            "loadtest_output_dir": str(home / "out"),
            # pytest's directories are root's alone (0700), which the unprivileged account
            # the role runs node as cannot enter; tests/bench checks that account's runs.
            "loadtest_user": "root",
            "loadtest_wrk_install": False,
            "loadtest_poll_interval_s": 0.5,
            "loadtest_heartbeat_stale_s": 10,
            "loadtest_settle_max_wait_s": 1,
            "loadtest_request_timeout_ms": 2000,
        },
    )
    return home


def run_series(
    home: Path, url: str, series: list[dict], name: str, env_extra: dict[str, str] | None = None
) -> tuple[PlaybookRun, list]:
    return role_series(home, {"url": url, "series": series}, name, env_extra=env_extra)


def test_a_series_runs_and_publishes_its_documents_in_order(
    role_home: Path, known_server: KnownServer
):
    series = [
        {"test": "latency", "rep": 1, "rps": 20, "duration_s": 1, "warmup_s": 0.5,
         "output": "latency/rep-1.json"},
        {"test": "reference", "clients": 2, "duration_s": 1,
         "output": "throughput/c2/reference-1.json"},
        {"test": "throughput", "rep": 1, "clients": 2, "duration_s": 1, "warmup_s": 0,
         "output": "throughput/c2/rep-1.json"},
    ]  # fmt: skip
    run, documents = run_series(role_home, known_server.url + "/", series, "first")
    assert run.returncode == 0, run.output[-4000:]
    assert [d["output"] for d in documents] == [m["output"] for m in series]
    assert all(d["host"] == "localhost" for d in documents)
    series_dir = role_home / "out" / "first"
    for document in documents:
        assert json.loads((series_dir / document["output"]).read_text()) == document
    (progress,) = series_dir.glob("series-*-localhost.progress.jsonl")
    events = [json.loads(line)["event"] for line in progress.read_text().splitlines()]
    assert events == ["started", "measured", "measured", "measured", "done"]
    (spec,) = series_dir.glob("series-*-localhost.spec.json")
    assert json.loads(spec.read_text())["heartbeat"]["stale_s"] == 10

    # The same outputs again: refused before any load, the first results untouched.
    served = known_server.requests
    again, published = run_series(role_home, known_server.url + "/", series, "first")
    assert again.returncode != 0
    assert "refused before any load" in again.output
    assert "exists already; a result is never overwritten" in again.output
    assert published == []
    assert known_server.requests == served
    assert json.loads((series_dir / "latency/rep-1.json").read_text()) == documents[0]


def test_a_finished_series_leaves_no_job_file_behind(
    role_home: Path, known_server: KnownServer, tmp_path: Path
):
    """Ansible keeps a background job's output in a file until told to remove it: the role
    removes the series' file once it has the output, so that runs do not pile them up."""
    jobs = tmp_path / "async"
    series = [{"test": "latency", "rep": 1, "rps": 20, "duration_s": 1, "warmup_s": 0,
               "output": "latency/rep-1.json"}]  # fmt: skip
    run, documents = run_series(
        role_home, known_server.url + "/", series, "no-job-file", {"ANSIBLE_ASYNC_DIR": str(jobs)}
    )
    assert run.returncode == 0, run.output[-4000:]
    assert len(documents) == 1
    assert_no_job_file_left(jobs)


def test_a_series_that_fails_part_way_publishes_what_it_measured(
    role_home: Path, known_server: KnownServer
):
    # Nothing listens on the closed-loop URL: every request fails, so there is no capacity for
    # the sweep after it to take its fraction of.
    series = [
        {"test": "throughput", "rep": 1, "clients": 2, "duration_s": 1, "warmup_s": 0,
         "output": "throughput/c2/rep-1.json", "url": "http://127.0.0.1:9/"},
        {"test": "sweep", "rep": 1, "fraction": 0.5, "duration_s": 1, "warmup_s": 0,
         "output": "sweep/f0.5/rep-1.json"},
    ]  # fmt: skip
    run, documents = run_series(role_home, known_server.url + "/", series, "failing")
    assert run.returncode != 0
    assert "after 1 of 2 measurements" in run.output
    assert "no throughput measurement before it ran without errors" in run.output
    assert [d["output"] for d in documents] == ["throughput/c2/rep-1.json"]
    assert documents[0]["harness"]["requests"]["errors"] > 0
    assert (role_home / "out" / "failing" / "throughput/c2/rep-1.json").exists()
    assert not (role_home / "out" / "failing" / "sweep").exists()
