"""upgrade-check's rows: is the cluster ready for its next Kubernetes minor? One PASS/WARN/FAIL table.

Reads only (EKS, Auto Scaling, optionally EC2 + Service Quotas, and the cluster's PodDisruptionBudgets);
the decisions are pure functions over what was read, so each row can be tested on its own.
"""

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from infra.ops.clients import aws, outputs
from infra.ops.errors import OpsError, one_line
from infra.ops.report import CheckResult, crashed, failed, few, passed, warned
from infra.ops.upgrade_check.budgets import Budget, BudgetReader

SUPPORT_ENDING_SOON = timedelta(days=30)
# AWS's EKS pricing: a cluster costs $0.10 per hour in standard support, $0.60 in extended support.
EXTENDED_COST = "extended support costs $0.60/h per cluster instead of $0.10/h"
# EC2 quota "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances", counted in vCPUs.
STANDARD_VCPU_QUOTA = "L-1216C47A"
_STANDARD_LETTERS = "acdhimrtz"
_OWN_QUOTA_FAMILIES = ("dl", "hpc", "inf", "mac", "trn")  # start with those letters but have their own quotas
_VERSION = re.compile(r"^(\d+)\.(\d+)$")


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class UpgradeCheckDeps:
    eks: Any
    autoscaling: Any
    budgets: BudgetReader
    ec2: Any | None = None  # with quotas: adds the On-Demand vCPU headroom row
    quotas: Any | None = None  # a service-quotas client
    now: Callable[[], datetime] = _utc_now


class UnreadableBudgets:
    """A BudgetReader for a cluster that cannot be read (no Kubernetes token): the PDB row says why."""

    def __init__(self, problem: OpsError) -> None:
        self.problem = problem

    def disruption_budgets(self) -> list[Budget]:
        raise self.problem


def parse_version(text: str) -> tuple[int, int]:
    match = _VERSION.match(text.strip())
    if not match:
        raise OpsError(f"Kubernetes version {text!r} should look like 1.NN")
    return int(match.group(1)), int(match.group(2))


def next_minor(version: str) -> str:
    major, minor = parse_version(version)
    return f"{major}.{minor + 1}"


def _day(when: datetime | None) -> str:
    return when.strftime("%Y-%m-%d") if when else "an unknown date"


def version_step(current: str, target: str) -> CheckResult:
    """EKS updates the control plane one minor at a time and never downgrades."""
    name, step = "target version", next_minor(current)
    if parse_version(target) < parse_version(current):
        return failed(name, f"{target} is older than the running {current}: EKS never downgrades")
    if target == current:
        return failed(name, f"the control plane already runs {current}; the next minor is {step}")
    if target != step:
        return failed(name, f"{current} → {target} skips a minor: EKS upgrades one minor at a time, {step} first")
    return passed(name, f"{current} → {target}")


def support(target: str, info: Mapping[str, Any] | None, now: datetime) -> CheckResult:
    """One DescribeClusterVersions entry: standard support PASSes unless it ends within 30 days."""
    name = f"support {target}"
    if info is None:
        return failed(name, f"EKS does not offer {target} in this region (not released yet?)")
    # `status` (standard-support, ...) is the deprecated spelling of `versionStatus`.
    status = info.get("versionStatus") or str(info.get("status", "")).upper().replace("-", "_")
    standard_end, extended_end = info.get("endOfStandardSupportDate"), info.get("endOfExtendedSupportDate")
    if status == "UNSUPPORTED":
        return failed(name, f"{target} is no longer supported (extended support ended {_day(extended_end)})")
    if status == "EXTENDED_SUPPORT":
        return failed(
            name,
            f"{target} left standard support on {_day(standard_end)} (extended until {_day(extended_end)}): "
            f"{EXTENDED_COST}; plan the following minors up to one in standard support",
        )
    if status != "STANDARD_SUPPORT":
        return warned(name, f"EKS reports an unknown support status {status!r} for {target}")
    if standard_end and standard_end - now <= SUPPORT_ENDING_SOON:
        days = max((standard_end - now).days, 0)
        return warned(name, f"standard support ends {_day(standard_end)} (in {days} days): then {EXTENDED_COST}")
    return passed(name, f"standard support until {_day(standard_end)}")


def _paged(client: Any, operation: str, key: str, **params: Any) -> list[Any]:
    """Every item of a paginated listing."""
    return [item for page in client.get_paginator(operation).paginate(**params) for item in page.get(key, [])]


def cluster_version(eks: Any, version: str) -> Mapping[str, Any] | None:
    listed = _paged(eks, "describe_cluster_versions", "clusterVersions", clusterVersions=[version], includeAll=True)
    found = [v for v in listed if v.get("clusterVersion") == version]
    return found[0] if found else None


def insight_result(insight: Mapping[str, Any]) -> CheckResult:
    """A DescribeInsight answer: ERROR fails, WARNING and UNKNOWN warn, with what to do about it."""
    name = f"insight: {insight.get('name', insight.get('id', '?'))}"
    state = insight.get("insightStatus", {})
    summary = insight.get("categorySpecificSummary", {})
    parts = [state.get("reason", "")]
    for use in summary.get("deprecationDetails", []):
        replaced = use.get("replacedWith") or "nothing"
        parts.append(f"{use.get('usage')} → {replaced} (removed in {use.get('stopServingVersion', '?')})")
    for addon in summary.get("addonCompatibilityDetails", []):
        compatible = few(addon.get("compatibleVersions", [])) or "none"
        parts.append(f"add-on {addon.get('name')} compatible: {compatible}")
    affected = [r.get("kubernetesResourceUri") or r.get("arn", "") for r in insight.get("resources", [])]
    if affected:
        parts.append(f"affects {few(affected)}")
    parts.append(f"fix: {insight.get('recommendation') or insight.get('description', '')}")
    detail = "; ".join(p.strip() for p in parts if p and p.strip())
    return failed(name, detail) if state.get("status") == "ERROR" else warned(name, detail)


def insight_rows(eks: Any, cluster: str, target: str) -> list[CheckResult]:
    """EKS upgrade insights (deprecated APIs in use, add-on and kubelet skew) for the target version."""
    query = {"categories": ["UPGRADE_READINESS"], "kubernetesVersions": [target]}
    summaries = _paged(eks, "list_insights", "insights", clusterName=cluster, filter=query)
    if not summaries:
        return [warned("upgrade insights", f"EKS lists none for {target} yet (it refreshes them about daily)")]
    open_ones = [s for s in summaries if s.get("insightStatus", {}).get("status") != "PASSING"]
    rows = [insight_result(eks.describe_insight(clusterName=cluster, id=s["id"])["insight"]) for s in open_ones]
    return rows or [passed("upgrade insights", f"all {len(summaries)} passing for {target}")]


def nodegroup_version(name: str, version: str, control_plane: str) -> CheckResult:
    row = f"node group {name}"
    if version == control_plane:
        return passed(row, f"{version}, same as the control plane")
    return failed(
        row,
        f"runs {version}, the control plane {control_plane}: EKS refuses the next control-plane update "
        "until every managed node group matches it",
    )


def nodegroup_rows(eks: Any, cluster: str, control_plane: str) -> list[CheckResult]:
    names = _paged(eks, "list_nodegroups", "nodegroups", clusterName=cluster)
    if not names:
        return [warned("node groups", "the cluster has no managed node group")]
    found = (eks.describe_nodegroup(clusterName=cluster, nodegroupName=n)["nodegroup"] for n in names)
    return [nodegroup_version(ng["nodegroupName"], ng.get("version", "?"), control_plane) for ng in found]


def addon_support(name: str, installed: str, target: str, offered: Sequence[Mapping[str, Any]]) -> CheckResult:
    """`offered`: DescribeAddonVersions' addonVersions for the target; EKS's default for it is the usual pick."""
    row = f"add-on {name}"
    if not offered:
        return failed(row, f"{installed} installed; EKS offers no version of {name} for {target}")
    defaults = [
        v
        for v in offered
        if any(c.get("clusterVersion") == target and c.get("defaultVersion") for c in v.get("compatibilities", []))
    ]
    pick = (defaults or offered)[0]["addonVersion"]
    return passed(row, f"{installed} now; {pick} for {target}" + (" (EKS default)" if defaults else ""))


def addon_rows(eks: Any, cluster: str, target: str) -> list[CheckResult]:
    names = _paged(eks, "list_addons", "addons", clusterName=cluster)
    if not names:
        return [CheckResult("managed add-ons", "INFO", "none installed")]
    rows = []
    for name in names:
        installed = eks.describe_addon(clusterName=cluster, addonName=name)["addon"].get("addonVersion", "?")
        listed = _paged(eks, "describe_addon_versions", "addons", addonName=name, kubernetesVersion=target)
        offered = [v for a in listed if a.get("addonName") == name for v in a.get("addonVersions", [])]
        rows.append(addon_support(name, installed, target, offered))
    return rows


def budget_rows(budgets: Sequence[Budget]) -> list[CheckResult]:
    """A budget that allows no disruption now blocks every eviction of its pods, so the node roll stalls."""
    blocking = [b for b in budgets if b.disruptions_allowed == 0 and b.expected_pods > 0]
    if not blocking:
        return [passed("PodDisruptionBudgets", f"{len(budgets)} in the cluster; none blocks an eviction")]
    return [
        failed(
            f"PDB {b.ref}",
            f"allows 0 disruptions ({b.current_healthy} healthy of {b.expected_pods}, needs {b.desired_healthy}): "
            "the node roll would stop at its pods and fail with PodEvictionFailure",
        )
        for b in blocking
    ]


def surge_size(zones: int, max_unavailable: int) -> int:
    """Nodes EKS adds for a managed node group update: the larger of 2 per AZ and maxUnavailable."""
    return max(2 * zones, max_unavailable)


def asg_room(group: Mapping[str, Any], surge: int) -> CheckResult:
    name = f"surge: ASG {group['AutoScalingGroupName']}"
    top, desired = int(group["MaxSize"]), int(group["DesiredCapacity"])
    if top > desired:
        return passed(name, f"max {top} > desired {desired}")
    return warned(
        name,
        f"max {top} = desired {desired}: no room for an extra node; EKS raises it by up to {surge} for the "
        "managed update only, so anything else that adds a node first (autoscaler, manual scaling) cannot",
    )


def standard_family(instance_type: str) -> bool:
    family = instance_type.split(".")[0].lower()
    return family[:1] in _STANDARD_LETTERS and not family.startswith(_OWN_QUOTA_FAMILIES)


def _vcpus(ec2: Any, types: Iterable[str]) -> dict[str, int]:
    wanted, found = sorted(set(types)), dict[str, int]()
    for start in range(0, len(wanted), 100):  # DescribeInstanceTypes takes up to 100 names
        answer = ec2.describe_instance_types(InstanceTypes=wanted[start : start + 100])
        found |= {t["InstanceType"]: int(t["VCpuInfo"]["DefaultVCpus"]) for t in answer["InstanceTypes"]}
    return found


def vcpu_headroom(ec2: Any, quotas: Any, node_types: Sequence[str], surge: int) -> CheckResult:
    """Account-wide On-Demand Standard vCPUs free in the region vs. what the surge nodes need."""
    name = "surge: On-Demand vCPU quota"
    if not node_types:
        return warned(name, "the node group names no instance type (launch template?): not checked")
    try:
        quota = float(quotas.get_service_quota(ServiceCode="ec2", QuotaCode=STANDARD_VCPU_QUOTA)["Quota"]["Value"])
        live = {"Name": "instance-state-name", "Values": ["pending", "running"]}
        running = [
            i["InstanceType"]
            for r in _paged(ec2, "describe_instances", "Reservations", Filters=[live])
            for i in r["Instances"]
            if i.get("InstanceLifecycle") != "spot" and standard_family(i["InstanceType"])
        ]
        vcpus = _vcpus(ec2, [*running, *node_types])
    except (ClientError, BotoCoreError) as err:  # optional row: a missing permission is not a failed upgrade
        return warned(name, f"not checked: {one_line(err)}")
    used = sum(vcpus[t] for t in running)
    need = surge * max(vcpus[t] for t in node_types)
    free = quota - used
    detail = f"{free:g} of {quota:g} vCPUs free ({used} running); the update adds up to {surge} nodes = {need} vCPUs"
    if free >= need:
        return passed(name, detail)
    return warned(name, f"{detail}: ask for more of quota {STANDARD_VCPU_QUOTA} or the roll may stall")


def surge_rows(deps: UpgradeCheckDeps, cluster: str, nodegroup: str) -> list[CheckResult]:
    found = deps.eks.describe_nodegroup(clusterName=cluster, nodegroupName=nodegroup)["nodegroup"]
    asgs = [a["name"] for a in found.get("resources", {}).get("autoScalingGroups", [])]
    if not asgs:
        return [warned("surge", f"node group {nodegroup} has no Auto Scaling group yet")]
    groups = deps.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=asgs)["AutoScalingGroups"]
    if not groups:
        return [warned("surge", f"Auto Scaling group {', '.join(asgs)} not found")]
    zones = max((len(g.get("AvailabilityZones", [])) for g in groups), default=1)
    surge = surge_size(zones, int(found.get("updateConfig", {}).get("maxUnavailable", 1)))
    rows = [asg_room(g, surge) for g in groups]
    if deps.ec2 is not None and deps.quotas is not None:
        rows.append(vcpu_headroom(deps.ec2, deps.quotas, found.get("instanceTypes", []), surge))
    return rows


def _guarded(name: str, rows: Callable[[], list[CheckResult]]) -> list[CheckResult]:
    try:
        return rows()
    except Exception as err:  # a fetch that failed is a failed row; the other rows still run
        if problem := aws.credentials_problem(err, f" while checking {name}"):
            raise problem from err  # every other row would fail the same way: one line naming the fix
        if isinstance(err, ClientError) and aws.error_code(err) in aws.THROTTLED:
            return [warned(name, f"not checked: AWS throttled the request ({aws.error_code(err)}); run it again")]
        return [crashed(name, err)]


def run_upgrade_check(out: Mapping[str, Any], target: str | None, deps: UpgradeCheckDeps) -> list[CheckResult]:
    """Every row for upgrading the stack's cluster to `target` (default: the next minor)."""
    cluster = outputs.text(out, "clusterName")
    nodegroup = outputs.text(out, "nodeGroupName")
    current = str(deps.eks.describe_cluster(name=cluster)["cluster"]["version"])
    goal = target.strip() if target else next_minor(current)
    parse_version(goal)
    return [
        version_step(current, goal),
        *_guarded(f"support {goal}", lambda: [support(goal, cluster_version(deps.eks, goal), deps.now())]),
        *_guarded("upgrade insights", lambda: insight_rows(deps.eks, cluster, goal)),
        *_guarded("node groups", lambda: nodegroup_rows(deps.eks, cluster, current)),
        *_guarded("managed add-ons", lambda: addon_rows(deps.eks, cluster, goal)),
        *_guarded("PodDisruptionBudgets", lambda: budget_rows(deps.budgets.disruption_budgets())),
        *_guarded("surge", lambda: surge_rows(deps, cluster, nodegroup)),
    ]
