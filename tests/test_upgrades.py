"""Upgrade lifecycles under mocks: the program over a sequence of configs against an account whose cluster and
database already run, asserting on each step's diff (what changes in place, what is refused)."""

from __future__ import annotations

from typing import Any

import pytest
from harness import ACCOUNT, Run, World, _days, eks_versions, run_program, shared_run, with_changes

from infra.config import ConfigError

CREATOR = {"infra/cluster-creator": f"arn:aws:iam::{ACCOUNT}:role/deployer"}
ADDONS = ["vpc-cni", "kube-proxy", "coredns", "eks-pod-identity-agent"]


def running(cluster: str = "1.35", db: str = "16.4", **more: Any) -> World:
    return World(clusters={"infra-foo": {"version": cluster, "tags": CREATOR}}, db_instances={"infra-foo": db}, **more)


def diff(before: Run, after: Run) -> dict[str, set[str]]:
    """`type name` -> input keys whose values differ, for resources both runs declare (same URN)."""
    old, new = before.by_urn(), after.by_urn()
    assert set(old) == set(new), f"added {set(new) - set(old)}, removed {set(old) - set(new)}"
    out = {}
    for urn, reg in new.items():
        keys = {k for k in {*reg.inputs, *old[urn].inputs} if reg.plain(k) != old[urn].plain(k)}
        if keys:
            out[f"{reg.type} {reg.name}"] = keys
    return out


def addon(run: Run, name: str) -> Any:
    (found,) = [a for a in run.of_type("aws:eks/addon:Addon") if a.inputs["addonName"] == name]
    return found


def test_minor_upgrade_moves_control_plane_nodes_and_addons_in_place() -> None:
    world = running("1.35")
    before = shared_run(with_changes({"infra:cluster.version": "1.35"}), world=world)
    after = shared_run(with_changes({"infra:cluster.version": "1.36"}), world=world)
    assert diff(before, after) == {
        "aws:eks/cluster:Cluster cluster-eks": {"version"},
        "aws:eks/nodeGroup:NodeGroup cluster-nodes": {"version"},
        "aws:eks/addon:Addon cluster-vpc-cni": {"addonVersion"},
        "aws:eks/addon:Addon cluster-kube-proxy": {"addonVersion"},
        "aws:eks/addon:Addon cluster-coredns": {"addonVersion"},
        "aws:eks/addon:Addon cluster-eks-pod-identity-agent": {"addonVersion"},
    }
    assert after.one("aws:eks/nodeGroup:NodeGroup").inputs["version"] == "1.36"
    assert addon(after, "kube-proxy").inputs["addonVersion"] == "v1.36.3-eksbuild.2"
    assert after.outputs["clusterVersion"] == "1.36"


def test_addons_are_ordered_around_the_nodes(foo: Run) -> None:
    run = foo
    nodes, cluster = run.one("aws:eks/nodeGroup:NodeGroup"), run.one("aws:eks/cluster:Cluster")
    for name in ADDONS:
        reg = addon(run, name)
        assert reg.inputs["resolveConflictsOnCreate"] == "OVERWRITE", "adopts what EKS installed at creation"
        assert run.depends_on(reg, cluster)
    for name in ("vpc-cni", "kube-proxy"):
        assert addon(run, name).urn in nodes.dependencies, f"{name} before the nodes"
        assert not run.depends_on(addon(run, name), nodes)
    for name in ("coredns", "eks-pod-identity-agent"):
        assert nodes.urn in addon(run, name).dependencies, f"{name} needs nodes to become ACTIVE"
    assert run.depends_on(run.one("kubernetes:core/v1:ReplicationController"), addon(run, "coredns"))


def test_pinned_addon_holds_and_a_pin_eks_does_not_list_is_refused() -> None:
    run = shared_run(with_changes({"infra:cluster.addons.kubeProxy": "v1.35.1-eksbuild.1"}))
    assert addon(run, "kube-proxy").inputs["addonVersion"] == "v1.35.1-eksbuild.1"
    assert addon(run, "coredns").inputs["addonVersion"] == "v1.12.35-eksbuild.1"
    with pytest.raises(ConfigError) as err:
        shared_run(with_changes({"infra:cluster.addons.coredns": "v9.0.0-eksbuild.1"}))
    assert "infra:cluster.addons.coredns: v9.0.0-eksbuild.1 — newer than any version EKS lists" in str(err.value)
    with pytest.raises(ConfigError, match=r"infra:cluster\.addons\.vpcCni: 'latest' — allowed"):
        shared_run(with_changes({"infra:cluster.addons.vpcCni": "latest"}))


@pytest.fixture
def future_versions() -> list[dict[str, Any]]:
    rows = eks_versions()
    for minor, days in ((37, 360), (38, 480)):
        rows.append(
            {
                "clusterVersion": f"1.{minor}",
                "versionStatus": "STANDARD_SUPPORT",
                "endOfStandardSupportDate": _days(days),
            }
        )
    return rows


def test_more_than_one_minor_is_refused(future_versions: list[dict[str, Any]]) -> None:
    with pytest.raises(ConfigError) as err:
        run_program(with_changes({"infra:cluster.version": "1.38"}), world=running("1.36", versions=future_versions))
    assert "infra:cluster.version: 1.38 — the cluster runs 1.36; upgrade one minor at a time: 1.37 first" in str(
        err.value
    )
    assert err.value.run.resources == []  # type: ignore[attr-defined]


def test_downgrade_is_refused_and_a_first_deploy_has_no_step_limit(future_versions: list[dict[str, Any]]) -> None:
    with pytest.raises(ConfigError, match=r"1\.35 — the cluster runs 1\.36; EKS never downgrades"):
        run_program(with_changes({"infra:cluster.version": "1.35"}), world=running("1.36"))
    fresh = run_program(with_changes({"infra:cluster.version": "1.38"}), world=World(versions=future_versions))
    assert fresh.one("aws:eks/cluster:Cluster").inputs["version"] == "1.38"


def test_postgres_major_upgrade_in_place_with_a_new_family_parameter_group() -> None:
    world = running(db="16.4")
    before = shared_run(with_changes({"infra:database.engineVersion": "16"}), world=world)
    after = shared_run(with_changes({"infra:database.engineVersion": "17"}), world=world)
    changes = diff(before, after)
    assert changes["aws:rds/instance:Instance database-postgres"] == {"engineVersion", "applyImmediately"}
    assert changes["aws:rds/parameterGroup:ParameterGroup database-params"] == {"family"}
    assert set(changes) == {
        "aws:rds/instance:Instance database-postgres",
        "aws:rds/parameterGroup:ParameterGroup database-params",
    }
    inst, params = after.one("aws:rds/instance:Instance"), after.one("aws:rds/parameterGroup:ParameterGroup")
    assert inst.inputs["identifier"] == "infra-foo" and inst.inputs["allowMajorVersionUpgrade"] is True
    assert (
        inst.inputs["applyImmediately"] is True
        and before.one("aws:rds/instance:Instance").inputs["applyImmediately"] is False
    )
    assert params.inputs["family"] == "postgres17"
    # The family forces a new parameter group: it must be created first (auto-named, create-before-delete) and the
    # instance must move to it, so the old one is deleted only after.
    assert "name" not in params.inputs and params.delete_before_replace is False
    assert params.urn in inst.dependencies


def test_postgres_downgrade_and_unsupported_jump_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"engineVersion: 16 — the database runs 17\.2; RDS never downgrades"):
        run_program(with_changes({"infra:database.engineVersion": "16"}), world=running(db="17.2"))
    world = running(db="15.8", pg_major_targets={"15.8": ["16.4"]})
    with pytest.raises(
        ConfigError, match=r"engineVersion: 17 — the database runs 15\.8; RDS upgrades it in one step only to major 16"
    ):
        run_program(with_changes({"infra:database.engineVersion": "17"}), world=world)


def test_apply_immediately_is_config_for_other_changes() -> None:
    world = running(db="16.4")
    run = run_program(with_changes({"infra:database.applyImmediately": True}), world=world)
    assert run.one("aws:rds/instance:Instance").inputs["applyImmediately"] is True


def test_node_count_change_touches_only_the_node_group() -> None:
    world = running()
    before = shared_run(with_changes({}), world=world)
    after = shared_run(with_changes({"infra:cluster.nodes.desired": 3}), world=world)
    assert diff(before, after) == {"aws:eks/nodeGroup:NodeGroup cluster-nodes": {"scalingConfig"}}


def test_a_bare_major_whose_default_minor_is_no_upgrade_target_is_refused() -> None:
    """RDS takes "17" as 17's default minor; from a newer 16 minor that may not be a valid target."""
    world = running(db="16.9", pg_major_targets={"16.9": ["17.4", "17.5"]}, pg_default_minor={"17": "17.2"})
    with pytest.raises(ConfigError) as err:
        run_program(with_changes({"infra:database.engineVersion": "17"}), world=world)
    assert "RDS would move 16.9 to 17.2, which is not an upgrade target of 16.9; allowed: one of 17.4, 17.5" in str(
        err.value
    )
    ok = run_program(with_changes({"infra:database.engineVersion": "17.4"}), world=world)
    assert ok.one("aws:rds/instance:Instance").inputs["engineVersion"] == "17.4"
