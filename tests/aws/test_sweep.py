"""The sweep removes what is left of expired fleets, across runs, and nothing else.

The scene: a run whose controller was killed in the middle of provisioning (its fleet is up and
nobody will tear it down), a live run that has not expired, and resources of the same account that
are not the benchmark's. The sweep is run with its clock set past the dead run's expiry
(-e sweep_now, the injectable "now"), as if hours had passed.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import pytest

from .conftest import (
    LIVE_STATES,
    REPO,
    VENV_BIN,
    FakeAws,
    Run,
    new_invocation,
    new_run_id,
    tags,
    utc_text,
    utc_time,
)

pytestmark = pytest.mark.aws


class Decoys(NamedTuple):
    """Resources of the account that are not the benchmark's, as snapshots of themselves."""

    group_ids: list[str]
    key_names: list[str]
    instance_ids: list[str]


class Scene(NamedTuple):
    dead_run: str
    dead_expires: datetime
    live_run: str
    live_before: dict[str, object]
    decoys: Decoys


def make_decoys(fake_aws: FakeAws) -> Decoys:
    ec2 = fake_aws.ec2()
    suffix = uuid.uuid4().hex[:8]
    past = [{"Key": "channels-bench-expires", "Value": "2001-01-01T00:00:00Z"}]
    group_ids = [
        # No tags at all.
        ec2.create_security_group(GroupName=f"decoy-{suffix}", Description="not the bench's")[
            "GroupId"
        ],
        # An expiry long past, but no run: not the benchmark's.
        ec2.create_security_group(
            GroupName=f"decoy-expired-{suffix}",
            Description="not the bench's",
            TagSpecifications=[{"ResourceType": "security-group", "Tags": past}],
        )["GroupId"],
        # The benchmark's tag, but an expiry that is not a time: never swept.
        ec2.create_security_group(
            GroupName=f"decoy-unreadable-{suffix}",
            Description="the bench's, unreadable expiry",
            TagSpecifications=[
                {
                    "ResourceType": "security-group",
                    "Tags": [
                        {"Key": "channels-bench-run", "Value": new_run_id()},
                        {"Key": "channels-bench-expires", "Value": "soon"},
                    ],
                }
            ],
        )["GroupId"],
    ]
    key_names = [f"decoy-{suffix}"]
    ec2.create_key_pair(KeyName=key_names[0])
    image = ec2.describe_images(Owners=["099720109477"])["Images"][0]["ImageId"]
    instance_ids = [
        i["InstanceId"]
        for i in ec2.run_instances(
            ImageId=image,
            InstanceType="t3.medium",
            MinCount=1,
            MaxCount=1,
            TagSpecifications=[{"ResourceType": "instance", "Tags": past}],
        )["Instances"]
    ]
    return Decoys(group_ids, key_names, instance_ids)


def assert_decoys_untouched(fake_aws: FakeAws, decoys: Decoys) -> None:
    ec2 = fake_aws.ec2()
    assert len(ec2.describe_security_groups(GroupIds=decoys.group_ids)["SecurityGroups"]) == 3
    assert len(ec2.describe_key_pairs(KeyNames=decoys.key_names)["KeyPairs"]) == 1
    reservations = ec2.describe_instances(InstanceIds=decoys.instance_ids)["Reservations"]
    assert [i["State"]["Name"] for r in reservations for i in r["Instances"]] == ["running"]


def kill_mid_provision(fake_aws: FakeAws, run_id: str) -> None:
    """Start provisioning, and kill the controller (SIGKILL: no rescue, no teardown) once the
    fleet's instances are up."""
    process = subprocess.Popen(
        [
            str(VENV_BIN / "ansible-playbook"),
            *fake_aws.provision_args(
                run_id, "-e", "setup=gunicorn", "-e", "ec2_fleet_lifetime_minutes=60"
            ),
        ],
        cwd=REPO,
        env=fake_aws.env(run_id),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 300
        while len(fake_aws.instances(run_id, ["pending", "running"])) < 2:
            assert process.poll() is None, "provisioning ended before it could be killed"
            assert time.monotonic() < deadline, "the fleet never came up"
            time.sleep(0.5)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@pytest.fixture(scope="module")
def scene(fake_aws: FakeAws) -> Iterator[Scene]:
    dead_run, live_run = new_run_id(), new_run_id()
    live = fake_aws.provision(live_run, "-e", "setup=gunicorn", invocation=new_invocation())
    assert live.returncode == 0, live.tail()
    kill_mid_provision(fake_aws, dead_run)
    (dead_expires,) = {
        tags(i)["channels-bench-expires"] for i in fake_aws.instances(dead_run, LIVE_STATES)
    }
    yield Scene(
        dead_run,
        utc_time(dead_expires),
        live_run,
        fake_aws.snapshot(live_run),
        make_decoys(fake_aws),
    )
    fake_aws.playbook("playbooks/teardown.yml", "-e", f"run_id={live_run}")
    fake_aws.playbook("playbooks/teardown.yml", "-e", f"run_id={dead_run}")


def sweep(fake_aws: FakeAws, *args: str) -> Run:
    return fake_aws.playbook("playbooks/sweep.yml", *args)


def said(run: Run) -> str:
    return " ".join(run.output.split())


def listed(run: Run) -> str:
    """What the sweep listed as expired."""
    return said(run).partition("Show what has expired")[2].partition("TASK [")[0]


def summary(run: Run) -> str:
    found = re.search(r"(Dry run: would remove|Removed) .*? not expired\.", said(run))
    assert found, run.tail()
    return found[0]


def test_the_killed_run_is_left_behind(fake_aws: FakeAws, scene: Scene) -> None:
    """What the sweep is for: nothing else will remove this fleet before it expires."""
    snapshot = fake_aws.snapshot(scene.dead_run)
    assert len(snapshot["instances"]) == 2
    assert len(snapshot["security_groups"]) == 2
    assert len(snapshot["key_pairs"]) == 1
    assert timedelta(minutes=50) < scene.dead_expires - datetime.now(UTC) <= timedelta(minutes=60)


def test_sweep_before_the_expiry_removes_nothing(fake_aws: FakeAws, scene: Scene) -> None:
    dead_before = fake_aws.snapshot(scene.dead_run)
    run = sweep(fake_aws)  # the real clock: the dead run has an hour to go
    assert run.returncode == 0, run.tail()
    assert run.recap()["changed"] == 0
    assert scene.dead_run not in listed(run)
    assert scene.dead_run not in summary(run)
    fake_aws.assert_untouched(scene.dead_run, dead_before)
    fake_aws.assert_untouched(scene.live_run, scene.live_before)
    assert_decoys_untouched(fake_aws, scene.decoys)


def test_dry_run_lists_the_expired_and_removes_nothing(fake_aws: FakeAws, scene: Scene) -> None:
    dead_before = fake_aws.snapshot(scene.dead_run)
    later = utc_text(scene.dead_expires + timedelta(minutes=1))
    run = sweep(fake_aws, "-e", "dry_run=true", "-e", f"sweep_now={later}")
    assert run.returncode == 0, run.tail()
    expired = listed(run)
    for instance_id in fake_aws.instance_ids(scene.dead_run):
        assert f"run {scene.dead_run}: instance {instance_id}" in expired
    for group in fake_aws.security_groups(scene.dead_run):
        assert f"run {scene.dead_run}: security group {group['GroupId']}" in expired
    assert f"run {scene.dead_run}: key pair" in expired
    assert scene.live_run not in expired
    assert summary(run).startswith(
        "Dry run: would remove 2 instance(s), 2 security group(s) and 1 key pair(s)"
    )
    assert run.recap()["changed"] == 0
    fake_aws.assert_untouched(scene.dead_run, dead_before)
    fake_aws.assert_untouched(scene.live_run, scene.live_before)
    assert_decoys_untouched(fake_aws, scene.decoys)


def test_sweep_past_the_expiry_removes_the_dead_run_only(fake_aws: FakeAws, scene: Scene) -> None:
    later = utc_text(scene.dead_expires + timedelta(minutes=1))
    run = sweep(fake_aws, "-e", f"sweep_now={later}")
    assert run.returncode == 0, run.tail()
    assert summary(run).startswith("Removed 2 instance(s), 2 security group(s) and 1 key pair(s)")
    assert f"(runs: {scene.dead_run})" in summary(run)
    fake_aws.assert_nothing_left(scene.dead_run)
    fake_aws.assert_untouched(scene.live_run, scene.live_before)
    assert_decoys_untouched(fake_aws, scene.decoys)
    # Safe at any time: a second sweep finds nothing more to do.
    again = sweep(fake_aws, "-e", f"sweep_now={later}")
    assert again.returncode == 0, again.tail()
    assert again.recap()["changed"] == 0
    fake_aws.assert_untouched(scene.live_run, scene.live_before)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("-e", "sweep_now=tomorrow"), "ec2_fleet_sweep_now must be a UTC time"),
        (("-e", "sweep_now=2026-11-29 03:00:00"), "ec2_fleet_sweep_now must be a UTC time"),
        (("-e", "dry_run=maybe"), "dry_run must be true (only list) or false (remove)"),
    ],
)
def test_bad_input_changes_nothing(
    fake_aws: FakeAws, scene: Scene, args: tuple[str, ...], message: str
) -> None:
    run = sweep(fake_aws, *args)
    assert run.returncode != 0
    assert message in said(run)
    assert run.recap()["changed"] == 0
    fake_aws.assert_untouched(scene.live_run, scene.live_before)


def test_make_target_runs_the_sweep() -> None:
    dry = subprocess.run(
        ["make", "-n", "sweep-aws", "DRY_RUN=true"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "ansible-playbook playbooks/sweep.yml -e dry_run=true" in dry.stdout
    real = subprocess.run(
        ["make", "-n", "sweep-aws"], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert "ansible-playbook playbooks/sweep.yml -e dry_run=false" in real.stdout
