"""Stateful resources keep their URNs: a new URN is a delete + create, i.e. a new VPC, cluster or (empty) database.

Every stateful resource in the reviewed snapshot must still exist in the current program under the same URN. A
rename needs `aliases=[pulumi.Alias(...)]`; the tests below also prove the detector catches renames and removals.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `venv/bin/pytest` does not put the repo (tools/, infra/) on sys.path
    sys.path.insert(0, str(ROOT))

import pulumi  # noqa: E402
import pulumi_aws as aws  # noqa: E402
from harness import InfraMocks, RecordingMonitor, Run, stack_config  # noqa: E402
from pulumi.runtime import settings  # noqa: E402

from tools import reviewed_graph  # noqa: E402

STACKS = reviewed_graph.snapshotted_stacks()


@pytest.mark.parametrize("stack", STACKS)
def test_stateful_resources_keep_their_urns(stack: str) -> None:
    committed = reviewed_graph.load(stack)
    assert committed is not None
    problems = reviewed_graph.replaced_stateful(committed, reviewed_graph.graph(stack))
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


def test_foo_snapshot_guards_every_stateful_type() -> None:
    """The guard is not vacuous: foo's snapshot holds each stateful type (foo looks its zone up, creates none)."""
    committed = reviewed_graph.load("foo")
    assert committed is not None, "no tests/snapshots/foo.json: `make reviewed-graph STACK=foo`"
    present = {r["type"] for r in committed["resources"]}
    assert set(reviewed_graph.STATEFUL_TYPES) - present == {"aws:route53/zone:Zone"}


def _renamed(snap: dict[str, Any], urn: str, new_name: str) -> dict[str, Any]:
    """The snapshot as if the program had declared the resource `urn` under `new_name`."""
    snap = copy.deepcopy(snap)
    for r in snap["resources"]:
        if r["urn"] == urn:
            r["name"] = new_name
            r["urn"] = f"{urn.rsplit('::', 1)[0]}::{new_name}"
    return snap


def _stateful_urns() -> list[str]:
    committed = reviewed_graph.load("foo") or {"resources": []}  # missing: test_foo_snapshot_guards_… says so
    return [r["urn"] for r in committed["resources"] if r["type"] in reviewed_graph.STATEFUL_TYPES]


@pytest.mark.parametrize("urn", _stateful_urns())
def test_detector_names_a_renamed_stateful_resource(urn: str) -> None:
    current = reviewed_graph.graph("foo")
    old = next(r for r in current["resources"] if r["urn"] == urn)
    renamed = _renamed(current, urn, f"{old['name']}-renamed")
    [message] = reviewed_graph.replaced_stateful(current, renamed)
    assert message.startswith(f"{old['type']} {urn} would be REPLACED (new URN {urn}-renamed)")
    assert "a rename destroys it" in message
    assert f'aliases=[pulumi.Alias(name="{old["name"]}")]' in message
    assert "make reviewed-graph STACK=foo" in message


def test_detector_suggests_the_old_urn_when_the_parent_changes() -> None:
    current = reviewed_graph.graph("foo")
    moved = copy.deepcopy(current)
    vpc = next(r for r in moved["resources"] if r["type"] == "aws:ec2/vpc:Vpc")
    old_urn = vpc["urn"]
    vpc["parent"] = "urn:pulumi:foo::infra::pulumi:pulumi:Stack::infra-foo"
    vpc["urn"] = "urn:pulumi:foo::infra::aws:ec2/vpc:Vpc::network-vpc"
    [message] = reviewed_graph.replaced_stateful(current, moved)
    assert f"{old_urn} would be REPLACED (new URN {vpc['urn']})" in message
    assert f'aliases=["{old_urn}"]' in message


def test_detector_reports_a_removed_stateful_resource() -> None:
    current = reviewed_graph.graph("foo")
    without_key = copy.deepcopy(current)
    without_key["resources"] = [r for r in current["resources"] if r["type"] != "aws:kms/key:Key"]
    [message] = reviewed_graph.replaced_stateful(current, without_key)
    assert message.startswith("aws:kms/key:Key urn:pulumi:foo::infra::infra:index:Cluster$aws:kms/key:Key::")
    assert "would be DELETED" in message


def test_detector_ignores_stateless_renames() -> None:
    current = reviewed_graph.graph("foo")
    rule = next(r for r in current["resources"] if r["type"].endswith("SecurityGroupIngressRule"))
    assert reviewed_graph.replaced_stateful(current, _renamed(current, rule["urn"], "renamed")) == []


def test_switching_dns_from_a_created_zone_to_a_looked_up_one_deletes_the_zone() -> None:
    """A stack that created its zone (createZone + newZone) and is switched to `zone:` loses the zone."""
    config = stack_config("foo")
    config["infra:dns"] = {"createZone": True, "newZone": "foo.example.com", "name": "app"}
    created = reviewed_graph.capture("foo", config)
    zones = [r for r in created["resources"] if r["type"] == "aws:route53/zone:Zone"]
    assert len(zones) == 1
    [message] = reviewed_graph.replaced_stateful(created, reviewed_graph.graph("foo"))
    assert message.startswith(f"aws:route53/zone:Zone {zones[0]['urn']} would be DELETED")


def test_detector_accepts_a_rename_that_carries_an_alias() -> None:
    current = reviewed_graph.graph("foo")
    db = next(r for r in current["resources"] if r["type"] == "aws:rds/instance:Instance")
    renamed = _renamed(current, db["urn"], "database-pg")
    for r in renamed["resources"]:
        if r["name"] == "database-pg":
            r["aliases"] = [db["urn"]]
    assert reviewed_graph.replaced_stateful(current, renamed) == []


def test_declared_aliases_resolve_to_the_engines_old_urns() -> None:
    """Aliases as the SDK sends them (alias specs) become the URNs the engine would match, inherited ones included."""
    monitor = RecordingMonitor(InfraMocks())
    settings.set_root_resource(None)  # type: ignore[arg-type]  # a fresh Stack, as harness.run_program does
    pulumi.runtime.set_mocks(monitor.mocks, project="infra", stack="foo", preview=False, monitor=monitor)

    @pulumi.runtime.test
    def program() -> None:
        database = pulumi.ComponentResource("infra:index:Database", "database")
        aws.rds.SubnetGroup(
            "database-subnets-v2",
            subnet_ids=["a"],
            opts=pulumi.ResourceOptions(parent=database, aliases=[pulumi.Alias(name="database-subnets")]),
        )
        aws.kms.Key(
            "cluster-secrets", opts=pulumi.ResourceOptions(parent=database, aliases=[pulumi.Alias(parent=None)])
        )
        aws.ec2.Vpc("network-vpc", opts=pulumi.ResourceOptions(aliases=[pulumi.Alias(parent=database)]))
        aws.route53.Zone("dns-zone", opts=pulumi.ResourceOptions(aliases=["urn:pulumi:foo::infra::old:Zone::z"]))
        network = pulumi.ComponentResource(
            "infra:network:Network",
            "network",
            opts=pulumi.ResourceOptions(aliases=[pulumi.Alias(type_="infra:index:Network")]),
        )
        aws.ec2.Subnet(
            "network-public-0", vpc_id="v", cidr_block="10.0.0.0/24", opts=pulumi.ResourceOptions(parent=network)
        )

    program()
    snap = reviewed_graph.snapshot_of(Run(resources=monitor.registrations), "foo")
    aliases = {r["urn"].removeprefix("urn:pulumi:foo::infra::"): r["aliases"] for r in snap["resources"]}
    old = "urn:pulumi:foo::infra::"
    assert aliases == {
        "infra:index:Database::database": [],
        "infra:index:Database$aws:rds/subnetGroup:SubnetGroup::database-subnets-v2": [
            old + "infra:index:Database$aws:rds/subnetGroup:SubnetGroup::database-subnets"
        ],
        "infra:index:Database$aws:kms/key:Key::cluster-secrets": [old + "aws:kms/key:Key::cluster-secrets"],
        "aws:ec2/vpc:Vpc::network-vpc": [old + "infra:index:Database$aws:ec2/vpc:Vpc::network-vpc"],
        "aws:route53/zone:Zone::dns-zone": [old + "old:Zone::z"],
        "infra:network:Network::network": [old + "infra:index:Network::network"],
        "infra:network:Network$aws:ec2/subnet:Subnet::network-public-0": [
            old + "infra:index:Network$aws:ec2/subnet:Subnet::network-public-0"
        ],
    }
