"""Behaviours that only the reviewed snapshot (or nothing) guarded: each asserted directly with the literal the spec
calls for (AWS's API model, the issue, the README), so accepting a snapshot diff without reading it cannot hide a
regression (issue 20, part 4).

Settings no committed stack exercises get a run of their own here: a narrowed `cluster.publicAccessCidrs`, the
database's own `logRetentionDays` next to the cluster's, `database.supportType: EXTENDED`, and a pin for every
managed add-on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.model import ServiceModel
from harness import ACCOUNT, Run, World, run_program, shared_run, with_changes
from test_upgrades import addon, running

from infra.account.eks import addon_problem
from infra.config import ConfigError
from tools import plan, reviewed_graph

RC = "kubernetes:core/v1:ReplicationController"
IMAGE = "docker:index/image:Image"
ADDON = "aws:eks/addon:Addon"


def aws_model(service: str) -> ServiceModel:
    """AWS's own API model of a service, as botocore ships it."""
    return botocore.session.get_session().get_service_model(service)


# ---------------------------------------------------------------- cluster access


def test_every_admin_arn_gets_the_cluster_admin_policy_at_cluster_scope() -> None:
    arns = [f"arn:aws:iam::{ACCOUNT}:role/platform-admins", f"arn:aws:iam::{ACCOUNT}:user/alice"]
    run = shared_run(with_changes({"infra:cluster.adminArns": arns}))
    associations = run.of_type("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
    assert sorted((a.inputs["principalArn"], a.inputs["policyArn"], a.plain("accessScope")) for a in associations) == [
        (arns[0], "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy", {"type": "cluster"}),
        (arns[1], "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy", {"type": "cluster"}),
    ]
    assert "cluster" in aws_model("eks").shape_for("AccessScopeType").enum


def test_a_narrowed_public_endpoint_reaches_the_cluster() -> None:
    """Both committed stacks leave the endpoint open: only this run shows an office/VPN list gets to EKS."""
    cidrs = ["203.0.113.0/24", "198.51.100.7/32"]
    run = shared_run(with_changes({"infra:cluster.publicAccessCidrs": cidrs}))
    vpc = run.one("aws:eks/cluster:Cluster").plain("vpcConfig")
    assert vpc["publicAccessCidrs"] == ["203.0.113.0/24", "198.51.100.7/32"]
    assert (vpc["endpointPublicAccess"], vpc["endpointPrivateAccess"]) == (True, True)


# ---------------------------------------------------------------- managed add-ons


def test_addon_pins_compare_numerically_component_by_component() -> None:
    assert addon_problem("vpc_cni", "v1.9.3-eksbuild.1", "v1.19.2-eksbuild.1", "1.35") is None
    assert addon_problem("coredns", "v1.11.4-eksbuild.9", "v1.11.4-eksbuild.10", "1.35") is None
    assert addon_problem("coredns", "v1.11.4-eksbuild.10", "v1.11.4-eksbuild.10", "1.35") is None
    assert addon_problem("vpc_cni", "v1.10.0-eksbuild.1", "v1.9.3-eksbuild.1", "1.35") == (
        "infra:cluster.addons.vpcCni: v1.10.0-eksbuild.1 — newer than any version EKS lists for Kubernetes 1.35 (most"
        " recent: v1.9.3-eksbuild.1); allowed: v1.9.3-eksbuild.1 or older, or unset to follow the cluster"
    )
    assert addon_problem("kube_proxy", "v1.35.3-eksbuild.10", "v1.35.3-eksbuild.2", "1.35") is not None


def test_every_addon_pin_holds_through_the_program_and_a_multi_digit_newer_pin_is_refused() -> None:
    # EKS's most recent for 1.35 in the harness: vpc-cni v1.20.35, kube-proxy v1.35.3, coredns v1.12.35,
    # eks-pod-identity-agent v1.3.35. Each pin is older by number, and "newer" compared as text.
    pins = {
        "vpcCni": ("vpc-cni", "v1.9.0-eksbuild.1"),
        "kubeProxy": ("kube-proxy", "v1.35.3-eksbuild.1"),
        "coredns": ("coredns", "v1.9.4-eksbuild.1"),
        "eksPodIdentityAgent": ("eks-pod-identity-agent", "v1.3.9-eksbuild.1"),
    }
    run = shared_run(with_changes({f"infra:cluster.addons.{key}": pin for key, (_, pin) in pins.items()}))
    assert {name: addon(run, name).inputs["addonVersion"] for name, _ in pins.values()} == dict(pins.values())
    with pytest.raises(ConfigError) as err:
        shared_run(with_changes({"infra:cluster.addons.vpcCni": "v1.100.0-eksbuild.1"}))
    assert "infra:cluster.addons.vpcCni: v1.100.0-eksbuild.1 — newer than any version EKS lists" in str(err.value)


def test_addons_overwrite_conflicts_on_update_as_on_create() -> None:
    """A version bump goes through UpdateAddon: with NONE (the API's default) it fails on any field EKS manages
    that was changed; OVERWRITE puts EKS's value back (botocore eks model, UpdateAddonRequest.resolveConflicts)."""
    assert aws_model("eks").shape_for("ResolveConflicts").enum == ["OVERWRITE", "NONE", "PRESERVE"]
    # The cluster runs 1.35: moving to 1.36 moves every add-on to EKS's most recent for 1.36 (an UpdateAddon each).
    bumped = shared_run(with_changes({"infra:cluster.version": "1.36"}), world=running("1.35"))
    assert {a.inputs["addonName"]: a.inputs["addonVersion"] for a in bumped.of_type(ADDON)} == {
        "coredns": "v1.12.36-eksbuild.1",
        "eks-pod-identity-agent": "v1.3.36-eksbuild.1",
        "kube-proxy": "v1.36.3-eksbuild.2",
        "vpc-cni": "v1.20.36-eksbuild.1",
    }
    for reg in bumped.of_type(ADDON):
        assert (reg.inputs["resolveConflictsOnUpdate"], reg.inputs["resolveConflictsOnCreate"]) == (
            "OVERWRITE",
            "OVERWRITE",
        ), reg.name


# ---------------------------------------------------------------- database


def parameter_family(run: Run) -> Any:
    return run.one("aws:rds/parameterGroup:ParameterGroup").inputs["family"]


def test_a_major_minor_engine_version_gets_its_majors_parameter_family() -> None:
    pinned = shared_run(with_changes({"infra:database.engineVersion": "16.4"}))
    assert pinned.one("aws:rds/instance:Instance").inputs["engineVersion"] == "16.4"
    assert parameter_family(pinned) == "postgres16"
    world = running(db="16.4")
    upgraded = run_program(with_changes({"infra:database.engineVersion": "17.2"}), world=world)
    assert upgraded.one("aws:rds/instance:Instance").inputs["engineVersion"] == "17.2"
    assert parameter_family(upgraded) == "postgres17"


def test_database_extended_support_is_opt_in() -> None:
    """RDS enrols an instance in paid Extended Support unless told otherwise (botocore rds model,
    CreateDBInstanceMessage.EngineLifecycleSupport; valid values quoted from it)."""
    create = aws_model("rds").shape_for("CreateDBInstanceMessage")
    doc = create.members["EngineLifecycleSupport"].documentation
    assert "<code>open-source-rds-extended-support | open-source-rds-extended-support-disabled</code>" in doc
    default = shared_run(with_changes({"infra:database.supportType": None}))
    extended = shared_run(with_changes({"infra:database.supportType": "EXTENDED"}))
    assert default.one("aws:rds/instance:Instance").inputs["engineLifecycleSupport"] == (
        "open-source-rds-extended-support-disabled"
    )
    assert extended.one("aws:rds/instance:Instance").inputs["engineLifecycleSupport"] == (
        "open-source-rds-extended-support"
    )


def test_cluster_and_database_log_retention_are_separate_settings() -> None:
    """Both committed stacks keep the two equal (30 and 365 days), so a swap would show nowhere else."""
    run = shared_run(with_changes({"infra:cluster.logRetentionDays": 90, "infra:database.logRetentionDays": 14}))
    retention = {g.inputs["name"]: g.inputs["retentionInDays"] for g in run.of_type("aws:cloudwatch/logGroup:LogGroup")}
    assert retention == {
        "/aws/eks/infra-foo/cluster": 90,
        "/aws/rds/instance/infra-foo/postgresql": 14,
        "/aws/rds/instance/infra-foo/upgrade": 14,
    }


# ---------------------------------------------------------------- the app's pods


def test_readiness_takes_a_draining_pod_out_within_its_prestop_pause(foo: Run) -> None:
    """README (Node rolls and the ELB): a pod keeps serving through its 20 s preStop pause, then the app has 15 s
    for in-flight requests. Once /healthz fails, readiness takes the pod out within period x failure threshold:
    "within a few seconds" (issue 20; 5 at most), and SIGKILL comes only after pause + shutdown."""
    prestop_seconds, shutdown_seconds, few_seconds = 20, 15, 5
    spec = foo.one(RC).plain("spec")["template"]["spec"]
    [container] = spec["containers"]
    readiness = container["readinessProbe"]
    unready_after = readiness["periodSeconds"] * readiness["failureThreshold"]
    assert unready_after <= few_seconds
    assert unready_after <= prestop_seconds == container["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert {"name": "SHUTDOWN_TIMEOUT", "value": str(shutdown_seconds)} in container["env"]
    assert prestop_seconds + shutdown_seconds < spec["terminationGracePeriodSeconds"]


def image_tag(run: Run) -> str:
    return str(run.one(IMAGE).inputs["imageName"]).rsplit(":", 1)[1]


def pod_image(run: Run) -> str:
    return str(run.one(RC).plain("spec")["template"]["spec"]["containers"][0]["image"])


def test_a_pod_template_change_under_an_unchanged_version_needs_a_version_bump(foo: Run) -> None:
    """An RC patched in place never replaces its pods: `dns.tls` (which turns the HTTPS redirect on) changes only
    the template, so it must change the image tag, and a registry holding the other tag refuses the deploy."""
    assert "tls" not in with_changes({})["infra:dns"], "foo takes the default, tls: true"
    https, plain_http = foo, shared_run(with_changes({"infra:dns.tls": False}))
    assert plain_http.one(RC).plain("metadata")["name"] == https.one(RC).plain("metadata")["name"] == "helloworld-1.0.0"
    assert image_tag(plain_http).startswith("1.0.0_") and image_tag(https).startswith("1.0.0_")
    assert image_tag(plain_http) != image_tag(https)
    assert pod_image(plain_http) != pod_image(https)

    world = World(ecr_tags={"infra-foo/helloworld": [image_tag(plain_http)]})
    with pytest.raises(ConfigError) as err:
        run_program(with_changes({"infra:dns.tls": True}), world=world)
    assert "infra:helloworld.version: 1.0.0 — already built from other sources" in str(err.value)
    assert "bump infra:helloworld.version" in str(err.value)


# ---------------------------------------------------------------- the plan tool


def test_plan_warns_of_a_replacement_hidden_behind_an_alias(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """One change renames the database with an alias (kept) and changes dbName (which RDS cannot change in place):
    the engine replaces it all the same, and `make plan` must say so."""
    database = "urn:pulumi:foo::infra::infra:index:Database$aws:rds/instance:Instance::"
    committed = reviewed_graph.graph("foo")
    [old] = [r for r in committed["resources"] if r["urn"] == f"{database}database-postgres"]
    old.update(urn=f"{database}database-db", name="database-db")
    old["inputs"]["dbName"] = "orders"
    current = reviewed_graph.graph("foo")
    [new] = [r for r in current["resources"] if r["urn"] == f"{database}database-postgres"]
    new["aliases"] = [f"{database}database-db"]

    snapshots = tmp_path / "tests" / "snapshots"
    snapshots.mkdir(parents=True)
    (snapshots / "foo.json").write_text(reviewed_graph.dumps(committed))
    monkeypatch.setattr(reviewed_graph, "ROOT", tmp_path)
    monkeypatch.setattr(reviewed_graph, "SNAPSHOTS", snapshots)
    monkeypatch.setattr(reviewed_graph, "graph_text", lambda stack: reviewed_graph.dumps(current))
    assert plan.main(["foo"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "  > aws:rds/instance:Instance database-db → database-postgres (alias: kept, not replaced)" in lines
    assert [line for line in lines if line.startswith("  !! ")] == [
        f"  !! aws:rds/instance:Instance {database}database-postgres would be REPLACED: dbName 'orders' → 'app'"
        " cannot change in place. If that is intended, review, then `make reviewed-graph STACK=foo`."
    ]
