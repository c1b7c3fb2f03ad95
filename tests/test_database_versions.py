"""PostgreSQL versions under mocks answering like RDS: restores across majors, RDS's support dates and Extended
Support billing, pinned minors."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from harness import (
    ACCOUNT,
    Registration,
    Run,
    World,
    deployed,
    rds_postgres_majors,
    run_program,
    shared_run,
    with_changes,
)

from infra.account import aws_session
from infra.account import database as account_database
from infra.config import ConfigError

INSTANCE = "aws:rds/instance:Instance"
PARAMS = "aws:rds/parameterGroup:ParameterGroup"
RUNNING_CLUSTER = {"infra-foo": {"version": "1.35", "tags": {}}}
COST = "$0.100 per vCPU-hour in its years 1-2 and $0.200 in year 3, on top of the instance"


def snap(version: str) -> dict[str, Any]:
    return {"instance": "infra-old", "engineVersion": version, "created": "2026-11-20T10:00:00Z"}


def run(changes: dict[str, Any], world: World | None = None) -> Run:
    """Shared: the tests here only read runs, and several ask for the same config and world."""
    return shared_run(with_changes(changes), world=world)


def instance(changes: dict[str, Any], world: World | None = None) -> Registration:
    return run(changes, world).one(INSTANCE)


def day(offset: int) -> dt.date:
    return dt.datetime.now(dt.UTC).date() + dt.timedelta(days=offset)


# ---------------------------------------------------------------- restore across majors


def test_restore_from_a_snapshot_of_another_major_is_refused_then_restored_at_its_major_and_upgraded() -> None:
    world = World(snapshots={"pg15": snap("15.8")})
    restore = {"infra:database.restoreFrom": {"snapshot": "pg15"}}
    with pytest.raises(ConfigError) as err:
        run({**restore, "infra:database.engineVersion": "16"}, world)
    assert (
        "infra:database.engineVersion: 16 — newer than infra:database.restoreFrom.snapshot's snapshot pg15 (PostgreSQL"
        " 15.8), and RDS restores data at its own version (a postgres16 parameter group does not fit it); allowed: 15:"
        " restore at 15, then upgrade in place with engineVersion 16 in a later `up`"
    ) in err.value.problems
    assert err.value.run.resources == []  # type: ignore[attr-defined]

    created = run({**restore, "infra:database.engineVersion": "15"}, world)  # the path the message gives
    assert created.one(INSTANCE).inputs["snapshotIdentifier"] == f"arn:aws:rds:us-west-2:{ACCOUNT}:snapshot:pg15"
    assert created.one(PARAMS).inputs["family"] == "postgres15"
    world.db_instances["infra-foo"] = "15.8"  # RDS restored it at the snapshot's version
    upgraded = run({**restore, "infra:database.engineVersion": "16"}, world)
    inst = upgraded.one(INSTANCE)
    assert inst.urn == created.one(INSTANCE).urn and "snapshotIdentifier" not in inst.inputs
    assert inst.inputs["engineVersion"] == "16" and upgraded.one(PARAMS).inputs["family"] == "postgres16"


def test_restore_from_a_snapshot_of_the_same_major_works() -> None:
    inst = instance(
        {"infra:database.restoreFrom": {"snapshot": "pg16"}, "infra:database.engineVersion": "16"},
        World(snapshots={"pg16": snap("16.4")}),
    )
    assert inst.inputs["snapshotIdentifier"] == f"arn:aws:rds:us-west-2:{ACCOUNT}:snapshot:pg16"
    assert inst.inputs["engineVersion"] == "16"


def test_point_in_time_restore_needs_the_source_instances_major() -> None:
    world = World(db_instances={"infra-old": "17.2"})
    pit = {"infra:database.restoreFrom": {"pointInTime": {"source": "infra-old", "time": "latest"}}}
    with pytest.raises(ConfigError) as err:
        run({**pit, "infra:database.engineVersion": "16"}, world)
    assert (
        "infra:database.engineVersion: 16 — older than infra:database.restoreFrom.pointInTime.source infra-old"
        " (PostgreSQL 17.2), and RDS restores data at its own version (a postgres16 parameter group does not fit"
        " it); allowed: 17: restore at 17, then upgrade in place with engineVersion 16 in a later `up`"
    ) in err.value.problems
    inst = instance({**pit, "infra:database.engineVersion": "17"}, world)
    assert inst.plain("restoreToPointInTime") == {
        "sourceDbInstanceIdentifier": "infra-old",
        "useLatestRestorableTime": True,
    }


def test_a_pinned_minor_older_than_the_snapshot_is_refused() -> None:
    with pytest.raises(ConfigError) as err:
        run(
            {"infra:database.restoreFrom": {"snapshot": "pg16"}, "infra:database.engineVersion": "16.2"},
            World(snapshots={"pg16": snap("16.4")}),
        )
    assert (
        "infra:database.engineVersion: 16.2 — older than infra:database.restoreFrom.snapshot's snapshot pg16"
        " (PostgreSQL 16.4); allowed: 16 or 16.4" in err.value.problems
    )


# ---------------------------------------------------------------- RDS support dates and Extended Support


def test_extended_support_is_disabled_unless_opted_in_and_kept_so_on_running_instances(foo: Run) -> None:
    inst = foo.one(INSTANCE)
    assert inst.inputs["engineLifecycleSupport"] == "open-source-rds-extended-support-disabled"
    # ModifyDBInstance changes enrolment (botocore rds model): an instance created enrolled is opted out in place.
    assert "engineLifecycleSupport" not in inst.ignore_changes
    opted = instance({"infra:database.supportType": "EXTENDED"})
    assert opted.inputs["engineLifecycleSupport"] == "open-source-rds-extended-support"


def test_a_major_past_standard_support_needs_the_opt_in_and_is_then_a_warning() -> None:
    with pytest.raises(ConfigError) as err:
        run({"infra:database.engineVersion": "13"})
    assert (
        f"infra:database.engineVersion: 13 — PostgreSQL 13 left RDS standard support on {day(-280)}; RDS Extended"
        f" Support until {day(816)} bills {COST} (us-east-1; aws.amazon.com/rds/postgresql/pricing); allowed: a major"
        " in standard support (the newest RDS offers in standard support is 18), or opt in with"
        " infra:database.supportType: EXTENDED"
    ) in err.value.problems
    assert err.value.run.resources == []  # type: ignore[attr-defined]
    opted = run({"infra:database.engineVersion": "13", "infra:database.supportType": "EXTENDED"})
    assert opted.warnings() == [
        f"infra:database.engineVersion: 13 is in RDS Extended Support until {day(816)}: {COST} (us-east-1;"
        " aws.amazon.com/rds/postgresql/pricing); the newest RDS offers in standard support is 18"
    ]


def test_the_end_of_standard_support_is_warned_of_within_30_days() -> None:
    assert run({"infra:database.engineVersion": "14"}).warnings() == []  # 85 days left
    majors = rds_postgres_majors()
    (sixteen,) = [m for m in majors if m["MajorEngineVersion"] == "16"]
    sixteen["SupportedEngineLifecycles"][0]["LifecycleSupportEndDate"] = dt.datetime.combine(day(30), dt.time())
    assert run({}, World(pg_majors=majors)).warnings() == [
        f"infra:database.engineVersion: 16: RDS standard support for PostgreSQL 16 ends {day(30)}; RDS then upgrades"
        " an instance created with supportType STANDARD to a newer major itself; plan the upgrade (the newest RDS"
        " offers in standard support is 18)"
    ]


def test_a_major_rds_does_not_list_is_refused_at_deploy_time_and_18_is_the_default() -> None:
    with pytest.raises(ConfigError) as err:
        run({"infra:database.engineVersion": "19"})
    assert (
        "infra:database.engineVersion: 19 — not offered by RDS in this region; allowed: one of 13, 14, 15, 16, 17, 18"
        " (the newest RDS offers in standard support is 18)"
    ) in err.value.problems
    default = run({"infra:database.engineVersion": None})
    assert default.one(INSTANCE).inputs["engineVersion"] == "18"
    assert default.one(PARAMS).inputs["family"] == "postgres18"
    assert default.warnings() == []


def test_a_running_instance_is_judged_by_the_same_dates() -> None:
    with pytest.raises(ConfigError, match=r"engineVersion: 13 — PostgreSQL 13 left RDS standard support"):
        run({"infra:database.engineVersion": "13"}, World(db_instances={"infra-foo": "13.20"}))


# ---------------------------------------------------------------- minor versions


def test_a_pinned_minor_turns_automatic_minor_upgrades_off_and_a_bare_major_keeps_them() -> None:
    assert instance({"infra:database.engineVersion": "16.4"}).inputs["autoMinorVersionUpgrade"] is False
    assert instance({"infra:database.engineVersion": "16"}).inputs["autoMinorVersionUpgrade"] is True


def test_a_pin_below_what_rds_moved_the_instance_to_is_refused_until_raised() -> None:
    """RDS still upgrades a minor it retires; the pin must follow."""
    world = World(db_instances={"infra-foo": "16.5"}, pg_major_targets={"16.5": ["17.2"]})
    with pytest.raises(ConfigError) as err:
        run({"infra:database.engineVersion": "16.4"}, world)
    assert err.value.problems == [
        "infra:database.engineVersion: 16.4 — the database runs 16.5; RDS never downgrades: allowed: 16 or newer"
    ]
    assert instance({"infra:database.engineVersion": "16.5"}, world).inputs["autoMinorVersionUpgrade"] is False


# ---------------------------------------------------------------- SRE review: defaults, permissions, AZs


def test_a_new_default_major_never_upgrades_a_running_database() -> None:
    """foo/prod pin "16"; a stack that leaves engineVersion unset must not be upgraded to the new default (18)."""
    world = World(db_instances={"infra-foo": "16.4"}, clusters=RUNNING_CLUSTER)
    with pytest.raises(ConfigError) as err:
        run_program(with_changes({"infra:database.engineVersion": None}), world=world)
    assert str(err.value).endswith(
        "infra:database.engineVersion: unset — the running instance is PostgreSQL 16.4 and the default is now 18; a"
        ' major upgrade cannot be undone, so it is never a default\'s doing: set engineVersion "16" to keep this'
        ' major, or "18" to upgrade in place'
    )
    kept = run_program(with_changes({"infra:database.engineVersion": "16"}), world=world)
    assert kept.one(INSTANCE).inputs["engineVersion"] == "16"


def test_support_dates_that_cannot_be_read_are_a_warning_not_a_traceback() -> None:
    run = run_program(with_changes({}), world=World(pg_majors_error="AccessDeniedException"))
    assert any(
        w.startswith("infra:database.engineVersion: RDS's support dates could not be read (AccessDeniedException:")
        and w.endswith("Allow rds:DescribeDBMajorEngineVersions to the deploying identity")
        for w in run.warnings()
    ), run.warnings()
    assert run.one(INSTANCE).inputs["engineLifecycleSupport"] == "open-source-rds-extended-support-disabled"


def test_a_major_without_lifecycle_dates_is_offered() -> None:
    """SupportedEngineLifecycles is optional in RDS's model (DBMajorEngineVersion)."""
    majors = [{"Engine": "postgres", "MajorEngineVersion": "16"}]
    assert account_database.lifecycle_problems(
        "16", "STANDARD", [account_database._major(m) for m in majors], dt.date(2026, 12, 5)
    ) == ([], [])


def test_removing_the_az_the_database_runs_in_is_refused_before_anything_changes() -> None:
    three = shared_run(with_changes({"infra:network.azCount": 3}))
    world = deployed(three)
    world.db_instances = {"infra-foo": "16.4"}
    world.db_zones = {"infra-foo": "us-west-2c"}
    with pytest.raises(ConfigError) as err:
        run_program(with_changes({"infra:network.azCount": 2}), world=world)
    assert "infra:network.azCount: the database runs in us-west-2c, whose subnets this change removes" in str(err.value)
    world.db_zones = {"infra-foo": "us-west-2a"}
    world.db_multi_az = True
    shrunk = run_program(with_changes({"infra:network.azCount": 2}), world=world)
    assert any("the database's standby may run there" in w for w in shrunk.warnings())


def test_rds_is_asked_with_the_providers_credentials_and_assumed_roles(monkeypatch: pytest.MonkeyPatch) -> None:
    """The one boto3 call in the program uses what the AWS provider is configured with, not ambient credentials."""
    import json

    import moto
    import pulumi

    monkeypatch.delenv("AWS_PROFILE", raising=False)
    role = f"arn:aws:iam::{ACCOUNT}:role/deployer"
    pulumi.runtime.set_all_config(
        {
            "aws:accessKey": "AKIAPROVIDERKEY00001",
            "aws:secretKey": "provider-secret",
            "aws:assumeRoles": json.dumps([{"roleArn": role, "sessionName": "ci"}]),
        }
    )
    try:
        with moto.mock_aws():
            session = aws_session.provider_session()
            identity = session.client("sts", region_name="us-west-2").get_caller_identity()
    finally:
        pulumi.runtime.set_all_config({})
    assert identity["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/deployer/ci"
    assert session.get_credentials().access_key != "AKIAPROVIDERKEY00001"  # the role's, not the base keys
