"""Network component: a VPC with one public and one private subnet per AZ, an internet gateway, NAT, routes."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra import contract
from infra.network_plan import plan_subnets
from infra.tagging import Tagger


@dataclass(frozen=True)
class NetworkArgs:
    cidr: str  # the VPC's block
    zones: list[str]  # the AZ of each public/private subnet pair, in plan order
    nat_gateways: str  # "single" | "one-per-az"
    subnet_layout: str  # how infra/network_plan.py cuts the block
    cluster_name: str  # the EKS cluster whose load balancers use these subnets
    tags: Tagger


class Network(pulumi.ComponentResource):
    vpc_id: pulumi.Output[str]
    zones: list[str]  # the AZ of each public/private subnet pair, in the same order as the id lists
    public_subnet_ids: list[pulumi.Output[str]]
    private_subnet_ids: list[pulumi.Output[str]]

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("infra:index:Network", name, None, opts)
        zones, tags = args.zones, args.tags
        child = pulumi.ResourceOptions(parent=self)
        # The cloud provider picks ELB subnets by these tags (AWS LB controller docs, subnet discovery).
        cluster_tag = {contract.kubernetes_cluster_tag(args.cluster_name): "shared"}

        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.cidr,
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags=tags("vpc"),
            opts=child,
        )
        # Take over the default security group with no rules, so nothing can use it by accident.
        aws.ec2.DefaultSecurityGroup(f"{name}-default-sg", vpc_id=vpc.id, tags=tags("default-sg"), opts=child)
        igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, tags=tags("igw"), opts=child)

        private_cidrs, public_cidrs = plan_subnets(args.cidr, len(zones), args.subnet_layout)
        public_rt = aws.ec2.RouteTable(
            f"{name}-public-rt",
            vpc_id=vpc.id,
            routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": igw.id}],
            tags=tags("public-rt"),
            opts=child,
        )
        public, private, nats = [], [], []
        for i, (zone, pub_cidr, priv_cidr) in enumerate(zip(zones, public_cidrs, private_cidrs, strict=True)):
            pub = aws.ec2.Subnet(
                f"{name}-public-{i}",
                vpc_id=vpc.id,
                cidr_block=pub_cidr,
                availability_zone=zone,
                map_public_ip_on_launch=False,  # only the ELBs and NAT live here, with their own addresses
                tags=tags(f"public-{zone}", {"kubernetes.io/role/elb": "1", **cluster_tag}),
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{i}", subnet_id=pub.id, route_table_id=public_rt.id, opts=child
            )
            public.append(pub)
            if i == 0 or args.nat_gateways == "one-per-az":
                eip = aws.ec2.Eip(f"{name}-nat-{i}", domain="vpc", tags=tags(f"nat-{zone}"), opts=child)
                nats.append(
                    aws.ec2.NatGateway(
                        f"{name}-nat-{i}",
                        allocation_id=eip.id,
                        subnet_id=pub.id,
                        tags=tags(f"nat-{zone}"),
                        opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
                    )
                )
            priv = aws.ec2.Subnet(
                f"{name}-private-{i}",
                vpc_id=vpc.id,
                cidr_block=priv_cidr,
                availability_zone=zone,
                tags=tags(f"private-{zone}", {"kubernetes.io/role/internal-elb": "1", **cluster_tag}),
                opts=child,
            )
            # Each AZ routes through its own NAT when there is one per AZ, else through the single NAT.
            rt = aws.ec2.RouteTable(
                f"{name}-private-rt-{i}",
                vpc_id=vpc.id,
                routes=[{"cidr_block": "0.0.0.0/0", "nat_gateway_id": nats[-1].id}],
                tags=tags(f"private-rt-{zone}"),
                opts=child,
            )
            aws.ec2.RouteTableAssociation(f"{name}-private-{i}", subnet_id=priv.id, route_table_id=rt.id, opts=child)
            private.append(priv)

        self.vpc_id = vpc.id
        self.zones = list(zones)
        self.public_subnet_ids = [s.id for s in public]
        self.private_subnet_ids = [s.id for s in private]
        self.register_outputs(
            {
                "vpcId": self.vpc_id,
                "publicSubnetIds": self.public_subnet_ids,
                "privateSubnetIds": self.private_subnet_ids,
            }
        )

    def subnet_ids_in(self, zones: list[str]) -> list[pulumi.Output[str]]:
        """The public and private subnets of these AZs (the control plane's: EKS keeps it in its creation AZs)."""
        pairs = [
            (pub, priv)
            for zone, pub, priv in zip(self.zones, self.public_subnet_ids, self.private_subnet_ids, strict=True)
            if zone in zones
        ]
        return [pub for pub, _ in pairs] + [priv for _, priv in pairs]
