"""Provision one fleet in the fake account, check it, provision it again, read it through the
inventory, and tear it down by run id. The tests share the fleet and run in file order."""

from __future__ import annotations

import json
import stat
import subprocess
from datetime import UTC, datetime, timedelta

import pytest

from .conftest import OPERATOR_CIDR, REPO, VENV_BIN, FakeAws, Run, new_run_id

pytestmark = pytest.mark.aws


@pytest.fixture(scope="module")
def fleet(fake_aws: FakeAws) -> tuple[str, Run]:
    run_id = new_run_id()
    # Two sources, as a run that splits the load between generators has.
    run = fake_aws.provision(run_id, "-e", "ec2_fleet_source_count=2")
    assert run.returncode == 0, run.tail()
    return run_id, run


def by_role(instances: list[dict]) -> dict[str, list[dict]]:
    roles: dict[str, list[dict]] = {}
    for instance in instances:
        tags = {tag["Key"]: tag["Value"] for tag in instance.get("Tags", [])}
        roles.setdefault(tags["channels-bench-role"], []).append(instance)
    return roles


def test_provision_creates_the_planned_instances(fake_aws: FakeAws, fleet: tuple[str, Run]) -> None:
    run_id, _ = fleet
    roles = by_role(fake_aws.instances(run_id, ["running"]))
    assert {role: len(found) for role, found in roles.items()} == {
        "target": 1,
        "source": 2,
        "redis": 1,
    }
    assert {i["InstanceType"] for i in roles["target"]} == {"m3.2xlarge"}
    assert {i["InstanceType"] for i in roles["source"] + roles["redis"]} == {"m3.large"}
    # The newest Ubuntu 20.04 image of Canonical's, not the older one nor 16.04.
    assert {i["ImageId"] for found in roles.values() for i in found} == {"ami-0a2d4c6e8f0b1d3f5"}
    # Every host in one zone, as the seed's were.
    assert len({i["Placement"]["AvailabilityZone"] for found in roles.values() for i in found}) == 1


def test_instances_carry_the_run_and_its_expiry(fake_aws: FakeAws, fleet: tuple[str, Run]) -> None:
    run_id, _ = fleet
    ec2 = fake_aws.ec2()
    for instance in fake_aws.instances(run_id, ["running"]):
        tags = {tag["Key"]: tag["Value"] for tag in instance["Tags"]}
        assert tags["channels-bench-run"] == run_id
        expires = datetime.strptime(tags["channels-bench-expires"], "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=UTC
        )
        # The default lifetime is 240 minutes from provisioning.
        assert timedelta(minutes=230) < expires - datetime.now(UTC) <= timedelta(minutes=240)
        # The instance enforces the expiry itself: it powers off, and powering off terminates it.
        behaviour = ec2.describe_instance_attribute(
            InstanceId=instance["InstanceId"], Attribute="instanceInitiatedShutdownBehavior"
        )
        assert behaviour["InstanceInitiatedShutdownBehavior"]["Value"] == "terminate"


def test_security_groups_admit_only_what_each_role_needs(
    fake_aws: FakeAws, fleet: tuple[str, Run]
) -> None:
    run_id, _ = fleet
    groups = {
        group["GroupName"].rsplit("-", 1)[1]: group for group in fake_aws.security_groups(run_id)
    }
    assert set(groups) == {"target", "source", "redis"}

    def rules(role: str) -> set[tuple[int, str]]:
        found = set()
        for permission in groups[role]["IpPermissions"]:
            assert permission["IpProtocol"] == "tcp"
            assert permission["FromPort"] == permission["ToPort"]
            found.update(
                (permission["FromPort"], r["CidrIp"]) for r in permission.get("IpRanges", [])
            )
            found.update(
                (permission["FromPort"], p["GroupId"])
                for p in permission.get("UserIdGroupPairs", [])
            )
            assert not permission.get("Ipv6Ranges")
        return found

    source, target = groups["source"]["GroupId"], groups["target"]["GroupId"]
    assert rules("source") == {(22, OPERATOR_CIDR)}
    assert rules("target") == {(22, OPERATOR_CIDR), (80, source)}
    assert rules("redis") == {(22, OPERATOR_CIDR), (6379, target)}
    # Each instance wears its own role's group only.
    for role, found in by_role(fake_aws.instances(run_id, ["running"])).items():
        for instance in found:
            assert [g["GroupId"] for g in instance["SecurityGroups"]] == [groups[role]["GroupId"]]


def test_key_pair_is_the_runs_own(fake_aws: FakeAws, fleet: tuple[str, Run]) -> None:
    run_id, _ = fleet
    assert [pair["KeyName"] for pair in fake_aws.key_pairs(run_id)] == [f"channels-bench-{run_id}"]
    assert {i["KeyName"] for i in fake_aws.instances(run_id, ["running"])} == {
        f"channels-bench-{run_id}"
    }
    secrets = fake_aws.secrets_dir(run_id)
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o700
    assert stat.S_IMODE((secrets / "id_ed25519").stat().st_mode) == 0o600
    # Never inside the repository.
    assert REPO not in secrets.parents


def test_plan_shows_prices_and_cost_before_creating(fleet: tuple[str, Run]) -> None:
    _, run = fleet
    plan = run.output[: run.output.index("Create the run's private directory")]
    assert "target       1  m3.2xlarge            0.532" in plan
    assert "source       2  m3.large              0.133" in plan
    assert "Hourly: 0.93 USD" in plan  # 0.532 + 3 x 0.133
    assert "Expected: about" in plan


def test_second_provision_changes_nothing(fake_aws: FakeAws, fleet: tuple[str, Run]) -> None:
    run_id, _ = fleet
    before = sorted(i["InstanceId"] for i in fake_aws.instances(run_id, ["running"]))
    again = fake_aws.provision(run_id, "-e", "ec2_fleet_source_count=2")
    assert again.returncode == 0, again.tail()
    assert again.recap()["changed"] == 0, again.tail()
    assert sorted(i["InstanceId"] for i in fake_aws.instances(run_id, ["running"])) == before


def inventory(fake_aws: FakeAws, run_id: str, *args: str) -> str:
    completed = subprocess.run(
        [str(VENV_BIN / "ansible-inventory"), "-i", "inventory/aws", *args],
        cwd=REPO,
        env=fake_aws.env(run_id),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return completed.stdout


def plain(value: object) -> object:
    """ansible-inventory --list wraps values it marks unsafe as {"__ansible_unsafe": value}."""
    if isinstance(value, dict) and set(value) == {"__ansible_unsafe"}:
        return value["__ansible_unsafe"]
    return value


def test_inventory_groups_the_fleet_by_role(fake_aws: FakeAws, fleet: tuple[str, Run]) -> None:
    run_id, _ = fleet
    graph = inventory(fake_aws, run_id, "--graph")
    for role in ("target", "source", "redis"):
        assert f"@{role}:" in graph
    listing = json.loads(inventory(fake_aws, run_id, "--list"))
    roles = by_role(fake_aws.instances(run_id, ["running"]))
    for role, found in roles.items():
        assert sorted(listing[role]["hosts"]) == sorted(f"{role}-{i['InstanceId']}" for i in found)
    hostvars = listing["_meta"]["hostvars"]
    redis_instance = roles["redis"][0]
    redis_vars = {
        key: plain(value)
        for key, value in hostvars[f"redis-{redis_instance['InstanceId']}"].items()
    }
    assert redis_vars["ansible_host"] == redis_instance["PublicIpAddress"]
    assert redis_vars["ansible_user"] == "ubuntu"
    assert redis_vars["bench_inventory_kind"] == "aws"
    assert redis_vars["instance_type"] == "m3.large"


def test_inventory_vars_resolve_to_the_runs_key_and_a_private_redis(
    fake_aws: FakeAws, fleet: tuple[str, Run]
) -> None:
    """Templated group_vars, resolved as a play resolves them (debug runs on the controller)."""
    run_id, _ = fleet
    redis_instance = by_role(fake_aws.instances(run_id, ["running"]))["redis"][0]
    completed = subprocess.run(
        [
            str(VENV_BIN / "ansible"),
            "-i",
            "inventory/aws",
            "redis",
            "-m",
            "ansible.builtin.debug",
            "-a",
            "msg={{ [redis_server_bind, redis_server_password | length,"
            " ansible_ssh_private_key_file] }}",
        ],
        cwd=REPO,
        env=fake_aws.env(run_id, ANSIBLE_CALLBACK_RESULT_FORMAT="json"),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    # "redis-i-... | SUCCESS => {...}"
    bind, password_length, key_file = json.loads(completed.stdout.split("=>", 1)[1])["msg"]
    assert bind == redis_instance["PrivateIpAddress"]
    assert password_length == 32
    assert key_file == str(fake_aws.secrets_dir(run_id) / "id_ed25519")
    password_file = fake_aws.secrets_dir(run_id) / "redis-password"
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600


def test_teardown_by_run_id_removes_everything(fake_aws: FakeAws, fleet: tuple[str, Run]) -> None:
    run_id, _ = fleet
    # As after a dead controller: no bench run, the default (local) inventory, just the run id.
    run = fake_aws.playbook("playbooks/teardown.yml", "-e", f"run_id={run_id}", env=fake_aws.env())
    assert run.returncode == 0, run.tail()
    assert "terminated 4 instance(s)" in run.output
    fake_aws.assert_nothing_left(run_id)
    again = fake_aws.playbook(
        "playbooks/teardown.yml", "-e", f"run_id={run_id}", env=fake_aws.env()
    )
    assert again.returncode == 0, again.tail()
    assert again.recap()["changed"] == 0, again.tail()
