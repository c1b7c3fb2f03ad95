"""`cluster.viewArns`: read-only access entries the stack manages (CI's preview role), so a replaced cluster gets
them back; refused where EKS would refuse them or where they would collide with an admin entry."""

from __future__ import annotations

import pytest
from harness import ACCOUNT, Run, run_program, shared_run, with_changes

from infra.config import ConfigError
from tools import reviewed_graph

CI = f"arn:aws:iam::{ACCOUNT}:role/ci-preview"
AUDITOR = f"arn:aws:iam::{ACCOUNT}:user/auditor"
ADMIN = f"arn:aws:iam::{ACCOUNT}:role/platform-admins"
# EKS's access policies (ListAccessPolicies): read-only, and cluster admin.
VIEW_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"


def test_each_viewer_gets_a_standard_entry_with_the_view_policy_at_cluster_scope() -> None:
    run = shared_run(with_changes({"infra:cluster.viewArns": [CI, AUDITOR], "infra:cluster.adminArns": [ADMIN]}))
    entries = run.of_type("aws:eks/accessEntry:AccessEntry")
    assert sorted((e.inputs["principalArn"], e.inputs["type"]) for e in entries) == [
        (CI, "STANDARD"),
        (ADMIN, "STANDARD"),
        (AUDITOR, "STANDARD"),
    ]
    associations = run.of_type("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
    assert sorted((a.inputs["principalArn"], a.inputs["policyArn"], a.plain("accessScope")) for a in associations) == [
        (CI, VIEW_POLICY, {"type": "cluster"}),
        (ADMIN, ADMIN_POLICY, {"type": "cluster"}),
        (AUDITOR, VIEW_POLICY, {"type": "cluster"}),
    ]
    # EKS keeps one entry per principal: a replaced entry must go before its successor is made.
    assert all(e.delete_before_replace for e in entries)


def test_the_kubernetes_provider_does_not_wait_for_viewers() -> None:
    run = shared_run(with_changes({"infra:cluster.viewArns": [CI]}))
    provider = run.one("pulumi:providers:kubernetes")
    viewer = next(e for e in run.of_type("aws:eks/accessEntry:AccessEntry") if e.inputs["principalArn"] == CI)
    assert not run.depends_on(provider, viewer)


@pytest.mark.parametrize(
    ("viewers", "problem"),
    [
        (
            [f"arn:aws:sts::{ACCOUNT}:assumed-role/ci-preview/run-42"],
            f"infra:cluster.viewArns[0]: 'arn:aws:sts::{ACCOUNT}:assumed-role/ci-preview/run-42' — allowed: an IAM"
            f" role or user ARN",
        ),
        (
            [CI, CI],
            f"infra:cluster.viewArns: ['{CI}', '{CI}'] — allowed: each ARN once (EKS keeps one entry per ARN)",
        ),
        (
            [ADMIN],
            f"infra:cluster.viewArns[0]: '{ADMIN}' — allowed: an ARN not in adminArns (EKS keeps one entry per ARN,"
            " and an admin can already read)",
        ),
    ],
)
def test_a_viewer_eks_would_refuse_is_a_config_error(viewers: list[str], problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        run_program(with_changes({"infra:cluster.viewArns": viewers, "infra:cluster.adminArns": [ADMIN]}))
    assert any(p.startswith(problem) for p in info.value.problems), info.value.problems


def _entry_urns(run: Run, arn: str) -> tuple[str, list[str]]:
    """The engine URN of `arn`'s access entry, and the old URNs its aliases match."""
    real = reviewed_graph.engine_urns(run.resources)
    [entry] = [e for e in run.of_type("aws:eks/accessEntry:AccessEntry") if e.inputs["principalArn"] == arn]
    return real[entry.urn], reviewed_graph.alias_urns(run.resources, real)[entry.urn]


def test_moving_an_arn_between_admins_and_viewers_keeps_its_one_entry() -> None:
    """EKS keeps one entry per principal: a move that made a new entry before deleting the old one would be refused
    (ResourceInUseException) on every run. The entry keeps its URN; only the policy association changes."""
    as_admin = shared_run(with_changes({"infra:cluster.adminArns": [CI]}))
    as_viewer = shared_run(with_changes({"infra:cluster.viewArns": [CI]}))
    assert _entry_urns(as_admin, CI)[0] == _entry_urns(as_viewer, CI)[0]
    [admin_association] = as_admin.of_type("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
    [viewer_association] = as_viewer.of_type("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
    policies = (admin_association.inputs["policyArn"], viewer_association.inputs["policyArn"])
    assert policies == (ADMIN_POLICY, VIEW_POLICY)


def test_an_admin_entry_of_an_earlier_version_is_kept_not_recreated() -> None:
    # Earlier versions named an admin's entry `cluster-admin-<role/name with - for />`, and before that by position.
    run = shared_run(with_changes({"infra:cluster.adminArns": [ADMIN]}))
    _, old = _entry_urns(run, ADMIN)
    parent = "urn:pulumi:foo::infra::infra:index:Cluster$aws:eks/accessEntry:AccessEntry::"
    assert f"{parent}cluster-admin-role-platform-admins" in old
    assert f"{parent}cluster-admin-0" in old


def test_principals_whose_readable_names_collide_get_distinct_entries() -> None:
    a, b = f"arn:aws:iam::{ACCOUNT}:role/team/ci", f"arn:aws:iam::{ACCOUNT}:role/team-ci"
    run = shared_run(with_changes({"infra:cluster.viewArns": [a, b]}))
    names = [e.name for e in run.of_type("aws:eks/accessEntry:AccessEntry")]
    assert len(set(names)) == 2, names
