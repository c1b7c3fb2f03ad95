"""CloudWatch log groups that AWS services create on their own, and that outlive `pulumi destroy`.

EKS writes control-plane logs while the cluster is being deleted, so its service-linked role re-creates
/aws/eks/<cluster>/cluster after Pulumi deleted it (terraform-aws-eks #920, #2763); the next `pulumi up`
then fails with ResourceAlreadyExistsException. RDS creates /aws/rds/instance/<id>/<log> for each exported
log; stacks deployed before the program owned those groups leak them.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from infra import contract
from infra.ops.clients.aws import error_code
from infra.ops.errors import one_line


def rds_groups(identifier: str) -> list[str]:
    return [contract.rds_log_group(identifier, log) for log in contract.RDS_LOGS]


def existing(logs: Any, names: Sequence[str]) -> list[str]:
    """The names, of those given, that exist as log groups."""
    found = []
    for name in names:
        page = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
        if any(group["logGroupName"] == name for group in page):
            found.append(name)
    return found


@dataclass
class Deletion:
    deleted: list[str] = field(default_factory=list)
    absent: list[str] = field(default_factory=list)  # already gone: nothing to do
    failed: list[tuple[str, str]] = field(default_factory=list)  # (name, why not)


def delete(logs: Any, names: Sequence[str]) -> Deletion:
    """Delete each. Needs only logs:DeleteLogGroup: a group that is not there answers ResourceNotFoundException."""
    result = Deletion()
    for name in names:
        try:
            logs.delete_log_group(logGroupName=name)
        except ClientError as err:
            if error_code(err) == "ResourceNotFoundException":
                result.absent.append(name)
            else:
                result.failed.append((name, one_line(err)))
            continue
        result.deleted.append(name)
    return result


def delete_command(name: str) -> str:
    return f"aws logs delete-log-group --log-group-name {name}"
