"""sweep against moto: exactly what the cloud provider made for this cluster in this VPC goes, nothing else.

Each test has its own moto account and builds its own world, so what one test leaves cannot make another pass.
Every kind the sweep handles has a look-alike tagged for the same cluster in another VPC.
"""

from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.exceptions import ClientError
from fakes import FakeClock
from moto_env import MOTO_AMI, REGION, moto_account, own_account, record_calls

from infra.ops.clients import aws as aws_ops
from infra.ops.destroy import sweep
from infra.ops.destroy.sweep import Clients, Leftover

__all__ = ["moto_account", "own_account"]  # fixtures: pytest finds them here by name

OURS, OTHER = "kubernetes.io/cluster/foo", "kubernetes.io/cluster/bar"
EKS_TAG = "aws:eks:cluster-name"  # what EKS puts on its own cluster security group
CNI_TAG = "cluster.k8s.amazonaws.com/name"  # what the VPC CNI puts on the ENIs it creates


@pytest.fixture
def aws(own_account: str) -> Clients:
    return Clients(
        ec2=aws_ops.client("ec2", REGION),
        elb=aws_ops.client("elb", REGION),
        elbv2=aws_ops.client("elbv2", REGION),
    )


def tags(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    # AWS rejects an empty tag list, so "untagged for any cluster" carries an unrelated tag
    return [{"Key": k, "Value": v} for k, v in pairs] or [{"Key": "Name", "Value": "unrelated"}]


OWNED = (OURS, "owned")


@dataclass
class World:
    vpc: str
    ours: set[Leftover] = field(default_factory=set)
    others: set[Leftover] = field(default_factory=set)
    cluster_sg: str = ""

    def add(self, item: Leftover, mine: bool) -> None:
        (self.ours if mine else self.others).add(item)


def build(c: Clients) -> World:
    ec2: Any = c.ec2
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    other_vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]

    def subnets(vpc_id: str, second: int) -> list[str]:
        return [
            ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.{second}.{i}.0/24", AvailabilityZone=f"{REGION}{z}")[
                "Subnet"
            ]["SubnetId"]
            for i, z in ((1, "a"), (2, "b"))
        ]

    here, there = subnets(vpc, 0), subnets(other_vpc, 1)
    world = World(vpc)
    # (name, tags, in this VPC?, ours?) — one row per look-alike, for every kind below
    variants = [
        ("owned", [OWNED], True, True),
        ("shared", [(OURS, "shared")], True, False),  # used by the cluster, not created for it
        ("bar", [(OTHER, "owned")], True, False),
        ("plain", [], True, False),
        ("eks", [OWNED, (EKS_TAG, "foo")], True, False),  # EKS's own
        ("elsewhere", [OWNED], False, False),  # right tags, another VPC
    ]

    def eni(*pairs: tuple[str, str], subnet: str = here[0]) -> str:
        spec = [{"ResourceType": "network-interface", "Tags": tags(*pairs)}]
        return str(
            ec2.create_network_interface(SubnetId=subnet, TagSpecifications=spec)["NetworkInterface"][
                "NetworkInterfaceId"
            ]
        )

    listener = [{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstancePort": 30080}]
    for name, pairs, inside, mine in variants:
        where = here if inside else there
        c.elb.create_load_balancer(LoadBalancerName=f"clb-{name}", Listeners=listener, Subnets=where, Tags=tags(*pairs))
        world.add(Leftover("classic-elb", f"clb-{name}"), mine)
        lb = c.elbv2.create_load_balancer(Name=f"nlb-{name}", Subnets=where, Type="network", Tags=tags(*pairs))
        world.add(Leftover("load-balancer", lb["LoadBalancers"][0]["LoadBalancerArn"]), mine)
        tg = c.elbv2.create_target_group(
            Name=f"tg-{name}", Protocol="TCP", Port=80, VpcId=vpc if inside else other_vpc, Tags=tags(*pairs)
        )
        world.add(Leftover("target-group", tg["TargetGroups"][0]["TargetGroupArn"]), mine)
        sg = ec2.create_security_group(
            GroupName=f"sg-{name}",
            Description=name,
            VpcId=vpc if inside else other_vpc,
            TagSpecifications=[{"ResourceType": "security-group", "Tags": tags(*pairs)}],
        )["GroupId"]
        world.add(Leftover("security-group", sg), mine)
        world.add(Leftover("network-interface", eni(*pairs, subnet=where[0])), mine)
        if name == "eks":
            world.cluster_sg = sg

    # ENIs the VPC CNI leaked for this cluster go; the CNI's of another cluster, or of this one elsewhere, stay.
    world.add(Leftover("network-interface", eni((CNI_TAG, "foo"))), True)
    world.add(Leftover("network-interface", eni((CNI_TAG, "bar"))), False)
    world.add(Leftover("network-interface", eni((CNI_TAG, "foo"), subnet=there[0])), False)
    # Tagged for us but attached to a running instance: in use, so not a leftover.
    instance = ec2.run_instances(ImageId=MOTO_AMI, MinCount=1, MaxCount=1, SubnetId=here[0])["Instances"][0]
    attached = eni(OWNED)
    ec2.attach_network_interface(NetworkInterfaceId=attached, InstanceId=instance["InstanceId"], DeviceIndex=1)
    world.add(Leftover("network-interface", attached), False)
    return world


def our_group(world: World) -> str:
    return next(i.id for i in world.ours if i.kind == "security-group")


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


def test_find_lists_exactly_ours_in_a_safe_order(aws: Clients) -> None:
    world = build(aws)
    found = sweep.find(aws, world.vpc, "foo")
    assert set(found) == world.ours
    assert {i.kind for i in found} == {
        "classic-elb",
        "load-balancer",
        "target-group",
        "security-group",
        "network-interface",
    }
    kinds = [i.kind for i in found]
    order = ["classic-elb", "load-balancer", "target-group", "network-interface", "security-group"]
    assert kinds == sorted(kinds, key=order.index)  # load balancers before the SGs they use


def test_dry_run_only_describes(aws: Clients) -> None:
    world = build(aws)
    cite(aws.ec2, our_group(world), world.cluster_sg)  # rules a revoke would find
    cite(aws.ec2, world.cluster_sg, world.cluster_sg, 443)
    calls = record_calls(aws.ec2, aws.elb, aws.elbv2)
    lines: list[str] = []
    result = sweep.sweep(aws, world.vpc, "foo", dry_run=True, clock=FakeClock().clock, out=lines.append)
    assert calls and all(name.startswith("Describe") for name in calls), calls
    assert set(result.found) == world.ours and result.deleted == [] and result.failed == []
    assert all(ln.startswith("  would delete ") for ln in lines) and len(lines) == len(world.ours)
    assert all(existing(aws, i) for i in world.ours | world.others)


def test_sweep_deletes_ours_and_leaves_others(aws: Clients) -> None:
    world = build(aws)
    result = sweep.sweep(aws, world.vpc, "foo", dry_run=False, clock=FakeClock().clock, out=lambda _: None)
    assert result.failed == []
    assert set(result.deleted) == world.ours
    assert not any(existing(aws, i) for i in world.ours)
    assert all(existing(aws, i) for i in world.others)
    assert sweep.find(aws, world.vpc, "foo") == []
    assert any(g["GroupName"] == "default" for g in aws.ec2.describe_security_groups()["SecurityGroups"])


def test_gone_vpc_sweeps_nothing(aws: Clients) -> None:
    assert sweep.find(aws, "vpc-0123456789abcdef0", "foo") == []


class ReferencedGroups:
    """EC2 that refuses to delete a group another group's rule cites, as AWS does (DependencyViolation).

    moto deletes such a group anyway, hence this small wrapper.
    """

    def __init__(self, ec2: Any) -> None:
        self.ec2 = ec2

    def delete_security_group(self, **kwargs: Any) -> Any:
        for group in self.ec2.describe_security_groups()["SecurityGroups"]:
            for rule in group["IpPermissions"] + group["IpPermissionsEgress"]:
                cited = {p["GroupId"] for p in rule.get("UserIdGroupPairs", [])} - {group["GroupId"]}
                if kwargs["GroupId"] in cited:
                    message = f"resource {kwargs['GroupId']} has a dependent object"
                    raise ClientError(
                        {"Error": {"Code": "DependencyViolation", "Message": message}}, "DeleteSecurityGroup"
                    )
        return self.ec2.delete_security_group(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ec2, name)


def group_rules(ec2: Any, group: str) -> list[Any]:
    found = ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]
    return [r for r in found["IpPermissions"] + found["IpPermissionsEgress"] if r.get("UserIdGroupPairs")]


def cite(ec2: Any, group: str, cited: str, port: int = 30080) -> None:
    rule = {"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "UserIdGroupPairs": [{"GroupId": cited}]}
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[rule])


def test_leftover_groups_citing_each_other_go_and_the_cluster_group_keeps_its_rules(aws: Clients) -> None:
    world = build(aws)
    ec2: Any = aws.ec2
    group = ec2.create_security_group(
        GroupName="k8s-elb-b",
        Description="b",
        VpcId=world.vpc,
        TagSpecifications=[{"ResourceType": "security-group", "Tags": tags(OWNED)}],
    )["GroupId"]
    first = our_group(world)
    cite(ec2, first, group)
    cite(ec2, group, first)
    cite(ec2, world.cluster_sg, world.cluster_sg, 443)  # EKS's node-to-node rule
    calls = record_calls(ec2)
    clients = Clients(ec2=ReferencedGroups(ec2), elb=aws.elb, elbv2=aws.elbv2)
    lines: list[str] = []

    result = sweep.sweep(clients, world.vpc, "foo", dry_run=False, clock=FakeClock().clock, out=lines.append)

    assert result.failed == []
    assert {first, group} <= {i.id for i in result.deleted}
    assert f"  security-group {first} still in use; retrying for up to 180s" in lines
    assert len(group_rules(ec2, world.cluster_sg)) == 1  # untouched
    revoked = [c for c in calls if c.startswith("Revoke")]
    assert revoked == ["RevokeSecurityGroupIngress", "RevokeSecurityGroupIngress"]  # one per group that was in use


def test_no_rule_is_revoked_when_every_group_deletes(aws: Clients) -> None:
    world = build(aws)
    cite(aws.ec2, our_group(world), world.cluster_sg)  # citing a group does not keep one from being deleted
    calls = record_calls(aws.ec2)
    result = sweep.sweep(aws, world.vpc, "foo", dry_run=False, clock=FakeClock().clock, out=lambda _: None)
    assert result.failed == [] and set(result.deleted) == world.ours
    assert not [c for c in calls if c.startswith("Revoke")]


def test_a_group_the_cluster_group_still_cites_is_reported_not_forced(aws: Clients) -> None:
    # The cloud provider's rule on EKS's group admits the ELB's group; it goes when the cluster does.
    world = build(aws)
    ec2: Any = aws.ec2
    elb_group = our_group(world)
    cite(ec2, world.cluster_sg, elb_group)
    clock = FakeClock().clock
    clients = Clients(ec2=ReferencedGroups(ec2), elb=aws.elb, elbv2=aws.elbv2)
    result = sweep.sweep(clients, world.vpc, "foo", dry_run=False, clock=clock, out=lambda _: None)
    assert [i.id for i, _ in result.failed] == [elb_group]
    assert "DependencyViolation" in result.failed[0][1]
    assert clock.now() >= 180  # waited, in case it was an ELB's ENI being released, before giving up
    assert len(group_rules(ec2, world.cluster_sg)) == 1


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
    spec = [{"ResourceType": "security-group", "Tags": tags(OWNED)}]
    group = aws.ec2.create_security_group(GroupName="g", Description="g", VpcId=vpc, TagSpecifications=spec)["GroupId"]
    return vpc, group


@pytest.mark.parametrize(("failures", "deleted"), [(2, True), (1000, False)])
def test_security_group_in_use_is_retried_then_reported(aws: Clients, failures: int, deleted: bool) -> None:
    vpc, group = in_use_group(aws)
    clock = FakeClock().clock
    clients = Clients(ec2=InUse(aws.ec2, failures), elb=aws.elb, elbv2=aws.elbv2)
    lines: list[str] = []
    result = sweep.sweep(clients, vpc, "foo", dry_run=False, clock=clock, out=lines.append)
    assert f"  security-group {group} still in use; retrying for up to 180s" in lines
    if deleted:
        assert [i.id for i in result.deleted] == [group]
        assert clock.now() == 20  # two retries, 10 s apart
    else:
        assert [i.id for i, _ in result.failed] == [group]
        assert "DependencyViolation" in result.failed[0][1]
        assert clock.now() >= 180  # waited for the dependency to go before giving up


def test_a_leftover_deleted_meanwhile_counts_as_deleted(aws: Clients) -> None:
    vpc, group = in_use_group(aws)
    clients = Clients(ec2=InUse(aws.ec2, 1, code="InvalidGroup.NotFound"), elb=aws.elb, elbv2=aws.elbv2)
    result = sweep.sweep(clients, vpc, "foo", dry_run=False, clock=FakeClock().clock, out=lambda _: None)
    assert [i.id for i in result.deleted] == [group] and result.failed == []
