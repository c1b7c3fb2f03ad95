"""Account checks for the database: the running instance's upgrade path, and the data a new instance starts from.

Pure checks over what RDS answers (so tests give them RDS's answers, refusals included), and the lookups.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

from infra import contract
from infra.account.aws_session import provider_session
from infra.account.deadlines import WARN_DAYS
from infra.config import StackConfig

# The provider's texts when a snapshot lookup finds nothing: by snapshot id (DBSnapshotNotFoundFault) and by
# instance id (an empty list).
SNAPSHOT_NOT_FOUND = ("couldn't find resource", "Your query returned no results")


@dataclass(frozen=True)
class RunningDatabase:
    """The stack's instance as RDS reports it now, and the snapshot a new one would start from."""

    running_version: str | None  # None: the instance does not exist yet
    major_upgrade: bool  # the config asks for a newer PostgreSQL major than the instance runs
    restore_snapshot: str | None  # the snapshot a NEW instance starts from (restoreFrom snapshot/stack)
    zone: str | None = None  # the running instance's AZ (its primary)
    multi_az: bool = False  # the running instance has a standby, in an AZ the provider does not report


def _parts(version: str) -> tuple[int, ...]:
    return tuple(int(n) for n in version.split("."))


def postgres_problem(wanted: str, running: str, major_targets: list[str], default_minor: str | None) -> str | None:
    """A downgrade, a major jump RDS has no one-step path for (DescribeDBEngineVersions ValidUpgradeTarget), or a
    bare major whose default minor is not one of those targets (RDS would refuse the modification)."""
    key = f"infra:database.engineVersion: {wanted}"
    want, have = _parts(wanted), _parts(running)
    if want[0] < have[0] or (want[0] == have[0] and want < have[: len(want)]):
        return f"{key} — the database runs {running}; RDS never downgrades: allowed: {have[0]} or newer"
    if want[0] == have[0]:
        return None
    same_major = sorted((t for t in major_targets if _parts(t)[0] == want[0]), key=_parts)
    if not same_major:
        majors = ", ".join(str(m) for m in sorted({_parts(t)[0] for t in major_targets})) or "none listed"
        return f"{key} — the database runs {running}; RDS upgrades it in one step only to major {majors}"
    target = wanted if len(want) > 1 else default_minor
    if target is not None and target not in same_major:
        return (
            f"{key} — RDS would move {running} to {target}, which is not an upgrade target of {running}; allowed:"
            f" one of {', '.join(same_major)}"
        )
    return None


def restore_version_problem(wanted: str, source: str, source_version: str) -> str | None:
    """RestoreDBInstanceFromDBSnapshot and RestoreDBInstanceToPointInTime take no engine version: the instance comes
    up at the data's own version, so a config on another major would give it a parameter group of the wrong family
    (refused by RDS), and a pinned minor older than the data's would be refused as a downgrade on the next `up`."""
    want, have = _parts(wanted), _parts(source_version)
    key = f"infra:database.engineVersion: {wanted}"
    if want[0] != have[0]:
        return (
            f"{key} — {'older' if want < have else 'newer'} than {source} (PostgreSQL {source_version}), and RDS"
            f" restores data at its own version (a postgres{want[0]} parameter group does not fit it); allowed:"
            f" {have[0]}: restore at {have[0]}, then upgrade in place with engineVersion {want[0]} in a later `up`"
        )
    if want < have[: len(want)]:
        return f"{key} — older than {source} (PostgreSQL {source_version}); allowed: {have[0]} or {source_version}"
    return None


def restore_problems(key: str, cfg: StackConfig, snapshot: Any) -> list[str]:
    """A snapshot RDS could not restore into this stack's instance."""
    d, sid, problems = cfg.database, snapshot.id, []
    if snapshot.status != "available":
        problems.append(f"{key}: snapshot {sid} is {snapshot.status}, not available yet; wait for it, then `up` again")
    problem = restore_version_problem(d.engine_version, f"{key}'s snapshot {sid}", str(snapshot.engine_version))
    problems += [problem] if problem else []
    if snapshot.allocated_storage and snapshot.allocated_storage > d.storage_gb:
        problems.append(
            f"infra:database.storageGb: {d.storage_gb} — smaller than {key}'s snapshot {sid}"
            f" ({snapshot.allocated_storage} GB; RDS cannot shrink storage); allowed:"
            f" {snapshot.allocated_storage} or more"
        )
    if snapshot.encrypted is False:
        problems.append(
            f"{key}: snapshot {sid} is not encrypted and this stack's storage is; copy it encrypted first:"
            f" aws rds copy-db-snapshot --source-db-snapshot-identifier {sid}"
            f" --target-db-snapshot-identifier {sid}-encrypted --kms-key-id alias/aws/rds"
        )
    return problems


def find_snapshot(key: str, what: str, lookup: Callable[[], Any]) -> tuple[Any | None, str | None]:
    try:
        return lookup(), None
    except Exception as err:
        if not any(text in str(err) for text in SNAPSHOT_NOT_FOUND):
            raise
        return None, f"{key}: no DB snapshot {what} — allowed: a snapshot that exists in this account and region"


def _instance_exists(identifier: str) -> bool:
    found = aws.rds.get_instances(filters=[{"name": "db-instance-id", "values": [identifier]}])
    return identifier in (found.instance_identifiers or [])


def _restore(cfg: StackConfig) -> tuple[str | None, list[str]]:
    r = cfg.database.restore_from
    if r is None:
        return None, []
    if r.point_in_time is not None:
        source = r.point_in_time.source
        if _instance_exists(source):
            version = str(aws.rds.get_instance(db_instance_identifier=source).engine_version)
            problem = restore_version_problem(
                cfg.database.engine_version, f"infra:database.restoreFrom.pointInTime.source {source}", version
            )
            return None, [problem] if problem else []
        return None, [
            f"infra:database.restoreFrom.pointInTime.source: {source} — no such DB instance in this account and"
            " region (a deleted instance's data: restore its final snapshot with restoreFrom.snapshot instead)"
        ]
    if r.stack:
        key, source = "infra:database.restoreFrom.stack", contract.cluster_name(cfg.project, r.stack)
        snapshot, problem = find_snapshot(
            f"{key}: {r.stack}",
            f"of instance {source} (take one: make db-snapshot STACK={r.stack} ARGS=--wait)",
            lambda: aws.rds.get_snapshot(db_instance_identifier=source, most_recent=True),
        )
    else:
        key, sid = "infra:database.restoreFrom.snapshot", str(r.snapshot)
        # Automated snapshots (rds:<instance>-<time>) are found only when asked for by type.
        kind = "automated" if sid.startswith("rds:") or ":snapshot:rds:" in sid else None
        snapshot, problem = find_snapshot(
            f"{key}: {sid}",
            "of that name",
            lambda: aws.rds.get_snapshot(db_snapshot_identifier=sid, snapshot_type=kind),
        )
    if snapshot is None:
        return None, [problem] if problem else []
    return str(snapshot.db_snapshot_arn or snapshot.id), restore_problems(key, cfg, snapshot)


# RDS Extended Support for PostgreSQL, on top of the instance (its Multi-AZ standby too); us-east-1 prices.
EXTENDED_SUPPORT_COST = (
    "$0.100 per vCPU-hour in its years 1-2 and $0.200 in year 3, on top of the instance"
    " (us-east-1; aws.amazon.com/rds/postgresql/pricing)"
)


@dataclass(frozen=True)
class PostgresMajor:
    major: str
    end_of_standard: dt.date | None
    end_of_extended: dt.date | None


def rds_client(region: str) -> Any:
    """pulumi-aws has no data source for DescribeDBMajorEngineVersions (7.51.1), so the program asks RDS itself with
    the provider's credentials. The answer is RDS's public catalogue for the region, the same whichever account
    asks; short timeouts, since a preview waits for it."""
    timeouts = BotoConfig(connect_timeout=5, read_timeout=20, retries={"mode": "standard", "total_max_attempts": 3})
    return provider_session().client("rds", region_name=region, config=timeouts)


def postgres_majors(region: str) -> list[PostgresMajor]:
    """DescribeDBMajorEngineVersions: every PostgreSQL major RDS offers in the region, with its support dates."""
    pages = rds_client(region).get_paginator("describe_db_major_engine_versions").paginate(Engine="postgres")
    return [_major(row) for page in pages for row in page.get("DBMajorEngineVersions", [])]


def _major(row: dict[str, Any]) -> PostgresMajor:
    """SupportedEngineLifecycles is optional in RDS's model: a major without dates is offered, with no end known."""
    lifecycles = row.get("SupportedEngineLifecycles") or []
    ends = {c.get("LifecycleSupportName"): c.get("LifecycleSupportEndDate") for c in lifecycles}
    standard, extended = ends.get(contract.RDS_STANDARD_SUPPORT), ends.get(contract.RDS_EXTENDED_SUPPORT)
    return PostgresMajor(
        row["MajorEngineVersion"], standard.date() if standard else None, extended.date() if extended else None
    )


def support_dates_unreadable(err: Exception) -> str:
    return (
        f"infra:database.engineVersion: RDS's support dates could not be read ({one_line_error(err)}), so the"
        " Extended Support check was skipped; engineLifecycleSupport still keeps a STANDARD instance out of paid"
        " Extended Support. Allow rds:DescribeDBMajorEngineVersions to the deploying identity"
    )


def one_line_error(err: Exception) -> str:
    if isinstance(err, ClientError):
        return f"{err.response.get('Error', {}).get('Code', '')}: {err.response.get('Error', {}).get('Message', '')}"
    return f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"


def lifecycle_problems(
    version: str, support_type: str, offered: Iterable[PostgresMajor], today: dt.date
) -> tuple[list[str], list[str]]:
    """(problems, warnings) for `database.engineVersion`'s major against RDS's support dates, as the EKS check does
    for `cluster.version`: past standard support needs the opt-in, and the end of standard support is warned of."""
    key = f"infra:database.engineVersion: {version}"
    majors = sorted(offered, key=lambda m: _parts(m.major))
    # A major RDS lists without dates is offered, its end unknown: judged as in standard support.
    usable = [m.major for m in majors if (m.end_of_extended or m.end_of_standard or dt.date.max) > today]
    standard = [m.major for m in majors if (m.end_of_standard or dt.date.max) > today]
    newest = f"the newest RDS offers in standard support is {standard[-1]}" if standard else "none in standard support"
    info = next((m for m in majors if m.major == str(_parts(version)[0])), None)
    if info is None or info.major not in usable:
        ended = info.end_of_extended or info.end_of_standard if info else None
        why = "not offered by RDS in this region" if info is None else f"past RDS support since {ended}"
        return [f"{key} — {why}; allowed: one of {', '.join(usable) or 'none'} ({newest})"], []
    if info.major not in standard:
        ends = f" until {info.end_of_extended}" if info.end_of_extended else ""
        if support_type != "EXTENDED":
            return [
                f"{key} — PostgreSQL {info.major} left RDS standard support on {info.end_of_standard}; RDS Extended"
                f" Support{ends} bills {EXTENDED_SUPPORT_COST}; allowed: a major in standard support ({newest}), or"
                " opt in with infra:database.supportType: EXTENDED"
            ], []
        return [], [f"{key} is in RDS Extended Support{ends}: {EXTENDED_SUPPORT_COST}; {newest}"]
    end = info.end_of_standard
    if end is None or (end - today).days > WARN_DAYS:
        return [], []
    then = (
        "RDS then upgrades an instance created with supportType STANDARD to a newer major itself"
        if support_type == "STANDARD"
        else f"Extended Support then bills {EXTENDED_SUPPORT_COST}"
    )
    warning = f"{key}: RDS standard support for PostgreSQL {info.major} ends {end}; {then}; plan the upgrade ({newest})"
    return [], [warning]


def implicit_upgrade_problem(running: str, default: str) -> str:
    """A new default major must never upgrade a running database: a major upgrade is irreversible."""
    return (
        f"infra:database.engineVersion: unset — the running instance is PostgreSQL {running} and the default is now"
        f" {default}; a major upgrade cannot be undone, so it is never a default's doing: set engineVersion"
        f' "{_parts(running)[0]}" to keep this major, or "{default}" to upgrade in place'
    )


def check(cfg: StackConfig) -> tuple[RunningDatabase, list[str]]:
    identifier = cfg.cluster_name
    today = dt.datetime.now(dt.UTC).date()
    try:
        offered = postgres_majors(cfg.region)
    except (BotoCoreError, ClientError) as err:  # no permission, no credentials, unreachable: say so, go on
        lifecycle: list[str] = []
        warnings = [support_dates_unreadable(err)]
    else:
        lifecycle, warnings = lifecycle_problems(cfg.database.engine_version, cfg.database.support_type, offered, today)
    for warning in warnings:
        pulumi.log.warn(warning)
    if not _instance_exists(identifier):  # restoreFrom is read only when the instance is created
        snapshot, problems = _restore(cfg)
        return RunningDatabase(None, False, snapshot), lifecycle + problems
    instance = aws.rds.get_instance(db_instance_identifier=identifier)
    running = str(instance.engine_version)
    zone, multi_az = str(instance.availability_zone or "") or None, bool(instance.multi_az)
    wanted = cfg.database.engine_version
    major_upgrade = _parts(wanted)[0] > _parts(running)[0]
    if major_upgrade and "engineVersion" not in (pulumi.Config("infra").get_object("database") or {}):
        return RunningDatabase(running, major_upgrade, None, zone, multi_az), [
            implicit_upgrade_problem(running, wanted)
        ]
    if lifecycle:  # a major RDS does not offer has no upgrade path to look up
        return RunningDatabase(running, major_upgrade, None, zone, multi_az), lifecycle
    # include_all: the running minor may no longer be offered for new instances.
    info = aws.rds.get_engine_version(engine="postgres", version=running, include_all=True)
    default = None
    if major_upgrade and len(_parts(wanted)) == 1:
        default = str(aws.rds.get_engine_version(engine="postgres", version=wanted, default_only=True).version)
    problem = postgres_problem(wanted, running, list(info.valid_major_targets or []), default)
    return RunningDatabase(running, major_upgrade, None, zone, multi_az), [problem] if problem else []
