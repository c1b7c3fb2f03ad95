"""Account checks: what AWS says now (in preview too), before any resource is registered.

`load_config()` checks the config's shape; `read_account` checks it against the account: the Kubernetes versions
EKS offers today and their support status, the running cluster, the hosted zone, who is deploying, images already
pushed under this version, the running database, and log groups a previous teardown left behind. Every problem goes
into the one ConfigError; near deadlines are warnings. One module per area holds pure checks of the looked-up
facts (so tests give them the answers AWS gives, refusals included) and its lookups. Components import nothing
from here: `__main__.py` hands them the facts they need.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.account import database, dns, eks, images, log_groups, network
from infra.account.database import RunningDatabase
from infra.config import ConfigError, StackConfig
from infra.registry_image import ImageFacts


@dataclass(frozen=True)
class AccountFacts:
    zones: list[str]  # AZ of each subnet pair, in plan order
    control_plane_zones: list[str]  # the AZs whose subnets EKS's control plane gets (a running one: its own)
    creator_arn: str  # the principal EKS gave the bootstrap admin entry ("" when unknown)
    image: ImageFacts  # this build's tag, and its digest when the registry already holds it
    addon_versions: dict[str, str]  # EKS add-on name -> version for the configured Kubernetes version
    database: RunningDatabase  # the running instance (if any), and the snapshot a new one starts from


def read_account(cfg: StackConfig, *, image_tag: str) -> AccountFacts:
    """Look everything up, raise one ConfigError naming every problem, log warnings; return the facts."""
    problems: list[str] = []
    azs = aws.get_availability_zones(state="available")
    existing = network.existing_subnets(cfg)
    problem = network.subnet_problem(cfg.network, set(existing))
    problems += [problem] if problem else []
    available = network.eks_usable_zones(azs.names, azs.zone_ids)
    zones, problem = network.plan_zones(cfg.network, existing, available)
    problems += [problem] if problem else []

    caller = aws.get_caller_identity()
    deployer = eks.deployer(caller)
    running = eks.running_cluster(cfg.cluster_name)
    running_version = str(running.version) if running is not None else None
    created_in = network.zones_of_subnets(running.vpc_config.subnet_ids or []) if running else set()
    control_plane, problem = network.control_plane_zones(zones, created_in or None)
    problems += [problem] if problem and zones else []
    creator = eks.creator_of(running, deployer)
    problem = eks.kubeconfig_role_problem(cfg.cluster, creator)
    problems += [problem] if problem else []

    offered = eks.parse_versions(
        aws.eks.get_cluster_versions(cluster_type="eks", include_all=True).cluster_versions or []
    )
    today = dt.datetime.now(dt.UTC).date()
    version_found, warnings = eks.version_problems(
        cfg.cluster.version, cfg.cluster.support_type, offered, today, running_version
    )
    problems += version_found

    if cfg.dns is not None and not cfg.dns.create_zone:
        zone = cfg.dns.zone_name
        problem = dns.zone_problem(zone, caller.account_id, lambda: aws.route53.get_zone(name=zone, private_zone=False))
        problems += [problem] if problem else []

    image = ImageFacts(image_tag)  # Docker Hub: looked up by the component, with its token
    if cfg.helloworld.registry == "ecr":
        image, image_found = images.check_ecr(cfg, image_tag)
        problems += image_found

    addons: dict[str, str] = {}
    if not version_found:  # EKS answers add-on versions only for a Kubernetes version it offers
        addons, addon_found = eks.addon_versions(cfg.cluster)
        problems += addon_found

    running_db, database_found = database.check(cfg)
    problems += database_found
    problem, warning = network.database_zone_problem(running_db.zone, running_db.multi_az, zones, existing)
    problems += [problem] if problem else []
    warnings += [warning] if warning else []

    problems += log_groups.log_group_problems(
        cfg, cluster_running=running is not None, db_running=running_db.running_version
    )
    if problems:
        raise ConfigError(problems)
    for warning in warnings:
        pulumi.log.warn(warning)
    return AccountFacts(
        zones=zones,
        control_plane_zones=control_plane,
        creator_arn=creator,
        image=image,
        addon_versions=addons,
        database=running_db,
    )
