"""The idle cost of a resource graph and what a change adds (infra/cost), on the reviewed foo snapshot.

Prices here are AWS's us-west-2 on-demand list prices (EKS, EC2, VPC, ELB, RDS, KMS and Secrets Manager pricing
pages, as recorded on 2026-11-27), given to the code as a table, so each expected figure is price × quantity × 730
hours worked out by hand.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from infra.cost import SupportDates, cost_delta, estimate
from infra.cost.prices import load_table, parse_table

ROOT = Path(__file__).resolve().parent.parent
FOO = json.loads((ROOT / "tests" / "snapshots" / "foo.json").read_text())
TODAY = dt.date(2026, 12, 6)

AWS_US_WEST_2 = {
    "eks.cluster.standard": ("0.10", "hour"),
    "eks.cluster.extended": ("0.60", "hour"),
    "ec2.t3.medium": ("0.0416", "hour"),
    "ec2.t3.small": ("0.0208", "hour"),
    "ebs.gp3": ("0.08", "GB-month"),
    "ebs.gp2": ("0.10", "GB-month"),
    "vpc.natGateway": ("0.045", "hour"),
    "vpc.publicIPv4": ("0.005", "hour"),
    "elb.classic": ("0.025", "hour"),
    "elb.classic.data": ("0.008", "GB"),
    "elb.network": ("0.0225", "hour"),
    "elb.network.nlcu": ("0.006", "hour"),
    "rds.postgres.db.t4g.micro": ("0.016", "hour"),
    "rds.storage.gp3": ("0.115", "GB-month"),
    "rds.extendedSupport.year1-2": ("0.100", "vCPU-hour"),
    "rds.extendedSupport.year3": ("0.200", "vCPU-hour"),
    "kms.key": ("1.00", "month"),
    "secretsmanager.secret": ("0.40", "month"),
    "route53.hostedZone": ("0.50", "month"),
}
TABLE = parse_table(
    {
        "region": "us-west-2",
        "hoursPerMonth": 730,
        "prices": {
            key: {
                "usd": usd,
                "per": per,
                "date": "2026-11-27",
                "source": "test",
                **({"vcpu": 2} if "db." in key else {}),
            }
            for key, (usd, per) in AWS_US_WEST_2.items()
        },
    }
)


def foo() -> dict[str, Any]:
    return copy.deepcopy(FOO)


def one(graph: dict[str, Any], type_token: str) -> dict[str, Any]:
    [found] = [r for r in graph["resources"] if r["type"] == type_token]
    inputs: dict[str, Any] = found["inputs"]
    return inputs


def monthly(graph: Any, **kwargs: Any) -> dict[str, Decimal | None]:
    return {line.key.split(":")[0]: line.monthly for line in estimate(graph, TABLE, today=TODAY, **kwargs).lines}


def test_foo_idle_cost_line_by_line() -> None:
    assert monthly(foo()) == {
        "eks": Decimal("73.00"),  # 730 h × $0.10
        "nodes": Decimal("30.368"),  # 2 × 730 × $0.0208: foo's t3.small nodes
        "volumes": Decimal("3.20"),  # 2 × 20 GB × $0.08: the launch template's gp3 root volume
        "nat": Decimal("32.85"),  # one NAT (natGateways single)
        "elb": Decimal("18.25"),  # one Classic ELB for the LoadBalancer Service
        "ipv4": Decimal("10.95"),  # 3 × 730 × $0.005: the NAT's EIP + the ELB's address in each of 2 AZs
        "rds": Decimal("11.68"),
        "rds-storage": Decimal("2.30"),  # 20 GB × $0.115
        "kms": Decimal("1.00"),
        "secrets": Decimal("0.40"),  # the RDS-managed master password
    }
    priced = estimate(foo(), TABLE, today=TODAY)
    # 73.00 + 30.368 + 3.20 + 32.85 + 18.25 + 10.95 + 11.68 + 2.30 + 1.00 + 0.40: under issue 21's $200
    assert priced.total == Decimal("183.998") and priced.complete and priced.callouts == []
    assert any("hosted zone" in note and "not this stack's" in note for note in priced.notes)


def test_region_comes_from_the_subnets_and_a_missing_price_is_said_not_guessed() -> None:
    graph = foo()
    for resource in graph["resources"]:
        if resource["type"] == "aws:ec2/subnet:Subnet":
            resource["inputs"]["availabilityZone"] = resource["inputs"]["availabilityZone"].replace(
                "us-west-2", "eu-west-1"
            )
    one(graph, "aws:eks/nodeGroup:NodeGroup")["instanceTypes"] = ["t3.2xlarge"]
    priced = estimate(graph, load_table("eu-west-1"), today=TODAY)
    nodes = next(line for line in priced.lines if line.key.startswith("nodes:"))
    assert nodes.monthly is None and nodes.missing is not None
    assert nodes.missing.message() == (
        "no price for t3.2xlarge in eu-west-1 in the table: run venv/bin/python tools/refresh_prices.py eu-west-1"
        " --add ec2.t3.2xlarge"
    )
    assert not priced.complete and nodes.monthly is None
    assert estimate(graph, today=TODAY).region == "eu-west-1"


def test_nat_one_per_az_is_named_and_includes_its_address() -> None:
    after = foo()
    nat = next(r for r in after["resources"] if r["type"] == "aws:ec2/natGateway:NatGateway")
    eip = next(r for r in after["resources"] if r["type"] == "aws:ec2/eip:Eip")
    after["resources"] += [
        {**copy.deepcopy(nat), "name": "network-nat-1"},
        {**copy.deepcopy(eip), "name": "network-nat-1"},
    ]
    assert cost_delta(foo(), after, TABLE, today=TODAY) == [
        "+$36.50/month: natGateways single → one-per-az (NAT gateways: 1 NAT gateway → 2 NAT gateways;"
        " public IPv4 addresses: 3 addresses → 4 addresses)"
    ]


def test_multi_az_doubles_instance_and_storage_and_node_changes_name_the_setting() -> None:
    after = foo()
    one(after, "aws:rds/instance:Instance")["multiAz"] = True
    group = one(after, "aws:eks/nodeGroup:NodeGroup")
    group["scalingConfig"]["desiredSize"] = 3
    group["instanceTypes"] = ["t3.medium"]
    assert cost_delta(foo(), after, TABLE, today=TODAY) == [
        # 3 × 730 × $0.0416 − 2 × 730 × $0.0208 = 91.104 − 30.368
        "+$60.74/month: nodes.desired 2 → 3, nodes.instanceTypes t3.small → t3.medium"
        " (EKS nodes cluster-nodes: 2 × t3.small → 3 × t3.medium)",
        "+$13.98/month: database.multiAz false → true (RDS postgres db.t4g.micro infra-foo: 1 × db.t4g.micro → 2 ×"
        " db.t4g.micro; RDS storage infra-foo: 20 GB → 40 GB)",
        "+$1.60/month: nodes.desired 2 → 3 (node root volumes cluster-nodes: 40 GB → 60 GB)",
    ]


def test_eks_extended_support_is_called_out_with_its_cost_and_date() -> None:
    graph = foo()
    one(graph, "aws:eks/cluster:Cluster")["upgradePolicy"]["supportType"] = "EXTENDED"
    past = SupportDates(eks_standard_end=dt.date(2026, 7, 29))
    priced = estimate(graph, TABLE, past, TODAY)
    assert priced.lines[0].monthly == Decimal("438.00")  # 730 × $0.60
    assert priced.callouts == ["EXTENDED SUPPORT: +$365.00/month since 2026-07-29 (EKS infra-foo, Kubernetes 1.35)"]
    # STANDARD never bills extended support: EKS upgrades the control plane instead.
    assert estimate(foo(), TABLE, past, TODAY).callouts == []
    assert cost_delta(foo(), graph, TABLE, past, TODAY) == [
        "+$365.00/month: cluster.supportType STANDARD → EXTENDED (EKS control plane infra-foo: 1 cluster → 1 cluster)"
    ]


def test_rds_extended_support_bills_every_vcpu_standby_included() -> None:
    graph = foo()
    db = one(graph, "aws:rds/instance:Instance")
    db["engineLifecycleSupport"] = "open-source-rds-extended-support"
    db["multiAz"] = True
    past = SupportDates(rds_standard_end=dt.date(2026, 2, 28))
    priced = estimate(graph, TABLE, past, TODAY)
    extended = next(line for line in priced.lines if line.key.startswith("rds-extended:"))
    assert extended.monthly == Decimal("292.000")  # 2 vCPU × 2 instances × $0.100 × 730
    assert priced.callouts == ["EXTENDED SUPPORT: +$292.00/month since 2026-02-28 (RDS infra-foo, PostgreSQL 16)"]
    year3 = estimate(graph, TABLE, SupportDates(rds_standard_end=dt.date(2024, 2, 29)), TODAY)
    assert next(line for line in year3.lines if line.key.startswith("rds-extended:")).monthly == Decimal("584.000")
    # Created with Extended Support disabled (foo's setting), nothing is billed past the date.
    assert not any(line.key.startswith("rds-extended:") for line in estimate(foo(), TABLE, past, TODAY).lines)


def test_without_a_launch_template_the_node_group_disk_and_the_ami_volume_type_count() -> None:
    graph = foo()
    graph["resources"] = [r for r in graph["resources"] if r["type"] != "aws:ec2/launchTemplate:LaunchTemplate"]
    group = one(graph, "aws:eks/nodeGroup:NodeGroup")
    del group["launchTemplate"]
    group["amiType"] = "AL2_x86_64"
    assert monthly(graph)["volumes"] == Decimal("4.00")  # 2 × 20 GiB default × gp2 $0.10
    group["diskSize"] = 50
    group["amiType"] = "AL2023_x86_64_STANDARD"
    assert monthly(graph)["volumes"] == Decimal("8.00")  # 2 × 50 × gp3 $0.08


def test_spot_nodes_are_named_unpriced_and_the_total_says_so() -> None:
    graph = foo()
    one(graph, "aws:eks/nodeGroup:NodeGroup")["capacityType"] = "SPOT"
    priced = estimate(graph, TABLE, today=TODAY)
    nodes = next(line for line in priced.lines if line.key.startswith("nodes:"))
    assert nodes.monthly is None and "SPOT" in nodes.unpriced and not priced.complete


def test_a_created_zone_is_counted_and_a_stack_export_prices_like_the_snapshot() -> None:
    graph = foo()
    graph["resources"].append({"type": "aws:route53/zone:Zone", "name": "dns-zone", "inputs": {"name": "x.example"}})
    assert monthly(graph)["zones"] == Decimal("0.50")
    export = {
        "deployment": {
            "resources": [
                {"type": r["type"], "urn": r["urn"], "id": f"id-{i}", "inputs": r["inputs"], "outputs": {}}
                for i, r in enumerate(foo()["resources"])
            ]
        }
    }
    assert estimate(export, TABLE, today=TODAY).total == Decimal("183.998")


@pytest.mark.parametrize("stack", ["prod"])
def test_a_change_the_table_cannot_price_is_named_not_guessed(stack: str) -> None:
    reviewed = json.loads((ROOT / "tests" / "snapshots" / f"{stack}.json").read_text())
    lines = cost_delta(foo(), reviewed, TABLE, today=TODAY)
    assert (
        "nodes.desired 2 → 3, nodes.instanceTypes t3.small → m7i.large: cannot be priced (no price for m7i.large in"
        " us-west-2 in the table: run venv/bin/python tools/refresh_prices.py us-west-2 --add ec2.m7i.large)"
    ) in lines


# ---------------------------------------------------------------- which load balancer a LoadBalancer Service gets

ELB = "service.beta.kubernetes.io/aws-load-balancer-"


def with_service(annotations: dict[str, str], load_balancer_class: str | None = None) -> dict[str, Any]:
    graph = foo()
    service = one(graph, "kubernetes:core/v1:Service")
    service["metadata"]["annotations"].update(annotations)
    if load_balancer_class is not None:
        service["spec"]["loadBalancerClass"] = load_balancer_class
    return graph


def lb_line(graph: dict[str, Any]) -> tuple[str, Decimal | None, Decimal | None]:
    """(item, monthly) of the Service's load balancer line, and the public IPv4 line's monthly."""
    lines = estimate(graph, TABLE, today=TODAY).lines
    [lb] = [line for line in lines if line.key.startswith("elb:")]
    [ipv4] = [line for line in lines if line.key == "ipv4"]
    return lb.item, lb.monthly, ipv4.monthly


def test_no_type_annotation_is_a_classic_elb_billed_with_its_data() -> None:
    # the in-tree cloud provider's default: $0.025 × 730; internet-facing, one address in each of 2 AZs + the EIP
    assert lb_line(foo()) == (
        "Classic ELB for Service helloworld/helloworld (2 AZs)",
        Decimal("18.250"),
        Decimal("10.950"),
    )
    usage = estimate(foo(), TABLE, today=TODAY).usage
    assert "Classic ELB data processed (requests): $0.008/GB" in usage
    assert not any("NLCU" in u for u in usage)


def test_type_nlb_is_the_in_tree_providers_internet_facing_nlb() -> None:
    graph = with_service({ELB + "type": "nlb"})
    # $0.0225 × 730 = $16.425; internet-facing, so the 2 AZ addresses stay
    assert lb_line(graph) == ("NLB for Service helloworld/helloworld (2 AZs)", Decimal("16.4250"), Decimal("10.950"))
    priced = estimate(graph, TABLE, today=TODAY)
    assert "NLB capacity units used (flows and bytes), per NLCU: $0.006/h" in priced.usage
    assert not any("Classic ELB data" in u for u in priced.usage)
    assert not any("Load Balancer Controller" in note for note in priced.notes)  # no controller needed


def test_the_in_tree_provider_reads_the_type_exactly_and_internal_unless_false() -> None:
    # cloud-provider-aws: `type == "nlb"` (so "NLB" gets a Classic ELB); internal is any value but "" and "false"
    item, elb, ipv4 = lb_line(with_service({ELB + "type": "NLB"}))
    assert item.startswith("Classic ELB for Service") and elb == Decimal("18.250")
    for internal in ("true", "yes", "1", "False"):
        item, _, ipv4 = lb_line(with_service({ELB + "internal": internal}))
        assert "internal" in item and ipv4 == Decimal("3.650"), internal  # only the NAT's Elastic IP is public
    for public in ("false", ""):
        item, _, ipv4 = lb_line(with_service({ELB + "internal": public}))
        assert "internal" not in item and ipv4 == Decimal("10.950"), public


def test_type_external_is_the_controllers_nlb_internal_unless_the_scheme_says_otherwise() -> None:
    public = with_service({ELB + "type": "external", ELB + "nlb-target-type": "ip", ELB + "scheme": "internet-facing"})
    assert lb_line(public) == (
        "NLB for Service helloworld/helloworld (2 AZs, ip targets, by the AWS Load Balancer Controller)",
        Decimal("16.4250"),
        Decimal("10.950"),
    )
    assert any(
        note.startswith("Service helloworld/helloworld asks for an NLB from the AWS Load Balancer Controller")
        and "priced as if it were installed" in note
        for note in estimate(public, TABLE, today=TODAY).notes
    )
    # no scheme: the controller's default is internal, so only the NAT's Elastic IP is public (730 × $0.005)
    item, nlb, ipv4 = lb_line(with_service({ELB + "type": "external"}))
    assert (nlb, ipv4) == (Decimal("16.4250"), Decimal("3.650"))
    assert "internal, instance targets, by the AWS Load Balancer Controller" in item


def test_the_controllers_load_balancer_class_is_an_nlb_and_another_class_is_not_priced() -> None:
    item, nlb, ipv4 = lb_line(with_service({}, "service.k8s.aws/nlb"))
    assert nlb == Decimal("16.4250") and ipv4 == Decimal("3.650")  # class wins over no type: internal NLB
    assert item.startswith("NLB for Service helloworld/helloworld (") and "AWS Load Balancer Controller" in item
    other = estimate(with_service({}, "example.com/lb"), TABLE, today=TODAY)
    assert not any(line.key.startswith("elb:") for line in other.lines)
    assert "Service helloworld/helloworld: loadBalancerClass example.com/lb is neither provisioner's: not priced" in (
        other.notes
    )
