"""A run that fails after provisioning leaves nothing running: a failing stage inside bench.yml,
a playbook that Ansible ends early, and an interrupted run.

moto's instances cannot be reached over SSH, and every SSH attempt goes to a closed port on
loopback (FakeAws.unreachable_hosts), which is what a fleet behind a wrong key, address or
security group looks like from the controller.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from typing import NamedTuple

import pytest

from .conftest import OPERATOR_CIDR, REPO, FakeAws, Run, new_run_id, tags

pytestmark = pytest.mark.aws


def bench_args(fake_aws: FakeAws, setup: str, *extra: str) -> list[str]:
    return [
        "-e",
        f"setup={setup}",
        "-e",
        "profile=smoke",
        "-e",
        "confirm=yes",
        "-e",
        f"ec2_fleet_ssh_cidr={OPERATOR_CIDR}",
        "-e",
        f"bench_results_dir={fake_aws.results_dir}",
        *fake_aws.unreachable_hosts(),
        *extra,
    ]


def wrapper(fake_aws: FakeAws, run_id: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["scripts/bench-aws", "--run-id", run_id, *args],
        cwd=REPO,
        env=fake_aws.env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # Its own process group, like a shell job: a signal to the group is what Ctrl-C sends.
        start_new_session=True,
    )


def finish(process: subprocess.Popen[str], started: float, timeout: int = 600) -> Run:
    try:
        output, _ = process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return Run(process.returncode, output, time.monotonic() - started)


class Outcome(NamedTuple):
    run_id: str
    run: Run
    # The channels-bench-owner tags of the run's instances while it ran, where they were read.
    owners: frozenset[str] = frozenset()


@pytest.fixture(scope="module")
def scenarios(fake_aws: FakeAws) -> dict[str, Outcome]:
    """The three scenarios run side by side; each is its own run in the fake account."""
    ids = {name: new_run_id() for name in ("stage fails", "ansible ends early", "interrupted")}
    started = time.monotonic()
    # bench.yml alone: the wait for SSH fails, the stage records it, bench.yml tears down.
    stage_fails = fake_aws.start(
        "bench.yml",
        "-i",
        "inventory/aws",
        "-e",
        f"run_id={ids['stage fails']}",
        *bench_args(fake_aws, "redis", "-e", "provision_ssh_timeout=2"),
        env=fake_aws.env(ids["stage fails"]),
    )
    # Without the SSH wait, the first stage that gathers facts finds every target unreachable and
    # Ansible ends the whole playbook: bench.yml never reaches its teardown; the wrapper does.
    ends_early = wrapper(
        fake_aws,
        ids["ansible ends early"],
        *bench_args(fake_aws, "gunicorn", "-e", "provision_prepare_hosts=false"),
    )
    # A long SSH wait keeps the run busy, its fleet up, until Ctrl-C.
    interrupted = wrapper(
        fake_aws,
        ids["interrupted"],
        *bench_args(fake_aws, "gunicorn", "-e", "provision_ssh_timeout=300"),
    )
    owners: dict[str, set[str]] = {}
    try:
        deadline = time.monotonic() + 400
        while len(fake_aws.instances(ids["interrupted"], ["running"])) < 2:
            assert interrupted.poll() is None, "the interrupted run ended before its fleet was up"
            assert time.monotonic() < deadline, "the fleet of the interrupted run never came up"
            time.sleep(1)
        time.sleep(10)  # past the inventory refresh, into the SSH wait
        owners["interrupted"] = {
            tags(i)["channels-bench-owner"] for i in fake_aws.instances(ids["interrupted"])
        }
        os.killpg(interrupted.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
    finally:
        outcomes = {
            "interrupted": Outcome(
                ids["interrupted"],
                finish(interrupted, started),
                frozenset(owners.get("interrupted", ())),
            ),
            "ansible ends early": Outcome(ids["ansible ends early"], finish(ends_early, started)),
            "stage fails": Outcome(ids["stage fails"], stage_fails.wait(timeout=600)),
        }
    return outcomes


def test_unreachable_fleet_fails_the_run_and_bench_tears_it_down(
    fake_aws: FakeAws, scenarios: dict[str, Outcome]
) -> None:
    run_id, run, _ = scenarios["stage fails"]
    assert run.returncode != 0
    # The fleet existed, the stage failed on it, and bench.yml itself went on to the teardown.
    assert "terminated 3 instance(s)" in " ".join(run.output.split()), run.tail()
    assert "The provision stage failed" in run.output
    fake_aws.assert_nothing_left(run_id)
    record = fake_aws.run_json(run_id)
    assert record["status"] == "failed"
    assert record["failed_stage"] == "provision"
    assert "Wait for SSH" in record["failure"]
    assert record["inventory"] == "aws"
    assert len(record["topology"]["target"]) == 1 and len(record["topology"]["redis"]) == 1
    assert record["ended_at"]


def test_wrapper_tears_down_when_ansible_ends_the_playbook_early(
    fake_aws: FakeAws, scenarios: dict[str, Outcome]
) -> None:
    run_id, run, _ = scenarios["ansible ends early"]
    assert run.returncode != 0
    bench_part, _, teardown_part = run.output.partition("bench-aws: tearing down")
    assert "UNREACHABLE!" in bench_part, run.tail()
    assert "PLAY [Tear down the fleet]" not in bench_part
    assert "terminated 2 instance(s)" in " ".join(teardown_part.split()), run.tail()
    fake_aws.assert_nothing_left(run_id)
    # finish.yml never ran: the wrapper closed run.json itself.
    record = fake_aws.run_json(run_id)
    assert record["status"] == "failed"
    assert "stopped before its end" in record["failure"]


def test_wrapper_tears_down_an_interrupted_run(
    fake_aws: FakeAws, scenarios: dict[str, Outcome]
) -> None:
    run_id, run, owners = scenarios["interrupted"]
    assert run.returncode != 0
    # The fleet carried the id of the invocation, and that invocation tore it down.
    (invocation,) = owners
    assert f"bench-aws: run {run_id}, invocation {invocation}" in run.output
    assert f"tearing down what invocation {invocation} created of run {run_id}" in run.output
    bench_part, _, teardown_part = run.output.partition("bench-aws: tearing down")
    assert "PLAY [Tear down the fleet]" not in bench_part, run.tail()
    assert "terminated 2 instance(s)" in " ".join(teardown_part.split()), run.tail()
    fake_aws.assert_nothing_left(run_id)
    record = fake_aws.run_json(run_id)
    assert record["status"] == "failed"
    assert record["ended_at"]
