"""Bad input to provision.yml: a clear error, and nothing created (or, when AWS itself rejects the
launch half way, everything created so far removed). The cases run side by side: each is a
separate run in the same fake account."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from .conftest import FakeAws, Run, Started, new_run_id

pytestmark = pytest.mark.aws


@dataclass(frozen=True)
class Case:
    args: tuple[str, ...] = ()
    env: dict[str, str | None] = field(default_factory=dict)
    says: tuple[str, ...] = ()
    region: str = "us-east-1"
    # False: AWS rejected something after the run had created resources; they must be gone.
    nothing_created: bool = True
    # A run id of its own instead of a new well-formed one.
    run_id: str | None = None
    # True: refused before the first call to AWS (the endpoint is a closed port for this case).
    before_aws: bool = False


CASES = {
    "fleet size zero": Case(
        args=("-e", "ec2_fleet_target_count=0"),
        says=("A fleet needs at least one target and one source", "asked for 0 target(s)"),
    ),
    "no region": Case(
        env={"AWS_REGION": None, "AWS_DEFAULT_REGION": None},
        says=("No AWS region: export AWS_REGION=",),
    ),
    "run id not of the planned form": Case(
        run_id="mine-1",
        says=("A run id is the UTC time and 4 hex digits", "not 'mine-1'"),
        before_aws=True,
    ),
    "run id with a tag filter wildcard": Case(
        run_id="20261128T191044Z-0e0*",
        says=("A run id is the UTC time and 4 hex digits", "not '20261128T191044Z-0e0*'"),
        before_aws=True,
    ),
    "invocation id that is not one": Case(
        args=("-e", "bench_invocation=me"),
        says=("ec2_fleet_owner must be the id of the invocation", "not 'me'"),
        before_aws=True,
    ),
    "ssh open to the world": Case(
        args=("-e", "ec2_fleet_ssh_cidr=0.0.0.0/0"),
        says=("SSH would be open to 0.0.0.0/0", "-e ec2_fleet_ssh_cidr="),
    ),
    "ssh open to the world, even when wide ranges are allowed": Case(
        args=("-e", "ec2_fleet_ssh_cidr=0.0.0.0/0", "-e", "ec2_fleet_ssh_cidr_allow_wide=true"),
        says=("SSH would be open to 0.0.0.0/0", "never 0.0.0.0/0"),
    ),
    "ssh open to a /16": Case(
        args=("-e", "ec2_fleet_ssh_cidr=198.51.0.0/16"),
        says=(
            "SSH would be open to 198.51.0.0/16",
            "/24 or narrower",
            "-e ec2_fleet_ssh_cidr_allow_wide=true",
        ),
    ),
    "ssh open to a /23": Case(
        args=("-e", "ec2_fleet_ssh_cidr=198.51.100.0/23"),
        says=("SSH would be open to 198.51.100.0/23", "/24 or narrower"),
    ),
    "ssh range that is no address": Case(
        args=("-e", "ec2_fleet_ssh_cidr=198.51.300.7/32"),
        says=("SSH would be open to 198.51.300.7/32",),
    ),
    "lifetime shorter than the plan": Case(
        # provision.yml takes the plan's expected duration from bench_expected_s (plan.yml).
        args=("-e", "bench_expected_s=13000"),
        says=(
            "but the run needs 266.7 min: 216.7 min of benchmark",
            "20.0 min of setup and 30.0 min of margin",
            "-e ec2_fleet_lifetime_minutes=267 or more",
        ),
    ),
    "lifetime without room for the setup": Case(
        args=("-e", "ec2_fleet_lifetime_minutes=49"),
        says=("the run needs 50.0 min", "-e ec2_fleet_lifetime_minutes=50 or more"),
    ),
    "no credentials": Case(
        env={"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None},
        says=(
            "No usable AWS credentials for region us-east-1",
            "AWS_PROFILE",
            "Unable to locate credentials",
        ),
    ),
    "instance type the region lacks": Case(
        env={"AWS_REGION": "us-east-2", "AWS_DEFAULT_REGION": "us-east-2"},
        region="us-east-2",
        says=(
            "m3.2xlarge, m3.large are not offered in us-east-2",
            "-e ec2_fleet_target_type=m5.2xlarge",
            "-e ec2_fleet_source_type=m5.large",
        ),
    ),
    "image filter matching nothing": Case(
        args=("-e", "ec2_fleet_ami_name=ubuntu/images/hvm-ssd/ubuntu-plucky-25.04-amd64-server-*"),
        says=(
            "No x86_64 image named 'ubuntu/images/hvm-ssd/ubuntu-plucky-25.04-amd64-server-*'",
            "owned by 099720109477",
        ),
    ),
    "ubuntu 16.04 (python 3.5)": Case(
        args=("-e", "ec2_fleet_ami_name=ubuntu/images/hvm-ssd/ubuntu-xenial-16.04-amd64-server-*"),
        says=("is Ubuntu 16.04. Its python3 is 3.5", "Python 3.8 or newer"),
    ),
    "ubuntu 22.04 (openssl 3)": Case(
        args=("-e", "ec2_fleet_ami_name=ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-*"),
        says=("is Ubuntu 22.04. Its OpenSSL is 3.0", "CPython 3.6"),
    ),
    "not confirmed": Case(
        args=("-e", "confirm=no"),
        says=("Not confirmed: nothing was created",),
    ),
    # moto, like AWS, rejects a root volume of 0 GiB only when the instance is launched, after the
    # key pair and the security groups exist.
    "launch rejected half way": Case(
        args=("-e", "ec2_fleet_root_volume_gb=0"),
        says=(
            "failed at Launch the instances of each role",
            "Everything the run had created was removed again",
        ),
        nothing_created=False,
    ),
}


# ansible-playbook runs at once: enough to overlap the waits on moto, few enough for 2 shared cores.
AT_ONCE = 6


@pytest.fixture(scope="module")
def outcomes(fake_aws: FakeAws) -> dict[str, tuple[str, Run]]:
    running: dict[str, tuple[str, Started]] = {}
    done: dict[str, tuple[str, Run]] = {}
    for name, case in CASES.items():
        if len(running) == AT_ONCE:
            oldest = next(iter(running))
            run_id, process = running.pop(oldest)
            done[oldest] = (run_id, process.wait(timeout=600))
        run_id = case.run_id or new_run_id()
        env = dict(case.env)
        if case.before_aws:
            env["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{fake_aws.closed_port}"
        running[name] = (
            run_id,
            fake_aws.start(
                *fake_aws.provision_args(run_id, "-e", "setup=gunicorn", *case.args),
                env=fake_aws.env(run_id, **env),
            ),
        )
    for name, (run_id, process) in running.items():
        done[name] = (run_id, process.wait(timeout=600))
    return done


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_fails_clearly_and_leaves_nothing(
    fake_aws: FakeAws, outcomes: dict[str, tuple[str, Run]], name: str
) -> None:
    case = CASES[name]
    run_id, run = outcomes[name]
    assert run.returncode != 0, run.tail()
    # Ansible folds long messages over several lines.
    said = " ".join(run.output.split())
    for words in case.says:
        assert words in said, run.tail()
    if case.before_aws:
        # The role made no AWS call (the aws inventory plugin, loaded before any play, did try the
        # closed endpoint): its first one would have failed with the credentials message.
        assert "ec2_fleet : List the instances of every benchmark run" not in run.output
        assert "No usable AWS credentials" not in said
    if case.nothing_created:
        fake_aws.assert_nothing_created(run_id, case.region)
        assert "Create the run's private directory" not in run.output
    else:
        assert "Create the security group of the sources" in run.output
        fake_aws.assert_nothing_left(run_id, case.region)
