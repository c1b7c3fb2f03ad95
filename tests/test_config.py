"""Config validation: every rule names the key, the bad value and what is allowed; all problems in one error."""

from __future__ import annotations

from typing import Any

import pytest
from harness import run_program, stack_config, with_changes

from infra.config import ConfigError, plan_subnets


def problems_for(changes: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        run_program(with_changes(changes))
    assert info.value.run.resources == [], "no resource may be registered before the config is valid"  # type: ignore[attr-defined]
    return info.value.problems


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("infra:network.cidr", "10.0.0.0/33", "infra:network.cidr: '10.0.0.0/33' is not an IPv4 network"),
        ("infra:network.cidr", "10.0.0.1/16", "infra:network.cidr: '10.0.0.1/16' is not an IPv4 network"),
        ("infra:network.cidr", "8.8.0.0/16", "is not a private range"),
        ("infra:network.cidr", "10.0.0.0/8", "larger than AWS allows"),
        ("infra:network.cidr", "10.0.0.0/24", "too small for 2 AZs (subnets would be /26)"),
        ("infra:network.azCount", 1, "infra:network.azCount: 1 — allowed: 2..6"),
        ("infra:network.azCount", "2", "infra:network.azCount: '2' has the wrong type — allowed: an integer"),
        ("infra:network.natGateways", "many", "infra:network.natGateways: 'many'"),
        ("infra:cluster.version", "1.9", "infra:cluster.version: '1.9'"),
        ("infra:cluster.version", "1.29", "infra:cluster.version: '1.29'"),
        ("infra:cluster.version", 1.33, "infra:cluster.version: 1.33 has the wrong type — allowed: a string"),
        ("infra:cluster.publicAccessCidrs", ["0.0.0.0/0", "office"], "infra:cluster.publicAccessCidrs[1]: 'office'"),
        ("infra:cluster.adminArns", ["alice"], "infra:cluster.adminArns[0]: 'alice'"),
        ("infra:cluster.nodes.desired", 9, "infra:cluster.nodes.desired: 9 (min 1, max 4)"),
        ("infra:cluster.nodes.min", 0, "infra:cluster.nodes.min: 0 — allowed: 1 or more"),
        ("infra:cluster.nodes.desired", True, "infra:cluster.nodes.desired: True has the wrong type"),
        ("infra:cluster.nodes.instanceTypes", [], "infra:cluster.nodes.instanceTypes: []"),
        ("infra:cluster.nodes.instanceTypes", "t3.medium", "instanceTypes: 't3.medium' has the wrong type"),
        ("infra:cluster.nodes.capacityType", "spot", "infra:cluster.nodes.capacityType: 'spot'"),
        ("infra:cluster.nodes", "big", "infra:cluster.nodes: 'big' has the wrong type — allowed: an object"),
        ("infra:helloworld.version", "2.0", "infra:helloworld.version: '2.0'"),
        ("infra:helloworld.greeting", "it's", 'infra:helloworld.greeting: "it\'s"'),
        ("infra:helloworld.replicas", 1, "infra:helloworld.replicas: 1"),
        ("infra:helloworld.workload", "Pod", "infra:helloworld.workload: 'Pod'"),
        ("infra:helloworld.registry", "dockerhub", "infra:helloworld.dockerhubUsername: None — required"),
        ("infra:database.engineVersion", "postgres16", "infra:database.engineVersion: 'postgres16'"),
        ("infra:database.engineVersion", "12", "infra:database.engineVersion: '12'"),
        ("infra:database.storageGb", 10, "infra:database.storageGb: 10 — allowed: 20..65536"),
        ("infra:database.backupRetentionDays", 36, "infra:database.backupRetentionDays: 36 — allowed: 1..35"),
        ("infra:database.backupRetentionDays", 0, "infra:database.backupRetentionDays: 0"),
        ("infra:database.multiAz", "yes", "infra:database.multiAz: 'yes' has the wrong type — allowed: true or false"),
        ("infra:database.username", "postgres", "infra:database.username: 'postgres'"),
        ("aws:region", "oregon", "aws:region: 'oregon'"),
    ],
)
def test_each_rule_names_key_value_and_allowed(path: str, value: Any, expected: str) -> None:
    problems = problems_for({path: value})
    assert any(expected in p for p in problems), problems
    assert all("—" in p or ": unknown key" in p for p in problems), "every problem says what is allowed"


def test_typo_is_reported_with_suggestion() -> None:
    problems = problems_for({"infra:cluster.nodes.desird": 3})
    assert problems == [
        "infra:cluster.nodes.desird: unknown key (did you mean 'desired'?) — allowed keys: instanceTypes,"
        " capacityType, diskSizeGb, desired, min, max, maxUnavailable"
    ]


def test_unknown_top_level_key_is_reported() -> None:
    problems = problems_for({"infra:netwrok": {"cidr": "10.0.0.0/16"}})
    assert problems[0].startswith("infra:netwrok: unknown key")


def test_all_problems_in_one_error() -> None:
    problems = problems_for(
        {
            "infra:network.azCount": 7,
            "infra:cluster.nodes.min": 5,
            "infra:database.storageGb": 5,
            "infra:dns.zone": None,
        }
    )
    keys = [p.split(":")[1].split(" ")[0] for p in problems]
    assert keys == ["network.azCount", "cluster.nodes.desired", "database.storageGb", "dns.zone"], problems
    message = str(ConfigError(problems))
    assert message.startswith("invalid stack config (4 problem(s)):")


def test_skip_final_snapshot_requires_ephemeral() -> None:
    problems = problems_for({"infra:database.ephemeral": False, "infra:database.skipFinalSnapshot": True})
    assert problems == [
        "infra:database.skipFinalSnapshot: true — allowed only with ephemeral: true (a protected database keeps its"
        " final snapshot)"
    ]


@pytest.mark.parametrize(
    ("dns", "expected"),
    [
        ({"zone": "cloud.example.com", "createZone": True, "newZone": "x.example.com"}, "infra:dns.zone: 'cloud.exa"),
        ({"createZone": True}, "infra:dns.newZone: None — required with createZone: true"),
        ({"name": "foo"}, "infra:dns.zone: None — required"),
        ({"zone": "Cloud_Example"}, "infra:dns.zone: 'Cloud_Example'"),
        ({"zone": "cloud.example.com", "name": "a.b"}, "infra:dns.name: 'a.b'"),
    ],
)
def test_dns_rules(dns: dict[str, Any], expected: str) -> None:
    problems = problems_for({"infra:dns": dns})
    assert any(p.startswith(expected) for p in problems), problems


def test_more_azs_than_the_region_has_is_a_config_error() -> None:
    # The mocked region has four AZs; six passes the static range check but not the lookup.
    problems = problems_for({"infra:network.azCount": 6, "infra:network.cidr": "10.0.0.0/16"})
    assert problems == ["infra:network.azCount: 6 — allowed: at most 4 in this region"]


def test_defaults_fill_missing_sections() -> None:
    config = {"aws:region": "us-west-2"}
    run = run_program(config, stack="bare")
    assert run.outputs["clusterName"] == "infra-bare"
    assert "url" in run.outputs and not any(r.type.startswith("aws:route53") for r in run.resources)


def test_second_stack_gets_its_own_names() -> None:
    bar = run_program(stack_config("foo"), stack="bar")
    cluster = bar.one("aws:eks/cluster:Cluster")
    assert cluster.inputs["name"] == "infra-bar"
    assert bar.one("aws:rds/instance:Instance").inputs["identifier"] == "infra-bar"
    subnet_tags = bar.of_type("aws:ec2/subnet:Subnet")[0].inputs["tags"]
    assert subnet_tags["kubernetes.io/cluster/infra-bar"] == "shared"
    assert subnet_tags["stack"] == "bar"


def test_subnet_plan_has_no_overlaps() -> None:
    import ipaddress

    for cidr, azs in [("10.0.0.0/16", 2), ("10.0.0.0/16", 3), ("172.16.0.0/20", 6), ("192.168.0.0/21", 4)]:
        private, public = plan_subnets(cidr, azs)
        nets = [ipaddress.ip_network(n) for n in private + public]
        assert len(nets) == 2 * azs
        assert all(n.subnet_of(ipaddress.ip_network(cidr)) for n in nets)  # type: ignore[arg-type]
        assert not any(a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1 :])
