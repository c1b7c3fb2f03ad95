"""`destroy`: refuse a protected stack, check credentials, pulumi destroy, sweep, clean up log groups, report."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from infra.ops import aws, log_groups, outputs, sweep
from infra.ops.checks import CheckResult, failed, passed
from infra.ops.errors import OpsError, one_line
from infra.ops.stack import StackError
from infra.ops.state import StateFacts
from infra.ops.waiting import Clock

# Runs `pulumi destroy`; True means preview only.
Destroyer = Callable[[bool], None]
NO_STATE = StateFacts(vpc_id=None, region=None, db_identifier=None, snapshot=None, protected=())


@dataclass(frozen=True)
class Target:
    """What destroy needs, read from the state and outputs BEFORE destroying (they vanish after)."""

    stack: str
    region: str
    cluster: str
    vpc_id: str | None
    snapshot: str | None  # "" means skipFinalSnapshot; None: not known (no database in state or outputs)
    ephemeral: bool
    db_identifier: str

    @classmethod
    def locate(
        cls,
        stack: str,
        project: str,
        out: Mapping[str, Any],
        facts: StateFacts = NO_STATE,
        default_region: str | None = None,
    ) -> "Target":
        # A stack whose `pulumi up` failed early has no outputs, but its state lists what was created;
        # an already destroyed one has neither, and still gets the cluster-named checks.
        region = out.get("region") or facts.region or default_region
        if not region:
            raise OpsError("the stack's region is unknown (no outputs, no state): set AWS_REGION to it")
        cluster = f"{project}-{stack}"  # the program's rule (config.StackConfig.cluster_name)
        snapshot = facts.snapshot
        if snapshot is None and out.get("dbFinalSnapshotIdentifier") is not None:
            snapshot = str(out["dbFinalSnapshotIdentifier"])
        return cls(
            stack=stack,
            region=str(region),
            cluster=cluster,
            vpc_id=facts.vpc_id or out.get("vpcId") or None,
            snapshot=snapshot,
            ephemeral=outputs.flag(out, "dbEphemeral"),
            db_identifier=str(facts.db_identifier or out.get("dbIdentifier") or cluster),  # the DB is named so too
        )


@dataclass(frozen=True)
class AwsClients:
    sweep: sweep.Clients
    eks: Any
    rds: Any
    logs: Any


def refuse_protected(stack: str, facts: StateFacts) -> None:
    """Pulumi >= 3.149 deletes everything else before failing on a protected resource: refuse up front instead."""
    if facts.protected:
        raise OpsError(
            f"stack {stack!r} has protected resources ({', '.join(facts.protected)}), so pulumi destroy would "
            f"delete everything else and then fail on them; nothing was destroyed. To remove them, review and apply: "
            f"pulumi config set --path database.ephemeral true -s {stack} && pulumi up -s {stack}"
        )


def confirmed(stack: str, ask: Callable[[str], str]) -> bool:
    """Typing the stack name (not just "y") guards against destroying the wrong stack."""
    try:
        answer = ask(f"Destroy stack {stack!r} and everything in it? Type the stack name to confirm: ")
    except EOFError:
        return False
    return answer.strip() == stack


def _sweep(
    target: Target, clients: AwsClients, *, dry_run: bool, clock: Clock, say: Callable[[str], None]
) -> sweep.SweepResult | None:
    if not target.vpc_id:
        say("  no VPC in the stack's state or outputs: nothing to sweep")
        return None
    say(f"sweeping {target.vpc_id} for {sweep.cluster_tag(target.cluster)}" + (" (dry run)" if dry_run else ""))
    result = sweep.sweep(clients.sweep, target.vpc_id, target.cluster, dry_run=dry_run, clock=clock, out=say)
    if not result.found:
        say("  nothing tagged for the cluster")
    return result


def leftovers_check(target: Target, clients: AwsClients) -> CheckResult:
    if not target.vpc_id:
        return CheckResult("leftovers", "WARN", "not checked: no VPC in the stack's state or outputs")
    left = sweep.find(clients.sweep, target.vpc_id, target.cluster)
    tag = sweep.cluster_tag(target.cluster)
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
        status = aws.snapshot_status(rds, target.snapshot)
    except Exception as err:  # e.g. no rds:Describe* permission: say so, do not fail the teardown
        return CheckResult(name, "WARN", f"{target.snapshot}: could not check ({one_line(err)})")
    if status is None:
        return failed(name, f"{target.snapshot} not found")
    return passed(name, f"{target.snapshot} ({status})")


def cluster_check(target: Target, eks: Any) -> CheckResult:
    name = "cluster and pods"
    status = aws.cluster_status(eks, target.cluster)
    if status is None:
        return passed(name, f"EKS cluster {target.cluster} no longer exists, so none of its pods run")
    return failed(name, f"EKS cluster {target.cluster} still exists ({status})")


def _db_exists(rds: Any, identifier: str) -> bool:
    try:
        return bool(rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"])
    except ClientError as err:
        if aws.error_code(err) == "DBInstanceNotFound":
            return False
        raise


def _log_group_plan(target: Target) -> list[str]:
    return [log_groups.eks_group(target.cluster), *log_groups.rds_groups(target.db_identifier)]


def log_groups_check(target: Target, clients: AwsClients) -> CheckResult:
    """Delete the log groups EKS and RDS made themselves, once what writes to them is gone."""
    name = "log groups"
    eks_group = log_groups.eks_group(target.cluster)
    writers_left = {eks_group: aws.cluster_status(clients.eks, target.cluster) is not None}
    db_left = _db_exists(clients.rds, target.db_identifier)
    writers_left.update(dict.fromkeys(log_groups.rds_groups(target.db_identifier), db_left))
    present = log_groups.existing(clients.logs, _log_group_plan(target))
    kept = [g for g in present if writers_left[g]]  # deleting now would only see it re-created
    deleted, not_deleted = log_groups.delete(clients.logs, [g for g in present if not writers_left[g]])
    if not_deleted:
        commands = " && ".join(log_groups.delete_command(g) for g, _ in not_deleted)
        why = "; ".join(f"{g}: {err}" for g, err in not_deleted)
        return failed(name, f"could not delete ({why}); the next `pulumi up` needs them gone: {commands}")
    if kept:
        return CheckResult(name, "WARN", f"kept {', '.join(kept)}: the cluster or database still exists")
    if deleted:
        return passed(name, f"deleted {', '.join(deleted)} (re-created by AWS after Pulumi deleted them)")
    return passed(name, f"none left ({eks_group}, /aws/rds/instance/{target.db_identifier}/*)")


def preview(
    target: Target, destroyer: Destroyer, clients: AwsClients, *, clock: Clock, say: Callable[[str], None]
) -> list[CheckResult]:
    """--dry-run: pulumi's destroy preview and the sweep's list; nothing is deleted."""
    say(f"dry run: previewing pulumi destroy of {target.stack!r} (nothing is deleted)")
    destroyer(True)
    found = _sweep(target, clients, dry_run=True, clock=clock, say=say)
    rows = []
    if found is not None:
        # While the stack is up, the helloworld Service's ELB is expected here; Pulumi removes it.
        detail = sweep.describe(found.found) or "nothing tagged for the cluster"
        rows.append(CheckResult("leftovers (now)", "INFO", detail))
    if target.snapshot is None:
        rows.append(CheckResult("final DB snapshot", "WARN", "not known: no database in the stack's state or outputs"))
    elif not target.snapshot:
        rows.append(CheckResult("final DB snapshot", "INFO", "will be skipped (skipFinalSnapshot)"))
    else:
        rows.append(CheckResult("final DB snapshot", "INFO", f"will be kept as {target.snapshot}"))
    groups = _log_group_plan(target)
    present = set(log_groups.existing(clients.logs, groups))
    listed = ", ".join(f"{g} ({'exists now' if g in present else 'absent now'})" for g in groups)
    rows.append(CheckResult("log groups", "INFO", f"after destroy, would delete any still there: {listed}"))
    return rows


def destroy(
    target: Target, destroyer: Destroyer, clients: AwsClients, *, clock: Clock, say: Callable[[str], None]
) -> list[CheckResult]:
    say(f"destroying stack {target.stack!r}")
    try:
        destroyer(False)
    except StackError as err:
        if not err.dependency_violation:
            raise
        say(f"{err}\nDependencyViolation: sweeping the cluster's leftovers, then retrying once")
        _sweep(target, clients, dry_run=False, clock=clock, say=say)
        destroyer(False)
    _sweep(target, clients, dry_run=False, clock=clock, say=say)
    # The destroy is done: a row that cannot be checked (a permission, throttling) is a WARN, never the end of the
    # report.
    return [
        _guarded("leftovers", lambda: leftovers_check(target, clients)),
        _guarded("final DB snapshot", lambda: snapshot_check(target, clients.rds)),
        _guarded("cluster and pods", lambda: cluster_check(target, clients.eks)),
        _guarded("log groups", lambda: log_groups_check(target, clients)),
    ]


def _guarded(name: str, check: Callable[[], CheckResult]) -> CheckResult:
    try:
        return check()
    except Exception as err:
        return CheckResult(name, "WARN", f"could not check: {one_line(err)}")


def require_confirmation(stack: str, *, yes: bool, interactive: bool, ask: Callable[[str], str]) -> None:
    if yes:
        return
    if not interactive:
        raise OpsError("refusing to destroy without --yes: no terminal to confirm on")
    if not confirmed(stack, ask):
        raise OpsError("not confirmed; nothing was destroyed")
