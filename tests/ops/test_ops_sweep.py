"""sweep against moto: exactly this cluster's leftovers in this VPC go, everything else stays."""

from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto_env import MOTO_AMI, REGION, moto_account, unique

from infra.ops import aws as aws_ops
from infra.ops import sweep
from infra.ops.sweep import Clients, Leftover
from infra.ops.waiting import Clock

__all__ = ["moto_account"]  # a fixture: pytest finds it here by name

OURS, OTHER = "kubernetes.io/cluster/foo", "kubernetes.io/cluster/bar"
CLOCK = Clock(lambda: 0.0, lambda s: None)


@pytest.fixture(scope="module")
def aws(moto_account: None) -> Clients:
    # The module's moto account; each test builds in its own VPC with unique names,
    # and the sweep only ever looks inside one VPC.
    return Clients(
        ec2=aws_ops.client("ec2", REGION),
        elb=aws_ops.client("elb", REGION),
        elbv2=aws_ops.client("elbv2", REGION),
    )


def tags(key: str | None, value: str = "owned") -> list[dict[str, str]]:
    # "untagged" for the cluster; AWS rejects an empty tag list, so carry an unrelated tag
    return [{"Key": key, "Value": value}] if key else [{"Key": "Name", "Value": "unrelated"}]


@dataclass
class World:
    vpc: str
    ours: set[Leftover]
    others: set[Leftover]


def build(c: Clients) -> World:
    ec2: Any = c.ec2
    p = unique("t")  # load balancer and target group names are unique per account
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    other_vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{REGION}{z}")["Subnet"]["SubnetId"]
        for i, z in ((1, "a"), (2, "b"))
    ]
    other_subnet = ec2.create_subnet(VpcId=other_vpc, CidrBlock="10.1.1.0/24")["Subnet"]["SubnetId"]
    ours: set[Leftover] = set()
    others: set[Leftover] = set()

    listener = [{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstancePort": 30080}]
    for name, key, value, subnet, mine in (
        (f"{p}-ours-owned", OURS, "owned", subnets[0], True),
        (f"{p}-ours-shared", OURS, "shared", subnets[0], True),
        (f"{p}-bar", OTHER, "owned", subnets[0], False),
        (f"{p}-plain", None, "", subnets[0], False),
        (f"{p}-foo-elsewhere", OURS, "owned", other_subnet, False),  # right tag, wrong VPC
    ):
        c.elb.create_load_balancer(LoadBalancerName=name, Listeners=listener, Subnets=[subnet], Tags=tags(key, value))
        (ours if mine else others).add(Leftover("classic-elb", name))

    for name, key in ((f"{p}-nlb-foo", OURS), (f"{p}-nlb-bar", OTHER)):
        arn = c.elbv2.create_load_balancer(Name=name, Subnets=subnets, Type="network", Tags=tags(key))["LoadBalancers"][
            0
        ]["LoadBalancerArn"]
        (ours if key == OURS else others).add(Leftover("load-balancer", arn))
    for name, key in ((f"{p}-tg-foo", OURS), (f"{p}-tg-bar", OTHER), (f"{p}-tg-plain", None)):
        arn = c.elbv2.create_target_group(Name=name, Protocol="TCP", Port=80, VpcId=vpc, Tags=tags(key))[
            "TargetGroups"
        ][0]["TargetGroupArn"]
        (ours if key == OURS else others).add(Leftover("target-group", arn))

    def sg(name: str, key: str | None) -> str:
        spec = [{"ResourceType": "security-group", "Tags": tags(key)}] if key else []
        return str(
            ec2.create_security_group(GroupName=name, Description=name, VpcId=vpc, TagSpecifications=spec)["GroupId"]
        )

    elb_sg, node_sg = sg("k8s-elb-foo", OURS), sg("nodes-foo", OURS)
    # The node SG admits the ELB SG, as the cloud provider sets it up; on AWS that blocks deleting it.
    ec2.authorize_security_group_ingress(
        GroupId=node_sg,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 30080, "ToPort": 30080, "UserIdGroupPairs": [{"GroupId": elb_sg}]}
        ],
    )
    ours |= {Leftover("security-group", elb_sg), Leftover("security-group", node_sg)}
    others |= {Leftover("security-group", sg(f"{p}-bar", OTHER)), Leftover("security-group", sg(f"{p}-plain", None))}

    def eni(key: str | None, value: str = "owned") -> str:
        spec = [{"ResourceType": "network-interface", "Tags": tags(key, value)}] if key else []
        return str(
            ec2.create_network_interface(SubnetId=subnets[0], TagSpecifications=spec)["NetworkInterface"][
                "NetworkInterfaceId"
            ]
        )

    ours |= {Leftover("network-interface", eni(OURS)), Leftover("network-interface", eni(sweep.CNI_CLUSTER_TAG, "foo"))}
    others |= {
        Leftover("network-interface", eni(OTHER)),
        Leftover("network-interface", eni(sweep.CNI_CLUSTER_TAG, "bar")),
        Leftover("network-interface", eni(None)),
    }
    # Tagged for us but attached to a running instance: in use, so not a leftover.
    instance = ec2.run_instances(ImageId=MOTO_AMI, MinCount=1, MaxCount=1, SubnetId=subnets[0])["Instances"][0]
    attached = eni(OURS)
    ec2.attach_network_interface(NetworkInterfaceId=attached, InstanceId=instance["InstanceId"], DeviceIndex=1)
    others.add(Leftover("network-interface", attached))
    return World(vpc, ours, others)


def existing(c: Clients, item: Leftover) -> bool:
    ec2: Any = c.ec2
    if item.kind == "classic-elb":
        return any(
            lb["LoadBalancerName"] == item.id for lb in c.elb.describe_load_balancers()["LoadBalancerDescriptions"]
        )
    if item.kind == "load-balancer":
        return any(lb["LoadBalancerArn"] == item.id for lb in c.elbv2.describe_load_balancers()["LoadBalancers"])
    if item.kind == "target-group":
        return any(tg["TargetGroupArn"] == item.id for tg in c.elbv2.describe_target_groups()["TargetGroups"])
    if item.kind == "security-group":
        return any(g["GroupId"] == item.id for g in ec2.describe_security_groups()["SecurityGroups"])
    return any(n["NetworkInterfaceId"] == item.id for n in ec2.describe_network_interfaces()["NetworkInterfaces"])


def test_find_and_dry_run_list_exactly_ours_and_delete_nothing(aws: Clients) -> None:
    world = build(aws)
    found = sweep.find(aws, world.vpc, "foo")
    assert set(found) == world.ours
    kinds = [i.kind for i in found]
    order = ["classic-elb", "load-balancer", "target-group", "network-interface", "security-group"]
    assert kinds == sorted(kinds, key=order.index)  # load balancers before the SGs they use

    lines: list[str] = []
    result = sweep.sweep(aws, world.vpc, "foo", dry_run=True, clock=CLOCK, out=lines.append)
    assert set(result.found) == world.ours and result.deleted == [] and result.failed == []
    assert all(existing(aws, i) for i in world.ours | world.others)
    assert all(ln.startswith("  would delete ") for ln in lines) and len(lines) == len(world.ours)


def test_sweep_deletes_ours_and_leaves_others(aws: Clients) -> None:
    world = build(aws)
    result = sweep.sweep(aws, world.vpc, "foo", dry_run=False, clock=CLOCK, out=lambda _: None)
    assert result.failed == []
    assert set(result.deleted) == world.ours
    assert not any(existing(aws, i) for i in world.ours)
    assert all(existing(aws, i) for i in world.others)
    assert sweep.find(aws, world.vpc, "foo") == []
    assert any(g["GroupName"] == "default" for g in aws.ec2.describe_security_groups()["SecurityGroups"])


def test_gone_vpc_sweeps_nothing(aws: Clients) -> None:
    assert sweep.find(aws, "vpc-0123456789abcdef0", "foo") == []


def test_rules_between_leftover_groups_are_revoked_first(aws: Clients) -> None:
    # moto does not refuse deleting a referenced SG, so check the revoke itself is well-formed.
    ec2: Any = aws.ec2
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    a, b = (ec2.create_security_group(GroupName=n, Description=n, VpcId=vpc)["GroupId"] for n in ("a", "b"))
    pair = [{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "UserIdGroupPairs": [{"GroupId": a}]}]
    ec2.authorize_security_group_ingress(GroupId=b, IpPermissions=pair)
    ec2.authorize_security_group_egress(GroupId=a, IpPermissions=pair)
    sweep._revoke_group_rules(ec2, [a, b])
    for group in ec2.describe_security_groups(GroupIds=[a, b])["SecurityGroups"]:
        rules = group["IpPermissions"] + group["IpPermissionsEgress"]
        assert not any(r.get("UserIdGroupPairs") for r in rules)
        assert group["GroupId"] != a or group["IpPermissionsEgress"]  # the default allow-all egress stays


class InUse:
    """EC2 whose SG deletes fail a few times, e.g. DependencyViolation while ELB ENIs are released.

    moto does not model an SG kept in use by an ENI, hence this small wrapper.
    """

    def __init__(self, ec2: Any, failures: int, code: str = "DependencyViolation") -> None:
        self.ec2, self.failures, self.code = ec2, failures, code

    def delete_security_group(self, **kwargs: Any) -> Any:
        if self.failures:
            self.failures -= 1
            raise ClientError({"Error": {"Code": self.code, "Message": "no"}}, "DeleteSecurityGroup")
        return self.ec2.delete_security_group(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ec2, name)


def in_use_group(aws: Clients) -> tuple[str, str]:
    vpc = aws.ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    spec = [{"ResourceType": "security-group", "Tags": tags(OURS)}]
    group = aws.ec2.create_security_group(GroupName="g", Description="g", VpcId=vpc, TagSpecifications=spec)["GroupId"]
    return vpc, group


@pytest.mark.parametrize(("failures", "deleted"), [(2, True), (1000, False)])
def test_security_group_in_use_is_retried_then_reported(aws: Clients, failures: int, deleted: bool) -> None:
    vpc, group = in_use_group(aws)
    now = [0.0]
    clock = Clock(lambda: now[0], lambda s: now.__setitem__(0, now[0] + s))
    clients = Clients(ec2=InUse(aws.ec2, failures), elb=aws.elb, elbv2=aws.elbv2)
    lines: list[str] = []
    result = sweep.sweep(clients, vpc, "foo", dry_run=False, clock=clock, out=lines.append)
    assert f"  security-group {group} still in use; retrying for up to 180s" in lines
    if deleted:
        assert [i.id for i in result.deleted] == [group]
        assert now[0] == 2 * sweep.SG_RETRY_INTERVAL
    else:
        assert [i.id for i, _ in result.failed] == [group]
        assert "DependencyViolation" in result.failed[0][1]
        assert now[0] >= sweep.SG_RETRY_SECONDS  # waited for the dependency to go before giving up


def test_a_leftover_deleted_meanwhile_counts_as_deleted(aws: Clients) -> None:
    vpc, group = in_use_group(aws)
    clients = Clients(ec2=InUse(aws.ec2, 1, code="InvalidGroup.NotFound"), elb=aws.elb, elbv2=aws.elbv2)
    result = sweep.sweep(clients, vpc, "foo", dry_run=False, clock=CLOCK, out=lambda _: None)
    assert [i.id for i in result.deleted] == [group] and result.failed == []
