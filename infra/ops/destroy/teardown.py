"""destroy's run: `pulumi destroy` (or its preview), then the steps after it, each a report row.

Once `pulumi destroy` has succeeded nothing can be undone, so every later step is a report row: an AWS error
there is a WARN naming the command to finish by hand, and the exit code says what is left (README, "Destroy").
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from infra import contract
from infra.ops.clients.stack import StackError
from infra.ops.destroy import after_destroy, log_groups, sweep
from infra.ops.destroy.target import AwsClients, Target
from infra.ops.errors import OpsError, one_line
from infra.ops.report import CheckResult, failed
from infra.ops.waiting import Clock

# Runs `pulumi destroy`; True means preview only.
Destroyer = Callable[[bool], None]

# Exit codes once pulumi destroy has succeeded (1: refused or failed before that, nothing more deleted).
NOTHING_LEFT = 0
SOMETHING_LEFT = 3  # a FAIL row: something the stack owned (or AWS made for it) is still there
NOT_CHECKED = 4  # no FAIL, but AWS did not answer for a row: what it covers may still be there
INTERRUPTED = 130


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
    found = after_destroy.run_sweep(target, clients, dry_run=True, clock=clock, say=say)
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
    groups = after_destroy.log_group_plan(target)
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
    swept = after_destroy.run_sweep(target, clients, dry_run=False, clock=clock, say=say)
    try:
        return after_destroy.leftovers_check(target, clients)
    except Exception:
        if swept is not None and swept.failed:  # known to be left, even if AWS will not list it again
            return failed("leftovers", f"could not delete {sweep.describe([item for item, _ in swept.failed])}")
        raise


def _steps_after_destroy(
    target: Target, clients: AwsClients, *, clock: Clock, say: Callable[[str], None]
) -> list[_Step]:
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
            lambda: after_destroy.snapshot_check(target, clients.rds),
            f"aws rds describe-db-snapshots {region} --db-snapshot-identifier {target.snapshot}",
        ),
        _Step(
            "cluster and pods",
            lambda: after_destroy.cluster_check(target, clients.eks),
            f"aws eks describe-cluster {region} --name {target.cluster}",
        ),
        _Step(
            "log groups",
            lambda: after_destroy.log_groups_check(target, clients),
            " && ".join(f"{log_groups.delete_command(g)} {region}" for g in after_destroy.log_group_plan(target)),
            last_try=lambda: after_destroy.log_groups_last_try(target, clients),
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
            after_destroy.run_sweep(target, clients, dry_run=False, clock=clock, say=say)
        except Exception as sweep_err:
            raise OpsError(
                f"pulumi destroy of stack {target.stack!r} stopped on a DependencyViolation and the sweep could not "
                f"run ({one_line(sweep_err)}); the destroy is not finished: run destroy again"
            ) from sweep_err
        destroyer(False)
    # The irreversible part is done: from here on every step is a row, whatever AWS answers.
    report = Teardown(rows=list(notices))
    for step in _steps_after_destroy(target, clients, clock=clock, say=say):
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
