"""Account check for log groups: ones AWS made itself where the stack will create its own.

Left from a teardown (delete it), or written by a running instance of a stack deployed before the program owned
them (adopt it).
"""

from __future__ import annotations

import pulumi_aws as aws

from infra import contract
from infra.config import StackConfig


def leftover_log_group_problem(name: str, region: str, reason: str) -> str:
    return (
        f"log group {name}: {reason}, so creating it would fail (ResourceAlreadyExistsException); delete it, then"
        f" `pulumi up` again: aws logs delete-log-group --region {region} --log-group-name {name}"
    )


def adopt_log_group_problem(cfg: StackConfig, log: str) -> str:
    """RDS made this log group before the stack owned it and writes to it all the time: adopt it into the stack
    (deleting it would race RDS re-creating it)."""
    group = contract.rds_log_group(contract.db_identifier(cfg.cluster_name), log)
    component = contract.DATABASE_COMPONENT
    parent = f"urn:pulumi:{cfg.stack}::{cfg.project}::{contract.DATABASE_TYPE}::{component}"
    return (
        f"log group {group}: created by RDS itself before this stack owned it; adopt it, then `pulumi up` again:"
        f" pulumi import -s {cfg.stack} --yes aws:cloudwatch/logGroup:LogGroup"
        f" {contract.log_group_resource(component, log)} {group} --parent '{component}={parent}'"
    )


def _ours(cfg: StackConfig, log_group: str) -> bool:
    """A group this stack created carries its project and stack tags; one AWS re-created has no tags."""
    tags = aws.cloudwatch.get_log_group(name=log_group).tags or {}
    return tags.get(contract.PROJECT_TAG) == cfg.project and tags.get(contract.STACK_TAG) == cfg.stack


def log_group_problems(cfg: StackConfig, cluster_running: bool, db_running: str | None) -> list[str]:
    """Problems for the EKS and RDS log groups the stack will create."""
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
            problems.append(adopt_log_group_problem(cfg, log))
        else:
            problems.append(leftover_log_group_problem(group, cfg.region, "left from a deleted database"))
    return problems
