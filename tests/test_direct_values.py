"""Values that matter, asserted directly with the literal the design calls for, not only through the snapshot.

A reviewed snapshot stops guarding a value the moment someone regenerates it without reading the diff; these do not.
"""

from __future__ import annotations

from typing import Any

import pytest
from harness import Run, shared_run, with_changes


def egress_to_postgres(run: Run) -> dict[str, list[dict[str, Any]]]:
    """Per NetworkPolicy, its egress rules that open PostgreSQL."""
    return {
        policy.name: [
            r for r in policy.plain("spec")["egress"] if {"protocol": "TCP", "port": 5432} in r.get("ports", [])
        ]
        for policy in run.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
    }


def test_postgres_egress_goes_only_to_the_vpc(foo: Run) -> None:
    # Without `to`, a NetworkPolicy rule allows the port to every address, the internet included.
    rules = egress_to_postgres(foo)
    assert rules["helloworld-netpol"], "the app reaches its database"
    for policy, found in rules.items():
        assert found in (
            [],
            [{"to": [{"ipBlock": {"cidr": "10.0.0.0/16"}}], "ports": [{"protocol": "TCP", "port": 5432}]}],
        ), policy


def test_postgres_egress_follows_the_vpc_cidr() -> None:
    run = shared_run(with_changes({"infra:network.cidr": "172.16.0.0/16"}))
    assert [rule["to"] for rule in egress_to_postgres(run)["helloworld-netpol"]] == [
        [{"ipBlock": {"cidr": "172.16.0.0/16"}}]
    ]


def test_foo_keeps_seven_days_of_backups(foo: Run) -> None:
    # 0 would turn automated backups (and point-in-time restore) off.
    assert foo.one("aws:rds/instance:Instance").plain("backupRetentionPeriod") == 7


@pytest.fixture(scope="module")
def deployment() -> Run:
    return shared_run(with_changes({"infra:helloworld.workload": "Deployment"}))


@pytest.mark.parametrize(
    ("workload", "typ"),
    [
        ("ReplicationController", "kubernetes:core/v1:ReplicationController"),
        ("Deployment", "kubernetes:apps/v1:Deployment"),
    ],
)
def test_pod_drains_before_it_stops(request: pytest.FixtureRequest, workload: str, typ: str) -> None:
    """The kubelet pauses 20 s in preStop (endpoints and the ELB stop sending new requests: the ELB's 5 s x (2 + 1)
    checks + 5 s), then SIGTERM gives the app 15 s to finish in-flight requests, plus 5 s margin before SIGKILL:
    20 + 15 + 5 = 40."""
    run: Run = request.getfixturevalue("foo" if workload == "ReplicationController" else "deployment")
    spec = run.one(typ).plain("spec")["template"]["spec"]
    [container] = spec["containers"]
    assert container["lifecycle"] == {"preStop": {"sleep": {"seconds": 20}}}
    assert {"name": "SHUTDOWN_TIMEOUT", "value": "15"} in container["env"]
    assert spec["terminationGracePeriodSeconds"] == 20 + 15 + 5 == 40
