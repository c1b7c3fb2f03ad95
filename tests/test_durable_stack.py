"""The prod example stack (Pulumi.prod.yaml): durable and highly available, asserted directly.

foo is ephemeral, so it cannot show that a stack whose data matters keeps its database: these tests (and the
reviewed snapshot tests/snapshots/prod.json) guard that path.
"""

from __future__ import annotations

import pytest
from harness import Run, run_program, stack_config


@pytest.fixture(scope="module")
def prod() -> Run:
    return run_program(stack_config("prod"), stack="prod")


def test_database_cannot_be_deleted_by_accident(prod: Run) -> None:
    rds = prod.one("aws:rds/instance:Instance")
    assert rds.protect is True, "pulumi protect: `pulumi destroy` and a replacing change stop before deleting it"
    assert rds.plain("deletionProtection") is True, "RDS refuses DeleteDBInstance, whatever the caller"
    assert rds.plain("skipFinalSnapshot") is False
    assert rds.plain("finalSnapshotIdentifier") == "infra-prod-final-1a2b3c4d"  # the mocked random suffix
    assert rds.plain("tags")["Ephemeral"] == "false"


def test_database_survives_an_az_outage_with_two_weeks_of_backups(prod: Run) -> None:
    rds = prod.one("aws:rds/instance:Instance")
    assert (rds.plain("identifier"), rds.plain("multiAz"), rds.plain("backupRetentionPeriod")) == (
        "infra-prod",
        True,
        14,
    )


def test_three_azs_each_with_its_own_nat(prod: Run) -> None:
    subnets = {s.name: s.plain("availabilityZone") for s in prod.of_type("aws:ec2/subnet:Subnet")}
    assert subnets == {
        "network-private-0": "us-west-2a",
        "network-private-1": "us-west-2b",
        "network-private-2": "us-west-2c",
        "network-public-0": "us-west-2a",
        "network-public-1": "us-west-2b",
        "network-public-2": "us-west-2c",
    }
    nats = {n.name: n.plain("subnetId") for n in prod.of_type("aws:ec2/natGateway:NatGateway")}
    assert nats == {
        "network-nat-0": "network-public-0-id",
        "network-nat-1": "network-public-1-id",
        "network-nat-2": "network-public-2-id",
    }
    # Each AZ's private subnets leave through the NAT in the same AZ.
    routes = {t.name: t.plain("routes") for t in prod.of_type("aws:ec2/routeTable:RouteTable")}
    for i in range(3):
        assert routes[f"network-private-rt-{i}"] == [{"cidrBlock": "0.0.0.0/0", "natGatewayId": f"network-nat-{i}-id"}]


def test_deployment_on_larger_nodes(prod: Run) -> None:
    assert [d.plain("spec")["replicas"] for d in prod.of_type("kubernetes:apps/v1:Deployment")] == [3]
    assert prod.of_type("kubernetes:core/v1:ReplicationController") == []
    nodes = prod.one("aws:eks/nodeGroup:NodeGroup")
    assert nodes.plain("instanceTypes") == ["m7i.large"]
    assert nodes.plain("scalingConfig") == {"desiredSize": 3, "minSize": 3, "maxSize": 6}
    assert "prod.cloud.weave.works" in [r.plain("name") for r in prod.of_type("aws:route53/record:Record")]
