"""`snapshot`: a manual RDS snapshot of the stack's database, to restore into a new stack (`database.restoreFrom`)."""

import argparse
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from infra import contract
from infra.ops import live
from infra.ops.clients import outputs, rds_snapshots, stack
from infra.ops.clients.aws import ACCESS_DENIED, error_code
from infra.ops.errors import OpsError, one_line
from infra.ops.report import render
from infra.ops.waiting import Clock, wait_for

# CreateDBSnapshot's DBSnapshotIdentifier (botocore rds model): 1-255 letters, digits or hyphens, a letter first,
# no trailing hyphen, no two hyphens in a row.
_IDENTIFIER = re.compile(r"^[A-Za-z](?:[A-Za-z0-9]|-(?!-))*(?<!-)$")
_MAX_IDENTIFIER = 255
# Where the RDS DBSnapshotAvailable waiter gives up (botocore rds waiters-2.json): the snapshot will never be usable.
_DEAD = ("deleted", "deleting", "failed", "incompatible-restore", "incompatible-parameters")
POLL_SECONDS = 15.0
# A request whose answer did not arrive whole (a cut body is a ResponseParserError, not a BotoCoreError).
_NO_ANSWER = (BotoCoreError, ResponseParserError)


def run(args: argparse.Namespace) -> int:
    out = dict(stack.read_outputs(args.stack))
    if not out.get("region"):  # a destroyed stack has no outputs; its snapshots are still there
        region = live.env_region()
        if not region:
            raise OpsError(f"stack {args.stack!r} has no outputs (destroyed?): set AWS_REGION to its region")
        out["region"] = region
    live.check_credentials(out)
    rds = live.aws_client("rds", out)
    if args.list:  # a destroyed stack has no dbIdentifier output: the program's naming rule gives it
        instance = out.get("dbIdentifier") or contract.cluster_name(stack.project_name(), args.stack)
        found = rds_snapshots.available_snapshots(rds, str(instance))
        rows = [(s.identifier, f"{s.created:%Y-%m-%d %H:%M}" if s.created else "") for s in found]
        live.say(render(("snapshot", "created (UTC)"), rows))
        return 0
    take_snapshot(
        out,
        args.stack,
        rds,
        project=stack.project_name(),
        wait=args.wait,
        timeout=args.timeout,
        clock=live.REAL_CLOCK,
        say=live.say,
    )
    return 0


def snapshot_name(instance: str, at: datetime) -> str:
    """`<instance>-<UTC yyyymmdd-hhmmss>`, e.g. infra-foo-20261127-221530."""
    name = f"{instance}-{at.astimezone(UTC):%Y%m%d-%H%M%S}"
    if len(name) > _MAX_IDENTIFIER or not _IDENTIFIER.match(name):
        raise OpsError(f"{name!r} is not a valid DB snapshot identifier (instance identifier {instance!r})")
    return name


def restore_line(identifier: str) -> str:
    """What to paste so a new stack starts from this snapshot."""
    return f"pulumi config set --path database.restoreFrom.snapshot {identifier} -s NEWSTACK"


def _explain(err: ClientError, instance: str, stack: str) -> OpsError:
    """One line naming the fix for what an operator can meet; anything else keeps AWS's own words."""
    code = error_code(err)
    message = str(err.response.get("Error", {}).get("Message", "")).strip()
    if code == "DBInstanceNotFound":
        why = f"no RDS instance {instance} in this account and region: deploy it (`make up STACK={stack}`)"
        why += " or use the credentials and region of the account that holds it"
    elif code == "SnapshotQuotaExceeded":
        why = "the account's manual DB snapshot quota is reached: delete snapshots you no longer need"
        why += " (`aws rds delete-db-snapshot --db-snapshot-identifier ID`) or raise the quota in Service Quotas"
    elif code in ACCESS_DENIED:
        why = "access denied: the AWS identity needs rds:CreateDBSnapshot, rds:AddTagsToResource and"
        why += " rds:DescribeDBSnapshots on the instance and its snapshots"
    elif code == "InvalidDBInstanceState":
        why = f"instance {instance} is busy (RDS snapshots only an available instance): wait until it is, then retry"
    elif code == "DBSnapshotAlreadyExists":
        why = "a snapshot with this name already exists (taken this very second): retry"
    else:
        why = f"{code}: {message}" if message else code
    return OpsError(f"snapshot of {instance} failed: {why}")


def create(
    rds: Any, instance: str, name: str, tags: Mapping[str, str], stack: str, *, since: datetime
) -> rds_snapshots.Snapshot:
    """CreateDBSnapshot. When its answer is lost (botocore's retry then meets DBSnapshotAlreadyExists, or the body is
    cut), RDS is asked for the name: a snapshot of this instance taken `since` this run started is this run's."""
    try:
        found = rds.create_db_snapshot(
            DBSnapshotIdentifier=name,
            DBInstanceIdentifier=instance,
            Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
        )["DBSnapshot"]
    except (ClientError, *_NO_ANSWER) as err:
        if isinstance(err, ClientError) and error_code(err) != "DBSnapshotAlreadyExists":
            raise _explain(err, instance, stack) from err
        return _taken_by_this_run(rds, instance, name, since, err, stack)
    return rds_snapshots.from_api(found)


def _taken_by_this_run(
    rds: Any, instance: str, name: str, since: datetime, err: Exception, stack: str
) -> rds_snapshots.Snapshot:
    try:
        found = rds_snapshots.describe(rds, name)
    except (ClientError, *_NO_ANSWER) as describe_err:
        raise OpsError(
            f"snapshot of {instance}: the answer to CreateDBSnapshot was lost ({one_line(err)}) and RDS could not be "
            f"asked whether {name} exists ({one_line(describe_err)}): check with "
            f"`aws rds describe-db-snapshots --db-snapshot-identifier {name}`"
        ) from err
    # The name carries this run's second: one of another instance, or from before this run, is not this run's.
    if (
        found
        and found.instance == instance
        and (found.created is None or found.created >= since.replace(microsecond=0))
    ):
        return found
    if isinstance(err, ClientError):
        raise _explain(err, instance, stack) from err
    raise OpsError(f"snapshot of {instance} failed: {one_line(err)}; RDS has no snapshot {name} of it: retry") from err


def wait_available(
    rds: Any, identifier: str, *, timeout: float, clock: Clock, say: Callable[[str], None]
) -> rds_snapshots.Snapshot:
    """Poll until the snapshot is available; one line when it dies or time runs out (it goes on in RDS)."""
    last: list[rds_snapshots.Snapshot | None] = [None]

    def probe() -> tuple[bool, str]:
        last[0] = found = rds_snapshots.describe(rds, identifier)
        if found is None:
            return True, "gone"
        return found.status == "available" or found.status in _DEAD, found.describe()

    try:
        wait_for(f"snapshot {identifier}", probe, timeout=timeout, interval=POLL_SECONDS, clock=clock, out=say)
    except OpsError as err:
        check = f"aws rds describe-db-snapshots --db-snapshot-identifier {identifier}"
        raise OpsError(f"{err}; RDS keeps working on it: check with `{check}`") from err
    found = last[0]
    if found is None or found.status != "available":
        state = found.status if found else "gone (deleted)"
        raise OpsError(
            f"snapshot {identifier} is {state}, not available: see `aws rds describe-events"
            f" --source-type db-snapshot --source-identifier {identifier}`, then take a new one"
        )
    return found


def take_snapshot(
    out: Mapping[str, Any],
    stack: str,
    rds: Any,
    *,
    project: str,
    wait: bool,
    timeout: float,
    clock: Clock,
    say: Callable[[str], None],
    at: datetime | None = None,
) -> str:
    """Start a manual snapshot of the stack's instance (tagged with project and stack); return its identifier."""
    instance = outputs.text(out, "dbIdentifier")
    when = at or datetime.now(UTC)
    name = snapshot_name(instance, when)
    tags = contract.stack_tags(project, stack)  # as the program tags what it creates
    started = create(rds, instance, name, tags, stack, since=when)
    say(f"snapshot {name} of {instance}: {started.describe()}")
    if wait:
        wait_available(rds, name, timeout=timeout, clock=clock, say=say)
    else:
        say(
            f"not waiting; it can be restored once available: `aws rds wait db-snapshot-available"
            f" --db-snapshot-identifier {name}`"
        )
    say(f"snapshot id: {name}")
    say(f"to start a new stack from it: {restore_line(name)}")
    return name
