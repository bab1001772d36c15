#!/usr/bin/python
# The one place that answers "which resources are the benchmark's?": the preflight (does this run
# exist already, and whose is it?), the teardown (what does this run, or this invocation, own?) and
# the sweep (what has expired?) all list through it, so that they agree on what a harness resource
# is: an instance, security group or key pair tagged channels-bench-run. Nothing without that tag
# is ever listed, and so never removed.
# Built on amazon.aws's AnsibleAWSModule: credentials, region and endpoint (AWS_ENDPOINT_URL) are
# resolved as for the collection's own modules.

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

# AnsibleAWSModule reports a missing botocore itself.
with contextlib.suppress(ImportError):
    import botocore

DOCUMENTATION = r"""
module: ec2_fleet_resources
short_description: List the channels-bench instances, security groups and key pairs of a region
description:
  - Lists every instance (not yet terminated), security group and key pair tagged
    C(channels-bench-run), optionally only those of one run and of one owner (the invocation that
    created them), and says of each whether its C(channels-bench-expires) time has passed.
  - Read-only; never reports a change and runs in check mode.
options:
  run_id:
    description: Only the resources whose C(channels-bench-run) tag is exactly this.
    type: str
    default: ""
  owner:
    description: Only the resources whose C(channels-bench-owner) tag is exactly this.
    type: str
    default: ""
  now:
    description:
      - A UTC time such as C(2026-11-28T23:11:05Z). Each resource's C(expired) is whether its
        C(channels-bench-expires) tag is at or before it. Empty leaves C(expired) null.
    type: str
    default: ""
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

RETURN = r"""
instances:
  description: Instances in any state but terminated.
  returned: always
  type: list
  elements: dict
  sample: [{"id": "i-0123", "name": "channels-bench-RUN-target", "state": "running", "run": "RUN",
            "role": "target", "owner": "3f9a0c1d2e4b5a69", "expires": "2026-11-28T23:11:05Z",
            "expired": false,
            "label": "run RUN: instance i-0123 channels-bench-RUN-target, expires 2026-..."}]
security_groups:
  description: Security groups, in an order they can be deleted in (each admits the one after it).
  returned: always
  type: list
  elements: dict
key_pairs:
  description: Key pairs (C(id) is the key pair id, C(name) its name).
  returned: always
  type: list
  elements: dict
runs:
  description: The runs the listed resources belong to.
  returned: always
  type: list
  elements: str
owners:
  description: The owners of the listed resources; an empty string for a resource without the tag.
  returned: always
  type: list
  elements: str
expired_runs:
  description: The runs every listed resource of which has expired (empty without C(now)).
  returned: always
  type: list
  elements: str
"""

TAG_RUN = "channels-bench-run"
TAG_ROLE = "channels-bench-role"
TAG_OWNER = "channels-bench-owner"
TAG_EXPIRES = "channels-bench-expires"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
NOT_TERMINATED = ["pending", "running", "shutting-down", "stopping", "stopped"]
# redis admits the targets, the targets admit the sources: a group goes before those it admits.
DELETE_ORDER = ("redis", "target", "source")


def parse_time(text: str) -> datetime | None:
    """A UTC time in the tags' format, or None when it is not one."""
    try:
        return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def tag_filters(run_id: str, owner: str) -> list[dict[str, Any]]:
    filters: list[dict[str, Any]] = [{"Name": "tag-key", "Values": [TAG_RUN]}]
    if run_id:
        filters.append({"Name": f"tag:{TAG_RUN}", "Values": [run_id]})
    if owner:
        filters.append({"Name": f"tag:{TAG_OWNER}", "Values": [owner]})
    return filters


def describe(
    kind: str, resource_id: str, name: str, tags: Iterable[dict[str, str]], now: datetime | None
) -> dict[str, Any]:
    """What every listing says of a resource, read from its tags."""
    by_key = {tag["Key"]: tag["Value"] for tag in tags}
    run, expires = by_key.get(TAG_RUN, ""), by_key.get(TAG_EXPIRES)
    expires_at = parse_time(expires) if expires is not None else None
    return {
        "id": resource_id,
        "name": name,
        "run": run,
        "role": by_key.get(TAG_ROLE, ""),
        "owner": by_key.get(TAG_OWNER, ""),
        "expires": expires,
        # An expiry that is missing or not a time never expires: such a resource is never swept.
        "expired": None if now is None or expires_at is None else expires_at <= now,
        "label": f"run {run}: {kind} {resource_id} {name}, expires {expires or 'never'}",
    }


def wanted(found: dict[str, Any], run_id: str, owner: str) -> bool:
    """EC2 tag filters take * and ? as wildcards; only an exact match counts."""
    return (not run_id or found["run"] == run_id) and (not owner or found["owner"] == owner)


def list_instances(
    client: Any, filters: list[dict[str, Any]], now: datetime | None
) -> Iterator[dict[str, Any]]:
    states = {"Name": "instance-state-name", "Values": NOT_TERMINATED}
    pages = client.get_paginator("describe_instances").paginate(Filters=[*filters, states])
    for page in pages:
        for reservation in page["Reservations"]:
            for instance in reservation["Instances"]:
                tags = instance.get("Tags", [])
                name = next((tag["Value"] for tag in tags if tag["Key"] == "Name"), "")
                found = describe("instance", instance["InstanceId"], name, tags, now)
                found["state"] = instance["State"]["Name"]
                yield found


def list_security_groups(
    client: Any, filters: list[dict[str, Any]], now: datetime | None
) -> list[dict[str, Any]]:
    found = []
    for page in client.get_paginator("describe_security_groups").paginate(Filters=filters):
        for group in page["SecurityGroups"]:
            described = describe(
                "security group", group["GroupId"], group["GroupName"], group.get("Tags", []), now
            )
            described["vpc_id"] = group.get("VpcId", "")
            found.append(described)

    def deletion_rank(group: dict[str, Any]) -> tuple[int, str, str]:
        role = group["role"]
        rank = DELETE_ORDER.index(role) if role in DELETE_ORDER else len(DELETE_ORDER)
        return rank, group["run"], group["name"]

    return sorted(found, key=deletion_rank)


def list_key_pairs(
    client: Any, filters: list[dict[str, Any]], now: datetime | None
) -> Iterator[dict[str, Any]]:
    for pair in client.describe_key_pairs(Filters=filters)["KeyPairs"]:
        yield describe("key pair", pair["KeyPairId"], pair["KeyName"], pair.get("Tags", []), now)


def expired_runs(resources: Iterable[dict[str, Any]]) -> list[str]:
    """Runs whose every listed resource has expired: a run is swept whole or not at all."""
    verdicts: dict[str, bool] = {}
    for resource in resources:
        run = resource["run"]
        verdicts[run] = verdicts.get(run, True) and resource["expired"] is True
    return sorted(run for run, expired in verdicts.items() if expired)


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec=dict(
            run_id=dict(type="str", default=""),
            owner=dict(type="str", default=""),
            now=dict(type="str", default=""),
        ),
        supports_check_mode=True,
    )
    run_id, owner = module.params["run_id"], module.params["owner"]
    now = parse_time(module.params["now"]) if module.params["now"] else None
    if module.params["now"] and now is None:
        module.fail_json(
            msg=f"now must be a UTC time such as 2026-11-28T23:11:05Z, not {module.params['now']!r}"
        )
    client = module.client("ec2")
    filters = tag_filters(run_id, owner)
    try:
        listing = {
            "instances": list(list_instances(client, filters, now)),
            "security_groups": list_security_groups(client, filters, now),
            "key_pairs": list(list_key_pairs(client, filters, now)),
        }
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        module.fail_json_aws(error, msg="Could not list the channels-bench resources")
    listing = {kind: [r for r in rs if wanted(r, run_id, owner)] for kind, rs in listing.items()}
    everything = [resource for found in listing.values() for resource in found]
    module.exit_json(
        changed=False,
        runs=sorted({resource["run"] for resource in everything}),
        owners=sorted({resource["owner"] for resource in everything}),
        expired_runs=expired_runs(everything) if now is not None else [],
        **listing,
    )


if __name__ == "__main__":
    main()
