"""Provision one fleet in the fake account, check it, provision it again, read it through the
inventory, and tear it down by run id. The tests share the fleet and run in file order."""

from __future__ import annotations

import base64
import json
import re
import shutil
import stat
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import pytest

from .conftest import (
    CONTROLLER_TZ,
    OPERATOR_CIDR,
    REPO,
    VENV_BIN,
    FakeAws,
    Run,
    new_invocation,
    new_run_id,
    tags,
    utc_time,
)

pytestmark = pytest.mark.aws


class Fleet(NamedTuple):
    run_id: str
    run: Run
    invocation: str


@pytest.fixture(scope="module")
def fleet(fake_aws: FakeAws) -> Fleet:
    run_id, invocation = new_run_id(), new_invocation()
    # Two sources, as a run that splits the load between generators has.
    run = fake_aws.provision(run_id, "-e", "ec2_fleet_source_count=2", invocation=invocation)
    assert run.returncode == 0, run.tail()
    return Fleet(run_id, run, invocation)


def by_role(instances: list[dict]) -> dict[str, list[dict]]:
    roles: dict[str, list[dict]] = {}
    for instance in instances:
        tags = {tag["Key"]: tag["Value"] for tag in instance.get("Tags", [])}
        roles.setdefault(tags["channels-bench-role"], []).append(instance)
    return roles


def test_provision_creates_the_planned_instances(fake_aws: FakeAws, fleet: Fleet) -> None:
    run_id = fleet.run_id
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


def test_every_resource_carries_the_run_its_owner_and_its_expiry(
    fake_aws: FakeAws, fleet: Fleet
) -> None:
    run_id = fleet.run_id
    resources = (
        fake_aws.instances(run_id, ["running"])
        + fake_aws.security_groups(run_id)
        + fake_aws.key_pairs(run_id)
    )
    assert len(resources) == 4 + 3 + 1
    expiries = set()
    for resource in resources:
        found = tags(resource)
        assert found["channels-bench-run"] == run_id
        # The invocation that provisioned: only a teardown naming it, or the whole run, removes it.
        assert found["channels-bench-owner"] == fleet.invocation
        expiries.add(found["channels-bench-expires"])
    # One expiry for the whole run: the default lifetime, 240 minutes from provisioning, in UTC
    # although the controller's clock is not (conftest.CONTROLLER_TZ).
    assert CONTROLLER_TZ != "UTC"
    (expires,) = expiries
    assert timedelta(minutes=230) < utc_time(expires) - datetime.now(UTC) <= timedelta(minutes=240)


def test_instances_power_off_and_terminate_themselves(fake_aws: FakeAws, fleet: Fleet) -> None:
    ec2 = fake_aws.ec2()
    for instance in fake_aws.instances(fleet.run_id, ["running"]):
        # The instance enforces the expiry itself: it powers off, and powering off terminates it.
        behaviour = ec2.describe_instance_attribute(
            InstanceId=instance["InstanceId"], Attribute="instanceInitiatedShutdownBehavior"
        )
        assert behaviour["InstanceInitiatedShutdownBehavior"]["Value"] == "terminate"


def test_security_groups_admit_only_what_each_role_needs(fake_aws: FakeAws, fleet: Fleet) -> None:
    run_id = fleet.run_id
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


def test_key_pair_is_the_runs_own(fake_aws: FakeAws, fleet: Fleet) -> None:
    run_id = fleet.run_id
    assert [pair["KeyName"] for pair in fake_aws.key_pairs(run_id)] == [f"channels-bench-{run_id}"]
    assert {i["KeyName"] for i in fake_aws.instances(run_id, ["running"])} == {
        f"channels-bench-{run_id}"
    }
    secrets = fake_aws.secrets_dir(run_id)
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o700
    assert stat.S_IMODE((secrets / "id_ed25519").stat().st_mode) == 0o600
    # Never inside the repository.
    assert REPO not in secrets.parents


def test_plan_shows_prices_and_cost_before_creating(fleet: Fleet) -> None:
    run = fleet.run
    plan = run.output[: run.output.index("Create the run's private directory")]
    assert "target       1  m3.2xlarge            0.532" in plan
    assert "source       2  m3.large              0.133" in plan
    assert "Hourly: 0.93 USD" in plan  # 0.532 + 3 x 0.133
    assert "Expected: about" in plan


def test_instances_require_imdsv2(fake_aws: FakeAws, fleet: Fleet) -> None:
    for instance in fake_aws.instances(fleet.run_id, ["running"]):
        options = instance["MetadataOptions"]
        # A metadata request without a session token (IMDSv1) is refused.
        assert options["HttpTokens"] == "required", options
        assert options["HttpEndpoint"] == "enabled"
        assert options["HttpPutResponseHopLimit"] == 1


def test_second_provision_changes_nothing(fake_aws: FakeAws, fleet: Fleet) -> None:
    run_id = fleet.run_id
    before = fake_aws.snapshot(run_id)
    again = fake_aws.provision(
        run_id, "-e", "ec2_fleet_source_count=2", invocation=fleet.invocation
    )
    assert again.returncode == 0, again.tail()
    assert again.recap()["changed"] == 0, again.tail()
    fake_aws.assert_untouched(run_id, before)


def test_provision_of_the_run_by_another_invocation_is_refused(
    fake_aws: FakeAws, fleet: Fleet
) -> None:
    """Someone else's live run: a run id already in use changes nothing, not even a tag."""
    run_id = fleet.run_id
    before = fake_aws.snapshot(run_id)
    other = new_invocation()
    refused = fake_aws.provision(run_id, "-e", "ec2_fleet_source_count=1", invocation=other)
    assert refused.returncode != 0
    said = " ".join(refused.output.split())
    assert f"Run {run_id} already exists in us-east-1: 4 instance(s), 3 security group(s)" in said
    assert f"created by invocation {fleet.invocation}, not by this one ({other})" in said
    assert "Nothing was changed." in said
    assert refused.recap()["changed"] == 0
    fake_aws.assert_untouched(run_id, before)


def test_teardown_by_another_invocation_leaves_the_run(fake_aws: FakeAws, fleet: Fleet) -> None:
    """What scripts/bench-aws runs after a failed invocation: only that invocation's resources."""
    run_id = fleet.run_id
    before = fake_aws.snapshot(run_id)
    run = fake_aws.playbook(
        "playbooks/teardown.yml",
        "-e",
        f"run_id={run_id}",
        "-e",
        f"bench_invocation={new_invocation()}",
    )
    assert run.returncode == 0, run.tail()
    assert "terminated 0 instance(s), deleted 0 security group(s) and 0 key pair(s)" in " ".join(
        run.output.split()
    )
    assert run.recap()["changed"] == 0
    # The private directory (the run's SSH key) stays too: it says it is the other invocation's.
    fake_aws.assert_untouched(run_id, before)


def user_data_files(user_data: str) -> dict[str, str]:
    """The files the user data writes: {path: content}, from its `cat > PATH <<'EOF'` blocks."""
    blocks = re.findall(
        r"^cat > (\S+) <<'(\w+)'\n(.*?)^\2$", user_data, flags=re.MULTILINE | re.DOTALL
    )
    return {path: content for path, _, content in blocks}


def user_data_commands(user_data: str) -> list[str]:
    """The user data's command lines outside the file blocks and comments."""
    outside = re.sub(
        r"^cat > \S+ <<'(\w+)'\n.*?^\1$", "", user_data, flags=re.MULTILINE | re.DOTALL
    )
    return [line for line in outside.splitlines() if line.strip() and not line.startswith("#")]


@pytest.fixture(scope="module")
def user_data(fake_aws: FakeAws, fleet: Fleet) -> tuple[str, str]:
    """The user data of one instance as AWS holds it, and the instance's expiry tag."""
    instance = fake_aws.instances(fleet.run_id, ["running"])[0]
    attribute = fake_aws.ec2().describe_instance_attribute(
        InstanceId=instance["InstanceId"], Attribute="userData"
    )
    return base64.b64decode(attribute["UserData"]["Value"]).decode(), tags(instance)[
        "channels-bench-expires"
    ]


def test_user_data_keeps_the_expiry_on_disk_behind_a_boot_time_timer(
    user_data: tuple[str, str],
) -> None:
    script, expires = user_data
    subprocess.run(["sh", "-n"], input=script, text=True, check=True)
    files = user_data_files(script)
    assert set(files) == {
        "/etc/channels-bench/expires",
        "/usr/local/sbin/channels-bench-expiry",
        "/etc/systemd/system/channels-bench-expiry.service",
        "/etc/systemd/system/channels-bench-expiry.timer",
    }
    # The absolute time of the tag, not a delay counted from some boot.
    assert files["/etc/channels-bench/expires"] == f"{expires}\n"
    assert "systemd-run" not in script and "--on-active" not in script
    service = files["/etc/systemd/system/channels-bench-expiry.service"]
    assert "Type=oneshot\n" in service
    assert (
        "ExecStart=/usr/local/sbin/channels-bench-expiry /etc/channels-bench/expires\n" in service
    )
    timer = files["/etc/systemd/system/channels-bench-expiry.timer"]
    # Checked at every boot and every 5 minutes, by a timer enabled for every later boot.
    assert "\n[Timer]\nOnBootSec=1min\nOnUnitActiveSec=5min\n" in timer
    assert "\n[Install]\nWantedBy=timers.target\n" in timer
    assert user_data_commands(script) == [
        "set -eu",
        "install -d -m 0755 /etc/channels-bench",
        "chmod 0755 /usr/local/sbin/channels-bench-expiry",
        "systemctl daemon-reload",
        "systemctl enable --now channels-bench-expiry.timer",
    ]


def run_expiry_check(
    tmp_path: Path, script: str, expires_text: str, now: datetime
) -> subprocess.CompletedProcess[str]:
    """The instance's check, run with `date` answering `now` and a systemctl that only records."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    real_date = shutil.which("date")
    (bin_dir / "date").write_text(
        f'#!/bin/sh\nif [ "$*" = "-u +%s" ]; then echo {int(now.timestamp())}; '
        f'else exec {real_date} "$@"; fi\n'
    )
    (bin_dir / "systemctl").write_text(f'#!/bin/sh\necho "$*" >> {tmp_path / "systemctl.log"}\n')
    for tool in ("date", "systemctl"):
        (bin_dir / tool).chmod(0o755)
    check = tmp_path / "channels-bench-expiry"
    check.write_text(script)
    expires_file = tmp_path / "expires"
    expires_file.write_text(expires_text)
    (tmp_path / "systemctl.log").unlink(missing_ok=True)
    return subprocess.run(
        ["sh", str(check), str(expires_file)],
        env={"PATH": f"{bin_dir}:/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )


def powered_off(tmp_path: Path) -> bool:
    log = tmp_path / "systemctl.log"
    return log.exists() and log.read_text() == "poweroff\n"


def test_instance_powers_off_once_the_expiry_has_passed_whenever_it_checks(
    user_data: tuple[str, str], tmp_path: Path
) -> None:
    script, expires = user_data
    check = user_data_files(script)["/usr/local/sbin/channels-bench-expiry"]
    expires_file_text = user_data_files(script)["/etc/channels-bench/expires"]
    at = utc_time(expires)
    # A check at boot or on the timer, before, at and after the expiry (e.g. after a reboot).
    for now, powers_off in [
        (at - timedelta(hours=3), False),
        (at - timedelta(seconds=1), False),
        (at, True),
        (at + timedelta(days=2), True),
    ]:
        result = run_expiry_check(tmp_path, check, expires_file_text, now)
        assert result.returncode == 0, result.stderr
        assert powered_off(tmp_path) == powers_off, (now, result.stdout)
    # What the journal shows while the fleet lives.
    result = run_expiry_check(tmp_path, check, expires_file_text, at - timedelta(minutes=90))
    assert result.stdout == f"channels-bench-expiry: the fleet expires at {expires}, in 90 min\n"
    # A file without a time fails loudly rather than powering off or pretending all is well.
    result = run_expiry_check(tmp_path, check, "someday\n", at + timedelta(days=2))
    assert result.returncode != 0
    assert "no time in" in result.stderr
    assert not powered_off(tmp_path)


def test_ssh_trusts_a_host_key_on_first_use_only(fake_aws: FakeAws, fleet: Fleet) -> None:
    """The ssh command Ansible runs for a fleet host: accept a new host key and record it in the
    run's own known_hosts, refuse a changed one (StrictHostKeyChecking=accept-new)."""
    completed = subprocess.run(
        [
            str(VENV_BIN / "ansible"),
            "-i",
            "inventory/aws",
            "target",
            "-m",
            "ansible.builtin.ping",
            "-vvv",
            *fake_aws.unreachable_hosts(),
        ],
        cwd=REPO,
        env=fake_aws.env(fleet.run_id),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode != 0  # nothing listens on the closed port
    commands = [line for line in completed.stdout.splitlines() if "SSH: EXEC ssh " in line]
    assert commands, completed.stdout[-3000:]
    known_hosts = fake_aws.secrets_dir(fleet.run_id) / "known_hosts"
    for command in commands:
        assert "-o StrictHostKeyChecking=accept-new" in command
        assert f"-o UserKnownHostsFile={known_hosts}" in command
        assert "StrictHostKeyChecking=no" not in command


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


def test_inventory_groups_the_fleet_by_role(fake_aws: FakeAws, fleet: Fleet) -> None:
    run_id = fleet.run_id
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
    fake_aws: FakeAws, fleet: Fleet
) -> None:
    """Templated group_vars, resolved as a play resolves them (debug runs on the controller)."""
    run_id = fleet.run_id
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


def test_teardown_by_run_id_removes_everything(fake_aws: FakeAws, fleet: Fleet) -> None:
    run_id = fleet.run_id
    # As after a dead controller: no bench run, the default (local) inventory, just the run id.
    run = fake_aws.playbook("playbooks/teardown.yml", "-e", f"run_id={run_id}", env=fake_aws.env())
    assert run.returncode == 0, run.tail()
    assert "terminated 4 instance(s)" in " ".join(run.output.split())
    fake_aws.assert_nothing_left(run_id)
    again = fake_aws.playbook(
        "playbooks/teardown.yml", "-e", f"run_id={run_id}", env=fake_aws.env()
    )
    assert again.returncode == 0, again.tail()
    assert again.recap()["changed"] == 0, again.tail()


@pytest.mark.parametrize(
    ("setups", "image"),
    [
        # Today's stack alone: Ubuntu 24.04, whose own Python is 3.12.
        ('["2026/daphne", "2026/uvicorn"]', "ami-0d4b6f8a0c2e4f6b8"),
        # With the 2016 stack: 20.04, the image both list (pyenv builds 3.12 there, 3.6 too).
        ('["2016/gunicorn", "2026/daphne"]', "ami-0a2d4c6e8f0b1d3f5"),
    ],
    ids=["2026 alone", "2016 and 2026"],
)
def test_the_fleet_runs_the_image_its_stacks_share(
    fake_aws: FakeAws, setups: str, image: str
) -> None:
    run_id = new_run_id()
    run = fake_aws.provision(run_id, "-e", f'{{"setups": {setups}}}')
    try:
        assert run.returncode == 0, run.tail()
        instances = fake_aws.instances(run_id, ["running"])
        assert instances
        assert {i["ImageId"] for i in instances} == {image}
    finally:
        fake_aws.playbook("playbooks/teardown.yml", "-e", f"run_id={run_id}", env=fake_aws.env())
    fake_aws.assert_nothing_left(run_id)
