#!/usr/bin/python
# amazon.aws has no module for DescribeInstanceTypeOfferings; this one answers the one question the
# fleet's preflight asks: where in the region each requested instance type can be launched.
# It is built on amazon.aws's AnsibleAWSModule, so credentials, region and endpoint (including
# AWS_ENDPOINT_URL) are resolved exactly as for the collection's own modules.

from __future__ import annotations

import contextlib

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

# AnsibleAWSModule reports a missing botocore itself.
with contextlib.suppress(ImportError):
    import botocore

DOCUMENTATION = r"""
module: ec2_fleet_type_offerings
short_description: Availability zones of a region that offer given EC2 instance types
description:
  - Calls DescribeInstanceTypeOfferings with location type availability-zone for the given types.
  - Read-only; never reports a change and runs in check mode.
options:
  instance_types:
    description: Instance types to look up, such as m3.2xlarge.
    type: list
    elements: str
    required: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

RETURN = r"""
zones:
  description: For each requested type, the availability zones that offer it (empty when none do).
  returned: always
  type: dict
  sample: {"m3.large": ["us-east-1a", "us-east-1b"], "m3.huge": []}
region_zones:
  description: Every availability zone of the region that offers at least one instance type.
  returned: always
  type: list
  elements: str
"""


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec=dict(instance_types=dict(type="list", elements="str", required=True)),
        supports_check_mode=True,
    )
    client = module.client("ec2")
    requested = module.params["instance_types"]
    zones = {name: set() for name in requested}
    try:
        paginator = client.get_paginator("describe_instance_type_offerings")
        pages = paginator.paginate(
            LocationType="availability-zone",
            Filters=[{"Name": "instance-type", "Values": requested}],
        )
        for page in pages:
            for offering in page["InstanceTypeOfferings"]:
                zones.setdefault(offering["InstanceType"], set()).add(offering["Location"])
        region_zones = sorted(
            zone["ZoneName"]
            for zone in client.describe_availability_zones(
                Filters=[{"Name": "zone-type", "Values": ["availability-zone"]}]
            )["AvailabilityZones"]
        )
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        module.fail_json_aws(error, msg="Could not list the instance type offerings")
    module.exit_json(
        changed=False,
        zones={name: sorted(found) for name, found in zones.items()},
        region_zones=region_zones,
    )


if __name__ == "__main__":
    main()
