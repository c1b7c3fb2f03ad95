"""Deploy-time checks: what AWS says now (in preview too), before any resource is registered.

`load_config()` checks the config's shape; this checks it against the account: the Kubernetes versions EKS offers
today and their support status, the running cluster's version, the hosted zone, who is deploying, images already
pushed under this version, and log groups a previous teardown left behind. Every problem goes into the one
ConfigError; near deadlines are warnings. The checks are pure functions of the looked-up facts, so tests give them
the answers AWS gives, refusals included.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra import contract, preflight_database, preflight_image, preflight_network
from infra.config import ADDON_NAMES, K8S_VERSION, ConfigError, StackConfig, camel

STANDARD_USD_PER_HOUR, EXTENDED_USD_PER_HOUR = 0.10, 0.60
WARN_DAYS = preflight_database.WARN_DAYS
CREATOR_TAG = "infra/cluster-creator"  # who holds EKS's bootstrap admin entry; set once, at creation
# The provider's text for a zone lookup that matched nothing (pulumi-aws >= 6.38, and the older wording).
ZONE_NOT_FOUND = ("no matching Route 53 Hosted Zone found", "no matching Route53Zone found")


@dataclass(frozen=True)
class EksVersion:
    version: str
    status: str  # STANDARD_SUPPORT | EXTENDED_SUPPORT | UNSUPPORTED (DescribeClusterVersions versionStatus)
    end_of_standard: dt.date | None
    end_of_extended: dt.date | None


@dataclass(frozen=True)
class DeployFacts:
    zones: list[str]  # AZ of each subnet pair, in plan order
    control_plane_zones: list[str]  # the AZs whose subnets EKS's control plane gets (a running one: its own)
    creator_arn: str  # the principal EKS gave the bootstrap admin entry ("" when unknown)
    image: preflight_image.ImageFacts  # this build's tag, and its digest when the registry already holds it
    addon_versions: dict[str, str]  # EKS add-on name -> version for the configured Kubernetes version
    db_major_upgrade: bool  # the running instance is on an older PostgreSQL major than the config asks
    restore_snapshot: str | None = None  # the snapshot a NEW instance starts from (restoreFrom snapshot/stack)


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
    m = K8S_VERSION.match(version)
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


# EKS tag values: letters, digits, spaces and + - = . _ : / @, at most 256 (an IAM name may also hold a comma).
TAG_VALUE = re.compile(r"^[\w +\-=.:/@]{1,256}$")


def creator_tag(creator_arn: str) -> dict[str, str]:
    """The creator as a cluster tag, when EKS can store it (never for an unknown creator)."""
    return {CREATOR_TAG: creator_arn} if TAG_VALUE.match(creator_arn) else {}


def admin_arns_to_create(admin_arns: list[str], creator_arn: str) -> tuple[list[str], list[str]]:
    """(ARNs that get an access entry, ARNs skipped because EKS already gave them the bootstrap entry)."""
    skipped = [a for a in admin_arns if a == creator_arn]
    return [a for a in admin_arns if a != creator_arn], skipped


def zone_problem(zone: str, account_id: str, lookup: Callable[[], object]) -> str | None:
    try:
        lookup()
    except Exception as err:
        if not any(text in str(err) for text in ZONE_NOT_FOUND):
            raise  # credentials, throttling...: the provider's own error says more than we could
        return (
            f"infra:dns.zone: {zone} — no public hosted zone of that name in account {account_id}; host it, use"
            " createZone + newZone, or remove infra:dns"
        )
    return None


def leftover_log_group_problem(name: str, region: str, reason: str) -> str:
    return (
        f"log group {name}: {reason}, so creating it would fail (ResourceAlreadyExistsException); delete it, then"
        f" `pulumi up` again: aws logs delete-log-group --region {region} --log-group-name {name}"
    )


def _deployer(caller: Any) -> str:
    """The role ARN (with its path) behind an assumed-role session, or the user ARN."""
    if ":assumed-role/" not in caller.arn:
        return str(caller.arn)
    return str(aws.iam.get_session_context(arn=caller.arn).issuer_arn)


def _running_cluster(name: str) -> Any | None:
    return aws.eks.get_cluster(name=name) if name in (aws.eks.get_clusters().names or []) else None


def _ours(cfg: StackConfig, log_group: str) -> bool:
    """A group this stack created carries its project and stack tags; one AWS re-created has no tags."""
    tags = aws.cloudwatch.get_log_group(name=log_group).tags or {}
    return tags.get(contract.PROJECT_TAG) == cfg.project and tags.get(contract.STACK_TAG) == cfg.stack


def _log_group_problems(cfg: StackConfig, cluster_running: bool, db_running: str | None) -> list[str]:
    """Log groups AWS made itself where the stack will create its own: left from a teardown (delete), or written by
    a running instance of a stack deployed before the program owned them (adopt)."""
    problems = []
    eks_group = contract.eks_log_group(cfg.cluster_name)
    if (
        not cluster_running
        and eks_group in (aws.cloudwatch.get_log_groups(log_group_name_prefix=eks_group).log_group_names or [])
        and not _ours(cfg, eks_group)  # e.g. made by a first `up` whose CreateCluster then failed: in our state
    ):
        reason = "left from a deleted cluster (EKS re-creates it while a cluster is being deleted)"
        problems.append(leftover_log_group_problem(eks_group, cfg.region, reason))
    db = contract.db_identifier(cfg.cluster_name)
    prefix = contract.rds_log_group(db, "")
    found = set(aws.cloudwatch.get_log_groups(log_group_name_prefix=prefix).log_group_names or [])
    for log in contract.RDS_LOGS:
        group = contract.rds_log_group(db, log)
        if group not in found or _ours(cfg, group):
            continue  # absent, or this stack's own
        if db_running:
            problems.append(preflight_database.adopt_log_group_problem(cfg, log))
        else:
            problems.append(leftover_log_group_problem(group, cfg.region, "left from a deleted database"))
    return problems


def check(cfg: StackConfig, *, image_tag: str) -> DeployFacts:
    """Look everything up, raise one ConfigError naming every problem, log warnings; return the facts."""
    problems: list[str] = []
    azs = aws.get_availability_zones(state="available")
    existing = preflight_network.existing_subnets(cfg)
    problem = preflight_network.subnet_problem(cfg.network, set(existing))
    problems += [problem] if problem else []
    available = preflight_network.eks_usable_zones(azs.names, azs.zone_ids)
    zones, problem = preflight_network.plan_zones(cfg.network, existing, available)
    problems += [problem] if problem else []

    caller = aws.get_caller_identity()
    deployer = _deployer(caller)
    running = _running_cluster(cfg.cluster_name)
    running_version = str(running.version) if running is not None else None
    created_in = preflight_network.zones_of_subnets(running.vpc_config.subnet_ids or []) if running else set()
    control_plane, problem = preflight_network.control_plane_zones(zones, created_in or None)
    problems += [problem] if problem and zones else []
    # The creator is known when the cluster is created here, or from the tag written then. A cluster made by an
    # earlier version has no tag: its creator is unknown, so no admin is skipped and no tag is guessed.
    creator = deployer if running is None else str((running.tags or {}).get(CREATOR_TAG) or "")

    role = cfg.cluster.kubeconfig_role_arn
    if role and role != creator and role not in cfg.cluster.admin_arns:
        problems.append(
            f"infra:cluster.kubeconfigRoleArn: {role} — has no access entry, so the stack's own Kubernetes"
            " provider would be refused (Unauthorized); add it to infra:cluster.adminArns"
        )

    offered = parse_versions(aws.eks.get_cluster_versions(cluster_type="eks", include_all=True).cluster_versions or [])
    today = dt.datetime.now(dt.UTC).date()
    version_found, warnings = version_problems(
        cfg.cluster.version, cfg.cluster.support_type, offered, today, running_version
    )
    problems += version_found

    if cfg.dns is not None and not cfg.dns.create_zone:
        zone = cfg.dns.zone_name
        problem = zone_problem(zone, caller.account_id, lambda: aws.route53.get_zone(name=zone, private_zone=False))
        problems += [problem] if problem else []

    image = preflight_image.ImageFacts(image_tag)  # Docker Hub: looked up by the component, with its token
    if cfg.helloworld.registry == "ecr":
        image, image_found = preflight_image.check_ecr(cfg, image_tag)
        problems += image_found

    addons: dict[str, str] = {}
    if not version_found:  # EKS answers add-on versions only for a Kubernetes version it offers
        for field, addon in ADDON_NAMES.items():
            latest = str(
                aws.eks.get_addon_version(
                    addon_name=addon, kubernetes_version=cfg.cluster.version, most_recent=True
                ).version
            )
            pinned = getattr(cfg.cluster.addons, field)
            problem = addon_problem(field, pinned, latest, cfg.cluster.version) if pinned else None
            problems += [problem] if problem else []
            addons[addon] = pinned or latest

    database, database_found = preflight_database.check(cfg)
    problems += database_found
    problem, warning = preflight_network.database_zone_problem(database.zone, database.multi_az, zones, existing)
    problems += [problem] if problem else []
    warnings += [warning] if warning else []

    problems += _log_group_problems(cfg, cluster_running=running is not None, db_running=database.running_version)
    if problems:
        raise ConfigError(problems)
    for warning in warnings:
        pulumi.log.warn(warning)
    return DeployFacts(
        zones=zones,
        control_plane_zones=control_plane,
        creator_arn=creator,
        image=image,
        addon_versions=addons,
        db_major_upgrade=database.major_upgrade,
        restore_snapshot=database.restore_snapshot,
    )
