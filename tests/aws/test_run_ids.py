"""A run id names one run, and an invocation only ever removes what it created.

The scenario: someone's run is live (its fleet up, its run.json saying "running"), and another
invocation is started with the same run id, from the same controller or from another one. Nothing
of the live run may change: no teardown of its fleet, no edit of its run.json.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from .conftest import OPERATOR_CIDR, REPO, FakeAws, Run, new_invocation, new_run_id

pytestmark = pytest.mark.aws


def wrapper(fake_aws: FakeAws, *args: str, env: dict[str, str] | None = None) -> Run:
    completed = subprocess.run(
        ["scripts/bench-aws", *args],
        cwd=REPO,
        env=env or fake_aws.env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return Run(completed.returncode, completed.stdout + completed.stderr, 0.0)


def said(run: Run) -> str:
    return " ".join(run.output.split())


def bench_args(fake_aws: FakeAws, results_dir: Path) -> list[str]:
    """A bench run's arguments; should a refusal fail to happen, SSH still only goes to a closed
    port on loopback, never to moto's made-up addresses."""
    return [
        "-e",
        "setup=gunicorn",
        "-e",
        "profile=smoke",
        "-e",
        "confirm=yes",
        "-e",
        f"ec2_fleet_ssh_cidr={OPERATOR_CIDR}",
        "-e",
        f"bench_results_dir={results_dir}",
        "-e",
        "provision_ssh_timeout=5",
        *fake_aws.unreachable_hosts(),
    ]


class LiveRun(NamedTuple):
    run_id: str
    invocation: str
    run_json: Path
    # The run's resources and private directory, as FakeAws.snapshot saw them.
    before: dict[str, object]


@pytest.fixture(scope="module")
def live_run(fake_aws: FakeAws, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveRun]:
    """Someone's run in the middle of its benchmark, on this controller."""
    run_id, invocation = new_run_id(), new_invocation()
    run = fake_aws.provision(run_id, "-e", "setup=gunicorn", invocation=invocation)
    assert run.returncode == 0, run.tail()
    run_dir = fake_aws.results_dir / run_id
    run_dir.mkdir()
    run_json = run_dir / "run.json"
    run_json.write_text(
        json.dumps(
            {
                "schema_version": 2,
                "run_id": run_id,
                "status": "running",
                "owner": {"pid": 1, "hostname": "ctl", "invocation": invocation},
            },
            indent=2,
        )
        + "\n"
    )
    yield LiveRun(run_id, invocation, run_json, fake_aws.snapshot(run_id))
    fake_aws.playbook("playbooks/teardown.yml", "-e", f"run_id={run_id}")


def test_wrapper_refuses_a_malformed_run_id_before_any_aws_call(
    fake_aws: FakeAws, tmp_path: Path
) -> None:
    # Every AWS call would fail: the endpoint is a port nothing listens on.
    env = fake_aws.env(AWS_ENDPOINT_URL=f"http://127.0.0.1:{fake_aws.closed_port}")
    for run_id in ["mine-1", "20261128T191044Z-0e0*", "../20261128T191044Z-0e0a", ""]:
        run = wrapper(fake_aws, "--run-id", run_id, *bench_args(fake_aws, tmp_path), env=env)
        assert run.returncode == 2, run.output
        if run_id:
            assert "a run id is the UTC time and 4 hex digits" in said(run)
            assert f"not {run_id!r}" in said(run)
            assert "Nothing was changed." in said(run)
        assert "Could not connect" not in run.output
        assert "tearing down" not in run.output
        assert list(tmp_path.iterdir()) == []


def test_teardown_refuses_a_malformed_run_id_before_any_aws_call(fake_aws: FakeAws) -> None:
    env = fake_aws.env(AWS_ENDPOINT_URL=f"http://127.0.0.1:{fake_aws.closed_port}")
    # `*` would match every run's tag in an EC2 filter.
    run = fake_aws.playbook("playbooks/teardown.yml", "-e", "run_id=*", env=env)
    assert run.returncode != 0
    assert "a run id such as 20261128T191044Z-0e0a" in said(run)
    assert "Could not connect" not in run.output


def test_wrapper_refuses_a_run_id_whose_results_exist(fake_aws: FakeAws, live_run: LiveRun) -> None:
    run_json = live_run.run_json.read_bytes()
    run = wrapper(
        fake_aws,
        "--run-id",
        live_run.run_id,
        *bench_args(fake_aws, fake_aws.results_dir),
        "-e",
        "confirm=yes",
    )
    assert run.returncode == 2, run.output
    assert f"{fake_aws.results_dir}/{live_run.run_id} exists: run {live_run.run_id} is taken" in (
        said(run)
    )
    assert "tearing down" not in run.output
    assert live_run.run_json.read_bytes() == run_json
    fake_aws.assert_untouched(live_run.run_id, live_run.before)


def test_wrapper_refuses_a_run_id_that_has_resources_in_the_region(
    fake_aws: FakeAws, live_run: LiveRun, tmp_path: Path
) -> None:
    """Another controller: no results directory there, but the fleet is in the region."""
    run = wrapper(fake_aws, "--run-id", live_run.run_id, *bench_args(fake_aws, tmp_path))
    assert run.returncode == 2, run.output
    assert (
        f"run {live_run.run_id} already exists in us-east-1: 2 instance(s), 2 security group(s), "
        f"1 key pair(s), created by invocation {live_run.invocation}"
    ) in said(run)
    assert "tearing down" not in run.output
    assert list(tmp_path.iterdir()) == []
    fake_aws.assert_untouched(live_run.run_id, live_run.before)


def test_bench_run_that_loses_the_race_for_a_run_id_removes_nothing_of_the_other(
    fake_aws: FakeAws, live_run: LiveRun, tmp_path: Path
) -> None:
    """What bench-aws starts, had its check of the run id passed just before the other run took
    it: bench.yml's provision refuses the run, and its own teardown stage removes only what this
    invocation created, which is nothing."""
    invocation = new_invocation()
    run = fake_aws.playbook(
        "bench.yml",
        "-i",
        "inventory/aws",
        "-e",
        f"run_id={live_run.run_id}",
        "-e",
        f"bench_invocation={invocation}",
        *bench_args(fake_aws, tmp_path),
        env=fake_aws.env(live_run.run_id, CHANNELS_BENCH_INVOCATION=invocation),
    )
    assert run.returncode != 0
    assert f"Run {live_run.run_id} already exists in us-east-1" in said(run)
    assert "PLAY [Tear down the fleet]" in run.output
    assert (
        f"invocation {invocation}: terminated 0 instance(s), deleted 0 security group(s) and "
        "0 key pair(s)"
    ) in said(run)
    assert "UNREACHABLE" not in run.output  # no host of the other run was even tried
    fake_aws.assert_untouched(live_run.run_id, live_run.before)
    # The record this invocation wrote is its own, in its own results directory.
    record = json.loads((tmp_path / live_run.run_id / "run.json").read_text())
    assert record["status"] == "failed"
    assert record["failed_stage"] == "provision"
    assert "already exists" in record["failure"]
