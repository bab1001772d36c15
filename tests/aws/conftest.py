"""A fake AWS account on loopback (moto's server) and helpers to run the real playbooks against it.

Everything reaches moto through AWS_ENDPOINT_URL, which botocore honours for every client: the
amazon.aws modules, the aws_ec2 inventory plugin and the role's own module. Nothing in the
playbooks names an endpoint, so the code under test is the code a user runs against AWS.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
# moto's own image list has no Ubuntu 20.04; this one has Canonical-owned 16.04, 20.04, 22.04 and
# 24.04 images named as Canonical names them.
AMIS = Path(__file__).with_name("amis.json")
REGION = "us-east-1"
# TEST-NET-2, a documentation range: it only ever appears in security group rules.
OPERATOR_CIDR = "198.51.100.7/32"
RECAP = re.compile(
    r"^(?P<host>\S+)\s*:\s*ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)"
    r"\s+failed=(?P<failed>\d+)",
    re.MULTILINE,
)
LIVE_STATES = ["pending", "running", "stopping", "stopped", "shutting-down"]


# The loopback ports these tests may use (the machine is shared: other work has other ranges).
PORTS = range(18200, 18300)
# A controller whose clock is not UTC: a naive UTC time read as local time is off by hours here.
CONTROLLER_TZ = "America/St_Johns"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_taken_ports: set[int] = set()
_run_ids: set[str] = set()


def free_port() -> int:
    """A loopback port of PORTS that nothing listens on, never the same one twice."""
    for port in PORTS:
        if port in _taken_ports:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _taken_ports.add(port)
        return port
    raise RuntimeError(f"no free loopback port in {PORTS.start}-{PORTS.stop - 1}")


@dataclass
class Run:
    returncode: int
    output: str
    seconds: float

    def recap(self, host: str = "localhost") -> dict[str, int]:
        for match in RECAP.finditer(self.output):
            if match["host"] == host:
                return {key: int(match[key]) for key in ("ok", "changed", "unreachable", "failed")}
        raise AssertionError(f"no PLAY RECAP line for {host} in:\n{self.output[-3000:]}")

    def tail(self, chars: int = 4000) -> str:
        return self.output[-chars:]


@dataclass
class Started:
    process: subprocess.Popen[str]
    started: float

    def wait(self, timeout: int = 300) -> Run:
        output, _ = self.process.communicate(timeout=timeout)
        return Run(self.process.returncode, output, time.monotonic() - self.started)


@dataclass
class FakeAws:
    """The fake account, and the environment a user would have: credentials, region, endpoint."""

    endpoint: str
    cache_dir: Path
    results_dir: Path
    closed_port: int = field(default_factory=free_port)

    def env(self, run_id: str | None = None, **changes: str | None) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
        env.pop("CHANNELS_BENCH_RUN_ID", None)
        env.update(
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_REGION=REGION,
            AWS_DEFAULT_REGION=REGION,
            AWS_ENDPOINT_URL=self.endpoint,
            # No user profile leaks in, and boto3 never asks the instance metadata address.
            AWS_SHARED_CREDENTIALS_FILE=str(self.cache_dir / "no-credentials"),
            AWS_CONFIG_FILE=str(self.cache_dir / "no-config"),
            AWS_EC2_METADATA_DISABLED="true",
            # The runs' private keys go here instead of ~/.cache.
            XDG_CACHE_HOME=str(self.cache_dir),
            TZ=CONTROLLER_TZ,
            ANSIBLE_FORCE_COLOR="0",
            ANSIBLE_NOCOLOR="1",
            PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        )
        if run_id is not None:
            env["CHANNELS_BENCH_RUN_ID"] = run_id
        for key, value in changes.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        return env

    def unreachable_hosts(self) -> list[str]:
        """Extra vars that send every SSH attempt to a closed port on loopback.

        moto's instances have made-up public addresses that must never be contacted; on loopback
        the connection is refused at once, which is how a fleet that cannot be reached fails.
        """
        return ["-e", "ansible_host=127.0.0.1", "-e", f"ansible_port={self.closed_port}"]

    def playbook(
        self, playbook: str, *args: str, env: dict[str, str] | None = None, timeout: int = 300
    ) -> Run:
        started = time.monotonic()
        completed = subprocess.run(
            [str(VENV_BIN / "ansible-playbook"), playbook, *args],
            cwd=REPO,
            env=env or self.env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return Run(
            completed.returncode, completed.stdout + completed.stderr, time.monotonic() - started
        )

    def start(self, playbook: str, *args: str, env: dict[str, str]) -> Started:
        """ansible-playbook in the background, for scenarios that can run side by side."""
        process = subprocess.Popen(
            [str(VENV_BIN / "ansible-playbook"), playbook, *args],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        return Started(process, time.monotonic())

    def provision_args(self, run_id: str, *args: str, invocation: str | None = None) -> list[str]:
        """provision.yml on its own, as a user runs it, without the SSH part moto cannot serve.

        Each call is a new invocation unless one is given: the same one provisions a run again.
        """
        return [
            "playbooks/provision.yml",
            "-i",
            "inventory/aws",
            "-e",
            f"run_id={run_id}",
            "-e",
            f"bench_invocation={invocation or new_invocation()}",
            "-e",
            "setup=redis",
            "-e",
            "confirm=yes",
            "-e",
            f"ec2_fleet_ssh_cidr={OPERATOR_CIDR}",
            "-e",
            "provision_prepare_hosts=false",
            *args,
        ]

    def provision(
        self,
        run_id: str,
        *args: str,
        invocation: str | None = None,
        env: dict[str, str] | None = None,
    ) -> Run:
        return self.playbook(
            *self.provision_args(run_id, *args, invocation=invocation),
            env=env or self.env(run_id),
        )

    def ec2(self, region: str = REGION):  # boto3 client types are generated: not annotated
        return boto3.client(
            "ec2",
            region_name=region,
            endpoint_url=self.endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def instances(
        self, run_id: str, states: list[str] | None = None, region: str = REGION
    ) -> list[dict]:
        filters = [{"Name": "tag:channels-bench-run", "Values": [run_id]}]
        if states:
            filters.append({"Name": "instance-state-name", "Values": states})
        reservations = self.ec2(region).describe_instances(Filters=filters)["Reservations"]
        return [instance for reservation in reservations for instance in reservation["Instances"]]

    def instance_ids(self, run_id: str) -> list[str]:
        return sorted(i["InstanceId"] for i in self.instances(run_id, LIVE_STATES))

    def security_groups(self, run_id: str, region: str = REGION) -> list[dict]:
        return self.ec2(region).describe_security_groups(
            Filters=[{"Name": "group-name", "Values": [f"channels-bench-{run_id}-*"]}]
        )["SecurityGroups"]

    def key_pairs(self, run_id: str, region: str = REGION) -> list[dict]:
        return self.ec2(region).describe_key_pairs(
            Filters=[{"Name": "key-name", "Values": [f"channels-bench-{run_id}"]}]
        )["KeyPairs"]

    def secrets_dir(self, run_id: str) -> Path:
        return self.cache_dir / "channels-bench" / "runs" / run_id

    def assert_nothing_left(self, run_id: str, region: str = REGION) -> None:
        """No live instance, security group, key pair or private key of the run remains."""
        live = self.instances(run_id, LIVE_STATES, region)
        assert live == [], [(i["InstanceId"], i["State"]["Name"]) for i in live]
        assert self.security_groups(run_id, region) == []
        assert self.key_pairs(run_id, region) == []
        assert not self.secrets_dir(run_id).exists()

    def assert_nothing_created(self, run_id: str, region: str = REGION) -> None:
        """Not even a terminated instance: the run never got as far as launching one."""
        self.assert_nothing_left(run_id, region)
        assert self.instances(run_id, region=region) == []

    def assert_untouched(self, run_id: str, before: dict[str, object]) -> None:
        """The run's resources and private directory are what snapshot() saw."""
        assert self.snapshot(run_id) == before

    def snapshot(self, run_id: str) -> dict[str, object]:
        """What a run has: live instances with their state and tags, groups, key pairs, secrets."""
        return {
            "instances": sorted(
                (i["InstanceId"], i["State"]["Name"], sorted(tags(i).items()))
                for i in self.instances(run_id, LIVE_STATES)
            ),
            "security_groups": sorted(
                (g["GroupId"], sorted(tags(g).items())) for g in self.security_groups(run_id)
            ),
            "key_pairs": sorted(
                (k["KeyName"], sorted(tags(k).items())) for k in self.key_pairs(run_id)
            ),
            "secrets": sorted(p.name for p in self.secrets_dir(run_id).glob("*")),
        }

    def run_json(self, run_id: str) -> dict:
        return json.loads((self.results_dir / run_id / "run.json").read_text())


def tags(resource: dict) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in resource.get("Tags", [])}


def new_run_id() -> str:
    """A run id of the form plan.yml makes, never the same twice in a session."""
    while True:
        run_id = f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{uuid.uuid4().hex[:4]}"
        if run_id not in _run_ids:
            _run_ids.add(run_id)
            return run_id


def new_invocation() -> str:
    return uuid.uuid4().hex[:16]


def utc_time(text: str) -> datetime:
    return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=UTC)


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(TIME_FORMAT)


@pytest.fixture(scope="session")
def fake_aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeAws]:
    port = free_port()
    workdir = tmp_path_factory.mktemp("aws")
    log = (workdir / "moto.log").open("w")
    server = subprocess.Popen(
        [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        env=dict(os.environ, MOTO_AMIS_PATH=str(AMIS)),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                log.close()
                pytest.fail(f"moto_server did not start:\n{(workdir / 'moto.log').read_text()}")
            time.sleep(0.2)
    (workdir / "cache").mkdir()
    (workdir / "results").mkdir()
    try:
        yield FakeAws(endpoint, workdir / "cache", workdir / "results")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()
