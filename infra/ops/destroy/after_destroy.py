"""destroy's report rows after `pulumi destroy`: leftovers swept, the final DB snapshot, the cluster gone, and the
log groups EKS and RDS re-create deleted."""

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from infra import contract
from infra.ops.clients import rds_snapshots
from infra.ops.clients.aws import error_code
from infra.ops.destroy import log_groups, sweep
from infra.ops.destroy.target import AwsClients, Target
from infra.ops.errors import OpsError, one_line
from infra.ops.report import CheckResult, failed, passed
from infra.ops.waiting import Clock


def cluster_status(eks: Any, name: str) -> str | None:
    """The EKS cluster's status, or None once it no longer exists."""
    try:
        return str(eks.describe_cluster(name=name)["cluster"]["status"])
    except ClientError as err:
        if error_code(err) == "ResourceNotFoundException":
            return None
        raise


def snapshot_status(rds: Any, identifier: str) -> str | None:
    """The DB snapshot's status, or None when there is no such snapshot."""
    found = rds_snapshots.describe(rds, identifier)
    return found.status if found else None


def run_sweep(
    target: Target, clients: AwsClients, *, dry_run: bool, clock: Clock, say: Callable[[str], None]
) -> sweep.SweepResult | None:
    if not target.vpc_id:
        say("  no VPC in the stack's state or outputs: nothing to sweep")
        return None
    say(
        f"sweeping {target.vpc_id} for {contract.kubernetes_cluster_tag(target.cluster)}"
        + (" (dry run)" if dry_run else "")
    )
    result = sweep.sweep(clients.sweep, target.vpc_id, target.cluster, dry_run=dry_run, clock=clock, out=say)
    if not result.found:
        say("  nothing tagged for the cluster")
    return result


def leftovers_check(target: Target, clients: AwsClients) -> CheckResult:
    if not target.vpc_id:
        return CheckResult("leftovers", "WARN", "not checked: no VPC in the stack's state or outputs")
    left = sweep.find(clients.sweep, target.vpc_id, target.cluster)
    tag = contract.kubernetes_cluster_tag(target.cluster)
    if left:
        return failed("leftovers", f"still tagged {tag}: {sweep.describe(left)}")
    return passed("leftovers", f"nothing left tagged {tag} in {target.vpc_id}")


def snapshot_check(target: Target, rds: Any) -> CheckResult:
    name = "final DB snapshot"
    if target.snapshot is None:
        return CheckResult(name, "WARN", "not known: no database in the stack's state or outputs")
    if not target.snapshot:  # skipFinalSnapshot; ephemeral alone still keeps one
        return passed(name, f"skipped by config{' (ephemeral stack)' if target.ephemeral else ''}")
    try:
        status = snapshot_status(rds, target.snapshot)
    except Exception as err:  # e.g. no rds:Describe* permission: say so, do not fail the teardown
        return CheckResult(name, "WARN", f"{target.snapshot}: could not check ({one_line(err)})")
    if status is None:
        return failed(name, f"{target.snapshot} not found")
    return passed(name, f"{target.snapshot} ({status})")


def cluster_check(target: Target, eks: Any) -> CheckResult:
    name = "cluster and pods"
    status = cluster_status(eks, target.cluster)
    if status is None:
        return passed(name, f"EKS cluster {target.cluster} no longer exists, so none of its pods run")
    return failed(name, f"EKS cluster {target.cluster} still exists ({status})")


def _db_exists(rds: Any, identifier: str) -> bool:
    try:
        return bool(rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"])
    except ClientError as err:
        if error_code(err) == "DBInstanceNotFound":
            return False
        raise


def log_group_plan(target: Target) -> list[str]:
    return [contract.eks_log_group(target.cluster), *log_groups.rds_groups(target.db_identifier)]


def _still_there(lookup: Callable[[], bool]) -> bool | str:
    """Whether a log group's writer still exists; the error text when AWS would not say."""
    try:
        return lookup()
    except Exception as err:
        return one_line(err)


def log_groups_check(target: Target, clients: AwsClients) -> CheckResult:
    """Delete the log groups EKS and RDS made themselves, once what writes to them is gone.

    Runs even when AWS will not describe the cluster, the database or the log groups: after a successful
    pulumi destroy the writers are gone, and DeleteLogGroup alone says whether a group was there.
    """
    name = "log groups"
    eks_group = contract.eks_log_group(target.cluster)
    cluster_left = _still_there(lambda: cluster_status(clients.eks, target.cluster) is not None)
    db_left = _still_there(lambda: _db_exists(clients.rds, target.db_identifier))
    writers = {eks_group: cluster_left, **dict.fromkeys(log_groups.rds_groups(target.db_identifier), db_left)}
    unsure = sorted({left for left in writers.values() if isinstance(left, str)})
    try:
        candidates, listing_error = log_groups.existing(clients.logs, list(writers)), None
    except Exception as err:
        candidates, listing_error = list(writers), one_line(err)
    kept = [g for g in candidates if writers[g] is True]  # deleting now would only see it re-created
    result = log_groups.delete(clients.logs, [g for g in candidates if writers[g] is not True])
    if result.failed and listing_error is not None:  # neither listed nor deleted: whether they exist is unknown
        raise OpsError(f"could not list ({listing_error}) or delete ({_why_not(result)})")
    if kept and not result.failed:
        return CheckResult(name, "WARN", f"kept {', '.join(kept)}: the cluster or database still exists")
    note = f" (the cluster or database could not be looked up: {'; '.join(unsure)})" if unsure else ""
    return _deletion_row(target, result, note)


def log_groups_last_try(target: Target, clients: AwsClients) -> CheckResult:
    """After an interrupt: one short try at deleting the log groups, or the next `pulumi up` stops on them.
    pulumi destroy has succeeded, so their writers are gone: DeleteLogGroup alone, nothing looked up first."""
    return _deletion_row(target, log_groups.delete(clients.logs_last_try, log_group_plan(target)))


def _why_not(result: log_groups.Deletion) -> str:
    return "; ".join(f"{g}: {err}" for g, err in result.failed)


def _deletion_row(target: Target, result: log_groups.Deletion, note: str = "") -> CheckResult:
    name = "log groups"
    if result.failed:
        commands = " && ".join(log_groups.delete_command(g) for g, _ in result.failed)
        return failed(name, f"could not delete ({_why_not(result)}); the next `pulumi up` needs them gone: {commands}")
    if result.deleted:
        return passed(name, f"deleted {', '.join(result.deleted)} (re-created by AWS after Pulumi deleted them){note}")
    groups = f"{contract.eks_log_group(target.cluster)}, {contract.rds_log_group(target.db_identifier, '*')}"
    return passed(name, f"none left ({groups}){note}")
