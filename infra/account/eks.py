"""Account checks for EKS: the Kubernetes versions EKS offers today and their support status, the running cluster,
the add-on versions for the configured Kubernetes version, and who is deploying."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi_aws as aws

from infra import contract
from infra.account.deadlines import WARN_DAYS
from infra.config import ADDON_NAMES, K8S_VERSION_PATTERN, ClusterConfig, camel

STANDARD_USD_PER_HOUR, EXTENDED_USD_PER_HOUR = 0.10, 0.60


@dataclass(frozen=True)
class EksVersion:
    version: str
    status: str  # STANDARD_SUPPORT | EXTENDED_SUPPORT | UNSUPPORTED (DescribeClusterVersions versionStatus)
    end_of_standard: dt.date | None
    end_of_extended: dt.date | None


def _date(value: Any) -> dt.date | None:
    return dt.date.fromisoformat(str(value)[:10]) if value else None


def parse_versions(raw: Sequence[Any]) -> list[EksVersion]:
    return [
        EksVersion(
            v.cluster_version,
            v.version_status,
            _date(v.end_of_standard_support_date),
            _date(v.end_of_extended_support_date),
        )
        for v in raw
    ]


def _minor(version: str) -> int:
    m = K8S_VERSION_PATTERN.match(version)
    return int(m.group(1)) if m else -1


def version_problems(
    version: str, support_type: str, offered: list[EksVersion], today: dt.date, running: str | None
) -> tuple[list[str], list[str]]:
    """(problems, warnings) for `cluster.version` against EKS's list and the running cluster."""
    key = f"infra:cluster.version: {version}"
    problems: list[str] = []
    warnings: list[str] = []
    by_version = {v.version: v for v in offered}
    standard = sorted((v.version for v in offered if v.status == "STANDARD_SUPPORT"), key=_minor)
    usable = sorted((v.version for v in offered if v.status != "UNSUPPORTED"), key=_minor)
    newest = f"the newest in standard support is {standard[-1]}" if standard else "EKS lists none in standard support"
    info = by_version.get(version)
    if info is None or info.status == "UNSUPPORTED":
        why = "not offered by EKS" if info is None else "no longer supported by EKS (CreateCluster refuses it)"
        problems.append(f"{key} — {why}; allowed: one of {', '.join(usable) or 'none'} ({newest})")
    elif info.status == "EXTENDED_SUPPORT":
        since = f"since {info.end_of_standard}" if info.end_of_standard else "now"
        cost = f"${EXTENDED_USD_PER_HOUR:.2f} instead of ${STANDARD_USD_PER_HOUR:.2f} per hour for the control plane"
        if support_type != "EXTENDED":
            problems.append(
                f"{key} — in EKS extended support {since}, billed {cost}; allowed: a version in standard support"
                f" ({newest}), or opt in with infra:cluster.supportType: EXTENDED"
            )
        else:
            until = f" until {info.end_of_extended}" if info.end_of_extended else ""
            warnings.append(f"{key} is in EKS extended support{until} ({cost}); {newest}")
    elif info.end_of_standard and (info.end_of_standard - today).days <= WARN_DAYS:
        then = (
            "EKS upgrades the control plane itself then (supportType STANDARD)"
            if support_type == "STANDARD"
            else f"then extended support bills ${EXTENDED_USD_PER_HOUR:.2f}/h"
        )
        warnings.append(
            f"{key}: EKS standard support ends {info.end_of_standard} ({then}); plan the upgrade ({newest})"
        )
    if running and _minor(running) >= 0 and _minor(version) >= 0:
        step = _minor(version) - _minor(running)
        following = f"1.{_minor(running) + 1}"
        if step < 0:
            problems.append(
                f"{key} — the cluster runs {running}; EKS never downgrades: allowed: {running} or {following}"
            )
        elif step > 1:
            problems.append(f"{key} — the cluster runs {running}; upgrade one minor at a time: {following} first")
    return problems, warnings


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(n) for n in version.lstrip("v").replace("-eksbuild.", ".").split("."))


def addon_problem(field: str, pinned: str, latest: str, kubernetes: str) -> str | None:
    """EKS lists only the most recent build per Kubernetes version to this program: a pin newer than that is
    one CreateAddon/UpdateAddon would refuse."""
    if _version_key(pinned) <= _version_key(latest):
        return None
    return (
        f"infra:cluster.addons.{camel(field)}: {pinned} — newer than any version EKS lists for Kubernetes"
        f" {kubernetes} (most recent: {latest}); allowed: {latest} or older, or unset to follow the cluster"
    )


def deployer(caller: Any) -> str:
    """The role ARN (with its path) behind an assumed-role session, or the user ARN."""
    if ":assumed-role/" not in caller.arn:
        return str(caller.arn)
    return str(aws.iam.get_session_context(arn=caller.arn).issuer_arn)


def running_cluster(name: str) -> Any | None:
    return aws.eks.get_cluster(name=name) if name in (aws.eks.get_clusters().names or []) else None


def creator_of(running: Any | None, deployer_arn: str) -> str:
    """Who got EKS's bootstrap admin entry: the deployer when the cluster is created now, else the tag written
    then. A cluster made by an earlier version has no tag: its creator is unknown ("": no admin is skipped, no tag
    is guessed)."""
    if running is None:
        return deployer_arn
    return str((running.tags or {}).get(contract.CREATOR_TAG) or "")


def kubeconfig_role_problem(c: ClusterConfig, creator_arn: str) -> str | None:
    """The stack's own Kubernetes provider runs as kubeconfigRoleArn: it needs an admin entry."""
    role = c.kubeconfig_role_arn
    if role and role != creator_arn and role not in c.admin_arns:
        return (
            f"infra:cluster.kubeconfigRoleArn: {role} — has no access entry, so the stack's own Kubernetes"
            " provider would be refused (Unauthorized); add it to infra:cluster.adminArns"
        )
    return None


def addon_versions(c: ClusterConfig) -> tuple[dict[str, str], list[str]]:
    """Each managed add-on's version: the pin, checked against the most recent EKS lists for the configured
    Kubernetes version, or that most recent one."""
    versions: dict[str, str] = {}
    problems: list[str] = []
    for field, addon in ADDON_NAMES.items():
        latest = str(
            aws.eks.get_addon_version(addon_name=addon, kubernetes_version=c.version, most_recent=True).version
        )
        pinned = getattr(c.addons, field)
        problem = addon_problem(field, pinned, latest, c.version) if pinned else None
        problems += [problem] if problem else []
        versions[addon] = pinned or latest
    return versions, problems
