"""`destroy`: pulumi destroy, sweep what Kubernetes left in the VPC, then report what is gone."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from infra.ops import aws, outputs, sweep
from infra.ops.checks import CheckResult, failed, passed
from infra.ops.errors import OpsError, one_line
from infra.ops.stack import StackError
from infra.ops.waiting import Clock

# Runs `pulumi destroy`; True means preview only.
Destroyer = Callable[[bool], None]


@dataclass(frozen=True)
class Target:
    """What destroy needs, read from the outputs BEFORE destroying (they vanish after)."""

    stack: str
    region: str
    cluster: str | None
    vpc_id: str | None
    snapshot: str
    ephemeral: bool

    @classmethod
    def from_outputs(cls, stack: str, out: Mapping[str, Any], default_region: str | None = None) -> "Target":
        # A stack whose `pulumi up` failed early may have no outputs; it can still be destroyed.
        region = out.get("region") or default_region
        if not region:
            raise OpsError("stack output 'region' is missing: set AWS_REGION to the stack's region")
        return cls(
            stack=stack,
            region=str(region),
            cluster=out.get("clusterName") or None,
            vpc_id=out.get("vpcId") or None,
            snapshot=str(out.get("dbFinalSnapshotIdentifier") or ""),
            ephemeral=outputs.flag(out, "dbEphemeral"),
        )


@dataclass(frozen=True)
class AwsClients:
    sweep: sweep.Clients
    eks: Any
    rds: Any


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
    if not (target.cluster and target.vpc_id):
        say("  no clusterName/vpcId outputs: nothing to sweep")
        return None
    say(f"sweeping {target.vpc_id} for {sweep.cluster_tag(target.cluster)}" + (" (dry run)" if dry_run else ""))
    result = sweep.sweep(clients.sweep, target.vpc_id, target.cluster, dry_run=dry_run, clock=clock, out=say)
    if not result.found:
        say("  nothing tagged for the cluster")
    return result


def leftovers_check(target: Target, clients: AwsClients) -> CheckResult:
    if not (target.cluster and target.vpc_id):
        return CheckResult("leftovers", "WARN", "not checked: no clusterName/vpcId outputs")
    left = sweep.find(clients.sweep, target.vpc_id, target.cluster)
    tag = sweep.cluster_tag(target.cluster)
    if left:
        return failed("leftovers", f"still tagged {tag}: {sweep.describe(left)}")
    return passed("leftovers", f"nothing left tagged {tag} in {target.vpc_id}")


def snapshot_check(target: Target, rds: Any) -> CheckResult:
    name = "final DB snapshot"
    if not target.snapshot:  # "" means skipFinalSnapshot; ephemeral alone still keeps one
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
    if not target.cluster:
        return CheckResult(name, "WARN", "not checked: no clusterName output")
    status = aws.cluster_status(eks, target.cluster)
    if status is None:
        return passed(name, f"EKS cluster {target.cluster} no longer exists, so none of its pods run")
    return failed(name, f"EKS cluster {target.cluster} still exists ({status})")


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
    if not target.snapshot:
        rows.append(CheckResult("final DB snapshot", "INFO", "will be skipped (skipFinalSnapshot)"))
    else:
        rows.append(CheckResult("final DB snapshot", "INFO", f"will be kept as {target.snapshot}"))
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
    return [
        leftovers_check(target, clients),
        snapshot_check(target, clients.rds),
        cluster_check(target, clients.eks),
    ]


def require_confirmation(stack: str, *, yes: bool, interactive: bool, ask: Callable[[str], str]) -> None:
    if yes:
        return
    if not interactive:
        raise OpsError("refusing to destroy without --yes: no terminal to confirm on")
    if not confirmed(stack, ask):
        raise OpsError("not confirmed; nothing was destroyed")
