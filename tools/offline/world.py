"""The AWS account the offline mocks answer for: its zones, the EKS and RDS PostgreSQL support calendars, what its
registries hold, what already runs in it, and what it refuses. `World()` is a fresh account; a test or a tool
describes another one by changing fields.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Any

ACCOUNT = "123456789012"
ZONES = ["us-west-2a", "us-west-2b", "us-west-2c", "us-west-2d"]


def days_from_today(n: int) -> str:
    """A date n days from today, as DescribeClusterVersions' timestamps arrive (RFC 3339): the table stays true
    to its meaning whenever it is used."""
    return (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=n)).isoformat() + "T00:00:00Z"


def eks_versions() -> list[dict[str, Any]]:
    """What DescribeClusterVersions (includeAll) says, shaped like the 2026-11-27 lifecycle: 1.30/1.31 past
    extended support, 1.32/1.33 in extended support, 1.34 days from its end of standard support."""
    rows = [
        ("1.30", "UNSUPPORTED", -500, -135),
        ("1.31", "UNSUPPORTED", -400, -35),
        ("1.32", "EXTENDED_SUPPORT", -240, 125),
        ("1.33", "EXTENDED_SUPPORT", -121, 244),
        ("1.34", "STANDARD_SUPPORT", 5, 370),
        ("1.35", "STANDARD_SUPPORT", 120, 485),
        ("1.36", "STANDARD_SUPPORT", 240, 605),
    ]
    return [
        {
            "clusterVersion": version,
            "clusterType": "eks",
            "versionStatus": status,
            "endOfStandardSupportDate": days_from_today(standard),
            "endOfExtendedSupportDate": days_from_today(extended),
            "defaultVersion": version == "1.35",
        }
        for version, status, standard, extended in rows
    ]


def rds_postgres_majors() -> list[dict[str, Any]]:
    """What DescribeDBMajorEngineVersions (Engine postgres) says, shaped like RDS's calendar on 2026-12-05: 13 in
    Extended Support since 2026-02-28, 14's standard support ending 2027-02-28, 18 the newest."""
    today = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    rows = [("13", -280, 816), ("14", 85, 1181), ("15", 451, 1547), ("16", 816, 1912), ("17", 1181, 2277)]
    rows.append(("18", 1546, 2642))
    return [
        {
            "Engine": "postgres",
            "MajorEngineVersion": major,
            "SupportedEngineLifecycles": [
                {
                    "LifecycleSupportName": "open-source-rds-standard-support",
                    "LifecycleSupportStartDate": today + dt.timedelta(days=standard - 5 * 365),
                    "LifecycleSupportEndDate": today + dt.timedelta(days=standard),
                },
                {
                    "LifecycleSupportName": "open-source-rds-extended-support",
                    "LifecycleSupportStartDate": today + dt.timedelta(days=standard + 1),
                    "LifecycleSupportEndDate": today + dt.timedelta(days=extended),
                },
            ],
        }
        for major, standard, extended in rows
    ]


@dataclass
class World:
    """The account as the program's deploy-time lookups see it. Defaults: a fresh account where the team's
    zone is hosted, the deployer is an SSO-style role session, and nothing of the stack exists yet."""

    caller_arn: str = f"arn:aws:sts::{ACCOUNT}:assumed-role/deployer/alice"
    zone_ids: tuple[str, ...] = ("usw2-az1", "usw2-az2", "usw2-az3", "usw2-az4")
    deployer_role_arn: str = f"arn:aws:iam::{ACCOUNT}:role/deployer"
    hosted_zones: tuple[str, ...] = ("cloud.weave.works",)
    subnets: tuple[str, ...] = ()  # CIDRs of the stack's existing subnets (none: a new VPC), ids subnet-0, -1...
    # AZ of each existing subnet by CIDR; unlisted ones alternate us-west-2a, us-west-2b in `subnets` order.
    subnet_azs: dict[str, str] = field(default_factory=dict)
    zone_states: dict[str, str] = field(default_factory=dict)  # AZ name -> state other than "available"
    # name -> {"version": .., "tags": {..}, "vpcConfig": {"subnetIds": [ids of `subnets`]}}
    clusters: dict[str, dict[str, Any]] = field(default_factory=dict)
    ecr_tags: dict[str, list[str]] = field(default_factory=dict)  # repository -> pushed tags
    dockerhub_tags: dict[str, list[str]] = field(default_factory=dict)  # "user/repo" -> pushed tags
    log_groups: dict[str, dict[str, str]] = field(default_factory=dict)  # name -> tags
    versions: list[dict[str, Any]] = field(default_factory=eks_versions)
    db_instances: dict[str, str] = field(default_factory=dict)  # identifier -> running engine version
    db_zones: dict[str, str] = field(default_factory=dict)  # identifier -> AZ of the primary (default us-west-2a)
    db_multi_az: bool = False
    pg_majors_error: str | None = None  # DescribeDBMajorEngineVersions answers this error code instead
    # DB snapshots: id -> {"instance": .., "engineVersion": .., "encrypted": .., "created": ISO time}
    snapshots: dict[str, dict[str, Any]] = field(default_factory=dict)
    # DescribeDBEngineVersions ValidUpgradeTarget (major ones) per running version.
    pg_major_targets: dict[str, list[str]] = field(
        default_factory=lambda: {"15.8": ["16.4", "17.2"], "16.4": ["17.2"], "17.2": []}
    )
    pg_default_minor: dict[str, str] = field(default_factory=lambda: {"16": "16.4", "17": "17.2"})
    pg_majors: list[dict[str, Any]] = field(default_factory=rds_postgres_majors)  # DescribeDBMajorEngineVersions


def registry_digest(tag: str) -> str:
    """The digest a registry holds for a pushed tag: what the push returned, and what a lookup answers later."""
    return "sha256:" + hashlib.sha256(tag.encode()).hexdigest()


def addon_version(addon: str, kubernetes: str) -> str:
    """The most recent build EKS lists for an add-on and Kubernetes version (a made-up but well-formed table)."""
    minor = int(kubernetes.split(".")[1])
    return {
        "vpc-cni": f"v1.20.{minor}-eksbuild.1",
        "kube-proxy": f"v1.{minor}.3-eksbuild.2",
        "coredns": f"v1.12.{minor}-eksbuild.1",
        "eks-pod-identity-agent": f"v1.3.{minor}-eksbuild.1",
    }[addon]
