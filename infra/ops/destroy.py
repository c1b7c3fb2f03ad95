"""`destroy`: refuse a protected or half-recorded stack, check credentials, pulumi destroy, sweep, clean up log
groups, report.

Once `pulumi destroy` has succeeded nothing can be undone, so every later step is a report row: an AWS error
there is a WARN naming the command to finish by hand, and the exit code says what is left (README, "Destroy").
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from infra import contract
from infra.ops import aws, log_groups, outputs, sweep
from infra.ops.checks import CheckResult, failed, passed
from infra.ops.errors import OpsError, one_line
from infra.ops.stack import StackError
from infra.ops.state import StateFacts, ValidationRecord
from infra.ops.waiting import Clock

# Runs `pulumi destroy`; True means preview only.
Destroyer = Callable[[bool], None]
NO_STATE = StateFacts(vpc_id=None, region=None, db_identifier=None, snapshot=None, protected=())

# Exit codes once pulumi destroy has succeeded (1: refused or failed before that, nothing more deleted).
NOTHING_LEFT = 0
SOMETHING_LEFT = 3  # a FAIL row: something the stack owned (or AWS made for it) is still there
NOT_CHECKED = 4  # no FAIL, but AWS did not answer for a row: what it covers may still be there
INTERRUPTED = 130


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
    validation_records: tuple[ValidationRecord, ...] = ()

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
        cluster = contract.cluster_name(project, stack)  # the program's own rule, for any form of the name
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
            validation_records=facts.validation_records,
        )


@dataclass(frozen=True)
class AwsClients:
    sweep: sweep.Clients
    eks: Any
    rds: Any
    logs: Any
    acm: Any
    logs_last_try: Any  # logs with aws.ONE_SHORT_TRY: after an interrupt it must not hold the exit for long


def refuse_protected(stack: str, facts: StateFacts) -> None:
    """Pulumi >= 3.149 deletes everything else before failing on a protected resource: refuse up front instead."""
    if facts.protected:
        raise OpsError(
            f"stack {stack!r} has protected resources ({', '.join(facts.protected)}), so pulumi destroy would "
            f"delete everything else and then fail on them; nothing was destroyed. To remove them, review and apply: "
            f"pulumi config set --path database.ephemeral true -s {stack} && pulumi up -s {stack}"
        )


def refuse_pending(stack: str, facts: StateFacts) -> None:
    """Pulumi only warns about pending operations and goes on; what an interrupted create made would stay behind."""
    if not facts.pending:
        return
    listed = "; ".join(f"{op.resource.label} (interrupted while {op.kind})" for op in facts.pending)
    fix = (
        f"check each in AWS, then run `pulumi refresh -s {stack}`: it clears pending updates and deletes, and asks "
        "(in a terminal) what to do with each interrupted create"
    )
    creates = [op.resource.urn for op in facts.pending if op.kind == "creating"]
    if creates:
        imports = " ".join(f"{urn} <ID>" for urn in creates)
        fix += (
            f"; without a terminal, adopt a create that AWS has with `pulumi refresh -s {stack} --yes "
            f"--import-pending-creates {imports}` (ID: its id in AWS), or drop creates AWS does not have with "
            f"`pulumi refresh -s {stack} --yes --clear-pending-creates`"
        )
    raise OpsError(
        f"stack {stack!r} has {len(facts.pending)} pending operation(s) from an interrupted pulumi run: {listed}. "
        "pulumi destroy would warn and go on, leaving what they made in AWS outside the state; nothing was "
        f"destroyed. {fix}; then run destroy again"
    )


def _dns_name(name: str) -> str:
    return name.rstrip(".").lower()


def _also_validated_by(acm: Any, record: ValidationRecord) -> list[tuple[str, str | None, str]]:
    """Other certificates in the region whose DNS validation is this record: (ARN, their stack tag, status)."""
    found = []
    for page in acm.get_paginator("list_certificates").paginate():
        for summary in page["CertificateSummaryList"]:
            arn = summary["CertificateArn"]
            names = {summary.get("DomainName", ""), *summary.get("SubjectAlternativeNameSummaries", [])}
            if arn == record.certificate_arn or record.domain.lower() not in {n.lower() for n in names}:
                continue
            cert = acm.describe_certificate(CertificateArn=arn)["Certificate"]
            options = cert.get("DomainValidationOptions", [])
            if any(_dns_name(o.get("ResourceRecord", {}).get("Name", "")) == record.name for o in options):
                tags = acm.list_tags_for_certificate(CertificateArn=arn).get("Tags", [])
                stack = next((t.get("Value") for t in tags if t["Key"] == contract.STACK_TAG), None)
                found.append((arn, stack, str(cert.get("Status", "unknown status"))))
    return found


def _restore_command(stack: str) -> str:
    # refresh first: the survivor's state still lists the record, so a bare `up` would see nothing to do
    return f"`pulumi refresh -s {stack} --yes && pulumi up -s {stack}`"


def validation_record_rows(target: Target, acm: Any) -> list[CheckResult]:
    """Before the destroy: whether deleting the stack's certificate validation record breaks another certificate.

    ACM uses one validation record per name and account, so after a move both stacks' certificates rely on it
    and the old stack's destroy deletes it. Only certificates in the stack's region are listed.
    """
    name = "validation record"
    rows = []
    for record in target.validation_records:
        try:
            others = _also_validated_by(acm, record)
        except Exception as err:  # e.g. no acm:ListCertificates: say what to do if there is another stack
            rows.append(
                CheckResult(
                    name,
                    "WARN",
                    f"{record.name}: could not check whether another certificate validates with it "
                    f"({one_line(err)}); pulumi destroy deletes it, so if another stack serves {record.domain} "
                    f"run {_restore_command('<that stack>')} after the destroy",
                )
            )
            continue
        if not others:
            detail = f"{record.name} goes with the stack: no other certificate in {target.region} validates with it"
            rows.append(CheckResult(name, "INFO", detail))
        for arn, stack, status in others:
            survivor = stack or "<its stack>"
            rows.append(
                CheckResult(
                    name,
                    "WARN",
                    f"{record.name} also validates {arn} (stack {stack or 'unknown: no stack tag'}, {status}); "
                    f"pulumi destroy deletes it and that certificate cannot renew until {_restore_command(survivor)} "
                    "puts it back",
                )
            )
    return rows


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
    cluster_left = _still_there(lambda: aws.cluster_status(clients.eks, target.cluster) is not None)
    db_left = _still_there(lambda: _db_exists(clients.rds, target.db_identifier))
    writers = {eks_group: cluster_left, **dict.fromkeys(log_groups.rds_groups(target.db_identifier), db_left)}
    unsure = sorted({left for left in writers.values() if isinstance(left, str)})
    try:
        candidates, listed = log_groups.existing(clients.logs, list(writers)), True
    except Exception:
        candidates, listed = list(writers), False
    kept = [g for g in candidates if writers[g] is True]  # deleting now would only see it re-created
    result = log_groups.delete(clients.logs, [g for g in candidates if writers[g] is not True])
    if result.failed and not listed:  # neither listed nor deleted: whether they exist is unknown
        raise OpsError(f"could not list or delete ({_why_not(result)})")
    if kept and not result.failed:
        return CheckResult(name, "WARN", f"kept {', '.join(kept)}: the cluster or database still exists")
    note = f" (the cluster or database could not be looked up: {'; '.join(unsure)})" if unsure else ""
    return _deletion_row(target, result, note)


def log_groups_last_try(target: Target, clients: AwsClients) -> CheckResult:
    """After an interrupt: one short try at deleting the log groups, or the next `pulumi up` stops on them.
    pulumi destroy has succeeded, so their writers are gone: DeleteLogGroup alone, nothing looked up first."""
    return _deletion_row(target, log_groups.delete(clients.logs_last_try, _log_group_plan(target)))


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


def preview(
    target: Target,
    destroyer: Destroyer,
    clients: AwsClients,
    *,
    notices: list[CheckResult],
    clock: Clock,
    say: Callable[[str], None],
) -> list[CheckResult]:
    """--dry-run: pulumi's destroy preview, the sweep's list and `notices` (validation_record_rows); nothing is
    deleted."""
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
    return [*rows, *notices]


@dataclass
class Teardown:
    """The report of a destroy that ran: its rows, and what the exit code needs to know besides them."""

    rows: list[CheckResult] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)  # rows AWS did not answer for
    interrupted: bool = False

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return INTERRUPTED
        if any(not row.ok for row in self.rows):
            return SOMETHING_LEFT
        return NOT_CHECKED if self.unchecked else NOTHING_LEFT

    @property
    def summary(self) -> str | None:
        """The one error line for a non-zero exit: the destroy itself succeeded in every case."""
        done = "pulumi destroy succeeded"
        if self.interrupted:
            return f"{done}, then was interrupted: finish the rows that say so by hand (their commands)"
        if failing := [r.name for r in self.rows if not r.ok]:
            return f"{done}, but teardown is incomplete: {', '.join(failing)}"
        if self.unchecked:
            return f"{done}, but AWS did not answer for {', '.join(self.unchecked)}: check by hand (their commands)"
        return None


@dataclass(frozen=True)
class _Step:
    name: str
    run: Callable[[], CheckResult]
    by_hand: str  # the command that finishes (or checks) the step when it cannot run
    last_try: Callable[[], CheckResult] | None = None  # what still runs after an interrupt


def _leftovers_step(target: Target, clients: AwsClients, *, clock: Clock, say: Callable[[str], None]) -> CheckResult:
    swept = _sweep(target, clients, dry_run=False, clock=clock, say=say)
    try:
        return leftovers_check(target, clients)
    except Exception:
        if swept is not None and swept.failed:  # known to be left, even if AWS will not list it again
            return failed("leftovers", f"could not delete {sweep.describe([item for item, _ in swept.failed])}")
        raise


def _after_destroy(target: Target, clients: AwsClients, *, clock: Clock, say: Callable[[str], None]) -> list[_Step]:
    tag = contract.kubernetes_cluster_tag(target.cluster)
    region = f"--region {target.region}"
    return [
        _Step(
            "leftovers",
            lambda: _leftovers_step(target, clients, clock=clock, say=say),
            f"aws resourcegroupstaggingapi get-resources {region} --tag-filters Key={tag},Values=owned "
            "(delete each one listed)",
        ),
        _Step(
            "final DB snapshot",
            lambda: snapshot_check(target, clients.rds),
            f"aws rds describe-db-snapshots {region} --db-snapshot-identifier {target.snapshot}",
        ),
        _Step(
            "cluster and pods",
            lambda: cluster_check(target, clients.eks),
            f"aws eks describe-cluster {region} --name {target.cluster}",
        ),
        _Step(
            "log groups",
            lambda: log_groups_check(target, clients),
            " && ".join(f"{log_groups.delete_command(g)} {region}" for g in _log_group_plan(target)),
            last_try=lambda: log_groups_last_try(target, clients),
        ),
    ]


def destroy(
    target: Target,
    destroyer: Destroyer,
    clients: AwsClients,
    *,
    notices: list[CheckResult],
    clock: Clock,
    say: Callable[[str], None],
) -> Teardown:
    """pulumi destroy (swept and retried once after a DependencyViolation), then the steps that follow it.

    `notices` (validation_record_rows, shown before the confirmation) lead the report.
    """
    say(f"destroying stack {target.stack!r}")
    try:
        destroyer(False)
    except StackError as err:
        if not err.dependency_violation:
            raise
        say(f"{err}\nDependencyViolation: sweeping the cluster's leftovers, then retrying once")
        try:
            _sweep(target, clients, dry_run=False, clock=clock, say=say)
        except Exception as sweep_err:
            raise OpsError(
                f"pulumi destroy of stack {target.stack!r} stopped on a DependencyViolation and the sweep could not "
                f"run ({one_line(sweep_err)}); the destroy is not finished: run destroy again"
            ) from sweep_err
        destroyer(False)
    # The irreversible part is done: from here on every step is a row, whatever AWS answers.
    report = Teardown(rows=list(notices))
    for step in _after_destroy(target, clients, clock=clock, say=say):
        row = None if report.interrupted else _outcome(step, step.run, report)
        if report.interrupted and step.last_try:  # interrupted before or in this step, which still runs once
            say(f"interrupted: one short try at the {step.name} step")
            row = _outcome(step, step.last_try, report)
        report.rows.append(row or CheckResult(step.name, "WARN", f"not run (interrupted); by hand: {step.by_hand}"))
    return report


def _outcome(step: _Step, run: Callable[[], CheckResult], report: Teardown) -> CheckResult:
    """run()'s row; an error or an interrupt is a WARN row naming the command to finish by hand."""
    try:
        return run()
    except KeyboardInterrupt:  # Ctrl-C, SIGTERM, SIGHUP: stop, but still say what is done and what is not
        report.interrupted = True
        return CheckResult(step.name, "WARN", f"interrupted; by hand: {step.by_hand}")
    except Exception as err:  # Throttling, AccessDenied...: the destroy stays done, the row says what to do
        report.unchecked.append(step.name)
        return CheckResult(step.name, "WARN", f"could not check: {one_line(err)}; by hand: {step.by_hand}")


def require_confirmation(stack: str, *, yes: bool, interactive: bool, ask: Callable[[str], str]) -> None:
    if yes:
        return
    if not interactive:
        raise OpsError("refusing to destroy without --yes: no terminal to confirm on")
    if not confirmed(stack, ask):
        raise OpsError("not confirmed; nothing was destroyed")
