"""upgrade-check: each row's PASS, WARN and FAIL causes, end to end through run_upgrade_check.

EKS answers come from botocore's Stubber (moto has no insights or cluster versions): it checks every request
and every canned response against AWS's own service model, and the order of the calls. The node group's Auto
Scaling group lives in moto. PodDisruptionBudgets come through the reader Protocol; the real PolicyV1Api
reader is tested against a local HTTP server.
"""

import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from botocore.stub import Stubber
from fakes import kubeconfig, send_json, serving
from kubernetes import client as k8s
from moto_env import MOTO_AMI, REGION, moto_account, unique, vpc_with_subnet

from infra.ops import cli, live, report
from infra.ops.clients import aws, stack
from infra.ops.clients.aws import CredentialsError
from infra.ops.clients.kube import api_client
from infra.ops.errors import OpsError
from infra.ops.report import CheckResult
from infra.ops.upgrade_check import check
from infra.ops.upgrade_check.budgets import Budget, KubeBudgets
from infra.ops.upgrade_check.check import UpgradeCheckDeps, run_upgrade_check

__all__ = ["moto_account"]  # a fixture: pytest finds it here by name

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
CLUSTER, NODEGROUP = "foo-eks", "foo-ng"
OUT = {"clusterName": CLUSTER, "nodeGroupName": NODEGROUP, "region": REGION}


def cluster_version(version: str, status: str, standard_end: datetime) -> dict[str, Any]:
    return {
        "clusterVersion": version,
        "clusterType": "eks",
        "versionStatus": status,
        "releaseDate": standard_end - timedelta(days=425),  # 14 months of standard support
        "endOfStandardSupportDate": standard_end,
        "endOfExtendedSupportDate": standard_end + timedelta(days=365),
    }


def offered(version: str, target: str, default: bool) -> dict[str, Any]:
    return {"addonVersion": version, "compatibilities": [{"clusterVersion": target, "defaultVersion": default}]}


def insight(ident: str, name: str, status: str, **more: Any) -> dict[str, Any]:
    return {
        "id": ident,
        "name": name,
        "category": "UPGRADE_READINESS",
        "kubernetesVersion": "1.36",
        "description": f"Checks for {name.lower()}.",
        "insightStatus": {"status": status, "reason": f"{name}: {status.lower()}"},
        **more,
    }


def standard_addons() -> dict[str, tuple[str, list[dict[str, Any]]]]:
    return {
        "vpc-cni": (
            "v1.20.4-eksbuild.1",
            [offered("v1.21.1-eksbuild.1", "1.36", False), offered("v1.21.0-eksbuild.1", "1.36", True)],
        ),
        "coredns": ("v1.12.4-eksbuild.1", [offered("v1.13.1-eksbuild.1", "1.36", False)]),
    }


@dataclass
class World:
    """What EKS says about the cluster; the defaults are a cluster ready to go from 1.35 to 1.36."""

    control_plane: str = "1.35"
    version_info: dict[str, Any] | None = field(
        default_factory=lambda: cluster_version("1.36", "STANDARD_SUPPORT", datetime(2028, 3, 1, tzinfo=UTC))
    )
    insights: list[dict[str, Any]] = field(default_factory=lambda: [insight("i-1", "Kubelet version skew", "PASSING")])
    nodegroups: dict[str, str] = field(default_factory=lambda: {NODEGROUP: "1.35"})
    addons: dict[str, tuple[str, list[dict[str, Any]]]] = field(default_factory=standard_addons)
    addons_error: str | None = None
    max_unavailable: int = 1


def nodegroup(name: str, version: str, world: World, asg: str) -> dict[str, Any]:
    return {
        "nodegroupName": name,
        "clusterName": CLUSTER,
        "version": version,
        "instanceTypes": ["t3.medium"],
        "scalingConfig": {"minSize": 1, "maxSize": 4, "desiredSize": 2},
        "updateConfig": {"maxUnavailable": world.max_unavailable},
        "resources": {"autoScalingGroups": [{"name": asg if name == NODEGROUP else f"{asg}-{name}"}]},
    }


def stub_eks(stub: Stubber, world: World, target: str, asg: str) -> None:
    """The calls upgrade-check makes, in order, each with the exact request it must send."""
    cluster = {"clusterName": CLUSTER}
    stub.add_response(
        "describe_cluster", {"cluster": {"name": CLUSTER, "version": world.control_plane}}, {"name": CLUSTER}
    )
    versions = [world.version_info] if world.version_info else []
    stub.add_response(
        "describe_cluster_versions", {"clusterVersions": versions}, {"clusterVersions": [target], "includeAll": True}
    )
    summaries = [
        {k: v for k, v in i.items() if k in ("id", "name", "category", "insightStatus")} for i in world.insights
    ]
    query = {"categories": ["UPGRADE_READINESS"], "kubernetesVersions": [target]}
    stub.add_response("list_insights", {"insights": summaries}, {**cluster, "filter": query})
    for found in world.insights:
        if found["insightStatus"]["status"] != "PASSING":  # only open insights are worth a DescribeInsight
            stub.add_response("describe_insight", {"insight": found}, {**cluster, "id": found["id"]})
    stub.add_response("list_nodegroups", {"nodegroups": list(world.nodegroups)}, cluster)
    for name, version in world.nodegroups.items():
        described = {"nodegroup": nodegroup(name, version, world, asg)}
        stub.add_response("describe_nodegroup", described, {**cluster, "nodegroupName": name})
    if world.addons_error:
        stub.add_client_error("list_addons", world.addons_error, "not allowed", 403, expected_params=cluster)
    else:
        stub.add_response("list_addons", {"addons": list(world.addons)}, cluster)
        for name, (installed, versions) in world.addons.items():
            addon = {"addonName": name, "clusterName": CLUSTER, "addonVersion": installed, "status": "ACTIVE"}
            stub.add_response("describe_addon", {"addon": addon}, {**cluster, "addonName": name})
            listed = {"addons": [{"addonName": name, "type": "networking", "addonVersions": versions}]}
            stub.add_response("describe_addon_versions", listed, {"addonName": name, "kubernetesVersion": target})
    own = {"nodegroup": nodegroup(NODEGROUP, world.nodegroups.get(NODEGROUP, "1.35"), world, asg)}
    stub.add_response("describe_nodegroup", own, {**cluster, "nodegroupName": NODEGROUP})


@dataclass
class Account:
    """EC2 instances and the On-Demand Standard vCPU quota, as EC2 and Service Quotas would answer."""

    quota: float = 64.0
    running: list[dict[str, Any]] = field(default_factory=lambda: [{"InstanceType": "t3.medium"}] * 2)
    vcpus: dict[str, int] = field(default_factory=lambda: {"t3.medium": 2})
    quota_error: str | None = None
    looked_up: list[str] = field(default_factory=lambda: ["t3.medium"])  # types whose vCPUs are asked for


def stub_account(ec2: Stubber, quotas: Stubber, account: Account) -> None:
    where = {"ServiceCode": "ec2", "QuotaCode": "L-1216C47A"}  # Running On-Demand Standard instances
    if account.quota_error:
        quotas.add_client_error("get_service_quota", account.quota_error, "denied", 400, expected_params=where)
        return
    quotas.add_response("get_service_quota", {"Quota": {**where, "Value": account.quota, "Unit": "None"}}, where)
    live = [{"Name": "instance-state-name", "Values": ["pending", "running"]}]
    instances = [{"InstanceId": f"i-{n:017x}", **i} for n, i in enumerate(account.running)]
    ec2.add_response("describe_instances", {"Reservations": [{"Instances": instances}]}, {"Filters": live})
    described = [{"InstanceType": t, "VCpuInfo": {"DefaultVCpus": account.vcpus[t]}} for t in account.looked_up]
    ec2.add_response("describe_instance_types", {"InstanceTypes": described}, {"InstanceTypes": account.looked_up})


@pytest.fixture
def make_asg(moto_account: None) -> Any:
    """A node group ASG in one AZ (so EKS would surge by 2 nodes) with the given max and desired sizes."""
    ec2, autoscaling = aws.client("ec2", REGION), aws.client("autoscaling", REGION)
    _, subnet = vpc_with_subnet(ec2, f"{REGION}a")
    template = unique("lt")
    ec2.create_launch_template(LaunchTemplateName=template, LaunchTemplateData={"ImageId": MOTO_AMI})

    def make(max_size: int = 4, desired: int = 2) -> str:
        name = unique("eks-foo-ng-")
        autoscaling.create_auto_scaling_group(
            AutoScalingGroupName=name,
            LaunchTemplate={"LaunchTemplateName": template},
            MinSize=1,
            MaxSize=max_size,
            DesiredCapacity=desired,
            VPCZoneIdentifier=subnet,
        )
        return name

    return make


@dataclass
class FakeBudgets:
    budgets: Sequence[Budget] = ()

    def disruption_budgets(self) -> list[Budget]:
        return list(self.budgets)


def run(
    asg: str,
    world: World | None = None,
    target: str | None = None,
    budgets: Sequence[Budget] = (),
    account: Account | None = None,
) -> dict[str, CheckResult]:
    """Run the check against stubbed EKS (and EC2/Service Quotas when `account` is given); rows by name."""
    world = world or World()
    eks = aws.client("eks", REGION)
    ec2, quotas = aws.client("ec2", REGION), aws.client("service-quotas", REGION)
    stubs = [Stubber(eks), Stubber(ec2), Stubber(quotas)]
    major, minor = world.control_plane.split(".")
    stub_eks(stubs[0], world, target or f"{major}.{int(minor) + 1}", asg)
    if account:
        stub_account(stubs[1], stubs[2], account)
    for stub in stubs:
        stub.activate()
    deps = UpgradeCheckDeps(
        eks=eks,
        autoscaling=aws.client("autoscaling", REGION),
        budgets=FakeBudgets(budgets),
        ec2=ec2 if account else None,
        quotas=quotas if account else None,
        now=lambda: NOW,
    )
    results = run_upgrade_check(OUT, target, deps)
    for stub in stubs:
        stub.assert_no_pending_responses()  # every expected call was made
    assert len({r.name for r in results}) == len(results)
    # A request the model or the script did not expect raises inside a row: it must not pass as a FAIL row.
    assert not [r.detail for r in results if "Stub" in r.detail or "Unexpected" in r.detail]
    return {r.name: r for r in results}


def statuses(rows: dict[str, CheckResult]) -> dict[str, str]:
    return {name: r.status for name, r in rows.items()}


def failing(rows: dict[str, CheckResult]) -> list[str]:
    return [name for name, r in rows.items() if not r.ok]


# --- all PASS ---------------------------------------------------------------------------------------------------


def test_a_ready_cluster_passes_every_row_for_the_next_minor(make_asg: Any) -> None:
    asg = make_asg()
    healthy = [Budget("helloworld", "helloworld", 1, 2, 2, 1)]
    rows = run(asg, budgets=healthy, account=Account())  # no --to: the next minor after 1.35
    assert statuses(rows) == {
        "target version": "PASS",
        "support 1.36": "PASS",
        "upgrade insights": "PASS",
        f"node group {NODEGROUP}": "PASS",
        "add-on vpc-cni": "PASS",
        "add-on coredns": "PASS",
        "PodDisruptionBudgets": "PASS",
        f"surge: ASG {asg}": "PASS",
        "surge: On-Demand vCPU quota": "PASS",
    }
    assert rows["target version"].detail == "1.35 → 1.36"
    assert rows["support 1.36"].detail == "standard support until 2028-03-01"
    assert rows["upgrade insights"].detail == "all 1 passing for 1.36"
    assert rows["add-on vpc-cni"].detail == "v1.20.4-eksbuild.1 now; v1.21.0-eksbuild.1 for 1.36 (EKS default)"
    assert rows["add-on coredns"].detail == "v1.12.4-eksbuild.1 now; v1.13.1-eksbuild.1 for 1.36"
    assert rows[f"surge: ASG {asg}"].detail == "max 4 > desired 2"
    # 64 - 2 × t3.medium (2 vCPUs each); one AZ → EKS adds up to 2 nodes = 4 vCPUs
    assert rows["surge: On-Demand vCPU quota"].detail == (
        "60 of 64 vCPUs free (4 running); the update adds up to 2 nodes = 4 vCPUs"
    )
    table = report.table(list(rows.values()))
    assert table.splitlines()[0].split() == ["check", "status", "detail"]
    assert "support 1.36" in table and not failing(rows)


def test_without_quota_clients_the_vcpu_row_is_left_out(make_asg: Any) -> None:
    rows = run(make_asg())
    assert "surge: On-Demand vCPU quota" not in rows and not failing(rows)


# --- each FAIL cause --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "why"),
    [
        ("1.34", "1.34 is older than the running 1.35: EKS never downgrades"),
        ("1.37", "1.35 → 1.37 skips a minor: EKS upgrades one minor at a time, 1.36 first"),
        ("1.35", "the control plane already runs 1.35; the next minor is 1.36"),
    ],
)
def test_a_target_other_than_the_next_minor_fails(make_asg: Any, target: str, why: str) -> None:
    world = World(version_info=cluster_version(target, "STANDARD_SUPPORT", datetime(2028, 3, 1, tzinfo=UTC)))
    rows = run(make_asg(), world, target=target)
    assert rows["target version"] == CheckResult("target version", "FAIL", why)
    assert failing(rows) == ["target version"]


def test_a_target_in_extended_support_fails_with_its_dates_and_cost(make_asg: Any) -> None:
    world = World(
        control_plane="1.32",
        version_info=cluster_version("1.33", "EXTENDED_SUPPORT", datetime(2026, 7, 29, tzinfo=UTC)),
        nodegroups={NODEGROUP: "1.32"},
    )
    rows = run(make_asg(), world)
    assert rows["support 1.33"].status == "FAIL"
    detail = rows["support 1.33"].detail
    assert "left standard support on 2026-07-29 (extended until 2027-07-29)" in detail
    assert "$0.60/h" in detail and "$0.10/h" in detail
    assert failing(rows) == ["support 1.33"]


@pytest.mark.parametrize(
    ("info", "why"),
    [
        (
            cluster_version("1.36", "UNSUPPORTED", datetime(2025, 1, 1, tzinfo=UTC)),
            "1.36 is no longer supported (extended support ended 2026-01-01)",
        ),
        (None, "EKS does not offer 1.36 in this region (not released yet?)"),
    ],
)
def test_an_unsupported_or_unknown_target_fails(make_asg: Any, info: dict[str, Any] | None, why: str) -> None:
    rows = run(make_asg(), World(version_info=info))
    assert rows["support 1.36"] == CheckResult("support 1.36", "FAIL", why)
    assert failing(rows) == ["support 1.36"]


def test_an_error_insight_fails_and_a_warning_insight_warns_with_their_recommendations(make_asg: Any) -> None:
    deprecated = insight(
        "i-2",
        "Deprecated APIs removed in Kubernetes v1.36",
        "ERROR",
        recommendation="Update manifests and API clients to use newer Kubernetes APIs.",
        resources=[
            {
                "insightStatus": {"status": "ERROR"},
                "kubernetesResourceUri": "/apis/flowcontrol.apiserver.k8s.io/v1beta3/flowschemas",
            }
        ],
        categorySpecificSummary={
            "deprecationDetails": [
                {
                    "usage": "/apis/flowcontrol.apiserver.k8s.io/v1beta3/flowschemas",
                    "replacedWith": "/apis/flowcontrol.apiserver.k8s.io/v1/flowschemas",
                    "stopServingVersion": "1.36",
                    "startServingReplacementVersion": "1.29",
                    "clientStats": [{"userAgent": "helm/3.14", "numberOfRequestsLast30Days": 12}],
                }
            ]
        },
    )
    skew = insight(
        "i-3",
        "Amazon EKS add-on version compatibility",
        "WARNING",
        recommendation="Upgrade the add-on to a version compatible with the target Kubernetes version.",
        categorySpecificSummary={
            "addonCompatibilityDetails": [{"name": "kube-proxy", "compatibleVersions": ["v1.36.0-eksbuild.2"]}]
        },
    )
    passing = insight("i-1", "Kubelet version skew", "PASSING")
    rows = run(make_asg(), World(insights=[passing, deprecated, skew]))
    error = rows["insight: Deprecated APIs removed in Kubernetes v1.36"]
    assert error.status == "FAIL"
    assert (
        "/apis/flowcontrol.apiserver.k8s.io/v1beta3/flowschemas → /apis/flowcontrol.apiserver.k8s.io/v1/flowschemas"
        " (removed in 1.36)" in error.detail
    )
    assert error.detail.endswith("fix: Update manifests and API clients to use newer Kubernetes APIs.")
    warning = rows["insight: Amazon EKS add-on version compatibility"]
    assert warning.status == "WARN"
    assert "add-on kube-proxy compatible: v1.36.0-eksbuild.2" in warning.detail
    assert "fix: Upgrade the add-on to a version compatible" in warning.detail
    assert "upgrade insights" not in rows  # no "all passing" row when some are open
    assert failing(rows) == ["insight: Deprecated APIs removed in Kubernetes v1.36"]


def test_a_node_group_behind_the_control_plane_fails(make_asg: Any) -> None:
    rows = run(make_asg(), World(nodegroups={NODEGROUP: "1.35", "batch": "1.34"}))
    assert rows[f"node group {NODEGROUP}"].status == "PASS"
    behind = rows["node group batch"]
    assert behind.status == "FAIL" and behind.detail.startswith("runs 1.34, the control plane 1.35")
    assert failing(rows) == ["node group batch"]


def test_an_add_on_without_a_version_for_the_target_fails(make_asg: Any) -> None:
    addons = {**standard_addons(), "eks-pod-identity-agent": ("v1.3.8-eksbuild.2", [])}
    rows = run(make_asg(), World(addons=addons))
    assert rows["add-on eks-pod-identity-agent"] == CheckResult(
        "add-on eks-pod-identity-agent",
        "FAIL",
        "v1.3.8-eksbuild.2 installed; EKS offers no version of eks-pod-identity-agent for 1.36",
    )
    assert failing(rows) == ["add-on eks-pod-identity-agent"]


def test_a_budget_allowing_no_disruption_fails_naming_it(make_asg: Any) -> None:
    budgets = [
        Budget("helloworld", "helloworld", 1, 2, 2, 1),  # one pod may go: fine
        Budget("payments", "api", 0, 2, 2, 2),  # minAvailable = replicas: blocks every eviction
        Budget("batch", "idle", 0, 0, 0, 0),  # selects no pod: blocks nothing
    ]
    rows = run(make_asg(), budgets=budgets)
    assert failing(rows) == ["PDB payments/api"]
    assert rows["PDB payments/api"].detail.startswith("allows 0 disruptions (2 healthy of 2, needs 2)")
    assert "PodEvictionFailure" in rows["PDB payments/api"].detail


def test_a_failed_lookup_is_a_failed_row_and_the_other_rows_still_run(make_asg: Any) -> None:
    rows = run(make_asg(), World(addons_error="AccessDeniedException"))
    assert failing(rows) == ["managed add-ons"]
    assert "AccessDeniedException" in rows["managed add-ons"].detail
    assert rows["PodDisruptionBudgets"].status == "PASS"


def test_throttling_is_a_row_not_checked_not_a_failure(make_asg: Any) -> None:
    rows = run(make_asg(), World(addons_error="ThrottlingException"))
    assert failing(rows) == []
    assert (rows["managed add-ons"].status, rows["managed add-ons"].detail) == (
        "WARN",
        "not checked: AWS throttled the request (ThrottlingException); run it again",
    )


def test_credentials_expiring_mid_check_are_one_line_naming_the_fix(make_asg: Any) -> None:
    with pytest.raises(CredentialsError) as caught:
        run(make_asg(), World(addons_error="ExpiredTokenException"))
    assert str(caught.value) == (
        "AWS rejected the credentials (ExpiredTokenException) while checking managed add-ons: run `aws sso login` "
        "(SSO profiles, with AWS_PROFILE set) or `aws configure` (access keys), then retry"
    )


def test_a_malformed_target_is_refused() -> None:
    eks = aws.client("eks", REGION)
    with Stubber(eks) as stub:
        stub.add_response("describe_cluster", {"cluster": {"name": CLUSTER, "version": "1.35"}}, {"name": CLUSTER})
        deps = UpgradeCheckDeps(eks=eks, autoscaling=None, budgets=FakeBudgets())
        with pytest.raises(OpsError, match=r"Kubernetes version '1\.3x' should look like 1\.NN"):
            run_upgrade_check(OUT, "1.3x", deps)


# --- WARN cases (never a failure) -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days_left", "status"),
    [(20, "WARN"), (31, "PASS")],
)
def test_standard_support_ending_within_30_days_warns(make_asg: Any, days_left: int, status: str) -> None:
    world = World(version_info=cluster_version("1.36", "STANDARD_SUPPORT", NOW + timedelta(days=days_left)))
    rows = run(make_asg(), world)
    assert rows["support 1.36"].status == status and not failing(rows)
    if status == "WARN":
        assert rows["support 1.36"].detail.startswith("standard support ends 2026-12-17 (in 20 days)")
        assert "$0.60/h" in rows["support 1.36"].detail


def test_no_insights_yet_warns(make_asg: Any) -> None:
    rows = run(make_asg(), World(insights=[]))
    assert rows["upgrade insights"].status == "WARN" and not failing(rows)


def test_an_asg_at_its_max_warns(make_asg: Any) -> None:
    asg = make_asg(max_size=2, desired=2)
    rows = run(asg, World(max_unavailable=3))
    room = rows[f"surge: ASG {asg}"]
    assert room.status == "WARN" and not failing(rows)
    assert room.detail.startswith("max 2 = desired 2: no room for an extra node; EKS raises it by up to 3")


def test_a_missing_asg_warns(moto_account: None) -> None:
    rows = run("eks-foo-ng-gone")
    assert rows["surge"] == CheckResult("surge", "WARN", "Auto Scaling group eks-foo-ng-gone not found")
    assert not failing(rows)


def test_too_little_vcpu_quota_for_the_surge_warns(make_asg: Any) -> None:
    running = [
        *[{"InstanceType": "t3.medium"}] * 3,  # 6 vCPUs against the quota
        {"InstanceType": "m5.large", "InstanceLifecycle": "spot"},  # Spot has its own quota
        {"InstanceType": "p3.2xlarge"},  # P instances have their own quota
    ]
    rows = run(make_asg(), account=Account(quota=8.0, running=running))
    vcpu = rows["surge: On-Demand vCPU quota"]
    assert vcpu == CheckResult(
        "surge: On-Demand vCPU quota",
        "WARN",
        "2 of 8 vCPUs free (6 running); the update adds up to 2 nodes = 4 vCPUs: "
        "ask for more of quota L-1216C47A or the roll may stall",
    )
    assert not failing(rows)


def test_an_unreadable_quota_warns_instead_of_failing(make_asg: Any) -> None:
    rows = run(make_asg(), account=Account(quota_error="AccessDeniedException"))
    vcpu = rows["surge: On-Demand vCPU quota"]
    assert vcpu.status == "WARN" and vcpu.detail.startswith("not checked:") and not failing(rows)


# --- the PolicyV1Api reader against a local API server ----------------------------------------------------------


def pdb(namespace: str, name: str, allowed: int, expected: int) -> dict[str, Any]:
    status = {"disruptionsAllowed": allowed, "expectedPods": expected, "currentHealthy": expected}
    return {"metadata": {"namespace": namespace, "name": name}, "status": {**status, "desiredHealthy": 1}}


@pytest.fixture
def api_server() -> Iterator[tuple[str, list[dict[str, list[str]]], threading.Event]]:
    """Serves two pages of PodDisruptionBudgets; requests are recorded; `hang` makes it stop answering."""
    seen: list[dict[str, list[str]]] = []
    hang, release = threading.Event(), threading.Event()
    pages: dict[str | None, dict[str, Any]] = {
        None: {"items": [pdb("a", "one", 1, 2)], "metadata": {"continue": "page-2"}},
        "page-2": {"items": [pdb("b", "two", 0, 3), {"metadata": {"namespace": "c", "name": "new"}}], "metadata": {}},
    }

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            url = urlparse(self.path)
            query = parse_qs(url.query)
            seen.append({"path": [url.path], **query})
            if hang.is_set():
                release.wait(5)  # bounded: the client's timeout fires long before
                return
            page = pages[query.get("continue", [None])[0]]
            send_json(self, 200, {"apiVersion": "policy/v1", "kind": "PodDisruptionBudgetList", **page})

    with serving(ThreadingHTTPServer(("127.0.0.1", 0), Handler)) as port:
        try:
            yield f"http://127.0.0.1:{port}", seen, hang
        finally:
            release.set()  # before the server stops: a hung request ends first


def reader(host: str, timeout: float = 5.0) -> KubeBudgets:
    # The verb's client (api_client: no transport retries), not a bare one: urllib3's default 3 retries made a
    # silent server cost four timeouts here.
    return KubeBudgets(k8s.PolicyV1Api(api_client(kubeconfig(host))), timeout=timeout)


def test_the_reader_lists_every_page_of_budgets_in_all_namespaces(api_server: Any) -> None:
    host, seen, _ = api_server
    assert reader(host).disruption_budgets() == [
        Budget("a", "one", 1, 2, 2, 1),
        Budget("b", "two", 0, 3, 3, 1),
        Budget("c", "new", 0, 0, 0, 0),  # no status yet: counts no pods
    ]
    assert [s["path"] for s in seen] == [["/apis/policy/v1/poddisruptionbudgets"]] * 2
    assert [s.get("continue") for s in seen] == [None, ["page-2"]]
    assert all(s["limit"] == ["500"] for s in seen)


def test_the_reader_gives_up_on_a_silent_api_server(api_server: Any) -> None:
    host, seen, hang = api_server
    hang.set()
    started = time.monotonic()
    with pytest.raises(Exception, match=r"(?i)timed out"):
        reader(host, timeout=0.2).disruption_budgets()
    assert time.monotonic() - started < 3
    assert len(seen) == 1  # asked once: the transport does not retry


def test_an_endless_list_of_budgets_is_refused_with_the_command_to_look_by_hand() -> None:
    class EndlessPages:  # a server that always hands back another continue token
        calls = 0

        def list_pod_disruption_budget_for_all_namespaces(self, **_: Any) -> Any:
            self.calls += 1
            return SimpleNamespace(items=[], metadata=SimpleNamespace(var_continue=f"page-{self.calls + 1}"))

    policy = EndlessPages()
    with pytest.raises(OpsError) as raised:
        KubeBudgets(policy).disruption_budgets()  # type: ignore[arg-type]

    assert str(raised.value) == (
        "more than 50000 PodDisruptionBudgets; refusing to list on: find those that would stall the node roll by hand "
        "(`kubectl get pdb -A`, ALLOWED DISRUPTIONS 0)"
    )
    assert policy.calls == 100  # bounded


def test_the_reader_built_from_the_stack_kubeconfig_reaches_its_server(api_server: Any) -> None:
    host, seen, _ = api_server
    assert [b.ref for b in KubeBudgets.from_kubeconfig(kubeconfig(host)).disruption_budgets()] == [
        "a/one",
        "b/two",
        "c/new",
    ]
    assert len(seen) == 2


@pytest.mark.parametrize(("status", "code"), [("PASS", 0), ("WARN", 0), ("FAIL", 1)])
def test_upgrade_check_prints_the_table_and_exits_1_on_a_fail(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], status: str, code: int
) -> None:
    seen: dict[str, Any] = {}

    def run(out: dict[str, Any], target: str | None, deps: Any) -> list[CheckResult]:
        seen.update(out=out, target=target)
        return [CheckResult("target version", status, "1.35 → 1.36")]  # type: ignore[arg-type]

    monkeypatch.setattr(stack, "read_outputs", lambda name: {"region": "us-west-2", "kubeconfig": "{}"})
    monkeypatch.setattr(live, "aws_client", lambda service, out: service)
    monkeypatch.setattr(aws, "caller_identity", lambda sts: seen.setdefault("identity", sts))
    monkeypatch.setattr(KubeBudgets, "from_kubeconfig", classmethod(lambda cls, config: "budgets"))
    monkeypatch.setattr(check, "run_upgrade_check", run)
    assert cli.main(["upgrade-check", "foo", "--to", "1.36"]) == code
    assert (seen["identity"], seen["target"]) == ("sts", "1.36")
    captured = capsys.readouterr()
    assert f"target version  {status}" in captured.out
    assert ("error: 1 check(s) failed: target version" in captured.err) == (code == 1)
