"""Speed of a first deploy, read off the dependency graph: only what must waits for the EKS cluster."""

from __future__ import annotations

import pytest
from harness import Run

CLUSTER = "aws:eks/cluster:Cluster"
NODES = "aws:eks/nodeGroup:NodeGroup"


@pytest.mark.parametrize(
    "independent",
    [
        "aws:rds/instance:Instance",
        "aws:ec2/securityGroup:SecurityGroup",
        "aws:rds/subnetGroup:SubnetGroup",
        "aws:rds/parameterGroup:ParameterGroup",
        "docker:index/image:Image",
        "aws:ecr/repository:Repository",
    ],
)
def test_runs_in_parallel_with_the_cluster(foo: Run, independent: str) -> None:
    resource = foo.one(independent)
    assert not foo.depends_on(resource, foo.one(CLUSTER)), f"{independent} would wait for the EKS control plane"


def test_only_the_ingress_rule_waits_for_the_cluster_security_group(foo: Run) -> None:
    rule = foo.one("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    assert foo.depends_on(rule, foo.one(CLUSTER))
    db = foo.one("aws:rds/instance:Instance")
    assert not foo.depends_on(db, rule)


def test_the_critical_path_is_cluster_nodes_workload_service_dns(foo: Run) -> None:
    rc = foo.one("kubernetes:core/v1:ReplicationController")
    svc = foo.one("kubernetes:core/v1:Service")
    (record,) = [r for r in foo.of_type("aws:route53/record:Record") if r.name == "dns-app"]
    assert foo.depends_on(foo.one(NODES), foo.one(CLUSTER))
    assert foo.depends_on(rc, foo.one(NODES)), "pods need nodes before the RC can become available"
    assert foo.depends_on(rc, foo.one("docker:index/image:Image"))
    assert foo.depends_on(record, svc), "the CNAME needs the ELB hostname"
    # The Service (and so its ELB) does not wait for the nodes or the database: the ELB comes up meanwhile.
    assert not foo.depends_on(svc, foo.one(NODES))
    assert not foo.depends_on(svc, foo.one("aws:rds/instance:Instance"))
