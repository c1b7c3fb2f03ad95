"""A node's EC2 instance: its id, its Auto Scaling group, terminating it, and what the Service's classic ELB says
of it."""

import re
from typing import Any

from botocore.exceptions import ClientError

from infra.ops.clients.aws import error_code
from infra.ops.errors import OpsError

# e.g. aws:///us-west-2a/i-0abc123def4567890
_PROVIDER_ID = re.compile(r"^aws:///[a-z0-9-]*/(i-[0-9a-f]+)$")


def instance_id(provider_id: str) -> str:
    match = _PROVIDER_ID.match(provider_id)
    if not match:
        raise OpsError(f"cannot find an EC2 instance id in providerID {provider_id!r}")
    return match.group(1)


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


def terminate_in_asg(autoscaling: Any, instance: str, allowed: tuple[str, ...], *, decrement: bool = False) -> str:
    """Terminate the instance; without `decrement` the ASG launches a replacement. Returns the ASG."""
    group = asg_of_instance(autoscaling, instance, allowed)
    autoscaling.terminate_instance_in_auto_scaling_group(InstanceId=instance, ShouldDecrementDesiredCapacity=decrement)
    return group


def classic_elb_named_by_host(elb: Any, hostname: str) -> str | None:
    """The classic ELB whose DNS name is the Service's hostname (None: not a classic ELB)."""
    for page in elb.get_paginator("describe_load_balancers").paginate():
        for lb in page["LoadBalancerDescriptions"]:
            if lb.get("DNSName", "").lower() == hostname.lower():
                return str(lb["LoadBalancerName"])
    return None


def elb_routes_to(elb: Any, name: str, instance: str) -> tuple[bool, str]:
    """Whether the classic ELB may still send requests to the instance, and its state as AWS words it.

    DescribeLoadBalancers stops listing an instance when connection draining *starts*. Only
    DescribeInstanceHealth shows the draining ("InService", "Instance deregistration currently in
    progress.") until it ends with OutOfService; an instance named in the request is reported even
    once deregistered, and a terminated one not at all.
    """
    try:
        found = elb.describe_instance_health(LoadBalancerName=name, Instances=[{"InstanceId": instance}])
    except ClientError as err:
        if error_code(err) == "InvalidInstance":  # no such instance for this ELB
            return False, "unknown to the load balancer"
        raise
    for state in found.get("InstanceStates", []):
        if state.get("InstanceId") == instance:
            words = [str(state.get(k) or "") for k in ("State", "Description")]
            return state.get("State") != "OutOfService", ": ".join(w for w in words if w and w != "N/A")
    return False, "not listed"


def elb_in_service(elb: Any, name: str) -> set[str]:
    """The registered instances the classic ELB sends new requests to.

    A new instance is OutOfService ("Instance registration is still in progress.") until its health
    checks pass; a deregistering one stays InService while draining but takes no new requests.
    """
    found = elb.describe_instance_health(LoadBalancerName=name)  # no Instances: every registered one
    return {
        str(state["InstanceId"])
        for state in found.get("InstanceStates", [])
        if state.get("State") == "InService" and "deregistration" not in str(state.get("Description") or "")
    }
