"""destroy's checks before anything is deleted: no protected resource or pending operation in the state, the AWS
credentials work and see the stack's VPC, and the operator confirms with the stack's name."""

from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from infra.ops.clients import aws
from infra.ops.clients.aws import error_code
from infra.ops.clients.state import StateFacts
from infra.ops.errors import OpsError, one_line


def check_access(sts: Any, ec2: Any, *, stack: str, vpc_id: str | None, region: str) -> str:
    """Who is calling (`ARN (account N)`); raises OpsError, saying nothing was destroyed, if destroy cannot work."""
    try:
        identity = str(aws.caller_identity(sts))
    except aws.CredentialsError as err:  # expired SSO token, no credentials, expired keys...
        fix = f": {err.fix}" if err.fix else ""
        raise OpsError(f"{err.problem}; nothing was destroyed{fix}") from err
    if not vpc_id:
        return identity
    try:
        ec2.describe_vpcs(VpcIds=[vpc_id])
    except ClientError as err:
        if error_code(err) == "InvalidVpcID.NotFound":
            raise OpsError(
                f"VPC {vpc_id} of stack {stack!r} is not visible to {identity} in {region}; nothing was destroyed: "
                f"use the stack's account and region (AWS_PROFILE, AWS_REGION), or if the VPC was deleted outside "
                f"Pulumi, run `pulumi refresh -s {stack}` first"
            ) from err
        raise OpsError(f"cannot look up VPC {vpc_id} ({one_line(err)}); nothing was destroyed") from err
    except BotoCoreError as err:
        raise OpsError(f"cannot look up VPC {vpc_id} ({one_line(err)}); nothing was destroyed") from err
    return identity


def refuse_protected(stack: str, facts: StateFacts) -> None:
    """Pulumi >= 3.149 deletes everything else before failing on a protected resource: refuse up front instead."""
    if facts.protected:
        raise OpsError(
            f"stack {stack!r} has protected resources ({', '.join(facts.protected)}), so pulumi destroy would "
            f"delete everything else and then fail on them; nothing was destroyed. To remove them, review and apply: "
            f"pulumi config set --path database.ephemeral true -s {stack} && make up STACK={stack}"
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


def confirmed(stack: str, ask: Callable[[str], str]) -> bool:
    """Typing the stack name (not just "y") guards against destroying the wrong stack."""
    try:
        answer = ask(f"Destroy stack {stack!r} and everything in it? Type the stack name to confirm: ")
    except EOFError:
        return False
    return answer.strip() == stack


def require_confirmation(stack: str, *, yes: bool, interactive: bool, ask: Callable[[str], str]) -> None:
    if yes:
        return
    if not interactive:
        raise OpsError("refusing to destroy without --yes: no terminal to confirm on")
    if not confirmed(stack, ask):
        raise OpsError("not confirmed; nothing was destroyed")
