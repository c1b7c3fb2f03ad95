"""Thin boto3 lookups and the one instance-terminating call (clients are passed in)."""

import functools
import re
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import ClientError

from infra.ops.errors import OpsError

# e.g. aws:///us-west-2a/i-0abc123def4567890
_PROVIDER_ID = re.compile(r"^aws:///[a-z0-9-]*/(i-[0-9a-f]+)$")


@functools.cache
def _session(region: str) -> boto3.session.Session:
    # One session per region: clients share its credential lookup and loaded API models.
    return boto3.session.Session(region_name=region)


def client(service: str, region: str) -> Any:
    return _session(region).client(service)


def error_code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def instance_id(provider_id: str) -> str:
    match = _PROVIDER_ID.match(provider_id)
    if not match:
        raise OpsError(f"cannot find an EC2 instance id in providerID {provider_id!r}")
    return match.group(1)


@dataclass(frozen=True)
class NodeGroup:
    desired: int
    asg_names: tuple[str, ...]


def describe_nodegroup(eks: Any, cluster: str, nodegroup: str) -> NodeGroup:
    found = eks.describe_nodegroup(clusterName=cluster, nodegroupName=nodegroup)["nodegroup"]
    asgs = found.get("resources", {}).get("autoScalingGroups", [])
    return NodeGroup(
        desired=int(found["scalingConfig"]["desiredSize"]),
        asg_names=tuple(a["name"] for a in asgs),
    )


def asg_of_instance(autoscaling: Any, instance: str, allowed: tuple[str, ...]) -> str:
    """The instance's ASG, refusing any instance outside the node group's ASGs."""
    found = autoscaling.describe_auto_scaling_instances(InstanceIds=[instance])
    groups = [i["AutoScalingGroupName"] for i in found["AutoScalingInstances"]]
    if not groups:
        raise OpsError(f"instance {instance} is not in any Auto Scaling group; refusing to terminate")
    if groups[0] not in allowed:
        raise OpsError(
            f"instance {instance} belongs to ASG {groups[0]!r}, not the node group's "
            f"({', '.join(allowed) or 'none'}); refusing to terminate"
        )
    return str(groups[0])


def terminate_in_asg(autoscaling: Any, instance: str, allowed: tuple[str, ...]) -> str:
    """Terminate keeping desired capacity, so the ASG launches a replacement. Returns the ASG."""
    group = asg_of_instance(autoscaling, instance, allowed)
    autoscaling.terminate_instance_in_auto_scaling_group(InstanceId=instance, ShouldDecrementDesiredCapacity=False)
    return group


def classic_elb_named_by_host(elb: Any, hostname: str) -> str | None:
    """The classic ELB whose DNS name is the Service's hostname (None: not a classic ELB)."""
    for page in elb.get_paginator("describe_load_balancers").paginate():
        for lb in page["LoadBalancerDescriptions"]:
            if lb.get("DNSName", "").lower() == hostname.lower():
                return str(lb["LoadBalancerName"])
    return None


def registered_with_elb(elb: Any, name: str, instance: str) -> bool:
    found = elb.describe_load_balancers(LoadBalancerNames=[name])["LoadBalancerDescriptions"]
    return any(i["InstanceId"] == instance for lb in found for i in lb.get("Instances", []))


def cluster_status(eks: Any, name: str) -> str | None:
    """The EKS cluster's status, or None once it no longer exists."""
    try:
        return str(eks.describe_cluster(name=name)["cluster"]["status"])
    except ClientError as err:
        if error_code(err) == "ResourceNotFoundException":
            return None
        raise


def snapshot_status(rds: Any, identifier: str) -> str | None:
    """The DB snapshot's status, or None when there is no such snapshot."""
    try:
        found = rds.describe_db_snapshots(DBSnapshotIdentifier=identifier)["DBSnapshots"]
    except ClientError as err:
        if error_code(err) == "DBSnapshotNotFound":
            return None
        raise
    return str(found[0]["Status"]) if found else None
