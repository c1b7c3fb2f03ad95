"""Before anything is deleted: the AWS credentials work, and they see the stack's VPC."""

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from infra.ops import aws
from infra.ops.aws import error_code
from infra.ops.errors import OpsError, one_line


def check(sts: Any, ec2: Any, *, stack: str, vpc_id: str | None, region: str) -> str:
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
