"""Config validation: every rule names the key, the bad value and what is allowed; all problems in one error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from harness import Run, shared_run, stack_config, with_changes

from infra.config import ConfigError
from infra.network_plan import plan_subnets


def problems_for(changes: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        shared_run(with_changes(changes))
    assert info.value.run.resources == [], "no resource may be registered before the config is valid"  # type: ignore[attr-defined]
    return info.value.problems


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("infra:network.cidr", "10.0.0.0/33", "infra:network.cidr: '10.0.0.0/33' is not an IPv4 network"),
        ("infra:network.cidr", "10.0.0.1/16", "infra:network.cidr: '10.0.0.1/16' is not an IPv4 network"),
        ("infra:network.cidr", "8.8.0.0/16", "is not a private range"),
        # Python's is_private says yes to these; they are not RFC 1918 ranges (loopback, link-local, benchmarking).
        *[
            ("infra:network.cidr", cidr, f"infra:network.cidr: '{cidr}' is not a private range — allowed: inside 10/8,")
            for cidr in ("127.0.0.0/16", "169.254.0.0/16", "198.18.0.0/16")
        ],
        # AWS allows a VPC of /16 at most; how small one may be depends on the subnet plan (tested with it).
        ("infra:network.cidr", "10.0.0.0/8", "infra:network.cidr: '10.0.0.0/8' — allowed: /16 to "),
        ("infra:network.cidr", "10.0.0.0/15", "infra:network.cidr: '10.0.0.0/15' — allowed: /16 to "),
        ("infra:network.cidr", "10.0.0.0/28", "infra:network.cidr: '10.0.0.0/28' — allowed: /16 to "),
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
        ("infra:database.engineVersion", "16.4.1", "infra:database.engineVersion: '16.4.1' — allowed: a PostgreSQL"),
        ("infra:database.supportType", "extended", "infra:database.supportType: 'extended' — allowed: 'STANDARD'"),
        ("infra:database.storageGb", 10, "infra:database.storageGb: 10 — allowed: 20..65536"),
        ("infra:database.backupRetentionDays", 36, "infra:database.backupRetentionDays: 36 — allowed: 1..35"),
        ("infra:database.backupRetentionDays", 0, "infra:database.backupRetentionDays: 0"),
        ("infra:database.multiAz", "yes", "infra:database.multiAz: 'yes' has the wrong type — allowed: true or false"),
        ("infra:database.username", "postgres", "infra:database.username: 'postgres'"),
        ("infra:database.username", "helloworld_app", "infra:database.username: 'helloworld_app' — allowed: any name"),
        ("aws:region", "oregon", "aws:region: 'oregon'"),
    ],
)
def test_each_rule_names_key_value_and_allowed(path: str, value: Any, expected: str) -> None:
    problems = problems_for({path: value})
    assert any(expected in p for p in problems), problems
    assert all("—" in p or ": unknown key" in p for p in problems), "every problem says what is allowed"


def test_which_postgres_majors_exist_is_rds_answer_at_deploy_time() -> None:
    """RDS adds majors (18) and retires them: the config checks the form only, RDS's own list decides."""
    shared_run(with_changes({"infra:database.engineVersion": "18"}))
    assert problems_for({"infra:database.engineVersion": "19.1"}) == [
        "infra:database.engineVersion: 19.1 — not offered by RDS in this region; allowed: one of 13, 14, 15, 16, 17,"
        " 18 (the newest RDS offers in standard support is 18)"
    ]


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
    assert problems == [
        "infra:network.azCount: 6 — allowed: at most 4 in this region (AZs EKS can place a control plane in,"
        " available now or already holding the stack's subnets: us-west-2a, us-west-2b, us-west-2c, us-west-2d)"
    ]


def test_defaults_fill_missing_sections() -> None:
    config = {"aws:region": "us-west-2"}
    run = shared_run(config, stack="bare")
    assert run.outputs["clusterName"] == "infra-bare"
    assert "url" in run.outputs and not any(r.type.startswith("aws:route53") for r in run.resources)


def test_second_stack_gets_its_own_names() -> None:
    bar = shared_run(stack_config("foo"), stack="bar")
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


# ---------------------------------------------------------------- every ranged key at its edges

# What each allowed value must become: the input AWS (or Kubernetes) gets.
Lands = Callable[[Run], Any]
RDS, NODES = "aws:rds/instance:Instance", "aws:eks/nodeGroup:NodeGroup"


def rds(key: str) -> Lands:
    return lambda run: run.one(RDS).plain(key)


def scaling(key: str) -> Lands:
    return lambda run: run.one(NODES).plain("scalingConfig")[key]


def rc_spec(key: str) -> Lands:
    return lambda run: run.one("kubernetes:core/v1:ReplicationController").plain("spec")[key]


def cluster_log_retention(run: Run) -> Any:
    [group] = [g for g in run.of_type("aws:cloudwatch/logGroup:LogGroup") if g.plain("name").endswith("/cluster")]
    return group.plain("retentionInDays")


def root_volume_gb(run: Run) -> Any:
    [mapping] = run.one("aws:ec2/launchTemplate:LaunchTemplate").plain("blockDeviceMappings")
    return mapping["ebs"]["volumeSize"]


def private_subnets(run: Run) -> int:
    return sum(s.name.startswith("network-private-") for s in run.of_type("aws:ec2/subnet:Subnet"))


# (key, refused values, lowest and highest allowed value, what the refusal says is allowed, where an allowed value
# lands). The ranges are the spec's: AWS limits (EKS and RDS need two AZs; EBS gp3 20 GiB (the EKS AMI) .. 16 TiB;
# RDS gp3 PostgreSQL 20 .. 65536 GiB; RDS backups 1 .. 35 days, 0 turning them off), the runbook (at least 2
# replicas, so one node's maintenance never takes the app down). foo's nodes are min 1, desired 2, max 4; the mocked
# region has 4 AZs.
RANGES: list[tuple[str, list[int], int, int, str, Lands]] = [
    ("infra:network.azCount", [0, 1, 7], 2, 4, "2..6", private_subnets),
    ("infra:cluster.nodes.diskSizeGb", [0, 1, 2, 19, 16385], 20, 16384, "20..16384", root_volume_gb),
    ("infra:cluster.nodes.min", [-1, 0], 1, 2, "1 or more", scaling("minSize")),
    ("infra:cluster.nodes.desired", [], 1, 4, "", scaling("desiredSize")),  # refusals: test_desired_outside_…
    (
        "infra:cluster.nodes.maxUnavailable",
        [0, 5],
        1,
        4,
        "1..max (4)",
        lambda run: run.one(NODES).plain("updateConfig")["maxUnavailable"],
    ),
    ("infra:cluster.logRetentionDays", [], 1, 2922, "", cluster_log_retention),  # refusals: test_log_retention_…
    ("infra:helloworld.replicas", [0, 1, 51], 2, 50, "2..50", rc_spec("replicas")),
    ("infra:helloworld.updatePeriodSeconds", [-1, 601], 0, 600, "0..600", rc_spec("minReadySeconds")),
    ("infra:database.storageGb", [0, 1, 19, 65537], 20, 65536, "20..65536", rds("allocatedStorage")),
    ("infra:database.backupRetentionDays", [0, 36], 1, 35, "1..35", rds("backupRetentionPeriod")),
]


@pytest.mark.parametrize(
    ("key", "value", "allowed"),
    [(key, value, allowed) for key, refused, _, _, allowed, _ in RANGES for value in refused],
)
def test_value_outside_its_range_is_refused(key: str, value: int, allowed: str) -> None:
    problems = problems_for({key: value})
    assert any(p.startswith(f"{key}: {value} — allowed: {allowed}") for p in problems), problems


@pytest.mark.parametrize("edge", ["lowest", "highest"])
def test_every_key_at_the_edge_of_its_range_runs(edge: str) -> None:
    """All keys at their lowest (or highest) allowed value in one run, each reaching its resource unchanged."""
    values = {key: low if edge == "lowest" else high for key, _, low, high, _, _ in RANGES}
    run = shared_run(with_changes(values))
    assert {key: lands(run) for key, *_, lands in RANGES} == values


@pytest.mark.parametrize(("desired", "min_", "max_"), [(0, 1, 4), (5, 1, 4), (1, 2, 4), (3, 1, 2)])
def test_desired_outside_min_max_is_refused(desired: int, min_: int, max_: int) -> None:
    changes = {"infra:cluster.nodes.desired": desired, "infra:cluster.nodes.min": min_, "infra:cluster.nodes.max": max_}
    assert f"infra:cluster.nodes.desired: {desired} (min {min_}, max {max_}) — allowed: min <= desired <= max" in (
        problems_for(changes)
    )


def test_one_node_group_of_exactly_one_node_runs() -> None:
    changes = {f"infra:cluster.nodes.{key}": 1 for key in ("desired", "min", "max", "maxUnavailable")}
    run = shared_run(with_changes(changes))
    assert run.one(NODES).plain("scalingConfig") == {"desiredSize": 1, "minSize": 1, "maxSize": 1}


# CloudWatch Logs takes only these retention periods (PutRetentionPolicy; 0, never expire, is left out on purpose).
CLOUDWATCH_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557]
CLOUDWATCH_RETENTION_DAYS += [2922, 3288, 3653]


@pytest.mark.parametrize("days", [0, 2, 4, 29, 31, 366, 3654])
def test_log_retention_that_cloudwatch_does_not_take_is_refused(days: int) -> None:
    problems = problems_for({"infra:cluster.logRetentionDays": days})
    assert any(p.startswith(f"infra:cluster.logRetentionDays: {days} — allowed: one of [1, 3, 5, 7,") for p in problems)


@pytest.mark.parametrize("days", [3288, 3653])
def test_log_retention_of_nine_or_ten_years_runs(days: int) -> None:
    assert days in CLOUDWATCH_RETENTION_DAYS
    assert cluster_log_retention(shared_run(with_changes({"infra:cluster.logRetentionDays": days}))) == days
