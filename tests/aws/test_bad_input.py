"""Bad input to provision.yml: a clear error, and nothing created (or, when AWS itself rejects the
launch half way, everything created so far removed). The cases run side by side: each is a
separate run in the same fake account."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from .conftest import FakeAws, Run, new_run_id

pytestmark = pytest.mark.aws


@dataclass(frozen=True)
class Case:
    args: tuple[str, ...] = ()
    env: dict[str, str | None] = field(default_factory=dict)
    says: tuple[str, ...] = ()
    region: str = "us-east-1"
    # False: AWS rejected something after the run had created resources; they must be gone.
    nothing_created: bool = True


CASES = {
    "fleet size zero": Case(
        args=("-e", "ec2_fleet_target_count=0"),
        says=("A fleet needs at least one target and one source", "asked for 0 target(s)"),
    ),
    "no region": Case(
        env={"AWS_REGION": None, "AWS_DEFAULT_REGION": None},
        says=("No AWS region: export AWS_REGION=",),
    ),
    "ssh open to the world": Case(
        args=("-e", "ec2_fleet_ssh_cidr=0.0.0.0/0"),
        says=("SSH would be open to 0.0.0.0/0", "-e ec2_fleet_ssh_cidr="),
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


@pytest.fixture(scope="module")
def outcomes(fake_aws: FakeAws) -> dict[str, tuple[str, Run]]:
    started = {}
    for name, case in CASES.items():
        run_id = new_run_id()
        started[name] = (
            run_id,
            fake_aws.start(
                *fake_aws.provision_args(run_id, "-e", "setup=gunicorn", *case.args),
                env=fake_aws.env(run_id, **case.env),
            ),
        )
    return {
        name: (run_id, process.wait(timeout=600)) for name, (run_id, process) in started.items()
    }


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
    if case.nothing_created:
        fake_aws.assert_nothing_created(run_id, case.region)
        assert "Create the run's private directory" not in run.output
    else:
        assert "Create the security group of the sources" in run.output
        fake_aws.assert_nothing_left(run_id, case.region)
