"""Network under mocks with foo's config: AZ spread, CIDRs, tags for ELB discovery, routes, NAT layout."""

from __future__ import annotations

import ipaddress

from harness import Registration, Run, run_program, with_changes


def subnets(run: Run, kind: str) -> list[Registration]:
    return [s for s in run.of_type("aws:ec2/subnet:Subnet") if s.name.split("-")[1] == kind]


def test_vpc_has_dns_and_tags(foo: Run) -> None:
    vpc = foo.one("aws:ec2/vpc:Vpc")
    assert vpc.inputs["cidrBlock"] == "10.0.0.0/16"
    assert vpc.inputs["enableDnsSupport"] is True and vpc.inputs["enableDnsHostnames"] is True
    assert vpc.inputs["tags"] == {"Name": "infra-foo-vpc", "project": "infra", "stack": "foo"}


def test_one_public_and_one_private_subnet_per_az(foo: Run) -> None:
    public, private = subnets(foo, "public"), subnets(foo, "private")
    assert [s.inputs["availabilityZone"] for s in public] == ["us-west-2a", "us-west-2b"]
    assert [s.inputs["availabilityZone"] for s in private] == ["us-west-2a", "us-west-2b"]
    nets = [ipaddress.ip_network(s.inputs["cidrBlock"]) for s in public + private]
    assert not any(a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1 :])
    for s in public:
        assert s.inputs["tags"]["kubernetes.io/role/elb"] == "1"
        assert s.inputs["mapPublicIpOnLaunch"] is False
    for s in private:
        assert s.inputs["tags"]["kubernetes.io/role/internal-elb"] == "1"
    for s in public + private:
        assert s.inputs["tags"]["kubernetes.io/cluster/infra-foo"] == "shared"
        assert {"Name", "project", "stack"} <= set(s.inputs["tags"])


def test_every_taggable_aws_resource_carries_name_stack_project(foo: Run) -> None:
    untagged = [
        r.name
        for r in foo.resources
        if r.type.startswith("aws:")
        and "tags" in r.inputs
        and not {"Name", "project", "stack"} <= set(r.inputs["tags"])
    ]
    assert untagged == []
    tagged = [r for r in foo.resources if r.type.startswith("aws:") and "tags" in r.inputs]
    assert len(tagged) >= 20


def test_routes_public_through_igw_private_through_nat(foo: Run) -> None:
    tables = {r.name: r for r in foo.of_type("aws:ec2/routeTable:RouteTable")}
    assert tables["network-public-rt"].inputs["routes"] == [{"cidrBlock": "0.0.0.0/0", "gatewayId": "network-igw-id"}]
    for i in (0, 1):
        assert tables[f"network-private-rt-{i}"].inputs["routes"] == [
            {"cidrBlock": "0.0.0.0/0", "natGatewayId": "network-nat-0-id"}
        ]
    assoc = {r.name: r.inputs for r in foo.of_type("aws:ec2/routeTableAssociation:RouteTableAssociation")}
    assert assoc["network-public-1"] == {"subnetId": "network-public-1-id", "routeTableId": "network-public-rt-id"}
    assert assoc["network-private-1"] == {"subnetId": "network-private-1-id", "routeTableId": "network-private-rt-1-id"}


def test_single_nat_by_default_one_per_az_on_request(foo: Run) -> None:
    nat = foo.one("aws:ec2/natGateway:NatGateway")
    assert nat.inputs["subnetId"] == "network-public-0-id"
    run = run_program(with_changes({"infra:network.natGateways": "one-per-az", "infra:network.azCount": 3}))
    nats = run.of_type("aws:ec2/natGateway:NatGateway")
    assert sorted(n.inputs["subnetId"] for n in nats) == [f"network-public-{i}-id" for i in range(3)]
    routes = {r.name: r.inputs["routes"][0].get("natGatewayId") for r in run.of_type("aws:ec2/routeTable:RouteTable")}
    assert [routes[f"network-private-rt-{i}"] for i in range(3)] == [f"network-nat-{i}-id" for i in range(3)]
    assert len(run.of_type("aws:ec2/subnet:Subnet")) == 6


def test_default_security_group_is_locked_down(foo: Run) -> None:
    sg = foo.one("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert "ingress" not in sg.inputs and "egress" not in sg.inputs
