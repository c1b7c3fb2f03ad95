"""Find and delete what Kubernetes created outside Pulumi's state, tagged for the cluster.

The in-cluster AWS cloud provider creates ELBs, target groups and security groups for LoadBalancer
Services and tags them `kubernetes.io/cluster/<cluster>: owned`; the VPC CNI can leak ENIs. Left behind,
they block deleting the VPC. `shared` means "used, not created, by the cluster" (subnets, the VPC), and
EKS's own cluster security group (tagged `aws:eks:cluster-name`) carries the node-to-node rule: neither
is ever touched.
"""

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from infra import contract
from infra.ops.clients.aws import error_code
from infra.ops.errors import one_line
from infra.ops.waiting import Clock

CNI_CLUSTER_TAG = "cluster.k8s.amazonaws.com/name"  # the VPC CNI's tag on ENIs it creates
EKS_CLUSTER_TAG = "aws:eks:cluster-name"  # on what EKS itself manages, e.g. the cluster security group
OWNED = "owned"
# Deleting load balancers releases their ENIs asynchronously; SGs stay in use until then.
SG_RETRY_SECONDS = 180.0
SG_RETRY_INTERVAL = 10.0
_GONE = {
    "LoadBalancerNotFound",
    "TargetGroupNotFound",
    "InvalidNetworkInterfaceID.NotFound",
    "InvalidGroup.NotFound",
}


@dataclass(frozen=True)
class Leftover:
    kind: str  # classic-elb | load-balancer | target-group | network-interface | security-group
    id: str  # name for classic ELBs, ARN for elbv2, resource id otherwise


@dataclass(frozen=True)
class Clients:
    ec2: Any
    elb: Any
    elbv2: Any


@dataclass
class SweepResult:
    found: list[Leftover]
    deleted: list[Leftover] = field(default_factory=list)
    failed: list[tuple[Leftover, str]] = field(default_factory=list)


def _chunks(items: Sequence[str], size: int = 20) -> Iterator[Sequence[str]]:
    # describe_tags accepts at most 20 names/ARNs per call.
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _has_key(tags: Sequence[dict[str, str]], key: str) -> bool:
    return any(t.get("Key") == key for t in tags)


def _created_for(tags: Sequence[dict[str, str]], key: str) -> bool:
    """Tagged `key: owned` (created by the cloud provider for this cluster) and not EKS's own."""
    return {"Key": key, "Value": OWNED} in tags and not _has_key(tags, EKS_CLUSTER_TAG)


def _classic_elbs(elb: Any, vpc_id: str, key: str) -> list[Leftover]:
    names = [
        lb["LoadBalancerName"]
        for page in elb.get_paginator("describe_load_balancers").paginate()
        for lb in page["LoadBalancerDescriptions"]
        if lb.get("VPCId") == vpc_id
    ]
    tagged = []
    for chunk in _chunks(names):
        for desc in elb.describe_tags(LoadBalancerNames=list(chunk))["TagDescriptions"]:
            if _created_for(desc.get("Tags", []), key):
                tagged.append(Leftover("classic-elb", desc["LoadBalancerName"]))
    return tagged


def _tagged_arns(elbv2: Any, arns: Sequence[str], key: str) -> list[str]:
    tagged = []
    for chunk in _chunks(arns):
        for desc in elbv2.describe_tags(ResourceArns=list(chunk))["TagDescriptions"]:
            if _created_for(desc.get("Tags", []), key):
                tagged.append(desc["ResourceArn"])
    return tagged


# elbv2 leftover kind → (paginated describe call, each page's list of them, an item's ARN field)
_ELBV2_LISTINGS = {
    "load-balancer": ("describe_load_balancers", "LoadBalancers", "LoadBalancerArn"),
    "target-group": ("describe_target_groups", "TargetGroups", "TargetGroupArn"),
}


def _elbv2_in_vpc(elbv2: Any, vpc_id: str, key: str, kind: str) -> list[Leftover]:
    operation, items, arn_field = _ELBV2_LISTINGS[kind]
    arns = [
        item[arn_field]
        for page in elbv2.get_paginator(operation).paginate()
        for item in page[items]
        if item.get("VpcId") == vpc_id
    ]
    return [Leftover(kind, arn) for arn in _tagged_arns(elbv2, arns, key)]


def _network_interfaces(ec2: Any, vpc_id: str, cluster: str) -> list[Leftover]:
    # Only unattached ones: an attached ENI belongs to something still running.
    filters = [{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "status", "Values": ["available"]}]
    found = []
    for page in ec2.get_paginator("describe_network_interfaces").paginate(Filters=filters):
        for eni in page["NetworkInterfaces"]:
            tags = eni.get("TagSet", [])
            leaked_by_cni = {"Key": CNI_CLUSTER_TAG, "Value": cluster} in tags and not _has_key(tags, EKS_CLUSTER_TAG)
            if _created_for(tags, contract.kubernetes_cluster_tag(cluster)) or leaked_by_cni:
                found.append(Leftover("network-interface", eni["NetworkInterfaceId"]))
    return found


def _security_groups(ec2: Any, vpc_id: str, key: str) -> list[Leftover]:
    filters = [{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": f"tag:{key}", "Values": [OWNED]}]
    return [
        Leftover("security-group", sg["GroupId"])
        for page in ec2.get_paginator("describe_security_groups").paginate(Filters=filters)
        for sg in page["SecurityGroups"]
        if sg.get("GroupName") != "default"  # the VPC's own; goes with the VPC
        and _created_for(sg.get("Tags", []), key)
    ]


def find(clients: Clients, vpc_id: str, cluster: str) -> list[Leftover]:
    """Everything in the VPC tagged for this cluster, in a safe deletion order."""
    key = contract.kubernetes_cluster_tag(cluster)
    return [
        *_classic_elbs(clients.elb, vpc_id, key),
        *_elbv2_in_vpc(clients.elbv2, vpc_id, key, "load-balancer"),
        *_elbv2_in_vpc(clients.elbv2, vpc_id, key, "target-group"),
        *_network_interfaces(clients.ec2, vpc_id, cluster),
        *_security_groups(clients.ec2, vpc_id, key),
    ]


def _revoke_group_rules(ec2: Any, group_ids: Sequence[str]) -> None:
    """Drop these groups' rules that reference other groups, so leftover SGs citing each other can go."""
    if not group_ids:
        return
    found = ec2.describe_security_groups(GroupIds=list(group_ids))["SecurityGroups"]
    for sg in found:
        for rules_key, revoke in (
            ("IpPermissions", ec2.revoke_security_group_ingress),
            ("IpPermissionsEgress", ec2.revoke_security_group_egress),
        ):
            rules = [
                {
                    "IpProtocol": r["IpProtocol"],
                    **{k: r[k] for k in ("FromPort", "ToPort") if k in r},
                    "UserIdGroupPairs": [{"GroupId": p["GroupId"]} for p in r["UserIdGroupPairs"]],
                }
                for r in sg.get(rules_key, [])
                if r.get("UserIdGroupPairs")
            ]
            if rules:
                revoke(GroupId=sg["GroupId"], IpPermissions=rules)


def _delete(clients: Clients, item: Leftover) -> None:
    try:
        if item.kind == "classic-elb":
            clients.elb.delete_load_balancer(LoadBalancerName=item.id)
        elif item.kind == "load-balancer":
            clients.elbv2.delete_load_balancer(LoadBalancerArn=item.id)
        elif item.kind == "target-group":
            clients.elbv2.delete_target_group(TargetGroupArn=item.id)
        elif item.kind == "network-interface":
            clients.ec2.delete_network_interface(NetworkInterfaceId=item.id)
        elif item.kind == "security-group":
            clients.ec2.delete_security_group(GroupId=item.id)
        else:
            raise ValueError(f"unknown leftover kind {item.kind}")
    except ClientError as err:
        if error_code(err) not in _GONE:  # deleted meanwhile (e.g. by its controller): that is the goal
            raise


def _fail(result: SweepResult, item: Leftover, err: ClientError, out: Callable[[str], None]) -> None:
    result.failed.append((item, one_line(err)))
    out(f"  FAILED to delete {item.kind} {item.id}: {one_line(err)}")


def _retry_groups_in_use(
    clients: Clients, groups: list[Leftover], result: SweepResult, clock: Clock, out: Callable[[str], None]
) -> None:
    """Security groups still in use: ELBs release their ENIs asynchronously, and leftover groups may cite each other.

    Only these groups lose their group-referencing rules (they are being deleted anyway); no other group's rules
    are ever touched.
    """
    for group in groups:
        out(f"  security-group {group.id} still in use; retrying for up to {SG_RETRY_SECONDS:g}s")
    try:
        _revoke_group_rules(clients.ec2, [g.id for g in groups])
    except ClientError as err:  # best effort: the retries below report what stays
        out(f"  could not revoke rules between leftover security groups: {one_line(err)}")
    deadline = clock.now() + SG_RETRY_SECONDS
    pending = groups
    while pending:
        clock.sleep(SG_RETRY_INTERVAL)
        still: list[Leftover] = []
        for group in pending:
            try:
                _delete(clients, group)
                result.deleted.append(group)
            except ClientError as err:
                if error_code(err) == "DependencyViolation" and clock.now() < deadline:
                    still.append(group)
                else:
                    _fail(result, group, err, out)
        pending = still


def sweep(
    clients: Clients,
    vpc_id: str,
    cluster: str,
    *,
    dry_run: bool,
    clock: Clock,
    out: Callable[[str], None],
) -> SweepResult:
    """Delete (or with dry_run only list) the cluster's leftovers in the VPC."""
    result = SweepResult(found=find(clients, vpc_id, cluster))
    verb = "would delete" if dry_run else "deleting"
    for item in result.found:
        out(f"  {verb} {item.kind} {item.id}")
    if dry_run:
        return result
    in_use: list[Leftover] = []
    for item in result.found:  # find() orders them: load balancers before the groups they use
        try:
            _delete(clients, item)
            result.deleted.append(item)
        except ClientError as err:
            if item.kind == "security-group" and error_code(err) == "DependencyViolation":
                in_use.append(item)
            else:
                _fail(result, item, err, out)
    _retry_groups_in_use(clients, in_use, result, clock, out)
    return result


def describe(items: Sequence[Leftover]) -> str:
    return ", ".join(f"{i.kind} {i.id}" for i in items)
